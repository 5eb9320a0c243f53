"""Case 1 — in-process overhead, ASGI and WSGI.

Bare app vs wrapped with no triggers vs four trivial triggers (each returns what it was given)
vs four triggers with IncludeBody on a 16 KB POST (against the bare app on the same POST).
Caching is disabled (``CachePolicy(0, 0, 0)``) so every request reaches the app.

Targets (issue 11): no triggers, caching disabled: ASGI <= +8 µs, WSGI <= +10 µs; four
trivial sync triggers <= +60 µs on each door (default handler mode); four ``async def``
triggers on ASGI <= +30 µs.

A third table has no target: the pipeline's states alone, driven sans-IO (no door, no app, no
event loop) against only turning the scope into the viewer's CloudFront request, so that the
door rows can be split into what the states cost and what the doors and the app add.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware, EdgeSettings, EdgeWSGIMiddleware
from edge_middleware.core.convert import request_from_scope
from edge_middleware.core.handlers import Later
from edge_middleware.exceptions import CloudFrontError
from edge_middleware.pipeline import Outcome, Pipeline
from edge_middleware.pipeline.effects import CallHandler, FetchOrigin, OriginResponse

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
        "raw app, wrapped, no triggers": Spec("raw app, bare", chart=False),
        "raw app, four triggers": Spec("raw app, bare", chart=False),
    }


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"benchmark setup is wrong: {what}")


_RAW_NOTE = (
    "The 'raw app' rows wrap a constant app with no framework, against that app bare: what "
    "the door itself adds. The framework rows add more, because the framework runs slower "
    "inside the door than bare (its per-function costs under cProfile are the same: the "
    "door's code and data share the CPU's caches with it)."
)


def _raw_variants(runner: Callable[[Any], Any], app: Any, door: Any) -> dict[str, Any]:
    """The door around a constant app with no framework: what the door itself adds, apart
    from what the framework loses inside it (its code and data share the CPU's caches with
    the door's: Flask runs about 13 µs slower behind the short way than bare, with the same
    per-function costs under cProfile)."""
    return {
        "raw app, bare": runner(app),
        "raw app, wrapped, no triggers": runner(door(app, config=apps.config())),
        "raw app, four triggers": runner(door(app, config=apps.config(apps.four_triggers()))),
    }


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
            **_raw_variants(
                lambda app: async_runner(loop, apps.asgi_driver(app, get)),
                apps.raw_asgi_app,
                EdgeMiddleware,
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
    section.notes.append(_RAW_NOTE)
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
        **_raw_variants(
            lambda app: sync_runner(apps.wsgi_driver(app, get)),
            apps.raw_wsgi_app,
            EdgeWSGIMiddleware,
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
    section.notes.append(_RAW_NOTE)
    result.sections.append(section)


_ORIGIN_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]


def _sans_io(pipeline: Pipeline, scope: dict[str, Any]) -> Callable[[int], None]:
    """``serve(n)``: n requests through ``pipeline.run`` with no door: each handler is called
    as the ASGI door calls it (``call_here``), the origin answers a canned 200."""

    def one() -> Outcome:
        gen = pipeline.run(request_from_scope(scope))
        value: Any = None
        while True:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if type(effect) is CallHandler:
                try:
                    value = effect.runner.call_here(effect.event, effect.request_id, effect.timeout)
                except CloudFrontError as exc:
                    value = exc
                _check(type(value) is not Later, "a handler should finish in its first step")
            elif type(effect) is FetchOrigin:
                value = OriginResponse(200, list(_ORIGIN_HEADERS), apps.CONST_BODY[:2])
            else:
                raise RuntimeError(f"benchmark setup is wrong: unexpected {effect!r}")

    def serve(n: int) -> None:
        for _ in range(n):
            one()

    return serve


def run_states(settings: Settings, result: CaseResult) -> None:
    scope = apps.asgi_scope()
    # the full pipeline (the short way off), sync handlers inline from the first call
    state = EdgeSettings(shortcuts=False, handler_mode="inline")
    pipelines = {
        "pipeline, no triggers": Pipeline(
            EdgeConfig(default=Behavior(cache=apps.NO_CACHE), settings=state)
        ),
        "pipeline, four triggers": Pipeline(
            EdgeConfig(default=apps.four_triggers(), settings=state)
        ),
        "pipeline, four async triggers": Pipeline(
            EdgeConfig(default=apps.four_triggers(is_async=True), settings=state)
        ),
    }
    for pipeline in pipelines.values():
        _sans_io(pipeline, scope)(1)

    def convert_only(n: int) -> None:
        for _ in range(n):
            request_from_scope(scope)

    variants = {
        "scope to the viewer's CloudFront request": sync_runner(convert_only),
        **{name: sync_runner(_sans_io(p, scope)) for name, p in pipelines.items()},
    }
    stats = interleave(variants, settings)
    base = Spec("scope to the viewer's CloudFront request", chart=False)
    section = comparison(
        "1",
        "1. The pipeline's states alone — sans-IO (no door, no app, no event loop)",
        stats,
        {name: base for name in pipelines},
        group="1 states",
        result=result,
        key="overhead/states",
    )
    section.notes.append(
        "`Pipeline.run` driven the way tests/test_pipeline_states.py drives it: each handler "
        "called as the ASGI door calls it, the origin a canned 200. Added µs are the states' "
        "own cost (forwarding, events, validation, CloudFront's headers, the trace); the rows "
        "above minus these are what the doors and the app add."
    )
    result.sections.append(section)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    run_asgi(settings, result)
    run_wsgi(settings, result)
    run_states(settings, result)
    return result
