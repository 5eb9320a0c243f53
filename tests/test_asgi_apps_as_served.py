"""ASGI apps as servers run them, behind the middleware: an app mounted below a ``root_path``
(``uvicorn --root-path``, a Starlette ``Mount``), and an app that returns before its body is
complete (Starlette and Django do when the viewer went away). The middleware must give the
app what the server gave it, and the viewer what the server would (caching.md §1.14)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware
from tests.support.doors import asgi_scope


def _pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


def _to_other(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["uri"] = "/other"
    return request


WAYS = {
    "short-way": Behavior(cache=CachePolicy(0, 0, 0)),
    "pipeline": Behavior(viewer_request=_pass, cache=CachePolicy(0, 0, 0)),
    "cached": Behavior(cache=CachePolicy()),
}


async def _seen(request: Any) -> JSONResponse:
    return JSONResponse({"path": request.scope["path"], "root_path": request.scope["root_path"]})


SEEN = Starlette(
    routes=[Route("/hello", _seen), Route("/other", _seen), Route("/{rest:path}", _seen)]
)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _recorder(sent: list[dict[str, Any]]) -> Any:
    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    return send


def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    asyncio.run(app(scope, _receive, _recorder(sent)))
    return sent


@pytest.mark.parametrize("way", list(WAYS))
def test_the_app_routes_below_its_root_path(way: str) -> None:
    """``uvicorn --root-path /api``: the scope's path holds the root path, and the app routes
    what is below it; the viewer's uri (what behaviors match) is the whole path."""
    app = EdgeMiddleware(SEEN, config=EdgeConfig(default=WAYS[way]))
    scope = asgi_scope("/api/hello", root_path="/api")
    sent = _call(app, scope)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"path":"/api/hello","root_path":"/api"}'


def test_a_path_a_function_moved_out_of_the_root_path_has_none() -> None:
    config = EdgeConfig(default=Behavior(viewer_request=_to_other, cache=CachePolicy(0, 0, 0)))
    sent = _call(EdgeMiddleware(SEEN, config=config), asgi_scope("/api/hello", root_path="/api"))
    assert sent[1]["body"] == b'{"path":"/other","root_path":""}'


@pytest.mark.parametrize("way", list(WAYS))
def test_an_edge_mounted_in_starlette_routes_its_app(way: str) -> None:
    edge = EdgeMiddleware(SEEN, config=EdgeConfig(default=WAYS[way]))
    with TestClient(Starlette(routes=[Mount("/sub", app=edge)])) as client:
        r = client.get("/sub/hello")
    assert (r.status_code, r.json()) == (200, {"path": "/sub/hello", "root_path": "/sub"})


async def _stops_early(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=60")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"partial-", "more_body": True})
    # returns here: its body never ends


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
def test_a_streamed_body_the_app_never_ended_stays_unended(way: str) -> None:
    """As a server does with the bare app: the viewer's response is left incomplete (the
    server then drops the connection, and logs it only if the viewer is still there), never
    closed as if the body were whole. The pipeline used to raise instead, so a server logged
    a traceback for every viewer that went away mid-stream."""
    app = EdgeMiddleware(_stops_early, config=EdgeConfig(default=WAYS[way]))
    sent = _call(app, asgi_scope("/x"))
    assert sent[0]["status"] == 200
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert b"".join(m.get("body", b"") for m in bodies) == b"partial-"
    assert all(m.get("more_body") for m in bodies)


def test_a_body_the_app_never_ended_is_not_cached() -> None:
    """With caching on too, a stream (no Content-Length) goes to the viewer as it comes, as
    CloudFront sends while it fills its cache: one the app never ended stays unended, as
    behind the bare app (it was read whole first and answered 502), and is not stored."""
    calls = [0]

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        calls[0] += 1
        await _stops_early(scope, receive, send)

    app = EdgeMiddleware(origin, config=EdgeConfig(default=WAYS["cached"]))
    for _ in range(2):
        sent = _call(app, asgi_scope("/x"))
        assert sent[0]["status"] == 200
        bodies = [m for m in sent if m["type"] == "http.response.body"]
        assert all(m.get("more_body") for m in bodies)
    assert calls[0] == 2


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize(("method", "status"), [("GET", 204), ("GET", 304), ("HEAD", 200)])
def test_an_answer_with_no_body_on_the_wire_is_whole_with_its_head(
    way: str, method: str, status: int
) -> None:
    """A 204, a 304 or a HEAD answer is complete once its head is sent (uvicorn sends it as
    it is), even from an app that sent no body message."""

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})

    app = EdgeMiddleware(origin, config=EdgeConfig(default=WAYS[way]))
    sent = _call(app, asgi_scope("/x", method=method))
    assert sent[0]["status"] == status
    assert sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body")


