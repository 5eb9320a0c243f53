"""Issue 12 on both front doors: DefaultRootObject, response headers policies, origin groups
and multi-range requests. Real Starlette (ASGI) and Flask (WSGI) origins from
``frontdoor_apps``; specs in docs/distributions.md."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    Origin,
    OriginGroup,
)

try:
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:
    from tests.frontdoor_apps import make_flask_app, make_starlette_app
from tests.support import doors
from tests.support.doors import Resp


@dataclass
class Door(doors.Door):
    """One door (ASGI or WSGI); ``apps`` maps an origin id to the log of a real app serving it
    (``None``: the wrapped app)."""

    logs: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict)
    clients: dict[int, Any] = field(default_factory=dict)
    #: What the middleware's observers saw (the dev log, access log and inspector read these).
    records: list[Any] = field(default_factory=list)

    def log(self, origin_id: str | None = None) -> list[dict[str, Any]]:
        return self.logs.setdefault(origin_id, [])

    def app(self, origin_id: str | None = None) -> Any:
        if self.kind == "asgi":
            return make_starlette_app(self.log(origin_id))
        return make_flask_app(self.log(origin_id)).wsgi_app

    def client(self, cfg: EdgeConfig, origins: Sequence[str | Any] = ()) -> Any:
        known = self.clients.get(id(cfg))
        if known is not None:
            return known
        mapping: dict[str, Any] = {}
        for item in origins:
            if isinstance(item, str):
                mapping[item] = self.app(item)
            else:
                mapping[item[0]] = item[1]
        mw = self.wrap(self.app(), cfg, origins=mapping or None)
        mw.add_observer(self.records.append)
        client = self.viewer(mw)
        self.clients[id(cfg)] = client
        return client

    def request(
        self,
        cfg: EdgeConfig,
        path: str = "/",
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        origins: Sequence[Any] = (),
    ) -> Resp:
        return self.send(self.client(cfg, origins), method, path, headers=headers)


door = doors.door_fixture(Door)


Handler = Callable[[dict[str, Any], Any], Any]


def recorder(events: list[dict[str, Any]]) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> Any:
        events.append(json.loads(json.dumps(event)))
        cf = event["Records"][0]["cf"]
        return cf["response"] if "response" in cf else cf["request"]

    return handler


# -- DefaultRootObject ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "origin_path", "event_uri"),
    [
        pytest.param("/", "/index.html", "/index.html", id="root"),
        pytest.param("/?a=1", "/index.html", "/index.html", id="root-with-query"),
        pytest.param("/docs/", "/docs/", "/docs/", id="subdirectory-not-rewritten"),
        pytest.param("/index.htm", "/index.htm", "/index.htm", id="other-path"),
    ],
)
def test_default_root_object(door: Door, path: str, origin_path: str, event_uri: str) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(viewer_request=recorder(events), cache=CachePolicy(0, 0, 0)),
        behaviors=[Behavior("/index.html", cache=CachePolicy(0, 0, 0))],
        default_root_object="index.html",
    )
    resp = door.request(cfg, path)
    assert resp.status == 200
    assert door.log()[-1]["path"] == origin_path
    if path.startswith("/?") or path == "/":
        assert not events  # "/index.html" matched its own behavior, which has no trigger
    else:
        assert events[-1]["Records"][0]["cf"]["request"]["uri"] == event_uri


def test_default_root_object_event_uri(door: Door) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(viewer_request=recorder(events), cache=CachePolicy(0, 0, 0)),
        default_root_object="index.html",
    )
    assert door.request(cfg, "/").status == 200
    assert events[0]["Records"][0]["cf"]["request"]["uri"] == "/index.html"
    assert door.log()[-1]["path"] == "/index.html"


# -- response headers policies -------------------------------------------------------------------

SECURITY = {
    "referrer-policy": "strict-origin-when-cross-origin",
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "x-xss-protection": "1; mode=block",
}


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param("SecurityHeadersPolicy", id="by-name"),
        pytest.param("67f7725c-6f97-4210-82d7-5512b31e9d03", id="by-managed-id"),
        pytest.param("Managed-SecurityHeadersPolicy", id="console-name"),
    ],
)
def test_security_headers_on_miss_and_hit(door: Door, policy: str) -> None:
    cfg = EdgeConfig(default=Behavior(response_headers_policy=policy))
    miss = door.request(cfg, "/cache/60")
    hit = door.request(cfg, "/cache/60")
    assert (miss.get("x-cache"), hit.get("x-cache")) == (
        "Miss from cloudfront",
        "Hit from cloudfront",
    )
    for resp in (miss, hit):
        assert {name: resp.get(name) for name in SECURITY} == SECURITY
    assert len(door.log()) == 1


def test_security_headers_on_origin_error(door: Door) -> None:
    cfg = EdgeConfig(
        default=Behavior(
            response_headers_policy="SecurityHeadersPolicy", cache=CachePolicy(0, 0, 0)
        )
    )
    resp = door.request(cfg, "/status/404")
    assert resp.status == 404 and resp.get("x-frame-options") == "SAMEORIGIN"


@pytest.mark.parametrize(
    ("policy", "allow_headers"),
    [
        pytest.param("CORS-With-Preflight", "*", id="cors-with-preflight"),
        pytest.param("CORS-With-Preflight-And-SecurityHeadersPolicy", "*", id="with-security"),
    ],
)
def test_cors_preflight_answered_by_the_edge(door: Door, policy: str, allow_headers: str) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(
            response_headers_policy=policy,
            origin_request=recorder(events),
            cache=CachePolicy(0, 0, 0),
        )
    )
    resp = door.request(
        cfg,
        "/api/items",
        method="OPTIONS",
        headers=[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    assert resp.status == 200
    assert resp.get("access-control-allow-origin") == "*"
    assert (
        resp.get("access-control-allow-methods") == "GET, DELETE, HEAD, OPTIONS, PATCH, POST, PUT"
    )
    assert resp.get("access-control-allow-headers") == allow_headers
    assert door.log() == [] and events == []  # neither origin-request nor the origin ran
    if "Security" in policy:
        assert resp.get("strict-transport-security") == "max-age=31536000"


def test_simple_cors_only_for_cors_requests(door: Door) -> None:
    cfg = EdgeConfig(
        default=Behavior(response_headers_policy="SimpleCORS", cache=CachePolicy(0, 0, 0))
    )
    with_origin = door.request(cfg, "/echo", headers=[("Origin", "https://a.example")])
    without = door.request(cfg, "/echo")
    assert with_origin.get("access-control-allow-origin") == "*"
    assert without.get("access-control-allow-origin") is None
    # SimpleCORS answers a preflight without Allow-Methods: only simple requests may follow
    pre = door.request(
        cfg,
        "/echo",
        method="OPTIONS",
        headers=[("Origin", "https://a.example"), ("Access-Control-Request-Method", "PUT")],
    )
    assert pre.status == 200 and pre.get("access-control-allow-origin") == "*"
    assert pre.get("access-control-allow-methods") is None
    assert [r["method"] for r in door.log()] == ["GET", "GET"]


def test_custom_policy_from_python(door: Door) -> None:
    from edge_middleware.config.response_headers import (
        CorsConfig,
        ResponseHeader,
        ResponseHeadersPolicy,
    )

    policy = ResponseHeadersPolicy(
        name="custom",
        cors=CorsConfig(
            allow_origins=("https://app.example.com",),
            allow_credentials=True,
            expose_headers=("X-Total",),
            max_age_sec=600,
        ),
        custom_headers=(ResponseHeader("X-Powered-By-Edge", "yes"),),
        remove_headers=("x-origin-status",),
        server_timing_sampling_rate=100,
    )
    cfg = EdgeConfig(default=Behavior(response_headers_policy=policy, cache=CachePolicy(0, 0, 0)))
    resp = door.request(cfg, "/status/200", headers=[("Origin", "https://app.example.com")])
    assert resp.get("access-control-allow-origin") == "https://app.example.com"
    assert resp.get("access-control-allow-credentials") == "true"
    assert resp.get("access-control-expose-headers") == "X-Total"
    assert resp.get("x-powered-by-edge") == "yes"
    assert resp.get("x-origin-status") is None
    timing = resp.get("server-timing") or ""
    assert "cdn-cache-miss" in timing and (resp.get("x-amz-cf-id") or "-") in timing
    other = door.request(cfg, "/status/200", headers=[("Origin", "https://evil.example")])
    assert other.get("access-control-allow-origin") is None
    pre = door.request(
        cfg,
        "/x",
        method="OPTIONS",
        headers=[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET")],
    )
    assert pre.get("access-control-max-age") == "600"


def test_viewer_response_sees_policy_headers(door: Door) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(
            response_headers_policy="SecurityHeadersPolicy", viewer_response=recorder(events)
        )
    )
    door.request(cfg, "/cache/60")
    headers = events[0]["Records"][0]["cf"]["response"]["headers"]
    assert headers["x-frame-options"][0]["value"] == "SAMEORIGIN"


def test_custom_error_page_gets_the_policy(door: Door) -> None:
    from edge_middleware import CustomErrorResponse

    cfg = EdgeConfig(
        default=Behavior(
            response_headers_policy="SecurityHeadersPolicy", cache=CachePolicy(0, 0, 0)
        ),
        custom_error_responses=[CustomErrorResponse(404, "/status/200", 200)],
    )
    resp = door.request(cfg, "/status/404")
    assert resp.status == 200 and resp.get("x-content-type-options") == "nosniff"


# -- origin groups -------------------------------------------------------------------------------


def fixed_app(kind: str, status: int, text: str, log: list[str]) -> Any:
    """A tiny real origin answering every path with ``status`` and ``text``, after reading
    the request's body (the secondary of an origin group waited for ever on ASGI: the
    primary had taken the viewer's one body message)."""
    if kind == "asgi":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        async def page(request: Request) -> PlainTextResponse:
            await request.body()  # as Django's ASGI handler always does
            log.append(f"{request.method} {request.url.path}")
            return PlainTextResponse(text, status_code=status)

        methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", page, methods=methods)])
    from flask import Flask, request

    app = Flask(f"fixed_{status}")

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "OPTIONS", "POST", "PUT"])
    @app.route("/<path:path>", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT"])
    def page(path: str) -> tuple[str, int]:
        request.get_data()
        log.append(f"{request.method} {request.path}")
        return text, status

    return app.wsgi_app


def group_config(events: list[dict[str, Any]], codes: tuple[int, ...]) -> EdgeConfig:

    return EdgeConfig(
        origins=[
            Origin("main", domain_name="main.example.com"),
            Origin("backup", domain_name="backup.example.com"),
        ],
        origin_groups=[OriginGroup("site", ("main", "backup"), codes)],
        default=Behavior(
            target_origin_id="site", origin_request=recorder(events), cache=CachePolicy(0, 0, 0)
        ),
    )


@pytest.mark.parametrize(
    ("method", "primary", "codes", "status", "body", "attempts"),
    [
        pytest.param("GET", 503, (500, 502, 503, 504), 200, b"backup", 2, id="503-fails-over"),
        pytest.param("HEAD", 503, (503,), 200, b"", 2, id="head-fails-over"),
        pytest.param("OPTIONS", 503, (503,), 200, b"backup", 2, id="options-fails-over"),
        pytest.param("POST", 503, (503,), 503, b"primary", 1, id="post-does-not"),
        pytest.param("GET", 404, (500, 502, 503, 504), 404, b"primary", 1, id="404-not-configured"),
        pytest.param("GET", 404, (403, 404), 200, b"backup", 2, id="404-configured"),
        pytest.param("GET", 200, (503,), 200, b"primary", 1, id="primary-ok"),
    ],
)
def test_origin_group_failover(
    door: Door,
    method: str,
    primary: int,
    codes: tuple[int, ...],
    status: int,
    body: bytes,
    attempts: int,
) -> None:
    events: list[dict[str, Any]] = []
    seen: list[str] = []
    cfg = group_config(events, codes)
    main = ("main", fixed_app(door.kind, primary, "primary", seen))
    backup = ("backup", fixed_app(door.kind, 200, "backup", seen))
    resp = door.request(cfg, "/page", method=method, origins=[main, backup])
    assert resp.status == status
    assert resp.body == body
    domains = [e["Records"][0]["cf"]["request"]["origin"]["custom"]["domainName"] for e in events]
    assert domains == ["main.example.com", "backup.example.com"][:attempts]
    assert [e["Records"][0]["cf"]["request"]["uri"] for e in events] == ["/page"] * attempts
    assert len(seen) == attempts


def test_origin_group_fails_over_on_connection_failure(door: Door) -> None:
    events: list[dict[str, Any]] = []
    seen: list[str] = []
    cfg = group_config(events, (503,))
    # Nothing listens on port 9 of the loopback: the connection is refused.
    main = ("main", "http://127.0.0.1:9")
    backup = ("backup", fixed_app(door.kind, 200, "backup", seen))
    resp = door.request(cfg, "/page", origins=[main, backup])
    assert (resp.status, resp.body) == (200, b"backup")
    assert len(events) == 2 and seen == ["GET /page"]


# -- byte ranges ---------------------------------------------------------------------------------


def test_multiple_ranges_on_a_cached_object(door: Door) -> None:
    cfg = EdgeConfig(default=Behavior())
    full = door.request(cfg, "/cache/60")  # miss: stored whole
    assert full.status == 200
    resp = door.request(cfg, "/cache/60", headers=[("Range", "bytes=0-5, 10-12")])
    assert resp.status == 206 and resp.get("x-cache") == "Hit from cloudfront"
    ctype = resp.get("content-type") or ""
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=", 1)[1]
    parts = resp.body.split(f"--{boundary}".encode())
    assert parts[-1] == b"--\r\n"
    assert b"Content-Range: bytes 0-5/" in parts[1] and parts[1].endswith(full.body[0:6] + b"\r\n")
    assert b"Content-Range: bytes 10-12/" in parts[2]
    assert parts[2].endswith(full.body[10:13] + b"\r\n")
    assert resp.get("content-length") == str(len(resp.body))


def test_failover_shows_in_the_trace_and_dev_log(door: Door) -> None:
    from edge_middleware.devtools.devlog import format_request

    events: list[dict[str, Any]] = []
    cfg = group_config(events, (503,))
    main = ("main", fixed_app(door.kind, 503, "primary", []))
    backup = ("backup", fixed_app(door.kind, 200, "backup", []))
    assert door.request(cfg, "/page", origins=[main, backup]).status == 200
    (record,) = door.records
    steps = [(s.event_type, s.ran, s.skipped_because) for s in record.outcome.steps]
    assert steps[1:4] == [
        ("origin-request", True, ""),
        ("origin-response", False, "origin group failover: main answered status 503"),
        ("origin-request", True, ""),
    ]
    lines = format_request(record)
    assert "    ~ origin group failover: main answered status 503" in lines
