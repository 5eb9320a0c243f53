"""Validate what a Lambda@Edge handler returns, the way CloudFront does.

Spec: lambda-edge.md §1.4-§1.6, §2 and §3.1-§3.3; where AWS is silent the switches in
:class:`~edge_middleware.config.settings.EdgeSettings` (decisions.md #1-#16) apply. Pure
functions, no IO.

An invalid result raises :class:`~edge_middleware.exceptions.LambdaValidationError` (502) whose
reason uses CloudFront's observed wording where known and whose ``field`` names the offending
item (``response.headers["x-cache"]``, ``request.origin.custom.port`` ...). A valid result comes
back as a *new* normalised object that shares nothing with the handler's dicts and lists.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from ..config.settings import EdgeSettings
from ..exceptions import LambdaValidationError, OriginError, OriginHeaderTooBigError
from .convert import reason_phrase
from .copies import TRACE_STRING_LIMIT, _copy_origin, copy_request, copy_response, shrink_for_trace
from .headers import DISALLOWED_HEADERS, TOO_BIG, FunctionText, RawHeaders, raw_header_problem
from .limits import MAX_URI_LENGTH, REQUEST_BODY_LIMITS
from .types import CFBody, CFHeaders, CFRequest, CFResponse, EventType
from .validation_headers import (
    _BAD_QUERY_CHAR,
    _BAD_REASON_CHAR,
    _BAD_URI_CHAR,
    _BAD_VALUE_CHAR,
    _MISSING,
    _STATUS,
    _SURROGATE,
    BAD_BODY,
    BAD_HEADER_VALUE,
    BAD_URI,
    BLACKLISTED,
    FAILED,
    INVALID_JSON,
    NOT_OBJECT,
    NOT_PARSABLE,
    READ_ONLY,
    READ_ONLY_HEADERS,
    SURROGATE_BODY,
    _check_headers,
    _drop_hop_by_hop,
    _fail,
    _get,
    _header_map,
    is_disallowed_header,
    read_only_headers,
)
from .validation_origin import (
    ORIGIN_CUSTOM_HEADER_DENY,
    ORIGIN_CUSTOM_HEADER_DENY_PREFIXES,
    _origin,
)

__all__ = [
    # CloudFront's messages, the header tables and the copies live in validation_headers.py,
    # validation_origin.py and copies.py; this module stays the place to import them from.
    "BAD_BODY",
    "BAD_HEADER_VALUE",
    "BAD_URI",
    "BLACKLISTED",
    "DISALLOWED_HEADERS",
    "FAILED",
    "INVALID_JSON",
    "NOT_OBJECT",
    "NOT_PARSABLE",
    "ORIGIN_CUSTOM_HEADER_DENY",
    "ORIGIN_CUSTOM_HEADER_DENY_PREFIXES",
    "READ_ONLY",
    "READ_ONLY_HEADERS",
    "REQUEST_BODY_LIMITS",
    "SURROGATE_BODY",
    "TRACE_STRING_LIMIT",
    "RequestResult",
    "ResponseResult",
    "copy_request",
    "copy_response",
    "is_disallowed_header",
    "origin_response_error",
    "read_only_headers",
    "shrink_for_trace",
    "validate_request_result",
    "validate_response_result",
]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class RequestResult:
    """A request trigger's result taken as a request."""

    #: A new normalised request (keeps ``body`` only with IncludeBody, ``origin`` only in
    #: origin-request). A replaced body appears as ``action: "replace"``, ``encoding: "base64"``.
    request: CFRequest
    #: ``None``: send the original body; bytes: the body was replaced (``action: "replace"``).
    body: bytes | None


@dataclass(slots=True)
class ResponseResult:
    """A generated response, or a response trigger's result."""

    status: int
    status_description: str
    #: A new normalised header map (every entry has a ``key``).
    headers: CFHeaders
    #: ``None``: no body given (origin-response keeps the origin body; generated: empty).
    body: bytes | None


