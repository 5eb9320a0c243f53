"""JavaScript in a template: ``AWS::CloudFront::Function`` resources, the KeyValueStores their
``FunctionConfig.KeyValueStoreAssociations`` name, ``AWS::CloudFront::KeyValueStore``
resources (docs/cloudfront-functions.md §4, "KeyValueStore"), ``nodejs*`` Lambda functions
(SAM's ``CodeUri`` + ``Handler``) and the ``handlers=`` keys of Lambda function resources.

A KeyValueStore's data lives in AWS (or in the S3 object of its ``ImportSource``), so each
associated store is bound to local data with ``load_config(key_value_stores={key: data})``:
``data`` is a mapping, or a JSON file (``{key: value}`` or AWS's import format
``{"data": [{"key", "value"}]}``, the format of an ``ImportSource`` object). ``key`` is the
store's ARN, its id or name (the ARN's last part) or, for a store of the template, its logical
id, its ``Name`` or its ``ImportSource.SourceArn``. A store with no binding is a
``ConfigurationError`` naming the function and the ARN.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...exceptions import ConfigurationError
from ._common import (
    FunctionRef,
    child,
    cloudfront_function_ref,
    read_mapping,
    require,
    wrap_errors,
)

if TYPE_CHECKING:
    from .cloudformation import TemplateResolver

__all__ = [
    "KVS_TYPE",
    "KeyValueStoresArg",
    "check_key_value_stores",
    "cloudfront_function_ref_in_template",
    "function_keys",
    "function_setting",
    "kvs_arn",
    "kvs_attribute",
    "node_function",
]

KVS_TYPE = "AWS::CloudFront::KeyValueStore"
FUNCTION_TYPE = "AWS::CloudFront::Function"
#: ``load_config(key_value_stores=...)``: a store's key -> a mapping or a JSON file path.
KeyValueStoresArg = Mapping[str, Mapping[str, Any] | str | os.PathLike[str]] | None
#: CloudFront's quota: one KeyValueStore per function (DG, "Quotas").
MAX_STORES_PER_FUNCTION = 1


def check_key_value_stores(stores: Any) -> KeyValueStoresArg:
    """``key_value_stores=`` as given, checked: keys are strings, values mappings or paths."""
    if stores is None:
        return None
    if not isinstance(stores, Mapping):
        raise ConfigurationError("key_value_stores", stores, "a mapping of store keys to data")
    for key, data in stores.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError("key_value_stores", key, "a store ARN, id, name or logical id")
        if not isinstance(data, Mapping | str | os.PathLike):
            raise ConfigurationError(
                f"key_value_stores[{key!r}]", data, "a mapping, or a JSON file path"
            )
    return stores


def kvs_arn(store_id: str, account: str) -> str:
    return f"arn:aws:cloudfront::{account}:key-value-store/{store_id}"


def _store_id(r: TemplateResolver, logical: str) -> str:
    name = r.prop(logical, "Name")
    return name if isinstance(name, str) and name else logical


def kvs_attribute(r: TemplateResolver, logical: str, attr: str, account: str) -> Any:
    """``!GetAtt Store.Arn`` / ``.Id`` / ``.Status`` of an ``AWS::CloudFront::KeyValueStore``
    (a deployed store's id is a UUID; here it is the store's ``Name``)."""
    store_id = _store_id(r, logical)
    values = {"Arn": kvs_arn(store_id, account), "Id": store_id, "Status": "READY"}
    return values.get(attr, f"{logical}.{attr}")


def _associations(config: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """``KeyValueStoreAssociations`` as (path, item): CloudFormation's list, or the API's
    ``{"Quantity", "Items"}`` (``describe-function`` output)."""
    raw = config.get("KeyValueStoreAssociations")
    where = child(path, "KeyValueStoreAssociations")
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw, where = raw.get("Items") or [], child(where, "Items")
    if not isinstance(raw, list):
        raise ConfigurationError(where, raw, "a list of {KeyValueStoreARN}")
    return [(f"{where}[{i}]", item) for i, item in enumerate(raw)]


def _bind(
    r: TemplateResolver,
    config: Mapping[str, Any],
    path: str,
    function: str,
    stores: KeyValueStoresArg,
) -> dict[str, Any]:
    """``CloudFrontFunction`` options for the function's KeyValueStore, if it has one."""
    found = _associations(config, path)
    if not found:
        return {}
    if len(found) > MAX_STORES_PER_FUNCTION:
        raise ConfigurationError(
            child(path, "KeyValueStoreAssociations"),
            len(found),
            f"at most {MAX_STORES_PER_FUNCTION} KeyValueStore per function (CloudFront's quota; "
            f"function {function})",
        )
    item_path, item = found[0]
    item = read_mapping(r.clean(item, item_path), item_path)
    arn_path = child(item_path, "KeyValueStoreARN")
    raw = require(item, "KeyValueStoreARN", item_path)
    arn = r._render_at(raw, arn_path)
    if not isinstance(arn, str) or not arn:
        raise ConfigurationError(arn_path, raw, "a KeyValueStore ARN")
    store_id = arn.rpartition("/")[2]
    keys = [arn, store_id]
    for logical in r._referenced(r.clean(raw)):
        if r._type(logical) == KVS_TYPE:
            source_path = f"Resources.{logical}.Properties.ImportSource"
            source = r.clean(r._props(logical).get("ImportSource"), source_path)
            source_arn = None
            if isinstance(source, Mapping):
                source_arn = r._render_at(source.get("SourceArn"), child(source_path, "SourceArn"))
            keys += [logical, _store_id(r, logical), str(source_arn or "")]
    keys = list(dict.fromkeys(k for k in keys if k))
    for key in keys:
        if stores is not None and key in stores:
            return {"key_value_store": stores[key], "key_value_store_id": store_id}
    raise ConfigurationError(
        arn_path,
        arn,
        f"a KeyValueStore bound to local data for the CloudFront Function {function}: pass "
        f"key_value_stores={{key: 'kvs.json' or a dict}} with one of {keys}",
    )


