"""Origins: where a request lands, and what CloudFront adds on the way there.

Every case runs through both front doors: ``EdgeMiddleware`` (ASGI; each origin a small
Starlette app, Starlette's TestClient) and ``EdgeWSGIMiddleware`` (WSGI; each origin a small
Flask app, werkzeug's test Client). Each origin app answers with its own name, so a test can tell
which origin served a request, and with what ``Host``, path and headers it arrived.

Spec: lambda-edge.md §1.3 (what origin-side events and the origin see), §1.6 / §2.5
(``request.origin`` and origin switching), §3.1 (CloudFront headers, origin custom headers), §4
(skip rules: HTTPS redirect, https-only, custom error pages), §6 examples 8-14
(``aws_origin_examples.py``); caching.md §1.4 (custom error pages, ErrorCachingMinTTL).

Sections:

1. AWS examples 8-14 against three origins (custom + S3 + a third) mapped through ``origins=``;
2. the same examples with an origin that is a real HTTP server on 127.0.0.1 (uvicorn);
3. what CloudFront adds on the way to the origin (Host, X-Forwarded-For, Via, User-Agent,
   CloudFront-* headers);
4. the viewer protocol policy and custom error responses;
5. end to end: real ``get-distribution-config`` JSON through ``load_config``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask
from flask import Response as FlaskResponse
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    Origin,
    OriginRequestPolicy,
    load_config,
)
from tests.support import doors
from tests.support.doors import Resp
from tests.support.servers import dead_url, uvicorn_server

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    import aws_origin_examples as ex
except ImportError:  # pragma: no cover
    from tests import aws_origin_examples as ex

FIXTURES = Path(__file__).parent / "fixtures" / "distributions"
CLIENT_IP = "203.0.113.7"
VIEWER_HOST = "www.shop.example"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
VIA_11 = re.compile(r"^1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$")
VIA_20 = re.compile(r"^2\.0 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{54}==$")

NO_CACHE = CachePolicy(0, 0, 0)
COUNTRY_KEY = ("CloudFront-Viewer-Country",)
DEVICE_KEY = (
    "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-Mobile-Viewer",
    "CloudFront-Is-Tablet-Viewer",
    "CloudFront-Is-SmartTV-Viewer",
)

#: The three origins of the example distribution: a custom origin with a custom header, an S3
#: bucket with an origin path, and a second custom origin (the European one of example 14).
APP = Origin(
    "app",
    "app.example.com",
    custom_headers=(("X-Origin-Token", "t0k"),),
    protocol_policy="https-only",
    read_timeout=20,
)
ASSETS = Origin(
    "assets",
    "assets-bucket.s3.us-east-1.amazonaws.com",
    kind="s3",
    origin_path="/static",
    region="us-east-1",
)
EU = Origin("eu", ex.EU_DOMAIN)
ASSETS_BUCKET = "assets-bucket"


# -- the origin apps ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """One request as an origin app received it."""

    origin: str
    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def cloudfront_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.startswith("cloudfront-")}


def _answer(seen: Seen) -> tuple[int, str, bytes]:
    """What every origin app answers: status, content type, body.

    ``.../missing...`` 404, ``.../broken...`` 500, ``.../unavailable...`` 503, a path with
    ``/errors/`` an HTML error page naming the origin, anything else JSON of what it received.
    """
    path = seen.path
    if "missing" in path:
        return 404, "text/plain", f"{seen.origin}: no such object".encode()
    if "broken" in path:
        return 500, "text/plain", f"{seen.origin}: broken".encode()
    if "unavailable" in path:
        return 503, "text/plain", f"{seen.origin}: unavailable".encode()
    if "/errors/" in path:
        return 200, "text/html", f"<h1>{seen.origin} error page {path}</h1>".encode()
    body = {
        "origin": seen.origin,
        "method": seen.method,
        "path": seen.path,
        "raw_path": seen.raw_path,
        "query": seen.query,
        "headers": seen.headers,
        "body": seen.body.decode("utf-8", "replace"),
    }
    return 200, "application/json", json.dumps(body).encode()


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        low = name.lower()
        out[low] = f"{out[low]}, {value}" if low in out else value
    return out


def starlette_origin(name: str, log: list[Seen], *, always_read_body: bool = False) -> Starlette:
    async def serve(req: Request) -> StarletteResponse:
        # By default the body is read only for methods that carry one: a custom error page
        # fetch hands the page origin the viewer's spent ``receive`` (see
        # test_custom_error_page_with_an_origin_that_always_reads_its_body).
        has_body = always_read_body or req.method not in ("GET", "HEAD")
        seen = Seen(
            name,
            req.method,
            req.scope["path"],
            req.scope.get("raw_path", b"").decode("latin-1"),
            req.scope["query_string"].decode("latin-1"),
            _joined([(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.scope["headers"]]),
            await req.body() if has_body else b"",
        )
        log.append(seen)
        status, ctype, body = _answer(seen)
        return StarletteResponse(
            body, status_code=status, media_type=ctype, headers={"X-Served-By": name}
        )

    return Starlette(routes=[Route("/{rest:path}", serve, methods=ALL_METHODS)])


def flask_origin(name: str, log: list[Seen]) -> Callable[..., Any]:
    app = Flask(f"origin_{name}", static_folder=None)

    @app.route("/", defaults={"rest": ""}, methods=ALL_METHODS)
    @app.route("/<path:rest>", methods=ALL_METHODS)
    def serve(rest: str) -> FlaskResponse:
        environ = flask_request.environ
        seen = Seen(
            name,
            flask_request.method,
            flask_request.path,
            environ.get("RAW_URI", "").split("?", 1)[0],
            environ.get("QUERY_STRING", ""),
            _joined(list(flask_request.headers.items())),
            flask_request.get_data(),
        )
        log.append(seen)
        status, ctype, body = _answer(seen)
        return FlaskResponse(body, status=status, content_type=ctype, headers={"X-Served-By": name})

    return app.wsgi_app


# -- the two front doors --------------------------------------------------------------------------
class _HttpVersion:
    """ASGI wrapper: give the scope the HTTP version the test asks for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.http_version = "1.1"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "http_version": self.http_version}
        await self.app(scope, receive, send)


@dataclass
class Edge:
    """One middleware in front of its origin apps, and a way to send it viewer requests."""

    kind: str
    client: Any
    wrapper: _HttpVersion | None
    log: list[Seen]

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        http_version: str = "1.1",
    ) -> Resp:
        if url.startswith("/"):
            url = f"http://{VIEWER_HOST}{url}"
        if self.wrapper is not None:
            self.wrapper.http_version = http_version
        return doors.send(
            self.kind,
            self.client,
            method,
            url,
            headers or {},
            body,
            client_ip=CLIENT_IP,
            environ={"SERVER_PROTOCOL": f"HTTP/{http_version}"},
        )

    def get(self, url: str, **kw: Any) -> Resp:
        return self.request("GET", url, **kw)

    def landed(self) -> Seen:
        """The only origin request since the log was last cleared."""
        assert len(self.log) == 1, [(s.origin, s.path) for s in self.log]
        return self.log[0]


class Door(doors.Door):
    def edge(self, config: Any, targets: Mapping[str, str | None] | None = None) -> Edge:
        """A middleware for ``config``. ``targets`` maps an origin id or domain to the name of
        an origin app to create (of this door's kind), an ``http://`` URL, or ``None``. The
        wrapped app itself is an origin app called ``main``."""
        log: list[Seen] = []
        make = self.pick(starlette_origin, flask_origin)
        origins: dict[str, object] = {}
        for key, target in (targets or {}).items():
            if target is None or target.startswith("http://"):
                origins[key] = target
            else:
                origins[key] = make(target, log)
        mw = self.wrap(make("main", log), config, origins=origins)
        wrapper = _HttpVersion(mw) if self.kind == "asgi" else None
        client = self.viewer(wrapper or mw, base_url=f"http://{VIEWER_HOST}", client_ip=CLIENT_IP)
        return Edge(self.kind, client, wrapper, log)


door = doors.door_fixture(Door)


