"""Answers the doors used to make themselves now come from the pipeline (issue 11): a sync and
an ``async def`` handler past their deadline get the same 503, CustomErrorResponses included,
and an internal failure carries CloudFront's headers. Real Starlette and Flask apps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
)
from edge_middleware.pipeline import Pipeline
from tests.support.doors import asgi_scope

TIMEOUT = 0.2
SORRY = "sorry, try later"


def sleepy(event: dict[str, Any], context: Any) -> Any:
    time.sleep(TIMEOUT * 3)
    return event["Records"][0]["cf"]["request"]


async def async_sleepy(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(TIMEOUT * 3)
    return event["Records"][0]["cf"]["request"]


def _starlette() -> Starlette:
    async def page(request: Any) -> PlainTextResponse:
        if request.url.path == "/sorry.html":
            return PlainTextResponse(SORRY)
        return PlainTextResponse("page")

    return Starlette(routes=[Route("/{p:path}", page)])


def _flask() -> Any:
    app = Flask("door_answers")

    @app.route("/<path:p>")
    def page(p: str) -> str:
        return SORRY if p == "sorry.html" else "page"

    return app.wsgi_app


def _get(kind: str, config: EdgeConfig, path: str = "/x") -> tuple[int, dict[str, str], str]:
    if kind == "asgi":
        with TestClient(EdgeMiddleware(_starlette(), config=config)) as client:
            r = client.get(path)
            return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text
    w = Client(EdgeWSGIMiddleware(_flask(), config=config)).get(path)
    return w.status_code, {k.lower(): v for k, v in w.headers.items()}, w.get_data(as_text=True)


def _config(handler: Callable[..., Any], *, custom: bool, mode: str = "auto") -> EdgeConfig:
    return EdgeConfig(
        default=Behavior(viewer_request=handler, cache=CachePolicy(0, 0, 0)),
        behaviors=[Behavior("/sorry.html", cache=CachePolicy(0, 0, 0))],
        custom_error_responses=[CustomErrorResponse(503, "/sorry.html", 503)] if custom else [],
        settings=EdgeSettings(viewer_timeout=TIMEOUT, handler_mode=mode),  # type: ignore[arg-type]
    )


DOORS = [pytest.param("asgi", id="asgi"), pytest.param("wsgi", id="wsgi")]
HANDLERS = [
    pytest.param(sleepy, "thread", id="sync-on-time"),
    pytest.param(sleepy, "inline", id="sync-inline"),
    pytest.param(async_sleepy, "auto", id="async"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize(("handler", "mode"), HANDLERS)
@pytest.mark.parametrize(
    "custom", [pytest.param(False, id="stock"), pytest.param(True, id="custom")]
)
def test_handler_past_its_deadline_gets_the_same_503(
    kind: str, handler: Callable[..., Any], mode: str, custom: bool
) -> None:
    status, headers, body = _get(kind, _config(handler, custom=custom, mode=mode))
    assert status == 503
    assert headers["via"].endswith(".cloudfront.net (CloudFront)")
    assert headers["x-amz-cf-id"]
    if custom:  # decisions.md #19: the distribution's page replaces CloudFront's
        assert (headers["x-cache"], body) == ("Error from cloudfront", SORRY)
    else:
        assert headers["x-cache"] == "LambdaExecutionError from cloudfront"
        assert "503 ERROR" in body


@pytest.mark.parametrize("kind", DOORS)
def test_internal_failure_carries_cloudfront_headers(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Pipeline, viewer: Any, flow: Any = None) -> Any:
        raise RuntimeError("a bug inside edge_middleware")

    monkeypatch.setattr(Pipeline, "run", broken)
    status, headers, body = _get(kind, EdgeConfig())
    assert status == 502
    assert headers["x-cache"] == "Error from cloudfront"
    assert headers["via"].endswith(".cloudfront.net (CloudFront)")
    assert headers["x-amz-cf-id"] and headers["x-amz-cf-pop"]
    assert "a bug inside" not in body


@pytest.mark.parametrize(
    "lengths",
    [
        [(b"content-length", b"5"), (b"content-length", b"7")],
        [(b"content-length", b"five")],
    ],
    ids=["two-lengths", "not-a-number"],
)
@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-way", "pipeline"])
def test_asgi_request_with_no_one_content_length_is_cloudfronts_400(
    lengths: list[tuple[bytes, bytes]], shortcuts: bool
) -> None:
    """A raw scope (an HTTP client would never send it; an ASGI scope can carry it): the viewer
    gets CloudFront's 400 and the app is never called with a body whose end is unknown."""
    called: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        called.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 0, 0)), settings=EdgeSettings(shortcuts=shortcuts)
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"12345", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_scope(
        "/x", method="PUT", scheme="https", headers=[(b"host", b"example.com"), *lengths]
    )
    asyncio.run(EdgeMiddleware(app, config=config)(scope, receive, send))
    headers = {k.lower(): v for k, v in sent[0]["headers"]}
    assert (sent[0]["status"], headers[b"x-cache"]) == (400, b"Error from cloudfront")
    assert called == []
