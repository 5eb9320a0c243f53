"""What a function's event shows of the lengths and CloudFront's headers, and what goes out
after it, on both doors: a Content-Length an origin-response function writes over the body,
the origin-request event after viewer-request replaced the body, and the viewer-response
event's Via (lambda-edge.md §1.3, §1.7, §5.2)."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, Trigger
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)

BODY = b"x" * 314
ORIGIN_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(BODY)).encode()),
    (b"via", b"1.1 origin-proxy"),
    (b"x-cache", b"MISS from origin-proxy"),
]


async def asgi_origin(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = dict(scope["headers"])
    if scope["method"] == "POST":
        out = b"%s|%s" % (seen.get(b"content-length", b"-"), body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": out})
        return
    await send({"type": "http.response.start", "status": 200, "headers": ORIGIN_HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def wsgi_origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["REQUEST_METHOD"] == "POST":
        length = environ.get("CONTENT_LENGTH") or "-"
        body = environ["wsgi.input"].read(int(length) if length != "-" else -1)
        start_response("200 OK", [])
        return [length.encode() + b"|" + body]
    start_response("200 OK", [(k.decode(), v.decode()) for k, v in ORIGIN_HEADERS])
    return [BODY]


def _config(**triggers: Any) -> EdgeConfig:
    return EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0), **triggers))


@pytest.mark.parametrize("written", ["5", "99999", "zz", "314"])
def test_a_length_origin_response_writes_over_the_body_never_goes_out(
    door: Door, written: str
) -> None:
    def origin_response(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        response["headers"]["content-length"] = [{"key": "Content-Length", "value": written}]
        return response

    app = door.wrap(door.pick(asgi_origin, wsgi_origin), _config(origin_response=origin_response))
    r = door.send(door.viewer(app), "GET", "/x")
    assert (r.status, r.body, r.all("content-length")) == (200, BODY, ["314"])


def test_origin_request_event_shows_the_length_of_the_body_viewer_request_set(
    door: Door,
) -> None:
    seen: dict[str, str] = {}

    def viewer_request(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["body"] = {"action": "replace", "encoding": "text", "data": "replaced-by-vr"}
        return request

    def origin_request(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen["length"] = request["headers"]["content-length"][0]["value"]
        return request

    config = _config(
        viewer_request=Trigger(viewer_request, include_body=True),
        origin_request=Trigger(origin_request, include_body=True),
    )
    app = door.wrap(door.pick(asgi_origin, wsgi_origin), config)
    headers = [("content-type", "text/plain")]
    r = door.send(door.viewer(app), "POST", "/x", headers=headers, body=b"original")
    assert (r.status, r.body) == (200, b"14|replaced-by-vr")
    assert seen["length"] == "14"


def test_viewer_response_event_shows_cloudfronts_via_only(door: Door) -> None:
    seen: dict[str, Any] = {}

    def viewer_response(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        seen.update(response["headers"])
        return response

    app = door.wrap(door.pick(asgi_origin, wsgi_origin), _config(viewer_response=viewer_response))
    r = door.send(door.viewer(app), "GET", "/x")
    assert r.status == 200
    assert [e["value"] for e in seen["via"]] == r.all("via")
    assert r.all("via")[0].endswith(".cloudfront.net (CloudFront)")
    assert "x-cache" not in seen
    assert r.all("x-cache") == ["Miss from cloudfront"]
