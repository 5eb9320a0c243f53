"""What a storage noted when a lookup found no fresh object, until that key's object is stored
(caching.md §1.10: an invalidation made while a fetch is in flight applies to what it brings
back). Shared by ``MemoryStorage`` (the invalidation count) and ``RedisStorage`` (the
generation).

A request's own lookups are kept apart too, in a context variable (each request runs in its
own context: a task on the ASGI door, a thread on the WSGI door, a copy for a background
refresh it starts; the doors call :func:`new_request` as a request starts, so a thread's next
request does not inherit them): a store of a key the request looked up is judged by the
request's earliest lookup of it. The key's note alone was one for all: two fetches of one key
in flight (cookies in the key: no collapsing), and the first one's store took it; the second,
fetched before an invalidation, was stored after it and served as a Hit. Neither a second
lookup of the key before the store (a 206's check for the whole object) nor a first store (an
error stored with no body while its custom page is fetched) takes the earliest away. A store
in another context, or of a key the request did not look up, is judged by the key's note."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

__all__ = ["LookupNotes", "new_request"]

T = TypeVar("T")

#: this request's earliest lookup of each key that found no fresh object (at most
#: :data:`OWN_KEYS`): (notes, key hash, value)
_OWN: ContextVar[tuple[tuple[int, int, Any], ...]] = ContextVar(
    "edge_middleware_lookup", default=()
)
OWN_KEYS = 4


def new_request() -> None:
    """A request starts in this context: the lookups of the one it served before are gone."""
    if _OWN.get():
        _OWN.set(())


class LookupNotes(Generic[T]):
    """Per key, the first note since its object was last stored (the earliest lookup counts:
    its fetch may be the one stored). Notes go oldest first once they are older than
    :attr:`HORIZON` seconds (no fetch is in flight that long) or when :attr:`LIMIT` keys are
    noted: a fetch in flight keeps its note however many other keys miss meanwhile (a table
    cleared when full lost it after 4,096 misses, and the invalidated object was stored).

    Keys are kept as their 64-bit hashes, not as strings: a note costs the same whatever the
    URL's length (16,384 notes of 8 KB URLs held 130 MB; now about 2.5 MB in all), and a
    collision between two keys' hashes within one process is not to be met."""

    HORIZON = 300.0
    LIMIT = 16384

    def __init__(self) -> None:
        self._notes: dict[int, tuple[T, float]] = {}

    def note(self, key: str, value: T) -> None:
        notes = self._notes
        key_hash = hash(key)
        mine, me = _OWN.get(), id(self)
        if not any(n == me and h == key_hash for n, h, _ in mine):  # (the earliest counts)
            _OWN.set((*mine[1 - OWN_KEYS :], (me, key_hash, value)))
        if key_hash in notes:
            return
        now = time.monotonic()
        while notes:  # (threads may race here: each step tolerates a key gone meanwhile)
            first = next(iter(notes), None)
            if first is None:
                break
            got = notes.get(first)
            if got is not None and len(notes) < self.LIMIT and now - got[1] < self.HORIZON:
                break
            notes.pop(first, None)
        notes[key_hash] = (value, now)

    def take(self, key: str) -> T | None:
        """What the lookup before a store of ``key`` noted: this request's earliest lookup of
        it (kept for its next store of the key), else the key's note, forgotten (``None``:
        none)."""
        key_hash = hash(key)
        got = self._notes.pop(key_hash, None)
        me = id(self)
        for n, h, value in _OWN.get():
            if n == me and h == key_hash:
                return value  # type: ignore[no-any-return]
        return None if got is None else got[0]

    def __len__(self) -> int:
        return len(self._notes)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hash(key) in self._notes
