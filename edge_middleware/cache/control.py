"""Cache-Control, TTLs and what may be stored; a stored 206 and viewer conditionals
(caching.md §1.3, §1.4, §1.7, §1.14; decisions.md #27-#41)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ..config.model import CachePolicy
from ..config.settings import EdgeSettings
from ..core.headers import raw_get
from .dates import http_date

# -- Cache-Control ------------------------------------------------------------------------------

#: RFC 9111 §1.2.2: delta-seconds larger than this are read as this.
_DELTA_MAX = 2147483648


@dataclass(frozen=True, slots=True)
class ResponseCacheControl:
    """The response directives CloudFront's TTL rules read (caching.md §1.3).

    ``no_cache`` is the *unqualified* directive only; ``no-cache="Set-Cookie"`` lands in
    ``no_cache_fields``. Malformed or negative delta-seconds count as absent (decisions.md #33).
    """

    max_age: int | None = None
    s_maxage: int | None = None
    no_store: bool = False
    no_cache: bool = False
    no_cache_fields: tuple[str, ...] = ()
    private: bool = False
    must_revalidate: bool = False
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None


_EMPTY_CC = ResponseCacheControl()
#: ``EdgeSettings.malformed_directives`` (decisions.md #33)
Malformed = Literal["absent", "stale"]
_DELTA_DIRECTIVES = frozenset({"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"})


def _split_directives(value: str) -> list[tuple[str, str | None]]:
    """``a, b=1, c="x, y"`` -> ``[("a", None), ("b", "1"), ("c", "x, y")]``.

    Names are lower-cased; quoted values are unquoted (backslash escapes honoured); commas
    inside quotes do not split. Junk after a closing quote is ignored up to the next comma.
    """
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        j = i
        while j < n and value[j] not in "=,":
            j += 1
        name = value[i:j].strip().lower()
        arg: str | None = None
        if j < n and value[j] == "=":
            j += 1
            while j < n and value[j] in " \t":
                j += 1
            if j < n and value[j] == '"':
                k = j + 1
                buf: list[str] = []
                while k < n and value[k] != '"':
                    if value[k] == "\\" and k + 1 < n:
                        k += 1
                    buf.append(value[k])
                    k += 1
                arg = "".join(buf)
                while k < n and value[k] != ",":
                    k += 1
            else:
                k = j
                while k < n and value[k] != ",":
                    k += 1
                arg = value[j:k].strip()
            j = k
        if name:
            out.append((name, arg))
        i = j
    return out


def _delta_seconds(arg: str | None) -> int | None:
    """A non-negative integer, or ``None`` when missing/malformed/negative (decisions.md #33)."""
    if arg is None or not arg or not arg.isascii() or not arg.isdigit():
        return None
    return min(int(arg), _DELTA_MAX)


def origin_age(value: str) -> int | None:
    """The origin's ``Age`` in seconds from its (first) header line, or ``None`` if unusable.

    RFC 9111 §5.1 (decisions.md #31): ``Age`` is one delta-seconds; a line that arrives as a
    list (``Age: 7200, 0``) is read by its first member, as the public cache-tests suite expects
    (``age-parse-suffix``/``-prefix``: ``old, 0`` is stale, ``0, old`` fresh). A malformed first
    member (``abc``, ``-5``, ``1.5``) makes the header count as absent.
    """
    return _delta_seconds(value.partition(",")[0].strip())


def parse_cache_control(
    values: Iterable[str], malformed: Malformed = "absent"
) -> ResponseCacheControl:
    """Parse one or more ``Cache-Control`` header lines (they combine as one list).

    * Directive names are case-insensitive; values of delta-seconds directives must be plain
      digits (quoted digits are accepted); anything else counts as absent.
    * A repeated delta-seconds directive keeps its first well-formed value.
    * ``no-cache`` without a value sets ``no_cache``; ``no-cache="A, B"`` only lists fields.
    * ``no-store``/``private``/``must-revalidate`` count even when given an argument
      (qualified ``private="x"`` is treated as ``private``: the conservative reading).
    * ``malformed``: a delta-seconds directive whose value is malformed or negative counts as
      absent, or with ``"stale"`` as 0 (RFC 9111 §4.2.1's reading; decisions.md #33).
    """
    deltas: dict[str, int] = {}
    no_store = no_cache = private = must_revalidate = False
    fields: list[str] = []
    seen = False
    for line in values:
        if not line:
            continue
        for name, arg in _split_directives(line):
            seen = True
            if name in _DELTA_DIRECTIVES:
                if name not in deltas:
                    secs = _delta_seconds(arg)
                    if secs is None and malformed == "stale":
                        secs = 0
                    if secs is not None:
                        deltas[name] = secs
            elif name == "no-cache":
                if arg is None:
                    no_cache = True
                else:
                    for f in arg.split(","):
                        f = f.strip().lower()
                        if f and f not in fields:
                            fields.append(f)
            elif name == "no-store":
                no_store = True
            elif name == "private":
                private = True
            elif name in ("must-revalidate", "proxy-revalidate"):  # a shared cache: the same
                must_revalidate = True
    if not seen:
        return _EMPTY_CC
    return ResponseCacheControl(
        max_age=deltas.get("max-age"),
        s_maxage=deltas.get("s-maxage"),
        no_store=no_store,
        no_cache=no_cache,
        no_cache_fields=tuple(fields),
        private=private,
        must_revalidate=must_revalidate,
        stale_while_revalidate=deltas.get("stale-while-revalidate"),
        stale_if_error=deltas.get("stale-if-error"),
    )


@lru_cache(maxsize=512)
def _known_cache_control(lines: tuple[str, ...], malformed: Malformed) -> ResponseCacheControl:
    return parse_cache_control(lines, malformed)


def _cache_control(lines: tuple[str, ...], malformed: Malformed = "absent") -> ResponseCacheControl:
    """:func:`parse_cache_control`, remembered for short lines (an origin sends the same few
    ``Cache-Control`` values again and again; the result is immutable)."""
    if sum(map(len, lines)) <= 256:
        return _known_cache_control(lines, malformed)
    return parse_cache_control(lines, malformed)


# -- storage decision ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreDecision:
    """Whether and for how long the edge stores a response (caching.md §1.3, §1.4)."""

    #: ``False``: do not store at all.
    store: bool
    #: Edge TTL in seconds (0 = stored but stale at once).
    ttl: float
    #: Human readable, for logs and the inspector.
    reason: str
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None
    #: The stored copy must drop ``Set-Cookie`` (``no-cache="Set-Cookie"``, §1.13).
    strip_set_cookie: bool = False
    #: ``Vary: *`` with MinTTL 0: always refetch without conditional headers (§1.6, C26).
    no_conditional: bool = False


#: Always cached for max(ECMT, header lifetime) (410 only with ``settings.cache_410``).
_ERROR_ALWAYS = frozenset({404, 410, 414, 500, 501, 502, 503, 504})
#: On these, no-store/no-cache/private mean "not cached"; on the other errors they are ignored.
_ERROR_RESPECTS_NO_STORE = frozenset({404, 410, 414, 501})
#: Cached only when the origin sent max-age or s-maxage.
_ERROR_WITH_CC = frozenset({400, 403, 405, 412, 415})


def _not_stored(reason: str) -> StoreDecision:
    return StoreDecision(False, 0.0, reason)


def _fmt(t: float) -> str:
    return str(int(t)) if t == int(t) else f"{t:.3f}"


def _header_lifetime(
    cc: ResponseCacheControl,
    expires: str | None,
    date: str | None,
    age: int | None,
    now: float,
    settings: EdgeSettings,
) -> tuple[float, str] | None:
    """The lifetime the origin gave (s-maxage > max-age > Expires), or ``None`` if none."""
    aged = True
    if cc.s_maxage is not None:
        t = float(cc.s_maxage)
        src = f"s-maxage={cc.s_maxage}"
    elif cc.max_age is not None:
        t = float(cc.max_age)
        src = f"max-age={cc.max_age}"
    elif expires is not None:
        exp = http_date(expires)
        if exp is None:
            return 0.0, "invalid Expires (0)"
        base = None
        if settings.expires_against == "origin-date":
            base = http_date(date)
        if base is None:
            base, aged = now, False  # against the edge clock: Age is already in the past
        t = exp - base
        if t <= 0:
            return 0.0, "Expires in the past (0)"
        src = f"Expires in {_fmt(t)}s"
    else:
        return None
    if aged and age and settings.subtract_origin_age:
        t = max(t - age, 0.0)
        src = f"{src} minus Age {age}"
    return t, src


def _bound_window(value: int | None, policy: CachePolicy, settings: EdgeSettings) -> int | None:
    if value is None or not settings.ttl_bounds_stale_windows or value == 0:
        return value
    return max(policy.min_ttl, min(value, policy.max_ttl))


def decide_storage(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    policy: CachePolicy,
    settings: EdgeSettings,
    now: float,
    *,
    error_caching_min_ttl: int | None = None,
) -> StoreDecision:
    """Store or not, and the edge TTL, for an origin response (caching.md §1.3/§1.4).

    ``now`` is the edge clock (epoch seconds). ``error_caching_min_ttl`` is the
    ``CustomErrorResponses`` value for this status; ``None`` means the settings' default.
    """
    cc_lines: list[str] = []
    expires = date = None
    age: int | None = None
    age_seen = False
    vary_star = False
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"cache-control":
            cc_lines.append(raw_value.decode("latin-1"))
        elif name == b"expires":
            if expires is None:
                expires = raw_value.decode("latin-1").strip()
        elif name == b"date":
            if date is None:
                date = raw_value.decode("latin-1").strip()
        elif name == b"age":
            if not age_seen:  # only the first line counts (cache-tests age-parse-*-twoline)
                age_seen = True
                age = origin_age(raw_value.decode("latin-1"))
        elif name == b"vary" and not vary_star:
            vary_star = any(t.strip() == b"*" for t in raw_value.split(b","))
    has_cc = any(line.strip() for line in cc_lines)
    cc = _cache_control(tuple(cc_lines), settings.malformed_directives) if has_cc else _EMPTY_CC
    flags = [
        label
        for label, on in (
            ("no-store", cc.no_store),
            ("no-cache", cc.no_cache),
            ("private", cc.private),
        )
        if on
    ]

    swr, sie = cc.stale_while_revalidate, cc.stale_if_error
    # (s-maxage implies proxy-revalidate for a shared cache, RFC 9111 §5.2.2.10)
    if settings.must_revalidate_suppresses_stale and (
        cc.must_revalidate or cc.s_maxage is not None
    ):
        swr, sie = None, 0  # 0 also turns off the implicit stale-on-error
    swr, sie = _bound_window(swr, policy, settings), _bound_window(sie, policy, settings)
    strip_set_cookie = "set-cookie" in cc.no_cache_fields

    if status >= 400:
        ecmt = settings.error_caching_min_ttl
        if error_caching_min_ttl is not None:
            ecmt = error_caching_min_ttl
        if status in _ERROR_ALWAYS and (status != 410 or settings.cache_410):
            if flags and status in _ERROR_RESPECTS_NO_STORE:
                return _not_stored(f"{status} with {', '.join(flags)}: not cached")
        elif status in _ERROR_WITH_CC:
            if cc.s_maxage is None and cc.max_age is None:
                return _not_stored(f"{status} without max-age/s-maxage: not cached")
        else:
            return _not_stored(f"{status} is never cached")
        life = _header_lifetime(cc, expires, date, age, now, settings)
        if life is None:
            ttl, reason = float(ecmt), f"{status} cached for ErrorCachingMinTTL {ecmt}"
        else:
            t, src = life
            if t > policy.max_ttl:
                t, src = float(policy.max_ttl), f"{src} capped by MaxTTL {policy.max_ttl}"
            if t < ecmt:
                ttl, reason = float(ecmt), f"{status} cached for ErrorCachingMinTTL {ecmt} ({src})"
            else:
                ttl, reason = t, f"{status} cached for {src}"
        if ttl <= 0:
            return _not_stored(f"{status} with ErrorCachingMinTTL 0 and no lifetime: not cached")
        return StoreDecision(True, ttl, reason, swr, sie, strip_set_cookie)

    if status not in settings.cacheable_statuses:
        return _not_stored(f"status {status} is not cacheable")
    if status in (307, 308) and not has_cc:
        return _not_stored(f"{status} without Cache-Control is not cached")
    if policy.max_ttl == 0:
        return _not_stored("caching disabled (MaxTTL 0): not stored")

    if flags:
        label = ", ".join(flags)
        if policy.min_ttl > 0:
            ttl, reason = float(policy.min_ttl), f"{label}: MinTTL {policy.min_ttl} applies"
        elif cc.no_store or cc.private:
            return _not_stored(f"{label} and MinTTL 0: not stored")
        elif settings.store_no_cache:
            ttl, reason = 0.0, "no-cache and MinTTL 0: stored stale (TTL 0)"
            swr = None  # kept for a 304 only: never served without the origin (RFC 9111 §4.2.4)
        else:
            return _not_stored("no-cache and MinTTL 0: not stored")
    else:
        life = _header_lifetime(cc, expires, date, age, now, settings)
        if life is None:
            ttl = float(max(policy.min_ttl, policy.default_ttl))
            reason = f"no lifetime from the origin: DefaultTTL {policy.default_ttl}"
        else:
            t, src = life
            if t > policy.max_ttl:
                ttl, reason = float(policy.max_ttl), f"{src} clamped to MaxTTL {policy.max_ttl}"
            elif t < policy.min_ttl and not (
                settings.revalidate_directives_affect_ttl and cc.must_revalidate
            ):
                ttl, reason = float(policy.min_ttl), f"{src} raised to MinTTL {policy.min_ttl}"
            else:
                ttl, reason = t, src
    if vary_star and policy.min_ttl == 0:
        # caching.md §1.6: stored, but every request goes to the origin without conditionals.
        return StoreDecision(
            True,
            0.0,
            "Vary: * and MinTTL 0: stored, always refetched",
            None,  # every request goes to the origin: no stale-while-revalidate either
            sie,
            strip_set_cookie,
            True,
        )
    return StoreDecision(True, ttl, reason, swr, sie, strip_set_cookie)


# -- stored partial objects (206) and viewer conditionals ---------------------------------------


def _content_range(value: bytes | None) -> tuple[int, int, int | None] | None:
    """``bytes 0-4/100`` -> ``(0, 4, 100)``; ``bytes 0-4/*`` -> ``(0, 4, None)``."""
    if value is None:
        return None
    unit, _, rest = value.decode("latin-1").strip().partition(" ")
    span, _, size = rest.strip().partition("/")
    first, dash, last = span.partition("-")
    if unit.lower() != "bytes" or not dash or not (first.isdigit() and last.isdigit()):
        return None
    total = int(size) if size.isdigit() else None
    if size != "*" and total is None:
        return None
    return int(first), int(last), total


def _requested_span(value: str, size: int | None) -> tuple[int, int] | None:
    """The one byte span a ``Range`` asks for, resolved against ``size`` when it is known."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if first and last and last.isdigit() and first.isdigit():
        start, end = int(first), int(last)
        if size is not None:
            end = min(end, size - 1)
    elif first.isdigit() and not last and size is not None:
        start, end = int(first), size - 1
    elif not first and last.isdigit() and size is not None:
        start, end = max(0, size - int(last)), size - 1
    else:
        return None
    return (start, end) if start <= end else None


def stored_response_serves(
    status: int, headers: Sequence[tuple[bytes, bytes]], range_header: str | None
) -> bool:
    """Whether a stored response may answer a request that sent ``range_header``.

    A stored 206 is one range of the object, not the object (caching.md §1.14, decisions.md
    #34; AWS "How CloudFront processes partial requests for an object (range GETs)": when the
    origin supports ranges "it returns the requested range. CloudFront serves the requested
    range and also caches it for future requests"). So it answers only a ``Range`` request for
    exactly its own bytes (its ``Content-Range``); a request without ``Range``, for several
    ranges or for other bytes goes to the origin, and the answer replaces it. Any other stored
    status answers every request (a range is cut from a stored 200 on the viewer side).
    """
    if status != 206:
        return True
    if range_header is None:
        return False
    stored = _content_range(raw_get(headers, b"content-range"))
    if stored is None:
        return False
    first, last, size = stored
    return _requested_span(range_header, size) == (first, last)
