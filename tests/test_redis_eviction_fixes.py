"""A shared Redis that evicts the library's bookkeeping keys, holds bad values, is full, or is
shared by middlewares with their own clocks (Redis hunt of 2026-12-07, second session)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware
from edge_middleware.cache.redis import RedisStorage
from edge_middleware.cache.redis_codec import FORMAT_MAGIC, dumps, loads
from tests.support import storage as entries

pytestmark = pytest.mark.redis


make_entry = entries.page_entry
_open = entries.open_storage


def _delete(url: str, *names: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.delete(*names)


def test_the_cli_reaches_a_namespace_whose_registration_was_evicted(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """``{prefix}:distributions`` is the least-read key (``allkeys-lru`` evicts it first):
    ``invalidate --redis`` then reported success and reached no worker's namespace."""
    worker = _open(storages, redis_url)
    worker = worker.adopt_distribution("E1SITE")
    worker.set(make_entry("/page"))
    _delete(redis_url, "em:distributions")
    cli = _open(storages, redis_url)  # a storage serving no middleware, as the CLI's
    cli.invalidate(["/page"])
    assert worker.get("/page") is None


def test_a_counter_evicted_alone_does_not_bring_invalidated_objects_back(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """A missing ``inv:ver`` read as 0 matched an entry stored at generation 0, which skipped
    the pattern check: the invalidated object was a hit again."""
    a = _open(storages, redis_url, distribution_id="site")
    a.set(make_entry("/page"))  # generation 0: no invalidation yet
    _open(storages, redis_url, distribution_id="site").invalidate(["/page"])
    _delete(redis_url, "em:site:inv:ver")
    assert _open(storages, redis_url, distribution_id="site").get("/page") is None
    assert a.get("/page") is None


def test_a_counter_recreated_after_its_patterns_went_too_stays_above_every_generation(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """``inv:ver`` and ``inv`` both evicted in one epoch: the counter started again at 1
    while a worker had checked an entry up to generation 3, and a new invalidation (1) never
    reached it."""
    a = _open(storages, redis_url, distribution_id="site")
    a.set(make_entry("/page"))
    for path in ("/x", "/y", "/z"):
        a.invalidate([path])
    assert a.get("/page") is not None  # checked up to generation 3
    _delete(redis_url, "em:site:inv:ver", "em:site:inv")
    a.invalidate(["/page"])
    assert a.get("/page") is None


def test_bad_values_under_the_librarys_names_are_a_miss(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """A shared Redis is no trusted source: a status 0 went out as ``0 OK`` and a NaN time
    was a 502 on every request while it lived."""
    good = dumps(make_entry("/p"))
    head, _, body = good[len(FORMAT_MAGIC) :].partition(b"\n")
    for change in ({"status": 0}, {"status": 99999}, {"stored_at": float("nan")}):
        meta = {**json.loads(head), **change}
        blob = FORMAT_MAGIC + json.dumps(meta).encode() + b"\n" + body
        with pytest.raises(ValueError):
            loads(blob)


def test_a_full_redis_still_serves_what_it_holds(
    redis_server_factory: Any, storages: list[RedisStorage]
) -> None:
    """``noeviction`` and full: each refused write opened the breaker, so the objects Redis
    held were no longer read either (99 misses of 100 for a cached hot object)."""
    server = redis_server_factory()
    calls = {"hot": 0}
    app = Flask("full")

    @app.route("/hot")
    def hot() -> Any:
        calls["hot"] += 1
        return "hot", 200, {"Cache-Control": "max-age=600"}

    @app.route("/big/<int:n>")
    def big(n: int) -> Any:
        return "x" * 100_000, 200, {"Cache-Control": "max-age=600"}

    storage = _open(storages, server.url, distribution_id="D", retry_after=30)
    viewer = Client(EdgeWSGIMiddleware(app.wsgi_app, config=EdgeConfig(), storage=storage))
    viewer.get("/hot")
    with redis.Redis.from_url(server.url) as client:
        client.config_set("maxmemory", "2mb")
    for n in range(40):  # full after some; then every store is refused
        viewer.get(f"/big/{n}")
    hits = [viewer.get("/hot").headers["X-Cache"] for _ in range(20)]
    assert hits == ["Hit from cloudfront"] * 20 and calls["hot"] == 1


def test_a_storage_shared_by_two_middlewares_keeps_each_ones_clock(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """The second middleware's ``clock=`` replaced the first's on the shared storage: the
    first judged its objects three days ahead and stored nothing any more."""
    storage = _open(storages, redis_url)
    app = Flask("shared")

    @app.route("/<path:p>")
    def page(p: str) -> Any:
        return p, 200, {"Cache-Control": "max-age=600"}

    config_a = EdgeConfig(default=Behavior(cache=CachePolicy()), distribution_id="EA")
    config_b = EdgeConfig(default=Behavior(cache=CachePolicy()), distribution_id="EB")
    a = Client(EdgeWSGIMiddleware(app.wsgi_app, config=config_a, storage=storage))
    later = time.time() + 3 * 86400
    b = Client(
        EdgeWSGIMiddleware(app.wsgi_app, config=config_b, storage=storage, clock=lambda: later)
    )
    b.get("/x")
    assert b.get("/x").headers["X-Cache"] == "Hit from cloudfront"
    a.get("/y")
    assert a.get("/y").headers["X-Cache"] == "Hit from cloudfront"


def test_a_lookup_with_no_invalidation_yet_is_one_round_trip(
    redis_url: str, storages: list[RedisStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registration makes the counter with the epoch: an epoch without a counter then
    means a lost counter. Before, every lookup of a namespace with no invalidation yet read
    the pattern list too (a RedisStorage hit went from +78 to +255 µs)."""
    storage = _open(storages, redis_url).adopt_distribution("E1SITE")
    storage.set(make_entry("/page"))

    def no_pattern_reads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a hit read the invalidation patterns")

    monkeypatch.setattr(storage._client, "zrangebyscore", no_pattern_reads)
    assert storage.get("/page") is not None
