"""edge_middleware.testing and the pytest plugin's fixtures."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    EventError,
    LambdaExecutionError,
    LambdaTimeoutError,
    LambdaValidationError,
    Origin,
)
from edge_middleware.config.settings import EdgeSettings
from edge_middleware.testing import (
    EdgeClock,
    EventBuilder,
    FakeContext,
    arun_trigger,
    edge_test_client,
    is_asgi_app,
    run_trigger,
    wrap_app,
)

EVENTS = ("viewer-request", "origin-request", "origin-response", "viewer-response")


def cf(event: dict[str, Any]) -> dict[str, Any]:
    return event["Records"][0]["cf"]  # type: ignore[no-any-return]


def passthrough(event: dict[str, Any], context: Any) -> Any:
    record = cf(event)
    return record.get("response", record["request"])


# -- EventBuilder --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENTS)
def test_every_event_has_cloudfront_defaults(event_type: str) -> None:
    event = EventBuilder().event(event_type, "/a/b?x=1&y=2", headers={"Cookie": "x=1"})
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = cf(event)
    config = record["config"]
    assert config["distributionDomainName"] == "d111111abcdef8.cloudfront.net"
    assert config["distributionId"] == "EDFDVBD6EXAMPLE"
    assert config["eventType"] == event_type
    assert len(config["requestId"]) == 56 and config["requestId"].endswith("==")
    request = record["request"]
    assert request["clientIp"] == "203.0.113.178"
    assert (request["method"], request["uri"], request["querystring"]) == ("GET", "/a/b", "x=1&y=2")
    assert request["headers"]["cookie"] == [{"key": "Cookie", "value": "x=1"}]
    assert "body" not in request
    if event_type.startswith("origin"):
        assert request["headers"]["host"][0]["value"] == "example.org"
        assert request["headers"]["user-agent"][0]["value"] == "Amazon CloudFront"
        assert request["headers"]["x-forwarded-for"][0]["value"] == "203.0.113.178"
        assert request["headers"]["via"][0]["value"].endswith(".cloudfront.net (CloudFront)")
        assert request["origin"]["custom"]["domainName"] == "example.org"
    else:
        assert request["headers"]["host"][0]["value"] == "d111111abcdef8.cloudfront.net"
        assert "origin" not in request and "via" not in request["headers"]
    if event_type.endswith("response"):
        assert record["response"]["status"] == "200"
        assert record["response"]["statusDescription"] == "OK"
    else:
        assert "response" not in record


def test_named_methods_match_event() -> None:
    events = EventBuilder(request_id="r" * 54 + "==")
    assert events.viewer_request("/") == events.event("viewer-request", "/")
    assert events.origin_request("/") == events.event("origin-request", "/")
    assert events.origin_response("/", status=404) == events.event(
        "origin-response", "/", status=404
    )
    assert events.viewer_response("/") == events.event("viewer-response", "/")


def test_one_builder_one_request_id_and_fresh_dicts() -> None:
    events = EventBuilder()
    a, b = events.viewer_request("/"), events.origin_response("/")
    assert cf(a)["config"]["requestId"] == cf(b)["config"]["requestId"]
    cf(a)["request"]["headers"]["host"][0]["value"] = "changed"
    assert cf(events.viewer_request("/"))["request"]["headers"]["host"][0]["value"] != "changed"
    assert (
        cf(EventBuilder().viewer_request())["config"]["requestId"] != (cf(a)["config"]["requestId"])
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            [("Cookie", "a=1"), ("cookie", "b=2")],
            [{"key": "Cookie", "value": "a=1"}, {"key": "cookie", "value": "b=2"}],
            id="pairs-keep-repeats",
        ),
        pytest.param(
            {"Cookie": ["a=1", "b=2"]},
            [{"key": "Cookie", "value": "a=1"}, {"key": "Cookie", "value": "b=2"}],
            id="mapping-of-lists",
        ),
        pytest.param(
            {"cookie": [{"key": "COOKIE", "value": "a=1"}]},
            [{"key": "COOKIE", "value": "a=1"}],
            id="cloudfront-map",
        ),
        pytest.param({"Cookie": "a=1; b=2"}, [{"key": "Cookie", "value": "a=1; b=2"}], id="str"),
    ],
)
def test_header_forms(headers: Any, expected: list[dict[str, str]]) -> None:
    request = cf(EventBuilder().viewer_request("/", headers=headers))["request"]
    assert request["headers"]["cookie"] == expected


def test_given_headers_replace_defaults() -> None:
    request = cf(
        EventBuilder().origin_request("/", headers={"User-Agent": "Mozilla/5.0", "Host": "h"})
    )["request"]
    assert request["headers"]["user-agent"] == [{"key": "User-Agent", "value": "Mozilla/5.0"}]
    assert request["headers"]["host"] == [{"key": "Host", "value": "h"}]


def test_builder_options() -> None:
    events = EventBuilder(
        distribution_domain_name="d1.cloudfront.net",
        distribution_id="EDEMO",
        client_ip="198.51.100.7",
        host="www.example.com",
        user_agent="pytest",
        origin_domain="app.example.com",
    )
    vr = cf(events.viewer_request("/", method="post"))
    assert vr["config"]["distributionDomainName"] == "d1.cloudfront.net"
    assert vr["config"]["distributionId"] == "EDEMO"
    assert vr["request"]["method"] == "POST"
    assert vr["request"]["headers"]["host"][0]["value"] == "www.example.com"
    assert vr["request"]["headers"]["user-agent"][0]["value"] == "pytest"
    orq = cf(events.origin_request("/", client_ip="192.0.2.1"))["request"]
    assert orq["clientIp"] == "192.0.2.1"
    assert orq["headers"]["x-forwarded-for"][0]["value"] == "192.0.2.1"
    assert orq["headers"]["host"][0]["value"] == "app.example.com"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"body": b"a=1&b=2"}, (False, "a=1&b=2"), id="bytes-implies-include"),
        pytest.param({"body": "é", "include_body": True}, (False, "é"), id="str-utf8"),
        pytest.param({"include_body": True}, (False, ""), id="bodyless-method"),
        pytest.param({"body": b"x" * (40 * 1024 + 1)}, (True, "x" * 40 * 1024), id="truncated"),
        pytest.param({"body": b"a=1", "include_body": False}, None, id="not-exposed"),
    ],
)
def test_viewer_request_body(kwargs: dict[str, Any], expected: tuple[bool, str] | None) -> None:
    request = cf(EventBuilder().viewer_request("/f", method="POST", **kwargs))["request"]
    if expected is None:
        assert "body" not in request
        return
    body = request["body"]
    assert body["action"] == "read-only" and body["encoding"] == "base64"
    assert (body["inputTruncated"], base64.b64decode(body["data"]).decode()) == expected


def test_origin_request_body_limit_is_1mb() -> None:
    body = cf(EventBuilder().origin_request("/", method="PUT", body=b"x" * 50_000))["request"]
    assert body["body"]["inputTruncated"] is False


def test_origin_from_dict_and_config() -> None:
    s3 = {"s3": {"authMethod": "none", "customHeaders": {}, "domainName": "b.s3.amazonaws.com"}}
    request = cf(EventBuilder().origin_request("/", origin=s3))["request"]
    assert request["origin"] == s3 and request["origin"] is not s3
    assert request["headers"]["host"][0]["value"] == "b.s3.amazonaws.com"
    origin = Origin(id="app", domain_name="app.example.com", protocol_policy="https-only")
    request = cf(EventBuilder().origin_response("/", origin=origin))["request"]
    assert request["origin"]["custom"]["domainName"] == "app.example.com"
    assert request["origin"]["custom"]["port"] == 443


def test_response_status_and_headers() -> None:
    events = EventBuilder()
    response = cf(events.origin_response("/", status="418", response_headers={}))["response"]
    assert response == {"status": "418", "statusDescription": "I'm a Teapot", "headers": {}}
    response = cf(
        events.viewer_response(
            "/", status=599, response_headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        )
    )["response"]
    assert response["status"] == "599" and response["statusDescription"] == ""
    assert [e["value"] for e in response["headers"]["set-cookie"]] == ["a=1", "b=2"]
    response = cf(events.origin_response("/", status=200, status_description="Fine"))["response"]
    assert response["statusDescription"] == "Fine"
    assert response["headers"]["content-type"][0]["value"].startswith("text/html")


@pytest.mark.parametrize(
    ("event_type", "path", "kwargs"),
    [
        pytest.param("viewer-requests", "/", {}, id="event-type"),
        pytest.param("viewer-request", "a", {}, id="relative-path"),
        pytest.param("origin-response", "/", {"body": b"x"}, id="response-body"),
    ],
)
def test_builder_rejects(event_type: str, path: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EventBuilder().event(event_type, path, **kwargs)


# -- run_trigger ---------------------------------------------------------------------------------


def add_header(event: dict[str, Any], context: Any) -> Any:
    request = cf(event)["request"]
    request["headers"]["x-remaining"] = [{"value": str(context.get_remaining_time_in_millis())}]
    request["uri"] = "/rewritten"
    return request


async def async_redirect(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    return {"status": 302, "headers": {"location": [{"value": "/login"}]}}


def base64_page(event: dict[str, Any], context: Any) -> Any:
    return {"status": "200", "body": base64.b64encode(b"\x00hi").decode(), "bodyEncoding": "base64"}


def text_page(event: dict[str, Any], context: Any) -> Any:
    response = cf(event)["response"]
    response["status"] = 200
    response["body"] = "plan b"
    return response


def test_run_trigger_returns_normalised_request() -> None:
    event = EventBuilder().viewer_request("/a?b=1", headers={"Cookie": "x=1"})
    result = run_trigger(add_header, event)
    assert result["uri"] == "/rewritten" and result["querystring"] == "b=1"
    (entry,) = result["headers"]["x-remaining"]
    assert entry["key"] == "X-Remaining" and 0 < int(entry["value"]) <= 5000
    assert cf(event)["request"]["uri"] == "/a"  # the caller's event is untouched


def test_run_trigger_by_module_string_and_async() -> None:
    event = EventBuilder().origin_request("/")
    assert run_trigger(f"{__name__}:passthrough", event) == cf(event)["request"]
    result = run_trigger(async_redirect, EventBuilder().viewer_request("/account/"))
    assert result == {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": "/login"}]},
    }


def test_run_trigger_response_bodies() -> None:
    result = run_trigger(base64_page, EventBuilder().origin_request("/"))
    assert (result["body"], result["bodyEncoding"]) == ("AGhp", "base64")
    result = run_trigger(text_page, EventBuilder().origin_response("/", status=404))
    assert result["status"] == "200" and result["statusDescription"] == "Not Found"
    assert (result["body"], result["bodyEncoding"]) == ("plan b", "text")


def test_run_trigger_keeps_body_with_include_body() -> None:
    event = EventBuilder().viewer_request("/f", method="POST", body=b"a=1")
    assert run_trigger(passthrough, event)["body"]["data"] == "YT0x"
    assert "body" not in run_trigger(passthrough, event, include_body=False)


def test_arun_trigger() -> None:
    event = EventBuilder().viewer_response("/", status=404)
    result = asyncio.run(arun_trigger(passthrough, event))
    assert result["status"] == "404"
    assert asyncio.run(arun_trigger(async_redirect, EventBuilder().viewer_request()))


def returns_none(event: dict[str, Any], context: Any) -> None:
    return None


def changes_status(event: dict[str, Any], context: Any) -> Any:
    response = cf(event)["response"]
    response["status"] = "500"
    return response


def adds_x_cache(event: dict[str, Any], context: Any) -> Any:
    request = cf(event)["request"]
    request["headers"]["x-cache"] = [{"value": "Hit"}]
    return request


def raises(event: dict[str, Any], context: Any) -> Any:
    return event["missing"]


@pytest.mark.parametrize(
    ("handler", "event_type", "error", "field"),
    [
        pytest.param(returns_none, "viewer-request", LambdaValidationError, "result", id="none"),
        pytest.param(
            changes_status, "viewer-response", LambdaValidationError, "response.status", id="vr"
        ),
        pytest.param(
            adds_x_cache,
            "origin-request",
            LambdaValidationError,
            'request.headers["x-cache"]',
            id="blacklisted",
        ),
        pytest.param(raises, "origin-response", LambdaExecutionError, None, id="raises"),
    ],
)
def test_run_trigger_raises_cloudfront_errors(
    handler: Any, event_type: str, error: type[Exception], field: str | None
) -> None:
    with pytest.raises(error) as info:
        run_trigger(handler, EventBuilder().event(event_type, "/"))
    assert getattr(info.value, "field", None) == field
    assert getattr(info.value, "handler", "").endswith(handler.__name__)


def test_run_trigger_timeout() -> None:
    release = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> Any:
        release.wait(5)
        return cf(event)["request"]

    try:
        with pytest.raises(LambdaTimeoutError):
            run_trigger(
                slow, EventBuilder().viewer_request(), settings=EdgeSettings(viewer_timeout=0.05)
            )
    finally:
        release.set()


async def _awaits_then_times_out(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    raise TimeoutError("upstream auth service timed out")


async def _times_out_at_once(event: dict[str, Any], context: Any) -> Any:
    raise TimeoutError("upstream auth service timed out")


def _sync_times_out(event: dict[str, Any], context: Any) -> Any:
    raise TimeoutError("upstream auth service timed out")


@pytest.mark.parametrize("handler", [_awaits_then_times_out, _times_out_at_once, _sync_times_out])
@pytest.mark.parametrize("mode", ["auto", "inline", "thread"])
def test_a_handlers_own_timeout_error_is_its_failure(handler: Any, mode: str) -> None:
    """A TimeoutError the handler raises (asyncio.wait_for on a call it makes) is an execution
    error, not CloudFront's timeout: that one is the handler's deadline passing."""
    settings = EdgeSettings(handler_mode=mode)  # type: ignore[arg-type]
    with pytest.raises(LambdaExecutionError, match="raised TimeoutError") as info:
        run_trigger(handler, EventBuilder().viewer_request(), settings=settings)
    assert not isinstance(info.value, LambdaTimeoutError)
    with pytest.raises(LambdaExecutionError, match="raised TimeoutError"):
        asyncio.run(arun_trigger(handler, EventBuilder().viewer_request(), settings=settings))


class _LibraryAbort(BaseException):
    """A library's own abort signal, derived from BaseException."""


