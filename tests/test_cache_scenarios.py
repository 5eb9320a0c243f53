"""The CloudFront edge cache conformance scenarios C01-C40 (caching.md §5), end to end.

Every test runs against both front doors (``EdgeMiddleware`` over a Starlette origin,
``EdgeWSGIMiddleware`` over a Flask origin) and both storages (``MemoryStorage``, and
``RedisStorage`` on the real server of ``redis_url``, marked ``redis``). The origin is the
scriptable one of ``tests/cache_apps.py``; time is a fake clock (``e.at(t)`` = the spec's t,
counted from ``BASE``). ``o`` in comments is the cumulative number of origin calls.

Scenarios the library gets wrong are kept as they should be and marked
``xfail(strict=True, reason="BUG: ...")``.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from werkzeug.http import http_date

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeSettings,
    OriginRequestPolicy,
)
from tests.support.edge_cache import (
    BASE,
    DATE,
    ERROR,
    HIT,
    LAMBDA,
    MISS,
    REFRESH_HIT,
    SETTLE,
    Edge,
    MakeEdge,
    cache_fixtures,
    wait_a_while,
)

door, store, edge = cache_fixtures()


def run_steps(
    e: Edge,
    path: str,
    steps: list[tuple[float, str, int]],
    *,
    cache_control: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """GET ``path`` at each ``(t, X-Cache, o)`` and check it; on every answer the origin's
    ``Cache-Control`` and ``Date`` are unchanged, a Miss has no ``Age`` and a Hit's ``Age`` is
    the time since the last Miss."""
    stored_at: float | None = None
    for t, want, o in steps:
        e.at(t)
        r = e.get(path, headers)
        assert (t, r.status, r.x_cache, e.calls(path)) == (t, 200, want, o)
        if want == MISS:
            stored_at = t
            assert r.age is None, t
        elif want == HIT:
            assert stored_at is not None
            assert r.age == int(t - stored_at), t
        assert r.header("cache-control") == cache_control, t
        assert r.header("date") == DATE, t
        seen = e.origin.received(path)
        assert seen.header("if-none-match") is None
        assert seen.header("if-modified-since") is None


# -- C01-C10: TTLs ------------------------------------------------------------------------------

TTL_CASES = [
    pytest.param(
        CachePolicy(),
        "max-age=60",
        {},
        [(0, MISS, 1), (30, HIT, 1)],
        id="C01-max-age-hit-age",
    ),
    pytest.param(
        CachePolicy(),
        "max-age=60",
        {},
        [(0, MISS, 1), (59, HIT, 1), (61, MISS, 2), (62, HIT, 2)],
        id="C02-expired-no-validators-full-fetch",
    ),
    pytest.param(
        CachePolicy(),
        "max-age=10, s-maxage=100",
        {},
        [(0, MISS, 1), (50, HIT, 1), (99, HIT, 1), (101, MISS, 2)],
        id="C03-s-maxage-wins",
    ),
    pytest.param(
        CachePolicy(),
        None,
        {"Expires": http_date(BASE + 120)},
        [(0, MISS, 1), (100, HIT, 1), (121, MISS, 2)],
        id="C04-expires",
    ),
    pytest.param(
        CachePolicy(),
        "max-age=30",
        {"Expires": http_date(BASE + 3600)},
        [(0, MISS, 1), (29, HIT, 1), (31, MISS, 2)],
        id="C05-max-age-beats-expires",
    ),
    pytest.param(
        CachePolicy(default_ttl=300),
        None,
        {},
        [(0, MISS, 1), (299, HIT, 1), (301, MISS, 2)],
        id="C06-default-ttl",
    ),
    pytest.param(
        CachePolicy(default_ttl=60, max_ttl=60),
        "max-age=3600",
        {},
        [(0, MISS, 1), (59, HIT, 1), (61, MISS, 2)],
        id="C07-max-ttl-clamp",
    ),
    pytest.param(
        CachePolicy(min_ttl=120),
        "max-age=10",
        {},
        [(0, MISS, 1), (100, HIT, 1), (121, MISS, 2)],
        id="C08-min-ttl-raise",
    ),
    pytest.param(
        CachePolicy(),
        "no-store",
        {},
        [(0, MISS, 1), (0, MISS, 2), (1, MISS, 3)],
        id="C09-no-store-never-stored",
    ),
    pytest.param(
        CachePolicy(),
        "private",
        {},
        [(0, MISS, 1), (0, MISS, 2), (1, MISS, 3)],
        id="C09-private-never-stored",
    ),
    pytest.param(
        CachePolicy(min_ttl=30),
        "no-store, no-cache, private",
        {},
        [(0, MISS, 1), (20, HIT, 1), (31, MISS, 2)],
        id="C10-min-ttl-overrides-no-store",
    ),
    pytest.param(
        CachePolicy(default_ttl=300),
        "max-age=abc",
        {},
        [(0, MISS, 1), (299, HIT, 1), (301, MISS, 2)],
        id="D33-malformed-max-age-is-absent",
    ),
    pytest.param(
        CachePolicy(default_ttl=300),
        "max-age=-5",
        {},
        [(0, MISS, 1), (299, HIT, 1), (301, MISS, 2)],
        id="D33-negative-max-age-is-absent",
    ),
]


@pytest.mark.parametrize(("cache", "cache_control", "extra", "steps"), TTL_CASES)
def test_ttl(
    edge: MakeEdge,
    cache: CachePolicy,
    cache_control: str | None,
    extra: dict[str, str],
    steps: list[tuple[float, str, int]],
) -> None:
    e = edge(cache=cache)
    headers = {"Date": DATE, **extra}
    if cache_control is not None:
        headers["Cache-Control"] = cache_control
    e.route("/a", headers=headers, body=b"payload")
    run_steps(e, "/a", steps, cache_control=cache_control)


def test_C01_hit_is_byte_identical_with_origin_headers(edge: MakeEdge) -> None:
    e = edge()
    e.route(
        "/a",
        headers=[("Date", DATE), ("Cache-Control", "max-age=60"), ("X-Origin", "1")],
        body=b"hello",
    )
    miss = e.get("/a")
    e.at(30)
    hit = e.get("/a")
    assert (miss.x_cache, hit.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    assert miss.age is None and hit.age == 30
    for r in (miss, hit):
        assert r.body == b"hello"
        assert r.header("content-length") == "5"
        assert r.header("x-origin") == "1"
        assert r.all("cache-control") == ["max-age=60"]
        assert r.all("date") == [DATE]


# -- C11-C14: revalidation and viewer request directives --------------------------------------


def test_C11_max_age_0_revalidates_with_etag(edge: MakeEdge) -> None:
    e = edge()
    e.route(
        "/a",
        headers={"Date": DATE, "Cache-Control": "max-age=0", "ETag": '"v1"'},
        body=b"body-v1",
        conditional=True,
    )
    first = e.get("/a")
    assert (first.x_cache, first.body, e.calls("/a")) == (MISS, b"body-v1", 1)
    e.at(1)
    second = e.get("/a")
    assert e.origin.received("/a").header("if-none-match") == '"v1"'
    assert (second.status, second.x_cache, second.body) == (200, REFRESH_HIT, b"body-v1")
    assert e.calls("/a") == 2
    assert second.age == 0  # decisions.md #38: reset after a RefreshHit
    assert second.header("content-length") == "7"
    assert second.header("etag") == '"v1"'


def test_C12_last_modified_revalidation_refreshes_ttl(edge: MakeEdge) -> None:
    e = edge()
    lm = http_date(BASE - 3600)
    spec = e.route(
        "/a",
        headers={"Date": DATE, "Cache-Control": "max-age=10", "Last-Modified": lm},
        body=b"body",
        conditional=True,
    )
    assert e.get("/a").x_cache == MISS
    spec["headers"] = [("Date", DATE), ("Cache-Control", "max-age=120"), ("Last-Modified", lm)]
    e.at(11)
    refreshed = e.get("/a")
    seen = e.origin.received("/a")
    assert seen.header("if-modified-since") == lm
    assert seen.header("if-none-match") is None
    assert (refreshed.status, refreshed.x_cache, refreshed.body) == (200, REFRESH_HIT, b"body")
    assert refreshed.header("cache-control") == "max-age=120"
    assert e.calls("/a") == 2
    e.at(100)
    hit = e.get("/a")
    assert (hit.x_cache, hit.body, e.calls("/a")) == (HIT, b"body", 2)
    assert hit.age == 89  # counted from the refresh at t=11
    assert hit.header("cache-control") == "max-age=120"
    e.at(132)
    assert e.get("/a").x_cache == REFRESH_HIT
    assert e.calls("/a") == 3


def test_C13_revalidation_answered_with_200_replaces_the_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": "max-age=10", "ETag": '"v1"'}, body=b"v1")
    assert e.get("/a").body == b"v1"
    e.route("/a", headers={"Date": DATE, "Cache-Control": "max-age=10", "ETag": '"v2"'}, body=b"v2")
    e.at(11)
    r = e.get("/a")
    assert e.origin.received("/a").header("if-none-match") == '"v1"'
    assert (r.status, r.x_cache, r.body, r.header("etag")) == (200, MISS, b"v2", '"v2"')
    e.at(12)
    hit = e.get("/a")
    assert (hit.x_cache, hit.body, hit.age, e.calls("/a")) == (HIT, b"v2", 1, 2)


def test_C14_viewer_no_cache_does_not_force_a_refetch(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": "max-age=60"})
    assert e.get("/a").x_cache == MISS
    e.at(5)
    r = e.get("/a", {"Cache-Control": "no-cache", "Pragma": "no-cache"})
    assert (r.x_cache, e.calls("/a")) == (HIT, 1)
    r = e.get("/a", {"Cache-Control": "max-age=0"})
    assert (r.x_cache, e.calls("/a")) == (HIT, 1)


# -- C15-C23: cache key and what the origin receives ------------------------------------------

QS_CASES = [
    pytest.param(
        CachePolicy(),
        [("/a?x=1", MISS, ""), ("/a?x=2", HIT, None), ("/a", HIT, None)],
        id="C15-qs-none",
    ),
    pytest.param(
        CachePolicy(query_strings="whitelist", query_string_names=("color",)),
        [
            ("/a?color=red&size=L", MISS, "color=red"),
            ("/a?size=M&color=red", HIT, None),
            ("/a?color=Red", MISS, "color=Red"),
        ],
        id="C16-qs-whitelist",
    ),
    pytest.param(
        CachePolicy(query_strings="all"),
        [
            ("/a?a=1&b=2", MISS, "a=1&b=2"),
            ("/a?b=2&a=1", MISS, "b=2&a=1"),
            ("/a?a=1&b=2", HIT, None),
            ("/a?a=1;b=2", MISS, "a=1;b=2"),
        ],
        id="C17-qs-all-order-sensitive",
    ),
    pytest.param(
        CachePolicy(query_strings="whitelist", query_string_names=("a",)),
        [
            ("/a?a=1;b=2", MISS, "a=1;b=2"),
            ("/a?a=1;b=3", MISS, "a=1;b=3"),
            ("/a?b=9&a=1;b=2", HIT, None),
        ],
        id="C17-semicolon-is-one-parameter",
    ),
    pytest.param(
        CachePolicy(query_strings="allExcept", query_string_names=("utm_source",)),
        [("/a?id=1&utm_source=x", MISS, "id=1"), ("/a?id=1&utm_source=y", HIT, None)],
        id="C18-qs-allexcept",
    ),
    pytest.param(
        CachePolicy(query_strings="all"),
        [
            ("/a?a", MISS, "a"),
            ("/a?a=", MISS, "a="),
            ("/a?a=1&a=2", MISS, "a=1&a=2"),
            ("/a?a=2&a=1", MISS, "a=2&a=1"),
            ("/a?a=1&a=2", HIT, None),
            ("/a?k=%41", MISS, "k=%41"),
            ("/a?k=A", MISS, "k=A"),
        ],
        id="D42-no-canonicalisation",
    ),
]


@pytest.mark.parametrize(("cache", "steps"), QS_CASES)
def test_query_string_key_and_forwarding(
    edge: MakeEdge, cache: CachePolicy, steps: list[tuple[str, str, str | None]]
) -> None:
    e = edge(cache=cache)
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    misses = 0
    for url, want, origin_query in steps:
        r = e.get(url)
        assert (url, r.x_cache) == (url, want)
        if want == MISS:
            misses += 1
            seen = e.origin.received("/a")
            assert (url, seen.path, seen.query) == (url, "/a", origin_query)
        assert e.calls("/a") == misses


def test_C19_header_whitelist(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(headers=("Accept-Language",)))
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    steps = [
        ({"Accept-Language": "en"}, MISS, 1),
        ({"Accept-Language": "fr"}, MISS, 2),
        ({"Accept-Language": "en"}, HIT, 2),
        ({"accept-language": "en"}, HIT, 2),
        ({"Accept-Language": "EN", "Authorization": "Bearer secret"}, MISS, 3),
    ]
    for headers, want, o in steps:
        r = e.get("/a", headers)
        assert (headers, r.x_cache, e.calls("/a")) == (headers, want, o)
    seen = e.origin.received("/a")
    assert seen.header("accept-language") == "EN"
    assert seen.header("authorization") is None


def test_C20_cookies_none(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers=[("Cache-Control", "max-age=60"), ("Set-Cookie", "t=1")])
    miss = e.get("/a", {"Cookie": "a=1"})
    assert e.origin.received("/a").header("cookie") is None
    hit = e.get("/a", {"Cookie": "a=2"})
    assert (miss.x_cache, hit.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    assert miss.all("set-cookie") == [] and hit.all("set-cookie") == []


def test_C21_cookie_whitelist(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(cookies="whitelist", cookie_names=("session",)))
    e.route("/a", headers=[("Cache-Control", "max-age=60"), ("Set-Cookie", "t=1")])
    miss = e.get("/a", {"Cookie": "session=a; other=x"})
    assert e.origin.received("/a").header("cookie") == "session=a"
    hit = e.get("/a", {"Cookie": "other=y; session=a"})
    assert (miss.x_cache, hit.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    assert miss.all("set-cookie") == ["t=1"]
    assert hit.all("set-cookie") == ["t=1"]  # stored with the object and replayed
    other = e.get("/a", {"Cookie": "session=b"})
    assert (other.x_cache, e.calls("/a")) == (MISS, 2)
    assert e.origin.received("/a").header("cookie") == "session=b"


def test_C22_qualified_no_cache_set_cookie(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(cookies="all"))
    cc = 'no-cache="Set-Cookie", max-age=60'
    e.route("/a", headers=[("Cache-Control", cc), ("Set-Cookie", "t=1")])
    miss = e.get("/a", {"Cookie": "s=1"})
    e.at(10)
    hit = e.get("/a", {"Cookie": "s=1"})
    assert (miss.x_cache, hit.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    assert miss.all("set-cookie") == ["t=1"]  # the viewer of the Miss still gets it
    assert hit.all("set-cookie") == []
    assert hit.header("cache-control") == cc


def test_C23_accept_encoding_normalisation(edge: MakeEdge) -> None:
    e = edge(
        cache=CachePolicy(enable_accept_encoding_gzip=True, enable_accept_encoding_brotli=True)
    )
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    steps: list[tuple[dict[str, str], str, str | None]] = [
        ({"Accept-Encoding": "gzip, deflate, br"}, MISS, "br,gzip"),
        ({"Accept-Encoding": "br, gzip"}, HIT, None),
        ({"Accept-Encoding": "gzip"}, MISS, "gzip"),
        ({"Accept-Encoding": "deflate"}, MISS, "identity"),
        ({}, HIT, None),  # no AE at all: the same key as "neither gzip nor br"
        ({"Accept-Encoding": "br;q=1, gzip;q=0"}, MISS, "br"),  # decisions.md #36
        ({"Accept-Encoding": "br"}, HIT, None),
    ]
    misses = 0
    for headers, want, origin_ae in steps:
        r = e.get("/a", headers)
        assert (headers, r.x_cache) == (headers, want)
        if want == MISS:
            misses += 1
            assert e.origin.received("/a").header("accept-encoding") == origin_ae
        assert e.calls("/a") == misses


def test_C24_edge_compression(edge: MakeEdge) -> None:
    e = edge(
        cache=CachePolicy(enable_accept_encoding_gzip=True, enable_accept_encoding_brotli=True),
        compress=True,
    )
    css = b"body { color: red; }\n" * 250  # 5,000+ bytes
    e.route("/a.css", headers={"Content-Type": "text/css", "ETag": '"abc"'}, body=css[:5000])
    r = e.get("/a.css", {"Accept-Encoding": "gzip, br"})
    assert r.header("content-encoding") == "br"
    assert r.header("etag") == 'W/"abc"'
    e.route("/small.css", headers={"Content-Type": "text/css"}, body=css[:900])
    e.route("/i.png", headers={"Content-Type": "image/png"}, body=b"\x89PNG" * 1250)
    e.route(
        "/pre.css",
        headers={"Content-Type": "text/css", "Content-Encoding": "gzip"},
        body=gzip.compress(css, mtime=0),
    )
    for path in ("/small.css", "/i.png", "/pre.css"):
        r = e.get(path, {"Accept-Encoding": "gzip, br"})
        assert r.header("content-encoding") in (None, "gzip")
        sent = e.origin.routes[path]["body"]
        # a test client may decode the origin's own gzip; either way it is the origin's body
        assert r.body in (sent, gzip.decompress(sent) if path == "/pre.css" else sent)


# -- C25-C28: Vary, methods, HEAD and Range ------------------------------------------------------


def test_C25_origin_vary_does_not_create_variants(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language, X-Custom"})
    e.route(
        "/b", headers={"Cache-Control": "max-age=60", "Vary": "Accept-Encoding, Accept-Language"}
    )
    en = e.get("/a", {"Accept-Language": "en", "X-Custom": "1"})
    fr = e.get("/a", {"Accept-Language": "fr", "X-Custom": "2"})
    assert (en.x_cache, fr.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    for r in (en, fr):
        assert r.all("vary") == []
    b = e.get("/b", {"Accept-Language": "en"})
    assert b.all("vary") == ["Accept-Encoding"]
    assert e.get("/b", {"Accept-Language": "fr"}).all("vary") == ["Accept-Encoding"]


def test_C25_vary_keeps_forwarded_header_names(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(headers=("Accept-Language",)))
    e.route("/a", headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language, X-Custom"})
    en = e.get("/a", {"Accept-Language": "en"})
    fr = e.get("/a", {"Accept-Language": "fr"})
    again = e.get("/a", {"Accept-Language": "en"})
    assert (en.x_cache, fr.x_cache, again.x_cache, e.calls("/a")) == (MISS, MISS, HIT, 2)
    for r in (en, fr, again):
        assert r.all("vary") == ["Accept-Language"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="C26-no-lifetime"),
        pytest.param({"Cache-Control": "max-age=0"}, id="C26-max-age-0"),
    ],
)
def test_C26_vary_star_always_goes_to_the_origin_unconditionally(
    edge: MakeEdge, extra: dict[str, str]
) -> None:
    e = edge()
    headers = {"Vary": "*", "ETag": '"v1"', **extra}
    e.route("/a", headers=headers, body=b"v1", conditional=True)
    for n in range(1, 4):
        e.at(n)
        r = e.get("/a")
        assert (r.status, r.x_cache, r.body, e.calls("/a")) == (200, MISS, b"v1", n)
        assert e.origin.received("/a").header("if-none-match") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_C27_unsafe_methods_are_forwarded_and_never_stored(edge: MakeEdge, method: str) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"answer")
    for n in (1, 2):
        r = e.request(method, "/a", body=b"payload")
        assert (r.status, r.x_cache, r.body, e.calls("/a")) == (200, MISS, b"answer", n)
        assert e.origin.received("/a").method == method
    get = e.get("/a")
    assert (get.x_cache, e.calls("/a")) == (MISS, 3)
    assert e.get("/a").x_cache == HIT
    assert e.request(method, "/a", body=b"payload").x_cache == MISS
    assert e.calls("/a") == 4


def test_C27_get_with_a_body_is_rejected_without_the_origin(edge: MakeEdge) -> None:
    e = edge()
    r = e.request("GET", "/a", body=b"not allowed")
    assert (r.status, r.x_cache, e.calls()) == (403, ERROR, 0)


@pytest.mark.parametrize(
    ("cached_methods", "options_steps"),
    [
        pytest.param(("GET", "HEAD", "OPTIONS"), [MISS, HIT], id="C27-options-cached"),
        pytest.param(("GET", "HEAD"), [MISS, MISS], id="C27-options-not-cached"),
    ],
)
def test_C27_options_cached_only_when_listed(
    edge: MakeEdge, cached_methods: tuple[str, ...], options_steps: list[str]
) -> None:
    e = edge(cached_methods=cached_methods)
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"from-origin")
    misses = 0
    for want in options_steps:
        r = e.request("OPTIONS", "/a")
        misses += want == MISS
        assert (r.x_cache, r.body, e.calls("/a")) == (want, b"from-origin", misses)
        assert e.origin.received("/a").method == "OPTIONS"
    o = e.calls("/a")
    # OPTIONS entries never collide with GET/HEAD entries
    get = e.get("/a")
    assert (get.x_cache, e.calls("/a")) == (MISS, o + 1)
    assert e.origin.received("/a").method == "GET"
    assert e.get("/a").x_cache == HIT
    r = e.request("OPTIONS", "/a")
    assert r.x_cache == options_steps[-1]


def test_C28_head_after_cached_get(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": "max-age=60"}, body=b"0123456789abcdef")
    assert e.get("/a").x_cache == MISS
    e.at(5)
    head = e.request("HEAD", "/a")
    assert (head.status, head.x_cache, head.age, e.calls("/a")) == (200, HIT, 5, 1)
    assert head.body == b""
    assert head.header("content-length") == "16"
    assert head.header("cache-control") == "max-age=60"


def test_C28_get_is_never_answered_from_a_head(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"full body")
    head = e.request("HEAD", "/a")
    assert (head.x_cache, head.body, e.calls("/a")) == (MISS, b"", 1)
    get = e.get("/a")
    assert (get.x_cache, get.body, e.calls("/a")) == (MISS, b"full body", 2)


def test_C28_range_from_the_cached_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"0123456789abcdef")
    assert e.get("/a").x_cache == MISS
    r = e.get("/a", {"Range": "bytes=0-9"})
    assert (r.status, r.x_cache, r.body, e.calls("/a")) == (206, HIT, b"0123456789", 1)
    assert r.header("content-range") == "bytes 0-9/16"


def test_C28_descending_multi_range_gets_the_full_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"0123456789abcdef")
    assert e.get("/a").x_cache == MISS
    r = e.get("/a", {"Range": "bytes=10-12,0-3"})
    assert (r.status, r.x_cache, r.body, e.calls("/a")) == (200, HIT, b"0123456789abcdef", 1)


# -- C29-C36: errors and stale serving -----------------------------------------------------------

ERROR_CASES = [
    pytest.param(404, None, CachePolicy(), (), [(0, 1), (5, 1), (11, 2)], id="C29-404-ecmt-10s"),
    pytest.param(
        404, "max-age=300", CachePolicy(), (), [(0, 1), (299, 1), (301, 2)], id="C30-404-max-age"
    ),
    pytest.param(
        404,
        "max-age=300",
        CachePolicy(default_ttl=60, max_ttl=60),
        (),
        [(0, 1), (59, 1), (61, 2)],
        id="C30-404-capped-by-max-ttl",
    ),
    pytest.param(
        404,
        "max-age=30",
        CachePolicy(),
        (CustomErrorResponse(404, error_caching_min_ttl=120),),
        [(0, 1), (119, 1), (121, 2)],
        id="C30-404-custom-ecmt-wins",
    ),
    pytest.param(403, None, CachePolicy(), (), [(0, 1), (0, 2), (1, 3)], id="C31-403-no-cc"),
    pytest.param(
        403, "max-age=60", CachePolicy(), (), [(0, 1), (59, 1), (61, 2)], id="C31-403-max-age"
    ),
    pytest.param(401, "max-age=60", CachePolicy(), (), [(0, 1), (1, 2)], id="C31-401-never"),
    pytest.param(429, "max-age=60", CachePolicy(), (), [(0, 1), (1, 2)], id="C31-429-never"),
    pytest.param(416, "max-age=60", CachePolicy(), (), [(0, 1), (1, 2)], id="C31-416-never"),
    pytest.param(404, "no-store", CachePolicy(), (), [(0, 1), (1, 2)], id="C32-404-no-store"),
    pytest.param(
        503, "no-store", CachePolicy(), (), [(0, 1), (9, 1), (11, 2)], id="C32-503-no-store-ecmt"
    ),
]


@pytest.mark.parametrize(("status", "cache_control", "cache", "errors", "steps"), ERROR_CASES)
def test_error_caching(
    edge: MakeEdge,
    status: int,
    cache_control: str | None,
    cache: CachePolicy,
    errors: tuple[CustomErrorResponse, ...],
    steps: list[tuple[float, int]],
) -> None:
    e = edge(cache=cache, errors=errors)
    headers = {} if cache_control is None else {"Cache-Control": cache_control}
    e.route("/a", status=status, headers=headers, body=b"error page")
    for t, o in steps:
        e.at(t)
        r = e.get("/a")
        got = (t, r.status, r.x_cache, r.body, e.calls("/a"))
        assert got == (t, status, ERROR, b"error page", o)
        assert r.header("cache-control") == cache_control


def test_C33_stale_served_on_5xx_for_the_error_caching_min_ttl(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": "max-age=10"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.route("/a", status=503, body=b"down")
    e.at(15)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)
    e.at(20)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)
    assert r.header("cache-control") == "max-age=10"
    e.at(26)
    r = e.get("/a")
    assert (r.status, r.body, e.calls("/a")) == (200, b"good", 3)


def test_C33_stale_hold_uses_the_error_codes_caching_min_ttl(edge: MakeEdge) -> None:
    e = edge(errors=(CustomErrorResponse(503, error_caching_min_ttl=30),))
    e.route("/a", headers={"Cache-Control": "max-age=10"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.route("/a", status=503, body=b"down")
    e.at(15)
    assert (e.get("/a").body, e.calls("/a")) == (b"good", 2)
    e.at(40)  # within 15 + 30
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)
    e.at(46)
    e.get("/a")
    assert e.calls("/a") == 3


def test_C33_4xx_on_revalidation_goes_to_the_viewer(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=10"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.route("/a", status=404, body=b"gone")
    e.at(15)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (404, b"gone", ERROR, 2)


@pytest.mark.parametrize(
    ("cache_control", "want_status", "want_body", "want_x_cache"),
    [
        pytest.param("max-age=10", 200, b"good", REFRESH_HIT, id="C34-stale-on-unreachable"),
        pytest.param("max-age=10, stale-if-error=0", 502, None, ERROR, id="C34-sie-0-error"),
    ],
)
def test_C34_origin_unreachable(
    edge: MakeEdge,
    cache_control: str,
    want_status: int,
    want_body: bytes | None,
    want_x_cache: str,
) -> None:
    e = edge()
    spec = e.route("/a", headers={"Cache-Control": cache_control}, body=b"good")
    assert e.get("/a").x_cache == MISS
    spec["fail"] = True
    e.at(11)
    r = e.get("/a")
    assert (r.status, r.x_cache, e.calls("/a")) == (want_status, want_x_cache, 2)
    if want_body is not None:
        assert r.body == want_body


def test_C35_stale_while_revalidate(edge: MakeEdge) -> None:
    e = edge()
    cc = "max-age=10, stale-while-revalidate=60"
    e.route("/a", headers={"Date": DATE, "Cache-Control": cc}, body=b"v1")
    e.route("/b", headers={"Date": DATE, "Cache-Control": cc}, body=b"b1")
    assert e.get("/a").x_cache == MISS
    assert e.get("/b").x_cache == MISS
    e.route("/a", headers={"Date": DATE, "Cache-Control": cc}, body=b"v2")
    e.at(15)
    stale = e.get("/a")
    assert (stale.status, stale.body, stale.age, stale.x_cache) == (200, b"v1", 15, HIT)
    # exactly one background origin call, which stores the refreshed copy
    wait_a_while(lambda: (entry := e.stored("/a")) is not None and entry.body == b"v2")
    assert e.calls("/a") == 2
    e.at(16)
    fresh = e.get("/a")
    assert (fresh.body, fresh.x_cache, fresh.age, e.calls("/a")) == (b"v2", HIT, 1, 2)
    # the window has passed: a synchronous fetch (the refreshed copy's window ends at t=85)
    e.route("/a", headers={"Date": DATE, "Cache-Control": cc}, body=b"v3")
    e.at(86)
    sync = e.get("/a")
    assert (sync.body, sync.x_cache, sync.age, e.calls("/a")) == (b"v3", MISS, None, 3)
    # the object never refreshed: past its window at t=75, fetched synchronously
    e.route("/b", headers={"Date": DATE, "Cache-Control": cc}, body=b"b2")
    e.at(75)
    sync = e.get("/b")
    assert (sync.body, sync.x_cache, e.calls("/b")) == (b"b2", MISS, 2)


def test_C35_stale_requests_during_a_refresh_start_no_second_refresh(edge: MakeEdge) -> None:
    e = edge()
    cc = "max-age=10, stale-while-revalidate=60"
    e.route("/a", headers={"Cache-Control": cc}, body=b"v1")
    assert e.get("/a").x_cache == MISS
    gate = threading.Event()
    e.route("/a", headers={"Cache-Control": cc}, body=b"v2", gate=gate)
    try:
        e.at(15)
        assert e.get("/a").body == b"v1"
        wait_a_while(lambda: e.calls("/a") == 2)  # the refresh is waiting at the origin
        e.at(16)
        assert e.get("/a").body == b"v1"
    finally:
        gate.set()
    wait_a_while(lambda: (entry := e.stored("/a")) is not None and entry.body == b"v2")
    time.sleep(SETTLE)
    assert e.calls("/a") == 2


def test_C36_stale_if_error_window(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=10, stale-if-error=60"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.route("/a", status=500, body=b"broken")
    e.at(30)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)
    e.at(80)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (500, b"broken", ERROR, 3)


# -- C37: request collapsing -----------------------------------------------------------------------

COLLAPSE_CASES = [
    pytest.param(CachePolicy(), "max-age=60", {}, 1, 1, id="C37-collapsed"),
    pytest.param(
        CachePolicy(cookies="all"), "max-age=60", {"Cookie": "s=1"}, 20, 20, id="C37-cookies-all"
    ),
    pytest.param(
        CachePolicy(cookies="whitelist", cookie_names=("s",)),
        "max-age=60",
        {"Cookie": "s=1"},
        20,
        20,
        id="C37-cookie-whitelist",
    ),
    pytest.param(CachePolicy(0, 0, 0), "max-age=60", {}, 20, 20, id="C37-caching-disabled"),
    pytest.param(CachePolicy(), "private", {}, 1, 20, id="C37-private-min-ttl-0"),
]


@pytest.mark.parametrize(
    ("cache", "cache_control", "headers", "release_at", "calls"), COLLAPSE_CASES
)
def test_C37_request_collapsing(
    edge: MakeEdge,
    cache: CachePolicy,
    cache_control: str,
    headers: dict[str, str],
    release_at: int,
    calls: int,
) -> None:
    e = edge(cache=cache)
    e.route("/slow", headers={"Cache-Control": cache_control}, body=b"slow")
    results = e.burst("/slow", 20, release_at=release_at, headers=headers)
    assert e.calls("/slow") == calls
    if calls == 1:
        assert Counter(results) == {MISS: 1, HIT: 19}
    else:
        assert Counter(results) == {MISS: 20}


# -- C38-C39: invalidation -------------------------------------------------------------------------


def test_C38_wildcard_invalidation(edge: MakeEdge) -> None:
    e = edge()
    paths = ["/images/a.png", "/images/b/c.png", "/img.png"]
    for p in paths:
        e.route(p, headers={"Cache-Control": "max-age=3600"})
        assert e.get(p).x_cache == MISS
    e.mw.storage.invalidate(["/Images/*"])
    assert [e.get(p).x_cache for p in paths] == [HIT, HIT, HIT]
    e.mw.storage.invalidate(["/images/*"])
    assert [e.get(p).x_cache for p in paths] == [MISS, MISS, HIT]
    assert [e.calls(p) for p in paths] == [2, 2, 1]


def test_C38_exact_path_removes_every_variant(edge: MakeEdge) -> None:
    e = edge(
        cache=CachePolicy(headers=("Accept-Language",), cookies="whitelist", cookie_names=("s",))
    )
    e.route("/v.html", headers={"Cache-Control": "max-age=3600"})
    e.route("/w.html", headers={"Cache-Control": "max-age=3600"})
    variants = [
        {"Accept-Language": "en"},
        {"Accept-Language": "fr"},
        {"Accept-Language": "en", "Cookie": "s=1"},
    ]
    for h in variants:
        assert e.get("/v.html", h).x_cache == MISS
    assert e.get("/w.html").x_cache == MISS
    assert [e.get("/v.html", h).x_cache for h in variants] == [HIT, HIT, HIT]
    e.mw.storage.invalidate(["/v.html"])
    assert [e.get("/v.html", h).x_cache for h in variants] == [MISS, MISS, MISS]
    assert e.get("/w.html").x_cache == HIT
    assert e.calls("/v.html") == 6


def test_C39_query_strings_are_part_of_the_invalidated_path(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(query_strings="all"))
    e.route("/a.jpg", headers={"Cache-Control": "max-age=3600"})
    urls = ["/a.jpg?v=1", "/a.jpg?v=2"]
    assert [e.get(u).x_cache for u in urls] == [MISS, MISS]
    e.mw.storage.invalidate(["/a.jpg"])
    assert [e.get(u).x_cache for u in urls] == [HIT, HIT]
    e.mw.storage.invalidate(["/a.jpg*"])
    assert [e.get(u).x_cache for u in urls] == [MISS, MISS]
    assert e.calls("/a.jpg") == 4


# -- C40: Lambda@Edge and the cache ---------------------------------------------------------------


def _cf(event: dict[str, Any]) -> dict[str, Any]:
    return event["Records"][0]["cf"]  # type: ignore[no-any-return]


def test_C40_viewer_request_generated_response_is_never_cached(edge: MakeEdge) -> None:
    ran: Counter[str] = Counter()

    def redirect(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["viewer-request"] += 1
        return {
            "status": "302",
            "statusDescription": "Found",
            "headers": {
                "location": [{"key": "Location", "value": "https://example.com/login"}],
                "cache-control": [{"key": "Cache-Control", "value": "max-age=3600"}],
            },
        }

    def viewer_response(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["viewer-response"] += 1
        return _cf(event)["response"]  # type: ignore[no-any-return]

    e = edge(viewer_request=redirect, viewer_response=viewer_response)
    for n in (1, 2):
        e.at(n)
        r = e.get("/a")
        assert (r.status, r.x_cache) == (302, LAMBDA)
        assert r.header("location") == "https://example.com/login"
        assert ran == {"viewer-request": n}
    assert e.calls() == 0


def test_C40_origin_request_generated_response_is_cached(edge: MakeEdge) -> None:
    ran: Counter[str] = Counter()

    def generate(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["origin-request"] += 1
        return {
            "status": "200",
            "statusDescription": "OK",
            "headers": {"cache-control": [{"key": "Cache-Control", "value": "max-age=60"}]},
            "body": "generated",
        }

    e = edge(origin_request=generate)
    first = e.get("/a")
    assert (first.status, first.x_cache, first.body) == (200, LAMBDA, b"generated")
    e.at(30)
    hit = e.get("/a")
    assert (hit.status, hit.x_cache, hit.body, hit.age) == (200, HIT, b"generated", 30)
    assert ran == {"origin-request": 1}
    assert e.calls() == 0


def test_C40_viewer_request_rewrite_keys_on_the_rewritten_uri(edge: MakeEdge) -> None:
    def rewrite(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = _cf(event)["request"]
        if request["uri"] == "/index.html":
            request["uri"] = "/en/index.html"
        return request  # type: ignore[no-any-return]

    e = edge(viewer_request=rewrite)
    e.route("/en/index.html", headers={"Cache-Control": "max-age=60"}, body=b"english")
    first = e.get("/index.html")
    assert (first.x_cache, first.body) == (MISS, b"english")
    assert e.origin.received("/en/index.html").path == "/en/index.html"
    direct = e.get("/en/index.html")
    assert (direct.x_cache, direct.body) == (HIT, b"english")
    assert (e.calls("/en/index.html"), e.calls("/index.html")) == (1, 0)
    # invalidating either the viewer's or the rewritten path removes it
    e.mw.storage.invalidate(["/index.html"])
    assert e.get("/en/index.html").x_cache == MISS


def test_C40_origin_response_header_is_stored(edge: MakeEdge) -> None:
    ran: Counter[str] = Counter()

    def add_header(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["origin-response"] += 1
        response = _cf(event)["response"]
        response["headers"]["x-added"] = [{"key": "X-Added", "value": "yes"}]
        return response  # type: ignore[no-any-return]

    e = edge(origin_response=add_header)
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    miss = e.get("/a")
    e.at(10)
    hit = e.get("/a")
    assert (miss.x_cache, hit.x_cache) == (MISS, HIT)
    assert miss.header("x-added") == "yes" and hit.header("x-added") == "yes"
    assert ran == {"origin-response": 1}


def test_C40_viewer_response_runs_on_hits_but_not_on_errors(edge: MakeEdge) -> None:
    ran: Counter[str] = Counter()

    def stamp(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["viewer-response"] += 1
        response = _cf(event)["response"]
        response["headers"]["x-stamp"] = [{"key": "X-Stamp", "value": str(ran["viewer-response"])}]
        return response  # type: ignore[no-any-return]

    e = edge(viewer_response=stamp)
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    e.route("/missing", status=404, body=b"nope")
    miss = e.get("/a")
    hit = e.get("/a")
    assert (miss.x_cache, miss.header("x-stamp")) == (MISS, "1")
    assert (hit.x_cache, hit.header("x-stamp")) == (HIT, "2")  # not stored: runs again
    for _ in range(2):  # the origin 404, then the cached 404
        r = e.get("/missing")
        assert (r.status, r.x_cache, r.header("x-stamp")) == (404, ERROR, None)
    assert e.calls("/missing") == 1
    assert ran == {"viewer-response": 2}


# -- decisions.md 27-42 and caching.md §1 beyond the scenarios --------------------------------

STATUS_CASES = [
    pytest.param(200, None, True, id="200"),
    pytest.param(203, "max-age=60", True, id="203"),
    pytest.param(201, "max-age=60", False, id="D34-201-not-cached"),
    pytest.param(202, "max-age=60", False, id="D34-202-not-cached"),
    pytest.param(204, "max-age=60", False, id="D34-204-not-cached"),
    pytest.param(300, "max-age=60", True, id="300"),
    pytest.param(301, None, True, id="301-cached-not-followed"),
    pytest.param(302, None, True, id="302-cached-not-followed"),
    pytest.param(307, None, False, id="307-without-cc-not-cached"),
    pytest.param(307, "max-age=60", True, id="307-with-cc-cached"),
    pytest.param(308, None, False, id="308-without-cc-not-cached"),
    pytest.param(308, "max-age=60", True, id="308-with-cc-cached"),
    pytest.param(410, None, True, id="D35-410-like-404"),
    pytest.param(410, "no-store", False, id="D35-410-no-store"),
    pytest.param(414, "private", False, id="414-private"),
    pytest.param(501, "no-cache", False, id="501-no-cache"),
    pytest.param(500, "no-store", True, id="500-no-store-ignored"),
    pytest.param(400, None, False, id="400-without-cc"),
    pytest.param(405, "max-age=60", True, id="405-with-cc"),
    pytest.param(409, "max-age=60", False, id="409-never"),
]


@pytest.mark.parametrize(("status", "cache_control", "cached"), STATUS_CASES)
def test_statuses_cached(
    edge: MakeEdge, status: int, cache_control: str | None, cached: bool
) -> None:
    e = edge()
    headers = {"Location": "https://example.com/elsewhere"} if 300 <= status < 400 else {}
    if cache_control is not None:
        headers["Cache-Control"] = cache_control
    body = b"" if status == 204 else b"body"
    e.route("/a", status=status, headers=headers, body=body)
    first = e.get("/a")
    e.at(5)
    second = e.get("/a")
    hit = ERROR if status >= 400 else HIT
    miss = ERROR if status >= 400 else MISS
    assert (first.status, first.x_cache) == (status, miss)
    assert (second.status, second.x_cache, second.body) == (status, hit if cached else miss, body)
    assert e.calls("/a") == (1 if cached else 2)
    assert e.calls("/elsewhere") == 0
    if 300 <= status < 400:
        assert second.header("location") == "https://example.com/elsewhere"


def test_D28_unsafe_method_does_not_purge_the_cached_get(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"})
    assert e.get("/a").x_cache == MISS
    assert e.request("PUT", "/a", body=b"new").x_cache == MISS
    assert e.request("DELETE", "/a").x_cache == MISS
    assert (e.get("/a").x_cache, e.calls("/a")) == (HIT, 3)


def test_D29_expires_against_the_edge_clock(edge: MakeEdge) -> None:
    e = edge()
    # The origin's clock is an hour behind: Expires - Date would be 3720 s.
    e.route("/a", headers={"Date": http_date(BASE - 3600), "Expires": http_date(BASE + 120)})
    assert e.get("/a").x_cache == MISS
    e.at(119)
    assert e.get("/a").x_cache == HIT
    e.at(121)
    assert (e.get("/a").x_cache, e.calls("/a")) == (MISS, 2)


def test_D30_no_cache_is_stored_stale_for_revalidation(edge: MakeEdge) -> None:
    e = edge()
    e.route(
        "/a", headers={"Cache-Control": "no-cache", "ETag": '"n1"'}, body=b"n", conditional=True
    )
    assert e.get("/a").x_cache == MISS
    e.at(1)
    r = e.get("/a")
    assert e.origin.received("/a").header("if-none-match") == '"n1"'
    assert (r.status, r.x_cache, r.body, e.calls("/a")) == (200, REFRESH_HIT, b"n", 2)


def test_D31_origin_age_is_subtracted(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60", "Age": "50"})
    miss = e.get("/a")
    assert miss.x_cache == MISS
    e.at(9)
    hit = e.get("/a")
    assert (hit.x_cache, e.calls("/a")) == (HIT, 1)
    e.at(11)
    assert (e.get("/a").x_cache, e.calls("/a")) == (MISS, 2)


def test_hit_with_origin_age_has_one_age_header(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60", "Age": "50"})
    assert e.get("/a").all("age") == ["50"]  # a Miss passes the origin's Age through
    e.at(5)
    hit = e.get("/a")
    assert hit.x_cache == HIT
    assert len(hit.all("age")) == 1


def test_D37_viewer_conditionals_answered_on_a_hit(edge: MakeEdge) -> None:
    e = edge()
    lm = http_date(BASE - 60)
    e.route(
        "/a",
        headers={"Cache-Control": "max-age=60", "ETag": '"v1"', "Last-Modified": lm},
        body=b"body",
    )
    assert e.get("/a").x_cache == MISS
    r = e.get("/a", {"If-None-Match": '"v1"'})
    assert (r.status, r.x_cache, r.body) == (304, HIT, b"")
    r = e.get("/a", {"If-Modified-Since": lm})
    assert (r.status, r.x_cache, r.body) == (304, HIT, b"")
    r = e.get("/a", {"If-None-Match": '"v0"'})
    assert (r.status, r.x_cache, r.body) == (200, HIT, b"body")
    assert e.calls("/a") == 1


def test_D37_viewer_conditionals_ignored_when_cookies_are_forwarded(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(cookies="all"))
    e.route("/a", headers={"Cache-Control": "max-age=60", "ETag": '"v1"'}, body=b"body")
    assert e.get("/a").x_cache == MISS
    r = e.get("/a", {"If-None-Match": '"v1"'})
    assert (r.status, r.x_cache, r.body, e.calls("/a")) == (200, HIT, b"body", 1)


def test_D40_stale_windows_are_not_bounded_by_max_ttl(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(default_ttl=5, max_ttl=5))
    e.route("/a", headers={"Cache-Control": "max-age=10, stale-if-error=60"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.at(4)
    assert e.get("/a").x_cache == HIT
    e.route("/a", status=500, body=b"broken")
    e.at(60)  # fresh until 5 (MaxTTL), stale-if-error until 65
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)
    e.at(75)
    r = e.get("/a")
    assert (r.status, r.x_cache, e.calls("/a")) == (500, ERROR, 3)


def test_D41_must_revalidate_does_not_suppress_stale_on_error(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "must-revalidate, max-age=0"}, body=b"good")
    assert e.get("/a").x_cache == MISS
    e.route("/a", status=500, body=b"broken")
    e.at(1)
    r = e.get("/a")
    assert (r.status, r.body, r.x_cache, e.calls("/a")) == (200, b"good", REFRESH_HIT, 2)


def test_behaviors_selected_by_path_pattern(edge: MakeEdge) -> None:
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(default_ttl=60)),
        behaviors=[
            Behavior("/api/*", cache=CachePolicy(0, 0, 0)),
            Behavior("/img/?.png", cache=CachePolicy(min_ttl=600)),
        ],
    )
    e = edge(config=config)
    for p in ("/api/x", "/img/a.png", "/img/ab.png", "/page"):
        e.route(p, headers={"Cache-Control": "max-age=1"})
    for p in ("/api/x", "/img/a.png", "/img/ab.png", "/page"):
        assert e.get(p).x_cache == MISS
    e.at(30)
    assert [e.get(p).x_cache for p in ("/api/x", "/img/a.png", "/img/ab.png", "/page")] == [
        MISS,
        HIT,  # MinTTL 600 of /img/?.png
        MISS,  # two characters: the default behaviour, max-age=1
        MISS,
    ]


def test_C28_ranged_miss_never_poisons_the_full_object(edge: MakeEdge) -> None:
    e = edge()
    body = b"0123456789abcdef"
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=body, ranges=True)
    part = e.get("/a", {"Range": "bytes=0-9"})
    assert part.status in (200, 206)
    if part.status == 206:
        assert part.body == b"0123456789"
    full = e.get("/a")
    assert (full.status, full.body) == (200, body)


def test_C40_origin_request_rewrite_does_not_change_the_key(edge: MakeEdge) -> None:
    def to_v2(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = _cf(event)["request"]
        request["uri"] = "/v2" + request["uri"]
        return request  # type: ignore[no-any-return]

    e = edge(origin_request=to_v2)
    e.route("/v2/a", headers={"Cache-Control": "max-age=60"}, body=b"v2")
    first = e.get("/a")
    assert (first.x_cache, first.body, e.calls("/v2/a")) == (MISS, b"v2", 1)
    assert (e.get("/a").x_cache, e.calls("/v2/a")) == (HIT, 1)
    e.route("/v2/v2/a", headers={"Cache-Control": "max-age=60"}, body=b"other")
    other = e.get("/v2/a")  # its own key, rewritten again on the way to the origin
    assert (other.x_cache, other.body, e.calls("/v2/v2/a")) == (MISS, b"other", 1)


def test_C40_origin_response_runs_on_errors_and_is_cached(edge: MakeEdge) -> None:
    ran: Counter[str] = Counter()

    def add_header(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran["origin-response"] += 1
        response = _cf(event)["response"]
        response["headers"]["x-added"] = [{"key": "X-Added", "value": response["status"]}]
        return response  # type: ignore[no-any-return]

    e = edge(origin_response=add_header)
    e.route("/missing", status=404, body=b"nope")
    first = e.get("/missing")
    e.at(5)
    second = e.get("/missing")
    assert (first.status, first.x_cache, first.header("x-added")) == (404, ERROR, "404")
    assert (second.status, second.x_cache, second.header("x-added")) == (404, ERROR, "404")
    assert (e.calls("/missing"), ran["origin-response"]) == (1, 1)


def test_custom_error_page_is_served_and_cached(edge: MakeEdge) -> None:
    e = edge(
        errors=(CustomErrorResponse(404, response_page_path="/errors/404.html", response_code=200),)
    )
    e.route("/missing", status=404, body=b"origin 404")
    e.route("/errors/404.html", headers={"Cache-Control": "max-age=60"}, body=b"custom page")
    first = e.get("/missing")
    assert (first.status, first.body, first.x_cache) == (200, b"custom page", ERROR)
    e.at(5)
    second = e.get("/missing")
    assert (second.status, second.body) == (200, b"custom page")
    assert (e.calls("/missing"), e.calls("/errors/404.html")) == (1, 1)
    e.at(11)  # the 404 is held for ErrorCachingMinTTL (10 s); the page is still fresh
    third = e.get("/missing")
    assert (third.status, third.body) == (200, b"custom page")
    assert (e.calls("/missing"), e.calls("/errors/404.html")) == (2, 1)


@pytest.mark.parametrize("chunks", [0, 4], ids=["one-piece", "streamed"])
def test_body_shorter_than_content_length_is_not_cached(edge: MakeEdge, chunks: int) -> None:
    e = edge()
    e.route(
        "/short",
        headers={"Cache-Control": "max-age=60"},
        body=b"x" * 50,
        content_length=100,
        chunks=chunks,
    )
    e.get("/short")
    e.at(1)
    second = e.get("/short")
    assert (second.x_cache, e.calls("/short")) == (MISS, 2)


# -- methods, sizes ------------------------------------------------------------------------------


def test_post_is_never_cached_even_with_a_long_max_age(edge: MakeEdge) -> None:
    e = edge()
    e.route("/form", headers={"Cache-Control": "public, max-age=86400"}, body=b"posted")
    for n in (1, 2, 3):
        r = e.request("POST", "/form", body=b"x=1")
        assert (r.x_cache, r.body, e.calls("/form")) == (MISS, b"posted", n)


def test_head_miss_then_head_hit_after_get(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"x" * 1000)
    get = e.get("/a")
    assert (get.x_cache, len(get.body)) == (MISS, 1000)
    for _ in range(2):
        head = e.request("HEAD", "/a")
        assert (head.status, head.x_cache, head.body, e.calls("/a")) == (200, HIT, b"", 1)


@pytest.mark.parametrize("chunks", [0, 16], ids=["one-piece", "streamed"])
@pytest.mark.parametrize("size", [41 * 1024, 2 * 1024 * 1024], ids=["41KB", "2MB"])
def test_large_objects_cached_and_served_whole(edge: MakeEdge, size: int, chunks: int) -> None:
    e = edge()
    body = bytes(range(256)) * (size // 256) + b"!" * (size % 256)
    e.route("/big", headers={"Cache-Control": "max-age=60"}, body=body, chunks=chunks)
    miss = e.get("/big")
    hit = e.get("/big")
    assert (miss.x_cache, hit.x_cache, e.calls("/big")) == (MISS, HIT, 1)
    assert miss.body == body and hit.body == body
    assert hit.header("content-length") == str(size)


@pytest.mark.parametrize("chunks", [0, 16], ids=["one-piece", "streamed"])
def test_object_over_max_object_bytes_is_served_but_not_cached(edge: MakeEdge, chunks: int) -> None:
    e = edge(settings=EdgeSettings(max_object_bytes=64 * 1024))
    body = b"0123456789abcdef" * (100 * 1024 // 16)
    e.route("/big", headers={"Cache-Control": "max-age=60"}, body=body, chunks=chunks)
    for n in (1, 2):
        r = e.get("/big")
        assert (r.status, r.x_cache, e.calls("/big")) == (200, MISS, n)
        assert r.body == body
    e.route("/small", headers={"Cache-Control": "max-age=60"}, body=body[: 32 * 1024])
    assert [e.get("/small").x_cache for _ in range(2)] == [MISS, HIT]


# -- issue 15: ranges, Age lists, If-Modified-Since dates, Authorization, Vary under an ORP ------

OBJECT = b"0123456789abcdef"


@pytest.mark.parametrize(
    ("first", "second", "content_range"),
    [
        pytest.param("bytes=0-4", "bytes=5-9", "bytes 0-4/16", id="D34-first-bytes"),
        pytest.param("bytes=12-", "bytes=0-1", "bytes 12-15/16", id="D34-open-ended"),
        pytest.param("bytes=3-100", "bytes=3-4", "bytes 3-15/16", id="D34-past-the-end"),
    ],
)
def test_D34_a_206_is_cached_for_its_own_range(
    edge: MakeEdge, first: str, second: str, content_range: str
) -> None:
    """caching.md §1.14 and decisions.md #34 (AWS "range GETs": an origin that supports ranges
    "returns the requested range. CloudFront serves the requested range and also caches it for
    future requests"). A stored 206 answers only a Range for its own bytes, never a full GET."""
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=OBJECT, ranges=True)
    start, _, end = content_range[6:].partition("/")[0].partition("-")
    part = OBJECT[int(start) : int(end) + 1]
    for want, calls in ((MISS, 1), (HIT, 1)):
        r = e.get("/a", {"Range": first})
        assert (r.status, r.x_cache, r.body, e.calls("/a")) == (206, want, part, calls)
        assert r.header("content-range") == content_range
    other = e.get("/a", {"Range": second})  # other bytes: asked of the origin
    assert (other.status, other.x_cache, e.calls("/a")) == (206, MISS, 2)
    full = e.get("/a")  # the partial object never answers a full GET
    assert (full.status, full.x_cache, full.body, e.calls("/a")) == (200, MISS, OBJECT, 3)
    cut = e.get("/a", {"Range": first})  # now cut from the stored 200
    assert (cut.status, cut.x_cache, cut.body, e.calls("/a")) == (206, HIT, part, 3)