# -- handler spies --------------------------------------------------------------------------------
class Calls:
    """Wraps handlers to record, in order, which ran and the ``cf`` record each one got."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def spy(self, label: str, handler: Callable[..., Any] | None = None) -> Callable[..., Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            cf = event["Records"][0]["cf"]
            with self._lock:
                self.events.append((label, copy.deepcopy(cf)))
            if handler is not None:
                return handler(event, context)
            return cf.get("response", cf["request"])

        run.__name__ = run.__qualname__ = label.replace("-", "_")
        return run

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.events]

    def last(self, label: str) -> dict[str, Any]:
        for name, cf in reversed(self.events):
            if name == label:
                return cf
        raise AssertionError(f"{label} did not run; ran: {self.labels}")

    def clear(self) -> None:
        self.events.clear()


def _event_header(cf: dict[str, Any], name: str) -> str | None:
    entries = cf["request"]["headers"].get(name)
    return entries[0]["value"] if entries else None


def _countries(*pairs: tuple[str, str]) -> EdgeSettings:
    return EdgeSettings(cloudfront_header_values=pairs)


def _country(code: str) -> EdgeSettings:
    return _countries(("cloudfront-viewer-country", code))


def _device(kind: str | None) -> EdgeSettings:
    """CloudFront's device headers for one device kind (``None``: none of the four)."""
    values = [
        (f"cloudfront-is-{name}-viewer", "true" if name == kind else "false")
        for name in ("desktop", "mobile", "tablet", "smarttv")
    ]
    return _countries(*values)


def _config(
    default: Behavior,
    *behaviors: Behavior,
    origins: tuple[Origin, ...] = (APP, ASSETS, EU),
    settings: EdgeSettings | None = None,
    errors: tuple[CustomErrorResponse, ...] = (),
) -> EdgeConfig:
    return EdgeConfig(
        default=default,
        behaviors=behaviors,
        origins=origins,
        settings=settings or EdgeSettings(),
        custom_error_responses=errors,
    )


#: The usual mapping: each configured origin id to its own app.
TARGETS: dict[str, str | None] = {"app": "app", "assets": "assets", "eu": "eu"}


def _assert_cloudfront_extras(seen: Seen, resp: Resp) -> None:
    """What every origin request carries from CloudFront (lambda-edge.md §1.3)."""
    via = seen.header("via")
    assert via is not None and VIA_11.match(via), via
    assert seen.header("x-forwarded-for") == CLIENT_IP
    assert seen.header("x-amz-cf-id") == resp.get("x-amz-cf-id")
    assert REQUEST_ID.match(seen.header("x-amz-cf-id") or "")


# =================================================================================================
# 1. AWS examples 8-14 (lambda-edge.md §6) against three origins
# =================================================================================================
@pytest.mark.parametrize(
    ("country", "location"),
    [
        ("TW", "https://tw.example.com/"),
        ("US", "https://us.example.com/"),
        ("DE", ex.DEFAULT_REDIRECT),
    ],
)
def test_example_8_redirect_by_country(door: Door, country: str, location: str) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=calls.spy("viewer-request"),
            origin_request=calls.spy("origin-request", ex.redirect_by_country),
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        settings=_country(country),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/")
    assert r.status == 302
    assert r.get("location") == location
    assert r.get("x-cache") == "LambdaGeneratedResponse from cloudfront"
    assert edge.log == []  # answered by origin-request: no origin is contacted
    # The country header exists only after viewer-request (§3.1), and is in the key (§6 #8).
    assert _event_header(calls.last("viewer-request"), "cloudfront-viewer-country") is None
    assert _event_header(calls.last("origin-request"), "cloudfront-viewer-country") == country
    calls.clear()
    again = edge.get("/")
    assert (again.status, again.get("location")) == (302, location)
    assert again.get("x-cache") == "Hit from cloudfront"
    assert calls.labels == ["viewer-request"]  # the generated answer was cached (§2.1)
    assert edge.log == []


@pytest.mark.parametrize("device", ["desktop", "mobile", "tablet", "smarttv", None])
@pytest.mark.parametrize(
    ("url", "behavior_origin", "landing", "host", "expected_path"),
    [
        ("/home", "app", "app", APP.domain_name, "{prefix}/home"),
        ("/media/a.png", "assets", "assets", ASSETS.domain_name, "/static{prefix}/media/a.png"),
    ],
    ids=["custom-origin", "s3-origin"],
)
def test_example_9_object_by_device(
    door: Door,
    device: str | None,
    url: str,
    behavior_origin: str,
    landing: str,
    host: str,
    expected_path: str,
) -> None:
    behavior = Behavior(
        "/media/*" if behavior_origin == "assets" else "/home",
        target_origin_id=behavior_origin,
        origin_request=ex.path_by_device,
        cache=CachePolicy(headers=DEVICE_KEY),
    )
    config = _config(Behavior(target_origin_id="eu"), behavior, settings=_device(device))
    edge = door.edge(config, TARGETS)
    r = edge.get(url)
    assert r.status == 200
    seen = edge.landed()
    prefix = f"/{device}" if device else ""
    assert (seen.origin, seen.header("host"), seen.path) == (
        landing,
        host,
        expected_path.format(prefix=prefix),
    )
    assert r.json()["origin"] == landing
    _assert_cloudfront_extras(seen, r)


@pytest.mark.parametrize("bucket_in_distribution", [True, False], ids=["defined", "undefined"])
@pytest.mark.parametrize(
    ("query", "landing"),
    [("useS3Origin=true", "bucket"), ("useS3Origin=false", "app"), ("", "app")],
)
def test_example_10_custom_to_s3(
    door: Door, query: str, landing: str, bucket_in_distribution: bool
) -> None:
    calls = Calls()
    bucket = Origin("bucket", ex.S3_BUCKET, kind="s3")
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=calls.spy("origin-request", ex.custom_to_s3),
            origin_response=calls.spy("origin-response"),
            cache=CachePolicy(query_strings="all"),
        ),
        origins=(APP, ASSETS, EU, bucket) if bucket_in_distribution else (APP, ASSETS, EU),
    )
    targets = {**TARGETS, ("bucket" if bucket_in_distribution else ex.S3_BUCKET): "bucket"}
    edge = door.edge(config, targets)
    r = edge.get("/photo.jpg" + (f"?{query}" if query else ""))
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.path, seen.query) == (landing, "/photo.jpg", query)
    if landing == "bucket":
        assert seen.header("host") == ex.S3_BUCKET
        # The switched origin's custom headers ({}) replace the app origin's X-Origin-Token.
        assert seen.header("x-origin-token") is None
        # origin-response sees the request as it went to the origin (§1.3).
        origin = calls.last("origin-response")["request"]["origin"]
        assert origin["s3"]["domainName"] == ex.S3_BUCKET
        assert origin["s3"]["authMethod"] == "none"
    else:
        assert seen.header("host") == APP.domain_name
        assert seen.header("x-origin-token") == "t0k"
        origin = calls.last("origin-response")["request"]["origin"]
        assert origin["custom"]["domainName"] == APP.domain_name
    _assert_cloudfront_extras(seen, r)


@pytest.mark.parametrize(
    ("country", "landing", "region"),
    [
        ("DE", "bucket-de", "eu-central-1"),
        ("IE", "bucket-ie", "eu-west-1"),
        ("JP", "bucket-jp", "ap-northeast-1"),
        ("US", "assets", None),
    ],
)
def test_example_11_s3_region_by_country(
    door: Door, country: str, landing: str, region: str | None
) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="assets",
            origin_request=calls.spy("origin-request", ex.make_s3_region_by_country(ASSETS_BUCKET)),
            origin_response=calls.spy("origin-response"),
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        settings=_country(country),
    )
    targets: dict[str, str | None] = dict(TARGETS)
    for code, name in (("eu-central-1", "bucket-de"), ("eu-west-1", "bucket-ie")):
        targets[ex.regional_bucket(ASSETS_BUCKET, code)] = name
    targets[ex.regional_bucket(ASSETS_BUCKET, "ap-northeast-1")] = "bucket-jp"
    edge = door.edge(config, targets)
    r = edge.get("/img/cat.png")
    assert r.status == 200
    seen = edge.landed()
    # The handler changes region and domain only: the s3 origin's path (/static) stays.
    assert (seen.origin, seen.path) == (landing, "/static/img/cat.png")
    s3_in = calls.last("origin-request")["request"]["origin"]["s3"]
    assert (s3_in["domainName"], s3_in["region"], s3_in["path"]) == (
        ASSETS.domain_name,
        "us-east-1",
        "/static",
    )
    s3_out = calls.last("origin-response")["request"]["origin"]["s3"]
    if region is None:
        assert seen.header("host") == ASSETS.domain_name
        assert s3_out["region"] == "us-east-1"
    else:
        domain = ex.regional_bucket(ASSETS_BUCKET, region)
        assert seen.header("host") == domain
        assert (s3_out["domainName"], s3_out["region"]) == (domain, region)
    _assert_cloudfront_extras(seen, r)


