"""CloudFormation's intrinsic functions, evaluated as a deployment to a default stack would be.

Pseudo parameters are placeholders (``us-east-1``, account ``123456789012``), parameters take
their ``Default`` the way CloudFormation passes a parameter's value: as text, or as a list of
text for a ``CommaDelimitedList`` / ``List<...>`` parameter. ``Fn::If`` picks a branch by the
template's ``Conditions``; ``AWS::NoValue`` removes a property, or an item from a list.

Every scalar an intrinsic uses as text (``Ref``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Equals``,
``Fn::FindInMap`` ...) goes through :func:`~._common.text`, so a YAML ``true`` or ``3`` is
``"true"`` / ``"3"`` everywhere, as in CloudFormation (docs/loaders.md "Scalar coercion").

A malformed intrinsic raises a :class:`ConfigurationError` whose field is the function's name
(``Fn::Split``); :func:`at` re-raises it at the path of the field that holds it, and a broken
condition is named ``Conditions.<Name>``. Resources are the subclass's business
(``cloudformation.TemplateResolver``): :meth:`Intrinsics._resource_ref` and
:meth:`Intrinsics._getatt`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ...exceptions import ConfigurationError
from ._common import child, index, text

__all__ = [
    "ACCOUNT",
    "NO_VALUE",
    "PSEUDO",
    "REGION",
    "SUB_VAR",
    "Intrinsics",
    "at",
    "getatt_parts",
    "is_intrinsic",
    "sub_args",
]

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
SUB_VAR = re.compile(r"\$\{([^}]*)\}")
#: What ``{"Ref": "AWS::NoValue"}`` evaluates to: a property or list item that is removed.
NO_VALUE: Any = object()
_NO_VALUE_REF = {"Ref": "AWS::NoValue"}
_CONDITION_FUNCTIONS = frozenset({"Condition", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"})
#: functions with no local value: they stand as their arguments
_KEPT_AS_ARGUMENTS = frozenset({"Fn::Cidr", "Fn::Transform", "Fn::ToJsonString"})


def is_intrinsic(value: Any) -> bool:
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    (key,) = value
    return key in ("Ref", "Condition") or (isinstance(key, str) and key.startswith("Fn::"))


def _is_function_field(field: str) -> bool:
    """An error raised by an intrinsic names the function; the caller knows the field."""
    return field.startswith("Fn::") or field in ("Ref", "Condition")


@contextmanager
def at(path: str) -> Iterator[None]:
    """Report a malformed intrinsic (``Fn::GetAtt: [a, b, c]``) at the field that holds it."""
    try:
        yield
    except ConfigurationError as exc:
        if not path or not _is_function_field(exc.field):
            raise
        raise ConfigurationError(path, exc.value, exc.expected) from None


def getatt_parts(arg: Any) -> tuple[Any, Any]:
    if isinstance(arg, str):
        logical, _, attr = arg.partition(".")
        return logical, attr
    if isinstance(arg, list) and len(arg) == 2:
        return arg[0], arg[1]
    raise ConfigurationError("Fn::GetAtt", arg, "[LogicalId, Attribute]")


def sub_args(arg: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(arg, str):
        return arg, {}
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], Mapping):
        return text(arg[0], "Fn::Sub"), arg[1]
    raise ConfigurationError("Fn::Sub", arg, "a string or [string, {variables}]")


def _pair(args: Any) -> bool:
    return isinstance(args, list) and len(args) == 2


def _comparable(value: Any) -> Any:
    """``Fn::Equals`` compares values as CloudFormation holds them: scalars as text."""
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, str | int | float):
        return text(value, "Fn::Equals")
    return value


def _is_list_type(kind: Any) -> bool:
    """``CommaDelimitedList`` and ``List<String>``, ``List<Number>``, ``List<AWS::EC2::...>``."""
    return isinstance(kind, str) and (kind == "CommaDelimitedList" or kind.startswith("List<"))


def _join(args: Any) -> str:
    if not _pair(args) or not isinstance(args[1], list):
        raise ConfigurationError("Fn::Join", args, "[delimiter, [values]]")
    delimiter = text(args[0], "Fn::Join")
    return delimiter.join(text(x, "Fn::Join", "a list of strings to join") for x in args[1])


def _select(args: Any) -> Any:
    if not _pair(args):
        raise ConfigurationError("Fn::Select", args, "[index, [values]]")
    position, items = args
    try:
        i = int(text(position, "Fn::Select"))
    except ValueError:
        raise ConfigurationError("Fn::Select", position, "a whole-number index") from None
    if not isinstance(items, list) or not 0 <= i < len(items):
        raise ConfigurationError("Fn::Select", args, "an index within the list (resolved locally)")
    return items[i]


def _split(args: Any) -> list[str]:
    if not _pair(args):
        raise ConfigurationError("Fn::Split", args, "[delimiter, string]")
    delimiter = text(args[0], "Fn::Split")
    if not delimiter:
        raise ConfigurationError("Fn::Split", args[0], "a delimiter that is not empty")
    return text(args[1], "Fn::Split").split(delimiter)


def _length(args: Any) -> int:
    if not isinstance(args, list):
        raise ConfigurationError("Fn::Length", args, "a list")
    return len(args)


def _entry(mapping: Any, key: str) -> Any:
    """``mapping[key]``; a YAML key written ``80:`` or ``true:`` matches its text."""
    if not isinstance(mapping, Mapping):
        return NO_VALUE
    if key in mapping:
        return mapping[key]
    for name, value in mapping.items():
        if isinstance(name, bool | int | float) and text(name, "Fn::FindInMap") == key:
            return value
    return NO_VALUE


class Intrinsics:
    """Evaluates a template's intrinsic functions (see the module docstring)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.parameters: Mapping[str, Any] = _mapping_or_empty(doc.get("Parameters"))
        self.mappings: Mapping[str, Any] = _mapping_or_empty(doc.get("Mappings"))
        self.conditions: Mapping[str, Any] = _mapping_or_empty(doc.get("Conditions"))
        self._evaluating: set[str] = set()

    # -- what the template's resources are: the subclass knows -----------------------------

    def _resource_ref(self, name: str) -> Any:
        """``!Ref`` of what is neither a pseudo parameter nor a parameter."""
        return name

    def _getatt(self, logical: str, attr: str) -> Any:
        """``!GetAtt logical.attr``: a placeholder (docs/loaders.md)."""
        return logical if attr == "Id" else f"{logical}.{attr}"

    # -- Fn::If and AWS::NoValue, resolved in place ------------------------------------------

    def clean(self, value: Any, path: str = "") -> Any:
        """Resolve ``Fn::If`` and drop ``AWS::NoValue``, leaving other intrinsics in place.

        With ``path`` (where ``value`` is in the template), a malformed ``Fn::If`` or an
        undefined condition is reported at the field that holds it.
        """
        result = self._clean(value, path, not path)
        return None if result is NO_VALUE else result

    def _clean(self, value: Any, path: str, fixed: bool) -> Any:
        """``fixed``: inside an intrinsic's arguments, errors keep the path of its field."""
        if isinstance(value, list):  # a removed item stays as None so indexes match the source
            items = [
                self._clean(v, path if fixed else index(path, i), fixed)
                for i, v in enumerate(value)
            ]
            return [None if x is NO_VALUE else x for x in items]
        if not isinstance(value, Mapping):
            return value
        if value == _NO_VALUE_REF:
            return NO_VALUE
        if len(value) == 1 and "Fn::If" in value:
            with at(path):
                chosen = self._choose(value["Fn::If"])
            return self._clean(chosen, path, fixed)
        inner = fixed or is_intrinsic(value)
        cleaned = {
            k: self._clean(v, path if inner else child(path, str(k)), inner)
            for k, v in value.items()
        }
        return {k: v for k, v in cleaned.items() if v is not NO_VALUE}

    def _choose(self, args: Any) -> Any:
        if not isinstance(args, list) or len(args) != 3:
            raise ConfigurationError("Fn::If", args, "[condition, value_if_true, value_if_false]")
        if not isinstance(args[0], str):
            raise ConfigurationError("Fn::If", args[0], "the name of a condition")
        return args[1] if self.condition(args[0]) else args[2]

    # -- conditions ----------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        """The value of the condition ``name`` (an undefined one is a ConfigurationError, as
        CloudFormation rejects the template)."""
        if name not in self.conditions:
            defined = list(self.conditions)
            raise ConfigurationError(
                "Condition", name, f"a condition the template defines: one of {defined}"
            )
        if name in self._evaluating:
            raise ConfigurationError(f"Conditions.{name}", name, "a condition without a cycle")
        self._evaluating.add(name)
        try:
            with at(f"Conditions.{name}"):
                return self._truth(self.conditions[name])
        finally:
            self._evaluating.discard(name)

    def _truth(self, expr: Any) -> bool:
        if isinstance(expr, Mapping) and len(expr) == 1:
            ((key, arg),) = expr.items()
            if key in _CONDITION_FUNCTIONS:
                return self._condition_function(key, arg)
        value = self.render(expr)  # lenient: a value that reads as true or false
        flag = text(value, "Condition").lower() if isinstance(value, bool | str) else None
        if flag in ("true", "false"):
            return flag == "true"
        raise ConfigurationError(
            "Condition", expr, "a condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition)"
        )

    def _condition_function(self, key: str, arg: Any) -> bool:
        if key == "Condition":
            if not isinstance(arg, str):
                raise ConfigurationError(key, arg, "the name of a condition")
            return self.condition(arg)
        args = arg if isinstance(arg, list) else None
        if key == "Fn::Equals":
            if args is None or len(args) != 2:
                raise ConfigurationError(key, arg, "[value_1, value_2]")
            return bool(_comparable(self.render(args[0])) == _comparable(self.render(args[1])))
        if key == "Fn::Not":
            if args is None or len(args) != 1:
                raise ConfigurationError(key, arg, "[condition]")
            return not self._truth(args[0])
        if not args:
            raise ConfigurationError(key, arg, "a list of conditions")
        results = [self._truth(a) for a in args]
        return all(results) if key == "Fn::And" else any(results)

    # -- rendering -------------------------------------------------------------------------------

    def render(self, value: Any) -> Any:
        """A value with every intrinsic replaced by its (placeholder) result; ``None`` for
        ``AWS::NoValue``. List items it removes are dropped, as CloudFormation does."""
        result = self._render(value)
        return None if result is NO_VALUE else result

    def _render(self, value: Any) -> Any:
        if isinstance(value, list):  # None: an item clean() removed
            items = (self._render(v) for v in value)
            return [x for x in items if x is not None and x is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if not is_intrinsic(value):
            rendered = {k: self._render(v) for k, v in value.items()}
            return {k: v for k, v in rendered.items() if v is not NO_VALUE}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(text(arg, key, "the name of a parameter or resource"))
        if key == "Fn::GetAtt":
            logical, attr = getatt_parts(arg)
            return self._getatt(text(logical, key), text(self.render(attr), key))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::If":
            return self._render(self._choose(arg))
        if key in _CONDITION_FUNCTIONS:
            return self._truth(value)
        return self._function(key, self.render(arg))

    def _function(self, key: str, args: Any) -> Any:
        """The functions whose arguments are evaluated first."""
        if key == "Fn::Join":
            return _join(args)
        if key == "Fn::Select":
            return _select(args)
        if key == "Fn::Split":
            return _split(args)
        if key == "Fn::FindInMap":
            return self._find_in_map(args)
        if key == "Fn::GetAZs":
            return [f"{REGION}{z}" for z in "abc"]
        if key == "Fn::Base64":
            return base64.b64encode(text(args, key).encode()).decode()
        if key == "Fn::Length":
            return _length(args)
        if key == "Fn::ImportValue":
            return text(args, key)  # the export name stands in for the exported value
        if key in _KEPT_AS_ARGUMENTS or key.startswith("Fn::ForEach::"):
            return args
        # a misspelt function (Fn::Sbu) is CloudFormation's error too, not a literal value
        raise ConfigurationError(key, args, f"a CloudFormation intrinsic function ({key} is none)")

    def _find_in_map(self, args: Any) -> Any:
        """``[Map, TopKey, SecondKey]`` (and the optional ``{DefaultValue: ...}``); a missing
        entry is the placeholder ``"Map.TopKey.SecondKey"``."""
        if not isinstance(args, list) or len(args) not in (3, 4):
            raise ConfigurationError(
                "Fn::FindInMap", args, "[MapName, TopLevelKey, SecondLevelKey]"
            )
        names = [text(x, "Fn::FindInMap") for x in args[:3]]
        found: Any = self.mappings
        for name in names:
            found = _entry(found, name)
        if found is not NO_VALUE:
            return found
        if len(args) == 4 and isinstance(args[3], Mapping) and "DefaultValue" in args[3]:
            return args[3]["DefaultValue"]
        return ".".join(names)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        param = self.parameters.get(name)
        if isinstance(param, Mapping):
            return self._parameter(name, param)
        return self._resource_ref(name)

    def _parameter(self, name: str, param: Mapping[str, Any]) -> Any:
        """A parameter's value as CloudFormation passes it: its ``Default`` as text, split on
        commas (each item space-trimmed) for a list type; the name without a ``Default``."""
        is_list = _is_list_type(param.get("Type"))
        default = param.get("Default")
        if default is None:
            return [name] if is_list else name
        path = f"Parameters.{name}.Default"
        if not is_list:
            return text(default, path)
        items = default if isinstance(default, list) else text(default, path).split(",")
        return [text(item, path).strip() for item in items]

    def _sub(self, arg: Any) -> str:
        template, variables = sub_args(arg)

        def replace(match: re.Match[str]) -> str:
            var = match.group(1)
            if var.startswith("!"):
                return "${" + var[1:] + "}"
            if var in variables:
                value = self.render(variables[var])
            elif var in PSEUDO or var in self.parameters or "." not in var:
                value = self._ref(var)
            else:
                value = self._getatt(*var.split(".", 1))
            return text(value, "Fn::Sub", f"a string for ${{{var}}}")

        return SUB_VAR.sub(replace, template)


def _mapping_or_empty(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
