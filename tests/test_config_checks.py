"""Every configuration class checks its fields' types first (config/checks.py): a wrong type
is a ConfigurationError naming the field at construction. Before, these raised a TypeError or
AttributeError from deep inside, or were accepted and broke the first request (a 502 with an
internal traceback), or changed the answers (the string "false" switched a feature on)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    MemoryStorage,
    Origin,
    OriginGroup,
    OriginRequestPolicy,
    RedisStorage,
)
from edge_middleware.testing import EdgeClock

CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("CustomErrorResponse.error_code", lambda: CustomErrorResponse("404"), "whole number"),  # type: ignore[arg-type]
    (
        "CustomErrorResponse.response_page_path",
        lambda: CustomErrorResponse(404, response_page_path=5),  # type: ignore[arg-type]
        "string",
    ),
    ("CustomErrorResponse.error_code", lambda: CustomErrorResponse(404.5), "whole number"),  # type: ignore[arg-type]
    ("Origin('a').read_timeout", lambda: Origin("a", read_timeout="30"), "whole number"),  # type: ignore[arg-type]
    ("Origin('a').http_port", lambda: Origin("a", http_port="8080"), "whole number"),  # type: ignore[arg-type]
    ("Origin('a').domain_name", lambda: Origin("a", domain_name=5), "string"),  # type: ignore[arg-type]
    (
        "Origin('app').custom_headers",
        lambda: Origin("app", custom_headers={"X-Token": "t"}),  # type: ignore[arg-type]
        "list",
    ),
    ("CachePolicy.headers", lambda: CachePolicy(headers=None), "list"),  # type: ignore[arg-type]
    ("CachePolicy.query_string_names", lambda: CachePolicy(query_string_names=None), "list"),  # type: ignore[arg-type]
    (
        "CachePolicy.enable_accept_encoding_gzip",
        lambda: CachePolicy(enable_accept_encoding_gzip="false"),  # type: ignore[arg-type]
        "True or False",
    ),
    ("OriginRequestPolicy.header_names", lambda: OriginRequestPolicy(header_names=None), "list"),  # type: ignore[arg-type]
    ("Behavior('*').allowed_methods", lambda: Behavior(allowed_methods=None), "list"),  # type: ignore[arg-type]
    ("Behavior('*').allowed_methods", lambda: Behavior(allowed_methods=[1, 2]), "string"),  # type: ignore[list-item]
    ("Behavior('*').compress", lambda: Behavior(compress="false"), "True or False"),  # type: ignore[arg-type]
    ("OriginGroup('g').members", lambda: OriginGroup("g", None), "list"),  # type: ignore[arg-type]
    (
        "OriginGroup('g').failover_status_codes",
        lambda: OriginGroup("g", ("a", "b"), 500),  # type: ignore[arg-type]
        "list",
    ),
    ("EdgeConfig.behaviors", lambda: EdgeConfig(behaviors=None), "list"),  # type: ignore[arg-type]
    ("EdgeConfig.behaviors", lambda: EdgeConfig(behaviors=Behavior("/a")), "list"),  # type: ignore[arg-type]
    (
        "EdgeConfig.custom_error_responses",
        lambda: EdgeConfig(custom_error_responses=[{"error_code": 404}]),  # type: ignore[list-item]
        "CustomErrorResponse",
    ),
    ("EdgeConfig.origins", lambda: EdgeConfig(origins=[{"id": "a"}]), "Origin"),  # type: ignore[list-item]
    ("EdgeConfig.settings", lambda: EdgeConfig(settings={"pop": "X"}), "EdgeSettings"),  # type: ignore[arg-type]
    ("EdgeConfig.distribution_id", lambda: EdgeConfig(distribution_id=5), "string"),  # type: ignore[arg-type]
    ("EdgeConfig.aliases", lambda: EdgeConfig(aliases="a.com"), "list"),  # type: ignore[arg-type]
    ("EdgeSettings.viewer_timeout", lambda: EdgeSettings(viewer_timeout="5"), "finite number"),  # type: ignore[arg-type]
    ("EdgeSettings.viewer_timeout", lambda: EdgeSettings(viewer_timeout=math.nan), "finite"),
    ("EdgeSettings.origin_timeout", lambda: EdgeSettings(origin_timeout=math.inf), "finite"),
    ("EdgeSettings.viewer_timeout", lambda: EdgeSettings(viewer_timeout=True), "finite number"),
    ("EdgeSettings.max_object_bytes", lambda: EdgeSettings(max_object_bytes=None), "whole"),  # type: ignore[arg-type]
    (
        "EdgeSettings.viewer_response_size_limit",
        lambda: EdgeSettings(viewer_response_size_limit="40k"),  # type: ignore[arg-type]
        "whole number",
    ),
    ("EdgeSettings.shortcuts", lambda: EdgeSettings(shortcuts="no"), "True or False"),  # type: ignore[arg-type]
    ("EdgeSettings.cacheable_statuses", lambda: EdgeSettings(cacheable_statuses=None), "set"),  # type: ignore[arg-type]
    (
        "EdgeSettings.cacheable_statuses",
        lambda: EdgeSettings(cacheable_statuses=frozenset({"200"})),  # type: ignore[arg-type]
        "whole number",
    ),
    ("EdgeSettings.pop", lambda: EdgeSettings(pop=None), "string"),  # type: ignore[arg-type]
    (
        "EdgeSettings.cloudfront_header_values",
        lambda: EdgeSettings(cloudfront_header_values=(("cloudfront-viewer-country",),)),  # type: ignore[arg-type]
        "pair",
    ),
    (
        "EdgeSettings.cloudfront_header_values",
        lambda: EdgeSettings(cloudfront_header_values=(("cloudfront-viewer-country", 5),)),  # type: ignore[arg-type]
        "string",
    ),
]


@pytest.mark.parametrize(("field", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_wrong_type_is_refused_with_the_field_named(
    field: str, make: Callable[[], Any], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=expected) as info:
        make()
    assert info.value.field == field


def test_right_types_in_every_form_are_accepted() -> None:
    EdgeSettings(viewer_timeout=5, origin_timeout=2.5, cacheable_statuses=frozenset({200}))
    CachePolicy(headers=["accept-language"], query_string_names=("a",), query_strings="whitelist")
    Behavior("/a/*", allowed_methods=["GET", "HEAD"], cached_methods=("GET", "HEAD"))
    OriginGroup("g", ["a", "b"], [500, 503])
    Origin("a", custom_headers=[("X-A", "1")])
    EdgeConfig(behaviors=[Behavior("/a")], aliases=["a.example.com"])
    CustomErrorResponse(404, None, None)


RANGES: list[tuple[str, Callable[[], Any], str]] = [
    *(
        (f"EdgeSettings.{name}", lambda name=name: EdgeSettings(**{name: -1}), ">= 0")
        for name in (
            "viewer_response_size_limit",
            "origin_response_size_limit",
            "error_caching_min_ttl",
            "stale_retention",
            "invalidation_delay",
        )
    ),
    (
        "EdgeSettings.cacheable_statuses",
        lambda: EdgeSettings(cacheable_statuses=frozenset({999})),
        "100-599",
    ),
    (
        "EdgeSettings.pop",
        lambda: EdgeSettings(pop="LAX50-C1\r\nSet-Cookie: injected=1"),
        "line breaks",
    ),
    (
        "EdgeSettings.cloudfront_header_values",
        lambda: EdgeSettings(cloudfront_header_values=(("cloudfront-viewer-city", "a\nb"),)),
        "line breaks",
    ),
    (
        "EdgeConfig.custom_error_responses[1].error_code",
        lambda: EdgeConfig(
            custom_error_responses=[CustomErrorResponse(404), CustomErrorResponse(404)]
        ),
        "one CustomErrorResponse per code",
    ),
    ("Behavior.path_pattern", lambda: Behavior("/static/*\n"), "path pattern"),
]


@pytest.mark.parametrize(("field", "make", "expected"), RANGES, ids=[c[0] for c in RANGES])
def test_a_value_out_of_range_is_refused_with_the_field_named(
    field: str, make: Callable[[], Any], expected: str
) -> None:
    """Each was accepted: a negative size limit made every generated response a 502, a
    status of '200' cached nothing, a POP with a line break went out as a header injection,
    a path pattern ending in a newline never matched anything."""
    with pytest.raises(ConfigurationError, match=expected) as info:
        make()
    assert info.value.field == field


# -- the front doors' own arguments -------------------------------------------------------------


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
    return [b"ok"]


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    head = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=60")]
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": b"ok"})


DOOR_ARGS: list[tuple[str, Callable[[], Any], str]] = [
    ("app", lambda: EdgeWSGIMiddleware(_asgi_app), "a WSGI application"),
    ("app", lambda: EdgeMiddleware(_wsgi_app), "an ASGI application"),
    ("app", lambda: EdgeMiddleware(None), "an ASGI application"),  # type: ignore[arg-type]
    ("clock", lambda: EdgeWSGIMiddleware(_wsgi_app, clock="now"), "callable"),  # type: ignore[arg-type]
    ("storage", lambda: EdgeWSGIMiddleware(_wsgi_app, storage="memory"), "storage"),  # type: ignore[arg-type]
    ("origins", lambda: EdgeMiddleware(_asgi_app, origins=["default"]), "mapping"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("field", "make", "expected"), DOOR_ARGS, ids=[c[2] for c in DOOR_ARGS])
def test_a_front_door_refuses_wrong_arguments_at_start(
    field: str, make: Callable[[], Any], expected: str
) -> None:
    """Each was accepted, and every request was a 502 (or a raw AttributeError)."""
    with pytest.raises(ConfigurationError, match=expected) as info:
        make()
    assert info.value.field == field


@pytest.mark.parametrize("asgi", [True, False], ids=["asgi", "wsgi"])
def test_a_storage_made_with_the_default_clock_keeps_the_middlewares(asgi: bool) -> None:
    """API.md: the middleware's clock decides every expiry. A MemoryStorage() passed with a
    clock behind real time forgot each object at once (real time was past its end), so
    nothing was ever a Hit."""
    from edge_middleware.testing import edge_test_client

    clock = EdgeClock(start=1_700_000_000.0)
    storage = MemoryStorage()
    app = _asgi_app if asgi else _wsgi_app
    client = edge_test_client(app, config=EdgeConfig(), storage=storage, clock=clock)
    try:
        got = [client.get("/x").headers["X-Cache"] for _ in range(2)]
        clock.advance(61)
        got.append(client.get("/x").headers["X-Cache"])
    finally:
        getattr(client, "close", lambda: None)()
    assert got == ["Miss from cloudfront", "Hit from cloudfront", "Miss from cloudfront"]


STORAGE_ARGS: list[tuple[str, Callable[[], Any], str]] = [
    ("MemoryStorage.max_bytes", lambda: MemoryStorage("1000"), "integer"),  # type: ignore[arg-type]
    ("MemoryStorage.max_bytes", lambda: MemoryStorage(1.5), "integer"),  # type: ignore[arg-type]
    ("MemoryStorage.max_bytes", lambda: MemoryStorage(True), "integer"),
    ("MemoryStorage.clock", lambda: MemoryStorage(clock="x"), "callable"),  # type: ignore[arg-type]
    ("RedisStorage.url", lambda: RedisStorage(None), "URL"),  # type: ignore[arg-type]
    ("RedisStorage.socket_timeout", lambda: RedisStorage(socket_timeout="1"), "> 0"),  # type: ignore[arg-type]
    ("RedisStorage.max_connections", lambda: RedisStorage(max_connections=0), ">= 1"),
    ("RedisStorage.prefix", lambda: RedisStorage(prefix=""), "non-empty"),
]


@pytest.mark.parametrize(
    ("field", "make", "expected"), STORAGE_ARGS, ids=[c[0] for c in STORAGE_ARGS]
)
def test_a_storage_refuses_wrong_arguments_with_their_name(
    field: str, make: Callable[[], Any], expected: str
) -> None:
    """They raised TypeError/AttributeError from inside (redis-py's for RedisStorage(None)),
    or were accepted (max_connections=0 hung the first request for a connection)."""
    with pytest.raises(ConfigurationError, match=expected) as info:
        make()
    assert info.value.field == field
