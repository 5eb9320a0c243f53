"""Case 5, last table: the bare app's own time alone and inside a wrapped request.

On the WSGI door the origin app runs on the request's own thread, so a timer around its call
measures the app and nothing else. The same Flask app, alone, costs less than inside a wrapped
request: the Python code run around it (the middleware's, or any other) leaves the CPU's caches
and branch predictors less warm for it. A row with unrelated pure-Python work between requests
(JSON, URL and date parsing; none of edge_middleware) shows that this is not something the
middleware does to the app, and how much of an "added µs" figure it explains.
"""

from __future__ import annotations

import email.utils
import json
import statistics
import string
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from edge_middleware import EdgeWSGIMiddleware

from . import apps
from ._harness import Section, Settings, fmt_signed_us, fmt_us

__all__ = ["app_inside"]

_EVENT = {"Records": [{"cf": {"config": {"eventType": "viewer-request"}, "request": {"uri": "/"}}}]}


def _unrelated() -> None:
    """About 40 µs of pure-Python standard library work that is not edge_middleware's."""
    for _ in range(3):
        json.loads(json.dumps(_EVENT))
        urllib.parse.urlsplit("http://example.com/a/b?c=d#e")
        urllib.parse.parse_qsl("a=1&b=2&c=3")
        email.utils.parsedate_tz("Wed, 21 Oct 2015 07:28:00 GMT")
        string.Template("$a $b").substitute(a=1, b=2)


def _timed(acc: list[float]) -> Callable[..., Iterable[bytes]]:
    """The bench's Flask app behind a timer that adds its call, body included, to ``acc``."""
    app = apps.flask_app()

    def timed(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        t0 = time.perf_counter()
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
        acc[0] += time.perf_counter() - t0
        return [body]

    return timed


def app_inside(settings: Settings) -> Section:
    env = apps.wsgi_environ()
    variants: dict[str, tuple[list[float], Callable[[int], None]]] = {}

    def add(label: str, wrap: Callable[[Any], Any], between: Callable[[], None] | None) -> None:
        acc = [0.0]
        drive = apps.wsgi_driver(wrap(_timed(acc)), env)

        def serve(n: int) -> None:
            if between is None:
                drive(n)
                return
            for _ in range(n):
                drive(1)
                between()

        variants[label] = (acc, serve)

    t0 = time.perf_counter()
    for _ in range(200):
        _unrelated()
    unrelated_us = (time.perf_counter() - t0) / 200 * 1e6
    add("alone (bare app)", lambda app: app, None)
    add(
        f"alone, {fmt_us(unrelated_us)} µs of unrelated Python between requests",
        lambda app: app,
        _unrelated,
    )
    add(
        "inside the short way (no triggers)",
        lambda app: EdgeWSGIMiddleware(app, config=apps.config()),
        None,
    )
    add(
        "inside four sync triggers",
        lambda app: EdgeWSGIMiddleware(app, config=apps.config(apps.four_triggers())),
        None,
    )
    n = 300 if settings.quick else 2000
    per: dict[str, list[float]] = {label: [] for label in variants}
    for _acc, serve in variants.values():
        serve(200)  # warm
    for _ in range(max(3, settings.rounds)):
        for label, (acc, serve) in variants.items():
            acc[0] = 0.0
            serve(n)
            per[label].append(acc[0] / n * 1e6)
    alone = statistics.median(per["alone (bare app)"])
    section = Section(
        "5. Profile — the bare app's own time, alone and inside a wrapped request (WSGI, Flask)",
        ["where the app runs", "app's own µs/request (median)", "vs alone"],
    )
    for label, values in per.items():
        mid = statistics.median(values)
        section.rows.append(
            [label, fmt_us(mid), "" if label.startswith("alone (") else fmt_signed_us(mid - alone)]
        )
    section.notes.append(
        "A timer around the origin app's call (body included) on the request's thread. The app "
        "does the same work in every row; it is slower when more Python runs around it, "
        "whoever's code that is (the unrelated row). So part of case 1's 'added µs' is the "
        "app's own code running colder, and a wrapper's cost is larger than its own code's "
        "time in a loop on its own."
    )
    return section
