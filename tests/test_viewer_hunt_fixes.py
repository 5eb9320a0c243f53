"""Viewers that go mid-stream, request targets, what reaches the origin (frameworks and keysec
hunts): each test failed before its fix."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
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
from tests.support.doors import asgi_scope, call_asgi, call_wsgi, first_then_last
from tests.support.servers import RawOrigin, raw_origin, uvicorn_server, wait_until


def _endless(state: dict[str, Any]) -> Any:
    def respond(origin: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while not origin.release.is_set():
                conn.sendall(b"6\r\ndata:x\r\n")
                time.sleep(0.01)
        except OSError:
            state["closed"] = True

    return respond


async def _unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the URL origin answers")


@pytest.mark.slow
@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_an_endless_origin_stream_stops_when_the_viewer_leaves_under_uvicorn(
    caching: bool,
) -> None:
    """uvicorn's ``send`` does not fail once the viewer went: the edge read an endless origin
    stream (and held its connection) for ever."""
    state = {"closed": False}
    cache = CachePolicy(0, 60, 3600) if caching else CachePolicy(0, 0, 0)
    with raw_origin(_endless(state)) as origin:
        url = f"http://127.0.0.1:{origin.server_address[1]}"
        edge = EdgeMiddleware(
            _unused, config=EdgeConfig(default=Behavior(cache=cache)), origins={"default": url}
        )
        with uvicorn_server(edge) as port:
            viewer = socket.create_connection(("127.0.0.1", port))
            viewer.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            assert viewer.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(0.2)
            viewer.close()
            wait_until(lambda: state["closed"], timeout=5)


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        ("/login?next=https://shop.example/account", "/login"),
        ("/a?u=http://x", "/a"),
        ("http://viewer.example/p/q?next=http://x/y", "/p/q"),
        ("http://viewer.example?next=http://x/y", "/"),
    ],
)
def test_a_wsgi_query_holding_a_url_keeps_the_path(target: str, uri: str) -> None:
    """Any RAW_URI with ``://`` (even in its query) was read as an absolute-form target: the
    origin served, and the edge cached, ``/account`` for ``/login?next=https://shop.example/
    account``."""
    seen: list[str] = []

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def record(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen.append(request["uri"])
        return request

    edge = EdgeWSGIMiddleware(
        origin,
        config=EdgeConfig(default=Behavior(viewer_request=record, cache=CachePolicy(0, 0, 0))),
    )
    path, _, query = target.partition("?")
    if "://" in path:
        path = uri
    status, _, _ = call_wsgi(edge, path=path, QUERY_STRING=query, RAW_URI=target)
    assert status.startswith("200")
    assert seen == [uri, uri]


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_a_request_timeout_cancels_an_endless_app_the_edge_reads_to_store(caching: bool) -> None:
    """A cancellation (``asyncio.wait_for`` as request-timeout middlewares use, a server
    shutting down) that came while the edge read a body to store it was held until the app
    returned by itself: for ever for an endless feed."""
    cancelled: list[bool] = []

    async def feed(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    cache = CachePolicy(0, 60, 3600) if caching else CachePolicy(0, 0, 0)
    edge = EdgeMiddleware(feed, config=EdgeConfig(default=Behavior(cache=cache)))

    async def main() -> bool:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            pass

        request = asyncio.ensure_future(
            asyncio.wait_for(edge(asgi_scope("/feed"), receive, send), 0.2)
        )
        done, _ = await asyncio.wait([request], timeout=3)
        if not done:
            request.cancel()
            return False
        assert isinstance(request.exception(), TimeoutError)
        return True

    assert asyncio.run(main()), "still running 3 s after a 0.2 s timeout"
    assert cancelled == [True]


def _echo(name: bytes, prefix: bytes, absent: bytes) -> Any:
    """A cacheable ASGI page that says the request header ``name`` it got."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        value = dict(scope["headers"]).get(name, absent)
        headers = [(b"cache-control", b"max-age=60")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": prefix + value})

    return app


def _pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
def test_an_outer_session_middleware_reaches_the_origin_only_with_its_cookie(way: str) -> None:
    """Starlette's SessionMiddleware outside the edge: the origin read the session from a
    cookie the behavior does not forward, and the page made for one viewer was cached under
    the cookie-less key and served to everyone."""
    from starlette.applications import Starlette
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = request.path_params["name"]
        return PlainTextResponse("in")

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.session.get("user", "anonymous"))

    trigger = {"viewer_request": _pass} if way == "pipeline" else {}
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600), **trigger),
        behaviors=[
            Behavior(
                "/login/*",
                cache=CachePolicy(0, 0, 0),
                origin_request_policy="AllViewer",
                **trigger,
            ),
            Behavior("/mine", cache=CachePolicy(0, 0, 0), origin_request_policy="AllViewer"),
        ],
    )
    routes = [Route("/login/{name}", login), Route("/me", me), Route("/mine", me)]
    app = Starlette(routes=routes)
    app.add_middleware(EdgeMiddleware, config=config)
    app.add_middleware(SessionMiddleware, secret_key="s3cret")  # added last: outermost
    alice = TestClient(app)
    assert alice.get("/login/alice").text == "in"
    assert alice.get("/mine").text == "alice"  # the cookie is forwarded: the session is there
    assert alice.get("/me").text == "anonymous"  # it is not: the origin never saw it
    bob = TestClient(app)
    answer = bob.get("/me")
    assert (answer.text, answer.headers["x-cache"]) == ("anonymous", "Hit from cloudfront")