@pytest.mark.parametrize(
    ("query", "landing", "host", "path"),
    [
        ("useCustomOrigin=true", "www", ex.CUSTOM_DOMAIN, "/img.png"),
        ("useCustomOrigin=no", "assets", ASSETS.domain_name, "/static/img.png"),
    ],
)
def test_example_12_s3_to_custom(
    door: Door, query: str, landing: str, host: str, path: str
) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="assets",
            origin_request=ex.s3_to_custom,
            origin_response=calls.spy("origin-response"),
            cache=CachePolicy(query_strings="all"),
        )
    )
    edge = door.edge(config, {**TARGETS, ex.CUSTOM_DOMAIN: "www"})
    r = edge.get(f"/img.png?{query}")
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path, seen.query) == (landing, host, path, query)
    origin = calls.last("origin-response")["request"]["origin"]
    if landing == "www":
        assert origin == {
            "custom": {
                "domainName": ex.CUSTOM_DOMAIN,
                "port": 443,
                "protocol": "https",
                "path": "",
                "sslProtocols": ["TLSv1", "TLSv1.1"],
                "readTimeout": 5,
                "keepaliveTimeout": 5,
                "customHeaders": {},
            }
        }
    else:
        assert origin["s3"]["domainName"] == ASSETS.domain_name
    _assert_cloudfront_extras(seen, r)


@pytest.mark.parametrize(
    ("roll", "landing", "host"),
    [
        (1, "blue", ex.BLUE_BUCKET),
        (80, "blue", ex.BLUE_BUCKET),
        (81, "green", ex.GREEN_BUCKET),
        (100, "green", ex.GREEN_BUCKET),
    ],
)
def test_example_13_gradual_bucket_shift(door: Door, roll: int, landing: str, host: str) -> None:
    config = _config(
        Behavior(
            target_origin_id="assets",
            origin_request=ex.make_gradual_bucket_shift(lambda: roll),
            cache=NO_CACHE,
        )
    )
    edge = door.edge(config, {**TARGETS, ex.BLUE_BUCKET: "blue", ex.GREEN_BUCKET: "green"})
    r = edge.get("/app.js")
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path) == (landing, host, "/static/app.js")
    _assert_cloudfront_extras(seen, r)


def test_example_13_random_split_reaches_both_buckets(door: Door) -> None:
    """The example as AWS wrote it (random), caching disabled: both buckets get traffic."""
    config = _config(
        Behavior(target_origin_id="assets", origin_request=ex.gradual_bucket_shift, cache=NO_CACHE)
    )
    edge = door.edge(config, {**TARGETS, ex.BLUE_BUCKET: "blue", ex.GREEN_BUCKET: "green"})
    for _ in range(60):
        assert edge.get("/app.js").status == 200
    landed = [s.origin for s in edge.log]
    assert len(landed) == 60 and set(landed) == {"blue", "green"}
    assert landed.count("blue") > landed.count("green")  # 80 / 20, p(failure) < 1e-5


@pytest.mark.parametrize("eu_in_distribution", [True, False], ids=["defined", "undefined"])
@pytest.mark.parametrize(
    ("country", "landing"),
    [("GB", "eu"), ("DE", "eu"), ("IE", "eu"), ("FR", "app"), ("US", "app")],
)
def test_example_14_domain_by_country(
    door: Door, country: str, landing: str, eu_in_distribution: bool
) -> None:
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=ex.domain_by_country,
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        origins=(APP, ASSETS, EU) if eu_in_distribution else (APP, ASSETS),
        settings=_country(country),
    )
    targets = {"app": "app", "assets": "assets"}
    targets["eu" if eu_in_distribution else ex.EU_DOMAIN] = "eu"
    edge = door.edge(config, targets)
    r = edge.get("/news?page=2")
    assert r.status == 200
    seen = edge.landed()
    host = ex.EU_DOMAIN if landing == "eu" else APP.domain_name
    assert (seen.origin, seen.header("host"), seen.path) == (landing, host, "/news")
    # Only the domain changed: the app origin's custom header still goes along (§1.6).
    assert seen.header("x-origin-token") == "t0k"
    assert seen.header("cloudfront-viewer-country") == country
    _assert_cloudfront_extras(seen, r)


def test_switched_origin_not_in_origins_goes_to_the_wrapped_app(door: Door) -> None:
    """A domain that neither the distribution nor ``origins=`` knows: the wrapped app."""
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=ex.domain_by_country,
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        origins=(APP, ASSETS),
        settings=_country("GB"),
    )
    edge = door.edge(config, {"app": "app", "assets": "assets"})
    assert edge.get("/news").status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host")) == ("main", ex.EU_DOMAIN)


def test_origin_path_and_custom_headers_follow_the_event(door: Door) -> None:
    """An origin-request function that edits ``origin.custom.path`` and ``customHeaders``
    (both read/write, §1.6): the origin gets the new prefix and headers."""

    def edit(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        custom = request["origin"]["custom"]
        custom["path"] = "/v2"
        custom["customHeaders"] = {"x-tenant": [{"key": "X-Tenant", "value": "blue"}]}
        return request

    config = _config(Behavior(target_origin_id="app", origin_request=edit, cache=NO_CACHE))
    edge = door.edge(config, TARGETS)
    r = edge.get("/orders/7?x=1")
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.path, seen.query) == ("app", "/v2/orders/7", "")
    assert seen.header("x-tenant") == "blue"
    assert seen.header("x-origin-token") is None


#: a uri a viewer-request function sets -> the path the app reads, and its raw request target
FUNCTION_URIS = {
    "plain": ("/plain/7", "/plain/7", "/plain/7"),
    "percent-encoded": ("/caf%C3%A9", "/café", "/caf%C3%A9"),
    "non-ascii": ("/café", "/café", "/caf%C3%A9"),
    "non-latin-1": ("/日本/ü", "/日本/ü", "/%E6%97%A5%E6%9C%AC/%C3%BC"),
}


