"""edge_middleware's own config file: TOML whose keys are the config model's field names.

Every key is the field of the same name on :class:`~edge_middleware.EdgeConfig`,
:class:`~edge_middleware.Behavior`, :class:`~edge_middleware.CachePolicy`,
:class:`~edge_middleware.Origin`, :class:`~edge_middleware.CustomErrorResponse` or
:class:`~edge_middleware.EdgeSettings`; an unknown key is an error (it is usually a typo).
The same structure may also be given as a mapping, or as a JSON/YAML file.

.. code-block:: toml

    [distribution]                       # all optional
    id = "E2EXAMPLE"
    domain_name = "d111111abcdef8.cloudfront.net"
    aliases = ["www.example.com"]
    default_root_object = "index.html"

    [[origins]]                          # optional; the first one serves the default behavior
    id = "app"
    domain_name = "app.example.com"
    protocol_policy = "https-only"       # kind = "custom" unless the domain is an S3 endpoint
    custom_headers = { "X-Origin-Token" = "t0k" }

    [[origins]]
    id = "assets"
    domain_name = "assets.s3.eu-west-1.amazonaws.com"   # kind = "s3", region from the domain
    uses_oac = true

    [[origin_groups]]                    # optional: GET/HEAD/OPTIONS fail over to the second
    id = "app-group"
    members = ["app", "assets"]
    failover_status_codes = [500, 502, 503, 504]

    [default]                            # the "*" behavior, evaluated last
    target_origin_id = "app"
    viewer_request = "handlers.auth:handler"              # "module:function"
    origin_request = { handler = "handlers.forms:handler", include_body = true }
    cache = "CachingDisabled"            # a managed policy name or id ...
    origin_request_policy = "AllViewerExceptHostHeader"
    viewer_protocol_policy = "redirect-to-https"
    response_headers_policy = "SecurityHeadersPolicy"   # managed name or id, or a table in
                                                        # ResponseHeadersPolicyConfig's shape

    [[behaviors]]                        # tried in order, first match wins
    path_pattern = "/static/*"
    target_origin_id = "assets"
    allowed_methods = ["GET", "HEAD"]
    compress = true
    viewer_response = "handlers.headers:handler"

    [behaviors.cache]                    # ... or a table of CachePolicy fields
    min_ttl = 0
    default_ttl = 3600
    query_strings = "whitelist"
    query_string_names = ["v"]

    [[custom_error_responses]]
    error_code = 404
    response_page_path = "/404.html"
    response_code = 404

    [settings]                           # EdgeSettings fields
    execution_error_status = 500

A trigger is ``"module:function"``, or a table ``{handler, include_body, name}``. The
``handlers=`` mapping of :func:`~edge_middleware.load_config` overrides one by its ``name`` or
its handler string, and a handler string without ``:`` is a name that must be in it.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Union, get_args, get_origin

from ...core.types import EVENT_TYPES
from ...exceptions import ConfigurationError
from ..model import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    Origin,
    OriginGroup,
    OriginRequestPolicy,
    Trigger,
    compile_path_pattern,
)
from ..settings import EdgeSettings
from ._common import (
    HandlersArg,
    child,
    index,
    read_mapping,
    require,
    validate_origin_custom_headers,
    wrap_errors,
)
from .policies import PoliciesArg, find_cache_policy, find_origin_request_policy
from .resolver import s3_region
from .response_headers import find_response_headers_policy, response_headers_policy_from_config

__all__ = ["is_own_format", "own_format_to_config"]

TOP_LEVEL = (
    "distribution",
    "origins",
    "origin_groups",
    "default",
    "behaviors",
    "custom_error_responses",
    "settings",
)
_DISTRIBUTION: dict[str, Any] = {
    "id": str,
    "domain_name": str,
    "aliases": tuple[str, ...],
    "default_root_object": str,
}
_TRIGGERS = tuple(ev.replace("-", "_") for ev in EVENT_TYPES)


def is_own_format(doc: Mapping[str, Any]) -> bool:
    return bool(doc) and all(key in TOP_LEVEL for key in doc)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(str(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None))
    if origin in (tuple, frozenset) or origin is Sequence:
        return f"a list of {_describe(get_args(tp)[0])}"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(
        tp, str(tp)
    )


def _convert(value: Any, tp: Any, path: str) -> Any:
    """``value`` checked against the annotation ``tp`` (lists become tuples/frozensets)."""
    origin = get_origin(tp)
    ok = True
    if origin is Literal:
        ok = value in get_args(tp)
    elif origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return None
        for arm in get_args(tp):
            try:
                return _convert(value, arm, path)
            except ConfigurationError:
                continue
        ok = False
    elif origin in (tuple, frozenset) or origin is Sequence:
        if not isinstance(value, list | tuple):
            raise ConfigurationError(path, value, _describe(tp))
        items = [_convert(v, get_args(tp)[0], index(path, i)) for i, v in enumerate(value)]
        return frozenset(items) if origin is frozenset else tuple(items)
    elif tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigurationError(path, value, _describe(tp))
    return value


def _table(
    raw: Any, path: str, allowed: Mapping[str, Any], special: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A table's plain fields checked and converted; ``special`` keys are left to the caller."""
    table = read_mapping(raw, path)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in allowed and key not in special:
            keys = sorted({*allowed, *special})
            raise ConfigurationError(child(path, key), value, f"a known key: {', '.join(keys)}")
        out[key] = value if key in special else _convert(value, allowed[key], child(path, key))
    return out


