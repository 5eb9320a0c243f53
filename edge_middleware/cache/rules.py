"""CloudFront's cache rules as pure functions: TTLs, storability, cache keys, forwarding, Vary.

Spec: caching.md §1.3-§1.6, §1.9, §1.13 and lambda-edge.md §1.3; undocumented points follow
decisions.md items 27-42 through :class:`~edge_middleware.config.settings.EdgeSettings`.

Everything here runs on every request, so per-policy data is precomputed once
(``functools.lru_cache`` on the frozen policy objects) and no regex is compiled per call.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from operator import itemgetter
from typing import Literal

from ..config.model import Behavior, CachePolicy, EdgeConfig, OriginRequestPolicy
from ..config.settings import EdgeSettings
from ..core.headers import raw_get
from ..core.types import CFHeaders, CFRequest, HeaderEntry

__all__ = [
    "ForwardedHeaders",
    "ResponseCacheControl",
    "StoreDecision",
    "authorization_cache_warning",
    "authorization_cache_warnings",
    "cache_key",
    "collapsible",
    "cookies_forwarded",
    "decide_storage",
    "filter_vary",
    "forwarded_header_names",
    "forwarded_to_origin",
    "normalize_accept_encoding",
    "not_modified_since",
    "origin_age",
    "parse_cache_control",
    "stored_response_serves",
]

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


def parse_cache_control(values: Iterable[str]) -> ResponseCacheControl:
    """Parse one or more ``Cache-Control`` header lines (they combine as one list).

    * Directive names are case-insensitive; values of delta-seconds directives must be plain
      digits (quoted digits are accepted); anything else counts as absent.
    * A repeated delta-seconds directive keeps its first well-formed value.
    * ``no-cache`` without a value sets ``no_cache``; ``no-cache="A, B"`` only lists fields.
    * ``no-store``/``private``/``must-revalidate`` count even when given an argument
      (qualified ``private="x"`` is treated as ``private``: the conservative reading).
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


def _http_date(value: str | None) -> float | None:
    # werkzeug.http.parse_date's rules, without importing werkzeug (and its server) here.
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


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
        exp = _http_date(expires)
        if exp is None:
            return 0.0, "invalid Expires (0)"
        base = None
        if settings.expires_against == "origin-date":
            base = _http_date(date)
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
    cc = parse_cache_control(cc_lines) if has_cc else _EMPTY_CC
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
    if settings.must_revalidate_suppresses_stale and cc.must_revalidate:
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
            swr,
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


def not_modified_since(if_modified_since: str | None, last_modified: str | None) -> bool:
    """RFC 9110 §13.1.3: a viewer ``If-Modified-Since`` is answered 304 when the stored
    ``Last-Modified`` is at or before it. Both are read as dates (IMF-fixdate, the obsolete
    RFC 850 and asctime forms, RFC 9110 §5.6.7), so a later date or the same instant written
    another way matches too; an invalid date on either side means "ignore" (no 304)."""
    since = _http_date(if_modified_since)
    modified = _http_date(last_modified)
    return since is not None and modified is not None and modified <= since


# -- selections (query strings, cookies, headers) ----------------------------------------------

_Mode = Literal["none", "whitelist", "allExcept", "all"]


@dataclass(frozen=True, slots=True)
class _Select:
    """A name filter: ``none | whitelist | allExcept | all`` over a set of names."""

    mode: _Mode
    names: frozenset[str]

    def __call__(self, name: str) -> bool:
        mode = self.mode
        if mode == "all":
            return True
        if mode == "whitelist":
            return name in self.names
        if mode == "allExcept":
            return name not in self.names
        return False

    @property
    def active(self) -> bool:
        return self.mode != "none" and not (self.mode == "whitelist" and not self.names)


