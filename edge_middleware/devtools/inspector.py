"""The request inspector: what CloudFront did with each request, as a page and as JSON.

::

    inspector = Inspector(capacity=200)
    middleware.add_observer(inspector.observer)   # record every finished request
    app = mount_inspector(middleware, inspector)   # /_edge/ -> the inspector, the rest -> app

``edge-middleware serve`` does this unless ``--no-inspector`` is given. Then

- ``/_edge/`` lists the recent requests, newest first, updated live (a one-second ``fetch()``
  poll of the JSON endpoint): method, path, behavior, cache result, status, total time;
- ``/_edge/requests/<request-id>`` shows one request's timeline: each trigger that ran or was
  skipped (and why), the exact event the handler received, what it returned, a diff of the two,
  how long it took and what it printed; the offending field of a validation failure; the cache
  key and TTL decision; the request as the origin received it;
- ``/_edge/api/requests`` is the same traces as JSON, newest first (``?summary=1`` for the list
  columns only, ``?after=SEQ`` for newer ones, ``?limit=N``), and
  ``/_edge/api/requests/<request-id>`` is one of them.

Recording is off unless an :class:`Inspector`'s observer is added: a front door without
observers does not even build the record it would pass them. With it on, each request costs
one walk over its trace (copied into JSON-safe values) and a deque append under a lock; the
ring keeps the last ``capacity`` requests.

The pages answer loopback clients only, and only for a loopback ``Host`` (``localhost``,
``*.localhost``, ``127.0.0.1``, ``[::1]``), so another site cannot read them through DNS
rebinding. Values of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and
``X-Api-Key`` are shown as ``[redacted]`` (and so is any other text containing them: a copied
header, a cache key, what a handler printed) unless ``show_secrets=True``. Everything is served
from this module: no CDN, no build step, works offline.
"""

from __future__ import annotations

import asyncio
import difflib
import html
import inspect
import ipaddress
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote

from ..core import capture
from ..core.types import EVENT_TYPES
from ..doors.middleware import RequestRecord
from ..pipeline.effects import Outcome, TraceStep
from .devguard import TOKEN_COOKIE, Guard, asgi_headers, wsgi_headers
from .masking import MASK, SECRET_HEADERS, masker_for
from .tracebacks import handler_traceback

__all__ = ["MASK", "PREFIX", "SECRET_HEADERS", "Inspector", "mount_inspector"]

#: Where the inspector lives (the dev server's ``POST /_edge/invalidate`` is not part of it).
PREFIX = "/_edge/"

_API = PREFIX + "api/requests"
_DETAIL = PREFIX + "requests/"
_JS = PREFIX + "inspector.js"
_CSS = PREFIX + "inspector.css"
_INSTANCE_HEADER = "X-Edge-Inspector-Instance"
_MAX_DEPTH = 64

Interface = Literal["asgi", "wsgi"]
Trace = dict[str, Any]


# -- recording -------------------------------------------------------------------------------


class _Jsonable:
    """Copies a handler's event or result into fresh JSON values (what json.dumps accepts):
    tuples become lists, anything else (bytes, objects) a string saying what it was, cycles
    and very deep nesting a marker, and strings longer than ``max_string`` are cut."""

    def __init__(self, max_string: int) -> None:
        self.max_string = max_string
        self._active: set[int] = set()

    def __call__(self, value: Any) -> Any:
        # Fast path, the usual case: plain JSON data through the C encoder and decoder.
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            return self._walk(value)
        return json.loads(text) if len(text) <= self.max_string else self._walk(value)

    def _walk(self, value: Any, depth: int = 0) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, str):
            if len(value) > self.max_string:
                cut = len(value) - self.max_string
                return value[: self.max_string] + f"...[{cut} more characters not recorded]"
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else f"<not JSON: float {value!r}>"
        if isinstance(value, dict | list | tuple):
            if depth >= _MAX_DEPTH:
                return "<nested too deep to record>"
            if id(value) in self._active:
                return "<cycle>"
            self._active.add(id(value))
            try:
                if isinstance(value, dict):
                    return {_key(k): self._walk(v, depth + 1) for k, v in value.items()}
                return [self._walk(v, depth + 1) for v in value]
            finally:
                self._active.discard(id(value))
        text = repr(value)
        if len(text) > 200:
            text = text[:200] + "..."
        return f"<not JSON: {type(value).__name__}> {text}"


