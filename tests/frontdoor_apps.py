"""Two tiny real origin apps with the same routes: one Starlette (ASGI), one Flask (WSGI).

Routes (every method unless noted):

* ``/status/<code>``: that status, body ``status <code>`` (none for 204/304), ``X-Origin-Status``.
* ``/cookies``: two ``Set-Cookie`` headers.
* ``/binary``: the bytes 0-255 as ``application/octet-stream``.
* ``/cache/<ttl>``: ``Cache-Control: max-age=<ttl>``.
* ``/meta``: an S3-style ``X-Amz-Meta-Last-Modified`` header.
* ``/stream``: five chunks, streamed.
* ``/bytes/<n>``: ``n`` bytes of :func:`pattern`, streamed in 64 KiB chunks.
* ``/raise``: raises before any response is started.
* anything else: JSON describing what the origin received (see :func:`describe`).

Every request the app receives is appended to the ``log`` list given to the factory, as the
:func:`describe` dict, so a test can tell whether and how the origin was called.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route
from starlette.types import ASGIApp

__all__ = [
    "BINARY",
    "LAST_MODIFIED",
    "STREAM_CHUNKS",
    "describe",
    "make_flask_app",
    "make_starlette_app",
    "pattern",
]

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
BINARY = bytes(range(256))
STREAM_CHUNKS = [f"chunk {i}\n".encode() for i in range(5)]
LAST_MODIFIED = "Thu, 01 Jan 2015 00:00:00 GMT"
ORIGIN_ERROR = "origin exploded: secret-origin-detail"


def pattern(n: int) -> bytes:
    """``n`` bytes that differ along their length (0-255 repeated)."""
    return (BINARY * (n // 256 + 1))[:n]


def _pieces(n: int) -> Iterator[bytes]:
    data = pattern(n)
    for i in range(0, n, 64 * 1024):
        yield data[i : i + 64 * 1024]


def describe(
    method: str,
    path: str,
    raw_path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    """What the origin received, as JSON-friendly data."""
    return {
        "method": method,
        "path": path,
        "raw_path": raw_path,
        "query_string": query_string,
        "headers": [[k, v] for k, v in headers],
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_text": body.decode("utf-8", "replace") if len(body) <= 4096 else None,
    }


# -- Starlette -----------------------------------------------------------------------------------
class _BareStarlette(Starlette):
    """Starlette without its outer 500 page: an unhandled error leaves the app before any
    response has started, as a bare ASGI app (and Flask with PROPAGATE_EXCEPTIONS) does."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack.app if isinstance(stack, ServerErrorMiddleware) else stack


