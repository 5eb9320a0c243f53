"""The dev tools on a user's first hour (issue 14): ``serve`` on an app that already wraps
itself, TLS, what reaches the origin, ``--policies``, SAM handlers, proxy-only mode."""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_middleware import EdgeError
from tests.support.devserver import cli, serve, wait_until

WRAPPED_FLASK = """
from flask import Flask
from edge_middleware import Behavior, EdgeConfig, EdgeWSGIMiddleware

def basic_auth(event, context):
    request = event["Records"][0]["cf"]["request"]
    if "authorization" not in request["headers"]:
        return {"status": "401", "statusDescription": "Unauthorized"}
    return request

app = Flask(__name__)

@app.route("/<path:rest>")
def page(rest):
    return "page " + rest

app.wsgi_app = EdgeWSGIMiddleware(
    app.wsgi_app,
    config=EdgeConfig(
        distribution_id="EINCODE",
        behaviors=[Behavior("/admin/*", viewer_request=basic_auth)],
    ),
)
"""

WRAPPED_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware

def basic_auth(event, context):
    request = event["Records"][0]["cf"]["request"]
    if "authorization" not in request["headers"]:
        return {"status": "401", "statusDescription": "Unauthorized"}
    return request

async def page(request):
    return PlainTextResponse("page " + request.url.path)

app = Starlette(routes=[Route("/{rest:path}", page)])
app.add_middleware(
    EdgeMiddleware,
    config=EdgeConfig(
        distribution_id="EINCODE",
        behaviors=[Behavior("/admin/*", viewer_request=basic_auth)],
    ),
)
"""


# -- 14.1: an app already wrapped in code ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "source",
    [
        pytest.param(WRAPPED_FLASK, id="flask-wsgi_app"),
        pytest.param(WRAPPED_STARLETTE, id="starlette-add_middleware"),
    ],
)
def test_serve_uses_the_middleware_the_app_already_has(tmp_path: Path, source: str) -> None:
    (tmp_path / "wrapped.py").write_text(textwrap.dedent(source))
    with serve(tmp_path, "wrapped:app") as served:
        assert served.get("/admin/panel").status_code == 401  # the in-code viewer-request ran
        ok = served.get("/admin/panel", headers={"Authorization": "Basic dTpw"})
        assert ok.status_code == 200
        assert ok.text == "page /admin/panel" or ok.text == "page admin/panel"
        assert "config: the EdgeMiddleware" in served.stdout or "EdgeWSGIMiddleware" in (
            served.stdout
        )
        assert "distribution EINCODE" in served.stdout


def test_serve_refuses_a_second_config_naming_both(tmp_path: Path) -> None:
    (tmp_path / "wrapped.py").write_text(textwrap.dedent(WRAPPED_FLASK))
    (tmp_path / "edge.toml").write_text('[default]\ncache = "CachingDisabled"\n')
    result = cli(tmp_path, "serve", "wrapped:app", "--config", "edge.toml")
    assert result.returncode == 1
    assert "--config edge.toml" in result.stderr
    assert "EdgeWSGIMiddleware in code (distribution EINCODE, 2 behaviors)" in result.stderr
    assert "listening" not in result.stdout


# -- 14.2: TLS, and the viewer seen as HTTPS --------------------------------------------------

HTTPS_CONFIG = """
[default]
viewer_protocol_policy = "redirect-to-https"
cache = "CachingDisabled"
"""

PLAIN_FLASK = """
from flask import Flask, request

app = Flask(__name__)

@app.route("/", defaults={"rest": ""})
@app.route("/<path:rest>")
def page(rest):
    query = request.query_string.decode()
    return "the app's page /" + rest + ("?" + query if query else "")
"""

PLAIN_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def page(request):
    query = "?" + request.url.query if request.url.query else ""
    return PlainTextResponse("the app's page " + request.url.path + query)

app = Starlette(routes=[Route("/{rest:path}", page)])
"""


