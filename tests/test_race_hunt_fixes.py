"""The race hunt of 2026-12-08: an invalidation made while a fetch is in flight applies to
what that fetch brings back (caching.md §1.10, docs/cache-rules.md), with RedisStorage too
when the invalidation comes from ``edge-middleware invalidate --redis`` before the
distribution's first object was stored (the two-fetches case is in
``tests/test_shared_cache_fixes.py``)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware, RedisStorage
from edge_middleware.cache.redis import storage_from_url
from tests.redis_server import RedisServer
from tests.support.devserver import cli


@pytest.mark.redis
def test_a_cli_invalidation_before_the_first_store_reaches_the_fetch_in_flight(
    tmp_path: Path, redis_url: str
) -> None:
    """The middleware recorded its namespace for the CLI on its first store: an invalidation
    made while the first fetch was in flight found no distribution (or, after a Redis
    restart, went to the default namespace, "invalidation recorded"), and the object fetched
    before it was stored and served as a Hit."""
    url = f"{redis_url}?prefix=race{uuid.uuid4().hex[:8]}"  # a namespace no one has used
    version = {"v": b"v1"}
    release = threading.Event()

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = version["v"]  # the content as the fetch started
        release.wait(10)
        start_response("200 OK", [("Cache-Control", "max-age=3600")])
        return [body]

    storage = storage_from_url(url)
    edge = EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=storage)
    viewer = Client(edge)
    try:
        fetch = threading.Thread(target=viewer.get, args=("/price.json",))
        fetch.start()
        while not edge._flights.events:  # the fetch is in flight
            time.sleep(0.005)
        version["v"] = b"v2"
        done = cli(tmp_path, "invalidate", "/price.json", "--redis", url)
        release.set()
        fetch.join()
        assert done.returncode == 0, done.stderr
        assert "invalidation recorded for 1 path(s)" in done.stdout
        again = viewer.get("/price.json")
        assert (again.headers["X-Cache"], again.get_data()) == ("Miss from cloudfront", b"v2")
    finally:
        release.set()
        storage.close()


@pytest.mark.redis
def test_a_workers_waiters_fetch_with_it_when_another_worker_stored_nothing(
    redis_url: str,
) -> None:
    """Two workers (two middlewares, one Redis): A fetches a ``no-store`` answer; B's first
    request waits on A's fill lock and B's next two wait on B's first. A stores nothing: each
    of B's three is forwarded at once (docs/cache-rules.md "Request collapsing"). B's two
    waited for B's first one's own fetch, then fetched after it (a 1 s origin: 3 s)."""
    prefix = f"race{uuid.uuid4().hex[:8]}"
    go = threading.Event()
    lock = threading.Lock()
    inside = [0, 0]  # B's calls in the origin now, the most at once

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["edge.middleware"] is a:
            go.wait(10)
        else:
            with lock:
                inside[0] += 1
                inside[1] = max(inside[1], inside[0])
            deadline = time.monotonic() + 2  # (B's three meet at once, or never)
            while inside[1] < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            with lock:
                inside[0] -= 1
        start_response("200 OK", [("Cache-Control", "no-store")])
        return [b"fresh"]

    storages = [storage_from_url(f"{redis_url}?prefix={prefix}") for _ in "ab"]
    a, b = (EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=s) for s in storages)
    got: list[int] = []

    def get(edge: Any) -> None:
        got.append(Client(edge).get("/quote").status_code)

    threads = [threading.Thread(target=get, args=(a,))]
    try:
        threads[0].start()
        while not a._flights.events:  # A leads, and holds the fill lock
            time.sleep(0.005)
        threads.append(threading.Thread(target=get, args=(b,)))
        threads[1].start()
        while not b._flights.events:  # B's first waits on A's lock
            time.sleep(0.005)
        for _ in range(2):  # B's next two wait on B's first
            threads.append(threading.Thread(target=get, args=(b,)))
            threads[-1].start()
        while None in b._flights.events.values():  # (an event once one waits on B's first)
            time.sleep(0.005)
        time.sleep(0.2)  # (and the third)
        go.set()
        for thread in threads:
            thread.join(20)
    finally:
        go.set()
        for storage in storages:
            storage.close()
    assert got == [200] * 4
    assert inside[1] == 3  # B's three were in the origin at once


@pytest.mark.redis
def test_a_full_redis_serves_its_stale_object_to_a_worker_new_to_it(
    redis_server_factory: Callable[[], RedisServer],
) -> None:
    """The registration for the CLI moved to lookups: a worker that had not registered yet ran
    it (a write) on a lookup that found a stale object, a full Redis refused it, and the whole
    lookup failed: no stale object for a failing origin (the origin's 503), no revalidation
    (README: a full Redis serves what it holds; caching.md §1.4). Regression hunt."""
    server = redis_server_factory()
    client = redis.Redis.from_url(server.url)
    now = [time.time()]
    down = [False]
    asked: list[str | None] = []

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        asked.append(environ.get("HTTP_IF_NONE_MATCH"))
        if down[0]:
            start_response("503 Service Unavailable", [("Cache-Control", "no-store")])
            return [b"origin down"]
        start_response("200 OK", [("Cache-Control", "max-age=1"), ("ETag", '"v1"')])
        return [b"the object"]

    def worker() -> tuple[Client, RedisStorage]:
        storage = RedisStorage(server.url, clock=lambda: now[0])
        config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 1, 1000)))
        edge = EdgeWSGIMiddleware(origin, config=config, storage=storage, clock=lambda: now[0])
        return Client(edge), storage

    (a, a_storage), (b, b_storage) = worker(), worker()
    try:
        assert a.get("/obj").headers["X-Cache"] == "Miss from cloudfront"
        used = int(client.info("memory")["used_memory"])  # then Redis is full
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", str(used + 200_000))
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for i in range(10_000):
                client.set(f"junk:{i}", b"x" * 1000)
        now[0] += 5  # stale
        down[0] = True
        stale = b.get("/obj")  # a worker that never looked this Redis up before
        assert (stale.status_code, stale.get_data()) == (200, b"the object")
        down[0] = False
        asked.clear()
        b.get("/obj")
        assert asked == ['"v1"']  # revalidated
    finally:
        client.config_set("maxmemory", "0")
        client.close()
        a_storage.close()
        b_storage.close()
