"""Case 6 — JavaScript triggers, ASGI and WSGI.

One CloudFront Function (viewer-request, adds one header; ``benchmarks/js/rewrite.js``) and one
Node.js Lambda@Edge viewer-request handler (the same rewrite; ``benchmarks/js/viewer.js``),
each against the same middleware with no trigger. Caching is disabled so every request runs
the trigger and reaches the app. Both run in warm ``node`` workers (edge_middleware/js).

Targets: CloudFront Function <= +400 µs, Node.js handler <= +500 µs over no trigger.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edge_middleware import Behavior, EdgeMiddleware, EdgeWSGIMiddleware
from edge_middleware.js import CloudFrontFunction, NodeHandler

from . import apps
from ._harness import CaseResult, Settings, Spec, async_runner, comparison, interleave, sync_runner

HERE = Path(__file__).parent / "js"
MAX_CF_US = 400.0
MAX_NODE_US = 500.0
CF_ROW = "CloudFront Function, viewer-request header rewrite"
NODE_ROW = "Node.js Lambda@Edge, viewer-request handler"
PY_ROW = "for reference: Python viewer-request handler, same rewrite"


def py_rewrite(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["x-rewritten"] = [{"key": "X-Rewritten", "value": "1"}]
    return request


def _specs() -> dict[str, Spec]:
    return {
        CF_ROW: Spec("wrapped, no triggers", max_added_us=MAX_CF_US),
        NODE_ROW: Spec("wrapped, no triggers", max_added_us=MAX_NODE_US),
        PY_ROW: Spec("wrapped, no triggers"),
    }


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"benchmark setup is wrong: {what}")


def _functions() -> tuple[CloudFrontFunction, NodeHandler]:
    return (
        CloudFrontFunction(HERE / "rewrite.js", runtime="cloudfront-js-1.0", engine="node"),
        NodeHandler("viewer.handler", root=HERE),
    )


def run_asgi(settings: Settings, result: CaseResult) -> None:
    app = apps.starlette_app()
    get = apps.asgi_scope()
    cf, node = _functions()
    wrapped = {
        "no": EdgeMiddleware(app, config=apps.config()),
        "cf": EdgeMiddleware(
            app, config=apps.config(Behavior(viewer_request=cf, cache=apps.NO_CACHE))
        ),
        "node": EdgeMiddleware(
            app, config=apps.config(Behavior(viewer_request=node, cache=apps.NO_CACHE))
        ),
        "py": EdgeMiddleware(
            app, config=apps.config(Behavior(viewer_request=py_rewrite, cache=apps.NO_CACHE))
        ),
    }
    loop = asyncio.new_event_loop()
    try:
        for mw in wrapped.values():
            status, _, body = loop.run_until_complete(apps.asgi_once(mw, get))
            _check(status == 200 and body == apps.CONST_BODY, f"ASGI wrapped answered {status}")
        variants = {
            "wrapped, no triggers": async_runner(loop, apps.asgi_driver(wrapped["no"], get)),
            CF_ROW: async_runner(loop, apps.asgi_driver(wrapped["cf"], get)),
            NODE_ROW: async_runner(loop, apps.asgi_driver(wrapped["node"], get)),
            PY_ROW: async_runner(loop, apps.asgi_driver(wrapped["py"], get)),
        }
        stats = interleave(variants, settings)
    finally:
        loop.close()
        cf.close()
        node.close()
    section = comparison(
        "6",
        "6. JavaScript triggers — ASGI (Starlette constant route)",
        stats,
        _specs(),
        group="6 ASGI",
        result=result,
        key="js/asgi",
    )
    section.notes.append(
        "Both run in warm `node` worker processes; the CloudFront Function in a sandboxed vm "
        "context, converted from and to the Lambda@Edge shape in Python. The Python row is "
        "the same rewrite as a sync `def` handler (inline once proved fast): its cost is the "
        "full pipeline a request with any function takes, against the baseline's short way. "
        "The two JavaScript rows add to that the round trip to a node worker (a pipe write, "
        "node waking to answer, this process waking to read it), which on 2 shared cores "
        "varies by about 100 µs from run to run."
    )
    result.sections.append(section)


def run_wsgi(settings: Settings, result: CaseResult) -> None:
    app = apps.flask_app()
    get = apps.wsgi_environ()
    cf, node = _functions()
    wrapped = {
        "no": EdgeWSGIMiddleware(app, config=apps.config()),
        "cf": EdgeWSGIMiddleware(
            app, config=apps.config(Behavior(viewer_request=cf, cache=apps.NO_CACHE))
        ),
        "node": EdgeWSGIMiddleware(
            app, config=apps.config(Behavior(viewer_request=node, cache=apps.NO_CACHE))
        ),
        "py": EdgeWSGIMiddleware(
            app, config=apps.config(Behavior(viewer_request=py_rewrite, cache=apps.NO_CACHE))
        ),
    }
    try:
        for mw in wrapped.values():
            status, _, body = apps.wsgi_once(mw, get)
            _check(status == 200 and body == apps.CONST_BODY, f"WSGI wrapped answered {status}")
        variants = {
            "wrapped, no triggers": sync_runner(apps.wsgi_driver(wrapped["no"], get)),
            CF_ROW: sync_runner(apps.wsgi_driver(wrapped["cf"], get)),
            NODE_ROW: sync_runner(apps.wsgi_driver(wrapped["node"], get)),
            PY_ROW: sync_runner(apps.wsgi_driver(wrapped["py"], get)),
        }
        stats = interleave(variants, settings)
    finally:
        cf.close()
        node.close()
    section = comparison(
        "6",
        "6. JavaScript triggers — WSGI (Flask constant route)",
        stats,
        _specs(),
        group="6 WSGI",
        result=result,
        key="js/wsgi",
    )
    result.sections.append(section)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    run_asgi(settings, result)
    run_wsgi(settings, result)
    return result
