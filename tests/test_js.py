"""CloudFront Functions and Node.js Lambda@Edge handlers, through both front doors.

The JavaScript under ``tests/fixtures/js/`` is written from the AWS developer guide's examples
(see its README). Everything runs on the real ``node`` (Debian's ``nodejs``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    CloudFrontError,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    OriginRequestPolicy,
)
from edge_middleware.core.capture import Captured, run_captured
from edge_middleware.core.handlers import LambdaContext
from edge_middleware.js import CloudFrontFunction, NodeHandler
from edge_middleware.js.shapes import from_cf_request, from_cf_response, to_cf_event
from edge_middleware.testing import EventBuilder

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

if shutil.which("node") is None:  # pragma: no cover - .ci/run installs Debian's nodejs
    pytest.skip("needs node (apt-get install nodejs)", allow_module_level=True)

FIXTURES = Path(__file__).parent / "fixtures" / "js"
FUNCTIONS = FIXTURES / "functions"
LAMBDA = FIXTURES / "lambda"
CLIENT_IP = "203.0.113.7"
NO_CACHE = CachePolicy(0, 0, 0)
ALL_VIEWER = OriginRequestPolicy(headers="allViewer", cookies="all", query_strings="all")
RUNTIMES = ("cloudfront-js-1.0", "cloudfront-js-2.0")
SECURITY = {
    "strict-transport-security": "max-age=63072000; includeSubdomains; preload",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "same-origin",
}

# One node worker pool per JS file and options for the whole module: starting node costs ~50 ms.
_loaded: dict[tuple[Any, ...], Any] = {}


def cf_function(
    name: str, runtime: str = "cloudfront-js-2.0", **options: Any
) -> CloudFrontFunction:
    key = ("cf", name, runtime, repr(sorted(options.items())))
    if key not in _loaded:
        _loaded[key] = CloudFrontFunction(FUNCTIONS / name, runtime=runtime, **options)  # type: ignore[arg-type]
    fn: CloudFrontFunction = _loaded[key]
    return fn


def node_handler(name: str, **options: Any) -> NodeHandler:
    key = ("node", name, repr(sorted(options.items())))
    if key not in _loaded:
        _loaded[key] = NodeHandler(name, root=LAMBDA, **options)
    handler: NodeHandler = _loaded[key]
    return handler


@pytest.fixture(scope="module", autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    for obj in _loaded.values():
        obj.close()
    _loaded.clear()


# -- the two doors ---------------------------------------------------------------------------
class Resp(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def get(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def seen(self) -> dict[str, Any]:
        """What the origin app received (the echo route answers with it)."""
        data: dict[str, Any] = json.loads(self.body)
        return data

    def origin_header(self, name: str) -> str | None:
        for k, v in self.seen()["headers"]:
            if k.lower() == name:
                return str(v)
        return None


Send = Callable[..., Resp]


@pytest.fixture(params=["asgi", "wsgi"])
def door(request: pytest.FixtureRequest) -> Callable[[EdgeConfig], Send]:
    """``door(config)`` -> ``send(path, headers=[...])`` through that door's middleware."""

    def make(config: EdgeConfig) -> Send:
        log: list[dict[str, Any]] = []
        if request.param == "asgi":
            mw = EdgeMiddleware(make_starlette_app(log), config=config)
            client = TestClient(mw, follow_redirects=False, client=(CLIENT_IP, 50000))

            def send_asgi(path: str, headers: list[tuple[str, str]] | None = None) -> Resp:
                r = client.get(path, headers=headers or [])
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw]
                return Resp(r.status_code, pairs, r.content)

            return send_asgi
        app = make_flask_app(log)
        wsgi = Client(EdgeWSGIMiddleware(app.wsgi_app, config=config), use_cookies=False)

        def send_wsgi(path: str, headers: list[tuple[str, str]] | None = None) -> Resp:
            r = wsgi.get(
                path,
                headers=headers or [],
                base_url="http://testserver",
                environ_overrides={"REMOTE_ADDR": CLIENT_IP},
            )
            try:
                return Resp(r.status_code, list(r.headers.to_wsgi_list()), r.get_data())
            finally:
                r.close()

        return send_wsgi

    return make


def config(**triggers: Any) -> EdgeConfig:
    settings = triggers.pop("settings", EdgeSettings())
    return EdgeConfig(
        default=Behavior(cache=NO_CACHE, origin_request_policy=ALL_VIEWER, **triggers),
        settings=settings,
    )


# -- CloudFront Functions: the developer guide's examples ------------------------------------
def _add_index(send: Send) -> None:
    assert send("/docs/").seen()["path"] == "/docs/index.html"
    assert send("/docs").seen()["path"] == "/docs/index.html"
    assert send("/site.css").seen()["path"] == "/site.css"


