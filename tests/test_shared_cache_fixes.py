"""The shared cache as deployed (several workers on one Redis): the fixes from the Redis hunt
of 2026-12-07.

* A request cancelled while it ends its fill (an anyio cancel scope cancels every await) still
  gives up its key, here and in Redis: the next miss for it was held for the lock's life.
* ``RedisStorage.ainvalidate`` checks its paths as ``invalidate`` does ("/img/*" as one string
  purged everything).
* Requests collapsed behind a revalidation that the origin failed get the stale copy the
  fetch kept (caching.md §1.4, C33); each went to the failing origin again.
* A password in a Redis URL's query is masked wherever the URL is shown.
* Ending a fill lock while Redis refuses writes does not close the breaker (one warning per
  outage, not one per miss).
* An error answer without validators is not kept past its TTL (it was kept a day).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import redis
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    MemoryStorage,
    OriginRequestPolicy,
    RedisStorage,
)
from edge_middleware.cache.entry import CacheEntry, Storage
from edge_middleware.cache.lookup_notes import LookupNotes, new_request
from edge_middleware.cache.redis_options import redact
from edge_middleware.config.model import CustomErrorResponse
from edge_middleware.exceptions import ConfigurationError
from tests.redis_server import RedisServer
from tests.support import storage as entries
from tests.support.doors import asgi_scope
from tests.support.servers import wait_until

STORES = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=STORES)
def make_storage(request: pytest.FixtureRequest) -> Any:
    """``make_storage(distribution_id)``: a fresh storage of the parametrized kind (Redis
    storages share the test server, as workers do, and are closed afterwards)."""
    made: list[RedisStorage] = []
    if request.param == "memory":
        yield lambda distribution_id="D": MemoryStorage()
    else:
        url = request.getfixturevalue("redis_url")

        def make(distribution_id: str = "D") -> Storage:
            storage = RedisStorage(url, distribution_id=distribution_id)
            made.append(storage)
            return storage

        yield make
    for storage in made:
        storage.close()


async def _get(app: Any, path: str) -> tuple[int, str]:
    out: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            headers = {k.lower(): v for k, v in message["headers"]}
            out["x-cache"] = headers.get(b"x-cache", b"").decode()

    await app(asgi_scope(path), receive, send)
    return out["status"], out["x-cache"]


# -- a leader cancelled while it releases its key ----------------------------------------------


def test_a_cancelled_leader_gives_up_its_key_here_and_in_redis(make_storage: Any) -> None:
    """A request-timeout middleware (anyio's ``move_on_after``) cut the fetching request:
    with Redis, its release was cancelled at its first await, the key stayed in flight in the
    process and locked in Redis, and the next miss waited for a fetch that no longer ran."""
    calls = 0

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(1.0)  # the first fetch is slow: the viewer's timeout cuts it
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"cache-control", b"max-age=300")],
            }
        )
        await send({"type": "http.response.body", "body": b"v"})

    edge = EdgeMiddleware(origin, config=EdgeConfig(), storage=make_storage())

    async def with_timeout(scope: Any, receive: Any, send: Any) -> None:
        with anyio.move_on_after(0.2):
            await edge(scope, receive, send)

    async def main() -> tuple[tuple[int, str], float]:
        with pytest.raises(KeyError):  # cut before its answer started
            await _get(with_timeout, "/report")
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with anyio.fail_after(5):
            got = await _get(edge, "/report")
        return got, time.monotonic() - started

    async def run() -> tuple[tuple[int, str], float]:
        try:
            return await main()
        finally:
            aclose = getattr(edge.storage, "aclose", None)
            if aclose is not None:
                await aclose()

    got, took = asyncio.run(run())
    assert got == (200, "Miss from cloudfront")
    assert took < 1.0  # a new fetch at once, not a wait for the old one's lock
    assert edge._flights.events == {}


# -- ainvalidate with a string -------------------------------------------------------------------


@pytest.mark.redis
def test_ainvalidate_checks_its_paths_as_invalidate_does(redis_url: str) -> None:
    storage = RedisStorage(redis_url, distribution_id="D")
    try:
        for path in ("/images/a.png", "/css/site.css", "/index.html"):
            storage.set(entries.make_entry(path, path=path, now=time.time()))

        async def main() -> int:
            try:
                for bad in ("images/*", "/a*b", "/" + "x" * 4000):
                    with pytest.raises(ConfigurationError):
                        await storage.ainvalidate([bad])
                return await storage.ainvalidate("/images/*")
            finally:
                await storage.aclose()

        assert asyncio.run(main()) == 1
        kept = {p: storage.get(p) is not None for p in ("/images/a.png", "/css/site.css")}
        assert kept == {"/images/a.png": False, "/css/site.css": True}
    finally:
        storage.close()


# -- waiters behind a revalidation the origin failed ----------------------------------------------


def test_waiters_behind_a_failed_revalidation_get_the_kept_stale_copy(make_storage: Any) -> None:
    """Ten viewers of a stale object while the origin answers 503 after 0.5 s: one origin
    call, and every viewer gets the stale 200 (caching.md §1.4, §1.9, C33)."""
    state = {"fail": False, "calls": 0}
    lock = threading.Lock()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            state["calls"] += 1
        if state["fail"]:
            time.sleep(0.5)
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=10")])
        return [b"good"]

    now = [1_700_000_000.0]
    workers = [
        EdgeWSGIMiddleware(
            origin, config=EdgeConfig(), storage=make_storage(), clock=lambda: now[0]
        )
        for _ in range(2)  # two workers on one storage (one MemoryStorage each: two processes)
    ]
    assert Client(workers[0]).get("/a").status_code == 200
    now[0] += 15  # stale; the origin now fails
    state.update(fail=True, calls=0)
    answers: list[tuple[int, bytes]] = []

    def viewer() -> None:
        r = Client(workers[0]).get("/a")
        answers.append((r.status_code, r.get_data()))

    threads = [threading.Thread(target=viewer) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [(200, b"good")] * 10
    assert state["calls"] == 1


# -- passwords in a URL's query ------------------------------------------------------------------


def test_a_password_in_the_query_is_masked() -> None:
    assert redact("redis://h:1/0?password=sec&db=2") == "redis://h:1/0?password=***&db=2"
    assert redact("unix:///run/r.sock?db=1&password=x") == "unix:///run/r.sock?db=1&password=***"
    assert redact("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact("unix:///run/r.sock") == "unix:///run/r.sock"
    with pytest.raises(ConfigurationError) as info:
        RedisStorage("redis://127.0.0.1:1/0?password=sec&bogus=1")
    assert "sec" not in str(info.value)


# -- Redis that refuses writes --------------------------------------------------------------------


@pytest.mark.redis
def test_refused_writes_warn_once_per_outage(
    redis_server_factory: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """A full Redis (maxmemory, noeviction) refuses each object but takes the small commands
    ending a fill lock: that success closed the breaker, and every miss logged a warning."""
    server = redis_server_factory()
    client = redis.Redis.from_url(server.url)
    client.config_set("maxmemory", "2mb")
    client.close()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "max-age=3000")])
        return [b"x" * 100_000]

    storage = RedisStorage(server.url, distribution_id="D", retry_after=30)
    try:
        viewer = Client(EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=storage))
        with caplog.at_level(logging.WARNING, "edge_middleware.cache"):
            for i in range(60):  # full after about 15 objects; then every store is refused
                assert viewer.get(f"/page/{i}").status_code == 200
        refused = [r for r in caplog.records if "during" in r.getMessage()]
        assert len(refused) == 1 and "refused a write during set" in refused[0].getMessage()
    finally:
        storage.close()


# -- errors are not kept past their TTL ------------------------------------------------------------


def test_an_error_without_validators_is_not_kept_past_its_ttl(make_storage: Any) -> None:
    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/tagged":
            start_response("404 Not Found", [("ETag", '"v1"')])
        else:
            start_response("404 Not Found", [])
        return [b"nope"]

    now = time.time()
    storage = make_storage()
    stored: dict[str, CacheEntry] = {}
    store = storage.set

    def spy(entry: CacheEntry) -> None:
        stored[entry.path] = entry
        store(entry)

    storage.set = spy  # type: ignore[method-assign]
    viewer = Client(
        EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=storage, clock=lambda: now)
    )
    viewer.get("/scan")
    viewer.get("/tagged")
    assert stored["/scan"].retain_until == stored["/scan"].fresh_until == now + 10
    # with a validator it may still be revalidated (304): kept for the revalidation grace
    assert stored["/tagged"].retain_until > stored["/tagged"].fresh_until + 3600
    if isinstance(storage, RedisStorage):
        ttl = storage._client.ttl(storage._space.entry_key(stored["/scan"].key))
        assert 0 < ttl <= 11


# -- an invalidation during a fetch, under other traffic ---------------------------------------


def test_an_invalidation_during_a_fetch_holds_however_many_keys_miss_meanwhile(
    make_storage: Any,
) -> None:
    """The lookup notes were cleared once 4,096 keys had missed (HEADs, no-store answers):
    the fetch in flight lost its note, and the object it fetched before the invalidation was
    stored and served as a Hit (caching.md §1.10)."""
    version = {"v": b"v1"}
    release = threading.Event()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/price.json":
            body = version["v"]  # the content as the fetch started
            release.wait(10)
        else:
            body = b"x"
        start_response("200 OK", [("Cache-Control", "max-age=3600")])
        return [body]

    edge = EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=make_storage())
    viewer = Client(edge)
    fetch = threading.Thread(target=viewer.get, args=("/price.json",))
    fetch.start()
    while not edge._flights.events:  # the fetch is in flight
        time.sleep(0.005)
    version["v"] = b"v2"
    edge.invalidate(["/price.json"])
    for i in range(4200):  # other traffic that stores nothing
        viewer.head(f"/img/{i}.png")
    release.set()
    fetch.join()
    again = viewer.get("/price.json")
    assert (again.headers["X-Cache"], again.get_data()) == ("Miss from cloudfront", b"v2")


def test_a_second_fetch_in_flight_is_judged_by_its_own_lookup(make_storage: Any) -> None:
    """Two fetches of one key in flight, each in its request's context (cookies in the key: no
    collapsing): the first one's store took the key's only note, and the second, fetched
    before an invalidation, was stored after it and served as a Hit (race hunt of
    2026-12-08; caching.md §1.10)."""
    storage = make_storage()
    first, second = contextvars.copy_context(), contextvars.copy_context()
    now = time.time()
    assert first.run(storage.get, "k") is None
    assert second.run(storage.get, "k") is None  # before the first is stored
    first.run(storage.set, entries.make_entry("k", path="/k", body=b"first", now=now))
    assert storage.invalidate(["/k"]) == 1
    second.run(storage.set, entries.make_entry("k", path="/k", body=b"second", now=now))
    assert storage.get("k") is None


@pytest.mark.parametrize("waiters", ["GET", "HEAD"])
def test_after_an_invalidation_the_next_fetch_is_stored(make_storage: Any, waiters: str) -> None:
    """Requests that looked the key up and stored nothing (collapsed waiters, HEADs) leave the
    next fetch after an invalidation stored: one Miss, then Hits (the first version of the
    fix above kept a note per lookup, and four fetches in a row were refused)."""
    calls = []
    release = threading.Event()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls.append(environ["REQUEST_METHOD"])
        if len(calls) == 1:
            release.wait(10)
        start_response("200 OK", [("Cache-Control", "max-age=3600")])
        return [b"x"]

    edge = EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=make_storage())
    viewer = Client(edge)
    first = threading.Thread(target=viewer.get, args=("/x",))
    first.start()
    while not edge._flights.events:
        time.sleep(0.005)
    others = [
        threading.Thread(target=getattr(viewer, waiters.lower()), args=("/x",)) for _ in range(3)
    ]
    for t in others:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in [first, *others]:
        t.join(10)
    edge.invalidate(["/x"])
    got = [viewer.get("/x").headers["X-Cache"] for _ in range(3)]
    assert got == ["Miss from cloudfront", "Hit from cloudfront", "Hit from cloudfront"]


def test_a_wsgi_refresh_in_flight_is_judged_by_its_requests_lookup(make_storage: Any) -> None:
    """A stale-while-revalidate refresh fetched before an invalidation, on the WSGI door's
    refresh thread: it ran in a context of its own (no lookup there), the key's note was taken
    by the Miss after the invalidation, and the refresh's old body replaced the new one as a
    Hit (regression hunt of 2026-12-08). The ASGI door's refresh task copies the request's
    context; the WSGI door's thread now runs in a copy too."""
    state = {"gen": 0}
    release = threading.Event()
    now = [time.time()]

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = f"gen={state['gen']}".encode()
        if environ.get("HTTP_X_SLOW"):
            release.wait(10)
        start_response("200 OK", [("Cache-Control", "max-age=1, stale-while-revalidate=60")])
        return [body]

    keyed = CachePolicy(0, 86400, 31536000, cookies="whitelist", cookie_names=("s",))
    policy = OriginRequestPolicy(headers="whitelist", header_names=("x-slow",))
    config = EdgeConfig(default=Behavior(cache=keyed, origin_request_policy=policy))
    edge = EdgeWSGIMiddleware(origin, config=config, storage=make_storage(), clock=lambda: now[0])
    viewer = Client(edge)
    cookie = {"Cookie": "s=1"}
    assert viewer.get("/k", headers=cookie).get_data() == b"gen=0"
    now[0] += 5  # stale: served, and a refresh starts (its origin waits)
    assert viewer.get("/k", headers={**cookie, "X-Slow": "1"}).get_data() == b"gen=0"
    state["gen"] = 1
    edge.invalidate(["/k"])
    fresh = viewer.get("/k", headers=cookie)
    assert (fresh.headers["X-Cache"], fresh.get_data()) == ("Miss from cloudfront", b"gen=1")
    release.set()
    wait_until(lambda: not edge._background, 10, "the refresh to end")
    assert viewer.get("/k", headers=cookie).get_data() == b"gen=1"


