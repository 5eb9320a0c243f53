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
    """Whether ``app`` is an ASGI 3 app, as opposed to WSGI: an ``async`` callable taking
    ``(scope, receive, send)`` (Starlette, FastAPI, Django's ``ASGIHandler``), or any callable
    of exactly three positional parameters."""
    if inspect.iscoroutinefunction(app):
        return True
    if inspect.iscoroutinefunction(getattr(app, "__call__", None)):  # noqa: B004
        return True
    return _positional_count(app) == 3


def is_wsgi_app(app: object) -> bool:
    """Whether ``app`` is surely a WSGI app: a plain callable of exactly two positional
    parameters (``environ, start_response``). An ASGI app that is not an ``async`` callable
    (ASGI 2, or a callable returning an awaitable) takes one or three."""
    if not callable(app) or is_asgi_app(app):
        return False
    return _positional_count(app, required=True) == 2


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _positional_count(app: object, *, required: bool = False) -> int | None:
    """How many positional parameters ``app`` takes (a bound ``__call__``: ``self`` not
    counted; ``required``: only those without a default); ``None`` when it cannot be known
    (``*args``, or no signature)."""
    try:
        parameters = inspect.signature(app).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return None
    return sum(
        p.kind in _POSITIONAL and not (required and p.default is not p.empty) for p in parameters
    )
