"""Decision-register switches (decisions.md) not covered elsewhere: each default and its
alternative, on both front doors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    OriginRequestPolicy,
)
from tests.support import doors

Seen = dict[str, Any]


def _apps(seen: list[Seen]) -> tuple[Starlette, Flask]:
    async def asgi_view(req: Request) -> Response:
        seen.append({"path": req.url.path, "query": req.url.query, "method": req.method})
        return PlainTextResponse(
            f"v{len(seen)}", headers={"Cache-Control": req.query_params.get("cc", "max-age=60")}
        )

    star = Starlette(routes=[Route("/{p:path}", asgi_view, methods=["GET", "POST", "HEAD"])])
    flask = Flask(__name__)

    @flask.route("/<path:p>", methods=["GET", "POST", "HEAD"])
    def wsgi_view(p: str) -> Any:
        seen.append(
            {"path": request.path, "query": request.query_string.decode(), "method": request.method}
        )
        cc = request.args.get("cc", "max-age=60")
        return (f"v{len(seen)}", 200, {"Cache-Control": cc, "Content-Type": "text/plain"})

    return star, flask


class Door:
    def __init__(self, kind: str, config: EdgeConfig, clock: Callable[[], float]) -> None:
        self.seen: list[Seen] = []
        star, flask = _apps(self.seen)
        self.kind = kind
        self.mw: Any = doors.wrap(
            kind, star if kind == "asgi" else flask.wsgi_app, config, clock=clock
        )
        self._client = doors.viewer(kind, self.mw)

    def request(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        r = doors.send(self.kind, self._client, method, path)
        return r.status, {k.lower(): v for k, v in r.headers}, r.body


kind = doors.door_fixture(str, name="kind")


def _door(kind: str, settings: EdgeSettings, now: list[float], **behavior: Any) -> Door:
    config = EdgeConfig(default=Behavior(**behavior), settings=settings)
    return Door(kind, config, lambda: now[0])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        pytest.param("forwarded", "page=2", id="1-forwarded-allow-list"),
        pytest.param("all-only", "", id="1-all-only"),
    ],
)
def test_origin_event_querystring(kind: str, mode: str, expected: str) -> None:
    now = [1000.0]
    door = _door(
        kind,
        EdgeSettings(origin_event_querystring=mode),  # type: ignore[arg-type]
        now,
        cache=CachePolicy(query_strings="whitelist", query_string_names=("page",)),
    )
    status, _, _ = door.request("GET", "/list?page=2&utm=x")
    assert status == 200
    assert door.seen[-1]["query"] == expected


@pytest.mark.parametrize(
    ("enabled", "second_calls"),
    [pytest.param(False, 2, id="28-off"), pytest.param(True, 3, id="28-on")],
)
def test_invalidate_on_unsafe_methods(kind: str, enabled: bool, second_calls: int) -> None:
    now = [1000.0]
    door = _door(kind, EdgeSettings(invalidate_on_unsafe_methods=enabled), now)
    assert door.request("GET", "/doc")[1]["x-cache"] == "Miss from cloudfront"
    assert door.request("POST", "/doc")[0] == 200
    status, headers, _ = door.request("GET", "/doc")
    assert status == 200
    assert len(door.seen) == second_calls
    assert headers["x-cache"] == ("Miss from cloudfront" if enabled else "Hit from cloudfront")


@pytest.mark.parametrize(
    ("enabled", "hit_at_50"),
    [pytest.param(False, True, id="32-off-min-ttl-wins"), pytest.param(True, False, id="32-on")],
)
def test_must_revalidate_and_min_ttl(kind: str, enabled: bool, hit_at_50: bool) -> None:
    now = [1000.0]
    door = _door(
        kind,
        EdgeSettings(revalidate_directives_affect_ttl=enabled),
        now,
        cache=CachePolicy(min_ttl=120, query_strings="all"),
    )
    door.request("GET", "/r?cc=max-age%3D10%2C%20must-revalidate")
    now[0] += 50
    _, headers, _ = door.request("GET", "/r?cc=max-age%3D10%2C%20must-revalidate")
    assert (headers["x-cache"] == "Hit from cloudfront") is hit_at_50


def test_invalidation_delay(kind: str) -> None:
    now = [1000.0]
    door = _door(kind, EdgeSettings(invalidation_delay=0.2), now)
    door.request("GET", "/img/a.png")
    assert door.mw.invalidate(["/img/*"]) == 1
    assert door.request("GET", "/img/a.png")[1]["x-cache"] == "Hit from cloudfront"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if door.request("GET", "/img/a.png")[1]["x-cache"] == "Miss from cloudfront":
            break
    else:
        pytest.fail("the delayed invalidation never took effect")


def _raising(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("enabled", "origin_calls"),
    [pytest.param(False, 2, id="20-off"), pytest.param(True, 1, id="20-on")],
)
def test_cache_lambda_errors(kind: str, enabled: bool, origin_calls: int) -> None:
    now = [1000.0]
    calls: list[int] = []

    def counting(event: dict[str, Any], context: Any) -> Any:
        calls.append(1)
        raise RuntimeError("boom")

    door = _door(kind, EdgeSettings(cache_lambda_errors=enabled), now, origin_request=counting)
    assert door.request("GET", "/x")[0] == 503
    now[0] += 5
    assert door.request("GET", "/x")[0] == 503
    assert len(calls) == origin_calls
    now[0] += 6  # past the 10 s error caching minimum
    door.request("GET", "/x")
    assert len(calls) == origin_calls + 1


@pytest.mark.parametrize(
    ("enabled", "status", "body"),
    [
        pytest.param(True, 200, b"sorry page", id="19-on"),
        pytest.param(False, 503, None, id="19-off"),
    ],
)
def test_custom_error_page_for_lambda_errors(
    kind: str, enabled: bool, status: int, body: bytes | None
) -> None:
    now = [1000.0]
    star = Starlette(routes=[Route("/errors/503.html", lambda r: PlainTextResponse("sorry page"))])
    flask = Flask(__name__)
    flask.add_url_rule("/errors/503.html", "e", lambda: "sorry page")
    config = EdgeConfig(
        default=Behavior(origin_request=_raising),
        behaviors=[Behavior("/errors/*")],
        custom_error_responses=[CustomErrorResponse(503, "/errors/503.html", 200)],
        settings=EdgeSettings(custom_error_page_for_lambda_errors=enabled),
    )
    if kind == "asgi":
        r = TestClient(EdgeMiddleware(star, config=config, clock=lambda: now[0])).get("/page")
        got_status, got_body, x_cache = r.status_code, r.content, r.headers["x-cache"]
    else:
        w = Client(EdgeWSGIMiddleware(flask.wsgi_app, config=config, clock=lambda: now[0]))
        rw = w.get("/page")
        got_status, got_body, x_cache = rw.status_code, rw.data, rw.headers["x-cache"]
    assert got_status == status
    assert x_cache == (
        "Error from cloudfront" if enabled else "LambdaExecutionError from cloudfront"
    )
    if body is not None:
        assert got_body == body


def test_all_viewer_forwards_host(kind: str) -> None:
    """AllViewer sends the viewer's Host; AllViewerExceptHostHeader the origin's domain."""
    now = [1000.0]
    door = _door(
        kind,
        EdgeSettings(origin_host="origin"),
        now,
        origin_request_policy=OriginRequestPolicy(headers="allViewer"),
    )
    assert door.request("GET", "/h")[0] == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("viewer_response_body", "Error"),
        ("readonly_field_change", "ERROR"),
        ("readonly_header_list", "2021"),
        ("viewer_response_status_change", "eror"),
        ("path_match", "decode"),
    ],
)
def test_a_value_outside_a_fields_choices_is_refused(field: str, value: str) -> None:
    """A typo must not switch to the alternative (validation compares with the default's
    value, so anything else used to read as the other choice)."""
    with pytest.raises(ConfigurationError) as caught:
        EdgeSettings(**{field: value})
    assert caught.value.field == f"EdgeSettings.{field}"
