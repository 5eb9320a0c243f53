"""How the values of a DistributionConfig are resolved: the :class:`Resolver` protocol.

``get-distribution-config`` output holds literals only (:class:`LiteralResolver`); a
CloudFormation template holds intrinsics (``cloudformation.TemplateResolver``).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..model import CachePolicy, OriginRequestPolicy
from ..origins import s3_region
from ..response_headers import ResponseHeadersPolicy
from ._common import FunctionRef, check_version_arn, function_ref_from_arn, read_str
from .policies import PoliciesArg, find_cache_policy, find_origin_request_policy
from .response_headers import find_response_headers_policy

__all__ = ["LiteralResolver", "Resolver", "s3_region"]


class Resolver(Protocol):
    """Turns the raw values of a DistributionConfig into literals and objects."""

    def value(self, raw: Any, path: str) -> Any:
        """A literal value (intrinsic functions resolved)."""

    def function(self, raw: Any, path: str) -> FunctionRef:
        """What a ``LambdaFunctionARN`` names."""

    def cache_policy(self, raw: Any, path: str) -> CachePolicy:
        """The policy a ``CachePolicyId`` names."""

    def origin_request_policy(self, raw: Any, path: str) -> OriginRequestPolicy:
        """The policy an ``OriginRequestPolicyId`` names."""

    def response_headers_policy(self, raw: Any, path: str) -> ResponseHeadersPolicy:
        """The policy a ``ResponseHeadersPolicyId`` names."""


class LiteralResolver:
    """The resolver for ``get-distribution-config`` output: every value is a literal."""

    def __init__(self, policies: PoliciesArg = None) -> None:
        self.policies = policies

    def value(self, raw: Any, path: str) -> Any:
        return raw

    def function(self, raw: Any, path: str) -> FunctionRef:
        arn = read_str(raw, path, allow_empty=False)
        check_version_arn(arn, path)
        return function_ref_from_arn(arn)

    def cache_policy(self, raw: Any, path: str) -> CachePolicy:
        return find_cache_policy(read_str(raw, path, allow_empty=False), path, self.policies)

    def origin_request_policy(self, raw: Any, path: str) -> OriginRequestPolicy:
        policy_id = read_str(raw, path, allow_empty=False)
        return find_origin_request_policy(policy_id, path, self.policies)

    def response_headers_policy(self, raw: Any, path: str) -> ResponseHeadersPolicy:
        policy_id = read_str(raw, path, allow_empty=False)
        return find_response_headers_policy(policy_id, path, self.policies)
