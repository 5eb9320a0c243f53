"""The in-process edge cache: a byte-bounded, thread-safe cachetools ``TLRUCache``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from cachetools import Cache, TLRUCache

from edge_middleware.cache.entry import CacheEntry, invalidates, invalidation_paths
from edge_middleware.cache.lookup_notes import LookupNotes
from edge_middleware.exceptions import ConfigurationError

__all__ = ["MemoryStorage"]

logger = logging.getLogger("edge_middleware.cache")


def _expires_at(_key: str, entry: CacheEntry, _now: float) -> float:
    # Per-entry expiry: the storage forgets an object at ``retain_until`` (freshness is decided
    # from the entry's own times, caching.md §3).
    return entry.retain_until


def _sizeof(entry: CacheEntry) -> int:
    return entry.nbytes


def _new_cache(max_bytes: int, clock: Callable[[], float]) -> TLRUCache[str, CacheEntry]:
    """Entries forgotten at their ``retain_until`` on ``clock``, bounded by ``max_bytes``."""
    return TLRUCache(maxsize=max_bytes, ttu=_expires_at, timer=clock, getsizeof=_sizeof)


class InFlight:
    """The invalidations made while fetches were in flight (caching.md §1.10: after an
    invalidation the next request is a Miss). ``asked(key)`` notes the invalidation count when
    a lookup found no fresh object; ``invalidated(entry)``, when that object is stored, whether
    one made since matches it: fetched before the invalidation, it must not be stored after.
    The caller holds the storage's lock."""

    #: invalidations remembered (one past the log is never stored)
    LOG = 256

    def __init__(self) -> None:
        self.count = 0
        self.log: list[tuple[int, list[str]]] = []
        #: keys awaiting their fetch: the invalidation count when they were looked up
        self.keys: LookupNotes[int] = LookupNotes()

    def asked(self, key: str) -> None:
        self.keys.note(key, self.count)

    def record(self, patterns: list[str]) -> None:
        self.count += 1
        self.log.append((self.count, patterns))
        del self.log[: -self.LOG]

    def invalidated(self, entry: CacheEntry) -> bool:
        since = self.keys.take(entry.key)
        if since is None or since == self.count:
            return False
        if not self.log or self.log[0][0] > since + 1:
            return True  # made before the log's oldest: assume it matched
        return any(invalidates(patterns, entry) for count, patterns in self.log if count > since)


