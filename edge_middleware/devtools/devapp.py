"""What the dev server calls (``server.py``): importing ``module:attribute``, telling ASGI from
WSGI, reading ``--config``, and the holders that the server calls instead of the middleware.

A holder forwards to its current middleware, which ``--reload`` replaces in place. It also
answers ``POST /_edge/invalidate`` (a JSON list of paths) for loopback clients only, which is
how ``edge-middleware invalidate --server`` reaches the running cache.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.util
import inspect
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

from ..config.model import EdgeConfig
from ..core.handler_loading import import_attribute
from ..core.simulate import VIEWER_HEADER, parse_viewer_header, simulated
from ..doors.asgi import EdgeMiddleware
from ..doors.interfaces import is_asgi_app
from ..doors.wsgi import EdgeWSGIMiddleware
from ..exceptions import ConfigurationError
from .cli_base import config_error
from .devguard import Guard, asgi_headers, is_loopback, wsgi_headers
from .invalidation import (
    INVALIDATE_PATH,
    _invalidate_message,
    _invalidate_refused,
    every_edge,
    invalidate_request,
    invalidated_words,
)

__all__ = [
    "INVALIDATE_PATH",
    "ASGIHolder",
    "Interface",
    "Middleware",
    "ServeError",
    "WSGIHolder",
    "detect_interface",
    "find_front_door",
    "find_front_doors",
    "import_object",
    "invalidate_request",
    "invalidated_words",
    "load_edge_config",
    "require_extra",
    "with_one_date",
]

logger = logging.getLogger("edge_middleware.server")

Interface = Literal["asgi", "wsgi"]
Middleware = EdgeMiddleware | EdgeWSGIMiddleware


class ServeError(ConfigurationError):
    """A ``serve`` setup the dev server refuses, with a message in plain words."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(field, value, message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def import_object(spec: str, what: str = "APP") -> Any:
    """``"package.module:attribute"`` (the attribute may be dotted) to the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(what, spec, '"module:attribute"')
    return import_attribute(
        module_name, attr, lambda expected: ConfigurationError(what, spec, expected)
    )


def detect_interface(app: Any) -> Interface:
    """``"asgi"`` for an ASGI 3 app, ``"wsgi"`` otherwise (``doors.interfaces.is_asgi_app``:
    an ``async`` callable or any callable of three positional parameters is ASGI; Flask,
    Django's ``WSGIHandler`` and ``(environ, start_response)`` functions are WSGI)."""
    if not callable(app):
        raise ConfigurationError("APP", app, "an ASGI or WSGI application (a callable)")
    if inspect.isclass(app):
        raise ConfigurationError("APP", app, "an application instance, not a class")
    return "asgi" if is_asgi_app(app) else "wsgi"


def find_front_door(app: Any) -> EdgeMiddleware | EdgeWSGIMiddleware | None:
    """The edge middleware ``app`` already has in code (the outermost), or None."""
    found = find_front_doors(app)
    return found[0] if found else None


def find_front_doors(app: Any) -> list[EdgeMiddleware | EdgeWSGIMiddleware]:
    """Every edge middleware ``app`` has in code, outermost first.

    Follows what frameworks and wrappers keep: the app itself, Flask's ``app.wsgi_app``,
    Starlette's/FastAPI's ``user_middleware`` (the stack is built here so the instance
    exists), ``.app`` / ``.application`` / ``.wrapped`` of any wrapper, the apps of Starlette's
    ``Mount``/``Host`` routes and of a dispatcher's ``mounts`` (werkzeug's
    DispatcherMiddleware), a few levels deep and a bounded number of objects (an object that
    makes up attributes cannot loop).
    """
    found: list[EdgeMiddleware | EdgeWSGIMiddleware] = []
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = [(app, 0)]
    while todo and len(seen) < 256:
        obj, depth = todo.pop(0)
        if obj is None or id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if isinstance(obj, EdgeMiddleware | EdgeWSGIMiddleware):
            found.append(obj)  # (what it wraps is its origin: not searched)
            continue
        if depth >= 8:
            continue
        _build_starlette_stack(obj)
        todo.extend((inner, depth + 1) for inner in _inner_apps(obj))
    return found


def _inner_apps(obj: Any) -> list[Any]:
    inner: list[Any] = []
    for attr in ("middleware_stack", "wsgi_app", "app", "application", "wrapped", "routes"):
        try:
            value = getattr(obj, attr, None)
        except Exception:  # a property that fails is not a wrapper
            continue
        if attr == "routes":  # Starlette's: only a Mount's or a Host's app is another app
            if isinstance(value, list):
                inner += [r.app for r in value[:256] if hasattr(r, "routes") and hasattr(r, "app")]
        elif value is not None and value is not obj:
            inner.append(value)
    mounts = getattr(obj, "mounts", None)
    if isinstance(mounts, dict):  # werkzeug's DispatcherMiddleware
        inner += list(mounts.values())[:256]
    return inner


def _build_starlette_stack(app: Any) -> None:
    """Starlette builds its middleware stack on the first request; build it now when an
    :class:`EdgeMiddleware` is among ``user_middleware``, so the instance can be found."""
    try:
        user_middleware = getattr(app, "user_middleware", None)
        if not isinstance(user_middleware, list) or not any(
            isinstance(getattr(m, "cls", None), type) and issubclass(m.cls, EdgeMiddleware)
            for m in user_middleware
        ):
            return
        build = getattr(app, "build_middleware_stack", None)
        if getattr(app, "middleware_stack", None) is None and callable(build):
            app.middleware_stack = build()  # what Starlette does on its first request
    except Exception:  # not a Starlette app after all
        return


def describe_config(config: EdgeConfig) -> str:
    """A short name for a config in messages: its distribution and behavior count."""
    count = len(config.all_behaviors)
    return f"distribution {config.distribution_id}, {count} behavior{'s' * (count != 1)}"


#: ``pip install 'edge-middleware[EXTRA]'`` for what each optional import is for.
EXTRAS = {"uvicorn": "server", "cheroot": "server", "httpx": "proxy", "cryptography": "tls"}


def require_extra(module: str, extra: str, what: str) -> None:
    """Fail now, with the install line, when an optional dependency is missing."""
    if importlib.util.find_spec(module) is None:
        raise ServeError(
            what,
            module,
            f"{what} needs {module}, which is not installed: "
            f"pip install 'edge-middleware[{extra}]'",
        )


def load_edge_config(
    spec: str | None,
    handlers: Mapping[str, str] | None = None,
    *,
    logical_id: str | None = None,
    policies: str | Sequence[str] | None = None,
    key_value_stores: Mapping[str, str] | None = None,
) -> tuple[EdgeConfig, Path | None, str | None]:
    """``--config``: a file for ``load_config``, or ``module:attribute`` naming an EdgeConfig
    (or a mapping). Returns the config, the file it came from, the module it came from.
    ``policies``: a ``--policies`` file (``aws cloudfront get-cache-policy`` output ...)."""
    from ..config.loaders import load_config
    from ..config.loaders.policy_files import read_policies

    if spec is None:
        if policies is not None:
            raise ServeError("--policies", policies, "--policies goes with --config FILE")
        return EdgeConfig(), None, None
    given = read_policies(policies) if policies is not None else None
    path = Path(spec)
    if path.exists() or ":" not in spec or os.sep in spec:
        if not path.is_file():
            raise ConfigurationError("--config", spec, "an existing file")
        try:
            config = load_config(
                path,
                handlers=dict(handlers or {}),
                logical_id=logical_id,
                policies=given,
                key_value_stores=dict(key_value_stores or {}) or None,
            )
        except ConfigurationError as exc:  # the file named, in the command line's terms
            raise ServeError(exc.field, exc.value, config_error(spec, exc)) from exc
        return config, path.resolve(), None
    obj = import_object(spec, "--config")
    module = spec.partition(":")[0]
    if isinstance(obj, EdgeConfig):
        return obj, None, module
    if isinstance(obj, Mapping):
        stores = dict(key_value_stores or {}) or None
        config = load_config(
            obj, handlers=dict(handlers or {}), policies=given, key_value_stores=stores
        )
        return config, None, module
    raise ConfigurationError("--config", spec, "an EdgeConfig, a mapping or a config file")


# -- invalidation endpoint -------------------------------------------------------------------


_is_loopback = is_loopback  # the name tests and older callers use


class ASGIHolder:
    """What uvicorn calls: the current :class:`EdgeMiddleware`, swappable on reload.

    It also answers ``POST /_edge/invalidate`` for the local developer (``guard``), turns a
    loopback client's ``X-Forwarded-Proto: https`` into an HTTPS viewer when
    ``trust_forwarded_proto``, and applies a local ``X-Edge-Viewer`` header (simulate.py).
    """

    def __init__(
        self,
        middleware: EdgeMiddleware,
        notify: Callable[[str], None] | None = None,
        app: Any = None,
        guard: Guard | None = None,
    ) -> None:
        self.middleware = middleware
        #: every edge the server serves (set by the dev server): all are invalidated
        self.edges: list[Any] = []
        self.notify = notify
        #: What requests go to: the middleware, or the app that already wraps it in code.
        self.app: Any = app if app is not None else middleware
        self.guard = guard if guard is not None else Guard()
        self.trust_forwarded_proto = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):  # (an upgrade is a viewer request too)
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        headers = asgi_headers(scope)
        if scope.get("path") == INVALIDATE_PATH and is_loopback(peer) and scope["type"] == "http":
            await self._invalidate(scope, receive, send, peer, headers)
            return
        simulated_now: tuple[tuple[str, str], ...] = ()
        if VIEWER_HEADER in headers:
            if self.guard.local(peer, headers):
                simulated_now = parse_viewer_header(headers[VIEWER_HEADER])
            scope = dict(scope)
            scope["headers"] = [
                (k, v) for k, v in scope["headers"] if k.lower() != VIEWER_HEADER.encode()
            ]
        if (
            self.trust_forwarded_proto
            and scope.get("scheme") in ("http", "ws")
            and headers.get("x-forwarded-proto", "").strip().lower() in ("https", "wss")
            and is_loopback(peer)
        ):
            scope = dict(scope, scheme="https" if scope["type"] == "http" else "wss")
        if not simulated_now:
            await self.app(scope, receive, send)
            return
        token = simulated.set(simulated_now)
        try:
            await self.app(scope, receive, send)
        finally:
            simulated.reset(token)

    async def _invalidate(
        self, scope: Any, receive: Any, send: Any, peer: str | None, headers: dict[str, str]
    ) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode("latin-1")
        reason = self.guard.refusal(peer, headers, query)
        if reason is not None:
            status, doc = _invalidate_refused(reason)
        else:
            status, doc = await asyncio.to_thread(
                invalidate_request,
                scope["method"],
                headers.get("content-type", ""),
                b"".join(chunks),
                *every_edge(self.edges or [self.middleware]),
            )
        if self.notify is not None:
            self.notify(_invalidate_message(status, doc))
        body = json.dumps(doc).encode()
        out = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})


