"""Response headers policies: CORS, security headers, custom and removed headers, Server-Timing
(docs/distributions.md, "Response headers policies").

Pure data and pure functions; the pipeline calls :func:`preflight_response` for a CORS
preflight and :func:`apply_response_headers_policy` on the response it is about to send.

Example::

    policy = ResponseHeadersPolicy(
        cors=CorsConfig(allow_origins=("https://app.example.com",)),
        security_headers=(ResponseHeader("X-Frame-Options", "DENY"),),
        remove_headers=("server",),
    )
    Behavior("/api/*", response_headers_policy=policy)
    Behavior(response_headers_policy="SecurityHeadersPolicy")   # a managed policy, by name or id
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..core.headers import RawHeaders, get_first
from ..core.types import HeaderEntry
from ..exceptions import ConfigurationError

__all__ = [
    "CORS_METHODS",
    "MANAGED_RESPONSE_HEADERS_POLICIES",
    "MANAGED_RESPONSE_HEADERS_POLICY_IDS",
    "CorsConfig",
    "ResponseHeader",
    "ResponseHeadersPolicy",
    "apply_response_headers_policy",
    "is_preflight",
    "managed_response_headers_policy",
    "preflight_response",
    "server_timing_value",
    "settable",
]

#: ``AccessControlAllowMethods`` values; ``ALL`` stands for the seven [api-rhp].
CORS_METHODS = ("GET", "DELETE", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Headers a policy may not remove [dg-rhp] (they are CloudFront's or the connection's).
_NOT_REMOVABLE = frozenset(
    {
        "connection", "content-encoding", "content-length", "expect", "host", "keep-alive",
        "proxy-authenticate", "proxy-authorization", "proxy-connection", "trailer",
        "transfer-encoding", "upgrade", "via", "warning", "x-accel-buffering",
        "x-accel-charset", "x-accel-limit-rate", "x-accel-redirect", "x-cache",
        "x-forwarded-proto", "x-real-ip",
    }
)  # fmt: skip
_NOT_REMOVABLE_PREFIXES = ("proxy-", "x-accel-", "x-amz-cf-", "x-amzn-", "x-edge-")


def _items(value: object, where: str, what: str) -> tuple[object, ...]:
    """``value`` as a tuple: a list (or tuple ...) of ``what``; a string or anything that is
    no list fails at ``where``."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigurationError(where, value, f"a list of {what}")
    return tuple(value)


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):  # "false" is true in Python: never read as one
        raise ConfigurationError(where, value, "True or False")
    return value


def _names(value: Iterable[str], where: str) -> tuple[str, ...]:
    out: tuple[str, ...] = _items(value, where, "names")  # type: ignore[assignment]
    for name in out:
        if not isinstance(name, str) or not (name == "*" or _TOKEN.match(name)):
            raise ConfigurationError(where, name, "header names (or *)")
    return out


