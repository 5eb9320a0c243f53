from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from edge_middleware.cache.entry import CacheEntry
from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.cache.redis import (
    FORMAT_MAGIC,
    RedisStorage,
    dumps,
    loads,
    storage_from_url,
)
from edge_middleware.exceptions import ConfigurationError
from tests.support import storage as entries
from tests.support.servers import free_port
from tests.support.storage import BINARY

MakeStorage = Callable[..., RedisStorage]


def make_entry(key: str = "k", **fields: Any) -> CacheEntry:
    """:func:`support.storage.make_entry` stored now (RedisStorage's clock is the real one)."""
    return entries.make_entry(key, now=time.time(), **fields)


def rich_entry() -> CacheEntry:
    return entries.rich_entry(now=time.time())


# -- serialisation (no server needed) -----------------------------------------------------------


def test_format_roundtrip() -> None:
    entry = rich_entry()
    blob = dumps(entry)
    assert blob.startswith(FORMAT_MAGIC)
    assert blob.endswith(BINARY)
    assert loads(blob) == entry


def _tamper(field: str, value: object) -> bytes:
    blob = dumps(make_entry())
    end = blob.index(b"\n", len(FORMAT_MAGIC))
    meta = json.loads(blob[len(FORMAT_MAGIC) : end])
    if value is KeyError:
        del meta[field]
    else:
        meta[field] = value
    return FORMAT_MAGIC + json.dumps(meta).encode() + blob[end:]


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x80\x04\x95pickle", id="pickle"),
        pytest.param(b"em0\n{}\n", id="other-version"),
        pytest.param(FORMAT_MAGIC + b'{"key": "k"}', id="no-newline"),
        pytest.param(FORMAT_MAGIC + b"[]\n", id="not-an-object"),
        pytest.param(FORMAT_MAGIC + b"{nope\n", id="bad-json"),
        pytest.param(dumps(make_entry())[:-1], id="truncated-body"),
        pytest.param(_tamper("status", "200"), id="status-str"),
        pytest.param(_tamper("status", True), id="status-bool"),
        pytest.param(_tamper("headers", [["a"]]), id="header-pair"),
        pytest.param(_tamper("headers", [["a", "\u20ac"]]), id="header-not-latin1"),
        pytest.param(_tamper("generated", 1), id="generated-int"),
        pytest.param(_tamper("path", KeyError), id="missing-field"),
    ],
)
def test_loads_rejects(blob: bytes) -> None:
    with pytest.raises(ValueError):
        loads(blob)


def test_storage_from_url() -> None:
    memory = storage_from_url("memory://?max_bytes=1000&max_object_bytes=100")
    assert isinstance(memory, MemoryStorage)
    assert (memory.max_bytes, memory.max_object_bytes) == (1000, 100)
    assert isinstance(storage_from_url("memory://"), MemoryStorage)
    shared = storage_from_url("redis://:secret@127.0.0.1:1/3?distribution_id=E1&prefix=p")
    try:
        assert isinstance(shared, RedisStorage)
        assert (shared.prefix, shared.distribution_id) == ("p", "E1")
        assert "secret" not in repr(shared)
    finally:
        shared.close()
    for bad in ("memcached://x", "memory://?max_bytes=lots", "memory://?colour=red"):
        with pytest.raises(ConfigurationError):
            storage_from_url(bad)


def test_bad_options_rejected() -> None:
    with pytest.raises(ConfigurationError):
        RedisStorage(retry_after=0)
    with pytest.raises(ConfigurationError):
        RedisStorage(max_object_bytes=-1)