def _set_uri(uri: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    def rewrite(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        request["uri"] = uri
        return request

    return rewrite


@pytest.mark.parametrize(("uri", "path", "raw"), FUNCTION_URIS.values(), ids=FUNCTION_URIS)
def test_a_uri_set_by_a_function_reaches_the_app_decoded(
    door: Door, uri: str, path: str, raw: str
) -> None:
    """The app reads the path a viewer-request function set as its framework decodes it (on
    WSGI: PATH_INFO holds the path's UTF-8 bytes as latin-1, PEP 3333), plain or not; the raw
    target (``raw_path``, ``RAW_URI``) is ASCII, characters outside it percent-encoded as
    UTF-8, so it decodes to the same path."""
    config = _config(Behavior(target_origin_id="app", viewer_request=_set_uri(uri), cache=NO_CACHE))
    edge = door.edge(config, TARGETS)
    assert edge.get("/anything").status == 200
    seen = edge.landed()
    assert (seen.path, seen.raw_path) == (path, raw)


# =================================================================================================
# 2. A real HTTP origin on 127.0.0.1 (uvicorn in a thread), proxied by URL
# =================================================================================================
REAL_LOG: list[Seen] = []


@pytest.fixture(scope="module")
def real_origin() -> Iterator[str]:
    """A uvicorn server with the ``real`` origin app; its URL."""
    with uvicorn_server(starlette_origin("real", REAL_LOG), log_level="warning") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def real(real_origin: str) -> str:
    REAL_LOG.clear()
    return real_origin


def _real_landed() -> Seen:
    assert len(REAL_LOG) == 1, [(s.origin, s.path) for s in REAL_LOG]
    return REAL_LOG[0]


@pytest.mark.parametrize(("country", "landing"), [("DE", "real"), ("US", "app")])
def test_example_14_with_a_real_http_origin(
    door: Door, real: str, country: str, landing: str
) -> None:
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=ex.domain_by_country,
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        origins=(APP, ASSETS),
        settings=_country(country),
    )
    edge = door.edge(config, {"app": "app", "assets": "assets", ex.EU_DOMAIN: real})
    r = edge.get("/news?page=2", headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status == 200
    assert r.json()["origin"] == landing
    if landing == "real":
        assert edge.log == []
        seen = _real_landed()
        assert (seen.header("host"), seen.path, seen.query) == (ex.EU_DOMAIN, "/news", "")
        assert seen.header("x-origin-token") == "t0k"
        assert seen.header("x-amz-cf-id") == r.get("x-amz-cf-id")
        assert seen.header("x-forwarded-for") == f"198.51.100.9, {CLIENT_IP}"
        assert seen.header("user-agent") == "Amazon CloudFront"
        assert VIA_11.match(seen.header("via") or "")
        assert seen.cloudfront_headers == {"cloudfront-viewer-country": "DE"}
    else:
        assert REAL_LOG == []
        assert edge.landed().header("host") == APP.domain_name


def test_example_11_with_a_real_http_origin(door: Door, real: str) -> None:
    config = _config(
        Behavior(
            target_origin_id="assets",
            origin_request=ex.make_s3_region_by_country(ASSETS_BUCKET),
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        settings=_country("GB"),
    )
    domain = ex.regional_bucket(ASSETS_BUCKET, "eu-west-2")
    edge = door.edge(config, {**TARGETS, domain: real})
    r = edge.get("/img/cat.png")
    assert r.status == 200
    seen = _real_landed()
    assert (seen.header("host"), seen.path) == (domain, "/static/img/cat.png")
    assert edge.log == []
    # A second request is a cache hit: the real origin is not asked again.
    again = edge.get("/img/cat.png")
    assert again.get("x-cache") == "Hit from cloudfront"
    assert len(REAL_LOG) == 1


def test_example_12_with_a_real_http_origin(door: Door, real: str) -> None:
    config = _config(
        Behavior(
            target_origin_id="assets",
            origin_request=ex.s3_to_custom,
            cache=CachePolicy(query_strings="all"),
        )
    )
    edge = door.edge(config, {**TARGETS, ex.CUSTOM_DOMAIN: real})
    r = edge.get("/img.png?useCustomOrigin=true")
    assert r.status == 200
    seen = _real_landed()
    assert seen.header("host") == ex.CUSTOM_DOMAIN
    assert seen.path == "/img.png"  # the same as an in-process app gets (test_example_12)


def test_edited_origin_path_with_a_real_http_origin(door: Door, real: str) -> None:
    def edit(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        request["origin"]["custom"]["path"] = "/v2"
        return request

    config = _config(Behavior(target_origin_id="app", origin_request=edit, cache=NO_CACHE))
    edge = door.edge(config, {**TARGETS, "app": real})
    assert edge.get("/orders/7").status == 200
    assert _real_landed().path == "/v2/orders/7"


@pytest.mark.parametrize(("uri", "path", "raw"), FUNCTION_URIS.values(), ids=FUNCTION_URIS)
def test_a_uri_set_by_a_function_reaches_a_real_http_origin(
    door: Door, real: str, uri: str, path: str, raw: str
) -> None:
    """Over HTTP the same uri arrives as the in-process app reads it: a character outside
    ASCII goes percent-encoded as UTF-8, never as a lone latin-1 byte."""
    config = _config(Behavior(target_origin_id="app", viewer_request=_set_uri(uri), cache=NO_CACHE))
    edge = door.edge(config, {**TARGETS, "app": real})
    assert edge.get("/anything").status == 200
    seen = _real_landed()
    assert (seen.path, seen.raw_path) == (path, raw)


# =================================================================================================
# 3. What CloudFront adds on the way to the origin (lambda-edge.md §1.3, §3.1)
# =================================================================================================
ALL_VIEWER = OriginRequestPolicy(headers="allViewer", cookies="all", query_strings="all")
ALL_BUT_HOST = OriginRequestPolicy(
    headers="allExcept", header_names=("host",), cookies="all", query_strings="all"
)


class HostCase(NamedTuple):
    origin_host: str
    origins_defined: bool
    cache: CachePolicy
    orp: OriginRequestPolicy | None
    expected: str


HOST_CASES = {
    "origin": HostCase("origin", True, NO_CACHE, None, APP.domain_name),
    "viewer": HostCase("viewer", True, NO_CACHE, None, VIEWER_HOST),
    "auto-with-origins": HostCase("auto", True, NO_CACHE, None, APP.domain_name),
    "auto-without-origins": HostCase("auto", False, NO_CACHE, None, VIEWER_HOST),
    "origin-without-origins": HostCase("origin", False, NO_CACHE, None, "localhost"),
    "host-in-cache-key": HostCase(
        "origin", True, CachePolicy(headers=("Host",)), None, VIEWER_HOST
    ),
    "host-in-orp-whitelist": HostCase(
        "origin",
        True,
        NO_CACHE,
        OriginRequestPolicy(headers="whitelist", header_names=("Host",)),
        VIEWER_HOST,
    ),
    "all-viewer-orp": HostCase("origin", True, NO_CACHE, ALL_VIEWER, VIEWER_HOST),
    "all-viewer-except-host-orp": HostCase("origin", True, NO_CACHE, ALL_BUT_HOST, APP.domain_name),
}


@pytest.mark.parametrize("case", list(HOST_CASES.values()), ids=list(HOST_CASES))
def test_host_sent_to_the_origin(door: Door, case: HostCase) -> None:
    calls = Calls()
    behavior = Behavior(
        target_origin_id="app" if case.origins_defined else None,
        origin_request=calls.spy("origin-request"),
        cache=case.cache,
        origin_request_policy=case.orp,
    )
    config = EdgeConfig(
        default=behavior,
        origins=(APP, ASSETS) if case.origins_defined else (),
        settings=EdgeSettings(origin_host=case.origin_host),  # type: ignore[arg-type]
    )
    edge = door.edge(config, {"app": "app", "assets": "assets"} if case.origins_defined else {})
    assert edge.get("/where").status == 200
    seen = edge.landed()
    assert seen.origin == ("app" if case.origins_defined else "main")
    assert seen.header("host") == case.expected
    assert _event_header(calls.last("origin-request"), "host") == case.expected


@pytest.mark.parametrize(
    ("viewer_xff", "expected"),
    [(None, CLIENT_IP), ("198.51.100.1", f"198.51.100.1, {CLIENT_IP}")],
    ids=["no-viewer-xff", "viewer-xff"],
)
@pytest.mark.parametrize("forwarded", [False, True], ids=["not-forwarded", "all-viewer"])
def test_x_forwarded_for_appended(
    door: Door, viewer_xff: str | None, expected: str, forwarded: bool
) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=calls.spy("viewer-request"),
            origin_request=calls.spy("origin-request"),
            cache=NO_CACHE,
            origin_request_policy=ALL_VIEWER if forwarded else None,
        )
    )
    edge = door.edge(config, TARGETS)
    headers = {"X-Forwarded-For": viewer_xff} if viewer_xff else {}
    assert edge.get("/xff", headers=headers).status == 200
    assert edge.landed().header("x-forwarded-for") == expected
    assert _event_header(calls.last("origin-request"), "x-forwarded-for") == expected
    # viewer-request sees what the viewer sent, nothing appended yet.
    assert _event_header(calls.last("viewer-request"), "x-forwarded-for") == viewer_xff


@pytest.mark.parametrize(("http_version", "via"), [("1.1", VIA_11), ("2", VIA_20)])
def test_via_follows_the_viewer_http_version(door: Door, http_version: str, via: Any) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=calls.spy("viewer-request"),
            origin_request=calls.spy("origin-request"),
            cache=NO_CACHE,
        )
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/via", http_version=http_version)
    assert r.status == 200
    sent = edge.landed().header("via")
    assert sent is not None and via.match(sent), sent
    assert _event_header(calls.last("origin-request"), "via") == sent
    assert _event_header(calls.last("viewer-request"), "via") is None


@pytest.mark.parametrize(
    ("cache", "orp", "expected"),
    [
        (NO_CACHE, None, "Amazon CloudFront"),
        (CachePolicy(headers=("User-Agent",)), None, "Viewer/1.0"),
        (NO_CACHE, OriginRequestPolicy(headers="whitelist", header_names=("User-Agent",)), None),
        (NO_CACHE, ALL_VIEWER, "Viewer/1.0"),
    ],
    ids=["not-forwarded", "in-cache-key", "orp-whitelist", "all-viewer"],
)
def test_user_agent(
    door: Door, cache: CachePolicy, orp: OriginRequestPolicy | None, expected: str | None
) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=calls.spy("origin-request"),
            cache=cache,
            origin_request_policy=orp,
        )
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/ua", headers={"User-Agent": "Viewer/1.0"}).status == 200
    want = expected or "Viewer/1.0"
    assert edge.landed().header("user-agent") == want
    assert _event_header(calls.last("origin-request"), "user-agent") == want