@pytest.mark.parametrize(
    ("age", "steps"),
    [
        pytest.param("7200, 0", [(0, MISS, 1), (1, MISS, 2)], id="D31-old-first-member-stale"),
        pytest.param(
            "0, 7200", [(0, MISS, 1), (3599, HIT, 1), (3601, MISS, 2)], id="D31-zero-first-fresh"
        ),
        pytest.param(
            "600, 0", [(0, MISS, 1), (2999, HIT, 1), (3001, MISS, 2)], id="D31-first-subtracted"
        ),
        pytest.param(
            ["7200", "0"], [(0, MISS, 1), (1, MISS, 2)], id="D31-first-of-two-lines-stale"
        ),
        pytest.param(
            "abc, 7200",
            [(0, MISS, 1), (3599, HIT, 1), (3601, MISS, 2)],
            id="D33-malformed-first-member-absent",
        ),
    ],
)
def test_D31_origin_age_list_uses_its_first_member(
    edge: MakeEdge, age: str | list[str], steps: list[tuple[float, str, int]]
) -> None:
    """RFC 9111 §5.1, decisions.md #31: the origin's Age is subtracted from its max-age; an
    ``Age`` that arrives as a list is read by its first member (its first line when repeated)."""
    e = edge()
    ages = [age] if isinstance(age, str) else age
    e.route("/a", headers=[("Cache-Control", "max-age=3600"), *(("Age", a) for a in ages)])
    for t, want, calls in steps:
        e.at(t)
        r = e.get("/a")
        assert (t, r.status, r.x_cache, e.calls("/a")) == (t, 200, want, calls)