def _union(a: _Select, b: _Select) -> Callable[[str], bool] | None:
    """The combined filter (caching.md §1.5: union; "all" in either sends everything).

    ``None`` means "everything".
    """
    if a.mode == "all" or b.mode == "all":
        return None
    if not b.active:
        return a
    if not a.active:
        return b
    return lambda name: a(name) or b(name)


_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _parse_cookies(entries: Sequence[HeaderEntry]) -> list[tuple[str, str]]:
    """Well-formed ``name=value`` pairs from every ``Cookie`` line, in order."""
    out: list[tuple[str, str]] = []
    for entry in entries:
        for piece in entry["value"].split(";"):
            name, sep, value = piece.partition("=")
            if not sep:
                continue
            name = name.strip()
            if _COOKIE_NAME.fullmatch(name) is None:
                continue
            out.append((name, value.strip()))
    return out


_by_name = itemgetter(0)


def _params(querystring: str) -> list[str]:
    return querystring.split("&") if querystring else []


_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _pct_norm(match: re.Match[str]) -> str:
    ch = chr(int(match.group(1), 16))
    return ch if ch in _UNRESERVED else "%" + match.group(1).upper()


def _canonical_query(params: list[str]) -> str:
    """settings.canonicalize_query: percent-encoding normalised, empty parameters dropped,
    ``a`` read as ``a=``; order and repeats kept (CloudFront keys are order-sensitive)."""
    out = []
    for p in params:
        if not p:
            continue
        name, _, value = p.partition("=")
        out.append(f"{_PCT.sub(_pct_norm, name)}={_PCT.sub(_pct_norm, value)}")
    return "&".join(out)


# -- Accept-Encoding -----------------------------------------------------------------------------


def _accepted_codings(value: str, q_zero_excludes: bool) -> tuple[bool, bool]:
    """(gzip listed, br listed) in an Accept-Encoding value."""
    gzip = br = False
    for item in value.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "br"):
            continue
        if q_zero_excludes and params:
            excluded = False
            for param in params.split(";"):
                pname, _, pval = param.partition("=")
                if pname.strip().lower() == "q":
                    try:
                        excluded = float(pval.strip()) <= 0
                    except ValueError:
                        excluded = False
            if excluded:
                continue
        if coding == "gzip":
            gzip = True
        else:
            br = True
    return gzip, br


def normalize_accept_encoding(
    value: str | None, policy: CachePolicy, settings: EdgeSettings
) -> str | None:
    """CloudFront's normalised Accept-Encoding: ``br,gzip``, ``gzip``, ``br`` or ``None``.

    ``None`` when normalisation is off (both flags false), the viewer sent no header, or it
    listed none of the enabled codings (``q=0`` counts as not listed, decisions.md #36). Only
    the literal names count (``*`` and ``x-gzip`` do not).
    """
    if value is None:
        return None
    want_gzip, want_br = policy.enable_accept_encoding_gzip, policy.enable_accept_encoding_brotli
    if not (want_gzip or want_br):
        return None
    gzip, br = _accepted_codings(value, settings.accept_encoding_q_zero_excludes)
    gzip, br = gzip and want_gzip, br and want_br
    if gzip and br:
        return "br,gzip"
    if gzip:
        return "gzip"
    if br:
        return "br"
    return None


def _joined(entries: Sequence[HeaderEntry] | None) -> str | None:
    if not entries:
        return None
    if len(entries) == 1:
        return entries[0]["value"]
    return ",".join(e["value"] for e in entries)


# -- cache key ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeyPlan:
    qs: _Select
    headers: tuple[str, ...]  # sorted, lower-case, escaped for the key
    cookies: _Select
    normalize_ae: bool


@lru_cache(maxsize=256)
def _key_plan(policy: CachePolicy) -> _KeyPlan:
    normalize_ae = policy.enable_accept_encoding_gzip or policy.enable_accept_encoding_brotli
    names = sorted(set(policy.headers))
    if normalize_ae:
        # CloudFront does not allow both; the normalised value wins.
        names = [n for n in names if n != "accept-encoding"]
    return _KeyPlan(
        qs=_Select(policy.query_strings, frozenset(policy.query_string_names)),
        headers=tuple(names),
        cookies=_Select(policy.cookies, frozenset(policy.cookie_names)),
        normalize_ae=normalize_ae,
    )


