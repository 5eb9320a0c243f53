"""A viewer's conditional requests and ranges against a cached object (RFC 9110 §13, §14):
``If-None-Match``/``If-Modified-Since`` for an edge 304, and ``Range`` with ``If-Range``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..core.headers import get_first, raw_get
from ..core.types import HeaderEntry
from .dates import http_date
from .entry import CacheEntry
from .keys import joined_values

__all__ = ["applicable_range", "not_modified", "not_modified_since"]


def not_modified_since(if_modified_since: str | None, last_modified: str | None) -> bool:
    """RFC 9110 §13.1.3: a viewer ``If-Modified-Since`` is answered 304 when the stored
    ``Last-Modified`` is at or before it. Both are read as dates (IMF-fixdate, the obsolete
    RFC 850 and asctime forms, RFC 9110 §5.6.7), so a later date or the same instant written
    another way matches too; an invalid date on either side means "ignore" (no 304)."""
    since = http_date(if_modified_since)
    modified = http_date(last_modified)
    return since is not None and modified is not None and modified <= since


def applicable_range(headers: Mapping[str, list[HeaderEntry]], entry: CacheEntry) -> str | None:
    """The viewer's ``Range`` as it applies to ``entry``, or ``None``: none was sent, or its
    ``If-Range`` names another version, so the whole object is the answer (RFC 9110 §13.1.5:
    a strong entity tag equal to the stored one, or the stored ``Last-Modified`` date; a weak
    tag never matches)."""
    # a Range sent twice is one invalid value (the whole object), as forwarding reads it
    wanted = joined_values(headers.get("range"))
    if wanted is None:
        return None
    condition = get_first(headers, "if-range")
    if condition is None:
        return wanted
    condition = condition.strip()
    if condition.startswith('"'):
        etag = entry.etag
        return wanted if etag is not None and etag.strip() == condition else None
    if condition.startswith("W/"):
        return None
    date = http_date(condition)
    return wanted if date is not None and date == http_date(entry.last_modified) else None


#: one entity tag of an If-None-Match list, its ``W/`` left out of the match
_ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')


def not_modified(headers: Mapping[str, list[HeaderEntry]], entry: CacheEntry) -> bool:
    """Whether the viewer's ``If-None-Match``/``If-Modified-Since`` matches a cached 200."""
    if entry.status != 200:
        return False
    lines = headers.get("if-none-match")
    inm = ", ".join(e["value"] for e in lines) if lines else None  # repeated lines: one list
    if inm is not None:  # (it wins over If-Modified-Since, RFC 9110 §13.2.2)
        if "*" in (part.strip() for part in inm.split(",")):  # any current representation
            return True  # matches, tagged or not (§13.1.2)
        # entity tags, quoted: a "," may be inside one (§8.8.3), so they are found, not split
        tags = {m.group(1) for m in _ENTITY_TAG.finditer(inm)}
        return entry.etag is not None and entry.etag.strip().removeprefix("W/") in tags
    # a stored object without Last-Modified is compared by its Date (RFC 9111 §4.3.2)
    date = raw_get(entry.headers, b"date")
    modified = entry.last_modified or (date.decode("latin-1") if date is not None else None)
    return not_modified_since(get_first(headers, "if-modified-since"), modified)
