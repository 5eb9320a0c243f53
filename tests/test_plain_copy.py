"""``plain_copy``, the fast JSON round trip of a handler's result, gives exactly what
``json.loads(json.dumps(result))`` gives, or steps aside (``None``) for JSON to decide."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_middleware.core.validation import _json_object, plain_copy

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers(0, 9)), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _values, max_size=5))
def test_plain_copy_is_the_json_round_trip_or_steps_aside(result: dict[str, Any]) -> None:
    copied = plain_copy(result)
    try:
        through_json = json.loads(json.dumps(result, allow_nan=False))
    except ValueError:
        assert copied is None  # JSON refuses it (NaN, infinity): the copy must not accept it
        return
    if copied is not None:
        assert copied == through_json
        assert _no_shared_containers(copied, result)
    assert _json_object(result) == through_json


def _no_shared_containers(a: Any, b: Any) -> bool:
    if isinstance(a, dict | list):
        if a is b:
            return False
        pairs = (
            zip(a.values(), b.values(), strict=False)
            if isinstance(a, dict)
            else zip(a, b, strict=False)
        )
        return all(_no_shared_containers(x, y) for x, y in pairs)
    return True


def test_what_json_would_change_or_refuse_is_left_to_json() -> None:
    assert plain_copy({"a": (1, 2)}) is None  # a tuple becomes a list through JSON
    assert plain_copy({1: "a"}) is None  # an int key becomes a string
    assert plain_copy({"a": 1.5}) is None
    assert plain_copy({"a": math.nan}) is None

    class Text(str):
        pass

    assert plain_copy({"a": Text("x")}) is None
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    assert plain_copy(cycle) is None  # JSON names the circular reference
    assert plain_copy(["not", "a", "dict"]) is None


def test_a_handler_result_is_copied() -> None:
    result = {
        "status": "200",
        "headers": {"x-a": [{"key": "X-A", "value": "1"}]},
        "body": None,
        "n": 2**80,
        "ok": True,
    }
    copied = plain_copy(result)
    assert copied == result
    assert copied is not None and copied["headers"]["x-a"][0] is not result["headers"]["x-a"][0]
