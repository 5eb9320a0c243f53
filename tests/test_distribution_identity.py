"""Two apps or distributions on one Redis never serve each other's objects (issue 16, item 4);
the workers of one app still share theirs.

A ``RedisStorage`` without ``distribution_id`` adopts the identity of the middleware it serves
(``identity.py``: a hash of the configuration and the origin app); a ``distribution_id`` set by
the user shares one namespace on purpose. Tests run on a real ``redis-server`` on a free
loopback port (``conftest.py``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    RedisStorage,
    Trigger,
)
from edge_middleware.cache.identity import distribution_identity

ROOT = Path(__file__).resolve().parent.parent


def starlette_app(name: str) -> Starlette:
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{name} {request.url.path}", headers={"x-app": name})

    return Starlette(routes=[Route("/{rest:path}", page)])


def starlette_app_b() -> Starlette:
    """Another app: its route's endpoint is another function."""

    async def other_page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"b {request.url.path}", headers={"x-app": "b"})

    return Starlette(routes=[Route("/{rest:path}", other_page)])


def flask_app(name: str) -> Any:
    app = Flask(name)

    @app.route("/<path:rest>")
    def page(rest: str) -> Any:
        return f"{name} /{rest}", 200, {"x-app": name}

    return app.wsgi_app


def tag(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


def other_tag(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


# -- the identity itself -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        pytest.param(lambda: EdgeConfig(), lambda: EdgeConfig(), True, id="equal-configs"),
        pytest.param(
            lambda: EdgeConfig(distribution_domain_name="a.cloudfront.net"),
            lambda: EdgeConfig(distribution_domain_name="b.cloudfront.net"),
            False,
            id="domain-name",
        ),
        pytest.param(
            lambda: EdgeConfig(distribution_id="E1"),
            lambda: EdgeConfig(distribution_id="E2"),
            False,
            id="distribution-id",
        ),
        pytest.param(
            lambda: EdgeConfig(behaviors=[Behavior("/a/*", cache=CachePolicy(default_ttl=60))]),
            lambda: EdgeConfig(behaviors=[Behavior("/a/*", cache=CachePolicy(default_ttl=61))]),
            False,
            id="cache-policy",
        ),
        pytest.param(
            lambda: EdgeConfig(default=Behavior(viewer_request=tag)),
            lambda: EdgeConfig(default=Behavior(viewer_request=other_tag)),
            False,
            id="handler-function",
        ),
        pytest.param(
            lambda: EdgeConfig(default=Behavior(viewer_request=Trigger(tag))),
            lambda: EdgeConfig(default=Behavior(viewer_request=Trigger(tag, include_body=True))),
            False,
            id="include-body",
        ),
        pytest.param(
            lambda: EdgeConfig(default=Behavior(viewer_request="handlers.auth:handler")),
            lambda: EdgeConfig(default=Behavior(viewer_request="handlers.auth:handler")),
            True,
            id="same-handler-string",
        ),
    ],
)
def test_identity_follows_the_config(
    one: Callable[[], EdgeConfig], two: Callable[[], EdgeConfig], same: bool
) -> None:
    assert (distribution_identity(one()) == distribution_identity(two())) is same


@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        pytest.param(lambda: starlette_app("a"), lambda: starlette_app("a"), True, id="same-app"),
        pytest.param(lambda: starlette_app("a"), starlette_app_b, False, id="starlette-routes"),
        pytest.param(lambda: flask_app("a"), lambda: flask_app("b"), False, id="flask-apps"),
        pytest.param(
            lambda: flask_app("a"), lambda: starlette_app("a"), False, id="flask-starlette"
        ),
    ],
)
def test_identity_follows_the_app(
    one: Callable[[], Any], two: Callable[[], Any], same: bool
) -> None:
    config = EdgeConfig()
    assert (distribution_identity(config, one()) == distribution_identity(config, two())) is same


