"""Case 2 — the edge cache: miss vs hit vs bare, and MemoryStorage vs RedisStorage hits.

* the ~1 ms app (``/slow`` spins 1 ms): bare, wrapped miss (every request has a new ``?n=``
  under a policy keyed on the query string, so it is looked up, fetched and stored), and
  wrapped hit (one URL, warmed once);
* the constant app (``/``): bare, and wrapped hits served from MemoryStorage and from
  RedisStorage (a real ``redis-server`` on a loopback port, started for the run).

No triggers. Target: an in-process MemoryStorage hit at most 15 µs more than the bare
constant app.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from edge_middleware import (
    Behavior,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    MemoryStorage,
    RedisStorage,
)

from . import apps
from ._harness import (
    CaseResult,
    Processes,
    RedisServer,
    Settings,
    Spec,
    Target,
    async_runner,
    comparison,
    interleave,
    sync_runner,
)

#: issue 11: a MemoryStorage hit adds at most 8 µs over the bare constant app (ASGI), a
#: RedisStorage hit at most 120 µs.
MAX_HIT_ADDED = 8.0
MAX_REDIS_HIT_ADDED = 120.0


def _config() -> Any:
    return apps.config(Behavior(cache=apps.CACHE_ALL_QS))


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"benchmark setup is wrong: {what}")


def _specs() -> dict[str, Spec]:
    return {
        "1 ms app, wrapped miss (lookup + fetch + store)": Spec("bare 1 ms app"),
        "1 ms app, wrapped hit": Spec("bare 1 ms app", chart=False),
        "constant app, MemoryStorage hit": Spec("bare constant app", max_added_us=MAX_HIT_ADDED),
        "constant app, RedisStorage hit": Spec(
            "bare constant app", max_added_us=MAX_REDIS_HIT_ADDED
        ),
    }


def run_asgi(settings: Settings, result: CaseResult, redis_url: str | None) -> None:
    app = apps.starlette_app()
    slow = apps.asgi_scope(path="/slow")
    const = apps.asgi_scope()
    mw = EdgeMiddleware(app, config=_config(), storage=MemoryStorage())
    loop = asyncio.new_event_loop()
    redis_storage = None
    try:
        once = loop.run_until_complete
        for scope, label in ((slow, "1 ms app"), (const, "constant app")):
            _, h1, _ = once(apps.asgi_once(mw, scope))
            _, h2, _ = once(apps.asgi_once(mw, scope))
            _check(apps.x_cache(h2).startswith("Hit"), f"ASGI {label} not a hit: {h1}, {h2}")
        miss = dict(slow, query_string=b"n=probe")
        _, h, _ = once(apps.asgi_once(mw, miss))
        _check(apps.x_cache(h).startswith("Miss"), "a new query string should miss")
        variants = {
            "bare 1 ms app": async_runner(loop, apps.asgi_driver(app, slow)),
            "1 ms app, wrapped miss (lookup + fetch + store)": async_runner(
                loop, apps.asgi_driver(mw, miss, unique_query=True)
            ),
            "1 ms app, wrapped hit": async_runner(loop, apps.asgi_driver(mw, slow)),
            "bare constant app": async_runner(loop, apps.asgi_driver(app, const)),
            "constant app, MemoryStorage hit": async_runner(loop, apps.asgi_driver(mw, const)),
        }
        if redis_url is not None:
            redis_storage = RedisStorage(redis_url, distribution_id="bench-asgi")
            rmw = EdgeMiddleware(app, config=_config(), storage=redis_storage)
            once(apps.asgi_once(rmw, const))
            _, h, _ = once(apps.asgi_once(rmw, const))
            _check(apps.x_cache(h).startswith("Hit"), f"ASGI Redis not a hit: {h}")
            variants["constant app, RedisStorage hit"] = async_runner(
                loop, apps.asgi_driver(rmw, const)
            )
        stats = interleave(variants, settings)
    finally:
        if redis_storage is not None:
            with contextlib.suppress(Exception):
                loop.run_until_complete(redis_storage.aclose())
        loop.close()
    section = comparison(
        "2",
        "2. Cache — ASGI (Starlette)",
        stats,
        _specs(),
        group="2 ASGI cache",
        result=result,
        key="cache/asgi",
    )
    if redis_url is None:
        section.notes.append("RedisStorage rows skipped: `redis-server` is not installed.")
    result.sections.append(section)


def run_wsgi(settings: Settings, result: CaseResult, redis_url: str | None) -> None:
    app = apps.flask_app()
    slow = apps.wsgi_environ(path="/slow")
    const = apps.wsgi_environ()
    mw = EdgeWSGIMiddleware(app, config=_config(), storage=MemoryStorage())
    for env, label in ((slow, "1 ms app"), (const, "constant app")):
        apps.wsgi_once(mw, env)
        _, h, _ = apps.wsgi_once(mw, env)
        _check(apps.x_cache(h).startswith("Hit"), f"WSGI {label} not a hit: {h}")
    variants = {
        "bare 1 ms app": sync_runner(apps.wsgi_driver(app, slow)),
        "1 ms app, wrapped miss (lookup + fetch + store)": sync_runner(
            apps.wsgi_driver(mw, slow, unique_query=True)
        ),
        "1 ms app, wrapped hit": sync_runner(apps.wsgi_driver(mw, slow)),
        "bare constant app": sync_runner(apps.wsgi_driver(app, const)),
        "constant app, MemoryStorage hit": sync_runner(apps.wsgi_driver(mw, const)),
    }
    redis_storage = None
    if redis_url is not None:
        redis_storage = RedisStorage(redis_url, distribution_id="bench-wsgi")
        rmw = EdgeWSGIMiddleware(app, config=_config(), storage=redis_storage)
        apps.wsgi_once(rmw, const)
        _, h, _ = apps.wsgi_once(rmw, const)
        _check(apps.x_cache(h).startswith("Hit"), f"WSGI Redis not a hit: {h}")
        variants["constant app, RedisStorage hit"] = sync_runner(apps.wsgi_driver(rmw, const))
    try:
        stats = interleave(variants, settings)
    finally:
        if redis_storage is not None:
            with contextlib.suppress(Exception):
                redis_storage.close()
    section = comparison(
        "2",
        "2. Cache — WSGI (Flask)",
        stats,
        _specs(),
        group="2 WSGI cache",
        result=result,
        key="cache/wsgi",
    )
    if redis_url is None:
        section.notes.append("RedisStorage rows skipped: `redis-server` is not installed.")
    result.sections.append(section)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    with Processes() as procs:
        server = RedisServer(procs)
        url = server.url if server.start() else None
        try:
            run_asgi(settings, result, url)
            run_wsgi(settings, result, url)
        finally:
            server.stop()
    if url is None:
        result.targets.append(
            Target("2", "RedisStorage hit rows", "redis-server not installed", None)
        )
    return result
