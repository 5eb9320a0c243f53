"""Nothing unfit for the wire reaches a viewer or the cache (issue 16, item 7).

* An origin response whose header has CR/LF, NUL, another control character or a name that is
  not a token gets CloudFront's 502 on both doors, is never cached, and its header never reaches
  the wire (the WSGI door used to send it raw).
* A function's header value with any control character but HTAB fails validation (502
  LambdaValidationError), as on CloudFront; a lone surrogate in a text body too.
* An origin-response result returned unchanged is still validated.
* Entries read back from Redis (not a trusted source) are re-validated.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    LambdaValidationError,
    RedisStorage,
)
from edge_middleware.cache.entry import CacheEntry
from edge_middleware.cache.redis import dumps, loads
from edge_middleware.core.validation import validate_request_result, validate_response_result
from tests.support.doors import asgi_scope, send, viewer, wrap

Headers = list[tuple[str, str]]


# -- the two doors, each with a real origin app that adds ``extra`` headers ----------------------
def _starlette(extra: Headers, calls: list[str]) -> Any:
    async def page(request: Request) -> PlainTextResponse:
        calls.append(request.url.path)
        response = PlainTextResponse("page", headers={"cache-control": "max-age=60"})
        # raw_headers: Starlette does not check what an app puts there
        response.raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra)
        return response

    return Starlette(routes=[Route("/{rest:path}", page)])


def _flask(extra: Headers, calls: list[str]) -> Any:
    app = Flask("header_values")

    @app.route("/<path:rest>")
    def page(rest: str) -> Any:
        calls.append("/" + rest)
        return "page", 200, {"Cache-Control": "max-age=60"}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # werkzeug refuses CR/LF in its own headers; a bare WSGI layer passes anything
        def start(status: str, headers: Headers, exc_info: Any = None) -> Any:
            return start_response(status, list(headers) + extra, exc_info)

        return app.wsgi_app(environ, start)

    return wsgi


class Seen:
    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def _door(kind: str, extra: Headers, config: EdgeConfig) -> tuple[Callable[[str], Seen], list[str]]:
    calls: list[str] = []
    if kind == "asgi":
        client = TestClient(EdgeMiddleware(_starlette(extra, calls), config=config))

        def get(path: str) -> Seen:
            r = client.get(path)
            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw]
            return Seen(r.status_code, pairs, r.content)

        return get, calls
    wsgi = Client(EdgeWSGIMiddleware(_flask(extra, calls), config=config))

    def wget(path: str) -> Seen:
        r = wsgi.get(path)
        return Seen(r.status_code, list(r.headers.to_wsgi_list()), r.get_data())

    return wget, calls


DOORS = [pytest.param("asgi", id="asgi"), pytest.param("wsgi", id="wsgi")]

BAD_ORIGIN_HEADERS = [
    pytest.param(("X-Bad", "a\r\nSet-Cookie: evil=1"), id="crlf-injection"),
    pytest.param(("X-Bad", "a\nb"), id="lf"),
    pytest.param(("X-Bad", "a\rb"), id="cr"),
    pytest.param(("X-Bad", "a\x00b"), id="nul"),
    pytest.param(("X-Bad", "a\x01b"), id="soh"),
    pytest.param(("X-Bad", "a\x1bb"), id="esc"),
    pytest.param(("X-Bad", "a\x7fb"), id="del"),
    pytest.param(("Bad Name", "v"), id="name-with-space"),
    pytest.param(("X-Bad:", "v"), id="name-with-colon"),
]


@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize("header", BAD_ORIGIN_HEADERS)
@pytest.mark.parametrize(
    "origin_response",
    [
        pytest.param(None, id="no-function"),
        pytest.param(lambda event, context: event["Records"][0]["cf"]["response"], id="unchanged"),
    ],
)
def test_invalid_origin_header_is_a_502_never_cached_never_sent(
    kind: str, header: tuple[str, str], origin_response: Any
) -> None:
    get, calls = _door(
        kind, [header], EdgeConfig(default=Behavior(origin_response=origin_response))
    )
    answers = [get("/page"), get("/page")]
    assert [(a.status, a.get("x-cache")) for a in answers] == [(502, "Error from cloudfront")] * 2
    assert calls == ["/page", "/page"]  # nothing was cached
    for answer in answers:
        assert not any(set(k + v) & set("\r\n\x00\x01\x1b\x7f") for k, v in answer.headers)
        assert answer.get("set-cookie") is None
        assert answer.get("x-bad") is None


@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize(
    "header",
    [
        pytest.param(("X-Ok", "a\tb"), id="htab"),
        # (Starlette's TestClient takes ASCII header values only; latin-1: the pure tests below)
        pytest.param(("X-Ok", 'a b;c="d" ~'), id="printable"),
        pytest.param(("X-Ok", ""), id="empty"),
    ],
)
def test_valid_origin_header_is_served_and_cached(kind: str, header: tuple[str, str]) -> None:
    get, calls = _door(kind, [header], EdgeConfig())
    first, second = get("/page"), get("/page")
    assert [(a.status, a.get("x-cache")) for a in (first, second)] == [
        (200, "Miss from cloudfront"),
        (200, "Hit from cloudfront"),
    ]
    assert second.get("x-ok") == header[1]
    assert calls == ["/page"]


# -- function results ------------------------------------------------------------------------------
def _generate(value: str, body: str = "generated") -> Callable[[dict[str, Any], Any], Any]:
    def handler(event: dict[str, Any], context: Any) -> Any:
        return {
            "status": "200",
            "headers": {"x-made": [{"key": "X-Made", "value": value}]},
            "body": body,
        }

    return handler


def _add_to_origin_response(value: str) -> Callable[[dict[str, Any], Any], Any]:
    def handler(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        response["headers"]["x-made"] = [{"key": "X-Made", "value": value}]
        return response

    return handler


@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize(
    ("behavior", "status", "x_cache"),
    [
        pytest.param(
            Behavior(viewer_request=_generate("a\x01b")), 502, "LambdaValidationError", id="vr-soh"
        ),
        pytest.param(
            Behavior(viewer_request=_generate("a\x1fb")), 502, "LambdaValidationError", id="vr-us"
        ),
        pytest.param(
            Behavior(viewer_request=_generate("a\x7fb")), 502, "LambdaValidationError", id="vr-del"
        ),
        pytest.param(
            Behavior(viewer_request=_generate("ok", body="caf\ud800")),
            502,
            "LambdaValidationError",
            id="vr-body-lone-surrogate",
        ),
        pytest.param(
            Behavior(origin_response=_add_to_origin_response("a\x08b")),
            502,
            "LambdaValidationError",
            id="or-backspace",
        ),
        pytest.param(
            Behavior(viewer_request=_generate("a\tb")), 200, "LambdaGeneratedResponse", id="vr-htab"
        ),
        pytest.param(
            Behavior(viewer_request=_generate("ok", body="caf\u00e9 \U0001f600")),
            200,
            "LambdaGeneratedResponse",
            id="vr-body-non-ascii",
        ),
        pytest.param(
            Behavior(origin_response=_add_to_origin_response("a\tb ~")),
            200,
            "Miss",
            id="or-htab",
        ),
    ],
)
def test_function_header_values_and_text_bodies(
    kind: str, behavior: Behavior, status: int, x_cache: str
) -> None:
    get, _ = _door(kind, [], EdgeConfig(default=behavior))
    answer = get("/page")
    assert (answer.status, answer.get("x-cache")) == (status, f"{x_cache} from cloudfront")
    if status == 200:  # what was sent is valid UTF-8 / latin-1 as given
        answer.body.decode("utf-8")


# -- pure validation -------------------------------------------------------------------------------
def _response(value: str) -> dict[str, Any]:
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {"x-from-origin": [{"key": "X-From-Origin", "value": value}]},
    }


@pytest.mark.parametrize("event_type", ["origin-response", "viewer-response"])
@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param("a\x01b", False, id="soh"),
        pytest.param("a\r\nb", False, id="crlf"),
        pytest.param("a\x7f", False, id="del"),
        pytest.param("a\tb", True, id="htab"),
        pytest.param("caf\xe9", True, id="latin-1"),
    ],
)
def test_unchanged_response_result_is_still_validated(
    event_type: Any, value: str, valid: bool
) -> None:
    before = _response(value)
    result = copy.deepcopy(before)
    if valid:
        out = validate_response_result(event_type, before, result, EdgeSettings())
        assert out.headers["x-from-origin"][0]["value"] == value
    else:
        with pytest.raises(LambdaValidationError, match="invalid character"):
            validate_response_result(event_type, before, result, EdgeSettings())


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        pytest.param("caf\ud800", False, id="lone-surrogate"),
        pytest.param("caf\udfff!", False, id="lone-low-surrogate"),
        pytest.param("caf\u00e9", True, id="latin-1"),
        pytest.param("\U0001f600", True, id="astral"),
    ],
)
def test_replaced_request_body_text_must_be_valid_unicode(data: str, valid: bool) -> None:
    before: Any = {
        "clientIp": "203.0.113.7",
        "method": "POST",
        "uri": "/",
        "querystring": "",
        "headers": {},
        "body": {"inputTruncated": False, "action": "read-only", "encoding": "base64", "data": ""},
    }
    result = copy.deepcopy(before)
    result["body"] = {"action": "replace", "encoding": "text", "data": data}
    if valid:
        out: Any = validate_request_result(
            "viewer-request", before, result, EdgeSettings(), include_body=True
        )
        assert base64.b64decode(out.request["body"]["data"]) == data.encode("utf-8")
    else:
        with pytest.raises(LambdaValidationError, match="lone surrogate"):
            validate_request_result(
                "viewer-request", before, result, EdgeSettings(), include_body=True
            )


# -- entries read back from Redis ------------------------------------------------------------------
def _entry(headers: Iterable[tuple[bytes, bytes]]) -> CacheEntry:
    now = time.time()
    return CacheEntry(
        key="d111111abcdef8.cloudfront.net|/page",
        status=200,
        reason="OK",
        headers=tuple(headers),
        body=b"page",
        stored_at=now,
        fresh_until=now + 60,
        retain_until=now + 120,
        path="/page",
    )


REDIS_HEADERS = [
    pytest.param([(b"X-Bad", b"a\r\nSet-Cookie: evil=1")], False, id="crlf"),
    pytest.param([(b"X-Bad", b"a\x01")], False, id="soh"),
    pytest.param([(b"Bad Name", b"v")], False, id="name-with-space"),
    pytest.param([(b"", b"v")], False, id="empty-name"),
    pytest.param([(b"X-Ok", b"a\tb"), (b"Set-Cookie", b"a=1")], True, id="valid"),
]


@pytest.mark.parametrize(
    ("reason", "valid"),
    [
        pytest.param("OK", True, id="ok"),
        pytest.param("OK\r\nX-Injected: 1", False, id="crlf"),
        pytest.param("O\x00K", False, id="nul"),
    ],
)
def test_loads_revalidates_the_reason(reason: str, valid: bool) -> None:
    blob = dumps(_entry([]).with_changes(reason=reason))
    if valid:
        assert loads(blob).reason == reason
    else:
        with pytest.raises(ValueError):
            loads(blob)


@pytest.mark.parametrize(("headers", "valid"), REDIS_HEADERS)
def test_loads_revalidates_header_values(headers: list[tuple[bytes, bytes]], valid: bool) -> None:
    blob = dumps(_entry(headers))
    if valid:
        assert loads(blob).headers == tuple(headers)
    else:
        with pytest.raises(ValueError):
            loads(blob)


@pytest.mark.redis
@pytest.mark.parametrize(("headers", "valid"), REDIS_HEADERS)
def test_redis_entry_with_bad_header_is_a_miss(
    redis_url: str, headers: list[tuple[bytes, bytes]], valid: bool
) -> None:
    storage = RedisStorage(redis_url, distribution_id="E1")
    try:
        entry = _entry(headers)
        storage.set(entry)  # as a foreign or older writer might have stored it
        found = storage.get(entry.key)
        assert (found is not None) is valid
    finally:
        storage.close()


# -- origin heads an app should never send -------------------------------------------------------
#: (ASGI head, WSGI head): each a status and headers no server could put on the wire
MALFORMED_HEADS = [
    pytest.param((200, [("x-name", "v")]), ("200 OK", [("X-Name", "caf\u20ac")]), id="text"),
    pytest.param((200, [(b"x-name", 5)]), ("200 OK", [("X-Name", 5)]), id="int-value"),
    pytest.param((200, [(b"a", b"b", b"c")]), ("200 OK", [("A", "b", "c")]), id="triple"),
    pytest.param((200, None), ("200 OK", None), id="no-list"),
    pytest.param(("200", []), (b"200 OK", []), id="status-type"),
    pytest.param((42, []), ("42 Odd", []), id="status-42"),
]


def _malformed(kind: str, head: tuple[Any, Any], calls: list[str]) -> Any:
    status, headers = head

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"body"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response(status, headers)
        return [b"body"]

    return asgi if kind == "asgi" else wsgi


@pytest.mark.parametrize("kind", DOORS)
@pytest.mark.parametrize(("asgi_head", "wsgi_head"), MALFORMED_HEADS)
@pytest.mark.parametrize(
    "behavior",
    [
        pytest.param(Behavior(cache=CachePolicy(0, 0, 0)), id="short-way"),
        pytest.param(Behavior(), id="pipeline"),
        pytest.param(
            Behavior(origin_response=lambda event, context: event["Records"][0]["cf"]["response"]),
            id="origin-response",
        ),
    ],
)
def test_a_malformed_origin_head_is_cloudfronts_502_on_every_path(
    kind: str, asgi_head: Any, wsgi_head: Any, behavior: Behavior
) -> None:
    """A status or headers no server could send (text or ints where bytes belong, a pair of
    three, no list, a status that is not three digits) is CloudFront's 502 for an invalid
    origin response, on the short way and the pipeline alike: never an exception to the
    server, never passed on."""
    calls: list[str] = []
    app = _malformed(kind, asgi_head if kind == "asgi" else wsgi_head, calls)
    client = viewer(kind, wrap(kind, app, EdgeConfig(default=behavior)))
    answers = [send(kind, client, "GET", "/page") for _ in range(2)]
    for answer in answers:
        assert (answer.status, answer.get("x-cache")) == (502, "Error from cloudfront")
        assert answer.get("x-name") is None and answer.get("via") is not None
    assert calls == ["/page", "/page"]  # nothing was cached


def _asgi_messages(app: Any, behavior: Behavior) -> tuple[list[dict[str, Any]], Exception | None]:
    """What the viewer's ``send`` got from the wrapped ``app``, and what was raised to the
    server (a response cut after it started)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_scope("/page")
    try:
        mw = EdgeMiddleware(app, config=EdgeConfig(default=behavior))
        asyncio.run(mw(scope, receive, send))
    except Exception as exc:  # the server's part: it closes the connection
        return sent, exc
    return sent, None


