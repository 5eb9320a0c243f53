"""Requests collapsed onto an answer that streams to the viewer and is stored at its end (the
tee, ``pipeline.effects.Tee``): they wait until it is stored and are served from it, rather
than each fetching the object again the moment its head arrived. When the copy is dropped
(past ``max_object_bytes``), nothing will be stored, and they go on at once. Each test failed
before the fix (the waiting requests were woken when the pipeline had the head)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
)
from tests.support.doors import asgi_scope, call_wsgi, wsgi_environ
from tests.support.servers import wait_until
from tests.support.storage import open_storage

_HEADERS = [(b"cache-control", b"max-age=60"), (b"content-type", b"text/plain")]


def _config(max_object_bytes: int | None = None) -> EdgeConfig:
    settings = EdgeSettings() if max_object_bytes is None else EdgeSettings(max_object_bytes=8)
    return EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)), settings=settings)


class _Viewer:
    """One ASGI viewer: what it was sent, and a ``receive`` that stays until the end."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.got_first = asyncio.Event()
        self.ended = asyncio.Event()
        self.given = False

    async def receive(self) -> dict[str, Any]:
        if not self.given:
            self.given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.ended.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body":
            self.got_first.set()
            if not message.get("more_body", False):
                self.ended.set()

    @property
    def answer(self) -> tuple[bytes, bytes]:
        body = b"".join(m.get("body", b"") for m in self.sent[1:])
        return body, dict(self.sent[0]["headers"])[b"x-cache"]


def _asgi_origin(calls: list[int], gate: asyncio.Event, middle: bytes) -> Any:
    """Streams ``first,`` + ``middle`` then, on its first call only, waits for ``gate``."""

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        calls.append(1)
        first_call = len(calls) == 1
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": b"first,", "more_body": True})
        await send({"type": "http.response.body", "body": middle, "more_body": True})
        if first_call:
            await gate.wait()
        await send({"type": "http.response.body", "body": b"last", "more_body": False})

    return origin


async def _waiting(edge: EdgeMiddleware, follower: asyncio.Task[None]) -> bool:
    """Whether ``follower`` waits behind the leader (it joined the key's flight) within 1 s."""
    for _ in range(100):
        if follower.done():
            return False
        if any(event is not None for event in edge._flights.events.values()):
            return True
        await asyncio.sleep(0.01)
    return False


def test_asgi_requests_collapsed_on_a_streamed_answer_are_served_from_it() -> None:
    calls: list[int] = []

    async def main() -> None:
        gate = asyncio.Event()
        edge = EdgeMiddleware(_asgi_origin(calls, gate, b"middle,"), config=_config())
        leader, follower = _Viewer(), _Viewer()
        first = asyncio.ensure_future(edge(asgi_scope("/feed"), leader.receive, leader.send))
        await asyncio.wait_for(leader.got_first.wait(), 5)  # the stream reaches its viewer
        second = asyncio.ensure_future(edge(asgi_scope("/feed"), follower.receive, follower.send))
        assert await _waiting(edge, second)
        gate.set()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert leader.answer == (b"first,middle,last", b"Miss from cloudfront")
        assert follower.answer == (b"first,middle,last", b"Hit from cloudfront")

    asyncio.run(main())
    assert len(calls) == 1


def test_asgi_requests_collapsed_on_a_stream_too_large_to_store_go_on_at_once() -> None:
    calls: list[int] = []

    async def main() -> None:
        gate = asyncio.Event()
        edge = EdgeMiddleware(_asgi_origin(calls, gate, b"0123456789"), config=_config(8))
        leader, follower = _Viewer(), _Viewer()
        first = asyncio.ensure_future(edge(asgi_scope("/feed"), leader.receive, leader.send))
        await asyncio.wait_for(leader.got_first.wait(), 5)
        await asyncio.sleep(0.05)  # the leader's copy is dropped with its second chunk
        second = edge(asgi_scope("/feed"), follower.receive, follower.send)
        await asyncio.wait_for(second, 5)  # while the leader's stream is still open
        assert follower.answer == (b"first,0123456789last", b"Miss from cloudfront")
        gate.set()
        await asyncio.wait_for(first, 5)
        assert leader.answer == (b"first,0123456789last", b"Miss from cloudfront")

    asyncio.run(main())
    assert len(calls) == 2


def _feed_environ() -> dict[str, Any]:
    environ = wsgi_environ(path="/feed")
    environ["wsgi.multithread"] = True
    return environ


def _wsgi_origin(calls: list[int]) -> Any:
    def origin(environ: dict[str, Any], start_response: Any) -> Any:
        calls.append(1)
        start_response("200 OK", [("Cache-Control", "max-age=60"), ("Content-Type", "text/plain")])
        return iter([b"first,", b"0123456789", b"last"])

    return origin