async def _async_aborts(event: dict[str, Any], context: Any) -> Any:
    raise _LibraryAbort("abort")


async def _async_aborts_later(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    raise _LibraryAbort("abort")


def _sync_aborts(event: dict[str, Any], context: Any) -> Any:
    raise _LibraryAbort("abort")


def _sync_interrupts(event: dict[str, Any], context: Any) -> Any:
    raise KeyboardInterrupt  # the handler's own raise; on a worker thread never a signal


@pytest.mark.parametrize("handler", [_async_aborts, _async_aborts_later, _sync_aborts])
@pytest.mark.parametrize("mode", ["auto", "inline", "thread"])
def test_a_base_exception_a_handler_raises_is_its_failure(handler: Any, mode: str) -> None:
    """lambda-edge.md §3.5: any unhandled error is CloudFront's 503 LambdaExecutionError; a
    BaseException subclass used to leave run_trigger (and both doors) as it was."""
    settings = EdgeSettings(handler_mode=mode)  # type: ignore[arg-type]
    with pytest.raises(LambdaExecutionError, match="raised _LibraryAbort"):
        run_trigger(handler, EventBuilder().viewer_request(), settings=settings)
    with pytest.raises(LambdaExecutionError, match="raised _LibraryAbort"):
        asyncio.run(arun_trigger(handler, EventBuilder().viewer_request(), settings=settings))


def test_keyboard_interrupt_on_a_worker_thread_is_the_handlers_failure() -> None:
    settings = EdgeSettings(handler_mode="thread")
    with pytest.raises(LambdaExecutionError, match="raised KeyboardInterrupt"):
        run_trigger(_sync_interrupts, EventBuilder().viewer_request(), settings=settings)


def test_keyboard_interrupt_on_the_serving_thread_stops_it() -> None:
    """Inline, a KeyboardInterrupt may be Ctrl-C reaching the server: it is let through."""
    settings = EdgeSettings(handler_mode="inline")
    with pytest.raises(KeyboardInterrupt):
        run_trigger(_sync_interrupts, EventBuilder().viewer_request(), settings=settings)


async def _blocks_past_its_deadline(event: dict[str, Any], context: Any) -> Any:
    time.sleep(0.3)  # CPU-bound work: the loop cannot run a timer meanwhile
    return cf(event)["request"]


async def _blocks_then_awaits(event: dict[str, Any], context: Any) -> Any:
    time.sleep(0.3)
    await asyncio.sleep(0)
    return cf(event)["request"]


async def _awaits_then_blocks(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    time.sleep(0.3)
    return cf(event)["request"]


@pytest.mark.parametrize(
    "handler", [_blocks_past_its_deadline, _blocks_then_awaits, _awaits_then_blocks]
)
def test_an_async_handler_that_blocks_past_its_deadline_timed_out(handler: Any) -> None:
    """lambda-edge.md §3.5: past its timeout is CloudFront's 503, also for an ``async def``
    handler that never lets the loop run its timer: it got a 200 (the time before its first
    suspension was never counted; a call that blocked and returned was never judged)."""
    settings = EdgeSettings(viewer_timeout=0.1)
    with pytest.raises(LambdaTimeoutError):
        run_trigger(handler, EventBuilder().viewer_request(), settings=settings)
    with pytest.raises(LambdaTimeoutError):
        asyncio.run(arun_trigger(handler, EventBuilder().viewer_request(), settings=settings))


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({}, id="empty"),
        pytest.param(
            {"Records": [{"cf": {"config": {"eventType": "x"}, "request": {}}}]}, id="type"
        ),
        pytest.param(
            {"Records": [{"cf": {"config": {"eventType": "origin-response"}, "request": {}}}]},
            id="no-response",
        ),
    ],
)
def test_run_trigger_rejects_malformed_events(event: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        run_trigger(passthrough, event)


@pytest.mark.parametrize("status", ["abc", "", "2OO", None, 2.5])
def test_a_response_status_that_is_no_number_is_named_before_the_handler_runs(
    status: Any,
) -> None:
    ran: list[bool] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        ran.append(True)
        return cf(event)["response"]

    cfdict = {"config": {"eventType": "origin-response"}, "request": {}}
    event = {"Records": [{"cf": {**cfdict, "response": {"status": status}}}]}
    with pytest.raises(EventError) as caught:
        run_trigger(handler, event)
    assert caught.value.field == "Records[0].cf.response.status"
    assert not ran


# -- FakeContext, EdgeClock ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "timeout"), [(e, 5.0 if "viewer" in e else 30.0) for e in EVENTS]
)
def test_fake_context_for_event(event_type: str, timeout: float) -> None:
    event = EventBuilder(request_id="q" * 54 + "==").event(event_type)
    context = FakeContext.for_event(event, "auth")
    assert context.function_name == "auth" and context.timeout == timeout
    # the invocation's own id, as on Lambda (a UUID per invocation); CloudFront's requestId
    # stays in the event (runtime hunt #5)
    assert context.aws_request_id != "q" * 54 + "==" and len(context.aws_request_id) == 36
    assert 0 < context.get_remaining_time_in_millis() <= timeout * 1000
    assert context.invoked_function_arn.endswith(":function:auth:1")


