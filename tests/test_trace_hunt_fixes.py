"""What edge_middleware tells the developer about a request (the trace, the inspector, the dev
server, the pytest helpers, the CLI): fixes from the hunt of 2026-12-07 (seventh session),
each failing before its fix, on both doors where a door is involved."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware
from edge_middleware.core import capture
from edge_middleware.devtools.inspector import Inspector, mount_inspector

NO_CACHE = CachePolicy(0, 0, 0)
#: text as ``os.fsdecode`` gives a file name that is not UTF-8: a lone surrogate
SURROGATE = b"caf\xe9.txt".decode("utf-8", "surrogateescape")


def asgi_answer(status: int, body: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def wsgi_answer(status: str, body: bytes) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, [("Content-Type", "text/plain")])
        return [body]

    return app


asgi_ok, wsgi_ok = asgi_answer(200, b"ok"), wsgi_answer("200 OK", b"ok")


#: (status, body) for a GET of a path, through an inspector mounted in front of the edge
Get = Callable[[str], tuple[int, bytes]]


def inspected(kind: str, config: EdgeConfig, inspector: Inspector) -> Get:
    if kind == "asgi":
        client = TestClient(
            mount_inspector(EdgeMiddleware(asgi_ok, config=config), inspector),
            base_url="http://127.0.0.1",
            client=("127.0.0.1", 50000),
        )
        return lambda path: (lambda r: (r.status_code, r.content))(client.get(path))
    wsgi = Client(mount_inspector(EdgeWSGIMiddleware(wsgi_ok, config=config), inspector))

    def get(path: str) -> tuple[int, bytes]:
        r = wsgi.get(path, environ_base={"REMOTE_ADDR": "127.0.0.1"}, buffered=True)
        return r.status_code, r.get_data()

    return get


@pytest.fixture
def captured() -> Iterator[None]:
    capture.install(passthrough=False)  # as the dev server does: handler output is captured
    yield
    capture.uninstall()


# -- 1. a lone surrogate in a handler's output or result -------------------------------------


def prints_surrogate(event: dict[str, Any], context: Any) -> Any:
    print("serving", SURROGATE)
    return event["Records"][0]["cf"]["request"]


def returns_surrogate(event: dict[str, Any], context: Any) -> Any:
    return {"status": "200", "body": "file " + SURROGATE}


@pytest.mark.usefixtures("captured")
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("handler", [prints_surrogate, returns_surrogate])
def test_a_lone_surrogate_is_shown_escaped(kind: str, handler: Any) -> None:
    """The inspector's pages and JSON answered 500 (strict UTF-8), the list for every later
    request until the record left the ring."""
    config = EdgeConfig(default=Behavior(viewer_request=handler, cache=NO_CACHE))
    inspector = Inspector()
    get = inspected(kind, config, inspector)
    get("/file")
    get("/other")
    status, body = get("/_edge/api/requests")
    assert status == 200
    docs = json.loads(body)
    assert len(docs) == 2
    shown = json.dumps(docs[1], ensure_ascii=False)
    assert SURROGATE in shown  # JSON reads the escape back as the same text
    for doc in docs:
        assert get(doc["url"])[0] == 200
        assert get(doc["url"].replace("/requests/", "/api/requests/"))[0] == 200
    assert get("/_edge/")[0] == 200
    assert b"\\udce9" in get(docs[1]["url"])[1]


# -- 2. a result holding an object whose repr() raises ---------------------------------------


class Row:
    """An ORM row whose repr needs a session that has closed."""

    def __repr__(self) -> str:
        raise RuntimeError("detached instance")

    __str__ = __repr__

    def __hash__(self) -> int:
        return 1


def keeps_a_row(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["user"] = Row()
    request["by_row"] = {Row(): 1}
    return request


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_result_whose_repr_raises_is_still_recorded(kind: str) -> None:
    """The observer failed inside the trace's copy of the result: the 502 the developer wants
    to look at was never recorded."""
    config = EdgeConfig(default=Behavior(viewer_request=keeps_a_row, cache=NO_CACHE))
    inspector = Inspector()
    get = inspected(kind, config, inspector)
    assert get("/x")[0] == 502
    assert len(inspector) == 1
    (doc,) = inspector.records()
    result = json.dumps(doc, ensure_ascii=False)
    assert "<repr() raised RuntimeError>" in result
    assert "str() raised RuntimeError" in result
    assert get(doc["url"])[0] == 200


# -- 3. edge_test_client given a config for an app that has the middleware in code ---------------


@pytest.mark.parametrize("extra", [{"config": "big"}, {"storage": None, "clock": 1.0}])
def test_edge_test_client_says_why_in_short(extra: dict[str, Any]) -> None:
    """The message began with the whole EdgeConfig's repr (about 3 KB); the reason came last."""
    from flask import Flask

    from edge_middleware.exceptions import ConfigurationError
    from edge_middleware.testing import edge_test_client

    config = EdgeConfig(default=Behavior(cache=CachePolicy()))
    app = Flask("site")
    app.wsgi_app = EdgeWSGIMiddleware(app.wsgi_app, config=config)  # type: ignore[method-assign]
    if extra.get("config") == "big":
        extra = {"config": config}
    with pytest.raises(ConfigurationError) as caught:
        edge_test_client(app, **extra)
    message = str(caught.value)
    assert len(message) < 200, message
    assert "already has the edge middleware" in message
    assert ("an EdgeConfig" in message) == ("config" in extra)
    assert ("options clock, storage" in message) == ("clock" in extra)