def _key(key: Any) -> str:
    """A dict key as json.dumps writes it."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return str(json.dumps(key))
    return str(key)


def _x_cache(outcome: Outcome) -> str:
    """The word of the ``X-Cache`` header the viewer got (Hit, Miss, LambdaValidationError ...)."""
    for name, value in outcome.headers:
        if name.lower() == b"x-cache":
            return value.decode("latin-1").removesuffix(" from cloudfront").strip()
    if outcome.error is not None:
        return outcome.error.error_name
    return outcome.result_type


def _step(step: TraceStep, copy: _Jsonable) -> dict[str, Any]:
    returned = step.ran and (step.result is not None or bool(step.error_field) or not step.error)
    return {
        "event_type": step.event_type,
        "ran": step.ran,
        "skipped_because": step.skipped_because,
        "inferred": False,
        "duration_ms": round(step.duration * 1000, 3),
        "event": copy(step.event),
        "returned": returned,
        "result": copy(step.result),
        "error": step.error,
        "error_field": step.error_field,
        "output": copy(step.output),
    }


def _generated_by(steps: list[dict[str, Any]]) -> str:
    """The request trigger that answered with a response itself, or ``""``."""
    for step in steps:
        result = step["result"]
        if (
            step["ran"]
            and step["event_type"].endswith("request")
            and isinstance(result, dict)
            and "status" in result
            and "uri" not in result
        ):
            return str(step["event_type"])
    return ""


def _inferred_reason(event_type: str, outcome: Outcome, failed_at: str, generated: str) -> str:
    """Why a trigger that the pipeline did not reach did not run."""
    err = outcome.error
    if err is None:
        if generated:
            return f"response generated by {generated}"
        return f"not reached ({outcome.result_type})"
    if event_type == "viewer-response":
        # CloudFront never runs viewer-response on a response of status 400 or more.
        return f"{err.error_name} error response (status {outcome.status} >= 400)"
    where = f" in {failed_at}" if failed_at else ""
    return f"not reached ({err.error_name}{where})"


def _timeline(outcome: Outcome, copy: _Jsonable) -> list[dict[str, Any]]:
    """The steps in CloudFront's order, one per event type at least: a trigger the request
    never got to (it ended early with an error or a redirect) is listed as skipped."""
    recorded = [_step(s, copy) for s in outcome.steps]
    failed_at = next((s["event_type"] for s in reversed(recorded) if s["error"]), "")
    generated = _generated_by(recorded)
    out: list[dict[str, Any]] = []
    for event_type in EVENT_TYPES:
        mine = [s for s in recorded if s["event_type"] == event_type]
        if not mine:
            mine = [
                {
                    "event_type": event_type,
                    "ran": False,
                    "skipped_because": _inferred_reason(event_type, outcome, failed_at, generated),
                    "inferred": True,
                    "duration_ms": 0.0,
                    "event": None,
                    "returned": False,
                    "result": None,
                    "error": "",
                    "error_field": "",
                    "output": "",
                }
            ]
        out.extend(mine)
    out.extend(s for s in recorded if s["event_type"] not in EVENT_TYPES)
    return out


def _origin_request(outcome: Outcome) -> Any:
    """The request as the origin got it; when the response failed afterwards (origin-response
    raised or returned something invalid) it is the request of the origin-response event."""
    if outcome.origin_request is not None:
        return outcome.origin_request
    for step in outcome.steps:
        if step.event_type == "origin-response" and step.ran and step.event is not None:
            try:
                return step.event["Records"][0]["cf"]["request"]
            except (KeyError, IndexError, TypeError):
                return None
    return None


def _query_names(querystring: Any) -> list[str]:
    if not isinstance(querystring, str) or not querystring:
        return []
    return list(dict.fromkeys(p.partition("=")[0] for p in querystring.split("&") if p))


def _cookie_names(headers: Any) -> list[str]:
    names: list[str] = []
    if not isinstance(headers, dict):
        return names
    for entry in headers.get("cookie") or ():
        value = entry.get("value", "") if isinstance(entry, dict) else ""
        names.extend(p.partition("=")[0].strip() for p in str(value).split(";") if p.strip())
    return list(dict.fromkeys(names))


def removed_before_origin(viewer: Any, origin: Any) -> list[str] | None:
    """What the viewer sent that the origin did not get: query parameters by name, then
    ``cookie NAME`` for each cookie dropped, then header names; None when the origin was not
    asked (a hit, a generated response)."""
    if not isinstance(viewer, dict) or not isinstance(origin, dict):
        return None
    out = [
        n
        for n in _query_names(viewer.get("querystring"))
        if n not in set(_query_names(origin.get("querystring")))
    ]
    viewer_headers = viewer.get("headers") if isinstance(viewer.get("headers"), dict) else {}
    origin_headers = origin.get("headers") if isinstance(origin.get("headers"), dict) else {}
    kept_cookies = set(_cookie_names(origin_headers))
    dropped = [c for c in _cookie_names(viewer_headers) if c not in kept_cookies]
    if "cookie" in (viewer_headers or {}) and "cookie" not in (origin_headers or {}):
        out.append("cookie")
    else:
        out.extend(f"cookie {c}" for c in dropped)
    out.extend(
        name
        for name in (viewer_headers or {})
        if name not in (origin_headers or {}) and name not in ("cookie", "host")
    )
    return out


def _capture(record: RequestRecord, max_string: int) -> Trace:
    """Everything the inspector shows about one request, as JSON values (unmasked)."""
    outcome = record.outcome
    copy = _Jsonable(max_string)
    request = copy(record.viewer_request)
    if not isinstance(request, dict):
        request = {}
    error = outcome.error
    behavior = outcome.behavior
    return {
        "seq": 0,
        "request_id": outcome.request_id,
        "started_at": record.finished_at - record.duration,
        "finished_at": record.finished_at,
        "duration_ms": round(record.duration * 1000, 3),
        "method": str(request.get("method", "")),
        "uri": str(request.get("uri", "")),
        "querystring": str(request.get("querystring", "")),
        "scheme": record.scheme,
        "protocol": record.protocol,
        "behavior": behavior.path_pattern if behavior is not None else None,
        "cache_result": _x_cache(outcome),
        "result_type": outcome.result_type,
        "status": outcome.status,
        "reason": outcome.reason,
        "cache_key": outcome.cache_key,
        "ttl_reason": outcome.ttl_reason,
        "error": None
        if error is None
        else {
            "name": error.error_name,
            "type": type(error).__name__,
            "status": outcome.status,
            "reason": error.reason,
            "field": error.field,
            "handler": error.handler,
        },
        "steps": _timeline(outcome, copy),
        "traceback": handler_traceback(error),
        "viewer_request": request,
        "origin_request": copy(_origin_request(outcome)),
        "removed_before_origin": removed_before_origin(
            record.viewer_request, _origin_request(outcome)
        ),
        "response_headers": [
            [k.decode("latin-1"), v.decode("latin-1")] for k, v in outcome.headers
        ],
        "bytes_sent": record.bytes_sent,
        "bytes_received": record.bytes_received,
    }


# -- masking ---------------------------------------------------------------------------------


def _masked(trace: Trace) -> Trace:
    """The trace with every secret masked (masking.py: the console and access log use it too)."""
    mask = masker_for(
        trace["viewer_request"],
        trace["steps"],
        trace["origin_request"],
        [tuple(pair) for pair in trace["response_headers"]],
        queries=[trace["querystring"]],
    )
    out: Trace = mask({k: v for k, v in trace.items() if k != "response_headers"})
    out["response_headers"] = mask.header_pairs(
        (name, value) for name, value in trace["response_headers"]
    )
    return out


# -- presenting ------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _event_part(step: dict[str, Any]) -> tuple[str, Any]:
    """The request (request events) or response (response events) inside the step's event."""
    part = "response" if step["event_type"].endswith("response") else "request"
    try:
        cf = step["event"]["Records"][0]["cf"]
    except (KeyError, IndexError, TypeError):
        return part, None
    return part, cf.get(part) if isinstance(cf, dict) else None