def test_fake_context_defaults() -> None:
    a, b = FakeContext(), FakeContext()
    assert a.function_name == "test-function" and a.aws_request_id != b.aws_request_id
    assert FakeContext(timeout=0.0).get_remaining_time_in_millis() == 0


def test_edge_clock() -> None:
    clock = EdgeClock(1000)
    assert clock() == 1000.0
    assert clock.advance(2.5) == 1002.5 and clock() == 1002.5
    clock.set(5)
    assert clock() == 5.0
    with pytest.raises(ValueError):
        clock.advance(-1)


# -- wrapping apps and the fixtures ---------------------------------------------------------------


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("starlette", headers={"Cache-Control": "max-age=60"})


STARLETTE = Starlette(routes=[Route("/", page)])
FLASK = Flask(__name__)


@FLASK.get("/")
def flask_page() -> tuple[str, int, dict[str, str]]:
    return "flask", 200, {"Cache-Control": "max-age=60"}


def test_is_asgi_app_and_wrap() -> None:
    assert is_asgi_app(STARLETTE) and is_asgi_app(page)
    assert not is_asgi_app(FLASK) and not is_asgi_app(FLASK.wsgi_app)
    assert isinstance(wrap_app(STARLETTE), EdgeMiddleware)
    wrapped = wrap_app(FLASK.wsgi_app, config=EdgeConfig())
    assert isinstance(wrapped, EdgeWSGIMiddleware)
    assert wrap_app(wrapped) is wrapped
    with pytest.raises(ValueError):
        wrap_app(wrapped, config=EdgeConfig())

    # ``asgi=`` decides for an app detection cannot tell; an app surely of the other kind
    # is refused at start (it was wrapped, and every request was a 502)
    def either(*args: Any) -> Any:
        raise AssertionError("never called")

    assert isinstance(wrap_app(either, asgi=False), EdgeWSGIMiddleware)
    assert isinstance(wrap_app(either, asgi=True), EdgeMiddleware)
    with pytest.raises(ConfigurationError, match="a WSGI application"):
        wrap_app(STARLETTE, asgi=False)