ASGI_BEHAVIORS = [
    pytest.param(Behavior(cache=CachePolicy(0, 0, 0)), id="short-way"),
    pytest.param(
        Behavior(
            cache=CachePolicy(0, 0, 0),
            origin_response=lambda event, context: event["Records"][0]["cf"]["response"],
        ),
        id="pipeline-streamed",
    ),
    pytest.param(Behavior(), id="pipeline-read-whole"),
]


@pytest.mark.parametrize("behavior", ASGI_BEHAVIORS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(None, b"", id="none"),
        pytest.param(bytearray(b"ba"), b"ba", id="bytearray"),
        pytest.param(memoryview(b"mv"), b"mv", id="memoryview"),
        pytest.param("text", None, id="text"),
        pytest.param(5, None, id="int"),
    ],
)
def test_an_asgi_origin_body_reaches_the_viewer_as_bytes_or_not_at_all(
    behavior: Behavior, body: Any, expected: bytes | None
) -> None:
    """ASGI bodies are byte strings: ``None`` is none and a bytes-like object is its bytes;
    text or an int fails the app's ``send`` as a server's would (CloudFront's 502 when the
    body was being read whole, a cut response once the head went out), and never reaches
    the viewer's ``send``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    sent, raised = _asgi_messages(app, behavior)
    bodies = [m.get("body") for m in sent if m["type"] == "http.response.body"]
    assert all(type(b) is bytes for b in bodies)
    if expected is not None:
        assert raised is None and b"".join(bodies) == expected
    elif raised is None:  # nothing had gone out: CloudFront's 502
        assert sent[0]["status"] == 502
    else:
        assert isinstance(raised, TypeError)


@pytest.mark.parametrize("behavior", ASGI_BEHAVIORS)
def test_what_an_asgi_origin_sends_after_its_body_ended_is_dropped(behavior: Behavior) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"all", "more_body": False})
        await send({"type": "http.response.body", "body": b"more", "more_body": False})

    sent, raised = _asgi_messages(app, behavior)
    assert raised is None
    assert b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body") == b"all"


@pytest.mark.parametrize("behavior", ASGI_BEHAVIORS)
def test_an_asgi_origin_failing_after_its_complete_response_still_answers(
    behavior: Behavior, caplog: pytest.LogCaptureFixture
) -> None:
    """A Starlette background task that raises runs after the response's last body message:
    a server in front of the app would have sent the whole response, so CloudFront would get
    it (and may cache it). The viewer gets it complete, nothing is raised to the server, and
    the failure is logged once."""
    calls: list[str] = []

    def fail() -> None:
        raise RuntimeError("the background task failed")

    async def page(request: Request) -> PlainTextResponse:
        calls.append(request.url.path)
        return PlainTextResponse(
            "page", headers={"cache-control": "max-age=60"}, background=BackgroundTask(fail)
        )

    app = Starlette(routes=[Route("/page", page)])
    client = TestClient(EdgeMiddleware(app, config=EdgeConfig(default=behavior)))
    answers = [client.get("/page") for _ in range(2)]  # a server error would raise here
    assert [(a.status_code, a.text) for a in answers] == [(200, "page")] * 2
    cached = behavior.cache.max_ttl > 0
    assert answers[1].headers["x-cache"] == ("Hit" if cached else "Miss") + " from cloudfront"
    assert calls == ["/page"] * (1 if cached else 2)
    failures = [r for r in caplog.records if "after its response was complete" in r.getMessage()]
    assert len(failures) == len(calls)
