"""The cache policy (TTLs and the cache key) and the origin request policy (what else reaches the
origin), with CloudFront's field names; validated at construction (caching.md §1.5)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..exceptions import ConfigurationError
from .checks import check_fields

__all__ = ["CachePolicy", "CookieBehavior", "OriginRequestPolicy", "QueryStringBehavior"]

QueryStringBehavior = Literal["none", "whitelist", "allExcept", "all"]
CookieBehavior = Literal["none", "whitelist", "allExcept", "all"]
_QS = ("none", "whitelist", "allExcept", "all")
#: CloudFront's DefaultTTL and MaxTTL when left out (caching.md §1.3)
DEFAULT_TTL = 86400
MAX_TTL = 31536000


#: an HTTP field name (RFC 9110 §5.1): a key entry of anything else can never match
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header_names(value: Iterable[str], field_name: str) -> tuple[str, ...]:
    names = tuple(h.lower() for h in _names(value, field_name))
    for name in names:
        if not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(field_name, name, "header names (token characters)")
    return names


def _names(value: Iterable[str], field_name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigurationError(field_name, value, "a list of names, not a string")
    out = tuple(value)
    for v in out:
        if not isinstance(v, str) or not v:
            raise ConfigurationError(field_name, v, "non-empty names")
    return out


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A cache policy: TTLs and what goes into the cache key (and so to the origin).

    ``CachePolicy(0, 0, 0)`` is CloudFront's CachingDisabled. ``cookie_wildcards``: the
    ``cookie_names`` may hold ``*`` and ``?`` wildcards (``sess*``), as a legacy
    ``ForwardedValues`` cookie whitelist may (caching.md §1.13); a cache policy's names are
    plain names. A ``default_ttl`` left at 86400 is raised to a larger ``min_ttl``, a
    ``max_ttl`` left at 31536000 to a larger ``default_ttl`` (caching.md §1.3). Example::

        CachePolicy(default_ttl=3600, query_strings="whitelist", query_string_names=("page",))
    """

    min_ttl: int = 0
    default_ttl: int = DEFAULT_TTL
    max_ttl: int = MAX_TTL
    query_strings: QueryStringBehavior = "none"
    query_string_names: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    cookies: CookieBehavior = "none"
    cookie_names: tuple[str, ...] = ()
    enable_accept_encoding_gzip: bool = False
    enable_accept_encoding_brotli: bool = False
    name: str | None = None
    cookie_wildcards: bool = False

    def __post_init__(self) -> None:
        check_fields(self, "CachePolicy")
        for attr in ("min_ttl", "default_ttl", "max_ttl"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"CachePolicy.{attr}", value, "a whole number >= 0")
        # a DefaultTTL / MaxTTL left at its default is raised to the MinTTL / DefaultTTL above
        # it, as CloudFront's CachePolicyConfig does (caching.md §1.3)
        if self.default_ttl == DEFAULT_TTL and self.min_ttl > DEFAULT_TTL:
            object.__setattr__(self, "default_ttl", self.min_ttl)
        if self.max_ttl == MAX_TTL and self.default_ttl > MAX_TTL:
            object.__setattr__(self, "max_ttl", self.default_ttl)
        if not self.min_ttl <= self.max_ttl:
            raise ConfigurationError(
                "CachePolicy.max_ttl", self.max_ttl, f">= min_ttl ({self.min_ttl})"
            )
        if not self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ConfigurationError(
                "CachePolicy.default_ttl",
                self.default_ttl,
                f"between min_ttl ({self.min_ttl}) and max_ttl ({self.max_ttl})",
            )
        if self.query_strings not in _QS:
            raise ConfigurationError(
                "CachePolicy.query_strings", self.query_strings, " | ".join(_QS)
            )
        if self.cookies not in _QS:
            raise ConfigurationError("CachePolicy.cookies", self.cookies, " | ".join(_QS))
        if not isinstance(self.cookie_wildcards, bool):
            raise ConfigurationError(
                "CachePolicy.cookie_wildcards", self.cookie_wildcards, "true or false"
            )
        object.__setattr__(
            self,
            "query_string_names",
            _names(self.query_string_names, "CachePolicy.query_string_names"),
        )
        object.__setattr__(
            self, "cookie_names", _names(self.cookie_names, "CachePolicy.cookie_names")
        )
        headers = _header_names(self.headers, "CachePolicy.headers")
        for h in headers:
            if h in ("connection", "cookie", "proxy-authorization", "te", "upgrade"):
                raise ConfigurationError("CachePolicy.headers", h, "a header CloudFront can key on")
        object.__setattr__(self, "headers", headers)

    @property
    def caching_disabled(self) -> bool:
        return self.max_ttl == 0

    @property
    def normalizes_accept_encoding(self) -> bool:
        """Gzip or Brotli is on: CloudFront normalises ``Accept-Encoding`` into the key and to
        the origin (caching.md §1.5)."""
        return self.enable_accept_encoding_gzip or self.enable_accept_encoding_brotli


@dataclass(frozen=True, slots=True)
class OriginRequestPolicy:
    """Extra values forwarded to the origin, never keyed (caching.md §1.5)."""

    headers: Literal[
        "none", "whitelist", "allViewer", "allViewerAndWhitelistCloudFront", "allExcept"
    ] = "none"
    header_names: tuple[str, ...] = ()
    cookies: Literal["none", "whitelist", "all", "allExcept"] = "none"
    cookie_names: tuple[str, ...] = ()
    query_strings: Literal["none", "whitelist", "all", "allExcept"] = "none"
    query_string_names: tuple[str, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "OriginRequestPolicy")
        ok = ("none", "whitelist", "allViewer", "allViewerAndWhitelistCloudFront", "allExcept")
        if self.headers not in ok:
            raise ConfigurationError("OriginRequestPolicy.headers", self.headers, " | ".join(ok))
        for attr in ("cookies", "query_strings"):
            if getattr(self, attr) not in ("none", "whitelist", "all", "allExcept"):
                raise ConfigurationError(
                    f"OriginRequestPolicy.{attr}",
                    getattr(self, attr),
                    "none | whitelist | all | allExcept",
                )
        object.__setattr__(
            self,
            "header_names",
            _header_names(self.header_names, "OriginRequestPolicy.header_names"),
        )
        if "authorization" in self.header_names and self.headers != "allExcept":
            # caching.md §1.5: it "can't be listed one by one in an ORP" (CloudFront refuses
            # the policy); it reaches the origin from the cache key or with every header
            raise ConfigurationError(
                "OriginRequestPolicy.header_names",
                "Authorization",
                "no Authorization (put it in the cache policy's headers to forward it)",
            )
        object.__setattr__(
            self, "cookie_names", _names(self.cookie_names, "OriginRequestPolicy.cookie_names")
        )
        object.__setattr__(
            self,
            "query_string_names",
            _names(self.query_string_names, "OriginRequestPolicy.query_string_names"),
        )