def _refuses(event: dict[str, Any], context: Any) -> Any:
    return {"status": "403", "body": "refused at the edge"}


def _flask_wrapped_in_code() -> Any:
    from flask import Flask

    app = Flask("wrapped_in_code")
    app.route("/")(lambda: "reached the app")
    config = EdgeConfig(default=Behavior(viewer_request=_refuses))
    app.wsgi_app = EdgeWSGIMiddleware(app.wsgi_app, config=config)  # type: ignore[method-assign]
    return app


def _fastapi_wrapped_in_code() -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.get("/")(lambda: "reached the app")
    app.add_middleware(EdgeMiddleware, config=EdgeConfig(default=Behavior(viewer_request=_refuses)))
    return app


@pytest.mark.parametrize("make", [_flask_wrapped_in_code, _fastapi_wrapped_in_code])
def test_an_app_with_the_middleware_inside_is_tested_as_it_is(make: Any) -> None:
    """The README's setups (Flask's app.wsgi_app, FastAPI's add_middleware): the app's own
    edge config applies, as under ``serve``. It was wrapped a second time with the default
    config, the inner middleware passed requests through, and the handler never ran."""
    client = edge_test_client(make())
    try:
        response = client.get("/")
        assert response.status_code == 403
        assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"
    finally:
        getattr(client, "close", lambda: None)()
    with pytest.raises(ValueError, match="already has the edge middleware"):
        wrap_app(make(), config=EdgeConfig())


