"""One custom error page fetch for many errors at once (caching.md §1.9, request collapsing):
viewers whose different URLs all get a 404 stand for one ``/errors/404.html``, and a cached
error whose page is kept with it has one page fetch too. Each request fetched the page itself
before (the page's fetch was never collapsed), on both doors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
)
from edge_middleware.pipeline.effects import OriginResponse
from tests.support.doors import asgi_scope, call_wsgi, request_within
from tests.support.servers import wait_until

PAGE = "/errors/404.html"
CACHED_PAGE = EdgeConfig(
    default=Behavior(cache=CachePolicy()),
    custom_error_responses=[CustomErrorResponse(404, PAGE, None, 60)],
)
#: the page's own behavior does not cache it: it is kept with each cached error
HELD_PAGE = EdgeConfig(
    default=Behavior(cache=CachePolicy()),
    behaviors=[Behavior("/errors/*", cache=CachePolicy(0, 0, 0))],
    custom_error_responses=[CustomErrorResponse(404, PAGE, None, 60)],
)


class Origin:
    """Answers 404 for every path but the page; the page waits for ``open()`` (the first
    fetch is still in flight while the others come) and answers 503 while ``broken``."""

    def __init__(self) -> None:
        self.page_calls = 0
        self.broken = False
        self.gate = threading.Event()

    def page(self) -> tuple[int, bytes]:
        self.page_calls += 1
        return (503, b"down") if self.broken else (200, b"the page")

    def asgi(self) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            status, body = 404, b"origin: not found"
            if scope["path"] == PAGE:
                status, body = self.page()
                while not self.gate.is_set():
                    await asyncio.sleep(0.005)
            headers = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=60")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return app

    def wsgi(self) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            status, body = 404, b"origin: not found"
            if environ["PATH_INFO"] == PAGE:
                status, body = self.page()
                self.gate.wait(10)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            start_response(
                f"{status} {reason}",
                [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")],
            )
            return [body]

        return app


def asgi_burst(edge: EdgeMiddleware, origin: Origin, paths: list[str]) -> list[bytes]:
    async def one(path: str) -> bytes:
        sent = await request_within(edge, asgi_scope(path))
        return b"".join(m.get("body", b"") for m in sent[1:])

    async def main() -> list[bytes]:
        tasks = [asyncio.ensure_future(one(path)) for path in paths]
        await asyncio.to_thread(_open_when_waiting, edge._flights.events, origin, len(paths))
        return list(await asyncio.wait_for(asyncio.gather(*tasks), 10))

    return asyncio.run(main())


def wsgi_burst(edge: EdgeWSGIMiddleware, origin: Origin, paths: list[str]) -> list[bytes]:
    with ThreadPoolExecutor(len(paths)) as pool:
        futures = [pool.submit(call_wsgi, edge, "GET", path) for path in paths]
        _open_when_waiting(edge._flights.events, origin, len(paths))
        return [future.result(10)[2] for future in futures]


def _open_when_waiting(events: dict[str, Any], origin: Origin, viewers: int) -> None:
    """Let the page answer once the others wait for its fetch (or, before the fix, once every
    viewer is fetching it)."""
    wait_until(
        lambda: (
            origin.page_calls >= viewers
            or any(k.endswith("error page fetch") and e is not None for k, e in events.items())
        ),
        timeout=10,
    )
    threading.Timer(0.2, origin.gate.set).start()  # the rest join the flight meanwhile


Burst = Callable[[Any, Origin, list[str]], list[bytes]]
DOORS: dict[str, tuple[Callable[[Origin], Any], type, Burst]] = {
    "asgi": (Origin.asgi, EdgeMiddleware, asgi_burst),
    "wsgi": (Origin.wsgi, EdgeWSGIMiddleware, wsgi_burst),
}


@pytest.mark.parametrize("kind", DOORS)
def test_errors_of_many_urls_fetch_their_page_once(kind: str) -> None:
    make_app, door, burst = DOORS[kind]
    origin = Origin()
    edge = door(make_app(origin), config=CACHED_PAGE)
    bodies = burst(edge, origin, ["/a", "/b", "/c", "/d"])
    assert bodies == [b"the page"] * 4
    assert origin.page_calls == 1


@pytest.mark.parametrize("kind", DOORS)
def test_a_page_kept_with_a_cached_error_is_fetched_once(kind: str) -> None:
    make_app, door, burst = DOORS[kind]
    origin = Origin()
    origin.broken = True
    origin.gate.set()
    edge = door(make_app(origin), config=HELD_PAGE)
    # the error is cached (ErrorCachingMinTTL 60) with no page: the page's fetch failed
    assert burst(edge, origin, ["/missing"]) == [b"origin: not found"]
    assert origin.page_calls == 1
    origin.broken = False
    origin.gate.clear()
    # each viewer hits the cached error, which has no page kept: one of them fetches it
    bodies = burst(edge, origin, ["/missing"] * 4)
    assert bodies == [b"the page"] * 4
    assert origin.page_calls == 2


@pytest.mark.parametrize("kind", DOORS)
def test_the_page_asked_for_itself_beside_its_fetch(kind: str) -> None:
    """A viewer asking for the page itself is its own object (not the page fetch's flight):
    both get the page, and neither waits on the other for ever."""
    make_app, door, burst = DOORS[kind]
    origin = Origin()
    edge = door(make_app(origin), config=CACHED_PAGE)
    bodies = burst(edge, origin, ["/a", PAGE])
    assert bodies == [b"the page"] * 2


def test_two_workers_sharing_redis_fetch_the_page_once(redis_url: str) -> None:
    """Across processes the storage's fill lock collapses the page's fetch, as an object's:
    two WSGI "workers" (two middlewares) on one RedisStorage."""
    from edge_middleware import RedisStorage

    origin = Origin()
    workers = [
        EdgeWSGIMiddleware(origin.wsgi(), config=CACHED_PAGE, storage=RedisStorage(redis_url))
        for _ in range(2)
    ]
    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(call_wsgi, workers[i % 2], "GET", f"/{name}")
                for i, name in enumerate("abcd")
            ]
            wait_until(lambda: origin.page_calls >= 1, timeout=10)
            threading.Timer(0.3, origin.gate.set).start()
            bodies = [future.result(20)[2] for future in futures]
    finally:
        for worker in workers:
            worker.options.storage.close()
    assert bodies == [b"the page"] * 4
    assert origin.page_calls == 1


def _streaming_error_origin(kind: str, gate: threading.Event) -> Any:
    """``/slow``: a 503 whose body streams until ``gate``; ``/503.html`` cannot be had (a
    403); any other path: a plain 503."""
    if kind == "asgi":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            path, more = scope["path"], scope["path"] == "/slow"
            status = 403 if path == "/503.html" else 503
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": more})
            while more and not gate.is_set():
                await asyncio.sleep(0.01)
            if more:
                await send({"type": "http.response.body", "body": b"end"})

        return app

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        start_response("403 Forbidden" if path == "/503.html" else "503 Unavailable", [])
        yield b"x"
        if path == "/slow":
            gate.wait(10)
            yield b"end"

    return wsgi


@pytest.mark.parametrize("kind", DOORS)
def test_a_page_fetch_that_is_over_holds_nobody(kind: str) -> None:
    """An error whose page could not be had streams on to its viewer: the page's flight was
    held until that stream ended, and every other viewer whose error needs the page waited
    for it (185 s by default for an endless one)."""
    gate = threading.Event()
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy()),
        custom_error_responses=[CustomErrorResponse(503, "/503.html")],
    )
    door = EdgeMiddleware if kind == "asgi" else EdgeWSGIMiddleware
    edge = door(_streaming_error_origin(kind, gate), config=config)
    try:
        if kind == "asgi":

            async def main() -> bytes:
                slow = asyncio.ensure_future(request_within(edge, asgi_scope("/slow")))
                await asyncio.sleep(0.3)  # it streams, its page's fetch is over
                quick = await request_within(edge, asgi_scope("/quick"), 3)
                gate.set()
                await slow
                return b"".join(m.get("body", b"") for m in quick[1:])

            assert asyncio.run(main()) == b"x"
        else:
            with ThreadPoolExecutor(2) as pool:
                slow = pool.submit(call_wsgi, edge, "GET", "/slow")
                time.sleep(0.3)
                quick = pool.submit(call_wsgi, edge, "GET", "/quick")
                assert quick.result(3)[2] == b"x"
                gate.set()
                slow.result(10)
    finally:
        gate.set()


def test_a_page_stored_before_this_request_leads_is_not_fetched_again() -> None:
    """A process that took another's expired fill lock over leads the page's flight, with the
    page stored already: each worker fetched it again, in turn (regression hunt: 4 fetches
    for 4 workers, viewers waiting 4.6 s). The leader looks again before it fetches."""
    from dataclasses import dataclass

    from edge_middleware.pipeline import Pipeline
    from edge_middleware.pipeline.effects import FetchOrigin, JoinFlight
    from tests.support.storage import make_entry
    from tests.test_pipeline_states import NOW, FakeDoor, viewer

    @dataclass
    class TakesOver(FakeDoor):
        """Leads the page's flight once another process has stored the page."""

        def perform(self, effect: Any) -> Any:
            if isinstance(effect, JoinFlight) and effect.key.endswith("\x00error page fetch"):
                self.effects.append(effect)
                key = effect.key.split("\x00")[0]  # the page's own key
                self.cache[key] = make_entry(key, path=PAGE, now=NOW, body=b"stored page")
                return True
            return super().perform(effect)

    pipeline = Pipeline(CACHED_PAGE, clock=lambda: NOW, request_id=lambda: "REQ==")
    door = TakesOver()
    door.origin = OriginResponse(404, [(b"content-type", b"text/plain")], b"not found")
    outcome = door.run(pipeline, viewer("/missing"))
    assert (outcome.status, outcome.body) == (404, b"stored page")
    assert [e.request.get("uri") for e in door.effects if isinstance(e, FetchOrigin)] == [
        "/missing"
    ]  # the object only: never the page again
