"""origin-response on a revalidation (the cache-with-functions hunt of 2026-12-07): a function
that answers in a 304's place has its answer cached and served, and a 5xx from the origin goes
through origin-response even when a stale copy could be served (the function's status
decides). Both doors; each test failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask import Response as FlaskResponse
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware, Trigger

ETAG = '"o1"'


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _doors(answer: Any, config: EdgeConfig, clock: _Clock) -> dict[str, Any]:
    """GET ``/a`` on each door: (status, X-Cache, body)."""

    async def star(request: Request) -> Response:
        status, headers, body = answer(request.headers.get("if-none-match"))
        return Response(body, status_code=status, headers=headers)

    flask = Flask("origin")

    @flask.route("/a")
    def page() -> Any:
        status, headers, body = answer(flask_request.headers.get("If-None-Match"))
        return FlaskResponse(body, status=status, headers=headers)

    asgi = TestClient(
        EdgeMiddleware(Starlette(routes=[Route("/a", star)]), config=config, clock=clock)
    )
    wsgi = Client(EdgeWSGIMiddleware(flask, config=config, clock=clock))

    def get_asgi() -> tuple[int, str, bytes]:
        r = asgi.get("/a")
        return r.status_code, r.headers["x-cache"], r.content

    def get_wsgi() -> tuple[int, str, bytes]:
        r = wsgi.get("/a")
        return r.status_code, r.headers["X-Cache"], r.get_data()

    return {"asgi": get_asgi, "wsgi": get_wsgi}


def _revalidated(if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
    """An origin that answers a revalidation with its ETag with a 304."""
    if if_none_match == ETAG:
        return 304, {"ETag": ETAG, "Cache-Control": "max-age=10"}, b""
    return 200, {"ETag": ETAG, "Cache-Control": "max-age=10"}, b"original"


def _keep(seen: list[str]) -> Any:
    def origin_response(event: dict[str, Any], context: Any) -> Any:
        seen.append(event["Records"][0]["cf"]["response"]["status"])
        return event["Records"][0]["cf"]["response"]

    return origin_response


def _fallback(seen: list[str]) -> Any:
    def origin_response(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        seen.append(response["status"])
        if response["status"] != "200":  # AWS's pattern: any other status becomes a page
            response["status"], response["statusDescription"] = "200", "OK"
            response["body"] = "fallback"
        return response

    return origin_response


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_an_origin_response_answer_in_a_304s_place_is_what_is_served(door: str) -> None:
    """Only its headers were kept: the old body was refreshed and served (RefreshHit)."""

    seen: list[str] = []
    clock = _Clock()
    config = EdgeConfig(default=Behavior(origin_response=Trigger(_fallback(seen))))
    get = _doors(_revalidated, config, clock)[door]
    assert get() == (200, "Miss from cloudfront", b"original")
    clock.now += 15  # expired: revalidated, the origin says 304
    assert get() == (200, "Miss from cloudfront", b"fallback")
    assert get() == (200, "Hit from cloudfront", b"fallback")  # stored as the object
    assert seen == ["200", "304"]


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_a_304_the_function_leaves_as_it_is_still_refreshes_the_copy(door: str) -> None:
    seen: list[str] = []
    clock = _Clock()

    config = EdgeConfig(default=Behavior(origin_response=Trigger(_keep(seen))))
    get = _doors(_revalidated, config, clock)[door]
    assert get()[2] == b"original"
    clock.now += 15
    assert get() == (200, "RefreshHit from cloudfront", b"original")
    assert seen == ["200", "304"]


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_a_5xx_with_a_stale_copy_goes_through_origin_response(door: str) -> None:
    """The stale copy was served and the function never called: its answer to the origin's
    500 depended on whether a copy happened to be cached."""
    calls = [0]

    def answer(if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        calls[0] += 1
        if calls[0] == 1:
            return 200, {"Cache-Control": "max-age=10"}, b"original"
        return 500, {}, b"origin error"

    seen: list[str] = []
    clock = _Clock()
    config = EdgeConfig(default=Behavior(origin_response=Trigger(_fallback(seen))))
    get = _doors(answer, config, clock)[door]
    assert get()[2] == b"original"
    clock.now += 15
    assert get() == (200, "Miss from cloudfront", b"fallback")
    assert seen == ["200", "500"]


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_a_5xx_the_function_leaves_serves_the_stale_copy_as_before(door: str) -> None:
    calls = [0]

    def answer(if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        calls[0] += 1
        if calls[0] == 1:
            return 200, {"Cache-Control": "max-age=10"}, b"original"
        return 503, {}, b"down"

    seen: list[str] = []

    clock = _Clock()
    config = EdgeConfig(default=Behavior(origin_response=Trigger(_keep(seen))))
    get = _doors(answer, config, clock)[door]
    assert get()[2] == b"original"
    clock.now += 15
    status, x_cache, body = get()
    assert (status, body) == (200, b"original")
    assert x_cache != "Miss from cloudfront"  # the stale copy, under its stale label
    assert seen == ["200", "503"]
