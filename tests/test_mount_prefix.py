"""An app mounted under a prefix that its request target does not hold: the older ASGI reading
(``path`` and ``raw_path`` below ``root_path``: FastAPI's ``root_path``, a proxy that strips
the prefix) and a WSGI ``SCRIPT_NAME`` that ``REQUEST_URI`` lacks (werkzeug's ``ProxyFix``
``x_prefix``). The viewer asked for the path under the prefix: that is the uri functions see,
behaviors match and the cache keys, and the app keeps its prefix. The uri lost it, the app its
``root_path``/``SCRIPT_NAME``, and two prefixes shared one cache entry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, Trigger
from tests.support import doors

CACHED = CachePolicy(0, 60, 3600)


def _record(seen: list[str]) -> Any:
    def handler(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen.append(request["uri"])
        return request

    return handler


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    shown = {"root_path": scope.get("root_path", ""), "path": scope["path"]}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(shown).encode()})


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    shown = {"script_name": environ.get("SCRIPT_NAME", ""), "path_info": environ["PATH_INFO"]}
    start_response("200 OK", [])
    return [json.dumps(shown).encode()]


def _config(seen: list[str], trigger: bool) -> EdgeConfig:
    fn = Trigger(_record(seen)) if trigger else None
    return EdgeConfig(default=Behavior(cache=CACHED, viewer_request=fn))


@pytest.mark.parametrize("trigger", [True, False], ids=["pipeline", "short way"])
def test_asgi_a_path_below_its_root_path(trigger: bool) -> None:
    seen: list[str] = []
    app = doors.wrap("asgi", _asgi, _config(seen, trigger))
    bodies = {}
    for root in ("/a", "/b"):
        scope = doors.asgi_scope("/x", root_path=root)  # path and raw_path below the root
        sent = doors.call_asgi(app, scope)
        bodies[root] = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert bodies == {  # each its own object (one key: /b/x was a hit on /a/x's)
        "/a": {"root_path": "/a", "path": "/a/x"},
        "/b": {"root_path": "/b", "path": "/b/x"},
    }
    assert seen == (["/a/x", "/b/x"] if trigger else [])


@pytest.mark.parametrize("trigger", [True, False], ids=["pipeline", "short way"])
def test_wsgi_a_script_name_the_request_uri_lacks(trigger: bool) -> None:
    seen: list[str] = []
    app = doors.wrap("wsgi", _wsgi, _config(seen, trigger))
    bodies = {}
    for script in ("/a", "/b"):
        _, _, body = doors.call_wsgi(
            app, "GET", "/x", SCRIPT_NAME=script, REQUEST_URI="/x", RAW_URI="/x"
        )
        bodies[script] = json.loads(body)
    assert bodies == {
        "/a": {"script_name": "/a", "path_info": "/x"},
        "/b": {"script_name": "/b", "path_info": "/x"},
    }
    assert seen == (["/a/x", "/b/x"] if trigger else [])


def test_a_target_under_its_root_is_left_as_it_is() -> None:
    """The newer reading (a Starlette Mount, uvicorn --root-path): nothing is added."""
    seen: list[str] = []
    app = doors.wrap("asgi", _asgi, _config(seen, True))
    sent = doors.call_asgi(app, doors.asgi_scope("/a/x", root_path="/a"))
    assert json.loads(sent[1]["body"]) == {"root_path": "/a", "path": "/a/x"}
    assert seen == ["/a/x"]


def test_wsgi_a_target_that_holds_part_of_its_script_name() -> None:
    """ProxyFix(x_prefix) in front of a DispatcherMiddleware: the target holds the mount
    (/app) but not the proxy's prefix (/p). The whole SCRIPT_NAME was put in front: the uri
    was /p/app/app/x, and the app got PATH_INFO /app/x (a 404)."""
    seen: list[str] = []
    app = doors.wrap("wsgi", _wsgi, _config(seen, True))
    _, _, body = doors.call_wsgi(app, "GET", "/x", SCRIPT_NAME="/p/app", REQUEST_URI="/app/x")
    assert json.loads(body) == {"script_name": "/p/app", "path_info": "/x"}
    assert seen == ["/p/app/x"]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_mount_with_a_trailing_slash(kind: str) -> None:
    """root_path "/api/" (SCRIPT_NAME "/p/") made the uri /api//x (/p//x)."""
    seen: list[str] = []
    if kind == "asgi":
        app = doors.wrap("asgi", _asgi, _config(seen, True))
        doors.call_asgi(app, doors.asgi_scope("/x", root_path="/api/"))
        assert seen == ["/api/x"]
    else:
        app = doors.wrap("wsgi", _wsgi, _config(seen, True))
        doors.call_wsgi(app, "GET", "/x", SCRIPT_NAME="/p/", REQUEST_URI="/x")
        assert seen == ["/p/x"]


@pytest.mark.parametrize("trigger", [True, False], ids=["pipeline", "short way"])
def test_what_the_app_gets_under_a_mount_with_a_trailing_slash(trigger: bool) -> None:
    """The origin's PATH_INFO was cut by SCRIPT_NAME's length, slash included ("x"), and the
    origin's root_path kept its slash (Starlette routed /api/x as "x": a 404)."""
    seen: list[str] = []
    wsgi = doors.wrap("wsgi", _wsgi, _config(seen, trigger))
    _, _, body = doors.call_wsgi(wsgi, "GET", "/x", SCRIPT_NAME="/p/", REQUEST_URI="/x")
    assert json.loads(body) == {"script_name": "/p/", "path_info": "/x"}
    asgi = doors.wrap("asgi", _asgi, _config(seen, trigger))
    sent = doors.call_asgi(asgi, doors.asgi_scope("/x", root_path="/api/"))
    assert json.loads(sent[1]["body"]) == {"root_path": "/api", "path": "/api/x"}


@pytest.mark.parametrize("trigger", [True, False], ids=["pipeline", "short way"])
def test_a_path_under_a_stripped_prefix_that_starts_with_the_prefix(trigger: bool) -> None:
    """/api/api/users through a proxy that strips /api (SCRIPT_NAME=/api, PATH_INFO=
    /api/users, REQUEST_URI=/api/users) was taken as holding the mount: the uri /api/users,
    and the app got /users (another route, and the real /users' cache key)."""
    seen: list[str] = []
    app = doors.wrap("wsgi", _wsgi, _config(seen, trigger))
    _, _, body = doors.call_wsgi(
        app, "GET", "/api/users", SCRIPT_NAME="/api", REQUEST_URI="/api/users"
    )
    assert json.loads(body) == {"script_name": "/api", "path_info": "/api/users"}
    assert seen == (["/api/api/users"] if trigger else [])
