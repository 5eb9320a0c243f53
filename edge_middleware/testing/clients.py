"""Apps behind the edge in tests: :func:`edge_test_client`, :func:`wrap_app`,
:class:`EdgeClock`."""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING, Any

from ..doors.asgi import EdgeMiddleware
from ..doors.interfaces import is_asgi_app
from ..doors.wsgi import EdgeWSGIMiddleware

if TYPE_CHECKING:
    from starlette.testclient import TestClient
    from werkzeug.test import Client

__all__ = ["EdgeClock", "edge_test_client", "is_asgi_app", "wrap_app"]


class EdgeClock:
    """A clock for ``clock=``: call it for the time; it moves only when told to.

    Example::

        clock = EdgeClock()
        app = EdgeMiddleware(app, config=config, clock=clock)
        clock.advance(3600)                     # an hour later: the cached copy is stale
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError(f"seconds {seconds!r}: a clock only moves forward")
        self.now += seconds
        return self.now

    def set(self, when: float) -> None:
        """Jump to ``when`` (seconds since the epoch)."""
        self.now = float(when)


def wrap_app(
    app: Any,
    *,
    config: object = None,
    asgi: bool | None = None,
    **options: Any,
) -> EdgeMiddleware | EdgeWSGIMiddleware:
    """``app`` wrapped in :class:`~edge_middleware.EdgeMiddleware` (ASGI) or
    :class:`~edge_middleware.EdgeWSGIMiddleware` (WSGI), detected unless ``asgi`` is given.
    An app that is already wrapped is returned as it is (then pass no options).

    ``options`` are the middleware's keyword options (``storage``, ``clock``, ``origins``).
    """
    if isinstance(app, EdgeMiddleware | EdgeWSGIMiddleware):
        if config is not None or options:
            raise ValueError("app is already wrapped: pass config and options to it instead")
        return app
    if asgi if asgi is not None else is_asgi_app(app):
        return EdgeMiddleware(app, config=config, **options)
    return EdgeWSGIMiddleware(app, config=config, **options)


def edge_test_client(
    app: Any,
    *,
    config: object = None,
    asgi: bool | None = None,
    base_url: str = "http://testserver",
    **options: Any,
) -> TestClient | Client:
    """A test client over ``app`` wrapped by :func:`wrap_app`: Starlette's ``TestClient`` for
    ASGI apps, Werkzeug's test ``Client`` for WSGI apps. Neither follows redirects. Close a
    ``TestClient`` when done (the ``edge_client`` fixture does).

    Example::

        client = edge_test_client(flask_app.wsgi_app, config="distribution.json")
        assert client.get("/").headers["X-Cache"] == "Miss from cloudfront"
    """
    wrapped = wrap_app(app, config=config, asgi=asgi, **options)
    if isinstance(wrapped, EdgeMiddleware):
        # Starlette 1.x's TestClient wants httpx2 and only warns (deprecated) with httpx.
        if importlib.util.find_spec("httpx2") is None:
            raise ImportError(
                "the ASGI test client (Starlette's TestClient) needs httpx2: "
                "pip install 'edge-middleware[testing]'"
            )
        from starlette.testclient import TestClient

        return TestClient(wrapped, base_url=base_url, follow_redirects=False)
    from werkzeug.test import Client

    return Client(wrapped)
