"""Invalidation (a hunt's findings). With ``invalidate_on_unsafe_methods``, a successful POST
purges its own path's objects: a ``*`` in the path read as a wildcard (``POST /*`` purged
everything; ``/a*b`` and a path of 3,999+ characters made a refused invalidation, and the
viewer got a 502 for the origin's 200); a purge that fails leaves the answer as it is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeSettings, MemoryStorage
from edge_middleware.cache.entry import purge_paths
from tests.support import doors
from tests.support.devserver import cli
from tests.support.storage import make_entry

CACHED = CachePolicy(0, 600, 3600, query_strings="all")


async def _asgi(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"cache-control", b"max-age=600"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Cache-Control", "max-age=600"), ("Content-Length", "2")])
    return [b"ok"]


def _config() -> EdgeConfig:
    allowed = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
    return EdgeConfig(
        default=Behavior(cache=CACHED, allowed_methods=allowed),
        settings=EdgeSettings(invalidate_on_unsafe_methods=True),
    )


def _send(kind: str, app: Any, method: str, target: str) -> tuple[int, str]:
    path, _, query = target.partition("?")
    if kind == "asgi":
        scope = doors.asgi_scope(path, method=method, query_string=query.encode())
        sent = doors.call_asgi(app, scope)
        headers = dict(sent[0]["headers"])
        return sent[0]["status"], headers.get(b"x-cache", b"").decode()
    status, headers, _ = doors.call_wsgi(app, method, path, QUERY_STRING=query, RAW_URI=target)
    return int(status.split()[0]), dict(headers).get("X-Cache", "")


@pytest.mark.parametrize("kind", doors.DOORS)
def test_an_unsafe_request_to_a_path_with_a_star_keeps_the_origins_answer(kind: str) -> None:
    storage = MemoryStorage()
    app = doors.wrap(kind, _asgi if kind == "asgi" else _wsgi, _config(), storage=storage)
    assert _send(kind, app, "GET", "/keep")[1] == "Miss from cloudfront"
    for target in ("/*", "/a*b", "/" + "x" * 3999):
        assert _send(kind, app, "POST", target) == (200, "Miss from cloudfront"), target[:10]
    # nothing else was purged ("/*" read as a wildcard purged everything)
    assert _send(kind, app, "GET", "/keep")[1] == "Hit from cloudfront"


@pytest.mark.parametrize("kind", doors.DOORS)
def test_an_unsafe_request_still_purges_its_own_path(kind: str) -> None:
    app = doors.wrap(kind, _asgi if kind == "asgi" else _wsgi, _config())
    for target in ("/doc", "/doc?v=1"):
        _send(kind, app, "GET", target)
        assert _send(kind, app, "GET", target)[1] == "Hit from cloudfront"
    assert _send(kind, app, "POST", "/doc")[0] == 200
    for target in ("/doc", "/doc?v=1"):
        assert _send(kind, app, "GET", target)[1] == "Miss from cloudfront"


class _FailingInvalidation(MemoryStorage):
    def invalidate(self, paths: Any) -> int:
        raise RuntimeError("the purge broke")


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_purge_that_fails_leaves_the_answer(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    storage = _FailingInvalidation()
    app = doors.wrap(kind, _asgi if kind == "asgi" else _wsgi, _config(), storage=storage)
    assert _send(kind, app, "POST", "/doc") == (200, "Miss from cloudfront")
    assert "purging ['/doc', '/doc?*'] after an unsafe request failed" in caplog.text


def test_purge_paths() -> None:
    assert purge_paths("/a") == ["/a", "/a?*"]
    assert purge_paths("/*") == []
    assert purge_paths("/a*b") == []
    long = "/" + "x" * 3998
    assert purge_paths(long) == [long]
    assert purge_paths(long + "xx") == []


# -- what an invalidation path matches ------------------------------------------------------


def _rewrite_index(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    if request["uri"] == "/index.html":
        request["uri"] = "/en/index.html"
    return request


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize("first", ["/", "/index.html"])
def test_the_uri_viewer_request_was_given_invalidates_its_object(kind: str, first: str) -> None:
    """With DefaultRootObject, viewer-request sees /index.html for a GET /: an object stored
    by a GET / remembered "/" and invalidating /index.html removed nothing."""
    config = EdgeConfig(
        default=Behavior(viewer_request=_rewrite_index, cache=CACHED),
        default_root_object="index.html",
    )
    app = doors.wrap(kind, _asgi if kind == "asgi" else _wsgi, config)
    assert _send(kind, app, "GET", first)[1] == "Miss from cloudfront"
    assert app.invalidate("/index.html") == 1
    assert _send(kind, app, "GET", first)[1] == "Miss from cloudfront"
    assert app.invalidate("/en/index.html") == 1  # and the rewritten uri, as before


@pytest.mark.parametrize("kind", doors.DOORS)
def test_with_canonical_queries_an_object_is_invalidated_by_either_form(kind: str) -> None:
    """canonicalize_query keyed /a?v=%61 as v=a, but invalidating /a?v=a removed nothing."""
    config = EdgeConfig(
        default=Behavior(cache=CACHED), settings=EdgeSettings(canonicalize_query=True)
    )
    app = doors.wrap(kind, _asgi if kind == "asgi" else _wsgi, config)
    for invalidation in ("/a?v=a", "/a?v=%61", "/a?v*"):
        _send(kind, app, "GET", "/a?v=%61")
        assert _send(kind, app, "GET", "/a?v=a")[1] == "Hit from cloudfront"
        assert app.invalidate(invalidation) == 1, invalidation


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_path_with_a_space_or_non_ascii_letters_is_matched_encoded(kind: str) -> None:
    """A viewer's path is kept percent-encoded: invalidate("/a b") matched nothing."""
    app = doors.wrap(
        kind, _asgi if kind == "asgi" else _wsgi, EdgeConfig(default=Behavior(cache=CACHED))
    )
    for target in ("/a%20b", "/caf%C3%A9"):
        _send(kind, app, "GET", target)
    assert app.invalidate(["/a b", "/café"]) == 2


