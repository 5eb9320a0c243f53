"""What a browser receives from the edge's compression: the fixes from the compression hunt of
2026-12-07, on both doors and both storages.

* A 304 refresh of an object the edge compressed keeps the stored body's Content-Encoding and
  ``Vary: Accept-Encoding``, and an invalid ETag stays dropped (a 304 saying ``identity`` sent
  gzip bytes labelled identity; one with ``Vary: Cookie`` lost Accept-Encoding).
* Accept-Encoding on two lines is one list for compression as for the key (the first line
  alone stored an identity body under a key that says ``br``).
* ``Vary: Accept-Encoding`` is added once, whatever the number of Vary lines.
"""

from __future__ import annotations

import gzip
from typing import Any

from edge_middleware import CachePolicy
from tests.support.edge_cache import DATE, MISS, REFRESH_HIT, MakeEdge, cache_fixtures

door, store, edge = cache_fixtures()

CSS = b"body { color: red; }\n" * 300  # 6,300 bytes: compressed
GZIP = CachePolicy(min_ttl=0, default_ttl=1, max_ttl=60, enable_accept_encoding_gzip=True)


def test_a_304_refresh_keeps_what_the_stored_compressed_body_needs(edge: MakeEdge) -> None:
    e = edge(cache=GZIP, compress=True)
    headers = {
        "Date": DATE,
        "Content-Type": "text/css",
        "Cache-Control": "max-age=1",
        "ETag": '"v1"',
        "Vary": "Cookie",
    }
    spec = e.route("/s.css", headers=headers, body=CSS, conditional=True)
    first = e.get("/s.css", {"accept-encoding": "gzip"})
    assert (first.x_cache, first.header("content-encoding")) == (MISS, "gzip")
    assert gzip.decompress(first.body) == CSS
    # the origin's 304s say identity and keep their own Vary (Django's do)
    spec["headers"] = [*spec["headers"], ("Content-Encoding", "identity")]
    e.at(5)
    again = e.get("/s.css", {"accept-encoding": "gzip"})
    assert again.x_cache == REFRESH_HIT
    assert again.header("content-encoding") == "gzip"
    assert gzip.decompress(again.body) == CSS
    vary = {t.strip().lower() for v in again.all("vary") for t in v.split(",")}
    assert vary == {"cookie", "accept-encoding"}
    assert again.header("etag") == 'W/"v1"'


def test_an_invalid_etag_stays_dropped_after_a_304(edge: MakeEdge) -> None:
    e = edge(cache=GZIP, compress=True)
    headers = {
        "Date": DATE,
        "Content-Type": "text/css",
        "Cache-Control": "max-age=1",
        "Last-Modified": DATE,
        "ETag": "abc123",  # not a valid entity tag: dropped on a compressed body (§1.7)
    }
    e.route("/e.css", headers=headers, body=CSS, conditional=True)
    assert e.get("/e.css", {"accept-encoding": "gzip"}).header("etag") is None
    e.at(5)
    again = e.get("/e.css", {"accept-encoding": "gzip", "if-modified-since": DATE})
    assert again.header("etag") is None


def test_accept_encoding_on_two_lines_is_one_list() -> None:
    """An ASGI server passes repeated lines on as they came (uvicorn does)."""
    import asyncio

    from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware
    from tests.support.doors import asgi_scope

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"text/css"),
            (b"cache-control", b"max-age=60"),
            (b"content-length", str(len(CSS)).encode()),  # CloudFront compresses only then
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": CSS})

    edge = EdgeMiddleware(app, config=EdgeConfig(default=Behavior(cache=GZIP, compress=True)))

    def get(*lines: bytes) -> tuple[bytes | None, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"host", b"testserver"), *((b"accept-encoding", v) for v in lines)]
        asyncio.run(edge(asgi_scope("/t.css", headers=headers), receive, send))
        coding = dict(sent[0]["headers"]).get(b"content-encoding")
        return coding, b"".join(m.get("body", b"") for m in sent[1:])

    assert get(b"identity", b"gzip")[0] == b"gzip"  # it was stored uncompressed, keyed gzip
    coding, body = get(b"gzip")  # the next viewer: a hit of the gzip object
    assert coding == b"gzip" and gzip.decompress(body) == CSS


def test_vary_accept_encoding_is_added_once(edge: MakeEdge) -> None:
    e = edge(cache=GZIP, compress=True)
    e.route(
        "/v.css",
        headers=[
            ("Content-Type", "text/css"),
            ("Cache-Control", "max-age=60"),
            ("Vary", "Accept-Encoding"),
            ("Vary", "Cookie"),
        ],
        body=CSS,
    )
    r = e.get("/v.css", {"accept-encoding": "gzip"})
    names = [t.strip().lower() for v in r.all("vary") for t in v.split(",")]
    assert sorted(names) == ["accept-encoding", "cookie"]
