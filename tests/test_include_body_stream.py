"""``include_body`` does not buffer the whole request body (issue 16, item 3).

A function sees at most CloudFront's limit (40 KB viewer-request, 1 MB origin-request, then
``inputTruncated: true``, lambda-edge.md §1.5); the origin still receives every byte, streamed
behind the part the function saw; the process never holds the whole body. Real HTTP on
127.0.0.1: ``EdgeMiddleware`` under uvicorn, ``EdgeWSGIMiddleware`` under werkzeug's server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import socket
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    Trigger,
)
from edge_middleware.core.convert import PrefixedInput
from tests.support.servers import uvicorn_server, werkzeug_server

KIB, MIB = 1024, 1024 * 1024
BODY = 16 * MIB
CHUNK = 64 * KIB
VIEWER_LIMIT, ORIGIN_LIMIT = 40 * KIB, MIB


def _piece(i: int) -> bytes:
    return bytes([i % 251]) * CHUNK


def _expected() -> tuple[int, str]:
    digest = hashlib.sha256()
    for i in range(BODY // CHUNK):
        digest.update(_piece(i))
    return BODY, digest.hexdigest()


def _recorder(seen: list[tuple[str, int, bool]]) -> Callable[[dict[str, Any], Any], Any]:
    def handler(event: dict[str, Any], context: Any) -> Any:
        cf = event["Records"][0]["cf"]
        body = cf["request"]["body"]
        data = base64.b64decode(body["data"])
        ok = data == b"".join(_piece(i) for i in range(len(data) // CHUNK + 1))[: len(data)]
        seen.append((cf["config"]["eventType"], len(data), body["inputTruncated"] and ok))
        return cf["request"]

    return handler


def _config(slots: tuple[str, ...], seen: list[tuple[str, int, bool]]) -> EdgeConfig:
    triggers = {slot: Trigger(_recorder(seen), include_body=True) for slot in slots}
    return EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0), **triggers))


def _starlette_origin() -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        return JSONResponse({"size": size, "sha256": digest.hexdigest()})

    return Starlette(routes=[Route("/upload", upload, methods=["POST"])])


def _flask_origin() -> Any:
    app = Flask("include_body_stream")

    @app.post("/upload")
    def upload() -> Any:
        digest, size = hashlib.sha256(), 0
        while chunk := request.stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    return app.wsgi_app


def _asgi(config: EdgeConfig) -> contextlib.AbstractContextManager[int]:
    return uvicorn_server(EdgeMiddleware(_starlette_origin(), config=config))


def _wsgi(config: EdgeConfig) -> contextlib.AbstractContextManager[int]:
    app = EdgeWSGIMiddleware(_flask_origin(), config=config)
    return werkzeug_server(app, threaded=False, quiet=False)


def _post(port: int) -> tuple[int, dict[str, Any]]:
    """POST BODY bytes, generated chunk by chunk (the client holds one chunk at a time)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = (
            "POST /upload HTTP/1.1\r\nHost: upload.test\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Length: {BODY}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        for i in range(BODY // CHUNK):
            sock.sendall(_piece(i))
        raw = b""
        while data := sock.recv(65536):
            raw += data
    head_b, _, body = raw.partition(b"\r\n\r\n")
    status = int(head_b.split(b" ", 2)[1])
    if b"chunked" in head_b.lower():  # de-chunk
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    return status, json.loads(body) if status == 200 else {"raw": body[:300].decode("latin-1")}


@pytest.mark.slow
@pytest.mark.parametrize(
    "server", [pytest.param(_asgi, id="asgi-uvicorn"), pytest.param(_wsgi, id="wsgi-werkzeug")]
)
@pytest.mark.parametrize(
    ("slots", "expected"),
    [
        pytest.param(
            ("viewer_request",), [("viewer-request", VIEWER_LIMIT, True)], id="viewer-request"
        ),
        pytest.param(
            ("origin_request",), [("origin-request", ORIGIN_LIMIT, True)], id="origin-request"
        ),
        pytest.param(
            ("viewer_request", "origin_request"),
            [("viewer-request", VIEWER_LIMIT, True), ("origin-request", ORIGIN_LIMIT, True)],
            id="both",
        ),
    ],
)
def test_include_body_streams_the_body_to_the_origin(
    server: Callable[[EdgeConfig], contextlib.AbstractContextManager[int]],
    slots: tuple[str, ...],
    expected: list[tuple[str, int, bool]],
) -> None:
    seen: list[tuple[str, int, bool]] = []
    with server(_config(slots, seen)) as port:
        tracemalloc.start()
        try:
            status, answer = _post(port)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert status == 200, answer
    size, sha256 = _expected()
    assert (answer["size"], answer["sha256"]) == (size, sha256)  # every byte, in order
    assert seen == expected  # the function saw CloudFront's limit, marked truncated
    # the process never held the body (16 MiB): at most the 1 MB window and its copies
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB while streaming a {BODY // MIB} MiB body"


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        pytest.param([-1], [b"abcdefgh"], id="all"),
        pytest.param([2, 2, 2, 2, 2], [b"ab", b"cd", b"ef", b"gh", b""], id="small-reads"),
        pytest.param([5, -1], [b"abcde", b"fgh"], id="across-the-seam"),
        pytest.param([None], [b"abcdefgh"], id="none-is-all"),
    ],
)
def test_prefixed_input_reads_the_prefix_then_the_rest(
    reads: list[int | None], expected: list[bytes]
) -> None:
    stream = PrefixedInput(b"abc", io.BytesIO(b"defgh"))
    assert [stream.read(n) for n in reads] == expected


@pytest.mark.parametrize(
    ("prefix", "rest", "lines"),
    [
        pytest.param(b"a\nb", b"c\nd", [b"a\n", b"bc\n", b"d", b""], id="line-across"),
        pytest.param(b"", b"x\ny", [b"x\n", b"y", b""], id="empty-prefix"),
        pytest.param(b"one\n", b"", [b"one\n", b""], id="all-in-prefix"),
    ],
)
def test_prefixed_input_readline(prefix: bytes, rest: bytes, lines: list[bytes]) -> None:
    stream = PrefixedInput(prefix, io.BytesIO(rest))
    assert [stream.readline() for _ in lines] == lines
