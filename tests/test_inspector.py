"""The request inspector (``edge_middleware/devtools/inspector.py``): recording, masking, the
JSON API, the pages, mounting in front of both front doors, and the dev server's ``/_edge/``
driven by a real headless Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware
from edge_middleware.devtools.inspector import MASK, Inspector, mount_inspector
from edge_middleware.doors.middleware import RequestRecord
from edge_middleware.pipeline.effects import Outcome, TraceStep
from tests.support.devserver import listening, stop, wait_until
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BAD_FIELD = 'response.headers["x-cache"]'
SECRET_COOKIE = "session=cookie-secret-123"
SECRET_TOKEN = "Bearer token-secret-456"
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}

# -- a distribution with a miss/hit path, a generated redirect and a validation failure -------

SITE = '''
import asyncio


def stamp(event, context):
    """viewer-response: adds a header and says so."""
    response = event["Records"][0]["cf"]["response"]
    print("stamping", event["Records"][0]["cf"]["request"]["uri"])
    response["headers"]["x-stamped"] = [{"key": "X-Stamped", "value": "yes"}]
    return response


def redirect(event, context):
    """viewer-request: answers with a redirect itself."""
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": "/hello"}]},
    }


def bad_header(event, context):
    """origin-response: adds X-Cache, a header CloudFront forbids: 502 LambdaValidationError."""
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-cache"] = [{"key": "X-Cache", "value": "mine"}]
    return response


HEADERS = [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")]


def wsgi_app(environ, start_response):
    start_response("200 OK", HEADERS + [("Set-Cookie", "sid=set-cookie-secret-789")])
    return [b"hello from " + environ["PATH_INFO"].encode()]


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello from " + scope["path"].encode()})
'''

CONFIG = """
[default]
cache = "CachingOptimized"
viewer_response = "inspector_site:stamp"

[[behaviors]]
path_pattern = "/go/*"
viewer_request = "inspector_site:redirect"