# -- 4. the edge_client fixture runs an ASGI app's lifespan ---------------------------------------


def lifespan_app(events: list[str]) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        app.state.db = "connected"  # a DB pool, an HTTP client ...
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/db")
    async def db(request: Request) -> dict[str, str]:
        return {"db": getattr(request.app.state, "db", "NOT STARTED")}

    return app


def test_edge_client_runs_the_lifespan(edge_client: Any) -> None:
    """A FastAPI app opening its resources in ``lifespan`` answered 500 through edge_client."""
    events: list[str] = []
    client = edge_client(lifespan_app(events), config=EdgeConfig())
    assert client.get("/db").json() == {"db": "connected"}
    assert events == ["startup"]


def test_edge_client_shuts_the_lifespan_down(tmp_path: Path) -> None:
    """At the fixture's teardown (a pytest run of its own, whose test file records it)."""
    record = tmp_path / "events.txt"
    (tmp_path / "test_lifespan.py").write_text(
        textwrap.dedent(
            f"""
            import contextlib
            from fastapi import FastAPI

            @contextlib.asynccontextmanager
            async def lifespan(app):
                with open({str(record)!r}, "a") as out:
                    out.write("startup\\n")
                yield
                with open({str(record)!r}, "a") as out:
                    out.write("shutdown\\n")

            def test_it(edge_client):
                client = edge_client(FastAPI(lifespan=lifespan))
                assert client.get("/nothing").status_code == 404

            def test_in_a_with_block(edge_client):
                with edge_client(FastAPI(lifespan=lifespan)) as client:
                    assert client.get("/nothing").status_code == 404
                assert client.get("/nothing").status_code == 404  # still up: the fixture's
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # one startup and one shutdown per test (a with block started the app a second time, and
    # the fixture's own shutdown never ran)
    assert record.read_text().split() == ["startup", "shutdown"] * 2


def test_edge_client_over_an_app_with_no_lifespan(edge_client: Any) -> None:
    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"  # (no lifespan: it raises, as the ASGI spec allows)
        await asgi_ok(scope, receive, send)

    client = edge_client(http_only, config=EdgeConfig())
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["x-cache"] == "Miss from cloudfront"


def test_edge_client_over_an_app_that_returns_on_lifespan(edge_client: Any) -> None:
    """``if scope["type"] != "http": return`` (uvicorn serves it): every request failed with
    a TypeError in Starlette's wait_startup (regression hunt of today's lifespan change)."""

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asgi_ok(scope, receive, send)

    client = edge_client(http_only, config=EdgeConfig())
    assert client.get("/").text == "ok"


def test_a_lifespan_that_fails_fails_the_client() -> None:
    from edge_middleware.testing import edge_test_client

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        raise RuntimeError("no database")

    client = edge_test_client(failing, config=EdgeConfig())
    with pytest.raises(RuntimeError, match="no database"), client:
        pass


# -- 5. viewer-response's skip reason names who set the error status ------------------------------


def to_500(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["status"] = "500"
    return response


def generate_404(event: dict[str, Any], context: Any) -> Any:
    return {"status": "404", "body": "not here"}


def passes(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["response"]


asgi_404, wsgi_404 = asgi_answer(404, b"no"), wsgi_answer("404 Not Found", b"no")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("triggers", "origin_404", "reason"),
    [
        (
            {"origin_response": to_500},
            False,
            "status 500 >= 400, set by origin-response (the origin answered 200)",
        ),
        ({"origin_request": generate_404}, False, "status 404 >= 400, generated by origin-request"),
        ({}, True, "origin status >= 400"),
    ],
    ids=["origin-response", "origin-request", "origin"],
)
def test_viewer_response_skip_names_who_set_the_status(
    kind: str, triggers: dict[str, Any], origin_404: bool, reason: str
) -> None:
    """It said "origin status >= 400" when the origin answered 200 and origin-response made it
    a 500, and when the origin was never asked (origin-request generated the 404)."""
    config = EdgeConfig(default=Behavior(viewer_response=passes, cache=NO_CACHE, **triggers))
    records: list[Any] = []
    if kind == "asgi":
        edge: Any = EdgeMiddleware(asgi_404 if origin_404 else asgi_ok, config=config)
        edge.add_observer(records.append)
        TestClient(edge).get("/x")
    else:
        edge = EdgeWSGIMiddleware(wsgi_404 if origin_404 else wsgi_ok, config=config)
        edge.add_observer(records.append)
        Client(edge).get("/x", buffered=True)
    (step,) = [s for s in records[0].outcome.steps if s.event_type == "viewer-response"]
    assert (step.ran, step.skipped_because) == (False, reason)


# -- 6. "removed before the origin" is what the behavior removed ---------------------------------


def tenant(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"].pop("x-debug", None)  # the function removes it
    request["headers"]["x-tenant"] = [{"key": "X-Tenant", "value": "acme"}]  # and adds this
    request["querystring"] = ""  # and drops ?utm=1
    return request


def drops_kept(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"].pop("x-kept", None)  # origin-request's own doing
    return request


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_removed_before_origin_is_the_behaviors_doing(kind: str) -> None:
    """It diffed the viewer's request against the origin's: what viewer-request removed was
    blamed on the behavior, and a header it added that the behavior dropped was not shown."""
    from edge_middleware import OriginRequestPolicy

    config = EdgeConfig(
        default=Behavior(
            viewer_request=tenant,
            origin_request=drops_kept,
            cache=CachePolicy(),
            origin_request_policy=OriginRequestPolicy(
                headers="whitelist", header_names=("x-kept",)
            ),
        )
    )
    inspector = Inspector()
    headers = {"X-Debug": "1", "X-Kept": "1", "X-Other": "1"}
    if kind == "asgi":
        edge: Any = EdgeMiddleware(asgi_ok, config=config)
        edge.add_observer(inspector.observer)
        TestClient(edge).get("/p?utm=1", headers=headers)
    else:
        edge = EdgeWSGIMiddleware(wsgi_ok, config=config)
        edge.add_observer(inspector.observer)
        Client(edge).get("/p?utm=1", headers=headers, buffered=True)
    removed = inspector.records()[0]["removed_before_origin"]
    assert "x-tenant" in removed and "x-other" in removed
    assert not {"x-debug", "utm", "x-kept"} & set(removed), removed


def test_removed_before_origin_after_a_cloudfront_function() -> None:
    """A CloudFront Function's result has its own shape: what it removed was still blamed on
    the behavior (regression hunt of today's change)."""
    from edge_middleware import CloudFrontFunction

    strip = CloudFrontFunction(
        "function handler(event) { var r = event.request; delete r.querystring.drop;"
        " delete r.headers['x-keep']; return r; }",
        code=True,
    )
    policy = CachePolicy(query_strings="all", headers=("x-keep",))
    inspector = Inspector()
    edge = EdgeMiddleware(
        asgi_ok, config=EdgeConfig(default=Behavior(viewer_request=strip, cache=policy))
    )
    edge.add_observer(inspector.observer)
    try:
        TestClient(edge).get("/x?drop=1&keep=2", headers={"X-Keep": "1", "X-Other": "1"})
    finally:
        strip.close()
    removed = inspector.records()[0]["removed_before_origin"]
    assert "x-other" in removed  # the behavior's own doing
    assert not {"drop", "x-keep"} & set(removed), removed


# -- 7. the functions a custom error page's fetch runs are in the request's trace -----------------


def page_request(event: dict[str, Any], context: Any) -> Any:
    print("origin-request for the page")
    request = event["Records"][0]["cf"]["request"]
    request["uri"] = "/errors/v2/404.html"
    return request


def page_response_fails(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("the page's origin-response failed")


def page_response_passes(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["response"]


async def asgi_pages(scope: Any, receive: Any, send: Any) -> None:
    status = 200 if scope["path"].startswith("/errors/") else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"page " + scope["path"].encode()})


def wsgi_pages(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    ok = environ["PATH_INFO"].startswith("/errors/")
    start_response("200 OK" if ok else "404 Not Found", [("Content-Type", "text/plain")])
    return [b"page " + environ["PATH_INFO"].encode()]


@pytest.mark.usefixtures("captured")
@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize("fails", [True, False], ids=["page-fails", "page-served"])
def test_an_error_pages_functions_are_traced(kind: str, fails: bool) -> None:
    """decisions.md #48: the page is fetched through its behavior's origin-side functions.
    Their calls were in no trace, log or inspector page: a failure there silently left the
    origin's error body, with nothing to say why."""
    from edge_middleware import CustomErrorResponse
    from edge_middleware.devtools.devlog import format_request
    from edge_middleware.devtools.inspector_pages import detail_page

    page_behavior = Behavior(
        "/errors/*",
        origin_request=page_request,
        origin_response=page_response_fails if fails else page_response_passes,
    )
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy()),
        behaviors=[page_behavior],
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", None, 10)],
    )
    records: list[Any] = []
    inspector = Inspector()
    if kind == "asgi":
        edge: Any = EdgeMiddleware(asgi_pages, config=config)
        get: Any = TestClient(edge).get
    else:
        edge = EdgeWSGIMiddleware(wsgi_pages, config=config)
        get = lambda path: Client(edge).get(path, buffered=True)  # noqa: E731
    edge.add_observer(records.append)
    edge.add_observer(inspector.observer)
    response = get("/missing")
    expected = b"page /missing" if fails else b"page /errors/v2/404.html"
    assert (response.status_code, response.get_data() if kind == "wsgi" else response.content) == (
        404,
        expected,
    )

    steps = [s for s in records[0].outcome.steps if s.page]
    assert [(s.event_type, s.page) for s in steps] == [
        ("origin-request", "/errors/404.html"),
        ("origin-response", "/errors/404.html"),
    ]
    assert steps[0].output == "origin-request for the page\n"
    assert bool(steps[1].error) == fails
    # the request's own timeline is whole: the four triggers (none ran), then the page's calls
    doc = inspector.records()[0]
    assert [(s["event_type"], s["error_page"]) for s in doc["steps"]] == [
        ("viewer-request", ""),
        ("origin-request", ""),
        ("origin-response", ""),
        ("viewer-response", ""),
        ("origin-request", "/errors/404.html"),
        ("origin-response", "/errors/404.html"),
    ]
    assert doc["origin_request"]["uri"] == "/missing"  # the request's own, not the page's
    page = detail_page(inspector.record(doc["request_id"]) or {}, False)
    assert 'id="step-origin-response-error-page"' in page
    assert "origin-response (error page /errors/404.html)" in page
    log = "\n".join(format_request(records[0]))
    assert "OReq(page)" in log
    assert "origin-request (error page /errors/404.html) | origin-request for the page" in log
    assert ("! origin-response (error page /errors/404.html)" in log) == fails


# -- 8. serve's banner names each edge's own storage ---------------------------------------------


@pytest.mark.slow
def test_serve_banner_names_the_storage_an_app_wraps_itself_with(
    tmp_path: Path, redis_url: str
) -> None:
    """An app built with a RedisStorage in code was announced as "cache: memory"."""
    from tests.support.devserver import serve

    # with a password (no request is made: the server has none)
    secret = redis_url.replace("redis://", "redis://user:Hunter2Passw0rd@")
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            f"""
            from edge_middleware import EdgeConfig, EdgeMiddleware, RedisStorage

            async def origin(scope, receive, send):
                await send({{"type": "http.response.start", "status": 200, "headers": []}})
                await send({{"type": "http.response.body", "body": b"hello"}})

            storage = RedisStorage({secret!r}, prefix="site")
            app = EdgeMiddleware(origin, config=EdgeConfig(), storage=storage)
            """
        )
    )
    with serve(tmp_path, "app:app") as served:
        banner = served.stdout
    (line,) = [line for line in banner.splitlines() if line.startswith("cache:")]
    shown = redis_url.replace("redis://", "redis://user:[redacted]@")
    assert line.startswith(f"cache: redis {shown} (prefix site);"), line
    assert "Hunter2Passw0rd" not in banner


