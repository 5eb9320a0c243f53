"""Answering a viewer conditional from a cached object (caching.md §1.7; decisions.md #37).
Byte ranges are cut in ``ranges.py``."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.headers import get_first
from ..core.types import HeaderEntry
from .entry import CacheEntry
from .rules import not_modified_since

__all__ = ["not_modified"]


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