def _distribution() -> dict[str, Any]:
    behavior: dict[str, Any] = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # CachingOptimized
        "OriginRequestPolicyId": "216adef6-5c7f-47e4-b989-5492eafa07d3",  # AllViewer
    }
    return {
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "app",
                    "DomainName": "app.example.com",
                    "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"},
                }
            ],
        },
        "DefaultCacheBehavior": behavior,
        "Enabled": True,
    }


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_a_forged_host_an_origin_request_policy_forwards_is_keyed(door: str, way: str) -> None:
    """AllViewer sends the viewer's Host to the origin, which builds links from it, but the
    key held the distribution's domain: a page made for ``Host: evil.example`` was the next
    viewer's Hit (CloudFront refuses such a Host before the cache)."""
    from edge_middleware import EdgeSettings, load_config

    config = load_config(_distribution(), settings=EdgeSettings(shortcuts=way == "short-way"))
    page = "<script src='http://{}/app.js'></script>"
    if door == "asgi":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            host = dict(scope["headers"])[b"host"].decode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"cache-control", b"max-age=60")],
                }
            )
            await send({"type": "http.response.body", "body": page.format(host).encode()})

        from starlette.testclient import TestClient

        client: Any = TestClient(EdgeMiddleware(app, config=config))
    else:

        def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Cache-Control", "max-age=60")])
            return [page.format(environ["HTTP_HOST"]).encode()]

        from werkzeug.test import Client

        client = Client(EdgeWSGIMiddleware(wsgi, config=config))
    first = client.get("/", headers={"Host": "evil.example"})
    assert "evil.example" in first.text
    second = client.get("/", headers={"Host": "www.example.com"})
    assert "www.example.com" in second.text
    assert second.headers["X-Cache"] == "Miss from cloudfront"
    again = client.get("/", headers={"Host": "www.example.com"})
    assert again.headers["X-Cache"] == "Hit from cloudfront"


@pytest.mark.parametrize("shortcuts", [True, False], ids=["short-way", "pipeline"])
def test_a_keyed_header_the_viewers_connection_names_is_not_keyed_by_a_hit(
    shortcuts: bool,
) -> None:
    """A header ``Connection`` names is hop-by-hop, gone from the event and the key; the hit
    shortcut still keyed it: the French object was a Hit with the short way, a Miss without
    ``Accept-Language`` with the pipeline."""
    from starlette.testclient import TestClient

    from edge_middleware import EdgeSettings

    page = _echo(b"accept-language", b"lang=", b"none")

    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(headers=("accept-language",))),
        settings=EdgeSettings(shortcuts=shortcuts),
    )
    client = TestClient(EdgeMiddleware(page, config=config))
    assert client.get("/", headers={"Accept-Language": "fr"}).text == "lang=fr"
    named = client.get("/", headers={"Accept-Language": "fr", "Connection": "accept-language"})
    assert (named.headers["x-cache"], named.text) == ("Miss from cloudfront", "lang=none")
    plain = client.get("/", headers={"Accept-Language": "fr", "Connection": "keep-alive"})
    assert (plain.headers["x-cache"], plain.text) == ("Hit from cloudfront", "lang=fr")