def cloudfront_function_ref_in_template(
    r: TemplateResolver, raw: Any, path: str, account: str, stores: KeyValueStoresArg
) -> FunctionRef:
    """What a ``FunctionARN`` names: an ``AWS::CloudFront::Function`` of this template (run
    from its inline ``FunctionCode`` unless ``handlers=`` has its name; a ``.js`` path there
    keeps the resource's runtime and KeyValueStore), or an ARN."""
    for logical in r._referenced(raw):
        if r._type(logical) == FUNCTION_TYPE:
            return _template_function(r, logical, account, stores)
    rendered = r._render_at(raw, path)
    if not isinstance(rendered, str) or not rendered:
        raise ConfigurationError(path, raw, "a CloudFront Function ARN")
    # an ARN written out (!Sub "arn:aws:cloudfront::${AWS::AccountId}:function/rw") naming
    # one of the template's own functions is that function
    prefix = f"arn:aws:cloudfront::{account}:function/"
    if rendered.startswith(prefix):
        wanted = rendered[len(prefix) :]
        for logical in r.resources:
            if r._type(logical) == FUNCTION_TYPE and _function_name(r, logical) == wanted:
                return _template_function(r, logical, account, stores)
    return cloudfront_function_ref(rendered)


def _function_name(r: TemplateResolver, logical: str) -> str:
    return str(r.prop(logical, "Name") or logical)


def _template_function(
    r: TemplateResolver, logical: str, account: str, stores: KeyValueStoresArg
) -> FunctionRef:
    """The template's ``AWS::CloudFront::Function`` ``logical``, built from its inline code
    unless ``handlers=`` has its ARN, name or logical id."""
    props = r._props(logical)
    res_path = f"Resources.{logical}.Properties"
    name = _function_name(r, logical)
    config_path = child(res_path, "FunctionConfig")
    raw_config = require(props, "FunctionConfig", res_path)
    config = read_mapping(r.clean(raw_config, config_path), config_path)
    runtime = config.get("Runtime", "cloudfront-js-1.0")
    options = {"runtime": r._render_at(runtime, child(config_path, "Runtime"))}
    options.update(_bind(r, config, config_path, name, stores))
    arn = f"arn:aws:cloudfront::{account}:function/{name}"
    build = functools.partial(_build, r, logical, name, options)
    ref = FunctionRef(arn, [arn, name, logical], build)
    ref.options = options
    return ref


