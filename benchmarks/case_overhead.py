"""Case 1 — in-process overhead, ASGI and WSGI.

Bare app vs wrapped with no triggers vs four trivial triggers (each returns what it was given)
vs four triggers with IncludeBody on a 16 KB POST (against the bare app on the same POST).
Caching is disabled (``CachePolicy(0, 0, 0)``) so every request reaches the app.

Targets (issue 11): no triggers, caching disabled: ASGI <= +8 µs, WSGI <= +10 µs; four
trivial sync triggers <= +60 µs on each door (default handler mode); four ``async def``
triggers on ASGI <= +30 µs.
"""

from __future__ import annotations

import asyncio

from edge_middleware import EdgeMiddleware, EdgeWSGIMiddleware

from . import apps
from ._harness import CaseResult, Settings, Spec, async_runner, comparison, interleave, sync_runner

POST_BODY = bytes(range(256)) * 64  # 16 KB

#: added µs per door: (no triggers, four sync triggers, four async triggers)
TARGETS = {"asgi": (8.0, 60.0, 30.0), "wsgi": (10.0, 60.0, None)}


def _specs(door: str) -> dict[str, Spec]:
    no, four, four_async = TARGETS[door]
    return {
        "wrapped, no triggers": Spec("bare", max_added_us=no),
        "four triggers": Spec("bare", max_added_us=four),
        "four async triggers": Spec("bare", max_added_us=four_async),
        "four triggers + IncludeBody, 16 KB POST": Spec("bare, 16 KB POST"),
    }


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"benchmark setup is wrong: {what}")


def run_asgi(settings: Settings, result: CaseResult) -> None:
    app = apps.starlette_app()
    get = apps.asgi_scope()
    post = apps.asgi_scope("POST", body=POST_BODY)
    wrapped = {
        "no": EdgeMiddleware(app, config=apps.config()),
        "four": EdgeMiddleware(app, config=apps.config(apps.four_triggers())),
        "async": EdgeMiddleware(app, config=apps.config(apps.four_triggers(is_async=True))),
        "body": EdgeMiddleware(app, config=apps.config(apps.four_triggers(include_body=True))),
    }
    loop = asyncio.new_event_loop()
    try:
        for mw in wrapped.values():
            status, headers, body = loop.run_until_complete(apps.asgi_once(mw, get))
            _check(status == 200 and body == apps.CONST_BODY, f"ASGI wrapped answered {status}")
            _check(apps.x_cache(headers).startswith("Miss"), "caching should be disabled")
        status, _, _ = loop.run_until_complete(apps.asgi_once(wrapped["body"], post, POST_BODY))
        _check(status == 200, f"ASGI IncludeBody POST answered {status}")
        variants = {
            "bare": async_runner(loop, apps.asgi_driver(app, get)),
            "wrapped, no triggers": async_runner(loop, apps.asgi_driver(wrapped["no"], get)),
            "four triggers": async_runner(loop, apps.asgi_driver(wrapped["four"], get)),
            "four async triggers": async_runner(loop, apps.asgi_driver(wrapped["async"], get)),
            "bare, 16 KB POST": async_runner(loop, apps.asgi_driver(app, post, POST_BODY)),
            "four triggers + IncludeBody, 16 KB POST": async_runner(
                loop, apps.asgi_driver(wrapped["body"], post, POST_BODY)
            ),
        }
        stats = interleave(variants, settings)
    finally:
        loop.close()
    section = comparison(
        "1",
        "1. In-process overhead — ASGI (Starlette constant route)",
        stats,
        _specs("asgi"),
        group="1 ASGI",
        result=result,
        key="overhead/asgi",
    )
    section.notes.append(
        "Triggers are sync `def` handlers in the default handler mode ('auto': on a worker "
        "thread until proved fast, then inline) except the 'async' row (`async def`, run on "
        "the loop)."
    )
    result.sections.append(section)


def run_wsgi(settings: Settings, result: CaseResult) -> None:
    app = apps.flask_app()
    get = apps.wsgi_environ()
    post = apps.wsgi_environ("POST", body=POST_BODY)
    wrapped = {
        "no": EdgeWSGIMiddleware(app, config=apps.config()),
        "four": EdgeWSGIMiddleware(app, config=apps.config(apps.four_triggers())),
        "async": EdgeWSGIMiddleware(app, config=apps.config(apps.four_triggers(is_async=True))),
        "body": EdgeWSGIMiddleware(app, config=apps.config(apps.four_triggers(include_body=True))),
    }
    for mw in wrapped.values():
        status, headers, body = apps.wsgi_once(mw, get)
        _check(status == 200 and body == apps.CONST_BODY, f"WSGI wrapped answered {status}")
        _check(apps.x_cache(headers).startswith("Miss"), "caching should be disabled")
    status, _, _ = apps.wsgi_once(wrapped["body"], post, POST_BODY)
    _check(status == 200, f"WSGI IncludeBody POST answered {status}")
    variants = {
        "bare": sync_runner(apps.wsgi_driver(app, get)),
        "wrapped, no triggers": sync_runner(apps.wsgi_driver(wrapped["no"], get)),
        "four triggers": sync_runner(apps.wsgi_driver(wrapped["four"], get)),
        "four async triggers": sync_runner(apps.wsgi_driver(wrapped["async"], get)),
        "bare, 16 KB POST": sync_runner(apps.wsgi_driver(app, post, POST_BODY)),
        "four triggers + IncludeBody, 16 KB POST": sync_runner(
            apps.wsgi_driver(wrapped["body"], post, POST_BODY)
        ),
    }
    stats = interleave(variants, settings)
    section = comparison(
        "1",
        "1. In-process overhead — WSGI (Flask constant route)",
        stats,
        _specs("wsgi"),
        group="1 WSGI",
        result=result,
        key="overhead/wsgi",
    )
    section.notes.append(
        "Sync handlers in the default mode ('auto': inline on the request thread once proved "
        "fast); `async def` handlers on the request thread's own event loop."
    )
    result.sections.append(section)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    run_asgi(settings, result)
    run_wsgi(settings, result)
    return result
