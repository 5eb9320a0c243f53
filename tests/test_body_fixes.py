"""Bodies a function replaces, as the origin and the viewer get them (bodies hunt of
2026-12-07, third session): the viewer's unread rest after a replacement, an empty
replacement's length, a chunked body's framing in the origin-request event, the lone-surrogate
message, and the dev server's keep-alive after a chunked body it left unread."""

from __future__ import annotations

import socket
import threading
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
from edge_middleware.devtools.wsgi_server import cheroot_server
from tests.support.doors import asgi_scope, call_asgi, call_wsgi
from tests.support.servers import free_port

NO_CACHE = CachePolicy(0, 0, 0)


def _replace_with(data: str) -> Any:
    def replace(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request["body"] = {"action": "replace", "encoding": "text", "data": data}
        return request

    return replace


@pytest.mark.parametrize("event_type", ["viewer_request", "origin_request"])
def test_asgi_origin_gets_nothing_after_a_replaced_body_it_saw_part_of(event_type: str) -> None:
    """lambda-edge.md §1.5: ``replace`` sends ``data`` instead of the body. A function that saw
    only the first 40 KB (1 MB) of a longer body replaced it; the origin app got the
    replacement with ``more_body: False``, then the viewer's unread rest as more
    ``http.request`` messages (Django's ASGI handler then fails: a 502)."""
    limit = 40 * 1024 if event_type == "viewer_request" else 1024 * 1024
    rest = [b"R" * 16384] * (limit // 16384 + 2)
    triggers: dict[str, Any] = {event_type: Trigger(_replace_with("name=new"), include_body=True)}
    config = EdgeConfig(default=Behavior(cache=NO_CACHE, **triggers))
    got: list[dict[str, Any]] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            got.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        got.append(await receive())  # after the body: only the viewer's going
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in rest]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    length = str(sum(map(len, rest))).encode()
    scope = asgi_scope(
        "/form", method="POST", headers=[(b"host", b"x"), (b"content-length", length)]
    )
    sent = call_asgi(EdgeMiddleware(origin, config=config), scope, messages, stay=False)
    assert sent[0]["status"] == 200
    assert [(m["type"], m.get("body"), m.get("more_body")) for m in got] == [
        ("http.request", b"name=new", False),
        ("http.disconnect", None, None),
    ]


def test_asgi_origin_still_gets_the_rest_of_a_body_it_streams() -> None:
    """The other case of the same receive: a function that saw a prefix and left the body as
    it is; the origin gets the whole body, the prefix then the rest."""

    def look(event: dict[str, Any], context: Any) -> Any:
        return event["Records"][0]["cf"]["request"]

    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=Trigger(look, include_body=True))
    )
    body = b"x" * (50 * 1024)
    got: list[bytes] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            got.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [
        {"type": "http.request", "body": body[i : i + 8192], "more_body": True}
        for i in range(0, len(body), 8192)
    ]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    scope = asgi_scope(
        "/f", method="POST", headers=[(b"host", b"x"), (b"content-length", str(len(body)).encode())]
    )
    call_asgi(EdgeMiddleware(origin, config=config), scope, messages)
    assert b"".join(got) == body


