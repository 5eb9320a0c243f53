"""A custom error page stands in for an origin error whose body is still streaming: the page
goes out without reading that body to its end (the viewer waited for a slow 5xx body, for ever
for an endless one), and the error is still cached for its ErrorCachingMinTTL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeSettings,
    Origin,
    OriginGroup,
)
from tests.support import doors

#: chunks of the streamed 503 body (the old code read them all before answering)
CHUNKS = 400


def _small_objects() -> EdgeConfig:
    """The custom page for 503, with objects of at most 10,000 bytes."""
    return EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600)),
        custom_error_responses=[CustomErrorResponse(503, "/errors/503.html", 503, 30)],
        settings=EdgeSettings(max_object_bytes=10_000),
    )


def _config(*page_behaviors: Behavior) -> EdgeConfig:
    return EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600)),
        behaviors=list(page_behaviors),
        custom_error_responses=[CustomErrorResponse(503, "/errors/503.html", 503, 30)],
    )


class _Origin:
    def __init__(self, page: bool = True) -> None:
        self.page = page  # the error page exists (else a 404)
        self.pages = 0  # requests for the page
        self.errors = 0  # requests for the erroring object
        self.sent = 0  # chunks of its body sent
        self.finished = False  # the whole body was sent

    async def asgi(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/errors/503.html":
            self.pages += 1
            await send({"type": "http.response.start", "status": 200 if self.page else 404})
            await send({"type": "http.response.body", "body": b"the page"})
            return
        self.errors += 1
        await send({"type": "http.response.start", "status": 503, "headers": []})
        for _ in range(CHUNKS):
            await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
            self.sent += 1
            await asyncio.sleep(0.002)
        await send({"type": "http.response.body", "body": b""})
        self.finished = True

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/errors/503.html":
            self.pages += 1
            start_response("200 OK" if self.page else "404 Not Found", [])
            return [b"the page"]
        self.errors += 1
        start_response("503 Service Unavailable", [])
        return self._body()

    def _body(self) -> Iterator[bytes]:
        for _ in range(CHUNKS):
            yield b"x" * 10
            self.sent += 1
            time.sleep(0.002)
        self.finished = True


def _get(kind: str, app: Any) -> tuple[int, bytes]:
    if kind == "asgi":
        sent = doors.call_asgi(app, doors.asgi_scope("/x"))
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])
    status_line, _, body = doors.call_wsgi(app, "GET", "/x")
    return int(status_line.split()[0]), body


@pytest.mark.parametrize("kind", doors.DOORS)
def test_the_page_does_not_wait_for_the_streaming_error_body(kind: str) -> None:
    origin = _Origin()
    app = doors.wrap(kind, origin.asgi if kind == "asgi" else origin.wsgi, _config())
    for _ in range(2):
        assert _get(kind, app) == (503, b"the page")
    # the body was not read on for the page (the old code read all of it first) ...
    assert not origin.finished and origin.sent < CHUNKS // 2
    # ... and the error is cached all the same: the second request did not reach the origin
    assert origin.errors == 1


@pytest.mark.parametrize("kind", doors.DOORS)
def test_without_a_page_the_streaming_error_goes_out_whole(kind: str) -> None:
    """The page's fetch closed the error's stream: the viewer got the first chunk as the
    whole body, and it was stored so (the page is now fetched beside the error's stream)."""
    origin = _Origin(page=False)
    app = doors.wrap(kind, origin.asgi if kind == "asgi" else origin.wsgi, _config())
    for _ in range(2):
        assert _get(kind, app) == (503, b"x" * 10 * CHUNKS)
    assert origin.errors == 1 and origin.finished


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_page_its_behavior_does_not_cache_is_kept_with_the_streaming_error(kind: str) -> None:
    """caching.md §1.4: the page "is cached instead, with the same durations"."""
    origin = _Origin()
    page_behavior = Behavior(path_pattern="/errors/*", cache=CachePolicy(0, 0, 0))
    app = doors.wrap(kind, origin.asgi if kind == "asgi" else origin.wsgi, _config(page_behavior))
    for _ in range(3):
        assert _get(kind, app) == (503, b"the page")
    assert (origin.errors, origin.pages) == (1, 1)


# -- whole fetches (pages, refreshes) -------------------------------------------------------------
class _Group:
    """An origin group: the primary answers every path with a 503 whose body never ends (until
    its send fails, or it is closed), the secondary has the page."""

    def __init__(self) -> None:
        self.primary_chunks = 0

    async def down(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        try:
            while self.primary_chunks < 100_000:
                await send({"type": "http.response.body", "body": b"d" * 10, "more_body": True})
                self.primary_chunks += 1
                await asyncio.sleep(0)
        except OSError:  # the edge dropped it: the send fails, as behind a server
            return

    async def backup(self, scope: Any, receive: Any, send: Any) -> None:
        page = scope["path"].startswith("/errors/")
        await send({"type": "http.response.start", "status": 200 if page else 503})
        await send({"type": "http.response.body", "body": b"the page" if page else b"down"})

    def wdown(self, environ: dict[str, Any], start_response: Any) -> Any:
        start_response("503 Service Unavailable", [])
        return self._endless()

    def _endless(self) -> Iterator[bytes]:
        while self.primary_chunks < 100_000:
            self.primary_chunks += 1
            yield b"d" * 10

    def wbackup(self, environ: dict[str, Any], start_response: Any) -> Any:
        page = environ["PATH_INFO"].startswith("/errors/")
        start_response("200 OK" if page else "503 Service Unavailable", [])
        return [b"the page" if page else b"down"]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_page_through_a_group_whose_primary_streams_a_5xx_is_not_read_whole(kind: str) -> None:
    """The page's fetch read the primary's whole body before the group failed over: an
    endless 503 held the viewer for ever (docs/distributions.md: the primary is dropped at
    once on its status)."""
    group = _Group()
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600), target_origin_id="site"),
        origins=[Origin("main"), Origin("backup")],
        origin_groups=[OriginGroup("site", ("main", "backup"), (503,))],
        custom_error_responses=[CustomErrorResponse(503, "/errors/503.html", 503, 30)],
    )
    if kind == "asgi":
        app = doors.wrap(kind, group.down, config, origins={"backup": group.backup})
    else:
        app = doors.wrap(kind, group.wdown, config, origins={"backup": group.wbackup})
    assert _get(kind, app) == (503, b"the page")
    assert group.primary_chunks < 1000


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_whole_fetch_stops_at_max_object_bytes(kind: str) -> None:
    """A custom error page that never ends was read into memory for ever (and so was a
    stale-while-revalidate refresh): past max_object_bytes it is no page, and the error goes
    out as it came."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] != "/errors/503.html":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"error"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for _ in range(100_000):
                await send({"type": "http.response.body", "body": b"p" * 100, "more_body": True})
        except OSError:
            return

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] != "/errors/503.html":
            start_response("503 Service Unavailable", [])
            return [b"error"]
        start_response("200 OK", [])
        return (b"p" * 100 for _ in range(100_000))

    app = doors.wrap(kind, asgi if kind == "asgi" else wsgi, _small_objects())
    assert _get(kind, app) == (503, b"error")


async def _within(app: Any, path: str) -> tuple[int, bytes]:
    sent = await doors.request_within(app, doors.asgi_scope(path), 5.0)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _answers_then_waits(
    scope: Any, receive: Any, send: Any, status: int, body: bytes
) -> None:
    """An app that, its answer sent, waits for the viewer to go (as Starlette's streaming
    responses and background tasks may)."""
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})
    while (await receive())["type"] != "http.disconnect":
        pass


def test_a_page_app_that_goes_on_after_its_answer_does_not_hold_the_viewer() -> None:
    """The page's stream was closed (its app awaited to its end) before the viewer got the
    page: an app waiting for the viewer to go, after its answer, never let it have it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/errors/503.html":
            await _answers_then_waits(scope, receive, send, 200, b"the page")
        else:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"error"})

    assert asyncio.run(_within(doors.wrap("asgi", app, _config()), "/x")) == (503, b"the page")