def _function_generated(r: Any) -> None:
    """How CloudFront marks a CloudFront Function's answer (lambda-edge.md §8)."""
    assert r.get("x-cache") == "FunctionGeneratedResponse from cloudfront"
    assert r.get("cloudfront-functions") == "generated-by-CloudFront-Functions"
    assert r.get("server") == "CloudFront"


def _redirect_by_country(send: Send) -> None:
    r = send("/", headers=[("CloudFront-Viewer-Country", "DE")])
    assert (r.status, r.get("location")) == (302, "https://testserver/de/index.html")
    _function_generated(r)
    assert send("/", headers=[("CloudFront-Viewer-Country", "FR")]).status == 200


def _security_headers(send: Send) -> None:
    r = send("/page")
    assert r.status == 200
    assert {name: r.get(name) for name in SECURITY} == SECURITY
    assert "default-src 'none'" in (r.get("content-security-policy") or "")


def _normalize_querystring(send: Send) -> None:
    assert send("/list?size=10&color=red&color=blue").seen()["query_string"] == (
        "color=blue&color=red&size=10"
    )


def _true_client_ip(send: Send) -> None:
    assert send("/").origin_header("true-client-ip") == CLIENT_IP


def _kvs_redirect(send: Send) -> None:
    r = send("/old-page")
    assert (r.status, r.get("location")) == (302, "/new-page")
    _function_generated(r)
    assert send("/other").seen()["path"] == "/other"


_CF_EXAMPLES = [
    ("add-index", "add-index.js", "viewer_request", {}, _add_index, RUNTIMES),
    ("redirect-by-country", "redirect-by-country.js", "viewer_request", {}, _redirect_by_country,
     RUNTIMES),
    ("security-headers", "security-headers.js", "viewer_response", {}, _security_headers,
     RUNTIMES),
    ("cache-key-normalisation", "normalize-querystring.js", "viewer_request", {},
     _normalize_querystring, RUNTIMES),
    ("true-client-ip", "true-client-ip.js", "viewer_request", {}, _true_client_ip, RUNTIMES),
    ("kvs-redirect", "kvs-redirect.js", "viewer_request",
     {"key_value_store": {"/old-page": "/new-page"}}, _kvs_redirect, ("cloudfront-js-2.0",)),
]  # fmt: skip
#: every example on each runtime it applies to
CF_EXAMPLES = [
    pytest.param(name, runtime, slot, options, check, id=f"{ident}-{runtime[-3:]}")
    for ident, name, slot, options, check, runtimes in _CF_EXAMPLES
    for runtime in runtimes
]


@pytest.mark.parametrize(("name", "runtime", "slot", "options", "check"), CF_EXAMPLES)
def test_cloudfront_functions_examples(
    door: Callable[[EdgeConfig], Send],
    name: str,
    runtime: str,
    slot: str,
    options: dict[str, Any],
    check: Callable[[Send], None],
) -> None:
    fn = cf_function(name, runtime, **options)
    check(door(config(**{slot: fn})))


# -- CloudFront Functions: errors and limits --------------------------------------------------
@pytest.mark.parametrize(
    ("path", "status", "error_name"),
    [
        pytest.param("/throw", 503, "FunctionExecutionError", id="throws"),
        pytest.param("/nothing", 503, "FunctionExecutionError", id="returns-undefined"),
        pytest.param("/bad-status", 502, "FunctionValidationError", id="bad-status-code"),
        pytest.param("/bad-header", 502, "FunctionValidationError", id="bad-header-object"),
        pytest.param("/read-only", 502, "FunctionValidationError", id="read-only-header"),
        pytest.param("/loop", 503, "FunctionThrottledError", id="runs-past-budget"),
        pytest.param("/require-fs", 503, "FunctionExecutionError", id="no-file-system"),
        pytest.param("/eval", 503, "FunctionExecutionError", id="no-eval"),
        pytest.param("/fetch", 200, None, id="no-network-or-process"),
    ],
)
def test_cloudfront_function_errors(
    door: Callable[[EdgeConfig], Send], path: str, status: int, error_name: str | None
) -> None:
    send = door(config(viewer_request=cf_function("errors.js", max_compute_ms=200)))
    r = send(path)
    assert r.status == status
    if error_name is not None:
        assert r.get("x-cache") == f"{error_name} from cloudfront"
    assert send("/fine").status == 200  # the worker keeps serving


