"""A fill lock that expires unreleased (its leader died mid-fetch, or outlasted
``fill_lock_ttl``) is taken over by one waiting process, and the others wait for that one
(caching.md §1.9: one origin fetch per key). Before, every waiting process fetched at once when
the lock expired. A lock its leader released is told apart: the waiters then look up or fetch
alone, at once (never one after another)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from edge_middleware import RedisStorage
from edge_middleware.cache.entry import CacheEntry
from tests.support.storage import make_entry

pytestmark = pytest.mark.redis


@pytest.fixture
def made() -> Iterator[list[RedisStorage]]:
    """The storages a test made, closed after it."""
    storages: list[RedisStorage] = []
    yield storages
    for s in storages:
        s.close()


def _storages(made: list[RedisStorage], redis_url: str, n: int, ttl: float) -> list[RedisStorage]:
    """``n`` storages on one distribution, each as another process's."""
    dist = f"takeover-{uuid.uuid4().hex[:8]}"
    made.extend(RedisStorage(redis_url, distribution_id=dist, fill_lock_ttl=ttl) for _ in range(n))
    return made[-n:]


def _wait_all(
    waiters: list[RedisStorage], key: str, timeout: float
) -> tuple[list[threading.Thread], list[CacheEntry | bool | None]]:
    """Each waiter waits in its own thread; one that takes the lock over fetches (0.2 s),
    stores an object and releases the lock, as the door does."""
    got: list[CacheEntry | bool | None] = []

    def wait(s: RedisStorage) -> None:
        result = s.wait_fill(key, timeout)
        got.append(result)
        if result is True:
            time.sleep(0.2)
            s.set(make_entry(key, now=time.time()))
            s.end_fill(key)

    threads = [threading.Thread(target=wait, args=(s,)) for s in waiters]
    for t in threads:
        t.start()
    return threads, got


def test_an_expired_lock_is_taken_over_by_one_waiter(
    made: list[RedisStorage], redis_url: str
) -> None:
    leader, *waiters = _storages(made, redis_url, 4, ttl=0.3)
    assert leader.begin_fill("k", 10)  # capped at fill_lock_ttl; never ended: it died
    threads, got = _wait_all(waiters, "k", 10)
    for t in threads:
        t.join(10)
    assert got[0] is True, "one waiter takes the expired lock over"
    assert all(isinstance(g, CacheEntry) for g in got[1:]), f"the others wait for it: {got}"


def test_a_released_lock_sends_every_waiter_on_at_once(
    made: list[RedisStorage], redis_url: str
) -> None:
    """Released with nothing stored (an uncacheable answer): each waiter fetches alone, at
    once; none of them takes the lock (they would then fetch one after another)."""
    leader, b, c = _storages(made, redis_url, 3, ttl=10)
    assert leader.begin_fill("k", 10)
    threads, got = _wait_all([b, c], "k", 10)
    time.sleep(0.1)
    t0 = time.monotonic()
    leader.end_fill("k")
    for t in threads:
        t.join(5)
    assert got == [None, None]
    assert time.monotonic() - t0 < 1.0
    assert b.begin_fill("k", 10) is True  # nobody holds it


def test_a_stale_entry_whose_refresh_died_is_taken_over(
    made: list[RedisStorage], redis_url: str
) -> None:
    """A stale object is what the leader was refreshing: once its lock expires unreleased, a
    waiter takes the refresh over rather than every one revalidating at once."""
    leader, b = _storages(made, redis_url, 2, ttl=0.3)
    stale = make_entry("k", now=time.time() - 100)  # fresh for 60 s: stale 40 s ago
    leader.set(stale)
    assert leader.begin_fill("k", 10)
    assert b.wait_fill("k", 5) is True


def test_async_waiters_take_an_expired_lock_over_once(
    made: list[RedisStorage], redis_url: str
) -> None:
    leader, *waiters = _storages(made, redis_url, 4, ttl=0.3)

    async def main() -> list[CacheEntry | bool | None]:
        assert await leader.abegin_fill("k", 10)

        async def wait(s: RedisStorage) -> CacheEntry | bool | None:
            got = await s.await_fill("k", 10)
            if got is True:  # this one leads now: it fetches, stores and releases
                await asyncio.sleep(0.2)
                await s.aset(make_entry("k", now=time.time()))
                await s.aend_fill("k")
            return got

        try:
            return await asyncio.gather(*(wait(s) for s in waiters))
        finally:
            for s in [leader, *waiters]:
                await s.aclose()

    got = asyncio.run(main())
    assert sorted(type(g).__name__ for g in got) == ["CacheEntry", "CacheEntry", "bool"], got


_WORKER = r"""
import io, os, sys, time, json, redis
from edge_middleware import EdgeConfig, EdgeWSGIMiddleware, RedisStorage
url, start, dist = sys.argv[1], float(sys.argv[2]), sys.argv[3]
counter = redis.Redis.from_url(url)

def app(environ, start_response):
    n = counter.incr(dist + ":origin_calls")
    if n == 1:  # the first leader dies mid-fetch (an OOM kill, a deploy)
        time.sleep(0.2)
        os._exit(9)
    time.sleep(0.5)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
    return [b"report"]

storage = RedisStorage(url, distribution_id=dist, fill_lock_ttl=1.0)
app = EdgeWSGIMiddleware(app, config=EdgeConfig(), storage=storage)
while time.time() < start:
    time.sleep(0.001)
env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/report", "QUERY_STRING": "", "SERVER_NAME": "x",
       "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
       "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
       "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
       "HTTP_HOST": "e.com"}
seen = {}
body = b"".join(app(env, lambda s, h, e=None: seen.update(s=s, h=dict(h))))
print(json.dumps([seen["s"], seen["h"]["X-Cache"], body.decode()]))
"""


@pytest.mark.slow
def test_processes_fetch_once_more_when_their_leader_dies(redis_url: str) -> None:
    """Five processes miss one key at once; the leader dies mid-fetch. Its lock expires after
    ``fill_lock_ttl``; then one process fetches, and the other three are served its object:
    two origin calls in all (there were five)."""
    import redis

    dist = f"herd-{uuid.uuid4().hex[:8]}"
    start = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, str(start), dist],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(5)
    ]
    answers = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        if p.returncode == 0:
            answers.append(json.loads(out))
        else:
            assert p.returncode == 9, err  # the leader that died
    calls = int(redis.Redis.from_url(redis_url).get(dist + ":origin_calls") or 0)
    assert len(answers) == 4
    assert all(a[0] == "200 OK" and a[2] == "report" for a in answers), answers
    assert calls == 2, f"{calls} origin calls: the waiters fetched at once ({answers})"
    assert sorted(a[1] for a in answers).count("Miss from cloudfront") == 1, answers


def test_a_release_followed_at_once_by_a_new_holder_sends_the_waiter_on(
    made: list[RedisStorage], redis_url: str
) -> None:
    """The waiter took the next holder (a request that came after the release) for a
    takeover and waited for it: under load, requests for an uncacheable object queued one
    behind another for up to fill_lock_ttl."""
    leader, waiter, newcomer = _storages(made, redis_url, 3, ttl=10)
    assert leader.begin_fill("k", 10)
    threads, got = _wait_all([waiter], "k", 10)
    time.sleep(0.1)
    t0 = time.monotonic()
    leader.end_fill("k")  # released with nothing stored (no-store) ...
    assert newcomer.begin_fill("k", 10)  # ... and at once another request leads
    for t in threads:
        t.join(5)
    assert got == [None]
    assert time.monotonic() - t0 < 1.0, "the waiter went on at the release"
    newcomer.end_fill("k")
