"""Loading a handler from its ``"package.module:function"`` spec, with one-line errors that
name the file and line of a module that does not import (``handlers.py`` runs it)."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from typing import Any

from ..exceptions import HandlerLoadError

__all__ = ["Handler", "import_attribute", "import_failure", "load_handler"]

Handler = Callable[[dict[str, Any], Any], Any]


def load_handler(spec: str | Callable[..., Any], field_name: str = "handler") -> Handler:
    """Import ``"package.module:function"`` (the attribute may be dotted) or return a callable.

    Strings are imported, never evaluated. A module that does not import (a syntax error, an
    exception at import) is a :class:`HandlerLoadError` naming the spec, the file and the line.
    """
    if callable(spec):
        return spec
    module_name, _, attr = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not module_name or not attr or ":" in attr or module_name.startswith("."):
        raise HandlerLoadError(field_name, spec, '"module:function"')
    obj = import_attribute(
        module_name, attr, lambda expected: HandlerLoadError(field_name, spec, expected)
    )
    if not callable(obj):
        raise HandlerLoadError(field_name, spec, "a callable handler(event, context)")
    return obj  # type: ignore[no-any-return]


def import_attribute(module_name: str, attr: str, refuse: Callable[[str], Exception]) -> Any:
    """``attr`` (dotted) of the imported ``module_name``; what cannot be had raises
    ``refuse(expected)``: a module that does not import names its file and line."""
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name in _self_and_parents(module_name):
            raise refuse(f"an importable module ({exc})") from exc
        # the module is there and its own import of something else failed: where
        raise refuse(import_failure(exc)) from exc
    except (Exception, SystemExit) as exc:  # the module's own code failed (a sys.exit() too)
        raise refuse(import_failure(exc)) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise refuse(f"{module_name} to define {attr}") from None
    return obj


def _self_and_parents(module_name: str) -> set[str]:
    """``a.b.c``: ``{"a", "a.b", "a.b.c"}``, the modules whose absence means the spec names
    no module."""
    parts = module_name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_failure(exc: BaseException) -> str:
    """What went wrong importing a handler module, where: ``a module that imports
    (SyntaxError: expected ':' at /app/h.py, line 2, column 27)``."""
    if isinstance(exc, SyntaxError):
        what, file, line = f"{type(exc).__name__}: {exc.msg}", exc.filename, exc.lineno
        column = f", column {exc.offset}" if exc.offset else ""
    else:
        # the deepest module-level frame: the line of the module (or of a module it imports)
        # whose code raised, not importlib's frames nor a library function it called
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name == "<module>"]
        try:
            what, column = f"{type(exc).__name__}: {exc}", ""
        except Exception:  # an exception whose __str__ fails is still named
            what, column = type(exc).__name__, ""
        file, line = (frames[-1].filename, frames[-1].lineno) if frames else (None, None)
    what = " ".join(what.split())  # one line, for the CLI's one-line error
    where = f" at {file}, line {line}{column}" if file else ""
    return f"a module that imports ({what}{where})"