def test_cloudfront_function_over_10_kb_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.js"
    big.write_text("function handler(event) { return event.request; }\n//" + "x" * 10_300)
    size = big.stat().st_size
    with pytest.raises(ConfigurationError, match=f"{size} bytes") as info:
        CloudFrontFunction(big)
    assert "10240" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"runtime": "cloudfront-js-3.0"}, "runtime", id="unknown-runtime"),
        pytest.param(
            {"runtime": "cloudfront-js-1.0", "key_value_store": {}}, "key_value_store",
            id="kvs-needs-2.0",
        ),
        pytest.param({"max_compute_ms": 0}, "max_compute_ms", id="zero-budget"),
        pytest.param({"node": "/nonexistent/node"}, "node", id="no-node"),
    ],
)  # fmt: skip
def test_cloudfront_function_bad_options(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        CloudFrontFunction(FUNCTIONS / "add-index.js", **kwargs)


def test_cloudfront_function_syntax_error_fails_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.js"
    bad.write_text("function handler(event) { return event.request;")
    with pytest.raises(ConfigurationError, match="SyntaxError"):
        CloudFrontFunction(bad)


def test_cloudfront_function_inline_code_and_console_captured() -> None:
    fn = CloudFrontFunction(
        "function handler(e) { console.log('uri', e.request.uri); return e.request; }",
        code=True,
        name="inline",
    )
    try:
        buf = Captured()
        result = run_captured(buf, fn, _event("viewer-request", uri="/a"), None)
        assert result["uri"] == "/a"
        output = buf.close()
        assert output.startswith("uri /a\n[compute utilization ")
        assert fn.last_compute_utilization is not None
    finally:
        fn.close()


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        pytest.param("'replaced'", b"replaced", id="string"),
        pytest.param("{encoding: 'text', data: 'replaced'}", b"replaced", id="text"),
        pytest.param("{encoding: 'base64', data: 'AAEC'}", b"\x00\x01\x02", id="base64"),
    ],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cloudfront_function_viewer_response_sets_the_body(
    door: Callable[[EdgeConfig], Send], runtime: str, body: str, sent: bytes
) -> None:
    """lambda-edge.md §8: a CloudFront Function's viewer-response may set ``body`` (a
    Lambda@Edge one gets the 502 of decisions.md #10)."""
    code = f"function handler(event) {{ var r = event.response; r.body = {body}; return r; }}"
    fn = CloudFrontFunction(code, code=True, name="body", runtime=runtime)  # type: ignore[arg-type]
    try:
        r = door(EdgeConfig(default=Behavior(viewer_response=fn, cache=NO_CACHE)))("/page")
        assert (r.status, r.body, r.get("content-length")) == (200, sent, str(len(sent)))
        assert r.get("x-cache") == "Miss from cloudfront"
    finally:
        fn.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cloudfront_function_viewer_response_changes_the_status(
    door: Callable[[EdgeConfig], Send], runtime: str
) -> None:
    """AWS: "Your function can generate or modify the statusCode" in viewer-response (a
    Lambda@Edge one gets the 502 of decisions.md #9)."""
    code = "function handler(event) { var r = event.response; r.statusCode = 404; return r; }"
    fn = CloudFrontFunction(code, code=True, name="status", runtime=runtime)  # type: ignore[arg-type]
    try:
        r = door(EdgeConfig(default=Behavior(viewer_response=fn, cache=NO_CACHE)))("/page")
        assert r.status == 404
    finally:
        fn.close()


#: every global name the engines use while loading or calling a function, past or present
_ENGINE_GLOBALS = [
    *("__edge_invoke", "__edge_state", "__edge_origin", "__edge_take_origin", "__edge_logs"),
    *("__edge_mods", "__edge_cloudfront", "__edge_kvs_json", "__edge_bytes", "__edge_handler_ok"),
    "__edge_querystring",
]


@pytest.mark.parametrize("engine", ["node", "mini-racer"])
def test_cloudfront_function_cannot_reach_or_fake_the_engine_state(engine: str) -> None:
    """What an engine keeps for a call (the invoker, the result, the origin change, the logs)
    lives where the function's code cannot name it: a function that looks for the engine's
    globals finds none, and one that assigns them changes neither its own result, nor its
    origin, nor the next call; an origin change asked for in one call is not seen in the next."""
    if engine == "mini-racer":
        pytest.importorskip("py_mini_racer")
    names = json.dumps(_ENGINE_GLOBALS)
    fn = CloudFrontFunction(
        f"""
        import cf from 'cloudfront';
        var calls = 0, names = {names};
        function handler(event) {{
          calls += 1;
          var r = event.request;
          var seen = names.filter(function (n) {{ return typeof globalThis[n] !== 'undefined'; }});
          r.headers['x-seen'] = {{ value: calls + ':' + seen.join(',') }};
          names.forEach(function (n) {{ globalThis[n] = function () {{ throw new Error(n); }}; }});
          globalThis.__edge_state = {{ ok: true, v: '{{"statusCode": 418}}' }};
          globalThis.__edge_origin = {{ select: 'forged' }};
          if (r.uri === '/select') cf.selectRequestOriginById('other');
          return r;
        }}
        """,
        code=True,
        name="snoop",
        engine=engine,
    )
    try:
        for call, uri in enumerate(("/select", "/plain", "/plain"), start=1):
            trace: dict[str, Any] = {}
            result = fn.run(to_cf_event(_event("viewer-request", uri)), trace=trace)
            seen = result["headers"]["x-seen"]["value"]
            # from the second call on, the names are the function's own assignments
            assert seen == ("1:" if call == 1 else f"{call}:{','.join(_ENGINE_GLOBALS)}")
            assert result["uri"] == uri and "statusCode" not in result
            assert trace.get("origin") == ({"select": "other"} if uri == "/select" else None), (
                trace.get("origin")
            )
    finally:
        fn.close()


