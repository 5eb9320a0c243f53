"""A pool of long-lived ``node`` worker processes (``node_worker.js``) speaking JSON lines.

Each worker loads its code once (a Lambda@Edge module, or a CloudFront Function in a
sandboxed ``vm`` context) and answers one request at a time. Requests go as lines on the
worker's stdin; replies come back on a separate pipe, so what a handler writes to its own
stdout cannot corrupt the protocol. A worker that misses its deadline is killed (Node cannot
interrupt a busy loop from outside) and the next request gets a fresh one; a worker that dies
mid-request is replaced the same way.

Why ``node`` and not an embedded engine: measured here (2 shared cores, see
docs/cloudfront-functions.md), a 1-header viewer-request rewrite costs ~220 µs through a pipe
to a warm ``node`` against ~480 µs through ``mini-racer`` 0.14 (two thread hops per call).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import weakref
from importlib import resources
from typing import Any

from ..exceptions import ConfigurationError
from .load_errors import load_error

__all__ = ["NodePool", "WorkerDied", "WorkerTimeout", "find_node"]

logger = logging.getLogger("edge_middleware.js")

#: How long a new worker may take to start and load its code.
START_TIMEOUT = 15.0
#: how the reply of a worker that ends after it starts (node_worker.js, uncaughtException)
_EXITING = b'{"exiting":true'

#: Requests up to this size are written from the event loop (a pipe holds 64 KiB).
_INLINE_MAX = 32 * 1024

_pools: weakref.WeakSet[NodePool] = weakref.WeakSet()


class WorkerTimeout(Exception):
    """The worker did not answer by the deadline; it has been killed."""


class WorkerDied(Exception):
    """The worker exited (or closed its reply pipe) before answering; it has been reaped."""


class WorkerLoadError(RuntimeError):
    """The worker's code did not load; ``error`` is its ``{name, message, stack}``."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(f"{error.get('name', 'Error')}: {error.get('message', '')}")


def find_node(node: str | None = None) -> str:
    """The ``node`` executable: ``node``, else ``$EDGE_MIDDLEWARE_NODE``, else ``node`` on PATH.

    :raises ConfigurationError: no Node.js is installed.
    """
    wanted = node or os.environ.get("EDGE_MIDDLEWARE_NODE") or "node"
    found = shutil.which(wanted)
    if found is None:
        raise ConfigurationError(
            "node",
            wanted,
            "a Node.js executable (Debian: apt-get install nodejs; or set EDGE_MIDDLEWARE_NODE) "
            "to run Node.js Lambda@Edge handlers and CloudFront Functions",
        )
    return found


def _worker_script() -> str:
    return str(resources.files("edge_middleware.js").joinpath("node_worker.js"))


