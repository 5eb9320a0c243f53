"""JavaScript edge code judged as CloudFront judges it: the fixes from the JS hunt of 2026-12-07.

* A CloudFront Function on viewer-response may change ``Content-Length``, ``Content-Encoding``
  and ``Transfer-Encoding`` (only ``Warning`` and ``Via`` are read-only for it, §3.1), and the
  viewer's response stays framed by its real body whatever a function did to its length.
* A Function's change to one value of a repeated response cookie wins (§8); a Function that
  returns its event's query string or cookies unchanged changes no byte of them.
* ``run_trigger`` (and ``invoke``) judge a Function's viewer-response as the middleware does.
* The event's ``context`` is a standard distribution's (no ``endpoint``).
* A Node.js handler's sync return is not an answer (Lambda's Node runtime ignores it); a large
  event to a busy Node worker still gets its 503 at the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeSettings,
    OriginRequestPolicy,
    Trigger,
)
from edge_middleware.exceptions import CloudFrontError
from edge_middleware.js import CloudFrontFunction, NodeHandler
from edge_middleware.testing import EventBuilder, run_trigger
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)
NO_CACHE = CachePolicy(0, 0, 0)
ALL = OriginRequestPolicy(headers="allViewer", cookies="all", query_strings="all")
BODY = b"0123456789" * 10


async def _hello(req: Request) -> Response:
    r = PlainTextResponse(BODY.decode())
    r.raw_headers += [(b"set-cookie", b"session=old; Path=/"), (b"set-cookie", b"flag")]
    r.raw_headers += [(b"set-cookie", b"session=old2; Path=/admin")]
    return r


async def _echo(req: Request) -> Response:
    return JSONResponse(
        {"qs": req.scope["query_string"].decode(), "cookie": req.headers.get("cookie")}
    )


_flask = Flask("edge-code")


@_flask.route("/", methods=["GET", "POST"])
def _flask_hello() -> Any:
    headers = [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "session=old; Path=/"),
        ("Set-Cookie", "flag"),
        ("Set-Cookie", "session=old2; Path=/admin"),
    ]
    return BODY, 200, headers


@_flask.route("/echo")
def _flask_echo() -> Any:
    return {"qs": request.environ.get("QUERY_STRING", ""), "cookie": request.headers.get("cookie")}


def _apps(door: Door) -> Any:
    return door.pick(Starlette(routes=[Route("/", _hello), Route("/echo", _echo)]), _flask.wsgi_app)


@pytest.fixture
def function(tmp_path: Path) -> Iterator[Any]:
    """``function(code)``: a cloudfront-js-2.0 Function made of ``code``, closed afterwards."""
    made: list[CloudFrontFunction] = []

    def make(code: str) -> CloudFrontFunction:
        path = tmp_path / f"f{len(made)}.js"
        path.write_text(code)
        fn = CloudFrontFunction(path, runtime="cloudfront-js-2.0")
        made.append(fn)
        return fn

    yield make
    for fn in made:
        fn.close()


def _serve(door: Door, **behavior: Any) -> Any:
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, origin_request_policy=ALL, **behavior))
    return door.viewer(door.wrap(_apps(door), config))


# -- a Function's viewer-response: its read-only headers, and the framing -----------------------


@pytest.mark.parametrize(
    "code",
    [
        "var r = e.response; delete r.headers['content-length']; return r;",
        "var r = e.response; r.headers['content-length'] = {value: '3'}; return r;",
        "var r = e.response; r.headers['content-encoding'] = {value: 'identity'}; return r;",
        "var r = e.response; return {statusCode: r.statusCode, headers: {via: r.headers.via,"
        " 'x-new': {value: '1'}}};",
    ],
    ids=["delete-length", "change-length", "content-encoding", "fresh-response"],
)
def test_a_function_may_change_what_only_lambda_at_edge_may_not(
    door: Door, function: Any, code: str
) -> None:
    """§3.1: Content-Length, Content-Encoding and Transfer-Encoding are read-only in
    viewer-response for Lambda@Edge only; a Function got a 502 FunctionValidationError."""
    fn = function(f"function handler(e) {{ {code} }}")
    r = door.send(_serve(door, viewer_response=fn), "GET", "/")
    assert r.status == 200, r.text()
    assert r.body == BODY
    assert r.all("content-length") in ([], [str(len(BODY))])  # framed by the real body


def test_a_function_still_may_not_touch_via(door: Door, function: Any) -> None:
    fn = function("function handler(e) { var r = e.response; delete r.headers.via; return r; }")
    r = door.send(_serve(door, viewer_response=fn), "GET", "/")
    assert (r.status, r.get("x-cache")) == (502, "FunctionValidationError from cloudfront")


def test_a_changed_content_length_is_the_bodys_again_under_the_2023_list(door: Door) -> None:
    """decisions.md #16's 2023 list lets a Lambda@Edge viewer-response change Content-Length:
    the viewer got 'Content-Length: 3' with a 100-byte body (uvicorn raised on it)."""

    def shorten(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        response["headers"]["content-length"] = [{"key": "Content-Length", "value": "3"}]
        return response

    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_response=Trigger(shorten)),
        settings=EdgeSettings(readonly_header_list="2023"),
    )
    r = door.send(door.viewer(door.wrap(_apps(door), config)), "GET", "/")
    assert r.status == 200
    assert (r.body, r.all("content-length")) == (BODY, [str(len(BODY))])


# -- cookies and query strings a Function returns -------------------------------------------------


def test_a_changed_value_of_a_repeated_response_cookie_wins(door: Door, function: Any) -> None:
    """§8: a changed ``value`` wins over the ``multiValue`` the event carried (it did for
    headers, query strings and request cookies; response cookies lost the change)."""
    fn = function(
        "function handler(e) { var r = e.response; r.cookies.session.value = 'rotated'; return r; }"
    )
    r = door.send(_serve(door, viewer_response=fn), "GET", "/")
    assert r.all("set-cookie") == ["session=rotated; Path=/", "flag="]


def test_an_identity_function_keeps_the_response_cookies_as_sent(door: Door, function: Any) -> None:
    fn = function("function handler(e) { return e.response; }")
    r = door.send(_serve(door, viewer_response=fn), "GET", "/")
    assert r.all("set-cookie") == ["session=old; Path=/", "flag", "session=old2; Path=/admin"]


@pytest.mark.parametrize("query", ["token=&page=2", "a=1&b=2&a=3", "a=1&&b=2", "v"])
def test_an_identity_function_keeps_the_query_string_and_cookies_as_sent(
    door: Door, function: Any, query: str
) -> None:
    """A Function returning its event's objects rewrote them: ``token=`` became ``token``,
    repeated names were grouped, ``Cookie: foo`` became ``foo=`` (decisions.md #42)."""
    fn = function("function handler(e) { return e.request; }")
    cookie = [("cookie", "b=2; a=; b=3; foo")]
    plain = door.send(_serve(door), "GET", f"/echo?{query}", headers=cookie).json()
    client = _serve(door, viewer_request=fn)
    assert door.send(client, "GET", f"/echo?{query}", headers=cookie).json() == plain
    assert plain["qs"] == query


# -- run_trigger and the event's context ----------------------------------------------------------


def test_run_trigger_judges_a_function_as_the_middleware_does(function: Any) -> None:
    maintenance = function(
        "function handler(e) { var r = e.response; r.statusCode = 503;"
        " r.statusDescription = 'Service Unavailable';"
        " r.body = {encoding: 'text', data: 'down for maintenance'}; return r; }"
    )
    out = run_trigger(maintenance, EventBuilder().viewer_response("/", status=200))
    assert (out["status"], out["body"]) == ("503", "down for maintenance")
    warning = function(
        "function handler(e) { var r = e.response; r.headers.warning = {value: '199 x'};"
        " return r; }"
    )
    with pytest.raises(CloudFrontError) as info:  # a read-only header for every edge function
        run_trigger(warning, EventBuilder().viewer_response("/", status=200))
    assert info.value.error_name == "FunctionValidationError"


def test_the_context_is_a_standard_distributions(function: Any) -> None:
    fn = function(
        "function handler(e) { var r = e.request;"
        " r.headers['x-context'] = {value: Object.keys(e.context).sort().join(',')}; return r; }"
    )
    out = run_trigger(fn, EventBuilder().viewer_request("/"))
    shown = out["headers"]["x-context"][0]["value"]
    assert shown == "distributionDomainName,distributionId,eventType,requestId"


# -- Node.js handlers ------------------------------------------------------------------------------


def _node(tmp_path: Path, code: str, **options: Any) -> NodeHandler:
    (tmp_path / "h.js").write_text(code)
    return NodeHandler("h.handler", root=tmp_path, **options)


def test_a_node_handlers_sync_return_is_not_its_answer(tmp_path: Path) -> None:
    """Lambda's Node runtime uses a return value only when it is a promise: deployed, this
    handler answers null, a 502. It was a 200 here."""
    handler = _node(tmp_path, "exports.handler = (event) => event.Records[0].cf.request;")
    try:
        started = time.monotonic()
        with pytest.raises(CloudFrontError) as info:
            run_trigger(handler, EventBuilder().viewer_request("/"))
        assert info.value.error_name == "LambdaValidationError"
        assert time.monotonic() - started < 3  # at once, not at the 5 s deadline
    finally:
        handler.close()


def test_a_node_handler_that_calls_back_and_returns_a_value_answers_with_the_callback(
    tmp_path: Path,
) -> None:
    handler = _node(
        tmp_path,
        "exports.handler = (event, context, cb) => {"
        " const r = event.Records[0].cf.request; r.uri = '/cb'; cb(null, r); return 5; };",
    )
    try:
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/cb"
    finally:
        handler.close()


def test_a_node_handler_that_never_calls_back_and_leaves_nothing_answers_null(
    tmp_path: Path,
) -> None:
    """Lambda's Node runtime answers null once the event loop is empty: a 502 at once, not a
    503 at the 5 s deadline."""
    handler = _node(tmp_path, "exports.handler = (event, context, callback) => { };")
    try:
        started = time.monotonic()
        with pytest.raises(CloudFrontError) as info:
            run_trigger(handler, EventBuilder().viewer_request("/"))
        assert info.value.error_name == "LambdaValidationError"
        assert time.monotonic() - started < 3
    finally:
        handler.close()


def test_a_node_handler_with_work_left_running_is_waited_for(tmp_path: Path) -> None:
    handler = _node(
        tmp_path,
        "exports.handler = (event, context, callback) => { const r = event.Records[0].cf.request;"
        " setTimeout(() => { r.uri = '/later'; callback(null, r); }, 50); return 'ignored'; };",
    )
    try:
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/later"
    finally:
        handler.close()


@pytest.mark.slow
def test_a_large_event_to_a_busy_node_worker_gets_its_503_at_the_deadline(
    door: Door, tmp_path: Path
) -> None:
    """The event was written to the worker's stdin with a blocking write the deadline did not
    cover: over the pipe's 64 KiB, behind a worker busy with what a handler left running, the
    request hung for as long as the worker was busy (for ever, for an endless loop)."""
    handler = _node(
        tmp_path,
        "exports.handler = async (event) => { const r = event.Records[0].cf.request;"
        " if (r.uri === '/spin') setTimeout(() => { for (;;) {} }, 10); return r; };",
        workers=1,
    )
    config = EdgeConfig(
        default=Behavior(
            cache=NO_CACHE,
            allowed_methods=("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"),
            origin_request=Trigger(handler, include_body=True),
        ),
        settings=EdgeSettings(origin_timeout=1.0),
    )
    client = door.viewer(door.wrap(_apps(door), config))
    try:
        assert door.send(client, "GET", "/spin").status == 404  # answered; the worker spins
        time.sleep(0.1)
        got: list[Any] = []
        post = threading.Thread(
            target=lambda: got.append(door.send(client, "POST", "/", body=b"x" * 200_000)),
            daemon=True,
        )
        started = time.monotonic()
        post.start()
        post.join(8)
        assert got, "still waiting 8 s after a 1 s deadline"
        assert (got[0].status, got[0].get("x-cache")) == (
            503,
            "LambdaExecutionError from cloudfront",
        )
        assert time.monotonic() - started < 4
    finally:
        handler.close()