@pytest.fixture
def https_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "edge.toml").write_text(HTTPS_CONFIG)
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    (tmp_path / "plain_starlette.py").write_text(textwrap.dedent(PLAIN_STARLETTE))
    monkeypatch.setenv("EDGE_MIDDLEWARE_TLS_DIR", str(tmp_path / "tls"))
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize(
    "app",
    [
        pytest.param("plain_flask:app", id="wsgi-cheroot"),
        pytest.param("plain_starlette:app", id="asgi-uvicorn"),
    ],
)
def test_serve_tls_answers_https_with_the_apps_page(https_site: Path, app: str) -> None:
    with serve(https_site, app, "--config", "edge.toml", "--tls") as served:
        ca = https_site / "tls" / "ca.pem"
        assert ca.is_file()
        context = ssl.create_default_context(cafile=str(ca))
        response = httpx.get(f"https://127.0.0.1:{served.port}/", verify=context, timeout=10)
        assert response.status_code == 200
        assert response.text == "the app's page /"
        assert f"viewer: HTTPS (TLS with {https_site / 'tls' / 'localhost.pem'}" in served.stdout
        assert f"listening on https://127.0.0.1:{served.port}" in served.stdout


@pytest.mark.slow
def test_trust_forwarded_proto_from_loopback(https_site: Path) -> None:
    with serve(https_site, "plain_flask:app", "--config", "edge.toml") as served:
        assert "behaviors * redirect to https://" in served.stdout
        assert served.get("/").status_code == 301
    with serve(
        https_site, "plain_flask:app", "--config", "edge.toml", "--trust-forwarded-proto"
    ) as served:
        assert "X-Forwarded-Proto: https" in served.stdout
        assert served.get("/").status_code == 301
        forwarded = served.get("/", headers={"X-Forwarded-Proto": "https"})
        assert forwarded.status_code == 200
        assert forwarded.text == "the app's page /"


# -- 16.9: keep-alive, idle timeouts, SIGTERM with hung handlers ------------------------------

HUNG = """
import time

def viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    if request["uri"] == "/hang":
        time.sleep(120)
    return request
"""

HUNG_CONFIG = """
[default]
viewer_request = "hung_handlers:viewer_request"
cache = "CachingDisabled"
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "app",
    [
        pytest.param("plain_flask:app", id="wsgi-cheroot"),
        pytest.param("plain_starlette:app", id="asgi-uvicorn"),
    ],
)
def test_sigterm_stops_the_server_despite_a_hung_handler(tmp_path: Path, app: str) -> None:
    (tmp_path / "hung_handlers.py").write_text(HUNG)
    (tmp_path / "edge.toml").write_text(HUNG_CONFIG)
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    (tmp_path / "plain_starlette.py").write_text(textwrap.dedent(PLAIN_STARLETTE))
    with serve(tmp_path, app, "--config", "edge.toml") as served:
        hung = threading.Thread(target=lambda: _ignore_errors(served.get, "/hang"), daemon=True)
        hung.start()
        assert served.get("/fine").status_code == 200
        served.proc.send_signal(signal.SIGTERM)
        # A bound, not a speed claim: without the watchdog the process never ends.
        assert served.proc.wait(30) is not None


def _ignore_errors(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except httpx.HTTPError:
        pass


ORIGIN_WITH_DATE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def page(request):
    return PlainTextResponse("dated", headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})

app = Starlette(routes=[Route("/{rest:path}", page)])
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "date"),
    [
        pytest.param("/dated", "Mon, 01 Jan 2024 00:00:00 GMT", id="origin-date"),
        pytest.param("/_edge/invalidate", None, id="server-date"),
    ],
)
def test_asgi_dev_server_sends_one_date(tmp_path: Path, path: str, date: str | None) -> None:
    (tmp_path / "dated.py").write_text(textwrap.dedent(ORIGIN_WITH_DATE))
    with serve(tmp_path, "dated:app") as served:
        response = served.get(path)
    dates = [v for k, v in response.headers.multi_items() if k.lower() == "date"]
    assert len(dates) == 1
    if date is not None:
        assert dates == [date]


@pytest.mark.slow
def test_wsgi_dev_server_keeps_alive_and_sends_one_server_and_date(tmp_path: Path) -> None:
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    with serve(tmp_path, "plain_flask:app") as served, httpx.Client(timeout=10) as client:
        first = client.get(served.url + "/a")
        second = client.get(served.url + "/b")
        assert first.headers.get("connection", "").lower() != "close"
        assert second.text == "the app's page /b"
        raw = first.headers.multi_items()
        assert [k.lower() for k, _ in raw].count("date") == 1
        assert [k.lower() for k, _ in raw].count("server") <= 1
        # an idle keep-alive connection and a half-sent request are closed by the server
        with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
            sock.sendall(b"GET /partial HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            received = b""
            while chunk := sock.recv(1024):
                received += chunk
            assert received == b"" or received.startswith(b"HTTP/1.1 408")


# -- 14.3 / 16.10: what reaches the origin, and the traps, in the banner and check ------------

FORWARDING_CONFIG = """
[[custom_error_responses]]
error_code = 412
error_caching_min_ttl = 60