def _invalidated_during_the_first_fetch(
    edge: EdgeWSGIMiddleware, path: str, started: threading.Event, go_on: threading.Event, **kw: Any
) -> tuple[str, bytes]:
    """The first GET's fetch is held while ``path`` is invalidated; the next GET's answer."""
    viewer = Client(edge)
    first = threading.Thread(target=lambda: viewer.get(path, **kw).get_data())  # (read whole)
    first.start()
    assert started.wait(10)
    edge.invalidate([path])
    go_on.set()
    first.join(10)
    again = viewer.get(path, **kw)
    return again.headers["X-Cache"], again.get_data()


def test_a_refused_store_leaves_the_object_stored_after_the_invalidation(
    make_storage: Any,
) -> None:
    """The fetch made before an invalidation is refused; the object another request stored
    after the invalidation stays (it was deleted on MemoryStorage, overwritten on Redis, and
    fetched a third time; regression hunt of 2026-12-08)."""
    storage = make_storage()
    early, late = contextvars.copy_context(), contextvars.copy_context()
    now = time.time()
    assert early.run(storage.get, "k") is None  # its fetch is in flight ...
    storage.invalidate(["/k"])  # ... when the invalidation comes
    assert late.run(storage.get, "k") is None
    late.run(storage.set, entries.make_entry("k", path="/k", body=b"new", now=now))
    early.run(storage.set, entries.make_entry("k", path="/k", body=b"old", now=now))
    got = storage.get("k")
    assert got is not None and got.body == b"new"


