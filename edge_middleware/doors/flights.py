"""Request collapsing for the two doors (caching.md §1.10): one request per cache key reaches
the origin, in this process first (an event per key) and then across processes through the
storage's fill lock (Redis). :class:`AsyncFlights` is the ASGI door's, :class:`ThreadFlights`
its WSGI twin; each request keeps the keys it leads and releases them when it is done."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..cache.entry import CacheEntry, FillLocking

__all__ = ["AsyncFlights", "ThreadFlights"]


class AsyncFlights:
    """Collapsing on one event loop (an ``asyncio.Event`` per key in flight, made when a second
    request waits for it: most misses have nobody waiting)."""

    def __init__(self, lock: FillLocking | None) -> None:
        self.lock = lock
        #: key in flight -> the event its waiters wait on (``None`` until one waits)
        self.events: dict[str, asyncio.Event | None] = {}

    async def join(
        self, key: str, timeout: float, led: list[str], lead: bool = True
    ) -> bool | None:
        """``True`` when this request fetches for ``key`` (the key goes into ``led``);
        otherwise wait, at most ``timeout`` seconds, for the request that does: ``False``
        when it finished, ``None`` when it did not in time or there was none to wait for
        (``lead`` false: only one in flight here is waited for)."""
        if key in led:  # (this request leads it already: never a wait for itself)
            return True
        events = self.events
        if key in events:
            event = events[key]
            if event is None:
                event = events[key] = asyncio.Event()
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                return None
            return False
        if not lead:
            return None
        events[key] = None
        led.append(key)
        lock = self.lock
        if lock is not None and not await lock.abegin_fill(key, timeout):
            # another process fetches: its object, or nothing to wait for again (or its lock
            # expired and this process took it over: it leads)
            got = _after_wait(await lock.await_fill(key, timeout))
            if got is not True:  # this process's waiters are told at once (_after_wait)
                led.remove(key)
                self._wake(key)
            return got
        return True

    async def release(self, led: list[str]) -> None:
        """Wake the requests waiting for the keys in ``led``, and end their fills. A request
        cancelled here (an anyio cancel scope cancels every await) still gives its keys up:
        they were left in flight, and every later miss for them waited for nothing."""
        try:
            if self.lock is not None and led:
                # the fill locks first: a waiter woken here may lead the next fetch and take
                # the lock. Shielded: a request cancelled here still ends them (else every
                # other process waited for the lock's TTL)
                ending = asyncio.gather(*(self.lock.aend_fill(key) for key in led))
                ending.add_done_callback(_consume)
                await asyncio.shield(ending)
        finally:
            for key in led:
                self._wake(key)
            led.clear()

    def _wake(self, key: str) -> None:
        event = self.events.pop(key, None)
        if event is not None:
            event.set()


def _after_wait(got: CacheEntry | bool | None) -> bool | None:
    """What ``join`` says after waiting on another process's fill lock: lead (``True``: this
    process took the expired lock over), look the key up again (``False``: an entry is
    there), or fetch alone (``None``).

    Unless it leads, the request that waited for this process no longer does: the requests of
    this process waiting on it are woken at once, to look the key up again and, finding
    nothing (the other process stored nothing), each fetch at once, as it does (they waited
    for its own fetch too, and then fetched one after another: a no-store answer's 1 s took
    3 s in the second of two workers; docs/cache-rules.md "Request collapsing")."""
    if got is True:
        return True
    return False if got is not None else None


def _consume(done: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of fill-lock releases nobody awaits any more (a cancelled
    request's): the storage logs its own failures."""
    if not done.cancelled():
        done.exception()


class ThreadFlights:
    """Collapsing across a WSGI server's threads (a ``threading.Event`` per key in flight, made
    when a second request waits for it)."""

    def __init__(self, lock: FillLocking | None) -> None:
        self.lock = lock
        #: key in flight -> the event its waiters wait on (``None`` until one waits)
        self.events: dict[str, threading.Event | None] = {}
        self.mutex = threading.Lock()

    def join(self, key: str, timeout: float, led: list[str], lead: bool = True) -> bool | None:
        """``True`` when this request fetches for ``key`` (the key goes into ``led``);
        otherwise wait, at most ``timeout`` seconds, for the request that does: ``False``
        when it finished, ``None`` when it did not in time or there was none to wait for
        (``lead`` false: only one in flight here is waited for)."""
        if key in led:  # (this request leads it already: never a wait for itself)
            return True
        events = self.events
        with self.mutex:  # the leader's release pops the key under it: never a lost wake-up
            waiting = key in events
            if waiting:
                event = events[key]
                if event is None:
                    event = events[key] = threading.Event()
            elif not lead:
                return None
            else:
                events[key] = None
                led.append(key)
        if waiting:
            assert event is not None
            return False if event.wait(timeout) else None
        lock = self.lock
        if lock is not None and not lock.begin_fill(key, timeout):
            # another process fetches: its object, or nothing to wait for again (or its lock
            # expired and this process took it over: it leads)
            got = _after_wait(lock.wait_fill(key, timeout))
            if got is not True:  # this process's waiters are told at once (_after_wait)
                led.remove(key)
                self._wake(key)
            return got
        return True

    def release(self, led: list[str]) -> None:
        """Wake the requests waiting for the keys in ``led``, and end their fills."""
        for key in led:
            # the fill lock first: a waiter woken here may lead the next fetch and take it
            if self.lock is not None:
                self.lock.end_fill(key)
            self._wake(key)
        led.clear()

    def _wake(self, key: str) -> None:
        with self.mutex:
            event = self.events.pop(key, None)
        if event is not None:
            event.set()