[[behaviors]]
path_pattern = "/bad/*"
cache = "CachingOptimized"
origin_response = "inspector_site:bad_header"
viewer_response = "inspector_site:stamp"
"""

#: (path, the X-Cache word it gets)
SCENARIO = [
    ("/hello", "Miss"),
    ("/hello", "Hit"),
    ("/go/home", "LambdaGeneratedResponse"),
    ("/bad/header", "LambdaValidationError"),
]
SECRET_HEADERS = {"Cookie": SECRET_COOKIE, "Authorization": SECRET_TOKEN}


def _site_module() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(SITE, "inspector_site.py", "exec"), namespace)
    return namespace


def _config(site: dict[str, Any]) -> EdgeConfig:
    optimized = CachePolicy(min_ttl=1, default_ttl=86400, max_ttl=31536000)
    return EdgeConfig(
        default=Behavior(viewer_response=site["stamp"], cache=optimized),
        behaviors=[
            Behavior("/go/*", viewer_request=site["redirect"], cache=optimized),
            Behavior(
                "/bad/*",
                origin_response=site["bad_header"],
                viewer_response=site["stamp"],
                cache=optimized,
            ),
        ],
    )


def _by_path(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["path"], d["cache_result"]): d for d in docs}


def _step(doc: dict[str, Any], event_type: str) -> dict[str, Any]:
    (step,) = [s for s in doc["steps"] if s["event_type"] == event_type]
    return step


# -- WSGI, in process -------------------------------------------------------------------------


@pytest.fixture
def wsgi() -> tuple[Client, Inspector]:
    site = _site_module()
    middleware = EdgeWSGIMiddleware(site["wsgi_app"], config=_config(site))
    inspector = Inspector()
    middleware.add_observer(inspector.observer)
    return Client(mount_inspector(middleware, inspector), use_cookies=False), inspector


def _drive(client: Client) -> None:
    for path, expected in SCENARIO:
        response = client.get(path, headers=SECRET_HEADERS, environ_base=LOOPBACK)
        assert response.headers["X-Cache"] == f"{expected} from cloudfront"


def test_records_each_request_with_its_timeline(wsgi: tuple[Client, Inspector]) -> None:
    client, inspector = wsgi
    _drive(client)
    docs = client.get("/_edge/api/requests", environ_base=LOOPBACK).get_json()
    assert [(d["path"], d["cache_result"]) for d in docs] == list(reversed(SCENARIO))
    assert [d["seq"] for d in docs] == [4, 3, 2, 1]
    by = _by_path(docs)

    miss = by["/hello", "Miss"]
    assert miss["behavior"] == "*" and miss["status"] == 200 and miss["error"] is None
    assert miss["cache_key"] and "MinTTL" not in miss["ttl_reason"]
    assert "max-age=60" in miss["ttl_reason"]
    assert miss["origin_request"]["uri"] == "/hello"
    vres = _step(miss, "viewer-response")
    assert vres["ran"] and vres["output"] == "stamping /hello\n"
    assert vres["event"]["Records"][0]["cf"]["config"]["eventType"] == "viewer-response"
    assert vres["result"]["headers"]["x-stamped"] == [{"key": "X-Stamped", "value": "yes"}]
    assert '+    "x-stamped": [' in vres["diff"]
    assert vres["diff"].startswith("--- event.Records[0].cf.response\n+++ result\n")
    assert _step(miss, "viewer-request")["skipped_because"] == "no function"

    hit = by["/hello", "Hit"]
    assert _step(hit, "origin-request")["skipped_because"] == "cache hit"
    assert _step(hit, "origin-response")["skipped_because"] == "cache hit"
    assert _step(hit, "viewer-response")["ran"]
    assert hit["origin_request"] is None and hit["cache_key"] == miss["cache_key"]

    redirect = by["/go/home", "LambdaGeneratedResponse"]
    assert redirect["status"] == 302 and redirect["behavior"] == "/go/*"
    vreq = _step(redirect, "viewer-request")
    assert vreq["result"]["status"] == "302" and vreq["diff"] is None
    assert "generated a response" in vreq["diff_note"]
    for event_type in ("origin-request", "origin-response", "viewer-response"):
        step = _step(redirect, event_type)
        assert step["skipped_because"] == "response generated by viewer-request", event_type

    bad = by["/bad/header", "LambdaValidationError"]
    assert bad["status"] == 502 and bad["behavior"] == "/bad/*"
    assert bad["error"]["name"] == "LambdaValidationError"
    assert bad["error"]["field"] == BAD_FIELD
    assert "blacklisted header" in bad["error"]["reason"]
    ores = _step(bad, "origin-response")
    assert ores["error_field"] == BAD_FIELD and "x-cache" in ores["result"]["headers"]
    assert '+    "x-cache": [' in ores["diff"]
    skipped = _step(bad, "viewer-response")
    assert not skipped["ran"]
    assert "status 502 >= 400" in skipped["skipped_because"]
    # the origin was asked: the origin-response event's request is what it received
    assert bad["origin_request"]["uri"] == "/bad/header"

    one = client.get(bad["url"].replace("/requests/", "/api/requests/"), environ_base=LOOPBACK)
    assert one.status_code == 200 and one.get_json()["request_id"] == bad["request_id"]
    assert len(inspector) == 4


def test_secrets_are_masked_unless_asked(wsgi: tuple[Client, Inspector]) -> None:
    client, inspector = wsgi
    _drive(client)
    secrets = ("cookie-secret-123", "token-secret-456", "set-cookie-secret-789")
    text = client.get("/_edge/api/requests", environ_base=LOOPBACK).get_data(as_text=True)
    assert not any(s in text for s in secrets)
    miss = _by_path(json.loads(text))["/hello", "Miss"]
    assert miss["secrets_masked"] is True
    assert miss["viewer_request"]["headers"]["authorization"] == [
        {"key": "Authorization", "value": MASK}
    ]
    for doc in json.loads(text):
        page = client.get(doc["url"], environ_base=LOOPBACK).get_data(as_text=True)
        assert not any(s in page for s in secrets)
    assert not any(
        s in client.get("/_edge/", environ_base=LOOPBACK).get_data(as_text=True) for s in secrets
    )

    inspector.show_secrets = True
    text = client.get("/_edge/api/requests", environ_base=LOOPBACK).get_data(as_text=True)
    assert "cookie-secret-123" in text and "token-secret-456" in text


def test_secret_values_copied_elsewhere_are_masked_too() -> None:
    def copy_token(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = event["Records"][0]["cf"]["request"]
        token = request["headers"]["authorization"][0]["value"]
        print("token is", token)
        request["headers"]["x-token"] = [{"key": "X-Token", "value": token.split()[1]}]
        return request

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "no-store")])
        return [b"ok"]

    middleware = EdgeWSGIMiddleware(
        app, config=EdgeConfig(default=Behavior(viewer_request=copy_token))
    )
    inspector = Inspector()
    middleware.add_observer(inspector.observer)
    Client(middleware).get("/", headers={"Authorization": SECRET_TOKEN})
    (doc,) = inspector.records()
    assert "token-secret-456" not in json.dumps(doc)
    step = _step(doc, "viewer-request")
    assert step["output"] == f"token is {MASK}\n"
    assert step["result"]["headers"]["x-token"][0]["value"] == MASK


def test_list_params_summary_after_limit_and_ring_capacity() -> None:
    site = _site_module()
    middleware = EdgeWSGIMiddleware(site["wsgi_app"], config=_config(site))
    inspector = Inspector(capacity=3)
    middleware.add_observer(inspector.observer)
    client = Client(mount_inspector(middleware, inspector))
    for i in range(5):
        client.get(f"/page/{i}", environ_base=LOOPBACK)
    docs = client.get("/_edge/api/requests", environ_base=LOOPBACK).get_json()
    assert [d["path"] for d in docs] == ["/page/4", "/page/3", "/page/2"]
    summary = client.get("/_edge/api/requests?summary=1&after=3", environ_base=LOOPBACK).get_json()
    assert [s["seq"] for s in summary] == [5, 4]
    assert set(summary[0]) == {
        "seq",
        "request_id",
        "url",
        "started_at",
        "method",
        "path",
        "behavior",
        "cache_result",
        "result_type",
        "status",
        "duration_ms",
        "error",
    }
    limited = client.get("/_edge/api/requests?limit=1", environ_base=LOOPBACK).get_json()
    assert [d["path"] for d in limited] == ["/page/4"]
    evicted = client.get("/_edge/api/requests/nope", environ_base=LOOPBACK)
    assert evicted.status_code == 404
    assert client.get("/_edge/requests/nope", environ_base=LOOPBACK).status_code == 404
    inspector.clear()
    assert client.get("/_edge/api/requests", environ_base=LOOPBACK).get_json() == []


def test_pages_render_the_timeline_and_point_at_the_field(wsgi: tuple[Client, Inspector]) -> None:
    client, _ = wsgi
    _drive(client)
    listing = client.get("/_edge/", environ_base=LOOPBACK)
    assert listing.status_code == 200
    assert listing.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in listing.headers["Content-Security-Policy"]
    page = listing.get_data(as_text=True)
    assert page.count("<tr class=") == 4 and "LambdaValidationError" in page
    assert 'src="/_edge/inspector.js"' in page and 'href="/_edge/inspector.css"' in page
    assert "://" not in page  # everything is served from /_edge/: works offline
    for asset in ("/_edge/inspector.js", "/_edge/inspector.css"):
        served = client.get(asset, environ_base=LOOPBACK)
        assert served.status_code == 200 and "://" not in served.get_data(as_text=True)

    bad = _by_path(client.get("/_edge/api/requests", environ_base=LOOPBACK).get_json())[
        "/bad/header", "LambdaValidationError"
    ]
    detail = client.get(bad["url"], environ_base=LOOPBACK).get_data(as_text=True)
    assert '<code class="error-field">response.headers[&quot;x-cache&quot;]</code>' in detail
    assert "The function tried to add a blacklisted header." in detail
    # the offending lines of the returned JSON are highlighted
    assert '<span class="hl">    &quot;x-cache&quot;: [</span>' in detail
    assert '<section class="step skipped" id="step-viewer-response">' in detail
    assert "status 502 &gt;= 400" in detail
    assert 'id="origin-request"' in detail and "/bad/header" in detail
    assert client.get("/_edge", environ_base=LOOPBACK).status_code == 308
    assert client.post("/_edge/api/requests", environ_base=LOOPBACK).status_code == 405


def test_loopback_clients_and_host_names_only(wsgi: tuple[Client, Inspector]) -> None:
    client, _ = wsgi
    remote = client.get("/_edge/api/requests", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    # not the inspector: the request goes to the app behind the edge, like any other path
    assert remote.headers["X-Cache"] == "Miss from cloudfront"
    rebinding = client.get(
        "/_edge/api/requests", headers={"Host": "evil.example"}, environ_base=LOOPBACK
    )
    assert rebinding.status_code == 403
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost"):
        ok = client.get("/_edge/api/requests", headers={"Host": host}, environ_base=LOOPBACK)
        assert ok.status_code == 200, host
    # the dev server's invalidation endpoint is not the inspector's
    assert Inspector.handles("/_edge/") and not Inspector.handles("/_edge/invalidate")


def test_events_are_recorded_as_json_safe_copies() -> None:
    cycle: dict[str, Any] = {"name": "loop"}
    cycle["self"] = cycle
    result = {
        "bytes": b"\x00raw",
        "tuple": (1, 2),
        "nan": float("nan"),
        "cycle": cycle,
        7: object(),
        "long": "x" * 100,
    }
    event = {"Records": [{"cf": {"request": {"uri": "/", "headers": {}}}}]}
    step = TraceStep(
        "viewer-request", True, event=event, result=result, error="bad", error_field="result"
    )
    outcome = Outcome(502, "Bad Gateway", [], b"", request_id="r1", steps=[step])
    inspector = Inspector(max_string=10)
    inspector.observer(RequestRecord(outcome, {"uri": "/", "method": "GET"}, "http", "1.1", 0.0, 0))
    result["tuple"] = "changed later"  # the record is a copy
    (doc,) = inspector.records()
    json.dumps(doc, allow_nan=False)
    got = _step(doc, "viewer-request")["result"]
    assert got["tuple"] == [1, 2] and got["bytes"].startswith("<not JSON: bytes>")
    assert got["nan"] == "<not JSON: float nan>" and got["cycle"]["self"] == "<cycle>"
    assert got["7"].startswith("<not JSON: object>")
    assert got["long"].startswith("xxxxxxxxxx...[90 more characters")
    assert [s["event_type"] for s in doc["steps"]] == [
        "viewer-request",
        "origin-request",
        "origin-response",
        "viewer-response",
    ]


def test_off_unless_added() -> None:
    site = _site_module()
    middleware = EdgeWSGIMiddleware(site["wsgi_app"], config=_config(site))
    assert middleware.options.observers == []
    inspector = Inspector()
    Client(middleware).get("/hello")
    assert inspector.records() == []
    with pytest.raises(ValueError):
        Inspector(capacity=0)


# -- ASGI, in process -------------------------------------------------------------------------


def test_asgi_mount() -> None:
    site = _site_module()
    middleware = EdgeMiddleware(site["asgi_app"], config=_config(site))
    inspector = Inspector()
    middleware.add_observer(inspector.observer)
    app = mount_inspector(middleware, inspector)

    async def go() -> tuple[list[dict[str, Any]], str, int, str]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for path, expected in SCENARIO:
                response = await client.get(path, headers=SECRET_HEADERS)
                assert response.headers["x-cache"] == f"{expected} from cloudfront"
            docs = (await client.get("/_edge/api/requests")).json()
            page = (await client.get(docs[0]["url"])).text
            head = await client.head("/_edge/")
            remote = httpx.ASGITransport(app=app, client=("192.0.2.7", 5000))
            async with httpx.AsyncClient(transport=remote, base_url="http://x") as other:
                passed = (await other.get("/_edge/")).headers["x-cache"]
            return docs, page, head.status_code, passed

    docs, page, head_status, passed = asyncio.run(go())
    assert [(d["path"], d["cache_result"]) for d in docs] == list(reversed(SCENARIO))
    assert "error-field" in page and head_status == 200
    assert passed == "Miss from cloudfront"


# -- the dev server ---------------------------------------------------------------------------


@contextmanager
def _serve(directory: Path, app: str, *args: str) -> Iterator[str]:
    """``python -m edge_middleware serve`` on a free loopback port; stopped afterwards."""
    (directory / "inspector_site.py").write_text(textwrap.dedent(SITE))
    (directory / "edge.toml").write_text(CONFIG)
    port = free_port()
    log = directory / "serve.log"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    command = [sys.executable, "-m", "edge_middleware", "serve", app, "--config", "edge.toml"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_until(lambda: proc.poll() is not None or listening(port), 20, "the server")
            assert proc.poll() is None, "serve exited:\n" + log.read_text()
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


def _drive_http(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as client:
        for path, expected in SCENARIO:
            response = client.get(path, headers=SECRET_HEADERS)
            assert response.headers["x-cache"] == f"{expected} from cloudfront", path


@pytest.mark.parametrize("app", ["inspector_site:wsgi_app", "inspector_site:asgi_app"])
def test_dev_server_serves_the_inspector(tmp_path: Path, app: str) -> None:
    with _serve(tmp_path, app) as base:
        _drive_http(base)
        docs = httpx.get(base + "/_edge/api/requests", timeout=10).json()
        assert [(d["path"], d["cache_result"]) for d in docs] == list(reversed(SCENARIO))
        assert "token-secret-456" not in json.dumps(docs)
        page = httpx.get(base + "/_edge/", timeout=10)
        assert page.status_code == 200 and "Edge inspector" in page.text


def test_dev_server_no_inspector(tmp_path: Path) -> None:
    with _serve(tmp_path, "inspector_site:wsgi_app", "--no-inspector") as base:
        response = httpx.get(base + "/_edge/api/requests", timeout=10)
        assert response.headers["x-cache"] == "Miss from cloudfront"  # the app answered
        assert response.text == "hello from /_edge/api/requests"


# -- a real browser ---------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.slow
@pytest.mark.browser
def test_inspector_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if not os.environ.get("CI"):
            pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
        pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run should have installed it")
    assert shutil.which(CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with _serve(tmp_path, "inspector_site:wsgi_app") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if msg.type == "error" else None,
            )
            page.goto(base + "/_edge/")
            expect(page.locator("tbody#requests tr.empty")).to_be_visible()

            _drive_http(base)  # the open page picks them up by itself
            rows = page.locator("tbody#requests tr[data-seq]")
            expect(rows).to_have_count(4, timeout=10_000)
            expect(rows.locator("td.result")).to_have_text([word for _, word in reversed(SCENARIO)])
            expect(rows.first.locator("td.behavior")).to_have_text("/bad/*")
            page.screenshot(path=str(artifacts / "inspector-list.png"), full_page=True)

            rows.filter(has_text="LambdaValidationError").locator("td.path a").click()
            page.wait_for_url("**/_edge/requests/**")
            expect(page.locator("#error .error-field")).to_have_text(BAD_FIELD)
            expect(page.locator("#error")).to_contain_text("tried to add a blacklisted header")
            origin_response = page.locator("#step-origin-response")
            expect(origin_response.locator(".error-field")).to_have_text(BAD_FIELD)
            expect(origin_response.locator("pre.json .hl").first).to_contain_text('"x-cache"')
            expect(origin_response.locator("pre.diff .add").first).to_be_visible()
            skipped = page.locator("#step-viewer-response")
            expect(skipped.locator(".badge")).to_have_text("skipped")
            expect(skipped.locator(".skipped-because")).to_contain_text(
                "LambdaValidationError error response (status 502 >= 400)"
            )
            expect(page.locator("#origin-request")).to_contain_text('"uri": "/bad/header"')
            assert "token-secret-456" not in page.content()
            shot = artifacts / "inspector.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"inspector screenshot: {shot}")
            assert not errors, errors
        finally:
            browser.close()


def test_a_secret_in_the_referers_query_is_masked_as_in_the_access_log() -> None:
    """An OAuth callback page's token travels in the next request's Referer: the access log
    masked it, the inspector showed it in every event's headers."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "no-store")])
        return [b"ok"]

    def passthrough(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return event["Records"][0]["cf"]["request"]

    middleware = EdgeWSGIMiddleware(
        app, config=EdgeConfig(default=Behavior(viewer_request=passthrough))
    )
    inspector = Inspector()
    middleware.add_observer(inspector.observer)
    referer = "https://app.example/cb?access_token=reftok-secret-1&x=1"
    Client(middleware).get("/", headers={"Referer": referer})
    (doc,) = inspector.records()
    assert "reftok-secret-1" not in json.dumps(doc)
    assert "x=1" in json.dumps(doc)