def _sent_body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("limit", [None, 8], ids=["stored", "over-max-object-bytes"])
def test_a_cached_asgi_stream_reaches_the_viewer_as_it_comes_and_is_stored_after(
    limit: int | None,
) -> None:
    """With caching on, a stream without Content-Length was read whole (up to 64 MiB) before
    the viewer had a byte: a slow feed reached it only at its end. Now it streams, and is
    stored once it ended whole (within max_object_bytes)."""
    from edge_middleware import EdgeSettings

    seen_first = asyncio.Event()
    streamed: list[bool] = []
    calls = [0]

    headers = [(b"cache-control", b"max-age=60"), (b"content-type", b"text/plain")]
    app = first_then_last(seen_first, streamed, headers)

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        calls[0] += 1
        await app(scope, receive, send)

    settings = EdgeSettings() if limit is None else EdgeSettings(max_object_bytes=limit)
    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)), settings=settings)
    edge = EdgeMiddleware(origin, config=config)

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == b"first":
            seen_first.set()

    answers = []
    for _ in range(2):
        sent: list[dict[str, Any]] = []
        seen_first.clear()
        asyncio.run(edge(asgi_scope("/feed"), _ended_receive(sent), record))
        x_cache = dict(sent[0]["headers"])[b"x-cache"]
        answers.append((_sent_body(sent), x_cache))
    assert streamed[0]  # the viewer had the first bytes before the origin sent its last
    stored = limit is None
    assert answers == [
        (b"firstlast", b"Miss from cloudfront"),
        (b"firstlast", b"Hit from cloudfront" if stored else b"Miss from cloudfront"),
    ]
    assert calls[0] == (1 if stored else 2)


def _ended_receive(sent: list[dict[str, Any]]) -> Any:
    given = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if given:
            return given.pop()
        while not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent):
            await asyncio.sleep(0.005)
        return {"type": "http.disconnect"}

    return receive


def test_a_cached_wsgi_stream_reaches_the_viewer_as_it_comes_and_is_stored_after() -> None:
    sent_first = []
    calls = [0]

    def origin(environ: dict[str, Any], start_response: Any) -> Any:
        calls[0] += 1
        start_response("200 OK", [("Cache-Control", "max-age=60")])

        def body() -> Any:
            yield b"first,"
            sent_first.append(True)
            yield b"last"

        return body()

    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)))
    edge = EdgeWSGIMiddleware(origin, config=config)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/feed",
        "QUERY_STRING": "",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "x",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    heads: list[Any] = []
    answer = edge(dict(environ), lambda status, headers, exc=None: heads.append(headers))
    chunks = iter(answer)
    first = next(chunks)
    assert first == b"first," and not sent_first  # the viewer had it before the origin went on
    assert b"".join(chunks) == b"last"
    answer.close()
    _status, headers, body = call_wsgi(edge, path="/feed")
    assert (body, dict(headers)["X-Cache"]) == (b"first,last", "Hit from cloudfront")
    assert calls[0] == 1


