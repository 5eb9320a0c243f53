"""``/_edge/`` and ``/_edge/invalidate`` belong to the local developer only (issue 16.5), and
the inspector says what was removed before the origin (issue 14.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware
from edge_middleware.devtools.devapp import WSGIHolder
from edge_middleware.devtools.devguard import Guard
from edge_middleware.devtools.inspector import Inspector, mount_inspector

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def origin_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    seen["QUERY_STRING"] = environ.get("QUERY_STRING", "")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


def _client(guard: Guard, *, cookies: bool = True) -> tuple[Client, Inspector]:
    middleware = EdgeWSGIMiddleware(
        origin_app, config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0)))
    )
    inspector = Inspector(guard=guard)
    middleware.add_observer(inspector.observer)
    holder = WSGIHolder(middleware, guard=guard)
    return Client(mount_inspector(holder, inspector), use_cookies=cookies), inspector


@pytest.mark.parametrize(
    ("guard", "headers", "query", "status"),
    [
        pytest.param(Guard(), {"Host": "127.0.0.1:8000"}, "", 200, id="loopback-host"),
        pytest.param(Guard(), {"Host": "evil.example"}, "", 403, id="rebinding-host"),
        pytest.param(
            Guard(), {"Host": "localhost", "X-Forwarded-For": "192.0.2.1"}, "", 403, id="xff"
        ),
        pytest.param(Guard(), {"Host": "localhost", "Forwarded": "for=1.2.3.4"}, "", 403, id="fwd"),
        pytest.param(
            Guard(allow_proxied=True),
            {"Host": "localhost", "X-Forwarded-For": "192.0.2.1"},
            "",
            200,
            id="proxied-allowed",
        ),
        pytest.param(Guard(token="s3cret"), {"Host": "localhost"}, "", 403, id="no-token"),
        pytest.param(
            Guard(token="s3cret"),
            {"Host": "localhost", "X-Edge-Token": "s3cret"},
            "",
            200,
            id="token-header",
        ),
        pytest.param(
            Guard(token="s3cret"), {"Host": "localhost"}, "edge_token=s3cret", 200, id="token-query"
        ),
        pytest.param(
            Guard(token="s3cret"), {"Host": "localhost"}, "edge_token=wrong", 403, id="bad-token"
        ),
    ],
)
@pytest.mark.parametrize("path", ["/_edge/api/requests", "/_edge/invalidate"])
def test_edge_endpoints_are_the_local_developers_only(
    guard: Guard, headers: dict[str, str], query: str, status: int, path: str
) -> None:
    client, _ = _client(guard)
    if path.endswith("invalidate"):
        response = client.post(
            path,
            query_string=query,
            data=json.dumps(["/x"]),
            headers={**headers, "Content-Type": "application/json"},
            environ_base=LOOPBACK,
        )
    else:
        response = client.get(path, query_string=query, headers=headers, environ_base=LOOPBACK)
    assert response.status_code == status, response.get_data(as_text=True)


def test_token_from_the_query_becomes_a_cookie_for_the_page_and_its_polls() -> None:
    client, _ = _client(Guard(token="s3cret"))
    first = client.get("/_edge/", query_string="edge_token=s3cret", environ_base=LOOPBACK)
    assert first.status_code == 200
    assert "HttpOnly" in first.headers["Set-Cookie"]
    assert client.get("/_edge/api/requests", environ_base=LOOPBACK).status_code == 200


def test_viewer_simulation_header_is_honoured_from_loopback_only() -> None:
    config = EdgeConfig(
        default=Behavior(
            cache=CachePolicy(0, 0, 0, headers=("cloudfront-viewer-country",)),
        )
    )
    holder = WSGIHolder(EdgeWSGIMiddleware(origin_app, config=config))
    client = Client(holder)
    simulated = {"X-Edge-Viewer": "viewer-country=DE"}
    local = client.get("/", headers=simulated, environ_base=LOOPBACK).get_json()
    remote = client.get("/", headers=simulated, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    plain = client.get("/", environ_base=LOOPBACK).get_json()
    assert local["HTTP_CLOUDFRONT_VIEWER_COUNTRY"] == "DE"
    assert remote.get_json()["HTTP_CLOUDFRONT_VIEWER_COUNTRY"] == "US"
    assert plain["HTTP_CLOUDFRONT_VIEWER_COUNTRY"] == "US"
    assert "HTTP_X_EDGE_VIEWER" not in local  # never reaches the app


def test_inspector_says_what_was_removed_before_the_origin() -> None:
    client, inspector = _client(Guard(), cookies=False)
    client.get(
        "/page",
        query_string="q=1",
        headers={"Cookie": "session=abc", "Authorization": "Basic dTpw", "X-Custom": "1"},
        environ_base=LOOPBACK,
    )
    (doc,) = inspector.records()
    assert doc["removed_before_origin"] == ["q", "cookie", "authorization", "x-custom"]
    page = client.get(doc["url"], environ_base=LOOPBACK).get_data(as_text=True)
    assert "removed before the origin: q, cookie, authorization, x-custom" in page


def failing_viewer_response(event: Any, context: Any) -> Any:
    raise RuntimeError("viewer-response broke")


def cacheable_origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    ORIGIN_CALLS.append(environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
    return [b"cached body"]


ORIGIN_CALLS: list[str] = []


def test_viewer_response_failure_keeps_the_origin_and_cache_facts() -> None:
    ORIGIN_CALLS.clear()
    config = EdgeConfig(default=Behavior(viewer_response=failing_viewer_response))
    middleware = EdgeWSGIMiddleware(cacheable_origin, config=config)
    mount = mount_inspector(middleware)  # one call: the observer is added too
    client = Client(mount)
    assert client.get("/doc", environ_base=LOOPBACK).status_code == 503
    assert ORIGIN_CALLS == ["/doc"]
    (doc,) = mount.inspector.records()
    assert doc["origin_request"] is not None
    assert doc["cache_key"]
    page = client.get(doc["url"], environ_base=LOOPBACK).get_data(as_text=True)
    assert "the origin was not contacted" not in page
    assert "nothing stored" not in page
    # the object was stored: the next request is a hit (and viewer-response fails again)
    client.get("/doc", environ_base=LOOPBACK)
    assert ORIGIN_CALLS == ["/doc"]


@pytest.mark.parametrize(
    "interface", [pytest.param("asgi", id="asgi"), pytest.param("wsgi", id="wsgi")]
)
def test_mount_inspector_is_one_call(interface: str) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from edge_middleware import EdgeMiddleware

    if interface == "asgi":

        async def page(request: Any) -> PlainTextResponse:
            return PlainTextResponse("hi")

        app: Any = Starlette(routes=[Route("/", page)])
        app.add_middleware(EdgeMiddleware, config=EdgeConfig())
        mounted = mount_inspector(app)
        with TestClient(mounted, base_url="http://127.0.0.1", client=("127.0.0.1", 5)) as client:
            client.get("/")
            listed = client.get("/_edge/api/requests").json()
    else:
        client_w = Client(mount_inspector(EdgeWSGIMiddleware(origin_app, config=EdgeConfig())))
        client_w.get("/", environ_base=LOOPBACK)
        listed = client_w.get("/_edge/api/requests", environ_base=LOOPBACK).get_json()
    assert [r["uri"] for r in listed] == ["/"]


def test_asgi_viewer_simulation_and_forwarded_proto_from_loopback() -> None:
    from starlette.testclient import TestClient

    from edge_middleware import EdgeMiddleware
    from edge_middleware.devtools.devapp import ASGIHolder

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = json.dumps({"scheme": scope["scheme"], "headers": headers}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    config = EdgeConfig(
        default=Behavior(
            cache=CachePolicy(0, 0, 0, headers=("cloudfront-viewer-country",)),
            viewer_protocol_policy="redirect-to-https",
        )
    )
    holder = ASGIHolder(EdgeMiddleware(echo, config=config))
    holder.trust_forwarded_proto = True
    client = TestClient(holder, base_url="http://127.0.0.1", client=("127.0.0.1", 5))
    try:  # no lifespan: the echo app has none
        assert client.get("/", follow_redirects=False).status_code == 301
        seen = client.get(
            "/", headers={"X-Forwarded-Proto": "https", "X-Edge-Viewer": "viewer-country=JP"}
        ).json()
    finally:
        client.close()
    assert seen["headers"]["cloudfront-viewer-country"] == "JP"
    assert "x-edge-viewer" not in seen["headers"]


class _MakesUpAttributes:
    """An object that answers every attribute with a new one of itself (mocks, proxies)."""

    def __getattr__(self, name: str) -> Any:
        return _MakesUpAttributes()


class _RaisingProperty:
    @property
    def app(self) -> Any:
        raise RuntimeError("not configured")


@pytest.mark.parametrize(
    ("make", "found"),
    [
        pytest.param(lambda mw: mw, True, id="the-middleware"),
        pytest.param(lambda mw: type("W", (), {"wrapped": mw})(), True, id="a-wrapper"),
        pytest.param(lambda mw: _MakesUpAttributes(), False, id="made-up-attributes"),
        pytest.param(lambda mw: _RaisingProperty(), False, id="raising-property"),
        pytest.param(lambda mw: origin_app, False, id="plain-wsgi-function"),
    ],
)
def test_find_front_door(make: Any, found: bool) -> None:
    from edge_middleware.devtools.devapp import find_front_door

    middleware = EdgeWSGIMiddleware(origin_app, config=EdgeConfig())
    assert (find_front_door(make(middleware)) is middleware) is found
