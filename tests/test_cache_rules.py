"""Pure cache rules: TTL/storage decisions, keys, forwarding, Vary, collapsing, managed policies.

Scenario ids (C03...) refer to caching.md §5; decision numbers (#29...) to decisions.md.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_middleware.cache.managed import (
    ALL_VIEWER,
    ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
    ALL_VIEWER_EXCEPT_HOST_HEADER,
    AMPLIFY,
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS,
    CORS_CUSTOM_ORIGIN,
    CORS_S3_ORIGIN,
    ELEMENTAL_MEDIAPACKAGE,
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
    managed_cache_policy,
    managed_origin_request_policy,
)
from edge_middleware.cache.rules import (
    ResponseCacheControl,
    authorization_cache_warning,
    authorization_cache_warnings,
    cache_key,
    collapsible,
    cookies_forwarded,
    decide_storage,
    filter_vary,
    forwarded_header_names,
    forwarded_to_origin,
    normalize_accept_encoding,
    not_modified_since,
    origin_age,
    parse_cache_control,
    stored_response_serves,
)
from edge_middleware.config.model import Behavior, CachePolicy, EdgeConfig, OriginRequestPolicy
from edge_middleware.config.settings import EdgeSettings
from edge_middleware.core.types import CFHeaders, CFRequest
from edge_middleware.exceptions import ConfigurationError

HOST = "d111.cloudfront.net"
S = EdgeSettings()
T0 = "Thu, 01 Jan 1970 00:00:00 GMT"
T100 = "Thu, 01 Jan 1970 00:01:40 GMT"
T120 = "Thu, 01 Jan 1970 00:02:00 GMT"
T160 = "Thu, 01 Jan 1970 00:02:40 GMT"
T300 = "Thu, 01 Jan 1970 00:05:00 GMT"
T3600 = "Thu, 01 Jan 1970 01:00:00 GMT"


def raw(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


def cfh(*pairs: tuple[str, str]) -> CFHeaders:
    out: CFHeaders = {}
    for k, v in pairs:
        out.setdefault(k.lower(), []).append({"key": k, "value": v})
    return out


def req(
    method: str = "GET", uri: str = "/a", qs: str = "", headers: Sequence[tuple[str, str]] = ()
) -> CFRequest:
    return {
        "clientIp": "203.0.113.1",
        "headers": cfh(*headers),
        "method": method,
        "querystring": qs,
        "uri": uri,
    }


def key(
    policy: CachePolicy,
    *,
    method: str = "GET",
    host: str = HOST,
    uri: str = "/a",
    qs: str = "",
    headers: Sequence[tuple[str, str]] = (),
    settings: EdgeSettings = S,
) -> str:
    return cache_key(
        method=method,
        host=host,
        uri=uri,
        querystring=qs,
        headers=cfh(*headers),
        policy=policy,
        settings=settings,
    )


# -- parse_cache_control --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([], ResponseCacheControl(), id="none"),
        pytest.param([""], ResponseCacheControl(), id="empty-line"),
        pytest.param(["no-cache"], ResponseCacheControl(no_cache=True), id="unqualified-no-cache"),
        pytest.param(
            ['no-cache="Set-Cookie", max-age=60'],
            ResponseCacheControl(max_age=60, no_cache_fields=("set-cookie",)),
            id="C22-qualified-no-cache",
        ),
        pytest.param(
            ['no-cache="Set-Cookie, X-Foo"'],
            ResponseCacheControl(no_cache_fields=("set-cookie", "x-foo")),
            id="qualified-two-fields-comma-in-quotes",
        ),
        pytest.param(
            ['no-cache="Set-Cookie"', "no-cache"],
            ResponseCacheControl(no_cache=True, no_cache_fields=("set-cookie",)),
            id="qualified-and-unqualified",
        ),
        pytest.param(
            ["max-age=10", "s-maxage=100"],
            ResponseCacheControl(max_age=10, s_maxage=100),
            id="several-lines",
        ),
        pytest.param(["Max-Age=5"], ResponseCacheControl(max_age=5), id="names-case-insensitive"),
        pytest.param(['max-age="60"'], ResponseCacheControl(max_age=60), id="quoted-digits"),
        pytest.param(["max-age=5, max-age=10"], ResponseCacheControl(max_age=5), id="first-wins"),
        pytest.param(["max-age=-1"], ResponseCacheControl(), id="negative-is-absent"),
        pytest.param(["max-age=1.5"], ResponseCacheControl(), id="fraction-is-absent"),
        pytest.param(["max-age=abc, max-age=7"], ResponseCacheControl(max_age=7), id="malformed"),
        pytest.param(["max-age"], ResponseCacheControl(), id="missing-value"),
        pytest.param(
            ["max-age=99999999999"], ResponseCacheControl(max_age=2147483648), id="capped-2-31"
        ),
        pytest.param(
            ["no-store, private, must-revalidate"],
            ResponseCacheControl(no_store=True, private=True, must_revalidate=True),
            id="flags",
        ),
        pytest.param(
            ['private="Set-Cookie"'], ResponseCacheControl(private=True), id="qualified-private"
        ),
        pytest.param(
            ["max-age=10, stale-while-revalidate=60, stale-if-error=0"],
            ResponseCacheControl(max_age=10, stale_while_revalidate=60, stale_if_error=0),
            id="stale-windows",
        ),
        pytest.param(
            [" public , , max-age = 20 ,immutable"],
            ResponseCacheControl(max_age=20),
            id="whitespace-and-empties",
        ),
    ],
)
def test_parse_cache_control(lines: list[str], expected: ResponseCacheControl) -> None:
    assert parse_cache_control(lines) == expected


# -- decide_storage -------------------------------------------------------------------------


def P(**kw: Any) -> CachePolicy:
    return CachePolicy(**kw)


# fmt: off
TTL_CASES = [
    # id, status, headers, policy, settings, now, store, ttl
    ("C03-s-maxage-beats-max-age", 200, [("Cache-Control", "max-age=10, s-maxage=100")],
     P(), S, 0.0, True, 100),
    ("C04-expires", 200, [("Expires", T120)], P(), S, 0.0, True, 120),
    ("C05-max-age-beats-expires", 200, [("Cache-Control", "max-age=30"), ("Expires", T3600)],
     P(), S, 0.0, True, 30),
    ("C06-default-ttl", 200, [], P(default_ttl=300), S, 0.0, True, 300),
    ("C07-max-ttl", 200, [("Cache-Control", "max-age=3600")], P(default_ttl=60, max_ttl=60), S,
     0.0, True, 60),
    ("C08-min-ttl", 200, [("Cache-Control", "max-age=10")], P(min_ttl=120), S, 0.0, True, 120),
    ("C09-no-store", 200, [("Cache-Control", "no-store")], P(), S, 0.0, False, 0),
    ("C09-private", 200, [("Cache-Control", "private, max-age=60")], P(), S, 0.0, False, 0),
    ("C10-min-ttl-overrides", 200, [("Cache-Control", "no-store, no-cache, private")],
     P(min_ttl=30), S, 0.0, True, 30),
    ("no-cache-min0-stored-stale", 200, [("Cache-Control", "no-cache")], P(), S, 0.0, True, 0),
    ("no-cache-min0-not-stored-#30", 200, [("Cache-Control", "no-cache")], P(),
     EdgeSettings(store_no_cache=False), 0.0, False, 0),
    ("no-cache-and-no-store", 200, [("Cache-Control", "no-cache, no-store")], P(), S, 0.0,
     False, 0),
    ("max-age-0", 200, [("Cache-Control", "max-age=0")], P(), S, 0.0, True, 0),
    ("s-maxage-0", 200, [("Cache-Control", "s-maxage=0, max-age=60")], P(), S, 0.0, True, 0),
    ("default-not-clamped-by-lifetime", 200, [("Cache-Control", "public")],
     P(min_ttl=5, default_ttl=50), S, 0.0, True, 50),
    ("expires-past", 200, [("Expires", T0)], P(), S, 50.0, True, 0),
    ("expires-invalid", 200, [("Expires", "0")], P(), S, 0.0, True, 0),
    ("expires-invalid-min-ttl", 200, [("Expires", "0")], P(min_ttl=7), S, 0.0, True, 7),
    # RFC 9110 §5.6.7's other two forms are dates; anything else is not (RFC 9111 §5.3: read as
    # the past), however a lenient parser would read it (cache-tests freshness-expires-invalid-*)
    ("expires-asctime", 200, [("Expires", "Thu Jan  1 00:02:00 1970")], P(), S, 0.0, True, 120),
    ("expires-letter-case", 200, [("Expires", "THU, 01 JAN 1970 00:02:00 gmt")], P(), S, 0.0,
     True, 120),
    ("expires-utc-not-gmt", 200, [("Expires", "Thu, 01 Jan 1970 00:02:00 UTC")], P(), S, 0.0,
     True, 0),
    ("expires-two-digit-year", 200, [("Expires", "Thu, 01 Jan 70 00:02:00 GMT")], P(), S, 0.0,
     True, 0),
    ("expires-no-comma", 200, [("Expires", "Thu 01 Jan 1970 00:02:00 GMT")], P(), S, 0.0, True, 0),
    ("expires-double-spaces", 200, [("Expires", "Thu, 01  Jan  1970 00:02:00 GMT")], P(), S, 0.0,
     True, 0),
    ("expires-dashes", 200, [("Expires", "Thu, 01-Jan-1970 00:02:00 GMT")], P(), S, 0.0, True, 0),
    ("expires-one-digit-hour", 200, [("Expires", "Thu, 01 Jan 1970 0:02:00 GMT")], P(), S, 0.0,
     True, 0),
    ("expires-no-such-day", 200, [("Expires", "Thu, 31 Feb 1970 00:02:00 GMT")], P(), S, 0.0,
     True, 0),
    ("expires-edge-clock-#29", 200, [("Date", T100), ("Expires", T160)], P(), S, 0.0, True, 160),
    ("expires-origin-date-#29", 200, [("Date", T100), ("Expires", T160)], P(),
     EdgeSettings(expires_against="origin-date"), 0.0, True, 60),
    ("expires-fractional-now", 200, [("Expires", T120)], P(), S, 0.5, True, 119.5),
    ("age-subtracted-#31", 200, [("Cache-Control", "max-age=100"), ("Age", "30")], P(), S, 0.0,
     True, 70),
    ("age-beyond-lifetime", 200, [("Cache-Control", "max-age=10"), ("Age", "30")], P(), S, 0.0,
     True, 0),
    ("age-then-min-ttl", 200, [("Cache-Control", "max-age=100"), ("Age", "90")], P(min_ttl=20),
     S, 0.0, True, 20),
    ("age-kept-#31", 200, [("Cache-Control", "max-age=100"), ("Age", "30")], P(),
     EdgeSettings(subtract_origin_age=False), 0.0, True, 100),
    ("age-not-for-edge-expires", 200, [("Expires", T120), ("Age", "30")], P(), S, 0.0, True, 120),
    ("age-malformed", 200, [("Cache-Control", "max-age=100"), ("Age", "-3")], P(), S, 0.0, True,
     100),
    ("malformed-max-age-#33", 200, [("Cache-Control", "max-age=-1")], P(default_ttl=40), S, 0.0,
     True, 40),
    ("malformed-falls-to-expires", 200, [("Cache-Control", "max-age=x"), ("Expires", T120)], P(),
     S, 0.0, True, 120),
    ("301-default", 301, [], P(default_ttl=30), S, 0.0, True, 30),
    ("206-cached", 206, [("Cache-Control", "max-age=5")], P(), S, 0.0, True, 5),
    ("201-#34", 201, [("Cache-Control", "max-age=60")], P(), S, 0.0, False, 0),
    ("204-#34", 204, [("Cache-Control", "max-age=60")], P(), S, 0.0, False, 0),
    ("204-configured", 204, [("Cache-Control", "max-age=60")], P(),
     EdgeSettings(cacheable_statuses=frozenset({200, 204})), 0.0, True, 60),
    ("307-without-cc", 307, [("Expires", T120)], P(), S, 0.0, False, 0),
    ("307-with-cc", 307, [("Cache-Control", "max-age=5")], P(), S, 0.0, True, 5),
    ("308-with-cc-no-lifetime", 308, [("Cache-Control", "public")], P(default_ttl=9), S, 0.0,
     True, 9),
    ("caching-disabled", 200, [("Cache-Control", "max-age=60")], CACHING_DISABLED, S, 0.0, False,
     0),
    # errors (caching.md §1.4)
    ("C29-404-ecmt", 404, [], P(), S, 0.0, True, 10),
    ("C30-404-max-age", 404, [("Cache-Control", "max-age=300")], P(), S, 0.0, True, 300),
    ("C30-404-max-ttl", 404, [("Cache-Control", "max-age=300")], P(default_ttl=60, max_ttl=60),
     S, 0.0, True, 60),
    ("404-expires-lifetime", 404, [("Expires", T300)], P(), S, 0.0, True, 300),
    ("404-min-ttl-not-applied", 404, [], P(min_ttl=100), S, 0.0, True, 10),
    ("C31-403-no-cc", 403, [], P(), S, 0.0, False, 0),
    ("C31-403-max-age", 403, [("Cache-Control", "max-age=60")], P(), S, 0.0, True, 60),
    ("403-s-maxage", 403, [("Cache-Control", "s-maxage=30")], P(), S, 0.0, True, 30),
    ("403-short-max-age", 403, [("Cache-Control", "max-age=3")], P(), S, 0.0, True, 10),
    ("400-expires-only", 400, [("Expires", T300)], P(), S, 0.0, False, 0),
    ("405-no-store-ignored", 405, [("Cache-Control", "no-store, max-age=20")], P(), S, 0.0, True,
     20),
    ("C31-401", 401, [("Cache-Control", "max-age=60")], P(), S, 0.0, False, 0),
    ("C31-429", 429, [("Cache-Control", "max-age=60")], P(), S, 0.0, False, 0),
    ("C31-416", 416, [("Cache-Control", "max-age=60")], P(), S, 0.0, False, 0),
    ("409-never", 409, [], P(), S, 0.0, False, 0),
    ("C32-404-no-store", 404, [("Cache-Control", "no-store")], P(), S, 0.0, False, 0),
    ("C32-503-no-store-ignored", 503, [("Cache-Control", "no-store")], P(), S, 0.0, True, 10),
    ("500-no-cache-ignored", 500, [("Cache-Control", "no-cache")], P(), S, 0.0, True, 10),
    ("414-private", 414, [("Cache-Control", "private")], P(), S, 0.0, False, 0),
    ("501-no-cache", 501, [("Cache-Control", "no-cache")], P(), S, 0.0, False, 0),
    ("410-cached-#35", 410, [], P(), S, 0.0, True, 10),
    ("410-no-store-#35", 410, [("Cache-Control", "no-store")], P(), S, 0.0, False, 0),
    ("410-off-#35", 410, [], P(), EdgeSettings(cache_410=False), 0.0, False, 0),
    ("502-setting-ecmt", 502, [], P(), EdgeSettings(error_caching_min_ttl=300), 0.0, True, 300),
]
# fmt: on


@pytest.mark.parametrize(
    ("status", "headers", "policy", "settings", "now", "store", "ttl"),
    [pytest.param(*case[1:], id=case[0]) for case in TTL_CASES],
)
def test_decide_storage_ttl(
    status: int,
    headers: list[tuple[str, str]],
    policy: CachePolicy,
    settings: EdgeSettings,
    now: float,
    store: bool,
    ttl: float,
) -> None:
    d = decide_storage(status, raw(*headers), policy, settings, now)
    assert (d.store, d.ttl) == (store, ttl), d.reason
    assert d.reason


@pytest.mark.parametrize(
    ("ecmt", "headers", "store", "ttl"),
    [
        pytest.param(120, [("Cache-Control", "max-age=30")], True, 120, id="C30-ecmt-wins"),
        pytest.param(120, [("Cache-Control", "max-age=300")], True, 300, id="header-wins"),
        pytest.param(0, [], False, 0, id="ecmt-0-not-cached"),
        pytest.param(0, [("Cache-Control", "max-age=30")], True, 30, id="ecmt-0-header"),
    ],
)
def test_decide_storage_error_caching_min_ttl(
    ecmt: int, headers: list[tuple[str, str]], store: bool, ttl: float
) -> None:
    d = decide_storage(404, raw(*headers), P(), S, 0.0, error_caching_min_ttl=ecmt)
    assert (d.store, d.ttl) == (store, ttl), d.reason


@pytest.mark.parametrize(
    ("status", "headers", "policy", "reason"),
    [
        pytest.param(
            200,
            [("Cache-Control", "s-maxage=100")],
            P(default_ttl=60, max_ttl=60),
            "s-maxage=100 clamped to MaxTTL 60",
            id="clamped",
        ),
        pytest.param(
            200, [("Cache-Control", "no-store")], P(), "no-store and MinTTL 0: not stored", id="ns"
        ),
        pytest.param(404, [], P(), "404 cached for ErrorCachingMinTTL 10", id="ecmt"),
        pytest.param(
            200, [], P(default_ttl=300), "no lifetime from the origin: DefaultTTL 300", id="dflt"
        ),
    ],
)
def test_decide_storage_reason(
    status: int, headers: list[tuple[str, str]], policy: CachePolicy, reason: str
) -> None:
    assert decide_storage(status, raw(*headers), policy, S, 0.0).reason == reason


def test_c22_qualified_no_cache_is_cached_without_set_cookie() -> None:
    d = decide_storage(
        200,
        raw(("Cache-Control", 'no-cache="Set-Cookie", max-age=60'), ("Set-Cookie", "t=1")),
        P(cookies="all"),
        S,
        0.0,
    )
    assert (d.store, d.ttl, d.strip_set_cookie) == (True, 60, True)
    plain = decide_storage(200, raw(("Cache-Control", "max-age=60")), P(), S, 0.0)
    assert plain.strip_set_cookie is False


@pytest.mark.parametrize(
    ("cc", "policy", "settings", "swr", "sie"),
    [
        pytest.param("max-age=10", P(), S, None, None, id="none"),
        pytest.param(
            "max-age=10, stale-while-revalidate=60, stale-if-error=120", P(), S, 60, 120, id="C35"
        ),
        pytest.param(
            "max-age=10, stale-while-revalidate=60, stale-if-error=0", P(), S, 60, 0, id="sie-0"
        ),
        pytest.param(
            "max-age=10, stale-while-revalidate=600",
            P(default_ttl=30, max_ttl=30),
            S,
            600,
            None,
            id="unbounded-#40",
        ),
        pytest.param(
            "max-age=10, stale-while-revalidate=600, stale-if-error=1",
            P(min_ttl=5, default_ttl=30, max_ttl=30),
            EdgeSettings(ttl_bounds_stale_windows=True),
            30,
            5,
            id="bounded-#40",
        ),
        pytest.param(
            "max-age=10, must-revalidate, stale-while-revalidate=60, stale-if-error=60",
            P(),
            S,
            60,
            60,
            id="must-revalidate-#41",
        ),
        pytest.param(
            "max-age=10, must-revalidate, stale-while-revalidate=60",
            P(),
            EdgeSettings(must_revalidate_suppresses_stale=True),
            None,
            0,
            id="must-revalidate-suppresses-#41",
        ),
        pytest.param(
            "s-maxage=10, stale-while-revalidate=60, stale-if-error=60",
            P(),
            EdgeSettings(must_revalidate_suppresses_stale=True),
            None,
            0,
            id="s-maxage-suppresses-#41",
        ),
        pytest.param(
            "s-maxage=10, stale-if-error=60", P(), S, None, 60, id="s-maxage-by-default-#41"
        ),
    ],
)
def test_decide_storage_stale_windows(
    cc: str, policy: CachePolicy, settings: EdgeSettings, swr: int | None, sie: int | None
) -> None:
    d = decide_storage(200, raw(("Cache-Control", cc)), policy, settings, 0.0)
    assert (d.stale_while_revalidate, d.stale_if_error) == (swr, sie)


@pytest.mark.parametrize(
    ("vary", "policy", "no_conditional"),
    [
        pytest.param("*", P(), True, id="C26-star-min0"),
        pytest.param("Accept-Encoding, *", P(), True, id="star-in-list"),
        pytest.param("*", P(min_ttl=5), False, id="star-min5"),
        pytest.param("Accept-Encoding", P(), False, id="no-star"),
    ],
)
def test_decide_storage_vary_star(vary: str, policy: CachePolicy, no_conditional: bool) -> None:
    d = decide_storage(
        200, raw(("Cache-Control", "max-age=60"), ("ETag", '"v1"'), ("Vary", vary)), policy, S, 0
    )
    assert d.store
    assert d.no_conditional is no_conditional


# -- cache keys -----------------------------------------------------------------------------

QS_WL = P(query_strings="whitelist", query_string_names=("color",))
QS_ALL = P(query_strings="all")
QS_EXCEPT = P(query_strings="allExcept", query_string_names=("utm_source",))
H_AL = P(headers=("Accept-Language",))
H_TWO = P(headers=("x-b", "x-a"))
C_WL = P(cookies="whitelist", cookie_names=("session",))
C_ALL = P(cookies="all")
AE = P(enable_accept_encoding_gzip=True, enable_accept_encoding_brotli=True)

# fmt: off
KEY_CASES: list[Any] = [
    # id, policy, request a, request b, equal?
    ("C15-qs-none", P(), {"qs": "x=1"}, {"qs": "x=2"}, True),
    ("C15-qs-none-vs-absent", P(), {"qs": "x=1"}, {}, True),
    ("C16-whitelist-order", QS_WL, {"qs": "color=red&size=L"}, {"qs": "size=M&color=red"}, True),
    ("C16-value-case", QS_WL, {"qs": "color=red"}, {"qs": "color=Red"}, False),
    ("C16-name-case", QS_WL, {"qs": "color=red"}, {"qs": "Color=red"}, False),
    ("C17-order-matters", QS_ALL, {"qs": "a=1&b=2"}, {"qs": "b=2&a=1"}, False),
    ("C17-semicolon-one-param", QS_ALL, {"qs": "a=1;b=2"}, {"qs": "a=1&b=2"}, False),
    ("C17-semicolon-whitelist", P(query_strings="whitelist", query_string_names=("a",)),
     {"qs": "a=1;b=2"}, {"qs": "a=1"}, False),
    ("C17-semicolon-b-not-a-param", P(query_strings="whitelist", query_string_names=("b",)),
     {"qs": "a=1;b=2"}, {"qs": ""}, True),
    ("C18-all-except", QS_EXCEPT, {"qs": "id=1&utm_source=x"}, {"qs": "id=1&utm_source=y"}, True),
    ("C18-all-except-other", QS_EXCEPT, {"qs": "id=1"}, {"qs": "id=2"}, False),
    ("#42-a-vs-a=", QS_ALL, {"qs": "a"}, {"qs": "a="}, False),
    ("#42-percent", QS_ALL, {"qs": "a=%7e"}, {"qs": "a=~"}, False),
    ("#42-repeats", QS_ALL, {"qs": "a=1&a=1"}, {"qs": "a=1"}, False),
    ("C19-en-fr", H_AL, {"headers": [("Accept-Language", "en")]},
     {"headers": [("Accept-Language", "fr")]}, False),
    ("C19-name-case", H_AL, {"headers": [("Accept-Language", "en")]},
     {"headers": [("accept-language", "en")]}, True),
    ("C19-value-case", H_AL, {"headers": [("accept-language", "en")]},
     {"headers": [("accept-language", "EN")]}, False),
    ("C19-absent-vs-empty", H_AL, {"headers": []}, {"headers": [("Accept-Language", "")]}, False),
    ("C19-unlisted-ignored", H_AL, {"headers": [("Accept-Language", "en"), ("X-Other", "1")]},
     {"headers": [("Accept-Language", "en"), ("X-Other", "2")]}, True),
    ("header-order-irrelevant", H_TWO, {"headers": [("X-A", "1"), ("X-B", "2")]},
     {"headers": [("X-B", "2"), ("X-A", "1")]}, True),
    ("header-values-not-swapped", H_TWO, {"headers": [("X-A", "1"), ("X-B", "2")]},
     {"headers": [("X-A", "2"), ("X-B", "1")]}, False),
    ("C20-cookies-none", P(), {"headers": [("Cookie", "a=1")]}, {"headers": [("Cookie", "a=2")]},
     True),
    ("C21-session-differs", C_WL, {"headers": [("Cookie", "session=a")]},
     {"headers": [("Cookie", "session=b")]}, False),
    ("C21-other-cookie-ignored", C_WL, {"headers": [("Cookie", "session=a; t=1")]},
     {"headers": [("Cookie", "t=2; session=a")]}, True),
    ("C21-no-cookie-vs-other", C_WL, {"headers": []}, {"headers": [("Cookie", "t=2")]}, True),
    ("cookie-value-case", C_ALL, {"headers": [("Cookie", "a=x")]},
     {"headers": [("Cookie", "a=X")]}, False),
    ("cookie-sorted", C_ALL, {"headers": [("Cookie", "b=2; a=1")]},
     {"headers": [("Cookie", "a=1; b=2")]}, True),
    ("cookie-lines", C_ALL, {"headers": [("Cookie", "b=2"), ("Cookie", "a=1")]},
     {"headers": [("Cookie", "a=1; b=2")]}, True),
    ("cookie-malformed-dropped", C_ALL, {"headers": [("Cookie", "junk; a=1; =x; b c=2")]},
     {"headers": [("Cookie", "a=1")]}, True),
    ("cookie-all-except", P(cookies="allExcept", cookie_names=("_ga",)),
     {"headers": [("Cookie", "_ga=1; s=1")]}, {"headers": [("Cookie", "_ga=2; s=1")]}, True),
    ("C23-ae-normalised", AE, {"headers": [("Accept-Encoding", "gzip, deflate, br")]},
     {"headers": [("Accept-Encoding", "br, gzip")]}, True),
    ("C23-gzip-separate", AE, {"headers": [("Accept-Encoding", "gzip")]},
     {"headers": [("Accept-Encoding", "br, gzip")]}, False),
    ("C23-deflate-no-ae", AE, {"headers": [("Accept-Encoding", "deflate")]}, {"headers": []},
     True),
    ("ae-off-not-keyed", P(), {"headers": [("Accept-Encoding", "gzip")]}, {"headers": []}, True),
    ("ae-q0-#36", AE, {"headers": [("Accept-Encoding", "gzip;q=0, br")]},
     {"headers": [("Accept-Encoding", "br")]}, True),
    ("get-head-share", P(), {"method": "GET"}, {"method": "HEAD"}, True),
    ("options-apart", P(), {"method": "GET"}, {"method": "OPTIONS"}, False),
    # as the origin gets it: an app that answers by Host could tell them apart (keysec hunt)
    ("host-as-given", P(), {"host": "D111.CloudFront.net"}, {"host": HOST}, False),
    ("host-differs", P(), {"host": "a.example"}, {"host": "b.example"}, False),
    ("uri-case", P(), {"uri": "/a"}, {"uri": "/A"}, False),
    ("inject-uri-vs-qs", QS_ALL, {"uri": "/a|qs:x=1", "qs": ""}, {"uri": "/a", "qs": "x=1"},
     False),
    ("inject-host-vs-uri", P(), {"host": "h|/a", "uri": "/b"}, {"host": "h", "uri": "/a|/b"},
     False),
    ("inject-header-value", H_TWO, {"headers": [("X-A", "1|h:x-b=2")]},
     {"headers": [("X-A", "1"), ("X-B", "2")]}, False),
    ("inject-backslash", QS_ALL, {"qs": "a=\\|"}, {"qs": "a=|"}, False),
    ("inject-cookie", C_ALL, {"headers": [("Cookie", "a=1|c:b=2")]},
     {"headers": [("Cookie", "a=1; b=2")]}, False),
]
# fmt: on


@pytest.mark.parametrize(
    ("policy", "a", "b", "equal"), [pytest.param(*c[1:], id=c[0]) for c in KEY_CASES]
)
def test_cache_key_equality(
    policy: CachePolicy, a: dict[str, Any], b: dict[str, Any], equal: bool
) -> None:
    ka, kb = key(policy, **a), key(policy, **b)
    assert (ka == kb) is equal, (ka, kb)


@pytest.mark.parametrize(
    ("policy", "request_kw", "expected"),
    [
        pytest.param(P(), {}, f"{HOST}|/a", id="default"),
        pytest.param(P(), {"method": "OPTIONS"}, f"{HOST}|/a|m:OPTIONS", id="options"),
        pytest.param(QS_ALL, {}, f"{HOST}|/a|qs:", id="qs-present-but-empty"),
        pytest.param(H_AL, {}, f"{HOST}|/a|h:accept-language", id="header-absent"),
        pytest.param(
            H_AL, {"headers": [("Accept-Language", "")]}, f"{HOST}|/a|h:accept-language=", id="emp"
        ),
        pytest.param(
            P(
                query_strings="whitelist",
                query_string_names=("color",),
                headers=("accept-language",),
                cookies="whitelist",
                cookie_names=("session",),
                enable_accept_encoding_gzip=True,
                enable_accept_encoding_brotli=True,
            ),
            {
                "uri": "/a.jpg",
                "qs": "size=L&color=red",
                "headers": [
                    ("Cookie", "t=1; session=b"),
                    ("Accept-Encoding", "gzip, deflate, br"),
                    ("Accept-Language", "en"),
                ],
            },
            f"{HOST}|/a.jpg|qs:color=red|h:accept-language=en|c:session=b|ae:br,gzip",
            id="readable",
        ),
        pytest.param(
            H_TWO,
            {"headers": [("X-B", "2"), ("X-A", "1"), ("X-A", "3")]},
            f"{HOST}|/a|h:x-a=1,3|h:x-b=2",
            id="sorted-and-repeats-joined",
        ),
        pytest.param(QS_ALL, {"qs": "a=|"}, f"{HOST}|/a|qs:a=\\|", id="escaped"),
    ],
)
def test_cache_key_format(policy: CachePolicy, request_kw: dict[str, Any], expected: str) -> None:
    assert key(policy, **request_kw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("a=%7e", "a=~", id="percent-unreserved"),
        pytest.param("a=%2f", "a=%2F", id="percent-hex-case"),
        pytest.param("a", "a=", id="a-vs-a="),
        pytest.param("a=1&&b=2", "a=1&b=2", id="empty-param"),
    ],
)
def test_cache_key_canonicalize_query(a: str, b: str) -> None:
    on = EdgeSettings(canonicalize_query=True)
    assert key(QS_ALL, qs=a, settings=on) == key(QS_ALL, qs=b, settings=on)
    assert key(QS_ALL, qs=a) != key(QS_ALL, qs=b)
    assert key(QS_ALL, qs="b=1&a=1", settings=on) != key(QS_ALL, qs="a=1&b=1", settings=on)


# -- Accept-Encoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "gzip", "br", "settings", "expected"),
    [
        pytest.param(None, True, True, S, None, id="absent"),
        pytest.param("gzip, deflate, br", True, True, S, "br,gzip", id="both"),
        pytest.param("br, gzip", True, True, S, "br,gzip", id="both-other-order"),
        pytest.param("gzip, deflate, br", True, False, S, "gzip", id="gzip-only-enabled"),
        pytest.param("gzip, deflate, br", False, True, S, "br", id="br-only-enabled"),
        pytest.param("gzip, br", False, False, S, None, id="disabled"),
        pytest.param("deflate", True, True, S, None, id="neither-listed"),
        pytest.param("", True, True, S, None, id="empty"),
        pytest.param("GZIP", True, True, S, "gzip", id="case-insensitive"),
        pytest.param("*", True, True, S, None, id="star-not-counted"),
        pytest.param("gzip;q=0, br", True, True, S, "br", id="q0-excluded"),
        pytest.param("br;q=0.000", True, True, S, None, id="q0.000-excluded"),
        pytest.param("gzip;q=0.5", True, True, S, "gzip", id="q-ignored"),
        pytest.param("gzip;q=bad", True, True, S, "gzip", id="q-malformed"),
        pytest.param(
            "gzip;q=0, br",
            True,
            True,
            EdgeSettings(accept_encoding_q_zero_excludes=False),
            "br,gzip",
            id="q0-counted-#36",
        ),
    ],
)
def test_normalize_accept_encoding(
    value: str | None, gzip: bool, br: bool, settings: EdgeSettings, expected: str | None
) -> None:
    policy = P(enable_accept_encoding_gzip=gzip, enable_accept_encoding_brotli=br)
    assert normalize_accept_encoding(value, policy, settings) == expected


# -- forwarding to the origin ---------------------------------------------------------------


def fwd(
    policy: CachePolicy,
    orp: OriginRequestPolicy | None = None,
    *,
    method: str = "GET",
    qs: str = "",
    headers: Sequence[tuple[str, str]] = (),
    cacheable: bool = True,
) -> tuple[str, CFHeaders]:
    return forwarded_to_origin(
        req(method, qs=qs, headers=headers), policy, orp, S, cacheable=cacheable
    )


@pytest.mark.parametrize(
    ("policy", "orp", "qs", "expected"),
    [
        pytest.param(P(), None, "x=1", "", id="C15-none"),
        pytest.param(QS_WL, None, "size=L&color=red", "color=red", id="C16-whitelist"),
        pytest.param(QS_ALL, None, "b=2&a=1;c", "b=2&a=1;c", id="C17-all-raw"),
        pytest.param(QS_EXCEPT, None, "id=1&utm_source=x", "id=1", id="C18-all-except"),
        pytest.param(
            P(query_strings="whitelist", query_string_names=("a",)),
            OriginRequestPolicy(query_strings="whitelist", query_string_names=("b",)),
            "c=3&b=2&a=1",
            "b=2&a=1",
            id="union-of-whitelists",
        ),
        pytest.param(P(), OriginRequestPolicy(query_strings="all"), "x=1&y", "x=1&y", id="orp-all"),
        pytest.param(
            P(query_strings="allExcept", query_string_names=("x",)),
            OriginRequestPolicy(query_strings="whitelist", query_string_names=("x",)),
            "x=1&y=2",
            "x=1&y=2",
            id="orp-allow-overrides-cp-block",
        ),
        pytest.param(
            P(query_strings="whitelist", query_string_names=("x",)),
            OriginRequestPolicy(query_strings="allExcept", query_string_names=("x",)),
            "x=1&y=2",
            "x=1&y=2",
            id="cp-allow-overrides-orp-block",
        ),
        pytest.param(
            P(query_strings="allExcept", query_string_names=("x",)),
            OriginRequestPolicy(query_strings="allExcept", query_string_names=("x", "y")),
            "x=1&y=2&z=3",
            "y=2&z=3",
            id="two-block-lists",
        ),
        pytest.param(QS_WL, None, "", "", id="empty"),
    ],
)
def test_forwarded_querystring(
    policy: CachePolicy, orp: OriginRequestPolicy | None, qs: str, expected: str
) -> None:
    assert fwd(policy, orp, qs=qs)[0] == expected


def values(headers: CFHeaders) -> dict[str, list[str]]:
    return {k: [e["value"] for e in v] for k, v in headers.items()}


@pytest.mark.parametrize(
    ("policy", "orp", "method", "cacheable", "headers", "expected"),
    [
        pytest.param(
            H_AL,
            None,
            "GET",
            True,
            [("Accept-Language", "en"), ("Authorization", "Bearer x"), ("Accept", "*/*")],
            {"accept-language": ["en"]},
            id="C19-get-no-authorization",
        ),
        pytest.param(
            H_AL,
            None,
            "POST",
            False,
            [("Accept-Language", "en"), ("Authorization", "Bearer x")],
            {"accept-language": ["en"], "authorization": ["Bearer x"]},
            id="C19-post-authorization",
        ),
        pytest.param(
            P(headers=("authorization",)),
            None,
            "GET",
            True,
            [("Authorization", "Bearer x")],
            {"authorization": ["Bearer x"]},
            id="authorization-in-key",
        ),
        pytest.param(
            P(),
            ALL_VIEWER,
            "GET",
            True,
            [("Authorization", "Bearer x"), ("Accept", "*/*")],
            {"authorization": ["Bearer x"], "accept": ["*/*"]},
            id="authorization-all-viewer",
        ),
        # (Authorization listed in an origin request policy is refused when the policy is made:
        # tests/test_published_config_fixes.py)
        pytest.param(
            P(),
            None,
            "GET",
            True,
            [("Cookie", "a=1"), ("Accept", "*/*")],
            {},
            id="C20-no-cookie",
        ),
        pytest.param(
            C_WL,
            None,
            "GET",
            True,
            [("Cookie", "t=1; session=b")],
            {"cookie": ["session=b"]},
            id="C21-whitelisted-cookie-only",
        ),
        pytest.param(
            C_WL, None, "GET", True, [("Cookie", "t=1")], {}, id="C21-no-whitelisted-cookie"
        ),
        pytest.param(
            C_ALL,
            None,
            "GET",
            True,
            [("Cookie", "b=2; junk; a=1"), ("Cookie", "c=3")],
            {"cookie": ["a=1; b=2; c=3"]},
            id="cookies-rebuilt-sorted",
        ),
        pytest.param(
            P(cookies="whitelist", cookie_names=("a",)),
            OriginRequestPolicy(cookies="whitelist", cookie_names=("c",)),
            "GET",
            True,
            [("Cookie", "c=3; b=2; a=1")],
            {"cookie": ["a=1; c=3"]},
            id="cookies-union",
        ),
        pytest.param(
            AE,
            None,
            "GET",
            True,
            [("Accept-Encoding", "gzip, deflate, br")],
            {"accept-encoding": ["br,gzip"]},
            id="C23-normalised",
        ),
        pytest.param(
            AE,
            None,
            "GET",
            True,
            [("Accept-Encoding", "deflate")],
            {"accept-encoding": ["identity"]},
            id="C23-identity",
        ),
        pytest.param(AE, None, "GET", True, [], {}, id="C23-absent"),
        pytest.param(
            P(), None, "GET", True, [("Accept-Encoding", "gzip")], {}, id="ae-off-not-forwarded"
        ),
        pytest.param(
            P(headers=("accept-encoding",)),
            None,
            "GET",
            True,
            [("Accept-Encoding", "gzip, deflate")],
            {"accept-encoding": ["gzip, deflate"]},
            id="ae-off-whitelisted",
        ),
        pytest.param(
            P(),
            ALL_VIEWER,
            "GET",
            True,
            [("Accept-Encoding", "gzip, deflate")],
            {"accept-encoding": ["gzip, deflate"]},
            id="ae-off-orp",
        ),
        pytest.param(
            P(),
            None,
            "GET",
            True,
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", "3"),
                ("Content-MD5", "x"),
                ("Range", "bytes=0-9"),
                ("If-Match", '"a"'),
                ("If-Range", '"a"'),
                ("If-Unmodified-Since", T0),
                ("Transfer-Encoding", "chunked"),
                ("If-None-Match", '"a"'),
                ("If-Modified-Since", T0),
                ("Accept", "*/*"),
            ],
            {
                "content-type": ["text/plain"],
                "content-length": ["3"],
                "content-md5": ["x"],
                "range": ["bytes=0-9"],
                "if-match": ['"a"'],
                "if-range": ['"a"'],
                "if-unmodified-since": [T0],
                "transfer-encoding": ["chunked"],
            },
            id="always-forwarded-cacheable",
        ),
        pytest.param(
            P(),
            None,
            "GET",
            False,
            [("If-None-Match", '"a"'), ("If-Modified-Since", T0)],
            {"if-none-match": ['"a"'], "if-modified-since": [T0]},
            id="conditionals-when-not-cacheable",
        ),
        pytest.param(
            P(),
            ALL_VIEWER,
            "GET",
            True,
            [
                ("Connection", "keep-alive"),
                ("Keep-Alive", "5"),
                ("Expect", "100-continue"),
                ("Proxy-Authorization", "x"),
                ("Proxy-Connection", "x"),
                ("TE", "trailers"),
                ("Trailer", "x"),
                ("Upgrade", "h2c"),
                ("X-Real-IP", "1.2.3.4"),
                ("X-Forwarded-Proto", "https"),
                ("Host", "example.com"),
                ("X-Amz-Cf-Id", "x"),
                ("X-Edge-Foo", "x"),
                ("X-Custom", "kept"),
            ],
            {"x-custom": ["kept"]},
            id="never-forwarded",
        ),
        pytest.param(
            AMPLIFY,
            None,
            "GET",
            True,
            [("Host", "example.com"), ("CloudFront-Viewer-Country", "DE")],
            {"cloudfront-viewer-country": ["DE"]},
            id="host-never-even-if-keyed",
        ),
        pytest.param(
            P(),
            ALL_VIEWER,
            "GET",
            True,
            [("CloudFront-Viewer-Country", "DE"), ("X-A", "1")],
            {"x-a": ["1"]},
            id="all-viewer-not-cloudfront-headers",
        ),
        pytest.param(
            P(),
            ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
            "GET",
            True,
            [("CloudFront-Viewer-Country", "DE"), ("X-A", "1")],
            {"cloudfront-viewer-country": ["DE"], "x-a": ["1"]},
            id="all-viewer-and-cloudfront",
        ),
        pytest.param(
            P(headers=("x-a",)),
            OriginRequestPolicy(headers="allExcept", header_names=("x-a", "x-b")),
            "GET",
            True,
            [("X-A", "1"), ("X-B", "2"), ("X-C", "3")],
            {"x-a": ["1"], "x-c": ["3"]},
            id="orp-all-except-keyed-wins",
        ),
        pytest.param(
            P(),
            CORS_S3_ORIGIN,
            "OPTIONS",
            True,
            [
                ("Origin", "https://a.example"),
                ("Access-Control-Request-Method", "PUT"),
                ("Accept", "*/*"),
            ],
            {"origin": ["https://a.example"], "access-control-request-method": ["PUT"]},
            id="orp-whitelist",
        ),
    ],
)
def test_forwarded_headers(
    policy: CachePolicy,
    orp: OriginRequestPolicy | None,
    method: str,
    cacheable: bool,
    headers: list[tuple[str, str]],
    expected: dict[str, list[str]],
) -> None:
    _, out = fwd(policy, orp, method=method, headers=headers, cacheable=cacheable)
    assert values(out) == expected


def test_forwarded_keeps_key_casing_order_and_copies() -> None:
    request = req(
        headers=[
            ("x-b", "2"),
            ("Cookie", "z=1; a=2"),
            ("ACCEPT-ENCODING", "br"),
            ("X-A", "1"),
            ("x-b", "3"),
        ]
    )
    policy = P(headers=("x-a", "x-b"), cookies="all", enable_accept_encoding_brotli=True)
    _, out = forwarded_to_origin(request, policy, None, S, cacheable=True)
    assert list(out) == ["x-b", "cookie", "accept-encoding", "x-a"]
    assert out["x-b"] == [{"key": "x-b", "value": "2"}, {"key": "x-b", "value": "3"}]
    assert out["cookie"] == [{"key": "Cookie", "value": "a=2; z=1"}]
    assert out["accept-encoding"] == [{"key": "ACCEPT-ENCODING", "value": "br"}]
    out["x-a"][0]["value"] = "changed"
    assert request["headers"]["x-a"][0]["value"] == "1"


def test_forwarded_ignores_empty_entry_lists() -> None:
    request = req(headers=[("X-A", "1")])
    request["headers"]["x-b"] = []
    _, out = forwarded_to_origin(request, P(headers=("x-a", "x-b")), None, S, cacheable=True)
    assert list(out) == ["x-a"]


# -- Vary -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "forwarded", "min_ttl", "expected"),
    [
        pytest.param([("Vary", "Accept-Language, X-Custom")], frozenset(), 0, [], id="C25-dropped"),
        pytest.param(
            [("Vary", "Accept-Encoding")],
            frozenset(),
            0,
            [("Vary", "Accept-Encoding")],
            id="C25-accept-encoding-kept",
        ),
        pytest.param(
            [("Vary", "Accept-Language, X-Custom, Accept-Encoding")],
            frozenset(),
            0,
            [("Vary", "Accept-Encoding")],
            id="C25-filtered",
        ),
        pytest.param(
            [("Vary", "accept-language,Cookie")],
            frozenset({"accept-language"}),
            0,
            [("Vary", "accept-language, Cookie")],
            id="forwarded-kept",
        ),
        pytest.param([("Vary", "User-Agent")], frozenset(), 0, [], id="ua-dropped"),
        pytest.param(
            [("Vary", "User-Agent")],
            frozenset({"cloudfront-is-mobile-viewer"}),
            0,
            [("Vary", "User-Agent")],
            id="ua-device-headers",
        ),
        pytest.param([("Vary", "*")], frozenset(), 0, [("Vary", "*")], id="star-min0"),
        pytest.param([("Vary", "*")], frozenset(), 5, [], id="star-min5"),
        pytest.param(
            [
                ("Content-Type", "text/html"),
                ("Vary", "X-A"),
                ("vary", "Accept-Encoding"),
                ("ETag", '"1"'),
            ],
            frozenset(),
            0,
            [("Content-Type", "text/html"), ("vary", "Accept-Encoding"), ("ETag", '"1"')],
            id="lines-and-order",
        ),
    ],
)
def test_filter_vary(
    headers: list[tuple[str, str]],
    forwarded: frozenset[str],
    min_ttl: int,
    expected: list[tuple[str, str]],
) -> None:
    assert filter_vary(raw(*headers), forwarded, min_ttl) == raw(*expected)


# -- collapsing and cookie forwarding -------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "orp", "cookies", "can_collapse"),
    [
        pytest.param(P(), None, False, True, id="C37-default"),
        pytest.param(CACHING_OPTIMIZED, None, False, True, id="caching-optimized"),
        pytest.param(CACHING_DISABLED, None, False, False, id="C37-caching-disabled"),
        pytest.param(C_WL, None, True, False, id="C37-cookie-in-key"),
        pytest.param(P(cookies="allExcept"), None, True, False, id="cookie-all-except"),
        pytest.param(
            P(), OriginRequestPolicy(cookies="all"), True, False, id="C37-cookie-through-orp"
        ),
        pytest.param(CACHING_OPTIMIZED, ALL_VIEWER, True, False, id="all-viewer"),
        pytest.param(P(), CORS_CUSTOM_ORIGIN, False, True, id="headers-only-orp"),
        pytest.param(P(cookies="whitelist"), None, False, True, id="empty-whitelist"),
    ],
)
def test_collapsible(
    policy: CachePolicy, orp: OriginRequestPolicy | None, cookies: bool, can_collapse: bool
) -> None:
    assert cookies_forwarded(policy, orp) is cookies
    assert collapsible(policy, orp) is can_collapse


# -- managed policies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy_id", "name", "policy"),
    [
        pytest.param(
            "658327ea-f89d-4fab-a63d-7e88639e58f6",
            "CachingOptimized",
            CACHING_OPTIMIZED,
            id="CachingOptimized",
        ),
        pytest.param(
            "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
            "CachingOptimizedForUncompressedObjects",
            CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS,
            id="Uncompressed",
        ),
        pytest.param(
            "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            "CachingDisabled",
            CACHING_DISABLED,
            id="CachingDisabled",
        ),
        pytest.param("2e54312d-136d-493c-8eb9-b001f22f67d2", "Amplify", AMPLIFY, id="Amplify"),
        pytest.param(
            "08627262-05a9-4f76-9ded-b50ca2e3a84f",
            "Elemental-MediaPackage",
            ELEMENTAL_MEDIAPACKAGE,
            id="MediaPackage",
        ),
    ],
)
def test_managed_cache_policy_by_id_and_name(
    policy_id: str, name: str, policy: CachePolicy
) -> None:
    assert managed_cache_policy(policy_id) is policy
    assert managed_cache_policy(name) is policy
    assert MANAGED_CACHE_POLICIES[policy_id] is MANAGED_CACHE_POLICIES[name] is policy
    assert policy.name == name


def test_managed_cache_policy_settings() -> None:
    p = CACHING_OPTIMIZED
    assert (p.min_ttl, p.default_ttl, p.max_ttl) == (1, 86400, 31536000)
    assert p.enable_accept_encoding_gzip and p.enable_accept_encoding_brotli
    assert (p.query_strings, p.headers, p.cookies) == ("none", (), "none")
    u = CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS
    assert (u.min_ttl, u.default_ttl, u.max_ttl) == (1, 86400, 31536000)
    assert not (u.enable_accept_encoding_gzip or u.enable_accept_encoding_brotli)
    d = CACHING_DISABLED
    assert (d.min_ttl, d.default_ttl, d.max_ttl) == (0, 0, 0) and d.caching_disabled
    a = AMPLIFY
    assert (a.min_ttl, a.default_ttl, a.max_ttl) == (2, 2, 600)
    assert a.headers == ("authorization", "cloudfront-viewer-country", "host")
    assert (a.cookies, a.query_strings) == ("all", "all")
    m = ELEMENTAL_MEDIAPACKAGE
    assert (m.min_ttl, m.default_ttl, m.max_ttl) == (0, 86400, 31536000)
    assert m.query_strings == "whitelist"
    assert m.query_string_names == ("aws.manifestfilter", "start", "end", "m")
    assert m.headers == ("origin",) and m.enable_accept_encoding_gzip


@pytest.mark.parametrize(
    ("policy_id", "name", "policy"),
    [
        pytest.param("216adef6-5c7f-47e4-b989-5492eafa07d3", "AllViewer", ALL_VIEWER, id="all"),
        pytest.param(
            "33f36d7e-f396-46d9-90e0-52428a34d9dc",
            "AllViewerAndCloudFrontHeaders-2022-06",
            ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
            id="all-cf",
        ),
        pytest.param(
            "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            "AllViewerExceptHostHeader",
            ALL_VIEWER_EXCEPT_HOST_HEADER,
            id="except-host",
        ),
        pytest.param(
            "59781a5b-3903-41f3-afcb-af62929ccde1",
            "CORS-CustomOrigin",
            CORS_CUSTOM_ORIGIN,
            id="cors-custom",
        ),
        pytest.param(
            "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf", "CORS-S3Origin", CORS_S3_ORIGIN, id="cors-s3"
        ),
    ],
)
def test_managed_origin_request_policy_by_id_and_name(
    policy_id: str, name: str, policy: OriginRequestPolicy
) -> None:
    assert managed_origin_request_policy(policy_id) is policy
    assert managed_origin_request_policy(name) is policy
    assert MANAGED_ORIGIN_REQUEST_POLICIES[policy_id] is MANAGED_ORIGIN_REQUEST_POLICIES[name]
    assert policy.name == name


def test_managed_origin_request_policy_settings() -> None:
    assert (ALL_VIEWER.headers, ALL_VIEWER.cookies, ALL_VIEWER.query_strings) == (
        "allViewer",
        "all",
        "all",
    )
    assert ALL_VIEWER_EXCEPT_HOST_HEADER.headers == "allExcept"
    assert ALL_VIEWER_EXCEPT_HOST_HEADER.header_names == ("host",)
    assert "cloudfront-viewer-country" in ALL_VIEWER_AND_CLOUDFRONT_HEADERS.header_names
    assert CORS_CUSTOM_ORIGIN.header_names == ("origin",)
    assert CORS_CUSTOM_ORIGIN.cookies == CORS_CUSTOM_ORIGIN.query_strings == "none"


@pytest.mark.parametrize(
    "value", ["00000000-0000-0000-0000-000000000000", "cachingoptimized", "", "UseOriginCC"]
)
def test_unknown_managed_policy(value: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        managed_cache_policy(value)
    assert exc.value.field == "CachePolicyId"
    assert exc.value.value == value
    assert "managed policy id" in exc.value.expected
    with pytest.raises(ConfigurationError) as exc2:
        managed_origin_request_policy(value)
    assert exc2.value.field == "OriginRequestPolicyId"


# -- issue 15 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("7200, 0", 7200, id="list-first-member"),
        pytest.param("0, 7200", 0, id="list-zero-first"),
        pytest.param(" 60 ", 60, id="spaces"),
        pytest.param("abc, 5", None, id="malformed-first-member"),
        pytest.param("-5", None, id="negative"),
        pytest.param("1.5", None, id="float"),
        pytest.param("", None, id="empty"),
        pytest.param("99999999999", 2147483648, id="capped-rfc9111-1.2.2"),
    ],
)
def test_origin_age(value: str, expected: int | None) -> None:
    assert origin_age(value) == expected


@pytest.mark.parametrize(
    ("headers", "cc", "ttl"),
    [
        pytest.param([("Age", "7200, 0")], "max-age=3600", 0.0, id="D31-old-list-stale"),
        pytest.param([("Age", "600, 0")], "max-age=3600", 3000.0, id="D31-list-subtracted"),
        pytest.param([("Age", "7200"), ("Age", "0")], "max-age=3600", 0.0, id="first-line"),
        pytest.param([("Age", "x"), ("Age", "600")], "max-age=3600", 3600.0, id="bad-first-line"),
    ],
)
def test_decide_storage_reads_the_first_age(
    headers: list[tuple[str, str]], cc: str, ttl: float
) -> None:
    decision = decide_storage(200, raw(("Cache-Control", cc), *headers), CachePolicy(), S, 0.0)
    assert (decision.store, decision.ttl) == (True, ttl)


LM = "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize(
    ("since", "modified", "expected"),
    [
        pytest.param(LM, LM, True, id="same"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", LM, True, id="rfc850-same-instant"),
        pytest.param("Sun Nov  6 08:49:37 1994", LM, True, id="asctime-same-instant"),
        pytest.param("Mon, 07 Nov 1994 08:49:37 GMT", LM, True, id="later"),
        pytest.param("Sat, 05 Nov 1994 08:49:37 GMT", LM, False, id="earlier"),
        pytest.param("not a date", LM, False, id="invalid-since-ignored"),
        pytest.param("Sun, 06 Nov 1994 08:49:37 UTC", LM, False, id="utc-is-not-an-http-date"),
        pytest.param("Sun, 6 Nov 1994 08:49:37 GMT", LM, False, id="one-digit-day-imf"),
        pytest.param(LM, "garbage", False, id="invalid-last-modified"),
        pytest.param(None, LM, False, id="no-header"),
        pytest.param(LM, None, False, id="no-last-modified"),
    ],
)
def test_not_modified_since(since: str | None, modified: str | None, expected: bool) -> None:
    """RFC 9110 §13.1.3: compared as dates, not strings."""
    assert not_modified_since(since, modified) is expected


@pytest.mark.parametrize(
    ("status", "content_range", "range_header", "expected"),
    [
        pytest.param(200, None, None, True, id="full-object-any-request"),
        pytest.param(200, None, "bytes=0-4", True, id="full-object-range"),
        pytest.param(206, "bytes 0-4/16", "bytes=0-4", True, id="same-range"),
        pytest.param(206, "bytes 0-4/16", None, False, id="no-range"),
        pytest.param(206, "bytes 0-4/16", "bytes=0-3", False, id="sub-range"),
        pytest.param(206, "bytes 0-4/16", "bytes=0-4,6-7", False, id="several-ranges"),
        pytest.param(206, "bytes 12-15/16", "bytes=12-", True, id="open-ended"),
        pytest.param(206, "bytes 12-15/16", "bytes=-4", True, id="suffix"),
        pytest.param(206, "bytes 3-15/16", "bytes=3-100", True, id="past-the-end"),
        pytest.param(206, "bytes 0-4/*", "bytes=0-4", True, id="unknown-size-explicit"),
        pytest.param(206, "bytes 0-4/*", "bytes=0-", False, id="unknown-size-open"),
        pytest.param(206, None, "bytes=0-4", False, id="no-content-range-multipart"),
        pytest.param(206, "bytes x-4/16", "bytes=0-4", False, id="bad-content-range"),
        pytest.param(206, "bytes 0-4/16", "items=0-4", False, id="other-unit"),
    ],
)
def test_stored_response_serves(
    status: int, content_range: str | None, range_header: str | None, expected: bool
) -> None:
    """caching.md §1.14, decisions.md #34: a stored 206 answers only its own range."""
    headers = raw(("Content-Range", content_range)) if content_range else []
    assert stored_response_serves(status, headers, range_header) is expected