def test_a_206_fetched_during_an_invalidation_is_not_stored_after_it(make_storage: Any) -> None:
    """A 206's store looks the key up again (is the whole object stored?): that second lookup
    replaced the request's own, and the part fetched before the invalidation was judged as
    looked up after it, stored and served as a Hit (regression hunt of 2026-12-08)."""
    calls, started, go_on = [0], threading.Event(), threading.Event()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls[0] += 1
        if calls[0] == 1:
            started.set()
            go_on.wait(10)
        body = f"v{calls[0]}".encode() * 10
        start_response(
            "206 Partial Content",
            [("Cache-Control", "max-age=600"), ("Content-Range", f"bytes 0-9/{len(body) * 9}")],
        )
        return [body[:10]]

    edge = EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=make_storage())
    got = _invalidated_during_the_first_fetch(
        edge, "/r", started, go_on, headers={"Range": "bytes=0-9"}
    )
    assert got == ("Miss from cloudfront", b"v2v2v2v2v2")


def test_a_streamed_error_fetched_during_an_invalidation_is_not_stored_after_it(
    make_storage: Any,
) -> None:
    """A streamed 404 whose custom error page fails: its bodiless copy was stored first, which
    took the request's lookup; the whole error, stored once it ended after an invalidation,
    had nothing to be judged by, and was served from the cache (regression hunt)."""
    calls, started, go_on = [0], threading.Event(), threading.Event()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"] == "/404.html":
            start_response("500 Internal Server Error", [])
            return [b"page broken"]
        calls[0] += 1
        n = calls[0]

        def body() -> Any:
            yield f"error-v{n} ".encode()
            if n == 1:
                started.set()
                go_on.wait(10)
            yield b"end"

        start_response("404 Not Found", [("Cache-Control", "max-age=600")])
        return body()

    config = EdgeConfig(
        custom_error_responses=[
            CustomErrorResponse(404, "/404.html", 404, error_caching_min_ttl=300)
        ]
    )
    edge = EdgeWSGIMiddleware(origin, config=config, storage=make_storage())
    got = _invalidated_during_the_first_fetch(edge, "/x", started, go_on)
    assert got[1] == b"error-v2 end"