def test_identity_is_the_same_in_another_process() -> None:
    """Workers of one app (other processes, other hosts) must land in one namespace."""
    code = (
        "from edge_middleware import Behavior, CachePolicy, EdgeConfig\n"
        "from edge_middleware.cache.identity import distribution_identity\n"
        "from tests.test_distribution_identity import starlette_app, tag\n"
        "cfg = EdgeConfig(behaviors=[Behavior('/a/*', viewer_request=tag, "
        "cache=CachePolicy(default_ttl=60))])\n"
        "print(distribution_identity(cfg, starlette_app('a')))\n"
    )
    here = distribution_identity(
        EdgeConfig(
            behaviors=[Behavior("/a/*", viewer_request=tag, cache=CachePolicy(default_ttl=60))]
        ),
        starlette_app("a"),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == here


# -- two middlewares on one real redis-server ------------------------------------------------------
@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def _storage(stack: contextlib.ExitStack, url: str, **options: Any) -> RedisStorage:
    storage = RedisStorage(url, **options)
    stack.callback(storage.close)
    return storage


def _asgi(
    stack: contextlib.ExitStack, app: Any, config: EdgeConfig, storage: RedisStorage
) -> Callable[[str], Any]:
    client = stack.enter_context(TestClient(EdgeMiddleware(app, config=config, storage=storage)))
    stack.callback(lambda: client.portal.call(storage.aclose))  # type: ignore[union-attr]
    return lambda path: client.get(path)


def _wsgi(
    stack: contextlib.ExitStack, app: Any, config: EdgeConfig, storage: RedisStorage
) -> Callable[[str], Any]:
    client = Client(EdgeWSGIMiddleware(app, config=config, storage=storage))
    return lambda path: client.get(path)


Pair = tuple[Callable[..., Callable[[str], Any]], Callable[[], Any], EdgeConfig, dict[str, Any]]

TWO_DISTRIBUTIONS = [
    pytest.param(
        (_asgi, lambda: starlette_app("a"), EdgeConfig(), {}),
        (_asgi, starlette_app_b, EdgeConfig(), {}),
        id="two-starlette-apps-default-config",
    ),
    pytest.param(
        (_wsgi, lambda: flask_app("a"), EdgeConfig(), {}),
        (_wsgi, lambda: flask_app("b"), EdgeConfig(), {}),
        id="two-flask-apps-default-config",
    ),
    pytest.param(
        (_asgi, lambda: starlette_app("a"), EdgeConfig(distribution_domain_name="a.test"), {}),
        (_wsgi, lambda: flask_app("b"), EdgeConfig(distribution_domain_name="b.test"), {}),
        id="asgi-and-wsgi-distributions",
    ),
]


def _body(response: Any) -> str:
    data = response.data if hasattr(response, "data") else response.content
    return bytes(data).decode()


@pytest.mark.redis
@pytest.mark.parametrize(("one", "two"), TWO_DISTRIBUTIONS)
def test_two_distributions_on_one_redis_never_share(
    redis_url: str, stack: contextlib.ExitStack, one: Pair, two: Pair
) -> None:
    storages = [_storage(stack, redis_url), _storage(stack, redis_url)]
    apps = [
        door(stack, make_app(), config, storage)
        for (door, make_app, config, _), storage in zip((one, two), storages, strict=True)
    ]
    seen = []
    for _ in range(2):  # a miss each, then a hit each
        for name, get in zip(["a", "b"], apps, strict=True):
            for path in ("/page", "/other"):
                r = get(path)
                seen.append((name, path, r.headers["x-app"], _body(r), r.headers["x-cache"]))
    foreign = [s for s in seen if s[2] != s[0] or s[3] != f"{s[0]} {s[1]}"]
    assert foreign == []
    assert [s[4] for s in seen] == ["Miss from cloudfront"] * 4 + ["Hit from cloudfront"] * 4
    assert storages[0].distribution_id != storages[1].distribution_id


@pytest.mark.redis
def test_a_distribution_id_set_by_the_user_is_shared(
    redis_url: str, stack: contextlib.ExitStack
) -> None:
    """Setting ``distribution_id`` puts both apps in one namespace, as the user asked."""
    a = _asgi(
        stack, starlette_app("a"), EdgeConfig(), _storage(stack, redis_url, distribution_id="E1")
    )
    b = _asgi(
        stack, starlette_app_b(), EdgeConfig(), _storage(stack, redis_url, distribution_id="E1")
    )
    assert a("/page").headers["x-cache"] == "Miss from cloudfront"
    shared = b("/page")
    assert (shared.headers["x-cache"], shared.text) == ("Hit from cloudfront", "a /page")


@pytest.mark.redis
def test_workers_of_one_app_share_and_outside_invalidation_reaches_them(
    redis_url: str, stack: contextlib.ExitStack
) -> None:
    """Two middlewares with the same config and app (as two workers) share objects; a storage
    serving no middleware (``edge-middleware invalidate --redis URL``) reaches them."""
    one = _asgi(stack, starlette_app("a"), EdgeConfig(), _storage(stack, redis_url))
    two = _asgi(stack, starlette_app("a"), EdgeConfig(), _storage(stack, redis_url))
    assert one("/page").headers["x-cache"] == "Miss from cloudfront"
    assert two("/page").headers["x-cache"] == "Hit from cloudfront"
    assert _storage(stack, redis_url).invalidate(["/page"]) == 1
    assert two("/page").headers["x-cache"] == "Miss from cloudfront"


@pytest.mark.redis
def test_one_storage_object_serving_two_distributions_keeps_them_apart(
    redis_url: str, stack: contextlib.ExitStack
) -> None:
    """One ``RedisStorage`` object given to two apps (or kept across a dev-server reload with
    a changed config): the second gets a view under its own identity, same pools."""
    storage = _storage(stack, redis_url)
    a = EdgeMiddleware(starlette_app("a"), config=EdgeConfig(), storage=storage)
    again = EdgeMiddleware(starlette_app("a"), config=EdgeConfig(), storage=storage)
    b = EdgeMiddleware(starlette_app_b(), config=EdgeConfig(), storage=storage)
    assert a.storage is storage and again.storage is storage and b.storage is not storage
    clients = [stack.enter_context(TestClient(mw)) for mw in (a, b)]
    for client, mw in zip(clients, (a, b), strict=True):
        aclose = mw.storage.aclose  # type: ignore[attr-defined]
        stack.callback(lambda c=client, close=aclose: c.portal.call(close))
    seen = [client.get("/page") for client in clients * 2]
    assert [(r.headers["x-cache"], r.text) for r in seen] == [
        ("Miss from cloudfront", "a /page"),
        ("Miss from cloudfront", "b /page"),
        ("Hit from cloudfront", "a /page"),
        ("Hit from cloudfront", "b /page"),
    ]
