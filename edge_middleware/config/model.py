"""Our own model of a distribution: behaviors, triggers, cache policies, origins.

Field names mirror CloudFront's (``path_pattern``, ``min_ttl``, ``include_body``...). Everything
is validated at construction, so a bad config fails at start with the field named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.limits import DEFAULT_DISTRIBUTION_DOMAIN, DEFAULT_DISTRIBUTION_ID
from ..core.types import EVENT_TYPES, EventType
from ..exceptions import ConfigurationError
from .response_headers import ResponseHeadersPolicy, managed_response_headers_policy
from .settings import EdgeSettings

__all__ = [
    "Behavior",
    "CachePolicy",
    "CustomErrorResponse",
    "EdgeConfig",
    "Origin",
    "OriginGroup",
    "OriginRequestPolicy",
    "Trigger",
    "compile_path_pattern",
    "default_root_object",
]

HandlerLike = Callable[..., Any] | str

ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
_METHOD_SETS = (
    frozenset({"GET", "HEAD"}),
    frozenset({"GET", "HEAD", "OPTIONS"}),
    frozenset(ALL_METHODS),
)
QueryStringBehavior = Literal["none", "whitelist", "allExcept", "all"]
CookieBehavior = Literal["none", "whitelist", "allExcept", "all"]
_QS = ("none", "whitelist", "allExcept", "all")
_PATTERN_OK = re.compile(r"^[A-Za-z0-9_\-.*$/~\"'@:+&?%]*$")


def compile_path_pattern(pattern: str, field_name: str = "path_pattern") -> re.Pattern[str]:
    """CloudFront path pattern to a regex (lambda-edge.md §5.5).

    ``*`` matches any run of characters including ``/``, ``?`` exactly one; case-sensitive;
    the leading ``/`` is optional; the whole path must match.
    """
    if not isinstance(pattern, str) or not pattern or len(pattern) > 255:
        raise ConfigurationError(field_name, pattern, "a path pattern of 1 to 255 characters")
    if not _PATTERN_OK.match(pattern):
        raise ConfigurationError(
            field_name, pattern, "only A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + & ? in a path pattern"
        )
    body = pattern[1:] if pattern.startswith("/") else pattern
    parts = []
    for ch in body:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("/?" + "".join(parts) if body[:1] != "*" else "".join(parts), re.DOTALL)


def default_root_object(uri: str, obj: str) -> str:
    """The URI CloudFront serves for ``uri`` with ``DefaultRootObject`` ``obj``: a request for
    exactly the root (``/``) gets ``/<obj>``; subdirectories never do (docs/distributions.md).
    CloudFront does this before it matches behaviors and runs viewer-request."""
    if obj and uri == "/":
        return "/" + obj.lstrip("/")
    return uri


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

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        if isinstance(self.handler, str):
            return self.handler
        mod = getattr(self.handler, "__module__", "") or ""
        qual = getattr(self.handler, "__qualname__", repr(self.handler))
        return f"{mod}:{qual}" if mod else str(qual)


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

    ``CachePolicy(0, 0, 0)`` is CloudFront's CachingDisabled. Example::

        CachePolicy(default_ttl=3600, query_strings="whitelist", query_string_names=("page",))
    """

    min_ttl: int = 0
    default_ttl: int = 86400
    max_ttl: int = 31536000
    query_strings: QueryStringBehavior = "none"
    query_string_names: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    cookies: CookieBehavior = "none"
    cookie_names: tuple[str, ...] = ()
    enable_accept_encoding_gzip: bool = False
    enable_accept_encoding_brotli: bool = False
    name: str | None = None

    def __post_init__(self) -> None:
        for attr in ("min_ttl", "default_ttl", "max_ttl"):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"CachePolicy.{attr}", value, "a whole number >= 0")
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
        object.__setattr__(
            self,
            "query_string_names",
            _names(self.query_string_names, "CachePolicy.query_string_names"),
        )
        object.__setattr__(
            self, "cookie_names", _names(self.cookie_names, "CachePolicy.cookie_names")
        )
        headers = tuple(h.lower() for h in _names(self.headers, "CachePolicy.headers"))
        for h in headers:
            if h in ("connection", "cookie", "proxy-authorization", "te", "upgrade"):
                raise ConfigurationError("CachePolicy.headers", h, "a header CloudFront can key on")
        object.__setattr__(self, "headers", headers)

    @property
    def caching_disabled(self) -> bool:
        return self.max_ttl == 0


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
            tuple(h.lower() for h in _names(self.header_names, "OriginRequestPolicy.header_names")),
        )
        object.__setattr__(
            self, "cookie_names", _names(self.cookie_names, "OriginRequestPolicy.cookie_names")
        )
        object.__setattr__(
            self,
            "query_string_names",
            _names(self.query_string_names, "OriginRequestPolicy.query_string_names"),
        )


