"""Per-invocation capture of what a handler prints (``print()``, ``logging`` to stderr).

On Lambda@Edge a function's output goes to CloudWatch, one log stream per invocation. Locally
we want the same grouping: the dev server shows a handler's lines under the request that ran
it, and the pipeline puts them on the :class:`~edge_middleware.pipeline.effects.TraceStep`.

:func:`install` replaces ``sys.stdout``/``sys.stderr`` with a thin proxy; the dev server and
the :class:`~edge_middleware.devtools.inspector.Inspector` call it, a library user may. Until then
nothing is captured and the process's streams are left alone. A write made while a
handler runs (inside :func:`capturing`, which sets a context variable, so threads and asyncio
tasks are kept apart) is appended to that invocation's :class:`Captured` buffer; any other
write goes straight to the real stream. With ``passthrough=True`` (the default) captured
writes also reach the real stream, so a library user sees their prints as before; the dev
server turns passthrough off and prints the lines itself.

Cheap when nothing is printed: one context-variable set/reset per handler call and no buffer
until the first write.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

__all__ = [
    "MAX_KEPT_CHARS",
    "Captured",
    "capturing",
    "install",
    "installed",
    "run_captured",
    "uninstall",
]

#: What one invocation's captured output keeps (CloudWatch Logs' 256 KB event limit); the rest
#: is counted, not kept, so a handler printing 200 MB does not hold 200 MB (issue 16, item 8).
MAX_KEPT_CHARS = 256 * 1024

_T = TypeVar("_T")

_current: contextvars.ContextVar[Captured | None] = contextvars.ContextVar(
    "edge_middleware_capture", default=None
)
_install_lock = threading.Lock()
_passthrough = True
#: install() was called (and uninstall() not since): handlers' output is captured
_requested = False


class Captured:
    """The text one handler invocation wrote. After :meth:`close` (the invocation is over or
    timed out) further writes from a still-running handler go to the real stream."""

    __slots__ = ("_kept", "_parts", "closed", "dropped")

    def __init__(self) -> None:
        self._parts: list[str] | None = None
        self._kept = 0
        #: characters written past :data:`MAX_KEPT_CHARS`, counted and dropped
        self.dropped = 0
        self.closed = False

    def write(self, text: str) -> None:
        if self._parts is None:
            self._parts = []
        room = MAX_KEPT_CHARS - self._kept
        if len(text) > room:
            self.dropped += len(text) - max(0, room)
            text = text[: max(0, room)]
            if not text:
                return
        self._parts.append(text)
        self._kept += len(text)

    @property
    def text(self) -> str:
        kept = "".join(self._parts) if self._parts else ""
        if self.dropped:
            kept += f"\n[... {self.dropped} more characters not kept]\n"
        return kept

    def close(self) -> str:
        self.closed = True
        return self.text


class _StreamProxy:
    """Stands in for ``sys.stdout``/``sys.stderr``; everything but ``write`` is delegated."""

    def __init__(self, stream: TextIO) -> None:
        self._edge_stream = stream

    def write(self, text: str) -> int:
        buf = _current.get()
        if buf is None or buf.closed:
            return self._edge_stream.write(text)
        buf.write(text)
        if _passthrough:
            self._edge_stream.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._edge_stream, name)


def install(*, passthrough: bool | None = None) -> None:
    """Put the proxies on ``sys.stdout``/``sys.stderr`` (idempotent; re-done if someone,
    e.g. pytest, replaced them since). ``passthrough`` sets whether captured writes also
    reach the real stream (left unchanged when ``None``)."""
    global _passthrough, _requested
    with _install_lock:
        _requested = True
        if passthrough is not None:
            _passthrough = passthrough
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _StreamProxy):
                proxy = _StreamProxy(stream)
                setattr(sys, name, proxy)
                _move_log_handlers(stream, proxy)


def uninstall() -> None:
    """Put the real streams back (where our proxy is still the one installed)."""
    global _passthrough, _requested
    with _install_lock:
        _requested = False
        _passthrough = True
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, _StreamProxy):
                setattr(sys, name, stream._edge_stream)
        for handler in _stream_handlers():  # (one made while installed took the proxy)
            if isinstance(handler.stream, _StreamProxy):
                handler.setStream(handler.stream._edge_stream)


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    """Every logging ``StreamHandler`` the process has (the root's and each logger's)."""
    loggers: list[Any] = [logging.getLogger()]
    loggers.extend(logging.Logger.manager.loggerDict.values())
    return [
        h
        for lg in loggers
        for h in getattr(lg, "handlers", ())  # (a PlaceHolder has none)
        if isinstance(h, logging.StreamHandler)
    ]


def _move_log_handlers(stream: TextIO, proxy: _StreamProxy) -> None:
    """Logging handlers made before :func:`install` write to ``stream`` itself (an app's
    ``logging.basicConfig``, Django's ``LOGGING``): they write to ``proxy`` instead, so what a
    handler logs is captured as what it prints (it was not once the app had configured
    logging)."""
    for handler in _stream_handlers():
        if handler.stream is stream:
            handler.setStream(proxy)


def installed() -> bool:
    """Whether :func:`install` was called: only then is a handler's output captured (a
    library never replaces the process's streams on its own)."""
    return _requested


def _proxied() -> bool:
    return isinstance(sys.stdout, _StreamProxy) and isinstance(sys.stderr, _StreamProxy)


@contextmanager
def capturing(buf: Captured) -> Iterator[Captured]:
    """Route this thread's/task's writes to ``buf`` for the duration of the block."""
    if not _proxied():  # someone (e.g. pytest) replaced the streams since install()
        install()
    token = _current.set(buf)
    try:
        yield buf
    finally:
        _current.reset(token)


def run_captured(buf: Captured, func: Callable[..., _T], *args: Any) -> _T:
    """``func(*args)`` with its output captured in ``buf`` (for worker threads)."""
    with capturing(buf):
        return func(*args)
