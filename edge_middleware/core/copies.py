"""Copies of CloudFront request/response dicts that share no dict or list with the original
(faster than ``copy.deepcopy``), and the small copy of a rejected result kept for a trace."""

from __future__ import annotations

from typing import Any

from .types import CFHeaders, CFOrigin, CFRequest, CFResponse

__all__ = ["TRACE_STRING_LIMIT", "copy_request", "copy_response", "shrink_for_trace"]


def _copy_headers(headers: CFHeaders) -> CFHeaders:
    # a plain loop: a comprehension per header is a function call each on Python 3.11
    out: CFHeaders = {}
    for name, entries in headers.items():
        if len(entries) == 1:
            out[name] = [entries[0].copy()]
        else:
            out[name] = [entry.copy() for entry in entries]
    return out


def copy_request(req: CFRequest) -> CFRequest:
    """A copy of ``req`` that shares no dict or list with it (faster than ``copy.deepcopy``)."""
    out = req.copy()
    out["headers"] = _copy_headers(req["headers"])
    body = req.get("body")
    if body is not None:
        out["body"] = body.copy()
    origin = req.get("origin")
    if origin is not None:
        out["origin"] = _copy_origin(origin)
    return out


def _copy_origin(origin: CFOrigin) -> CFOrigin:
    out: CFOrigin = {}
    custom = origin.get("custom")
    if custom is not None:
        out["custom"] = c = custom.copy()
        c["customHeaders"] = _copy_headers(custom["customHeaders"])
        c["sslProtocols"] = list(custom["sslProtocols"])
    s3 = origin.get("s3")
    if s3 is not None:
        out["s3"] = s = s3.copy()
        s["customHeaders"] = _copy_headers(s3["customHeaders"])
    return out


def copy_response(resp: CFResponse) -> CFResponse:
    """A copy of ``resp`` that shares no dict or list with it."""
    out = resp.copy()
    out["headers"] = _copy_headers(resp["headers"])
    return out


#: Longest string a rejected result keeps in its trace (logs, inspector).
TRACE_STRING_LIMIT = 4096


def shrink_for_trace(value: Any, limit: int = TRACE_STRING_LIMIT, depth: int = 0) -> Any:
    """A copy of a rejected result small enough to keep for logs and the inspector: strings and
    bytes over ``limit`` are cut (with a note of their length), deep nesting is elided. A
    200 MB body a handler returned must not stay resident with the request's record."""
    if isinstance(value, str | bytes):
        if len(value) <= limit:
            return value
        note = f"... [{len(value)} in all, cut for the trace]"
        if isinstance(value, bytes):
            return value[:limit] + note.encode()
        return value[:limit] + note
    if depth > 16:
        return "..."
    if isinstance(value, dict):
        return {  # keys as they are (they may be any hashable); only values are cut
            k: shrink_for_trace(v, limit, depth + 1) for k, v in list(value.items())[:1000]
        }
    if isinstance(value, list | tuple):
        return [shrink_for_trace(v, limit, depth + 1) for v in value[:1000]]
    return value
