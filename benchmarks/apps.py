"""The apps, handlers, configs and in-process drivers the cases share.

Bare apps: a Starlette app and a Flask app with the same routes:

* ``/``      a constant 12-byte answer (``Cache-Control: max-age=3600``, cacheable when the
             behavior caches, ignored when it does not);
* ``/slow``  the same after spinning about 1 ms of CPU (a stand-in for real handler work).

Drivers call an app directly, with no server: ASGI with a prebuilt scope (copied per request), a
``receive`` that returns the body then ``http.disconnect``, and a ``send`` that discards; WSGI with
a prebuilt environ (copied per request, a fresh ``BytesIO`` body) whose answer is iterated and
closed.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_middleware import Behavior, CachePolicy, EdgeConfig, Trigger

CONST_BODY = b"hello, world"
CACHEABLE = "max-age=3600"
NO_CACHE = CachePolicy(0, 0, 0)
#: Caches, and keys on the whole query string (so ``?n=1``, ``?n=2`` ... are distinct misses).
CACHE_ALL_QS = CachePolicy(0, 3600, 86400, query_strings="all")

ASGIApp = Callable[..., Awaitable[None]]
WSGIApp = Callable[..., Iterable[bytes]]


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


# -- bare apps ------------------------------------------------------------------------------------


def starlette_app() -> Starlette:
    async def const(request: Request) -> Response:
        return Response(CONST_BODY, media_type="text/plain", headers={"cache-control": CACHEABLE})

    async def slow(request: Request) -> Response:
        spin(0.001)
        return Response(CONST_BODY, media_type="text/plain", headers={"cache-control": CACHEABLE})

    return Starlette(
        routes=[
            Route("/", const, methods=["GET", "HEAD", "POST"]),
            Route("/slow", slow, methods=["GET", "HEAD"]),
        ]
    )


def flask_app() -> Flask:
    app = Flask("bench")

    @app.route("/", methods=["GET", "HEAD", "POST"])
    def const() -> Any:
        return CONST_BODY, 200, {"Content-Type": "text/plain", "Cache-Control": CACHEABLE}

    @app.route("/slow", methods=["GET", "HEAD"])
    def slow() -> Any:
        spin(0.001)
        return CONST_BODY, 200, {"Content-Type": "text/plain", "Cache-Control": CACHEABLE}

    return app


_RAW_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"12")]
_RAW_START = {"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS}
_RAW_BODY = {"type": "http.response.body", "body": CONST_BODY, "more_body": False}


async def raw_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The constant answer with no framework (the door's own cost, with no app to slow)."""
    await send(_RAW_START)
    await send(_RAW_BODY)


