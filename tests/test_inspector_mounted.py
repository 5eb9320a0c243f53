"""The inspector in front of an app served under a path prefix (a WSGI ``SCRIPT_NAME``, an
ASGI ``root_path``): its pages, redirects, script and JSON urls hold the prefix, so every link
a page gives answers (they were absolute ``/_edge/...`` paths, the prefix's sibling: 404)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware
from edge_middleware.devtools.inspector import Inspector, mount_inspector

CONFIG = EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0)))
LINK = re.compile(r'(?:href|src|data-api|data-url)="([^"]*)"')

#: (status, headers, body) for a GET of a path (the viewer's whole URL path)
Get = Callable[[str], tuple[int, dict[str, str], bytes]]


def wsgi_get(app: Any) -> Get:
    client = Client(app)

    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        resp = client.get(path, environ_base={"REMOTE_ADDR": "127.0.0.1"}, buffered=True)
        return resp.status_code, {k.lower(): v for k, v in resp.headers}, resp.get_data()

    return get


def asgi_get(app: Any) -> Get:
    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path)

    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        resp = asyncio.run(fetch(path))
        return resp.status_code, dict(resp.headers), resp.content

    return get


def wsgi_site(inspector: Inspector) -> Any:
    def hello(environ: dict[str, Any], start_response: Any) -> Any:
        return Response("hello")(environ, start_response)

    mounted = mount_inspector(EdgeWSGIMiddleware(hello, config=CONFIG), inspector)
    return DispatcherMiddleware(Response("outer", status=404), {"/p": mounted})


def asgi_site(inspector: Inspector) -> Any:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    inner = Starlette(routes=[Route("/hello", hello)])
    mounted = mount_inspector(EdgeMiddleware(inner, config=CONFIG), inspector)
    return Starlette(routes=[Mount("/p", app=mounted)])


def asgi_stripped_site(inspector: Inspector) -> Any:
    """A server that strips the prefix from ``path`` and sets ``root_path`` (an older
    reading of ASGI; a proxy in front with uvicorn's ``--root-path``)."""

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("hello")(scope, receive, send)

    mounted = mount_inspector(EdgeMiddleware(hello, config=CONFIG), inspector)

    async def strip(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/p/"):
            scope = {**scope, "path": scope["path"][2:], "root_path": "/p"}
        await mounted(scope, receive, send)

    return strip


SITES = {
    "wsgi": (wsgi_site, wsgi_get),
    "asgi": (asgi_site, asgi_get),
    "asgi-stripped": (asgi_stripped_site, asgi_get),
}


@pytest.fixture(params=list(SITES))
def site(request: pytest.FixtureRequest) -> Get:
    build, client = SITES[request.param]
    return client(build(Inspector()))


def links(page: bytes) -> list[str]:
    return [
        link.replace("&amp;", "&")
        for link in LINK.findall(page.decode())
        if not link.startswith("data:")
    ]


def test_every_link_holds_the_prefix_and_answers(site: Get) -> None:
    status, _, body = site("/p/hello")
    assert (status, body) == (200, b"hello")

    status, headers, _ = site("/p/_edge")
    assert status == 308
    assert headers["location"] == "/p/_edge/"

    status, _, page = site("/p/_edge/")
    assert status == 200
    found = links(page)
    assert any(link.startswith("/p/_edge/requests/") for link in found), found
    assert "/p/_edge/api/requests" in found  # the script's polling url (data-api) and JSON
    for link in found:
        assert link.startswith("/p/_edge/"), link
        status, _, sub = site(link)
        assert status == 200, link
        if link.startswith("/p/_edge/requests/"):  # the detail page: its links too
            for inner in links(sub):
                assert inner.startswith("/p/_edge/"), inner
                assert site(inner)[0] == 200, inner


def test_the_json_urls_hold_the_prefix(site: Get) -> None:
    site("/p/hello")
    status, _, body = site("/p/_edge/api/requests?summary=1")
    assert status == 200
    (summary,) = json.loads(body)
    assert summary["url"].startswith("/p/_edge/requests/")
    status, _, body = site(summary["url"].replace("/requests/", "/api/requests/"))
    assert status == 200
    assert json.loads(body)["url"] == summary["url"]


def test_a_prefix_needing_escapes_is_escaped() -> None:
    inspector = Inspector()

    def hello(environ: dict[str, Any], start_response: Any) -> Any:
        return Response("hello")(environ, start_response)

    mounted = mount_inspector(EdgeWSGIMiddleware(hello, config=CONFIG), inspector)
    get = wsgi_get(DispatcherMiddleware(Response("outer", status=404), {"/a b": mounted}))
    assert get("/a%20b/hello")[0] == 200
    assert_links_under(get, "/a%20b")


def assert_links_under(get: Get, prefix: str) -> None:
    """The inspector's redirect, page and every link it gives hold ``prefix`` and answer."""
    status, headers, _ = get(f"{prefix}/_edge")
    assert (status, headers["location"]) == (308, f"{prefix}/_edge/")
    status, _, page = get(f"{prefix}/_edge/")
    assert status == 200
    for link in links(page):
        assert link.startswith(f"{prefix}/_edge/"), link
        assert get(link)[0] == 200, link


def test_a_non_ascii_asgi_mount_is_utf8() -> None:
    """ASGI's root_path is UTF-8 text: it was encoded as Latin-1 (/caf%E9/...), and every
    link 404'd (regression hunt of today's change)."""
    inner = mount_inspector(EdgeMiddleware(PlainTextResponse("hi"), config=CONFIG))
    get = asgi_get(Starlette(routes=[Mount("/café", app=inner)]))
    assert get("/caf%C3%A9/x")[0] == 200
    assert_links_under(get, "/caf%C3%A9")


def test_unmounted_links_are_unchanged() -> None:
    get = asgi_get(mount_inspector(EdgeMiddleware(PlainTextResponse("hi"), config=CONFIG)))
    get("/x")
    status, _, page = get("/_edge/")
    assert status == 200
    found = links(page)
    assert "/_edge/api/requests" in found
    assert all(link.startswith("/_edge/") for link in found), found
