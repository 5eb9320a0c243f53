"""The scope an ASGI origin receives has lower-case header names, as ASGI requires (issue 16,
item 2), so a real Starlette app behind ``EdgeMiddleware`` finds ``host``, ``x-forwarded-for``
and ``if-none-match``: ``TrustedHostMiddleware`` lets the request in, and an ETag revalidation
gets the origin's 304, so the viewer sees ``RefreshHit`` (caching.md §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, OriginRequestPolicy
from edge_middleware.core.convert import origin_scope

ETAG = '"v1"'
CLIENT_IP = "203.0.113.7"


def _origin(seen: list[tuple[str, int]]) -> Starlette:
    async def page(request: Request) -> Response:
        headers = {"etag": ETAG, "cache-control": "max-age=60"}
        if request.headers.get("if-none-match") == ETAG:
            seen.append((request.url.path, 304))
            return Response(status_code=304, headers=headers)
        seen.append((request.url.path, 200))
        return PlainTextResponse("the page", headers=headers)

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "host": request.headers.get("host"),
                "x-forwarded-for": request.headers.get("x-forwarded-for"),
                "x-custom": request.headers.get("x-custom"),
                "names": [name.decode("latin-1") for name, _ in request.scope["headers"]],
            }
        )

    return Starlette(
        routes=[Route("/page", page), Route("/echo", echo)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["viewer.test"])],
    )


class Run:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.seen: list[tuple[str, int]] = []
        # /echo: CachingDisabled + AllViewer, so the viewer's own headers reach the origin
        echo = Behavior(
            "/echo",
            cache=CachePolicy(0, 0, 0),
            origin_request_policy=OriginRequestPolicy(headers="allViewer"),
        )
        config = EdgeConfig(behaviors=[echo])
        mw = EdgeMiddleware(_origin(self.seen), config=config, clock=lambda: self.now)
        self.client = TestClient(mw, base_url="http://viewer.test", client=(CLIENT_IP, 50000))

    def get(self, path: str, **headers: str) -> Any:
        return self.client.get(path, headers=headers)


def _trusted_host(run: Run) -> None:
    r = run.get("/echo", **{"X-Custom": "Mixed"})
    assert r.status_code == 200, r.text
    assert r.json()["host"] == "viewer.test"
    assert r.json()["x-custom"] == "Mixed"


def _forwarded_for(run: Run) -> None:
    r = run.get("/echo")
    assert r.status_code == 200, r.text
    assert r.json()["x-forwarded-for"] == CLIENT_IP


def _names_lower_case(run: Run) -> None:
    r = run.get("/echo", **{"X-Mixed-Case": "v"})
    names = r.json()["names"]
    assert "x-mixed-case" in names and "x-forwarded-for" in names
    assert names == [name.lower() for name in names]


def _etag_revalidation(run: Run) -> None:
    first = run.get("/page")
    assert (first.status_code, first.headers["x-cache"]) == (200, "Miss from cloudfront")
    run.now += 120  # past max-age: the next request revalidates with If-None-Match
    second = run.get("/page")
    assert second.status_code == 200 and second.text == "the page"
    assert second.headers["x-cache"] == "RefreshHit from cloudfront"
    assert run.seen == [("/page", 200), ("/page", 304)]


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(_trusted_host, id="trusted-host-middleware-sees-host"),
        pytest.param(_forwarded_for, id="x-forwarded-for-readable"),
        pytest.param(_names_lower_case, id="every-name-lower-case"),
        pytest.param(_etag_revalidation, id="etag-revalidation-refresh-hit"),
    ],
)
def test_starlette_origin_behind_the_asgi_door(check: Callable[[Run], None]) -> None:
    check(Run())


def test_origin_scope_lower_cases_every_name() -> None:
    """The conversion itself: viewer names, handler-added names, a custom origin header and
    ``X-Amz-Cf-Id`` all arrive lower-case; values and order are kept."""
    request: Any = {
        "uri": "/x",
        "querystring": "",
        "method": "GET",
        "clientIp": CLIENT_IP,
        "headers": {
            "host": [{"key": "Host", "value": "viewer.test"}],
            "if-none-match": [{"key": "If-None-Match", "value": ETAG}],
            "x-twice": [{"key": "X-Twice", "value": "1"}, {"key": "x-TWICE", "value": "2"}],
        },
        "origin": {
            "custom": {
                "domainName": "example.org",
                "path": "",
                "customHeaders": {"x-origin-secret": [{"key": "X-Origin-Secret", "value": "s"}]},
            }
        },
    }
    scope = origin_scope({"type": "http", "headers": []}, request, request_id="rid")
    assert scope["headers"] == [
        (b"host", b"viewer.test"),
        (b"if-none-match", ETAG.encode()),
        (b"x-twice", b"1"),
        (b"x-twice", b"2"),
        (b"x-origin-secret", b"s"),
        (b"x-amz-cf-id", b"rid"),
    ]
