"""Cache entries and a fake clock for the storage tests (``test_storage_contract``,
``test_storage_memory``, ``test_storage_redis``)."""

from __future__ import annotations

import time
from typing import Any

from edge_middleware.cache.entry import CacheEntry
from edge_middleware.cache.redis import FORMAT_MAGIC, RedisStorage

__all__ = ["BINARY", "START", "FakeClock", "make_entry", "open_storage", "page_entry", "rich_entry"]

START = 1_000_000.0
#: A body with every byte value, line ends and the serialisation's magic in it.
BINARY = bytes(range(256)) + b"\r\n\n" + FORMAT_MAGIC + b"\x00" * 10


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_entry(
    key: str = "k",
    *,
    path: str | None = None,
    orig_path: str = "",
    body: bytes = b"hello",
    now: float = START,
    retain: float = 3600.0,
    **changes: Any,
) -> CacheEntry:
    """A 200 ``text/plain`` entry stored at ``now``, fresh for 60 s, kept ``retain`` s; ``path``
    defaults to ``/`` + ``key``; ``changes`` set other fields."""
    entry = CacheEntry(
        key=key,
        status=200,
        reason="OK",
        headers=((b"content-type", b"text/plain"),),
        body=body,
        stored_at=now,
        fresh_until=now + 60,
        retain_until=now + retain,
        path=path if path is not None else f"/{key}",
        orig_path=orig_path,
    )
    return entry.with_changes(**changes) if changes else entry


def rich_entry(now: float = START) -> CacheEntry:
    """An entry with every field set to something a naive serialisation would lose."""
    return make_entry(
        "GET|example.com|/shop?b=2&a=1|é",
        path="/shop?b=2&a=1",
        orig_path="/store?b=2&a=1",
        body=BINARY,
        now=now,
        status=404,
        reason="Not Found",
        headers=(
            (b"Content-Type", b"application/octet-stream"),
            (b"Set-Cookie", b"a=1; Path=/; HttpOnly"),
            (b"Set-Cookie", b"b=2; Path=/; Secure"),
            (b"X-Latin", "caf\xe9".encode("latin-1")),
            (b"X-Empty", b""),
        ),
        stale_while_revalidate=30,
        stale_if_error=86400,
        etag='W/"abc"',
        last_modified="Tue, 15 Nov 1994 12:45:26 GMT",
        generated=True,
        error_until=123.5,
        no_conditional=True,
    )


def page_entry(path: str, **fields: Any) -> CacheEntry:
    """An entry for ``path`` (its key is the path), stored now on the real clock."""
    return make_entry(path, path=path, now=time.time(), **fields)


def open_storage(made: list[RedisStorage], url: str, **options: Any) -> RedisStorage:
    """A RedisStorage on ``url``, noted in ``made`` (the ``storages`` fixture closes them)."""
    storage = RedisStorage(url, **options)
    made.append(storage)
    return storage