def test_one_invalidation_holds_at_most_3000_paths_or_15_wildcards() -> None:
    from edge_middleware import ConfigurationError
    from edge_middleware.cache.entry import invalidation_paths

    assert (
        len(invalidation_paths([f"/p{i}" for i in range(3000)] + [f"/w{i}*" for i in range(15)]))
        == 3015
    )
    with pytest.raises(ConfigurationError, match="at most 3,000 exact or 15 wildcard"):
        invalidation_paths([f"/p{i}" for i in range(3001)])
    with pytest.raises(ConfigurationError, match="at most 3,000 exact or 15 wildcard"):
        invalidation_paths([f"/w{i}*" for i in range(16)])
    with pytest.raises(ConfigurationError, match="valid Unicode"):
        invalidation_paths(["/\ud800"])  # valid JSON; it was a 500 and a traceback


# -- edge-middleware invalidate --redis ------------------------------------------------------


@pytest.mark.redis
def test_cli_invalidate_says_when_no_distribution_used_the_redis_it_names(
    tmp_path: Path, redis_url: str
) -> None:
    """It printed "invalidation recorded" (and made stray keys) for an unused database or a
    mistyped prefix, and for memory://."""
    import redis

    from edge_middleware import RedisStorage

    used = RedisStorage(redis_url, prefix="site")
    used.set(make_entry("k", now=time.time()))
    used.close()
    reached = cli(tmp_path, "invalidate", "/k", "--redis", redis_url + "?prefix=site")
    assert reached.returncode == 0, reached.stderr
    assert "invalidation recorded for 1 path(s)" in reached.stdout
    direct = redis.Redis.from_url(redis_url)
    before = direct.dbsize()
    typo = cli(tmp_path, "invalidate", "/k", "--redis", redis_url + "?prefix=stie")
    assert typo.returncode == 1
    assert "no distribution has used" in typo.stderr and "nothing was invalidated" in typo.stderr
    assert direct.dbsize() == before  # no stray keys
    memory = cli(tmp_path, "invalidate", "/k", "--redis", "memory://")
    assert memory.returncode == 1 and "--server" in memory.stderr
    direct.close()


