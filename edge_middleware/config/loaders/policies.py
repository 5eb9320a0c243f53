"""Cache and origin request policies: managed ids, ``policies=`` overrides, policy configs.

A ``CachePolicyConfig`` / ``OriginRequestPolicyConfig`` (API or CloudFormation shape) becomes a
:class:`CachePolicy` / :class:`OriginRequestPolicy` (caching.md §1.5, lambda-edge.md §5.4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...cache.managed import managed_cache_policy, managed_origin_request_policy
from ...exceptions import ConfigurationError
from ..model import CachePolicy, OriginRequestPolicy
from ..response_headers import ResponseHeadersPolicy
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

__all__ = [
    "PoliciesArg",
    "cache_policy_from_config",
    "find_cache_policy",
    "find_origin_request_policy",
    "find_policy",
    "origin_request_policy_from_config",
]

#: ``load_config(policies=...)``: policy id -> our object or its ``*PolicyConfig`` mapping.
PoliciesArg = (
    Mapping[str, CachePolicy | OriginRequestPolicy | ResponseHeadersPolicy | Mapping[str, Any]]
    | None
)
Value = Callable[[Any, str], Any]


def _identity(raw: Any, path: str) -> Any:
    return raw


def _names(config: Mapping[str, Any], key: str, path: str, value: Value) -> tuple[str, ...]:
    out = []
    for item_path, item in list_items(value(config.get(key), child(path, key)), child(path, key)):
        out.append(read_str(value(item, item_path), item_path, allow_empty=False))
    return tuple(out)


_P = TypeVar("_P")
_PARAMS = "ParametersInCacheKeyAndForwardedToOrigin"


def _unwrap(config: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """Accept ``get-cache-policy`` output, ``{"CachePolicyConfig": ...}`` or the bare config."""
    if kind in config:  # {"CachePolicy": {"Id", "CachePolicyConfig"}} as printed by the CLI
        config = read_mapping(config[kind], kind)
    return read_mapping(config.get(f"{kind}Config", config), f"{kind}Config")


#: the keys of each part of a policy config (a misspelled one was ignored, and with it the
#: headers or query strings the policy keys on or forwards)
_KEYS = {
    "CachePolicyConfig": frozenset(("Name", "Comment", "MinTTL", "DefaultTTL", "MaxTTL", _PARAMS)),
    _PARAMS: frozenset(
        (
            "EnableAcceptEncodingGzip",
            "EnableAcceptEncodingBrotli",
            "HeadersConfig",
            "CookiesConfig",
            "QueryStringsConfig",
        )
    ),
    "OriginRequestPolicyConfig": frozenset(
        ("Name", "Comment", "HeadersConfig", "CookiesConfig", "QueryStringsConfig")
    ),
    "HeadersConfig": frozenset(("HeaderBehavior", "Headers")),
    "CookiesConfig": frozenset(("CookieBehavior", "Cookies")),
    "QueryStringsConfig": frozenset(("QueryStringBehavior", "QueryStrings")),
}


def cache_policy_from_config(
    config: Mapping[str, Any], path: str, value: Value = _identity
) -> CachePolicy:
    """A ``CachePolicyConfig`` (``path`` is where it is) as a :class:`CachePolicy`."""
    known(config, _KEYS["CachePolicyConfig"], path)
    ttls = {}
    for key, default in (("MinTTL", 0), ("DefaultTTL", 86400), ("MaxTTL", 31536000)):
        raw = value(config.get(key, default), child(path, key))
        ttls[key] = read_int(raw, child(path, key), minimum=0)
    params_path = child(path, _PARAMS)
    # required (CloudFormation and the API): without it the policy would key on nothing
    params = read_mapping(require(config, _PARAMS, path), params_path)
    known(params, _KEYS[_PARAMS], params_path)
    parts: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
    for conf_key, behavior_key, list_key, allowed in (
        ("HeadersConfig", "HeaderBehavior", "Headers", ("none", "whitelist")),
        ("CookiesConfig", "CookieBehavior", "Cookies", ("none", "whitelist", "allExcept", "all")),
        (
            "QueryStringsConfig",
            "QueryStringBehavior",
            "QueryStrings",
            ("none", "whitelist", "allExcept", "all"),
        ),
    ):
        conf_path = child(params_path, conf_key)
        conf = read_mapping(params.get(conf_key) or {}, conf_path)
        known(conf, _KEYS[conf_key], conf_path)
        behavior_path = child(conf_path, behavior_key)
        behavior = read_enum(
            value(conf.get(behavior_key, "none"), behavior_path), behavior_path, allowed
        )
        names = _names(conf, list_key, conf_path, value)
        parts[conf_key] = (behavior, names, behavior_path, child(conf_path, list_key))
    flags = {}
    for key in ("EnableAcceptEncodingGzip", "EnableAcceptEncodingBrotli"):
        key_path = child(params_path, key)
        flags[key] = read_bool(value(params.get(key, False), key_path), key_path)
    headers, cookies, query = (
        parts["HeadersConfig"],
        parts["CookiesConfig"],
        parts["QueryStringsConfig"],
    )
    name = value(config.get("Name"), child(path, "Name"))  # !Join / !Sub names resolve too
    with wrap_errors(
        path,
        {
            "min_ttl": child(path, "MinTTL"),
            "default_ttl": child(path, "DefaultTTL"),
            "max_ttl": child(path, "MaxTTL"),
            "headers": headers[3],
            "cookie_names": cookies[3],
            "query_string_names": query[3],
        },
    ):
        return CachePolicy(
            min_ttl=ttls["MinTTL"],
            default_ttl=ttls["DefaultTTL"],
            max_ttl=ttls["MaxTTL"],
            query_strings=query[0],  # type: ignore[arg-type]
            query_string_names=query[1],
            headers=headers[1] if headers[0] == "whitelist" else (),
            cookies=cookies[0],  # type: ignore[arg-type]
            cookie_names=cookies[1],
            enable_accept_encoding_gzip=flags["EnableAcceptEncodingGzip"],
            enable_accept_encoding_brotli=flags["EnableAcceptEncodingBrotli"],
            name=name if isinstance(name, str) else None,
        )


_ORP_HEADERS = ("none", "whitelist", "allViewer", "allViewerAndWhitelistCloudFront", "allExcept")
_ORP_OTHER = ("none", "whitelist", "all", "allExcept")


def origin_request_policy_from_config(
    config: Mapping[str, Any], path: str, value: Value = _identity
) -> OriginRequestPolicy:
    """An ``OriginRequestPolicyConfig`` as an :class:`OriginRequestPolicy`."""
    known(config, _KEYS["OriginRequestPolicyConfig"], path)
    parts: dict[str, tuple[str, tuple[str, ...]]] = {}
    for conf_key, behavior_key, list_key, allowed in (
        ("HeadersConfig", "HeaderBehavior", "Headers", _ORP_HEADERS),
        ("CookiesConfig", "CookieBehavior", "Cookies", _ORP_OTHER),
        ("QueryStringsConfig", "QueryStringBehavior", "QueryStrings", _ORP_OTHER),
    ):
        conf_path = child(path, conf_key)
        conf = read_mapping(config.get(conf_key) or {}, conf_path)
        known(conf, _KEYS[conf_key], conf_path)
        behavior_path = child(conf_path, behavior_key)
        behavior = read_enum(
            value(conf.get(behavior_key, "none"), behavior_path), behavior_path, allowed
        )
        parts[conf_key] = (behavior, _names(conf, list_key, conf_path, value))
    name = value(config.get("Name"), child(path, "Name"))  # !Join / !Sub names resolve too
    lists = {
        attr: child(child(path, conf_key), list_key)
        for attr, conf_key, list_key in (
            ("header_names", "HeadersConfig", "Headers"),
            ("cookie_names", "CookiesConfig", "Cookies"),
            ("query_string_names", "QueryStringsConfig", "QueryStrings"),
        )
    }
    with wrap_errors(path, lists):
        return OriginRequestPolicy(
            headers=parts["HeadersConfig"][0],  # type: ignore[arg-type]
            header_names=parts["HeadersConfig"][1],
            cookies=parts["CookiesConfig"][0],  # type: ignore[arg-type]
            cookie_names=parts["CookiesConfig"][1],
            query_strings=parts["QueryStringsConfig"][0],  # type: ignore[arg-type]
            query_string_names=parts["QueryStringsConfig"][1],
            name=name if isinstance(name, str) else None,
        )


def find_policy(
    policy_id: str,
    path: str,
    policies: PoliciesArg,
    kind: str,
    cls: type[_P],
    from_config: Callable[[Mapping[str, Any], str], _P],
    managed: Callable[[str], _P],
) -> _P:
    """A policy id of ``kind`` (``"CachePolicy"`` ...): one given in ``policies=`` (the object,
    ``aws cloudfront get-...`` output, ``{"<kind>Config": ...}`` or the bare config), else a
    managed policy id or name."""
    if policies is not None and policy_id in policies:
        given = policies[policy_id]
        where = f"policies[{policy_id!r}]"
        if isinstance(given, cls):
            return given
        if isinstance(given, Mapping):
            return from_config(_unwrap(given, kind), where)
        raise ConfigurationError(where, given, f"a {kind} or a {kind}Config mapping")
    try:
        return managed(policy_id)
    except ConfigurationError as exc:
        raise ConfigurationError(
            path, policy_id, f"{exc.expected}, or one given in policies="
        ) from None


def find_cache_policy(policy_id: str, path: str, policies: PoliciesArg) -> CachePolicy:
    """A ``CachePolicyId``: one given in ``policies=``, else a managed policy id or name."""
    return find_policy(
        policy_id,
        path,
        policies,
        "CachePolicy",
        CachePolicy,
        cache_policy_from_config,
        managed_cache_policy,
    )


def find_origin_request_policy(
    policy_id: str, path: str, policies: PoliciesArg
) -> OriginRequestPolicy:
    """An ``OriginRequestPolicyId``: from ``policies=``, else a managed one."""
    return find_policy(
        policy_id,
        path,
        policies,
        "OriginRequestPolicy",
        OriginRequestPolicy,
        origin_request_policy_from_config,
        managed_origin_request_policy,
    )
