"""The Django hunt of 2026-12-08: the origin gets one ``Cookie`` header on both doors.

An origin-request function that adds a cookie to the ones the viewer sent (an A/B group) made
two ``cookie`` lines in the ASGI origin's scope, and Django's ASGI handler joins repeated
headers with ``","``: ``request.COOKIES`` was ``{"sessionid": "abc,ab_group=B"}`` (the user
looked logged out). The WSGI door joined them with ``"; "`` (RFC 6265 §5.4: one line).
"""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig
from edge_middleware.cache.managed import MANAGED_ORIGIN_REQUEST_POLICIES
from tests.support import doors


def add_cookie(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"].setdefault("cookie", []).append({"key": "Cookie", "value": "ab_group=B"})
    return request


async def cookie_lines_asgi(scope: Any, receive: Any, send: Any) -> None:
    lines = b"\n".join(v for k, v in scope["headers"] if k == b"cookie")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": lines})


def cookie_lines_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [environ.get("HTTP_COOKIE", "").encode("latin-1")]


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize("trigger", ["origin_request", "viewer_request"])
def test_a_cookie_a_function_adds_goes_in_the_one_cookie_line(kind: str, trigger: str) -> None:
    behavior = Behavior(
        cache=CachePolicy(0, 0, 0),
        origin_request_policy=MANAGED_ORIGIN_REQUEST_POLICIES["AllViewer"],
        **{trigger: add_cookie},  # type: ignore[arg-type]
    )
    app = doors.wrap(
        kind, cookie_lines_asgi if kind == "asgi" else cookie_lines_wsgi, EdgeConfig(behavior)
    )
    got = doors.send(kind, doors.viewer(kind, app), "GET", "/", {"Cookie": "sessionid=abc"})
    assert got.status == 200
    lines = got.text().split("\n")
    assert len(lines) == 1  # one line, both cookies (in the function's order, or sorted)
    assert sorted(lines[0].split("; ")) == ["ab_group=B", "sessionid=abc"]
