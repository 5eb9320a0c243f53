"""The ASGI door runs the origin app on a task of its own (``doors/asgi_origin.py``), started
eagerly where Python can (``doors/eager.py``, 3.12+): the app's task groups and cancel scopes
belong to that task, whether the app answers at once or streams over many loop turns.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, Trigger
from edge_middleware.doors.eager import EAGER, eager_task
from tests.support import doors

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("_VAR", default="caller")


def test_a_task_that_never_waits_runs_as_itself_and_is_done_at_once_where_python_can() -> None:
    async def main() -> None:
        seen: list[asyncio.Task[Any] | None] = []

        async def answer() -> int:
            seen.append(asyncio.current_task())
            _VAR.set("task")
            return 7

        caller = asyncio.current_task()
        task = eager_task(answer())
        assert task.done() is EAGER  # 3.12+: already run; 3.11: on the loop's next turn
        assert await task == 7
        assert seen == [task]
        assert task is not caller
        assert _VAR.get() == "caller"  # the task's context is its own

    asyncio.run(main())


def test_a_task_that_waits_goes_on_on_the_loop() -> None:
    async def main() -> None:
        gate = asyncio.Event()
        steps: list[str] = []

        async def waits() -> str:
            steps.append("first")
            await gate.wait()
            steps.append("after")
            return "done"

        task = eager_task(waits())
        await asyncio.sleep(0)
        assert steps == ["first"]
        assert not task.done()
        gate.set()
        assert await task == "done"
        assert steps == ["first", "after"]

    asyncio.run(main())


def test_a_loops_own_task_factory_is_kept() -> None:
    made: list[object] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    async def main() -> None:
        asyncio.get_running_loop().set_task_factory(factory)

        async def answer() -> int:
            return 1

        task = eager_task(answer())
        assert made == [task]
        assert await task == 1

    asyncio.run(main())


# -- the origin app's own task groups and cancel scopes, on the full pipeline -----------------
class _Tagged(BaseHTTPMiddleware):
    """A middleware that runs the app in a task group of its own (Starlette's design)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-tagged"] = "1"
        return response


def _origin() -> Starlette:
    async def constant(request: Request) -> Response:
        return PlainTextResponse("at once")

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            for n in range(3):
                await anyio.sleep(0)
                yield f"chunk {n};"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def deadline(request: Request) -> Response:
        with anyio.fail_after(5):
            await anyio.sleep(0.01)
        with anyio.move_on_after(0.01):
            await anyio.sleep(5)
        return PlainTextResponse("within its deadline")

    return Starlette(
        routes=[
            Route("/constant", constant),
            Route("/stream", stream),
            Route("/deadline", deadline),
        ],
        middleware=[Middleware(_Tagged)],
    )


def _passthrough(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["response"]


@pytest.mark.parametrize("cached", [False, True], ids=["caching-disabled", "cached"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/constant", b"at once"),
        ("/stream", b"chunk 0;chunk 1;chunk 2;"),
        ("/deadline", b"within its deadline"),
    ],
)
def test_origin_apps_with_task_groups_and_cancel_scopes_answer_whole(
    path: str, body: bytes, cached: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # an origin-response trigger: the full pipeline, with the origin on its own task
    behavior = Behavior(
        cache=CachePolicy(0, 60, 60) if cached else CachePolicy(0, 0, 0),
        origin_response=Trigger(_passthrough),
    )
    mw = EdgeMiddleware(_origin(), config=EdgeConfig(default=behavior))
    with TestClient(mw) as client:
        for expected_cache in ("Miss", "Hit" if cached else "Miss"):
            r = client.get(path)
            assert r.status_code == 200
            assert r.content == body
            assert r.headers["x-tagged"] == "1"
            assert r.headers["x-cache"] == f"{expected_cache} from cloudfront"
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")]


async def _two_senders(scope: Any, receive: Any, send: Any) -> None:
    """An SSE app: after the head, a data task and a heartbeat task send chunks at once."""
    await send({"type": "http.response.start", "status": 200, "headers": []})

    async def chunks(text: bytes) -> None:
        for i in range(3):
            await send({"type": "http.response.body", "body": text % i, "more_body": True})
            await anyio.sleep(0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(chunks, b"data %d\n")
        tg.start_soon(chunks, b"ping %d\n")
    await send({"type": "http.response.body", "body": b"end\n", "more_body": False})


@pytest.mark.parametrize(
    "behavior",
    [
        Behavior(cache=CachePolicy(0, 0, 0), origin_response=Trigger(_passthrough)),
        Behavior(cache=CachePolicy(0, 60, 3600)),
    ],
    ids=["origin-response", "caching"],
)
def test_an_app_whose_tasks_send_at_once_is_answered_whole(behavior: Behavior) -> None:
    """Each waiting sender put its own future in one slot: the second replaced the first,
    which then waited for ever, and so did the request (and a server's shutdown)."""
    app = EdgeMiddleware(_two_senders, config=EdgeConfig(default=behavior))

    async def main() -> bytes:
        sent = await doors.request_within(app, doors.asgi_scope("/sse"), 10.0)
        return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    body = asyncio.run(main())
    assert sorted(body.splitlines()) == sorted(
        [b"data 0", b"data 1", b"data 2", b"ping 0", b"ping 1", b"ping 2", b"end"]
    )