_ESC = str.maketrans({"\\": "\\\\", "|": "\\|"})
_ESC_NAME = str.maketrans({"\\": "\\\\", "|": "\\|", "=": "\\="})


def _esc(s: str) -> str:
    return s.translate(_ESC) if ("|" in s or "\\" in s) else s


def _esc_name(s: str) -> str:
    return s.translate(_ESC_NAME) if ("|" in s or "\\" in s or "=" in s) else s


def cache_key(
    *,
    method: str,
    host: str,
    uri: str,
    querystring: str,
    headers: CFHeaders,
    policy: CachePolicy,
    settings: EdgeSettings,
) -> str:
    """The plaintext cache key (caching.md §1.5), readable and unambiguous.

    Layout: ``host|uri`` then labelled segments, in this order, each only when relevant::

        d111.cloudfront.net|/a.jpg|m:OPTIONS|qs:color=red|h:accept-language=en|h:x-absent|c:s=b|ae:br,gzip

    * Segments are separated by ``|``; ``\\`` and ``|`` inside any part are backslash-escaped
      (and ``=`` in header/cookie names), so the key splits back into its parts exactly.
    * ``qs:`` is present whenever the policy keys query strings (``qs:`` = empty), with the
      selected parameters joined by ``&`` in request order.
    * One ``h:`` per policy header, sorted by name: ``h:name=value`` (repeated lines joined by
      ``,``), or ``h:name`` (no ``=``) when the viewer did not send it: absent != empty.
    * One ``c:`` per selected cookie, sorted by name (stable).
    * ``ae:`` only when normalisation is on and the viewer listed an enabled coding.
    * GET and HEAD share a key; ``m:OPTIONS`` keeps OPTIONS apart.
    """
    plan = _key_plan(policy)
    parts = [_esc(host.lower()), _esc(uri)]
    if method.upper() == "OPTIONS":
        parts.append("m:OPTIONS")
    if plan.qs.mode != "none":
        params = _params(querystring)
        if plan.qs.mode != "all":
            select = plan.qs
            params = [p for p in params if select(p.partition("=")[0])]
        qs = _canonical_query(params) if settings.canonicalize_query else "&".join(params)
        parts.append("qs:" + _esc(qs))
    for name in plan.headers:
        value = _joined(headers.get(name))
        if value is None:
            parts.append("h:" + _esc_name(name))
        else:
            parts.append(f"h:{_esc_name(name)}={_esc(value)}")
    if plan.cookies.active:
        entries = headers.get("cookie")
        if entries:
            select = plan.cookies
            pairs = [c for c in _parse_cookies(entries) if select(c[0])]
            pairs.sort(key=_by_name)
            parts.extend(f"c:{_esc_name(n)}={_esc(v)}" for n, v in pairs)
    if plan.normalize_ae:
        ae = normalize_accept_encoding(_joined(headers.get("accept-encoding")), policy, settings)
        if ae is not None:
            parts.append("ae:" + ae)
    return "|".join(parts)


# -- forwarding to the origin --------------------------------------------------------------------

