"""A Starlette app behind ``EdgeMiddleware`` with a shared ``RedisStorage`` (see the package
docstring). Run: ``uvicorn tests.worker_apps.asgi_worker:app``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from edge_middleware import EdgeMiddleware
from tests.worker_apps import BRIEF_CACHE_CONTROL, CACHE_CONTROL, CONFIG, record_call, redis_storage

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _answer(path: str, cache_control: str = CACHE_CONTROL) -> PlainTextResponse:
    record_call(path)
    return PlainTextResponse(
        f"{path} from {os.getpid()}",
        headers={"Cache-Control": cache_control, "X-Origin-Pid": str(os.getpid())},
    )


async def obj(request: Request) -> PlainTextResponse:
    return _answer(request.url.path)


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(1.0)
    return _answer(request.url.path)


async def brief(request: Request) -> PlainTextResponse:
    await asyncio.sleep(1.0)
    return _answer(request.url.path, BRIEF_CACHE_CONTROL)


async def hold(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.path_params["seconds"]))
    return PlainTextResponse("held", headers={"X-Origin-Pid": str(os.getpid())})


origin = Starlette(
    routes=[
        Route("/obj/{name}", obj),
        Route("/slow/{name}", slow),
        Route("/brief/{name}", brief),
        Route("/hold/{seconds}", hold),
    ]
)
edge = EdgeMiddleware(origin, config=CONFIG, storage=redis_storage())


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """``edge`` plus ``X-Worker-Pid`` on every response (outside the edge: hits too)."""
    if scope["type"] != "http":
        await edge(scope, receive, send)
        return
    pid = str(os.getpid()).encode()

    async def send_with_pid(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), (b"x-worker-pid", pid)]
        await send(message)

    await edge(scope, receive, send_with_pid)
