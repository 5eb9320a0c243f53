"""Where and how long a Python handler runs (handler runtime hunt of 2026-12-07, third
session): a sync handler moved inline by ``auto`` mode still has no running event loop, one
that timed out is never moved inline, and an ``async def`` handler that swallows its
cancellation still gets CloudFront's 503 at its deadline."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
)
from edge_middleware.core.handlers import PROVEN_CALLS
from edge_middleware.exceptions import LambdaTimeoutError
from edge_middleware.testing import EventBuilder, run_trigger
from tests.support.doors import asgi_scope, call_asgi, call_wsgi, ok_asgi, ok_wsgi

NO_CACHE = CachePolicy(0, 0, 0)


def _asgi_status(mw: Any, path: str = "/") -> int:
    sent = call_asgi(mw, asgi_scope(path))
    return int(sent[0]["status"])


def _wsgi_status(mw: Any, path: str = "/") -> int:
    return int(call_wsgi(mw, "GET", path)[0][:3])


async def _answer() -> str:
    await asyncio.sleep(0)
    return "from asyncio.run"


def uses_asyncio_run(event: dict[str, Any], context: Any) -> Any:
    """The usual way to use an async library from a sync Lambda handler."""
    request = event["Records"][0]["cf"]["request"]
    value = asyncio.run(_answer())
    request["headers"]["x-made"] = [{"key": "X-Made", "value": value}]
    return request


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_sync_handler_answers_the_same_after_auto_mode_moves_it_inline(kind: str) -> None:
    """On Lambda a sync handler never has a running event loop. Once ``auto`` mode had proved
    it fast and run it on the ASGI event loop's thread, its ``asyncio.run()`` raised
    "cannot be called from a running event loop": [200 x 8, 503, 503, ...]."""
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=uses_asyncio_run))
    if kind == "asgi":
        mw: Any = EdgeMiddleware(ok_asgi, config=config)
        statuses = [_asgi_status(mw) for _ in range(PROVEN_CALLS + 4)]
    else:
        mw = EdgeWSGIMiddleware(ok_wsgi, config=config)
        statuses = [_wsgi_status(mw) for _ in range(PROVEN_CALLS + 4)]
    assert statuses == [200] * (PROVEN_CALLS + 4)


def test_an_inline_handler_sees_no_running_loop_and_the_loop_goes_on() -> None:
    seen: list[bool] = []

    def look(event: dict[str, Any], context: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append(False)
        else:
            seen.append(True)
        return event["Records"][0]["cf"]["request"]

    settings = EdgeSettings(handler_mode="inline")
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=look), settings=settings)
    mw = EdgeMiddleware(ok_asgi, config=config)

    async def main() -> asyncio.AbstractEventLoop:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await mw(asgi_scope("/"), receive, send)
        assert sent[0]["status"] == 200
        return asyncio.get_running_loop()  # still this loop after the inline call

    assert asyncio.run(main()) is not None
    assert seen == [False]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_handler_that_timed_out_is_never_moved_inline(kind: str) -> None:
    """README: a handler that hangs never blocks the event loop. Its timed-out call was
    counted only when the worker finished, so eight fast calls in between moved it inline and
    its next hang stalled the loop (its 503 came when it returned, not at the deadline)."""
    where: list[str] = []
    release = threading.Event()

    def sometimes_hangs(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        on_main = threading.current_thread() is threading.main_thread()
        where.append("caller" if on_main else "worker")
        if request["uri"] == "/hang":
            release.wait(5)
        return request

    settings = EdgeSettings(viewer_timeout=0.2)
    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=sometimes_hangs), settings=settings
    )
    status = _asgi_status if kind == "asgi" else _wsgi_status
    mw: Any = (
        EdgeMiddleware(ok_asgi, config=config)
        if kind == "asgi"
        else EdgeWSGIMiddleware(ok_wsgi, config=config)
    )
    try:
        assert status(mw, "/hang") == 503
        fast = [status(mw, "/fast") for _ in range(PROVEN_CALLS + 2)]
    finally:
        release.set()
    assert fast == [200] * (PROVEN_CALLS + 2)
    assert where == ["worker"] * (PROVEN_CALLS + 3)


async def swallows_its_cancellation(event: dict[str, Any], context: Any) -> Any:
    while True:  # "retry until it works", with a broad except
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:  # the bug being emulated
            pass


async def keeps_its_own_timeout(event: dict[str, Any], context: Any) -> Any:
    """A handler's own asyncio.timeout cancels its task and takes the cancellation back."""
    try:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    except TimeoutError:
        pass
    await asyncio.sleep(0)
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("kind", ["asgi", "wsgi", "run_trigger"])
def test_an_async_handler_that_swallows_its_cancellation_gets_the_503(kind: str) -> None:
    """lambda-edge.md §3.4/§3.5: past its timeout, CloudFront's 503 LambdaExecutionError. The
    request waited for such a handler for ever, on both doors and in run_trigger."""
    settings = EdgeSettings(viewer_timeout=0.2)
    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=swallows_its_cancellation),
        settings=settings,
    )
    started = time.monotonic()
    if kind == "asgi":
        assert _asgi_status(EdgeMiddleware(ok_asgi, config=config)) == 503
    elif kind == "wsgi":
        assert _wsgi_status(EdgeWSGIMiddleware(ok_wsgi, config=config)) == 503
    else:
        with pytest.raises(LambdaTimeoutError):
            run_trigger(
                swallows_its_cancellation, EventBuilder().viewer_request("/"), settings=settings
            )
    assert time.monotonic() - started < 5  # (it never ended before)


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_an_async_handler_with_its_own_timeout_is_not_stopped(kind: str) -> None:
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=keeps_its_own_timeout))
    if kind == "asgi":
        assert _asgi_status(EdgeMiddleware(ok_asgi, config=config)) == 200
    else:
        assert _wsgi_status(EdgeWSGIMiddleware(ok_wsgi, config=config)) == 200