def _diff(step: dict[str, Any]) -> tuple[str | None, str]:
    """A unified diff of the event's request/response and the result, or a note why not."""
    if not step["ran"] or step["event"] is None:
        return None, ""
    if not step["returned"]:
        return None, "the handler did not return (it raised or timed out)"
    part, before = _event_part(step)
    result = step["result"]
    if (
        part == "request"
        and isinstance(result, dict)
        and "status" in result
        and "uri" not in result
    ):
        return None, "the handler generated a response instead of passing the request on"
    lines = difflib.unified_diff(
        _dumps(before).splitlines(),
        _dumps(result).splitlines(),
        fromfile=f"event.Records[0].cf.{part}",
        tofile="result",
        lineterm="",
    )
    text = "\n".join(lines)
    return text, "" if text else f"the handler returned the {part} unchanged"


def _public(trace: Trace, show_secrets: bool) -> Trace:
    out = trace if show_secrets else _masked(trace)
    out = dict(out)
    out["path"] = out["uri"] + ("?" + out["querystring"] if out["querystring"] else "")
    out["url"] = _DETAIL + quote(out["request_id"], safe="")
    out["secrets_masked"] = not show_secrets
    steps = []
    for step in out["steps"]:
        step = dict(step)
        step["diff"], step["diff_note"] = _diff(step)
        steps.append(step)
    out["steps"] = steps
    return out


_SUMMARY_KEYS = (
    "seq",
    "request_id",
    "url",
    "started_at",
    "method",
    "path",
    "behavior",
    "cache_result",
    "result_type",
    "status",
    "duration_ms",
)


def _summary(trace: Trace, show_secrets: bool) -> Trace:
    masked = trace if show_secrets else _masked(trace)
    path = masked["uri"] + ("?" + masked["querystring"] if masked["querystring"] else "")
    full = {**masked, "path": path, "url": _DETAIL + quote(trace["request_id"], safe="")}
    out = {k: full[k] for k in _SUMMARY_KEYS}
    out["error"] = trace["error"]["name"] if trace["error"] else None
    return out