# -- 9. what a handler logs is captured when the app configured logging first ---------------------


def logs(event: dict[str, Any], context: Any) -> Any:
    import logging

    print("print: checking session")
    logging.getLogger("handlers.auth").warning("logging: session expired")
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_logging_configured_before_capture_is_captured(kind: str) -> None:
    """The app's logging.basicConfig / Django LOGGING made StreamHandlers holding the real
    stderr before the inspector installed capture: the step's output had the print only."""
    import io
    import logging
    import sys

    real = io.StringIO()
    saved = sys.stderr
    sys.stderr = real  # (the process's stderr, as the app's logging setup found it)
    handler = logging.StreamHandler(real)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("handlers.auth")
    logger.addHandler(handler)
    records: list[Any] = []
    try:
        capture.install(passthrough=False)
        assert handler.stream is not real  # the proxy, which writes to it when not capturing
        config = EdgeConfig(default=Behavior(viewer_request=logs, cache=NO_CACHE))
        if kind == "asgi":
            edge: Any = EdgeMiddleware(asgi_ok, config=config)
            edge.add_observer(records.append)
            TestClient(edge).get("/x")
        else:
            edge = EdgeWSGIMiddleware(wsgi_ok, config=config)
            edge.add_observer(records.append)
            Client(edge).get("/x", buffered=True)
        logger.warning("outside a handler")
    finally:
        capture.uninstall()
        sys.stderr = saved
        logger.removeHandler(handler)
    (step,) = [s for s in records[0].outcome.steps if s.ran]
    assert "WARNING handlers.auth: logging: session expired" in step.output
    assert "logging: session expired" not in real.getvalue()  # passthrough off: captured only
    assert "outside a handler" in real.getvalue()
    assert handler.stream is real  # uninstall gave it back


