"""The Redis storage across Redis restarts, URL options and namespaces, and the identity of apps
that look alike (``cache/redis*.py``, ``cache/identity.py``).

* A worker registers its namespace in ``{prefix}:distributions`` again once Redis lost it, so
  ``edge-middleware invalidate --redis URL`` still reaches it.
* A worker never keeps patterns from before a reset (restart, ``FLUSHDB``, an evicted counter):
  an invalidation made afterwards is a miss in every worker (caching.md §1.10). A hit is still
  one ``MGET``.
* An unknown query parameter in a Redis URL is a ``ConfigurationError`` at construction; any
  unexpected error of the client on a request fails open.
* ``clear()`` deletes this namespace only, never one whose id starts with this one's.
* Two projects laid out alike (``Flask("app")`` in ``app.py``, Django's ``mysite``) get
  different namespaces; two processes of one project agree.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.test import Client

from edge_middleware import EdgeConfig, EdgeWSGIMiddleware
from edge_middleware.cache.identity import distribution_identity
from edge_middleware.cache.redis import RedisStorage, storage_from_url
from edge_middleware.exceptions import ConfigurationError
from tests.redis_server import RedisServer
from tests.support import storage as entries

ROOT = Path(__file__).resolve().parent.parent
Factory = Callable[[], RedisServer]


make_entry = entries.page_entry
_open = entries.open_storage


def _members(url: str) -> set[bytes]:
    with redis.Redis.from_url(url) as client:
        return set(client.smembers("em:distributions"))


# -- 1. registration in {prefix}:distributions survives a Redis restart -------------------------


@pytest.mark.redis
def test_worker_registers_again_after_redis_restarts(
    redis_server_factory: Factory, storages: list[RedisStorage]
) -> None:
    server = redis_server_factory()
    worker = _open(storages, server.url).adopt_distribution("app-0123456789ab")
    cli = _open(storages, server.url)  # no distribution_id: reaches every registered namespace
    worker.set(make_entry("/a"))
    assert _members(server.url) == {b"app-0123456789ab"}

    server.restart()  # empty again: the registration is gone
    assert worker.get("/page") is None
    worker.set(make_entry("/page"))
    assert worker.get("/page") is not None
    assert _members(server.url) == {b"app-0123456789ab"}
    assert cli.invalidate(["/page"]) == 1
    assert worker.get("/page") is None


@pytest.mark.redis
def test_async_worker_registers_again_and_sees_invalidations_after_a_restart(
    redis_server_factory: Factory, storages: list[RedisStorage]
) -> None:
    """The same on the async driver (ASGI): lookups on the lean async client, stores and the
    registration through ``redis.asyncio``."""
    server = redis_server_factory()
    worker = _open(storages, server.url).adopt_distribution("app-0123456789ab")
    cli = _open(storages, server.url)

    async def session(*steps: Callable[[], Any]) -> list[Any]:
        try:
            return [await step() for step in steps]
        finally:
            await worker.aclose()

    asyncio.run(session(lambda: worker.aset(make_entry("/old"))))
    assert cli.invalidate(["/old"]) == 1
    assert asyncio.run(session(lambda: worker.aget("/old"))) == [None]  # knows generation 1
    server.restart()
    found = asyncio.run(session(lambda: worker.aget("/y"), lambda: worker.aset(make_entry("/y"))))
    assert found == [None, None]
    assert _members(server.url) == {b"app-0123456789ab"}
    assert cli.invalidate(["/y"]) == 1  # generation 1 again
    assert asyncio.run(session(lambda: worker.aget("/y"))) == [None]


# -- 2. no invalidation is missed after a reset ---------------------------------------------------


def _reset(kind: str, server: RedisServer) -> None:
    if kind == "restart":
        server.restart()
    else:
        with redis.Redis.from_url(server.url) as client:
            client.flushdb()


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["restart", "flushdb"])
@pytest.mark.parametrize(
    "later", [pytest.param(0, id="counter-back-at-known"), pytest.param(1, id="counter-past-it")]
)
def test_worker_sees_invalidations_made_after_a_reset(
    redis_server_factory: Factory, storages: list[RedisStorage], kind: str, later: int
) -> None:
    server = redis_server_factory()
    a = _open(storages, server.url, distribution_id="site")  # a worker
    b = _open(storages, server.url, distribution_id="site")  # another one, or the CLI
    a.set(make_entry("/old"))
    b.invalidate(["/old"])
    assert a.get("/old") is None  # a knows generation 1

    _reset(kind, server)  # the generation counter starts again from 0
    b.set(make_entry("/y"))
    assert a.get("/y") is not None
    b.invalidate(["/y"])  # generation 1 again, another pattern
    for n in range(later):
        b.invalidate([f"/other{n}"])
    assert a.get("/y") is None
    assert _open(storages, server.url, distribution_id="site").get("/y") is None


@pytest.mark.redis
def test_a_refresh_spanning_a_restart_does_not_keep_the_old_generation(
    redis_server_factory: Factory, storages: list[RedisStorage]
) -> None:
    """A worker looks an object up (at the counter's generation), Redis restarts while it
    revalidates, and it stores the refreshed copy with the generation of the lookup: an
    invalidation made after the restart (generation 1 of the new counter) still reaches it."""
    server = redis_server_factory()
    a = _open(storages, server.url, distribution_id="site")
    b = _open(storages, server.url, distribution_id="site")
    a.set(make_entry("/page"))
    b.invalidate(["/x"])
    b.invalidate(["/y"])
    hit = a.get("/page")
    with redis.Redis.from_url(server.url) as client:
        counter = int(client.get("em:site:inv:ver") or 0)
    assert hit is not None and hit.generation == counter > 0  # (two invalidations in)
    server.restart()
    a.set(hit.with_changes(fresh_until=hit.fresh_until + 60))
    b.invalidate(["/page"])
    assert a.get("/page") is None


@pytest.mark.redis
def test_an_evicted_generation_counter_goes_on_from_the_patterns(
    redis_url: str, storages: list[RedisStorage]
) -> None:
    """``inv:ver`` evicted alone (an ``allkeys-lru`` Redis): the next invalidation continues
    above the recorded patterns, so workers that know them fetch the new ones."""
    a = _open(storages, redis_url, distribution_id="site")
    b = _open(storages, redis_url, distribution_id="site")
    a.set(make_entry("/old"))
    b.invalidate(["/old"])
    b.invalidate(["/older"])
    assert a.get("/old") is None  # a knows generation 2
    with redis.Redis.from_url(redis_url) as client:
        client.delete("em:site:inv:ver")
    b.set(make_entry("/y"))
    assert a.get("/y") is not None
    for path in ("/y", "/z1", "/z2"):
        b.invalidate([path])
    assert a.get("/y") is None


def _commands(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {name: int(value["calls"]) for name, value in stats.items()}


@pytest.mark.redis
def test_a_hit_is_still_one_mget(redis_url: str, storages: list[RedisStorage]) -> None:
    worker = _open(storages, redis_url).adopt_distribution("app-0123456789ab")
    worker.set(make_entry("/a"))
    worker.invalidate(["/nothing"])
    assert worker.get("/a") is not None  # an older generation: patterns fetched once
    with redis.Redis.from_url(redis_url) as client:
        before = _commands(client)
        for _ in range(3):
            assert worker.get("/a") is not None
        after = _commands(client)
    changed = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    changed.pop("cmdstat_info", None)
    assert changed == {"cmdstat_mget": 3}


# -- 4. unknown URL parameters; unexpected client errors fail open --------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        pytest.param("redis://127.0.0.1:1/0?colour=red", "colour", id="typo"),
        pytest.param("unix:///tmp/nowhere.sock?db=1&colour=red", "colour", id="unix"),
        pytest.param(
            "redis://127.0.0.1:1/0?client_name=web&retries=3", "retries", id="after-known-ones"
        ),
    ],
)
def test_unknown_url_parameter_is_a_configuration_error(url: str, name: str) -> None:
    for make in (storage_from_url, RedisStorage):
        with pytest.raises(ConfigurationError, match=repr(name)):
            make(url)


def test_known_url_parameters_are_accepted() -> None:
    storage = storage_from_url(
        "redis://127.0.0.1:1/0?client_name=web&health_check_interval=5&max_object_bytes=1000"
    )
    try:
        assert isinstance(storage, RedisStorage)
        assert storage.max_object_bytes == 1000
    finally:
        storage.close()
    storage_from_url("rediss://127.0.0.1:1/0?ssl_cert_reqs=none").close()
    unix = storage_from_url("unix:///tmp/nowhere.sock?db=1&distribution_id=E1")
    try:
        assert isinstance(unix, RedisStorage)
        assert (unix.url, unix.distribution_id) == ("unix:///tmp/nowhere.sock?db=1", "E1")
    finally:
        unix.close()


def _raise_type_error(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("unexpected keyword argument 'colour'")


@pytest.mark.redis
def test_unexpected_client_error_fails_open(
    redis_url: str,
    storages: list[RedisStorage],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = _open(storages, redis_url, retry_after=60)
    assert storage._pool is not None
    monkeypatch.setattr(storage._pool, "execute", _raise_type_error)
    monkeypatch.setattr(storage._client, "execute_command", _raise_type_error)

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the origin"]

    client = Client(EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=storage))
    with caplog.at_level(logging.WARNING, logger="edge_middleware.cache"):
        responses = [client.get("/page") for _ in range(2)]
        storage.set(make_entry("/x"))
        assert storage.get("/x") is None
    assert [(r.status_code, r.data) for r in responses] == [(200, b"from the origin")] * 2
    warnings = [r for r in caplog.records if r.name == "edge_middleware.cache"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "TypeError" in warnings[0].getMessage()


# -- 7. clear() stays in its namespace ---------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize(
    ("mine", "other"),
    [
        pytest.param("site", "site:staging", id="prefix-id"),
        pytest.param("site", "site:e", id="entry-like-id"),
        pytest.param("site", "site:lock", id="lock-like-id"),
        pytest.param("s*", "s*:x", id="glob-in-id"),
        pytest.param("s?", "sx", id="glob-char"),
    ],
)
def test_clear_deletes_this_namespace_only(
    redis_url: str, storages: list[RedisStorage], mine: str, other: str
) -> None:
    one = _open(storages, redis_url, distribution_id=mine)
    two = _open(storages, redis_url, distribution_id=other)
    registry = {b"em:distributions"}  # the ids recorded for the CLI: no namespace's own
    with redis.Redis.from_url(redis_url) as client:
        names = []
        for storage in (one, two):  # what each one writes, told apart by when it was written
            storage.set(make_entry("/p"))
            storage.invalidate(["/gone"])
            assert storage.begin_fill("/lock", 30)
            names.append(set(client.keys("*")) - set().union(*names) - registry)
        one.clear()
        left = set(client.keys("*")) - registry
    assert len(names[0]) == len(names[1]) >= 4  # entry, lock, the invalidation keys
    assert left == names[1] | {f"em:{mine}:inv:ver".encode()}
    assert two.get("/p") is not None
    assert one.get("/p") is None


# -- 3. the identity of apps that look alike ---------------------------------------------------


def test_flask_apps_with_one_import_name_in_two_projects_differ(tmp_path: Path) -> None:
    def identity(root: Path) -> str:
        return distribution_identity(EdgeConfig(), Flask("app", root_path=str(root)).wsgi_app)

    a, b = tmp_path / "projA", tmp_path / "projB"
    assert identity(a) == identity(a)
    assert identity(a) != identity(b)


FLASK_APP = """
    from flask import Flask

    app = Flask(__name__)


    @app.route("/")
    def index():
        return "{name}"
"""
STARLETTE_APP = """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route


    async def page(request):
        return PlainTextResponse("{name}")


    app = Starlette(routes=[Route("/", page)])
"""
WSGI_FUNCTION = """
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"{name}"]
"""
DJANGO_PROJECT = {
    "mysite/__init__.py": "",
    "mysite/settings.py": """
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "not-secret-{name}"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        INSTALLED_APPS = []
        ROOT_URLCONF = "mysite.urls"
    """,
    "mysite/urls.py": """
        from django.http import HttpResponse
        from django.urls import path

        urlpatterns = [path("", lambda request: HttpResponse("{name}"))]
    """,
    "mysite/wsgi.py": """
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
    """,
}
PROJECTS = {
    "flask": ({"app.py": FLASK_APP}, "app:app"),
    "starlette": ({"app.py": STARLETTE_APP}, "app:app"),
    "wsgi-function": ({"app.py": WSGI_FUNCTION}, "app:app"),
    "django": (DJANGO_PROJECT, "mysite.wsgi:application"),
}
IDENTITY = """
import importlib, os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
from edge_middleware import EdgeConfig
from edge_middleware.cache.identity import distribution_identity
module, _, name = sys.argv[1].partition(":")
print(distribution_identity(EdgeConfig(), getattr(importlib.import_module(module), name)))
"""


def _project(root: Path, files: dict[str, str], name: str) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("{name}", name).lstrip())
    return root


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(PROJECTS))
def test_two_projects_laid_out_alike_differ_and_their_processes_agree(
    tmp_path: Path, kind: str
) -> None:
    files, target = PROJECTS[kind]
    a = _project(tmp_path / "projA", files, "project A")
    b = _project(tmp_path / "projB", files, "project B")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", IDENTITY, target],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cwd in (a, a, b)
    ]
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        outputs.append(out.strip())
    a1, a2, b1 = outputs
    assert a1 == a2  # two workers of project A
    assert a1 != b1