@pytest.mark.parametrize(
    ("cache", "orp", "forward_all", "name", "expected"),
    [
        pytest.param(CachePolicy(headers=("X-A",)), None, False, "x-a", True, id="keyed"),
        pytest.param(CachePolicy(), None, False, "x-a", False, id="nothing"),
        pytest.param(
            CachePolicy(),
            OriginRequestPolicy(headers="whitelist", header_names=("X-A",)),
            False,
            "x-a",
            True,
            id="orp-whitelist",
        ),
        pytest.param(
            CachePolicy(), ALL_VIEWER, False, "authorization", True, id="all-viewer-authorization"
        ),
        pytest.param(
            CachePolicy(),
            ALL_VIEWER,
            False,
            "cloudfront-is-mobile-viewer",
            False,
            id="all-viewer-not-cloudfront-headers",
        ),
        pytest.param(CachePolicy(), None, True, "x-a", True, id="legacy-forward-all"),
    ],
)
def test_forwarded_header_names(
    cache: CachePolicy,
    orp: OriginRequestPolicy | None,
    forward_all: bool,
    name: str,
    expected: bool,
) -> None:
    assert (name in forwarded_header_names(cache, orp, forward_all)) is expected


def test_filter_vary_with_an_origin_request_policy() -> None:
    """caching.md §1.6: names the ORP forwards are kept like keyed names."""
    orp = OriginRequestPolicy(headers="whitelist", header_names=("Accept-Language",))
    headers = raw(("Vary", "Accept-Language, X-Custom, Accept-Encoding"))
    assert filter_vary(headers, forwarded_header_names(CachePolicy(), orp), 0) == raw(
        ("Vary", "Accept-Language, Accept-Encoding")
    )
    assert filter_vary(headers, forwarded_header_names(CachePolicy(), None), 0) == raw(
        ("Vary", "Accept-Encoding")
    )


