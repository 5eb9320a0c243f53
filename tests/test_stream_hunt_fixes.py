"""Streaming and long-lived connections: fixes from the hunt of 2026-12-07 (seventh session),
each failing before its fix."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware
from edge_middleware.devtools.wsgi_server import cheroot_server
from tests.support.doors import leaving_once
from tests.support.servers import free_port

NO_CACHE = CachePolicy(0, 0, 0)


@contextmanager
def cheroot(app: Any, timeout: float) -> Iterator[int]:
    """``app`` behind the dev server's cheroot on a free port, with its connection timeout."""
    port = free_port()
    server = cheroot_server()(("127.0.0.1", port), app, numthreads=4, timeout=timeout)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.stop()
        thread.join(5)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


# -- 1. the dev server's WSGI server waits for a viewer that pauses reading ----------------------

SIZE = 8 * 2**20


def download(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(SIZE))])
    block = b"v" * 2**16
    for _ in range(SIZE // len(block)):
        yield block


@pytest.mark.slow
def test_a_viewer_pausing_a_download_gets_all_of_it() -> None:
    """cheroot's socket timeout (the dev server's 10 s) held for its sends: a viewer that
    paused reading longer (a video player with a full buffer) had its download cut."""
    edge = EdgeWSGIMiddleware(download, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    with cheroot(edge, timeout=0.5) as port, socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /video HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, got = _read_head(s)
        assert head.startswith(b"HTTP/1.1 200 ")
        time.sleep(1.5)  # three times the timeout, without reading
        size = len(got)
        while chunk := s.recv(2**20):
            size += len(chunk)
    assert size == SIZE


@pytest.mark.slow
def test_an_idle_keep_alive_connection_still_closes() -> None:
    """The timeout still holds for reading the next request."""
    edge = EdgeWSGIMiddleware(download, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    with cheroot(edge, timeout=0.5) as port, socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"HEAD /video HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = _read_head(s)
        assert head.startswith(b"HTTP/1.1 200 ")
        s.settimeout(5)
        started = time.monotonic()
        assert s.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 4


# -- 2. a viewer's broken chunked body is the viewer's 400 on the WSGI door ----------------------


def reads_body(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got %d bytes" % len(body)]


def _sees_body(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("include_body", [True, False], ids=["function-reads", "origin-reads"])
@pytest.mark.parametrize(
    "body",
    [b"5\r\nabcdefghij\r\n0\r\n\r\n", b"zz\r\nabc\r\n0\r\n\r\n"],
    ids=["overlong-chunk", "bad-size"],
)
def test_a_broken_chunked_body_is_a_400(include_body: bool, body: bytes) -> None:
    """The server's read error was an internal failure (502 with a traceback logged) when a
    function read the body, and the origin's 502 when the app did."""
    from edge_middleware import Trigger

    trigger = Trigger(_sees_body, include_body=True) if include_body else None
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, origin_request=trigger))
    edge = EdgeWSGIMiddleware(reads_body, config=config)
    with cheroot(edge, timeout=5) as port, socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(5)
        s.sendall(b"POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        head, _ = _read_head(s)
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"X-Cache: Error from cloudfront" in head


# -- 3. the ASGI short way stops an endless stream once its viewer went --------------------------


def test_the_short_way_stops_a_stream_its_viewer_left() -> None:
    """A behavior with caching disabled and no function (the short way) under a server whose
    send keeps succeeding after the viewer went (uvicorn): the app streamed for ever."""
    import asyncio

    from edge_middleware import EdgeMiddleware
    from tests.support.doors import asgi_scope

    stopped: list[BaseException] = []

    async def endless(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.005)
        except OSError as exc:
            stopped.append(exc)
            raise

    edge = EdgeMiddleware(endless, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    assert edge.options.pipeline.shortcuts  # (the short way serves it)

    async def main() -> int:
        ticks = 0
        gone = asyncio.Event()
        receive = leaving_once(gone)

        async def send(message: dict[str, Any]) -> None:  # never fails, as uvicorn's
            nonlocal ticks
            if message["type"] == "http.response.body":
                ticks += 1
                if ticks == 5:
                    gone.set()

        await asyncio.wait_for(edge(asgi_scope("/events"), receive, send), 5)
        return ticks

    ticks = asyncio.run(main())
    assert stopped and isinstance(stopped[0], OSError)
    assert ticks < 50


# -- 4. a WebSocket upgrade gets the behavior's viewer protocol policy ---------------------------


def _ws_scope(scheme: str, extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": scheme,
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"room=1",
        "root_path": "",
        "headers": [(b"host", b"site.test"), (b"upgrade", b"websocket")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
        "extensions": extensions or {},
    }


@pytest.mark.parametrize(
    ("policy", "scheme", "extensions", "expected"),
    [
        ("https-only", "ws", {}, "close"),
        ("https-only", "ws", {"websocket.http.response": {}}, 403),
        ("redirect-to-https", "ws", {"websocket.http.response": {}}, 301),
        ("redirect-to-https", "ws", {}, "close"),
        ("https-only", "wss", {}, "app"),
        ("allow-all", "ws", {}, "app"),
    ],
)
def test_a_websocket_upgrade_gets_the_viewer_protocol_policy(
    policy: str, scheme: str, extensions: dict[str, Any], expected: object
) -> None:
    """A plain ws:// upgrade on an https-only (redirect-to-https) behavior was passed to the
    app, where a plain GET got CloudFront's 403 (301): a ws:// app worked locally only."""
    import asyncio

    from edge_middleware import EdgeMiddleware

    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["type"])
        await receive()
        await send({"type": "websocket.accept"})

    behavior = Behavior(cache=NO_CACHE, viewer_protocol_policy=policy)  # type: ignore[arg-type]
    edge = EdgeMiddleware(app, config=EdgeConfig(default=behavior))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(edge(_ws_scope(scheme, extensions), receive, send))
    if expected == "app":
        assert called == ["websocket"]
        assert sent == [{"type": "websocket.accept"}]
        return
    assert called == []
    if expected == "close":
        assert sent == [{"type": "websocket.close", "code": 1008}]
        return
    start = sent[0]
    assert (start["type"], start["status"]) == ("websocket.http.response.start", expected)
    headers = dict(start["headers"])
    assert headers[b"x-cache"] == b"Error from cloudfront" or expected == 301
    if expected == 301:
        assert headers[b"location"] == b"https://site.test/chat?room=1"


# -- 5. serve --origin: a viewer that dropped its WebSocket is no normal close at the origin ----


@pytest.mark.slow
def test_a_dropped_websocket_viewer_is_not_a_normal_close_at_the_origin() -> None:
    """websockets refuses to send 1005/1006 in a close frame: the error was swallowed and the
    proxy then closed with 1000, as if the viewer had left on purpose."""
    import asyncio

    from edge_middleware.devtools.ws_proxy import proxy_websocket
    from tests.support.servers import uvicorn_server, wait_until

    seen: list[int | None] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                seen.append(message.get("code"))
                return

    async def viewer(port: int) -> None:
        messages = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hi"},
            {"type": "websocket.disconnect", "code": 1006},  # its TCP connection dropped
        ]

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(0.05)
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            pass

        scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "query_string": b""}
        await proxy_websocket(f"http://127.0.0.1:{port}", {**scope, "headers": []}, receive, send)

    with uvicorn_server(origin, ws="websockets-sansio") as port:
        asyncio.run(viewer(port))
        wait_until(lambda: bool(seen), 5, "the origin to hear the viewer go")
    assert seen[0] != 1000, seen


def test_serve_trusts_a_forwarded_proto_for_websocket_upgrades_too() -> None:
    """serve --trust-forwarded-proto behind a local TLS proxy: the upgrade's scheme stayed
    ws, and an https-only behavior refused every wss:// connection (regression hunt of the
    upgrade checks)."""
    import asyncio

    from edge_middleware import EdgeMiddleware
    from edge_middleware.devtools.devapp import ASGIHolder

    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["scheme"])
        await receive()
        await send({"type": "websocket.accept"})

    behavior = Behavior(cache=NO_CACHE, viewer_protocol_policy="https-only")
    holder = ASGIHolder(EdgeMiddleware(app, config=EdgeConfig(default=behavior)))
    holder.trust_forwarded_proto = True
    scope = _ws_scope("ws")
    scope["headers"] = [*scope["headers"], (b"x-forwarded-proto", b"https")]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(holder(scope, receive, send))
    assert called == ["wss"]
    assert sent == [{"type": "websocket.accept"}]


def test_the_viewer_input_takes_a_size_keyword() -> None:
    """PEP 3333's read(size): an app calling read(size=n) got a TypeError from the wrapper
    of a chunked body (regression hunt of the broken-chunk fix)."""
    import io

    from edge_middleware.doors.wsgi_origin import _ViewerInput

    body = _ViewerInput(io.BytesIO(b"line one\nline two\n"))
    assert body.read(size=4) == b"line"
    assert body.readline(size=-1) == b" one\n"
    assert body.readlines(hint=None) == [b"line two\n"]
    assert body.read() == b""


# -- 6. a viewer that had every Content-Length byte did not leave mid-stream ---------------------


def test_a_viewer_gone_after_the_whole_content_length_is_no_client_comm_error() -> None:
    """The app sends its last bytes, waits, then its empty end; the viewer, with every byte
    the Content-Length said, closes meanwhile: logged Error/ClientCommError (regression hunt
    of the access log change)."""
    import asyncio

    from edge_middleware import EdgeMiddleware, EdgeSettings
    from tests.support.doors import asgi_scope

    async def download(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"30000"), (b"cache-control", b"max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"x" * 10000, "more_body": True})
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # (a generator's last await before its end)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    settings = EdgeSettings(max_object_bytes=8)  # (streamed as it comes, not read whole first)
    config = EdgeConfig(default=Behavior(cache=CachePolicy()), settings=settings)
    edge = EdgeMiddleware(download, config=config)
    records: list[Any] = []
    edge.add_observer(records.append)

    async def main() -> None:
        got = 0
        had_all = asyncio.Event()
        receive = leaving_once(had_all)

        async def send(message: dict[str, Any]) -> None:
            nonlocal got
            got += len(message.get("body", b""))
            if got >= 30000:
                had_all.set()

        await asyncio.wait_for(edge(asgi_scope("/big"), receive, send), 5)

    asyncio.run(main())
    assert records[0].outcome.stream_rest  # (the case: it streamed)
    assert records[0].viewer_left == ""
    assert log_fields(records[0])["x-edge-result-type"] == "Miss"


def log_fields(record: Any) -> dict[str, str]:
    from edge_middleware.devtools.accesslog import FIELDS, format_record

    return dict(zip(FIELDS, format_record(record).split("\t"), strict=True))
