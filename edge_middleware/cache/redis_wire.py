"""A lean Redis client for the cache's hot path: the lookup (``MGET``) of every request.

redis-py costs 30-100 µs per command over the network round trip itself, mostly in layers a
cache lookup does not need: a blocking pool that takes a ``Condition`` per command, per-read
timeouts built from ``asyncio.wait_for``, and a line-by-line stream reader. Here a command is
packed in one write, its reply is parsed from whole buffers, and a connection is checked out
of a plain ``deque`` (``pop``/``append`` are atomic, so no lock while a connection is idle).

Each connection serves one command at a time: it is out of the pool from the write until its
reply is read. A connection whose command failed, timed out or was cancelled is closed, never
returned. A command that fails on a pooled connection (the server restarted since it was last
used) is retried once on a new one. Sync pools are one per process (forgetting the parent's
sockets after ``fork``), async pools one per event loop.

Only plain TCP and unix sockets with optional ``AUTH`` and ``SELECT``: ``redis_resp.wire_for``
returns None for anything else (TLS, RESP3, client options), and the storage then uses
redis-py for everything.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from edge_middleware.cache.redis_resp import Incomplete, Wire, checked, handshake, pack, parse

__all__ = ["AsyncPool", "SyncPool", "closed_with_the_loop"]


class _Conn:
    """One blocking socket; :meth:`call` writes a command and reads its whole reply."""

    def __init__(self, wire: Wire) -> None:
        if wire.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(wire.timeout)
            try:
                sock.connect(wire.path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((wire.host, wire.port), wire.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        try:
            for command in handshake(wire):
                checked(self.call(command))
        except BaseException:
            sock.close()
            raise

    def call(self, packed: bytes) -> Any:
        sock = self.sock
        sock.sendall(packed)
        buf = sock.recv(65536)
        try:
            return parse(buf)[0]
        except Incomplete as more:
            need = more.need
        chunks, have = [buf], len(buf)
        while True:
            while have < need:
                data = sock.recv(max(65536, need - have))
                if not data:
                    raise RedisConnectionError("Redis closed the connection")
                chunks.append(data)
                have += len(data)
            buf = b"".join(chunks)
            chunks = [buf]
            try:
                return parse(buf)[0]
            except Incomplete as more:
                need = more.need

    def close(self) -> None:
        self.sock.close()


#: Sync pools to reset in a forked child (it must not share its parent's sockets).
_SYNC_POOLS: weakref.WeakSet[SyncPool] = weakref.WeakSet()


def _after_fork() -> None:  # pragma: no cover - runs in forked children
    for pool in list(_SYNC_POOLS):
        pool.forget()


os.register_at_fork(after_in_child=_after_fork)


class SyncPool:
    """Connections for blocking callers (WSGI threads); at most ``max_connections`` open, a
    caller waits up to ``pool_timeout`` for one when all are busy."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._idle: deque[_Conn] = deque()
        self._count = 0
        self._cond = threading.Condition()
        self._waiting = 0
        _SYNC_POOLS.add(self)

    def forget(self) -> None:
        """Drop every connection without closing it (after ``fork``: the parent owns them)."""
        self._idle = deque()
        self._count = 0
        self._cond = threading.Condition()
        self._waiting = 0

    def execute(self, *args: bytes | str | int) -> Any:
        """Run one command; its reply (``bytes``, ``int``, ``None``, lists of them)."""
        packed = pack(*args)
        conn, fresh = self._checkout()
        try:
            reply = self._call(conn, packed)
        except (OSError, RedisConnectionError) as exc:
            if fresh or isinstance(exc, TimeoutError):
                raise
            self._drain()  # the server went away: its other sockets are dead too
            conn, _ = self._checkout(new=True)
            reply = self._call(conn, packed)
        self._idle.append(conn)
        if self._waiting:
            with self._cond:
                self._cond.notify()
        return checked(reply)

    def _call(self, conn: _Conn, packed: bytes) -> Any:
        """``conn.call``; a connection that failed is closed (never back in the pool)."""
        try:
            return conn.call(packed)
        except BaseException:
            self._discard(conn)
            raise

    def _checkout(self, new: bool = False) -> tuple[_Conn, bool]:
        """A connection, and whether it is new (else it was pooled and may have gone stale)."""
        if not new:
            try:
                return self._idle.pop(), False
            except IndexError:
                pass
        deadline = None
        with self._cond:
            while self._count >= self._wire.max_connections:
                if self._idle:
                    return self._idle.pop(), False
                now = time.monotonic()
                deadline = deadline or now + self._wire.pool_timeout
                if now >= deadline:
                    raise RedisConnectionError("no Redis connection free within pool_timeout")
                self._waiting += 1
                try:
                    # short waits: a release that missed the notify is seen on the next turn
                    self._cond.wait(min(0.005, deadline - now))
                finally:
                    self._waiting -= 1
            self._count += 1
        try:
            return _Conn(self._wire), True
        except BaseException:
            self._release_slot()
            raise

    def _release_slot(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def _discard(self, conn: _Conn) -> None:
        conn.close()
        self._release_slot()

    def _drain(self) -> None:
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return
            self._discard(conn)

    def close(self) -> None:
        self._drain()


class _Protocol(asyncio.Protocol):
    """One connection in an event loop: at most one command in flight (:meth:`send`)."""

    def __init__(self) -> None:
        # (no reference to the loop: the loop's pools are dropped with it, see AsyncPool)
        self._transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 0
        self._waiter: asyncio.Future[Any] | None = None
        self.closed = False
        #: when bytes last arrived (loop time): a large reply still arriving is not late
        self.last_data = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.last_data = asyncio.get_running_loop().time()
        self._chunks.append(data)
        self._have += len(data)
        waiter = self._waiter
        if waiter is None or self._have < self._need:
            if waiter is None:
                self.abort()  # a reply nobody asked for: the connection is out of step
            return
        buf = data if len(self._chunks) == 1 else b"".join(self._chunks)
        try:
            reply, end = parse(buf)
        except Incomplete as more:
            self._chunks, self._need = [buf], more.need
            return
        except Exception as exc:  # a malformed reply
            self.abort()
            if not waiter.done():
                waiter.set_exception(RedisConnectionError(f"bad reply from Redis: {exc!r}"))
            return
        self._chunks, self._have, self._need, self._waiter = [], 0, 0, None
        if end != len(buf):
            self.abort()
        if not waiter.done():
            waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(RedisConnectionError(f"Redis closed the connection ({exc})"))

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Write a command; the future of its reply (the caller bounds the wait)."""
        if self.closed or self._transport is None:
            raise RedisConnectionError("connection closed")
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(packed)
        return waiter

    def time_out(self) -> None:
        waiter = self._waiter
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(RedisTimeoutError("Redis did not answer within socket_timeout"))


class AsyncPool:
    """Connections of the running event loop; at most ``max_connections`` open, a task waits up
    to ``pool_timeout`` for one when all are busy. Waiters are served first come, first served:
    a connection given back goes straight to the oldest waiter (or its slot, when it is closed),
    so tasks arriving later cannot overtake them.

    Command timeouts: rather than a timer per command, one watchdog timer while commands are in
    flight, due at the earliest deadline; it aborts the connections past theirs."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self._timeout = wire.timeout
        # No reference to the loop: a pool is kept per loop, weakly, and closed when the loop
        # shuts down (RedisStorage._watch_loop); with one, neither could ever go.
        self._busy: dict[_Protocol, float] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self._idle: deque[_Protocol] = deque()
        self._count = 0
        #: each gets a connection, or None: a slot to open one in (counted already)
        self._waiters: deque[asyncio.Future[_Protocol | None]] = deque()
        self._closed = False

    async def execute(self, *args: bytes | str | int) -> Any:
        """Run one command; its reply, as :meth:`SyncPool.execute`."""
        packed = pack(*args)
        idle = self._idle
        if idle and not idle[-1].closed:
            conn, fresh = idle.pop(), False
        else:
            conn, fresh = await self._checkout()
        try:
            reply = await self._call(conn, packed)
        except RedisConnectionError:
            if fresh:
                raise
            # closed by the server (a restart) since last used: once more, on another
            conn, _ = await self._checkout()
            reply = await self._call(conn, packed)
        self._release(conn)
        return checked(reply)

    async def _call(self, conn: _Protocol, packed: bytes) -> Any:
        """Send, and wait for the reply until the deadline; a connection that failed, timed out
        or was cancelled is closed (never back in the pool)."""
        try:
            waiter = conn.send(packed)
        except BaseException:
            self._discard(conn)
            raise
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        self._busy[conn] = deadline
        if self._watchdog is None:
            self._watchdog = loop.call_at(deadline, self._check_deadlines)
        try:
            return await waiter
        except BaseException:
            self._discard(conn)
            raise
        finally:
            del self._busy[conn]

    def _check_deadlines(self) -> None:
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = None
        for conn, deadline in list(self._busy.items()):
            # socket_timeout bounds Redis's silence, as the blocking client's recv does, not
            # the whole reply: a 40 MB object arriving at 100 MB/s took longer than 0.25 s,
            # was never served, and opened the breaker for every key
            deadline = max(deadline, conn.last_data + self._timeout)
            if deadline <= now:
                conn.time_out()
            elif due is None or deadline < due:
                due = deadline
        if due is not None:
            self._watchdog = loop.call_at(due, self._check_deadlines)

    async def _checkout(self) -> tuple[_Protocol, bool]:
        """A pooled connection, or a new one (True) in a free slot, waiting for either."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn, False
            self._discard(conn)
        if self._count < self._wire.max_connections:
            self._count += 1
            return await self._open(), True
        waiter: asyncio.Future[_Protocol | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            given = await asyncio.wait_for(waiter, self._wire.pool_timeout)
        except TimeoutError:
            raise RedisConnectionError("no Redis connection free within pool_timeout") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # handed over as we were cancelled
                lost = waiter.result()
                if lost is None:
                    self._pass_slot()
                else:
                    self._release(lost)
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if given is None:
            return await self._open(), True
        return given, False

    async def _open(self) -> _Protocol:
        """Connect, in a slot already counted (given up again on failure)."""
        try:
            return await asyncio.wait_for(self._connect(), self._timeout)
        except BaseException:
            self._pass_slot()
            raise

    def _hand_over(self, given: _Protocol | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(given)
                return True
        return False

    def _release(self, conn: _Protocol) -> None:
        if self._closed or conn.closed:
            self._discard(conn)
        elif not self._hand_over(conn):
            self._idle.append(conn)

    def _pass_slot(self) -> None:
        if not self._hand_over(None):
            self._count -= 1

    def _discard(self, conn: _Protocol) -> None:
        conn.abort()
        self._pass_slot()

    async def _connect(self) -> _Protocol:
        loop, wire = asyncio.get_running_loop(), self._wire
        if wire.path is not None:
            _, conn = await loop.create_unix_connection(_Protocol, wire.path)
        else:
            _, conn = await loop.create_connection(_Protocol, wire.host, wire.port)
        try:
            for command in handshake(wire):
                checked(await conn.send(command))  # bounded by the wait_for in _open
        except BaseException:
            conn.abort()
            raise
        return conn

    def close(self) -> None:
        """Close the idle connections; those in use are closed when their command ends."""
        self._closed = True
        if self._watchdog is not None and not self._busy:
            self._watchdog.cancel()
            self._watchdog = None
        while self._idle:
            self._discard(self._idle.pop())


async def closed_with_the_loop(storage: weakref.ref[Any], key: int) -> AsyncGenerator[None, None]:
    """Known to the loop once started: its ``shutdown_asyncgens`` closes it, and the storage's
    clients of that loop are closed while it still runs (a loop closed without it keeps
    them, as before)."""
    try:
        yield
    finally:
        found = storage()
        if found is not None:
            # (the generator holds the loop's finalizer hook: kept, it would keep the loop)
            found._loop_hooks.pop(key, None)
            await found.aclose()
