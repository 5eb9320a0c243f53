"""A Flask app behind ``EdgeWSGIMiddleware`` with a shared ``RedisStorage`` (see the package
docstring). Run: ``gunicorn -w 2 tests.worker_apps.wsgi_worker:app``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request

from edge_middleware import EdgeWSGIMiddleware
from tests.worker_apps import BRIEF_CACHE_CONTROL, CACHE_CONTROL, CONFIG, record_call, redis_storage

flask_app = Flask(__name__)


def _answer(path: str, cache_control: str = CACHE_CONTROL) -> Response:
    record_call(path)
    return Response(
        f"{path} from {os.getpid()}",
        mimetype="text/plain",
        headers={"Cache-Control": cache_control, "X-Origin-Pid": str(os.getpid())},
    )


@flask_app.route("/obj/<name>")
def obj(name: str) -> Response:
    return _answer(request.path)


@flask_app.route("/slow/<name>")
def slow(name: str) -> Response:
    time.sleep(1.0)
    return _answer(request.path)


@flask_app.route("/brief/<name>")
def brief(name: str) -> Response:
    time.sleep(1.0)
    return _answer(request.path, BRIEF_CACHE_CONTROL)


@flask_app.route("/hold/<seconds>")
def hold(seconds: str) -> Response:
    time.sleep(float(seconds))
    return Response("held", mimetype="text/plain", headers={"X-Origin-Pid": str(os.getpid())})


flask_app.wsgi_app = EdgeWSGIMiddleware(  # type: ignore[method-assign]
    flask_app.wsgi_app, config=CONFIG, storage=redis_storage()
)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The Flask app plus ``X-Worker-Pid`` on every response (outside the edge: hits too)."""
    pid = str(os.getpid())

    def start_with_pid(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
        return start_response(status, [*headers, ("X-Worker-Pid", pid)], *exc)

    return flask_app(environ, start_with_pid)