# -- the event and result conversions ---------------------------------------------------------
def _event(event_type: str, uri: str = "/", qs: str = "", **extra: Any) -> dict[str, Any]:
    request = {
        "clientIp": CLIENT_IP,
        "headers": {
            "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
            "cookie": [{"key": "Cookie", "value": "a=1; b=2"}, {"key": "Cookie", "value": "a=3"}],
            "accept": [{"key": "Accept", "value": "text/html"}, {"key": "Accept", "value": "*/*"}],
        },
        "method": "GET",
        "querystring": qs,
        "uri": uri,
    }
    cf: dict[str, Any] = {
        "config": {
            "distributionDomainName": "d111111abcdef8.cloudfront.net",
            "distributionId": "EDFDVBD6EXAMPLE",
            "eventType": event_type,
            "requestId": "rid",
        },
        "request": request,
        **extra,
    }
    return {"Records": [{"cf": cf}]}


def test_to_cf_event_shape() -> None:
    response = {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "set-cookie": [
                {"key": "Set-Cookie", "value": "id=1; Secure"},
                {"key": "Set-Cookie", "value": "id=2"},
            ],
            "content-type": [{"key": "Content-Type", "value": "text/html"}],
        },
    }
    ev = to_cf_event(_event("viewer-response", "/x", "a=1&a=2&b", response=response))
    assert ev["version"] == "1.0"
    assert ev["context"]["eventType"] == "viewer-response"
    assert ev["viewer"] == {"ip": CLIENT_IP}
    req = ev["request"]
    assert req["querystring"] == {
        "a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]},
        "b": {"value": ""},
    }
    assert "cookie" not in req["headers"]
    assert req["cookies"] == {
        "a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "3"}]},
        "b": {"value": "2"},
    }
    assert req["headers"]["accept"] == {
        "value": "text/html",
        "multiValue": [{"value": "text/html"}, {"value": "*/*"}],
    }
    resp = ev["response"]
    assert resp["statusCode"] == 200
    assert resp["cookies"] == {
        "id": {
            "value": "1",
            "attributes": "Secure",
            "multiValue": [{"value": "1", "attributes": "Secure"}, {"value": "2"}],
        }
    }
    assert "set-cookie" not in resp["headers"]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        pytest.param(
            {"uri": "/b", "querystring": {"x": {"value": "1"}}, "headers": {}, "cookies": {}},
            {"uri": "/b", "querystring": "x=1", "headers": {}},
            id="uri-and-querystring",
        ),
        pytest.param(
            {"uri": "/", "querystring": "?z=1", "headers": {"Host": {"value": "h"}},
             "cookies": {"s": {"value": "v", "multiValue": [{"value": "v"}, {"value": "w"}]}}},
            {"uri": "/", "querystring": "z=1", "headers": {
                "host": [{"key": "Host", "value": "h"}],
                "cookie": [{"key": "Cookie", "value": "s=v; s=w"}]}},
            id="string-querystring-and-cookies",
        ),
    ],
)  # fmt: skip
def test_from_cf_request(result: dict[str, Any], expected: dict[str, Any]) -> None:
    before = _event("viewer-request")["Records"][0]["cf"]["request"]
    out = from_cf_request(result, before)
    assert {k: out[k] for k in expected} == expected
    assert out["clientIp"] == CLIENT_IP


