"""Answering from a cached object: viewer conditionals and byte ranges (caching.md §1.7,
§1.14; decisions.md #37)."""

from __future__ import annotations

from collections.abc import Mapping

from ..headers import RawHeaders, get_first
from ..types import HeaderEntry
from .entry import CacheEntry
from .rules import not_modified_since

__all__ = ["byte_range", "not_modified"]


def not_modified(headers: Mapping[str, list[HeaderEntry]], entry: CacheEntry) -> bool:
    """Whether the viewer's ``If-None-Match``/``If-Modified-Since`` matches a cached 200."""
    if entry.status != 200:
        return False
    inm = get_first(headers, "if-none-match")
    if inm is not None:
        if entry.etag is None:
            return False
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or entry.etag.removeprefix("W/") in tags
    return not_modified_since(get_first(headers, "if-modified-since"), entry.last_modified)


def byte_range(value: str, body: bytes, headers: RawHeaders) -> tuple[int, bytes, RawHeaders]:
    """A single byte range cut from a cached object (caching.md §1.14, C28). Several ranges
    or an invalid one get the full 200; a range past the end gets 416."""
    size = len(body)
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return 200, body, headers
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash:
            return 200, body, headers
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return 200, body, headers
    if start < 0 or (first and last and int(last) < start):
        return 200, body, headers
    rest = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    if start >= size:
        rest.append((b"Content-Range", f"bytes */{size}".encode()))
        rest.append((b"Content-Length", b"0"))
        return 416, b"", rest
    part = body[start : end + 1]
    rest.append((b"Content-Range", f"bytes {start}-{end}/{size}".encode()))
    rest.append((b"Content-Length", str(len(part)).encode()))
    return 206, part, rest