def test_no_cloudfront_headers_unless_a_policy_asks(door: Door) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=calls.spy("origin-request"),
            cache=CachePolicy(headers=("Accept-Language",)),
            origin_request_policy=ALL_VIEWER,
        ),
        settings=_countries(("cloudfront-viewer-country", "DE")),
    )
    edge = door.edge(config, TARGETS)
    assert edge.get(f"https://{VIEWER_HOST}/plain").status == 200
    assert edge.landed().cloudfront_headers == {}
    event_headers = calls.last("origin-request")["request"]["headers"]
    assert [h for h in event_headers if h.startswith("cloudfront-")] == []


def test_cloudfront_headers_named_by_the_cache_policy(door: Door) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=calls.spy("viewer-request"),
            origin_request=calls.spy("origin-request"),
            cache=CachePolicy(headers=("CloudFront-Viewer-Country", "CloudFront-Is-Mobile-Viewer")),
        )
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/k").status == 200
    # Only the two named headers, with the defaults (a US desktop viewer).
    assert edge.landed().cloudfront_headers == {
        "cloudfront-viewer-country": "US",
        "cloudfront-is-mobile-viewer": "false",
    }
    or_headers = calls.last("origin-request")["request"]["headers"]
    assert or_headers["cloudfront-viewer-country"] == [
        {"key": "CloudFront-Viewer-Country", "value": "US"}
    ]
    vr_headers = calls.last("viewer-request")["request"]["headers"]
    assert [h for h in vr_headers if h.startswith("cloudfront-")] == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cloudfront_headers_from_the_origin_request_policy(door: Door, scheme: str) -> None:
    config = _config(
        Behavior(
            target_origin_id="app",
            cache=NO_CACHE,
            origin_request_policy=OriginRequestPolicy(
                headers="whitelist",
                header_names=("CloudFront-Forwarded-Proto", "CloudFront-Is-Tablet-Viewer"),
            ),
        )
    )
    edge = door.edge(config, TARGETS)
    assert edge.get(f"{scheme}://{VIEWER_HOST}/p").status == 200
    assert edge.landed().cloudfront_headers == {
        "cloudfront-forwarded-proto": scheme,
        "cloudfront-is-tablet-viewer": "false",
    }


def test_managed_all_viewer_and_cloudfront_headers_policy(door: Door) -> None:
    """AllViewerAndCloudFrontHeaders-2022-06 by its managed id through ``load_config``."""
    doc = {
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "app",
                    "DomainName": APP.domain_name,
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "app",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            "OriginRequestPolicyId": "33f36d7e-f396-46d9-90e0-52428a34d9dc",
        },
        "CallerReference": "x",
        "Comment": "",
        "Enabled": True,
    }
    settings = _countries(("cloudfront-viewer-country", "JP"), ("cloudfront-viewer-city", "Osaka"))
    edge = door.edge(load_config(doc, settings=settings), {"app": "app"})
    assert edge.get(f"https://{VIEWER_HOST}/all").status == 200
    got = edge.landed().cloudfront_headers
    assert got["cloudfront-viewer-country"] == "JP"
    assert got["cloudfront-viewer-city"] == "Osaka"
    assert got["cloudfront-forwarded-proto"] == "https"
    assert got["cloudfront-is-desktop-viewer"] == "true"
    assert got["cloudfront-viewer-address"].startswith(f"{CLIENT_IP}:")
    assert {"cloudfront-viewer-tls", "cloudfront-viewer-http-version"} <= set(got)