#: CloudFront's RequestAndResponseBehaviorCustomOrigin table: always sent to the origin.
_ALWAYS_FORWARDED = frozenset(
    {
        "content-length",
        "content-md5",
        "content-type",
        "if-match",
        "if-range",
        "if-unmodified-since",
        "range",
        "transfer-encoding",
    }
)
#: Viewer conditionals: only for requests the edge does not cache (it sends its own).
_CONDITIONALS = frozenset({"if-modified-since", "if-none-match"})
#: Hop-by-hop and disallowed headers (lambda-edge.md §3.1), plus Host (the caller sets it).
_NEVER_FORWARDED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "x-real-ip",
        "x-forwarded-proto",
        "host",
        "x-cache",
        "x-amzn-auth",
        "x-amzn-cf-billing",
        "x-amzn-cf-id",
        "x-amzn-cf-xff",
        "x-amzn-errortype",
        "x-amzn-fle-profile",
        "x-amzn-header-count",
        "x-amzn-header-order",
        "x-amzn-lambda-integration-tag",
        "x-amzn-requestid",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
    }
)
_NEVER_PREFIXES = ("proxy-", "x-amz-cf-", "x-edge-")
_UNSAFE_FOR_AUTH = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class _ForwardPlan:
    qs: Callable[[str], bool] | None  # None = all
    qs_any: bool
    cookies: Callable[[str], bool] | None
    cookies_any: bool
    keyed_headers: frozenset[str]
    orp_headers: str
    orp_header_names: frozenset[str]
    normalize_ae: bool


_NO_ORP = OriginRequestPolicy()


@lru_cache(maxsize=256)
def _forward_plan(policy: CachePolicy, orp: OriginRequestPolicy | None) -> _ForwardPlan:
    o = orp or _NO_ORP
    qs_a = _Select(policy.query_strings, frozenset(policy.query_string_names))
    qs_b = _Select(o.query_strings, frozenset(o.query_string_names))
    ck_a = _Select(policy.cookies, frozenset(policy.cookie_names))
    ck_b = _Select(o.cookies, frozenset(o.cookie_names))
    return _ForwardPlan(
        qs=_union(qs_a, qs_b),
        qs_any=qs_a.active or qs_b.active,
        cookies=_union(ck_a, ck_b),
        cookies_any=ck_a.active or ck_b.active,
        keyed_headers=frozenset(policy.headers),
        orp_headers=o.headers,
        orp_header_names=frozenset(o.header_names),
        normalize_ae=policy.enable_accept_encoding_gzip or policy.enable_accept_encoding_brotli,
    )


def _orp_selects(plan: _ForwardPlan, name: str) -> bool:
    mode = plan.orp_headers
    if mode == "none":
        return False
    if mode == "whitelist":
        return name in plan.orp_header_names
    cloudfront = name.startswith("cloudfront-")
    if mode == "allViewer":
        return not cloudfront
    if mode == "allViewerAndWhitelistCloudFront":
        return not cloudfront or name in plan.orp_header_names
    return not cloudfront and name not in plan.orp_header_names  # allExcept


def forwarded_to_origin(
    request: CFRequest,
    policy: CachePolicy,
    origin_request_policy: OriginRequestPolicy | None,
    settings: EdgeSettings,
    *,
    cacheable: bool,
) -> tuple[str, CFHeaders]:
    """The query string and viewer headers CloudFront sends to the origin (caching.md §1.5).

    ``cacheable``: the request may be answered from/stored in the cache (then viewer
    ``If-Modified-Since``/``If-None-Match`` are not forwarded; the edge sends its own).
    The result keeps each header's original ``key`` casing and the request's header order; the
    forwarded cookies become one ``Cookie`` header sorted by name. ``Host`` is never included.
    ``CloudFront-*`` headers count as viewer headers only when a policy names them.
    """
    plan = _forward_plan(policy, origin_request_policy)

    querystring = request["querystring"]
    if plan.qs is not None:
        if not plan.qs_any:
            querystring = ""
        elif querystring:
            select = plan.qs
            querystring = "&".join(p for p in querystring.split("&") if select(p.partition("=")[0]))

    method = request["method"].upper()
    out: CFHeaders = {}
    for lower, entries in request["headers"].items():
        if not entries:
            continue
        if lower in _NEVER_FORWARDED or lower.startswith(_NEVER_PREFIXES):
            continue
        if lower == "cookie":
            if plan.cookies_any:
                pairs = _parse_cookies(entries)
                if plan.cookies is not None:
                    select = plan.cookies
                    pairs = [c for c in pairs if select(c[0])]
                if pairs:
                    pairs.sort(key=_by_name)
                    out["cookie"] = [
                        {
                            "key": entries[0].get("key") or "Cookie",
                            "value": "; ".join(f"{n}={v}" for n, v in pairs),
                        }
                    ]
            continue
        if lower == "accept-encoding" and plan.normalize_ae:
            ae = normalize_accept_encoding(_joined(entries), policy, settings)
            out[lower] = [
                {"key": entries[0].get("key") or "Accept-Encoding", "value": ae or "identity"}
            ]
            continue
        if lower in _ALWAYS_FORWARDED:
            keep = True
        elif lower in _CONDITIONALS:
            keep = not cacheable
        elif lower == "authorization":
            keep = (
                method not in _UNSAFE_FOR_AUTH
                or lower in plan.keyed_headers
                or (plan.orp_headers not in ("none", "whitelist") and _orp_selects(plan, lower))
            )
        else:
            keep = lower in plan.keyed_headers or _orp_selects(plan, lower)
        if keep:
            out[lower] = [e.copy() for e in entries]
    return querystring, out


