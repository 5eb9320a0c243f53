"""The two front doors for the tests: ``EdgeMiddleware`` (ASGI, driven by Starlette's
TestClient) and ``EdgeWSGIMiddleware`` (WSGI, driven by werkzeug's test Client), behind one
interface, so a test written once runs on both.

::

    door = door_fixture(Door)          # in a test module: the ``door`` fixture, asgi and wsgi

    def test_x(door: Door) -> None:
        app = door.pick(starlette_app, flask_app.wsgi_app)
        client = door.viewer(door.wrap(app, config))
        r = door.send(client, "GET", "/path", headers=[("accept", "*/*")])
        assert r.get("x-cache") == "Miss from cloudfront"
        door.advance(61)               # the middleware's clock is the door's fake clock
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import EdgeMiddleware, EdgeWSGIMiddleware

__all__ = [
    "BASE_URL",
    "DOORS",
    "START",
    "Door",
    "Resp",
    "asgi_scope",
    "call_asgi",
    "call_wsgi",
    "door_fixture",
    "leaving_once",
    "ok_asgi",
    "ok_wsgi",
    "send",
    "viewer",
    "wrap",
    "wsgi_environ",
]

#: The two front doors, as the ``door`` fixtures' params (and test ids).
DOORS = ("asgi", "wsgi")
BASE_URL = "http://testserver"
#: Where the doors' fake clocks start.
START = 1_700_000_000.0

Headers = Sequence[tuple[str, str]] | Mapping[str, str]


class Resp(NamedTuple):
    """What the viewer got: status, headers as (name, value) pairs as sent, body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def asgi_scope(
    path: str = "/", host: str = "testserver", client: str = "127.0.0.1", **extra: Any
) -> dict[str, Any]:
    """An HTTP/1.1 ``GET`` scope for ``path`` with only a ``Host`` header, for driving an ASGI
    app with no test client (``extra`` keys replace or add to it)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode())],
        "client": (client, 50000),
        "server": (host, 80),
        **extra,
    }


async def ok_asgi(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that answers ``200 ok`` with no headers."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def ok_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app that answers ``200 ok`` with no headers."""
    start_response("200 OK", [])
    return [b"ok"]


def first_then_last(
    seen_first: asyncio.Event, streamed: list[bool], headers: Sequence[Any] = ()
) -> Any:
    """An ASGI app that sends ``first``, waits up to 1 s for the viewer to have it
    (``seen_first`` set by the test's ``send``), notes in ``streamed`` whether it had, then
    sends ``last``: a stream that must reach the viewer as it comes."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        for _ in range(100):
            if seen_first.is_set():
                break
            await asyncio.sleep(0.01)
        streamed.append(seen_first.is_set())
        await send({"type": "http.response.body", "body": b"last", "more_body": False})

    return app


def call_asgi(
    app: Any,
    scope: dict[str, Any],
    messages: Sequence[dict[str, Any]] = (),
    *,
    stay: bool = True,
) -> list[dict[str, Any]]:
    """One request straight into ``app`` (no test client: it sends what the app sends, as it
    sends it): ``receive`` gives ``messages`` (default: an empty body), then, as a server
    does, waits for the response to end and says ``http.disconnect`` (``stay=False``: says it
    at once, a viewer gone after its body); returns the messages the app sent."""
    given = list(messages) or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if given:
            return given.pop(0)
        if stay:
            await done.wait()
        return {"type": "http.disconnect"}

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    asyncio.run(app(scope, receive, record))
    return sent


async def request_within(
    app: Any, scope: dict[str, Any], seconds: float = 10.0
) -> list[dict[str, Any]]:
    """:func:`call_asgi` on the running loop: ``receive`` gives an empty body, then says
    ``http.disconnect`` once the answer ended (as a server does); fails past ``seconds`` (a
    deadlock, where the call would wait for ever). Returns the messages the app sent."""
    sent: list[dict[str, Any]] = []
    ended = asyncio.Event()

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            ended.set()

    await asyncio.wait_for(app(scope, leaving_once(ended), record), seconds)
    return sent


def leaving_once(gone: asyncio.Event) -> Any:
    """A viewer's ``receive``, as a server gives it: an empty body, then nothing until ``gone``
    is set, then ``http.disconnect``."""
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    return receive


def wsgi_environ(
    method: str = "GET", path: str = "/p", body: bytes = b"", **extra: Any
) -> dict[str, Any]:
    """A minimal PEP 3333 environ for one request (``extra`` keys added)."""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "x",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **extra,
    }


def call_wsgi(
    app: Any, method: str = "GET", path: str = "/p", body: bytes = b"", **extra: Any
) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request straight into ``app`` with a minimal PEP 3333 environ (``extra`` keys
    added): ``(status, headers, body)``."""
    environ = wsgi_environ(method, path, body, **extra)
    got: list[Any] = []
    answer = app(environ, lambda status, headers, exc=None: got.append((status, headers)))
    try:
        data = b"".join(answer)
    finally:
        getattr(answer, "close", lambda: None)()
    return got[0][0], got[0][1], data


