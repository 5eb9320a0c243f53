"""The origin side of a request: the ``request.origin`` object, CloudFront's added headers,
which configured origin an origin-request function switched to, and the origin a CloudFront
Function chose (``cf.selectRequestOriginById`` / ``cf.updateRequestOrigin``)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from ..config.model import Behavior, EdgeConfig, Origin, OriginGroup
from ..config.settings import EdgeSettings
from ..exceptions import ConfigurationError, FunctionExecutionError
from .convert import ViewerRequest
from .headers import capitalize
from .simulate import simulated_values
from .types import CFHeaders, CFOrigin, CFRequest
from .viewer import viewer_http_version

__all__ = [
    "FunctionOrigin",
    "build_origin_object",
    "cloudfront_headers",
    "effective_origin",
    "function_group",
    "function_origin",
    "match_origin",
]

#: Values CloudFront would compute from the viewer; override with
#: ``EdgeSettings(cloudfront_header_values=(("cloudfront-viewer-country", "DE"),))``.
DEFAULT_CLOUDFRONT_VALUES: dict[str, str] = {
    "cloudfront-is-desktop-viewer": "true",
    "cloudfront-is-mobile-viewer": "false",
    "cloudfront-is-tablet-viewer": "false",
    "cloudfront-is-smarttv-viewer": "false",
    "cloudfront-is-android-viewer": "false",
    "cloudfront-is-ios-viewer": "false",
    "cloudfront-viewer-country": "US",
    "cloudfront-viewer-country-name": "United States",
    "cloudfront-viewer-country-region": "WA",
    "cloudfront-viewer-country-region-name": "Washington",
    "cloudfront-viewer-city": "Seattle",
    "cloudfront-viewer-postal-code": "98101",
    "cloudfront-viewer-time-zone": "America/Los_Angeles",
    "cloudfront-viewer-latitude": "47.61000",
    "cloudfront-viewer-longitude": "-122.33000",
    "cloudfront-viewer-metro-code": "819",
    "cloudfront-viewer-asn": "16509",
}


#: The default viewer's location beyond its country (all of it Seattle's).
_DEFAULT_LOCATION = (
    "cloudfront-viewer-country-name",
    "cloudfront-viewer-country-region",
    "cloudfront-viewer-country-region-name",
    "cloudfront-viewer-city",
    "cloudfront-viewer-postal-code",
    "cloudfront-viewer-time-zone",
    "cloudfront-viewer-latitude",
    "cloudfront-viewer-longitude",
    "cloudfront-viewer-metro-code",
)


#: the names whose case ``capitalize`` cannot give (lambda-edge.md §3.1)
_CLOUDFRONT_NAMES = {
    "cloudfront-is-smarttv-viewer": "CloudFront-Is-SmartTV-Viewer",
    "cloudfront-is-ios-viewer": "CloudFront-Is-IOS-Viewer",
    "cloudfront-viewer-asn": "CloudFront-Viewer-ASN",
    "cloudfront-viewer-tls": "CloudFront-Viewer-TLS",
}


def cloudfront_headers(
    behavior: Behavior, viewer: ViewerRequest, settings: EdgeSettings
) -> CFHeaders:
    """The ``CloudFront-*`` headers the behavior's policies ask for (added after viewer-request;
    a viewer-sent header of the same name is overwritten)."""
    wanted = behavior.cloudfront_wanted
    if not wanted:
        return {}
    values = dict(DEFAULT_CLOUDFRONT_VALUES)
    values["cloudfront-forwarded-proto"] = viewer.scheme
    values["cloudfront-viewer-http-version"] = viewer_http_version(viewer.http_version)
    port = viewer.client_port or 50000
    values["cloudfront-viewer-address"] = f"{viewer.request['clientIp']}:{port}"
    if viewer.scheme == "https":
        values["cloudfront-viewer-tls"] = "TLSv1.3:TLS_AES_128_GCM_SHA256:fullHandshake"
    names = list(viewer.request["headers"])
    values["cloudfront-viewer-header-order"] = ":".join(capitalize(n) for n in names)
    values["cloudfront-viewer-header-count"] = str(len(names))
    given = dict(settings.cloudfront_header_values)
    given.update(simulated_values())  # the dev server's per-request X-Edge-Viewer
    if given.get("cloudfront-viewer-country", "US") != "US":
        # the default location is Seattle: another country given alone must not come with
        # "United States", Washington and a Seattle postcode (CloudFront leaves out what it
        # does not know, as it leaves out a city it cannot place)
        for name in _DEFAULT_LOCATION:
            values.pop(name, None)
    values.update(given)
    out: CFHeaders = {}
    for name in wanted:
        if name in values:
            key = _CLOUDFRONT_NAMES.get(name) or capitalize(
                name.replace("cloudfront", "CloudFront")
            )
            out[name] = [{"key": key, "value": values[name]}]
    return out


def _custom_headers(origin: Origin) -> CFHeaders:
    out: CFHeaders = {}
    for name, value in origin.custom_headers:
        out.setdefault(name.lower(), []).append({"key": name, "value": value})
    return out


def build_origin_object(origin: Origin, scheme: str, settings: EdgeSettings) -> CFOrigin:
    """``request.origin`` for origin events, every field from the config (§1.6)."""
    if origin.kind == "s3":
        if origin.s3_origin_access_identity:
            auth = "origin-access-identity"
        elif origin.uses_oac:
            auth = settings.s3_oac_auth_method
        else:
            auth = "none"
        return {
            "s3": {
                "authMethod": auth,  # type: ignore[typeddict-item]
                "customHeaders": _custom_headers(origin),
                "domainName": origin.domain_name,
                "path": origin.origin_path,
                "region": origin.region or "us-east-1",
            }
        }
    if origin.protocol_policy == "match-viewer":
        protocol = "https" if scheme == "https" else "http"
    else:
        protocol = "https" if origin.protocol_policy == "https-only" else "http"
    return {
        "custom": {
            "customHeaders": _custom_headers(origin),
            "domainName": origin.domain_name,
            "keepaliveTimeout": origin.keepalive_timeout,
            "path": origin.origin_path,
            "port": origin.https_port if protocol == "https" else origin.http_port,
            "protocol": protocol,  # type: ignore[typeddict-item]
            "readTimeout": origin.read_timeout,
            "sslProtocols": list(origin.ssl_protocols),
        }
    }


def match_origin(config: EdgeConfig, request: CFRequest, default: Origin) -> tuple[Origin, str]:
    """The configured origin an origin request now points at, and the id to route it by.

    An origin-request function may switch origins (AWS examples 10-14) to one the distribution
    does not define; then the id is the new domain name, so ``origins={"eu.example.com": url}``
    can serve it.
    """
    obj = request.get("origin") or {}
    target = obj.get("custom") or obj.get("s3")
    if not target:
        return default, default.id
    domain = target.get("domainName", "")
    if domain == default.domain_name:
        return default, default.id
    for origin in config.origins:
        if origin.domain_name == domain:
            return origin, origin.id
    return default, domain


def effective_origin(origin: Origin, request: CFRequest) -> Origin:
    """The configured origin with what an origin-request function changed in ``request.origin``
    (path, read and keep-alive timeouts), for a proxied origin."""
    obj = request.get("origin") or {}
    target: Any = obj.get("custom") or obj.get("s3")
    if not target:
        return origin
    changes: dict[str, Any] = {}
    if target.get("path", origin.origin_path) != origin.origin_path:
        changes["origin_path"] = target["path"]
    if target.get("readTimeout", origin.read_timeout) != origin.read_timeout:
        changes["read_timeout"] = target["readTimeout"]
    if target.get("keepaliveTimeout", origin.keepalive_timeout) != origin.keepalive_timeout:
        changes["keepalive_timeout"] = target["keepaliveTimeout"]
    return dataclasses.replace(origin, **changes) if changes else origin


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionOrigin(Origin):
    """An origin a CloudFront Function derived with ``cf.updateRequestOrigin()`` for one
    request. Its ``id`` routes it (``origins=`` and the wrapped app, as :func:`match_origin`
    does); its ``request.origin`` object is built per request, not cached under that id."""


def _origin_by_id(config: EdgeConfig, wanted: str, call: str, handler: str) -> Origin:
    for origin in config.origins:
        if origin.id == wanted:
            return origin
    known = [o.id for o in config.origins]
    raise FunctionExecutionError(
        f"cf.{call}({wanted!r}): the distribution has no origin with that id "
        f"(its origins: {known})",
        field=call,
        handler=handler,
    )


def function_group(change: dict[str, Any]) -> OriginGroup | Literal[False] | None:
    """The origin group ``cf.createRequestOriginGroup()`` made for this request; ``False``
    when ``cf.selectRequestOriginById()`` chose one origin (no failover, even to the
    behavior's group's secondary when it chose that group's primary); else ``None``."""
    if "select" in change:
        return False
    group = change.get("group")
    if group is None:
        return None
    return OriginGroup("function-origin-group", tuple(group["members"]), tuple(group["codes"]))


def function_origin(
    config: EdgeConfig, current: Origin, change: dict[str, Any], handler: str
) -> Origin:
    """The origin a CloudFront Function asked for, from ``current`` (the behavior's).

    ``change`` is ``{"select": origin_id}`` (``cf.selectRequestOriginById``) or
    ``{"update": {Origin field: value}}`` (``cf.updateRequestOrigin``, its parameters already
    mapped by ``edge_middleware.js.origin_change``). An unknown origin id, or parameters an
    origin cannot have, fail the function: 503 ``FunctionExecutionError``
    (docs/cloudfront-functions.md §4).
    """
    if "select" in change:
        return _origin_by_id(config, change["select"], "selectRequestOriginById", handler)
    if "group" in change:  # the request goes to the primary; fetch fails over to the secondary
        members = change["group"]["members"]
        for member in members[1:]:
            _origin_by_id(config, member, "createRequestOriginGroup", handler)
        return _origin_by_id(config, members[0], "createRequestOriginGroup", handler)
    fields = dict(change["update"])
    domain = fields.get("domain_name", current.domain_name)
    route = current.id
    if domain != current.domain_name:
        # routed like an origin-request switch: a configured origin with that domain, else
        # the domain itself (map it with origins={"eu.example.com": app_or_url})
        route = next((o.id for o in config.origins if o.domain_name == domain), domain)
    values = {f.name: getattr(current, f.name) for f in dataclasses.fields(Origin)}
    values.update(fields, id=route)
    try:
        return FunctionOrigin(**values)
    except ConfigurationError as exc:
        param = exc.field.rpartition(".")[2]
        raise FunctionExecutionError(
            f"cf.updateRequestOrigin(): {param} {exc.value!r} is invalid; expected {exc.expected}",
            field=f"updateRequestOrigin.{param}",
            handler=handler,
        ) from None
