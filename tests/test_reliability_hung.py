"""Hung sync handlers cannot take a server down (issue 16, item 1), tested from outside: real
HTTP on 127.0.0.1 through each front door (``EdgeMiddleware`` under uvicorn, ``EdgeWSGIMiddleware``
under werkzeug's threaded server), so the test holds whatever runs the handlers.

More requests than there are worker threads (the segment pool had 256) ask for a sync
viewer-request handler that hangs. CloudFront (lambda-edge.md §3.4, §3.5) gives each of them a 503
``LambdaExecutionError`` once its timeout has passed, counted from when the request asked for the
handler, whether or not a worker was free; requests that need no handler keep being answered
while the hung handlers still hold their threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
)
from tests.support.servers import uvicorn_server, werkzeug_server

#: More hung requests than the old segment pool had workers.
HUNG = 300
#: A handler's timeout here (CloudFront's 5 s, shortened through the settings).
TIMEOUT = 0.5
#: How long a hung handler holds its thread at most (the test releases it sooner).
HANG_LIMIT = 60.0
#: A request still unanswered after this long counts as stalled (the bug); bounded run.
CLIENT_LIMIT = 20.0
EXECUTION_ERROR = "LambdaExecutionError from cloudfront"


def _config(release: threading.Event) -> EdgeConfig:
    def hang(event: dict[str, Any], context: Any) -> Any:
        release.wait(HANG_LIMIT)
        return event["Records"][0]["cf"]["request"]

    return EdgeConfig(
        behaviors=[Behavior("/hang/*", viewer_request=hang, cache=CachePolicy(0, 0, 0))],
        settings=EdgeSettings(viewer_timeout=TIMEOUT, origin_timeout=TIMEOUT),
    )


def _starlette_origin() -> Starlette:
    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"plain {request.url.path}")

    return Starlette(routes=[Route("/{rest:path}", plain)])


def _flask_origin() -> Flask:
    app = Flask("hung")

    @app.route("/<path:rest>")
    def plain(rest: str) -> str:
        return f"plain /{rest}"

    return app


def _asgi_server(release: threading.Event) -> contextlib.AbstractContextManager[int]:
    app = EdgeMiddleware(_starlette_origin(), config=_config(release))
    return uvicorn_server(app, backlog=2048)


def _wsgi_server(release: threading.Event) -> contextlib.AbstractContextManager[int]:
    app = EdgeWSGIMiddleware(_flask_origin().wsgi_app, config=_config(release))
    return werkzeug_server(app, quiet=False, backlog=2048)


Server = Callable[[threading.Event], contextlib.AbstractContextManager[int]]


async def _get(port: int, path: str) -> tuple[int, str, bytes]:
    """One GET on its own connection: (status, X-Cache, body); status 0 if it stalled."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), CLIENT_LIMIT
        )
    except TimeoutError:
        return 0, "", b"no connection"
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: hung.test\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), CLIENT_LIMIT)
    except TimeoutError:
        return 0, "", b"stalled"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    x_cache = [
        v.strip() for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "x-cache"
    ]
    return int(lines[0].split()[1]), (x_cache or [""])[0], body


async def _scenario(port: int) -> tuple[list[Any], list[Any], list[Any]]:
    """HUNG requests to hung handlers; once all have been sent (and while the handlers still
    hold their threads), requests that need no handler, then more that need one."""
    hung = []
    for i in range(HUNG):  # in waves, so the accept backlog never overflows
        hung.append(asyncio.ensure_future(_get(port, f"/hang/{i}")))
        if i % 50 == 49:
            await asyncio.sleep(0.02)
    hung_answers = await asyncio.gather(*hung)
    plain = await asyncio.gather(*(_get(port, f"/plain/{i}") for i in range(20)))
    later = await asyncio.gather(*(_get(port, f"/hang/later-{i}") for i in range(5)))
    return hung_answers, plain, later


@pytest.mark.slow
@pytest.mark.parametrize(
    "server",
    [pytest.param(_asgi_server, id="asgi-uvicorn"), pytest.param(_wsgi_server, id="wsgi-werkzeug")],
)
def test_hung_sync_handlers_do_not_take_the_server_down(server: Server) -> None:
    release = threading.Event()
    try:
        with server(release) as port:
            hung, plain, later = asyncio.run(_scenario(port))
    finally:
        release.set()
    stalled = [i for i, (status, _, _) in enumerate(hung) if status == 0]
    assert stalled == [], f"{len(stalled)} of {HUNG} requests to hung handlers got no answer"
    assert {(status, xc) for status, xc, _ in hung} == {(503, EXECUTION_ERROR)}
    assert [(status, body) for status, _, body in plain] == [
        (200, f"plain /plain/{i}".encode()) for i in range(20)
    ]
    # every worker may still be held: a request that cannot get one in time still gets its 503
    assert {(status, xc) for status, xc, _ in later} == {(503, EXECUTION_ERROR)}
