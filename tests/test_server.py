"""``edge-middleware serve`` as a real subprocess: Starlette through uvicorn, Flask through the
threaded Werkzeug server, the per-request log, ``--reload``, invalidation, ``--redis``."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.devtools.devapp import _is_loopback, detect_interface, invalidate_request
from edge_middleware.devtools.devlog import format_request
from edge_middleware.doors.middleware import RequestRecord
from edge_middleware.exceptions import LambdaValidationError
from edge_middleware.pipeline.effects import Outcome, TraceStep
from tests.support.devserver import LINE, serve, wait_until
from tests.support.servers import free_port

HANDLERS = """
def viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    cookie = request["headers"].get("cookie", [{"value": ""}])[0]["value"]
    print("viewer-request saw", request["uri"], "cookie", cookie)
    return request


def viewer_response(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-version"] = [{"key": "X-Version", "value": "1"}]
    return response
"""

CONFIG = """
[default]
viewer_request = "edge_handlers:viewer_request"
viewer_response = "edge_handlers:viewer_response"

[[behaviors]]
path_pattern = "/slow*"
cache = "CachingDisabled"
"""

STARLETTE_APP = """
import os
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def page(request):
    return PlainTextResponse(
        f"pid {os.getpid()} path {request.url.path}", headers={"Cache-Control": "max-age=300"}
    )

app = Starlette(routes=[Route("/{rest:path}", page)])
"""

FLASK_APP = """
import os
import threading
from flask import Flask

app = Flask(__name__)
both_arrived = threading.Barrier(2, timeout=10)

@app.route("/slow")
def slow():
    both_arrived.wait()  # needs a second request in flight: a threaded server
    return "slow done"

@app.route("/named")
def named():
    return "named", 200, {"Server": "flask-origin", "Cache-Control": "no-store"}

@app.route("/<path:rest>")
def page(rest):
    return f"pid {os.getpid()} path /{rest}", 200, {"Cache-Control": "max-age=300"}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "edge_handlers.py").write_text(HANDLERS)
    (tmp_path / "edge.toml").write_text(CONFIG)
    (tmp_path / "starlette_site.py").write_text(textwrap.dedent(STARLETTE_APP))
    (tmp_path / "flask_site.py").write_text(textwrap.dedent(FLASK_APP))
    return tmp_path


@pytest.mark.parametrize(
    ("app", "server"),
    [
        pytest.param("starlette_site:app", "uvicorn", id="asgi-starlette"),
        pytest.param("flask_site:app", "cheroot, 32 threads, keep-alive", id="wsgi-flask"),
    ],
)
def test_serve_miss_then_hit_with_one_line_per_request(site: Path, app: str, server: str) -> None:
    with serve(site, app, "--config", "edge.toml", "--access-log", "access.log") as served:
        cookie = {"Cookie": "session=topsecret-cookie-value"}
        first = served.get("/hello", headers=cookie)
        second = served.get("/hello", headers=cookie)
        wait_until(lambda: len(served.request_lines()) >= 2, 10, "two request lines")
        out = served.stdout

    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert second.headers["X-Version"] == "1"
    assert first.text == second.text
    # the server adds no Server header of its own (CloudFront adds none to an origin's answer)
    assert "Server" not in first.headers and "Server" not in second.headers

    # the banner: behaviors in order with origin, TTLs and associations
    assert f"ASGI app {app}" in out or f"WSGI app {app}" in out
    assert f"({server})" in out
    slow = out.index("1. /slow*")
    default = out.index("2. *  (default)")
    assert slow < default
    assert "TTL 0/0/0s (caching disabled)" in out
    assert "viewer-request   edge_handlers:viewer_request  IncludeBody=false" in out

    miss, hit = served_lines = [m for m in map(LINE.match, out.splitlines()) if m][:2]
    assert [m["result"] for m in served_lines] == ["Miss", "Hit"]
    assert miss["path"] == hit["path"] == "/hello"
    assert miss["pattern"] == "*"
    assert miss["status"] == "200"
    assert re.fullmatch(r"VReq \d+\.\dms VRes \d+\.\dms", miss["triggers"])
    # the handler's print() is shown under its request, the cookie value never is
    lines = out.splitlines()
    after_miss = lines[lines.index(miss.group(0)) + 1]
    assert after_miss == "    viewer-request | viewer-request saw /hello cookie [redacted]"
    assert "topsecret" not in out
    assert "\x1b[" not in out  # no colour: stdout is not a terminal

    log = (site / "access.log").read_text().splitlines()
    assert log[0] == "#Version: 1.0"
    assert [line.split("\t")[13] for line in log[2:]] == ["Miss", "Hit"]
    assert all(line.split("\t")[12] == "-" for line in log[2:])  # no cookies logged


