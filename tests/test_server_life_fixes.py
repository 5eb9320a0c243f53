"""The middleware over a process's life and under real servers (hunt of 2026-12-07, second
session): a hung handler never keeps the process from exiting; CloudFront's 413 closes the
connection and is not logged; ``serve`` keeps the edges an app mounts and passes WebSockets on."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import EdgeConfig, EdgeMiddleware
from edge_middleware.devtools.accesslog import AccessLog
from tests.support.devserver import serve
from tests.support.doors import Door, asgi_scope, call_asgi, door_fixture, ok_asgi, ok_wsgi
from tests.support.servers import uvicorn_server

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


door = door_fixture(Door)


def test_asgi_a_413_closes_the_connection() -> None:
    """lambda-edge.md §3.2: "413 and connection closed"; the ASGI door kept the connection
    open (uvicorn closes it on ``connection: close``)."""
    sent = call_asgi(EdgeMiddleware(ok_asgi), asgi_scope("/" + "a" * 9000))
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    sent = call_asgi(EdgeMiddleware(ok_asgi), asgi_scope("/fine"))
    assert sent[0]["status"] == 200
    assert all(name != b"connection" for name, _ in sent[0]["headers"])


def test_the_access_log_leaves_out_cloudfronts_413s(door: Door) -> None:
    """lambda-edge.md §7: "Requests over 20 KB of headers or 8,192-byte URLs are not
    logged"; they were."""
    stream = io.StringIO()
    app = door.wrap(door.pick(ok_asgi, ok_wsgi), EdgeConfig())
    app.add_observer(AccessLog(stream))
    client = door.viewer(app)
    assert door.send(client, "GET", "/" + "a" * 9000).status == 413
    assert door.send(client, "GET", "/fine").status == 200
    lines = [line for line in stream.getvalue().splitlines() if not line.startswith("#")]
    assert len(lines) == 1 and "\t/fine\t" in lines[0]


_MOUNTED = textwrap.dedent(
    """
    import itertools
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route
    from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware

    calls = itertools.count(1)

    def make(name):
        async def page(request):
            return PlainTextResponse(
                f"{name} {next(calls)}", headers={"Cache-Control": "max-age=300"}
            )
        return Starlette(routes=[Route("/{p:path}", page)])

    a = EdgeMiddleware(make("A"), config=EdgeConfig(default=Behavior(cache=CachePolicy())))
    b = EdgeMiddleware(make("B"), config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0))))
    app = Starlette(routes=[Mount("/a", app=a), Mount("/b", app=b)])
    """
)


def test_find_front_doors_sees_mounted_and_dispatched_apps() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from edge_middleware import EdgeWSGIMiddleware
    from edge_middleware.devtools.devapp import find_front_doors

    a, b = EdgeMiddleware(ok_asgi), EdgeMiddleware(ok_asgi)
    assert find_front_doors(Starlette(routes=[Mount("/a", app=a), Mount("/b", app=b)])) == [a, b]
    w = EdgeWSGIMiddleware(ok_wsgi)
    assert find_front_doors(DispatcherMiddleware(ok_wsgi, {"/w": w})) == [w]


@pytest.mark.slow
def test_serve_keeps_the_edges_an_app_mounts_in_code(tmp_path: Path) -> None:
    """``serve`` found no edge under a Starlette ``Mount``, put a default one in front, and
    the mounted ones passed every request through: B's CachingDisabled answered Hit."""
    (tmp_path / "mounted.py").write_text(_MOUNTED)
    with serve(tmp_path, "mounted:app") as served:
        got = [served.get(path) for path in ("/a/x", "/a/x", "/b/x", "/b/x")]
        lines = served.lines()
    assert [r.headers["x-cache"] for r in got] == [
        "Miss from cloudfront",
        "Hit from cloudfront",
        "Miss from cloudfront",
        "Miss from cloudfront",
    ]
    assert any("already wraps in code" in line for line in lines)


_WS_APP = textwrap.dedent(
    """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute

    async def echo(websocket):
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text("echo:" + text)
        await websocket.close(4001, "bye")

    async def page(request):
        return PlainTextResponse("page")

    app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", echo)])
    """
)


def _echo_once(url: str) -> tuple[str, int | None]:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(url, open_timeout=10) as ws:
        ws.send("hi")
        got = str(ws.recv(timeout=10))
        try:
            ws.recv(timeout=10)
        except ConnectionClosed:
            pass
        return got, ws.close_code


@pytest.mark.slow
def test_serve_passes_websockets_on_to_the_app(tmp_path: Path) -> None:
    """CloudFront passes WebSockets on; ``serve``'s uvicorn had no WebSocket library (the
    ``[server]`` extra now brings one), so the handshake went to the app as a plain GET."""
    (tmp_path / "wsapp.py").write_text(_WS_APP)
    with serve(tmp_path, "wsapp:app") as served:
        assert _echo_once(f"ws://127.0.0.1:{served.port}/ws") == ("echo:hi", 4001)
        assert served.get("/").text == "page"


@pytest.mark.slow
def test_serve_origin_passes_websockets_on_to_the_origin(tmp_path: Path) -> None:
    """``serve --origin URL`` proxied the handshake as a plain GET (the origin said 404)."""
    (tmp_path / "wsapp.py").write_text(_WS_APP)
    sys.path.insert(0, str(tmp_path))
    try:
        import wsapp  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    with uvicorn_server(wsapp.app, ws="websockets-sansio") as origin:
        url = f"http://127.0.0.1:{origin}"
        with serve(tmp_path, f"--origin={url}") as served:
            assert _echo_once(f"ws://127.0.0.1:{served.port}/ws") == ("echo:hi", 4001)
            assert served.get("/").text == "page"


def test_a_reload_stops_the_functions_the_old_configuration_ran() -> None:
    """``serve --reload`` started a new pair of node workers at each reload and left the old
    ones running until the garbage collector found them (2, 4, 6, 8, 10 workers)."""
    from edge_middleware import Behavior, Trigger
    from edge_middleware.devtools.server import _close_functions

    closed: list[str] = []

    class Function:
        def __init__(self, name: str) -> None:
            self.name = name

        def __call__(self, event: dict[str, Any], context: Any) -> Any:
            return event["Records"][0]["cf"]["request"]

        def close(self) -> None:
            closed.append(self.name)

    shared = Function("shared")
    old = EdgeMiddleware(
        ok_asgi,
        config=EdgeConfig(
            default=Behavior(viewer_request=Trigger(Function("old")), origin_request=shared)
        ),
    )
    new = EdgeMiddleware(
        ok_asgi,
        config=EdgeConfig(
            default=Behavior(viewer_request=Trigger(Function("new")), origin_request=shared)
        ),
    )
    _close_functions(old, new)
    assert closed == ["old"]


def test_the_banner_gives_no_include_body_for_a_cloudfront_function() -> None:
    """CloudFront Functions have no IncludeBody; ``serve`` and ``check`` printed one."""
    from edge_middleware import Behavior
    from edge_middleware.devtools.devlog import banner
    from edge_middleware.js import CloudFrontFunction

    fn = CloudFrontFunction("function handler(e) { return e.request; }", code=True, name="f")  # type: ignore[arg-type]
    try:
        lines = banner(EdgeConfig(default=Behavior(viewer_request=fn)))
    finally:
        fn.close()
    line = next(line for line in lines if "viewer-request" in line)
    assert "IncludeBody" not in line
