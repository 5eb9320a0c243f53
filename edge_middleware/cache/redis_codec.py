"""How a cache entry is written in Redis (format ``em1``, caching.md §2.3 #8).

``FORMAT_MAGIC``, one line of ASCII JSON (the metadata; header bytes as latin-1 strings, which
is lossless), ``b"\\n"``, then the raw body. Never pickle: a shared Redis is not a trusted
source, so every field is type-checked on the way back in, and nothing unfit for the wire (a
bad header name or value, a control character in the reason) comes out of it.

:func:`loads` runs on every Redis hit, so its checks are exact-type lookups in one table
rather than a call per field (``type(v) is int`` also refuses ``True``, which JSON may hold
where a number is expected); and a :class:`DecodeMemo` skips decoding a stored value seen
before, byte for byte.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

from edge_middleware.cache.entry import CacheEntry
from edge_middleware.core.headers import TOO_BIG, raw_header_problem

__all__ = ["FORMAT_MAGIC", "DecodeMemo", "dumps", "loads"]

#: Serialisation format version prefix (bump on any incompatible change).
FORMAT_MAGIC = b"em1\n"
_START = len(FORMAT_MAGIC)

_BAD_REASON = re.compile("[\x00-\x08\x0a-\x1f\x7f]")

_NUMBER = frozenset({int, float})
_NONE = type(None)
#: metadata name -> (CacheEntry field, the exact types allowed)
_FIELDS: dict[str, tuple[str, frozenset[type]]] = {
    "key": ("key", frozenset({str})),
    "status": ("status", frozenset({int})),
    "reason": ("reason", frozenset({str})),
    "stored_at": ("stored_at", _NUMBER),
    "fresh_until": ("fresh_until", _NUMBER),
    "retain_until": ("retain_until", _NUMBER),
    "path": ("path", frozenset({str})),
    "orig_path": ("orig_path", frozenset({str})),
    "swr": ("stale_while_revalidate", frozenset({int, _NONE})),
    "sie": ("stale_if_error", frozenset({int, _NONE})),
    "etag": ("etag", frozenset({str, _NONE})),
    "last_modified": ("last_modified", frozenset({str, _NONE})),
    "generated": ("generated", frozenset({bool})),
    "error_until": ("error_until", _NUMBER),
    "no_conditional": ("no_conditional", frozenset({bool})),
    "generation": ("generation", frozenset({int})),
}
_FLOATS = ("stored_at", "fresh_until", "retain_until", "error_until")


def dumps(entry: CacheEntry) -> bytes:
    """Serialise ``entry`` (format ``em1``)."""
    meta = {
        "key": entry.key,
        "status": entry.status,
        "reason": entry.reason,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in entry.headers],
        "stored_at": entry.stored_at,
        "fresh_until": entry.fresh_until,
        "retain_until": entry.retain_until,
        "path": entry.path,
        "orig_path": entry.orig_path,
        "swr": entry.stale_while_revalidate,
        "sie": entry.stale_if_error,
        "etag": entry.etag,
        "last_modified": entry.last_modified,
        "generated": entry.generated,
        "error_until": entry.error_until,
        "no_conditional": entry.no_conditional,
        "generation": entry.generation,
        "body_len": len(entry.body),
    }
    header = json.dumps(meta, separators=(",", ":")).encode("ascii")
    return b"".join((FORMAT_MAGIC, header, b"\n", entry.body))


def _headers(pairs: Any) -> tuple[tuple[bytes, bytes], ...]:
    if type(pairs) is not list:
        raise ValueError("field 'headers' has the wrong type")
    headers = []
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise ValueError("malformed header pair")
        name, value = pair
        if type(name) is not str or type(value) is not str:
            raise ValueError("malformed header pair")
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    problem = raw_header_problem(headers)
    if problem is not None and problem is not TOO_BIG:  # (a generated answer's may be larger)
        raise ValueError(problem)
    return tuple(headers)


def loads(blob: bytes) -> CacheEntry:
    """Deserialise what :func:`dumps` wrote; ``ValueError`` for anything else."""
    if not blob.startswith(FORMAT_MAGIC):
        raise ValueError("unknown cache entry format")
    end = blob.find(b"\n", _START)
    if end < 0:
        raise ValueError("truncated cache entry")
    try:
        meta = json.loads(blob[_START:end].decode("ascii"))
        if type(meta) is not dict:
            raise ValueError("cache entry metadata is not an object")
        body = blob[end + 1 :]
        body_len = meta["body_len"]
        if type(body_len) is not int or len(body) != body_len:
            raise ValueError("truncated cache entry body")
        fields = {}
        for name, (field, kinds) in _FIELDS.items():
            value = meta[name]
            if type(value) not in kinds:
                raise ValueError(f"field {name!r} has the wrong type")
            fields[field] = value
        for field in _FLOATS:
            fields[field] = float(fields[field])
            if not math.isfinite(fields[field]):  # (json reads NaN and Infinity)
                raise ValueError(f"field {field!r} is not a finite time")
        if not 100 <= fields["status"] <= 599:  # nothing unfit for the wire comes out
            raise ValueError("the status is not one CloudFront sends")
        if _BAD_REASON.search(fields["reason"]):
            raise ValueError("control character in the status reason")
        return CacheEntry(headers=_headers(meta["headers"]), body=body, **fields)
    except (KeyError, UnicodeError) as exc:
        raise ValueError(f"malformed cache entry: {exc!r}") from exc


class DecodeMemo:
    """The entries last decoded, by Redis key name: a lookup that reads the very bytes decoded
    before (a hot object) gets the same frozen entry back without parsing or checking again.
    Any change to the stored value (a new store, another writer, corruption) fails the byte
    comparison and is decoded, and checked, afresh.

    Bounded: ``max_bytes`` in all (each entry counted as ``nbytes`` plus its metadata line;
    oldest first out), and only entries whose body is at most ``max_body`` bytes.
    """

    def __init__(self, max_bytes: int = 8 * 2**20, max_body: int = 64 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_body = max_body
        self.nbytes = 0
        self._items: dict[str, tuple[bytes, CacheEntry, int]] = {}
        self._lock = threading.Lock()

    def loads(self, name: str, blob: bytes) -> CacheEntry:
        """:func:`loads` of ``blob``, the value of the Redis key ``name``."""
        found = self._items.get(name)
        if found is not None:
            meta, entry, _ = found
            if (
                len(blob) == len(meta) + len(entry.body)
                and blob.startswith(meta)
                and blob.endswith(entry.body)
            ):
                return entry
        entry = loads(blob)
        if len(entry.body) <= self.max_body:
            meta = blob[: len(blob) - len(entry.body)]
            self._remember(name, (meta, entry, entry.nbytes + len(meta)))
        return entry

    def checked(self, name: str, entry: CacheEntry, generation: int) -> CacheEntry:
        """``entry`` (as :meth:`loads` gave it for ``name``) checked against the invalidations
        up to ``generation``: kept so for the same bytes, so that the next lookup of a hot
        object does not check every pattern recorded since it was stored again."""
        newer = entry.with_changes(generation=generation)
        with self._lock:
            found = self._items.get(name)
            if found is not None and found[1] is entry:
                self._items[name] = (found[0], newer, found[2])
        return newer

    def _remember(self, name: str, item: tuple[bytes, CacheEntry, int]) -> None:
        with self._lock:
            old = self._items.pop(name, None)
            if old is not None:
                self.nbytes -= old[2]
            while self._items and self.nbytes + item[2] > self.max_bytes:
                self.nbytes -= self._items.pop(next(iter(self._items)))[2]
            if item[2] <= self.max_bytes:
                self._items[name] = item
                self.nbytes += item[2]