@pytest.mark.slow
def test_both_servers_keep_an_idle_connection_past_a_client_pools_5_s(site: Path) -> None:
    """Node.js's and httpx's client pools drop an idle connection after 5 s; uvicorn's own
    keep-alive timeout was 5 s too, so a request sent as uvicorn closed met a dropped connection
    ("socket hang up", the cache-tests suite on a busy machine). Both servers keep it for
    ``CONNECTION_TIMEOUT`` (10 s): the client closes first."""
    import http.client

    from edge_middleware.devtools.server import CONNECTION_TIMEOUT

    assert CONNECTION_TIMEOUT > 6
    other = site / "wsgi"  # a folder of its own for the second server's output
    other.mkdir()
    for name in ("edge_handlers.py", "edge.toml", "flask_site.py"):
        (other / name).write_bytes((site / name).read_bytes())
    with (
        serve(site, "starlette_site:app", "--config", "edge.toml") as asgi,
        serve(other, "flask_site:app", "--config", "edge.toml") as wsgi,
    ):
        conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=10) for s in (asgi, wsgi)]
        for conn in conns:
            conn.request("GET", "/idle")
            assert conn.getresponse().read().startswith(b"pid ")
        time.sleep(6)  # idle past 5 s
        for conn in conns:
            sock = conn.sock
            conn.request("GET", "/idle")  # on the same connection: raises if the server closed it
            assert conn.getresponse().status == 200
            assert conn.sock is sock
            conn.close()


def test_wsgi_server_keeps_the_apps_own_server_header(site: Path) -> None:
    with serve(site, "flask_site:app", "--config", "edge.toml") as served:
        named = served.get("/named")
    assert named.headers["Server"] == "flask-origin"


def test_wsgi_server_is_threaded(site: Path) -> None:
    with serve(site, "flask_site:app", "--config", "edge.toml") as served:
        results: list[int] = []

        def fetch() -> None:
            results.append(served.get("/slow").status_code)

        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert results == [200, 200]


def test_log_secrets_prints_cookie_values(site: Path) -> None:
    with serve(site, "starlette_site:app", "--config", "edge.toml", "--log-secrets") as served:
        served.get("/c", headers={"Cookie": "session=visible-value"})
        wait_until(lambda: "visible-value" in served.stdout, 10, "the handler output")


def test_invalidate_against_the_dev_server(site: Path) -> None:
    with serve(site, "starlette_site:app", "--config", "edge.toml") as served:
        assert served.get("/inv/a").headers["X-Cache"] == "Miss from cloudfront"
        assert served.get("/inv/a").headers["X-Cache"] == "Hit from cloudfront"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "edge_middleware",
                "invalidate",
                "/inv/*",
                "--server",
                served.url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert "invalidated 1 cached object(s) for /inv/*" in done.stdout
        assert served.get("/inv/a").headers["X-Cache"] == "Miss from cloudfront"
        # the endpoint wants JSON, so a cross-site form post cannot reach it
        form = httpx.post(served.url + "/_edge/invalidate", content=b"/inv/*", timeout=10)
        assert form.status_code == 415
        wait_until(lambda: "invalidated 1 cached object(s)" in served.stdout, 10, "the log")


