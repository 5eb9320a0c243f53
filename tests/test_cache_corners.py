"""Cache corners past the C01-C40 scenarios, on both doors and both storages: what a 304
refresh keeps of the stored object, ``If-Range`` on a cached object, an HTTP/1.0 viewer's
``Accept-Encoding``, and ``EdgeSettings.max_object_bytes`` as a body size."""

from __future__ import annotations

import gzip

import pytest
from werkzeug.http import http_date

from edge_middleware import CachePolicy, EdgeConfig, EdgeSettings
from tests.cache_apps import ScriptedOrigin, flask_origin, starlette_origin
from tests.support import doors
from tests.support.edge_cache import (
    BASE,
    DATE,
    ERROR,
    HIT,
    MISS,
    REFRESH_HIT,
    MakeEdge,
    cache_fixtures,
)

door, store, edge = cache_fixtures()

CSS = b"a{color:red}\n" * 400
GZIP_POLICY = CachePolicy(enable_accept_encoding_gzip=True)


# -- a 304 refresh ------------------------------------------------------------------------------


def test_304_refresh_starts_a_whole_new_lifetime(edge: MakeEdge) -> None:
    """The first answer's ``Age`` (50 of its 100 s) is not taken off the refreshed copy's
    lifetime again: a 304 with no ``Age`` makes it fresh for 100 s from the refresh."""
    e = edge()
    spec = e.route(
        "/a",
        headers={"Date": DATE, "Cache-Control": "max-age=100", "Age": "50", "ETag": '"v1"'},
        body=b"v1",
        conditional=True,
    )
    assert e.get("/a").x_cache == MISS
    e.at(49)
    assert e.get("/a").x_cache == HIT
    spec["headers"] = [("Date", http_date(BASE + 51)), ("Cache-Control", "max-age=100")]
    spec["headers"].append(("ETag", '"v1"'))
    e.at(51)
    refreshed = e.get("/a")
    assert (refreshed.x_cache, refreshed.body, e.calls("/a")) == (REFRESH_HIT, b"v1", 2)
    e.at(140)
    later = e.get("/a")
    assert (later.x_cache, later.age, e.calls("/a")) == (HIT, 89, 2)
    e.at(152)
    assert e.get("/a").x_cache == REFRESH_HIT


def test_304_age_counts_when_the_304_carries_one(edge: MakeEdge) -> None:
    e = edge()
    spec = e.route(
        "/a",
        headers={"Date": DATE, "Cache-Control": "max-age=100", "ETag": '"v1"'},
        body=b"v1",
        conditional=True,
    )
    assert e.get("/a").x_cache == MISS
    spec["headers"] = [("Cache-Control", "max-age=100"), ("ETag", '"v1"'), ("Age", "30")]
    e.at(101)
    assert e.get("/a").x_cache == REFRESH_HIT
    e.at(101 + 69)
    assert e.get("/a").x_cache == HIT
    e.at(101 + 71)
    assert e.get("/a").x_cache == REFRESH_HIT


def test_304_keeps_the_weak_etag_of_a_body_the_edge_compressed(edge: MakeEdge) -> None:
    e = edge(cache=GZIP_POLICY, compress=True)
    e.route(
        "/s.css",
        headers={"Content-Type": "text/css", "Cache-Control": "max-age=10", "ETag": '"abc"'},
        body=CSS,
        conditional=True,
    )
    ae = {"Accept-Encoding": "gzip"}
    for t, want in ((0, MISS), (11, REFRESH_HIT), (12, HIT)):
        e.at(t)
        r = e.get("/s.css", ae)
        assert (r.x_cache, r.header("content-encoding"), r.header("etag")) == (
            want,
            "gzip",
            'W/"abc"',
        )
        assert gzip.decompress(r.body) == CSS
    assert e.origin.received("/s.css").header("if-none-match") == 'W/"abc"'


def test_304_saying_no_store_is_served_once_and_not_kept(edge: MakeEdge) -> None:
    e = edge()
    spec = e.route(
        "/p",
        headers={"Cache-Control": "max-age=10", "ETag": '"b"'},
        body=b"secret",
        conditional=True,
    )
    assert e.get("/p").x_cache == MISS
    spec["headers"] = [("Cache-Control", "no-store"), ("ETag", '"b"')]
    e.at(11)
    refreshed = e.get("/p")
    assert (refreshed.status, refreshed.body, refreshed.x_cache) == (200, b"secret", REFRESH_HIT)
    assert e.stored("/p") is None
    e.route("/p", status=503, body=b"down")
    e.at(3600)
    down = e.get("/p")
    assert (down.status, down.x_cache, down.body) == (503, ERROR, b"down")


# -- If-Range on a cached object ----------------------------------------------------------------