# -- Vary, cookies, collapsing ------------------------------------------------------------------

_DEVICE_HEADERS = frozenset(
    {
        "cloudfront-is-desktop-viewer",
        "cloudfront-is-mobile-viewer",
        "cloudfront-is-smarttv-viewer",
        "cloudfront-is-tablet-viewer",
        "cloudfront-is-android-viewer",
        "cloudfront-is-ios-viewer",
    }
)
_VARY_ALWAYS = frozenset({"accept-encoding", "cookie"})


@dataclass(frozen=True, slots=True)
class ForwardedHeaders:
    """The viewer header names CloudFront sends to the origin for a behavior: those in the
    cache key and those its origin request policy forwards (caching.md §1.5). ``name in it``
    takes a lower-case name. ``Authorization`` counts only when keyed or sent by an "all
    viewer headers" policy (it cannot be listed in an ORP), as in :func:`forwarded_to_origin`.
    """

    keyed: frozenset[str]
    plan: _ForwardPlan | None
    everything: bool = False

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self.everything or name in self.keyed:
            return True
        plan = self.plan
        if plan is None or (name == "authorization" and plan.orp_headers == "whitelist"):
            return False
        return _orp_selects(plan, name)


@lru_cache(maxsize=256)
def forwarded_header_names(
    policy: CachePolicy, orp: OriginRequestPolicy | None, forward_all: bool = False
) -> ForwardedHeaders:
    """The :class:`ForwardedHeaders` of a behavior; ``forward_all`` is the legacy
    ``ForwardedValues`` ``*`` (every header forwarded, caching off)."""
    keyed = frozenset(h.lower() for h in policy.headers)
    return ForwardedHeaders(keyed, _forward_plan(policy, orp) if orp else None, forward_all)


def filter_vary(
    headers: Sequence[tuple[bytes, bytes]],
    forwarded_header_names: Container[str],
    min_ttl: int,
) -> list[tuple[bytes, bytes]]:
    """The origin's ``Vary`` as the viewer sees it (caching.md §1.6).

    Keeps ``Accept-Encoding``, ``Cookie`` and the names of headers CloudFront forwards to the
    origin (lower-case names ``in forwarded_header_names``: a set, or the
    :class:`ForwardedHeaders` of :func:`forwarded_header_names`, which counts the origin
    request policy's headers too); ``User-Agent`` when a device-type header is forwarded; ``*``
    only when ``min_ttl == 0``. A ``Vary`` line left empty is dropped. Other headers untouched.
    AWS, "Request and response behavior for custom origins", ``Vary``: "If you configure
    CloudFront to forward headers to your origin, and if you configure your origin to return
    the header names to CloudFront in the Vary header ..., CloudFront returns the Vary header
    with those values to the viewer"; an origin request policy forwards headers as much as a
    cache policy does, so its names are kept too.
    """
    out: list[tuple[bytes, bytes]] = []
    device = any(h in forwarded_header_names for h in _DEVICE_HEADERS)
    for name, value in headers:
        if name.lower() != b"vary":
            out.append((name, value))
            continue
        kept = []
        for token in value.split(b","):
            token = token.strip()
            if not token:
                continue
            lower = token.decode("latin-1").lower()
            if (
                lower in _VARY_ALWAYS
                or lower in forwarded_header_names
                or (lower == "user-agent" and device)
                or (lower == "*" and min_ttl == 0)
            ):
                kept.append(token)
        if kept:
            out.append((name, b", ".join(kept)))
    return out


