"""A handler's traceback as the dev tools show it: the handler's own frames, not ours.

When a handler raises, the :class:`~edge_middleware.LambdaExecutionError` the viewer's 503
comes from is raised while the handler's exception is being handled, so Python keeps that
exception as its ``__context__`` (hidden by ``from None``, still there).
:func:`handler_traceback` formats it without the frames of this package (the runner, the
pipeline, the thread pool), so the first line a user reads is in their own file.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from pathlib import Path

from ..exceptions import LambdaExecutionError

__all__ = ["handler_traceback"]

#: this package's folder, and the standard library's, each with its separator: a user's
#: ``edge_middleware_handlers/`` or own ``threading.py`` is theirs, and shown
_PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep
_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + os.sep
#: the standard library's parts a handler call goes through (the thread pool, the loop)
_SKIP = ("concurrent/futures/", "asyncio/", "threading.py", "contextvars")


def _ours(filename: str) -> bool:
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        resolved = filename
    if resolved.startswith(_PACKAGE):
        return True
    if not resolved.startswith(_STDLIB):
        return False
    inside = resolved[len(_STDLIB) :].replace(os.sep, "/")
    return inside.startswith(_SKIP)


def handler_traceback(error: BaseException | None) -> str:
    """``Traceback ...`` of the handler exception behind ``error`` (its ``__cause__`` or
    ``__context__``), with this package's frames left out; ``""`` when there is none."""
    if error is None or not isinstance(error, LambdaExecutionError):
        return ""
    if error.script_stack:  # a Node.js handler's
        return f"Traceback (the handler's JavaScript stack):\n{error.script_stack}"
    cause = error.__cause__ or error.__context__
    if cause is None or cause.__traceback__ is None:
        return ""
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if not _ours(f.filename)]
    if not frames:
        return ""
    lines = ["Traceback (most recent call last, the handler's frames):\n"]
    lines.extend(traceback.StackSummary.from_list(frames).format())
    lines.extend(traceback.format_exception_only(type(cause), cause))
    return "".join(lines).rstrip("\n")