@pytest.mark.parametrize("cache_control", [b"no-cache", b"max-age=60"])
def test_an_event_stream_reaches_the_viewer_as_it_comes(cache_control: bytes) -> None:
    """A text/event-stream answer on a cached behavior is streamed, never read whole to be
    stored: the app sends its second event only once the viewer has the first."""
    first_seen = asyncio.Event()
    waited_in_vain: list[bool] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", cache_control)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        try:
            await asyncio.wait_for(first_seen.wait(), 2)
        except TimeoutError:
            waited_in_vain.append(True)  # the middleware held the first event back
        await send({"type": "http.response.body", "body": b"data: 2\n\n", "more_body": False})

    sent: list[dict[str, Any]] = []

    async def viewer(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body"):
            first_seen.set()

    app = EdgeMiddleware(origin, config=EdgeConfig(default=WAYS["cached"]))

    asyncio.run(app(asgi_scope("/events"), _receive, viewer))
    assert not waited_in_vain
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"data: 1\n\ndata: 2\n\n"
    assert dict(sent[0]["headers"])[b"x-cache"] == b"Miss from cloudfront"


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
def test_an_app_stopping_because_the_viewer_left_ends_quietly(
    way: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette's StreamingResponse stops when receive() says http.disconnect: the
    middleware ends as the bare app does, with no error or warning logged and nothing
    raised into the server (a uvicorn ERROR traceback per viewer that left)."""
    from starlette.responses import StreamingResponse

    async def lines() -> Any:
        for i in range(1000):
            yield b"line %d\n" % i
            await asyncio.sleep(0.002)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(lines(), media_type="text/plain")(scope, receive, send)

    given = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if given:
            return given.pop()
        await asyncio.sleep(0.01)  # the viewer goes a moment later
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []
    scope = asgi_scope("/x")
    scope["asgi"] = {"version": "3.0", "spec_version": "2.0"}  # StreamingResponse listens
    edge = EdgeMiddleware(app, config=EdgeConfig(default=WAYS[way]))
    with caplog.at_level("WARNING"):
        asyncio.run(edge(scope, receive, _recorder(sent)))
    assert sent[0]["status"] == 200
    assert not [m for m in sent if m["type"] == "http.response.body" and not m["more_body"]]
    assert [r.getMessage() for r in caplog.records if r.levelname != "DEBUG"] == []


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize(
    ("path", "root_path"),
    [
        pytest.param("/api/hello", "/api", id="path-holds-root"),
        pytest.param("/hello", "/api", id="path-below-root"),
    ],
)
def test_a_scope_without_raw_path_keeps_its_root_path_once(
    way: str, path: str, root_path: str
) -> None:
    """``raw_path`` is optional in ASGI (Mangum sends ``None``): the uri came from
    ``root_path + path`` and the app was routed to ``/api/api/hello``. A path that holds its
    root is taken as it is; one of the older reading (below the root) gets it in front."""
    seen: list[str] = []

    def note(event: dict[str, Any], context: Any) -> Any:
        seen.append(event["Records"][0]["cf"]["request"]["uri"])
        return event["Records"][0]["cf"]["request"]

    behavior = (
        WAYS[way]
        if way != "pipeline"
        else Behavior(viewer_request=note, cache=CachePolicy(0, 0, 0))
    )
    scope = asgi_scope(path, root_path=root_path, raw_path=None)
    sent = _call(EdgeMiddleware(SEEN, config=EdgeConfig(default=behavior)), scope)
    assert sent[0]["status"] == 200
    assert seen == (["/api/hello"] if way == "pipeline" else [])
    assert sent[1]["body"] == b'{"path":"/api/hello","root_path":"/api"}'
