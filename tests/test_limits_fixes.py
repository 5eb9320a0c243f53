"""Limits and costs found wrong by trying pathological inputs (limits hunt of 2026-12-07,
second session), on both doors: the hit memo within a byte budget, CloudFront's 20,480 bytes of
origin response headers, a linear check of repeated non-ASCII headers, name memos that keep no
long names, and methods as sent."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    MemoryStorage,
    Trigger,
)
from edge_middleware.core.convert import _environ_name, environ_key
from edge_middleware.core.headers import NAME_MEMO_LENGTH, capitalize
from tests.support.doors import Door, asgi_scope, call_asgi, call_wsgi, door_fixture

door = door_fixture(Door)

MIB = 2**20


def _apps(headers: list[tuple[str, str]], body: bytes = b"x") -> tuple[Any, Any]:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        extra = [(b"x-path", scope["path"].encode())]
        await send({"type": "http.response.start", "status": 200, "headers": raw + extra})
        await send({"type": "http.response.body", "body": body})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [*headers, ("X-Path", environ["PATH_INFO"])])
        return [body]

    return asgi, wsgi


@pytest.mark.slow
def test_the_hit_memo_keeps_no_more_header_bytes_than_its_budget(door: Door) -> None:
    """Objects with 15 KB of headers each behind a 2 MB MemoryStorage: the storage stayed
    within 2 MB, and the hit short way's memo kept two copies of every object's headers
    (96 MB for 1,500 objects of 64 KB); it now keeps at most 4 MB of them."""
    headers = [("Cache-Control", "max-age=600"), ("X-Pad", "v" * 15_000)]
    storage = MemoryStorage(max_bytes=2 * MIB)
    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 600, 600)))
    client = door.viewer(door.wrap(door.pick(*_apps(headers)), config, storage=storage))
    door.send(client, "GET", "/warm")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(500):
            door.send(client, "GET", f"/o/{i}")
            assert door.send(client, "GET", f"/o/{i}").get("x-cache") == "Hit from cloudfront"
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 8 * MIB, f"{kept / MIB:.1f} MiB kept"  # (was 15 MB: 2 x 15 KB a hit)


@pytest.mark.parametrize(("size", "status"), [(20_000, 200), (21_000, 502)])
def test_origin_response_headers_over_20480_bytes_are_a_502(
    door: Door, size: int, status: int
) -> None:
    """lambda-edge.md §3.2: "Origin response headers (no body): 20,480 bytes" → error; a
    1 MB header section was passed on and cached."""
    headers = [("Content-Type", "text/plain"), ("X-Pad", "v" * (size - 50))]
    client = door.viewer(door.wrap(door.pick(*_apps(headers)), EdgeConfig()))
    r = door.send(client, "GET", "/p")
    assert r.status == status
    if status == 502:
        assert r.get("x-cache") == "Error from cloudfront"


def _add_one(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-added"] = [{"key": "X-Added", "value": "1"}]
    return response


def test_repeated_non_ascii_headers_are_checked_in_one_pass() -> None:
    """Each of n non-ASCII values of one name was compared with all n the function was
    given: 8,000 took 1.3 s; 1,000 (within the 20,480 bytes) now take a linear pass, and
    each value still goes out as the bytes it came as (§1.4)."""
    wire = "\u00e9".encode().decode("latin-1")  # UTF-8 bytes as PEP 3333 text: non-ASCII
    headers = [("X-Tag", f"{wire}{i}") for i in range(1000)]
    config = EdgeConfig(
        default=Behavior(origin_response=Trigger(_add_one), cache=CachePolicy(0, 0, 0))
    )
    asgi, wsgi = _apps(headers)
    sent = _asgi_call(EdgeMiddleware(asgi, config=config), "GET")
    tags = [v for k, v in sent[0]["headers"] if k == b"x-tag"]
    assert len(tags) == 1000 and tags[0] == "\u00e90".encode()
    status, out = _wsgi_call(EdgeWSGIMiddleware(wsgi, config=config), "GET")
    assert status[:3] == "200" and next(v for k, v in out if k == "X-Tag") == f"{wire}0"


def _asgi_call(app: Any, method: str) -> list[dict[str, Any]]:
    return call_asgi(app, asgi_scope("/p", method=method))


def _wsgi_call(app: Any, method: str) -> tuple[str, list[tuple[str, str]]]:
    status, headers, _ = call_wsgi(app, method)
    return status, headers


def test_name_memos_keep_no_long_names() -> None:
    """A new 12 KB header name per request stayed in three ``lru_cache``s of the WSGI door
    (118 MiB after 3,000 requests); names over NAME_MEMO_LENGTH are worked out each time."""
    long_name = "x" * (NAME_MEMO_LENGTH + 1)
    for func, arg in (
        (capitalize, long_name),
        (_environ_name, "HTTP_" + long_name.upper()),
        (environ_key, long_name),
    ):
        before = func.cache.cache_info().currsize  # type: ignore[attr-defined]
        func(arg)
        assert func.cache.cache_info().currsize == before  # type: ignore[attr-defined]
    assert capitalize("x-api-key") == "X-Api-Key"
    assert capitalize(long_name) == "X" + long_name[1:]


@pytest.mark.parametrize("method", ["get", "Get", "post"])
def test_a_method_is_taken_as_sent_on_both_doors(method: str) -> None:
    """Methods are case-sensitive (RFC 9110 §9.1): ``get`` is no allowed method, a 403 on
    the ASGI door; the WSGI door upper-cased it and served it."""
    asgi, wsgi = _apps([])
    sent = _asgi_call(EdgeMiddleware(asgi), method)
    status, _ = _wsgi_call(EdgeWSGIMiddleware(wsgi), method)
    assert (sent[0]["status"], status[:3]) == (403, "403")