def raw_wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The constant answer with no framework (see :func:`raw_asgi_app`)."""
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "12")]
    )
    return [CONST_BODY]


def asgi_streamer(size: int, chunk: int = 64 * 1024, *, fresh: bool = False) -> ASGIApp:
    """A raw ASGI app streaming ``size`` bytes in ``chunk``-sized messages: one shared buffer,
    or with ``fresh`` a new copy per message (so anything that keeps chunks shows in RSS)."""
    shared = b"x" * min(size, chunk)
    source = bytearray(shared)
    full, rest = divmod(size, len(shared)) if size else (0, 0)
    tail = shared[:rest]
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", b"%d" % size)]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i in range(full):
            more = i < full - 1 or bool(rest)
            block = bytes(source) if fresh else shared
            await send({"type": "http.response.body", "body": block, "more_body": more})
        if rest or not full:
            await send({"type": "http.response.body", "body": tail, "more_body": False})

    return app


def wsgi_streamer(size: int, chunk: int = 64 * 1024, *, fresh: bool = False) -> WSGIApp:
    """A WSGI app streaming ``size`` bytes in ``chunk``-sized pieces (see :func:`asgi_streamer`)."""
    shared = b"x" * min(size, chunk)
    source = bytearray(shared)
    full, rest = divmod(size, len(shared)) if size else (0, 0)
    tail = shared[:rest]
    headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", headers)
        for _ in range(full):
            yield bytes(source) if fresh else shared
        if rest:
            yield tail

    return app


# -- Lambda@Edge handlers -------------------------------------------------------------------------


def passthrough(event: dict[str, Any], context: Any) -> Any:
    cf = event["Records"][0]["cf"]
    return cf["response"] if "response" in cf else cf["request"]


async def apassthrough(event: dict[str, Any], context: Any) -> Any:
    cf = event["Records"][0]["cf"]
    return cf["response"] if "response" in cf else cf["request"]


def four_triggers(
    *, include_body: bool = False, is_async: bool = False, cache: CachePolicy = NO_CACHE
) -> Behavior:
    fn = apassthrough if is_async else passthrough
    return Behavior(
        viewer_request=Trigger(fn, include_body=include_body),
        origin_request=Trigger(fn, include_body=include_body),
        origin_response=Trigger(fn),
        viewer_response=Trigger(fn),
        cache=cache,
    )


def config(default: Behavior | None = None, behaviors: Iterable[Behavior] = ()) -> EdgeConfig:
    return EdgeConfig(default=default or Behavior(cache=NO_CACHE), behaviors=list(behaviors))


# -- in-process drivers ---------------------------------------------------------------------------


def asgi_scope(
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    hdrs = [
        (b"host", b"bench.local"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"*/*"),
    ]
    if headers is not None:
        hdrs = headers
    if body:
        hdrs = [*hdrs, (b"content-type", b"application/octet-stream")]
        hdrs.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": hdrs,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


_DISCONNECT = {"type": "http.disconnect"}


async def _discard(message: Any) -> None:
    return None


def asgi_driver(
    app: ASGIApp,
    scope: dict[str, Any],
    body: bytes = b"",
    *,
    unique_query: bool = False,
) -> Callable[[int], Awaitable[None]]:
    """``async serve(n)``: n requests straight into ``app``. With ``unique_query`` every request
    carries a new ``?n=...`` (so a cache keyed on the query string always misses)."""
    first = {"type": "http.request", "body": body, "more_body": False}
    counter = [0]

    async def serve(n: int) -> None:
        for _ in range(n):
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return _DISCONNECT
                sent = True
                return first

            s = scope.copy()
            if unique_query:
                counter[0] += 1
                s["query_string"] = b"n=%d" % counter[0]
            await app(s, receive, _discard)

    return serve


async def asgi_once(
    app: ASGIApp, scope: dict[str, Any], body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request; (status, lower-cased headers, body) for sanity checks."""
    sent = False
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return _DISCONNECT
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope.copy(), receive, send)
    start = next(m for m in out if m["type"] == "http.response.start")
    headers = {k.lower(): v for k, v in start.get("headers", [])}
    payload = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    return start["status"], headers, payload


def wsgi_environ(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    hdrs = {"Host": "bench.local", "User-Agent": "bench/1.0", "Accept": "*/*"}
    if headers is not None:
        hdrs = headers
    for name, value in hdrs.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    if body:
        env["CONTENT_TYPE"] = "application/octet-stream"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def _write(data: bytes) -> None:
    return None


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


def wsgi_driver(
    app: WSGIApp, environ: dict[str, Any], body: bytes = b"", *, unique_query: bool = False
) -> Callable[[int], None]:
    counter = [0]

    def serve(n: int) -> None:
        for _ in range(n):
            env = environ.copy()
            env["wsgi.input"] = io.BytesIO(body)
            if unique_query:
                counter[0] += 1
                env["QUERY_STRING"] = f"n={counter[0]}"
            result = app(env, _start_response)
            try:
                for _chunk in result:
                    pass
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return serve


def wsgi_once(
    app: WSGIApp, environ: dict[str, Any], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    captured: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
        captured[:] = [status, headers]
        return _write

    env = environ.copy()
    env["wsgi.input"] = io.BytesIO(body)
    result = app(env, start_response)
    try:
        payload = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = int(captured[0].split(" ", 1)[0])
    return status, {k.lower(): v for k, v in captured[1]}, payload


def x_cache(headers: dict[Any, Any]) -> str:
    value = headers.get(b"x-cache", headers.get("x-cache", b""))
    return value.decode() if isinstance(value, bytes) else str(value)
