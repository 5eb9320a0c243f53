"""``edge-middleware check``: load a config file with placeholders for unmapped functions and
defaults for unknown policies, print its behaviors and what is missing."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..exceptions import ConfigurationError, HandlerLoadError
from .cli_base import EXIT_FAILED, EXIT_OK, _fail, _mapping, config_error


def _placeholder(event: dict[str, Any], context: Any) -> None:
    """Stands in for a function that has no local handler in ``check``."""
    raise RuntimeError("edge-middleware check: no local handler for this function")


def _load_for_check(
    path: str,
    handlers: dict[str, str],
    logical_id: str | None,
    policy_files: Sequence[str] | None = None,
    key_value_stores: dict[str, str] | None = None,
) -> tuple[Any, list[str], list[tuple[str, str]], str]:
    """Load with every unmapped function given a placeholder and every unknown policy id a
    default policy, so the structure is checked; returns them too, and the error the
    middleware would raise for the first of them."""
    from ..config.loaders import load_config, read_source
    from ..config.loaders.policy_files import missing_policy_ids, read_policies
    from ..config.model import CachePolicy, OriginRequestPolicy
    from ..config.response_headers import ResponseHeadersPolicy

    doc = read_source(path)
    policies: dict[str, Any] = dict(read_policies(policy_files)) if policy_files else {}
    missing_policies = missing_policy_ids(doc, policies)
    for kind, policy_id in missing_policies:
        if kind == "CachePolicyId":
            policies[policy_id] = CachePolicy()
        elif kind == "OriginRequestPolicyId":
            policies[policy_id] = OriginRequestPolicy()
        elif kind == "ResponseHeadersPolicyId":
            policies[policy_id] = ResponseHeadersPolicy()
    # first without the defaults: the first unknown policy is refused in serve's words, then
    # the defaults stand in
    unknown = {policy_id for _, policy_id in missing_policies}
    defaults, policies = policies, {k: v for k, v in policies.items() if k not in unknown}
    mapping: dict[str, Any] = dict(handlers)
    missing: list[str] = []
    first_error = ""
    while True:
        try:
            config = load_config(
                path,
                handlers=mapping,
                logical_id=logical_id,
                policies=policies or None,
                key_value_stores=key_value_stores or None,
            )
            return config, missing, missing_policies, first_error
        except ConfigurationError as exc:
            value = exc.value
            if policies is not defaults and isinstance(value, str) and value in unknown:
                first_error = first_error or config_error(path, exc)
                policies = defaults
                continue
            retry = (
                not isinstance(exc, HandlerLoadError)
                and "handler" in exc.expected
                and isinstance(value, str)
                and value not in mapping
                and len(missing) < 1000
            )
            if not retry:
                raise
            first_error = first_error or config_error(path, exc)
            mapping[value] = _placeholder
            missing.append(value)


def _check(args: argparse.Namespace) -> int:
    from ..pipeline import Pipeline
    from .devlog import banner

    try:
        config, missing, missing_policies, first_error = _load_for_check(
            args.file,
            _mapping(args.handler, "--handler"),
            args.logical_id,
            args.policies,
            _mapping(args.kvs, "--kvs"),
        )
        Pipeline(config)  # imports every "module:function" handler
    except ConfigurationError as exc:
        return _fail(config_error(args.file, exc))
    complete = not missing_policies and not missing
    print(f"{args.file}: OK" if complete else f"{args.file}: structure OK")
    for line in banner(config, indent="  "):
        print(line)
    if missing:
        print("functions without a local handler (map them with --handler ARN=module:function):")
        for name in missing:
            print(f"  {name}")
    if missing_policies:
        print(
            "policies that are neither managed nor in --policies (checked with defaults; get "
            "them with aws cloudfront get-cache-policy / get-origin-request-policy / "
            "get-response-headers-policy --id ID > FILE, then --policies FILE):"
        )
        for kind, policy_id in missing_policies:
            print(f"  {kind} {policy_id}")
    if not complete:  # the middleware refuses such a config; check says so with its words
        _fail(first_error or f"{args.file}: incomplete (see above)")
    return EXIT_OK if complete else EXIT_FAILED