def test_fails_open_without_a_server(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    storage = RedisStorage(f"redis://127.0.0.1:{port}/0", retry_after=60)
    try:
        with caplog.at_level(logging.WARNING, logger="edge_middleware.cache"):
            assert storage.get("k") is None
            storage.set(make_entry())
            storage.delete("k")
            assert storage.invalidate(["/*"]) == 0
            assert storage.begin_fill("k", 1.0) is True
            storage.end_fill("k")
            assert storage.wait_fill("k", 1.0) is None
            storage.clear()
            assert asyncio.run(_async_get(storage, "k")) is None
        warnings = [r for r in caplog.records if r.name == "edge_middleware.cache"]
        assert len(warnings) == 1
        assert warnings[0].levelno == logging.WARNING
    finally:
        storage.close()


async def _async_get(storage: RedisStorage, key: str) -> CacheEntry | None:
    try:
        return await storage.aget(key)
    finally:
        await storage.aclose()


# -- against a real redis-server ----------------------------------------------------------------


@pytest.fixture
def make_storage(redis_url: str) -> Iterator[MakeStorage]:
    storages: list[RedisStorage] = []

    def make(url: str = redis_url, **options: Any) -> RedisStorage:
        storage = RedisStorage(url, **options)
        storages.append(storage)
        return storage

    yield make
    for storage in storages:
        storage.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.mark.redis
def test_key_layout_and_px_expiry(make_storage: MakeStorage, client: redis.Redis) -> None:
    storage = make_storage(prefix="t", distribution_id="E1")
    storage.set(make_entry(retain=60))
    (name,) = client.keys("t:E1:e*")
    assert name.startswith(b"t:E1:e:")  # type: ignore[arg-type]
    # besides it, the id recorded for `edge-middleware invalidate --redis`, its epoch and its
    # invalidation counter (made with the epoch: one lost alone is known as lost)
    assert set(client.keys("*")) - {name} == {
        b"t:distributions",
        b"t:E1:inv:epoch",
        b"t:E1:inv:ver",
    }
    assert len(name) == len("t:E1:e:") + 64
    assert 59_000 < client.pttl(name) <= 60_000


@pytest.mark.redis
def test_expired_entry_not_stored(make_storage: MakeStorage, client: redis.Redis) -> None:
    storage = make_storage()
    storage.set(make_entry())
    storage.set(make_entry(retain=-1))  # already past retain_until: dropped, old copy too
    assert client.dbsize() == 0


@pytest.mark.redis
def test_entry_expires_by_itself(make_storage: MakeStorage) -> None:
    storage = make_storage()
    storage.set(make_entry(retain=0.05))
    deadline = time.monotonic() + 5
    while storage.get("k") is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert storage.get("k") is None


@pytest.mark.redis
def test_large_object_refused_leaves_no_key(make_storage: MakeStorage, client: redis.Redis) -> None:
    """Beyond the contract (test_storage_contract): the old copy's key is gone from Redis."""
    storage = make_storage(max_object_bytes=1000)
    storage.set(make_entry("small"))
    storage.set(make_entry("k", body=b"old"))
    storage.set(make_entry("k", body=bytes(1000)))  # refused: the old copy's key goes too
    assert client.dbsize() == 1  # "small"


@pytest.mark.redis
def test_second_worker_sees_entry(make_storage: MakeStorage) -> None:
    first, second = make_storage(), make_storage()
    entry = make_entry(body=BINARY)
    first.set(entry)
    assert second.get("k") == entry
    other_distribution = make_storage(distribution_id="E2")
    assert other_distribution.get("k") is None


@pytest.mark.redis
def test_unreadable_entry_is_a_miss(make_storage: MakeStorage, client: redis.Redis) -> None:
    storage = make_storage()
    storage.set(make_entry())
    (name,) = client.keys("*")
    client.set(name, b"\x80\x04garbage")
    assert storage.get("k") is None
    # an entry stored under another key's hash is never served
    client.set(name, dumps(make_entry("other")))
    assert storage.get("k") is None


@pytest.mark.redis
def test_invalidation_across_workers(make_storage: MakeStorage, client: redis.Redis) -> None:
    a, b = make_storage(), make_storage()
    paths = ["/images/a.png", "/images/b/c.png", "/img.png", "/a.jpg", "/a.jpg?v=1"]
    for path in paths:
        a.set(make_entry(path, path=path))
    a.set(make_entry("rewritten", path="/v2/index.html", orig_path="/index.html"))
    assert all(b.get(p) is not None for p in paths)  # b has cached generation 0

    assert a.invalidate(["/images/*", "/Images/*", "/images/*"]) == 2
    assert [p for p in paths if b.get(p) is not None] == ["/img.png", "/a.jpg", "/a.jpg?v=1"]
    assert b.invalidate(["/a.jpg"]) == 1
    assert [p for p in paths if a.get(p) is not None] == ["/img.png", "/a.jpg?v=1"]
    assert b.invalidate(["/index.html"]) == 1
    assert a.get("rewritten") is None
    # invalidated entries are deleted on read
    assert client.dbsize() == 2 + 3  # /img.png, /a.jpg?v=1, inv:ver, inv, inv:epoch
    assert int(client.get("em:default:inv:ver") or 0) == 3

    # entries stored after an invalidation are not affected by it
    a.set(make_entry("/images/new.png", path="/images/new.png"))
    assert b.get("/images/new.png") is not None
    assert a.invalidate([]) == 0


@pytest.mark.redis
def test_generation_carried_from_lookup(make_storage: MakeStorage) -> None:
    a, b = make_storage(), make_storage()
    a.invalidate(["/nothing"])
    a.set(make_entry("/page", path="/page"))
    hit = a.get("/page")
    assert hit is not None and hit.generation == 1
    # while a revalidates, another worker invalidates the path
    b.invalidate(["/page"])
    a.set(hit.with_changes(fresh_until=hit.fresh_until + 60))
    assert a.get("/page") is None
    assert b.get("/page") is None


@pytest.mark.redis
def test_clear(make_storage: MakeStorage, client: redis.Redis) -> None:
    storage, other = make_storage(), make_storage(distribution_id="E2")
    for i in range(1200):
        storage.set(make_entry(f"k{i}"))
    other.set(make_entry("k"))
    storage.invalidate(["/x"])
    storage.begin_fill("k", 10)
    storage.clear()
    assert client.keys("em:default:*") == [b"em:default:inv:ver"]
    assert other.get("k") is not None


@pytest.mark.redis
def test_fill_lock_exclusive(make_storage: MakeStorage, client: redis.Redis) -> None:
    a, b = make_storage(), make_storage()
    assert a.begin_fill("k", 10) is True
    assert b.begin_fill("k", 10) is False
    assert a.begin_fill("k", 10) is False
    assert b.begin_fill("other", 10) is True  # different keys never collapse
    b.end_fill("k")  # not b's lock: nothing happens
    assert b.begin_fill("k", 10) is False
    locks = client.keys("em:default:lock:*")
    assert len(locks) == 2
    assert all(0 < client.pttl(lock) <= 10_000 for lock in locks)
    a.end_fill("k")
    assert b.begin_fill("k", 10) is True
    b.end_fill("k")
    b.end_fill("other")
    assert client.keys("em:default:lock:*") == []


@pytest.mark.redis
def test_expired_lock_not_released_by_slow_winner(make_storage: MakeStorage) -> None:
    a, b, c = make_storage(), make_storage(), make_storage()
    assert a.begin_fill("k", 0.05)
    deadline = time.monotonic() + 5
    while not b.begin_fill("k", 10):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    a.end_fill("k")  # a's lock expired; it must not delete b's
    assert c.begin_fill("k", 10) is False


@pytest.mark.redis
def test_wait_fill(make_storage: MakeStorage) -> None:
    winner, loser = make_storage(), make_storage()
    assert winner.begin_fill("k", 10)
    got: list[CacheEntry | None] = []
    waiter = threading.Thread(target=lambda: got.append(loser.wait_fill("k", 10)))
    waiter.start()
    entry = make_entry()
    winner.set(entry)
    winner.end_fill("k")
    waiter.join()
    assert got == [entry]


@pytest.mark.redis
def test_wait_fill_returns_when_entry_appears(make_storage: MakeStorage) -> None:
    winner, loser = make_storage(), make_storage()
    assert winner.begin_fill("k", 10)
    got: list[CacheEntry | None] = []
    waiter = threading.Thread(target=lambda: got.append(loser.wait_fill("k", 10)))
    waiter.start()
    entry = make_entry()
    winner.set(entry)  # the lock is still held (say the winner is still streaming)
    waiter.join()
    assert got == [entry]
    winner.end_fill("k")


@pytest.mark.redis
def test_wait_fill_gives_up(make_storage: MakeStorage) -> None:
    winner, loser = make_storage(), make_storage()
    assert winner.begin_fill("k", 10)
    assert loser.wait_fill("k", 0.05) is None  # timeout
    winner.end_fill("k")  # released without storing anything (uncacheable)
    assert loser.wait_fill("k", 10) is None


@pytest.mark.redis
def test_async_methods(make_storage: MakeStorage) -> None:
    storage, other = make_storage(), make_storage()
    entry = rich_entry()

    async def main() -> None:
        try:
            assert await storage.aget(entry.key) is None
            await storage.aset(entry)
            assert await other.aget(entry.key) == entry
            assert await storage.ainvalidate(["/shop*"]) == 1
            assert await other.aget(entry.key) is None
            await storage.aset(entry)
            await storage.adelete(entry.key)
            assert await storage.aget(entry.key) is None

            assert await storage.abegin_fill("k", 10) is True
            assert await other.abegin_fill("k", 10) is False
            waiter = asyncio.ensure_future(other.await_fill("k", 10))
            await asyncio.sleep(0.01)
            await storage.aset(make_entry())
            await storage.aend_fill("k")
            got = await waiter
            assert got is not None and got.key == "k"
            assert await other.abegin_fill("k", 10) is True
            await other.aend_fill("k")
            await storage.aclear()
            assert await storage.aget("k") is None
        finally:
            await storage.aclose()
            await other.aclose()

    asyncio.run(main())
    # a new event loop gets a new client
    asyncio.run(_async_get(storage, "k"))


@pytest.mark.redis
def test_survives_server_crash_and_recovers(
    redis_server_factory: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_server_factory()
    retry_after = 0.3
    storage = RedisStorage(server.url, retry_after=retry_after)
    try:
        entry = make_entry()
        storage.set(entry)
        assert storage.get("k") == entry

        server.kill()
        with caplog.at_level(logging.INFO, logger="edge_middleware.cache"):
            assert storage.get("k") is None
            storage.set(entry)
            assert storage.get("k") is None
            assert storage.begin_fill("k", 1) is True
            assert asyncio.run(_async_get(storage, "k")) is None

            server.start()  # same port, empty database
            time.sleep(retry_after * 1.2)
            storage.set(entry)
            assert storage.get("k") == entry
            assert asyncio.run(_async_get(storage, "k")) == entry
        levels = [r.levelno for r in caplog.records if r.name == "edge_middleware.cache"]
        assert levels == [logging.WARNING, logging.INFO]
    finally:
        storage.close()