def _behavior(cache: CachePolicy, orp: OriginRequestPolicy | None, **extra: Any) -> Behavior:
    return Behavior(path_pattern="/api/*", cache=cache, origin_request_policy=orp, **extra)


@pytest.mark.parametrize(
    ("behavior", "warned"),
    [
        pytest.param(_behavior(CachePolicy(), ALL_VIEWER), True, id="all-viewer-cached"),
        pytest.param(
            _behavior(CachePolicy(), ALL_VIEWER_AND_CLOUDFRONT_HEADERS),
            True,
            id="all-viewer-and-cloudfront",
        ),
        pytest.param(
            _behavior(CachePolicy(), OriginRequestPolicy(headers="allExcept")),
            True,
            id="all-except-nothing",
        ),
        pytest.param(
            _behavior(
                CachePolicy(),
                OriginRequestPolicy(headers="allExcept", header_names=("Authorization",)),
            ),
            False,
            id="all-except-authorization",
        ),
        pytest.param(
            _behavior(CachePolicy(headers=("Authorization",)), ALL_VIEWER),
            False,
            id="authorization-keyed",
        ),
        pytest.param(_behavior(CACHING_DISABLED, ALL_VIEWER), False, id="caching-disabled"),
        pytest.param(_behavior(CachePolicy(), None), False, id="no-orp"),
    ],
)
def test_authorization_cache_warning(behavior: Behavior, warned: bool) -> None:
    """caching.md §1.5: AllViewer forwards Authorization; the key alone decides hits."""
    warning = authorization_cache_warning(behavior)
    assert (warning is not None) is warned
    if warning is not None:
        assert warning.startswith("Behavior '/api/*': ")
        assert "Authorization is not in the cache key" in warning
        assert "whatever credentials they send or if they send none" in warning