def test_the_edge_client_fixture_takes_an_app_wrapped_in_code(edge_client: Any) -> None:
    """It added its clock= to every app, so an app wrapped in code was a ValueError."""
    assert edge_client(_flask_wrapped_in_code()).get("/").status_code == 403


def test_edge_test_client_kinds() -> None:
    client = edge_test_client(STARLETTE)
    try:
        assert type(client).__name__ == "TestClient"
        assert client.get("/").text == "starlette"
    finally:
        client.close()
    werkzeug_client = edge_test_client(FLASK)
    assert isinstance(werkzeug_client, Client)
    assert werkzeug_client.get("/").text == "flask"


@pytest.mark.parametrize("asgi", [True, False], ids=["asgi", "wsgi"])
def test_edge_test_client_is_the_same_viewer_on_both_doors(asgi: bool) -> None:
    """base_url, an explicit Cookie header and the viewer's address reach the handlers the
    same way behind either client (WSGI ignored base_url and dropped the Cookie header)."""
    seen: list[dict[str, Any]] = []

    def look(event: dict[str, Any], context: Any) -> Any:
        request = cf(event)["request"]
        seen.append(request)
        return request

    config = EdgeConfig(default=Behavior(viewer_request=look, cache=CachePolicy(0, 0, 0)))
    app = STARLETTE if asgi else FLASK
    client: Any = edge_test_client(app, config=config, base_url="https://www.example.com")
    try:
        assert client.get("/", headers={"Cookie": "session=alice"}).status_code == 200
    finally:
        if asgi:
            client.close()
    request = seen[0]
    assert request["headers"]["host"][0]["value"] == "www.example.com"
    assert request["headers"]["cookie"][0]["value"] == "session=alice"
    assert request["clientIp"] == "127.0.0.1"