@dataclass(frozen=True, slots=True)
class CorsConfig:
    """``CorsConfig`` of a response headers policy [api-rhp].

    :param allow_origins: ``Access-Control-Allow-Origin`` candidates; ``"*"`` allows any.
    :param allow_headers: ``Access-Control-Allow-Headers`` for preflights (``"*"`` allowed).
    :param allow_methods: methods for preflights, or ``("ALL",)``.
    :param allow_credentials: send ``Access-Control-Allow-Credentials: true``.
    :param expose_headers: ``Access-Control-Expose-Headers`` on CORS responses.
    :param max_age_sec: ``Access-Control-Max-Age`` on preflights.
    :param origin_override: the policy's values replace CORS headers the origin sent.
    """

    allow_origins: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = ("*",)
    allow_methods: tuple[str, ...] = ("ALL",)
    allow_credentials: bool = False
    expose_headers: tuple[str, ...] = ()
    max_age_sec: int | None = None
    origin_override: bool = True

    def __post_init__(self) -> None:
        origins = _items(self.allow_origins, "CorsConfig.allow_origins", "origins")
        if not origins or not all(isinstance(o, str) and o for o in origins):
            raise ConfigurationError(
                "CorsConfig.allow_origins", self.allow_origins, "a non-empty list of origins"
            )
        object.__setattr__(self, "allow_origins", origins)
        _flag(self.allow_credentials, "CorsConfig.allow_credentials")
        _flag(self.origin_override, "CorsConfig.origin_override")
        object.__setattr__(
            self, "allow_headers", _names(self.allow_headers, "CorsConfig.allow_headers")
        )
        object.__setattr__(
            self, "expose_headers", _names(self.expose_headers, "CorsConfig.expose_headers")
        )
        methods = _items(self.allow_methods, "CorsConfig.allow_methods", "methods")
        for m in methods:
            if not isinstance(m, str) or m.upper() not in (*CORS_METHODS, "ALL"):
                raise ConfigurationError(
                    "CorsConfig.allow_methods",
                    m,
                    "GET | DELETE | HEAD | OPTIONS | PATCH | POST | PUT | ALL",
                )
        object.__setattr__(self, "allow_methods", tuple(str(m).upper() for m in methods))
        age = self.max_age_sec
        if age is not None and (not isinstance(age, int) or isinstance(age, bool) or age < 0):
            raise ConfigurationError("CorsConfig.max_age_sec", self.max_age_sec, "seconds >= 0")

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def allow_origin_value(self, origin: str) -> str:
        # With credentials a browser refuses "*", so the viewer's origin is echoed [inferred].
        if "*" in self.allow_origins and not self.allow_credentials:
            return "*"
        return origin


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """A security or custom header of a policy; ``override``: replace the origin's value."""

    name: str
    value: str
    override: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOKEN.match(self.name):
            raise ConfigurationError("ResponseHeader.name", self.name, "a header name")
        if not isinstance(self.value, str) or "\r" in self.value or "\n" in self.value:
            raise ConfigurationError(
                f"ResponseHeader({self.name!r}).value", self.value, "a one-line string"
            )
        try:  # a value the wire cannot carry was sent with "?" for what it lost
            self.value.encode("latin-1")
        except UnicodeEncodeError:
            raise ConfigurationError(
                f"ResponseHeader({self.name!r}).value",
                self.value,
                "latin-1 text (a typographic quote or a letter outside latin-1 cannot be sent)",
            ) from None
        _flag(self.override, f"ResponseHeader({self.name!r}).override")


@dataclass(frozen=True, slots=True)
class ResponseHeadersPolicy:
    """A response headers policy (``ResponseHeadersPolicyConfig``): what CloudFront adds to
    and removes from the responses of the behaviors that use it.

    :param cors: answer CORS preflights at the edge and add CORS headers to CORS responses.
    :param security_headers: the ``SecurityHeadersConfig`` headers (HSTS, X-Frame-Options ...).
    :param custom_headers: ``CustomHeadersConfig``.
    :param remove_headers: ``RemoveHeadersConfig``: names removed from the origin's response.
    :param server_timing_sampling_rate: ``ServerTimingHeadersConfig``: percentage (0-100) of
        responses that get CloudFront's ``Server-Timing`` header; ``None``: disabled.
    """

    name: str | None = None
    cors: CorsConfig | None = None
    security_headers: tuple[ResponseHeader, ...] = ()
    custom_headers: tuple[ResponseHeader, ...] = ()
    remove_headers: tuple[str, ...] = ()
    server_timing_sampling_rate: float | None = None
    id: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = f"ResponseHeadersPolicy({self.name or ''})"
        if self.cors is not None and not isinstance(self.cors, CorsConfig):
            raise ConfigurationError(f"{where}.cors", self.cors, "a CorsConfig (or None)")
        for attr in ("security_headers", "custom_headers"):
            headers = _items(getattr(self, attr), f"{where}.{attr}", "ResponseHeader items")
            for h in headers:
                if not isinstance(h, ResponseHeader):
                    raise ConfigurationError(f"{where}.{attr}", h, "ResponseHeader items")
                if not settable(h.name):
                    raise ConfigurationError(
                        f"{where}.{attr}", h.name, "a header CloudFront lets a policy set"
                    )
            object.__setattr__(self, attr, headers)
        removed = tuple(n.lower() for n in _names(self.remove_headers, f"{where}.remove_headers"))
        for name in removed:
            if not settable(name):
                raise ConfigurationError(
                    f"{where}.remove_headers", name, "a header CloudFront lets a policy remove"
                )
        object.__setattr__(self, "remove_headers", removed)
        rate = self.server_timing_sampling_rate
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 100
        ):
            raise ConfigurationError(
                f"{where}.server_timing_sampling_rate", rate, "a percentage from 0 to 100"
            )


