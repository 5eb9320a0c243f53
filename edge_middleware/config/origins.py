"""The distribution's origins (``Origins``) and origin groups (``OriginGroups``), validated at
construction (lambda-edge.md §1.6, docs/distributions.md "Origin groups")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..exceptions import ConfigurationError
from .checks import check_fields

__all__ = ["FAILOVER_STATUS_CODES", "Origin", "OriginGroup", "validate_origin_custom_headers"]

# -- origin custom headers (lambda-edge.md §3.1) ----------------------------------------------

_CUSTOM_HEADER_DENY = frozenset(
    h.lower()
    for h in (
        "Cache-Control", "Connection", "Content-Length", "Cookie", "Host", "If-Match",
        "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Max-Forwards",
        "Pragma", "Proxy-Authorization", "Proxy-Connection", "Range", "Request-Range", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Via", "X-Real-Ip",
    )
)  # fmt: skip
_CUSTOM_HEADER_DENY_PREFIXES = ("x-amz-", "x-edge-")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def validate_origin_custom_headers(
    headers: list[tuple[str, str, str, str]], list_field: str
) -> tuple[tuple[str, str], ...]:
    """Check ``(name_path, name, value_path, value)`` against CloudFront's deny list and limits."""
    if len(headers) > 10:
        raise ConfigurationError(list_field, len(headers), "at most 10 custom headers per origin")
    total = 0
    for name_path, name, value_path, value in headers:
        lower = name.lower()
        if not name or not _TOKEN.match(name) or len(name) > 256:
            raise ConfigurationError(name_path, name, "a header name of 1 to 256 token characters")
        if lower in _CUSTOM_HEADER_DENY or lower.startswith(_CUSTOM_HEADER_DENY_PREFIXES):
            raise ConfigurationError(
                name_path, name, "a header CloudFront allows as an origin custom header"
            )
        if len(value) > 1783 or "\r" in value or "\n" in value:
            raise ConfigurationError(value_path, value, "a value of at most 1,783 characters")
        total += len(name) + len(value)
    if total > 10240:
        raise ConfigurationError(list_field, total, "at most 10,240 characters of names and values")
    return tuple((name, value) for _, name, _, value in headers)


# bucket.s3.amazonaws.com, bucket.s3.<region>.amazonaws.com, legacy bucket.s3-<region>...;
# a website endpoint (bucket.s3-website-<region>...) is a custom origin and does not match.
_S3_REST = re.compile(
    r"^(?P<bucket>.+?)\.s3(?:\.dualstack)?"
    r"(?:[.-](?P<region>(?!website)[a-z]{2}(?:-[a-z]+)+-\d+))?\.amazonaws\.com(?:\.cn)?$"
)


def s3_region(domain_name: str) -> str | None:
    """The region of an S3 REST endpoint (``"us-east-1"`` when it names none), else None."""
    match = _S3_REST.match(domain_name)
    if match is None:
        return None
    return match.group("region") or "us-east-1"


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
        check_fields(self, where)
        if not self.id:
            raise ConfigurationError(f"{where}.id", self.id, "a non-empty origin id")
        if not self.domain_name:
            raise ConfigurationError(f"{where}.domain_name", self.domain_name, "a DNS name")
        if self.kind not in ("custom", "s3"):
            raise ConfigurationError(f"{where}.kind", self.kind, "custom | s3")
        if self.kind == "s3" and not self.region:  # (an s3 origin's is in its domain)
            object.__setattr__(self, "region", s3_region(self.domain_name) or "us-east-1")
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
        validate_origin_custom_headers(
            [
                (f"{where}.custom_headers[{i}]", name, f"{where}.custom_headers[{i}]", value)
                for i, (name, value) in enumerate(self.custom_headers)
            ],
            f"{where}.custom_headers",
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
        check_fields(self, where)
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
