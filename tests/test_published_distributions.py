"""Distributions as people publish them (tests/fixtures/distributions/): SAM apps, ``cdk synth``
output, ``get-distribution-config`` / ``get-distribution`` JSON with and without the ETag,
templates with response headers policies and origin groups, our TOML. Each one is loaded and
serves a request on both doors (real Starlette and Flask origins). Issue 12, "Done when".

Every Lambda function in them runs a pass-through handler that records its event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware, load_config

try:
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

FIXTURES = Path(__file__).parent / "fixtures" / "distributions"
EVENTS: list[dict[str, Any]] = []


def passthrough(event: dict[str, Any], context: Any) -> Any:
    EVENTS.append(json.loads(json.dumps(event)))
    cf = event["Records"][0]["cf"]
    return cf["response"] if "response" in cf else cf["request"]


class AnyFunction(Mapping[str, Any]):
    """``handlers=`` that has a local handler for every function a distribution names."""

    def __getitem__(self, key: str) -> Any:
        return passthrough

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class Resp(NamedTuple):
    status: int
    headers: dict[str, str]
    origin: list[dict[str, Any]]

    @property
    def origin_path(self) -> str:
        return str(self.origin[-1]["path"]) if self.origin else ""


def serve(
    kind: str, config: EdgeConfig, method: str, path: str, headers: list[tuple[str, str]]
) -> Resp:
    log: list[dict[str, Any]] = []
    if kind == "asgi":
        mw = EdgeMiddleware(make_starlette_app(log), config=config)
        with TestClient(mw, base_url="https://testserver", follow_redirects=False) as client:
            r = client.request(method, path, headers=headers)
            return Resp(r.status_code, {k.lower(): v for k, v in r.headers.items()}, log)
    wsgi = EdgeWSGIMiddleware(make_flask_app(log).wsgi_app, config=config)
    response = Client(wsgi).open(
        path, method=method, headers=headers, base_url="https://testserver"
    )
    try:
        return Resp(response.status_code, {k.lower(): v for k, v in response.headers.items()}, log)
    finally:
        response.close()


Check = Callable[[EdgeConfig, Resp], bool]


def header(name: str, value: str | None) -> Check:
    return lambda config, resp: resp.headers.get(name) == value


def origin_path(path: str) -> Check:
    return lambda config, resp: resp.origin_path == path


def ran(*event_types: str) -> Check:
    return lambda config, resp: (
        [e["Records"][0]["cf"]["config"]["eventType"] for e in EVENTS] == list(event_types)
    )


SECURITY = header("x-frame-options", "SAMEORIGIN")

#: (file, load_config keywords, method, path, request headers, status, checks)
PUBLISHED = [
    pytest.param(
        "get-distribution-config.json",
        {},
        "GET",
        "/",
        [],
        200,
        [
            origin_path("/index.html"),
            ran("viewer-request", "origin-request", "origin-response", "viewer-response"),
        ],
        id="api-json-with-etag",
    ),
    pytest.param(
        "api-without-etag.json",
        {},
        "GET",
        "/hello",
        [("Origin", "https://site.example")],
        200,
        [header("access-control-allow-origin", "*"), origin_path("/hello")],
        id="api-json-without-etag",
    ),
    pytest.param(
        "get-distribution.json",
        {},
        "GET",
        "/movie.mp4",
        [],
        200,
        [
            SECURITY,
            lambda c, r: c.distribution_id == "E1A2B3C4D5E6F7",
            lambda c, r: c.origin_group_for(c.default) is not None,
        ],
        id="api-get-distribution-origin-group",
    ),
    pytest.param(
        "cdk-http-origin.json",
        {},
        "GET",
        "/items",
        [],
        200,
        [
            origin_path("/items"),
            lambda c, r: (c.origins[0].http_port, c.origins[0].https_port) == (80, 443),
        ],
        id="cdk-synth-http-origin",
    ),
    pytest.param(
        "cdk-s3-origin.json",
        {},
        "GET",
        "/",
        [],
        200,
        [origin_path("/index.html"), lambda c, r: c.origins[0].kind == "s3"],
        id="cdk-synth-s3-origin",
    ),
    pytest.param(
        "cdk-functions-and-headers.json",
        {},
        "GET",
        "/",
        [],
        200,
        [
            origin_path("/index.html"),
            header("content-security-policy", "default-src 'self'"),
            header("x-app-version", "42"),
            # the CloudFront Function association runs too (issue 13), on viewer-request
            ran("viewer-request", "origin-response"),
        ],
        id="cdk-synth-functions-and-headers-policy",
    ),
    pytest.param(
        "sam-spa.yaml",
        {},
        "GET",
        "/",
        [],
        200,
        [origin_path("/index.html"), SECURITY, ran("viewer-request")],
        id="sam-spa-oac-security-headers",
    ),
    pytest.param(
        "sam-template.yaml",
        {},
        "GET",
        "/",
        [],
        200,
        [origin_path("/index.html")],
        id="sam-static-site",
    ),
    pytest.param(
        "cfn-headers-and-failover.yaml",
        {},
        "GET",
        "/page",
        [("Origin", "https://app.example.com")],
        200,
        [
            header("access-control-allow-origin", "https://app.example.com"),
            header("strict-transport-security", "max-age=63072000; includeSubDomains; preload"),
            header("x-served-by", "edge"),
            header("server", None),
            lambda c, r: "cdn-cache-miss" in r.headers.get("server-timing", ""),
            lambda c, r: c.origins[0].custom_headers == (("X-From-CloudFront", "true"),),
            ran("origin-request"),
        ],
        id="cfn-response-headers-policy-and-origin-group",
    ),
    pytest.param(
        "cfn-api-gateway.yaml",
        {},
        "POST",
        "/orders",
        [("Content-Type", "application/json")],
        200,
        [
            lambda c, r: r.origin[-1]["method"] == "POST",
            origin_path("/prod/orders"),  # the stage as OriginPath
            header("x-cache", "Miss from cloudfront"),
            lambda c, r: c.behaviors[0].cache.default_ttl == 3600,
        ],
        id="cfn-api-gateway-origin",
    ),
    pytest.param(
        "cloudformation.yaml",
        {},
        "GET",
        "/",
        [],
        200,
        [lambda c, r: len(r.origin) == 1],
        id="cfn-yaml-shop",
    ),
    pytest.param(
        "cloudformation.json",
        {"logical_id": "Blue"},
        "GET",
        "/guide/",
        [],
        200,
        [origin_path("/v1/guide/"), ran("origin-request")],  # OriginPath /v1 of docs-blue
        id="cfn-json-blue-green",
    ),
    pytest.param(
        "origin-selection.json",
        {},
        "GET",
        "/",
        [],
        200,
        [lambda c, r: len(r.origin) == 1],
        id="api-origin-selection",
    ),
    pytest.param(
        "edge-features.toml",
        {},
        "GET",
        "/api/orders",
        [],
        200,
        [header("cache-control", "no-store"), origin_path("/api/orders")],
        id="toml-features",
    ),
    pytest.param(
        "edge.toml",
        {},
        "GET",
        "/",
        [],
        200,
        [lambda c, r: len(r.origin) == 1],
        id="toml-shop",
    ),
]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("name", "options", "method", "path", "headers", "status", "checks"), PUBLISHED
)
def test_published_distribution_serves(
    kind: str,
    name: str,
    options: dict[str, Any],
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    status: int,
    checks: list[Check],
) -> None:
    EVENTS.clear()
    config = load_config(FIXTURES / name, handlers=AnyFunction(), **options)
    resp = serve(kind, config, method, path, headers)
    assert resp.status == status, resp
    for i, check in enumerate(checks):
        assert check(config, resp), (i, resp, EVENTS)


def test_at_least_ten_published_shapes() -> None:
    assert len(PUBLISHED) >= 10
    assert {p.values[0] for p in PUBLISHED} <= {p.name for p in FIXTURES.iterdir()}


def test_check_banner_names_groups_policies_and_root() -> None:
    from edge_middleware.devtools.devlog import banner

    lines = banner(load_config(FIXTURES / "edge-features.toml", handlers=AnyFunction()))
    assert "default root object: /index.html" in lines
    assert any(
        "origin group site: origin blue" in line and "green on 502,503" in line for line in lines
    )
    assert "     response headers policy CORS-With-Preflight-And-SecurityHeadersPolicy" in lines
    assert "     response headers policy api-headers" in lines
