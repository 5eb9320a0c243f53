"""The inspector shows a CloudFront Function's own event and result (``version``,
``context``, ``viewer``, ``{value, multiValue}`` headers), not the Lambda@Edge-shaped ones the
pipeline builds, on both front doors."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    Origin,
)
from edge_middleware.devtools.inspector import MASK, Inspector, mount_inspector

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
    from js_loaded import LoadedFunctions
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app
    from tests.js_loaded import LoadedFunctions

if shutil.which("node") is None:  # pragma: no cover - .ci/run installs Debian's nodejs
    pytest.skip("needs node (apt-get install nodejs)", allow_module_level=True)

NO_CACHE = CachePolicy(0, 0, 0)
SECRET = "cookie-secret-123"

function = LoadedFunctions()


@pytest.fixture(scope="module", autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    function.close()


Get = Callable[..., Any]


@pytest.fixture(params=["asgi", "wsgi"])
def door(request: pytest.FixtureRequest) -> Callable[[EdgeConfig], Get]:
    """``door(config)`` -> ``get(path, headers) -> JSON of /_edge/api/...`` helpers."""

    def make(config: EdgeConfig) -> Get:
        inspector = Inspector()
        if request.param == "asgi":
            mw: Any = EdgeMiddleware(make_starlette_app([]), config=config)
            mw.add_observer(inspector.observer)
            client = TestClient(
                mount_inspector(mw, inspector),
                base_url="http://127.0.0.1",
                client=("127.0.0.1", 5000),
            )

            def get_asgi(path: str, headers: dict[str, str] | None = None) -> Any:
                r = client.get(path, headers=headers or {}, follow_redirects=False)
                return r.json() if path.startswith("/_edge/api/") else r.text

            return get_asgi
        mw = EdgeWSGIMiddleware(make_flask_app([]).wsgi_app, config=config)
        mw.add_observer(inspector.observer)
        wsgi = Client(mount_inspector(mw, inspector), use_cookies=False)

        def get_wsgi(path: str, headers: dict[str, str] | None = None) -> Any:
            r = wsgi.get(path, headers=headers or {}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
            try:
                return r.get_json() if path.startswith("/_edge/api/") else r.get_data(as_text=True)
            finally:
                r.close()

        return get_wsgi

    return make


def _steps(get: Get) -> dict[str, dict[str, Any]]:
    doc = get("/_edge/api/requests")[0]
    full = get(doc["url"].replace("/requests/", "/api/requests/"))
    return {s["event_type"]: s for s in full["steps"]}


def test_viewer_request_step_shows_the_function_event_and_result(
    door: Callable[[EdgeConfig], Get],
) -> None:
    get = door(
        EdgeConfig(default=Behavior(cache=NO_CACHE, viewer_request=function("add-index.js")))
    )
    get("/docs/?a=1&a=2", {"Accept": "text/html", "Cookie": f"s={SECRET}", "X-Two": "b"})
    step = _steps(get)["viewer-request"]
    event = step["event"]
    assert "Records" not in event
    assert event["version"] == "1.0"
    assert event["context"]["eventType"] == "viewer-request"
    assert event["context"]["distributionDomainName"]
    assert event["viewer"]["ip"] == "127.0.0.1"
    request = event["request"]
    assert request["uri"] == "/docs/"
    assert request["headers"]["accept"] == {"value": "text/html"}
    assert request["querystring"]["a"]["multiValue"] == [{"value": "1"}, {"value": "2"}]
    assert "cookie" not in request["headers"]
    assert request["cookies"]["s"] == {"value": MASK}  # secrets stay masked in this shape too
    result = step["result"]
    assert result["uri"] == "/docs/index.html"
    assert result["headers"]["accept"] == {"value": "text/html"}
    assert step["diff"].startswith("--- event.request\n+++ result\n")
    assert '-  "uri": "/docs/"\n+  "uri": "/docs/index.html"' in step["diff"]
    assert "[compute utilization" in step["output"]
    page = get(get("/_edge/api/requests")[0]["url"])
    assert "distributionDomainName" in page and SECRET not in page


def test_viewer_response_and_errors_in_the_function_shape(
    door: Callable[[EdgeConfig], Get],
) -> None:
    get = door(
        EdgeConfig(
            default=Behavior(
                cache=NO_CACHE,
                viewer_request=function("errors.js"),
                viewer_response=function("security-headers.js"),
            )
        )
    )
    get("/page")
    steps = _steps(get)
    vres = steps["viewer-response"]
    assert vres["event"]["response"]["statusCode"] == 200
    assert vres["event"]["context"]["eventType"] == "viewer-response"
    assert vres["result"]["headers"]["x-frame-options"] == {"value": "DENY"}
    assert vres["diff"].startswith("--- event.response\n+++ result\n")

    get("/bad-status")  # a generated response CloudFront refuses
    vreq = _steps(get)["viewer-request"]
    assert vreq["error"] and vreq["result"] == {"statusCode": 99, "statusDescription": "Nope"}
    assert vreq["event"]["request"]["uri"] == "/bad-status"
    assert "generated a response" in vreq["diff_note"]

    get("/read-only")  # the pipeline's validation of the converted result
    vreq = _steps(get)["viewer-request"]
    assert vreq["error_field"] == 'request.headers["via"]'
    assert vreq["result"]["headers"]["via"] == {"value": "1.1 me"}
    page = get(get("/_edge/api/requests")[0]["url"])
    assert '<span class="hl">    &quot;via&quot;: {</span>' in page
    assert "is not in the result" not in page

    get("/throw")
    vreq = _steps(get)["viewer-request"]
    assert "thrown on purpose" in vreq["error"] and vreq["result"] is None
    assert vreq["event"]["version"] == "1.0" and not vreq["returned"]


def test_origin_change_is_shown(door: Callable[[EdgeConfig], Get]) -> None:
    get = door(
        EdgeConfig(
            origins=[Origin("site", "site.example.com"), Origin("eu", "eu.example.com")],
            default=Behavior(
                target_origin_id="site",
                cache=NO_CACHE,
                viewer_request=function("select-origin.js"),
            ),
        )
    )
    get("/x", {"X-Origin-Id": "eu"})
    assert _steps(get)["viewer-request"]["origin_change"] == {"select": "eu"}
    page = get(get("/_edge/api/requests")[0]["url"])
    assert "origin change" in page