def _json_object(result: object) -> dict[str, Any]:
    """What CloudFront receives: the result through JSON (fresh objects; tuples become lists)."""
    plain = plain_copy(result)
    if plain is not None:
        return plain
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise LambdaValidationError(NOT_PARSABLE, field="result")
    if not isinstance(result, dict):
        raise LambdaValidationError(NOT_OBJECT, field="result")
    data: dict[str, Any] = json.loads(text)
    return data


# (a FunctionText is a str that JSON would give back as a plain one; kept, it tells validation
# the value is a function's text without a comparison)
_SCALARS = frozenset({str, FunctionText, int, bool, type(None)})


def plain_copy(result: object, depth: int = 0) -> dict[str, Any] | None:
    """The JSON round trip of a result made only of dicts with ``str`` keys, lists, ``str``,
    ``int``, ``bool`` and ``None`` (what handlers return), done as a copy: the same fresh
    objects ``json.loads(json.dumps(result))`` gives, several times faster. ``None`` for
    anything else (tuples, floats, subclasses, other objects, deep nesting), which then goes
    through JSON and its errors."""
    if type(result) is not dict or depth > 32:
        return None
    out: dict[str, Any] = {}
    for key, value in result.items():
        if type(key) is not str:
            return None
        kind = type(value)
        if kind in _SCALARS:
            out[key] = value
        elif kind is dict:
            inner = plain_copy(value, depth + 1)
            if inner is None:
                return None
            out[key] = inner
        elif kind is list:
            items = _plain_list(value, depth + 1)
            if items is None:
                return None
            out[key] = items
        else:
            return None
    return out


