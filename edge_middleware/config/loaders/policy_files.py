"""``--policies FILE``: the policies a distribution names by id, as the AWS CLI prints them.

Accepted, one document per file or a JSON list of them:

- ``aws cloudfront get-cache-policy --id ID`` (``{"ETag", "CachePolicy": {"Id", ...}}``) and
  ``list-cache-policies`` (``{"CachePolicyList": {"Items": [{"CachePolicy": ...}]}}``);
- the same for origin request policies (``get-origin-request-policy``,
  ``list-origin-request-policies``) and response headers policies
  (``get-response-headers-policy``, ``list-response-headers-policies``);
- a mapping of policy id to a ``*PolicyConfig``.

:func:`missing_policy_ids` tells ``check`` which ids of a distribution are neither managed
nor given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ...cache.managed import managed_cache_policy, managed_origin_request_policy
from ...exceptions import ConfigurationError

__all__ = ["POLICY_KINDS", "missing_policy_ids", "read_policies"]

#: ``(behavior key, the AWS CLI's object name)``.
POLICY_KINDS = (
    ("CachePolicyId", "CachePolicy"),
    ("OriginRequestPolicyId", "OriginRequestPolicy"),
    ("ResponseHeadersPolicyId", "ResponseHeadersPolicy"),
)
_OBJECTS = tuple(kind for _, kind in POLICY_KINDS)


def _policies_in(doc: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(id, {kind: {"Id", "<kind>Config"}})`` for each policy in one parsed document."""
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _policies_in(item, f"{where}[{i}]")
        return
    if not isinstance(doc, Mapping):
        raise ConfigurationError(where, type(doc).__name__, "a policy document (an object)")
    found = False
    for kind in _OBJECTS:
        listed = doc.get(f"{kind}List")
        if isinstance(listed, Mapping):
            found = True
            for i, item in enumerate(listed.get("Items") or ()):
                yield from _policies_in(item, f"{where}.{kind}List.Items[{i}]")
        policy = doc.get(kind)
        if isinstance(policy, Mapping):
            found = True
            policy_id = policy.get("Id")
            if not isinstance(policy_id, str) or not policy_id:
                raise ConfigurationError(f"{where}.{kind}.Id", policy_id, "the policy's id")
            if f"{kind}Config" not in policy:
                raise ConfigurationError(
                    f"{where}.{kind}", sorted(policy), f"an object with {kind}Config"
                )
            yield policy_id, {kind: policy}
    if found:
        return
    if "Items" in doc or "ETag" in doc:
        raise ConfigurationError(
            where, sorted(doc), f"a document with one of {', '.join(_OBJECTS)} (or a ...List)"
        )
    for policy_id, config in doc.items():  # {id: *PolicyConfig}
        if not isinstance(config, Mapping):
            raise ConfigurationError(f"{where}.{policy_id}", config, "a policy config object")
        yield str(policy_id), config


def read_policies(
    files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> dict[str, Mapping[str, Any]]:
    """The policies in one or more ``--policies`` files, by id (for ``policies=``)."""
    paths = [files] if isinstance(files, str | os.PathLike) else list(files)
    out: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError("--policies", name, f"a readable file ({exc.strerror})")
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError("--policies", name, f"a JSON file ({exc})") from None
        for policy_id, policy in _policies_in(doc, name):
            out[policy_id] = policy
    return out


def _ids(doc: Any, key: str) -> Iterator[str]:
    if isinstance(doc, Mapping):
        for k, v in doc.items():
            if k == key and isinstance(v, str) and v:
                yield v
            else:
                yield from _ids(v, key)
    elif isinstance(doc, list):
        for v in doc:
            yield from _ids(v, key)


#: CloudFront's managed response headers policies (their ids are the same in every account).
MANAGED_RESPONSE_HEADERS_POLICIES = {
    "60669652-455b-4ae9-85a4-c4c02393f86c": "SimpleCORS",
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": "CORS-With-Preflight",
    "67f7725c-6f97-4210-82d7-5512b31e9d03": "SecurityHeadersPolicy",
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": "CORS-and-SecurityHeadersPolicy",
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": "CORS-with-preflight-and-SecurityHeadersPolicy",
}


def _managed(kind: str, policy_id: str) -> bool:
    if kind == "ResponseHeadersPolicyId":
        return policy_id in MANAGED_RESPONSE_HEADERS_POLICIES or (
            policy_id in MANAGED_RESPONSE_HEADERS_POLICIES.values()
        )
    lookup = {
        "CachePolicyId": managed_cache_policy,
        "OriginRequestPolicyId": managed_origin_request_policy,
    }.get(kind)
    if lookup is None:
        return False
    try:
        lookup(policy_id)
    except ConfigurationError:
        return False
    return True


def missing_policy_ids(
    doc: Mapping[str, Any], given: Mapping[str, Any] | None
) -> list[tuple[str, str]]:
    """``(behavior key, id)`` for each literal policy id that is neither managed nor given.

    Ids built by an intrinsic in a template (``!Ref MyCachePolicy``) are resolved by the
    loader from the template's own policy resources and are not listed here."""
    out: list[tuple[str, str]] = []
    for key, _ in POLICY_KINDS:
        for policy_id in dict.fromkeys(_ids(doc, key)):
            if (given is None or policy_id not in given) and not _managed(key, policy_id):
                out.append((key, policy_id))
    return out