def settable(name: str) -> bool:
    """Whether a policy may add, replace or remove the header ``name``: never the framing
    headers CloudFront writes itself (a policy's ``Content-Length`` broke the response),
    the connection's, or CloudFront's own [dg-rhp]."""
    lower = name.lower()
    return (
        lower != "*"
        and lower not in _NOT_REMOVABLE
        and not lower.startswith(_NOT_REMOVABLE_PREFIXES)
    )


# -- applying a policy ------------------------------------------------------------------------


def is_preflight(method: str, request_headers: Mapping[str, list[HeaderEntry]]) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    return (
        method == "OPTIONS"
        and get_first(request_headers, "origin") is not None
        and get_first(request_headers, "access-control-request-method") is not None
    )


def preflight_response(
    policy: ResponseHeadersPolicy | None,
    method: str,
    request_headers: Mapping[str, list[HeaderEntry]],
) -> RawHeaders | None:
    """The headers of CloudFront's own ``200`` answer to a CORS preflight, or ``None`` when
    the request goes on to the cache and origin (no CORS config, not a preflight, or an origin
    the policy does not allow) [dg-rhp]. The caller still applies the rest of the policy."""
    if policy is None or policy.cors is None or not is_preflight(method, request_headers):
        return None
    cors = policy.cors
    origin = get_first(request_headers, "origin") or ""
    if not cors.allows(origin):
        return None
    methods = CORS_METHODS if "ALL" in cors.allow_methods else cors.allow_methods
    out: RawHeaders = [
        # (a function may have set an Origin ISO-8859-1 has no bytes for: "?" stands for what
        # it cannot hold, as in the answer to the request itself, _set)
        (
            b"Access-Control-Allow-Origin",
            cors.allow_origin_value(origin).encode("latin-1", "replace"),
        )
    ]
    if methods:  # SimpleCORS has none: its preflight answer allows only simple requests
        out.append((b"Access-Control-Allow-Methods", ", ".join(methods).encode()))
    if cors.allow_headers:
        out.append((b"Access-Control-Allow-Headers", ", ".join(cors.allow_headers).encode()))
    if cors.allow_credentials:
        out.append((b"Access-Control-Allow-Credentials", b"true"))
    if cors.max_age_sec is not None:
        out.append((b"Access-Control-Max-Age", str(cors.max_age_sec).encode()))
    out.append((b"Content-Length", b"0"))
    return out


def _set(headers: RawHeaders, name: str, value: str, override: bool) -> RawHeaders:
    lower = name.lower().encode()
    present = any(k.lower() == lower for k, _ in headers)
    if present and not override:
        return headers  # Override off: the origin's value stays [dg-rhp]
    kept = [(k, v) for k, v in headers if k.lower() != lower]
    kept.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
    return kept


def server_timing_value(result_type: str, pop: str, request_id: str) -> str:
    """CloudFront's ``Server-Timing`` metrics for one response [dg-rhp]: the cache result,
    the POP and the request id (durations are not emulated)."""
    where = f'cdn-pop;desc="{pop}",cdn-rid;desc="{request_id}"'
    if result_type in ("Hit", "RefreshHit"):
        cache = "cdn-cache-hit" if result_type == "Hit" else "cdn-cache-refresh"
        return f'{cache},{where},cdn-hit-layer;desc="EDGE"'
    return f'cdn-upstream-layer;desc="EDGE",cdn-cache-miss,{where}'


def _sampled(rate: float, request_id: str) -> bool:
    # Deterministic per request id, so a test sees the same answer every run.
    return rate >= 100 or (rate > 0 and zlib.crc32(request_id.encode()) % 10000 < rate * 100)


def _asks_timing(request_headers: Mapping[str, list[HeaderEntry]]) -> bool:
    """A viewer's ``Pragma: server-timing`` asks for the header even at 0 % sampling
    (caching.md §1.8)."""
    for entry in request_headers.get("pragma") or ():
        value = entry.get("value", "")
        if "server-timing" in (t.strip().lower() for t in value.split(",")):
            return True
    return False


