"""A CustomErrorResponses page reaches the viewer as any answer does: no Set-Cookie where
the behavior forwards no cookies (caching.md §1.13), only the Vary names it keeps (§1.6). The
page kept both: its cached Set-Cookie went to every viewer who hit the error. And a response
headers policy's sampling rate that is no number is refused with its field named."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    CustomErrorResponse,
    EdgeConfig,
    ResponseHeadersPolicy,
)
from tests.support import doors

PAGE_HEADERS = [
    ("Content-Type", "text/html"),
    ("Set-Cookie", "session=abc123; Path=/"),
    ("Vary", "Origin, X-Whatever, Accept-Encoding"),
]


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    page = scope["path"] == "/errors/404.html"
    headers = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS] if page else []
    await send({"type": "http.response.start", "status": 200 if page else 404, "headers": headers})
    await send({"type": "http.response.body", "body": b"sorry" if page else b"not found"})


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/errors/404.html":
        start_response("200 OK", list(PAGE_HEADERS))
        return [b"sorry"]
    start_response("404 Not Found", [])
    return [b"not found"]


def _get(kind: str, config: EdgeConfig, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    if kind == "asgi":
        app = doors.wrap(kind, _asgi, config)
        sent = doors.call_asgi(app, doors.asgi_scope(path))
        headers = [(k.decode(), v.decode()) for k, v in sent[0]["headers"]]
        return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])
    status, headers, body = doors.call_wsgi(doors.wrap(kind, _wsgi, config), "GET", path)
    return int(status.split()[0]), headers, body


def _named(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_custom_error_page_loses_set_cookie_and_vary_as_any_answer(kind: str) -> None:
    config = EdgeConfig(
        default=Behavior(),
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 404, 10)],
    )
    for _ in range(2):  # fetched, then from the cache
        status, headers, body = _get(kind, config, "/nothing-here")
        assert (status, body) == (404, b"sorry")
        assert _named(headers, "set-cookie") == []
        assert _named(headers, "vary") == ["Accept-Encoding"]
    # the page asked for itself: the same (it always was)
    status, headers, _ = _get(kind, config, "/errors/404.html")
    assert status == 200 and _named(headers, "set-cookie") == []


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_page_keeps_set_cookie_where_both_behaviors_forward_cookies(kind: str) -> None:
    everything = CachePolicy(0, 0, 0, cookies="all")
    config = EdgeConfig(
        default=Behavior(cache=everything),
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 404, 10)],
    )
    _, headers, body = _get(kind, config, "/nothing-here")
    assert body == b"sorry"
    assert _named(headers, "set-cookie") == ["session=abc123; Path=/"]


@pytest.mark.parametrize("rate", ["50", [50], float("nan"), True])
def test_a_sampling_rate_that_is_no_number_is_refused_with_its_field(rate: Any) -> None:
    with pytest.raises(ConfigurationError, match="server_timing_sampling_rate"):
        ResponseHeadersPolicy(server_timing_sampling_rate=rate)