_TRIGGER_KEYS: dict[str, Any] = {"handler": str, "include_body": bool, "name": str | None}
#: JavaScript triggers (edge_middleware.js): ``{cloudfront_function = "fn.js", runtime =
#: "cloudfront-js-2.0", key_value_store = "kvs.json"}`` or ``{handler = "dir/file.export",
#: runtime = "nodejs20.x", root = "edge/"}``; relative paths are from the working directory.
_JS_KEYS: dict[str, Any] = {
    "runtime": str,
    "cloudfront_function": str,
    "key_value_store": str,
    "root": str,
}


def _js_handler(fields: Mapping[str, Any], path: str) -> Any:
    from ...js import CloudFrontFunction, NodeHandler
    from ...js.node import NODE_RUNTIMES

    runtime = fields.get("runtime")
    cff = "cloudfront_function" in fields
    for key in ("handler", "root") if cff else ("key_value_store",):
        if key in fields:  # a key of the other kind of function: a table mixing two
            kind = "a CloudFront Function" if cff else "a Node.js handler"
            raise ConfigurationError(child(path, key), fields[key], f"no {key} for {kind}")
    if cff:
        options: dict[str, Any] = {"name": fields.get("name")}
        if runtime is not None:
            options["runtime"] = runtime
        if "key_value_store" in fields:
            options["key_value_store"] = fields["key_value_store"]
        return CloudFrontFunction(fields["cloudfront_function"], **options)
    if runtime not in NODE_RUNTIMES:
        expected = f"one of {', '.join(NODE_RUNTIMES)} (with handler), or cloudfront_function"
        raise ConfigurationError(child(path, "runtime"), runtime, expected)
    return NodeHandler(
        require(fields, "handler", path),
        root=fields.get("root", "."),
        runtime=str(runtime),
        name=fields.get("name"),
    )


def own_format_to_config(
    doc: Mapping[str, Any],
    *,
    handlers: HandlersArg,
    settings: EdgeSettings,
    policies: PoliciesArg,
) -> EdgeConfig:
    """The EdgeConfig for a document in our own format (see the module docstring)."""
    return _Reader(handlers, policies).config(doc, settings)


