"""A scriptable origin for the cache scenarios (tests/test_cache_scenarios.py).

One :class:`ScriptedOrigin` holds the script: ``origin.routes`` maps a path to what the origin
answers there (status, headers, body, delay, ...). The test changes that dict between requests;
the origin counts its calls per path and records what each request carried, so a test can
assert ``o=n`` and exactly what CloudFront forwarded. Two apps serve the same script:
:func:`starlette_origin` (ASGI) and :func:`flask_origin` (WSGI)::

    origin = ScriptedOrigin()
    origin.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"hello")
    app = EdgeMiddleware(starlette_origin(origin), config=...)
    ...
    assert origin.calls["/a"] == 1
    assert origin.last["/a"].query == ""

Route fields (all optional):

* ``status`` (200), ``headers`` (a mapping or a list of pairs; repeats allowed), ``body``;
* ``chunks``: stream the body in this many pieces (no ``Content-Length``) instead of one;
* ``delay``: seconds to wait before answering;
* ``gate``: a ``threading.Event`` (both apps) or ``asyncio.Event`` (Starlette) to wait on;
* ``fail``: raise before any response starts (an unreachable origin);
* ``content_length``: send this ``Content-Length`` whatever the body's size (a truncated body);
* ``ranges``: honour a single ``Range: bytes=a-b`` on a 200 with a ``206`` slice;
* ``conditional``: answer ``304`` (with the route's headers, no body) when the request's
  ``If-None-Match``/``If-Modified-Since`` matches the route's ``ETag``/``Last-Modified``.

A path without a route answers ``200`` with the path as its body and no caching headers.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Received", "ScriptedOrigin", "flask_origin", "starlette_origin"]

_ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
#: How long a gate may hold a request before the origin gives up (keeps a broken test bounded).
GATE_TIMEOUT = 10.0


class OriginUnreachable(RuntimeError):
    """Raised by a ``fail`` route before any response starts."""


@dataclass(frozen=True)
class Received:
    """One request as the origin received it."""

    method: str
    path: str
    query: str
    #: Lower-case name -> value (repeated lines joined with ``", "``).
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    for k, v in pairs:
        if k.lower() == name:
            return v
    return None


@dataclass(frozen=True)
class _Plan:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: int
    delay: float
    gate: Any
    content_length: int | None = None


class ScriptedOrigin:
    """The shared script and the record of what the origin saw (thread-safe)."""

    def __init__(self) -> None:
        self.routes: dict[str, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.last: dict[str, Received] = {}
        self.log: list[Received] = []
        self._lock = threading.Lock()

    def route(
        self,
        path: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"ok",
        **extra: Any,
    ) -> dict[str, Any]:
        """Set (replace) what ``path`` answers; returns the route dict for later edits."""
        spec = {"status": status, "headers": _pairs(headers), "body": body, **extra}
        self.routes[path] = spec
        return spec

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def _record(
        self, method: str, path: str, query: str, headers: Iterable[tuple[str, str]]
    ) -> tuple[dict[str, Any], Received]:
        merged: dict[str, str] = {}
        for k, v in headers:
            k = k.lower()
            merged[k] = f"{merged[k]}, {v}" if k in merged else v
        seen = Received(method, path, query, merged)
        with self._lock:
            self.calls[path] += 1
            self.last[path] = seen
            self.log.append(seen)
            spec = self.routes.get(path)
        if spec is None:
            spec = {"status": 200, "headers": [], "body": path.encode()}
        if spec.get("fail"):
            raise OriginUnreachable(f"scripted failure for {path}")
        return spec, seen

    def _plan(self, spec: dict[str, Any], received: Received) -> _Plan:
        headers = _pairs(spec.get("headers", ()))
        status = int(spec.get("status", 200))
        body: bytes = spec.get("body", b"")
        rng = received.header("range")
        if spec.get("ranges") and status == 200 and rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            if first.isdigit() and (last.isdigit() or not last) and "," not in rng:
                end = min(int(last) if last else len(body) - 1, len(body) - 1)
                status, total = 206, len(body)
                body = body[int(first) : end + 1]
                headers = [*headers, ("Content-Range", f"bytes {first}-{end}/{total}")]
        if spec.get("conditional"):
            etag = _first(headers, "etag")
            lm = _first(headers, "last-modified")
            inm = received.header("if-none-match")
            ims = received.header("if-modified-since")
            # If-None-Match compares weakly (RFC 9110 §13.1.2): W/"a" matches "a"
            tag_matches = (
                inm is not None
                and etag is not None
                and inm.removeprefix("W/") == etag.removeprefix("W/")
            )
            if tag_matches or (lm is not None and ims == lm):
                status, body = 304, b""
                headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        return _Plan(
            status,
            headers,
            body,
            int(spec.get("chunks", 0)),
            float(spec.get("delay", 0.0)),
            spec.get("gate"),
            spec.get("content_length"),
        )

    def received(self, path: str) -> Received:
        """The last request for ``path`` (KeyError when the origin never saw one)."""
        with self._lock:
            return self.last[path]


def _pieces(body: bytes, chunks: int) -> list[bytes]:
    size = max(1, -(-len(body) // chunks))
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


# -- ASGI: Starlette ------------------------------------------------------------------------------


def starlette_origin(origin: ScriptedOrigin) -> Any:
    """An ASGI app (a Starlette app behind a thin recorder) that follows ``origin``'s script.

    The recorder counts the call and raises for ``fail`` routes *before* Starlette's error
    middleware could turn the exception into a 500, so the edge sees an unreachable origin.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        spec = request.scope["scripted.spec"]
        received = request.scope["scripted.received"]
        plan = origin._plan(spec, received)
        if plan.delay:
            await asyncio.sleep(plan.delay)
        gate = plan.gate
        if isinstance(gate, asyncio.Event):
            await asyncio.wait_for(gate.wait(), GATE_TIMEOUT)
        elif gate is not None:
            import anyio.to_thread

            await anyio.to_thread.run_sync(gate.wait, GATE_TIMEOUT)
        response: Response
        if plan.chunks > 1 and plan.status != 304:
            parts = _pieces(plan.body, plan.chunks)

            async def stream() -> Any:
                for part in parts:
                    yield part

            response = StreamingResponse(stream(), status_code=plan.status)
        else:
            response = Response(plan.body, status_code=plan.status)
        response.raw_headers.extend(
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in plan.headers
        )
        if plan.content_length is not None:
            response.raw_headers = [
                *((k, v) for k, v in response.raw_headers if k != b"content-length"),
                (b"content-length", str(plan.content_length).encode()),
            ]
        return response

    inner = Starlette(routes=[Route("/{path:path}", endpoint, methods=_ALL_METHODS)])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            query = scope.get("query_string", b"").decode("latin-1")
            spec, seen = origin._record(scope["method"], scope["path"], query, headers)
            scope = dict(scope)
            scope["scripted.spec"] = spec
            scope["scripted.received"] = seen
        await inner(scope, receive, send)

    return app