# -- 10. the access log's time-to-first-byte, and a viewer that went while the answer streamed ----


def log_fields(record: Any) -> dict[str, str]:
    from edge_middleware.devtools.accesslog import FIELDS, format_record

    return dict(zip(FIELDS, format_record(record).split("\t"), strict=True))


async def asgi_slow_tail(scope: Any, receive: Any, send: Any) -> None:
    import asyncio

    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"first,", "more_body": True})
    await asyncio.sleep(0.4)
    await send({"type": "http.response.body", "body": b"last", "more_body": False})


def wsgi_slow_tail(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    import time

    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first,"
    time.sleep(0.4)
    yield b"last"


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_time_to_first_byte_is_when_the_head_went(kind: str) -> None:
    """It was logged as time-taken: a stream whose first byte left at once, then took 0.4 s."""
    config = EdgeConfig(default=Behavior(cache=NO_CACHE))
    records: list[Any] = []
    if kind == "asgi":
        edge: Any = EdgeMiddleware(asgi_slow_tail, config=config)
        edge.add_observer(records.append)
        assert TestClient(edge).get("/x").content == b"first,last"
    else:
        edge = EdgeWSGIMiddleware(wsgi_slow_tail, config=config)
        edge.add_observer(records.append)
        assert Client(edge).get("/x", buffered=True).get_data() == b"first,last"
    fields = log_fields(records[0])
    assert float(fields["time-taken"]) >= 0.4
    assert float(fields["time-to-first-byte"]) < 0.2
    assert (fields["sc-status"], fields["x-edge-result-type"]) == ("200", "Miss")


async def asgi_endless(scope: Any, receive: Any, send: Any) -> None:
    import asyncio

    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        await asyncio.sleep(0.01)


def test_asgi_viewer_gone_during_a_stream_is_a_client_comm_error() -> None:
    import asyncio

    from tests.support.doors import asgi_scope, leaving_once

    records: list[Any] = []
    edge = EdgeMiddleware(asgi_endless, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    edge.add_observer(records.append)

    async def main() -> None:
        got_some = asyncio.Event()
        receive = leaving_once(got_some)  # the viewer goes once it had a few ticks

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                got_some.set()

        await asyncio.wait_for(edge(asgi_scope("/feed"), receive, send), 5)

    asyncio.run(main())
    fields = log_fields(records[0])
    assert records[0].viewer_left == "during"
    assert (fields["x-edge-result-type"], fields["x-edge-detailed-result-type"]) == (
        "Error",
        "ClientCommError",
    )
    assert fields["sc-status"] == "200"  # its head had gone


def test_wsgi_viewer_gone_during_a_stream_is_a_client_comm_error() -> None:
    from tests.support.doors import wsgi_environ

    records: list[Any] = []
    edge = EdgeWSGIMiddleware(wsgi_slow_tail, config=EdgeConfig(default=Behavior(cache=NO_CACHE)))
    edge.add_observer(records.append)
    body = edge(wsgi_environ("GET", "/x"), lambda status, headers, exc=None: None)
    assert next(iter(body)) == b"first,"
    body.close()  # the server stops: its viewer went
    assert records[0].viewer_left == "during"
    assert log_fields(records[0])["x-edge-detailed-result-type"] == "ClientCommError"
    # one read to its end is no viewer gone
    records.clear()
    body = edge(wsgi_environ("GET", "/x"), lambda status, headers, exc=None: None)
    assert b"".join(body) == b"first,last"
    body.close()
    assert records[0].viewer_left == ""


async def asgi_fails(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"].startswith("/errors/"):
        await asgi_ok(scope, receive, send)
        return
    raise RuntimeError("the origin broke")


def test_a_failing_page_function_keeps_the_requests_own_reason() -> None:
    """The dev log printed the request's own reason only when no step failed: a page's
    failing function hid it (regression hunt of today's trace change)."""
    from edge_middleware import CustomErrorResponse
    from edge_middleware.devtools.devlog import format_request
    from edge_middleware.devtools.inspector_pages import detail_page

    config = EdgeConfig(
        default=Behavior(cache=NO_CACHE),
        behaviors=[Behavior("/errors/*", origin_response=page_response_fails)],
        custom_error_responses=[CustomErrorResponse(502, "/errors/502.html")],
    )
    records: list[Any] = []
    inspector = Inspector()
    edge = EdgeMiddleware(asgi_fails, config=config)
    edge.add_observer(records.append)
    edge.add_observer(inspector.observer)
    assert TestClient(edge, raise_server_exceptions=False).get("/boom").status_code == 502
    log = format_request(records[0])
    assert "! origin-response (error page /errors/502.html):" in "\n".join(log)
    assert log[-1].strip() == "! The origin failed before its response started."
    doc = inspector.record(inspector.records()[0]["request_id"])
    assert doc is not None
    page = detail_page(doc, False)
    section = page[page.index('id="step-origin-response-error-page"') :]
    assert "OriginError" not in section.split("</section>")[0]  # the page's failure is its own


def test_a_page_fetchs_failover_note_names_the_page() -> None:
    from edge_middleware.devtools.devlog import format_request
    from edge_middleware.doors.middleware import RequestRecord
    from edge_middleware.pipeline.effects import Outcome, TraceStep

    note = "origin group failover: main answered status 503"
    steps = [
        TraceStep("origin-request", False, skipped_because=note),
        TraceStep("origin-request", False, skipped_because=note, page="/errors/404.html"),
    ]
    outcome = Outcome(404, "Not Found", [], b"", result_type="Error", steps=steps)
    record = RequestRecord(outcome, {"method": "GET", "uri": "/x"}, "http", "1.1", 0.0, 0)
    lines = format_request(record)
    assert f"    ~ {note}" in lines
    assert f"    ~ {note} (error page /errors/404.html)" in lines


def test_viewer_response_skip_for_cloudfronts_own_error_status() -> None:
    """A stale object revalidated (304) and cut to a 416 for a Range it cannot satisfy: the
    reason blamed an origin-response function the behavior does not have."""
    now = [1_700_000_000.0]
    seen: list[bytes | None] = []

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope["headers"]).get(b"if-none-match"))
        status = 304 if seen[-1] == b'"v1"' else 200
        headers = [(b"cache-control", b"max-age=10"), (b"etag", b'"v1"')]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if status == 304 else b"0123456789"})

    config = EdgeConfig(default=Behavior(viewer_response=passes, cache=CachePolicy()))
    records: list[Any] = []
    edge = EdgeMiddleware(origin, config=config, clock=lambda: now[0])
    edge.add_observer(records.append)
    client = TestClient(edge)
    client.get("/f")
    now[0] += 60  # stale
    assert client.get("/f", headers={"Range": "bytes=50-60"}).status_code == 416
    assert seen == [None, b'"v1"']
    (step,) = [s for s in records[-1].outcome.steps if s.event_type == "viewer-response"]
    assert (
        step.skipped_because == "status 416 >= 400, CloudFront's answer (the origin answered 304)"
    )