def test_cloudfront_header_values_override_everything(door: Door) -> None:
    settings = _countries(
        ("cloudfront-viewer-country", "BR"),
        ("cloudfront-is-mobile-viewer", "true"),
        ("cloudfront-is-desktop-viewer", "false"),
        ("cloudfront-forwarded-proto", "https"),
    )
    names = (
        "CloudFront-Viewer-Country",
        "CloudFront-Is-Mobile-Viewer",
        "CloudFront-Is-Desktop-Viewer",
        "CloudFront-Forwarded-Proto",
    )
    config = _config(
        Behavior(target_origin_id="app", cache=CachePolicy(headers=names)), settings=settings
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/o").status == 200  # over http: the override still wins
    assert edge.landed().cloudfront_headers == {
        "cloudfront-viewer-country": "BR",
        "cloudfront-is-mobile-viewer": "true",
        "cloudfront-is-desktop-viewer": "false",
        "cloudfront-forwarded-proto": "https",
    }


def test_viewer_sent_cloudfront_header_overwritten_for_the_origin_side(door: Door) -> None:
    """§3.1: viewer-side functions see the viewer's value; origin-side functions and the
    origin see CloudFront's."""
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=calls.spy("viewer-request"),
            origin_request=calls.spy("origin-request"),
            origin_response=calls.spy("origin-response"),
            viewer_response=calls.spy("viewer-response"),
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        settings=_country("DE"),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/spoof", headers={"CloudFront-Viewer-Country": "XX"})
    assert r.status == 200
    assert calls.labels == [
        "viewer-request",
        "origin-request",
        "origin-response",
        "viewer-response",
    ]
    assert _event_header(calls.last("viewer-request"), "cloudfront-viewer-country") == "XX"
    assert _event_header(calls.last("origin-request"), "cloudfront-viewer-country") == "DE"
    assert _event_header(calls.last("origin-response"), "cloudfront-viewer-country") == "DE"
    assert _event_header(calls.last("viewer-response"), "cloudfront-viewer-country") == "XX"
    assert edge.landed().cloudfront_headers == {"cloudfront-viewer-country": "DE"}


def test_cache_key_uses_cloudfront_value_not_the_viewer_one(door: Door) -> None:
    config = _config(
        Behavior(target_origin_id="app", cache=CachePolicy(headers=COUNTRY_KEY)),
        settings=_country("DE"),
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/key", headers={"CloudFront-Viewer-Country": "XX"}).status == 200
    r = edge.get("/key")
    assert r.get("x-cache") == "Hit from cloudfront"
    assert len(edge.log) == 1


def test_viewer_request_may_set_a_cloudfront_header_that_is_then_overwritten(door: Door) -> None:
    """A header a viewer-request function adds under a CloudFront name the policy asks for is
    replaced by CloudFront's value for the origin side (added after viewer-request)."""

    def add(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request: dict[str, Any] = event["Records"][0]["cf"]["request"]
        request["headers"]["cloudfront-is-mobile-viewer"] = [
            {"key": "CloudFront-Is-Mobile-Viewer", "value": "true"}
        ]
        return request

    config = _config(
        Behavior(
            target_origin_id="app",
            viewer_request=add,
            cache=CachePolicy(headers=("CloudFront-Is-Mobile-Viewer",)),
        )
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/m").status == 200
    assert edge.landed().cloudfront_headers == {"cloudfront-is-mobile-viewer": "false"}


def test_origin_object_and_extras_for_a_custom_origin(door: Door) -> None:
    calls = Calls()
    config = _config(Behavior(target_origin_id="app", origin_request=calls.spy("origin-request")))
    edge = door.edge(config, TARGETS)
    r = edge.get("/obj")
    assert r.status == 200
    event_request = calls.last("origin-request")["request"]
    assert event_request["origin"] == {
        "custom": {
            "customHeaders": {"x-origin-token": [{"key": "X-Origin-Token", "value": "t0k"}]},
            "domainName": APP.domain_name,
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 20,
            "sslProtocols": ["TLSv1.2"],
        }
    }
    # X-Amz-Cf-Id goes to the origin but is disallowed, so not in the event (§1.3).
    assert "x-amz-cf-id" not in event_request["headers"]
    seen = edge.landed()
    assert seen.header("x-origin-token") == "t0k"
    _assert_cloudfront_extras(seen, r)


# =================================================================================================
# 4. Viewer protocol policy and custom error responses (lambda-edge.md §4, caching.md §1.4)
# =================================================================================================
def _all_four(calls: Calls, label: str = "") -> dict[str, Any]:
    return {
        slot: calls.spy(label + slot.replace("_", "-"))
        for slot in ("viewer_request", "origin_request", "origin_response", "viewer_response")
    }


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("GET", 301),
        ("HEAD", 301),
        ("POST", 307),
        ("PUT", 307),
        ("DELETE", 307),
        ("PATCH", 307),
        ("OPTIONS", 307),
    ],
)
def test_redirect_to_https(door: Door, method: str, status: int) -> None:
    calls = Calls()
    config = _config(
        Behavior(
            target_origin_id="app", viewer_protocol_policy="redirect-to-https", **_all_four(calls)
        )
    )
    edge = door.edge(config, TARGETS)
    body = b"a=1" if method in ("POST", "PUT", "PATCH") else None
    r = edge.request(method, "/cart/items?id=7&x=a%20b", body=body)
    assert r.status == status
    assert r.get("location") == f"https://{VIEWER_HOST}/cart/items?id=7&x=a%20b"
    assert r.get("x-cache") == "Redirect from cloudfront"
    assert calls.labels == []
    assert edge.log == []
    # Over HTTPS the same request goes through, every function running.
    ok = edge.request(method, f"https://{VIEWER_HOST}/cart/items?id=7", body=body)
    assert ok.status == 200
    assert "viewer-request" in calls.labels


def test_redirect_to_https_only_on_the_matching_behavior(door: Door) -> None:
    calls = Calls()
    config = _config(
        Behavior(target_origin_id="app", viewer_request=calls.spy("default-vr")),
        Behavior(
            "/secure/*",
            target_origin_id="eu",
            viewer_protocol_policy="redirect-to-https",
            viewer_request=calls.spy("secure-vr"),
        ),
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/secure/x").status == 301
    assert edge.get("/open").status == 200
    assert calls.labels == ["default-vr"]
    assert edge.landed().origin == "app"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_https_only_403(door: Door, method: str) -> None:
    calls = Calls()
    config = _config(
        Behavior(target_origin_id="app", viewer_protocol_policy="https-only", **_all_four(calls))
    )
    edge = door.edge(config, TARGETS)
    body = b"a=1" if method == "POST" else None
    r = edge.request(method, "/account", body=body)
    assert r.status == 403
    assert r.get("location") is None
    assert r.get("x-cache") == "Error from cloudfront"
    assert calls.labels == []
    assert edge.log == []
    ok = edge.request(method, f"https://{VIEWER_HOST}/account", body=body)
    assert ok.status == 200
    assert edge.landed().origin == "app"


ERROR_PAGES = (
    CustomErrorResponse(404, "/errors/not-found.html", 404, 60),
    CustomErrorResponse(500, "/errors/oops.html", 503, 5),
    CustomErrorResponse(503, "/errors/oops.html", 200, 20),
)


def _error_page_config(calls: Calls, **default: Any) -> EdgeConfig:
    """Errors come from ``app`` (default behavior); the pages from ``assets`` via the
    ``/errors/*`` behavior, which has all four functions."""
    return _config(
        Behavior(target_origin_id="app", **{**_all_four(calls), **default}),
        Behavior("/errors/*", target_origin_id="assets", **_all_four(calls, "page-")),
        errors=ERROR_PAGES,
    )


@pytest.mark.parametrize(
    ("url", "code", "page"),
    [
        ("/shop/missing", 404, "/errors/not-found.html"),
        ("/shop/broken", 503, "/errors/oops.html"),
        ("/shop/unavailable", 200, "/errors/oops.html"),
    ],
)
def test_custom_error_page_fetched_through_its_behavior(
    door: Door, url: str, code: int, page: str
) -> None:
    calls = Calls()
    edge = door.edge(_error_page_config(calls), TARGETS)
    r = edge.get(url)
    assert r.status == code  # ResponseCode replaces the origin's status
    assert r.text() == f"<h1>assets error page /static{page}</h1>"
    assert r.get("x-cache") == "Error from cloudfront"
    assert [(s.origin, s.path) for s in edge.log] == [("app", url), ("assets", f"/static{page}")]
    page_seen = edge.log[1]
    assert page_seen.header("host") == ASSETS.domain_name
    assert VIA_11.match(page_seen.header("via") or "")
    # The error's own request ran viewer-request, origin-request and origin-response; the page
    # ran its behavior's origin-side functions only; no viewer-response for a custom error page.
    assert calls.labels == [
        "viewer-request",
        "origin-request",
        "origin-response",
        "page-origin-request",
        "page-origin-response",
    ]
    assert calls.last("page-origin-request")["request"]["uri"] == page
    assert calls.last("page-origin-request")["request"]["origin"]["s3"]["domainName"] == (
        ASSETS.domain_name
    )


def test_error_without_a_page_keeps_the_origin_answer(door: Door) -> None:
    """A CustomErrorResponse with no ResponsePagePath: the origin's own body and status, no
    page fetch, and no viewer-response (status >= 400, lambda-edge.md §4)."""
    calls = Calls()
    config = _config(
        Behavior(target_origin_id="app", viewer_response=calls.spy("viewer-response")),
        errors=(CustomErrorResponse(404, None, None, 0),),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/missing")
    assert (r.status, r.text()) == (404, "app: no such object")
    assert [s.origin for s in edge.log] == ["app"]
    assert calls.labels == []


@pytest.mark.parametrize(
    ("url", "ttl", "code"),
    [("/shop/missing", 60, 404), ("/shop/broken", 5, 503), ("/shop/unavailable", 20, 200)],
)
def test_custom_error_page_cached_for_error_caching_min_ttl(
    door: Door, url: str, ttl: int, code: int
) -> None:
    calls = Calls()
    edge = door.edge(_error_page_config(calls), TARGETS)
    first = edge.get(url)
    assert first.status == code
    assert len(edge.log) == 2
    edge.log.clear()
    calls.clear()
    door.advance(ttl - 1)
    cached = edge.get(url)
    assert (cached.status, cached.body) == (code, first.body)
    assert edge.log == []  # neither the error nor the page is fetched again
    assert calls.labels == ["viewer-request"]
    door.advance(2)  # past ErrorCachingMinTTL for this code: the origin is asked again
    again = edge.get(url)
    assert again.status == code
    assert [(s.origin, s.path) for s in edge.log] == [("app", url)]  # the page is still cached


async def _serve_like_a_server(app: Any, path: str, timeout: float) -> int | None:
    """One GET through an ASGI app with a server's ``receive``: the (empty) body once, then
    nothing until the response is complete, then ``http.disconnect`` (as uvicorn does).
    The response status, or ``None`` when no complete response came within ``timeout``."""
    done = asyncio.Event()
    started: list[int] = []
    receive = doors.leaving_once(done)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    scope = doors.asgi_scope(path, VIEWER_HOST, CLIENT_IP)
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout)
    except TimeoutError:
        return None
    return started[0] if started and done.is_set() else None


def test_custom_error_page_with_an_origin_that_always_reads_its_body() -> None:
    log: list[Seen] = []
    config = _config(
        Behavior(target_origin_id="app"),
        Behavior("/errors/*", target_origin_id="assets"),
        errors=(CustomErrorResponse(404, "/errors/404.html", 404, 10),),
    )
    mw = EdgeMiddleware(
        starlette_origin("main", log),
        config=config,
        origins={
            "app": starlette_origin("app", log, always_read_body=True),
            "assets": starlette_origin("assets", log, always_read_body=True),
        },
    )
    status = asyncio.run(_serve_like_a_server(mw, "/missing", timeout=5))
    assert [(s.origin, s.path) for s in log][:1] == [("app", "/missing")]
    assert status == 404


def _raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("origin-request failed")


def test_custom_error_page_replaces_a_lambda_error(door: Door) -> None:
    config = _config(
        Behavior(target_origin_id="app", origin_request=_raises),
        Behavior("/errors/*", target_origin_id="assets"),
        errors=(CustomErrorResponse(503, "/errors/503.html", 503, 0),),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/checkout")
    assert r.status == 503
    assert r.text() == "<h1>assets error page /static/errors/503.html</h1>"
    assert [(s.origin, s.path) for s in edge.log] == [("assets", "/static/errors/503.html")]


def test_custom_error_page_replaces_an_unreachable_origin_error(door: Door) -> None:
    dead = dead_url()  # nothing listens there: connection refused
    config = _config(
        Behavior(target_origin_id="app"),
        Behavior("/errors/*", target_origin_id="assets"),
        errors=(CustomErrorResponse(502, "/errors/502.html", 502, 0),),
    )
    edge = door.edge(config, {**TARGETS, "app": dead})
    r = edge.get("/checkout")
    assert r.status == 502
    assert r.text() == "<h1>assets error page /static/errors/502.html</h1>"


def test_error_caching_min_ttl_zero_is_not_cached(door: Door) -> None:
    config = _config(
        Behavior(target_origin_id="app"),
        errors=(CustomErrorResponse(404, None, None, 0),),
    )
    edge = door.edge(config, TARGETS)
    assert edge.get("/missing").status == 404
    assert edge.get("/missing").status == 404
    assert [s.path for s in edge.log] == ["/missing", "/missing"]


def test_custom_error_page_for_an_https_only_error_page_behavior(door: Door) -> None:
    """The page is fetched by CloudFront itself: the page behavior's viewer protocol policy
    (https-only) does not apply to the fetch, nor does its viewer-request."""
    calls = Calls()
    config = _config(
        Behavior(target_origin_id="app"),
        Behavior(
            "/errors/*",
            target_origin_id="eu",
            viewer_protocol_policy="https-only",
            viewer_request=calls.spy("page-viewer-request"),
        ),
        errors=(CustomErrorResponse(404, "/errors/404.html", 404, 10),),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/missing")
    assert (r.status, r.text()) == (404, "<h1>eu error page /errors/404.html</h1>")
    assert [s.origin for s in edge.log] == ["app", "eu"]
    assert calls.labels == []


def test_custom_error_page_after_an_origin_switch(door: Door) -> None:
    """The error comes from the origin example 14 switched to; the page from the bucket."""
    config = _config(
        Behavior(
            target_origin_id="app",
            origin_request=ex.domain_by_country,
            cache=CachePolicy(headers=COUNTRY_KEY),
        ),
        Behavior("/errors/*", target_origin_id="assets"),
        settings=_country("IE"),
        errors=(CustomErrorResponse(404, "/errors/404.html", 404, 10),),
    )
    edge = door.edge(config, TARGETS)
    r = edge.get("/missing")
    assert r.status == 404
    assert [(s.origin, s.path) for s in edge.log] == [
        ("eu", "/missing"),
        ("assets", "/static/errors/404.html"),
    ]
    assert edge.log[0].header("host") == ex.EU_DOMAIN


# =================================================================================================
# 5. End to end: real get-distribution-config JSON through load_config
# =================================================================================================
def _router(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The shop's origin-router: ``/eu/...`` is served by the European app servers."""
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    if request["uri"].startswith("/eu/"):
        request["origin"]["custom"]["domainName"] = "eu.shop.example.com"
        request["headers"]["host"] = [{"key": "Host", "value": "eu.shop.example.com"}]
    return request


def _api_forms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The shop's api-forms: appends a field to a posted form (IncludeBody, replace)."""
    import base64

    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    body = request.get("body")
    if request["method"] == "POST" and body and body["data"]:
        fields = parse_qsl(base64.b64decode(body["data"]).decode())
        fields.append(("edge", "seen"))
        body.update(action="replace", encoding="text", data=urlencode(fields))
    return request


def _add_header(name: str, value: str) -> Callable[..., Any]:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = event["Records"][0]["cf"]["response"]
        response["headers"][name.lower()] = [{"key": name, "value": value}]
        return response

    return handler


def test_shop_distribution_end_to_end(door: Door) -> None:
    """tests/fixtures/distributions/get-distribution-config.json, driven request by request."""
    calls = Calls()
    handlers = {
        "auth": calls.spy("auth"),
        "origin-router": calls.spy("origin-router", _router),
        "sec-headers": calls.spy(
            "sec-headers", _add_header("Strict-Transport-Security", "max-age=63072000")
        ),
        "cookie-banner": calls.spy("cookie-banner", _add_header("X-Banner", "shown")),
        "api-forms": calls.spy("api-forms", _api_forms),
    }
    config = load_config(FIXTURES / "get-distribution-config.json", handlers=handlers)
    edge = door.edge(config, {"app": "app", "assets": "assets", "eu.shop.example.com": "eu-app"})
    shop = "https://shop.example.com"

    # HTTP to the default behavior (redirect-to-https): 301, nothing runs.
    r = edge.get("http://shop.example.com/products?page=2")
    assert (r.status, r.get("location")) == (301, f"{shop}/products?page=2")
    assert r.get("x-cache") == "Redirect from cloudfront"
    # HTTP POST to /api/* (https-only): 403, nothing runs.
    r = edge.request("POST", "http://shop.example.com/api/orders", body=b"item=1")
    assert r.status == 403
    assert calls.labels == [] and edge.log == []

    # A page from the app origin: every function of the default behavior, in order.
    r = edge.get(f"{shop}/products", headers={"User-Agent": "Shopper/2"})
    assert r.status == 200
    assert r.get("x-cache") == "Miss from cloudfront"
    assert calls.labels == ["auth", "origin-router", "sec-headers", "cookie-banner"]
    assert r.get("strict-transport-security") == "max-age=63072000"
    assert r.get("x-banner") == "shown"
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path) == ("app", "app.example.com", "/products")
    assert seen.header("x-origin-token") == "t0k"
    assert seen.header("user-agent") == "Amazon CloudFront"
    _assert_cloudfront_extras(seen, r)
    origin = calls.last("origin-router")["request"]["origin"]["custom"]
    assert (origin["protocol"], origin["port"], origin["readTimeout"]) == ("https", 443, 45)
    assert origin["keepaliveTimeout"] == 10
    calls.clear()
    edge.log.clear()
    r = edge.get(f"{shop}/products")
    assert r.get("x-cache") == "Hit from cloudfront"
    assert calls.labels == ["auth", "cookie-banner"]
    assert edge.log == []

    # origin-router sends /eu/... to the European app servers.
    r = edge.get(f"{shop}/eu/products")
    assert r.json()["origin"] == "eu-app"
    seen = edge.landed()
    assert (seen.header("host"), seen.path) == ("eu.shop.example.com", "/eu/products")
    calls.clear()
    edge.log.clear()

    # /static/* is the S3 origin with OriginPath /static; viewer-response only there.
    r = edge.get("http://shop.example.com/static/logo.png")
    assert r.status == 200
    seen = edge.landed()
    assert seen.origin == "assets"
    assert seen.header("host") == "shop-assets.s3.eu-west-1.amazonaws.com"
    assert seen.path == "/static/static/logo.png"
    assert seen.header("x-origin-token") is None
    assert calls.labels == ["sec-headers"]
    calls.clear()
    edge.log.clear()

    # /api/*: CachingDisabled + AllViewerExceptHostHeader; the form gets a field added.
    for _ in range(2):
        r = edge.request(
            "POST",
            f"{shop}/api/orders",
            body=b"item=1",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "Shopper/2",
            },
        )
        assert r.status == 200
        assert r.get("x-cache") == "Miss from cloudfront"
    assert [s.origin for s in edge.log] == ["app", "app"]
    seen = edge.log[-1]
    assert seen.header("host") == "app.example.com"
    assert seen.header("user-agent") == "Shopper/2"  # all viewer headers but Host forwarded
    assert seen.body == b"item=1&edge=seen"
    assert calls.labels == ["api-forms", "api-forms"]
    calls.clear()
    edge.log.clear()

    # A 404 from the app: /errors/404.html through the default behavior (origin-router runs
    # for it, auth does not), ResponseCode 404, no cookie-banner, cached for 60 s.
    r = edge.get(f"{shop}/shop/missing")
    assert r.status == 404
    assert r.text() == "<h1>app error page /errors/404.html</h1>"
    assert [(s.origin, s.path) for s in edge.log] == [
        ("app", "/shop/missing"),
        ("app", "/errors/404.html"),
    ]
    assert calls.labels == ["auth", "origin-router", "sec-headers", "origin-router", "sec-headers"]
    edge.log.clear()
    door.advance(59)
    assert edge.get(f"{shop}/shop/missing").status == 404
    assert edge.log == []
    door.advance(2)
    assert edge.get(f"{shop}/shop/missing").status == 404
    assert [s.path for s in edge.log] == ["/shop/missing"]
    edge.log.clear()

    # A 503 whose CustomErrorResponse has no page and ErrorCachingMinTTL 0: never cached.
    for _ in range(2):
        r = edge.get(f"{shop}/unavailable")
        assert (r.status, r.text()) == (503, "app: unavailable")
    assert [s.path for s in edge.log] == ["/unavailable", "/unavailable"]


def _news(door: Door, country: str, calls: Calls, device: str = "mobile") -> Edge:
    handlers = {
        "domain-by-country": calls.spy("domain-by-country", ex.domain_by_country),
        "media-region": calls.spy("media-region", ex.make_s3_region_by_country("news-media")),
        "device-path": calls.spy("device-path", ex.path_by_device),
        "error-page-guard": calls.spy("error-page-guard"),
        "error-page-headers": calls.spy(
            "error-page-headers", _add_header("X-Error-Page", "from-s3")
        ),
    }
    settings = _countries(
        ("cloudfront-viewer-country", country),
        *[
            (f"cloudfront-is-{kind}-viewer", "true" if kind == device else "false")
            for kind in ("desktop", "mobile", "tablet", "smarttv")
        ],
    )
    config = load_config(FIXTURES / "origin-selection.json", handlers=handlers, settings=settings)
    return door.edge(
        config,
        {
            "web": "web",
            "media": "media",
            "error-pages": "error-bucket",
            ex.EU_DOMAIN: "eu-web",
            ex.regional_bucket("news-media", "eu-central-1"): "media-frankfurt",
        },
    )


def test_news_distribution_end_to_end(door: Door) -> None:
    """tests/fixtures/distributions/origin-selection.json: examples 9, 11 and 14 as the
    distribution's functions, S3 error pages, a viewer in Germany on a phone."""
    calls = Calls()
    edge = _news(door, "DE", calls)
    news = "https://news.example.com"

    r = edge.get("http://news.example.com/story/1?ref=home")
    assert (r.status, r.get("location")) == (301, f"{news}/story/1?ref=home")
    r = edge.get("http://news.example.com/media/cat.jpg")
    assert r.status == 403  # /media/* is https-only
    assert calls.labels == [] and edge.log == []

    # Default behavior: example 14 moves a German viewer to eu.example.com; the web origin's
    # OriginPath and custom header stay with the request.
    r = edge.get(f"{news}/story/1?ref=home")
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path, seen.query) == (
        "eu-web",
        ex.EU_DOMAIN,
        "/site/story/1",
        "ref=home",
    )
    assert seen.header("x-from-edge") == "news-edge"
    assert seen.cloudfront_headers == {"cloudfront-viewer-country": "DE"}
    _assert_cloudfront_extras(seen, r)
    edge.log.clear()

    # /media/*: example 11 on the OAI bucket moves it to the Frankfurt copy.
    r = edge.get(f"{news}/media/cat.jpg")
    assert r.status == 200
    seen = edge.landed()
    frankfurt = ex.regional_bucket("news-media", "eu-central-1")
    assert (seen.origin, seen.header("host"), seen.path) == (
        "media-frankfurt",
        frankfurt,
        "/media/cat.jpg",
    )
    s3 = calls.last("media-region")["request"]["origin"]["s3"]
    assert (s3["authMethod"], s3["region"], s3["domainName"]) == (
        "origin-access-identity",
        "us-east-1",
        "news-media.s3.us-east-1.amazonaws.com",
    )
    edge.log.clear()

    # /m/*: example 9 on the web origin for a phone.
    r = edge.get(f"{news}/m/front")
    assert r.status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path) == (
        "web",
        "web.news.example",
        "/site/mobile/m/front",
    )
    custom = calls.last("device-path")["request"]["origin"]["custom"]
    assert (custom["protocol"], custom["port"], custom["path"]) == ("https", 443, "/site")
    edge.log.clear()
    calls.clear()

    # 404 from eu-web -> /errors/404.html from the S3 website origin through /errors/*: its
    # origin-response runs, its viewer-request does not; cached for 30 s.
    r = edge.get(f"{news}/story/missing")
    assert r.status == 404
    assert r.text() == "<h1>error-bucket error page /errors/404.html</h1>"
    assert [(s.origin, s.path) for s in edge.log] == [
        ("eu-web", "/site/story/missing"),
        ("error-bucket", "/errors/404.html"),
    ]
    assert edge.log[1].header("host") == "news-errors.s3-website-us-east-1.amazonaws.com"
    assert calls.labels == ["domain-by-country", "error-page-headers"]
    assert r.get("x-error-page") == "from-s3"
    edge.log.clear()
    door.advance(29)
    assert edge.get(f"{news}/story/missing").status == 404
    assert edge.log == []
    door.advance(2)
    assert edge.get(f"{news}/story/missing").status == 404
    assert [s.origin for s in edge.log] == ["eu-web"]
    edge.log.clear()

    # 500 -> /errors/500.html with ResponseCode 503, cached for 5 s.
    r = edge.get(f"{news}/story/broken")
    assert r.status == 503
    assert r.text() == "<h1>error-bucket error page /errors/500.html</h1>"
    edge.log.clear()
    door.advance(4)
    assert edge.get(f"{news}/story/broken").status == 503
    assert edge.log == []
    door.advance(2)
    assert edge.get(f"{news}/story/broken").status == 503
    assert [s.path for s in edge.log] == ["/site/story/broken"]


def test_news_distribution_outside_europe(door: Door) -> None:
    calls = Calls()
    edge = _news(door, "US", calls, device="desktop")
    news = "https://news.example.com"
    assert edge.get(f"{news}/story/1").status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host"), seen.path) == (
        "web",
        "web.news.example",
        "/site/story/1",
    )
    edge.log.clear()
    assert edge.get(f"{news}/media/cat.jpg").status == 200
    seen = edge.landed()
    assert (seen.origin, seen.header("host")) == ("media", "news-media.s3.us-east-1.amazonaws.com")
    edge.log.clear()
    assert edge.get(f"{news}/m/front").status == 200
    assert edge.landed().path == "/site/desktop/m/front"