@pytest.mark.parametrize(
    ("change", "qs", "cookie", "multi"),
    [
        pytest.param("value", "page=99", "s=new", ["new"], id="value-only"),
        pytest.param("multiValue", "page=7&page=8", "s=c; s=d", ["7", "8"], id="multiValue"),
        pytest.param("nothing", "page=1&page=2", "s=a; s=b", ["1", "2"], id="nothing"),
    ],
)
def test_a_repeated_names_value_change_counts_unless_multivalue_changed(
    change: str, qs: str, cookie: str, multi: list[str]
) -> None:
    """lambda-edge.md §8: multiValue wins over value "when it is changed"; a function that
    changes only value (of a repeated query key, cookie or header) gets that value."""
    before = _event("viewer-request")["Records"][0]["cf"]["request"]
    before["querystring"] = "page=1&page=2"
    before["headers"]["cookie"] = [{"key": "Cookie", "value": "s=a; s=b"}]
    before["headers"]["x-multi"] = [{"key": "X-Multi", "value": v} for v in ("1", "2")]
    event = _event("viewer-request")
    event["Records"][0]["cf"]["request"] = before
    shown = to_cf_event(event)["request"]
    for name, obj in (("page", shown["querystring"]), ("s", shown["cookies"])):
        if change == "value":
            obj[name]["value"] = "99" if name == "page" else "new"
        elif change == "multiValue":
            new = ["7", "8"] if name == "page" else ["c", "d"]
            obj[name]["multiValue"] = [{"value": v} for v in new]
    if change == "value":
        shown["headers"]["x-multi"]["value"] = "new"
    elif change == "multiValue":
        shown["headers"]["x-multi"]["multiValue"] = [{"value": "7"}, {"value": "8"}]
    out = from_cf_request(shown, before)
    assert out["querystring"] == qs
    assert out["headers"]["cookie"][0]["value"] == cookie
    assert [e["value"] for e in out["headers"]["x-multi"]] == multi


def test_from_cf_response_cookies_and_body() -> None:
    out = from_cf_response(
        {
            "statusCode": 200,
            "headers": {"x-a": {"value": "1"}},
            "cookies": {"id": {"value": "7", "attributes": "Path=/"}},
            "body": {"encoding": "base64", "data": "aGk="},
        }
    )
    assert out == {
        "status": "200",
        "headers": {
            "x-a": [{"key": "X-A", "value": "1"}],  # CloudFront capitalises (§8)
            "set-cookie": [{"key": "Set-Cookie", "value": "id=7; Path=/"}],
        },
        "body": "aGk=",
        "bodyEncoding": "base64",
    }


# -- Node.js Lambda@Edge: the developer guide's examples --------------------------------------
def _ab_testing(send: Send) -> None:
    a = send("/experiment-pixel.jpg", headers=[("Cookie", "X-Experiment-Name=A")])
    b = send("/experiment-pixel.jpg", headers=[("Cookie", "X-Experiment-Name=B")])
    assert a.seen()["path"] == "/experiment-group/control-pixel.jpg"
    assert b.seen()["path"] == "/experiment-group/treatment-pixel.jpg"
    assert send("/other").seen()["path"] == "/other"


def _redirect_unauthenticated(send: Send) -> None:
    r = send("/private/page")
    assert (r.status, r.get("location")) == (302, "/signin?redirect=%2Fprivate%2Fpage")
    ok = send("/private/page", headers=[("Cookie", "session-token=abc")])
    assert ok.seen()["path"] == "/private/page"


def _normalize(send: Send) -> None:
    assert send("/s?Zeta=1&alpha=B").seen()["query_string"] == "alpha=b&zeta=1"


def _generated(send: Send) -> None:
    r = send("/anything")
    assert r.status == 200
    assert r.get("content-type") == "text/html"
    assert b"Hello from Lambda@Edge!" in r.body


NODE_EXAMPLES = [
    pytest.param("ab-testing.handler", "viewer_request", _ab_testing, id="ab-testing-cookies"),
    pytest.param(
        "redirect-unauthenticated.handler", "viewer_request", _redirect_unauthenticated,
        id="redirect-unauthenticated",
    ),
    pytest.param(
        "normalize-querystring.handler", "viewer_request", _normalize,
        id="normalise-query-strings",
    ),
    pytest.param(
        "generated-response.handler", "viewer_request", _generated, id="generated-response"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "slot", "check"), NODE_EXAMPLES)
def test_node_lambda_edge_examples(
    door: Callable[[EdgeConfig], Send], spec: str, slot: str, check: Callable[[Send], None]
) -> None:
    check(door(config(**{slot: node_handler(spec)})))


DEVICE_HEADERS = ("cloudfront-is-desktop-viewer", "cloudfront-is-mobile-viewer")


@pytest.mark.parametrize(
    ("mobile", "path"),
    [
        pytest.param("true", "/mobile/index.html", id="mobile"),
        pytest.param("false", "/desktop/index.html", id="desktop"),
    ],
)
def test_node_content_by_device(door: Callable[[EdgeConfig], Send], mobile: str, path: str) -> None:
    """The origin-request example reads the device headers CloudFront adds when the origin
    request policy asks for them (their values come from EdgeSettings here)."""
    desktop = "false" if mobile == "true" else "true"
    cfg = EdgeConfig(
        default=Behavior(
            cache=NO_CACHE,
            origin_request_policy=OriginRequestPolicy(
                headers="allViewerAndWhitelistCloudFront", header_names=DEVICE_HEADERS
            ),
            origin_request=node_handler("content-by-device.handler"),
        ),
        settings=EdgeSettings(
            cloudfront_header_values=(
                ("cloudfront-is-mobile-viewer", mobile),
                ("cloudfront-is-desktop-viewer", desktop),
            )
        ),
    )
    assert door(cfg)("/index.html").seen()["path"] == path