[default]
cache = "CachingOptimized"

[[behaviors]]
path_pattern = "/api/*"
origin_request_policy = "AllViewer"

[[behaviors]]
path_pattern = "/shop/*"

[behaviors.cache]
query_strings = "whitelist"
query_string_names = ["page"]
cookies = "whitelist"
cookie_names = ["cart"]

[[behaviors]]
path_pattern = "/private/*"
cache = "CachingDisabled"
origin_request_policy = "AllViewer"
"""


@pytest.mark.slow
def test_banner_says_what_reaches_the_origin(tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(FORWARDING_CONFIG)
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    with serve(tmp_path, "plain_flask:app", "--config", "edge.toml") as served:
        lines = [line.strip() for line in served.lines()]
    for expected in (
        "to the origin: query strings all; cookies all",
        "to the origin: query strings only page; cookies only cart",
        "to the origin: query strings none (removed); cookies none (removed)",
        "headers only Content-Type, Content-Length, Range, If-Match, If-Range; "
        "Authorization only on OPTIONS/POST/PUT/PATCH/DELETE",
        "headers all the viewer's",
        "CloudFront removes what a behavior does not forward; to forward everything, "
        'give the behavior origin_request_policy = "AllViewer"',
    ):
        assert expected in lines, expected


@pytest.mark.parametrize(
    "warning",
    [
        pytest.param(
            "! /api/*: caches responses while the origin gets the viewer's Authorization header",
            id="authorization-allviewer",
        ),
        pytest.param(
            "! /api/*: caches responses while the origin gets the viewer's cookies",
            id="cookies-allviewer",
        ),
        pytest.param(
            "! /shop/*: cookies are in the cache key, so the origin's Set-Cookie is stored",
            id="set-cookie-replayed",
        ),
        pytest.param(
            "! /api/*, /shop/*, *: If-Match always reaches the origin and is not in the cache "
            "key, and 412 answers are cached (60 s)",
            id="if-match-412",
        ),
    ],
)
def test_check_warns_in_plain_words(tmp_path: Path, warning: str) -> None:
    (tmp_path / "edge.toml").write_text(FORWARDING_CONFIG)
    result = cli(tmp_path, "check", "edge.toml")
    assert result.returncode == 0, result.stderr
    assert any(line.strip().startswith(warning) for line in result.stdout.splitlines())
    assert "/private/*:" not in result.stdout  # caching disabled: nothing to warn about


# -- 14.4: --policies for custom policy ids --------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "distributions"
CUSTOM_CACHE = "11111111-2222-3333-4444-555555555555"
CUSTOM_ORP = "66666666-7777-8888-9999-000000000000"
CUSTOM_RHP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
LIST_RHPS = {
    "ResponseHeadersPolicyList": {
        "Quantity": 1,
        "Items": [
            {
                "Type": "custom",
                "ResponseHeadersPolicy": {
                    "Id": CUSTOM_RHP,
                    "ResponseHeadersPolicyConfig": {
                        "Name": "my-headers",
                        "CustomHeadersConfig": {
                            "Quantity": 1,
                            "Items": [
                                {"Header": "X-Site", "Value": "1", "Override": True},
                            ],
                        },
                    },
                },
            }
        ],
    }
}

CACHE_POLICY_CONFIG = {
    "Name": "my-pages",
    "MinTTL": 0,
    "DefaultTTL": 60,
    "MaxTTL": 3600,
    "ParametersInCacheKeyAndForwardedToOrigin": {
        "EnableAcceptEncodingGzip": True,
        "EnableAcceptEncodingBrotli": True,
        "HeadersConfig": {"HeaderBehavior": "none"},
        "CookiesConfig": {"CookieBehavior": "none"},
        "QueryStringsConfig": {
            "QueryStringBehavior": "whitelist",
            "QueryStrings": {"Quantity": 1, "Items": ["page"]},
        },
    },
}
ORP_CONFIG = {
    "Name": "my-forward",
    "HeadersConfig": {"HeaderBehavior": "none"},
    "CookiesConfig": {"CookieBehavior": "all"},
    "QueryStringsConfig": {"QueryStringBehavior": "all"},
}
GET_CACHE_POLICY = {
    "ETag": "E1",
    "CachePolicy": {
        "Id": CUSTOM_CACHE,
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "CachePolicyConfig": CACHE_POLICY_CONFIG,
    },
}
LIST_CACHE_POLICIES = {
    "CachePolicyList": {
        "MaxItems": 100,
        "Quantity": 1,
        "Items": [{"Type": "custom", "CachePolicy": GET_CACHE_POLICY["CachePolicy"]}],
    }
}
LIST_ORPS = {
    "OriginRequestPolicyList": {
        "Quantity": 1,
        "Items": [
            {
                "Type": "custom",
                "OriginRequestPolicy": {
                    "Id": CUSTOM_ORP,
                    "OriginRequestPolicyConfig": ORP_CONFIG,
                },
            }
        ],
    }
}


@pytest.fixture
def custom_distribution(tmp_path: Path) -> Path:
    doc = json.loads((FIXTURES / "get-distribution-config.json").read_text())
    dc = doc["DistributionConfig"]
    for behavior in (dc["DefaultCacheBehavior"], *dc["CacheBehaviors"]["Items"]):
        behavior["LambdaFunctionAssociations"] = {"Quantity": 0}  # only the policies matter
    api = dc["CacheBehaviors"]["Items"][0]
    api["CachePolicyId"] = CUSTOM_CACHE
    api["OriginRequestPolicyId"] = CUSTOM_ORP
    api["ResponseHeadersPolicyId"] = CUSTOM_RHP
    (tmp_path / "dist.json").write_text(json.dumps(doc))
    return tmp_path


@pytest.mark.parametrize(
    "documents",
    [
        pytest.param([GET_CACHE_POLICY, LIST_ORPS, LIST_RHPS], id="get-cache-policy+lists"),
        pytest.param([LIST_CACHE_POLICIES, LIST_ORPS, LIST_RHPS], id="list-cache-policies+lists"),
        pytest.param([[GET_CACHE_POLICY, LIST_ORPS, LIST_RHPS]], id="one-json-list"),
    ],
)
def test_check_with_policies_files(custom_distribution: Path, documents: list[Any]) -> None:
    args = []
    for i, doc in enumerate(documents):
        (custom_distribution / f"p{i}.json").write_text(json.dumps(doc))
        args += ["--policies", f"p{i}.json"]
    result = cli(custom_distribution, "check", "dist.json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dist.json: OK" in result.stdout
    assert "1. /api/*  -> origin app (app.example.com)  TTL 0/60/3600s" in result.stdout
    assert "to the origin: query strings all; cookies all" in result.stdout


def test_check_lists_the_missing_policy_ids(custom_distribution: Path) -> None:
    result = cli(custom_distribution, "check", "dist.json")
    assert result.returncode == 1
    assert "policies that are neither managed nor in --policies" in result.stdout
    assert f"  CachePolicyId {CUSTOM_CACHE}" in result.stdout
    assert f"  OriginRequestPolicyId {CUSTOM_ORP}" in result.stdout
    assert f"  ResponseHeadersPolicyId {CUSTOM_RHP}" in result.stdout
    # the rest of the distribution was still checked and printed
    assert "/static/*" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '{"DistributionConfig": \n',
            "error: dist.json is not valid JSON: Expecting value: line 2 column 1",
            id="json",
        ),
        pytest.param(None, "error: dist.json: cannot use it, expected a readable file", id="gone"),
    ],
)
def test_check_error_names_the_file_once(tmp_path: Path, text: str | None, expected: str) -> None:
    if text is not None:
        (tmp_path / "dist.json").write_text(text)
    result = cli(tmp_path, "check", "dist.json")
    assert result.returncode == 1
    assert result.stderr.startswith(expected)
    assert result.stderr.count("dist.json") == 1


# -- 14.5: SAM python handlers without --handler ----------------------------------------------

SAM_AUTH = """
def handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    if request["uri"].startswith("/private"):
        return {"status": "403", "statusDescription": "Forbidden"}
    return request