def make_starlette_app(log: list[dict[str, Any]]) -> Starlette:
    async def record(req: Request) -> dict[str, Any]:
        body = await req.body()
        info = describe(
            req.method,
            req.scope["path"],
            req.scope.get("raw_path", b"").decode("latin-1"),
            req.scope["query_string"].decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.scope["headers"]],
            body,
        )
        log.append(info)
        return info

    async def echo(req: Request) -> StarletteResponse:
        return JSONResponse(await record(req))

    async def status(req: Request) -> StarletteResponse:
        await record(req)
        code = int(req.path_params["code"])
        headers = {"X-Origin-Status": str(code)}
        if code in (204, 304):
            return StarletteResponse(status_code=code, headers=headers)
        return PlainTextResponse(f"status {code}", status_code=code, headers=headers)

    async def cookies(req: Request) -> StarletteResponse:
        await record(req)
        resp = PlainTextResponse("cookies")
        resp.set_cookie("first", "1")
        resp.set_cookie("second", "2")
        return resp

    async def binary(req: Request) -> StarletteResponse:
        await record(req)
        return StarletteResponse(BINARY, media_type="application/octet-stream")

    async def cache(req: Request) -> StarletteResponse:
        await record(req)
        ttl = int(req.path_params["ttl"])
        return PlainTextResponse(f"cached for {ttl}", headers={"Cache-Control": f"max-age={ttl}"})

    async def meta(req: Request) -> StarletteResponse:
        await record(req)
        return PlainTextResponse("meta", headers={"X-Amz-Meta-Last-Modified": LAST_MODIFIED})

    async def stream(req: Request) -> StarletteResponse:
        await record(req)

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in STREAM_CHUNKS:
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    async def many(req: Request) -> StarletteResponse:
        await record(req)

        async def chunks() -> AsyncIterator[bytes]:
            for piece in _pieces(int(req.path_params["n"])):
                yield piece

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def boom(req: Request) -> StarletteResponse:
        await record(req)
        raise RuntimeError(ORIGIN_ERROR)

    return _BareStarlette(
        routes=[
            Route("/status/{code:int}", status, methods=METHODS),
            Route("/cookies", cookies, methods=METHODS),
            Route("/binary", binary, methods=METHODS),
            Route("/cache/{ttl:int}", cache, methods=METHODS),
            Route("/meta", meta, methods=METHODS),
            Route("/stream", stream, methods=METHODS),
            Route("/bytes/{n:int}", many, methods=METHODS),
            Route("/raise", boom, methods=METHODS),
            Route("/{rest:path}", echo, methods=METHODS),
        ]
    )


# -- Flask ---------------------------------------------------------------------------------------
def make_flask_app(log: list[dict[str, Any]]) -> Flask:
    app = Flask("frontdoor_flask_origin")
    # An unhandled error leaves wsgi_app instead of becoming Flask's 500 page.
    app.config["PROPAGATE_EXCEPTIONS"] = True

    def record() -> dict[str, Any]:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        info = describe(
            request.method,
            request.path,
            raw.split("?", 1)[0],
            request.environ.get("QUERY_STRING", ""),
            list(request.headers.to_wsgi_list()),
            request.get_data(),
        )
        log.append(info)
        return info

    @app.route("/status/<int:code>", methods=METHODS)
    def status(code: int) -> Response:
        record()
        headers = {"X-Origin-Status": str(code)}
        if code in (204, 304):
            return Response(status=code, headers=headers)
        return Response(f"status {code}", status=code, headers=headers, mimetype="text/plain")

    @app.route("/cookies", methods=METHODS)
    def cookies() -> Response:
        record()
        resp = Response("cookies", mimetype="text/plain")
        resp.set_cookie("first", "1")
        resp.set_cookie("second", "2")
        return resp

    @app.route("/binary", methods=METHODS)
    def binary() -> Response:
        record()
        return Response(BINARY, mimetype="application/octet-stream")

    @app.route("/cache/<int:ttl>", methods=METHODS)
    def cache(ttl: int) -> Response:
        record()
        return Response(
            f"cached for {ttl}",
            mimetype="text/plain",
            headers={"Cache-Control": f"max-age={ttl}"},
        )

    @app.route("/meta", methods=METHODS)
    def meta() -> Response:
        record()
        return Response(
            "meta", mimetype="text/plain", headers={"X-Amz-Meta-Last-Modified": LAST_MODIFIED}
        )

    @app.route("/stream", methods=METHODS)
    def stream() -> Response:
        record()

        def chunks() -> Iterator[bytes]:
            yield from STREAM_CHUNKS

        return Response(chunks(), mimetype="text/plain")

    @app.route("/bytes/<int:n>", methods=METHODS)
    def many(n: int) -> Response:
        record()
        return Response(_pieces(n), mimetype="application/octet-stream")

    @app.route("/raise", methods=METHODS)
    def boom() -> Response:
        record()
        raise RuntimeError(ORIGIN_ERROR)

    @app.route("/", defaults={"rest": ""}, methods=METHODS)
    @app.route("/<path:rest>", methods=METHODS)
    def echo(rest: str) -> Response:
        return app.json.response(record())

    return app
