"""Fixes from the runtime bug hunt: the handler's context and ``run_trigger``
(lambda-edge.md §3.4, §3.5; decisions.md #17, #18).

* A callable object or a ``functools.partial`` is named by its class or by the function it
  wraps, never by its ``repr()``; the middleware and ``run_trigger`` give it the same context
  names (#1).
* A handler associated by a Lambda ARN sees that ARN's account, name and version (#2).
* ``run_trigger`` of an ``async def`` handler works from code that already runs an event loop
  (an async test, a notebook cell), as does the WSGI door called from such code (#3).
* ``run_trigger``'s execution and timeout errors carry the configured status (#4).
* ``context.aws_request_id`` is the invocation's own id, one per trigger (#5).
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import warnings
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeSettings,
    EdgeWSGIMiddleware,
    LambdaExecutionError,
    LambdaTimeoutError,
    Trigger,
    load_config,
)
from edge_middleware.testing import EventBuilder, FakeContext, arun_trigger, run_trigger
from tests.support.doors import Door, call_wsgi, door_fixture, ok_asgi, ok_wsgi

door = door_fixture(Door)

NO_CACHE = CachePolicy(0, 0, 0)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def cf(event: dict[str, Any]) -> dict[str, Any]:
    return event["Records"][0]["cf"]  # type: ignore[no-any-return]


def names(context: Any) -> tuple[str, str, str, str]:
    return (
        context.function_name,
        context.function_version,
        context.invoked_function_arn,
        context.log_group_name,
    )


def serve(door: Door, config: EdgeConfig) -> int:
    client = door.viewer(door.wrap(door.pick(ok_asgi, ok_wsgi), config))
    return door.send(client, "GET", "/").status


# -- #1 a handler's name ---------------------------------------------------------------------------


class Auth:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.seen.append(names(context))
        return cf(event)["request"]

    def method(self, event: dict[str, Any], context: Any) -> Any:
        return self(event, context)


def _auth(owner: Auth, flag: bool, event: dict[str, Any], context: Any) -> Any:
    return owner(event, context)


HANDLERS = {
    "object": (lambda a: a, "Auth"),
    "partial": (lambda a: functools.partial(_auth, a, True), "_auth"),
    "partial-of-partial": (lambda a: functools.partial(functools.partial(_auth, a), True), "_auth"),
    "partial-of-object": (lambda a: functools.partial(a), "Auth"),
    "bound-method": (lambda a: a.method, "method"),
}


@pytest.mark.parametrize("kind", HANDLERS)
def test_handler_named_by_its_function_or_class(door: Door, kind: str) -> None:
    owner = Auth()
    make, name = HANDLERS[kind]
    handler = make(owner)
    assert "0x" not in Trigger(handler).display_name
    assert serve(door, EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=handler))) == 200
    run_trigger(handler, EventBuilder().viewer_request("/"))
    middleware, tested = owner.seen
    assert middleware == tested  # the middleware and run_trigger agree
    assert middleware == (
        name,
        "1",
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}:1",
        f"/aws/lambda/us-east-1.{name}",
    )


# -- #2 the context of a handler associated by ARN ---------------------------------------------


ARN = "arn:aws:lambda:us-east-1:123456789012:function:auth:7"


def _distribution(arn: str) -> dict[str, Any]:
    return {
        "DistributionConfig": {
            "CallerReference": "x",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "example.com",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "http-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                "LambdaFunctionAssociations": {
                    "Quantity": 1,
                    "Items": [
                        {"LambdaFunctionARN": arn, "EventType": "viewer-request"},
                    ],
                },
            },
        }
    }


def test_arn_association_context_keeps_the_arn(door: Door) -> None:
    owner = Auth()
    config = load_config(_distribution(ARN), handlers={"auth": owner})
    assert serve(door, config) == 200
    assert owner.seen == [("auth", "7", ARN, "/aws/lambda/us-east-1.auth")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (ARN, ("auth", "7", ARN, "/aws/lambda/us-east-1.auth")),
        # an alias (a template's AutoPublishAlias): the ARN as invoked, version unknown
        (
            "arn:aws:lambda:us-east-1:123456789012:function:auth:live",
            (
                "auth",
                "1",
                "arn:aws:lambda:us-east-1:123456789012:function:auth:live",
                "/aws/lambda/us-east-1.auth",
            ),
        ),
        (
            "handlers.auth:handler",
            (
                "handler",
                "1",
                "arn:aws:lambda:us-east-1:000000000000:function:handler:1",
                "/aws/lambda/us-east-1.handler",
            ),
        ),
    ],
)
def test_trigger_name_gives_the_context(door: Door, name: str, expected: tuple[str, ...]) -> None:
    owner = Auth()
    trigger = Trigger(owner, name=name)
    assert serve(door, EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=trigger))) == 200
    assert owner.seen == [expected]


# -- #3 run_trigger inside a running event loop ------------------------------------------------


def test_run_trigger_async_handler_inside_a_running_loop() -> None:
    ran: list[str] = []

    async def handler(event: dict[str, Any], context: Any) -> Any:
        await asyncio.sleep(0)
        ran.append(threading.current_thread().name)
        return cf(event)["request"]

    async def boom(event: dict[str, Any], context: Any) -> Any:
        await asyncio.sleep(0)
        raise KeyError("from the handler")

    async def cell() -> tuple[dict[str, Any], LambdaExecutionError]:
        result = run_trigger(handler, EventBuilder().viewer_request("/a"))
        with pytest.raises(LambdaExecutionError) as caught:
            run_trigger(boom, EventBuilder().viewer_request("/"))
        return result, caught.value

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "coroutine was never awaited"
        result, err = asyncio.run(cell())
    assert result["uri"] == "/a" and len(ran) == 1
    assert "KeyError" in str(err) and "event loop" not in str(err)
    # outside a loop it still runs on the calling thread
    run_trigger(handler, EventBuilder().viewer_request("/"))
    assert ran[1] == threading.current_thread().name


def test_run_trigger_async_handler_timeout_inside_a_running_loop() -> None:
    async def slow(event: dict[str, Any], context: Any) -> Any:
        await asyncio.sleep(30)

    async def cell() -> None:
        run_trigger(
            slow, EventBuilder().viewer_request("/"), settings=EdgeSettings(viewer_timeout=0.05)
        )

    with pytest.raises(LambdaTimeoutError):
        asyncio.run(cell())


def test_wsgi_door_async_handler_inside_a_running_loop() -> None:
    ran: list[str] = []

    async def handler(event: dict[str, Any], context: Any) -> Any:
        await asyncio.sleep(0)
        ran.append(cf(event)["request"]["uri"])
        return cf(event)["request"]

    config = EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=handler))
    mw = EdgeWSGIMiddleware(ok_wsgi, config=config)

    async def cell() -> str:  # a WSGI app called from a coroutine
        return call_wsgi(mw, path="/w")[0]

    assert asyncio.run(cell()) == "200 OK" and ran == ["/w"]


# -- #4 run_trigger's status follows EdgeSettings ---------------------------------------------


def _raises(event: dict[str, Any], context: Any) -> Any:
    raise KeyError("x")


async def _hangs(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(30)


@pytest.mark.parametrize(("handler", "error"), [(_raises, 500), (_hangs, 504)])
def test_run_trigger_error_status_follows_settings(door: Door, handler: Any, error: int) -> None:
    settings = EdgeSettings(
        execution_error_status=500, timeout_error_status=504, viewer_timeout=0.05
    )
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=handler), settings=settings)
    assert serve(door, config) == error
    event = EventBuilder().viewer_request("/")
    with pytest.raises(LambdaExecutionError) as caught:
        run_trigger(handler, event, settings=settings)
    assert caught.value.status == error
    with pytest.raises(LambdaExecutionError) as caught:
        asyncio.run(arun_trigger(handler, event, settings=settings))
    assert caught.value.status == error
    with pytest.raises(LambdaExecutionError) as caught:  # the defaults: CloudFront's 503
        run_trigger(handler, event, settings=EdgeSettings(viewer_timeout=0.05))
    assert caught.value.status == 503


# -- #5 aws_request_id ------------------------------------------------------------------------


def test_aws_request_id_is_the_invocation_own(door: Door) -> None:
    seen: list[tuple[str, str]] = []

    def rec(event: dict[str, Any], context: Any) -> Any:
        record = cf(event)
        seen.append((context.aws_request_id, record["config"]["requestId"]))
        return record.get("response") or record["request"]

    config = EdgeConfig(
        default=Behavior(
            cache=NO_CACHE,
            viewer_request=rec,
            origin_request=rec,
            origin_response=rec,
            viewer_response=rec,
        )
    )
    client = door.viewer(door.wrap(door.pick(ok_asgi, ok_wsgi), config))
    cf_id = door.send(client, "GET", "/").get("x-amz-cf-id")
    ids = [invocation for invocation, _ in seen]
    assert len(set(ids)) == 4 and all(UUID.fullmatch(i) for i in ids)
    # CloudFront's request id stays in the event, the same for the four triggers
    assert {request_id for _, request_id in seen} == {cf_id}


def test_aws_request_id_run_trigger_and_fake_context() -> None:
    seen: list[Any] = []

    def rec(event: dict[str, Any], context: Any) -> Any:
        seen.append(context.aws_request_id)
        seen.append(context.aws_request_id)  # read twice: the same id
        return cf(event)["request"]

    event = EventBuilder(request_id="q" * 54 + "==").viewer_request("/")
    run_trigger(rec, event)
    run_trigger(rec, event)
    assert seen[0] == seen[1] and seen[2] == seen[3] and seen[0] != seen[2]
    assert UUID.fullmatch(seen[0])
    context = FakeContext.for_event(event, "auth")
    assert UUID.fullmatch(context.aws_request_id)
    assert FakeContext(aws_request_id="given").aws_request_id == "given"
