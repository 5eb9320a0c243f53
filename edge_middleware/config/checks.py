"""The type check every configuration class runs first: each field's value against its
annotation, so a wrong type is a :class:`~edge_middleware.ConfigurationError` naming the field
at construction, never a ``TypeError`` from deep inside or a 502 at the first request.

What an annotation says is enough to check here: ``bool`` (only ``True``/``False``: the string
``"false"`` is not false), ``int`` (not a bool), ``float`` (a finite number), ``str``,
``X | None``, ``tuple[X, ...]`` / ``Sequence[X]`` / ``frozenset[X]`` (a list, tuple or set of
them, never a string), fixed tuples, ``Callable`` and the configuration classes. ``Literal``
choices and ranges are each class's own checks, after this one.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterable
from collections.abc import Sequence as AbcSequence
from dataclasses import fields
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..exceptions import ConfigurationError

__all__ = ["check_fields"]

_COLLECTIONS = (tuple, list, frozenset, set)


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return get_type_hints(cls)


def check_fields(obj: Any, where: str, skip: Iterable[str] = ()) -> None:
    """Raise ConfigurationError(``where.field``) for the first field whose value its
    annotation does not allow (``skip``: fields the class converts or checks itself)."""
    cls: Any = type(obj)
    hints = _hints(cls)
    skipped = frozenset(skip)
    for f in fields(obj):
        if f.name in skipped or not f.init:
            continue
        value = getattr(obj, f.name)
        problem = _problem(value, hints[f.name])
        if problem is not None:
            raise ConfigurationError(f"{where}.{f.name}", value, problem)


def _problem(value: Any, hint: Any) -> str | None:
    """What is wrong with ``value`` for ``hint``, or ``None``."""
    if hint is Any:
        return None
    if hint is bool:
        return None if type(value) is bool else "True or False"
    if hint is int:
        return None if type(value) is int else "a whole number"
    if hint is float:
        ok = type(value) in (int, float) and math.isfinite(value)
        return None if ok else "a finite number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    origin = get_origin(hint)
    if origin is Literal:
        return None  # the class's own check names the choices
    if origin is Union or origin is types.UnionType:
        return _union_problem(value, get_args(hint))
    if origin in (tuple, list, frozenset, set, AbcSequence):
        return _collection_problem(value, origin, get_args(hint))
    if origin is Callable or hint is Callable:
        return None if callable(value) else "a callable"
    if isinstance(hint, type):
        return None if isinstance(value, hint) else f"a {hint.__name__}"
    return None


def _union_problem(value: Any, args: tuple[Any, ...]) -> str | None:
    if value is None and type(None) in args:
        return None
    problems = [_problem(value, a) for a in args if a is not type(None)]
    if any(p is None for p in problems):
        return None
    return " or ".join(dict.fromkeys(p for p in problems if p))


def _collection_problem(value: Any, origin: Any, args: tuple[Any, ...]) -> str | None:
    if not isinstance(value, _COLLECTIONS):
        return "a list" if origin is not frozenset else "a set"
    items = list(value)
    if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed tuple: (name, value)
        if len(items) != len(args):
            return f"a pair of {len(args)}" if len(args) == 2 else f"{len(args)} items"
        for item, arg in zip(items, args, strict=True):
            if (p := _problem(item, arg)) is not None:
                return f"items that are {p}"
        return None
    if not args:
        return None
    for item in items:
        if (p := _problem(item, args[0])) is not None:
            return f"a list whose items are each {p}"
    return None
