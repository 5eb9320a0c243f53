"""Apps behind the edge in tests: :func:`edge_test_client`, :func:`wrap_app`,
:class:`EdgeClock`."""

from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING, Any

from ..doors.asgi import EdgeMiddleware
from ..doors.interfaces import is_asgi_app
from ..doors.wsgi import EdgeWSGIMiddleware
from ..exceptions import ConfigurationError, MissingExtraError

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
            raise ConfigurationError(
                "EdgeClock.advance(seconds)", seconds, "a clock only moves forward: seconds >= 0"
            )
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
) -> Any:
    """``app`` wrapped in :class:`~edge_middleware.EdgeMiddleware` (ASGI) or
    :class:`~edge_middleware.EdgeWSGIMiddleware` (WSGI), detected unless ``asgi`` is given.
    An app that is already wrapped, or has the middleware inside (Flask's
    ``app.wsgi_app = EdgeWSGIMiddleware(...)``, FastAPI's ``add_middleware(EdgeMiddleware)``,
    as ``serve`` finds it), is returned as it is: then pass no config or options.

    ``options`` are the middleware's keyword options (``storage``, ``clock``, ``origins``).
    """
    if has_front_door(app):
        if config is not None or options:
            kind = type(config).__name__
            given = (  # what was given, in short (an EdgeConfig's repr is kilobytes long)
                f"{'an' if kind[:1] in 'AEIOU' else 'a'} {kind}"
                if config is not None
                else "options " + ", ".join(sorted(options))
            )
            raise ConfigurationError(
                "config" if config is not None else "options",
                given,
                "none: the app already has the edge middleware (in code); pass the config "
                "and options to it",
            )
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
    ASGI apps, Werkzeug's test ``Client`` for WSGI apps. Neither follows redirects. Use a
    ``TestClient`` in a ``with`` block to run the app's lifespan (one it lacks is answered for
    it), or close it when done; the ``edge_client`` fixture does both.

    Example::

        client = edge_test_client(flask_app.wsgi_app, config="distribution.json")
        assert client.get("/").headers["X-Cache"] == "Miss from cloudfront"
    """
    wrapped = wrap_app(app, config=config, asgi=asgi, **options)
    if isinstance(wrapped, EdgeMiddleware) or (
        not isinstance(wrapped, EdgeWSGIMiddleware) and is_asgi_app(wrapped)
    ):
        client_class = _nesting(_starlette_test_client())

        # a viewer at an IP address, as on the WSGI side (the TestClient's own is "testclient",
        # which would reach handlers as clientIp and X-Forwarded-For)
        return client_class(
            LifespanOptional(wrapped),
            base_url=base_url,
            follow_redirects=False,
            client=("127.0.0.1", 50000),
        )
    return _wsgi_client(wrapped, base_url)


class LifespanOptional:
    """An ASGI app whose lifespan a test client may run whether the app has one or not: an
    app that raises on the ``lifespan`` scope, or returns, before it sent anything has none,
    and the startup and shutdown are answered for it (as uvicorn's ``--lifespan auto`` does;
    the ASGI spec: "the server must continue but not send any lifespan events"), where
    Starlette's ``TestClient`` raised. Anything else goes to the app; its attributes are the
    app's."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        sent = started = False

        async def send_seen(message: Any) -> None:
            nonlocal sent
            sent = True
            await send(message)

        async def receive_seen() -> Any:
            nonlocal started
            message = await receive()
            started = started or message.get("type") == "lifespan.startup"
            return message

        try:
            await self.app(scope, receive_seen, send_seen)
        except Exception:
            if sent:
                raise  # a lifespan that failed (it said so): the test sees its error
        if sent:
            return
        # none: it raised, or returned having said nothing (``if scope["type"] != "http":
        # return``, which uvicorn's --lifespan auto serves too)
        if not started:
            await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def _starlette_test_client() -> type[TestClient]:
    """Starlette's ``TestClient``, on the HTTP client the installed Starlette takes: httpx2
    (Starlette 1.2+, which only warns, deprecated, with httpx) or httpx (older Starlette, which
    the package allows and which refused httpx2 alone)."""
    has_httpx2 = importlib.util.find_spec("httpx2") is not None
    if not has_httpx2 and importlib.util.find_spec("httpx") is None:
        raise MissingExtraError(
            "the ASGI test client (Starlette's TestClient)", "httpx2", "testing"
        )
    try:
        from starlette.testclient import TestClient
    except RuntimeError as exc:  # an older Starlette, with httpx2 and no httpx
        raise MissingExtraError(
            "the ASGI test client on a Starlette before 1.2", "httpx", "proxy"
        ) from exc
    return TestClient


def _nesting(base: type[TestClient]) -> type[TestClient]:
    """``base`` (Starlette's ``TestClient``) whose ``with`` blocks nest: the app's lifespan
    starts at the first and shuts down with the last. The ``edge_client`` fixture enters its
    clients: a test's own ``with`` block ran the startup a second time, and the first
    lifespan's shutdown never ran."""

    made = _NESTING.get(base)
    if made is not None:
        return made

    class TestClient(base):  # type: ignore[valid-type,misc] # (Starlette's, by its name too)
        _entered = 0

        def __enter__(self) -> Any:
            self._entered += 1
            if self._entered == 1:
                try:
                    super().__enter__()
                except BaseException:
                    self._entered = 0
                    raise
            return self

        def __exit__(self, *args: Any) -> None:
            self._entered = max(0, self._entered - 1)
            if self._entered == 0:
                super().__exit__(*args)

    _NESTING[base] = TestClient
    return TestClient


_NESTING: dict[type[Any], type[Any]] = {}


def has_front_door(app: Any) -> bool:
    """Whether ``app`` is, or has inside, an edge middleware (``devapp.find_front_door``)."""
    from ..devtools.devapp import find_front_door

    return find_front_door(app) is not None


def _wsgi_client(app: Any, base_url: str) -> Client:
    """Werkzeug's test ``Client`` with the ASGI client's ways: requests go to ``base_url``
    unless given a whole URL, and a ``Cookie`` header a request gives reaches the app as it
    is, instead of the cookies the client keeps (as httpx does; Werkzeug replaced it with its
    jar, empty at first)."""
    from werkzeug.test import Client

    class EdgeTestClient(Client):
        def open(self, *args: Any, **kwargs: Any) -> Any:
            path = args[0] if args else kwargs.get("path", "/")
            if isinstance(path, str) and "://" not in path:
                kwargs.setdefault("base_url", base_url)
            return super().open(*args, **kwargs)

        def _add_cookies_to_wsgi(self, environ: dict[str, Any]) -> None:
            if environ.get("HTTP_COOKIE"):
                return  # a Cookie header given goes as it is, the jar's are left out (httpx)
            super()._add_cookies_to_wsgi(environ)

    return EdgeTestClient(app)