def _build(r: TemplateResolver, logical: str, name: str, options: dict[str, Any]) -> Any:
    """One CloudFrontFunction per resource, however many behaviors use it."""
    built = r._js.get(logical)
    if built is None:
        from ...js import CloudFrontFunction

        path = f"Resources.{logical}.Properties"
        require(r._props(logical), "FunctionCode", path)
        code = r.prop(logical, "FunctionCode")
        if not isinstance(code, str):
            raise ConfigurationError(child(path, "FunctionCode"), code, "inline JavaScript")
        try:
            runtime = child(child(path, "FunctionConfig"), "Runtime")
            with wrap_errors(path, {"runtime": runtime, "source": "CloudFrontFunction.source"}):
                built = CloudFrontFunction(code, code=True, name=name, **options)
        except ConfigurationError as exc:
            if exc.field != "CloudFrontFunction.source":  # the size, the 1.0 syntax check
                raise
            raise ConfigurationError(child(path, "FunctionCode"), exc.value, exc.expected) from None
        r._js[logical] = built
    return built


def function_keys(r: TemplateResolver, logical: str, function_types: frozenset[str]) -> list[str]:
    """``handlers=`` keys for a referenced Lambda function, version or alias resource."""
    kind = r._type(logical)
    if kind in function_types:
        return [r._function_name(logical), logical]
    if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
        target = r.clean(r._props(logical).get("FunctionName"), _path(logical, "FunctionName"))
        keys: list[str] = []
        for inner in r._referenced(target):
            keys.extend(function_keys(r, inner, function_types))
        return [*keys, logical]
    return []


def _path(logical: str, key: str) -> str:
    return f"Resources.{logical}.Properties.{key}"


def function_setting(r: TemplateResolver, logical: str, key: str) -> tuple[Any, str]:
    """A function resource's property and the path it is written at: its own, else SAM's
    ``Globals.Function`` one (as ``sam_handlers`` reads them for Python functions)."""
    value = r._props(logical).get(key)
    if value is None and key in r.function_globals:
        return r.function_globals[key], f"Globals.Function.{key}"
    return value, _path(logical, key)


def node_function(
    r: TemplateResolver, logical: str, function_types: frozenset[str]
) -> Callable[[], Any] | None:
    """A builder for a ``nodejs*`` function resource (through versions and aliases):
    SAM's ``CodeUri`` + ``Handler`` (its own or ``Globals.Function``'s), or a
    ``Code.ZipFile``-less ``Handler`` under the cwd."""
    kind = r._type(logical)
    if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
        target = r.clean(r._props(logical).get("FunctionName"), _path(logical, "FunctionName"))
        for inner in r._referenced(target):
            found = node_function(r, inner, function_types)
            if found is not None:
                return found
        return None
    if kind not in function_types:
        return None
    runtime = r._render_at(*function_setting(r, logical, "Runtime"))
    if not (isinstance(runtime, str) and runtime.startswith("nodejs")):
        return None

    def build() -> Any:
        built = r._js.get(logical)
        if built is None:
            built = _node_handler(r, logical, runtime)
            r._js[logical] = built
        return built

    return build


def _node_handler(r: TemplateResolver, logical: str, runtime: str) -> Any:
    from ...js import NodeHandler

    raw, handler_path = function_setting(r, logical, "Handler")
    if raw is None:
        raise ConfigurationError(handler_path, None, "a value (this key is required)")
    handler = r._render_at(raw, handler_path)
    code_raw, code_path = function_setting(r, logical, "CodeUri")
    code_uri = r._render_at(code_raw or ".", code_path)
    root = code_uri if isinstance(code_uri, str) else "."
    try:
        return NodeHandler(handler, root=root, runtime=runtime, name=r._function_name(logical))
    except ConfigurationError as exc:
        # "module not found" is about the Handler the template gives (and its CodeUri)
        if exc.field != "NodeHandler.handler":
            raise
        raise ConfigurationError(handler_path, exc.value, exc.expected) from None
