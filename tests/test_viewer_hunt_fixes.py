"""Viewers that go mid-stream, request targets, what reaches the origin (frameworks and keysec
hunts): each test failed before its fix."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware
from tests.support.doors import asgi_scope, call_wsgi
from tests.support.servers import RawOrigin, raw_origin, uvicorn_server, wait_until


def _endless(state: dict[str, Any]) -> Any:
    def respond(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while not origin.release.is_set():
                conn.sendall(b"6\r\ndata:x\r\n")
                time.sleep(0.01)
        except OSError:
            state["closed"] = True

    return respond


async def _unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the URL origin answers")


@pytest.mark.slow
@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_an_endless_origin_stream_stops_when_the_viewer_leaves_under_uvicorn(
    caching: bool,
) -> None:
    """uvicorn's ``send`` does not fail once the viewer went: the edge read an endless origin
    stream (and held its connection) for ever."""
    state = {"closed": False}
    cache = CachePolicy(0, 60, 3600) if caching else CachePolicy(0, 0, 0)
    with raw_origin(_endless(state)) as origin:
        url = f"http://127.0.0.1:{origin.server_address[1]}"
        edge = EdgeMiddleware(
            _unused, config=EdgeConfig(default=Behavior(cache=cache)), origins={"default": url}
        )
        with uvicorn_server(edge) as port:
            viewer = socket.create_connection(("127.0.0.1", port))
            viewer.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            assert viewer.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(0.2)
            viewer.close()
            wait_until(lambda: state["closed"], timeout=5)


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        ("/login?next=https://shop.example/account", "/login"),
        ("/a?u=http://x", "/a"),
        ("http://viewer.example/p/q?next=http://x/y", "/p/q"),
        ("http://viewer.example?next=http://x/y", "/"),
    ],
)
def test_a_wsgi_query_holding_a_url_keeps_the_path(target: str, uri: str) -> None:
    """Any RAW_URI with ``://`` (even in its query) was read as an absolute-form target: the
    origin served, and the edge cached, ``/account`` for ``/login?next=https://shop.example/
    account``."""
    seen: list[str] = []

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def record(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen.append(request["uri"])
        return request

    edge = EdgeWSGIMiddleware(
        origin,
        config=EdgeConfig(default=Behavior(viewer_request=record, cache=CachePolicy(0, 0, 0))),
    )
    path, _, query = target.partition("?")
    if "://" in path:
        path = uri
    status, _, _ = call_wsgi(edge, path=path, QUERY_STRING=query, RAW_URI=target)
    assert status.startswith("200")
    assert seen == [uri, uri]


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_a_request_timeout_cancels_an_endless_app_the_edge_reads_to_store(caching: bool) -> None:
    """A cancellation (``asyncio.wait_for`` as request-timeout middlewares use, a server
    shutting down) that came while the edge read a body to store it was held until the app
    returned by itself: for ever for an endless feed."""
    cancelled: list[bool] = []

    async def feed(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    cache = CachePolicy(0, 60, 3600) if caching else CachePolicy(0, 0, 0)
    edge = EdgeMiddleware(feed, config=EdgeConfig(default=Behavior(cache=cache)))

    async def main() -> bool:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            pass

        request = asyncio.ensure_future(
            asyncio.wait_for(edge(asgi_scope("/feed"), receive, send), 0.2)
        )
        done, _ = await asyncio.wait([request], timeout=3)
        if not done:
            request.cancel()
            return False
        assert isinstance(request.exception(), TimeoutError)
        return True

    assert asyncio.run(main()), "still running 3 s after a 0.2 s timeout"
    assert cancelled == [True]


def _pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
def test_an_outer_session_middleware_reaches_the_origin_only_with_its_cookie(way: str) -> None:
    """Starlette's SessionMiddleware outside the edge: the origin read the session from a
    cookie the behavior does not forward, and the page made for one viewer was cached under
    the cookie-less key and served to everyone."""
    from starlette.applications import Starlette
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = request.path_params["name"]
        return PlainTextResponse("in")

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.session.get("user", "anonymous"))

    trigger = {"viewer_request": _pass} if way == "pipeline" else {}
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600), **trigger),
        behaviors=[
            Behavior(
                "/login/*",
                cache=CachePolicy(0, 0, 0),
                origin_request_policy="AllViewer",
                **trigger,
            ),
            Behavior("/mine", cache=CachePolicy(0, 0, 0), origin_request_policy="AllViewer"),
        ],
    )
    routes = [Route("/login/{name}", login), Route("/me", me), Route("/mine", me)]
    app = Starlette(routes=routes)
    app.add_middleware(EdgeMiddleware, config=config)
    app.add_middleware(SessionMiddleware, secret_key="s3cret")  # added last: outermost
    alice = TestClient(app)
    assert alice.get("/login/alice").text == "in"
    assert alice.get("/mine").text == "alice"  # the cookie is forwarded: the session is there
    assert alice.get("/me").text == "anonymous"  # it is not: the origin never saw it
    bob = TestClient(app)
    answer = bob.get("/me")
    assert (answer.text, answer.headers["x-cache"]) == ("anonymous", "Hit from cloudfront")


def _distribution() -> dict[str, Any]:
    behavior: dict[str, Any] = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # CachingOptimized
        "OriginRequestPolicyId": "216adef6-5c7f-47e4-b989-5492eafa07d3",  # AllViewer
    }
    return {
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "app",
                    "DomainName": "app.example.com",
                    "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"},
                }
            ],
        },
        "DefaultCacheBehavior": behavior,
        "Enabled": True,
    }


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_a_forged_host_an_origin_request_policy_forwards_is_keyed(door: str, way: str) -> None:
    """AllViewer sends the viewer's Host to the origin, which builds links from it, but the
    key held the distribution's domain: a page made for ``Host: evil.example`` was the next
    viewer's Hit (CloudFront refuses such a Host before the cache)."""
    from edge_middleware import EdgeSettings, load_config

    config = load_config(_distribution(), settings=EdgeSettings(shortcuts=way == "short-way"))
    page = "<script src='http://{}/app.js'></script>"
    if door == "asgi":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            host = dict(scope["headers"])[b"host"].decode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"cache-control", b"max-age=60")],
                }
            )
            await send({"type": "http.response.body", "body": page.format(host).encode()})

        from starlette.testclient import TestClient

        client: Any = TestClient(EdgeMiddleware(app, config=config))
    else:

        def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Cache-Control", "max-age=60")])
            return [page.format(environ["HTTP_HOST"]).encode()]

        from werkzeug.test import Client

        client = Client(EdgeWSGIMiddleware(wsgi, config=config))
    first = client.get("/", headers={"Host": "evil.example"})
    assert "evil.example" in first.text
    second = client.get("/", headers={"Host": "www.example.com"})
    assert "www.example.com" in second.text
    assert second.headers["X-Cache"] == "Miss from cloudfront"
    again = client.get("/", headers={"Host": "www.example.com"})
    assert again.headers["X-Cache"] == "Hit from cloudfront"