@pytest.mark.parametrize(
    ("path", "status", "error_name"),
    [
        pytest.param("/throw", 503, "LambdaExecutionError", id="throws"),
        pytest.param("/invalid", 502, "LambdaValidationError", id="invalid-result"),
    ],
)
def test_node_handler_errors(
    door: Callable[[EdgeConfig], Send], path: str, status: int, error_name: str
) -> None:
    send = door(config(viewer_request=node_handler("misbehave.handler")))
    r = send(path)
    assert (r.status, r.get("x-cache")) == (status, f"{error_name} from cloudfront")
    assert send("/").origin_header("x-remaining") == "true"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/loop", 503, id="loops-forever"),
        pytest.param("/crash", 503, id="worker-exits"),
    ],
)
def test_node_worker_replaced_after_hang_or_crash(
    door: Callable[[EdgeConfig], Send], path: str, status: int
) -> None:
    handler = NodeHandler("misbehave.handler", root=LAMBDA, workers=1)
    try:
        send = door(config(viewer_request=handler, settings=EdgeSettings(viewer_timeout=1.0)))
        before = send("/").origin_header("x-worker-pid")
        r = send(path)
        assert (r.status, r.get("x-cache")) == (status, "LambdaExecutionError from cloudfront")
        after = send("/").origin_header("x-worker-pid")
        assert before and after and before != after
    finally:
        handler.close()


def test_node_console_log_captured_and_context() -> None:
    handler = node_handler("ab-testing.handler")
    buf = Captured()
    ctx = LambdaContext("ab", "req-1", 5.0)
    ev = _event("viewer-request", "/experiment-pixel.jpg")
    ev["Records"][0]["cf"]["request"]["headers"]["cookie"] = [
        {"key": "Cookie", "value": "X-Experiment-Name=B"}
    ]
    result = run_captured(buf, handler, ev, ctx)
    assert result["uri"] == "/experiment-group/treatment-pixel.jpg"
    assert buf.close() == (
        "INFO\tA/B: /experiment-pixel.jpg -> /experiment-group/treatment-pixel.jpg\n"
    )


