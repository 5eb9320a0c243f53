"""The request body hunt of 2026-12-08, on both doors.

* An ``OPTIONS`` body to an origin group's behavior is read whole, to be sent to the secondary
  again, only up to 64 KiB (``core.limits.REPLAY_BODY_LIMIT``); a longer one streams to the
  primary once and that request does not fail over (any viewer could make the edge hold any
  body in memory, twice on the ASGI door).
* A viewer body shorter than its ``Content-Length`` (the viewer went) on its way to a URL
  origin is the viewer's 400, as when a function reads the body, not the origin's 502.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, Trigger
from edge_middleware.config.model import Origin, OriginGroup
from tests.support import doors
from tests.support.servers import uvicorn_server

REPLAY_BODY_LIMIT = 64 * 1024  # core.limits.REPLAY_BODY_LIMIT

GROUP = EdgeConfig(
    origins=[Origin("main", "main.example.com"), Origin("backup", "backup.example.com")],
    origin_groups=[OriginGroup("site", ("main", "backup"), (503,))],
    default=Behavior(target_origin_id="site", cache=CachePolicy(0, 0, 0)),
)


async def _body_size(receive: Any) -> int:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return size


def _asgi(name: str, status: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        size = await _body_size(receive)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": f"{name} {size}".encode()})

    return app


def _wsgi(name: str, status: int) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        size = len(environ["wsgi.input"].read())
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [f"{name} {size}".encode()]

    return app


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize(
    ("size", "answer"),
    [
        (10_000, (200, "backup 10000")),  # read whole: the secondary is sent it again
        (REPLAY_BODY_LIMIT, (200, f"backup {REPLAY_BODY_LIMIT}")),
        (200_000, (503, "main 200000")),  # streamed to the primary once: no failover
    ],
)
def test_an_options_body_is_kept_for_the_secondary_only_when_small(
    kind: str, size: int, answer: tuple[int, str]
) -> None:
    make = _asgi if kind == "asgi" else _wsgi
    app = doors.wrap(kind, make("main", 503), GROUP, origins={"backup": make("backup", 200)})
    got = doors.send(kind, doors.viewer(kind, app), "OPTIONS", "/x", body=b"b" * size)
    assert (got.status, got.text()) == answer


async def _echo_length(scope: Any, receive: Any, send: Any) -> None:
    """A URL origin that reads the whole body and says how long it was."""
    if scope["type"] != "http":
        return
    size = await _body_size(receive)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture(scope="module")
def url_origin() -> Iterator[str]:
    with uvicorn_server(_echo_length) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize("method", ["POST", "PUT"])  # streamed, and read whole to be replayable
def test_a_body_shorter_than_its_content_length_is_the_viewers_400_at_a_url_origin(
    kind: str, method: str, url_origin: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The viewer went after 10 of its 100 bytes: the URL origin was blamed (a 502 'Error
    from cloudfront', and on the WSGI door h11's framing error logged as the origin's)."""
    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0)))
    own = doors.ok_asgi if kind == "asgi" else doors.ok_wsgi  # (never asked)
    app = doors.wrap(kind, own, config, origins={"default": url_origin})
    if kind == "asgi":
        scope = doors.asgi_scope(
            "/p", method=method, headers=[(b"host", b"x"), (b"content-length", b"100")]
        )
        cut = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]
        sent = doors.call_asgi(app, scope, [*cut, {"type": "http.disconnect"}])
        status = sent[0]["status"]
    else:
        line, _, _ = doors.call_wsgi(app, method, "/p", b"x" * 10, CONTENT_LENGTH="100")
        status = int(line.split()[0])
    assert status == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def _seen_length(event: dict[str, Any], context: Any) -> Any:
    """An origin-request function that tells the origin how much of the body it saw."""
    request = event["Records"][0]["cf"]["request"]
    seen = len(base64.b64decode(request["body"]["data"]))
    request["headers"]["x-seen"] = [{"key": "X-Seen", "value": str(seen)}]
    return request


@pytest.mark.parametrize("function", [False, True])
def test_a_content_length_beside_transfer_encoding_does_not_cut_the_body_on_wsgi(
    url_origin: str, function: bool
) -> None:
    """RFC 9112 §6.3: Transfer-Encoding frames the body, whatever a Content-Length beside it
    says (cheroot and werkzeug pass both on): the WSGI door read the viewer's chunked body by
    its Content-Length, and a URL origin got 5 of its 11 bytes (a longer one: the viewer's
    400), as did a function with IncludeBody (regression hunt of 2026-12-08)."""
    behavior = Behavior(cache=CachePolicy(0, 0, 0))
    if function:
        behavior = Behavior(
            cache=CachePolicy(0, 0, 0), origin_request=Trigger(_seen_length, include_body=True)
        )
    app = doors.wrap("wsgi", doors.ok_wsgi, EdgeConfig(behavior), origins={"default": url_origin})
    body = b"hello world"  # as the server de-chunked it
    line, _, answer = doors.call_wsgi(
        app, "POST", "/p", body, CONTENT_LENGTH="5", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert (line.split()[0], answer) == ("200", b"11")


def _reads_body(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_an_options_body_a_function_read_whole_still_fails_over(kind: str) -> None:
    """The 64 KiB bound kept a body from being held for the secondary; a body an origin-request
    function's event had read whole (up to 1 MB) is held already, and failed over no more
    (regression hunt of 2026-12-08; distributions.md [dg-og])."""
    behavior = Behavior(
        target_origin_id="site",
        cache=CachePolicy(0, 0, 0),
        origin_request=Trigger(_reads_body, include_body=True),
    )
    config = EdgeConfig(origins=GROUP.origins, origin_groups=GROUP.origin_groups, default=behavior)
    make = _asgi if kind == "asgi" else _wsgi
    app = doors.wrap(kind, make("main", 503), config, origins={"backup": make("backup", 200)})
    got = doors.send(kind, doors.viewer(kind, app), "OPTIONS", "/x", body=b"b" * 100_000)
    assert (got.status, got.text()) == (200, "backup 100000")
