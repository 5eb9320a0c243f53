"""Origins as CloudFront reaches them: the fixes from the URL-origin hunt of 2026-12-07.

* An origin's custom header replaces a viewer's header of the same name (it went beside it,
  first, on the ASGI door: a viewer could forge what the distribution promises the origin).
* Headers the viewer's ``Connection`` lists are hop-by-hop: they never reach the origin.
* A chunked upload the viewer abandons reaches a URL origin cut, never as complete.
* An origin answer with ``Transfer-Encoding`` and ``Content-Length`` loses the length.
* ``GET``/``HEAD`` that get no answer within the read timeout go again, ``ConnectionAttempts``
  times (caching.md §1.4).
* An origin group's primary answer streams (a 200 never fails over): it was read whole first.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    Origin,
    OriginGroup,
    OriginRequestPolicy,
)
from edge_middleware.doors.proxy import close_clients, proxy_app
from edge_middleware.exceptions import ViewerError
from tests.support.doors import Door, door_fixture, first_then_last
from tests.support.servers import RawOrigin, raw_origin

door = door_fixture(Door)
NO_CACHE = CachePolicy(0, 0, 0)
ALL_VIEWER = OriginRequestPolicy(headers="allViewer", cookies="all", query_strings="all")


@pytest.fixture(autouse=True, scope="module")
def _close_clients() -> Iterator[None]:
    yield
    close_clients()


async def _echo(req: Request) -> Response:
    return JSONResponse({k: req.headers.getlist(k) for k in ("x-origin-token", "x-hop", "x-ok")})


_flask = Flask("origins")


@_flask.route("/<path:p>")
def _flask_echo(p: str) -> Any:
    return {k: request.headers.getlist(k) for k in ("x-origin-token", "x-hop", "x-ok")}


def _app(door: Door) -> Any:
    return door.pick(Starlette(routes=[Route("/{p:path}", _echo)]), _flask.wsgi_app)


def _config(shortcuts: bool, **origin: Any) -> EdgeConfig:
    return EdgeConfig(
        origins=[Origin("app", "app.example", **origin)],
        default=Behavior(target_origin_id="app", cache=NO_CACHE, origin_request_policy=ALL_VIEWER),
        settings=EdgeSettings(shortcuts=shortcuts),
    )


@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-way", "pipeline"])
def test_an_origin_custom_header_replaces_the_viewers(door: Door, shortcuts: bool) -> None:
    config = _config(shortcuts, custom_headers=(("X-Origin-Token", "t0k"),))
    client = door.viewer(door.wrap(_app(door), config))
    r = door.send(client, "GET", "/p", headers=[("x-origin-token", "forged"), ("x-ok", "1")])
    assert r.json()["x-origin-token"] == ["t0k"]
    assert r.json()["x-ok"] == ["1"]


@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-way", "pipeline"])
def test_headers_the_viewers_connection_lists_never_reach_the_origin(
    door: Door, shortcuts: bool
) -> None:
    """RFC 9110 §7.6.1: a header named in Connection is for that one connection."""
    client = door.viewer(door.wrap(_app(door), _config(shortcuts)))
    r = door.send(
        client,
        "GET",
        "/p",
        headers=[("connection", "keep-alive, X-Hop"), ("x-hop", "secret"), ("x-ok", "1")],
    )
    assert r.json()["x-hop"] == [] and r.json()["x-ok"] == ["1"]


# -- URL origins (the proxy) -------------------------------------------------------------------


def _scope(method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/up",
        "raw_path": b"/up",
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"example.com")],
        "client": ("127.0.0.1", 50000),
        "server": ("example.com", 80),
    }


def test_an_abandoned_chunked_upload_reaches_the_origin_cut() -> None:
    """The viewer's ``http.disconnect`` ended the body as if complete: the origin got the
    closing ``0`` chunk and took a partial upload for a whole one."""
    listener = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def origin() -> None:  # everything the origin receives on its one connection
        conn, _ = listener.accept()
        conn.settimeout(5)
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except OSError:
            pass
        conn.close()
        got.append(data)

    thread = threading.Thread(target=origin, daemon=True)
    thread.start()
    messages = [
        {"type": "http.request", "body": b"x" * 1000, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    headers = [(b"host", b"example.com"), (b"transfer-encoding", b"chunked")]
    try:
        # the viewer's 400 (the door answers it; nobody is there to get it)
        with pytest.raises(ViewerError, match="request body was incomplete"):
            asyncio.run(
                proxy_app(url, Origin("up", read_timeout=5))(_scope("POST", headers), receive, send)
            )
        thread.join(5)
    finally:
        listener.close()
    assert sent == []  # nothing answered by the proxy itself
    head, _, body = got[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /up ")
    assert not body.endswith(b"0\r\n\r\n")  # never the last chunk


def test_a_content_length_beside_transfer_encoding_is_dropped() -> None:
    """RFC 9112 §6.3: the length is the chunked body's, not the stray Content-Length's (the
    viewer got Content-Length: 3 with an 11-byte body, and WSGI servers a second response)."""

    def respond(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
            b"b\r\nhello world\r\n0\r\n\r\n"
        )

    with raw_origin(respond) as server:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(proxy_app(server.url, Origin("up"))(_scope(), receive, send))
    names = [k for k, _ in sent[0]["headers"]]
    assert b"content-length" not in names
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"hello world"


@pytest.mark.slow
@pytest.mark.parametrize(("method", "calls"), [("GET", 2), ("HEAD", 2), ("POST", 1)])
def test_no_answer_within_the_read_timeout_is_asked_again_for_get_and_head(
    door: Door, method: str, calls: int
) -> None:
    """caching.md §1.4: the response timeout 'for GET/HEAD, with retries' (ConnectionAttempts
    times); other methods go once. A GET got its 504 after one try."""

    def silent(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        server.release.wait(5)

    with raw_origin(silent) as server:
        config = EdgeConfig(
            origins=[Origin("up", "up.example", read_timeout=1, connection_attempts=2)],
            default=Behavior(
                target_origin_id="up",
                cache=NO_CACHE,
                allowed_methods=("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"),
            ),
        )

        def app(*args: Any) -> None:  # never called: the origin is the URL
            raise AssertionError("the wrapped app was called")

        client = door.viewer(door.wrap(app, config, origins={"up": server.url}))
        r = door.send(client, method, "/slow", body=b"x" if method == "POST" else None)
        assert r.status == 504
        assert server.hits == {"/slow": calls}


# -- origin groups ----------------------------------------------------------------------------


def _group_config() -> EdgeConfig:
    return EdgeConfig(
        origins=[Origin("main"), Origin("backup")],
        origin_groups=[OriginGroup("site", ("main", "backup"), (500, 502, 503, 504))],
        default=Behavior(target_origin_id="site", cache=NO_CACHE),
    )


def test_an_origin_groups_200_streams_on_asgi() -> None:
    """A primary's answer was read whole before the viewer got a byte (a 200 MiB answer:
    900 MiB of memory; an endless one never arrived), though a 200 cannot fail over."""
    seen_first = asyncio.Event()
    streamed: list[bool] = []

    origin = first_then_last(seen_first, streamed)

    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            if message["body"] == b"first":
                seen_first.set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = _scope()
    scope["path"] = scope["raw_path"] = "/stream"
    scope["raw_path"] = b"/stream"
    asyncio.run(EdgeMiddleware(origin, config=_group_config())(scope, receive, send))
    assert b"".join(bodies) == b"firstlast"
    assert streamed == [True]  # the viewer had the first bytes before the origin's last


def test_an_origin_groups_200_streams_on_wsgi() -> None:
    state = {"ended": False}

    def origin(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        yield b"last"
        state["ended"] = True

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/stream",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "example.com",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(b""),
        "wsgi.errors": __import__("io").StringIO(),
    }
    answer = EdgeWSGIMiddleware(origin, config=_group_config())(environ, lambda *a: None)
    try:
        chunks = iter(answer)
        assert next(chunks) == b"first"
        assert state["ended"] is False  # streamed: the rest is still at the origin
        assert b"".join(chunks) == b"last"
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def test_a_failed_primarys_answer_is_closed_and_the_secondary_answers(door: Door) -> None:
    calls: list[str] = []

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ.get("HTTP_HOST", ""))
        if len(calls) == 1:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down " * 1000]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"backup"]

    async def asgi_origin(scope: Any, receive: Any, send: Any) -> None:
        calls.append("x")
        status, body = (503, b"down " * 1000) if len(calls) == 1 else (200, b"backup")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body[:100], "more_body": True})
        await send({"type": "http.response.body", "body": body[100:], "more_body": False})

    client = door.viewer(door.wrap(door.pick(asgi_origin, origin), _group_config()))
    r = door.send(client, "GET", "/p")
    assert (r.status, r.body) == (200, b"backup")
    assert len(calls) == 2
    time.sleep(0)  # (the primary's stream was closed before the secondary's fetch)


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\nsurplus-bytes"),
    ],
)
def test_a_body_on_a_bodiless_answer_is_found_before_anything_is_sent(
    method: str, answer: bytes
) -> None:
    """docs/origin-failures.md: a body on a HEAD/204/304 answer is the origin's 502. The ASGI
    proxy found it after it had passed the head on, and the viewer got the 200/204."""
    from edge_middleware.exceptions import OriginError

    def respond(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        conn.sendall(answer)
        server.release.wait(2)

    with raw_origin(respond) as server:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        with pytest.raises(OriginError, match="past the end of its response"):
            asyncio.run(proxy_app(server.url, Origin("up"))(_scope(method), receive, send))
        server.release.set()
    assert sent == []


def test_a_failed_over_primarys_answer_is_no_cut_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The edge drops an origin group primary's 503: its last body message was dropped with
    it, and the primary read as an app that returned before its response was complete (a
    false warning on every failover; hunt of 2026-12-07, second session)."""
    from starlette.testclient import TestClient

    from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware, Origin, OriginGroup

    async def primary(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"do", "more_body": True})
        await send({"type": "http.response.body", "body": b"wn", "more_body": False})

    async def secondary(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"backup"})

    config = EdgeConfig(
        origins=[Origin("p", "p.example.com"), Origin("s", "s.example.com")],
        origin_groups=[OriginGroup("g", ("p", "s"))],
        default=Behavior(target_origin_id="g"),
    )
    app = EdgeMiddleware(secondary, config=config, origins={"p": primary, "s": secondary})
    with caplog.at_level(logging.WARNING):
        assert TestClient(app).get("/page").text == "backup"
    assert not [r for r in caplog.records if "before its response was complete" in r.message]


@pytest.mark.parametrize("origin_id", ["default", "web"])
def test_an_origin_named_default_is_the_users_own(door: Door, origin_id: str) -> None:
    """README: the origin's domain goes as Host, the viewer's only "when the distribution
    defines no origins"; one the user named "default" was taken for the placeholder."""
    from edge_middleware import EdgeConfig, Origin

    seen: list[str] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope["headers"]).get(b"host", b"").decode())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_HOST", ""))
        start_response("200 OK", [])
        return [b"ok"]

    config = EdgeConfig(origins=[Origin(origin_id, "api.example.com")])
    door.send(door.viewer(door.wrap(door.pick(asgi, wsgi), config)), "GET", "/")
    assert seen == ["api.example.com"]
