"""Cache semantics (HTTP caching hunt of 2026-12-07, third session): stale-while-revalidate
never serves an object that must go to the origin every time."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)


def _origin(headers: dict[str, str]) -> tuple[Any, Any, list[int]]:
    calls: list[int] = []

    def answer() -> tuple[bytes, list[tuple[bytes, bytes]]]:
        calls.append(1)
        body = f"v{len(calls)}".encode()
        pairs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        return body, [*pairs, (b"content-length", str(len(body)).encode())]

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        body, pairs = answer()
        await send({"type": "http.response.start", "status": 200, "headers": pairs})
        await send({"type": "http.response.body", "body": body})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body, pairs = answer()
        start_response("200 OK", [(k.decode(), v.decode()) for k, v in pairs])
        return [body]

    return asgi, wsgi, calls


@pytest.mark.parametrize(
    "headers",
    [
        {"Cache-Control": "no-cache, stale-while-revalidate=60", "ETag": '"x"'},
        {"Cache-Control": "max-age=60, stale-while-revalidate=60", "Vary": "*"},
    ],
    ids=["no-cache", "vary-star"],
)
def test_stale_while_revalidate_never_serves_what_must_go_to_the_origin(
    door: Door, headers: dict[str, str]
) -> None:
    """caching.md §1.3 (no-cache with MinTTL 0: TTL 0, stored for a 304 only) and §1.6/C26
    (``Vary: *`` with MinTTL 0: every request goes to the origin); RFC 9111 §4.2.4. With
    ``stale-while-revalidate`` the second GET was a Hit with the old body, the origin asked
    only in the background."""
    asgi, wsgi, calls = _origin(headers)
    config = EdgeConfig(default=Behavior(cache=CachePolicy(min_ttl=0)))
    client = door.viewer(door.wrap(door.pick(asgi, wsgi), config))
    first = door.send(client, "GET", "/page")
    door.advance(1)
    second = door.send(client, "GET", "/page")
    assert (first.body, second.body) == (b"v1", b"v2")
    assert second.get("x-cache") != "Hit from cloudfront"
    assert len(calls) == 2


def test_stale_if_error_still_covers_a_no_cache_object(door: Door) -> None:
    """The other window stays: an origin that fails may still be answered with the stored
    no-cache copy (decisions.md #41's implicit stale-on-error), so only SWR was turned off."""
    state = {"fail": False}
    calls: list[int] = []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        calls.append(1)
        status = 503 if state["fail"] else 200
        cc = b"no-cache, stale-if-error=60"
        pairs = [(b"cache-control", cc), (b"etag", b'"x"'), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": status, "headers": pairs})
        await send({"type": "http.response.body", "body": b"v1" if status == 200 else b"no"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(1)
        status = "503 Unavailable" if state["fail"] else "200 OK"
        start_response(
            status,
            [
                ("Cache-Control", "no-cache, stale-if-error=60"),
                ("ETag", '"x"'),
                ("Content-Length", "2"),
            ],
        )
        return [b"v1" if status == "200 OK" else b"no"]

    config = EdgeConfig(default=Behavior(cache=CachePolicy(min_ttl=0)))
    client = door.viewer(door.wrap(door.pick(asgi, wsgi), config))
    assert door.send(client, "GET", "/page").body == b"v1"
    state["fail"] = True
    door.advance(5)
    stale = door.send(client, "GET", "/page")
    assert (stale.status, stale.body) == (200, b"v1")
    assert len(calls) == 2
