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
import json
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import parse_qs, quote, unquote

from ..core import capture
from ..core.mounts import PATH_SAFE, at_or_below, quote_latin1
from ..doors.interfaces import is_asgi_app
from ..doors.middleware import RequestRecord
from .devguard import TOKEN_COOKIE, Guard, asgi_headers, is_loopback, wsgi_headers

if TYPE_CHECKING:
    from ..doors.asgi import EdgeMiddleware
    from ..doors.wsgi import EdgeWSGIMiddleware

from .inspector_pages import (
    API,
    CSS,
    DETAIL,
    JS,
    PREFIX,
    detail_page,
    list_body,
    not_found_page,
    page,
    static_file,
)
from .inspector_trace import Trace, public_trace, record_trace, summary_trace
from .masking import MASK, SECRET_HEADERS

__all__ = ["MASK", "PREFIX", "SECRET_HEADERS", "Inspector", "mount_inspector"]


_INSTANCE_HEADER = "X-Edge-Inspector-Instance"

Interface = Literal["asgi", "wsgi"]


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
        trace = record_trace(record, self.max_string)
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
            return [summary_trace(t, self.show_secrets) for t in traces]
        return [public_trace(t, self.show_secrets) for t in traces]

    def record(self, request_id: str) -> dict[str, Any] | None:
        """One request by its request id (``x-amz-cf-id``), or None when not (or no longer) kept."""
        with self._lock:
            found = next((t for t in self._traces if t["request_id"] == request_id), None)
        return None if found is None else public_trace(found, self.show_secrets)

    def to_json(self, **kwargs: Any) -> str:
        """``records(**kwargs)`` as a JSON document."""
        return json.dumps(self.records(**kwargs), ensure_ascii=False)

    # -- serving ----------------------------------------------------------------------------
    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is one of the inspector's (``/_edge/invalidate`` is not)."""
        return (
            path in ("/_edge", PREFIX, API, JS, CSS)
            or path.startswith(DETAIL)
            or path.startswith(API + "/")
        )

    def client_allowed(self, client_host: str | None) -> bool:
        return self.allow_remote or self.guard.allow_remote or is_loopback(client_host)

    def respond(
        self,
        method: str,
        path: str,
        query: str,
        host: str,
        *,
        headers: Mapping[str, str] | None = None,
        client: str | None = "127.0.0.1",
        base: str = "",
    ) -> _Response:
        """The inspector's answer to one request (both front doors call this). ``base``: the
        mount the app is served under, percent-encoded (ASGI's ``root_path`` as UTF-8, WSGI's
        ``SCRIPT_NAME`` as Latin-1), in front of every link, redirect and url it gives;
        ``path`` is below it."""
        headers = dict(headers) if headers is not None else {}
        headers["host"] = host
        refusal = self.guard.refusal(client, headers, query)
        if refusal is not None:
            return _text(403, f"the inspector {refusal}")
        base = base.rstrip("/")
        response = self._respond(method, path, query, base)
        token = self.guard.token
        if token and parse_qs(query).get(TOKEN_COOKIE):
            cookie = f"{TOKEN_COOKIE}={token}; Path={base + PREFIX}; HttpOnly; SameSite=Strict"
            response.headers.append(("Set-Cookie", cookie))
        return response

    def _respond(self, method: str, path: str, query: str, base: str) -> _Response:
        if method not in ("GET", "HEAD"):
            return _Response(405, [("Allow", "GET, HEAD")], b"use GET\n", "text/plain")
        args = parse_qs(query)
        if path == "/_edge":
            return _Response(308, [("Location", base + PREFIX)], b"", "text/plain")
        if path == PREFIX:
            return _html(self._list_page(base))
        if path == JS:
            return _Response(200, [], static_file("inspector.js"), "text/javascript")
        if path == CSS:
            return _Response(200, [], static_file("inspector.css"), "text/css")
        if path == API:
            after = _int_arg(args, "after", 0)
            limit = _int_arg(args, "limit", -1)
            summary = args.get("summary", ["0"])[-1] not in ("0", "", "false")
            docs = self.records(after=after, limit=None if limit < 0 else limit, summary=summary)
            return _json(200, _based(docs, base))
        if path.startswith(API + "/"):
            doc = self.record(unquote(path[len(API) + 1 :]))
            if doc is None:
                return _json(404, {"error": "no such request (evicted, or never recorded)"})
            return _json(200, _based([doc], base)[0])
        if path.startswith(DETAIL):
            doc = self.record(unquote(path[len(DETAIL) :]))
            if doc is None:
                return _html(not_found_page(base), 404)
            return _html(detail_page(doc, self.show_secrets, base))
        return _text(404, "not found")

    def _list_page(self, base: str = "") -> str:
        summaries = _based(self.records(summary=True), base)
        return page("edge inspector", list_body(self, summaries, base), base)

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
            path, base = _asgi_route(scope)
            response = await asyncio.to_thread(
                self.respond,
                scope["method"],
                path,
                scope.get("query_string", b"").decode("latin-1"),
                seen.get("host", ""),
                headers=seen,
                client=client[0] if client else None,
                base=quote(base, safe=PATH_SAFE),  # (ASGI's text is UTF-8's)
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
                base=quote_latin1(environ.get("SCRIPT_NAME", ""), PATH_SAFE),
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
        if scope["type"] == "http" and self.inspector.handles(_asgi_route(scope)[0]):
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


@overload
def mount_inspector(
    app: EdgeWSGIMiddleware,
    inspector: Inspector | None = None,
    *,
    interface: Literal["wsgi"] | None = None,
) -> InspectorWSGIMount: ...
@overload
def mount_inspector(
    app: EdgeMiddleware,
    inspector: Inspector | None = None,
    *,
    interface: Literal["asgi"] | None = None,
) -> InspectorASGIMount: ...
@overload
def mount_inspector(
    app: Any, inspector: Inspector | None = None, *, interface: Literal["wsgi"]
) -> InspectorWSGIMount: ...
@overload
def mount_inspector(
    app: Any, inspector: Inspector | None = None, *, interface: Literal["asgi"]
) -> InspectorASGIMount: ...
@overload
def mount_inspector(
    app: Any, inspector: Inspector | None = None, *, interface: None = None
) -> InspectorASGIMount | InspectorWSGIMount: ...
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
        interface = "asgi" if is_asgi_app(app) else "wsgi"
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


def _asgi_route(scope: Any) -> tuple[str, str]:
    """The path below the app's mount and the mount (``root_path``): a scope's ``path`` holds
    the mount (ASGI's reading, Starlette's ``Mount``) or not (an older reading)."""
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    mount = root.rstrip("/")
    if mount and at_or_below(path, mount):
        path = path[len(mount) :] or "/"
    return path, root


def _based(docs: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    """``docs`` (fresh copies: ``records`` makes them) with ``base`` in front of their urls."""
    if base:
        for doc in docs:
            doc["url"] = base + doc["url"]
    return docs


def _text(status: int, text: str) -> _Response:
    return _Response(status, [], _utf8(text + "\n"), "text/plain")


def _html(page: str, status: int = 200) -> _Response:
    return _Response(status, [], _utf8(page), "text/html")


def _json(status: int, doc: Any) -> _Response:
    return _Response(status, [], _utf8(json.dumps(doc, ensure_ascii=False)), "application/json")


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (text a handler decoded with ``surrogateescape``,
    printed or returned) as its ``\\udcXX`` escape, which JSON reads back as the same text:
    it made every page that showed it, and the whole JSON list, a 500."""
    return text.encode("utf-8", "backslashreplace")


def _int_arg(args: Mapping[str, list[str]], name: str, default: int) -> int:
    try:
        return int(args.get(name, [str(default)])[-1])
    except ValueError:
        return default