def test_reload_swaps_handlers_in_the_same_process(site: Path) -> None:
    args = ("--config", "edge.toml", "--reload", "--reload-interval", "0.1")
    with serve(site, "starlette_site:app", *args) as served:
        before = served.get("/r1")
        assert before.headers["X-Version"] == "1"
        pid_before = before.text.split()[1]

        handlers = site / "edge_handlers.py"
        handlers.write_text(HANDLERS.replace('"value": "1"', '"value": "2"'))
        wait_until(lambda: served.get("/r2").headers["X-Version"] == "2", 15, "the new handler")
        after = served.get("/r3")
        assert after.text.split()[1] == pid_before
        assert served.proc.poll() is None
        wait_until(lambda: "reloaded after a change to edge_handlers.py" in served.stdout)

        # a broken config is reported and the running one kept
        (site / "edge.toml").write_text(CONFIG.replace('"CachingDisabled"', '"NoSuchPolicy"'))
        wait_until(lambda: "reload failed" in served.stdout, 15, "the reload error")
        assert served.get("/r4").headers["X-Version"] == "2"
        assert "NoSuchPolicy" in served.stdout


def test_serve_bad_config_exits_1(site: Path) -> None:
    (site / "broken.toml").write_text('[default]\nviewer_request = "nosuchmodule:handler"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_middleware",
            "serve",
            "starlette_site:app",
            "--config",
            "broken.toml",
            "--port",
            str(free_port()),
        ],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "nosuchmodule:handler" in done.stderr


@pytest.mark.redis
def test_serve_with_redis_and_invalidate_through_redis(site: Path, redis_url: str) -> None:
    with serve(site, "flask_site:app", "--config", "edge.toml", "--redis", redis_url) as served:
        assert served.get("/red").headers["X-Cache"] == "Miss from cloudfront"
        assert served.get("/red").headers["X-Cache"] == "Hit from cloudfront"
        done = subprocess.run(
            [sys.executable, "-m", "edge_middleware", "invalidate", "/red", "--redis", redis_url],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "invalidation recorded for 1 path(s): /red\n"
        assert served.get("/red").headers["X-Cache"] == "Miss from cloudfront"


# -- the pieces, in process ------------------------------------------------------------------


def _flask_app() -> Any:
    from flask import Flask

    return Flask("x")


def _starlette_app() -> Any:
    from starlette.applications import Starlette

    return Starlette()


def _fastapi_app() -> Any:
    from fastapi import FastAPI

    return FastAPI()


def _django_asgi() -> Any:
    from django.core.handlers.asgi import ASGIHandler

    # an instance without __init__: that would need (and fix) global Django settings
    return object.__new__(ASGIHandler)


def _django_wsgi() -> Any:
    from django.core.handlers.wsgi import WSGIHandler

    return object.__new__(WSGIHandler)


async def _asgi_function(scope: Any, receive: Any, send: Any) -> None:
    return None


def _wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(_flask_app, "wsgi", id="flask"),
        pytest.param(_starlette_app, "asgi", id="starlette"),
        pytest.param(_fastapi_app, "asgi", id="fastapi"),
        pytest.param(_django_asgi, "asgi", id="django-asgi"),
        pytest.param(_django_wsgi, "wsgi", id="django-wsgi"),
        pytest.param(lambda: _asgi_function, "asgi", id="async-function"),
        pytest.param(lambda: _wsgi_function, "wsgi", id="wsgi-function"),
    ],
)
def test_detect_interface(make: Callable[[], Any], expected: str) -> None:
    assert detect_interface(make()) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("127.0.0.1", True, id="v4"),
        pytest.param("127.3.2.1", True, id="v4-net"),
        pytest.param("::1", True, id="v6"),
        pytest.param("192.168.1.5", False, id="lan"),
        pytest.param("testclient", False, id="name"),
        pytest.param(None, False, id="none"),
    ],
)
def test_invalidate_endpoint_is_loopback_only(host: str | None, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("method", "content_type", "body", "status"),
    [
        pytest.param("POST", "application/json", b'["/a", "/b/*"]', 200, id="list"),
        pytest.param("POST", "application/json", b'{"paths": ["/a"]}', 200, id="object"),
        pytest.param("GET", "application/json", b'["/a"]', 405, id="get"),
        pytest.param("POST", "text/plain", b'["/a"]', 415, id="not-json-type"),
        pytest.param("POST", "application/json", b"[/a]", 400, id="bad-json"),
        pytest.param("POST", "application/json", b'["a"]', 400, id="relative-path"),
        pytest.param("POST", "application/json", b"[]", 400, id="empty"),
    ],
)
def test_invalidate_request(method: str, content_type: str, body: bytes, status: int) -> None:
    got, doc = invalidate_request(method, content_type, body, MemoryStorage().invalidate)
    assert got == status
    assert ("invalidated" in doc) is (status == 200)
    json.dumps(doc)