def with_one_date(app: Any) -> Any:
    """The ASGI app as the dev server serves it under uvicorn (``date_header=False``)."""

    async def served(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, _one_date(send) if scope["type"] == "http" else send)

    return served


def _one_date(send: Any) -> Any:
    """uvicorn runs with ``date_header=False``: a response gets one ``Date``, the origin's
    when it sent one, else the server's (uvicorn would add its own beside the origin's)."""

    async def sender(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"date" for name, _ in headers):
                headers.append((b"date", formatdate(usegmt=True).encode()))
                message = {**message, "headers": headers}
        await send(message)

    return sender


class _InContext:
    """A WSGI response iterable whose iteration (where the work may happen) runs in ``ctx``."""

    def __init__(self, ctx: contextvars.Context, result: Iterable[bytes]) -> None:
        self.ctx = ctx
        self.result = result
        self.iterator = ctx.run(iter, result)

    def __iter__(self) -> _InContext:
        return self

    def __next__(self) -> bytes:
        return self.ctx.run(next, self.iterator)

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            self.ctx.run(close)


class WSGIHolder:
    """What the WSGI server calls: the current :class:`EdgeWSGIMiddleware` (see ASGIHolder)."""

    def __init__(
        self,
        middleware: EdgeWSGIMiddleware,
        notify: Callable[[str], None] | None = None,
        app: Any = None,
        guard: Guard | None = None,
    ) -> None:
        self.middleware = middleware
        #: every edge the server serves (set by the dev server): all are invalidated
        self.edges: list[Any] = []
        self.notify = notify
        #: What requests go to: the middleware, or the app that already wraps it in code.
        self.app: Any = app if app is not None else middleware
        self.guard = guard if guard is not None else Guard()
        self.trust_forwarded_proto = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR")
        headers = wsgi_headers(environ)
        if environ.get("PATH_INFO") == INVALIDATE_PATH and is_loopback(peer):
            return self._invalidate(environ, start_response, peer, headers)
        simulated_now: tuple[tuple[str, str], ...] = ()
        if VIEWER_HEADER in headers:
            if self.guard.local(peer, headers):
                simulated_now = parse_viewer_header(headers[VIEWER_HEADER])
            environ.pop("HTTP_X_EDGE_VIEWER", None)
        if (
            self.trust_forwarded_proto
            and environ.get("wsgi.url_scheme") == "http"
            and headers.get("x-forwarded-proto", "").strip().lower() == "https"
            and is_loopback(peer)
        ):
            environ["wsgi.url_scheme"] = "https"
        if not simulated_now:
            result: Iterable[bytes] = self.app(environ, start_response)
            return result
        ctx = contextvars.copy_context()
        ctx.run(simulated.set, simulated_now)
        return _InContext(ctx, ctx.run(self.app, environ, start_response))

    def _invalidate(
        self, environ: dict[str, Any], start_response: Any, peer: str | None, headers: Any
    ) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        reason = self.guard.refusal(peer, headers, environ.get("QUERY_STRING", ""))
        if reason is not None:
            status, doc = _invalidate_refused(reason)
        else:
            status, doc = invalidate_request(
                environ["REQUEST_METHOD"],
                environ.get("CONTENT_TYPE", ""),
                body,
                *every_edge(self.edges or [self.middleware]),
            )
        if self.notify is not None:
            self.notify(_invalidate_message(status, doc))
        out = json.dumps(doc).encode()
        start_response(
            f"{status} {_STATUS_WORDS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
        )
        return [out]


_STATUS_WORDS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
}
