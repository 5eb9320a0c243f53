"""Request collapsing for the two doors (caching.md §1.10): one request per cache key reaches
the origin, in this process first (an event per key) and then across processes through the
storage's fill lock (Redis). :class:`AsyncFlights` is the ASGI door's, :class:`ThreadFlights`
its WSGI twin; each request keeps the keys it leads and releases them when it is done."""

from __future__ import annotations

import asyncio
import threading

from ..cache.entry import FillLocking

__all__ = ["AsyncFlights", "ThreadFlights"]


class AsyncFlights:
    """Collapsing on one event loop (an ``asyncio.Event`` per key in flight, made when a second
    request waits for it: most misses have nobody waiting)."""

    def __init__(self, lock: FillLocking | None) -> None:
        self.lock = lock
        #: key in flight -> the event its waiters wait on (``None`` until one waits)
        self.events: dict[str, asyncio.Event | None] = {}

    async def join(self, key: str, timeout: float, led: list[str], lead: bool = True) -> bool:
        """``True`` when this request fetches for ``key`` (the key goes into ``led``);
        otherwise wait, at most ``timeout`` seconds, for the request that does (``lead``
        false: only if one is in flight here)."""
        events = self.events
        if key in events:
            event = events[key]
            if event is None:
                event = events[key] = asyncio.Event()
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                pass
            return False
        if not lead:
            return False
        events[key] = None
        led.append(key)
        lock = self.lock
        if lock is not None and not await lock.abegin_fill(key, timeout):
            await lock.await_fill(key, timeout)
            return False
        return True

    async def release(self, led: list[str]) -> None:
        """Wake the requests waiting for the keys in ``led``, and end their fills."""
        for key in led:
            event = self.events.pop(key, None)
            if event is not None:
                event.set()
            if self.lock is not None:  # awaited: a lock must not outlive its request's task
                await self.lock.aend_fill(key)
        led.clear()


class ThreadFlights:
    """Collapsing across a WSGI server's threads (a ``threading.Event`` per key in flight, made
    when a second request waits for it)."""

    def __init__(self, lock: FillLocking | None) -> None:
        self.lock = lock
        #: key in flight -> the event its waiters wait on (``None`` until one waits)
        self.events: dict[str, threading.Event | None] = {}
        self.mutex = threading.Lock()

    def join(self, key: str, timeout: float, led: list[str], lead: bool = True) -> bool:
        """``True`` when this request fetches for ``key`` (the key goes into ``led``);
        otherwise wait, at most ``timeout`` seconds, for the request that does (``lead``
        false: only if one is in flight here)."""
        events = self.events
        with self.mutex:  # the leader's release pops the key under it: never a lost wake-up
            waiting = key in events
            if waiting:
                event = events[key]
                if event is None:
                    event = events[key] = threading.Event()
            elif not lead:
                return False
            else:
                events[key] = None
                led.append(key)
        if waiting:
            assert event is not None
            event.wait(timeout)
            return False
        lock = self.lock
        if lock is not None and not lock.begin_fill(key, timeout):
            lock.wait_fill(key, timeout)
            return False
        return True

    def release(self, led: list[str]) -> None:
        """Wake the requests waiting for the keys in ``led``, and end their fills."""
        for key in led:
            with self.mutex:
                event = self.events.pop(key, None)
            if event is not None:
                event.set()
            if self.lock is not None:
                self.lock.end_fill(key)
        led.clear()
