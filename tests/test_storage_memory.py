"""MemoryStorage beyond the storage contract (test_storage_contract): the object itself is
held, byte accounting, LRU eviction, expiry on its clock, limits and threads."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from edge_middleware.cache.entry import ENTRY_OVERHEAD
from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.exceptions import ConfigurationError
from tests.support.storage import FakeClock, make_entry


def test_holds_the_object_and_counts_its_bytes() -> None:
    storage = MemoryStorage(clock=FakeClock())
    entry = make_entry()
    storage.set(entry)
    assert storage.get("k") is entry
    assert len(storage) == 1
    assert storage.currsize == entry.nbytes
    storage.delete("k")
    assert storage.currsize == 0


def test_replacing_an_entry_keeps_one_copy() -> None:
    storage = MemoryStorage(clock=FakeClock())
    storage.set(make_entry(body=b"old"))
    new = make_entry(body=b"newer body")
    storage.set(new)
    assert storage.get("k") is new
    assert storage.currsize == new.nbytes


def test_stays_within_max_bytes() -> None:
    clock = FakeClock()
    storage = MemoryStorage(max_bytes=10_000, clock=clock)
    for i in range(1000):
        storage.set(make_entry(f"k{i}", body=bytes(100)))
        assert storage.currsize <= 10_000
    assert 0 < len(storage) < 1000
    # least recently used go first: the newest survive
    assert storage.get("k999") is not None
    assert storage.get("k0") is None


def test_lru_order_respects_reads() -> None:
    entry_size = make_entry("a", body=bytes(100)).nbytes
    storage = MemoryStorage(max_bytes=3 * entry_size, clock=FakeClock())
    for key in "abc":
        storage.set(make_entry(key, body=bytes(100)))
    assert storage.get("a") is not None  # now b is the least recently used
    storage.set(make_entry("d", body=bytes(100)))
    assert storage.get("b") is None
    assert [k for k in "acd" if storage.get(k) is not None] == ["a", "c", "d"]


def test_per_entry_expiry_with_fake_clock() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    short = make_entry("short", now=clock.now, retain=10)
    long = make_entry("long", now=clock.now, retain=100)
    storage.set(short)
    storage.set(long)
    clock.now += 9.999
    assert storage.get("short") is short
    clock.now += 0.001  # expiry is `now >= retain_until`
    assert storage.get("short") is None
    assert storage.get("long") is long
    clock.now += 90
    assert storage.get("long") is None


def test_expired_entries_are_evicted_first() -> None:
    clock = FakeClock()
    size = make_entry("x", body=bytes(100)).nbytes
    storage = MemoryStorage(max_bytes=2 * size, clock=clock)
    storage.set(make_entry("e", body=bytes(100), now=clock.now, retain=5))
    storage.set(make_entry("k", body=bytes(100), now=clock.now, retain=500))
    assert storage.get("e") is not None  # most recently used, but expired by the next insert
    clock.now += 10
    storage.set(make_entry("n", body=bytes(100), now=clock.now, retain=500))
    assert storage.get("k") is not None
    assert storage.get("n") is not None
    assert storage.currsize == 2 * size


def test_already_expired_entry_frees_the_old_ones_bytes() -> None:
    clock = FakeClock()
    storage = MemoryStorage(clock=clock)
    storage.set(make_entry(now=clock.now))
    storage.set(make_entry(now=clock.now - 100, retain=50))
    assert storage.currsize == 0


@pytest.mark.parametrize(
    ("max_bytes", "max_object_bytes"),
    [
        pytest.param(10_000, 2_000, id="over-max_object_bytes"),
        pytest.param(10_000, None, id="over-max_bytes"),
    ],
)
def test_large_objects_refused_without_evicting(
    max_bytes: int, max_object_bytes: int | None
) -> None:
    storage = MemoryStorage(max_bytes, max_object_bytes=max_object_bytes, clock=FakeClock())
    small = [make_entry(f"s{i}", body=bytes(100)) for i in range(5)]
    for entry in small:
        storage.set(entry)
    before = storage.currsize
    storage.set(make_entry("big", body=bytes(max_bytes)))
    assert storage.get("big") is None
    assert storage.currsize == before
    assert all(storage.get(e.key) is e for e in small)


def test_max_object_bytes_boundary() -> None:
    limit = ENTRY_OVERHEAD + 1000
    storage = MemoryStorage(max_object_bytes=limit, clock=FakeClock())
    fits = make_entry("k", body=b"")
    fits = make_entry("k", body=bytes(limit - fits.nbytes))
    assert fits.nbytes == limit
    storage.set(fits)
    assert storage.get("k") is fits
    storage.set(make_entry("k2", body=bytes(limit)))
    assert storage.get("k2") is None


@pytest.mark.parametrize(
    ("max_bytes", "max_object_bytes"),
    [pytest.param(0, None, id="zero-budget"), pytest.param(100, -1, id="negative-object")],
)
def test_bad_limits_rejected(max_bytes: int, max_object_bytes: int | None) -> None:
    with pytest.raises(ConfigurationError):
        MemoryStorage(max_bytes, max_object_bytes=max_object_bytes)


def test_invalidate_leaves_nothing_held() -> None:
    storage = MemoryStorage(clock=FakeClock())
    for variant in ("gzip", "br", "identity"):
        storage.set(make_entry(f"/page|{variant}", path="/page"))
    storage.invalidate(["/page", "/page*", "/*"])
    assert len(storage) == 0
    assert storage.currsize == 0


def test_clear_leaves_nothing_held() -> None:
    storage = MemoryStorage(clock=FakeClock())
    for i in range(10):
        storage.set(make_entry(f"k{i}"))
    storage.clear()
    assert len(storage) == 0
    assert storage.currsize == 0


def test_async_methods_return_the_object() -> None:
    storage = MemoryStorage(clock=FakeClock())
    entry = make_entry()

    async def main() -> None:
        await storage.aset(entry)
        assert await storage.aget("k") is entry
        await storage.aclose()

    asyncio.run(main())
    storage.close()


def test_thread_safety_smoke() -> None:
    clock = FakeClock()
    entry_size = make_entry("k00", body=bytes(200)).nbytes
    storage = MemoryStorage(max_bytes=20 * entry_size, clock=clock)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(3000):
                key = f"k{rng.randrange(40):02d}"
                op = rng.random()
                if op < 0.5:
                    got = storage.get(key)
                    assert got is None or got.key == key
                elif op < 0.85:
                    retain = rng.choice([0.5, 5.0, 500.0])
                    storage.set(make_entry(key, body=bytes(200), now=clock.now, retain=retain))
                elif op < 0.95:
                    storage.delete(key)
                elif op < 0.99:
                    storage.invalidate([f"/{key[:2]}*"])
                else:
                    clock.now += 1  # lets entries expire while others read and write
                assert storage.currsize <= storage.max_bytes
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert storage.currsize <= storage.max_bytes
