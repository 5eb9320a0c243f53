"""The storage contract: what every cache storage does, run against ``MemoryStorage`` and
``RedisStorage`` (on the session's real ``redis-server``). What only one of them does (LRU and
byte accounting; the Redis format, key layout, workers and fill locks) is tested in
``test_storage_memory`` and ``test_storage_redis``."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from edge_middleware.cache.entry import Storage
from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.cache.redis import RedisStorage
from edge_middleware.exceptions import ConfigurationError
from tests.support.storage import FakeClock, make_entry, rich_entry

MakeStorage = Callable[..., Any]
_names = itertools.count()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_storage(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[MakeStorage]:
    """``make_storage(**options)``: a storage of this kind on the fake clock (Redis: a
    distribution of its own on an empty database); all closed afterwards."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        storage: Any
        if request.param == "redis":
            url = request.getfixturevalue("redis_url")
            storage = RedisStorage(url, clock=clock, distribution_id=f"c{next(_names)}", **options)
        else:
            storage = MemoryStorage(clock=clock, **options)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        storage.close()


def _present(storage: Any, keys: list[str]) -> list[str]:
    return [k for k in keys if storage.get(k) is not None]


def _count(storage: Any, patterns: list[str], removed: list[str]) -> int:
    """What ``invalidate(patterns)`` returns: the entries removed (memory), or the distinct
    patterns recorded (Redis invalidates lazily and cannot count entries without a scan)."""
    if isinstance(storage, RedisStorage):
        return len(dict.fromkeys(patterns))
    return len(removed)


def test_is_a_storage(make_storage: MakeStorage) -> None:
    assert isinstance(make_storage(), Storage)


def test_roundtrip_and_delete(make_storage: MakeStorage) -> None:
    storage = make_storage()
    entry = rich_entry()
    assert storage.get(entry.key) is None
    storage.set(entry)
    got = storage.get(entry.key)
    assert got == entry
    assert got is not None
    assert [v for k, v in got.headers if k == b"Set-Cookie"] == [
        b"a=1; Path=/; HttpOnly",
        b"b=2; Path=/; Secure",
    ]
    storage.delete(entry.key)
    storage.delete(entry.key)  # absent: no error
    assert storage.get(entry.key) is None


def test_replacing_an_entry(make_storage: MakeStorage) -> None:
    storage = make_storage()
    storage.set(make_entry(body=b"old"))
    new = make_entry(body=b"newer body")
    storage.set(new)
    assert storage.get("k") == new


def test_already_expired_entry_is_not_stored_and_drops_the_old_one(
    make_storage: MakeStorage, clock: FakeClock
) -> None:
    storage = make_storage()
    storage.set(make_entry(now=clock.now))
    storage.set(make_entry(now=clock.now - 100, retain=50))
    assert storage.get("k") is None


def test_an_entry_is_gone_at_its_retain_until_on_the_storages_clock(
    make_storage: MakeStorage, clock: FakeClock
) -> None:
    """``retain_until`` is the same bound for both storages on the clock they were given:
    RedisStorage's PX runs on real time, so a fake clock past it still found the entry (and
    the edge served it stale where MemoryStorage had forgotten it)."""
    storage = make_storage()
    storage.set(make_entry(now=clock.now, retain=100))
    clock.now += 99
    assert storage.get("k") is not None
    clock.now += 1
    assert storage.get("k") is None

    async def aget() -> Any:
        try:
            return await storage.aget("k")
        finally:
            if isinstance(storage, RedisStorage):
                await storage.aclose()  # its async pool belongs to this loop

    assert asyncio.run(aget()) is None


def test_large_object_refused_and_the_old_copy_dropped(make_storage: MakeStorage) -> None:
    storage = make_storage(max_object_bytes=1000)
    storage.set(make_entry("small"))
    storage.set(make_entry("k", body=b"old"))
    storage.set(make_entry("k", body=bytes(2000)))
    assert storage.get("k") is None
    assert storage.get("small") is not None