LAST_MODIFIED = "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize(
    ("since", "status"),
    [
        pytest.param(LAST_MODIFIED, 304, id="same-imf-fixdate"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", 304, id="same-instant-rfc850"),
        pytest.param("Sun Nov  6 08:49:37 1994", 304, id="same-instant-asctime"),
        pytest.param("Mon, 07 Nov 1994 00:00:00 GMT", 304, id="later-date"),
        pytest.param("Sun, 06 Nov 1994 08:49:36 GMT", 200, id="one-second-earlier"),
        pytest.param("Sat, 05 Nov 1994 08:49:37 GMT", 200, id="earlier-date"),
        pytest.param("yesterday", 200, id="not-a-date-ignored"),
    ],
)
def test_D37_if_modified_since_is_compared_as_a_date(
    edge: MakeEdge, since: str, status: int
) -> None:
    """RFC 9110 §13.1.3: If-Modified-Since is false (304) when the stored Last-Modified is at
    or before its date; HTTP-dates in any of the three forms (§5.6.7) compare as instants."""
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60", "Last-Modified": LAST_MODIFIED})
    assert e.get("/a").x_cache == MISS
    r = e.get("/a", {"If-Modified-Since": since})
    assert (r.status, r.x_cache, e.calls("/a")) == (status, HIT, 1)
    assert r.body == (b"" if status == 304 else b"ok")