def test_edge_event_fixture(edge_event: EventBuilder) -> None:
    assert isinstance(edge_event, EventBuilder)
    assert run_trigger(passthrough, edge_event.viewer_request("/"))["uri"] == "/"


@pytest.mark.parametrize(
    "app", [pytest.param(STARLETTE, id="asgi"), pytest.param(FLASK, id="wsgi")]
)
def test_edge_client_fixture_uses_edge_clock(
    app: Any, edge_client: Any, edge_clock: EdgeClock
) -> None:
    def redirect(event: dict[str, Any], context: Any) -> Any:
        request = cf(event)["request"]
        if request["uri"].startswith("/account"):
            return {"status": "302", "headers": {"location": [{"value": "/login"}]}}
        return request

    config = EdgeConfig(default=Behavior(viewer_request=redirect, cache=CachePolicy()))
    client = edge_client(app, config=config)
    assert client.get("/").headers["X-Cache"] == "Miss from cloudfront"
    edge_clock.advance(30)
    hit = client.get("/")
    assert (hit.headers["X-Cache"], hit.headers["Age"]) == ("Hit from cloudfront", "30")
    edge_clock.advance(31)
    assert client.get("/").headers["X-Cache"] != "Hit from cloudfront"
    response = client.get("/account/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"


@pytest.mark.parametrize("asgi", [True, False], ids=["asgi", "wsgi"])
def test_a_cookie_header_given_replaces_the_kept_cookies_on_both_clients(asgi: bool) -> None:
    """The WSGI client added its jar's cookies to a Cookie header given, the ASGI one (httpx)
    sends the header as given: one test got another cache key, Hit or Miss, by door."""
    seen: list[str] = []

    def look(event: dict[str, Any], context: Any) -> Any:
        request = cf(event)["request"]
        seen.append(", ".join(e["value"] for e in request["headers"].get("cookie", [])))
        return request

    config = EdgeConfig(default=Behavior(viewer_request=look, cache=CachePolicy(0, 0, 0)))
    client: Any = edge_test_client(STARLETTE if asgi else FLASK, config=config)
    try:
        if asgi:
            client.cookies.set("jar", "1", domain="testserver.local")
        else:
            client.set_cookie("jar", "1", domain="testserver")
        client.get("/", headers={"Cookie": "given=2"})
        client.get("/")
    finally:
        getattr(client, "close", lambda: None)()
    assert seen == ["given=2", "jar=1"]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EventBuilder().viewer_request(None), "path"),  # type: ignore[arg-type]
        (lambda: EventBuilder().viewer_request("x"), "path"),
        (lambda: EventBuilder().origin_response("/x", status="abc"), "status"),
        (lambda: EventBuilder().origin_response("/x", status=99), "status"),
        (lambda: EventBuilder().event("viewer-request", "/", method="G T"), "method"),
        (lambda: EventBuilder().event("origin-ready", "/"), "event_type"),
    ],
    ids=["path-none", "path-relative", "status-text", "status-99", "method", "event-type"],
)
def test_event_builder_refuses_bad_input_with_an_event_error(make: Any, field: str) -> None:
    """An EventError naming what is wrong (it is a ValueError, as documented): None raised
    AttributeError, a non-numeric status a bare ValueError from int(), 99 and 'G T' were
    accepted."""
    with pytest.raises(EventError) as info:
        make()
    assert info.value.field == field
