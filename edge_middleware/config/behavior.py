"""A cache behavior: its path pattern, its four triggers (Lambda@Edge function associations),
its methods and its policies; validated at construction, so a bad behavior fails at start with
the field named."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.types import EVENT_TYPES, EventType
from ..exceptions import ConfigurationError
from .checks import check_fields
from .policies import CachePolicy, OriginRequestPolicy
from .response_headers import ResponseHeadersPolicy, managed_response_headers_policy

__all__ = [
    "ALL_METHODS",
    "Behavior",
    "HandlerLike",
    "PathPattern",
    "Trigger",
    "compile_path_pattern",
    "handler_name",
]

HandlerLike = Callable[..., Any] | str

ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
_METHOD_SETS = (
    frozenset({"GET", "HEAD"}),
    frozenset({"GET", "HEAD", "OPTIONS"}),
    frozenset(ALL_METHODS),
)
_PATTERN_OK = re.compile(r"^[A-Za-z0-9_\-.*$/~\"'@:+&?%]*$")


class PathPattern:
    """A compiled CloudFront path pattern: :meth:`fullmatch` in time linear in the path.

    A regex with a ``.*`` per ``*`` backtracks: ``/img/*/*/*/*.jpg`` took seconds on a
    600-byte path of slashes, on every request, before the cache. The pattern is cut at its
    ``*``s instead: the first piece must start the path, the last end it, and each one between
    is found leftmost after the one before (which is where a glob match may always put it);
    ``?`` is one character in a piece, so every piece has a fixed length.
    """

    __slots__ = ("_first", "_last", "_middle", "_whole")

    def __init__(self, glob: str) -> None:
        pieces = glob.split("*")
        compiled = [(re.compile(_piece(p), re.DOTALL), len(p)) for p in pieces]
        self._whole = compiled[0][0] if len(pieces) == 1 else None
        self._first, self._last = compiled[0], compiled[-1]
        self._middle = [piece for piece, length in compiled[1:-1] if length]

    def fullmatch(self, path: str) -> bool:
        if self._whole is not None:
            return self._whole.fullmatch(path) is not None
        end = len(path) - self._last[1]
        if end < self._first[1]:
            return False
        if not self._first[0].match(path) or not self._last[0].fullmatch(path, end):
            return False
        pos = self._first[1]
        for piece in self._middle:
            found = piece.search(path, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True


def _piece(text: str) -> str:
    return "".join("." if ch == "?" else re.escape(ch) for ch in text)


def compile_path_pattern(pattern: str, field_name: str = "path_pattern") -> PathPattern:
    """CloudFront path pattern to a :class:`PathPattern` (lambda-edge.md §5.5).

    ``*`` matches any run of characters including ``/``, ``?`` exactly one; case-sensitive;
    the leading ``/`` is optional in the pattern (a path always has it, so ``??/*`` is
    ``/??/*``: a ``?`` never stands for that ``/``); the whole path must match.
    """
    if not isinstance(pattern, str) or not pattern or len(pattern) > 255:
        raise ConfigurationError(field_name, pattern, "a path pattern of 1 to 255 characters")
    if not _PATTERN_OK.fullmatch(pattern):  # ("$" would match before a final newline)
        raise ConfigurationError(
            field_name, pattern, "only A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + & ? % in a path pattern"
        )
    body = pattern[1:] if pattern.startswith("/") else pattern
    return PathPattern("/" + body if body[:1] != "*" else body)


@dataclass(frozen=True, slots=True)
class Trigger:
    """One Lambda@Edge function association.

    :param handler: ``handler(event, context)`` (sync or ``async def``) or ``"module:function"``.
    :param include_body: CloudFront's ``IncludeBody``; only for request events.

    Example::

        Behavior(viewer_request=Trigger("handlers.forms:handler", include_body=True))
    """

    handler: HandlerLike
    include_body: bool = False
    #: A display name (the function name or ARN), used in logs and errors.
    name: str | None = None

    def __post_init__(self) -> None:
        if not (callable(self.handler) or isinstance(self.handler, str)):
            raise ConfigurationError(
                "Trigger.handler", self.handler, 'a callable or "module:function"'
            )
        if isinstance(self.handler, str) and ":" not in self.handler:
            raise ConfigurationError("Trigger.handler", self.handler, '"module:function"')
        if not isinstance(self.include_body, bool):
            raise ConfigurationError("Trigger.include_body", self.include_body, "a bool")
        if self.name is not None and not isinstance(self.name, str):
            raise ConfigurationError("Trigger.name", self.name, "a string (or None)")

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return handler_name(self.handler)


def handler_name(handler: HandlerLike) -> str:
    """The name logs, errors and the handler's context give a handler (the middleware's
    :attr:`Trigger.display_name`, :func:`~edge_middleware.testing.run_trigger`):
    ``"module:function"`` as given, else the callable's module and qualified name. A
    ``functools.partial`` is named by the function it wraps and a callable object by its
    class: never by ``repr()`` (a memory address in a function name and log group)."""
    if isinstance(handler, str):
        return handler
    target: Any = handler
    while isinstance(target, functools.partial):
        target = target.func
    if not isinstance(getattr(target, "__qualname__", None), str):  # an instance: its class
        target = type(target)
    mod = getattr(target, "__module__", "") or ""
    qual: str = target.__qualname__
    return f"{mod}:{qual}" if mod else qual


def _as_trigger(value: Trigger | HandlerLike | None, field_name: str) -> Trigger | None:
    if value is None or isinstance(value, Trigger):
        return value
    if callable(value) or isinstance(value, str):
        try:
            return Trigger(value)
        except ConfigurationError as exc:
            raise ConfigurationError(field_name, exc.value, exc.expected) from None
    raise ConfigurationError(field_name, value, 'a Trigger, a callable or "module:function"')


#: the trigger fields: a Trigger, a callable or "module:function" each (``_as_trigger``)
_TRIGGER_FIELDS = ("viewer_request", "origin_request", "origin_response", "viewer_response")


@dataclass(frozen=True, slots=True)
class Behavior:
    """A cache behavior: a path pattern, its four triggers and its cache policy.

    Behaviors are tried in order, first match wins, the default (``"*"``) last. Example::

        Behavior("/api/*", origin_request="handlers.api:handler", cache=CachePolicy(0, 0, 0))
    """

    path_pattern: str = "*"
    viewer_request: Trigger | HandlerLike | None = None
    origin_request: Trigger | HandlerLike | None = None
    origin_response: Trigger | HandlerLike | None = None
    viewer_response: Trigger | HandlerLike | None = None
    #: A :class:`CachePolicy`, or a managed policy's name or id (``"CachingOptimized"``).
    cache: CachePolicy = field(default_factory=CachePolicy)
    target_origin_id: str | None = None
    allowed_methods: Sequence[str] = ALL_METHODS
    cached_methods: Sequence[str] = ("GET", "HEAD")
    viewer_protocol_policy: Literal["allow-all", "https-only", "redirect-to-https"] = "allow-all"
    compress: bool = False
    #: An :class:`OriginRequestPolicy`, or a managed policy's name or id (``"AllViewer"``).
    origin_request_policy: OriginRequestPolicy | None = None
    #: Legacy ``ForwardedValues`` with ``Headers: ["*"]``: forwards every header, no caching.
    forward_all_headers: bool = False
    #: A :class:`ResponseHeadersPolicy`, or a managed policy's name or id
    #: (``"SecurityHeadersPolicy"``, ``"67f7725c-6f97-4210-82d7-5512b31e9d03"``).
    response_headers_policy: ResponseHeadersPolicy | str | None = None
    _regex: PathPattern = field(init=False, repr=False, compare=False)
    #: the CloudFront-* header names the policies ask for (core.origins.cloudfront_headers)
    cloudfront_wanted: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_fields(
            self,
            f"Behavior({self.path_pattern!r})",
            skip=(*_TRIGGER_FIELDS, "cache", "origin_request_policy", "response_headers_policy"),
        )
        object.__setattr__(
            self, "_regex", compile_path_pattern(self.path_pattern, "Behavior.path_pattern")
        )
        for ev in EVENT_TYPES:
            attr = ev.replace("-", "_")
            trig = _as_trigger(getattr(self, attr), f"Behavior({self.path_pattern!r}).{attr}")
            if (
                trig is not None
                and trig.include_body
                and ev in ("origin-response", "viewer-response")
            ):
                raise ConfigurationError(
                    f"Behavior({self.path_pattern!r}).{attr}.include_body",
                    True,
                    "IncludeBody only on request events",
                )
            # A CloudFront Function (edge_middleware.js) runs on viewer events only.
            only = getattr(trig.handler, "event_types", None) if trig is not None else None
            if only is not None and ev not in only:
                raise ConfigurationError(
                    f"Behavior({self.path_pattern!r}).{attr}",
                    trig.handler,  # type: ignore[union-attr]
                    f"a Lambda@Edge function: a CloudFront Function runs on {' and '.join(only)}",
                )
            object.__setattr__(self, attr, trig)
        allowed = frozenset(m.upper() for m in self.allowed_methods)
        if allowed not in _METHOD_SETS:
            raise ConfigurationError(
                f"Behavior({self.path_pattern!r}).allowed_methods",
                sorted(allowed),
                "GET+HEAD, GET+HEAD+OPTIONS, or all seven methods",
            )
        cached = frozenset(m.upper() for m in self.cached_methods)
        if cached not in _METHOD_SETS[:2] or not cached <= allowed:
            raise ConfigurationError(
                f"Behavior({self.path_pattern!r}).cached_methods",
                sorted(cached),
                "GET+HEAD or GET+HEAD+OPTIONS, within allowed_methods",
            )
        object.__setattr__(self, "allowed_methods", tuple(sorted(allowed)))
        object.__setattr__(self, "cached_methods", tuple(sorted(cached)))
        if self.viewer_protocol_policy not in ("allow-all", "https-only", "redirect-to-https"):
            raise ConfigurationError(
                f"Behavior({self.path_pattern!r}).viewer_protocol_policy",
                self.viewer_protocol_policy,
                "allow-all | https-only | redirect-to-https",
            )
        rhp = self.response_headers_policy
        if isinstance(rhp, str):
            try:
                rhp = managed_response_headers_policy(rhp)
            except ConfigurationError as exc:
                raise ConfigurationError(
                    f"Behavior({self.path_pattern!r}).response_headers_policy", rhp, exc.expected
                ) from None
            object.__setattr__(self, "response_headers_policy", rhp)
        elif rhp is not None and not isinstance(rhp, ResponseHeadersPolicy):
            raise ConfigurationError(
                f"Behavior({self.path_pattern!r}).response_headers_policy",
                rhp,
                "a ResponseHeadersPolicy or a managed policy name or id",
            )
        self._managed_policies()
        wanted = [h for h in self.cache.headers if h.startswith("cloudfront-")]
        orp = self.origin_request_policy
        if orp is not None and orp.headers in ("whitelist", "allViewerAndWhitelistCloudFront"):
            wanted += [h for h in orp.header_names if h.startswith("cloudfront-")]
        object.__setattr__(self, "cloudfront_wanted", tuple(wanted))

    def _managed_policies(self) -> None:
        """``cache`` and ``origin_request_policy`` may name a managed policy (by name or id,
        as ``response_headers_policy`` may); anything else but a policy is refused."""
        from ..cache.managed import managed_cache_policy, managed_origin_request_policy

        where = f"Behavior({self.path_pattern!r})"
        cache = self.cache
        if isinstance(cache, str):
            try:
                cache = managed_cache_policy(cache)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{where}.cache", cache, exc.expected) from None
            object.__setattr__(self, "cache", cache)
        elif not isinstance(cache, CachePolicy):
            expected = "a CachePolicy or a managed policy name or id"
            raise ConfigurationError(f"{where}.cache", cache, expected)
        orp = self.origin_request_policy
        field_name = f"{where}.origin_request_policy"
        if isinstance(orp, str):
            try:
                orp = managed_origin_request_policy(orp)
            except ConfigurationError as exc:
                raise ConfigurationError(field_name, orp, exc.expected) from None
            object.__setattr__(self, "origin_request_policy", orp)
        elif orp is not None and not isinstance(orp, OriginRequestPolicy):
            expected = "an OriginRequestPolicy or a managed policy name or id"
            raise ConfigurationError(field_name, orp, expected)

    @property
    def headers_policy(self) -> ResponseHeadersPolicy | None:
        """The response headers policy (a managed name was resolved at construction)."""
        rhp = self.response_headers_policy
        return rhp if isinstance(rhp, ResponseHeadersPolicy) else None

    def matches(self, path: str) -> bool:
        return self._regex.fullmatch(path)

    def trigger(self, event_type: EventType) -> Trigger | None:
        value = getattr(self, event_type.replace("-", "_"))
        return value if isinstance(value, Trigger) else None

    @property
    def has_body_trigger(self) -> bool:
        return any((t := self.trigger(ev)) is not None and t.include_body for ev in EVENT_TYPES[:2])
