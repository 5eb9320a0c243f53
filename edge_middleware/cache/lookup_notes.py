"""What a storage noted when a lookup found no fresh object, until that key's object is stored
(caching.md §1.10: an invalidation made while a fetch is in flight applies to what it brings
back). Shared by ``MemoryStorage`` (the invalidation count) and ``RedisStorage`` (the
generation).

A request's own lookup is kept apart too, in a context variable (each request runs in its own
context: a task on the ASGI door, a thread on the WSGI door, a copy for a background refresh
it starts): the store that follows in the same context is judged by its own lookup. The
key's note alone was one for all: two fetches of one key in flight (cookies in the key: no
collapsing), and the first one's store took it; the second, fetched before an invalidation,
was stored after it and served as a Hit. A store in another context, or after a lookup of
another key, is judged by the key's note, as before."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

__all__ = ["LookupNotes"]

T = TypeVar("T")

#: the last lookup that found no fresh object in this context: (notes, key hash, value)
_OWN: ContextVar[tuple[int, int, Any] | None] = ContextVar("edge_middleware_lookup", default=None)


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
        _OWN.set((id(self), key_hash, value))
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
        """What the lookup before a store of ``key`` noted: this context's own lookup of it,
        else the key's note (``None``: none); both forgotten."""
        key_hash = hash(key)
        got = self._notes.pop(key_hash, None)
        own = _OWN.get()
        if own is not None and own[0] == id(self) and own[1] == key_hash:
            _OWN.set(None)
            return own[2]  # type: ignore[no-any-return]
        return None if got is None else got[0]

    def __len__(self) -> int:
        return len(self._notes)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hash(key) in self._notes
