"""Events and their results found wrong by trying them from outside (hunt of 2026-12-07,
second session): a body the viewer never finished, with IncludeBody, and the label of an
origin-request answer, on both doors."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    Trigger,
)
from tests.support.doors import (
    Door,
    asgi_scope,
    call_asgi,
    call_wsgi,
    door_fixture,
    ok_asgi,
    ok_wsgi,
)


def _config(event_type: str, seen: list[Any]) -> EdgeConfig:
    def note(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen.append(request.get("body"))
        return request

    trigger = Trigger(note, include_body=True)
    return EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0), **{event_type: trigger}))


EVENT_TYPES = ["viewer_request", "origin_request"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_wsgi_a_body_shorter_than_its_length_reaches_neither_function_nor_origin(
    event_type: str,
) -> None:
    """``Content-Length: 10`` and 3 bytes (the viewer went away): the function saw ``abc``
    with ``inputTruncated: false`` and the app a whole 3-byte POST (``CONTENT_LENGTH``
    rewritten); now CloudFront's 400, as the bare app's server gives."""
    seen: list[Any] = []
    origin: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        origin.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"stored"]

    mw = EdgeWSGIMiddleware(app, config=_config(event_type, seen))
    status, headers, body = call_wsgi(
        mw, "POST", "/upload", b"abc", CONTENT_LENGTH="10", REMOTE_ADDR="1.2.3.4"
    )
    assert status.startswith("400")
    assert dict(headers)["X-Cache"] == "Error from cloudfront"
    assert (seen, origin) == ([], [])
    assert b"incomplete" in body


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_asgi_a_viewer_gone_mid_body_reaches_neither_function_nor_origin(event_type: str) -> None:
    """The viewer sends 3 of 10 bytes, then ``http.disconnect``: the app got ``abc`` with
    ``more_body: False`` and no disconnect (a whole request) and did its side effects."""
    seen: list[Any] = []
    origin: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        origin.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stored"})

    messages = [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]
    scope = asgi_scope(
        "/upload",
        method="POST",
        headers=[(b"host", b"x"), (b"content-length", b"10")],
    )
    sent = call_asgi(EdgeMiddleware(app, config=_config(event_type, seen)), scope, messages)
    assert sent[0]["status"] == 400
    assert (seen, origin) == ([], [])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_whole_body_still_reaches_both(event_type: str) -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.input"].read()]

    mw = EdgeWSGIMiddleware(app, config=_config(event_type, seen))
    status, _, body = call_wsgi(mw, "POST", "/upload", b"abc", CONTENT_LENGTH="3")
    assert (status[:3], body) == ("200", b"abc")
    assert seen[0]["data"] == "YWJj"


door = door_fixture(Door)


def _deny(event: dict[str, Any], context: Any) -> Any:
    return {"status": "401", "statusDescription": "Unauthorized", "body": "no"}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_generated_401_is_labelled_as_generated_by_either_request_trigger(
    door: Door, event_type: str
) -> None:
    """decisions.md #23: the miss that ran an origin-request answer is
    ``LambdaGeneratedResponse from cloudfront``, whatever its status, and lambda-edge.md §5.2
    puts ``Server: CloudFront`` on Lambda-generated responses; an origin-request 401 was
    ``Error from cloudfront`` with no Server."""
    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0), **{event_type: _deny}))
    client = door.viewer(door.wrap(door.pick(ok_asgi, ok_wsgi), config))
    r = door.send(client, "GET", "/private")
    assert (r.status, r.get("x-cache"), r.get("server")) == (
        401,
        "LambdaGeneratedResponse from cloudfront",
        "CloudFront",
    )
