"""Origins reached over the network and origin groups (the URL-origin hunt of 2026-12-07): a
failover from a primary whose error body keeps streaming answers at once on the ASGI door too;
a malformed origin URL is refused at start; a status past 599 is CloudFront's 502. Each test
failed before its fix."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
)
from edge_middleware.config.origins import Origin, OriginGroup
from tests.support.doors import wsgi_environ
from tests.support.servers import RawOrigin, raw_origin

_GROUP = EdgeConfig(
    origins=[Origin("p"), Origin("s")],
    origin_groups=[OriginGroup("g", ("p", "s"), (503,))],
    default=Behavior(target_origin_id="g", cache=CachePolicy(0, 0, 0)),
)


def _endless_503(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        while not origin.release.is_set():
            conn.sendall(b"5\r\nerror\r\n")
            time.sleep(0.05)
    except OSError:
        pass


def _secondary(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nsecondary")


async def _unused_asgi(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the URL origins answer")


def _unused_wsgi(environ: Any, start_response: Any) -> Any:
    raise AssertionError("the URL origins answer")


def _within(seconds: float, call: Any) -> Any:
    """``call()`` in a thread; its result, or a failure when it has not returned in time."""
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert got, f"no answer within {seconds} s"
    return got[0]


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_failover_from_a_url_primary_whose_error_body_streams_answers_at_once(door: str) -> None:
    """The ASGI door read the primary's whole (discarded) 503 body first: with an endless one
    the viewer never had an answer."""
    with raw_origin(_endless_503) as primary, raw_origin(_secondary) as secondary:
        origins = {"p": primary.url, "s": secondary.url}
        if door == "asgi":
            client: Any = TestClient(EdgeMiddleware(_unused_asgi, config=_GROUP, origins=origins))
            answer = _within(5, lambda: client.get("/x"))
            assert (answer.status_code, answer.content) == (200, b"secondary")
        else:
            wsgi = Client(EdgeWSGIMiddleware(_unused_wsgi, config=_GROUP, origins=origins))
            answer = _within(5, lambda: wsgi.get("/x"))
            assert (answer.status_code, answer.get_data()) == (200, b"secondary")


def test_failover_from_an_app_whose_error_body_streams_answers_at_once() -> None:
    """The same with in-process apps: the primary's next send fails, as behind a server whose
    client went away, and it ends."""
    ended = asyncio.Event()

    async def primary(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"error", "more_body": True})
                await asyncio.sleep(0.01)
        finally:
            ended.set()

    async def secondary(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"secondary"})

    edge = EdgeMiddleware(_unused_asgi, config=_GROUP, origins={"p": primary, "s": secondary})
    client = TestClient(edge)
    answer = _within(5, lambda: client.get("/x"))
    assert (answer.status_code, answer.content) == (200, b"secondary")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:70000",
        "http://127.0.0.1:abc",
        "http://127.0.0.1:0",
        "http://[::1",
        "http://exa mple.com",
        "http://:8080",
        "ftp://example.com",
    ],
)
@pytest.mark.parametrize("door", [EdgeMiddleware, EdgeWSGIMiddleware])
def test_a_malformed_origin_url_is_refused_at_start(door: Any, url: str) -> None:
    """A port past 65535 was accepted, and the WSGI door reached port % 65536 (another
    service, whose answer was served and cached as the origin's)."""
    app = _unused_asgi if door is EdgeMiddleware else _unused_wsgi
    with pytest.raises(ConfigurationError, match=r"origins\['p'\]"):
        door(app, config=_GROUP, origins={"p": url})


@pytest.mark.parametrize(
    "url", ["http://[::1]:8080", "https://example.com", "http://127.0.0.1:8080/base", "HTTP://x"]
)
def test_well_formed_origin_urls_are_taken(url: str) -> None:
    EdgeMiddleware(_unused_asgi, config=_GROUP, origins={"p": url})


@pytest.mark.parametrize("status", [600, 999])
def test_an_origin_status_past_599_is_a_502(status: int) -> None:
    """RFC 9110 §15: 600-999 are invalid, to be read as a 5xx; it reached the viewer."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"odd"})

    def wsgi(environ: Any, start_response: Any) -> Any:
        start_response(f"{status} Odd", [])
        return [b"odd"]

    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0)))
    r = TestClient(EdgeMiddleware(asgi, config=config)).get("/")
    assert (r.status_code, r.headers["x-cache"]) == (502, "Error from cloudfront")
    w = Client(EdgeWSGIMiddleware(wsgi, config=config)).get("/")
    assert (w.status_code, w.headers["X-Cache"]) == (502, "Error from cloudfront")


def _broken_200(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")


def test_a_200_whose_body_breaks_at_once_never_fails_over_on_either_door() -> None:
    """The WSGI door read the first chunk before the head went on, and took its framing error
    for an origin never reached: it asked the secondary, which the ASGI door (rightly) did
    not. Both now keep the 200 and cut its body."""
    with raw_origin(_broken_200) as primary, raw_origin(_secondary) as secondary:
        origins = {"p": primary.url, "s": secondary.url}
        asgi = TestClient(
            EdgeMiddleware(_unused_asgi, config=_GROUP, origins=origins),
            raise_server_exceptions=False,
        )
        assert asgi.get("/a").status_code == 200
        wsgi = EdgeWSGIMiddleware(_unused_wsgi, config=_GROUP, origins=origins)
        statuses: list[str] = []
        environ = wsgi_environ(path="/w")
        answer = wsgi(environ, lambda status, headers, exc=None: statuses.append(status))
        assert statuses == ["200 OK"]
        with pytest.raises(Exception, match="broke off its body"):
            b"".join(answer)
        answer.close()  # type: ignore[attr-defined]
        assert secondary.hits == {}