class _Reader:
    def __init__(self, handlers: HandlersArg, policies: PoliciesArg) -> None:
        self.handlers = handlers
        self.policies = policies
        self.origin_ids: list[str] = []

    def config(self, doc: Mapping[str, Any], settings: EdgeSettings) -> EdgeConfig:
        top = _table(doc, "", dict.fromkeys(TOP_LEVEL), special=TOP_LEVEL)
        dist = _table(top.get("distribution", {}), "distribution", _DISTRIBUTION)
        origins = [
            self.origin(o, index("origins", i)) for i, o in enumerate(self.array(top, "origins"))
        ]
        groups = []
        for i, raw in enumerate(self.array(top, "origin_groups")):
            path = index("origin_groups", i)
            fields = _table(raw, path, _hints(OriginGroup))
            require(fields, "id", path)
            require(fields, "members", path)
            with wrap_errors(path, {k: child(path, k) for k in fields}):
                groups.append(OriginGroup(**fields))
            self.origin_ids.append(fields["id"])
        behaviors = [
            self.behavior(b, index("behaviors", i), is_default=False)
            for i, b in enumerate(self.array(top, "behaviors"))
        ]
        default = self.behavior(top.get("default", {}), "default", is_default=True)
        errors = []
        for i, raw in enumerate(self.array(top, "custom_error_responses")):
            path = index("custom_error_responses", i)
            fields = _table(raw, path, _hints(CustomErrorResponse))
            require(fields, "error_code", path)
            with wrap_errors(path, {k: child(path, k) for k in fields}):
                errors.append(CustomErrorResponse(**fields))
        settings = self.settings(top.get("settings", {}), settings)
        extra = {}
        if "id" in dist:
            extra["distribution_id"] = dist["id"]
        if "domain_name" in dist:
            extra["distribution_domain_name"] = dist["domain_name"]
        with _as_toml_paths():
            return EdgeConfig(
                default=default,
                behaviors=behaviors,
                origins=origins,
                custom_error_responses=errors,
                settings=settings,
                aliases=dist.get("aliases", ()),
                default_root_object=dist.get("default_root_object", ""),
                origin_groups=groups,
                **extra,
            )

    @staticmethod
    def array(top: Mapping[str, Any], key: str) -> list[Any]:
        value = top.get(key, [])
        if not isinstance(value, list):
            raise ConfigurationError(key, value, f"an array of tables ([[{key}]])")
        return value

    def settings(self, raw: Any, base: EdgeSettings) -> EdgeSettings:
        fields = _table(raw, "settings", _hints(EdgeSettings))
        with wrap_errors("settings", {k: child("settings", k) for k in fields}):
            return dataclasses.replace(base, **fields)

    def origin(self, raw: Any, path: str) -> Origin:
        hints = _hints(Origin)
        fields = _table(raw, path, hints, special=("custom_headers",))
        require(fields, "id", path)
        if fields["id"] in self.origin_ids:
            raise ConfigurationError(child(path, "id"), fields["id"], "a unique origin id")
        self.origin_ids.append(fields["id"])
        headers_path = child(path, "custom_headers")
        headers = read_mapping(fields.get("custom_headers", {}), headers_path)
        triples = []
        for name, value in headers.items():
            value_path = child(headers_path, name)
            if not isinstance(value, str):
                raise ConfigurationError(value_path, value, "a string")
            triples.append((value_path, name, value_path, value))
        fields["custom_headers"] = validate_origin_custom_headers(triples, headers_path)
        if "kind" not in fields and s3_region(str(fields.get("domain_name", ""))) is not None:
            fields["kind"] = "s3"  # (its region is in the domain: Origin reads it there)
        with wrap_errors(path, {k: child(path, k) for k in hints}):
            return Origin(**fields)

    def behavior(self, raw: Any, path: str, *, is_default: bool) -> Behavior:
        hints = _hints(Behavior)
        special = (*_TRIGGERS, "cache", "origin_request_policy", "response_headers_policy")
        fields = _table(raw, path, hints, special=special)
        pattern_path = child(path, "path_pattern")
        if is_default:
            if fields.get("path_pattern", "*") != "*":
                raise ConfigurationError(pattern_path, fields["path_pattern"], '"*" (or nothing)')
        else:
            compile_path_pattern(require(fields, "path_pattern", path), pattern_path)
        target = fields.get("target_origin_id")
        known = self.origin_ids or ["default"]
        if target is not None and target not in known:
            raise ConfigurationError(child(path, "target_origin_id"), target, f"one of {known}")
        for event in EVENT_TYPES:
            attr = event.replace("-", "_")
            if fields.get(attr) is not None:
                fields[attr] = self.trigger(fields[attr], child(path, attr), event)
        if "cache" in fields:
            fields["cache"] = self.cache(fields["cache"], child(path, "cache"))
        if "origin_request_policy" in fields:
            orp_path = child(path, "origin_request_policy")
            fields["origin_request_policy"] = self.orp(fields["origin_request_policy"], orp_path)
        if "response_headers_policy" in fields:
            rhp_path = child(path, "response_headers_policy")
            raw_rhp = fields["response_headers_policy"]
            if isinstance(raw_rhp, str):
                fields["response_headers_policy"] = find_response_headers_policy(
                    raw_rhp, rhp_path, self.policies
                )
            else:  # a table in CloudFront's ResponseHeadersPolicyConfig shape
                fields["response_headers_policy"] = response_headers_policy_from_config(
                    read_mapping(raw_rhp, rhp_path), rhp_path
                )
        with wrap_errors(path, {k: child(path, k) for k in hints}):
            return Behavior(**fields)

    def trigger(self, raw: Any, path: str, event: str) -> Trigger:
        handler_path = path if isinstance(raw, str) else child(path, "handler")
        if isinstance(raw, str):
            raw = {"handler": raw}
        fields = _table(raw, path, {**_TRIGGER_KEYS, **_JS_KEYS})
        include_body = fields.get("include_body", False)
        name = fields.get("name")
        if include_body and event in ("origin-response", "viewer-response"):
            raise ConfigurationError(
                child(path, "include_body"), True, "include_body only on request events"
            )
        if _JS_KEYS.keys() & fields.keys():
            with wrap_errors(path):
                return Trigger(_js_handler(fields, path), include_body=include_body, name=name)
        handler: Any = require(fields, "handler", path)
        for key in (name, handler):
            if key is not None and self.handlers is not None and key in self.handlers:
                handler = self.handlers[key]
                name = name or key
                break
        else:
            if ":" not in handler:
                raise ConfigurationError(
                    handler_path, handler, '"module:function", or a name given in handlers='
                )
        with wrap_errors(handler_path):
            return Trigger(handler, include_body=include_body, name=name)

    def cache(self, raw: Any, path: str) -> CachePolicy:
        if isinstance(raw, str):
            return find_cache_policy(raw, path, self.policies)
        hints = _hints(CachePolicy)
        fields = _table(raw, path, hints)
        with wrap_errors(path, {k: child(path, k) for k in hints}):
            return CachePolicy(**fields)

    def orp(self, raw: Any, path: str) -> OriginRequestPolicy:
        if isinstance(raw, str):
            return find_origin_request_policy(raw, path, self.policies)
        hints = _hints(OriginRequestPolicy)
        fields = _table(raw, path, hints)
        with wrap_errors(path, {k: child(path, k) for k in hints}):
            return OriginRequestPolicy(**fields)


@contextmanager
def _as_toml_paths() -> Iterator[None]:
    """EdgeConfig's own errors at the TOML path they come from: its field names are the
    file's keys (``EdgeConfig.origin_groups[0].members`` is ``origin_groups[0].members``)."""
    try:
        yield
    except ConfigurationError as exc:
        if not exc.field.startswith("EdgeConfig."):
            raise
        raise ConfigurationError(
            exc.field.removeprefix("EdgeConfig."), exc.value, exc.expected
        ) from None