ALL_VIEWER_HEADERS = OriginRequestPolicy(headers="allViewer")


@pytest.mark.parametrize(
    ("cache", "orp", "forwarded", "without_auth"),
    [
        pytest.param(CachePolicy(), ALL_VIEWER_HEADERS, True, HIT, id="all-viewer-cached-unkeyed"),
        pytest.param(
            CachePolicy(headers=("Authorization",)),
            None,
            True,
            MISS,
            id="keyed-users-kept-apart",
        ),
        pytest.param(CachePolicy(), None, False, HIT, id="not-forwarded-by-default"),
        pytest.param(CachePolicy(0, 0, 0), ALL_VIEWER_HEADERS, True, MISS, id="caching-disabled"),
    ],
)
def test_authorization_under_an_origin_request_policy(
    edge: MakeEdge,
    cache: CachePolicy,
    orp: OriginRequestPolicy | None,
    forwarded: bool,
    without_auth: str,
) -> None:
    """caching.md §1.5: Authorization reaches the origin only when keyed or when the ORP sends
    all viewer headers; CloudFront looks objects up by the cache key alone (AWS "Control origin
    requests with a policy"), so with AllViewer and caching on, the answer to ``Bearer alice``
    is a Hit for a request without credentials. ``cache.rules.authorization_cache_warning``
    reports that combination."""
    e = edge(cache=cache, origin_request_policy=orp)
    e.route("/a", headers={"Cache-Control": "max-age=60"}, body=b"alice's page")
    alice = e.get("/a", {"Authorization": "Bearer alice"})
    assert (alice.x_cache, e.calls("/a")) == (MISS, 1)
    seen = e.origin.received("/a").header("authorization")
    assert seen == ("Bearer alice" if forwarded else None)
    anonymous = e.get("/a")
    assert anonymous.x_cache == without_auth
    assert e.calls("/a") == (1 if without_auth == HIT else 2)


