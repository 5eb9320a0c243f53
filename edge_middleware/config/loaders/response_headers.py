"""``ResponseHeadersPolicyConfig`` (API or CloudFormation shape) as a
:class:`~edge_middleware.config.response_headers.ResponseHeadersPolicy` (docs/distributions.md).

Every property but the ones CloudFront requires may be left out [api-rhp]: a missing
``ExposeHeaders``/``MaxAgeSec`` is none, a missing ``Override`` is false, a missing
``ServerTimingHeadersConfig`` is off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...exceptions import ConfigurationError
from ..response_headers import (
    CorsConfig,
    ResponseHeader,
    ResponseHeadersPolicy,
    managed_response_headers_policy,
    settable,
)
from ._common import (
    child,
    known,
    list_items,
    read_bool,
    read_enum,
    read_int,
    read_mapping,
    read_str,
    require,
    wrap_errors,
)
from .policies import find_policy

__all__ = ["find_response_headers_policy", "response_headers_policy_from_config"]

Value = Callable[[Any, str], Any]
_FRAME = ("DENY", "SAMEORIGIN")
_REFERRER = (
    "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
    "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url",
)  # fmt: skip


def _identity(raw: Any, path: str) -> Any:
    return raw


class _Reader:
    def __init__(self, value: Value) -> None:
        self.value = value

    def get(self, obj: Mapping[str, Any], key: str, path: str, default: Any = None) -> Any:
        raw = obj.get(key)
        if raw is None:
            return default
        out = self.value(raw, child(path, key))
        return default if out is None else out

    def section(self, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        """``obj[key]`` as a mapping holding only the keys CloudFront knows there."""
        raw = self.get(obj, key, path)
        if raw is None:
            return None
        found = read_mapping(raw, child(path, key))
        known(found, _KEYS[key], child(path, key))
        return found

    def names(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        p = child(path, key)
        return tuple(
            read_str(self.value(x, xp), xp, allow_empty=False)
            for xp, x in list_items(self.get(obj, key, path), p)
        )

    def override(self, obj: Mapping[str, Any], path: str) -> bool:
        return read_bool(self.get(obj, "Override", path, False), child(path, "Override"))


#: the keys CloudFront knows in each part of a ResponseHeadersPolicyConfig: anything else is a
#: typo (``Valeu``, ``CustomHeaderConfig``, ``custom_headers``) that would drop a header silently
_OVERRIDE = frozenset({"Override"})
_KEYS: dict[str, frozenset[str]] = {
    "ResponseHeadersPolicyConfig": frozenset(
        {"Name", "Comment", "CorsConfig", "SecurityHeadersConfig", "CustomHeadersConfig"}
        | {"RemoveHeadersConfig", "ServerTimingHeadersConfig"}
    ),
    "CorsConfig": frozenset(
        {"AccessControlAllowOrigins", "AccessControlAllowHeaders", "AccessControlAllowMethods"}
        | {"AccessControlAllowCredentials", "AccessControlExposeHeaders"}
        | {"AccessControlMaxAgeSec", "OriginOverride"}
    ),
    "SecurityHeadersConfig": frozenset(
        {"ContentSecurityPolicy", "ContentTypeOptions", "FrameOptions", "ReferrerPolicy"}
        | {"StrictTransportSecurity", "XSSProtection"}
    ),
    "ContentSecurityPolicy": _OVERRIDE | {"ContentSecurityPolicy"},
    "ContentTypeOptions": _OVERRIDE,
    "FrameOptions": _OVERRIDE | {"FrameOption"},
    "ReferrerPolicy": _OVERRIDE | {"ReferrerPolicy"},
    "StrictTransportSecurity": _OVERRIDE
    | {"AccessControlMaxAgeSec", "IncludeSubdomains", "Preload"},
    "XSSProtection": _OVERRIDE | {"Protection", "ModeBlock", "ReportUri"},
    "CustomHeadersConfig": frozenset({"Quantity", "Items"}),
    "RemoveHeadersConfig": frozenset({"Quantity", "Items"}),
    "ServerTimingHeadersConfig": frozenset({"Enabled", "SamplingRate"}),
    "CustomHeader": _OVERRIDE | {"Header", "Value"},
    "RemoveHeader": frozenset({"Header"}),
}


def _required_names(
    r: _Reader, obj: Mapping[str, Any], key: str, path: str, hint: str
) -> tuple[str, ...]:
    require(obj, key, path)
    names = r.names(obj, key, path)
    if not names:
        raise ConfigurationError(child(path, key), obj.get(key), f"at least one item ({hint})")
    return names


def response_headers_policy_from_config(
    config: Mapping[str, Any], path: str, value: Value = _identity
) -> ResponseHeadersPolicy:
    """A ``ResponseHeadersPolicyConfig`` (``path`` is where it is)."""
    r = _Reader(value)
    known(config, _KEYS["ResponseHeadersPolicyConfig"], path)
    cors = None
    cors_path = child(path, "CorsConfig")
    c = r.section(config, "CorsConfig", path)
    if c is not None:
        max_age = r.get(c, "AccessControlMaxAgeSec", cors_path)
        # CloudFront requires both lists; left out (or emptied by an Fn::If) they are refused,
        # never read as "any origin" or "every method"
        origins = _required_names(r, c, "AccessControlAllowOrigins", cors_path, '"*" for any')
        methods = _required_names(r, c, "AccessControlAllowMethods", cors_path, '"ALL" for any')
        with wrap_errors(
            cors_path,
            {
                "allow_origins": child(cors_path, "AccessControlAllowOrigins"),
                "allow_headers": child(cors_path, "AccessControlAllowHeaders"),
                "allow_methods": child(cors_path, "AccessControlAllowMethods"),
                "expose_headers": child(cors_path, "AccessControlExposeHeaders"),
            },
        ):
            cors = CorsConfig(
                allow_origins=origins,
                allow_headers=r.names(c, "AccessControlAllowHeaders", cors_path),
                allow_methods=methods,
                allow_credentials=read_bool(
                    r.get(c, "AccessControlAllowCredentials", cors_path, False),
                    child(cors_path, "AccessControlAllowCredentials"),
                ),
                expose_headers=r.names(c, "AccessControlExposeHeaders", cors_path),
                max_age_sec=None
                if max_age is None
                else read_int(max_age, child(cors_path, "AccessControlMaxAgeSec"), minimum=0),
                origin_override=read_bool(
                    r.get(c, "OriginOverride", cors_path, False), child(cors_path, "OriginOverride")
                ),
            )
    security = _security(r, config, path)
    custom: list[ResponseHeader] = []
    custom_path = child(path, "CustomHeadersConfig")
    holder = r.section(config, "CustomHeadersConfig", path) or {}
    for item_path, item in list_items(
        r.get(holder, "Items", custom_path), child(custom_path, "Items")
    ):
        h = read_mapping(r.value(item, item_path), item_path)
        known(h, _KEYS["CustomHeader"], item_path)
        name = _settable(r, h, item_path)
        require(h, "Value", item_path)  # a header without one is CloudFront's error too
        text = read_str(r.get(h, "Value", item_path, ""), child(item_path, "Value"))
        fields = {"name": child(item_path, "Header"), "value": child(item_path, "Value")}
        with wrap_errors(item_path, fields):
            custom.append(ResponseHeader(name, text, r.override(h, item_path)))
    removed: list[str] = []
    remove_path = child(path, "RemoveHeadersConfig")
    holder = r.section(config, "RemoveHeadersConfig", path) or {}
    for item_path, item in list_items(
        r.get(holder, "Items", remove_path), child(remove_path, "Items")
    ):
        h = read_mapping(r.value(item, item_path), item_path)
        known(h, _KEYS["RemoveHeader"], item_path)
        removed.append(_settable(r, h, item_path))
    rate: float | None = None
    timing_path = child(path, "ServerTimingHeadersConfig")
    timing = r.section(config, "ServerTimingHeadersConfig", path)
    if timing is not None:
        raw_rate = r.get(timing, "SamplingRate", timing_path, 0)
        try:  # checked when disabled too, as CloudFront checks it
            given = float(raw_rate)
        except (TypeError, ValueError):
            given = -1.0
        if isinstance(raw_rate, bool) or not 0 <= given <= 100:
            raise ConfigurationError(
                child(timing_path, "SamplingRate"), raw_rate, "a percentage from 0 to 100"
            )
        if read_bool(r.get(timing, "Enabled", timing_path, False), child(timing_path, "Enabled")):
            rate = given
    name = r.get(config, "Name", path)
    with wrap_errors(
        path,
        {
            "remove_headers": child(path, "RemoveHeadersConfig"),
            "server_timing_sampling_rate": child(timing_path, "SamplingRate"),
        },
    ):
        return ResponseHeadersPolicy(
            name=name if isinstance(name, str) else None,
            cors=cors,
            security_headers=security,
            custom_headers=tuple(custom),
            remove_headers=tuple(removed),
            server_timing_sampling_rate=rate,
        )


def _settable(r: _Reader, h: Mapping[str, Any], item_path: str) -> str:
    """An item's ``Header``: a name a policy may set or remove, refused at its path."""
    where = child(item_path, "Header")
    name = read_str(r.get(h, "Header", item_path), where, allow_empty=False)
    if not settable(name):
        raise ConfigurationError(where, name, "a header CloudFront lets a policy set or remove")
    return name