def test_a_refresh_whose_app_goes_on_after_its_answer_is_stored() -> None:
    """The refresh's stream was closed (its app awaited to its end) before the refresh ended,
    and the app waited for the (absent) viewer to go, which it hears only then: the refresh
    never ended, stored nothing, and the key was never refreshed again."""
    now = [1_000_000.0]
    versions = iter([b"v1", b"v2", b"v3"])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"cache-control", b"max-age=1, stale-while-revalidate=600")],
            }
        )
        await send({"type": "http.response.body", "body": next(versions)})
        while (await receive())["type"] != "http.disconnect":
            pass

    edge = doors.wrap(
        "asgi",
        app,
        EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600))),
        clock=lambda: now[0],
    )

    async def main() -> list[bytes]:
        got = [(await _within(edge, "/obj"))[1]]
        now[0] += 5  # stale: served, and refreshed in the background
        got.append((await _within(edge, "/obj"))[1])
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not edge._background:
                break
        got.append((await _within(edge, "/obj"))[1])
        return got

    assert asyncio.run(main()) == [b"v1", b"v1", b"v2"]


def test_a_request_cancelled_after_its_page_leaves_no_app_running() -> None:
    """Cancelled (a server's request timeout or shutdown) while the error's app was awaited to
    its end, the request skipped closing the page's stream: the page app's task stayed."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        page = scope["path"] == "/errors/503.html"
        await send({"type": "http.response.start", "status": 200 if page else 503})
        await send({"type": "http.response.body", "body": b"the page" if page else b"error"})
        await asyncio.sleep(30)  # work after the answer (a background task)

    edge = doors.wrap("asgi", app, _config())

    async def main() -> list[asyncio.Task[Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # the viewer never goes
            return {}

        async def record(message: dict[str, Any]) -> None:
            sent.append(message)

        request = asyncio.ensure_future(edge(doors.asgi_scope("/x"), receive, record))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if any(not m.get("more_body", True) for m in sent if "body" in m):
                break
        assert b"".join(m.get("body", b"") for m in sent[1:]) == b"the page"
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
        await asyncio.sleep(0.05)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in left:
            task.cancel()
        return left

    assert asyncio.run(main()) == []


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_page_over_max_object_bytes_in_one_piece_is_no_page(kind: str) -> None:
    """Only a page that streamed was measured: one that came whole was used at any size."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        page = scope["path"] == "/errors/503.html"
        await send({"type": "http.response.start", "status": 200 if page else 503})
        await send({"type": "http.response.body", "body": b"p" * 30_000 if page else b"error"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        page = environ["PATH_INFO"] == "/errors/503.html"
        start_response("200 OK" if page else "503 Service Unavailable", [])
        return [b"p" * 30_000 if page else b"error"]

    app = doors.wrap(kind, asgi if kind == "asgi" else wsgi, _small_objects())
    assert _get(kind, app) == (503, b"error")


def test_on_a_queue_based_server_the_page_app_never_takes_the_viewers_disconnect() -> None:
    """hypercorn and daphne put one http.disconnect in the request's queue once the answer
    ended: the page's app, which listened to the viewer too, could take it, and the error's
    app waited for it for ever (so did the request)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        page = scope["path"] == "/errors/503.html"
        await _answers_then_waits(
            scope, receive, send, 200 if page else 503, b"p" if page else b"e"
        )

    edge = doors.wrap("asgi", app, _config())

    async def main() -> tuple[int, bytes]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        sent: list[dict[str, Any]] = []

        async def record(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                queue.put_nowait({"type": "http.disconnect"})  # once, as such a server does

        await asyncio.wait_for(edge(doors.asgi_scope("/x"), queue.get, record), 5)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    assert asyncio.run(main()) == (503, b"p")
