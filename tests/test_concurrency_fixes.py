"""Requests that wait for one another (concurrency hunt of 2026-12-07, third session): a
collapsed request waits as long as the fetch it joined may take, and a request cancelled
while its Redis fill lock is on the wire still releases it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    Origin,
    RedisStorage,
)
from edge_middleware.config.behavior import ALL_METHODS
from edge_middleware.pipeline.effects import JoinFlight
from tests.support.doors import asgi_scope
from tests.test_pipeline_states import FakeDoor, pipeline, viewer

CACHED = CachePolicy(min_ttl=0, default_ttl=60, max_ttl=3600)


@pytest.mark.parametrize(
    ("origin", "bound"),
    [(Origin("o"), 2 * 30 + 3 * (10 + 30)), (Origin("o", read_timeout=180), 2 * 30 + 3 * 190)],
)
def test_a_collapsed_request_waits_as_long_as_the_fetch_may_take(
    origin: Origin, bound: int
) -> None:
    """caching.md §1.9: the waiting requests "stay paused until the first response arrives".
    They gave up after the origin *function's* timeout + 5 s (35 s) and then each asked the
    origin, though OriginReadTimeout goes to 180 s and a GET is tried up to three times."""
    door = FakeDoor()
    p = pipeline(EdgeConfig(default=Behavior(cache=CACHED, target_origin_id="o"), origins=[origin]))
    door.run(p, viewer())
    (join,) = [e for e in door.effects if isinstance(e, JoinFlight)]
    assert join.timeout >= bound


@pytest.mark.slow
def test_waiters_on_a_slow_origin_get_its_answer_not_their_own_fetch() -> None:
    """Ten viewers, one origin fetch that outlasts the old wait (origin_timeout + 5 s)."""
    calls: list[int] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        calls.append(1)
        await asyncio.sleep(5.6)
        headers = [(b"cache-control", b"max-age=60"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    settings = EdgeSettings(origin_timeout=0.5)
    mw = EdgeMiddleware(
        origin, config=EdgeConfig(default=Behavior(cache=CACHED), settings=settings)
    )

    async def one() -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await mw(asgi_scope("/slow"), receive, send)
        x_cache = dict(sent[0]["headers"])[b"x-cache"]
        return sent[0]["status"], x_cache

    async def main() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(one() for _ in range(10)))

    answers = asyncio.run(main())
    assert len(calls) == 1
    assert sorted(x for _, x in answers) == [b"Hit from cloudfront"] * 9 + [b"Miss from cloudfront"]


async def _delaying_relay(port: int, delay: float) -> asyncio.Server:
    """A TCP relay to Redis on ``port`` that holds each reply ``delay`` seconds."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, wait: float) -> None:
            try:
                while data := await src.read(65536):
                    if wait:
                        await asyncio.sleep(wait)
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, 0), pipe(up_reader, writer, delay))

    return await asyncio.start_server(relay, "127.0.0.1", 0)


@pytest.mark.slow
def test_a_fill_lock_taken_by_a_cancelled_request_is_released(redis_url: str) -> None:
    """The token was kept only once the SET's reply said it won: a request cancelled while
    the reply was on its way (the server had set the lock) could not release it, and every
    worker waited out the lock's TTL on that key."""
    import redis

    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    direct = redis.Redis.from_url(redis_url)

    async def main() -> list[bytes]:
        server = await _delaying_relay(port, 0.05)
        relay_port = server.sockets[0].getsockname()[1]
        storage = RedisStorage(
            f"redis://127.0.0.1:{relay_port}/0", distribution_id="cancel", socket_timeout=2
        )
        try:
            await storage.aget("warm")  # connected
            task = asyncio.ensure_future(storage.abegin_fill("k", 10))
            deadline = time.monotonic() + 5
            while not direct.keys("*lock*") and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert direct.keys("*lock*"), "the SET reached the server"
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await storage.aend_fill("k")  # as the door's release does for every key it led
            return list(direct.keys("*lock*"))
        finally:
            await storage.aclose()
            storage.close()
            await asyncio.sleep(0.2)  # the relay's pipes see the storage's sockets close
            server.close()
            await server.wait_closed()

    try:
        assert asyncio.run(main()) == []
    finally:
        direct.close()


@pytest.mark.slow
def test_an_invalidation_on_the_asgi_door_does_not_stall_the_event_loop(redis_url: str) -> None:
    """The Storage protocol: a storage may not block the event loop. The ASGI door called
    RedisStorage's blocking ``invalidate`` on it (``invalidate_on_unsafe_methods``): every
    other request waited for Redis's answer."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async def main() -> int:
        server = await _delaying_relay(port, 0.3)
        relay_port = server.sockets[0].getsockname()[1]
        storage = RedisStorage(
            f"redis://127.0.0.1:{relay_port}/0", distribution_id="inval", socket_timeout=2
        )
        settings = EdgeSettings(invalidate_on_unsafe_methods=True)
        config = EdgeConfig(
            default=Behavior(cache=CACHED, allowed_methods=ALL_METHODS), settings=settings
        )
        mw = EdgeMiddleware(origin, config=config, storage=storage)
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        try:
            await storage.aget("warm")  # connected before the ticks are counted
            running = asyncio.ensure_future(ticker())
            await asyncio.sleep(0.05)
            before = ticks
            await mw(asgi_scope("/page", method="POST"), receive, send)
            during = ticks - before
            stop.set()
            await running
            return during
        finally:
            await storage.aclose()
            storage.close()
            await asyncio.sleep(0.2)
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) >= 5  # the loop went on while Redis answered (0.3 s)