def _plain_list(value: list[Any], depth: int) -> list[Any] | None:
    out: list[Any] = []
    for item in value:
        kind = type(item)
        if kind in _SCALARS:
            out.append(item)
        elif kind is dict:
            inner = plain_copy(item, depth + 1)
            if inner is None:
                return None
            out.append(inner)
        elif kind is list and depth <= 32:
            items = _plain_list(item, depth + 1)
            if items is None:
                return None
            out.append(items)
        else:
            return None
    return out


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _b64decode(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise _fail("The body is not valid base64 (bodyEncoding/encoding is base64).", field)


def validate_request_result(
    event_type: Literal["viewer-request", "origin-request"],
    before: CFRequest,
    result: object,
    settings: EdgeSettings,
    *,
    include_body: bool,
) -> RequestResult | ResponseResult:
    """Check a viewer-request/origin-request result: a request, or (with ``status``) a
    generated response (decisions.md #7). ``before`` is the request the handler was given."""
    if type(result) is dict and result == before:
        # Returned unchanged (the common pass-through): valid as built, nothing to normalise.
        unchanged = dict(before)
        if event_type == "viewer-request":
            unchanged.pop("origin", None)
        if not include_body:
            unchanged.pop("body", None)
        return RequestResult(unchanged, None)  # type: ignore[arg-type]
    data = _json_object(result)
    if "status" in data or (settings.response_marker == "status-or-no-uri" and "uri" not in data):
        return _response(event_type, data, settings, None)
    return _request(event_type, before, data, settings, include_body)


def _request(
    event_type: Literal["viewer-request", "origin-request"],
    before: CFRequest,
    data: dict[str, Any],
    settings: EdgeSettings,
    include_body: bool,
) -> RequestResult:
    f = {
        k: _get(data, k, str, f"request.{k}") for k in ("uri", "querystring", "method", "clientIp")
    }
    headers = _header_map(
        _get(data, "headers", dict, "request.headers"),
        "request.headers",
        settings,
        before["headers"],
        mark=True,
    )
    for key, original in (("clientIp", before["clientIp"]), ("method", before["method"])):
        if f[key] != original:
            if settings.readonly_field_change == "error":
                reason = f"The function tried to change the read-only field {key}."
                raise _fail(reason, "request." + key)
            f[key] = original
    uri, qs = f["uri"], f["querystring"]
    if not uri.startswith("/") or _BAD_URI_CHAR.search(uri):
        raise LambdaValidationError(BAD_URI, field="request.uri")
    if len(uri) + (len(qs) + 1 if qs else 0) >= MAX_URI_LENGTH:
        reason = f"The uri with its query string must be shorter than {MAX_URI_LENGTH} characters."
        raise _fail(reason, "request.uri")
    if _BAD_QUERY_CHAR.search(qs):
        reason = "The query string must not contain spaces, control characters or '#'."
        raise _fail(reason, "request.querystring")
    _check_headers(event_type, before["headers"], headers, "request.headers", settings, True)
    request: CFRequest = {
        "clientIp": f["clientIp"],
        "headers": headers,
        "method": f["method"],
        "querystring": qs,
        "uri": uri,
    }
    body: bytes | None = None
    if include_body:
        new_body, body = _request_body(event_type, before.get("body"), data, settings)
        if new_body is not None:
            request["body"] = new_body
    if event_type == "origin-request":
        origin = data.get("origin", _MISSING)
        old_origin = before.get("origin")
        if origin is not _MISSING:
            request["origin"] = _origin(old_origin, origin, headers, settings)
        elif old_origin is not None:
            request["origin"] = _copy_origin(old_origin)
    return RequestResult(request, body)


def _request_body(
    event_type: str, old: CFBody | None, data: dict[str, Any], settings: EdgeSettings
) -> tuple[CFBody | None, bytes | None]:
    """§1.5: ``action`` read-only keeps the original body; replace decodes and limits ``data``."""
    kept = old.copy() if old is not None else None
    value = data.get("body", _MISSING)
    if value is _MISSING:
        return kept, None
    if not isinstance(value, dict):
        raise LambdaValidationError(BAD_BODY, field="request.body")
    action = value.get("action", "read-only")
    if action not in ("read-only", "replace"):
        raise _fail("The body action must be read-only or replace.", "request.body.action")
    if action == "read-only":
        return kept, None
    encoding = value.get("encoding", "base64")
    if encoding not in ("base64", "text"):
        raise _fail("The body encoding must be base64 or text.", "request.body.encoding")
    text = value.get("data")
    if not isinstance(text, str):
        raise LambdaValidationError(BAD_BODY, field="request.body.data")
    limit = REQUEST_BODY_LIMITS[event_type]
    if encoding == "text":
        if not text.isascii() and _SURROGATE.search(text):
            raise LambdaValidationError(SURROGATE_BODY, field="request.body.data")
        raw = text.encode("utf-8")
        over = len(raw) > limit
    else:
        over = len(text) * 3 > limit * 4
        raw = _b64decode(text, "request.body.data")
    if over:
        if settings.replaced_body_over_limit == "error":
            raise LambdaValidationError(BAD_BODY, field="request.body.data")
        raw = raw[:limit]
    new: CFBody = {
        "inputTruncated": False,
        "action": "replace",
        "encoding": "base64",
        "data": base64.b64encode(raw).decode("ascii"),
    }
    return new, raw


def validate_response_result(
    event_type: Literal["origin-response", "viewer-response"],
    before: CFResponse,
    result: object,
    settings: EdgeSettings,
) -> ResponseResult:
    """Check an origin-response/viewer-response result against ``before``, the response the
    handler was given (§2.1, §2.2, §2.4)."""
    if type(result) is dict and result == before:
        # Unchanged, but the values came from an origin (or a cache) nobody else checked:
        # one pass over all of them, the loop only to name the bad one.
        values = [e["value"] for entries in before["headers"].values() for e in entries]
        if _BAD_VALUE_CHAR.search("\t".join(values)):
            _header_map(before["headers"], "response.headers", settings)
        return ResponseResult(
            int(before["status"]), before["statusDescription"], before["headers"], None
        )
    return _response(event_type, _json_object(result), settings, before)


def origin_response_error(status: int, headers: RawHeaders) -> OriginError | None:
    """CloudFront's 502 for an origin response that cannot be read off the wire or sent on (a
    status outside 100-599, which RFC 9110 §15 calls invalid, a name that is not a token, a
    control character in a value, headers that are not byte string pairs); ``None`` for a
    valid one. Such a response never reaches a function, the cache or the viewer (issue 16,
    item 7)."""
    if type(status) is int and 100 <= status <= 599:
        problem = raw_header_problem(headers)
        if problem is None:
            return None
        if problem is TOO_BIG:  # lambda-edge.md §3.2: "Origin response headers: 20,480 bytes"
            _log.warning("origin response rejected: its headers are over 20,480 bytes")
            return OriginHeaderTooBigError("The origin's response headers are over 20,480 bytes.")
    else:
        problem = f"the status {status!r} is not a three-digit number"
    _log.warning("origin response rejected: %s", problem)
    return OriginError(f"The origin returned an invalid response: {problem}.")


def _parse_status(data: dict[str, Any], settings: EdgeSettings) -> int:
    value = data.get("status", _MISSING)
    if value is _MISSING:
        raise _fail("The required field response.status is missing.", "response.status")
    if isinstance(value, int) and not isinstance(value, bool) and settings.accept_int_status:
        return value
    if isinstance(value, str) and _STATUS.fullmatch(value):
        return int(value)
    kind = "a decimal string or an int" if settings.accept_int_status else "a decimal string"
    raise _fail(f"The status must be {kind}.", "response.status")


def _response(
    event_type: EventType,
    data: dict[str, Any],
    settings: EdgeSettings,
    before: CFResponse | None,
) -> ResponseResult:
    """A generated response (``before`` None) or a response trigger's result (§2.3, §2.4)."""
    status = _parse_status(data, settings)
    description = _get(data, "statusDescription", str, "response.statusDescription", None)
    change = settings.viewer_response_status_change
    if event_type == "viewer-response" and before is not None and change != "allow":
        original = int(before["status"])
        if status != original and change == "error":
            raise _fail(
                "The function tried to change the status in viewer-response.", "response.status"
            )
        status, description = original, before["statusDescription"]  # only headers may change
    elif not 200 <= status <= 599:
        reason = f"The status {data['status']!r} is not in the range 200-599."
        raise _fail(reason, "response.status")
    if description is None:
        description = reason_phrase(status) if settings.default_status_description else ""
    elif _BAD_REASON_CHAR.search(description):
        raise _fail(
            "The statusDescription contains a control character.", "response.statusDescription"
        )
    hpath = "response.headers"
    old = {} if before is None else before["headers"]
    given = data.get("headers", {}) if before is None else _get(data, "headers", dict, hpath)
    headers = _header_map(given, hpath, settings, None if before is None else old, mark=True)
    _check_headers(event_type, old, headers, hpath, settings, before is not None)
    _drop_hop_by_hop(headers, old)
    body = data.get("body", _MISSING)
    if event_type == "viewer-response" and body is not _MISSING:
        if settings.viewer_response_body == "error":
            raise _fail("A viewer-response function can't set the body.", "response.body")
        if settings.viewer_response_body == "ignore":
            body = _MISSING
    size = sum(len(n) + _utf8_len(e["value"]) for n, es in headers.items() for e in es)
    if body is not _MISSING:
        if not isinstance(body, str):
            raise LambdaValidationError(BAD_BODY, field="response.body")
        encoding = data.get("bodyEncoding", "text")
        if encoding not in ("text", "base64"):
            raise _fail("bodyEncoding must be text or base64.", "response.bodyEncoding")
        no_content_check = event_type == "viewer-request" or (
            event_type == "origin-request" and settings.no_content_body_check == "both"
        )
        if no_content_check and status == 204 and body:
            raise _fail("A response with status 204 can't have a body.", "response.body")
        size += _utf8_len(body)
        decode = encoding == "base64"
    viewer = event_type in ("viewer-request", "viewer-response")
    limit = settings.viewer_response_size_limit if viewer else settings.origin_response_size_limit
    if size > limit:
        raise LambdaValidationError(BAD_BODY, field="response.body")
    if body is _MISSING:
        return ResponseResult(status, description, headers, None)
    if decode:
        raw = _b64decode(body, "response.body")
    elif not body.isascii() and _SURROGATE.search(body):
        raise LambdaValidationError(SURROGATE_BODY, field="response.body")
    else:
        raw = body.encode("utf-8")
    return ResponseResult(status, description, headers, raw)
