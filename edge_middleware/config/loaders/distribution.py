"""A CloudFront ``DistributionConfig`` (API or CloudFormation shape) as an :class:`EdgeConfig`.

One converter reads both shapes (lambda-edge.md §5.7, §5.8): lists may be plain arrays or
``{"Quantity", "Items"}``; ``CachedMethods`` may be nested in ``AllowedMethods`` or beside it;
``CustomHeaders``/``OriginCustomHeaders`` and ``OriginSslProtocols``/``OriginSSLProtocols`` are
both read. What differs is how a value is resolved, which a :class:`Resolver` does: the API
shape has literals only, a CloudFormation template has intrinsics (``cloudformation.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ...core.types import EVENT_TYPES
from ...exceptions import ConfigurationError
from ..model import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    OriginRequestPolicy,
    Trigger,
    compile_path_pattern,
)
from ..settings import EdgeSettings
from ._common import (
    HandlersArg,
    child,
    cloudfront_function_ref,
    list_path,
    lookup_handler,
    read_bool,
    read_enum,
    read_int,
    read_mapping,
    read_str,
    require,
    wrap_errors,
)
from .distribution_origins import OriginReader
from .resolver import Resolver

__all__ = ["distribution_to_config"]

logger = logging.getLogger("edge_middleware.config")

_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
_VIEWER_PROTOCOL = ("allow-all", "https-only", "redirect-to-https")
_RESPONSE_EVENTS = ("origin-response", "viewer-response")
#: What a legacy ``QueryString: true`` with ``QueryStringCacheKeys`` sends to the origin.
_FORWARD_ALL_QUERY_STRINGS = OriginRequestPolicy(query_strings="all")


def distribution_to_config(
    raw: Any,
    path: str,
    *,
    resolver: Resolver,
    handlers: HandlersArg,
    settings: EdgeSettings,
    distribution_id: str | None = None,
    domain_name: str | None = None,
) -> EdgeConfig:
    """Build the EdgeConfig for the DistributionConfig ``raw`` found at ``path``."""
    return _Converter(resolver, handlers, settings).config(
        raw, path, distribution_id=distribution_id, domain_name=domain_name
    )


class _Converter(OriginReader):
    # -- the distribution ---------------------------------------------------------------------

    def config(
        self, raw: Any, path: str, *, distribution_id: str | None, domain_name: str | None
    ) -> EdgeConfig:
        dc = self.mapping(raw, path)
        require(dc, "Origins", path)
        require(dc, "DefaultCacheBehavior", path)
        origins = self.origins(dc, path)
        behaviors = [
            self.behavior(item, p, is_default=False)
            for p, item in self.items(dc, "CacheBehaviors", path)
        ]
        default = self.behavior(dc["DefaultCacheBehavior"], child(path, "DefaultCacheBehavior"))
        errors: list[CustomErrorResponse] = []
        for p, item in self.items(dc, "CustomErrorResponses", path):
            errors.append(error := self.error_response(item, p))
            if [e.error_code for e in errors].count(error.error_code) > 1:
                raise ConfigurationError(
                    child(p, "ErrorCode"), error.error_code, "one CustomErrorResponse per code"
                )
        # ``CNAMEs`` is the legacy CloudFormation name of ``Aliases``.
        aliases = self.names(dc, "Aliases" if "Aliases" in dc else "CNAMEs", path)
        root = read_str(self.v(dc, "DefaultRootObject", path, ""), child(path, "DefaultRootObject"))
        rpath = child(path, "Restrictions")
        geo = self.v(
            self.mapping(self.v(dc, "Restrictions", path, {}), rpath), "GeoRestriction", rpath
        )
        if isinstance(geo, Mapping) and self.r.value(geo.get("RestrictionType"), rpath) not in (
            None,
            "none",
        ):
            logger.warning(
                "%s: CloudFront refuses viewers by country; edge_middleware serves every viewer",
                child(rpath, "GeoRestriction"),
            )
        extra: dict[str, Any] = {}
        if distribution_id:
            extra["distribution_id"] = distribution_id
        if domain_name:
            extra["distribution_domain_name"] = domain_name
        with wrap_errors(path):
            return EdgeConfig(
                default=default,
                behaviors=behaviors,
                origins=origins,
                custom_error_responses=errors,
                settings=self.settings,
                aliases=aliases,
                default_root_object=root,
                origin_groups=self.groups,
                **extra,
            )

    # -- behaviors ------------------------------------------------------------------------------

    def behavior(self, raw: Any, path: str, *, is_default: bool = True) -> Behavior:
        b = self.mapping(raw, path)
        where: dict[str, str] = {}
        if is_default:
            pattern = "*"
        else:
            where["path_pattern"] = child(path, "PathPattern")
            pattern = read_str(self.req(b, "PathPattern", path), where["path_pattern"])
            compile_path_pattern(pattern, where["path_pattern"])
        target_path = child(path, "TargetOriginId")
        target = read_str(self.req(b, "TargetOriginId", path), target_path)
        if target not in self.targets:
            raise ConfigurationError(target_path, target, f"one of {list(self.targets)}")
        where["viewer_protocol_policy"] = child(path, "ViewerProtocolPolicy")
        viewer_protocol = read_enum(
            self.req(b, "ViewerProtocolPolicy", path),
            where["viewer_protocol_policy"],
            _VIEWER_PROTOCOL,
        )
        allowed, cached = self.methods(b, path, where)
        compress = read_bool(self.v(b, "Compress", path, False), child(path, "Compress"))
        triggers = self.associations(b, path)
        for key in ("TrustedKeyGroups", "TrustedSigners"):
            if _in_use(self.v(b, key, path)):
                logger.warning(
                    "%s: CloudFront serves this behavior only to signed URLs or signed cookies; "
                    "edge_middleware does not check signatures, so unsigned requests are served",
                    child(path, key),
                )
        cache, orp, forward_all = self.cache(b, path, compress)
        if "host" in cache.headers and self.s3_behind(target):
            # caching.md §1.5: Host can never be in the key for an S3 origin (CloudFront's
            # InvalidHeadersForS3Origin); the bucket would get the viewer's Host
            key_path = (
                child(path, "CachePolicyId")
                if "CachePolicyId" in b
                else child(child(path, "ForwardedValues"), "Headers")
            )
            raise ConfigurationError(key_path, "Host", "no Host in the cache key of an S3 origin")
        rhp_id = b.get("ResponseHeadersPolicyId") or None
        rhp = None
        if rhp_id is not None:
            rhp = self.r.response_headers_policy(rhp_id, child(path, "ResponseHeadersPolicyId"))
        self.function_associations(b, path, triggers)
        with wrap_errors(path, where):
            return Behavior(
                pattern,
                **triggers,
                cache=cache,
                target_origin_id=self.targets[target],
                allowed_methods=allowed,
                cached_methods=cached,
                viewer_protocol_policy=viewer_protocol,  # type: ignore[arg-type]
                compress=compress,
                origin_request_policy=orp,
                forward_all_headers=forward_all,
                response_headers_policy=rhp,
            )

    def methods(
        self, b: Mapping[str, Any], path: str, where: dict[str, str]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        allowed_raw = self.v(b, "AllowedMethods", path)
        allowed: tuple[str, ...] = ("GET", "HEAD")
        if allowed_raw is not None:
            where["allowed_methods"] = list_path(allowed_raw, child(path, "AllowedMethods"))
            allowed = tuple(
                read_enum(x, p, _METHODS) for p, x in self.items(b, "AllowedMethods", path)
            )
        # API: AllowedMethods.CachedMethods; CloudFormation: a CachedMethods sibling.
        holder, holder_path = b, path
        if "CachedMethods" not in b and isinstance(allowed_raw, Mapping):
            holder, holder_path = allowed_raw, child(path, "AllowedMethods")
        cached: tuple[str, ...] = ("GET", "HEAD")
        cached_raw = self.v(holder, "CachedMethods", holder_path)
        if cached_raw is not None:
            where["cached_methods"] = list_path(cached_raw, child(holder_path, "CachedMethods"))
            cached = tuple(
                read_enum(x, p, _METHODS)
                for p, x in self.items(holder, "CachedMethods", holder_path)
            )
        return allowed, cached

    def associations(self, b: Mapping[str, Any], path: str) -> dict[str, Any]:
        triggers: dict[str, Any] = {}
        seen: dict[str, str] = {}
        for item_path, item in self.items(b, "LambdaFunctionAssociations", path):
            a = read_mapping(item, item_path)
            event_path = child(item_path, "EventType")
            event = read_enum(self.req(a, "EventType", item_path), event_path, EVENT_TYPES)
            if event in seen:
                raise ConfigurationError(
                    event_path, event, f"one association per event type (also at {seen[event]})"
                )
            seen[event] = item_path
            body_path = child(item_path, "IncludeBody")
            include_body = read_bool(self.v(a, "IncludeBody", item_path, False), body_path)
            if include_body and event in _RESPONSE_EVENTS:
                raise ConfigurationError(body_path, True, "IncludeBody only on request events")
            arn_path = child(item_path, "LambdaFunctionARN")
            ref = self.r.function(require(a, "LambdaFunctionARN", item_path), arn_path)
            triggers[event.replace("-", "_")] = lookup_handler(
                ref, self.handlers, arn_path, include_body=include_body
            )
        return triggers

    def function_associations(
        self, b: Mapping[str, Any], path: str, triggers: dict[str, Trigger]
    ) -> None:
        """CloudFront Functions (viewer events only), each run by ``edge_middleware.js``. A
        behavior cannot have a CloudFront Function and a Lambda@Edge function on the same
        event type: CloudFront's API rejects that, and so do we."""
        seen: dict[str, str] = {}
        for item_path, item in self.items(b, "FunctionAssociations", path):
            a = read_mapping(item, item_path)
            event_path = child(item_path, "EventType")
            raw_event = self.req(a, "EventType", item_path)
            event = read_enum(raw_event, event_path, ("viewer-request", "viewer-response"))
            slot = event.replace("-", "_")
            if event in seen:
                raise ConfigurationError(
                    event_path, event, f"one function per event type (also at {seen[event]})"
                )
            if slot in triggers:
                raise ConfigurationError(
                    event_path,
                    event,
                    "an event type without a Lambda@Edge function: a behavior cannot have a "
                    "CloudFront Function and a Lambda@Edge function on the same event type "
                    f"(LambdaFunctionAssociations has {event})",
                )
            seen[event] = item_path
            arn_path = child(item_path, "FunctionARN")
            raw = require(a, "FunctionARN", item_path)
            resolve = getattr(self.r, "cloudfront_function", None)
            if resolve is not None:
                ref = resolve(raw, arn_path)
            else:
                ref = cloudfront_function_ref(read_str(raw, arn_path, allow_empty=False))
            triggers[slot] = lookup_handler(
                ref, self.handlers, arn_path, include_body=False, cloudfront_function=True
            )

    def cache(
        self, b: Mapping[str, Any], path: str, compress: bool
    ) -> tuple[CachePolicy, OriginRequestPolicy | None, bool]:
        policy_id = b.get("CachePolicyId") or None
        orp_id = b.get("OriginRequestPolicyId") or None
        forwarded = b.get("ForwardedValues")
        if policy_id is not None:
            if forwarded is not None:
                raise ConfigurationError(
                    child(path, "ForwardedValues"),
                    forwarded,
                    "no ForwardedValues on a behavior with a CachePolicyId",
                )
            cache = self.r.cache_policy(policy_id, child(path, "CachePolicyId"))
            orp = None
            if orp_id is not None:
                orp_path = child(path, "OriginRequestPolicyId")
                orp = self.r.origin_request_policy(orp_id, orp_path)
            return cache, orp, False
        if orp_id is not None:
            raise ConfigurationError(
                child(path, "OriginRequestPolicyId"), orp_id, "a CachePolicyId beside it"
            )
        if forwarded is None:
            raise ConfigurationError(
                child(path, "CachePolicyId"), None, "a CachePolicyId or legacy ForwardedValues"
            )
        return self.legacy(b, path, compress)

    def legacy(
        self, b: Mapping[str, Any], path: str, compress: bool
    ) -> tuple[CachePolicy, OriginRequestPolicy | None, bool]:
        """``ForwardedValues``: forwarding = keying, except that ``QueryString: true`` with
        ``QueryStringCacheKeys`` forwards every query string and keys on the listed ones
        (caching.md §1.5); ``Headers: ["*"]`` disables caching."""
        fv_path = child(path, "ForwardedValues")
        fv = self.mapping(b["ForwardedValues"], fv_path)
        query = read_bool(self.req(fv, "QueryString", fv_path), child(fv_path, "QueryString"))
        query_keys = self.names(fv, "QueryStringCacheKeys", fv_path)
        cookies_path = child(fv_path, "Cookies")
        cookies = self.mapping(fv.get("Cookies") or {}, cookies_path)
        forward = read_enum(
            self.v(cookies, "Forward", cookies_path, "none"),
            child(cookies_path, "Forward"),
            ("none", "whitelist", "all"),
        )
        if forward == "whitelist":  # "Required if you specify whitelist" (the API)
            require(cookies, "WhitelistedNames", cookies_path)
        cookie_names = self.names(cookies, "WhitelistedNames", cookies_path)
        headers = self.names(fv, "Headers", fv_path)
        ttls, ttl_paths = self.legacy_ttls(b, path)
        forward_all = "*" in headers
        if forward_all:
            if ttls["min_ttl"] != 0:
                raise ConfigurationError(
                    ttl_paths["min_ttl"], ttls["min_ttl"], "0 when every header is forwarded"
                )
            ttls = {"min_ttl": 0, "default_ttl": 0, "max_ttl": 0}
            headers = ()
        where = {
            **ttl_paths,
            "headers": list_path(fv.get("Headers"), child(fv_path, "Headers")),
            "cookie_names": list_path(
                cookies.get("WhitelistedNames"), child(cookies_path, "WhitelistedNames")
            ),
            "query_string_names": list_path(
                fv.get("QueryStringCacheKeys"), child(fv_path, "QueryStringCacheKeys")
            ),
        }
        names = cookie_names if forward == "whitelist" else ()
        with wrap_errors(fv_path, where):
            policy = CachePolicy(
                min_ttl=ttls["min_ttl"],
                default_ttl=ttls["default_ttl"],
                max_ttl=ttls["max_ttl"],
                query_strings=("whitelist" if query_keys else "all") if query else "none",
                query_string_names=query_keys if query else (),
                headers=headers,
                cookies=forward,  # type: ignore[arg-type]
                cookie_names=names,
                # Legacy whitelists take `*`/`?` wildcards in cookie names (caching.md §1.13).
                cookie_wildcards=any("*" in n or "?" in n for n in names),
                # Legacy settings compress with gzip only and key on it (caching.md §1.12).
                enable_accept_encoding_gzip=compress,
            )
        # Keyed on a whitelist, every query string still reaches the origin (caching.md §1.5).
        orp = _FORWARD_ALL_QUERY_STRINGS if query and query_keys else None
        return policy, orp, forward_all

    def legacy_ttls(self, b: Mapping[str, Any], path: str) -> tuple[dict[str, int], dict[str, str]]:
        """``MinTTL``/``DefaultTTL``/``MaxTTL`` and their paths. A TTL left out is its default
        (0 / 86400 / 31536000), with DefaultTTL raised to MinTTL and MaxTTL to DefaultTTL when
        those are larger (caching.md §1.3). TTLs written that contradict each other fail
        later, in CachePolicy, at the field written; a MaxTTL below the DefaultTTL a left-out
        DefaultTTL would have fails here, at MaxTTL."""
        paths = {
            "min_ttl": child(path, "MinTTL"),
            "default_ttl": child(path, "DefaultTTL"),
            "max_ttl": child(path, "MaxTTL"),
        }
        given = {
            attr: None if raw is None else read_int(raw, paths[attr], minimum=0)
            for attr, raw in (
                ("min_ttl", self.v(b, "MinTTL", path)),
                ("default_ttl", self.v(b, "DefaultTTL", path)),
                ("max_ttl", self.v(b, "MaxTTL", path)),
            )
        }
        low = given["min_ttl"] or 0
        default = given["default_ttl"]
        default = max(86400, low) if default is None else default
        high = given["max_ttl"]
        high = max(31536000, default) if high is None else high
        if given["default_ttl"] is None and high < default:
            raise ConfigurationError(
                paths["max_ttl"],
                high,
                f">= DefaultTTL ({default}, its default when left out; set DefaultTTL too)",
            )
        return {"min_ttl": low, "default_ttl": default, "max_ttl": high}, paths

    # -- custom error responses ------------------------------------------------------------------

    def error_response(self, raw: Any, path: str) -> CustomErrorResponse:
        e = read_mapping(raw, path)
        where = {
            "error_code": child(path, "ErrorCode"),
            "response_page_path": child(path, "ResponsePagePath"),
            "response_code": child(path, "ResponseCode"),
            "error_caching_min_ttl": child(path, "ErrorCachingMinTTL"),
        }
        page = read_str(self.v(e, "ResponsePagePath", path, ""), where["response_page_path"])
        code = self.v(e, "ResponseCode", path, "")  # a string in the API, an int in CFN
        ttl = self.v(e, "ErrorCachingMinTTL", path, self.settings.error_caching_min_ttl)
        error_code = read_int(self.req(e, "ErrorCode", path), where["error_code"])
        response_code = None if code == "" else read_int(code, where["response_code"])
        with wrap_errors(path, where):
            return CustomErrorResponse(
                error_code=error_code,
                response_page_path=page or None,
                response_code=response_code,
                error_caching_min_ttl=read_int(ttl, where["error_caching_min_ttl"], minimum=0),
            )


def _in_use(value: Any) -> bool:
    """Whether ``TrustedKeyGroups``/``TrustedSigners`` ask for signed requests: a non-empty
    list (CloudFormation) or ``{"Enabled": true, ...}`` / items (the API's shape)."""
    if isinstance(value, Mapping):
        return bool(value.get("Enabled")) or bool(value.get("Items"))
    return isinstance(value, list) and bool(value)