def _record_with_error() -> RequestRecord:
    step = TraceStep("viewer-request", True, duration=0.0012, output="token Bearer abc.def.ghi\n")
    step.error = "The Lambda function result failed validation: bad header"
    step.error_field = 'request.headers["via"]'
    outcome = Outcome(502, "Bad Gateway", [], b"", result_type="Error", steps=[step])
    outcome.error = LambdaValidationError(step.error, field=step.error_field)
    request = {
        "method": "GET",
        "uri": "/x",
        "querystring": "",
        "headers": {"authorization": [{"key": "Authorization", "value": "Bearer abc.def.ghi"}]},
    }
    return RequestRecord(outcome, request, "http", "1.1", time.perf_counter(), 0)


def test_request_line_colour_errors_and_masking() -> None:
    plain = format_request(_record_with_error())
    assert plain[0].startswith("GET /x  -  VReq 1.2ms!  LambdaValidationError  502  ")
    assert plain[1] == "    viewer-request | token [redacted]"
    assert plain[2] == (
        "    ! viewer-request: The Lambda function result failed validation: bad header"
        ' (at request.headers["via"])'
    )
    coloured = format_request(_record_with_error(), color=True)
    assert "\x1b[31m" in coloured[0] and "\x1b[0m" in coloured[0]
    shown = format_request(_record_with_error(), log_secrets=True)
    assert shown[1] == "    viewer-request | token Bearer abc.def.ghi"


def test_wsgi_server_queues_a_burst_of_new_connections() -> None:
    """cheroot's own listen backlog is 5: with no room in the kernel's queue, the 7th new
    connection of a burst waited for its SYN to be sent again (1 s, then 3 s, 7 s). The dev
    server listens with uvicorn's backlog: a burst of 64 is queued at once, accepted or not."""
    import io
    import select

    from edge_middleware.devtools.serve_options import ServeOptions
    from edge_middleware.devtools.server import LISTEN_BACKLOG, DevServer

    options = ServeOptions(None, origin="http://127.0.0.1:9", interface="wsgi", port=0)
    server = DevServer(options, out=io.StringIO()).wsgi_server()  # listening, never accepting
    port = server.bind_addr[1]
    clients = []
    try:
        for _ in range(64):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            clients.append(sock)
        connected: set[socket.socket] = set()
        deadline = time.monotonic() + 0.9  # under the 1 s a dropped SYN waits to be sent again
        while len(connected) < len(clients) and time.monotonic() < deadline:
            _, ready, _ = select.select([], [s for s in clients if s not in connected], [], 0.1)
            connected.update(
                s for s in ready if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            )
    finally:
        for sock in clients:
            sock.close()
        server.stop()  # prepare() started its worker threads: they must end with the test
    assert server.request_queue_size == LISTEN_BACKLOG
    assert len(connected) == 64
    # the worker threads ended: a non-daemon one left behind keeps pytest from exiting
    assert not [t for t in threading.enumerate() if t.name.startswith("CP Server")]