"""

SAM_HEADERS = """
from helper import NAME  # a sibling module in the same CodeUri, as on Lambda

def handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-from"] = [{"key": "X-From", "value": NAME}]
    return response
"""


@pytest.fixture
def sam_project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text((FIXTURES / "sam-template.yaml").read_text())
    for directory, source in (("auth", SAM_AUTH), ("headers", SAM_HEADERS)):
        (tmp_path / "src" / directory).mkdir(parents=True)
        (tmp_path / "src" / directory / "app.py").write_text(source)  # both are app.py
    (tmp_path / "src" / "headers" / "helper.py").write_text('NAME = "sam-headers"\n')
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    return tmp_path


def test_check_maps_sam_python_functions(sam_project: Path) -> None:
    result = cli(sam_project, "check", "template.yaml")
    assert result.returncode == 0, result.stderr
    assert "without a local handler" not in result.stdout
    assert "viewer-request" in result.stdout and "origin-response" in result.stdout


@pytest.mark.slow
def test_sam_template_serves_without_handler_options(sam_project: Path) -> None:
    args = ("--config", "template.yaml", "--trust-forwarded-proto")
    with serve(sam_project, "plain_flask:app", *args) as served:
        https = {"X-Forwarded-Proto": "https"}
        page = served.get("/about", headers=https)
        assert page.status_code == 200
        assert page.headers["X-From"] == "sam-headers"
        assert served.get("/private/x.html", headers=https).status_code == 403


# -- 14.6: proxy-only mode --------------------------------------------------------------------


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server (the standard library's) serving a directory, as Rails or Node
    would serve pages."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("<h1>static home</h1>")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_serve_origin_fronts_a_plain_http_server(tmp_path: Path, static_server: str) -> None:
    (tmp_path / "edge.toml").write_text('[default]\ncache = "CachingOptimized"\n')
    with serve(tmp_path, f"--origin={static_server}", "--config", "edge.toml") as served:
        first = served.get("/index.html")
        second = served.get("/index.html")
        assert first.text == "<h1>static home</h1>"
        assert first.headers["X-Cache"] == "Miss from cloudfront"
        assert second.headers["X-Cache"] == "Hit from cloudfront"
        assert f"proxy to {static_server}" in served.stdout


def test_serve_origin_refuses_an_app_beside_it(tmp_path: Path) -> None:
    result = cli(tmp_path, "serve", "app:app", "--origin", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "give APP or --origin URL, not both" in result.stderr


# -- 14.8: missing extras fail early, with the install line ------------------------------------


@pytest.mark.parametrize(
    ("hidden", "args", "extra"),
    [
        pytest.param("uvicorn", ["plain_starlette:app"], "server", id="asgi-without-uvicorn"),
        pytest.param("cheroot", ["plain_flask:app"], "server", id="wsgi-without-cheroot"),
        pytest.param("httpx", ["--origin", "http://127.0.0.1:9"], "proxy", id="origin-no-httpx"),
        pytest.param("cryptography", ["plain_flask:app", "--tls"], "tls", id="tls-no-crypto"),
        # a WebSocket it passed on was a 500 with a ModuleNotFoundError (packaging hunt)
        pytest.param(
            "websockets", ["--origin", "http://127.0.0.1:9"], "server", id="origin-no-websockets"
        ),
    ],
)
def test_missing_extra_fails_before_listening(
    tmp_path: Path, hidden: str, args: list[str], extra: str
) -> None:
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    (tmp_path / "plain_starlette.py").write_text(textwrap.dedent(PLAIN_STARLETTE))
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "from edge_middleware.devtools.cli import main\n"
        f"sys.exit(main(['serve', *{args!r}, '--port', '0']))\n"
    )
    env = dict(os.environ, EDGE_MIDDLEWARE_TLS_DIR=str(tmp_path / "tls"))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert f"pip install 'edge-middleware[{extra}]'" in result.stderr
    assert "listening" not in result.stdout


def test_asgi_edge_client_without_httpx2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither HTTP client (httpx2, or httpx on which an older Starlette runs) the error
    names the extra; it is an EdgeError too (packaging hunt, 2026-12-07)."""
    from edge_middleware.testing import edge_test_client

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    monkeypatch.setitem(sys.modules, "httpx2", None)
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(EdgeError, match=r"pip install 'edge-middleware\[testing\]'"):
        edge_test_client(app)