@pytest.mark.parametrize(
    ("min_ttl", "phrase"),
    [
        pytest.param(0, "unless it says private or no-store", id="min-ttl-0"),
        pytest.param(30, "for up to MinTTL 30 s even when it says private", id="min-ttl-30"),
    ],
)
def test_authorization_cache_warning_names_min_ttl(min_ttl: int, phrase: str) -> None:
    warning = authorization_cache_warning(_behavior(CachePolicy(min_ttl=min_ttl), ALL_VIEWER))
    assert warning is not None and phrase in warning


def test_authorization_cache_warnings_for_a_config() -> None:
    config = EdgeConfig(
        behaviors=[_behavior(CachePolicy(), ALL_VIEWER)],
        default=Behavior(cache=CachePolicy(), origin_request_policy=ALL_VIEWER),
    )
    warnings = authorization_cache_warnings(config)
    assert len(warnings) == 2
    assert warnings[0].startswith("Behavior '/api/*'") and warnings[1].startswith("Behavior '*'")
    assert authorization_cache_warnings(EdgeConfig()) == []


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_http_date_form_reads_back(when: datetime) -> None:
    """RFC 9110 §5.6.7's three forms of any second read back as that second (RFC 850's
    two-digit year only within 50 years of today, as the RFC says a recipient reads it)."""
    from edge_middleware.cache.dates import http_date

    when = when.replace(microsecond=0, tzinfo=UTC)
    ts = when.timestamp()
    assert http_date(email.utils.formatdate(ts, usegmt=True)) == ts
    assert (
        http_date(when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y")) == ts
    )
    if abs(when.year - datetime.now(UTC).year) < 49:
        assert http_date(when.strftime("%A, %d-%b-%y %H:%M:%S GMT")) == ts
