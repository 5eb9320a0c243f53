"""How the dev server (``server.py``) starts and stops, the same on both doors.

* It binds its address itself, so a port in use or an address that is not ours is an
  ``OSError`` before "listening" is printed (``cannot serve on HOST:PORT: ...``, exit 1):
  uvicorn's own ``Config.bind_socket`` logs the error and calls ``sys.exit(3)``.
* SIGINT (Ctrl+C) and SIGTERM stop it, and ``serve`` then exits 0, whichever door served:
  uvicorn re-raises the signal it caught once it has shut down (130 after Ctrl+C, death by
  SIGTERM), cheroot does not.
* A handler hung in a worker thread cannot keep the process alive: a watchdog ends it a few
  seconds after the signal.
* Requests still running when the grace period ends are cancelled and said in one line
  (``stopped 1 request(s) still running``), not with uvicorn's error and a traceback each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = [
    "EXIT_INTERRUPTED",
    "SHUTDOWN_GRACE",
    "QuietStop",
    "bind",
    "cancelled_finished",
    "exit_watchdog",
    "stopped_by_signals",
]

#: Seconds requests in flight get to finish after SIGINT/SIGTERM.
SHUTDOWN_GRACE = 2
#: Exit status when the watchdog ends a process that did not stop by itself.
EXIT_INTERRUPTED = 0


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, for uvicorn's ``sockets=``: a
    viewer that connects once "listening on" is printed waits in the queue until the app's
    startup is done (it was refused until uvicorn listened, after that startup).

    :raises OSError: the port is taken, or the address is not one of this machine's.
    """
    # as uvicorn's Config.bind_socket does, minus its sys.exit
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Run the server inside: SIGINT and SIGTERM end it with a ``KeyboardInterrupt`` that is
    swallowed here, so the caller returns normally (exit 0) after a clean shutdown.

    uvicorn installs its own handlers while it serves and, once it has shut down, raises the
    signal it caught again: that lands here too."""

    def stop(signum: int, frame: Any) -> None:
        exit_watchdog()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_watchdog_started = threading.Event()


def exit_watchdog(grace: float = SHUTDOWN_GRACE + 2.0) -> None:
    """After SIGINT/SIGTERM: if the process is still alive ``grace`` seconds later (a handler
    hangs in a worker thread that nothing can interrupt), end it. The dev server owns its
    process; a hung handler must not keep it from stopping."""
    if _watchdog_started.is_set():
        return
    _watchdog_started.set()

    def expire() -> None:
        time.sleep(grace)
        _exit_now(EXIT_INTERRUPTED)

    threading.Thread(target=expire, name="edge-exit-watchdog", daemon=True).start()


def _exit_now(code: int) -> None:
    """End the process at once (threads that cannot be stopped hold it), with what it printed
    flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


class QuietStop(logging.Filter):
    """On uvicorn's ``uvicorn.error`` logger while the server stops: its error for the requests
    it cancels once the grace period is over becomes ``say("stopped N request(s) still
    running")``, and the "Exception in ASGI application" traceback each cancelled request
    logs (a ``CancelledError``) is dropped. ``stopping()`` says whether the server stops:
    a ``CancelledError`` at any other time is still logged."""

    def __init__(self, say: Callable[[str], None], stopping: Callable[[], bool]) -> None:
        super().__init__()
        self.say = say
        self.stopping = stopping

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.stopping():
            return True
        if isinstance(record.msg, str) and record.msg.startswith("Cancel %s running task(s)"):
            count = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            self.say(f"stopped {count} request(s) still running")
            return False
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


async def cancelled_finished(tasks: Iterable[asyncio.Task[None]], timeout: float = 1.0) -> None:
    """Let the requests uvicorn cancelled end while the loop still runs (they ended when
    ``asyncio.run`` cancelled what was left, with the signal's ``KeyboardInterrupt`` as context
    of their tracebacks)."""
    running = [task for task in tasks if not task.done()]
    if running:
        await asyncio.wait(running, timeout=timeout)


class InFlight:
    """A WSGI app that counts the requests it is serving (a request ends when its answer is
    closed, PEP 3333), so that the dev server can say, as under uvicorn, that it stopped
    the ones still running when its grace period ended (cheroot cannot stop them itself)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.count = 0
        self._lock = threading.Lock()

    def _done(self) -> None:
        with self._lock:
            self.count -= 1

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self.count += 1
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Counted(answer, self._done)

    def stop_after(self, grace: float, say: Callable[[str], None]) -> None:
        """In ``grace`` seconds, if requests still run: say so and end the process (exit 0),
        as uvicorn's grace period ends them (a handler that hangs held it until the watchdog,
        silently)."""

        def expire() -> None:
            time.sleep(grace)
            if self.count > 0:
                say(f"stopped {self.count} request(s) still running")
                _exit_now(0)

        threading.Thread(target=expire, name="edge-stop-grace", daemon=True).start()


class _Counted:
    """A WSGI answer that reports when it is closed (or dropped unclosed)."""

    def __init__(self, answer: Any, done: Callable[[], None]) -> None:
        self.answer = answer
        self.done: Callable[[], None] | None = done

    def __iter__(self) -> Any:
        return iter(self.answer)

    def close(self) -> None:
        try:
            close = getattr(self.answer, "close", None)
            if close is not None:
                close()
        finally:
            done, self.done = self.done, None
            if done is not None:
                done()
