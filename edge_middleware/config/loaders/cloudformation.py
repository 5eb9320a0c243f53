"""CloudFormation and SAM templates: YAML short-form tags, intrinsics, referenced resources.

The distribution is ``Properties.DistributionConfig`` of an ``AWS::CloudFront::Distribution``
(lambda-edge.md §5.8). Intrinsic functions are resolved the way the template would be deployed
to a default stack: pseudo parameters get placeholder values (``us-east-1``, account
``123456789012``), parameters their ``Default``, ``Fn::If`` its evaluated ``Conditions``.
Function ARNs and cache policy ids keep their meaning: ``!Ref AuthVersion``, ``!GetAtt Fn.Arn``,
``!Sub "${Fn.Arn}:3"`` and SAM's ``!Ref Fn.Version`` all lead back to the function resource.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from ...exceptions import ConfigurationError
from ..model import CachePolicy, EdgeConfig, OriginRequestPolicy
from ..response_headers import ResponseHeadersPolicy
from ..settings import EdgeSettings
from ._common import (
    FunctionRef,
    HandlersArg,
    child,
    function_ref_from_arn,
    read_mapping,
    read_str,
    require,
)
from .distribution import distribution_to_config
from .functions import (
    KVS_TYPE,
    KeyValueStoresArg,
    check_key_value_stores,
    cloudfront_function_ref_in_template,
    function_keys,
    kvs_attribute,
    node_function,
)
from .policies import (
    PoliciesArg,
    Value,
    cache_policy_from_config,
    find_cache_policy,
    find_origin_request_policy,
    origin_request_policy_from_config,
)
from .response_headers import find_response_headers_policy, response_headers_policy_from_config

_P = TypeVar("_P")

__all__ = ["TemplateResolver", "is_template", "template_to_config"]

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO: dict[str, Any] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/stack/0",
    "AWS::NotificationARNs": [],
}
FUNCTION_TYPES = frozenset({"AWS::Lambda::Function", "AWS::Serverless::Function"})
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_NO_VALUE: Any = object()


def is_template(doc: Mapping[str, Any]) -> bool:
    return isinstance(doc.get("Resources"), Mapping)


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    (key,) = value
    return key in ("Ref", "Condition") or (isinstance(key, str) and key.startswith("Fn::"))


def template_to_config(
    doc: Mapping[str, Any],
    *,
    logical_id: str | None,
    handlers: HandlersArg,
    settings: EdgeSettings,
    policies: PoliciesArg,
    key_value_stores: KeyValueStoresArg = None,
) -> EdgeConfig:
    """The EdgeConfig for the template's ``AWS::CloudFront::Distribution``."""
    resources = read_mapping(doc.get("Resources"), "Resources")
    found = [
        name
        for name, res in resources.items()
        if isinstance(res, Mapping) and res.get("Type") == "AWS::CloudFront::Distribution"
    ]
    if logical_id is not None:
        if logical_id not in found:
            raise ConfigurationError("logical_id", logical_id, f"one of {found}")
        name = logical_id
    elif not found:
        raise ConfigurationError(
            "Resources", sorted(resources), "an AWS::CloudFront::Distribution resource"
        )
    elif len(found) > 1:
        raise ConfigurationError(
            "Resources", found, "a single distribution, or logical_id= naming one of them"
        )
    else:
        name = found[0]
    path = f"Resources.{name}.Properties"
    props = read_mapping(resources[name].get("Properties"), path)
    resolver = TemplateResolver(doc, policies, key_value_stores)
    dc = resolver.clean(require(props, "DistributionConfig", path))
    return distribution_to_config(
        dc,
        child(path, "DistributionConfig"),
        resolver=resolver,
        handlers=handlers,
        settings=settings,
    )