# -- 16.6 / 14.10: one masking function; handler tracebacks show the handler's frames ---------

LEAKY = """
def viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["x-upstream-token"] = [{"key": "X-Upstream-Token", "value": "added-t0ken"}]
    print("auth is", request["headers"]["authorization"][0]["value"])
    return request


def origin_response(event, context):
    response = event["Records"][0]["cf"]["response"]
    request = event["Records"][0]["cf"]["request"]
    print("upstream token", request["headers"].get("x-upstream-token"))
    raise ValueError("bad session " + event["Records"][0]["cf"]["request"]["querystring"])
"""

LEAKY_CONFIG = """
[default]
viewer_request = "leaky:viewer_request"
origin_response = "leaky:origin_response"
origin_request_policy = "AllViewer"
cache = "CachingDisabled"
"""

SECRETS = ("Bearer s3cr3t-value", "s3cr3t-value", "added-t0ken", "q-t0ken-v4lue", "sess-c00kie")


@pytest.mark.slow
def test_console_access_log_and_inspector_mask_every_secret(tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY)
    (tmp_path / "edge.toml").write_text(LEAKY_CONFIG)
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    args = ("--config", "edge.toml", "--access-log", "access.log")
    with serve(tmp_path, "plain_flask:app", *args) as served:
        response = served.get(
            "/page?page=2&token=q-t0ken-v4lue",
            headers={"Authorization": "Bearer s3cr3t-value", "Cookie": "sid=sess-c00kie"},
        )
        assert response.status_code == 503
        inspector = httpx.get(served.url + "/_edge/api/requests", timeout=10).text
        page = httpx.get(
            served.url + "/_edge/requests/" + response.headers["X-Amz-Cf-Id"], timeout=10
        ).text
        wait_until(lambda: "ValueError" in served.stdout, 10, "the request line")
        console = served.stdout + served.stderr
        access = (tmp_path / "access.log").read_text()
    for where, text in (
        ("console", console),
        ("access log", access),
        ("inspector", inspector),
        ("page", page),
    ):
        for secret in SECRETS:
            assert secret not in text, (where, secret)
    assert "token=[redacted]" in console
    # the traceback starts in the handler's file, with none of the library's frames
    assert 'leaky.py", line 13, in origin_response' in console
    assert "edge_middleware/" not in console.partition("Traceback")[2]
    assert "leaky.py" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", (128, 2.0, 0.25), id="defaults"),
        pytest.param(
            "?max_connections=16&pool_timeout=0.5&socket_timeout=1.5", (16, 0.5, 1.5), id="set"
        ),
    ],
)
def test_redis_pool_size_and_timeouts_are_url_settings(
    query: str, expected: tuple[int, float, float]
) -> None:
    from edge_middleware.cache.redis import RedisStorage, storage_from_url

    storage = storage_from_url("redis://127.0.0.1:1/0" + query)
    try:
        assert isinstance(storage, RedisStorage)
        got = (storage.max_connections, storage.pool_timeout, storage.socket_timeout)
        assert got == expected
    finally:
        storage.close()


