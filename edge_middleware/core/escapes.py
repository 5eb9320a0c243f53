"""Percent-escapes normalised as RFC 3986 §6.2.2 says: an unreserved character's escape
decoded (``%61`` is ``a``), every other escape in upper case (``%2f`` is ``%2F``, still
encoded). Path patterns (``EdgeSettings.path_match="normalized"``) and canonical query strings
(``EdgeSettings.canonicalize_query``) read escapes this one way."""

from __future__ import annotations

import re

__all__ = ["normalized_escapes"]

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalized(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code in _UNRESERVED else "%" + match.group(1).upper()


def normalized_escapes(text: str) -> str:
    """``text`` with its percent-escapes normalised (see the module)."""
    return _ESCAPE.sub(_normalized, text) if "%" in text else text