class Inspector:
    """Records finished requests (``add_observer(inspector.observer)``) in a ring of the last
    ``capacity`` and serves them (``asgi_app``, ``wsgi_app``, or :func:`mount_inspector`).

    ``show_secrets``: show Authorization/Cookie/Set-Cookie values instead of ``[redacted]``.
    ``allow_remote``: answer clients other than loopback (and any ``Host``); off by default.
    ``token``: the pages want it (``X-Edge-Token``, or ``?edge_token=`` once: a cookie keeps it).
    ``allow_proxied``: answer requests carrying ``Forwarded``/``X-Forwarded-For`` (refused).
    ``max_string``: strings longer than this (big bodies) are cut when recorded.
    """

    def __init__(
        self,
        capacity: int = 200,
        show_secrets: bool = False,
        *,
        allow_remote: bool = False,
        max_string: int = 65536,
        guard: Guard | None = None,
        token: str | None = None,
        allow_proxied: bool = False,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.show_secrets = show_secrets
        self.allow_remote = allow_remote
        #: Who may read the pages: loopback Host, no proxy headers, the token (devguard.py).
        self.guard = (
            guard
            if guard is not None
            else Guard(allow_remote=allow_remote, allow_proxied=allow_proxied, token=token)
        )
        if guard is not None:
            guard.allow_remote = guard.allow_remote or allow_remote
        self.max_string = max_string
        #: Changes when the process restarts, so a page polling an old ``after`` reloads.
        self.instance = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._traces: deque[Trace] = deque(maxlen=capacity)
        self._seq = 0
        # the inspector shows what handlers print: it asks for output capture (capture.py)
        capture.install()

    # -- recording --------------------------------------------------------------------------
    def observer(self, record: RequestRecord) -> None:
        """The request observer: pass it to ``add_observer``."""
        trace = _capture(record, self.max_string)
        with self._lock:
            self._seq += 1
            trace["seq"] = self._seq
            self._traces.append(trace)

    __call__ = observer

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()

    def __len__(self) -> int:
        return len(self._traces)

    def _snapshot(self, after: int = 0) -> list[Trace]:
        with self._lock:
            return [t for t in reversed(self._traces) if t["seq"] > after]

    # -- reading ----------------------------------------------------------------------------
    def records(
        self, *, after: int = 0, limit: int | None = None, summary: bool = False
    ) -> list[dict[str, Any]]:
        """The recorded requests as JSON values, newest first (masked unless show_secrets)."""
        traces = self._snapshot(after)[:limit]
        if summary:
            return [_summary(t, self.show_secrets) for t in traces]
        return [_public(t, self.show_secrets) for t in traces]

    def record(self, request_id: str) -> dict[str, Any] | None:
        """One request by its request id (``x-amz-cf-id``), or None when not (or no longer) kept."""
        with self._lock:
            found = next((t for t in self._traces if t["request_id"] == request_id), None)
        return None if found is None else _public(found, self.show_secrets)

    def to_json(self, **kwargs: Any) -> str:
        """``records(**kwargs)`` as a JSON document."""
        return json.dumps(self.records(**kwargs), ensure_ascii=False)

    # -- serving ----------------------------------------------------------------------------
    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is one of the inspector's (``/_edge/invalidate`` is not)."""
        return (
            path in ("/_edge", PREFIX, _API, _JS, _CSS)
            or path.startswith(_DETAIL)
            or path.startswith(_API + "/")
        )

    def client_allowed(self, client_host: str | None) -> bool:
        return self.allow_remote or self.guard.allow_remote or _is_loopback(client_host)

    def respond(
        self,
        method: str,
        path: str,
        query: str,
        host: str,
        *,
        headers: Mapping[str, str] | None = None,
        client: str | None = "127.0.0.1",
    ) -> _Response:
        """The inspector's answer to one request (both front doors call this)."""
        headers = dict(headers) if headers is not None else {}
        headers["host"] = host
        refusal = self.guard.refusal(client, headers, query)
        if refusal is not None:
            return _text(403, f"the inspector {refusal}")
        response = self._respond(method, path, query)
        token = self.guard.token
        if token and parse_qs(query).get(TOKEN_COOKIE):
            cookie = f"{TOKEN_COOKIE}={token}; Path={PREFIX}; HttpOnly; SameSite=Strict"
            response.headers.append(("Set-Cookie", cookie))
        return response

    def _respond(self, method: str, path: str, query: str) -> _Response:
        if method not in ("GET", "HEAD"):
            return _Response(405, [("Allow", "GET, HEAD")], b"use GET\n", "text/plain")
        args = parse_qs(query)
        if path == "/_edge":
            return _Response(308, [("Location", PREFIX)], b"", "text/plain")
        if path == PREFIX:
            return _html(self._list_page())
        if path == _JS:
            return _Response(200, [], _SCRIPT.encode(), "text/javascript")
        if path == _CSS:
            return _Response(200, [], _STYLE.encode(), "text/css")
        if path == _API:
            after = _int_arg(args, "after", 0)
            limit = _int_arg(args, "limit", -1)
            summary = args.get("summary", ["0"])[-1] not in ("0", "", "false")
            docs = self.records(after=after, limit=None if limit < 0 else limit, summary=summary)
            return _json(200, docs)
        if path.startswith(_API + "/"):
            doc = self.record(unquote(path[len(_API) + 1 :]))
            if doc is None:
                return _json(404, {"error": "no such request (evicted, or never recorded)"})
            return _json(200, doc)
        if path.startswith(_DETAIL):
            doc = self.record(unquote(path[len(_DETAIL) :]))
            if doc is None:
                return _html(_not_found_page(), 404)
            return _html(_detail_page(doc, self.show_secrets))
        return _text(404, "not found")

    def _list_page(self) -> str:
        return _page("edge inspector", _list_body(self, self.records(summary=True)))

    def _finish(self, response: _Response) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [
            ("Content-Type", response.content_type + "; charset=utf-8"),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", _CSP),
            (_INSTANCE_HEADER, self.instance),
            *response.headers,
        ]
        return response.status, headers, response.body

    async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
        """The inspector as an ASGI app (paths under ``/_edge/``)."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        client = scope.get("client")
        if not self.client_allowed(client[0] if client else None):
            response = _text(403, "the inspector answers loopback clients only")
        else:
            seen = asgi_headers(scope)
            response = await asyncio.to_thread(
                self.respond,
                scope["method"],
                scope.get("path", "/"),
                scope.get("query_string", b"").decode("latin-1"),
                seen.get("host", ""),
                headers=seen,
                client=client[0] if client else None,
            )
        status, headers, body = self._finish(response)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The inspector as a WSGI app (paths under ``/_edge/``)."""
        if not self.client_allowed(environ.get("REMOTE_ADDR")):
            response = _text(403, "the inspector answers loopback clients only")
        else:
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
            response = self.respond(
                environ.get("REQUEST_METHOD", "GET"),
                path,
                environ.get("QUERY_STRING", ""),
                environ.get("HTTP_HOST", ""),
                headers=wsgi_headers(environ),
                client=environ.get("REMOTE_ADDR"),
            )
        status, headers, body = self._finish(response)
        start_response(f"{status} {_REASONS.get(status, 'OK')}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]


# -- mounting --------------------------------------------------------------------------------


class InspectorASGIMount:
    """``/_edge/`` (for loopback clients) to the inspector, everything else to ``app``."""

    def __init__(self, app: Any, inspector: Inspector) -> None:
        self.app = app
        self.inspector = inspector

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.inspector.handles(scope.get("path", "")):
            client = scope.get("client")
            if self.inspector.client_allowed(client[0] if client else None):
                await self.inspector.asgi_app(scope, receive, send)
                return
        await self.app(scope, receive, send)


class InspectorWSGIMount:
    """``/_edge/`` (for loopback clients) to the inspector, everything else to ``app``."""

    def __init__(self, app: Any, inspector: Inspector) -> None:
        self.app = app
        self.inspector = inspector

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.inspector.handles(environ.get("PATH_INFO", "")) and self.inspector.client_allowed(
            environ.get("REMOTE_ADDR")
        ):
            return self.inspector.wsgi_app(environ, start_response)
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def mount_inspector(
    app: Any, inspector: Inspector | None = None, *, interface: Interface | None = None
) -> InspectorASGIMount | InspectorWSGIMount:
    """Serve an inspector at ``/_edge/`` in front of ``app`` and record its requests: one call.

    ``app`` is an ASGI or WSGI app (detected unless ``interface`` says), usually an
    :class:`~edge_middleware.EdgeMiddleware` / ``EdgeWSGIMiddleware`` or an app that wraps one
    (Flask's ``wsgi_app``, Starlette's ``add_middleware``): that middleware gets the
    inspector's observer, so nothing else is needed. ``inspector`` defaults to a new
    :class:`Inspector` (``mount.inspector``). Clients other than loopback get ``app`` for
    those paths too. Example::

        app.wsgi_app = mount_inspector(EdgeWSGIMiddleware(app.wsgi_app, config=config))
    """
    if inspector is None:
        inspector = Inspector()
    from .devapp import find_front_door

    door = find_front_door(app)
    if door is not None and inspector.observer not in door.options.observers:
        door.add_observer(inspector.observer)
    if interface is None:
        call = app if inspect.isroutine(app) else type(app).__call__
        interface = "asgi" if inspect.iscoroutinefunction(call) else "wsgi"
    if interface == "asgi":
        return InspectorASGIMount(app, inspector)
    return InspectorWSGIMount(app, inspector)


# -- HTTP helpers ----------------------------------------------------------------------------

_REASONS = {
    200: "OK",
    308: "Permanent Redirect",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(slots=True)
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str


def _text(status: int, text: str) -> _Response:
    return _Response(status, [], (text + "\n").encode(), "text/plain")


def _html(page: str, status: int = 200) -> _Response:
    return _Response(status, [], page.encode(), "text/html")


def _json(status: int, doc: Any) -> _Response:
    return _Response(status, [], json.dumps(doc, ensure_ascii=False).encode(), "application/json")


def _int_arg(args: Mapping[str, list[str]], name: str, default: int) -> int:
    try:
        return int(args.get(name, [str(default)])[-1])
    except ValueError:
        return default


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _loopback_host(host: str) -> bool:
    """A ``Host`` header naming this machine: ``localhost``, ``*.localhost`` or a loopback IP."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    return name == "localhost" or name.endswith(".localhost") or _is_loopback(name)


# -- pages -----------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _clock(epoch: float) -> str:
    t = time.localtime(epoch)
    return time.strftime("%H:%M:%S", t) + f".{int(epoch % 1 * 1000):03d}"


def _result_class(cache_result: str, status: int) -> str:
    if "Hit" in cache_result:
        return "hit"
    if cache_result.startswith("Lambda") and cache_result != "LambdaGeneratedResponse":
        return "error"
    if status >= 500 or cache_result == "Error":
        return "error"
    if cache_result in ("LambdaGeneratedResponse", "Redirect"):
        return "generated"
    return "miss"


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no /favicon.ico request through the edge
        f"<title>{_e(title)}</title>"
        f'<link rel="stylesheet" href="{_CSS}">'
        f'<script src="{_JS}" defer></script>'
        f"</head><body>{body}</body></html>\n"
    )


def _row(s: dict[str, Any]) -> str:
    cls = _result_class(s["cache_result"], s["status"])
    behavior = s["behavior"] if s["behavior"] is not None else "-"
    return (
        f'<tr class="{cls}" data-seq="{s["seq"]}" data-url="{_e(s["url"])}">'
        f'<td class="time">{_clock(s["started_at"])}</td>'
        f'<td class="method">{_e(s["method"])}</td>'
        f'<td class="path"><a href="{_e(s["url"])}">{_e(s["path"])}</a></td>'
        f'<td class="behavior">{_e(behavior)}</td>'
        f'<td class="result"><span class="badge {cls}">{_e(s["cache_result"])}</span></td>'
        f'<td class="status">{s["status"]}</td>'
        f'<td class="duration">{s["duration_ms"]:.1f} ms</td>'
        "</tr>"
    )


_EMPTY_ROW = (
    '<tr class="empty"><td colspan="7">No requests yet: make one and it shows here.</td></tr>'
)


def _not_found_page() -> str:
    return _page(
        "request not found - edge inspector",
        f'<header><a href="{PREFIX}">&larr; all requests</a></header><main>'
        "<h1>Request not found</h1><p>It was never recorded, or newer requests pushed it out "
        "of the inspector's ring.</p></main>",
    )


def _secrets_note(show_secrets: bool) -> str:
    if show_secrets:
        return '<span class="note warn">secrets shown</span>'
    return '<span class="note">Authorization and cookie values masked</span>'


def _list_body(inspector: Inspector, summaries: list[dict[str, Any]]) -> str:
    rows = "".join(_row(s) for s in summaries) or _EMPTY_ROW
    latest = max((s["seq"] for s in summaries), default=0)
    return (
        '<header><h1>Edge inspector</h1><span id="live" class="note">live</span>'
        f"{_secrets_note(inspector.show_secrets)}"
        f'<span class="note">last {inspector.capacity} requests kept</span>'
        f'<a class="note" href="{_API}">JSON</a></header>'
        "<main><table><thead><tr><th>time</th><th>method</th><th>path</th><th>behavior</th>"
        "<th>cache result</th><th>status</th><th>total</th></tr></thead>"
        f'<tbody id="requests" data-after="{latest}" data-capacity="{inspector.capacity}" '
        f'data-instance="{inspector.instance}">{rows}</tbody></table></main>'
    )


# -- the detail page -------------------------------------------------------------------------

_FIELD_TOKEN = re.compile(r'\.?([A-Za-z_$][\w$-]*)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]')


def _field_path(field: str, result: Any) -> tuple[str | int, ...]:
    """``response.headers["x-cache"][0].value`` -> ``("headers", "x-cache", 0, "value")``,
    relative to the handler's result."""
    parts: list[str | int] = []
    for m in _FIELD_TOKEN.finditer(field):
        if m.group(3) is not None:
            parts.append(int(m.group(3)))
        else:
            parts.append(m.group(1) if m.group(1) is not None else m.group(2))
    if (
        parts
        and parts[0] in ("request", "response", "result")
        and not (isinstance(result, dict) and parts[0] in result)
    ):
        parts = parts[1:]
    return tuple(parts)


def _resolve(value: Any, path: tuple[str | int, ...]) -> tuple[Any, ...]:
    """The longest prefix of ``path`` that exists in ``value``, with keys as spelled there
    (header names in a field are lower-case, the result's keys may not be)."""
    found: list[Any] = []
    for part in path:
        if isinstance(value, dict) and isinstance(part, str):
            key = (
                part
                if part in value
                else next((k for k in value if k.lower() == part.lower()), None)
            )
            if key is None:
                break
            found.append(key)
            value = value[key]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            found.append(part)
            value = value[part]
        else:
            break
    return tuple(found)


def _json_lines(
    value: Any, path: tuple[Any, ...] = (), prefix: str = "", indent: int = 0, comma: str = ""
) -> list[tuple[str, tuple[Any, ...]]]:
    """``json.dumps(value, indent=2, sort_keys=True)`` as lines, each with its value's path."""
    pad = "  " * indent
    if isinstance(value, dict) and value:
        lines = [(f"{pad}{prefix}{{", path)]
        keys = sorted(value)
        for i, k in enumerate(keys):
            key = json.dumps(k, ensure_ascii=False) + ": "
            sep = "," if i < len(keys) - 1 else ""
            lines.extend(_json_lines(value[k], (*path, k), key, indent + 1, sep))
        lines.append((f"{pad}}}{comma}", path))
        return lines
    if isinstance(value, list) and value:
        lines = [(f"{pad}{prefix}[", path)]
        for i, v in enumerate(value):
            sep = "," if i < len(value) - 1 else ""
            lines.extend(_json_lines(v, (*path, i), "", indent + 1, sep))
        lines.append((f"{pad}]{comma}", path))
        return lines
    text = json.dumps(value, ensure_ascii=False)
    return [(f"{pad}{prefix}{text}{comma}", path)]


def _json_block(value: Any, field: str = "") -> str:
    """Pretty JSON; with ``field``, the lines of that field (or of its closest existing
    parent) are highlighted."""
    mark: tuple[Any, ...] | None = None
    exact = False
    if field:
        wanted = _field_path(field, value)
        mark = _resolve(value, wanted)
        exact = len(mark) == len(wanted)
    out = []
    cls = ""
    first_of_mark = True
    for text, path in _json_lines(value):
        hit = mark is not None and path[: len(mark)] == mark
        if hit and not exact:  # only the parent's first line: the field itself is missing
            hit = first_of_mark and path == mark
            first_of_mark = first_of_mark and not hit
        css = ' class="hl"' if hit else ""
        out.append(f"<span{css}>{_e(text)}</span>")
    note = ""
    if field and not exact:
        note = f'<p class="note">{_e(field)} is not in the result (it was removed or moved)</p>'
    if field:
        cls += " whole"  # no scrolling: the highlighted lines stay in view
    return f'{note}<pre class="json{cls}">' + "\n".join(out) + "</pre>"


def _diff_block(diff: str) -> str:
    out = []
    for line in diff.split("\n"):
        if line.startswith(("+++", "---")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        else:
            cls = "ctx"
        out.append(f'<span class="{cls}">{_e(line)}</span>')
    return '<pre class="diff">' + "\n".join(out) + "</pre>"


def _error_box(name: str, reason: str, field: str | None, handler: str | None) -> str:
    parts = [
        f'<div class="error-box"><strong>{_e(name)}</strong> '
        f'<span class="reason">{_e(reason)}</span>'
    ]
    if field:
        parts.append(f'<div>offending field: <code class="error-field">{_e(field)}</code></div>')
    if handler:
        parts.append(f"<div>function: <code>{_e(handler)}</code></div>")
    parts.append("</div>")
    return "".join(parts)


def _step_html(step: dict[str, Any], error: dict[str, Any] | None) -> str:
    et = step["event_type"]
    if step["ran"]:
        state = "error" if step["error"] else "ran"
        badge = f'<span class="badge {state}">{"failed" if step["error"] else "ran"}</span>'
        timing = f'<span class="duration">{step["duration_ms"]:.1f} ms</span>'
        why = ""
    else:
        state = "skipped"
        badge = '<span class="badge skipped">skipped</span>'
        timing = ""
        why = f'<span class="skipped-because">{_e(step["skipped_because"])}</span>'
    head = f'<h3><span class="event-type">{_e(et)}</span> {badge} {timing} {why}</h3>'
    if not step["ran"]:
        return f'<section class="step {state}" id="step-{_e(et)}">{head}</section>'
    parts = [head]
    if step["error"]:
        handler = error["handler"] if error else None
        name = error["name"] if error else "Error"
        parts.append(_error_box(name, step["error"], step["error_field"] or None, handler))
    output = step["output"] or ""
    parts.append(
        '<h4>printed</h4><pre class="output">'
        + (_e(output) if output else '<span class="none">(nothing)</span>')
        + "</pre>"
    )
    if step["returned"]:
        parts.append("<h4>returned</h4>" + _json_block(step["result"], step["error_field"]))
    if step["diff"]:
        parts.append("<h4>diff: event &rarr; result</h4>" + _diff_block(step["diff"]))
    elif step["diff_note"]:
        parts.append(f'<p class="note">{_e(step["diff_note"])}</p>')
    parts.append(
        "<details><summary>event the handler received</summary>"
        + _json_block(step["event"])
        + "</details>"
    )
    return f'<section class="step {state}" id="step-{_e(et)}">' + "".join(parts) + "</section>"


def _headers_table(headers: list[list[str]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in headers)
    return f'<table class="headers">{rows}</table>'


def _detail_page(doc: dict[str, Any], show_secrets: bool) -> str:
    cls = _result_class(doc["cache_result"], doc["status"])
    behavior = doc["behavior"] if doc["behavior"] is not None else "-"
    err = doc["error"]
    summary = (
        f'<h1><span class="method">{_e(doc["method"])}</span> {_e(doc["path"])}</h1>'
        '<dl class="summary">'
        f'<dt>status</dt><dd class="status">{doc["status"]} {_e(doc["reason"])}</dd>'
        f'<dt>cache result</dt><dd><span class="badge {cls}" id="cache-result">'
        f"{_e(doc['cache_result'])}</span></dd>"
        f'<dt>behavior</dt><dd id="behavior"><code>{_e(behavior)}</code></dd>'
        f"<dt>total time</dt><dd>{doc['duration_ms']:.1f} ms</dd>"
        f"<dt>at</dt><dd>{_clock(doc['started_at'])}</dd>"
        f"<dt>request id</dt><dd><code>{_e(doc['request_id'])}</code></dd>"
        f"<dt>viewer</dt><dd>{_e(doc['scheme'])} HTTP/{_e(doc['protocol'])}, "
        f"{doc['bytes_received']} bytes in, {doc['bytes_sent']} bytes out</dd>"
        "</dl>"
    )
    error_html = ""
    if err:
        error_html = (
            '<section id="error">'
            + _error_box(
                f"{err['name']} ({err['status']})", err["reason"], err["field"], err["handler"]
            )
            + (
                f'<pre class="output" id="traceback">{_e(doc["traceback"])}</pre>'
                if doc.get("traceback")
                else ""
            )
            + "</section>"
        )
    steps = "".join(_step_html(s, err) for s in doc["steps"])
    if doc["ttl_reason"]:
        ttl = doc["ttl_reason"]
    elif "Hit" in doc["cache_result"]:
        ttl = "served from the cache (the TTL was decided when the object was stored)"
    else:
        ttl = "nothing stored"
    key = doc["cache_key"]
    generated = _generated_by(doc["steps"])
    if err:
        no_key = "none recorded: the viewer got CloudFront's error response"
    elif generated == "viewer-request":
        no_key = "none: the viewer-request function answered before the cache"
    else:
        no_key = "none: not cacheable (method, TTLs or forwarded headers of the behavior)"
    cache = (
        '<section id="cache"><h2>Cache</h2><dl class="summary">'
        "<dt>cache key</dt><dd>"
        + (f'<code id="cache-key">{_e(key)}</code>' if key else _e(no_key))
        + f'</dd><dt>TTL decision</dt><dd id="ttl-reason">{_e(ttl)}</dd></dl></section>'
    )
    origin = doc["origin_request"]
    removed = doc.get("removed_before_origin")
    removed_html = ""
    if removed:
        removed_html = (
            '<p class="note" id="removed">removed before the origin: '
            f"{_e(', '.join(removed))} (the behavior's policies do not forward them)</p>"
        )
    origin_html = (
        '<section id="origin-request"><h2>Request as the origin received it</h2>'
        + removed_html
        + (
            _json_block(origin)
            if origin is not None
            else '<p class="note">the origin was not contacted for this response</p>'
        )
        + "</section>"
    )
    body = (
        f'<header><a href="{PREFIX}">&larr; all requests</a>{_secrets_note(show_secrets)}'
        f'<a class="note" href="{_e(_API + "/" + quote(doc["request_id"], safe=""))}">JSON</a>'
        "</header><main>"
        + summary
        + error_html
        + '<section id="timeline"><h2>Timeline</h2>'
        + steps
        + "</section>"
        + cache
        + origin_html
        + '<section id="viewer-request"><h2>Request from the viewer</h2>'
        + _json_block(doc["viewer_request"])
        + "</section>"
        + '<section id="response-headers"><h2>Response headers sent to the viewer</h2>'
        + _headers_table(doc["response_headers"])
        + "</section></main>"
    )
    return _page(f"{doc['method']} {doc['path']} - edge inspector", body)


# -- static assets ---------------------------------------------------------------------------

_SCRIPT = r"""
"use strict";
(function () {
  var body = document.getElementById("requests");
  if (!body) { return; }
  var after = Number(body.dataset.after || 0);
  var capacity = Number(body.dataset.capacity || 200);
  var instance = body.dataset.instance;
  var live = document.getElementById("live");

  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function clock(epoch) {
    var d = new Date(epoch * 1000);
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) +
      "." + pad(d.getMilliseconds(), 3);
  }
  function kind(r) {
    var c = r.cache_result;
    if (c.indexOf("Hit") >= 0) { return "hit"; }
    if (c.indexOf("Lambda") === 0 && c !== "LambdaGeneratedResponse") { return "error"; }
    if (r.status >= 500 || c === "Error") { return "error"; }
    if (c === "LambdaGeneratedResponse" || c === "Redirect") { return "generated"; }
    return "miss";
  }
  function td(tr, cls, text) {
    var cell = document.createElement("td");
    cell.className = cls;
    if (text !== undefined) { cell.textContent = text; }
    tr.appendChild(cell);
    return cell;
  }
  function row(r) {
    var tr = document.createElement("tr");
    var k = kind(r);
    tr.className = k;
    tr.dataset.seq = r.seq;
    tr.dataset.url = r.url;
    td(tr, "time", clock(r.started_at));
    td(tr, "method", r.method);
    var link = document.createElement("a");
    link.href = r.url;
    link.textContent = r.path;
    td(tr, "path").appendChild(link);
    td(tr, "behavior", r.behavior === null ? "-" : r.behavior);
    var badge = document.createElement("span");
    badge.className = "badge " + k;
    badge.textContent = r.cache_result;
    td(tr, "result").appendChild(badge);
    td(tr, "status", String(r.status));
    td(tr, "duration", r.duration_ms.toFixed(1) + " ms");
    return tr;
  }
  body.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr[data-url]");
    if (tr && !ev.target.closest("a")) { window.location.href = tr.dataset.url; }
  });
  function poll() {
    fetch("/_edge/api/requests?summary=1&after=" + after, { cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error(String(resp.status)); }
        if (resp.headers.get("X-Edge-Inspector-Instance") !== instance) {
          window.location.reload();  // the server restarted: start over
          return null;
        }
        return resp.json();
      })
      .then(function (items) {
        live.textContent = "live";
        live.classList.remove("warn");
        if (!items || !items.length) { return; }
        var empty = body.querySelector("tr.empty");
        if (empty) { empty.remove(); }
        for (var i = items.length - 1; i >= 0; i--) {
          body.insertBefore(row(items[i]), body.firstChild);
          after = Math.max(after, items[i].seq);
        }
        while (body.rows.length > capacity) { body.deleteRow(-1); }
      })
      .catch(function () {
        live.textContent = "disconnected, retrying";
        live.classList.add("warn");
      })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 1000);
})();
"""

_STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #59636e; --bg: #fff; --panel: #f6f8fa;
  --line: #d1d9e0; --hit: #1a7f37; --miss: #9a6700; --err: #cf222e; --gen: #0969da;
  --hl: #fff8c5; --add: #dafbe1; --del: #ffebe9; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --line: #3d444d;
    --hit: #3fb950; --miss: #d29922; --err: #f85149; --gen: #4493f8; --hl: #4d3b00;
    --add: #12361f; --del: #4c1418; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em;
  border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 1.15em; margin: 0; }
main { padding: 1em 1.2em; }
a { color: var(--gen); }
.note { color: var(--muted); font-size: .9em; }
.warn { color: var(--err); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid var(--line);
  vertical-align: top; }
thead th { font-weight: 600; color: var(--muted); }
tbody tr[data-url] { cursor: pointer; }
tbody tr[data-url]:hover { background: var(--panel); }
td.time, td.status, td.duration, td.method { white-space: nowrap;
  font-variant-numeric: tabular-nums; }
td.path { word-break: break-all; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.badge { display: inline-block; padding: 0 .5em; border-radius: 1em; border: 1px solid;
  font-size: .85em; font-weight: 600; white-space: nowrap; }
.badge.hit, .badge.ran { color: var(--hit); }
.badge.miss { color: var(--miss); }
.badge.error { color: var(--err); }
.badge.generated { color: var(--gen); }
.badge.skipped { color: var(--muted); }
h1 { font-size: 1.3em; word-break: break-all; }
h2 { font-size: 1.1em; margin: 1.4em 0 .5em; }
h3 { font-size: 1em; margin: 0; display: flex; gap: .7em; align-items: baseline;
  flex-wrap: wrap; }
h4 { font-size: .9em; margin: .8em 0 .2em; color: var(--muted); }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; word-break: break-all; }
.step { border: 1px solid var(--line); border-left: 4px solid var(--hit); border-radius: 4px;
  padding: .5em .8em; margin: .5em 0; }
.step.skipped { border-left-color: var(--line); color: var(--muted); }
.step.error { border-left-color: var(--err); }
.skipped-because { font-style: italic; }
.duration { color: var(--muted); font-variant-numeric: tabular-nums; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px;
  padding: .5em .7em; overflow: auto; max-height: 32em; margin: .2em 0; }
pre span { display: inline-block; min-width: 100%; }
pre.whole { max-height: none; }
pre .hl { background: var(--hl); box-shadow: inset 3px 0 var(--err); }
pre.diff .add { background: var(--add); }
pre.diff .del { background: var(--del); }
pre.diff .hunk, pre.diff .file { color: var(--muted); }
.none { color: var(--muted); font-style: italic; }
.error-box { border: 1px solid var(--err); border-radius: 4px; padding: .5em .8em;
  margin: .5em 0; }
.error-box strong { color: var(--err); }
.error-field { background: var(--hl); padding: 0 .3em; border-radius: 3px; }
details summary { cursor: pointer; color: var(--muted); margin-top: .6em; }
table.headers th { font-weight: 600; white-space: nowrap; width: 1%; }
table.headers td { word-break: break-all; }
"""