@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-way", "pipeline"])
def test_a_keyed_header_the_viewers_connection_names_is_not_keyed_by_a_hit(
    shortcuts: bool,
) -> None:
    """A header ``Connection`` names is hop-by-hop, gone from the event and the key; the hit
    shortcut still keyed it: the French object was a Hit with the short way, a Miss without
    ``Accept-Language`` with the pipeline."""
    from starlette.testclient import TestClient

    from edge_middleware import EdgeSettings

    async def page(scope: Any, receive: Any, send: Any) -> None:
        language = dict(scope["headers"]).get(b"accept-language", b"none")
        headers = [(b"cache-control", b"max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"lang=" + language})

    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(headers=("accept-language",))),
        settings=EdgeSettings(shortcuts=shortcuts),
    )
    client = TestClient(EdgeMiddleware(page, config=config))
    assert client.get("/", headers={"Accept-Language": "fr"}).text == "lang=fr"
    named = client.get("/", headers={"Accept-Language": "fr", "Connection": "accept-language"})
    assert (named.headers["x-cache"], named.text) == ("Miss from cloudfront", "lang=none")
    plain = client.get("/", headers={"Accept-Language": "fr", "Connection": "keep-alive"})
    assert (plain.headers["x-cache"], plain.text) == ("Hit from cloudfront", "lang=fr")