def _security(r: _Reader, config: Mapping[str, Any], parent: str) -> tuple[ResponseHeader, ...]:
    """``SecurityHeadersConfig``: each sub-config becomes the header CloudFront sends."""
    path = child(parent, "SecurityHeadersConfig")
    s = r.section(config, "SecurityHeadersConfig", parent)
    if s is None:
        return ()
    out: list[ResponseHeader] = []
    for key, header in (
        ("ContentSecurityPolicy", "Content-Security-Policy"),
        ("ContentTypeOptions", "X-Content-Type-Options"),
        ("FrameOptions", "X-Frame-Options"),
        ("ReferrerPolicy", "Referrer-Policy"),
        ("StrictTransportSecurity", "Strict-Transport-Security"),
        ("XSSProtection", "X-XSS-Protection"),
    ):
        sub = r.section(s, key, path)
        if sub is None:
            continue
        p = child(path, key)
        if key == "ContentSecurityPolicy":
            text = read_str(r.get(sub, key, p), child(p, key), allow_empty=False)
        elif key == "ContentTypeOptions":
            text = "nosniff"
        elif key == "FrameOptions":
            text = read_enum(r.get(sub, "FrameOption", p), child(p, "FrameOption"), _FRAME)
        elif key == "ReferrerPolicy":
            text = read_enum(r.get(sub, key, p), child(p, key), _REFERRER)
        elif key == "StrictTransportSecurity":
            age = read_int(
                r.get(sub, "AccessControlMaxAgeSec", p),
                child(p, "AccessControlMaxAgeSec"),
                minimum=0,
            )
            text = f"max-age={age}"
            if read_bool(r.get(sub, "IncludeSubdomains", p, False), child(p, "IncludeSubdomains")):
                text += "; includeSubDomains"
            if read_bool(r.get(sub, "Preload", p, False), child(p, "Preload")):
                text += "; preload"
        else:
            on = read_bool(r.get(sub, "Protection", p), child(p, "Protection"))
            text = "1" if on else "0"
            block = read_bool(r.get(sub, "ModeBlock", p, False), child(p, "ModeBlock"))
            if block and r.get(sub, "ReportUri", p):  # CloudFront: one or the other
                raise ConfigurationError(
                    child(p, "ReportUri"), r.get(sub, "ReportUri", p), "none when ModeBlock is true"
                )
            if on and block:
                text += "; mode=block"
            elif on and r.get(sub, "ReportUri", p):
                text += f"; report={read_str(r.get(sub, 'ReportUri', p), child(p, 'ReportUri'))}"
        with wrap_errors(p):
            out.append(ResponseHeader(header, text, r.override(sub, p)))
    return tuple(out)


def find_response_headers_policy(
    policy_id: str, path: str, policies: Mapping[str, Any] | None
) -> ResponseHeadersPolicy:
    """A ``ResponseHeadersPolicyId``: one given in ``policies=``, else a managed one."""
    return find_policy(
        policy_id,
        path,
        policies,
        "ResponseHeadersPolicy",
        ResponseHeadersPolicy,
        response_headers_policy_from_config,
        managed_response_headers_policy,
    )
