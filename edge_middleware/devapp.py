"""What the dev server calls (``server.py``): importing ``module:attribute``, telling ASGI from
WSGI, reading ``--config``, and the holders that the server calls instead of the middleware.

A holder forwards to its current middleware, which ``--reload`` replaces in place. It also
answers ``POST /_edge/invalidate`` (a JSON list of paths) for loopback clients only, which is
how ``edge-middleware invalidate --server`` reaches the running cache.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import ipaddress
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from .asgi import EdgeMiddleware
from .config import EdgeConfig
from .exceptions import ConfigurationError
from .wsgi import EdgeWSGIMiddleware

__all__ = [
    "INVALIDATE_PATH",
    "ASGIHolder",
    "Interface",
    "Middleware",
    "ServeError",
    "WSGIHolder",
    "detect_interface",
    "find_front_door",
    "import_object",
    "invalidate_request",
    "load_edge_config",
]

logger = logging.getLogger("edge_middleware.server")

#: Answered for loopback clients only; anything else goes to the app as usual.
INVALIDATE_PATH = "/_edge/invalidate"

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
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(what, spec, f"an importable module ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigurationError(what, spec, f"{module_name} to define {attr}") from None
    return obj


def _positional_count(func: Any) -> int | None:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values() if p.kind in kinds)


def detect_interface(app: Any) -> Interface:
    """``"asgi"`` for an ASGI 3 app, ``"wsgi"`` otherwise.

    ASGI: an ``async def`` function (or an object whose ``__call__`` is one) taking
    ``(scope, receive, send)``, as Starlette, FastAPI and Django's ``ASGIHandler`` are, or any
    callable of exactly three positional parameters. Everything else (Flask, Django's
    ``WSGIHandler``, ``(environ, start_response)`` functions) is WSGI.
    """
    if not callable(app):
        raise ConfigurationError("APP", app, "an ASGI or WSGI application (a callable)")
    if inspect.isclass(app):
        raise ConfigurationError("APP", app, "an application instance, not a class")
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return "asgi"
    if inspect.isroutine(app):
        return "asgi" if _positional_count(app) == 3 else "wsgi"
    count = _positional_count(app)  # bound __call__: self is not counted
    return "asgi" if count == 3 else "wsgi"


def find_front_door(app: Any, *, _depth: int = 0) -> EdgeMiddleware | EdgeWSGIMiddleware | None:
    """The edge middleware ``app`` already has in code, or None.

    Follows what frameworks and wrappers keep: the app itself, Flask's ``app.wsgi_app``,
    Starlette's/FastAPI's ``user_middleware`` (the stack is built here so the instance
    exists), and ``.app`` / ``.application`` / ``.wrapped`` of any wrapper, a few levels deep.
    """
    if isinstance(app, EdgeMiddleware | EdgeWSGIMiddleware):
        return app
    if _depth > 8 or app is None:
        return None
    user_middleware = getattr(app, "user_middleware", None)
    if isinstance(user_middleware, list) and any(
        isinstance(getattr(m, "cls", None), type) and issubclass(m.cls, EdgeMiddleware)
        for m in user_middleware
    ):
        build = getattr(app, "build_middleware_stack", None)
        if getattr(app, "middleware_stack", None) is None and callable(build):
            app.middleware_stack = build()  # what Starlette does on its first request
    for attr in ("middleware_stack", "wsgi_app", "app", "application", "wrapped"):
        inner = getattr(app, attr, None)
        if inner is None or inner is app or isinstance(inner, type):
            continue
        found = find_front_door(inner, _depth=_depth + 1)
        if found is not None:
            return found
    return None


def describe_config(config: EdgeConfig) -> str:
    """A short name for a config in messages: its distribution and behavior count."""
    count = len(config.all_behaviors)
    return f"distribution {config.distribution_id}, {count} behavior{'s' * (count != 1)}"


def load_edge_config(
    spec: str | None,
    handlers: Mapping[str, str] | None = None,
    *,
    logical_id: str | None = None,
) -> tuple[EdgeConfig, Path | None, str | None]:
    """``--config``: a file for ``load_config``, or ``module:attribute`` naming an EdgeConfig
    (or a mapping). Returns the config, the file it came from, the module it came from."""
    from .loaders import load_config

    if spec is None:
        return EdgeConfig(), None, None
    path = Path(spec)
    if path.exists() or ":" not in spec or os.sep in spec:
        if not path.is_file():
            raise ConfigurationError("--config", spec, "an existing file")
        config = load_config(path, handlers=dict(handlers or {}), logical_id=logical_id)
        return config, path.resolve(), None
    obj = import_object(spec, "--config")
    module = spec.partition(":")[0]
    if isinstance(obj, EdgeConfig):
        return obj, None, module
    if isinstance(obj, Mapping):
        return load_config(obj, handlers=dict(handlers or {})), None, module
    raise ConfigurationError("--config", spec, "an EdgeConfig, a mapping or a config file")


# -- invalidation endpoint -------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def invalidate_request(
    method: str, content_type: str, body: bytes, invalidate: Callable[[list[str]], int]
) -> tuple[int, dict[str, Any]]:
    """Handle ``POST /_edge/invalidate``: ``["/path", "/images/*"]`` or ``{"paths": [...]}``.

    A JSON content type is required, so a web page cannot trigger it with a simple
    cross-site form post."""
    if method != "POST":
        return 405, {"error": "use POST"}
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return 415, {"error": "send Content-Type: application/json"}
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    paths = doc.get("paths") if isinstance(doc, dict) else doc
    if (
        not isinstance(paths, list)
        or not paths
        or not all(isinstance(p, str) and p.startswith("/") for p in paths)
    ):
        return 400, {"error": 'expected a JSON list of paths, e.g. ["/index.html", "/img/*"]'}
    count = invalidate(paths)
    logger.info("invalidated %d cache entries for %s", count, paths)
    return 200, {"invalidated": count, "paths": paths}


def _invalidate_message(status: int, doc: dict[str, Any]) -> str:
    if status != 200:
        return f"POST {INVALIDATE_PATH}: {status} {doc.get('error')}"
    return f"invalidated {doc['invalidated']} cached object(s) for {' '.join(doc['paths'])}"


class ASGIHolder:
    """What uvicorn calls: the current :class:`EdgeMiddleware`, swappable on reload."""

    def __init__(
        self,
        middleware: EdgeMiddleware,
        notify: Callable[[str], None] | None = None,
        app: Any = None,
    ) -> None:
        self.middleware = middleware
        self.notify = notify
        #: What requests go to: the middleware, or the app that already wraps it in code.
        self.app: Any = app if app is not None else middleware

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if (
            scope["type"] == "http"
            and scope.get("path") == INVALIDATE_PATH
            and _is_loopback(client[0] if client else None)
        ):
            await self._invalidate(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _invalidate(self, scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        content_type = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-type":
                content_type = value.decode("latin-1")
        status, doc = await asyncio.to_thread(
            invalidate_request,
            scope["method"],
            content_type,
            b"".join(chunks),
            self.middleware.invalidate,
        )
        if self.notify is not None:
            self.notify(_invalidate_message(status, doc))
        body = json.dumps(doc).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class WSGIHolder:
    """What the WSGI server calls: the current :class:`EdgeWSGIMiddleware`."""

    def __init__(
        self,
        middleware: EdgeWSGIMiddleware,
        notify: Callable[[str], None] | None = None,
        app: Any = None,
    ) -> None:
        self.middleware = middleware
        self.notify = notify
        #: What requests go to: the middleware, or the app that already wraps it in code.
        self.app: Any = app if app is not None else middleware

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == INVALIDATE_PATH and _is_loopback(environ.get("REMOTE_ADDR")):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            status, doc = invalidate_request(
                environ["REQUEST_METHOD"],
                environ.get("CONTENT_TYPE", ""),
                body,
                self.middleware.invalidate,
            )
            if self.notify is not None:
                self.notify(_invalidate_message(status, doc))
            out = json.dumps(doc).encode()
            start_response(
                f"{status} {'OK' if status == 200 else 'Error'}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
            )
            return [out]
        result: Iterable[bytes] = self.app(environ, start_response)
        return result
