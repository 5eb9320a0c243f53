"""RedisStorage as users run it (the Redis hunt of 2026-12-07): two edges of one config in
front of different origin servers keep to their own objects; a large object that takes longer
than ``socket_timeout`` to arrive is still served; a finished event loop leaves no pool or
connection behind; a URL redis-py would misread is refused at start. Each test failed before
its fix."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    RedisStorage,
)
from edge_middleware.cache.identity import distribution_identity
from edge_middleware.cache.redis import storage_from_url
from tests.support.servers import RawOrigin, raw_origin
from tests.support.storage import START, make_entry, open_storage

pytestmark = pytest.mark.redis

_CONFIG = EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)))


def _page(text: bytes) -> Any:
    def respond(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(text), text)
        )

    return respond


async def _unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the URL origins answer")


def test_the_origins_given_are_part_of_the_distributions_identity() -> None:
    a = distribution_identity(_CONFIG, _unused, {"default": "http://10.0.0.1:8080"})
    b = distribution_identity(_CONFIG, _unused, {"default": "http://10.0.0.2:8080"})
    assert a != b
    assert a == distribution_identity(_CONFIG, _unused, {"default": "http://10.0.0.1:8080"})
    # no origins: the identity it always had (no namespace moves for those deployments)
    assert distribution_identity(_CONFIG, _unused) == distribution_identity(_CONFIG, _unused, {})


def test_edges_in_front_of_different_origins_never_serve_each_others_objects(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """They shared one namespace: the edge in front of B answered Hit with A's page."""
    with raw_origin(_page(b"page from A")) as a, raw_origin(_page(b"page from B")) as b:
        answers = []
        for origin in (a, b):
            storage = open_storage(storages, redis_url)
            edge = EdgeMiddleware(
                _unused, config=_CONFIG, storage=storage, origins={"default": origin.url}
            )
            r = TestClient(edge).get("/p")  # (its loop's clients are closed as it ends)
            answers.append((r.headers["x-cache"], r.content))
    assert answers == [
        ("Miss from cloudfront", b"page from A"),
        ("Miss from cloudfront", b"page from B"),
    ]


@contextlib.asynccontextmanager
async def _slow_link(port: int, slice_bytes: int, pause: float) -> AsyncIterator[int]:
    """A TCP proxy to ``127.0.0.1:port`` whose replies arrive ``slice_bytes`` at a time, one
    slice every ``pause`` seconds (a slow network link); yields its own port."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slow: bool) -> None:
        try:
            while data := await reader.read(1 << 20):
                for i in range(0, len(data), slice_bytes if slow else len(data)):
                    writer.write(data[i : i + (slice_bytes if slow else len(data))])
                    await writer.drain()
                    if slow:
                        await asyncio.sleep(pause)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(client_r, server_w, False), pipe(server_r, client_w, True))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def test_a_large_object_slower_than_socket_timeout_to_arrive_is_still_read(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """socket_timeout bounded the whole reply on the event loop: a large object on a slow link
    was never served, and each try opened the breaker for every key."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    body = bytes(range(256)) * 2048  # 512 KB: 8 slices of 64 KB, 0.05 s apart: 0.4 s
    writer = open_storage(storages, redis_url, clock=lambda: START)
    writer.set(make_entry("big", body=body))

    async def main() -> bytes | None:
        async with _slow_link(port, 64 * 1024, 0.05) as slow_port:
            url = redis_url.replace(f":{port}", f":{slow_port}")
            reader = open_storage(storages, url, socket_timeout=0.2, clock=lambda: START)
            try:
                got = await reader.aget("big")
                return None if got is None else got.body
            finally:
                await reader.aclose()

    assert asyncio.run(main()) == body


def test_a_finished_event_loop_leaves_no_pool_and_no_connection(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """Each loop kept its pool and one open connection for ever (asyncio.run in a loop, a
    TestClient used without ``with``)."""
    import redis

    storage = open_storage(storages, redis_url)
    admin = redis.Redis.from_url(redis_url)
    before = len(admin.client_list())

    async def one() -> None:
        await storage.aget("absent")

    for _ in range(30):
        asyncio.run(one())
    import gc

    gc.collect()
    assert len(storage._apools) <= 2
    assert len(admin.client_list()) <= before + 3
    admin.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("rediss://127.0.0.1:6380/0?ssl_cert_reqs=requird", "Certificate"),
        ("redis://[::1:6379/0", "IPv6"),
        ("redis://u:secret@[::1:6379/0", "IPv6"),
        ("redis://127.0.0.1:6379/O", "database number"),
        ("redis://127.0.0.1:6379/-1", "database number"),
        ("redis://127.0.0.1:6379/0?decode_responses=True", "decode_responses"),
        ("redis://127.0.0.1:6379/0?encoding=utf-8", "encoding"),
        ("redis://127.0.0.1:99999/0", "out of range"),
    ],
)
def test_a_redis_url_redis_py_would_misread_is_refused_at_start(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as caught:
        storage_from_url(url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/3",
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:6379/",
        "unix:///tmp/redis.sock?db=2",
        "rediss://cache.example:6380/0",
    ],
)
def test_redis_urls_as_documented_are_taken(url: str) -> None:
    storage = storage_from_url(url)
    storage.close()
