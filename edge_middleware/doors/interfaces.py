"""The ASGI 3 and WSGI (PEP 3333) callables the doors and the proxy speak, as type aliases,
and the one test of which of the two an app is."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, TypeAlias

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "StartResponse",
    "WSGIApp",
    "is_asgi_app",
    "is_wsgi_app",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse: TypeAlias = Callable[..., Any]
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def is_asgi_app(app: object) -> bool:
    """Whether ``app`` is an ASGI 3 app (an ``async`` callable), as opposed to WSGI."""
    if inspect.iscoroutinefunction(app):
        return True
    return inspect.iscoroutinefunction(getattr(app, "__call__", None))  # noqa: B004


def is_wsgi_app(app: object) -> bool:
    """Whether ``app`` is surely a WSGI app: a plain callable of exactly two positional
    parameters (``environ, start_response``). An ASGI app that is not an ``async`` callable
    (ASGI 2, or a callable returning an awaitable) takes one or three."""
    if not callable(app) or is_asgi_app(app):
        return False
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False
    return sum(p.kind in positional and p.default is p.empty for p in parameters) == 2
