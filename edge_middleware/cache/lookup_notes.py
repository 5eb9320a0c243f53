"""What a storage noted when a lookup found no fresh object, until that fetch's object is stored
(caching.md §1.10: an invalidation made while a fetch is in flight applies to what it brings
back). Shared by ``MemoryStorage`` (the invalidation count) and ``RedisStorage`` (the
generation)."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

__all__ = ["LookupNotes"]

T = TypeVar("T")


class LookupNotes(Generic[T]):
    """Per key, a note for each lookup that found no fresh object, until a store takes it:
    oldest first, so the first fetch stored answers for the earliest lookup, and a second fetch
    of the same key in flight (a key no request collapses: cookies in it) keeps a note of its
    own (with one note per key, the first store took it, and the second fetch, made before an
    invalidation, was stored after it). At most :attr:`PER_KEY` notes a key: a lookup past
    them takes an older one's, which is the safe side. Keys go oldest first once their first
    note is older than :attr:`HORIZON` seconds (no fetch is in flight that long) or when
    :attr:`LIMIT` keys are noted: a fetch in flight keeps its note however many other keys
    miss meanwhile (a table cleared when full lost it after 4,096 misses, and the invalidated
    object was stored).

    Keys are kept as their 64-bit hashes, not as strings: a note costs the same whatever the
    URL's length (16,384 notes of 8 KB URLs held 130 MB; now about 2.5 MB in all), and a
    collision between two keys' hashes within one process is not to be met."""

    HORIZON = 300.0
    LIMIT = 16384
    PER_KEY = 4

    def __init__(self) -> None:
        self._notes: dict[int, list[tuple[T, float]]] = {}

    def note(self, key: str, value: T) -> None:
        notes = self._notes
        key_hash = hash(key)
        now = time.monotonic()
        known = notes.get(key_hash)
        if known is not None:
            if len(known) < self.PER_KEY:
                known.append((value, now))
            return
        while notes:  # (threads may race here: each step tolerates a key gone meanwhile)
            first = next(iter(notes), None)
            if first is None:
                break
            got = notes.get(first)
            if got and len(notes) < self.LIMIT and now - got[0][1] < self.HORIZON:
                break
            notes.pop(first, None)
        notes[key_hash] = [(value, now)]

    def take(self, key: str) -> T | None:
        """The oldest note for ``key`` (``None``: none), forgotten."""
        key_hash = hash(key)
        known = self._notes.get(key_hash)
        if not known:
            return None
        try:
            value = known.pop(0)[0]
        except IndexError:  # another thread took the last one
            return None
        if not known:
            self._notes.pop(key_hash, None)
        return value

    def __len__(self) -> int:
        return len(self._notes)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hash(key) in self._notes
