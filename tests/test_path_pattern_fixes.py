"""Path patterns matched in time linear in the path (security hunt of 2026-12-07, second
session): a regex with a ``.*`` per ``*`` backtracked for seconds on one 600-byte path."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from edge_middleware import Behavior
from edge_middleware.config.behavior import compile_path_pattern


def _regex(pattern: str) -> re.Pattern[str]:
    """The reading the matcher replaces (lambda-edge.md §5.5), as a regex."""
    body = pattern[1:] if pattern.startswith("/") else pattern
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in body]
    return re.compile("/" + "".join(parts) if body[:1] != "*" else "".join(parts), re.DOTALL)


_PATTERN_CHARS = st.sampled_from(list("/ab.*?"))
_PATH_CHARS = st.sampled_from(list("/ab.?*\n"))


@given(
    pattern=st.text(_PATTERN_CHARS, min_size=1, max_size=10),
    path=st.text(_PATH_CHARS, max_size=14).map(lambda p: "/" + p),
)
def test_the_matcher_agrees_with_the_regex_reading(pattern: str, path: str) -> None:
    assert compile_path_pattern(pattern).fullmatch(path) is bool(_regex(pattern).fullmatch(path))


def test_a_pathological_path_is_matched_at_once() -> None:
    """``/img/*/*/*/*.jpg`` against ``/img/`` and 8,000 slashes (the URL limit is 8,192
    bytes): the regex took hours; the match is now one pass per piece."""
    behavior = Behavior("/img/*/*/*/*.jpg")
    assert not behavior.matches("/img/" + "/" * 8000)
    assert behavior.matches("/img/" + "/" * 8000 + "x.jpg")
    assert not Behavior("/a*b*c*d*e*f*g*h*").matches("/" + "abcdefg" * 1100)


def test_a_legacy_cookie_wildcard_matches_a_long_name_at_once() -> None:
    """``*_*_*_id`` in a legacy cookie whitelist (caching.md §1.13) against a cookie name of
    underscores: the joined regex took 18 s for 2,000 characters."""
    from edge_middleware.cache.keys import _select

    select = _select("whitelist", ("*_*_*_id", "sess?"), wildcards=True)
    assert select("a_b_c_id") and select("sess1") and not select("sess12")
    assert not select("_" * 20000)
    assert select("_" * 20000 + "id")