class _Worker:
    """One ``node`` process. Not thread-safe: the pool hands it to one caller at a time."""

    __slots__ = ("_buf", "_rfd", "fresh", "init_seconds", "proc")

    def __init__(self, node: str, init: dict[str, Any]) -> None:
        #: not yet given a request; how long starting and loading the code took (Init)
        self.fresh = True
        started = time.monotonic()
        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [node, "--max-old-space-size=256", _worker_script()],
                stdin=subprocess.PIPE,
                stdout=2,  # a handler's own process.stdout writes go to our stderr
                pass_fds=(wfd,),
                env={**os.environ, "EDGE_REPLY_FD": str(wfd)},
                close_fds=True,
            )
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        self._rfd = rfd
        self._buf = b""
        assert self.proc.stdin is not None
        # written without blocking, bounded by the call's deadline: a worker busy with what a
        # handler left running reads nothing, and a large event filled the pipe for good
        os.set_blocking(self.proc.stdin.fileno(), False)
        try:
            reply = self.request(init, time.monotonic() + START_TIMEOUT)
        except WorkerTimeout:
            self.kill()
            raise RuntimeError(
                f"the node worker did not start: its code did not finish loading within "
                f"{START_TIMEOUT:g} s (a top-level await or loop that never ends?)"
            ) from None
        except WorkerDied as exc:
            self.kill()
            raise RuntimeError(
                f"the node worker did not start: it exited while loading the code ({exc})"
            ) from None
        if reply.get("logs"):  # what the module printed as it loaded (Lambda's Init)
            sys.stdout.write(reply["logs"] + "\n")
        if not reply.get("ready"):
            self.kill()
            raise WorkerLoadError(reply.get("error") or {})
        self.init_seconds = time.monotonic() - started

    def request(self, msg: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Send one message and wait for its reply until ``deadline`` (monotonic)."""
        line = self.exchange(json.dumps(msg, separators=(",", ":")).encode(), deadline)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def exchange(self, line: bytes, deadline: float) -> bytes:
        """Send one raw line (no newline in it) and return the raw reply line."""
        rest = memoryview(line + b"\n")
        while rest:
            rest = self._write(rest)
            if rest:
                left = self._left(deadline)
                select.select([], [self._wfd()], [], left)
        while b"\n" not in self._buf:
            left = self._left(deadline)
            ready, _, _ = select.select([self._rfd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._rfd, 1 << 16)
            if not chunk:
                self.kill()
                raise WorkerDied(f"exit code {self.proc.poll()}")
            self._buf += chunk
        reply, _, self._buf = self._buf.partition(b"\n")
        return reply

    async def aexchange(self, line: bytes, deadline: float) -> bytes:
        """:meth:`exchange` on the running event loop: the reply is awaited with a reader on
        the pipe, no thread; the line is written as the pipe takes it, within the deadline."""
        loop = asyncio.get_running_loop()
        rest = memoryview(line + b"\n")
        while rest:
            rest = self._write(rest)
            if rest:
                left = self._left(deadline)
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(self._wfd(), _wake, writable)
                try:
                    async with asyncio.timeout(left):
                        await writable
                except TimeoutError:
                    continue
                finally:
                    loop.remove_writer(self._wfd())
        while b"\n" not in self._buf:
            left = self._left(deadline)
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(self._rfd, _wake, ready)
            try:
                async with asyncio.timeout(left):
                    await ready
            except TimeoutError:
                continue
            finally:
                loop.remove_reader(self._rfd)
            chunk = os.read(self._rfd, 1 << 16)
            if not chunk:
                self.kill()
                raise WorkerDied(f"exit code {self.proc.poll()}")
            self._buf += chunk
        reply, _, self._buf = self._buf.partition(b"\n")
        return reply

    def _left(self, deadline: float) -> float:
        """Seconds to ``deadline``; past it the worker is killed (its state is unknown)."""
        left = deadline - time.monotonic()
        if left <= 0:
            self.kill()
            raise WorkerTimeout()
        return left

    def _wfd(self) -> int:
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            raise WorkerDied(f"exit code {self.proc.poll()}")
        return stdin.fileno()

    def _write(self, data: memoryview) -> memoryview:
        """Write what the pipe takes now; the rest (empty when all went)."""
        try:
            return data[os.write(self._wfd(), data) :]
        except BlockingIOError:
            return data
        except OSError:  # BrokenPipeError: the worker died
            self.kill()
            raise WorkerDied(f"exit code {self.proc.poll()}") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self._rfd >= 0:
            os.close(self._rfd)
            self._rfd = -1


class NodePool:
    """Up to ``size`` workers running the code named by ``init``, started on demand.

    The first worker starts in ``__init__``, so code that does not load fails at config
    time. :meth:`call` is thread-safe; callers beyond ``size`` wait for a free worker.

    :param init: the worker's init message (see ``node_worker.js``).
    :param size: the most workers kept for this code.
    :param node: the ``node`` executable (default: :func:`find_node`).
    :param name: what to call the code in errors: the field that names it
        (``NodeHandler.handler``); the value is its file (``init["file"]`` or ``["name"]``).
    """

    def __init__(
        self, init: dict[str, Any], *, size: int = 2, node: str | None = None, name: str = ""
    ) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigurationError("NodePool.size", size, "a whole number >= 1")
        self.node = find_node(node)
        self.init = init
        self.size = size
        self.name = name
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self._pid = os.getpid()
        self._closed = False
        field, source = name or "node", init.get("file") or init.get("name") or name
        try:
            first = _Worker(self.node, init)
        except WorkerLoadError as exc:
            raise load_error(field, source, exc.error, file=source, node=self.node) from None
        except RuntimeError as exc:
            raise ConfigurationError(field, source, str(exc)) from None
        self._idle.append(first)
        self._count = 1
        _pools.add(self)
        # a pool dropped without close() (a config that failed later on) stops its workers
        weakref.finalize(self, _stop, self._idle, os.getpid())

    def _forked(self) -> None:
        # After os.fork() (gunicorn's pre-fork workers) the workers belong to the parent.
        self._idle.clear()
        self._count, self._pid = 0, os.getpid()

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            if os.getpid() != self._pid:
                self._forked()
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    worker.kill()
                    self._count -= 1
                if self._count < self.size:
                    self._count += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerTimeout()
                self._cond.wait(left)
        try:
            return _Worker(self.node, self.init)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            if worker is None:
                self._count -= 1
            elif self._closed:
                worker.kill()
                self._count -= 1
            else:
                self._idle.append(worker)
            self._cond.notify()

    def call(
        self, msg: dict[str, Any], deadline: float, limit: float | None = None
    ) -> dict[str, Any]:
        """Send ``msg`` to a free worker, answer by ``deadline`` (``time.monotonic()``) and,
        with ``limit``, within that many seconds of the worker taking it.

        :raises WorkerTimeout: past the deadline (the worker was killed, a new one will start).
        :raises WorkerDied: the worker exited mid-request (it will be replaced).
        """
        line = self.call_raw(json.dumps(msg, separators=(",", ":")).encode(), deadline, limit)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def call_raw(self, line: bytes, deadline: float, limit: float | None = None) -> bytes:
        """:meth:`call` with a raw request line and the raw reply line (no JSON round trip:
        a CloudFront Function's event goes as ``E<event JSON>``)."""
        started = time.monotonic()
        worker = self._acquire(deadline)
        if worker.fresh:  # Lambda's Init is its own phase: the timeout covers the Invoke only
            worker.fresh = False
            deadline += worker.init_seconds
            started += worker.init_seconds
        if limit is not None:
            deadline = min(deadline, time.monotonic() + limit)
        try:
            reply = worker.exchange(line, deadline)
        except BaseException:
            worker.kill()
            self._release(None)
            raise
        self._finished(worker, reply)
        return reply

    def _finished(self, worker: _Worker, reply: bytes) -> None:
        """Back to the pool, or gone when the worker ends after this reply (an uncaught
        exception: its module state starts fresh in a new worker, as on Lambda)."""
        if reply.startswith(_EXITING):
            worker.kill()
            self._release(None)
        else:
            self._release(worker)

    async def acall_raw(self, line: bytes, deadline: float, limit: float | None = None) -> bytes:
        """:meth:`call_raw` for the ASGI door: awaited on the event loop when a worker is free
        and the line is small, else on a thread (waiting for a worker blocks)."""
        worker = None
        if len(line) < _INLINE_MAX:
            with self._cond:
                if os.getpid() == self._pid:
                    while self._idle and worker is None:
                        worker = self._idle.pop()
                        if not worker.alive():
                            worker.kill()
                            self._count -= 1
                            worker = None
        if worker is None:
            return await asyncio.to_thread(self.call_raw, line, deadline, limit)
        if limit is not None:
            deadline = min(deadline, time.monotonic() + limit)
        try:
            reply = await worker.aexchange(line, deadline)
        except BaseException:  # cancelled too: the worker's state is unknown
            worker.kill()
            self._release(None)
            raise
        self._finished(worker, reply)
        return reply

    async def acall(
        self, msg: dict[str, Any], deadline: float, limit: float | None = None
    ) -> dict[str, Any]:
        """:meth:`call` for the ASGI door (see :meth:`acall_raw`)."""
        line = json.dumps(msg, separators=(",", ":")).encode()
        reply: dict[str, Any] = json.loads(await self.acall_raw(line, deadline, limit))
        return reply

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when they are released."""
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _stop(workers: list[_Worker], pid: int) -> None:
    if os.getpid() != pid:  # a forked child: these are the parent's workers
        return
    for worker in list(workers):
        worker.kill()
    workers.clear()


@atexit.register
def _close_all() -> None:
    for pool in list(_pools):
        if pool._pid == os.getpid():
            pool.close()