def _as_trigger(value: Trigger | HandlerLike | None, field_name: str) -> Trigger | None:
    if value is None or isinstance(value, Trigger):
        return value
    if callable(value) or isinstance(value, str):
        try:
            return Trigger(value)
        except ConfigurationError as exc:
            raise ConfigurationError(field_name, exc.value, exc.expected) from None
    raise ConfigurationError(field_name, value, 'a Trigger, a callable or "module:function"')


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
    cache: CachePolicy = field(default_factory=CachePolicy)
    target_origin_id: str | None = None
    allowed_methods: Sequence[str] = ALL_METHODS
    cached_methods: Sequence[str] = ("GET", "HEAD")
    viewer_protocol_policy: Literal["allow-all", "https-only", "redirect-to-https"] = "allow-all"
    compress: bool = False
    origin_request_policy: OriginRequestPolicy | None = None
    #: Legacy ``ForwardedValues`` with ``Headers: ["*"]``: forwards every header, no caching.
    forward_all_headers: bool = False
    #: A :class:`ResponseHeadersPolicy`, or a managed policy's name or id
    #: (``"SecurityHeadersPolicy"``, ``"67f7725c-6f97-4210-82d7-5512b31e9d03"``).
    response_headers_policy: ResponseHeadersPolicy | str | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
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
        if not isinstance(self.cache, CachePolicy):
            raise ConfigurationError(
                f"Behavior({self.path_pattern!r}).cache", self.cache, "a CachePolicy"
            )

    @property
    def headers_policy(self) -> ResponseHeadersPolicy | None:
        """The response headers policy (a managed name was resolved at construction)."""
        rhp = self.response_headers_policy
        return rhp if isinstance(rhp, ResponseHeadersPolicy) else None

    def matches(self, path: str) -> bool:
        return self._regex.fullmatch(path) is not None

    def trigger(self, event_type: EventType) -> Trigger | None:
        value = getattr(self, event_type.replace("-", "_"))
        return value if isinstance(value, Trigger) else None

    @property
    def has_body_trigger(self) -> bool:
        return any((t := self.trigger(ev)) is not None and t.include_body for ev in EVENT_TYPES[:2])


@dataclass(frozen=True, slots=True)
class Origin:
    """An origin from the distribution; ``kind`` is ``"custom"`` or ``"s3"`` (§1.6)."""

    id: str
    domain_name: str = "origin.example.com"
    kind: Literal["custom", "s3"] = "custom"
    origin_path: str = ""
    custom_headers: tuple[tuple[str, str], ...] = ()
    http_port: int = 80
    https_port: int = 443
    protocol_policy: Literal["http-only", "match-viewer", "https-only"] = "match-viewer"
    ssl_protocols: tuple[str, ...] = ("TLSv1.2",)
    read_timeout: int = 30
    keepalive_timeout: int = 5
    s3_origin_access_identity: str = ""
    uses_oac: bool = False
    region: str = ""
    #: ``ConnectionAttempts`` (1-3, default 3) and ``ConnectionTimeout`` (1-10 s, default 10):
    #: how often and how long CloudFront tries to connect before it fails over or gives up.
    connection_attempts: int = 3
    connection_timeout: int = 10

    def __post_init__(self) -> None:
        where = f"Origin({self.id!r})"
        if not self.id:
            raise ConfigurationError(f"{where}.id", self.id, "a non-empty origin id")
        if not self.domain_name:
            raise ConfigurationError(f"{where}.domain_name", self.domain_name, "a DNS name")
        if self.kind not in ("custom", "s3"):
            raise ConfigurationError(f"{where}.kind", self.kind, "custom | s3")
        if self.protocol_policy not in ("http-only", "match-viewer", "https-only"):
            raise ConfigurationError(
                f"{where}.protocol_policy",
                self.protocol_policy,
                "http-only | match-viewer | https-only",
            )
        if self.origin_path and (
            not self.origin_path.startswith("/") or self.origin_path.endswith("/")
        ):
            raise ConfigurationError(
                f"{where}.origin_path", self.origin_path, "'' or /path without trailing /"
            )
        if not 1 <= self.read_timeout <= 180:
            raise ConfigurationError(f"{where}.read_timeout", self.read_timeout, "1 to 180 seconds")
        if not 1 <= self.keepalive_timeout <= 120:
            raise ConfigurationError(
                f"{where}.keepalive_timeout", self.keepalive_timeout, "1 to 120 seconds"
            )
        if not 1 <= self.connection_attempts <= 3:
            raise ConfigurationError(
                f"{where}.connection_attempts", self.connection_attempts, "1 to 3"
            )
        if not 1 <= self.connection_timeout <= 10:
            raise ConfigurationError(
                f"{where}.connection_timeout", self.connection_timeout, "1 to 10 seconds"
            )
        for port_attr in ("http_port", "https_port"):
            port = getattr(self, port_attr)
            if not (port in (80, 443) or 1024 <= port <= 65535):
                raise ConfigurationError(f"{where}.{port_attr}", port, "80, 443 or 1024-65535")


