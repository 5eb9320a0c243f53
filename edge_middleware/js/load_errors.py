"""JavaScript that does not load (a syntax error, a throw at the top level, a missing export),
reported as a :class:`~edge_middleware.ConfigurationError` that names the field, the file, and
the line and column of the mistake, the same on both engines::

    CloudFrontFunction.source: '/app/functions/rewrite.js' is invalid; expected code that loads
    (line 3, column 11: SyntaxError: Unexpected token ';')

Where the location comes from: V8 decorates a syntax error (and an error thrown while a script
or a CommonJS module loads) with a ``file:line`` header, the source line and a caret under the
column; an error thrown later names its frames (``at /app/h.js:4:9``). Node.js 20 reports an ES
module's syntax error with neither, so for a ``.mjs`` file ``node --check`` is asked where.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["js_error", "load_error"]

#: ``/app/h.js:3`` (node) or ``<anonymous>:3: SyntaxError: ...`` (mini-racer), the source
#: line, then the caret under the column.
_HEADER = re.compile(r"\A(?P<file>[^\n]*?):(?P<line>\d+)(?::[^\n]*)?\n[^\n]*\n(?P<pad>[ \t]*)\^")
#: A stack frame: ``at handler (/app/h.js:4:9)``, ``at file:///app/a.mjs:2:1``.
_FRAME = re.compile(
    r"^\s+at (?:[^\n(]*\()?(?P<file>[^\n()]+?):(?P<line>\d+):(?P<col>\d+)\)?$", re.M
)
#: The engine's own scripts (node_worker.js, cf_runtime.js, minirace_harness.js) live here.
_ENGINE = os.path.dirname(os.path.realpath(__file__))
#: How long ``node --check`` may take to find an ES module's syntax error.
_CHECK_TIMEOUT = 10.0

Location = tuple[str, int, int]


def _theirs(file: str) -> bool:
    """Not the engine's (a require() that refused a module throws there) nor Node.js's."""
    return not file.startswith("node:") and os.path.dirname(os.path.realpath(file)) != _ENGINE


def _located(stack: str) -> Location | None:
    header = _HEADER.match(stack)
    if header is not None and _theirs(header["file"]):
        return header["file"], int(header["line"]), len(header["pad"]) + 1
    for frame in _FRAME.finditer(stack):
        file = frame["file"]
        if file.startswith("file://"):
            file = urllib.parse.unquote(file.removeprefix("file://"))
        if _theirs(file):
            return file, int(frame["line"]), int(frame["col"])
    return None


def _checked(node: str, file: str) -> Location | None:
    """Where ``node --check`` finds a syntax error in ``file`` (an ES module)."""
    try:
        done = subprocess.run(
            [node, "--check", file], capture_output=True, text=True, timeout=_CHECK_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return _located(done.stderr.lstrip("\n"))


def js_error(exc: BaseException) -> dict[str, str]:
    """mini-racer's exception as the ``{name, message, stack}`` a node worker reports.

    Its text is V8's message: ``/app/fn.js:3: SyntaxError: Unexpected token ';'``, the source
    line and a caret, then the stack; anything else (the engine's own check) is an ``Error``."""
    text = str(exc)
    found = re.match(r"[^\n]*?:\d+: (?P<name>\w*Error): (?P<message>[^\n]*)", text)
    if found is None:
        return {"name": "Error", "message": text, "stack": ""}
    return {"name": found["name"], "message": found["message"], "stack": text}


def load_error(
    field: str,
    value: str,
    error: Mapping[str, Any],
    *,
    file: str | None = None,
    node: str | None = None,
) -> ConfigurationError:
    """The error for code that did not load.

    :param field: what the configuration calls the code (``CloudFrontFunction.source``).
    :param value: the code's file (or its name when it is inline code).
    :param error: the engine's ``{name, message, stack}``.
    :param file: the code's file, as the engine names it: a location in another file (a
        module it requires) names that file too.
    :param node: the ``node`` executable, to ask ``node --check`` about an ES module.
    """
    what = " ".join(f"{error.get('name') or 'Error'}: {error.get('message', '')}".split())
    where = _located(str(error.get("stack") or ""))
    if where is None and node and file and file.endswith(".mjs") and "SyntaxError" in what:
        where = _checked(node, file)
    if where is not None:
        in_file, line, column = where
        own = in_file in (file, "<anonymous>", value)
        what = f"{'' if own else in_file + ' '}line {line}, column {column}: {what}"
    return ConfigurationError(field, value, f"code that loads ({what})")
