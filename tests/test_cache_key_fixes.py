"""What reaches the origin and how cache policies load, found wrong by trying them from
outside (hunt of 2026-12-07, second session), on both doors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from edge_middleware import Behavior, CachePolicy, ConfigurationError, EdgeConfig, load_config
from edge_middleware.config.loaders.policies import cache_policy_from_config
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)


def apps(seen: list[tuple[str, str | None]]) -> tuple[Any, Any]:
    """Apps that answer with the Authorization they got (cacheable for a minute)."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        auth = request.headers.get("authorization")
        seen.append((request.method, auth))
        answer = PlainTextResponse(f"for {auth}", headers={"Cache-Control": "max-age=60"})
        await answer(scope, receive, send)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION")
        seen.append((environ["REQUEST_METHOD"], auth))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
        return [f"for {auth}".encode()]

    return asgi, wsgi


@pytest.mark.parametrize(
    ("cached", "forwarded"),
    [
        pytest.param(("GET", "HEAD", "OPTIONS"), None, id="options-cached"),
        pytest.param(("GET", "HEAD"), "Bearer alice", id="options-not-cached"),
    ],
)
def test_authorization_on_options_goes_only_when_options_is_not_cached(
    door: Door, cached: tuple[str, ...], forwarded: str | None
) -> None:
    """AWS removes Authorization from an OPTIONS request when OPTIONS answers are cached
    (as from GET/HEAD); before, it reached the origin and the authorized answer was then
    served from the cache to a viewer without credentials."""
    seen: list[tuple[str, str | None]] = []
    config = EdgeConfig(default=Behavior(cache=CachePolicy(), cached_methods=cached))
    client = door.viewer(door.wrap(door.pick(*apps(seen)), config))
    door.send(client, "OPTIONS", "/x", headers=[("authorization", "Bearer alice")])
    anonymous = door.send(client, "OPTIONS", "/x")
    assert seen[0] == ("OPTIONS", forwarded)
    assert anonymous.body != b"for Bearer alice"


def test_authorization_still_reaches_the_origin_on_post(door: Door) -> None:
    seen: list[tuple[str, str | None]] = []
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(), cached_methods=("GET", "HEAD", "OPTIONS"))
    )
    client = door.viewer(door.wrap(door.pick(*apps(seen)), config))
    door.send(client, "POST", "/x", headers=[("authorization", "Bearer alice")])
    assert seen == [("POST", "Bearer alice")]


_TOML_MIN_TTL = "[default]\ncache = { min_ttl = 172800 }\n"
#: a policy config's required ParametersInCacheKeyAndForwardedToOrigin, keying on nothing
_KEYS_NOTHING = {
    "ParametersInCacheKeyAndForwardedToOrigin": {
        "EnableAcceptEncodingGzip": False,
        "HeadersConfig": {"HeaderBehavior": "none"},
        "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {"QueryStringBehavior": "none"},
    }
}


@pytest.mark.parametrize(
    ("make", "ttls"),
    [
        pytest.param(lambda: CachePolicy(min_ttl=172800), (172800, 172800, 31536000), id="api"),
        pytest.param(
            lambda: CachePolicy(default_ttl=63072000), (0, 63072000, 63072000), id="api-default"
        ),
        pytest.param(
            lambda: cache_policy_from_config(
                {"Name": "p", "MinTTL": 172800, **_KEYS_NOTHING}, "CachePolicyConfig"
            ),
            (172800, 172800, 31536000),
            id="cache-policy-config",
        ),
        pytest.param(
            lambda: cache_policy_from_config(
                {"Name": "p", "DefaultTTL": 63072000, **_KEYS_NOTHING}, "CachePolicyConfig"
            ),
            (0, 63072000, 63072000),
            id="cache-policy-config-default",
        ),
    ],
)
def test_ttls_left_out_are_raised_as_cloudfront_raises_them(
    make: Callable[[], CachePolicy], ttls: tuple[int, int, int]
) -> None:
    """caching.md §1.3: DefaultTTL 86400 "raised to MinTTL if MinTTL is larger", MaxTTL
    31536000 "raised to DefaultTTL if larger"; before, only the legacy loader raised them and
    the others refused a DefaultTTL of 86400 the user never wrote."""
    policy = make()
    assert (policy.min_ttl, policy.default_ttl, policy.max_ttl) == ttls


def test_a_toml_min_ttl_above_a_day_loads(tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(_TOML_MIN_TTL)
    cache = load_config(tmp_path / "edge.toml").default.cache
    assert (cache.min_ttl, cache.default_ttl, cache.max_ttl) == (172800, 172800, 31536000)


def test_ttls_written_that_contradict_each_other_still_fail() -> None:
    with pytest.raises(ConfigurationError, match="default_ttl"):
        CachePolicy(min_ttl=600, default_ttl=60)
    with pytest.raises(ConfigurationError, match="default_ttl"):
        CachePolicy(max_ttl=3600)  # DefaultTTL's 86400 above a MaxTTL written lower
