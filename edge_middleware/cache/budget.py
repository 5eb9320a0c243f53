"""How many bytes the requests in flight may hold in memory at once to store or compress an
origin body (issue 16, item 8).

Each cacheable miss reads the origin's body into memory to store it (up to
``EdgeSettings.max_object_bytes``), and a compressible one to compress it; alone each is
bounded, but 16 concurrent 50 MiB misses held 800 MiB. A :class:`BufferBudget` shared by one
middleware's requests bounds the total: a request that finds no room streams its body straight
through instead, uncached (as CloudFront, busy, may leave an object uncompressed). Pure
bookkeeping, no IO; thread-safe, so WSGI threads and an ASGI loop can share it.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from edge_middleware.cache.entry import CacheEntry
from edge_middleware.core.headers import RawHeaders, raw_get

__all__ = ["BufferBudget", "TeeBuffer", "bytes_to_buffer"]


def bytes_to_buffer(headers: RawHeaders, have: int, limit: int) -> int | None:
    """Bytes still to read to hold a whole body of at most ``limit`` bytes when ``have`` are
    read already: what ``Content-Length`` says is left, or ``limit - have`` without one;
    ``None`` when the body is known to be larger than ``limit`` (reading it is pointless), or
    is a stream of events (``text/event-stream``): it has no end to wait for, and CloudFront
    streams what it reads, so the viewer gets each event as it comes and nothing is stored."""
    if have > limit or _event_stream(headers):
        return None
    room = limit - have
    raw = raw_get(headers, b"content-length")
    if raw is None or not raw.strip().isdigit():
        return room
    rest = max(0, int(raw) - have)
    return rest if rest <= room else None


class BufferBudget:
    """A byte budget taken whole or not at all.

    ::

        budget = BufferBudget(256 * 2**20)
        if budget.take(n):
            try:
                ...  # read up to n bytes
            finally:
                budget.give(n)
    """

    __slots__ = ("_lock", "max_bytes", "used")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes if they fit in what is left."""
        with self._lock:
            if self.used + n > self.max_bytes:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        """Return ``n`` bytes taken before."""
        with self._lock:
            self.used = max(0, self.used - n)


class TeeBuffer:
    """The body of an answer that streams to the viewer, kept to store ``entry`` with it once
    it ended: up to ``limit`` bytes, each chunk taken from ``budget`` (the bytes all requests
    in flight may buffer); past either the copy is dropped and the answer only streams.
    :meth:`release` gives the budget back (call it in a ``finally``)."""

    __slots__ = ("budget", "chunks", "held", "limit", "size", "stored")

    def __init__(self, budget: BufferBudget, stored: CacheEntry, limit: int) -> None:
        self.budget = budget
        self.stored = stored
        self.limit = limit
        self.size = len(stored.body)
        self.held = 0
        self.chunks: list[bytes] | None = [stored.body] if self.size <= limit else None

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; ``False`` once the copy is dropped (the answer will not be stored)."""
        if self.chunks is None:
            return False
        self.size += len(chunk)
        if self.size > self.limit or not self.budget.take(len(chunk)):
            self.chunks = None
            self.release()
            return False
        self.held += len(chunk)
        self.chunks.append(chunk)
        return True

    def entry(self) -> CacheEntry | None:
        """The entry with the whole body, ``None`` when the copy was dropped."""
        return None if self.chunks is None else replace(self.stored, body=b"".join(self.chunks))

    def release(self) -> None:
        held, self.held = self.held, 0
        if held:
            self.budget.give(held)


def _event_stream(headers: RawHeaders) -> bool:
    kind = raw_get(headers, b"content-type")
    return kind is not None and kind.split(b";", 1)[0].strip().lower() == b"text/event-stream"
