"""Custom error pages and cache keys found wrong by trying them from outside (hunts of
2026-12-07, second session), on both doors: a page whose own functions fail (the page kept for
the error's ErrorCachingMinTTL is in test_error_page_cache.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.responses import PlainTextResponse

from edge_middleware import Behavior, CustomErrorResponse, EdgeConfig, Trigger
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)

Answer = Callable[[str], tuple[int, str]]


def apps(answer: Answer, seen: list[str]) -> tuple[Any, Any]:
    """An ASGI and a WSGI app that answer ``answer(path) -> (status, body)``, noting paths."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        status, body = answer(scope["path"])
        await PlainTextResponse(body, status)(scope, receive, send)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        status, body = answer(environ["PATH_INFO"])
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [body.encode()]

    return asgi, wsgi


def _pages(path: str) -> tuple[int, str]:
    if path == "/errors/404.html":
        return 200, "the page as the origin has it"
    return 404, "origin: not found"


def _raises(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("the page's origin-response failed")


def _invalid(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["status"] = "two hundred"  # CloudFront's LambdaValidationError
    return response


@pytest.mark.parametrize("handler", [_raises, _invalid], ids=["raises", "invalid"])
@pytest.mark.parametrize("event_type", ["origin_request", "origin_response"])
def test_a_page_whose_own_function_fails_is_never_served(
    door: Door, handler: Any, event_type: str
) -> None:
    """A page fetch whose origin-side function fails cannot give the page (lambda-edge.md
    §3.5: a failed function's object is never used): the viewer gets the original error, as
    for a page that is an error itself; before, the origin's unprocessed page was served."""
    seen: list[str] = []
    page_behavior = Behavior("/errors/*", **{event_type: Trigger(handler)})
    config = EdgeConfig(
        behaviors=[page_behavior],
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 200, 0)],
    )
    client = door.viewer(door.wrap(door.pick(*apps(_pages, seen)), config))
    r = door.send(client, "GET", "/missing")
    assert (r.status, r.body, r.get("x-cache")) == (
        404,
        b"origin: not found",
        "Error from cloudfront",
    )