def test_lookup_notes_keep_the_earliest_and_forget_the_oldest() -> None:
    notes: LookupNotes[int] = LookupNotes()
    notes.LIMIT = 3
    for i, key in enumerate("abcdb"):  # one request each: the key's earliest note counts
        contextvars.copy_context().run(notes.note, key, i + 95 if i == 4 else i)
    assert "a" not in notes and len(notes) == 3
    assert (notes.take("b"), notes.take("b"), notes.take("d")) == (1, None, 3)
    old: LookupNotes[int] = LookupNotes()
    old.HORIZON = 0.0  # every note is older than the horizon: the next note makes room
    old.note("x", 1)
    old.note("y", 2)
    assert "x" not in old and old.take("y") == 2


def test_a_requests_own_earliest_lookup_judges_each_of_its_stores() -> None:
    notes: LookupNotes[int] = LookupNotes()

    def request() -> tuple[int | None, ...]:
        new_request()
        notes.note("k", 1)
        notes.note("k", 2)  # a second lookup (a 206's check for the whole object): not it
        return notes.take("k"), notes.take("k")  # (a bodiless error, then the whole one)

    assert contextvars.copy_context().run(request) == (1, 1)
    assert notes.take("k") is None  # another context: the key's note, taken already


# -- stale-while-revalidate across workers --------------------------------------------------------


