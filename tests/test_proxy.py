"""``edge_middleware.doors.proxy``: a CloudFront origin served by a real HTTP server.

Real servers on 127.0.0.1: a uvicorn + Starlette origin that echoes what it received, and a raw
socket server for origins that misbehave (reset, stall, truncated body). The proxy apps are driven
directly (hand-built scope/environ) and end to end through both front doors.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import io
import json
import logging
import socket
import time
import tracemalloc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import h11
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware.config.model import Behavior, CachePolicy, EdgeConfig, Origin
from edge_middleware.doors import proxy
from edge_middleware.doors.asgi import EdgeMiddleware
from edge_middleware.doors.proxy import (
    aclose_clients,
    close_clients,
    proxy_app,
    proxy_wsgi_app,
    resolve_path,
)
from edge_middleware.doors.proxy_request import REPLAY_LIMIT
from edge_middleware.doors.wsgi import EdgeWSGIMiddleware
from edge_middleware.exceptions import OriginError, OriginTimeoutError
from tests.support import servers
from tests.support.servers import RawOrigin, keepalive_origin, raw_origin, reset, uvicorn_server

ORIGIN = Origin(id="o", domain_name="127.0.0.1", read_timeout=1)
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: Query strings and cookies in the cache key, so CloudFront forwards them (caching.md §1.13).
FORWARD_ALL = EdgeConfig(default=Behavior(cache=CachePolicy(query_strings="all", cookies="all")))


# -- the echo origin (uvicorn + Starlette) ----------------------------------------------------
async def echo(request: Request) -> Response:
    body = await request.body()
    scope = request.scope
    client = request.client
    return JSONResponse(
        {
            "method": request.method,
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("latin-1") if len(body) <= 1024 else None,
            "body_len": len(body),
            "body_sha": hashlib.sha256(body).hexdigest(),
            "client_port": client.port if client else 0,
        },
        headers={"cache-control": "no-store"},
    )


async def cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies", headers={"cache-control": "no-store"})
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


async def big(request: Request) -> Response:
    total = int(request.query_params["n"])
    block = b"x" * 65536

    async def chunks() -> AsyncIterator[bytes]:
        left = total
        while left > 0:
            piece = block[: min(left, len(block))]
            left -= len(piece)
            yield piece

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"cache-control": "no-store", "content-length": str(total)},
    )


echo_app = Starlette(
    routes=[
        Route("/cookies", cookies),
        Route("/big", big),
        Route("/{rest:path}", echo, methods=ALL_METHODS),
    ]
)


@pytest.fixture(scope="module")
def origin_url() -> Iterator[str]:
    with uvicorn_server(echo_app, log_level="warning") as port:
        yield f"http://127.0.0.1:{port}"


# -- the misbehaving origin (raw sockets) -----------------------------------------------------
def _misbehave(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"y" * 1000
    if path == "/reset":
        reset(conn)
    elif path == "/stall":
        server.release.wait(10)
    elif path == "/short":
        conn.sendall(partial)
    elif path == "/stall-body":
        conn.sendall(partial)
        server.release.wait(10)
    elif path == "/reset-body":
        conn.sendall(partial)
        time.sleep(0.1)
        reset(conn)
    elif path == "/hop":
        conn.sendall(
            b"HTTP/1.1 201 Created\r\n"
            b"Connection: close, X-Private\r\n"
            b"Keep-Alive: timeout=5\r\n"
            b"X-Private: secret\r\n"
            b"Proxy-Authenticate: Basic\r\n"
            b"Upgrade: h2c\r\n"
            b"Set-Cookie: a=1\r\n"
            b"Set-Cookie: b=2\r\n"
            b"X-Kept: yes\r\n"
            b"Content-Length: 2\r\n\r\nok"
        )


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawOrigin]:
    with raw_origin(_misbehave) as server:
        yield server


@pytest.fixture
def raw_url(raw_server: RawOrigin) -> str:
    return raw_server.url


@pytest.fixture
def dead_url() -> str:
    return servers.dead_url()


@pytest.fixture(autouse=True, scope="module")
def _close_clients() -> Iterator[None]:
    yield
    close_clients()


# -- ASGI helpers -----------------------------------------------------------------------------
def make_scope(
    path: str = "/",
    *,
    method: str = "GET",
    raw_path: bytes | None = None,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"example.com")] if headers is None else headers,
        "client": ("127.0.0.1", 50000),
        "server": ("example.com", 80),
    }


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.done = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        self.messages.append(dict(message))
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.done.set()

    @property
    def start(self) -> dict[str, Any]:
        assert self.messages and self.messages[0]["type"] == "http.response.start"
        return self.messages[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.start["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])

    def json(self) -> Any:
        return json.loads(self.body)


def receiver(*chunks: bytes, done: asyncio.Event | None = None) -> Callable[[], Any]:
    """The viewer's body in ``chunks``; then, as a server does, ``http.disconnect`` once the
    response ended (``done`` is set), not while it still streams."""
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or (b"",))
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        if done is not None:
            await done.wait()
        return {"type": "http.disconnect"}

    return receive


def run_asgi(
    app: Any, scope: dict[str, Any], *chunks: bytes, rec: Recorder | None = None
) -> Recorder:
    rec = rec or Recorder()

    async def main() -> None:
        await app(scope, receiver(*chunks, done=rec.done), rec)

    asyncio.run(main())
    return rec


# -- proxy_app, driven directly ---------------------------------------------------------------
def test_asgi_get_forwards_path_query_and_headers(origin_url: str) -> None:
    scope = make_scope(
        "/a b/é",
        raw_path=b"/caf%C3%A9/a%2Fb/x;y=1",
        query=b"b=2&a=%20x+y&a=3&empty",
        headers=[
            (b"host", b"viewer.example"),
            (b"x-multi", b"one"),
            (b"x-multi", b"two"),
            (b"accept", b"text/plain"),
            (b"connection", b"keep-alive, x-private"),
            (b"x-private", b"secret"),
            (b"keep-alive", b"timeout=5"),
            (b"te", b"trailers"),
            (b"upgrade", b"websocket"),
            (b"proxy-authorization", b"Basic Zm9v"),
        ],
    )
    rec = run_asgi(proxy_app(origin_url, ORIGIN), scope)
    assert rec.status == 200
    seen = rec.json()
    assert seen["method"] == "GET"
    assert seen["raw_path"] == "/caf%C3%A9/a%2Fb/x;y=1"
    assert seen["query"] == "b=2&a=%20x+y&a=3&empty"
    headers = [tuple(h) for h in seen["headers"]]
    assert ("host", "viewer.example") in headers
    assert [v for k, v in headers if k == "x-multi"] == ["one", "two"]
    assert ("accept", "text/plain") in headers
    names = {k for k, _ in headers}
    assert not names & {"x-private", "keep-alive", "te", "upgrade", "proxy-authorization"}
    assert "accept-encoding" not in names and "user-agent" not in names  # nothing httpx adds
    assert rec.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert all(m["more_body"] for m in rec.messages[1:-1])
    assert all(k == k.lower() for k, _ in rec.headers)


def test_asgi_host_from_url_when_request_has_none(origin_url: str) -> None:
    rec = run_asgi(proxy_app(origin_url, ORIGIN), make_scope("/h", headers=[]))
    headers = dict(tuple(h) for h in rec.json()["headers"])
    assert headers["host"] == origin_url.removeprefix("http://")


def test_asgi_post_body_streamed(origin_url: str) -> None:
    chunks = [b"a" * 70000, b"b" * 5, b"", b"c" * 100000]
    data = b"".join(chunks)
    scope = make_scope(
        "/upload",
        method="POST",
        headers=[(b"host", b"h"), (b"content-length", str(len(data)).encode())],
    )
    seen = run_asgi(proxy_app(origin_url, ORIGIN), scope, *chunks).json()
    assert seen["method"] == "POST"
    assert seen["body_len"] == len(data)
    assert seen["body_sha"] == hashlib.sha256(data).hexdigest()
    assert ["content-length", str(len(data))] in seen["headers"]


def test_asgi_chunked_upload(origin_url: str) -> None:
    scope = make_scope(
        "/upload",
        method="PUT",
        headers=[(b"host", b"h"), (b"transfer-encoding", b"chunked")],
    )
    seen = run_asgi(proxy_app(origin_url, ORIGIN), scope, b"hello ", b"world").json()
    assert seen["body"] == "hello world"
    assert ["transfer-encoding", "chunked"] in seen["headers"]


@pytest.mark.parametrize("method", ["POST", "PUT"])  # streamed, and read whole to be replayable
def test_asgi_a_content_length_beside_a_chunked_upload_is_not_forwarded(
    origin_url: str, method: str
) -> None:
    """RFC 9112 §6.3: the viewer's body was framed by Transfer-Encoding (uvicorn de-chunks it,
    and accepts the stray Content-Length): the origin was told ``Content-Length: 5`` for an
    11-byte body, and h11 refused to send it (the viewer got a 502; security hunt, December)."""
    headers = [(b"host", b"h"), (b"transfer-encoding", b"chunked"), (b"content-length", b"5")]
    scope = make_scope("/upload", method=method, headers=headers)
    rec = run_asgi(proxy_app(origin_url, ORIGIN), scope, b"hello ", b"world")
    assert rec.status == 200
    seen = rec.json()
    assert seen["body"] == "hello world"
    assert (
        "content-length" not in {k for k, _ in seen["headers"]}
        or [
            "content-length",
            "11",
        ]
        in seen["headers"]
    )


def test_asgi_get_without_body_has_no_framing(origin_url: str) -> None:
    seen = run_asgi(proxy_app(origin_url, ORIGIN), make_scope("/g")).json()
    names = {k for k, _ in seen["headers"]}
    assert "transfer-encoding" not in names and "content-length" not in names


def test_asgi_repeated_set_cookie_and_hop_by_hop_response(raw_url: str) -> None:
    rec = run_asgi(proxy_app(raw_url, ORIGIN), make_scope("/hop"))
    assert rec.status == 201
    assert rec.body == b"ok"
    assert [v for k, v in rec.headers if k == b"set-cookie"] == [b"a=1", b"b=2"]
    names = {k for k, _ in rec.headers}
    assert (b"x-kept", b"yes") in rec.headers
    assert not names & {b"connection", b"keep-alive", b"x-private", b"proxy-authenticate"}
    assert b"upgrade" not in names


def test_origin_path_prefix_and_dot_segments(origin_url: str) -> None:
    origin = Origin(id="o", domain_name="127.0.0.1", origin_path="/v1", read_timeout=1)
    scope = make_scope("/x", raw_path=b"/a/../../etc/%2e%2E/./x/")
    seen = run_asgi(proxy_app(origin_url + "/base/", origin), scope).json()
    assert seen["raw_path"] == "/base/v1/x/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", b"/"),
        (b"", b"/"),
        (b"/a/b/c", b"/a/b/c"),
        (b"/a/./b", b"/a/b"),
        (b"/a/b/..", b"/a/"),
        (b"/..", b"/"),
        (b"/../../x", b"/x"),
        (b"/a/%2e%2e/b", b"/b"),
        (b"/a/.%2E/b/%2e", b"/b/"),
        (b"/a%2Fb/c", b"/a%2Fb/c"),
        (b"/..a/b..", b"/..a/b.."),
        (b"//x/../y", b"//y"),
        (b"/sp%20ace/%ZZ", b"/sp%20ace/%ZZ"),
    ],
)
def test_resolve_path(raw: bytes, expected: bytes) -> None:
    assert resolve_path(raw) == expected


@pytest.mark.parametrize("raw", [b"/..%2fadmin", b"/a/%2e%2e%2F%2e%2e%2Fetc", b"/..\\x"])
def test_resolve_path_refuses_encoded_traversal(raw: bytes) -> None:
    with pytest.raises(OriginError, match="dot-segment"):
        resolve_path(raw, "o")


def test_asgi_keepalive_connection_reused(origin_url: str) -> None:
    app = proxy_app(origin_url, ORIGIN)
    ports: list[int] = []

    async def main() -> None:
        for _ in range(3):
            rec = Recorder()
            await app(make_scope("/k"), receiver(), rec)
            ports.append(rec.json()["client_port"])

    asyncio.run(main())
    assert len(set(ports)) == 1


def test_asgi_clients_closed_with_their_loop(origin_url: str) -> None:
    app = proxy_app(origin_url, ORIGIN)
    run_asgi(app, make_scope("/k"))
    assert not proxy._async_clients  # closed by asyncio.run's shutdown_asyncgens()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_asgi_head(origin_url: str) -> None:
    rec = run_asgi(proxy_app(origin_url, ORIGIN), make_scope("/h", method="HEAD"))
    assert rec.status == 200
    assert rec.body == b""
    assert int(dict(rec.headers)[b"content-length"]) > 0


def test_testclient_loop_per_request_leaks_nothing(origin_url: str) -> None:
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    client = TestClient(EdgeMiddleware(local, config=FORWARD_ALL, origins={"default": origin_url}))
    for _ in range(2):  # no "with": each request runs on a new event loop
        assert client.get("/x").status_code == 200
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not proxy._async_clients


def test_aclose_clients(origin_url: str) -> None:
    app = proxy_app(origin_url, ORIGIN)

    async def main() -> tuple[bool, bool]:
        await app(make_scope("/k"), receiver(), Recorder())
        loop = asyncio.get_running_loop()
        client = next(iter(proxy._async_clients[loop].clients.values()))
        await aclose_clients()
        return client.is_closed, loop in proxy._async_clients

    assert asyncio.run(main()) == (True, False)


def test_asgi_dead_origin(dead_url: str) -> None:
    with pytest.raises(OriginError, match="Could not connect to the origin 'o'") as info:
        run_asgi(proxy_app(dead_url, ORIGIN), make_scope("/"))
    assert not isinstance(info.value, OriginTimeoutError)
    assert info.value.status == 502


ORIGIN_ERRORS = [
    pytest.param("dead_url", "/", 502, "Could not connect", id="refused"),
    pytest.param("raw_url", "/reset", 502, "failed before its response started", id="reset"),
    pytest.param(
        "raw_url",
        "/stall",
        504,
        "sent no response within",
        id="read-timeout",
        marks=pytest.mark.slow,  # the origin's 1-s read timeout
    ),
    pytest.param("raw_url", "/short", 502, "broke off its body", id="truncated-body"),
]


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
@pytest.mark.parametrize(("url_fixture", "path", "status", "reason"), ORIGIN_ERRORS)
def test_every_origin_error_is_logged_as_a_warning(
    door: str,
    url_fixture: str,
    path: str,
    status: int,
    reason: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 15 (7): status, reason and origin id, once, at warning level, on both proxies."""
    url = request.getfixturevalue(url_fixture)
    caplog.set_level(logging.DEBUG, logger="edge_middleware.proxy")
    with pytest.raises(OriginError) as info:
        if door == "asgi":
            run_asgi(proxy_app(url, ORIGIN), make_scope(path))
        else:
            WSGIResult(proxy_wsgi_app(url, ORIGIN), make_environ(path))
    assert info.value.status == status
    records = [r for r in caplog.records if r.name == "edge_middleware.proxy"]
    # (a refused connection is tried the origin's 3 connection attempts, each noted at debug)
    records = [r for r in records if r.levelno > logging.DEBUG]
    assert [r.levelno for r in records] == [logging.WARNING]
    message = records[0].getMessage()
    assert message.startswith(f"origin 'o' failed: {status} ")
    assert reason in message and info.value.reason in message


