"""Handlers under load and servers (the runtime hunt of 2026-12-07): a handler's own
``CancelledError`` is its failure (503) wherever it runs; a forked worker's handler pool starts
empty (``gunicorn --preload``); ``serve`` with a WSGI app stops requests still running at the
end of its grace period and says so. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    Trigger,
)
from edge_middleware.core.daemon_pool import DaemonPool
from tests.support.doors import ok_asgi, ok_wsgi
from tests.support.servers import free_port, wait_until


def _own_run_cancelled(event: dict[str, Any], context: Any) -> Any:
    """A sync handler whose own ``asyncio.run()`` ends in a CancelledError."""

    async def work() -> None:
        task = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        task.cancel()
        await task

    asyncio.run(work())
    return event["Records"][0]["cf"]["request"]


async def _own_task_cancelled(event: dict[str, Any], context: Any) -> Any:
    """An ``async def`` handler that cancels a task of its own and awaits it."""
    task = asyncio.ensure_future(asyncio.sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    await task
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("mode", ["inline", "thread"])
@pytest.mark.parametrize("handler", [_own_run_cancelled, _own_task_cancelled])
def test_a_handlers_own_cancelled_error_is_its_failure_on_both_doors(
    handler: Any, mode: str
) -> None:
    """Inline (and for ``async def`` on both doors) it escaped the middleware: a 500 from
    uvicorn, a dropped connection under gunicorn; on a worker thread it was a 503."""
    config = EdgeConfig(
        default=Behavior(viewer_request=Trigger(handler), cache=CachePolicy(0, 0, 0)),
        settings=EdgeSettings(handler_mode=mode),  # type: ignore[arg-type]
    )
    r = TestClient(EdgeMiddleware(ok_asgi, config=config)).get("/")
    assert (r.status_code, r.headers["x-cache"]) == (503, "LambdaExecutionError from cloudfront")
    w = Client(EdgeWSGIMiddleware(ok_wsgi, config=config)).get("/")
    assert (w.status_code, w.headers["X-Cache"]) == (503, "LambdaExecutionError from cloudfront")


def test_a_request_cancelled_while_its_handler_awaits_is_still_cancelled() -> None:
    """The request's own cancellation (a request timeout around the middleware) is not the
    handler's failure: it goes on, as before."""

    async def slow(event: dict[str, Any], context: Any) -> Any:
        await asyncio.sleep(10)
        return event["Records"][0]["cf"]["request"]

    config = EdgeConfig(default=Behavior(viewer_request=Trigger(slow), cache=CachePolicy(0, 0, 0)))
    edge = EdgeMiddleware(ok_asgi, config=config)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def main() -> None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [(b"host", b"x")],
            "scheme": "http",
            "http_version": "1.1",
            "client": ("127.0.0.1", 1),
            "server": ("x", 80),
            "root_path": "",
        }
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(edge(scope, receive, send), 0.2)

    asyncio.run(main())
    assert sent == []


def test_a_forked_childs_handler_pool_starts_empty() -> None:
    """After a parent's call, the pool counted one idle worker; in the child that thread does
    not exist, and the first handler call waited for it until its deadline (a 503)."""
    pool = DaemonPool(2, "fork-test")
    assert pool.submit(lambda: 1).result(5) == 1  # a worker, now idle
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (3.12: fork with threads)
        pid = os.fork()
    if pid == 0:  # the child: answer within a second, or fail
        code = 1
        try:
            code = 0 if pool.submit(lambda: 2).result(1) == 2 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


_SLOW_WSGI = """
import time
from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware

def viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    if request["uri"] == "/slow":
        time.sleep(4.5)  # within the 5 s viewer timeout
    return request

def origin(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

app = EdgeWSGIMiddleware(
    origin,
    config=EdgeConfig(default=Behavior(viewer_request=viewer_request, cache=CachePolicy(0, 0, 0))),
)
"""


@pytest.mark.slow
def test_serve_with_a_wsgi_app_stops_what_still_runs_after_its_grace_and_says_so(
    tmp_path: Path,
) -> None:
    """Under cheroot the request ran on until the exit watchdog, and nothing was said."""
    import httpx

    (tmp_path / "slowwsgi.py").write_text(_SLOW_WSGI)
    port = free_port()
    exe = Path(sys.executable).parent / "edge-middleware"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "serve", "slowwsgi:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(tmp_path)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "listening on" in log.read_text(), timeout=30)
        thread = threading.Thread(
            target=lambda: _ignore(lambda: httpx.get(f"http://127.0.0.1:{port}/slow", timeout=20))
        )
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert time.monotonic() - started < 3.5
        thread.join(10)
        assert "stopped 1 request(s) still running" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _ignore(call: Any) -> None:
    try:
        call()
    except Exception:  # the viewer's connection is cut, as behind uvicorn
        pass