# -- WSGI: Flask ----------------------------------------------------------------------------------


def flask_origin(origin: ScriptedOrigin) -> Any:
    """A WSGI app (a Flask app behind a thin recorder) that follows ``origin``'s script."""
    import time

    from flask import Flask, Response, request

    flask_app = Flask("scripted_origin")

    @flask_app.route("/", defaults={"path": ""}, methods=_ALL_METHODS)
    @flask_app.route("/<path:path>", methods=_ALL_METHODS)
    def endpoint(path: str) -> Response:
        spec = request.environ["scripted.spec"]
        received = request.environ["scripted.received"]
        plan = origin._plan(spec, received)
        if plan.delay:
            time.sleep(plan.delay)
        if plan.gate is not None:
            plan.gate.wait(GATE_TIMEOUT)
        body: bytes | Iterator[bytes] = plan.body
        if plan.chunks > 1 and plan.status != 304:
            body = iter(_pieces(plan.body, plan.chunks))
        response = Response(body, status=plan.status)
        response.headers.remove("Content-Type")
        for k, v in plan.headers:
            response.headers.add(k, v)
        if plan.content_length is not None:
            response.headers["Content-Length"] = str(plan.content_length)
        return response

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        headers = [
            (k[5:].replace("_", "-").lower(), str(v))
            for k, v in environ.items()
            if k.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers.append((key.replace("_", "-").lower(), environ[key]))
        path = environ.get("PATH_INFO", "") or "/"
        spec, seen = origin._record(
            environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers
        )
        environ["scripted.spec"] = spec
        environ["scripted.received"] = seen
        return flask_app.wsgi_app(environ, start_response)

    return app
