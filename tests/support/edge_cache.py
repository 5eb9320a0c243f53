"""The cache scenarios' harness: an :class:`Edge` is one middleware (door + storage) over
its own scripted origin (``tests/cache_apps.py``) on a fake clock; ``door, store, edge =
cache_fixtures()`` in a test module runs its tests on both doors and both storages
(``MemoryStorage``, and ``RedisStorage`` on the real server of ``redis_url``, marked ``redis``)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from werkzeug.http import http_date
from werkzeug.test import Client, EnvironBuilder

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeSettings,
    MemoryStorage,
    RedisStorage,
)
from edge_middleware.cache.rules import cache_key
from tests.cache_apps import ScriptedOrigin, flask_origin, starlette_origin
from tests.support import doors
from tests.support.servers import wait_until

MISS = "Miss from cloudfront"
HIT = "Hit from cloudfront"
REFRESH_HIT = "RefreshHit from cloudfront"
ERROR = "Error from cloudfront"
LAMBDA = "LambdaGeneratedResponse from cloudfront"

#: The spec's t=0 on the fake clock.
BASE = 1_700_000_000.0
DATE = http_date(BASE)
#: Bounded waits for the two scenarios that need real concurrency (C35, C37).
WAIT = 10.0
SETTLE = 0.2

_names = itertools.count()


# -- harness ------------------------------------------------------------------------------------


@dataclass
class Resp:
    """What the viewer got; ``body`` is the bytes the middleware actually sent (HEAD too)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def x_cache(self) -> str | None:
        return self.header("x-cache")

    @property
    def age(self) -> int | None:
        value = self.header("age")
        return None if value is None else int(value)


def wait_a_while(predicate: Callable[[], bool]) -> None:
    wait_until(predicate, WAIT, poll=0.005)


