"""CloudFormation and SAM templates: YAML short-form tags, intrinsics, referenced resources.

The distribution is ``Properties.DistributionConfig`` of an ``AWS::CloudFront::Distribution``
(lambda-edge.md §5.8). Intrinsic functions are resolved the way the template would be deployed
to a default stack (``intrinsics.py``): pseudo parameters get placeholder values
(``us-east-1``, account ``123456789012``), parameters their ``Default``, ``Fn::If`` its
evaluated ``Conditions``; this module knows the resources they name.
Function ARNs and cache policy ids keep their meaning: ``!Ref AuthVersion``, ``!GetAtt Fn.Arn``,
``!Sub "${Fn.Arn}:3"`` and SAM's ``!Ref Fn.Version`` all lead back to the function resource.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...exceptions import ConfigurationError
from ..model import CachePolicy, EdgeConfig, OriginRequestPolicy
from ..response_headers import ResponseHeadersPolicy
from ..settings import EdgeSettings
from ._common import (
    FunctionRef,
    HandlersArg,
    check_version_arn,
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
from .intrinsics import (
    ACCOUNT,
    REGION,
    SUB_VAR,
    Intrinsics,
    at,
    getatt_parts,
    is_intrinsic,
    sub_args,
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

FUNCTION_TYPES = frozenset({"AWS::Lambda::Function", "AWS::Serverless::Function"})
#: ``!GetAtt`` attributes whose value is a URL: a URL-shaped placeholder, so that the CDK's
#: ``Fn::Select [2, Fn::Split ["/", ...]]`` (FunctionUrlOrigin) and
#: ``Fn::Select [1, Fn::Split ["://", ...]]`` (an HTTP API) give a domain (docs/loaders.md).
URL_ATTRIBUTES = {
    "FunctionUrl": "https://{id}.lambda-url.{region}.on.aws/",  # AWS::Lambda::Url
    "ApiEndpoint": "https://{id}.execute-api.{region}.amazonaws.com",  # AWS::ApiGatewayV2::Api
}


def is_template(doc: Mapping[str, Any]) -> bool:
    return isinstance(doc.get("Resources"), Mapping)


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
    resolver = TemplateResolver(doc, policies, key_value_stores)
    resolver.check_resource_conditions()
    every = [
        name
        for name, res in resources.items()
        if isinstance(res, Mapping) and res.get("Type") == "AWS::CloudFront::Distribution"
    ]
    # CloudFormation creates a resource only when its Condition holds (a prod and a dev
    # distribution under complementary conditions are one distribution)
    found = [name for name in every if resolver.not_created(name) is None]
    if logical_id is not None:
        if logical_id not in every:
            raise ConfigurationError("logical_id", logical_id, f"one of {found}")
        false = resolver.not_created(logical_id)
        if false is not None:
            raise ConfigurationError(
                "logical_id",
                logical_id,
                f"a distribution that is created (Condition {false} is false)",
            )
        name = logical_id
    elif not found:
        expected = "an AWS::CloudFront::Distribution resource"
        if every:
            expected += " whose Condition holds"
        raise ConfigurationError("Resources", sorted(resources), expected)
    elif len(found) > 1:
        raise ConfigurationError(
            "Resources", found, "a single distribution, or logical_id= naming one of them"
        )
    else:
        name = found[0]
    path = f"Resources.{name}.Properties"
    props = read_mapping(resources[name].get("Properties"), path)
    dc_path = child(path, "DistributionConfig")
    dc = resolver.clean(require(props, "DistributionConfig", path), dc_path)
    return distribution_to_config(
        dc,
        dc_path,
        resolver=resolver,
        handlers=handlers,
        settings=settings,
    )


#: resources whose outputs may carry a policy id made elsewhere (CDK's NestedStack), looked
#: up in ``policies=`` under the placeholder the loader gives them (docs/loaders.md)
_ID_SOURCES = frozenset({"AWS::CloudFormation::Stack", "AWS::CloudFormation::CustomResource"})

#: SAM API resources and the stage name each has when its template gives none
_SERVERLESS_APIS = {"AWS::Serverless::Api": "Prod", "AWS::Serverless::HttpApi": "$default"}


class TemplateResolver(Intrinsics):
    """Resolves a template's intrinsics (``intrinsics.py``) and the resources they name, for
    :func:`distribution_to_config`."""

    def __init__(
        self,
        doc: Mapping[str, Any],
        policies: PoliciesArg = None,
        key_value_stores: KeyValueStoresArg = None,
    ) -> None:
        super().__init__(doc)
        self.resources: Mapping[str, Any] = doc.get("Resources") or {}
        #: a template with a ``Transform`` (SAM, a macro) may name resources the transform
        #: makes (SAM's ``ServerlessRestApi``, ``<Function>Role``): its names are not checked
        self.transformed = doc.get("Transform") is not None
        globals_ = doc.get("Globals")
        function = globals_.get("Function") if isinstance(globals_, Mapping) else None
        #: SAM's ``Globals.Function``: properties every function has unless it sets its own
        self.function_globals: Mapping[str, Any] = function if isinstance(function, Mapping) else {}
        self.policies = policies
        #: local data for the template's KeyValueStores (``functions.py``)
        self.stores = check_key_value_stores(key_value_stores)
        self._js: dict[str, Any] = {}  # JavaScript functions built from this template

    def check_resource_conditions(self) -> None:
        """A resource's ``Condition`` must be one the template defines (CloudFormation
        rejects the template otherwise)."""
        for logical, res in self.resources.items():
            name = res.get("Condition") if isinstance(res, Mapping) else None
            if name is not None and (not isinstance(name, str) or name not in self.conditions):
                defined = list(self.conditions)
                raise ConfigurationError(
                    f"Resources.{logical}.Condition",
                    name,
                    f"a condition the template defines: one of {defined}",
                )

    def not_created(self, logical: str) -> str | None:
        """The name of the false ``Condition`` that keeps resource ``logical`` from being
        created, or ``None`` (created, or no such resource)."""
        res = self._resource(logical)
        name = res.get("Condition") if res is not None else None
        if isinstance(name, str) and name in self.conditions and not self.condition(name):
            return name
        return None

    # -- the Resolver protocol -------------------------------------------------------------

    def value(self, raw: Any, path: str) -> Any:
        """A literal for an intrinsic; plain objects and lists come back as they are."""
        return self._render_at(raw, path) if is_intrinsic(raw) else raw

    def function(self, raw: Any, path: str) -> FunctionRef:
        raw = self.clean(raw, path)
        rendered = self._render_at(raw, path)
        if not isinstance(rendered, str) or not rendered:
            raise ConfigurationError(path, raw, "a Lambda function version ARN")
        if isinstance(raw, str):  # written out in the template (a resolved one is CFN's)
            check_version_arn(raw, path)
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
        raw = self.clean(raw, path)
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
        with at(path):
            return self.render(raw)

    def prop(self, logical: str, key: str, default: Any = None) -> Any:
        """A property of a resource, rendered (a malformed intrinsic is reported at it)."""
        raw = self._props(logical).get(key, default)
        return self._render_at(raw, f"Resources.{logical}.Properties.{key}")

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
        raw = self.clean(raw, path)
        target: Any = None
        if isinstance(raw, Mapping) and "Ref" in raw:
            target = raw["Ref"]
        elif isinstance(raw, Mapping) and "Fn::GetAtt" in raw:
            with at(path):
                target = getatt_parts(raw["Fn::GetAtt"])[0]
        if not isinstance(target, str) or self._resource(target) is None:
            return None
        with at(path):
            self._defined("Ref" if "Ref" in raw else "Fn::GetAtt", target, target)
        found = self._type(target) or ""
        if found in _ID_SOURCES or found.startswith("Custom::"):
            return None  # a nested stack's output ...: its value is looked up in policies=
        if found != kind:
            raise ConfigurationError(path, raw, f"a managed policy id or a {kind} resource")
        return target

    def _policy_config(self, logical: str, key: str) -> Mapping[str, Any]:
        path = f"Resources.{logical}.Properties"
        where = child(path, key)
        return read_mapping(self.clean(require(self._props(logical), key, path), where), where)

    def _function_name(self, logical: str) -> str:
        name = self.prop(logical, "FunctionName")
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
        """Logical ids of the resources an expression refers to, in order. A malformed
        intrinsic is skipped here: rendering it reports it at its field."""
        out: list[str] = []
        if isinstance(value, list):
            for item in value:
                out.extend(self._referenced(item))
        elif isinstance(value, Mapping):
            for key, arg in value.items():
                try:
                    out.extend(self._referenced_by(key, arg))
                except ConfigurationError:
                    continue
        return [x for x in out if self._resource(x) is not None]

    def _referenced_by(self, key: Any, arg: Any) -> list[str]:
        if key == "Ref" and isinstance(arg, str):
            return [arg.split(".", 1)[0]]  # SAM: Fn.Version, Fn.Alias
        if key == "Fn::GetAtt":
            return [str(getatt_parts(arg)[0])]
        if key != "Fn::Sub":
            return self._referenced(arg)
        template, variables = sub_args(arg)
        out = [
            var.split(".", 1)[0]
            for var in SUB_VAR.findall(template)
            if not var.startswith("!") and var not in variables
        ]
        return [*out, *self._referenced(list(variables.values()))]

    # -- the resources intrinsics name -----------------------------------------------------

    def _defined(self, function: str, name: str, logical: str) -> None:
        """Refuse ``!Ref`` / ``!GetAtt`` / ``${...}`` of a name the template does not define
        (CloudFormation: "Unresolved resource dependencies"); it loaded as placeholder text
        (an origin named ``SiteBukcet.RegionalDomainName``)."""
        if self._resource(logical) is not None:
            false = self.not_created(logical)
            if false is not None:  # CloudFormation refuses the template
                raise ConfigurationError(
                    function, name, f"a resource that is created (its Condition {false} is false)"
                )
            return
        if self.transformed:
            return
        known = [*self.parameters, *self.resources]
        close = difflib.get_close_matches(logical, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigurationError(
            function, name, f"a parameter or resource the template defines{hint}"
        )

    def _resource_ref(self, name: str) -> Any:
        logical, _, suffix = name.partition(".")
        self._defined("Ref", name, logical)
        kind = self._type(logical)
        if kind in FUNCTION_TYPES:
            if suffix == "Version":  # SAM AutoPublishAlias
                return self._function_arn(self._function_name(logical))
            if suffix == "Alias":
                alias = self.prop(logical, "AutoPublishAlias", "live")
                return f"{self._function_arn(self._function_name(logical))}:{alias}"
            return self._function_name(logical)
        if kind == "AWS::Lambda::Version":
            return self._function_arn(self.prop(logical, "FunctionName"))
        if kind == "AWS::Lambda::Alias":
            arn = self._function_arn(self.prop(logical, "FunctionName"))
            return f"{arn}:{self.prop(logical, 'Name')}"
        if kind == "AWS::S3::Bucket":
            return self._bucket(logical)
        if kind in ("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"):
            return self.prop(logical, "StageName", logical)  # its Ref is the stage's name
        if suffix == "Stage" and kind in _SERVERLESS_APIS:  # SAM's MyApi.Stage
            return self.prop(logical, "StageName", _SERVERLESS_APIS[kind])
        return logical

    def _getatt(self, logical: str, attr: str) -> Any:
        self._defined("Fn::GetAtt", f"{logical}.{attr}", logical)
        kind = self._type(logical)
        if kind in FUNCTION_TYPES and attr == "Arn":
            return self._function_arn(self._function_name(logical))
        if kind in FUNCTION_TYPES and attr in ("Version", "Alias"):  # SAM, in a !Sub
            return self._ref(f"{logical}.{attr}")
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias") and attr == "Arn":
            return self._ref(logical)
        if kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias") and attr == "FunctionArn":
            return self._function_arn(self.prop(logical, "FunctionName"))
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
        url = URL_ATTRIBUTES.get(attr)
        if url is not None:
            return url.format(id=logical.lower(), region=REGION)
        return super()._getatt(logical, attr)

    def _bucket(self, logical: str) -> str:
        name = self.prop(logical, "BucketName")
        return name if isinstance(name, str) and name else logical.lower()