class MemoryStorage:
    """An in-process cache storage bounded by a byte budget.

    Entries live in a cachetools ``TLRUCache``: each one is forgotten at its ``retain_until``
    and, when the budget is full, expired entries go first, then the least recently used ones.
    Every access (reads too, since an LRU read reorders) holds one ``threading.Lock`` for a few
    microseconds, so one storage can serve WSGI threads and an ASGI event loop at once.

    :param max_bytes: the byte budget (``CacheEntry.nbytes`` summed over all entries).
    :param max_object_bytes: entries larger than this are not stored (decisions.md #51). An
        entry larger than ``max_bytes`` is never stored either.
    :param clock: seconds on the same clock as the entries' times; default ``time.time``.

    ::

        storage = MemoryStorage(max_bytes=64 * 2**20, max_object_bytes=8 * 2**20)
        storage.set(entry)
        assert storage.get(entry.key) is entry
        storage.invalidate(["/images/*"])
    """

    #: ``get`` only holds the lock for microseconds: an event loop may call it directly
    #: (the ASGI door's hit short way does, with no coroutine for ``aget``)
    get_never_blocks: ClassVar[bool] = True

    def __init__(
        self,
        max_bytes: int = 256 * 2**20,
        *,
        max_object_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if type(max_bytes) is not int or max_bytes <= 0:
            raise ConfigurationError("MemoryStorage.max_bytes", max_bytes, "an integer > 0")
        if not callable(clock):
            raise ConfigurationError("MemoryStorage.clock", clock, "a callable giving seconds")
        if max_object_bytes is not None and (
            type(max_object_bytes) is not int or max_object_bytes < 0
        ):
            raise ConfigurationError(
                "MemoryStorage.max_object_bytes", max_object_bytes, "an integer >= 0 or None"
            )
        self.max_bytes = max_bytes
        self.max_object_bytes = max_bytes if max_object_bytes is None else max_object_bytes
        self._lock = threading.Lock()
        self._clock = clock
        self._cache = _new_cache(max_bytes, clock)
        self._in_flight = InFlight()
        #: the distribution this storage serves, and the views it lent to others
        self._adopted: str | None = None
        self._views: dict[str, _View] = {}

    def adopt_distribution(self, identity: str) -> MemoryStorage:
        """The storage a middleware with distribution ``identity`` should use (as
        ``RedisStorage.adopt_distribution``): this one for the first, and for every other a
        view on the same budget whose objects and invalidations are its own (one storage
        given to two apps served each app's objects to the other)."""
        with self._lock:
            if self._adopted is None or identity == self._adopted:
                self._adopted = identity
                return self
            view = self._views.get(identity)
            if view is None:
                view = self._views[identity] = _View(self, len(self._views))
            return view

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Keep time with ``clock`` (the middleware's) when made with the default one."""
        with self._lock:
            if self._clock is not time.time or clock is time.time or self._views:
                return  # (views share this cache: it stays, on its clock)
            if len(self._cache):
                logger.warning("MemoryStorage: not moved to the middleware's clock: not empty")
                return
            self._clock = clock
            self._cache = _new_cache(self.max_bytes, clock)

    @property
    def currsize(self) -> int:
        """Bytes currently held (sum of ``nbytes``; may include not yet purged expired ones)."""
        with self._lock:
            return int(self._cache.currsize)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def get(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or ``None`` if absent or past ``retain_until``."""
        # Hot path of every hit: one lock, one dict lookup, two clock reads.
        with self._lock:
            try:
                entry = self._cache[key]
            except KeyError:
                entry = None
            if entry is None or entry.fresh_until <= self._clock():
                self._in_flight.asked(key)  # a fetch may follow: see ``set``
            return entry

    def set(self, entry: CacheEntry) -> None:
        """Store ``entry`` under ``entry.key``; an entry too large for the limits is refused
        (and an older object under the same key dropped, so it cannot outlive its successor)."""
        size = entry.nbytes
        with self._lock:
            if self._in_flight.invalidated(entry):
                # fetched before an invalidation that matches it: never stored after it (an
                # object under its key now was stored after the invalidation, and stays)
                return
            if size > self.max_object_bytes:
                self._delete(entry.key)
                logger.debug("not caching %r: %d bytes > max_object_bytes", entry.key, size)
                return
            try:
                self._cache[entry.key] = entry
            except ValueError:
                # cachetools refuses values larger than maxsize before evicting anything
                # (decisions.md #51: skip caching).
                self._delete(entry.key)
                logger.debug("not caching %r: %d bytes > max_bytes", entry.key, size)

    def delete(self, key: str) -> None:
        with self._lock:
            self._delete(key)

    def _delete(self, key: str) -> None:
        try:
            del self._cache[key]
        except KeyError:
            # Absent, or present but already expired (TLRUCache removes it, then raises).
            pass

    def invalidate(self, paths: Iterable[str]) -> int:
        """Drop every entry whose ``path`` or ``orig_path`` matches one of ``paths``
        (CloudFront semantics: exact, or a prefix when the pattern ends in ``*``; case-sensitive;
        the query string is part of the path). Returns the number of entries removed."""
        patterns = invalidation_paths(paths)
        if not patterns:
            return 0
        removed = 0
        with self._lock:
            self._in_flight.record(patterns)
            cache = self._cache
            # A snapshot: the cache must not change size while it is iterated. Values are read
            # through the base class so that invalidation does not reorder the LRU list.
            for key in list(cache):
                if self._owns(key) and invalidates(patterns, Cache.__getitem__(cache, key)):
                    self._delete(key)
                    removed += 1
        return removed

    def _owns(self, key: str) -> bool:
        return not key.startswith(_VIEW_MARK)  # (a view's keys start with its prefix)

    def clear(self) -> None:
        """Empty the storage (the views it lent too; a view's ``clear`` empties its own)."""
        with self._lock:
            if type(self) is not _View:
                self._cache.clear()
                return
            for key in [k for k in self._cache if self._owns(k)]:
                self._delete(key)

    def close(self) -> None:
        """Nothing to release; present so every storage can be closed the same way."""

    # The lock is only ever held for microseconds and never across an ``await``, so the async
    # methods call the sync ones directly instead of going through a thread.

    async def aget(self, key: str) -> CacheEntry | None:
        return self.get(key)

    async def aset(self, entry: CacheEntry) -> None:
        self.set(entry)

    async def adelete(self, key: str) -> None:
        self.delete(key)

    async def aclose(self) -> None:
        """Nothing to release; see :meth:`close`."""


#: A view's keys start with this and its number: no cache key does (they start with a host)
_VIEW_MARK = "\x00"


class _View(MemoryStorage):
    """Another distribution's share of a :class:`MemoryStorage`: the same byte budget, lock
    and clock, with keys of its own (prefixed) and invalidations of its own."""

    def __init__(self, base: MemoryStorage, number: int) -> None:
        self.__dict__.update(
            {k: v for k, v in vars(base).items() if k not in ("_views", "_adopted")}
        )
        self._views, self._adopted = {}, None
        self._in_flight = InFlight()
        self._prefix = f"{_VIEW_MARK}{number}{_VIEW_MARK}"

    def adopt_distribution(self, identity: str) -> MemoryStorage:
        return self

    def use_clock(self, clock: Callable[[], float]) -> None:
        """A view keeps the clock of the storage it shares (a cache of its own, on another
        clock, had a whole budget of its own)."""

    def _owns(self, key: str) -> bool:
        return key.startswith(self._prefix)

    def get(self, key: str) -> CacheEntry | None:
        entry = super().get(self._prefix + key)
        return None if entry is None else entry.with_changes(key=key)

    def set(self, entry: CacheEntry) -> None:
        super().set(entry.with_changes(key=self._prefix + entry.key))

    def delete(self, key: str) -> None:
        super().delete(self._prefix + key)