@pytest.mark.parametrize("limit", [None, 8], ids=["stored", "over-max-object-bytes"])
def test_wsgi_requests_collapsed_on_a_streamed_answer(limit: int | None) -> None:
    """Stored: the waiting request is served from it once the stream ended. Too large to
    store: it goes on as soon as the copy is dropped, while the stream is still open."""
    calls: list[int] = []
    edge = EdgeWSGIMiddleware(_wsgi_origin(calls), config=_config(limit))
    answer = edge(_feed_environ(), lambda status, headers, exc=None: None)
    chunks = iter(answer)
    assert next(chunks) == b"first,"  # the leader's viewer has the start of the stream
    got: list[Any] = []
    follower = threading.Thread(target=lambda: got.append(call_wsgi(edge, path="/feed")))
    follower.start()
    if limit is not None:
        assert next(chunks) == b"0123456789"  # past the limit: the copy is dropped
        follower.join(5)
        assert got and dict(got[0][1])["X-Cache"] == "Miss from cloudfront"
    else:
        wait_until(
            lambda: any(e is not None for e in edge._flights.events.values()) or bool(got),
            timeout=5,
        )
        assert not got  # it waits behind the stream
    assert b"".join(chunks) == (b"0123456789last" if limit is None else b"last")
    answer.close()  # type: ignore[attr-defined]
    follower.join(5)
    assert got[0][2] == b"first,0123456789last"
    x_cache = dict(got[0][1])["X-Cache"]
    assert x_cache == ("Hit from cloudfront" if limit is None else "Miss from cloudfront")
    assert len(calls) == (1 if limit is None else 2)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_an_invalidation_while_an_answer_streams_keeps_it_out_of_the_cache(
    storage: str, request: pytest.FixtureRequest
) -> None:
    """An answer fetched before an invalidation of its path is not stored after it, even
    when it is stored only at the end of its stream (the tee)."""
    calls: list[int] = []
    options: dict[str, Any] = {}
    if storage == "redis":
        made = request.getfixturevalue("storages")
        options["storage"] = open_storage(made, request.getfixturevalue("redis_url"))

    async def main() -> None:
        gate = asyncio.Event()
        edge = EdgeMiddleware(_asgi_origin(calls, gate, b"middle,"), config=_config(), **options)
        leader = _Viewer()
        first = asyncio.ensure_future(edge(asgi_scope("/feed"), leader.receive, leader.send))
        await asyncio.wait_for(leader.got_first.wait(), 5)
        await edge.options.ainvalidate(["/feed"])
        gate.set()
        await asyncio.wait_for(first, 5)
        again = _Viewer()
        await edge(asgi_scope("/feed"), again.receive, again.send)
        if storage == "redis":
            await options["storage"].aclose()
        assert again.answer == (b"first,middle,last", b"Miss from cloudfront")

    asyncio.run(main())
    assert len(calls) == 2


def test_a_storage_that_fails_to_store_a_streamed_answer_loses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The viewer has the whole stream; the failure is logged; nothing is stored, and the
    requests collapsed on it go on (each door)."""
    from edge_middleware import MemoryStorage

    class Failing(MemoryStorage):
        def set(self, entry: Any) -> None:
            raise RuntimeError("the storage is down")

        async def aset(self, entry: Any) -> None:
            raise RuntimeError("the storage is down")

    calls: list[int] = []

    async def main() -> None:
        gate = asyncio.Event()
        gate.set()
        edge = EdgeMiddleware(
            _asgi_origin(calls, gate, b"middle,"), config=_config(), storage=Failing()
        )
        for _ in range(2):
            viewer = _Viewer()
            await asyncio.wait_for(edge(asgi_scope("/feed"), viewer.receive, viewer.send), 5)
            assert viewer.answer == (b"first,middle,last", b"Miss from cloudfront")
        assert not edge._flights.events

    asyncio.run(main())
    wsgi = EdgeWSGIMiddleware(_wsgi_origin(calls), config=_config(), storage=Failing())
    for _ in range(2):
        _status, headers, body = call_wsgi(wsgi, path="/feed")
        assert (body, dict(headers)["X-Cache"]) == (b"first,0123456789last", "Miss from cloudfront")
    assert not wsgi._flights.events
    assert len(calls) == 4
    failures = [r for r in caplog.records if "storing an answer that streamed" in r.getMessage()]
    assert len(failures) == 4


def test_a_wsgi_stream_read_to_its_end_frees_its_waiters_before_close() -> None:
    """The requests collapsed on a streamed answer go on once it is stored, at the end of the
    iteration: a server that calls ``close()`` late (or never) does not hold them."""
    calls: list[int] = []
    edge = EdgeWSGIMiddleware(_wsgi_origin(calls), config=_config())
    answer = edge(_feed_environ(), lambda status, headers, exc=None: None)
    assert b"".join(answer) == b"first,0123456789last"
    assert not edge._flights.events  # free, though close() was not called yet
    _status, headers, body = call_wsgi(edge, path="/feed")
    assert (body, dict(headers)["X-Cache"]) == (b"first,0123456789last", "Hit from cloudfront")
    answer.close()  # type: ignore[attr-defined]
    assert len(calls) == 1
