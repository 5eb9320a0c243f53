"""The middleware over a process's life and under real servers (hunt of 2026-12-07, second
session): a hung handler never keeps the process from exiting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

_HUNG = textwrap.dedent(
    """
    import asyncio, time
    from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, EdgeSettings

    def hung(event, context):
        time.sleep(3600)  # a handler stuck in a socket read, say

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = EdgeConfig(
        default=Behavior(viewer_request=hung, cache=CachePolicy(0, 0, 0)),
        settings=EdgeSettings(viewer_timeout=0.2, handler_mode="thread"),
    )
    mw = EdgeMiddleware(app, config=config)
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/",
             "query_string": b"", "root_path": "", "headers": [(b"host", b"x")],
             "client": ("127.0.0.1", 5000), "server": ("x", 80)}
    asyncio.run(mw(scope, receive, send))
    print(sent[0]["status"], flush=True)
    """
)


@pytest.mark.slow
def test_a_hung_sync_handler_does_not_keep_the_process_from_exiting(tmp_path: Path) -> None:
    """Under the user's own ``uvicorn app:app``, Ctrl-C ended the server but not the process:
    the interpreter joined the handler pool's threads at exit, the hung one for ever. The
    viewer gets its 503 at the deadline; the process then exits at once."""
    script = tmp_path / "hung.py"
    script.write_text(_HUNG)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "503"
    assert time.monotonic() - started < 20