#: The status codes an origin group may fail over on (``FailoverCriteria.StatusCodes``).
FAILOVER_STATUS_CODES = (400, 403, 404, 416, 500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class OriginGroup:
    """An origin group (``OriginGroups``): a behavior that targets ``id`` sends GET, HEAD and
    OPTIONS requests to the primary member and, when it answers one of ``failover_status_codes``
    or can't be reached, to the secondary (docs/distributions.md "Origin groups").

    Example::

        EdgeConfig(
            origins=[Origin("main"), Origin("backup")],
            origin_groups=[OriginGroup("site", ("main", "backup"), (500, 502, 503, 504))],
            default=Behavior(target_origin_id="site"),
        )
    """

    id: str
    members: tuple[str, ...]
    failover_status_codes: tuple[int, ...] = (500, 502, 503, 504)

    def __post_init__(self) -> None:
        where = f"OriginGroup({self.id!r})"
        if not isinstance(self.id, str) or not self.id:
            raise ConfigurationError(f"{where}.id", self.id, "a non-empty id")
        members = tuple(self.members)
        if len(members) != 2 or len(set(members)) != 2:
            raise ConfigurationError(
                f"{where}.members", list(members), "two origin ids: the primary, the secondary"
            )
        object.__setattr__(self, "members", members)
        codes = tuple(self.failover_status_codes)
        for code in codes:
            if code not in FAILOVER_STATUS_CODES:
                raise ConfigurationError(
                    f"{where}.failover_status_codes",
                    code,
                    "one of " + ", ".join(map(str, FAILOVER_STATUS_CODES)),
                )
        if not codes:
            raise ConfigurationError(f"{where}.failover_status_codes", [], "at least one code")
        object.__setattr__(self, "failover_status_codes", codes)


@dataclass(frozen=True, slots=True)
class CustomErrorResponse:
    """``CustomErrorResponses`` item: replace an error status with a page and/or code."""

    error_code: int
    response_page_path: str | None = None
    response_code: int | None = None
    error_caching_min_ttl: int = 10

    def __post_init__(self) -> None:
        if not 400 <= self.error_code <= 599:
            raise ConfigurationError("CustomErrorResponse.error_code", self.error_code, "400-599")
        if self.response_page_path is not None and not self.response_page_path.startswith("/"):
            raise ConfigurationError(
                "CustomErrorResponse.response_page_path",
                self.response_page_path,
                "a path starting with /",
            )
        if self.response_code is not None and not 200 <= self.response_code <= 599:
            raise ConfigurationError(
                "CustomErrorResponse.response_code", self.response_code, "200-599"
            )
        if self.error_caching_min_ttl < 0:
            raise ConfigurationError(
                "CustomErrorResponse.error_caching_min_ttl", self.error_caching_min_ttl, ">= 0"
            )


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """A whole distribution: the default behavior, the ordered behaviors, origins and settings.

    Example::

        EdgeConfig(
            default=Behavior(viewer_request="handlers.auth:handler"),
            behaviors=[Behavior("/static/*", cache=CachePolicy(default_ttl=3600))],
        )
    """

    default: Behavior = field(default_factory=Behavior)
    behaviors: Sequence[Behavior] = ()
    distribution_id: str = DEFAULT_DISTRIBUTION_ID
    distribution_domain_name: str = DEFAULT_DISTRIBUTION_DOMAIN
    origins: Sequence[Origin] = ()
    custom_error_responses: Sequence[CustomErrorResponse] = ()
    settings: EdgeSettings = field(default_factory=EdgeSettings)
    aliases: Sequence[str] = ()
    default_root_object: str = ""
    origin_groups: Sequence[OriginGroup] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.default, Behavior):
            raise ConfigurationError("EdgeConfig.default", self.default, "a Behavior")
        if self.default.path_pattern != "*":
            raise ConfigurationError(
                "EdgeConfig.default.path_pattern", self.default.path_pattern, '"*"'
            )
        behaviors = tuple(self.behaviors)
        for i, b in enumerate(behaviors):
            if not isinstance(b, Behavior):
                raise ConfigurationError(f"EdgeConfig.behaviors[{i}]", b, "a Behavior")
        object.__setattr__(self, "behaviors", behaviors)
        origins = tuple(self.origins)
        if not origins:
            origins = (Origin(id="default", domain_name="localhost"),)
        ids = [o.id for o in origins]
        if len(set(ids)) != len(ids):
            raise ConfigurationError("EdgeConfig.origins", ids, "unique origin ids")
        object.__setattr__(self, "origins", origins)
        groups = tuple(self.origin_groups)
        for i, g in enumerate(groups):
            if not isinstance(g, OriginGroup):
                raise ConfigurationError(f"EdgeConfig.origin_groups[{i}]", g, "an OriginGroup")
            if g.id in ids or g.id in [x.id for x in groups[:i]]:
                raise ConfigurationError(
                    f"EdgeConfig.origin_groups[{i}].id", g.id, "an id no origin or group has"
                )
            for member in g.members:
                if member not in ids:
                    raise ConfigurationError(
                        f"EdgeConfig.origin_groups[{i}].members", member, f"one of {ids}"
                    )
        object.__setattr__(self, "origin_groups", groups)
        targets = [*ids, *(g.id for g in groups)]
        for i, b in enumerate((*behaviors, self.default)):
            if b.target_origin_id is not None and b.target_origin_id not in targets:
                where = f"EdgeConfig.behaviors[{i}]" if i < len(behaviors) else "EdgeConfig.default"
                raise ConfigurationError(
                    f"{where}.target_origin_id", b.target_origin_id, f"one of {targets}"
                )
        root = self.default_root_object
        if not isinstance(root, str) or len(root) > 255:
            raise ConfigurationError(
                "EdgeConfig.default_root_object", root, "an object name such as index.html"
            )
        object.__setattr__(self, "custom_error_responses", tuple(self.custom_error_responses))
        object.__setattr__(self, "aliases", tuple(self.aliases))

    @property
    def all_behaviors(self) -> tuple[Behavior, ...]:
        return (*self.behaviors, self.default)

    def match(self, path: str) -> Behavior:
        """The behavior for a path: first match in order, the default last."""
        for b in self.behaviors:
            if b.matches(path):
                return b
        return self.default

    def origin_for(self, behavior: Behavior) -> Origin:
        """The behavior's origin; for an origin group, its primary member."""
        target = behavior.target_origin_id
        if target is None:
            return self.origins[0]
        group = self.origin_group_for(behavior)
        if group is not None:
            target = group.members[0]
        return self.origin_by_id(target)

    def origin_by_id(self, origin_id: str) -> Origin:
        for o in self.origins:
            if o.id == origin_id:
                return o
        return self.origins[0]  # pragma: no cover - checked in __post_init__

    def origin_group_for(self, behavior: Behavior) -> OriginGroup | None:
        """The origin group the behavior targets, if it targets one."""
        for g in self.origin_groups:
            if g.id == behavior.target_origin_id:
                return g
        return None

    def failover_origin(
        self, behavior: Behavior, tried: Origin, method: str, status: int | None
    ) -> Origin | None:
        """The origin to retry on after ``tried`` answered ``status`` (``None``: it could not
        be reached or timed out), or ``None`` when CloudFront does not fail over: the behavior
        targets no origin group, ``tried`` is not its primary, the method is not GET, HEAD or
        OPTIONS, or the status is not one of the group's (docs/distributions.md)."""
        group = self.origin_group_for(behavior)
        if group is None or tried.id != group.members[0]:
            return None
        if method not in ("GET", "HEAD", "OPTIONS"):
            return None
        if status is not None and status not in group.failover_status_codes:
            return None
        return self.origin_by_id(group.members[1])

    def error_response_for(self, status: int) -> CustomErrorResponse | None:
        for c in self.custom_error_responses:
            if c.error_code == status:
                return c
        return None
