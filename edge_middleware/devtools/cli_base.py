"""What the ``edge-middleware`` commands share: the exit codes, ``--handler ARN=module:function``
mappings and the one way to print an error (see ``cli.py``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..exceptions import ConfigurationError

__all__ = ["EXIT_FAILED", "EXIT_HANDLER_RAISED", "EXIT_INVALID_RESULT", "EXIT_OK"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_RESULT = 2
EXIT_HANDLER_RAISED = 3


def _mapping(values: Sequence[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            expected = "STORE=FILE" if option == "--kvs" else "ARN_OR_NAME=module:function"
            raise ConfigurationError(option, item, expected)
        out[key.strip()] = value.strip()
    return out


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
