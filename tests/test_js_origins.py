"""CloudFront Functions that change the request's origin (``cf.selectRequestOriginById``,
``cf.updateRequestOrigin``, ``cf.createRequestOriginGroup``), through both front doors with
real apps as the origins."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

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
from edge_middleware.js import minirace

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
    from js_loaded import LoadedFunctions
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app
    from tests.js_loaded import LoadedFunctions

if shutil.which("node") is None:  # pragma: no cover - .ci/run installs Debian's nodejs
    pytest.skip("needs node (apt-get install nodejs)", allow_module_level=True)

NO_CACHE = CachePolicy(0, 0, 0)
ORIGINS = [
    Origin("site", domain_name="site.example.com", custom_headers=(("x-from", "site"),)),
    Origin("eu", domain_name="eu.example.com"),
]

function = LoadedFunctions()


@pytest.fixture(scope="module", autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    function.close()


class Seen(NamedTuple):
    status: int
    x_cache: str
    #: which app answered ("A", "B") and what it received
    app: str
    path: str
    headers: dict[str, str]


Send = Callable[..., Seen]


def _seen(status: int, x_cache: str, logs: dict[str, list[dict[str, Any]]]) -> Seen:
    hit = [(name, log.pop()) for name, log in logs.items() if log]
    assert len(hit) <= 1, hit
    if not hit:
        return Seen(status, x_cache, "", "", {})
    name, info = hit[0]
    return Seen(status, x_cache, name, info["path"], {k.lower(): v for k, v in info["headers"]})


@pytest.fixture(params=["asgi", "wsgi"])
def door(request: pytest.FixtureRequest) -> Callable[..., Send]:
    """``door(function file)`` -> ``send(path, headers)``: origin ``site`` is app A (the
    wrapped app), origin ``eu`` and the domain ``far.example.com`` are app B."""

    def make(name: str, **options: Any) -> Send:
        config = EdgeConfig(
            origins=ORIGINS,
            default=Behavior(
                target_origin_id="site",
                cache=NO_CACHE,
                viewer_request=function(name, **options),
            ),
        )
        logs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
        if request.param == "asgi":
            app_b = make_starlette_app(logs["B"])
            mw = EdgeMiddleware(
                make_starlette_app(logs["A"]),
                config=config,
                origins={"eu": app_b, "far.example.com": app_b},
            )
            client = TestClient(mw, follow_redirects=False)

            def send_asgi(path: str, headers: dict[str, str] | None = None) -> Seen:
                r = client.get(path, headers=headers or {})
                return _seen(r.status_code, r.headers.get("x-cache", ""), logs)

            return send_asgi
        flask_b = make_flask_app(logs["B"]).wsgi_app
        wsgi = EdgeWSGIMiddleware(
            make_flask_app(logs["A"]).wsgi_app,
            config=config,
            origins={"eu": flask_b, "far.example.com": flask_b},
        )
        client_w = Client(wsgi, use_cookies=False)

        def send_wsgi(path: str, headers: dict[str, str] | None = None) -> Seen:
            r = client_w.get(path, headers=headers or {}, base_url="http://testserver")
            try:
                return _seen(r.status_code, r.headers.get("x-cache", ""), logs)
            finally:
                r.close()

        return send_wsgi

    return make


def test_select_origin_by_id_sends_the_request_to_that_origin(door: Callable[[str], Send]) -> None:
    send = door("select-origin.js")
    plain = send("/page")
    assert (plain.status, plain.app, plain.path) == (200, "A", "/page")
    assert plain.headers["host"] == "site.example.com"
    assert plain.headers["x-from"] == "site"
    chosen = send("/page", {"X-Origin-Id": "eu"})
    assert (chosen.status, chosen.app, chosen.path) == (200, "B", "/page")
    # the selected origin's own settings: its domain as Host, none of site's custom headers
    assert chosen.headers["host"] == "eu.example.com"
    assert "x-from" not in chosen.headers
    again = send("/page", {"X-Origin-Id": "site"})
    assert (again.app, again.headers["x-from"]) == ("A", "site")


def test_origin_changes_on_the_mini_racer_engine(door: Callable[..., Send]) -> None:
    if not minirace.available():  # pragma: no cover - the [js] extra
        pytest.skip("needs mini-racer (pip install edge-middleware[js])")
    send = door("select-origin.js", engine="mini-racer")
    assert send("/page", {"X-Origin-Id": "eu"})[:3] == (200, "Miss from cloudfront", "B")
    assert send("/page", {"X-Origin-Id": "nowhere"}).status == 503
    send = door("update-origin.js", engine="mini-racer")
    eu = send("/eu/list")
    assert (eu.app, eu.path, eu.headers["x-stage"]) == ("B", "/v2/eu/list", "production")


def test_select_unknown_origin_id_fails_the_function(door: Callable[[str], Send]) -> None:
    send = door("select-origin.js")
    r = send("/page", {"X-Origin-Id": "nowhere"})
    assert (r.status, r.x_cache, r.app) == (503, "FunctionExecutionError from cloudfront", "")


def test_update_request_origin_domain_path_and_headers(door: Callable[[str], Send]) -> None:
    send = door("update-origin.js")
    eu = send("/eu/list")
    # eu.example.com is the "eu" origin's domain: app B, under the new origin path
    assert (eu.status, eu.app, eu.path) == (200, "B", "/v2/eu/list")
    assert eu.headers["host"] == "eu.example.com"
    assert (eu.headers["x-stage"], eu.headers["x-region"]) == ("production", "eu-west-1")
    assert "x-from" not in eu.headers  # customHeaders replaces the origin's own
    far = send("/far/x")
    assert (far.status, far.app, far.path, far.headers["host"]) == (
        200,
        "B",
        "/far/x",
        "far.example.com",
    )
    assert far.headers["x-from"] == "site"  # the rest of the current origin's settings


def test_update_request_origin_custom_header_reaches_the_app(door: Callable[[str], Send]) -> None:
    send = door("update-origin.js")
    staged = send("/staged/page")
    assert (staged.status, staged.app, staged.headers["host"]) == (200, "A", "site.example.com")
    assert staged.headers["x-stage"] == "staging"
    assert "x-from" not in staged.headers
    # the change was this request's only: the next one sees the configured origin again
    plain = send("/other")
    assert (plain.app, plain.headers["x-from"]) == ("A", "site")
    assert "x-stage" not in plain.headers


def test_update_request_origin_with_bad_parameters_fails(door: Callable[[str], Send]) -> None:
    r = door("update-origin.js")("/bad/page")
    assert (r.status, r.x_cache, r.app) == (503, "FunctionExecutionError from cloudfront", "")


def test_origin_change_is_in_the_trace() -> None:
    config = EdgeConfig(
        origins=ORIGINS,
        default=Behavior(
            target_origin_id="site", cache=NO_CACHE, viewer_request=function("select-origin.js")
        ),
    )
    records: list[Any] = []
    mw = EdgeMiddleware(make_starlette_app([]), config=config, origins={"eu": None})
    mw.add_observer(records.append)
    with TestClient(mw) as client:
        assert client.get("/x", headers={"X-Origin-Id": "eu"}).status_code == 200
    step = records[-1].outcome.steps[0]
    assert step.event_type == "viewer-request"
    assert step.origin_change == {"select": "eu"}
    assert json.dumps(step.origin_change)


def _answering(status: int, body: bytes, seen: list[str], name: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(name)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(name)
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [body]

    return app, wsgi


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_create_request_origin_group_fails_over_to_the_secondary(kind: str) -> None:
    seen: list[str] = []
    down = _answering(503, b"down", seen, "down")
    backup = _answering(200, b"backup", seen, "backup")
    config = EdgeConfig(
        origins=[Origin("down", "down.example.com"), Origin("backup", "backup.example.com")],
        default=Behavior(
            target_origin_id="down", cache=NO_CACHE, viewer_request=function("group-origin.js")
        ),
    )
    pick = 0 if kind == "asgi" else 1
    wrap: Any = EdgeMiddleware if kind == "asgi" else EdgeWSGIMiddleware
    mw = wrap(down[pick], config=config, origins={"backup": backup[pick]})
    if kind == "asgi":
        client = TestClient(mw)

        def get(headers: dict[str, str]) -> tuple[int, bytes]:
            r = client.get("/page", headers=headers)
            return r.status_code, r.content
    else:
        wclient = Client(mw)

        def get(headers: dict[str, str]) -> tuple[int, bytes]:
            r = wclient.get("/page", headers=headers)
            return r.status_code, r.get_data()

    assert get({}) == (200, b"backup")  # the group's primary answered 503: failover
    assert seen == ["down", "backup"]
    seen.clear()
    assert get({"X-No-Group": "1"}) == (503, b"down")  # no group: the behavior's origin only
    assert seen == ["down"]


@pytest.mark.parametrize(
    "params",
    [
        "{originIds: ['down'], failoverCriteria: {statusCodes: [503]}}",
        "{originIds: ['down', 'nowhere'], failoverCriteria: {statusCodes: [503]}}",
        "{originIds: ['down', 'backup'], failoverCriteria: {statusCodes: [418]}}",
        "{originIds: ['down', 'backup']}",
    ],
)
def test_create_request_origin_group_with_bad_parameters_fails(params: str, tmp_path: Any) -> None:
    from edge_middleware.js import CloudFrontFunction

    call = f"cf.createRequestOriginGroup({params});"
    body = f"function handler(event) {{ {call} return event.request; }}"
    code = f"import cf from 'cloudfront';\n{body}\n"
    path = tmp_path / "bad-group.js"
    path.write_text(code)
    seen: list[str] = []
    config = EdgeConfig(
        origins=[Origin("down", "down.example.com"), Origin("backup", "backup.example.com")],
        default=Behavior(
            target_origin_id="down", cache=NO_CACHE, viewer_request=CloudFrontFunction(str(path))
        ),
    )
    mw = EdgeMiddleware(_answering(200, b"x", seen, "down")[0], config=config)
    r = TestClient(mw).get("/page")
    assert (r.status_code, r.headers["x-cache"]) == (503, "FunctionExecutionError from cloudfront")
    assert seen == []
