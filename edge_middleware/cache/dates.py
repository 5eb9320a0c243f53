"""HTTP-dates (RFC 9110 §5.6.7) for the cache's freshness and conditional rules
(``control.py``): the three forms and nothing else."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = ["http_date"]

_DAYS = "(?:mon|tue|wed|thu|fri|sat|sun)"
_MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_MONTHS = {m: i for i, m in enumerate(_MONTH[1:-1].split("|"), 1)}
_TIME = r"(\d\d):(\d\d):(\d\d)"
#: RFC 9110 §5.6.7's three forms, letter case aside (as most caches read them): IMF-fixdate
#: ``Sun, 06 Nov 1994 08:49:37 GMT``, the obsolete RFC 850 ``Sunday, 06-Nov-94 08:49:37 GMT``
#: and asctime ``Sun Nov  6 08:49:37 1994``. Groups: day, month, year, hour, minute, second.
_IMF = re.compile(rf"{_DAYS}, (\d\d) {_MONTH} (\d{{4}}) {_TIME} gmt", re.IGNORECASE)
_RFC850 = re.compile(
    rf"(?:mon|tues|wednes|thurs|fri|satur|sun)day, (\d\d)-{_MONTH}-(\d\d) {_TIME} gmt",
    re.IGNORECASE,
)
_ASCTIME = re.compile(rf"{_DAYS} {_MONTH} ([ \d]\d) {_TIME} (\d{{4}})", re.IGNORECASE)


def http_date(value: str | None) -> float | None:
    """An HTTP-date (RFC 9110 §5.6.7) as a timestamp; ``None`` for anything else. Lenient
    parsers read ``...02:01:18 UTC``, a two-digit year, a missing comma, doubled spaces or
    ``2:01:18`` as dates; RFC 9111 §5.3 asks a cache to read such an ``Expires`` as a time in
    the past, and RFC 9110 §13.1.3 to ignore such an ``If-Modified-Since`` (the public
    cache-tests suite checks both: ``freshness-expires-invalid-*``)."""
    if not value:
        return None
    if m := _IMF.fullmatch(value):
        day, month, year, hh, mm, ss = m.groups()
    elif m := _ASCTIME.fullmatch(value):
        month, day, hh, mm, ss, year = m.groups()
    elif m := _RFC850.fullmatch(value):
        day, month, yy, hh, mm, ss = m.groups()
        # RFC 9110: the year that is not more than 50 years ahead of this one
        this_year = time.gmtime().tm_year
        full = this_year - this_year % 100 + int(yy)
        if full > this_year + 50:
            full -= 100
        elif full + 100 <= this_year + 50:
            full += 100
        year = str(full)
    else:
        return None
    try:
        dt = datetime(
            int(year), _MONTHS[month.lower()], int(day), int(hh), int(mm), int(ss), tzinfo=UTC
        )
    except ValueError:  # 31 Feb, 25:00:00
        return None
    return dt.timestamp()