# -- one MemoryStorage, two apps -------------------------------------------------------------


async def _asgi_a(scope: Any, receive: Any, send: Any) -> None:
    await _named(send, b"from A")


async def _asgi_b(scope: Any, receive: Any, send: Any) -> None:
    await _named(send, b"from B")


async def _named(send: Any, name: bytes) -> None:
    headers = [(b"cache-control", b"max-age=600"), (b"content-length", b"%d" % len(name))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": name})


def _wsgi_a(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Cache-Control", "max-age=600")])
    return [b"from A"]


def _wsgi_b(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Cache-Control", "max-age=600")])
    return [b"from B"]


def _body(kind: str, app: Any, path: str) -> tuple[bytes, str]:
    if kind == "asgi":
        sent = doors.call_asgi(app, doors.asgi_scope(path))
        x_cache = dict(sent[0]["headers"]).get(b"x-cache", b"").decode()
        return b"".join(m.get("body", b"") for m in sent[1:]), x_cache
    _, headers, body = doors.call_wsgi(app, "GET", path)
    return body, dict(headers)["X-Cache"]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_two_apps_on_one_memory_storage_keep_to_their_own_objects(kind: str) -> None:
    """App B was served app A's cached object, and A's invalidation dropped B's."""
    app_a, app_b = (_asgi_a, _asgi_b) if kind == "asgi" else (_wsgi_a, _wsgi_b)
    storage = MemoryStorage()
    config = EdgeConfig(default=Behavior(cache=CACHED))
    a = doors.wrap(kind, app_a, config, storage=storage)
    b = doors.wrap(kind, app_b, config, storage=storage)
    assert _body(kind, a, "/page") == (b"from A", "Miss from cloudfront")
    assert _body(kind, b, "/page") == (b"from B", "Miss from cloudfront")
    assert _body(kind, a, "/page") == (b"from A", "Hit from cloudfront")
    assert _body(kind, b, "/page") == (b"from B", "Hit from cloudfront")
    assert a.invalidate("/*") == 1
    assert _body(kind, b, "/page") == (b"from B", "Hit from cloudfront")
    assert _body(kind, a, "/page") == (b"from A", "Miss from cloudfront")
    # the same app and configuration wrapped again shares them (a worker of the same edge)
    again = doors.wrap(kind, a.app, config, storage=storage)
    assert _body(kind, again, "/page") == (b"from A", "Hit from cloudfront")
    b.options.storage.clear()
    assert _body(kind, a, "/page") == (b"from A", "Hit from cloudfront")


def test_either_form_of_a_query_invalidates_from_the_storage_itself() -> None:
    """Objects keep the canonical query (canonicalize_query); the storage's own invalidate
    (and the CLI's) matched only that form."""
    storage = MemoryStorage()
    storage.set(make_entry("k1", path="/p?v=a", now=time.time()))
    storage.set(make_entry("k2", path="/p?flag=", now=time.time()))
    assert storage.invalidate(["/p?v=%61"]) == 1
    assert storage.invalidate(["/p?flag"]) == 1


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_view_keeps_the_shared_budget_and_clear_empties_every_share(kind: str) -> None:
    """A second middleware with a clock of its own got a whole second cache."""
    app_a, app_b = (_asgi_a, _asgi_b) if kind == "asgi" else (_wsgi_a, _wsgi_b)
    storage = MemoryStorage()
    config = EdgeConfig(default=Behavior(cache=CACHED))
    a = doors.wrap(kind, app_a, config, storage=storage, clock=time.time)
    b = doors.wrap(kind, app_b, config, storage=storage, clock=lambda: time.time())
    _body(kind, a, "/page")
    _body(kind, b, "/page")
    assert len(storage) == 2  # one cache, one budget
    storage.clear()
    assert _body(kind, a, "/page")[1] == "Miss from cloudfront"
    assert _body(kind, b, "/page")[1] == "Miss from cloudfront"
