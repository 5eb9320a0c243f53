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
    cleared when full lost it after 4,096 misses, and the invalidated object was stored)."""

    HORIZON = 300.0
    LIMIT = 65536

    def __init__(self) -> None:
        self._notes: dict[str, tuple[T, float]] = {}

    def note(self, key: str, value: T) -> None:
        notes = self._notes
        if key in notes:
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
        notes[key] = (value, now)

    def take(self, key: str) -> T | None:
        """The note for ``key`` (``None``: none), forgotten."""
        got = self._notes.pop(key, None)
        return None if got is None else got[0]

    def __len__(self) -> int:
        return len(self._notes)

    def __contains__(self, key: object) -> bool:
        return key in self._notes