@pytest.mark.parametrize(
    ("orp", "kept"),
    [
        pytest.param(None, [], id="not-forwarded-dropped"),
        pytest.param(
            OriginRequestPolicy(headers="whitelist", header_names=("Accept-Language",)),
            ["Accept-Language"],
            id="orp-forwarded-kept",
        ),
        pytest.param(
            OriginRequestPolicy(headers="allViewer"),
            ["Accept-Language, X-Custom"],
            id="all-viewer-kept",
        ),
        pytest.param(
            OriginRequestPolicy(headers="allExcept", header_names=("x-custom",)),
            ["Accept-Language"],
            id="all-except-drops-the-excepted",
        ),
    ],
)
def test_C25_vary_keeps_names_the_origin_request_policy_forwards(
    edge: MakeEdge, orp: OriginRequestPolicy | None, kept: list[str]
) -> None:
    """caching.md §1.6 (AWS "Request and response behavior for custom origins", Vary: with
    headers forwarded to the origin, "CloudFront returns the Vary header with those values to
    the viewer"; other values are removed). An ORP forwards headers as a cache policy does, so
    its names are kept, while the key, and so the single cached object, does not change."""
    e = edge(origin_request_policy=orp)
    e.route("/a", headers={"Cache-Control": "max-age=60", "Vary": "Accept-Language, X-Custom"})
    en = e.get("/a", {"Accept-Language": "en", "X-Custom": "1"})
    fr = e.get("/a", {"Accept-Language": "fr", "X-Custom": "2"})
    assert (en.x_cache, fr.x_cache, e.calls("/a")) == (MISS, HIT, 1)
    for r in (en, fr):
        assert r.all("vary") == kept