class TemplateResolver:
    """Resolves a template's intrinsics for :func:`distribution_to_config`."""

    def __init__(
        self,
        doc: Mapping[str, Any],
        policies: PoliciesArg = None,
        key_value_stores: KeyValueStoresArg = None,
    ) -> None:
        self.resources: Mapping[str, Any] = doc.get("Resources") or {}
        self.parameters: Mapping[str, Any] = _mapping_or_empty(doc.get("Parameters"))
        self.mappings: Mapping[str, Any] = _mapping_or_empty(doc.get("Mappings"))
        self.conditions: Mapping[str, Any] = _mapping_or_empty(doc.get("Conditions"))
        self.policies = policies
        #: local data for the template's KeyValueStores (``functions.py``)
        self.stores = check_key_value_stores(key_value_stores)
        self._evaluating: set[str] = set()
        self._js: dict[str, Any] = {}  # JavaScript functions built from this template

    # -- the Resolver protocol -------------------------------------------------------------

    def value(self, raw: Any, path: str) -> Any:
        """A literal for an intrinsic; plain objects and lists come back as they are."""
        return self._render_at(raw, path) if _is_intrinsic(raw) else raw

    def function(self, raw: Any, path: str) -> FunctionRef:
        with _at(path):
            raw = self.clean(raw)
        rendered = self._render_at(raw, path)
        if not isinstance(rendered, str) or not rendered:
            raise ConfigurationError(path, raw, "a Lambda function version ARN")
        extra: list[str] = []
        local = None
        for logical in self._referenced(raw):
            extra.extend(self._function_keys(logical))
            local = local or self._node_function(logical)
        ref = function_ref_from_arn(rendered, tuple(extra))
        ref.local = local
        return ref

    def cloudfront_function(self, raw: Any, path: str) -> FunctionRef:
        """What a ``FunctionARN`` names (``functions.py``)."""
        with _at(path):
            raw = self.clean(raw)
        return cloudfront_function_ref_in_template(self, raw, path, ACCOUNT, self.stores)

    def _node_function(self, logical: str) -> Callable[[], Any] | None:
        return node_function(self, logical, FUNCTION_TYPES)

    def cache_policy(self, raw: Any, path: str) -> CachePolicy:
        return self._policy(raw, path, "CachePolicy", find_cache_policy, cache_policy_from_config)

    def origin_request_policy(self, raw: Any, path: str) -> OriginRequestPolicy:
        return self._policy(
            raw,
            path,
            "OriginRequestPolicy",
            find_origin_request_policy,
            origin_request_policy_from_config,
        )

    def response_headers_policy(self, raw: Any, path: str) -> ResponseHeadersPolicy:
        return self._policy(
            raw,
            path,
            "ResponseHeadersPolicy",
            find_response_headers_policy,
            response_headers_policy_from_config,
        )

    def _policy(
        self,
        raw: Any,
        path: str,
        kind: str,
        find: Callable[[str, str, PoliciesArg], _P],
        from_config: Callable[[Mapping[str, Any], str, Value], _P],
    ) -> _P:
        """A ``<kind>Id``: an ``AWS::CloudFront::<kind>`` resource of the template (``!Ref``,
        ``!GetAtt``), else a literal id looked up in ``policies=`` and the managed ones."""
        logical = self._policy_resource(raw, path, f"AWS::CloudFront::{kind}")
        if logical is None:
            policy_id = read_str(self._render_at(raw, path), path, allow_empty=False)
            return find(policy_id, path, self.policies)
        config = self._policy_config(logical, f"{kind}Config")
        return from_config(config, f"Resources.{logical}.Properties.{kind}Config", self.value)

    def _render_at(self, raw: Any, path: str) -> Any:
        """:meth:`render`, with a malformed intrinsic reported at the field that holds it."""
        with _at(path):
            return self.render(raw)

    # -- resources -----------------------------------------------------------------------------

    def _resource(self, logical: str) -> Mapping[str, Any] | None:
        res = self.resources.get(logical)
        return res if isinstance(res, Mapping) else None

    def _type(self, logical: str) -> str | None:
        res = self._resource(logical)
        kind = res.get("Type") if res is not None else None
        return kind if isinstance(kind, str) else None

    def _props(self, logical: str) -> Mapping[str, Any]:
        res = self._resource(logical)
        props = res.get("Properties") if res is not None else None
        return props if isinstance(props, Mapping) else {}

    def _policy_resource(self, raw: Any, path: str, kind: str) -> str | None:
        """The logical id a ``!Ref X`` / ``!GetAtt X.Id`` policy id names, if a resource."""
        with _at(path):
            raw = self.clean(raw)
        target: Any = None
        if isinstance(raw, Mapping) and "Ref" in raw:
            target = raw["Ref"]
        elif isinstance(raw, Mapping) and "Fn::GetAtt" in raw:
            target = _getatt_parts(raw["Fn::GetAtt"])[0]
        if not isinstance(target, str) or self._resource(target) is None:
            return None
        if self._type(target) != kind:
            raise ConfigurationError(path, raw, f"a managed policy id or a {kind} resource")
        return target

    def _policy_config(self, logical: str, key: str) -> Mapping[str, Any]:
        path = f"Resources.{logical}.Properties"
        return read_mapping(self.clean(require(self._props(logical), key, path)), child(path, key))

    def _function_name(self, logical: str) -> str:
        name = self.render(self._props(logical).get("FunctionName"))
        return name if isinstance(name, str) and name else logical

    def _function_arn(self, value: Any) -> str:
        """The ARN for a ``FunctionName`` value (a name, an ARN, or an intrinsic)."""
        name = self.render(value)
        if isinstance(name, str) and name.startswith("arn:"):
            return name
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def _function_keys(self, logical: str) -> list[str]:
        return function_keys(self, logical, FUNCTION_TYPES)

    def _referenced(self, value: Any) -> list[str]:
        """Logical ids of the resources an expression refers to, in order."""
        out: list[str] = []
        if isinstance(value, list):
            for item in value:
                out.extend(self._referenced(item))
        elif isinstance(value, Mapping):
            for key, arg in value.items():
                if key == "Ref" and isinstance(arg, str):
                    out.append(arg.split(".", 1)[0])  # SAM: Fn.Version, Fn.Alias
                elif key == "Fn::GetAtt":
                    out.append(str(_getatt_parts(arg)[0]))
                elif key == "Fn::Sub":
                    text, variables = _sub_args(arg)
                    for var in _SUB_VAR.findall(text):
                        if not var.startswith("!") and var not in variables:
                            out.append(var.split(".", 1)[0])
                    out.extend(self._referenced(list(variables.values())))
                else:
                    out.extend(self._referenced(arg))
        return [x for x in out if self._resource(x) is not None]

    # -- intrinsics ----------------------------------------------------------------------------

    def clean(self, value: Any) -> Any:
        """Resolve ``Fn::If`` and drop ``AWS::NoValue``, leaving other intrinsics in place."""
        result = self._clean(value)
        return None if result is _NO_VALUE else result

    def _clean(self, value: Any) -> Any:
        if isinstance(value, list):  # a removed item stays as None so indexes match the source
            return [None if x is _NO_VALUE else x for x in (self._clean(v) for v in value)]
        if not isinstance(value, Mapping):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if len(value) == 1 and "Fn::If" in value:
            return self._clean(self._choose(value["Fn::If"]))
        cleaned = {k: self._clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not _NO_VALUE}

    def _choose(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            raise ConfigurationError("Fn::If", args, "[condition, value_if_true, value_if_false]")
        return args[1] if self.condition(str(args[0])) else args[2]

    def condition(self, name: str) -> bool:
        if name in self._evaluating:
            raise ConfigurationError(f"Conditions.{name}", name, "a condition without a cycle")
        self._evaluating.add(name)
        try:
            return self._truth(self.conditions.get(name, True))
        finally:
            self._evaluating.discard(name)

    def _truth(self, expr: Any) -> bool:
        if isinstance(expr, Mapping) and len(expr) == 1:
            ((key, arg),) = expr.items()
            args = arg if isinstance(arg, list) else [arg]
            if key == "Fn::Equals" and len(args) == 2:
                return bool(str(self.render(args[0])) == str(self.render(args[1])))
            if key == "Fn::Not":
                return not self._truth(args[0])
            if key == "Fn::And":
                return all(self._truth(a) for a in args)
            if key == "Fn::Or":
                return any(self._truth(a) for a in args)
            if key == "Condition":
                return self.condition(str(arg))
        value = self.render(expr)
        return str(value).lower() == "true" if isinstance(value, str) else bool(value)

    def render(self, value: Any) -> Any:
        """A value with every intrinsic replaced by its (placeholder) result."""
        if isinstance(value, list):
            return [self.render(v) for v in value if v != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, Mapping):
            return value
        if not _is_intrinsic(value):
            return {k: self.render(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(str(arg))
        if key == "Fn::GetAtt":
            logical, attr = _getatt_parts(arg)
            return self._getatt(str(logical), str(self.render(attr)))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::If":
            return self.render(self._choose(arg))
        if key in ("Condition", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._truth(value)
        args = self.render(arg)
        if key == "Fn::Join" and _pair(args):
            return str(args[0]).join(str(x) for x in args[1])
        if key == "Fn::Select" and _pair(args):
            items = args[1]
            try:
                i = int(args[0])
            except (TypeError, ValueError):
                raise ConfigurationError("Fn::Select", arg, "[index, list]") from None
            if not isinstance(items, list) or not 0 <= i < len(items):
                raise ConfigurationError(
                    "Fn::Select", arg, "an index within the list (resolved locally)"
                )
            return items[i]
        if key == "Fn::Split" and _pair(args):
            return str(args[1]).split(str(args[0]))
        if key == "Fn::FindInMap" and isinstance(args, list) and len(args) >= 3:
            found = self.mappings.get(args[0], {})
            for part in args[1:3]:
                found = found.get(part, {}) if isinstance(found, Mapping) else {}
            return found if found != {} else f"{args[0]}.{args[1]}.{args[2]}"
        if key == "Fn::GetAZs":
            return [f"{REGION}{z}" for z in "abc"]
        if key == "Fn::Base64":
            return base64.b64encode(str(args).encode()).decode()
        if key == "Fn::Length":
            return len(args) if isinstance(args, list) else 0
        if key == "Fn::ImportValue":
            return str(args)  # the export name stands in for the exported value
        return args  # Fn::Cidr, Fn::Transform, Fn::ToJsonString: kept as their arguments

    def _ref(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        param = self.parameters.get(name)
        if isinstance(param, Mapping):
            default = param.get("Default")
            return name if default is None else self.render(default)
        logical, _, suffix = name.partition(".")
        kind = self._type(logical)
        props = self._props(logical)
        if kind in FUNCTION_TYPES:
            if suffix == "Version":  # SAM AutoPublishAlias
                return self._function_arn(self._function_name(logical))
            if suffix == "Alias":
                alias = self.render(props.get("AutoPublishAlias", "live"))
                return f"{self._function_arn(self._function_name(logical))}:{alias}"
            return self._function_name(logical)
        if kind == "AWS::Lambda::Version":
            return self._function_arn(props.get("FunctionName"))
        if kind == "AWS::Lambda::Alias":
            return (
                f"{self._function_arn(props.get('FunctionName'))}:{self.render(props.get('Name'))}"
            )
        if kind == "AWS::S3::Bucket":
            return self._bucket(logical)
        return logical

    def _getatt(self, logical: str, attr: str) -> Any:
        kind = self._type(logical)
        if kind in FUNCTION_TYPES and attr == "Arn":
            return self._function_arn(self._function_name(logical))
        if kind in FUNCTION_TYPES and attr in ("Version", "Alias"):  # SAM, in a !Sub
            return self._ref(f"{logical}.{attr}")
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias") and attr == "Arn":
            return self._ref(logical)
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias") and attr == "FunctionArn":
            return self._function_arn(self._props(logical).get("FunctionName"))
        if kind == "AWS::S3::Bucket":
            bucket = self._bucket(logical)
            return {
                "DomainName": f"{bucket}.s3.amazonaws.com",
                "RegionalDomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                "DualStackDomainName": f"{bucket}.s3.dualstack.{REGION}.amazonaws.com",
                "WebsiteURL": f"http://{bucket}.s3-website-{REGION}.amazonaws.com",
                "Arn": f"arn:aws:s3:::{bucket}",
            }.get(attr, f"{bucket}.{attr}")
        if kind == KVS_TYPE:
            return kvs_attribute(self, logical, attr, ACCOUNT)
        if attr == "Id":
            return logical
        return f"{logical}.{attr}"

    def _bucket(self, logical: str) -> str:
        name = self.render(self._props(logical).get("BucketName"))
        return name if isinstance(name, str) and name else logical.lower()

    def _sub(self, arg: Any) -> str:
        text, variables = _sub_args(arg)

        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var.startswith("!"):
                return "${" + var[1:] + "}"
            if var in variables:
                return str(self.render(variables[var]))
            if var in PSEUDO or var in self.parameters or "." not in var:
                return str(self._ref(var))
            logical, attr = var.split(".", 1)
            return str(self._getatt(logical, attr))

        return _SUB_VAR.sub(replace, text)


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Report a malformed intrinsic (``Fn::GetAtt: [a, b, c]``) at the field that holds it."""
    try:
        yield
    except ConfigurationError as exc:
        if not exc.field.startswith("Fn::"):
            raise
        raise ConfigurationError(path, exc.value, exc.expected) from None


def _mapping_or_empty(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pair(args: Any) -> bool:
    return isinstance(args, list) and len(args) == 2


def _getatt_parts(arg: Any) -> tuple[Any, Any]:
    if isinstance(arg, str):
        logical, _, attr = arg.partition(".")
        return logical, attr
    if isinstance(arg, list) and len(arg) == 2:
        return arg[0], arg[1]
    raise ConfigurationError("Fn::GetAtt", arg, "[LogicalId, Attribute]")


def _sub_args(arg: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(arg, str):
        return arg, {}
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
        return str(arg[0]), arg[1]
    raise ConfigurationError("Fn::Sub", arg, "a string or [string, {variables}]")
