"""What a storage noted when a lookup found no fresh object, until that key's object is stored
(caching.md §1.10: an invalidation made while a fetch is in flight applies to what it brings
back). Shared by ``MemoryStorage`` (the invalidation count) and ``RedisStorage`` (the
generation)."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

__all__ = ["LookupNotes"]

T = TypeVar("T")


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
        """The note for ``key`` (``None``: none), forgotten."""
        got = self._notes.pop(hash(key), None)
        return None if got is None else got[0]

    def __len__(self) -> int:
        return len(self._notes)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hash(key) in self._notes
