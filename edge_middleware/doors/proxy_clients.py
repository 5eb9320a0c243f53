"""The proxy's pooled ``httpx`` clients: one ``httpx.Client`` per base URL, one
``httpx.AsyncClient`` per base URL and event loop, closed when that loop shuts down (see
``proxy.py``). They never keep cookies: they are shared by every viewer."""

from __future__ import annotations

import asyncio
import atexit
import http.cookiejar
import logging
import threading
import urllib.request
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..config.model import Origin

__all__ = ["CONNECT_TIMEOUT", "aclose_clients", "close_clients"]

logger = logging.getLogger("edge_middleware.proxy")

#: The clients' connection setup timeout: CloudFront's default connection timeout (caching.md
#: §1.4). Each request carries its origin's own (``Origin.connection_timeout``).
CONNECT_TIMEOUT = 10.0


# -- clients ------------------------------------------------------------------------------------
class _RejectAllCookies(http.cookiejar.CookiePolicy):
    """The pooled clients are shared by every viewer: never store or send cookies."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: urllib.request.Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: urllib.request.Request) -> bool:
        return False


def _client_options(keepalive: int) -> dict[str, Any]:
    return {
        "limits": httpx.Limits(
            max_connections=None, max_keepalive_connections=100, keepalive_expiry=keepalive
        ),
        "timeout": httpx.Timeout(30.0, connect=CONNECT_TIMEOUT),
        "follow_redirects": False,
        "trust_env": False,
        "cookies": http.cookiejar.CookieJar(policy=_RejectAllCookies()),
    }


def _timeout(origin: Origin) -> dict[str, float | None]:
    """The origin's response timeout (``OriginReadTimeout``) and connection timeout
    (``ConnectionTimeout``, 1-10 s) for one request."""
    connect = float(origin.connection_timeout)
    return httpx.Timeout(float(origin.read_timeout), connect=connect, pool=connect).as_dict()


_lock = threading.Lock()
_sync_clients: dict[tuple[str, int], httpx.Client] = {}


@dataclass(eq=False)
class _LoopClients:
    """The async clients of one event loop, and the async generator that closes them when the
    loop shuts down (``loop.shutdown_asyncgens()`` runs its ``finally``)."""

    clients: dict[tuple[str, int], httpx.AsyncClient] = field(default_factory=dict)
    closer: Any = None


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_shutdown(
    loop: asyncio.AbstractEventLoop, record: _LoopClients
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with _lock:
            if _async_clients.get(loop) is record:
                del _async_clients[loop]
        await _aclose_record(record)


async def _aclose_record(record: _LoopClients) -> None:
    clients = list(record.clients.values())
    record.clients.clear()
    for client in clients:
        try:
            await client.aclose()
        except Exception:  # pragma: no cover - closing must not fail the shutdown
            logger.exception("closing an origin client failed")


def _sync_client(base: str, origin: Origin) -> httpx.Client:
    key = (base, origin.keepalive_timeout)
    with _lock:
        client = _sync_clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(**_client_options(origin.keepalive_timeout))
            _sync_clients[key] = client
        return client


async def _async_client(base: str, origin: Origin) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    key = (base, origin.keepalive_timeout)
    with _lock:
        record = _async_clients.get(loop)
    if record is None:
        record = _LoopClients()
        closer = _close_at_shutdown(loop, record)
        await closer.__anext__()  # registered with this loop: closed by shutdown_asyncgens()
        record.closer = closer
        with _lock:
            _async_clients[loop] = record
    client = record.clients.get(key)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(**_client_options(origin.keepalive_timeout))
        record.clients[key] = client
    return client


async def aclose_clients() -> None:
    """Close the async clients of the running event loop (e.g. in a lifespan shutdown)."""
    with _lock:
        record = _async_clients.get(asyncio.get_running_loop())
    if record is not None:
        await record.closer.aclose()


def close_clients() -> None:
    """Close every sync client, and the async clients of every event loop.

    Async clients of a running loop are closed on that loop (scheduled, not awaited); those of
    a loop that is already closed are dropped.
    """
    _close_sync_clients()
    with _lock:
        records = list(_async_clients.items())
    for loop, record in records:
        if loop.is_closed():
            with _lock:
                _async_clients.pop(loop, None)
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(_aclose_record(record), loop)
        else:
            loop.run_until_complete(record.closer.aclose())


def _close_sync_clients() -> None:
    with _lock:
        clients = list(_sync_clients.values())
        _sync_clients.clear()
    for client in clients:
        client.close()


atexit.register(_close_sync_clients)
