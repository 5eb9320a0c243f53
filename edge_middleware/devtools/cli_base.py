"""What the ``edge-middleware`` commands share: the exit codes, ``--handler ARN=module:function``
mappings and the one way to print an error (see ``cli.py``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ..exceptions import ConfigurationError

__all__ = [
    "EXIT_FAILED",
    "EXIT_HANDLER_RAISED",
    "EXIT_INVALID_RESULT",
    "EXIT_OK",
    "config_error",
]

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


def config_error(file: str, exc: ConfigurationError) -> str:
    """The file named once, and the problem in its own words (a JSON error is the problem),
    in the command line's terms (``--handler``, not ``handlers=``)."""
    if exc.field == str(Path(file)) and str(exc.expected).startswith("valid "):
        kind = str(exc.expected).removeprefix("valid ").upper()
        return f"{file} is not valid {kind}: {exc.value}"
    if exc.field == "source" and exc.value in (file, str(Path(file))):
        return f"{file}: cannot use it, expected {exc.expected}"
    if exc.field == str(Path(file)):
        return f"{file}: {exc.value}; expected {exc.expected}"
    text = str(exc)
    for python, flag in _FLAGS:
        text = text.replace(python, flag)
    return f"{file}: {text}"


#: load_config's keywords, as the commands spell them
_FLAGS = (
    (
        "pass handlers={key: callable or 'module:function'} with one of",
        "map one of them with --handler KEY=module:function (or a .js file):",
    ),
    (
        "pass key_value_stores={key: 'kvs.json' or a dict} with one of",
        "give --kvs KEY=FILE for one of",
    ),
    ("or one given in policies=", "or one in a --policies FILE"),
    ("or a name given in handlers=", "or a name given with --handler NAME=module:function"),
    ("or logical_id= naming one of them", "or --logical-id naming one of them"),
    ("logical_id: ", "--logical-id: "),
)
