"""Handler output captured per invocation (``capture.py``) and put on the trace steps."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
)
from edge_middleware.core import capture
from edge_middleware.doors.middleware import RequestRecord


@pytest.fixture(autouse=True)
def _restore_streams() -> Iterator[None]:
    yield
    capture.uninstall()


def printing_handler(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    print("sync handler saw", request["uri"])
    logging.getLogger("a.handler").warning("warned about %s", request["uri"])
    return request


async def async_printing_handler(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    await asyncio.sleep(0)
    print("async handler ran", file=sys.stderr)
    return response


async def page(request: Request) -> PlainTextResponse:
    print("the origin app prints too")
    return PlainTextResponse("ok")


CONFIG = EdgeConfig(
    default=Behavior(
        viewer_request=printing_handler,
        viewer_response=async_printing_handler,
        cache=CachePolicy(0, 0, 0),
    )
)


def outputs(record: RequestRecord) -> dict[str, str]:
    return {s.event_type: s.output for s in record.outcome.steps if s.ran}


def test_asgi_handler_output_lands_on_its_trace_step(capsys: pytest.CaptureFixture[str]) -> None:
    capture.install()  # before the logging handler takes its reference to sys.stderr
    logging.getLogger("a.handler").addHandler(logging.StreamHandler())
    records: list[RequestRecord] = []
    app = EdgeMiddleware(Starlette(routes=[Route("/{p:path}", page)]), config=CONFIG)
    app.add_observer(records.append)
    try:
        with TestClient(app) as client:
            assert client.get("/one").status_code == 200
    finally:
        logging.getLogger("a.handler").handlers.clear()

    (record,) = records
    got = outputs(record)
    assert got["viewer-request"] == "sync handler saw /one\nwarned about /one\n"
    assert got["viewer-response"] == "async handler ran\n"
    # passthrough (the library default): the output still reaches the real streams
    out, err = capsys.readouterr()
    assert "sync handler saw /one" in out
    assert "the origin app prints too" in out  # not a handler: never captured
    assert "async handler ran" in err


def test_wsgi_concurrent_requests_keep_their_own_output() -> None:
    from werkzeug.test import Client

    capture.install()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    records: list[RequestRecord] = []
    lock = threading.Lock()
    middleware = EdgeWSGIMiddleware(app, config=CONFIG)

    def observe(record: RequestRecord) -> None:
        with lock:
            records.append(record)

    middleware.add_observer(observe)

    def hit(n: int) -> None:
        client = Client(middleware)
        for i in range(10):
            client.get(f"/t{n}-{i}")

    threads = [threading.Thread(target=hit, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(records) == 60
    for record in records:
        uri = record.viewer_request["uri"]
        assert outputs(record)["viewer-request"] == f"sync handler saw {uri}\n"


def test_writes_outside_handlers_and_after_close_pass_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    capture.install(passthrough=False)
    buf = capture.Captured()
    print("before")
    with capture.capturing(buf):
        print("inside")
        sys.stderr.write("inside err\n")
    buf.close()
    with capture.capturing(buf):  # a handler that outlived its timeout
        print("too late")
    print("after")
    assert buf.text == "inside\ninside err\n"
    out, err = capsys.readouterr()
    assert out == "before\ntoo late\nafter\n"
    assert err == ""


def test_nothing_printed_means_no_buffer() -> None:
    buf = capture.Captured()
    assert buf.text == ""
    assert buf.close() == ""


def test_library_mode_leaves_the_process_streams_alone() -> None:
    """Without install() (the dev server and the inspector call it) nothing is captured and
    sys.stdout/sys.stderr stay the process's own (issue 11 point 5)."""
    from werkzeug.test import Client

    before = (sys.stdout, sys.stderr)
    records: list[RequestRecord] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = EdgeWSGIMiddleware(app, config=CONFIG)
    middleware.add_observer(records.append)
    assert Client(middleware).get("/x").status_code == 200
    assert (sys.stdout, sys.stderr) == before
    assert not capture.installed()
    assert outputs(records[0])["viewer-request"] == ""