def apply_response_headers_policy(
    policy: ResponseHeadersPolicy | None,
    request_headers: Mapping[str, list[HeaderEntry]],
    response_headers: RawHeaders,
    *,
    result_type: str = "Miss",
    pop: str = "",
    request_id: str = "",
) -> RawHeaders:
    """The response headers after the policy: CORS headers for a CORS request (one with an
    allowed ``Origin``), then security headers, custom headers, removed headers and
    ``Server-Timing``; each header with ``override`` off keeps a value the response already
    has [dg-rhp]."""
    if policy is None:
        return response_headers
    headers = list(response_headers)
    cors = policy.cors
    origin = get_first(request_headers, "origin")
    if cors is not None and origin is not None and cors.allows(origin):
        over = cors.origin_override
        headers = _set(
            headers, "Access-Control-Allow-Origin", cors.allow_origin_value(origin), over
        )
        if cors.allow_credentials:
            headers = _set(headers, "Access-Control-Allow-Credentials", "true", over)
        if cors.expose_headers:
            headers = _set(
                headers, "Access-Control-Expose-Headers", ", ".join(cors.expose_headers), over
            )
    for h in (*policy.security_headers, *policy.custom_headers):
        headers = _set(headers, h.name, h.value, h.override)
    if policy.remove_headers:
        gone = {n.encode() for n in policy.remove_headers}
        headers = [(k, v) for k, v in headers if k.lower() not in gone]
    rate = policy.server_timing_sampling_rate
    if rate is not None and (_sampled(rate, request_id) or _asks_timing(request_headers)):
        value = server_timing_value(result_type, pop, request_id).encode()
        # The origin's own Server-Timing metrics are kept, CloudFront's follow [dg-rhp].
        headers.append((b"Server-Timing", value))
    return headers


# -- managed policies [dg-rhp] -----------------------------------------------------------------

_SECURITY = (
    ResponseHeader("Referrer-Policy", "strict-origin-when-cross-origin", False),
    ResponseHeader("Strict-Transport-Security", "max-age=31536000", False),
    ResponseHeader("X-Content-Type-Options", "nosniff", True),
    ResponseHeader("X-Frame-Options", "SAMEORIGIN", False),
    ResponseHeader("X-XSS-Protection", "1; mode=block", False),
)
_SIMPLE_CORS = CorsConfig(
    allow_origins=("*",),
    allow_headers=(),
    allow_methods=(),
    allow_credentials=False,
    origin_override=False,
)
_PREFLIGHT_CORS = CorsConfig(
    allow_origins=("*",),
    allow_headers=("*",),
    allow_methods=("ALL",),
    allow_credentials=False,
    expose_headers=("*",),
    origin_override=False,
)

MANAGED_RESPONSE_HEADERS_POLICY_IDS: dict[str, ResponseHeadersPolicy] = {
    "60669652-455b-4ae9-85a4-c4c02393f86c": ResponseHeadersPolicy(
        name="SimpleCORS", cors=_SIMPLE_CORS
    ),
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": ResponseHeadersPolicy(
        name="CORS-With-Preflight", cors=_PREFLIGHT_CORS
    ),
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": ResponseHeadersPolicy(
        name="CORS-and-SecurityHeadersPolicy", cors=_SIMPLE_CORS, security_headers=_SECURITY
    ),
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": ResponseHeadersPolicy(
        name="CORS-With-Preflight-And-SecurityHeadersPolicy",
        cors=_PREFLIGHT_CORS,
        security_headers=_SECURITY,
    ),
    "67f7725c-6f97-4210-82d7-5512b31e9d03": ResponseHeadersPolicy(
        name="SecurityHeadersPolicy", security_headers=_SECURITY
    ),
}
for _id, _policy in MANAGED_RESPONSE_HEADERS_POLICY_IDS.items():
    object.__setattr__(_policy, "id", _id)

#: Keyed by id, by name and by the console's ``Managed-<name>``, all lower-cased.
MANAGED_RESPONSE_HEADERS_POLICIES: dict[str, ResponseHeadersPolicy] = {}
for _id, _policy in MANAGED_RESPONSE_HEADERS_POLICY_IDS.items():
    for _key in (_id, _policy.name or "", f"Managed-{_policy.name}"):
        MANAGED_RESPONSE_HEADERS_POLICIES[_key.lower()] = _policy


def managed_response_headers_policy(id_or_name: str) -> ResponseHeadersPolicy:
    """A managed response headers policy by id or name; unknown ones fail with the value."""
    policy = (
        MANAGED_RESPONSE_HEADERS_POLICIES.get(id_or_name.lower())
        if isinstance(id_or_name, str)
        else None
    )
    if policy is None:
        names = ", ".join(p.name or "" for p in MANAGED_RESPONSE_HEADERS_POLICY_IDS.values())
        raise ConfigurationError(
            "ResponseHeadersPolicyId", id_or_name, f"a managed policy id or name ({names})"
        )
    return policy
