"""Case 1 — in-process overhead, ASGI and WSGI.

Bare app vs wrapped with no triggers vs four trivial triggers (each returns what it was given)
vs four triggers with IncludeBody on a 16 KB POST (against the bare app on the same POST).
Caching is disabled (``CachePolicy(0, 0, 0)``) so every request reaches the app.

Targets: no-trigger wrapping >= 0.95 of bare throughput; four triggers <= 25 µs added.
"""

from __future__ import annotations

import asyncio

from edge_middleware import EdgeMiddleware, EdgeWSGIMiddleware

from . import apps
from ._harness import CaseResult, Settings, Spec, async_runner, comparison, interleave, sync_runner

POST_BODY = bytes(range(256)) * 64  # 16 KB

MIN_RATIO = 0.95
MAX_ADDED = 25.0


def _specs() -> dict[str, Spec]:
    return {
        "wrapped, no triggers": Spec("bare", min_ratio=MIN_RATIO),
        "four triggers": Spec("bare", max_added_us=MAX_ADDED),
        "four async triggers": Spec("bare", max_added_us=MAX_ADDED),
        "four triggers + IncludeBody, 16 KB POST": Spec("bare, 16 KB POST", max_added_us=MAX_ADDED),
    }


def _budget_note(bare_us: float) -> str:
    allowed = bare_us / MIN_RATIO - bare_us
    return (
        f"The {MIN_RATIO:.2f}\u00d7 target against a {bare_us:.1f} µs bare app leaves "
        f"{allowed:.2f} µs for the whole no-trigger wrapper."
    )


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
        _specs(),
        group="1 ASGI",
        result=result,
        key="overhead/asgi",
    )
    section.notes.append(_budget_note(stats["bare"].median))
    section.notes.append(
        "Triggers are sync `def` handlers (run on a worker thread, as the library does) except "
        "the 'async' row (`async def`, run on the loop)."
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
        _specs(),
        group="1 WSGI",
        result=result,
        key="overhead/wsgi",
    )
    section.notes.append(_budget_note(stats["bare"].median))
    section.notes.append(
        "Sync handlers run on the library's worker pool; `async def` handlers on its background "
        "loop (a thread hop either way)."
    )
    result.sections.append(section)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    run_asgi(settings, result)
    run_wsgi(settings, result)
    return result