def test_asgi_dns_failure() -> None:
    with pytest.raises(OriginError, match="Could not connect") as info:
        run_asgi(proxy_app("http://no-such-host.invalid:9", ORIGIN), make_scope("/"))
    assert not isinstance(info.value, OriginTimeoutError)


@pytest.mark.slow
def test_asgi_read_timeout_before_headers(raw_url: str) -> None:
    t0 = time.monotonic()
    rec = Recorder()
    with pytest.raises(OriginTimeoutError, match="read timeout of 1 s") as info:
        run_asgi(proxy_app(raw_url, ORIGIN), make_scope("/stall"), rec=rec)
    # Semantic, not speed: the error comes at the origin's 1-s read timeout (not before it, and
    # not when the stalled origin gives up after 10 s).
    assert 0.9 < time.monotonic() - t0 < 5
    assert info.value.status == 504
    assert rec.messages == []  # nothing sent: the front door answers with its error page


def test_asgi_reset_before_headers(raw_url: str) -> None:
    rec = Recorder()
    with pytest.raises(OriginError, match="failed before its response started") as info:
        run_asgi(proxy_app(raw_url, ORIGIN), make_scope("/reset"), rec=rec)
    assert not isinstance(info.value, OriginTimeoutError)
    assert rec.messages == []


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/short", OriginError),
        ("/reset-body", OriginError),
        pytest.param("/stall-body", OriginTimeoutError, marks=pytest.mark.slow),
    ],
)
def test_asgi_failure_after_headers_is_raised_and_logged(
    raw_url: str, path: str, error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    caplog.set_level(logging.WARNING, logger="edge_middleware.proxy")
    t0 = time.monotonic()
    with pytest.raises(error, match="origin 'o'") as info:
        run_asgi(proxy_app(raw_url, ORIGIN), make_scope(path), rec=rec)
    # Semantic, not speed: a broken body ends the response by the 1-s read timeout at the
    # latest, not when the stalled origin gives up after 10 s.
    assert time.monotonic() - t0 < 5
    assert rec.status == 200
    assert rec.body == b"y" * 1000
    assert all(m["more_body"] for m in rec.messages[1:])  # the body never completes
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("edge_middleware.proxy", logging.WARNING)
    ]
    record = caplog.records[0]
    assert record.getMessage().startswith(f"origin 'o' failed: {info.value.status} ")
    assert info.value.reason in record.getMessage()
    assert (record.edge_origin_id, record.edge_status) == ("o", info.value.status)  # type: ignore[attr-defined]


