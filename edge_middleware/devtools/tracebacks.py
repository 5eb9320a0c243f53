"""A handler's traceback as the dev tools show it: the handler's own frames, not ours.

When a handler raises, the :class:`~edge_middleware.LambdaExecutionError` the viewer's 503
comes from is raised while the handler's exception is being handled, so Python keeps that
exception as its ``__context__`` (hidden by ``from None``, still there).
:func:`handler_traceback` formats it without the frames of this package (the runner, the
pipeline, the thread pool), so the first line a user reads is in their own file.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from ..exceptions import LambdaExecutionError

__all__ = ["handler_traceback"]

_PACKAGE = str(Path(__file__).resolve().parent.parent)
_SKIP = (_PACKAGE, "/concurrent/futures/", "/asyncio/", "/threading.py", "/contextvars")


def _ours(filename: str) -> bool:
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        resolved = filename
    return resolved.startswith(_PACKAGE) or any(part in filename for part in _SKIP[1:])


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
