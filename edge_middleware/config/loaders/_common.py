"""Shared helpers for the loaders: field paths, typed reads, error wrapping, handler lookup.

Every reader takes the *source* path of the value (``DistributionConfig.Origins.Items[0].Id``)
so that a :class:`ConfigurationError` names the field as the user wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ...exceptions import ConfigurationError
from ..model import HandlerLike, Trigger
from ..origins import validate_origin_custom_headers

__all__ = [
    "MISSING",
    "FunctionRef",
    "child",
    "function_ref_from_arn",
    "index",
    "list_items",
    "list_path",
    "lookup_handler",
    "read_bool",
    "read_enum",
    "read_int",
    "read_mapping",
    "read_str",
    "require",
    "text",
    "validate_origin_custom_headers",
    "wrap_errors",
]

MISSING: Any = object()

HandlersArg = Mapping[str, HandlerLike] | None


def child(path: str, key: str) -> str:
    """``path.key`` (just ``key`` at the top)."""
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def read_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(path, value, "an object (mapping)")
    return value


def known(obj: Mapping[str, Any], keys: frozenset[str], path: str) -> None:
    """Refuse a key of ``obj`` that is not in ``keys``, at its path."""
    for key in obj:
        if key not in keys:
            raise ConfigurationError(
                child(path, str(key)), obj[key], f"a known key: {', '.join(sorted(keys))}"
            )


def require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """``obj[key]``, or a ConfigurationError naming ``path.key`` when it is missing."""
    value = obj.get(key)
    if value is None:
        raise ConfigurationError(child(path, key), None, "a value (this key is required)")
    return value


def text(value: Any, path: str, expected: str = "a string") -> str:
    """CloudFormation's text for a scalar: a string as it is, a boolean ``"true"`` /
    ``"false"``, a number its decimal text (a YAML ``true`` or ``8080`` where text is wanted,
    docs/loaders.md "Scalar coercion"). Anything else is a ConfigurationError at ``path``.
    The one conversion the loaders use, for properties and intrinsics alike."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ConfigurationError(path, value, expected)


def read_str(value: Any, path: str, *, allow_empty: bool = True) -> str:
    """A string. CloudFormation turns a scalar into the property's type, so a YAML ``true``
    or ``8080`` where a String is expected is ``"true"`` / ``"8080"`` (:func:`text`)."""
    result = text(value, path)
    if not allow_empty and not result:
        raise ConfigurationError(path, value, "a non-empty string")
    return result


