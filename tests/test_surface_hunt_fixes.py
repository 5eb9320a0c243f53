"""The validation and public-surface hunts of 2026-12-07: an origin path a function sets with
``?`` or ``#`` is CloudFront's 502 on both kinds of origin; ``run_trigger`` judges a
viewer-response result as the middleware does; the testing helpers raise the library's own
errors; ``serve`` accepts connections once it says "listening on". Each test failed before its
fix."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeError,
    EdgeMiddleware,
    Trigger,
)
from edge_middleware.exceptions import LambdaValidationError
from edge_middleware.testing import EdgeClock, EventBuilder, run_trigger, wrap_app
from tests.support.servers import free_port

NO_CACHE = CachePolicy(0, 0, 0)


def _app() -> Starlette:
    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"{request.url.path}?{request.url.query}")

    return Starlette(routes=[Route("/{rest:path}", page)])


@pytest.mark.parametrize("path", ["/v1?x", "/v1#x", "/v 1"])
def test_an_origin_path_with_a_query_or_fragment_mark_is_a_502(path: str) -> None:
    """Accepted before: an in-process origin got the path ``/v1?x/p``, a URL origin the path
    ``/v1`` and the query ``x/p?z=1``."""

    def origin_request(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["origin"]["custom"]["path"] = path
        return request

    behavior = Behavior(origin_request=Trigger(origin_request), cache=NO_CACHE)
    client = TestClient(EdgeMiddleware(_app(), config=EdgeConfig(default=behavior)))
    r = client.get("/p?z=1")
    assert r.status_code == 502
    assert r.headers["x-cache"] == "LambdaValidationError from cloudfront"


def test_an_origin_path_without_them_still_reaches_the_origin() -> None:
    def origin_request(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["origin"]["custom"]["path"] = "/v1"
        return request

    behavior = Behavior(origin_request=Trigger(origin_request), cache=NO_CACHE)
    client = TestClient(EdgeMiddleware(_app(), config=EdgeConfig(default=behavior)))
    r = client.get("/p?z=1")
    assert (r.status_code, r.text) == (200, "/v1/p?")  # (no policy forwards the query)


def _rebuilds_headers(event: dict[str, Any], context: Any) -> Any:
    """A security-headers handler that builds the header map afresh (a common mistake)."""
    response = event["Records"][0]["cf"]["response"]
    response["headers"] = {
        "content-type": response["headers"]["content-type"],
        "strict-transport-security": [
            {"key": "Strict-Transport-Security", "value": "max-age=63072000"}
        ],
    }
    return response


def test_run_trigger_judges_a_viewer_response_result_as_the_middleware_does() -> None:
    """EventBuilder's viewer-response event had no Content-Length or Via, so a handler that
    dropped them passed run_trigger and was a 502 behind the middleware."""
    event = EventBuilder().viewer_response("/p")
    assert set(event["Records"][0]["cf"]["response"]["headers"]) == {
        "content-type",
        "content-length",
        "via",
    }
    with pytest.raises(LambdaValidationError, match="read-only header"):
        run_trigger(_rebuilds_headers, event)
    behavior = Behavior(viewer_response=Trigger(_rebuilds_headers), cache=NO_CACHE)
    r = TestClient(EdgeMiddleware(_app(), config=EdgeConfig(default=behavior))).get("/p")
    assert (r.status_code, r.headers["x-cache"]) == (502, "LambdaValidationError from cloudfront")


def test_response_headers_given_to_the_builder_are_the_events_own() -> None:
    event = EventBuilder().viewer_response("/p", response_headers={"X-A": "1"})
    assert set(event["Records"][0]["cf"]["response"]["headers"]) == {"x-a"}


def test_the_testing_helpers_raise_the_librarys_own_errors() -> None:
    with pytest.raises(EdgeError, match="only moves forward"):
        EdgeClock().advance(-1)
    with pytest.raises(EdgeError, match="viewer-response only"):
        EventBuilder().function_event("origin-request", "/")
    wrapped = EdgeMiddleware(_app(), config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    with pytest.raises(EdgeError, match="already has the edge middleware"):
        wrap_app(wrapped, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    with pytest.raises(ValueError):  # (they stay ValueErrors for code that caught those)
        EdgeClock().advance(-1)


_SLOW_STARTUP = """
import asyncio, contextlib
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

@contextlib.asynccontextmanager
async def lifespan(app):
    await asyncio.sleep(1.0)
    yield

async def home(request):
    return PlainTextResponse("up")

app = Starlette(routes=[Route("/", home)], lifespan=lifespan)
"""


@pytest.mark.slow
def test_serve_accepts_connections_once_it_says_listening(tmp_path: Path) -> None:
    """uvicorn listened only after the app's startup: a client that connected on "listening
    on" was refused (for the 1 s this app's startup takes)."""
    (tmp_path / "slowapp.py").write_text(_SLOW_STARTUP)
    port = free_port()
    exe = Path(sys.executable).parent / "edge-middleware"
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.Popen(
        [str(exe), "serve", "slowapp:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "listening on" in line:
                break
            assert time.monotonic() < deadline, line
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)  # not refused
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
        conn.close()
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"up")
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
