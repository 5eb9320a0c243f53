"""pytest fixtures for Lambda@Edge handlers and edge-wrapped apps (registered through the
``pytest11`` entry point, so installing edge_middleware is enough).

* ``edge_event``: an :class:`~edge_middleware.testing.EventBuilder`;
* ``edge_clock``: an :class:`~edge_middleware.testing.EdgeClock`, frozen until ``.advance()``;
* ``edge_client``: a factory ``edge_client(app, config=..., **options)`` returning a test client
  over the wrapped app (Starlette ``TestClient`` for ASGI, Werkzeug ``Client`` for WSGI),
  using ``edge_clock`` unless ``clock=`` is given or the app has the middleware in code
  already (then it is tested as it is, with its own config and clock); an ASGI app's lifespan
  runs (startup before the first request, shutdown at teardown); clients are closed at
  teardown.

Example::

    def test_login_redirect(edge_client):
        client = edge_client(app, config="distribution.json")
        response = client.get("/account/")
        assert response.status_code == 302
        assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"

    def test_cache_expires(edge_client, edge_clock):
        client = edge_client(app, config=config)
        client.get("/static/site.css")
        edge_clock.advance(86401)
        assert client.get("/static/site.css").headers["X-Cache"] == "Miss from cloudfront"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:  # imported by the fixtures when used: a pytest run that uses none pays nothing
    from starlette.testclient import TestClient

    from ..testing import EdgeClock, EventBuilder

__all__ = ["edge_client", "edge_clock", "edge_event"]


@pytest.fixture
def edge_event() -> EventBuilder:
    """An :class:`~edge_middleware.testing.EventBuilder` with CloudFront's defaults."""
    from ..testing import EventBuilder

    return EventBuilder()


@pytest.fixture
def edge_clock() -> EdgeClock:
    """A clock for ``clock=``: frozen at the test's start, moved with ``.advance(seconds)``."""
    from ..testing import EdgeClock

    return EdgeClock()


@pytest.fixture
def edge_client(edge_clock: EdgeClock) -> Iterator[Callable[..., Any]]:
    """A factory: ``edge_client(app, config=None, *, storage, clock, origins, asgi)``."""
    from ..testing import edge_test_client
    from ..testing.clients import has_front_door

    clients: list[Any] = []

    def make(app: Any, config: object = None, **options: Any) -> Any:
        if not has_front_door(app):  # (an app wrapped in code keeps the clock it was given)
            options.setdefault("clock", edge_clock)
        client = edge_test_client(app, config=config, **options)
        if hasattr(client, "portal"):  # Starlette's TestClient: the app's lifespan runs
            cast("TestClient", client).__enter__()  # (a FastAPI app's resources open)
        clients.append(client)
        return client

    yield make
    for client in clients:
        while getattr(client, "_entered", 0):  # (its with blocks nest: testing.clients)
            client.__exit__(None, None, None)  # the lifespan's shutdown, at the last
        close = getattr(client, "close", None)
        if close is not None:
            close()