def cookies_forwarded(policy: CachePolicy, orp: OriginRequestPolicy | None) -> bool:
    """Any cookie reaches the origin (in the key or through the ORP), caching.md §1.13."""
    return _forward_plan(policy, orp).cookies_any


def collapsible(policy: CachePolicy, orp: OriginRequestPolicy | None) -> bool:
    """Request collapsing applies (caching.md §1.9): not with caching disabled (MaxTTL 0) nor
    with any cookie forwarding. The per-object rule (MinTTL 0 and a response that is not stored
    or has TTL 0) is for the caller, from the :class:`StoreDecision`."""
    return not policy.caching_disabled and not cookies_forwarded(policy, orp)


# -- Authorization and caching -------------------------------------------------------------------


def authorization_cache_warning(behavior: Behavior) -> str | None:
    """A plain-words warning when a behavior caches answers to requests that carry viewer
    credentials without telling users apart, else ``None``. For ``check`` and the dev server
    banner.

    That is the case when its origin request policy sends every viewer header (``allViewer``,
    ``allViewerAndWhitelistCloudFront``, or an ``allExcept`` that does not list it), so the
    origin gets ``Authorization``, while the cache key does not contain ``Authorization`` and
    caching is on. CloudFront forwards ``Authorization`` then (caching.md §1.5; AWS, "Configure
    CloudFront to forward the Authorization header": you "can't forward the Authorization header
    individually in an origin request policy, but when you forward all viewer headers CloudFront
    includes the Authorization header"), and it looks objects up by the cache key alone (AWS,
    "Control origin requests with a policy": the origin request policy is for what goes to the
    origin "but not in the cache key"). So the answer to one viewer's ``Authorization`` is
    served from the cache to another viewer, with other credentials or none.
    """
    cache = behavior.cache
    orp = behavior.origin_request_policy
    if orp is None or cache.max_ttl == 0 or behavior.forward_all_headers:
        return None
    if "authorization" in forwarded_header_names(cache, None):  # keyed: users kept apart
        return None
    if orp.headers == "whitelist" or "authorization" not in forwarded_header_names(cache, orp):
        return None
    stored = (
        f"for up to MinTTL {cache.min_ttl} s even when it says private or no-store"
        if cache.min_ttl > 0
        else "unless it says private or no-store"
    )
    return (
        f"Behavior {behavior.path_pattern!r}: its origin request policy ({orp.headers}) sends "
        "the viewer's Authorization header to the origin, but Authorization is not in the cache "
        f"key and caching is on (MaxTTL {cache.max_ttl} s). CloudFront stores the answer to an "
        f"authorized request {stored}, and serves it to every viewer whose request has the same "
        "cache key, whatever credentials they send or if they send none. Add Authorization to "
        "the cache policy's headers, or use a cache policy with caching disabled."
    )


def authorization_cache_warnings(config: EdgeConfig) -> list[str]:
    """:func:`authorization_cache_warning` for every behavior of ``config``, in order."""
    out = []
    for behavior in config.all_behaviors:
        warning = authorization_cache_warning(behavior)
        if warning is not None:
            out.append(warning)
    return out
