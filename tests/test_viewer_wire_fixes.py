"""Viewer requests as servers deliver them: the fixes from the wire hunt of 2026-12-07.

* A ``#fragment`` a server left in the target (h11, gunicorn) is not part of the ``uri`` or
  the query string: a function that changed anything got a 502 ("invalid uri format").
* An absolute-form target (``GET http://host/path``) is read as its path on the ASGI door
  too: the event's uri was the whole URL and the wrong behavior ran.
* An HTTP/1.0 viewer's ``Via`` starts with ``1.0`` (lambda-edge.md §1.3, §5.2).
* ``edge-middleware serve`` with a WSGI app keeps every line of a repeated header, and serves
  ``//x`` and absolute-form targets (cheroot kept the last line; answered 400).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    OriginRequestPolicy,
    Trigger,
)
from tests.support.devserver import serve
from tests.support.doors import asgi_scope
from tests.support.servers import exchange

NO_CACHE = CachePolicy(0, 0, 0)


def _mark(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["x-uri"] = [{"key": "X-Uri", "value": request["uri"]}]
    request["headers"]["x-qs"] = [{"key": "X-Qs", "value": request["querystring"]}]
    return request


def _config() -> EdgeConfig:
    forward = OriginRequestPolicy(headers="allViewer", query_strings="all")
    mark = Trigger(_mark)
    return EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=mark, origin_request_policy=forward),
        behaviors=[
            Behavior("/abs/*", cache=NO_CACHE, viewer_request=mark, origin_request_policy=forward)
        ],
    )


async def _asgi_echo(scope: Any, receive: Any, send: Any) -> None:
    headers = dict(scope["headers"])
    body = json.dumps(
        {
            "path": scope["path"],
            "uri": headers.get(b"x-uri", b"").decode(),
            "qs": headers.get(b"x-qs", b"").decode(),
            "via": headers.get(b"via", b"").decode(),
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _run_asgi(scope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import asyncio

    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    asyncio.run(EdgeMiddleware(_asgi_echo, config=_config())(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in out[1:])
    return out[0]["status"], json.loads(body) if out[0]["status"] == 200 else {}


@pytest.mark.parametrize(
    ("raw_path", "query", "uri", "qs"),
    [
        (b"/p#frag", b"", "/p", ""),
        (b"/p", b"a=1#frag", "/p", "a=1"),
        (b"http://h.example/abs/path", b"x=1", "/abs/path", "x=1"),
        (b"http://h.example/abs/path#f", b"", "/abs/path", ""),
    ],
    ids=["fragment-in-path", "fragment-in-query", "absolute-form", "absolute-with-fragment"],
)
def test_the_asgi_door_reads_the_target_as_cloudfront_does(
    raw_path: bytes, query: bytes, uri: str, qs: str
) -> None:
    scope = asgi_scope(raw_path=raw_path, path=raw_path.decode(), query_string=query)
    status, seen = _run_asgi(scope)
    assert status == 200
    assert (seen["uri"], seen["qs"], seen["path"]) == (uri, qs, uri)


def test_the_wsgi_door_reads_a_fragment_out_of_the_raw_target() -> None:
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(uri=environ.get("HTTP_X_URI", ""), path=environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    environ = EnvironBuilder(path="/p").get_environ()
    environ["RAW_URI"] = "/p#frag"  # as gunicorn gives it
    statuses: list[str] = []
    EdgeWSGIMiddleware(app, config=_config())(environ, lambda s, h, e=None: statuses.append(s))
    assert statuses == ["200 OK"]
    assert seen == {"uri": "/p", "path": "/p"}


@pytest.mark.parametrize(("version", "via"), [("1.0", "1.0"), ("1.1", "1.1"), ("2", "2.0")])
def test_via_follows_the_viewers_http_version(version: str, via: str) -> None:
    status, seen = _run_asgi(asgi_scope(http_version=version))
    assert status == 200
    assert seen["via"].startswith(f"{via} ")


# -- the dev server with a WSGI app (cheroot) --------------------------------------------------

WSGI_APP = """
import json

def app(environ, start_response):
    keys = ("HTTP_COOKIE", "HTTP_X_FORWARDED_FOR", "PATH_INFO")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({k: environ.get(k) for k in keys}).encode()]
"""


@pytest.fixture
def wsgi_served(tmp_path: Path) -> Any:
    (tmp_path / "echo.py").write_text(WSGI_APP)
    (tmp_path / "edge.toml").write_text(
        '[default]\norigin_request_policy = "AllViewer"\n'
        "[default.cache]\nmin_ttl = 0\ndefault_ttl = 0\nmax_ttl = 0\n"
    )
    with serve(tmp_path, "echo:app", "--config", "edge.toml", "--no-inspector") as served:
        yield served


def _answer(data: bytes) -> tuple[str, dict[str, Any]]:
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode()
    if b"chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return status, json.loads(body) if body.startswith(b"{") else {}


@pytest.mark.slow
def test_serve_with_a_wsgi_app_keeps_repeated_headers_and_odd_targets(wsgi_served: Any) -> None:
    repeated = (
        b"GET /r HTTP/1.1\r\nHost: h\r\nCookie: session=abc\r\nCookie: theme=dark\r\n"
        b"X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 198.51.100.2\r\n"
        b"Connection: close\r\n\r\n"
    )
    status, seen = _answer(exchange(wsgi_served.port, repeated))
    assert status == "HTTP/1.1 200 OK"
    assert seen["HTTP_COOKIE"] == "session=abc; theme=dark"
    assert seen["HTTP_X_FORWARDED_FOR"].startswith("198.51.100.1, 198.51.100.2, ")
    for target, path in ((b"//x//y", "//x//y"), (b"http://h.example/abs", "/abs")):
        raw = b"GET " + target + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        status, seen = _answer(exchange(wsgi_served.port, raw))
        assert (status, seen.get("PATH_INFO")) == ("HTTP/1.1 200 OK", path)
    folded = b"GET /f HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\nConnection: close\r\n\r\n"
    assert _answer(exchange(wsgi_served.port, folded))[0].startswith("HTTP/1.1 400")


def test_asgi_answers_carry_lower_case_names_an_outer_middleware_can_read() -> None:
    """ASGI: 'Header names must be lowercased' in http.response.start. CloudFront's X-Cache,
    Via, Age and a hit's Content-Length went as written, and Starlette's GZipMiddleware
    around the edge did not see that Content-Length: the viewer got two."""
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.testclient import TestClient

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"a" * 5000})

    edge = EdgeMiddleware(app, config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 60))))
    client = TestClient(GZipMiddleware(edge, minimum_size=500))
    for expected in ("Miss from cloudfront", "Hit from cloudfront"):
        r = client.get("/page", headers={"accept-encoding": "gzip"})
        assert r.headers["x-cache"] == expected
        lengths = [v for k, v in r.headers.raw if k.lower() == b"content-length"]
        assert lengths == [str(r.num_bytes_downloaded).encode()]
        assert all(k == k.lower() for k, _ in r.headers.raw)
    assert r.text == "a" * 5000
