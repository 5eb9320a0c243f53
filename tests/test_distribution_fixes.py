"""Distribution features found wrong by trying them from outside, on both doors: the HTTPS
redirect and DefaultRootObject, path patterns that start with ``?``, custom error pages that
are errors themselves, expired cached errors, the URL length limit, headers a response headers
policy may not remove, and an origin app of the other interface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from starlette.responses import PlainTextResponse

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    Origin,
    ResponseHeadersPolicy,
)
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)

Answer = Callable[[str], tuple[int, str]]


def apps(answer: Answer) -> tuple[Any, Any]:
    """An ASGI and a WSGI app that answer ``answer(path) -> (status, body)``."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        status, body = answer(scope["path"])
        await PlainTextResponse(body, status)(scope, receive, send)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        status, body = answer(environ["PATH_INFO"])
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [body.encode()]

    return asgi, wsgi


def test_https_redirect_keeps_the_viewers_root_with_a_default_root_object(door: Door) -> None:
    config = EdgeConfig(
        default=Behavior(viewer_protocol_policy="redirect-to-https"),
        default_root_object="index.html",
    )
    app = door.wrap(door.pick(*apps(lambda path: (200, path))), config)
    r = door.send(door.viewer(app), "GET", "/?a=1")
    assert (r.status, r.get("location")) == (301, "https://testserver/?a=1")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        pytest.param("/??/*", "/de/x", True, id="locale"),
        pytest.param("/??/*", "/e/x", False, id="locale-one-letter"),
        pytest.param("??/*", "/e/x", False, id="locale-no-slash"),
        pytest.param("/?", "/a", True, id="one-char"),
        pytest.param("/?", "/", False, id="one-char-root"),
        pytest.param("/?abc", "/xabc", True, id="prefix-char"),
        pytest.param("/?abc", "/abc", False, id="prefix-char-none"),
        pytest.param("images/*", "/images/a.png", True, id="no-leading-slash"),
        pytest.param("*.jpg", "/a/b.jpg", True, id="star-first"),
        pytest.param("/", "/", True, id="root"),
    ],
)
def test_a_question_mark_never_stands_for_the_leading_slash(
    pattern: str, path: str, matches: bool
) -> None:
    """lambda-edge.md §5.5: ``?`` is exactly one character and the pattern's leading ``/`` is
    optional; a path always has its ``/``."""
    assert Behavior(pattern).matches(path) is matches


def test_a_custom_error_page_that_is_an_error_is_never_used(door: Door) -> None:
    """A page that cannot be used on a miss (its own 404) is not used once it is cached."""

    def answer(path: str) -> tuple[int, str]:
        if path == "/errors/404.html":
            return 404, "the error page is missing too"
        return 404, "origin: not found"

    config = EdgeConfig(custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 200)])
    client = door.viewer(door.wrap(door.pick(*apps(answer)), config))
    got = [door.send(client, "GET", path) for path in ("/a", "/b", "/c")]
    assert [(r.status, r.body) for r in got] == [(404, b"origin: not found")] * 3


def test_an_expired_cached_error_does_not_hide_the_origins_new_error(door: Door) -> None:
    """caching.md §1.4 serves an expired *object* when the origin fails; an expired cached
    error is not one: after its ErrorCachingMinTTL the origin's new answer goes through."""
    calls = [0]

    def answer(path: str) -> tuple[int, str]:
        calls[0] += 1
        return (500 if calls[0] == 1 else 503), f"error #{calls[0]}"

    config = EdgeConfig(default=Behavior(cache=CachePolicy()))
    client = door.viewer(door.wrap(door.pick(*apps(answer)), config))
    first = door.send(client, "GET", "/p")
    assert (first.status, first.body) == (500, b"error #1")
    door.advance(11)  # past the default ErrorCachingMinTTL of 10 s
    second = door.send(client, "GET", "/p")
    assert (second.status, second.body, second.get("x-cache")) == (
        503,
        b"error #2",
        "Error from cloudfront",
    )
    assert second.get("age") is None
    assert door.send(client, "GET", "/p").body == b"error #2"  # cached in turn
    assert calls[0] == 2


@pytest.mark.parametrize(
    ("path_length", "query", "status"),
    [
        pytest.param(8192, "", 200, id="path-8192"),
        pytest.param(8193, "", 413, id="path-8193"),
        pytest.param(8190, "a", 200, id="path-and-query-8192"),
        pytest.param(8191, "a", 413, id="path-and-query-8193"),
    ],
)
def test_url_length_limit_counts_the_question_mark_only_with_a_query(
    door: Door, path_length: int, query: str, status: int
) -> None:
    url = "/" + "a" * (path_length - 1) + (f"?{query}" if query else "")
    for cache in (CachePolicy(0, 0, 0), CachePolicy()):  # the short ways and the pipeline
        config = EdgeConfig(default=Behavior(cache=cache))
        app = door.wrap(door.pick(*apps(lambda path: (200, "ok"))), config)
        assert door.send(door.viewer(app), "GET", url).status == status