def read_int(
    value: Any, path: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer; numeric strings are accepted (the API's ``ResponseCode``, CFN parameters)."""
    result: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?\d+(\.0*)?", value.strip()):
        # CloudFormation Integer/Double properties take "80" and "300.0" as well as numbers.
        result = int(value.strip().split(".")[0])
    if result is None:
        raise ConfigurationError(path, value, "a whole number")
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        low = "" if minimum is None else f">= {minimum}"
        high = "" if maximum is None else f"<= {maximum}"
        raise ConfigurationError(path, value, f"a whole number {low} {high}".strip())
    return result


def read_bool(value: Any, path: str) -> bool:
    """A bool; CloudFormation also accepts the strings ``"true"``/``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigurationError(path, value, "true or false")


def read_enum(value: Any, path: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigurationError(path, value, " | ".join(allowed))
    return value


def list_items(value: Any, path: str) -> list[tuple[str, Any]]:
    """The items of an API ``{"Quantity": n, "Items": [...]}`` list or of a plain CFN array.

    Returns ``(item_path, item)`` pairs; ``None`` (absent) is an empty list. ``Items`` may be
    left out when ``Quantity`` is 0.
    """
    if value is None:
        return []
    if isinstance(value, list | tuple):
        # None: an item a template removed (Fn::If -> AWS::NoValue); later items keep their
        # index in the source.
        return [(index(path, i), item) for i, item in enumerate(value) if item is not None]
    if isinstance(value, Mapping):
        if "Quantity" not in value and "Items" not in value:
            # one item's own keys, written where the list goes (YAML without the "- "): read
            # as an empty list, its behaviors, functions or error pages were silently dropped
            raise ConfigurationError(path, value, 'a list (in YAML each item starts with "- ")')
        items = value.get("Items")
        quantity = value.get("Quantity")
        items_path = child(path, "Items")
        if items is None:
            items = []
        if not isinstance(items, list | tuple):
            raise ConfigurationError(items_path, items, "a list")
        if quantity is not None and read_int(quantity, child(path, "Quantity")) != len(items):
            raise ConfigurationError(
                child(path, "Quantity"), quantity, f"the number of Items ({len(items)})"
            )
        return [(index(items_path, i), item) for i, item in enumerate(items) if item is not None]
    raise ConfigurationError(path, value, 'a list or {"Quantity": n, "Items": [...]}')


def list_path(value: Any, path: str) -> str:
    """Where a list's items live, for errors about the list as a whole."""
    return child(path, "Items") if isinstance(value, Mapping) else path


_MODEL_FIELD = re.compile(
    r"^(Behavior|CachePolicy|OriginRequestPolicy|Origin|Trigger|CustomErrorResponse|EdgeConfig"
    r"|EdgeSettings|ResponseHeadersPolicy|ResponseHeader|CorsConfig|OriginGroup|NodeHandler"
    r"|CloudFrontFunction)\b"
)


@contextmanager
def wrap_errors(base: str, fields: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-raise a dataclass's own ConfigurationError under the source field's path.

    ``fields`` maps the dataclass attribute (the last part of the error's field, as in
    ``CachePolicy.max_ttl``) to the source path; anything else is reported at ``base``.
    """
    try:
        yield
    except ConfigurationError as exc:
        if not _MODEL_FIELD.match(exc.field):
            raise  # already a source path
        attr = re.split(r"[.)]", exc.field)[-1]
        target = (fields or {}).get(attr, base)
        if exc.field == target:
            raise
        raise ConfigurationError(target, exc.value, exc.expected) from None


# -- Lambda functions and the handlers mapping -----------------------------------------------

_ARN = re.compile(
    r"^arn:aws[\w-]*:lambda:[\w-]*:\d*:function:(?P<name>[^:]+)(?::(?P<qual>[^:]+))?$"
)


class FunctionRef:
    """What an association's ``LambdaFunctionARN`` points at, and the keys to look it up by.

    ``local`` builds the handler from the template itself when no ``handlers=`` key matches
    (a SAM function with a ``nodejs*`` Runtime, an ``AWS::CloudFront::Function``'s code).
    """

    __slots__ = ("display", "keys", "local", "options")

    def __init__(
        self, display: str, keys: list[str], local: Callable[[], Any] | None = None
    ) -> None:
        self.display = display
        self.keys = tuple(dict.fromkeys(k for k in keys if k))
        self.local = local
        #: ``CloudFrontFunction`` options a ``.js`` path in ``handlers=`` keeps (the template
        #: resource's runtime and KeyValueStore)
        self.options: dict[str, Any] = {}


def check_version_arn(arn: str, path: str) -> None:
    """CloudFront's rule for a literal ``LambdaFunctionARN`` (lambda-edge.md §3.4, §5.6): a
    numbered version of a function in us-east-1, not ``$LATEST``, an alias or no version
    (``InvalidLambdaFunctionAssociation``). What is not a Lambda ARN at all (a name that only
    ``handlers=`` knows) is left to the handler lookup."""
    match = _ARN.match(arn)
    if match is None:
        return
    qual = match.group("qual")
    if qual is None or not qual.isdigit():
        raise ConfigurationError(
            path,
            arn,
            "the ARN of a numbered function version, ending in :1, :2 ... (CloudFront: "
            "InvalidLambdaFunctionAssociation, not $LATEST, an alias or no version)",
        )
    if arn.split(":")[3] != "us-east-1":
        raise ConfigurationError(path, arn, "a function in us-east-1 (Lambda@Edge)")


def function_ref_from_arn(arn: str, extra_keys: tuple[str, ...] = ()) -> FunctionRef:
    """Lookup keys for an ARN: exact, without its version, bare function name, then extras."""
    match = _ARN.match(arn)
    if match is None:
        return FunctionRef(arn, [arn, *extra_keys])
    unversioned = arn.rsplit(":", 1)[0] if match.group("qual") else arn
    return FunctionRef(arn, [arn, unversioned, match.group("name"), *extra_keys])


def cloudfront_function_ref(arn: str) -> FunctionRef:
    """Lookup keys for a CloudFront Function ARN
    (``arn:aws:cloudfront::123456789012:function/name``): exact, then the bare name."""
    return FunctionRef(arn, [arn, arn.rpartition("function/")[2] if "function/" in arn else ""])


def lookup_handler(
    ref: FunctionRef,
    handlers: HandlersArg,
    path: str,
    *,
    include_body: bool,
    cloudfront_function: bool = False,
) -> Trigger:
    """The Trigger for a function, from the first of its keys found in ``handlers``.

    A string without ``:`` there is JavaScript: a ``.js`` path for a CloudFront Function
    (``cloudfront_function=True``), else a Node.js Lambda ``Handler`` (``"dir/file.export"``).
    """
    for key in ref.keys:
        if handlers is not None and key in handlers:
            handler = handlers[key]
            with wrap_errors(f"handlers[{key!r}]"):
                if isinstance(handler, str) and ":" not in handler:
                    from ...js import CloudFrontFunction, NodeHandler

                    if cloudfront_function:
                        handler = CloudFrontFunction(handler, **ref.options)
                    else:  # "handlers/auth.handler": Lambda's Handler setting
                        handler = NodeHandler(handler, name=ref.display)
                return Trigger(handler, include_body=include_body, name=ref.display)
    if ref.local is not None:
        with wrap_errors(path):
            return Trigger(ref.local(), include_body=include_body, name=ref.display)
    raise ConfigurationError(
        path,
        ref.display,
        "a function with a local handler: pass handlers={key: callable or 'module:function'} "
        f"with one of {list(ref.keys)}",
    )