# -- 14.10: the smaller stumbles ----------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = cli(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "edge-middleware 0.1.0"


def test_busy_port_exits_1_before_listening(tmp_path: Path) -> None:
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = cli(tmp_path, "serve", "plain_flask:app", "--port", port)
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[[behaviors]]\npath_pattern = "/api/*"\norigin_request = "no_such_mod:handler"\n',
            "Behavior('/api/*').origin_request: 'no_such_mod:handler' is invalid; expected an "
            "importable module (No module named 'no_such_mod')",
            id="missing-module",
        ),
    ],
)
def test_missing_handler_module_names_behavior_and_trigger(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "edge.toml").write_text(text)
    result = cli(tmp_path, "check", "edge.toml")
    assert result.returncode == 1
    assert expected in result.stderr


def test_check_and_middleware_refuse_unmapped_arns_with_the_same_text(tmp_path: Path) -> None:
    from edge_middleware import ConfigurationError, EdgeWSGIMiddleware

    dist = FIXTURES / "get-distribution-config.json"
    with pytest.raises(ConfigurationError) as refused:
        EdgeWSGIMiddleware(origin_app_for_tests, config=str(dist))
    result = cli(tmp_path, "check", str(dist))
    assert result.returncode == 1
    # the same field and value, after the file's name (check names the file once); each in
    # its own terms: handlers= in Python, --handler on the command line
    exc = refused.value
    assert f"error: {dist}: {exc.field}: {exc.value!r} is invalid" in result.stderr
    assert "pass handlers={key: callable or 'module:function'}" in str(exc)
    assert "--handler KEY=module:function" in result.stderr


