"""Our own model of a distribution: behaviors, triggers, cache policies, origins.

Field names mirror CloudFront's (``path_pattern``, ``min_ttl``, ``include_body``...). Everything
is validated at construction, so a bad config fails at start with the field named.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..core.escapes import normalized_escapes
from ..core.limits import DEFAULT_DISTRIBUTION_DOMAIN, DEFAULT_DISTRIBUTION_ID
from ..exceptions import ConfigurationError

# Behaviors and triggers, the cache and origin request policies, and origins are modules of their
# own (behavior.py, policies.py, origins.py); this module is where they are imported from.
from .behavior import ALL_METHODS, Behavior, HandlerLike, Trigger, compile_path_pattern
from .checks import check_fields
from .origins import FAILOVER_STATUS_CODES, Origin, OriginGroup
from .policies import CachePolicy, CookieBehavior, OriginRequestPolicy, QueryStringBehavior
from .settings import EdgeSettings

#: the origin of a distribution that defines none: the wrapped app, reached with the viewer's
#: Host (an origin a user names "default" is one of their own: ``EdgeConfig.origins_defined``)
NO_ORIGIN = Origin(id="default", domain_name="localhost")

__all__ = [
    "ALL_METHODS",
    "FAILOVER_STATUS_CODES",
    "Behavior",
    "CachePolicy",
    "CookieBehavior",
    "CustomErrorResponse",
    "EdgeConfig",
    "HandlerLike",
    "Origin",
    "OriginGroup",
    "OriginRequestPolicy",
    "QueryStringBehavior",
    "Trigger",
    "compile_path_pattern",
    "default_root_object",
    "normalized_path",
]

_log = logging.getLogger("edge_middleware.config")


def default_root_object(uri: str, obj: str) -> str:
    """The URI CloudFront serves for ``uri`` with ``DefaultRootObject`` ``obj``: a request for
    exactly the root (``/``) gets ``/<obj>``; subdirectories never do (docs/distributions.md).
    CloudFront does this before it matches behaviors and runs viewer-request."""
    if obj and uri == "/":
        return "/" + obj.lstrip("/")
    return uri


def normalized_path(path: str) -> str:
    """``path`` normalised as RFC 3986 §6.2.2 says, for matching path patterns only
    (``EdgeSettings.path_match="normalized"``; the origin still gets the path as sent):
    percent-encoded unreserved characters decoded (``/%61dmin`` is ``/admin``), the other
    escapes in upper case (``%2f`` is ``%2F``, and stays encoded), then the ``.`` and ``..``
    segments removed (``/x/../admin`` is ``/admin``; ``/x/%2E%2E/admin`` too). Empty segments
    are kept (``//admin`` is not ``/admin``): RFC 3986 does not remove them."""
    path = normalized_escapes(path)
    if "/." not in path:
        return path
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")  # "/a/b/.." is "/a/", a directory
    return segments[0] + "/" + "/".join(kept)


@dataclass(frozen=True, slots=True)
class CustomErrorResponse:
    """``CustomErrorResponses`` item: replace an error status with a page and/or code."""

    error_code: int
    response_page_path: str | None = None
    response_code: int | None = None
    error_caching_min_ttl: int = 10

    def __post_init__(self) -> None:
        check_fields(self, "CustomErrorResponse")
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
        if self.response_code is not None and not self.response_page_path:
            # CloudFront: "If you specify a value for ResponseCode, you must also specify a
            # value for ResponsePagePath" (a code alone would be ignored)
            raise ConfigurationError(
                "CustomErrorResponse.response_page_path",
                self.response_page_path,
                "a page path when response_code is given",
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

    @property
    def origins_defined(self) -> bool:
        """Whether the distribution defines its origins (else its one is :data:`NO_ORIGIN`)."""
        return self.origins[0] is not NO_ORIGIN

    def __post_init__(self) -> None:
        check_fields(self, "EdgeConfig")
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
            origins = (NO_ORIGIN,)
        ids = [o.id for o in origins]
        if len(set(ids)) != len(ids):
            raise ConfigurationError("EdgeConfig.origins", ids, "unique origin ids")
        for origin in origins:  # decisions.md #46: valid 1-180, documented 4-60
            if not 4 <= origin.read_timeout <= 60:
                _log.warning(
                    "origin %r: read timeout %s s is outside CloudFront's documented 4-60 s",
                    origin.id,
                    origin.read_timeout,
                )
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
        if root.startswith("/"):  # "/index.html" serves /index.html, as "index.html" does
            object.__setattr__(self, "default_root_object", root.lstrip("/"))
        errors = tuple(self.custom_error_responses)
        codes = [e.error_code for e in errors]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                raise ConfigurationError(
                    f"EdgeConfig.custom_error_responses[{i}].error_code",
                    code,
                    "one CustomErrorResponse per code",
                )
        object.__setattr__(self, "custom_error_responses", errors)
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

    def failover_statuses(
        self, behavior: Behavior, group: OriginGroup | Literal[False] | None = None
    ) -> frozenset[int]:
        """The statuses an origin group's primary is dropped on (``group``: as for
        :meth:`failover_origin`)."""
        if group is False:
            return frozenset()
        group = group or self.origin_group_for(behavior)
        return frozenset(group.failover_status_codes) if group is not None else frozenset()

    def failover_origin(
        self,
        behavior: Behavior,
        tried: Origin,
        method: str,
        status: int | None,
        group: OriginGroup | Literal[False] | None = None,
    ) -> Origin | None:
        """The origin to retry on after ``tried`` answered ``status`` (``None``: it could not
        be reached or timed out), or ``None`` when CloudFront does not fail over: the behavior
        targets no origin group, ``tried`` is not its primary, the method is not GET, HEAD or
        OPTIONS, or the status is not one of the group's (docs/distributions.md). ``group`` is
        one a CloudFront Function made for this request (``cf.createRequestOriginGroup``);
        ``False``: one chose a single origin (``cf.selectRequestOriginById``), no failover."""
        if group is False:
            return None
        group = group or self.origin_group_for(behavior)
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