def test_a_stream_the_viewer_left_is_not_stored() -> None:
    calls = [0]

    def origin(environ: dict[str, Any], start_response: Any) -> Any:
        calls[0] += 1
        start_response("200 OK", [("Cache-Control", "max-age=60")])
        return iter([b"first,", b"last"])

    edge = EdgeWSGIMiddleware(
        origin, config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)))
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/feed",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "x",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
    }
    answer = edge(environ, lambda status, headers, exc=None: None)
    assert next(iter(answer)) == b"first,"
    answer.close()  # the viewer went: the server stops and closes
    _status, headers, body = call_wsgi(edge, path="/feed")
    assert (body, dict(headers)["X-Cache"]) == (b"first,last", "Miss from cloudfront")
    assert calls[0] == 2


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_whitespace_around_an_origin_header_value_is_no_part_of_it(door: str) -> None:
    """Over HTTP, whitespace around a value is not part of it (RFC 9110 §5.5), so CloudFront's
    event never shows it; Django's WSGI handler sends ``Set-Cookie: " sessionid=..."`` and
    the origin-response function saw the leading space."""
    seen: list[dict[str, list[str]]] = []

    def ores(event: dict[str, Any], context: Any) -> Any:
        response = event["Records"][0]["cf"]["response"]
        wanted = ("set-cookie", "x-thing")
        seen.append(
            {k: [h["value"] for h in v] for k, v in response["headers"].items() if k in wanted}
        )
        return response

    pairs = [("Set-Cookie", " sessionid=abc; Path=/"), ("X-Thing", "\tpadded  ")]
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 0, 0, cookies="all"), origin_response=Trigger(ores))
    )
    if door == "wsgi":

        def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", pairs)
            return [b"ok"]

        _status, headers, _body = call_wsgi(EdgeWSGIMiddleware(wsgi, config=config))
        got = [(k.lower(), v) for k, v in headers if k.lower() in ("set-cookie", "x-thing")]
    else:

        async def app(scope: Any, receive: Any, send: Any) -> None:
            raw = [(k.lower().encode(), v.encode()) for k, v in pairs]
            await send({"type": "http.response.start", "status": 200, "headers": raw})
            await send({"type": "http.response.body", "body": b"ok"})

        sent = call_asgi(EdgeMiddleware(app, config=config), asgi_scope("/"))
        got = [
            (k.decode(), v.decode())
            for k, v in sent[0]["headers"]
            if k in (b"set-cookie", b"x-thing")
        ]
    assert seen == [{"set-cookie": ["sessionid=abc; Path=/"], "x-thing": ["padded"]}]
    assert got == [("set-cookie", "sessionid=abc; Path=/"), ("x-thing", "padded")]


@pytest.mark.parametrize(
    "first",
    [[(b"host", b"WWW.EXAMPLE.COM")], []],
    ids=["host-in-capitals", "no-host"],
)
def test_a_viewer_host_reaching_the_app_is_keyed_as_the_app_gets_it(
    first: list[tuple[bytes, bytes]],
) -> None:
    """With no origins in the config the viewer's Host reaches the app and is keyed, but the
    key lower-cased it, and a request with no Host was keyed under the distribution's domain
    while the app built its page for another host: either one's page was every
    ``Host: www.example.com`` viewer's Hit."""

    app = _echo(b"host", b"for ", b"?")

    config = EdgeConfig(
        distribution_domain_name="www.example.com",
        default=Behavior(cache=CachePolicy(0, 60, 3600)),
    )
    edge = EdgeMiddleware(app, config=config)
    call_asgi(edge, asgi_scope("/", headers=first))
    sent = call_asgi(edge, asgi_scope("/", headers=[(b"host", b"www.example.com")]))
    assert _sent_body(sent) == b"for www.example.com"
    assert dict(sent[0]["headers"])[b"x-cache"] == b"Miss from cloudfront"