@pytest.mark.parametrize("name", ["Proxy-Status", "X-Accel-Expires", "proxy-foo"])
def test_policy_may_not_remove_proxy_or_x_accel_headers(name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ResponseHeadersPolicy(remove_headers=[name])
    assert caught.value.field.endswith(".remove_headers")


def test_an_origin_app_of_the_other_interface_is_refused_at_start() -> None:
    flask = Flask("other")
    starlette = PlainTextResponse("ok")
    config = EdgeConfig()
    with pytest.raises(ConfigurationError) as caught:
        EdgeMiddleware(starlette, config=config, origins={"default": flask})
    assert caught.value.field == "origins['default']"
    with pytest.raises(ConfigurationError) as caught:
        EdgeWSGIMiddleware(flask, config=config, origins={"default": starlette})
    assert caught.value.field == "origins['default']"
    EdgeMiddleware(starlette, config=config, origins={"default": starlette})
    EdgeWSGIMiddleware(flask, config=config, origins={"default": flask.wsgi_app})


def test_one_test_of_an_apps_interface() -> None:
    """The dev server, the inspector, wrap_app and the doors' origins= check ask the same
    function (doors.interfaces), and it agrees on the apps people write."""
    from edge_middleware.devtools.devapp import detect_interface
    from edge_middleware.doors.interfaces import is_asgi_app, is_wsgi_app
    from edge_middleware.testing import is_asgi_app as testing_is_asgi_app

    assert testing_is_asgi_app is is_asgi_app

    async def asgi(scope: Any, receive: Any, send: Any) -> None: ...

    def three(scope: Any, receive: Any, send: Any) -> Any: ...

    def wsgi(environ: Any, start_response: Any) -> Any: ...

    flask = Flask("x")
    for app, kind in [(asgi, "asgi"), (three, "asgi"), (PlainTextResponse("x"), "asgi")]:
        assert (detect_interface(app), is_asgi_app(app), is_wsgi_app(app)) == (kind, True, False)
    for app in (wsgi, flask, flask.wsgi_app):
        assert (detect_interface(app), is_asgi_app(app), is_wsgi_app(app)) == ("wsgi", False, True)


@pytest.mark.parametrize("url", ["ftp://files.example.com", "http://", "https:///x", "//x"])
def test_an_origin_url_the_proxy_cannot_reach_is_refused_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        EdgeMiddleware(PlainTextResponse("x"), origins={"default": url})
    assert caught.value.field == "origins['default']"
    assert "http(s)://" in str(caught.value)


@pytest.mark.parametrize(("seconds", "warned"), [(2, True), (4, False), (60, False), (120, True)])
def test_a_read_timeout_outside_the_documented_range_is_warned_at_start(
    seconds: int, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """decisions.md #46: 1-180 s are valid, outside 4-60 a warning (it was given only for a
    readTimeout a function set)."""
    from edge_middleware import Origin

    caplog.set_level(logging.WARNING, logger="edge_middleware.config")
    EdgeConfig(origins=[Origin(id="o", domain_name="example.com", read_timeout=seconds)])
    assert any("4-60" in r.getMessage() for r in caplog.records) is warned


# -- the scheme the origin app sees -------------------------------------------------------------


class _SchemeSeen:
    """An origin app for either door that answers with the scheme it was given."""

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = scope["scheme"].encode()
        head = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.url_scheme"].encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]


def _scheme_pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
@pytest.mark.parametrize(
    ("policy", "viewer", "seen"),
    [
        ("http-only", "https", "http"),
        ("https-only", "http", "https"),
        ("match-viewer", "https", "https"),
        ("match-viewer", "http", "http"),
    ],
)
def test_the_origin_app_sees_the_scheme_cloudfront_reaches_it_with(
    door: Door, way: str, policy: str, viewer: str, seen: str
) -> None:
    """lambda-edge.md §1.6: CloudFront reaches a custom origin with the protocol its
    OriginProtocolPolicy gives (the origin-request event's ``origin.custom.protocol``): an app
    behind an http-only origin sees http, as behind an ALB in production (its absolute URLs,
    ``request.is_secure()``); it saw the viewer's scheme."""
    app = _SchemeSeen()
    triggers = {"origin_request": _scheme_pass} if way == "pipeline" else {}
    config = EdgeConfig(
        origins=[Origin("app", domain_name="app.example.com", protocol_policy=policy)],  # type: ignore[arg-type]
        default=Behavior(target_origin_id="app", cache=CachePolicy(0, 0, 0), **triggers),
    )
    wrapped = door.wrap(door.pick(app.asgi, app.wsgi), config)
    resp = door.send(door.viewer(wrapped), "GET", f"{viewer}://d111.test/where")
    assert (resp.status, resp.body) == (200, seen.encode())