@pytest.mark.redis
def test_one_background_refresh_however_many_workers_serve_the_stale_copy(
    redis_url: str,
) -> None:
    """C35: exactly one background origin call. Each worker serving the stale copy started
    its own refresh (four workers: four calls); the refresh now leads a fetch as a miss
    does, through the storage's fill lock."""
    calls: list[float] = []
    release = threading.Event()

    def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls.append(time.monotonic())
        if len(calls) > 1:
            release.wait(5)  # the refresh is still in flight while the others serve stale
        start_response("200 OK", [("Cache-Control", "max-age=10, stale-while-revalidate=60")])
        return [b"v"]

    now = [1_700_000_000.0]
    storages = [RedisStorage(redis_url, distribution_id="W") for _ in range(4)]
    try:
        workers = [
            EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=s, clock=lambda: now[0])
            for s in storages
        ]
        assert Client(workers[0]).get("/a").headers["X-Cache"] == "Miss from cloudfront"
        now[0] += 15  # stale, inside the stale-while-revalidate window
        labels = [Client(worker).get("/a").headers["X-Cache"] for worker in workers]
        assert labels == ["Hit from cloudfront"] * 4
        time.sleep(0.3)  # every worker's refresh has started (or found the fill lock taken)
        release.set()
        for worker in workers:
            for future in list(worker._background.values()):
                future.result(10)
        assert len(calls) == 2  # the first fetch, and one refresh
    finally:
        for s in storages:
            s.close()


@pytest.mark.redis
def test_a_hot_object_is_checked_against_later_invalidations_once(redis_url: str) -> None:
    """Every hit on an object stored before later invalidations (of other paths) checked all
    of them again: 6-9 ms a hit after 30,000 patterns. The check is kept with the decoded
    object, for the same stored bytes."""
    storage = RedisStorage(redis_url, distribution_id="D")
    try:
        storage.set(entries.make_entry("/home", path="/home", now=time.time()))
        storage.invalidate([f"/assets/{i}.js" for i in range(50)])
        checks = 0
        check = storage._space._invalidated

        def counted(entry: CacheEntry) -> bool:
            nonlocal checks
            checks += 1
            return check(entry)

        storage._space._invalidated = counted  # type: ignore[method-assign]
        assert all(storage.get("/home") is not None for _ in range(5))
        assert checks == 1
        storage.invalidate(["/home"])  # a new invalidation that matches is still seen
        assert storage.get("/home") is None
    finally:
        storage.close()


@pytest.mark.redis
def test_invalidate_without_an_id_reaches_a_distribution_id_given_to_the_workers(
    redis_url: str,
) -> None:
    """``edge-middleware invalidate --redis URL`` (a storage with no id) reached adopted
    namespaces only: workers given ``distribution_id=`` kept serving the object."""
    worker = RedisStorage(redis_url, distribution_id="E2QWRUHEXAMPLE")
    cli = RedisStorage(redis_url)
    try:
        worker.set(entries.make_entry("/index.html", path="/index.html", now=time.time()))
        assert worker.get("/index.html") is not None
        cli.invalidate(["/index.html"])
        assert worker.get("/index.html") is None
    finally:
        worker.close()
        cli.close()