def origin_app_for_tests(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


NOT_AN_OBJECT = """
def handler(event, context):
    return ["not", "a", "request", b"bytes"]
"""


def test_invoke_prints_the_result_it_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad_handler.py").write_text(NOT_AN_OBJECT)
    result = cli(
        tmp_path, "invoke", "bad_handler:handler", "--event-type", "viewer-request", "--path", "/"
    )
    assert result.returncode == 2
    out = json.loads(result.stdout)
    assert out["rejected_result"] == ["not", "a", "request", "<not JSON: bytes> b'bytes'"]
    assert "result" not in out


GENERATED_401 = """
def handler(event, context):
    return {"status": "401", "statusDescription": "Unauthorized"}
"""


@pytest.mark.slow
def test_dev_log_word_for_a_generated_401_agrees_with_x_cache(tmp_path: Path) -> None:
    (tmp_path / "gen.py").write_text(GENERATED_401)
    (tmp_path / "edge.toml").write_text('[default]\nviewer_request = "gen:handler"\n')
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    with serve(tmp_path, "plain_flask:app", "--config", "edge.toml") as served:
        response = served.get("/")
        assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"
        wait_until(lambda: "GET /  *" in served.stdout, 10, "the request line")
        (line,) = [line for line in served.lines() if line.startswith("GET /  *")]
    assert "  LambdaGeneratedResponse  401  " in line


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        pytest.param(
            "import edge_middleware.devtools.pytest_plugin",
            ("edge_middleware.testing", "starlette", "edge_middleware.doors.asgi", "yaml"),
            id="pytest-plugin",
        ),
        pytest.param(
            "from edge_middleware import EdgeMiddleware, EdgeConfig, Behavior",
            (
                "yaml",
                "edge_middleware.doors.wsgi",
                "edge_middleware.config.loaders",
                "brotli",
                "werkzeug",
            ),
            id="asgi-user",
        ),
    ],
)
def test_imports_are_lazy(code: str, absent: tuple[str, ...]) -> None:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {absent!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_serve_with_own_cert_and_key(https_site: Path) -> None:
    from edge_middleware.devtools.devtls import ensure_local_certificate

    files = ensure_local_certificate(https_site / "own")
    args = ("--config", "edge.toml", "--cert", str(files.cert), "--key", str(files.key))
    with serve(https_site, "plain_flask:app", *args) as served:
        context = ssl.create_default_context(cafile=str(files.ca))
        response = httpx.get(f"https://localhost:{served.port}/x", verify=context, timeout=10)
        assert response.text == "the app's page /x"
        assert f"viewer: HTTPS (TLS with {files.cert})" in served.stdout


def test_cert_without_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    result = cli(tmp_path, "serve", "plain_flask:app", "--cert", "c.pem")
    assert result.returncode == 1
    assert "give --cert and --key together" in result.stderr


@pytest.mark.slow
def test_invalidate_through_a_dev_server_with_a_token(tmp_path: Path) -> None:
    (tmp_path / "plain_flask.py").write_text(textwrap.dedent(PLAIN_FLASK))
    with serve(tmp_path, "plain_flask:app", "--edge-token", "t0k") as served:
        without = cli(tmp_path, "invalidate", "/x", "--server", served.url)
        with_token = cli(
            tmp_path, "invalidate", "/x", "--server", served.url, "--edge-token", "t0k"
        )
        proxied = httpx.post(
            served.url + "/_edge/invalidate",
            json=["/x"],
            headers={"X-Edge-Token": "t0k", "X-Forwarded-For": "192.0.2.1"},
            timeout=10,
        )
    assert without.returncode == 1 and "needs the token" in without.stderr
    assert with_token.returncode == 0, with_token.stderr
    assert proxied.status_code == 403
