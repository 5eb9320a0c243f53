"""The cache key: query strings, cookies and headers the policy selects, and the normalised
Accept-Encoding (caching.md §1.5, §1.13; decisions.md #36, #42)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Literal

from ..config.behavior import PathPattern
from ..config.model import CachePolicy
from ..config.settings import EdgeSettings
from ..core.types import CFHeaders, HeaderEntry
from .query import canonical_query

# -- selections (query strings, cookies, headers) ----------------------------------------------

_Mode = Literal["none", "whitelist", "allExcept", "all"]


@dataclass(frozen=True, slots=True)
class _Select:
    """A name filter: ``none | whitelist | allExcept | all`` over a set of names, and the
    names written with wildcards as one compiled pattern (:func:`_select`)."""

    mode: _Mode
    names: frozenset[str]
    pattern: _Globs | None = None

    def __call__(self, name: str) -> bool:
        mode = self.mode
        if mode == "all":
            return True
        if mode == "whitelist":
            return name in self.names or (self.pattern is not None and self.pattern.fullmatch(name))
        if mode == "allExcept":
            return name not in self.names and (
                self.pattern is None or not self.pattern.fullmatch(name)
            )
        return False

    @property
    def active(self) -> bool:
        return self.mode != "none" and not (
            self.mode == "whitelist" and not self.names and self.pattern is None
        )


class _Globs:
    """Names with ``*``/``?``, each matched in time linear in the name (a regex with a
    ``.*`` per ``*`` backtracked for seconds on a 1,000-character cookie name)."""

    __slots__ = ("_each",)

    def __init__(self, globs: Sequence[str]) -> None:
        self._each = [PathPattern(glob) for glob in globs]

    def fullmatch(self, name: str) -> bool:
        return any(glob.fullmatch(name) for glob in self._each)


def _select(mode: _Mode, names: Sequence[str], wildcards: bool = False) -> _Select:
    """The filter for a policy's names. With ``wildcards`` (a legacy cookie whitelist,
    caching.md §1.13), a name with ``*`` (any run of characters) or ``?`` (one character)
    is a pattern; matching is case-sensitive, as cookie names are. Built once per policy
    (the plans are cached), so a request only pays for a pattern when the policy has one."""
    patterns = [n for n in names if "*" in n or "?" in n] if wildcards else []
    if not patterns:
        return _Select(mode, frozenset(names))
    literal = frozenset(n for n in names if n not in patterns)
    return _Select(mode, literal, _Globs(patterns))


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


def joined_values(entries: Sequence[HeaderEntry] | None) -> str | None:
    """A header's lines as one value (RFC 9110 §5.3: repeated lines are one comma list)."""
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
    normalize_ae = policy.normalizes_accept_encoding
    names = sorted(set(policy.headers))
    if normalize_ae:
        # CloudFront does not allow both; the normalised value wins.
        names = [n for n in names if n != "accept-encoding"]
    return _KeyPlan(
        qs=_select(policy.query_strings, policy.query_string_names),
        headers=tuple(names),
        cookies=_select(policy.cookies, policy.cookie_names, policy.cookie_wildcards),
        normalize_ae=normalize_ae,
    )


_ESC = str.maketrans({"\\": "\\\\", "|": "\\|"})
_ESC_NAME = str.maketrans({"\\": "\\\\", "|": "\\|", "=": "\\="})


def _esc(s: str) -> str:
    return s.translate(_ESC) if ("|" in s or "\\" in s) else s


def _esc_name(s: str) -> str:
    return s.translate(_ESC_NAME) if ("|" in s or "\\" in s or "=" in s) else s


def keyed_path(uri: str, querystring: str, policy: CachePolicy, canonical: bool = False) -> str:
    """The path an invalidation matches for an object stored under ``policy``: the uri, plus
    ``?`` and the query parameters the key holds, in request order, when it holds any
    (caching.md §1.10: ``/a.jpg`` removes an object keyed without a query string, whatever the
    viewer sent; ``/a.jpg?v=1`` is its own object when ``v`` is keyed). ``canonical``
    (``EdgeSettings.canonicalize_query``): the query as the key holds it (``v=%61`` is
    ``v=a``)."""
    mode = _key_plan(policy).qs
    if mode.mode == "none" or not querystring:
        return uri
    params = _params(querystring)
    if mode.mode != "all":
        params = [p for p in params if mode(p.partition("=")[0])]
    if not params:
        return uri
    return f"{uri}?{canonical_query(params) if canonical else '&'.join(params)}"


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
    parts = [_esc(host), _esc(uri)]  # as given: the viewer's Host as the origin gets it
    if method.upper() == "OPTIONS":
        parts.append("m:OPTIONS")
    if plan.qs.mode != "none":
        params = _params(querystring)
        if plan.qs.mode != "all":
            select = plan.qs
            params = [p for p in params if select(p.partition("=")[0])]
        qs = canonical_query(params) if settings.canonicalize_query else "&".join(params)
        parts.append("qs:" + _esc(qs))
    for name in plan.headers:
        value = joined_values(headers.get(name))
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
        ae = normalize_accept_encoding(
            joined_values(headers.get("accept-encoding")), policy, settings
        )
        if ae is not None:
            parts.append("ae:" + ae)
    return "|".join(parts)