def _seen_by_origin_request(seen: dict[str, Any]) -> Any:
    def note(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        headers = request["headers"]
        seen["event"] = {
            k: headers[k][0]["value"]
            for k in ("content-length", "transfer-encoding")
            if k in headers
        }
        return request

    return note


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("data", ["REPLACED", ""])
def test_a_replaced_body_is_framed_by_its_length_in_the_event_and_at_the_origin(
    kind: str, framing: str, data: str
) -> None:
    """lambda-edge.md §1.3: the origin-request event shows what the origin gets. After
    viewer-request replaced a chunked body the event still said ``transfer-encoding:
    chunked`` while the origin got ``Content-Length: 8``; an empty replacement reached an
    ASGI app with no length at all (a WSGI app got ``CONTENT_LENGTH=0``)."""
    seen: dict[str, Any] = {}
    config = EdgeConfig(
        default=Behavior(
            cache=NO_CACHE,
            viewer_request=Trigger(_replace_with(data), include_body=True),
            origin_request=_seen_by_origin_request(seen),
        )
    )
    if kind == "asgi":

        async def origin(scope: Any, receive: Any, send: Any) -> None:
            framing_headers = (b"content-length", b"transfer-encoding")
            seen["origin"] = {
                k.decode(): v.decode() for k, v in scope["headers"] if k in framing_headers
            }
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        header = (
            (b"transfer-encoding", b"chunked")
            if framing == "chunked"
            else (b"content-length", b"7")
        )
        scope = asgi_scope("/f", method="POST", headers=[(b"host", b"x"), header])
        message = {"type": "http.request", "body": b"a=1&b=2", "more_body": False}
        call_asgi(EdgeMiddleware(origin, config=config), scope, [message])
    else:

        def wsgi_origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            seen["origin"] = {
                name: environ[key]
                for name, key in (
                    ("content-length", "CONTENT_LENGTH"),
                    ("transfer-encoding", "HTTP_TRANSFER_ENCODING"),
                )
                if environ.get(key)
            }
            start_response("200 OK", [])
            return [b""]

        extra = (
            {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
            if framing == "chunked"
            else {"CONTENT_LENGTH": "7"}
        )
        call_wsgi(EdgeWSGIMiddleware(wsgi_origin, config=config), "POST", "/f", b"a=1&b=2", **extra)
    want = {"content-length": str(len(data))}
    assert (seen["event"], seen["origin"]) == (want, want)


@pytest.mark.parametrize("where", ["request", "response"])
def test_a_lone_surrogate_is_named_once(where: str) -> None:
    """The message said "The Lambda function result failed validation: " twice."""

    def bad(event: dict[str, Any], context: Any) -> Any:
        if where == "response":
            return {"status": "200", "body": "bad \ud800 body"}
        request = event["Records"][0]["cf"]["request"]
        request["body"] = {"action": "replace", "encoding": "text", "data": "bad \ud800"}
        return request

    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=Trigger(bad, include_body=True))
    )
    status, _, body = call_wsgi(
        EdgeWSGIMiddleware(_ok_wsgi, config=config), "POST", "/f", b"x", CONTENT_LENGTH="1"
    )
    assert status.startswith("502")
    text = body.decode()
    assert "lone surrogate" in text
    assert text.count("failed validation") <= 1


def _ok_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def _deny(event: dict[str, Any], context: Any) -> Any:
    return {"status": "403", "statusDescription": "Forbidden", "body": "no"}


def _talk(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("hidden", [False, True])
def test_dev_server_never_reads_an_unread_chunked_body_as_the_next_request(hidden: bool) -> None:
    """The dev server's WSGI server (cheroot) drains only a Content-Length body the answer
    left unread: after a viewer-request function's own answer to a chunked POST, the body's
    chunks were parsed as the next request on the connection (a 400 "Malformed
    Request-Line", or a request hidden in the body served as one)."""
    port = free_port()
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        return _ok_wsgi(environ, start_response)

    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE, viewer_request=Trigger(_deny, include_body=False))
    )
    server = cheroot_server()(("127.0.0.1", port), EdgeWSGIMiddleware(app, config=config))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        after = b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        data = head + after if hidden else head + b"5\r\nhello\r\n0\r\n\r\n" + after
        out = _talk(port, data)
    finally:
        server.stop()
        thread.join(5)
    assert out.startswith(b"HTTP/1.1 403 ")
    assert out.count(b"HTTP/1.1 ") == 1  # the body's bytes were no request of their own
    assert b"Connection: close" in out
    assert seen == []


def test_dev_server_keeps_a_connection_whose_chunked_body_was_read() -> None:
    """The other side: a chunked body the app read to its end keeps the connection alive."""
    port = free_port()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    config = EdgeConfig(default=Behavior(cache=NO_CACHE))
    server = cheroot_server()(("127.0.0.1", port), EdgeWSGIMiddleware(app, config=config))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        head = b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        first = head + b"5\r\nhello\r\n0\r\n\r\n"
        out = _talk(port, first + b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        server.stop()
        thread.join(5)
    assert out.count(b"HTTP/1.1 200 ") == 2
