"""Where relative ``.js`` paths in a config point: the config file's directory, else the
working directory (so ``functions/spa.js`` in ``site/edge.toml`` works from anywhere, as SAM's
``CodeUri`` is relative to its template)."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["config_dir", "resolve"]

_BASE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("edge_js_base", default=None)


@contextmanager
def config_dir(path: Path | None) -> Iterator[None]:
    """While loading a config from ``path``'s directory (``load_config`` sets it)."""
    token = _BASE.set(path)
    try:
        yield
    finally:
        _BASE.reset(token)


def resolve(path: str | os.PathLike[str]) -> Path:
    """``path`` as is when absolute; else under the config's directory if it exists there,
    else under the working directory."""
    p = Path(path)
    base = _BASE.get()
    if not p.is_absolute() and base is not None and (base / p).exists():
        return (base / p).resolve()
    return p.resolve()