def wrap(kind: str, app: Any, config: Any = None, **options: Any) -> Any:
    """``app`` (an ASGI app for ``asgi``, a WSGI app for ``wsgi``) behind that door."""
    if kind == "asgi":
        return EdgeMiddleware(app, config=config, **options)
    return EdgeWSGIMiddleware(app, config=config, **options)


def viewer(kind: str, app: Any, *, base_url: str = BASE_URL, client_ip: str | None = None) -> Any:
    """A test client for ``app`` that follows no redirects and keeps no cookies (ASGI: the
    TestClient, whose cookie jar each request clears; WSGI: werkzeug's Client)."""
    if kind == "asgi":
        if client_ip is None:
            return TestClient(app, base_url=base_url, follow_redirects=False)
        return TestClient(app, base_url=base_url, follow_redirects=False, client=(client_ip, 50000))
    return Client(app, use_cookies=False)


def send(
    kind: str,
    client: Any,
    method: str = "GET",
    url: str = "/",
    headers: Headers = (),
    body: bytes | None = None,
    *,
    base_url: str = BASE_URL,
    client_ip: str | None = None,
    raw: bool = False,
    environ: Mapping[str, Any] | None = None,
) -> Resp:
    """One viewer request through ``client`` (from :func:`viewer`). ``url`` is a path (on
    ``base_url``) or an absolute URL. ``raw``: the body bytes as sent, not content-decoded
    (ASGI; WSGI bodies are never decoded). ``environ``: extra WSGI environ keys."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if kind == "asgi":
        client.cookies.clear()
        if raw:
            with client.stream(method, url, headers=pairs, content=body or None) as r:
                content = b"".join(r.iter_raw())
        else:
            r = client.request(method, url, headers=pairs, content=body or None)
            content = r.content
        sent = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw]
        return Resp(r.status_code, sent, content)
    if "://" in url:
        parts = urlsplit(url)
        base_url = f"{parts.scheme}://{parts.netloc}"
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    overrides = dict(environ or {})
    if client_ip is not None:
        overrides.setdefault("REMOTE_ADDR", client_ip)
    w = client.open(
        url,
        method=method,
        headers=pairs,
        data=body or None,
        base_url=base_url,
        environ_overrides=overrides or None,
    )
    try:
        return Resp(w.status_code, list(w.headers.to_wsgi_list()), w.get_data())
    finally:
        w.close()


@dataclass
class Door:
    """One front door (``kind``: ``asgi`` or ``wsgi``) and the fake clock its middlewares use."""

    kind: str
    now: list[float] = field(default_factory=lambda: [START])

    def clock(self) -> float:
        return self.now[0]

    def advance(self, seconds: float) -> None:
        self.now[0] += seconds

    def pick(self, asgi: Any, wsgi: Any) -> Any:
        """The one of two values for this door."""
        return asgi if self.kind == "asgi" else wsgi

    def wrap(self, app: Any, config: Any = None, **options: Any) -> Any:
        """:func:`wrap` on this door, with the door's clock unless ``options`` gives one."""
        options.setdefault("clock", self.clock)
        return wrap(self.kind, app, config, **options)

    def viewer(self, app: Any, **options: Any) -> Any:
        return viewer(self.kind, app, **options)

    def send(self, client: Any, method: str = "GET", url: str = "/", **options: Any) -> Resp:
        return send(self.kind, client, method, url, **options)


T = TypeVar("T")


def door_fixture(make: Callable[[str], T], name: str = "door") -> Any:
    """A fixture named ``name`` that gives ``make("asgi")`` and ``make("wsgi")``, one per run:
    ``door = door_fixture(Door)`` in a test module runs its tests on both doors."""

    @pytest.fixture(params=DOORS, name=name)
    def door(request: pytest.FixtureRequest) -> T:
        return make(request.param)

    return door
