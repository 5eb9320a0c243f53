"""``edge-middleware serve --reload``: poll the config file and the handler modules, and on a
change have the :class:`~edge_middleware.devtools.server.DevServer` rebuild its middleware."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .devapp import Middleware
    from .server import DevServer

logger = logging.getLogger("edge_middleware.server")


def _drop_bytecode(module: Any) -> None:
    """Remove a module's cached bytecode: a same-size edit within the same second would
    otherwise pass the .pyc's mtime check and reload the old code."""
    file = getattr(module, "__file__", None)
    if not file:
        return
    try:
        os.remove(importlib.util.cache_from_source(file))
    except (OSError, NotImplementedError, ValueError):
        pass


class _Reloader(threading.Thread):
    """Polls mtimes (no extra dependency) and calls :meth:`DevServer.reload`."""

    def __init__(self, server: DevServer, interval: float) -> None:
        super().__init__(name="edge-reloader", daemon=True)
        self.server = server
        self.interval = interval
        self._stop_event = threading.Event()
        self._mtimes = self._scan()

    def _scan(self) -> dict[Path, int]:
        out = {}
        for path in self.server.watched():
            try:
                out[path] = path.stat().st_mtime_ns
            except OSError:
                out[path] = -1
        return out

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must not die
                logger.exception("the reloader failed")

    def check(self) -> None:
        now = self._scan()
        changed = [p for p, m in now.items() if self._mtimes.get(p) not in (None, m)]
        self._mtimes = now
        if changed:
            self.server.reload(changed)
            self._mtimes = self._scan()  # handler modules may have changed with the config

    def stop(self) -> None:
        self._stop_event.set()


def _holders(edges: list[Middleware]) -> list[str]:
    """The modules (other than the package's own) whose globals hold one of ``edges``."""
    wanted = {id(edge) for edge in edges}
    return [
        name
        for name, module in list(sys.modules.items())
        if not name.startswith("edge_middleware")
        and any(id(value) in wanted for value in list(getattr(module, "__dict__", {}).values()))
    ]


def _close_functions(old: Middleware, new: Middleware) -> None:
    """Stop the worker processes of the JavaScript functions the previous configuration ran
    and the new one does not (node workers stayed until the garbage collector found them)."""
    kept = {id(r.func) for r in new.options.pipeline.runners.values()}
    for runner in old.options.pipeline.runners.values():
        close = getattr(runner.func, "close", None)
        if close is not None and id(runner.func) not in kept:
            try:
                close()
            except Exception:  # a worker already gone
                logger.debug("closing %s after a reload failed", runner.name, exc_info=True)