@pytest.mark.parametrize(
    ("spec", "kwargs", "match"),
    [
        pytest.param("missing.handler", {}, "missing", id="no-module"),
        pytest.param("ab-testing.nothere", {}, "nothere", id="no-export"),
        pytest.param("ab-testing.handler", {"runtime": "python3.12"}, "runtime", id="not-node"),
        pytest.param("ab-testing.handler", {"node": "/nonexistent/node"}, "nodejs", id="no-node"),
    ],
)
def test_node_handler_load_errors(spec: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        NodeHandler(spec, root=LAMBDA, **kwargs)


@pytest.mark.parametrize("export", ["legacy", "defaulted"])
def test_a_node_handler_that_answers_after_returning_is_waited_for(export: str) -> None:
    """Lambda's Node runtime waits for callback / context.succeed when a handler returns
    nothing; the worker took the handler's length (< 3) to mean "returned its result"."""
    handler = node_handler(f"answers-later.{export}")
    out = handler(_event("viewer-request", "/later"), None)
    assert out["uri"] == "/later"


@pytest.mark.parametrize("export", ["bigint", "circular"])
def test_a_node_result_json_cannot_hold_fails_at_once(export: str) -> None:
    handler = node_handler(f"answers-later.{export}")
    t0 = time.monotonic()
    with pytest.raises(CloudFrontError) as caught:
        handler(_event("viewer-request", "/"), None)
    assert caught.value.error_name == "LambdaExecutionError"
    assert "cannot be serialized" in caught.value.reason
    # Semantic, not speed: not the 5 s timeout it waited for before
    assert time.monotonic() - t0 < 4


def test_the_workers_reply_channel_is_not_in_a_handlers_environment() -> None:
    out = node_handler("answers-later.env")(_event("viewer-request", "/"), None)
    assert out["headers"]["x-reply-fd"][0]["value"] == "undefined"


# -- the embedded engine (mini-racer, the [js] extra) for machines without node ----------------
@pytest.mark.parametrize(
    ("name", "options", "path", "expect"),
    [
        pytest.param("add-index.js", {}, "/docs/", "uri=/docs/index.html", id="add-index"),
        pytest.param(
            "kvs-redirect.js", {"key_value_store": {"/old": "/new"}}, "/old", "302 /new",
            id="kvs-redirect",
        ),
        pytest.param("errors.js", {}, "/throw", "FunctionExecutionError", id="throws"),
        pytest.param(
            "errors.js", {"max_compute_ms": 200}, "/loop", "FunctionThrottledError",
            id="runs-past-budget",
        ),
    ],
)  # fmt: skip
def test_mini_racer_engine(name: str, options: dict[str, Any], path: str, expect: str) -> None:
    pytest.importorskip("py_mini_racer")
    fn = CloudFrontFunction(FUNCTIONS / name, engine="mini-racer", **options)
    try:
        assert fn.engine == "mini-racer"
        try:
            out = fn(_event("viewer-request", path), None)
        except CloudFrontError as exc:
            got = exc.error_name
        else:
            got = (
                f"{out['status']} {out['headers']['location'][0]['value']}"
                if "status" in out
                else f"uri={out['uri']}"
            )
        assert got == expect
    finally:
        fn.close()


def _invoke_cli(cwd: Path, file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``edge-middleware invoke FILE ARGS...`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "edge_middleware", "invoke", str(file), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("engine", ["node", "mini-racer"])
def test_kvs_bytes_are_the_values_utf8_on_both_engines(engine: str) -> None:
    if engine == "mini-racer":
        pytest.importorskip("py_mini_racer")
    code = (
        "import cf from 'cloudfront';\n"
        "async function handler(event) {\n"
        "  const b = await cf.kvs().get('k', {format: 'bytes'});\n"
        "  event.request.headers['x-bytes'] = {value: Array.prototype.join.call(b, ',')};\n"
        "  event.request.headers['x-kind'] = {value: Object.prototype.toString.call(b)};\n"
        "  return event.request;\n"
        "}\n"
    )
    fn = CloudFrontFunction(code, code=True, key_value_store={"k": "é€"}, engine=engine)  # type: ignore[arg-type]
    try:
        out = fn(_event("viewer-request", "/"), None)
        assert out["headers"]["x-bytes"][0]["value"] == "195,169,226,130,172"
        assert out["headers"]["x-kind"][0]["value"] == "[object Uint8Array]"
    finally:
        fn.close()


_QS_CALLS = """
var qs = require('querystring');
function handler(event) {
  var got = [
    qs.parse('a=%zz&b=1'), qs.parse('a+b=1&c=x+y'), qs.parse('a=1;b=2', ';'),
    qs.parse('a:1;b:2', ';', ':'), qs.parse('a=1&a=2&&c'),
    qs.stringify({a: 1, b: [2, 3], c: 'x y'}), qs.stringify({a: {x: 1}, n: null}),
    qs.stringify({a: 1, b: 2}, ';', ':'), qs.escape('a b&c'), qs.unescape('a%20b%zz'),
    typeof qs.decode + '/' + typeof qs.encode,
  ];
  event.request.headers['x-qs'] = {value: JSON.stringify(got)};
  return event.request;
}
"""


def test_the_querystring_module_is_the_same_on_both_engines() -> None:
    """docs/cloudfront-functions.md §4: the mini-racer engine gives the same sandbox; its
    querystring module threw URIError on a bad escape and ignored sep/eq."""
    pytest.importorskip("py_mini_racer")
    got = {}
    for engine in ("node", "mini-racer"):
        fn = CloudFrontFunction(_QS_CALLS, code=True, engine=engine)  # type: ignore[arg-type]
        try:
            out = fn(_event("viewer-request", "/"), None)
            got[engine] = json.loads(out["headers"]["x-qs"][0]["value"])
        finally:
            fn.close()
    assert got["mini-racer"] == got["node"]
    assert got["node"][0] == {"a": "%zz", "b": "1"}
    assert got["node"][5] == "a=1&b=2&b=3&c=x%20y"


_CRYPTO_CALLS = """
var crypto = require('crypto');
function attempt(f) { try { return f(); } catch (e) { return 'refused'; } }
function handler(event) {
  var got = [
    crypto.createHash('sha256').update('x').digest('hex'),
    crypto.createHmac('sha1', 'k').update('x').digest('base64url'),
    attempt(function () { return crypto.createHash('sha512').update('x').digest('hex'); }),
    attempt(function () { return crypto.createHash('md5').update('x').digest('latin1'); }),
  ];
  event.request.headers['x-crypto'] = {value: JSON.stringify(got)};
  return event.request;
}
"""


def test_the_crypto_module_has_cloudfronts_algorithms_only() -> None:
    """AWS's crypto module: md5, sha1 and sha256, digested as hex, base64 or base64url; the
    node engine passed node's own through (sha512, latin1 worked locally, not once deployed)."""
    fn = CloudFrontFunction(_CRYPTO_CALLS, code=True, engine="node")
    try:
        out = fn(_event("viewer-request", "/"), None)
        got = json.loads(out["headers"]["x-crypto"][0]["value"])
    finally:
        fn.close()
    assert got[0] == hashlib.sha256(b"x").hexdigest()
    assert got[2:] == ["refused", "refused"]


# -- edge-middleware invoke on a .js file, and EventBuilder.function_event ---------------------
@pytest.mark.slow  # a Python and a node process per case
@pytest.mark.parametrize(
    ("file", "extra", "path", "code", "check"),
    [
        pytest.param(
            FUNCTIONS / "add-index.js", ["--runtime", "cloudfront-js-1.0"], "/docs/", 0,
            "/docs/index.html", id="cloudfront-function",
        ),
        pytest.param(
            FUNCTIONS / "errors.js", [], "/bad-status", 2, "FunctionValidationError",
            id="cloudfront-function-invalid-result",
        ),
        pytest.param(
            FUNCTIONS / "errors.js", [], "/throw", 3, "FunctionExecutionError",
            id="cloudfront-function-throws",
        ),
        pytest.param(LAMBDA / "misbehave.js", [], "/", 0, "X-Worker-Pid", id="nodejs-handler"),
        pytest.param(
            LAMBDA / "misbehave.js", [], "/throw", 3, "LambdaExecutionError", id="nodejs-throws"
        ),
    ],
)  # fmt: skip
def test_cli_invoke_runs_a_js_file(
    tmp_path: Path, file: Path, extra: list[str], path: str, code: int, check: str
) -> None:
    done = _invoke_cli(tmp_path, file, *extra, "--event-type", "viewer-request", "--path", path)
    assert done.returncode == code, done.stderr
    assert check in done.stdout + done.stderr


def test_event_builder_builds_cloudfront_functions_events() -> None:
    events = EventBuilder(client_ip=CLIENT_IP)
    ev = events.function_event("viewer-request", "/a?x=1&x=2", headers={"Cookie": "s=1"})
    assert ev["version"] == "1.0"
    assert ev["context"]["eventType"] == "viewer-request"
    assert ev["viewer"] == {"ip": CLIENT_IP}
    assert ev["request"]["cookies"] == {"s": {"value": "1"}}
    assert ev["request"]["querystring"]["x"]["multiValue"] == [{"value": "1"}, {"value": "2"}]
    resp = events.function_event("viewer-response", "/a", status=404)["response"]
    assert resp["statusCode"] == 404
    with pytest.raises(ValueError, match="viewer-request and viewer-response only"):
        events.function_event("origin-request", "/a")


@pytest.mark.parametrize("kind", ["cloudfront-function", "nodejs"])
def test_asgi_concurrent_requests_share_the_workers(kind: str) -> None:
    """More requests in flight than workers: the extra ones wait for a free worker (on a
    thread, never blocking the event loop) and every one gets its own answer."""
    import asyncio

    import httpx

    handler: Any = (
        # (a CI machine busy with other tests may take a call past the 250 ms wall-clock
        # stop, a 503 FunctionThrottledError: this test is about sharing the workers)
        cf_function("true-client-ip.js", workers=2, max_compute_ms=10_000)
        if kind == "cloudfront-function"
        else node_handler("misbehave.handler", workers=2)
    )
    mw = EdgeMiddleware(make_starlette_app([]), config=config(viewer_request=handler))

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=mw, client=(CLIENT_IP, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = await asyncio.gather(*(c.get(f"/n{i}") for i in range(12)))
        assert [r.json()["path"] for r in answers] == [f"/n{i}" for i in range(12)]
        return [r.status_code for r in answers]

    assert asyncio.run(main()) == [200] * 12


def test_cli_invoke_of_a_cloudfront_function_on_an_origin_event_is_a_usage_error(
    tmp_path: Path,
) -> None:
    """A mistake in the command (exit 1, one line), not the function raising (exit 3)."""
    done = _invoke_cli(
        tmp_path, FUNCTIONS / "add-index.js", "--event-type", "origin-request", "--path", "/docs/"
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {FUNCTIONS / 'add-index.js'}: a CloudFront Function runs on viewer-request "
        "and viewer-response, not origin-request"
    ]


def test_cli_invoke_shows_a_cloudfront_functions_rejected_result(tmp_path: Path) -> None:
    """README: invoke exits 2 with CloudFront's reason and the rejected_result; a CloudFront
    Function validates its own result, and the rejected_result was left out."""
    done = _invoke_cli(
        tmp_path, FUNCTIONS / "errors.js", "--event-type", "viewer-request", "--path", "/bad-status"
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["rejected_result"]["statusCode"] == 99