class Edge:
    """One middleware (door + storage) over its own scripted origin, on a fake clock."""

    def __init__(self, door: str, store: str, redis_url: str | None, config: EdgeConfig) -> None:
        self.door = door
        self.store = store
        self.config = config
        self.now = [BASE]
        clock = self.clock
        self.origin = ScriptedOrigin()
        self.storage: MemoryStorage | RedisStorage
        if store == "redis":
            assert redis_url is not None
            name = f"scen{next(_names)}"
            self.storage = RedisStorage(redis_url, distribution_id=name, clock=clock)
        else:
            self.storage = MemoryStorage(clock=clock)
        app = starlette_origin(self.origin) if door == "asgi" else flask_origin(self.origin)
        self.mw: Any = doors.wrap(door, app, config, storage=self.storage, clock=clock)
        self._stack = ExitStack()
        self._client: Any = None
        self._sent = b""
        self._http_version = "1.1"

    def clock(self) -> float:
        return self.now[0]

    # -- time and the origin --------------------------------------------------------------------
    def at(self, t: float) -> None:
        self.now[0] = BASE + t

    def calls(self, path: str | None = None) -> int:
        return self.origin.total if path is None else self.origin.calls[path]

    def route(self, path: str, **kw: Any) -> dict[str, Any]:
        return self.origin.route(path, **kw)

    def stored(self, path: str, querystring: str = "") -> Any:
        """The entry the storage holds for a plain GET of ``path`` (default behaviour)."""
        behavior = self.config.match(path)
        # With no origins configured the viewer's Host reaches the app and is keyed; the test
        # clients send "testserver" (Starlette) or "localhost" (Werkzeug).
        for host in (self.config.distribution_domain_name, "testserver", "localhost"):
            key = cache_key(
                method="GET",
                host=host,
                uri=path,
                querystring=querystring,
                headers={},
                policy=behavior.cache,
                settings=self.config.settings,
            )
            entry = self.storage.get(key)
            if entry is not None:
                return entry
        return None

    # -- requests -------------------------------------------------------------------------------
    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Resp:
        return self.request("GET", path, headers)

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        http_version: str = "1.1",
    ) -> Resp:
        self._sent = b""
        self._http_version = http_version
        if self.door == "asgi":
            client = self._asgi_client()
            client.cookies.clear()
            r = client.request(method, path, headers=dict(headers or {}), content=body)
            return Resp(r.status_code, list(r.headers.multi_items()), self._sent)
        client = self._wsgi_client()
        w = client.open(
            path,
            method=method,
            headers=dict(headers or {}),
            data=body,
            environ_overrides={"SERVER_PROTOCOL": f"HTTP/{http_version}"},
        )
        return Resp(w.status_code, list(w.headers.items()), self._sent)

    def _asgi_client(self) -> TestClient:
        if self._client is None:
            mw = self.mw

            async def recorder(scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] != "http":
                    await mw(scope, receive, send)
                    return
                chunks: list[bytes] = []
                scope = {**scope, "http_version": self._http_version}

                async def capture(message: Any) -> None:
                    if message["type"] == "http.response.body":
                        chunks.append(bytes(message.get("body", b"")))
                    await send(message)

                await mw(scope, receive, capture)
                self._sent = b"".join(chunks)

            client = TestClient(recorder, follow_redirects=False)
            self._stack.enter_context(client)
            if self.store == "redis":
                storage = self.storage
                assert isinstance(storage, RedisStorage)
                self._stack.callback(lambda: client.portal.call(storage.aclose))  # type: ignore[union-attr]
            del client.headers["accept-encoding"]  # only what each test sends
            self._client = client
        return self._client  # type: ignore[no-any-return]

    def _wsgi_client(self) -> Client:
        if self._client is None:
            mw = self.mw

            def recorder(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                it = mw(environ, start_response)
                try:
                    body = b"".join(it)
                finally:
                    close = getattr(it, "close", None)
                    if close is not None:
                        close()
                self._sent = body
                return [body]

            self._client = Client(recorder, use_cookies=False)
        return self._client  # type: ignore[no-any-return]

    # -- C37: concurrent requests ---------------------------------------------------------------
    def burst(
        self, path: str, n: int, *, release_at: int, headers: Mapping[str, str] | None = None
    ) -> list[str | None]:
        """``n`` concurrent GETs of ``path`` whose origin waits on a gate; the gate opens once
        the origin has ``release_at`` calls (plus a short settle). Returns the X-Cache values."""
        if self.door == "asgi":
            return asyncio.run(self._aburst(path, n, release_at, dict(headers or {})))
        return self._wburst(path, n, release_at, dict(headers or {}))

    async def _aburst(
        self, path: str, n: int, release_at: int, headers: dict[str, str]
    ) -> list[str | None]:
        gate = asyncio.Event()
        self.origin.routes[path]["gate"] = gate
        try:
            transport = httpx.ASGITransport(app=self.mw)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                tasks = [asyncio.ensure_future(c.get(path, headers=headers)) for _ in range(n)]
                deadline = time.monotonic() + WAIT
                while self.calls(path) < release_at and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(SETTLE)
                gate.set()
                responses = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        finally:
            if isinstance(self.storage, RedisStorage):
                await self.storage.aclose()
        return [r.headers.get("x-cache") for r in responses]

    def _wburst(
        self, path: str, n: int, release_at: int, headers: dict[str, str]
    ) -> list[str | None]:
        gate = threading.Event()
        self.origin.routes[path]["gate"] = gate
        results: list[str | None] = [None] * n

        def one(i: int) -> None:
            environ = EnvironBuilder(path=path, headers=headers).get_environ()
            seen: dict[str, str] = {}

            def start_response(status: str, pairs: list[tuple[str, str]], exc: Any = None) -> Any:
                seen.update((k.lower(), v) for k, v in pairs)
                return lambda data: None

            it = self.mw(environ, start_response)
            try:
                b"".join(it)
            finally:
                if hasattr(it, "close"):
                    it.close()
            results[i] = seen.get("x-cache")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        try:
            deadline = time.monotonic() + WAIT
            while self.calls(path) < release_at and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(SETTLE)
        finally:
            gate.set()
            for th in threads:
                th.join(WAIT)
        assert not any(th.is_alive() for th in threads)
        return results

    def close(self) -> None:
        self._stack.close()
        if isinstance(self.storage, RedisStorage):
            self.storage.close()


MakeEdge = Callable[..., Edge]


def cache_fixtures() -> tuple[Any, Any, Any]:
    """The ``door``, ``store`` and ``edge`` fixtures for a test module. ``edge(cache=
    CachePolicy(...), settings=..., errors=[...], **behavior_fields)`` or
    ``edge(config=EdgeConfig(...))`` makes a fresh :class:`Edge` for this door and storage."""
    door = doors.door_fixture(str)

    @pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)], name="store")
    def store(request: pytest.FixtureRequest) -> str:
        return request.param  # type: ignore[no-any-return]

    @pytest.fixture(name="edge")
    def edge(door: str, store: str, request: pytest.FixtureRequest) -> Iterator[MakeEdge]:
        """``edge(cache=CachePolicy(...), settings=..., errors=[...], **behavior_fields)`` or
        ``edge(config=EdgeConfig(...))``: a fresh :class:`Edge` for this door and storage."""
        url = request.getfixturevalue("redis_url") if store == "redis" else None
        made: list[Edge] = []

        def make(
            *,
            config: EdgeConfig | None = None,
            cache: CachePolicy | None = None,
            settings: EdgeSettings | None = None,
            errors: tuple[CustomErrorResponse, ...] = (),
            **behavior: Any,
        ) -> Edge:
            if config is None:
                config = EdgeConfig(
                    default=Behavior(cache=cache or CachePolicy(), **behavior),
                    custom_error_responses=errors,
                    settings=settings or EdgeSettings(),
                )
            e = Edge(door, store, url, config)
            made.append(e)
            return e

        yield make
        for e in made:
            e.close()

    return door, store, edge