@pytest.mark.parametrize(
    ("patterns", "removed", "kept"),
    [
        # C38: a trailing * is a prefix match over "/" too; paths are case-sensitive.
        pytest.param(["/images/*"], ["/images/a.png", "/images/b/c.png"], ["/img.png"], id="C38"),
        pytest.param(
            ["/Images/*"], [], ["/images/a.png", "/images/b/c.png", "/img.png"], id="C38-case"
        ),
        # C39: the query string is part of the matched path.
        pytest.param(["/a.jpg"], ["/a.jpg"], ["/a.jpg?v=1"], id="C39-exact"),
        pytest.param(["/a.jpg*"], ["/a.jpg", "/a.jpg?v=1"], [], id="C39-star"),
        pytest.param(["/*"], ["/images/a.png", "/a.jpg?v=1"], [], id="everything"),
        pytest.param(["/img.png", "/a.jpg"], ["/img.png", "/a.jpg"], ["/a.jpg?v=1"], id="two"),
    ],
)
def test_invalidation_semantics(
    make_storage: MakeStorage, patterns: list[str], removed: list[str], kept: list[str]
) -> None:
    storage = make_storage()
    for path in removed + kept:
        storage.set(make_entry(path, path=path))
    assert storage.invalidate(patterns) == _count(storage, patterns, removed)
    assert _present(storage, removed) == []
    assert _present(storage, kept) == kept


def test_invalidation_matches_orig_path(make_storage: MakeStorage) -> None:
    storage = make_storage()
    storage.set(make_entry("rewritten", path="/v2/index.html", orig_path="/index.html"))
    storage.set(make_entry("other", path="/v2/other.html", orig_path="/other.html"))
    assert storage.invalidate(["/index.html"]) == 1
    assert storage.get("rewritten") is None
    assert storage.get("other") is not None
    assert storage.invalidate(["/v2/*"]) == 1
    assert storage.get("other") is None


def test_invalidate_removes_all_variants_and_counts_each_once(make_storage: MakeStorage) -> None:
    storage = make_storage()
    keys = [f"/page|{variant}" for variant in ("gzip", "br", "identity")]
    for key in keys:
        storage.set(make_entry(key, path="/page"))
    assert storage.invalidate(["/page", "/page*", "/*"]) == 3
    assert _present(storage, keys) == []
    assert storage.invalidate([]) == 0


def test_clear(make_storage: MakeStorage) -> None:
    storage = make_storage()
    keys = [f"k{i}" for i in range(10)]
    for key in keys:
        storage.set(make_entry(key))
    storage.clear()
    assert _present(storage, keys) == []


def test_async_methods(make_storage: MakeStorage) -> None:
    storage = make_storage()
    entry = make_entry()

    async def main() -> None:
        await storage.aset(entry)
        assert await storage.aget("k") == entry
        await storage.adelete("k")
        assert await storage.aget("k") is None
        await storage.aclose()

    asyncio.run(main())


def test_a_single_path_string_is_one_path_not_its_characters(make_storage: MakeStorage) -> None:
    """``invalidate("/images/*")`` iterated the string: its "*" purged everything."""
    storage = make_storage()
    for path in ("/images/a.png", "/index.html"):
        storage.set(make_entry(path, path=path))
    storage.invalidate("/images/*")
    assert _present(storage, ["/images/a.png", "/index.html"]) == ["/index.html"]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["images/a.png"], "starting with /"),
        ([5], "starting with /"),
        (["/a*b"], "last character"),
        (["/*/x"], "last character"),
        (["/" + "a" * 4000], "4,000"),
    ],
    ids=["no-slash", "not-a-string", "star-inside", "star-segment", "too-long"],
)
def test_an_invalidation_path_cloudfront_refuses_is_refused(
    make_storage: MakeStorage, paths: list[Any], expected: str
) -> None:
    """caching.md §1.10: paths start with "/", "*" only at the end, at most 4,000 characters
    (a non-string raised AttributeError on a filled cache; the others were accepted)."""
    storage = make_storage()
    storage.set(make_entry("/a", path="/a"))
    with pytest.raises(ConfigurationError, match=expected):
        storage.invalidate(paths)
    assert _present(storage, ["/a"]) == ["/a"]