def _chunked_app(calls: list[str], status: int = 200) -> Any:
    """A cacheable answer streamed in two chunks, no Content-Length; ``/err.html`` is a page."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        if scope["path"] == "/err.html":
            headers = [(b"content-type", b"text/html"), (b"content-length", b"4")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"page"})
            return
        headers = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=60")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world", "more_body": False})

    return app


def _raising(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("boom")


def _replacing(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["body"] = "replaced"
    return response


@pytest.mark.parametrize("case", ["custom-error-page", "viewer-response-fails", "vr-body"])
def test_a_streamed_answer_the_viewer_does_not_get_is_stored_all_the_same(case: str) -> None:
    """The object is stored before viewer-response (caching.md §1.1): a streamed answer (no
    Content-Length) whose stream the viewer did not get (a custom error page instead, a
    viewer-response function that failed or replaced the body) was never stored, and the
    origin was asked every time (tee hunt)."""
    from edge_middleware import CustomErrorResponse, EdgeSettings

    calls: list[str] = []
    if case == "custom-error-page":
        config = EdgeConfig(
            default=Behavior(),
            custom_error_responses=[CustomErrorResponse(404, "/err.html", 404, 300)],
        )
        app = _chunked_app(calls, 404)
    else:
        function = _raising if case == "viewer-response-fails" else _replacing
        settings = EdgeSettings(viewer_response_body="allow")
        config = EdgeConfig(default=Behavior(viewer_response=function), settings=settings)
        app = _chunked_app(calls)
    edge = EdgeMiddleware(app, config=config)
    for _ in range(2):
        call_asgi(edge, asgi_scope("/x"))
    assert calls.count("/x") == 1
    assert edge.options.pipeline.buffers.used == 0


def test_a_refresh_of_a_streaming_response_leaves_the_loop_free() -> None:
    """A stale-while-revalidate refresh gave the app a ``receive`` that returned an empty body
    at once, for ever: Starlette's listen_for_disconnect (spec_version below 2.4, as uvicorn
    says) spun on it and the server froze (tee hunt)."""
    from starlette.responses import StreamingResponse

    now = [1_700_000_000.0]
    calls = [0]

    async def chunks() -> Any:
        yield b"a"
        await asyncio.sleep(0.01)
        yield b"b"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls[0] += 1
        cache = {"cache-control": "max-age=1, stale-while-revalidate=100"}
        await StreamingResponse(chunks(), headers=cache)(scope, receive, send)

    edge = EdgeMiddleware(app, config=EdgeConfig(default=Behavior()), clock=lambda: now[0])

    async def main() -> list[bytes]:
        scope = asgi_scope("/x")
        scope["asgi"] = {"version": "3.0", "spec_version": "2.3"}
        seen = []
        for step in range(3):
            sent: list[dict[str, Any]] = []
            receive = _ended_receive(sent)

            async def record(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
                sent.append(message)

            await asyncio.wait_for(edge(dict(scope), receive, record), 2)
            seen.append(dict(sent[0]["headers"])[b"x-cache"])
            if step == 0:
                now[0] += 5  # stale: the next request starts a refresh
            else:
                await asyncio.sleep(0.2)  # the refresh runs (it spun for ever, holding the loop)
        return seen

    # a loop that never yields cannot time itself out: it runs on a thread the test waits for
    result: list[list[bytes]] = []
    loop_thread = threading.Thread(target=lambda: result.append(asyncio.run(main())), daemon=True)
    loop_thread.start()
    loop_thread.join(15)
    assert not loop_thread.is_alive(), "the event loop was held for 15 s"
    answers = result[0]
    assert answers[1:] == [b"Hit from cloudfront", b"Hit from cloudfront"]
    assert calls[0] == 2


def test_a_queue_based_servers_disconnect_reaches_the_app_while_it_streams() -> None:
    """On hypercorn or daphne each message goes to one receive() call: the door's watch took
    the http.disconnect the app waited for, and the request never ended (tee hunt)."""
    saw: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"text/plain"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(0.02)
        while (await receive())["type"] != "http.disconnect":
            pass
        saw.append(True)

    async def main() -> bool:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await queue.put({"type": "http.request", "body": b"", "more_body": False})

        async def send(message: dict[str, Any]) -> None:
            pass

        edge = EdgeMiddleware(app, config=EdgeConfig(default=Behavior()))
        task = asyncio.ensure_future(edge(asgi_scope("/events"), queue.get, send))
        await asyncio.sleep(0.1)
        await queue.put({"type": "http.disconnect"})  # the viewer goes
        done, _ = await asyncio.wait([task], timeout=2)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return bool(done)

    assert asyncio.run(main()), "the request never ended after the viewer left"
    assert saw == [True]
