"""YAML for CloudFormation: the short-form intrinsic tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...)."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["TemplateLoader"]

_SHORT_TAGS = (
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "If", "ImportValue", "FindInMap",
    "Split", "GetAZs", "Base64", "Cidr", "Equals", "Not", "And", "Or", "Transform", "Length",
    "ToJsonString",
)  # fmt: skip


class TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that reads CloudFormation's short-form tags (``!Ref X`` -> ``{"Ref": X}``).

    Dates stay strings (``AWSTemplateFormatVersion: 2010-09-09``).
    """


def _short_form(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if name in ("Ref", "Condition"):
            return {name: value}
        if name == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{name}": value}

    return construct


for _tag in _SHORT_TAGS:
    TemplateLoader.add_constructor(f"!{_tag}", _short_form(_tag))
TemplateLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)