def test_invalid_base_url() -> None:
    with pytest.raises(OriginError, match="not an http"):
        run_asgi(proxy_app("ftp://127.0.0.1:21", ORIGIN), make_scope("/"))


# -- proxy_wsgi_app, driven directly ----------------------------------------------------------
def make_environ(
    path: str = "/",
    *,
    method: str = "GET",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    request_uri: str | None = None,
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_HOST": "example.com",
    }
    if request_uri is not None:
        environ["REQUEST_URI"] = request_uri
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = "application/octet-stream"
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


class WSGIResult:
    def __init__(self, app: Any, environ: dict[str, Any], *, consume: bool = True) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.result = app(environ, self.start_response)
        self.body = b""
        if consume:
            try:
                self.body = b"".join(self.result)
            finally:
                self.close()

    def start_response(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        self.status, self.headers = status, headers
        return None

    def close(self) -> None:
        self.result.close()

    def json(self) -> Any:
        return json.loads(self.body)


def test_wsgi_get_forwards_path_query_and_headers(origin_url: str) -> None:
    environ = make_environ(
        "/café/a/b",
        query="b=2&a=%20x+y&a=3",
        request_uri="/caf%C3%A9/a%2Fb?b=2&a=%20x+y&a=3",
        headers={"X-Multi": "one, two", "Connection": "x-private", "X-Private": "s", "TE": "x"},
    )
    res = WSGIResult(proxy_wsgi_app(origin_url, ORIGIN), environ)
    assert res.status == "200 OK"
    seen = res.json()
    assert seen["raw_path"] == "/caf%C3%A9/a%2Fb"
    assert seen["query"] == "b=2&a=%20x+y&a=3"
    headers = [tuple(h) for h in seen["headers"]]
    assert ("host", "example.com") in headers
    assert ("x-multi", "one, two") in headers
    assert not {k for k, _ in headers} & {"x-private", "connection", "te", "accept-encoding"}


def test_wsgi_path_without_request_uri(origin_url: str) -> None:
    environ = make_environ("/a b/../c", query="q=1")
    environ["SCRIPT_NAME"] = "/mount"
    seen = WSGIResult(proxy_wsgi_app(origin_url, ORIGIN), environ).json()
    assert seen["raw_path"] == "/mount/c"
    assert seen["query"] == "q=1"


def test_wsgi_post_body_in_chunks(origin_url: str) -> None:
    data = bytes(range(256)) * 1000  # 256 000 bytes: four 64 KiB reads
    environ = make_environ("/upload", method="POST", body=data + b"trailing garbage")
    environ["CONTENT_LENGTH"] = str(len(data))
    seen = WSGIResult(proxy_wsgi_app(origin_url, ORIGIN), environ).json()
    assert seen["body_len"] == len(data)
    assert seen["body_sha"] == hashlib.sha256(data).hexdigest()
    assert ["content-type", "application/octet-stream"] in seen["headers"]


def test_wsgi_repeated_set_cookie(raw_url: str) -> None:
    res = WSGIResult(proxy_wsgi_app(raw_url, ORIGIN), make_environ("/hop"))
    assert res.status == "201 Created"
    assert res.body == b"ok"
    assert [v for k, v in res.headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert ("X-Kept", "yes") in res.headers
    names = {k.lower() for k, _ in res.headers}
    assert not names & {"connection", "keep-alive", "x-private", "proxy-authenticate"}


def test_wsgi_streams_and_closes_early(origin_url: str) -> None:
    res = WSGIResult(
        proxy_wsgi_app(origin_url, ORIGIN), make_environ("/big", query="n=10000000"), consume=False
    )
    assert res.status == "200 OK"
    it = iter(res.result)
    assert len(next(it)) <= 1024 * 1024
    res.close()  # the rest is never read; the connection is dropped, not drained


def test_wsgi_dead_origin(dead_url: str) -> None:
    with pytest.raises(OriginError, match="Could not connect") as info:
        WSGIResult(proxy_wsgi_app(dead_url, ORIGIN), make_environ())
    assert not isinstance(info.value, OriginTimeoutError)


@pytest.mark.slow
def test_wsgi_read_timeout(raw_url: str) -> None:
    with pytest.raises(OriginTimeoutError):
        WSGIResult(proxy_wsgi_app(raw_url, ORIGIN), make_environ("/stall"))


def test_wsgi_truncated_body(raw_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edge_middleware.proxy")
    res = WSGIResult(proxy_wsgi_app(raw_url, ORIGIN), make_environ("/short"), consume=False)
    assert res.status == "200 OK"
    got = b""
    with pytest.raises(OriginError, match="broke off its body"):
        for chunk in res.result:
            got += chunk
    res.close()
    assert got == b"y" * 1000
    assert [r.name for r in caplog.records] == ["edge_middleware.proxy"]


# -- end to end through the front doors -------------------------------------------------------
def test_edge_middleware_end_to_end(origin_url: str) -> None:
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    app = EdgeMiddleware(local, config=FORWARD_ALL, origins={"default": origin_url})
    with TestClient(app) as client:
        r = client.get("/items/a%2Fb?z=1&a=2&a=1")
        assert r.status_code == 200
        seen = r.json()
        assert seen["raw_path"] == "/items/a%2Fb"
        assert seen["query"] == "z=1&a=2&a=1"
        r = client.post("/form", content=b"name=value&x=1")
        assert r.status_code == 200
        assert r.json()["body"] == "name=value&x=1"
        assert r.json()["method"] == "POST"
        r = client.get("/cookies")
        assert r.status_code == 200
        assert r.text == "cookies"
        cookies = r.headers.get_list("set-cookie")
        assert len(cookies) == 2
        assert cookies[0].startswith("a=1") and cookies[1].startswith("b=2")


def test_edge_middleware_dead_origin(dead_url: str) -> None:
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    app = EdgeMiddleware(local, origins={"default": dead_url})
    with TestClient(app) as client:
        r = client.get("/anything")
    assert r.status_code == 502
    assert r.headers["x-cache"] == "Error from cloudfront"


@pytest.mark.slow
def test_edge_middleware_origin_timeout_is_504(raw_url: str) -> None:
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    config = EdgeConfig(origins=[Origin(id="default", domain_name="127.0.0.1", read_timeout=1)])
    app = EdgeMiddleware(local, config=config, origins={"default": raw_url})
    t0 = time.monotonic()
    with TestClient(app) as client:
        r = client.get("/stall")
    # Semantic, not speed: the 504 comes at the 1-s read timeout, not after the origin's 10 s.
    assert time.monotonic() - t0 < 5
    assert r.status_code == 504
    assert r.headers["x-cache"] == "Error from cloudfront"


def test_edge_middleware_truncated_body_not_cached(raw_url: str, raw_server: RawOrigin) -> None:
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    app = EdgeMiddleware(local, origins={"default": raw_url})
    before = raw_server.hits.get("/short", 0)
    with TestClient(app) as client:
        for _ in range(2):
            # broken while being read for the cache, before anything reached the viewer:
            # CloudFront's origin error, and nothing stored
            response = client.get("/short")
            assert response.status_code == 502
            assert response.headers["x-cache"] == "Error from cloudfront"
    assert raw_server.hits["/short"] - before == 2  # the broken object was not cached


def test_edge_wsgi_middleware_end_to_end(origin_url: str) -> None:
    from flask import Flask
    from werkzeug.test import Client

    flask_app = Flask(__name__)
    app = EdgeWSGIMiddleware(
        flask_app.wsgi_app, config=FORWARD_ALL, origins={"default": origin_url}
    )
    client = Client(app)
    with client.get("/items/a%2Fb?z=1&a=2&a=1") as r:
        assert r.status_code == 200
        seen = r.get_json()
    assert seen["raw_path"] == "/items/a%2Fb"
    assert seen["query"] == "z=1&a=2&a=1"
    with client.post("/form", data=b"name=value&x=1", content_type="text/plain") as r:
        assert r.status_code == 200
        seen = r.get_json()
    assert seen["body"] == "name=value&x=1"
    assert seen["method"] == "POST"
    with client.get("/cookies") as r:
        assert r.status_code == 200
        assert r.get_data() == b"cookies"
        cookies = r.headers.getlist("Set-Cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("a=1") and cookies[1].startswith("b=2")


def test_edge_wsgi_middleware_dead_origin(dead_url: str) -> None:
    from flask import Flask
    from werkzeug.test import Client

    app = EdgeWSGIMiddleware(Flask(__name__).wsgi_app, origins={"default": dead_url})
    r = Client(app).get("/anything")
    assert r.status_code == 502
    assert r.headers["X-Cache"] == "Error from cloudfront"


@pytest.mark.slow
def test_edge_wsgi_middleware_origin_timeout_is_504(raw_url: str) -> None:
    from flask import Flask
    from werkzeug.test import Client

    config = EdgeConfig(origins=[Origin(id="default", domain_name="127.0.0.1", read_timeout=1)])
    app = EdgeWSGIMiddleware(Flask(__name__).wsgi_app, config=config, origins={"default": raw_url})
    t0 = time.monotonic()
    r = Client(app).get("/stall")
    # Semantic, not speed: the 504 comes at the 1-s read timeout, not after the origin's 10 s.
    assert time.monotonic() - t0 < 5
    assert r.status_code == 504
    assert r.headers["X-Cache"] == "Error from cloudfront"


def test_edge_wsgi_middleware_truncated_body_not_cached(
    raw_url: str, raw_server: RawOrigin
) -> None:
    from flask import Flask
    from werkzeug.test import Client

    app = EdgeWSGIMiddleware(Flask(__name__).wsgi_app, origins={"default": raw_url})
    client = Client(app)
    before = raw_server.hits.get("/short", 0)
    for _ in range(2):
        # The front door buffers a cacheable body before answering, so the break surfaces
        # there and becomes its fallback 502 page (CloudFront would stream and cut).
        r = client.get("/short")
        assert r.status_code == 502
        r.close()
    assert raw_server.hits["/short"] - before == 2  # the broken object was not cached


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("cached", [True, False], ids=["read-whole", "streamed"])
@pytest.mark.parametrize("path", ["/short", "/reset-body"])
def test_a_body_that_breaks_off_is_logged_once(
    raw_url: str, kind: str, cached: bool, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/origin-failures.md: every failure is logged once, on edge_middleware.proxy; the
    door that reads or streams the body does not log it again (with a traceback)."""
    from flask import Flask
    from werkzeug.test import Client

    caplog.set_level(logging.WARNING, logger="edge_middleware")
    cache = CachePolicy() if cached else CachePolicy(0, 0, 0)
    config = EdgeConfig(default=Behavior(cache=cache))
    if kind == "asgi":
        local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
        app: Any = EdgeMiddleware(local, config=config, origins={"default": raw_url})
        with TestClient(app) as client:
            if cached:
                assert client.get(path).status_code == 502
            else:
                with pytest.raises(OriginError):
                    client.get(path)
    else:
        app = EdgeWSGIMiddleware(
            Flask(__name__).wsgi_app, config=config, origins={"default": raw_url}
        )
        if cached:
            assert Client(app).get(path).status_code == 502
        else:
            with pytest.raises(OriginError):
                Client(app).get(path).get_data()
    records = [r for r in caplog.records if r.name.startswith("edge_middleware")]
    assert [(r.name, r.levelno) for r in records] == [("edge_middleware.proxy", logging.WARNING)]
    assert "502 Bad Gateway" in records[0].getMessage()


@pytest.mark.slow
def test_edge_middleware_streams_50mb_with_bounded_memory(origin_url: str) -> None:
    size = 50 * 1024 * 1024
    local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
    app = EdgeMiddleware(local, config=FORWARD_ALL, origins={"default": origin_url})
    received = 0
    statuses: list[int] = []
    last_more: list[bool] = []
    done = asyncio.Event()

    async def send(message: Any) -> None:
        nonlocal received
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        else:
            received += len(message.get("body", b""))
            last_more[:] = [message.get("more_body", False)]
            if not last_more[0]:
                done.set()

    async def main() -> None:
        await app(make_scope("/big", query=f"n={size}".encode()), receiver(done=done), send)
        await aclose_clients()

    tracemalloc.start()
    try:
        asyncio.run(main())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert statuses == [200]
    assert received == size
    assert last_more == [False]
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# -- issue 15: an origin answer that overruns its framing -------------------------------------
# RFC 9112 §6.3: the Content-Length (or the chunked framing) says where a response ends; bytes
# after it belong to no request the edge sent. The connection is closed and never reused, the
# next request gets its own answer, nothing from the broken exchange is cached, and the failure
# is logged with the origin's id (docs/origin-failures.md).
KEEPALIVE_ORIGIN = Origin(id="shop", domain_name="127.0.0.1", read_timeout=5)
KEEPALIVE_CONFIG = EdgeConfig(default=Behavior(cache=CachePolicy()), origins=[KEEPALIVE_ORIGIN])

MISFRAMED = [
    pytest.param("/over", id="content-length-overrun"),
    pytest.param("/chunked-over", id="chunked-overrun"),
    pytest.param("/chunked-bad", id="chunked-framing-error"),
]


def _edge_get(kind: str, client: Any, path: str) -> tuple[int, bytes, str | None]:
    if kind == "asgi":
        r = client.get(path)
        return r.status_code, r.content, r.headers.get("x-cache")
    w = client.get(path)
    try:
        return w.status_code, w.get_data(), w.headers.get("X-Cache")
    finally:
        w.close()


def _edge_get_or_cut(kind: str, client: Any, path: str) -> tuple[int, bytes, str | None] | str:
    try:
        return _edge_get(kind, client, path)
    except OriginError:  # the viewer's answer broke off after it started
        return "cut"


@contextlib.contextmanager
def _edge_client(kind: str, url: str) -> Iterator[Any]:
    from flask import Flask
    from werkzeug.test import Client

    if kind == "asgi":
        local = Starlette(routes=[Route("/{p:path}", PlainTextResponse)])
        app = EdgeMiddleware(local, config=KEEPALIVE_CONFIG, origins={"shop": url})
        with TestClient(app) as client:  # one event loop: the pooled connection is reused
            yield client
    else:
        wsgi = EdgeWSGIMiddleware(
            Flask(__name__).wsgi_app, config=KEEPALIVE_CONFIG, origins={"shop": url}
        )
        yield Client(wsgi)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("bad", MISFRAMED)
def test_misframed_origin_answer_never_reaches_the_next_request(
    kind: str, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edge_middleware.proxy")
    with keepalive_origin() as origin, _edge_client(kind, origin.url) as client:
        first = _edge_get_or_cut(kind, client, bad)
        b1 = _edge_get(kind, client, "/b")
        b2 = _edge_get(kind, client, "/b")
        again = _edge_get_or_cut(kind, client, bad)
        hits, connections = dict(origin.hits), origin.connections
    if bad.startswith("/chunked"):
        # no Content-Length: streamed to the viewer while it is stored (as CloudFront fills its
        # cache while it sends), so the viewer's answer is cut where the framing broke
        assert first == again == "cut"
    else:
        # a Content-Length answer is read whole for the cache, so nothing reached the viewer
        # yet: it gets CloudFront's origin error (RFC 9110 §15.6.3 502, invalid inbound)
        assert not isinstance(first, str) and not isinstance(again, str)
        assert first == (502, first[1], "Error from cloudfront")
        assert b"EVIL" not in first[1]
        assert again[0] == 502
    assert b1 == (200, b"/b", "Miss from cloudfront")  # its own answer, not the leftover
    assert b2 == (200, b"/b", "Hit from cloudfront")
    assert hits[bad] == 2  # nothing was cached for the broken path
    assert hits["/b"] == 1
    assert connections >= 2  # the broken connection was closed, not reused
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("'shop'" in r.getMessage() for r in warnings)
    assert any("502" in r.getMessage() for r in warnings)


def test_overrun_asgi_proxy_streams_the_declared_body_then_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Streamed straight through (nothing buffers it), the viewer has the two declared bytes
    when the overrun is found; the response is then cut, and the next request on the same loop
    gets its own answer on a new connection."""
    caplog.set_level(logging.WARNING, logger="edge_middleware.proxy")
    with keepalive_origin() as origin:
        app = proxy_app(origin.url, KEEPALIVE_ORIGIN)
        over, after = Recorder(), Recorder()
        errors: list[Exception] = []

        async def main() -> None:
            try:
                await app(make_scope("/over"), receiver(), over)
            except OriginError as exc:
                errors.append(exc)
            await app(make_scope("/b"), receiver(), after)
            await aclose_clients()

        asyncio.run(main())
        connections = origin.connections
    assert over.status == 200 and over.body == b"hi"
    assert all(m["more_body"] for m in over.messages[1:])  # never completed
    assert len(errors) == 1 and errors[0].status == 502
    assert "past the end of its response" in errors[0].reason
    assert "connect" not in errors[0].reason  # the access log would call it a connect error
    assert (after.status, after.body) == (200, b"/b")
    assert connections == 2
    assert any("'shop'" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", MISFRAMED)
def test_overrun_wsgi_proxy_closes_the_connection(bad: str) -> None:
    with keepalive_origin() as origin:
        app = proxy_wsgi_app(origin.url, KEEPALIVE_ORIGIN)
        try:
            with pytest.raises(OriginError):
                WSGIResult(app, make_environ(bad))
            after = WSGIResult(app, make_environ("/b"))
            again = WSGIResult(app, make_environ("/c"))
        finally:
            close_clients()
        connections = origin.connections
    assert (after.status, after.body) == ("200 OK", b"/b")
    assert (again.status, again.body) == ("200 OK", b"/c")
    assert connections == 2  # one closed after the broken answer, one reused for /b and /c


def test_head_answer_with_a_body_is_an_overrun() -> None:
    with keepalive_origin() as origin:
        app = proxy_wsgi_app(origin.url, KEEPALIVE_ORIGIN)
        try:
            with pytest.raises(OriginError, match="past the end"):
                WSGIResult(app, make_environ("/head-body", method="HEAD"))
            after = WSGIResult(app, make_environ("/b"))
        finally:
            close_clients()
    assert (after.status, after.body) == ("200 OK", b"/b")


def test_well_framed_answers_keep_one_connection() -> None:
    """The guard does not cost keep-alive: good answers share one connection."""
    with keepalive_origin() as origin:
        app = proxy_wsgi_app(origin.url, KEEPALIVE_ORIGIN)
        try:
            bodies = [WSGIResult(app, make_environ(f"/ok/{i}")).body for i in range(3)]
        finally:
            close_clients()
        connections = origin.connections
    assert bodies == [b"/ok/0", b"/ok/1", b"/ok/2"]
    assert connections == 1


@pytest.mark.parametrize("h11_found", [True, False], ids=["h11-found", "h11-not-found"])
def test_surplus_still_in_the_socket_is_found(
    h11_found: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The surplus arrives after h11 has read the declared body: it waits in the socket, where
    a peek (no read) finds it, so the answer fails all the same. Without h11 (an httpcore that
    moved its internals) the surplus stays in the socket and httpcore's idle check drops the
    connection before reuse."""
    if not h11_found:
        monkeypatch.setattr(proxy, "_h11_connection", lambda response: None)
    with keepalive_origin() as origin:
        app = proxy_wsgi_app(origin.url, KEEPALIVE_ORIGIN)
        try:
            res = WSGIResult(app, make_environ("/late-over"), consume=False)
            chunks = iter(res.result)
            assert next(chunks) == b"hi"  # h11 has the whole declared body, nothing more
            origin.late.set()
            assert origin.late_sent.wait(10)
            with pytest.raises(OriginError, match="past the end"):
                next(chunks)
            res.close()
            after = WSGIResult(app, make_environ("/b"))
        finally:
            close_clients()
        connections = origin.connections
    assert (after.status, after.body) == ("200 OK", b"/b")
    assert connections == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_h11_connection_is_reachable_through_httpx(mode: str) -> None:
    """The overrun guard walks httpx/httpcore internals (pinned in pyproject.toml) to h11: if a
    new release moves them, this fails before the guard silently stops working."""
    with keepalive_origin() as origin:
        if mode == "sync":
            with httpx.Client() as client:
                response = client.send(client.build_request("GET", origin.url + "/b"), stream=True)
                found = proxy._h11_connection(response)
                response.close()
        else:

            async def main() -> Any:
                async with httpx.AsyncClient() as client:
                    request = client.build_request("GET", origin.url + "/b")
                    response = await client.send(request, stream=True)
                    conn = proxy._h11_connection(response)
                    await response.aclose()
                    return conn

            found = asyncio.run(main())
    assert isinstance(found, h11.Connection)


# -- a request sent again on a new connection (docs/origin-failures.md) ------------------------
# An origin closes an idle keep-alive connection (Node.js after 5 s, as CloudFront's default)
# just as the edge sends the next request on it: the connection ends (or is reset) before any
# byte of an answer. A bodiless idempotent request goes out again on a new connection, as
# CloudFront's connection attempts do; the viewer never sees the race.
Sent = tuple[str, str, bytes]  # method, path, body


def _through_proxy(mode: str, origin: Origin, url: str, requests: list[Sent]) -> list[Any]:
    """Each request through the ``mode`` proxy on one pool: ``(status, body)``, or the
    OriginError's status and reason."""
    out: list[Any] = []
    if mode == "asgi":
        app = proxy_app(url, origin)

        async def main() -> None:
            for method, path, body in requests:
                rec = Recorder()
                headers = [(b"host", b"example.com")]
                if body:
                    headers.append((b"content-length", str(len(body)).encode()))
                try:
                    await app(make_scope(path, method=method, headers=headers), receiver(body), rec)
                    out.append((rec.status, rec.body))
                except OriginError as exc:
                    out.append((exc.status, exc.reason))
            await aclose_clients()

        asyncio.run(main())
        return out
    wapp = proxy_wsgi_app(url, origin)
    try:
        for method, path, body in requests:
            try:
                res = WSGIResult(wapp, make_environ(path, method=method, body=body))
                out.append((int(res.status[:3]), res.body))
            except OriginError as exc:
                out.append((exc.status, exc.reason))
    finally:
        close_clients()
    return out


@pytest.mark.parametrize("mode", ["asgi", "wsgi"])
@pytest.mark.parametrize("stale", ["/stale", "/stale-reset"], ids=["closed", "reset"])
@pytest.mark.parametrize(
    ("method", "sent"),
    [
        ("GET", b""),
        ("HEAD", b""),
        ("DELETE", b""),
        # a body up to REPLAY_LIMIT is read whole before it goes out, so it can go again
        ("PUT", b"form=1"),
        ("DELETE", b"x" * REPLAY_LIMIT),
    ],
    ids=["GET", "HEAD", "DELETE", "PUT-body", "DELETE-64KiB-body"],
)
def test_request_on_a_keepalive_connection_the_origin_closed_is_sent_again(
    mode: str, stale: str, method: str, sent: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge_middleware.proxy")
    path = f"{stale}/{method}"
    with keepalive_origin() as origin:
        got = _through_proxy(
            mode, KEEPALIVE_ORIGIN, origin.url, [("GET", "/a", b""), (method, path, sent)]
        )
        hits, connections, bodies = dict(origin.hits), origin.connections, origin.bodies
    body = b"" if method == "HEAD" else path.encode()
    assert got == [(200, b"/a"), (200, body)]
    assert hits[path] == 2 and connections == 2  # the closed connection, then a new one
    assert bodies[path][-1] == sent  # the whole body, the second time too
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]  # no failure was logged
    assert "send 1 failed before an answer" in caplog.records[0].getMessage()


@pytest.mark.parametrize("mode", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("origin", "method", "body"),
    [
        pytest.param(KEEPALIVE_ORIGIN, "POST", b"", id="POST-not-idempotent"),
        pytest.param(KEEPALIVE_ORIGIN, "PATCH", b"", id="PATCH-not-idempotent"),
        pytest.param(KEEPALIVE_ORIGIN, "POST", b"form", id="POST-body"),
        # over REPLAY_LIMIT a body streams from the viewer: it went once
        pytest.param(
            KEEPALIVE_ORIGIN, "PUT", b"x" * (REPLAY_LIMIT + 1), id="PUT-body-past-replay-limit"
        ),
        pytest.param(
            Origin(id="shop", domain_name="127.0.0.1", read_timeout=5, connection_attempts=1),
            "GET",
            b"",
            id="one-connection-attempt",
        ),
    ],
)
def test_request_that_cannot_go_again_is_the_origins_502(
    mode: str, origin: Origin, method: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_middleware.proxy")
    with keepalive_origin() as server:
        got = _through_proxy(
            mode, origin, server.url, [("GET", "/a", b""), (method, "/stale/x", body)]
        )
        hits = dict(server.hits)
    assert got[0] == (200, b"/a")
    assert got[1][0] == 502 and "failed before its response started" in got[1][1]
    assert hits["/stale/x"] == 1  # sent once
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_edge_middleware_viewer_never_sees_the_closed_keepalive_connection() -> None:
    """End to end through both front doors: a cacheable GET, a no-store GET (streamed) and a
    HEAD each meet a connection the origin closed, and each gets its answer."""
    for kind in ("asgi", "wsgi"):
        with keepalive_origin() as origin, _edge_client(kind, origin.url) as client:
            answers = [
                _edge_get(kind, client, p) for p in ("/a", "/stale/1", "/b", "/stale-nostore/2")
            ]
            connections = origin.connections
        assert answers == [
            (200, b"/a", "Miss from cloudfront"),
            (200, b"/stale/1", "Miss from cloudfront"),
            (200, b"/b", "Miss from cloudfront"),
            (200, b"/stale-nostore/2", "Miss from cloudfront"),
        ], kind
        assert connections == 3, kind


def test_each_request_carries_its_origins_connection_timeout() -> None:
    from edge_middleware.doors.proxy_clients import _timeout

    fast = Origin(id="o", domain_name="h", read_timeout=7, connection_timeout=2)
    assert _timeout(fast) == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 2.0}


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
@pytest.mark.parametrize("attempts", [1, 3])
def test_refused_connection_is_tried_the_origins_connection_attempts(
    door: str, attempts: int, dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge_middleware.proxy")
    origin = Origin(id="o", domain_name="127.0.0.1", connection_attempts=attempts)
    with pytest.raises(OriginError, match="Could not connect"):
        if door == "asgi":
            run_asgi(proxy_app(dead_url, origin), make_scope("/"))
        else:
            WSGIResult(proxy_wsgi_app(dead_url, origin), make_environ("/"))
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(notes) == attempts - 1
    assert all("ConnectError" in n and "sending the request again" in n for n in notes)