BODY16 = b"0123456789abcdef"
LAST_MODIFIED = http_date(BASE - 3600)


@pytest.mark.parametrize(
    ("if_range", "partial"),
    [
        pytest.param('"new"', True, id="same-strong-etag"),
        pytest.param('"old"', False, id="other-etag"),
        pytest.param('W/"new"', False, id="weak-etag-never-matches"),
        pytest.param(LAST_MODIFIED, True, id="same-date"),
        pytest.param(http_date(BASE - 7200), False, id="older-date"),
        pytest.param("not a date", False, id="invalid"),
    ],
)
@pytest.mark.parametrize("warm", [True, False], ids=["hit", "miss-then-hit"])
def test_if_range_on_a_cached_object(
    edge: MakeEdge, if_range: str, partial: bool, warm: bool
) -> None:
    """RFC 9110 §13.1.5: a Range whose If-Range names another version gets the whole object
    (so a resumed download never mixes two versions)."""
    e = edge()
    e.route(
        "/f",
        headers={"Cache-Control": "max-age=60", "ETag": '"new"', "Last-Modified": LAST_MODIFIED},
        body=BODY16,
    )
    if warm:
        assert e.get("/f").x_cache == MISS
    else:
        e.get("/f", {"Range": "bytes=0-3", "If-Range": if_range})
    r = e.get("/f", {"Range": "bytes=0-3", "If-Range": if_range})
    assert r.x_cache == HIT
    if partial:
        assert (r.status, r.body, r.header("content-range")) == (206, b"0123", "bytes 0-3/16")
    else:
        assert (r.status, r.body, r.header("content-range")) == (200, BODY16, None)
    assert e.calls("/f") == 1


# -- an HTTP/1.0 viewer's Accept-Encoding -------------------------------------------------------


def test_http10_viewer_loses_accept_encoding_in_the_key_and_to_the_origin(edge: MakeEdge) -> None:
    """caching.md §1.5: HTTP/1.0 requests lose Accept-Encoding; its uncompressed copy is not
    stored under the gzip key the next HTTP/1.1 viewer reads."""
    e = edge(cache=GZIP_POLICY, compress=True)
    e.route(
        "/s.css", headers={"Content-Type": "text/css", "Cache-Control": "max-age=600"}, body=CSS
    )
    old = e.request("GET", "/s.css", {"Accept-Encoding": "gzip"}, http_version="1.0")
    assert (old.x_cache, old.header("content-encoding"), old.body) == (MISS, None, CSS)
    assert e.origin.received("/s.css").header("accept-encoding") is None
    again = e.request("GET", "/s.css", {"Accept-Encoding": "gzip"}, http_version="1.0")
    assert (again.x_cache, again.header("content-encoding"), e.calls("/s.css")) == (HIT, None, 1)
    new = e.get("/s.css", {"Accept-Encoding": "gzip"})
    assert (new.x_cache, new.header("content-encoding")) == (MISS, "gzip")
    assert gzip.decompress(new.body) == CSS
    assert e.origin.received("/s.css").header("accept-encoding") == "gzip"
    plain = e.get("/s.css")
    assert (plain.x_cache, plain.header("content-encoding"), plain.body) == (HIT, None, CSS)


def test_http10_accept_encoding_is_an_ordinary_header_without_normalisation(
    edge: MakeEdge,
) -> None:
    e = edge(cache=CachePolicy(headers=("accept-encoding",)))
    e.route("/a", headers={"Cache-Control": "max-age=600"}, body=b"x")
    e.request("GET", "/a", {"Accept-Encoding": "gzip"}, http_version="1.0")
    assert e.origin.received("/a").header("accept-encoding") == "gzip"


# -- max_object_bytes is a body size ------------------------------------------------------------


@pytest.mark.parametrize("size", [300, 1000])
def test_max_object_bytes_counts_the_body_only(door: str, size: int) -> None:
    """The default storage stores every body of at most ``max_object_bytes`` (decisions.md
    #51), not only those whose body and bookkeeping together fit."""
    origin = ScriptedOrigin()
    app = starlette_origin(origin) if door == "asgi" else flask_origin(origin)
    config = EdgeConfig(settings=EdgeSettings(max_object_bytes=1000))
    client = doors.viewer(door, doors.wrap(door, app, config))
    origin.route("/b", headers={"Cache-Control": "max-age=60"}, body=bytes(size))
    origin.route("/big", headers={"Cache-Control": "max-age=60"}, body=bytes(1001))
    got = [doors.send(door, client, "GET", path).get("x-cache") for path in ("/b",) * 2]
    got += [doors.send(door, client, "GET", path).get("x-cache") for path in ("/big",) * 2]
    assert got == [MISS, HIT, MISS, MISS]
