"""A pool of daemon worker threads for sync handlers.

``concurrent.futures.ThreadPoolExecutor`` joins its workers when the interpreter exits: one
handler hung in a ``while True`` or a socket read kept a process that uvicorn had finished
shutting down (Ctrl-C) alive for ever. Threads cannot be killed, so a hung handler's thread
is left behind as a daemon, and the process exits (README: a handler that hangs never blocks
the event loop or a request thread, nor the process's exit). The idle-worker reuse is
``ThreadPoolExecutor``'s: a new thread only when none is waiting, up to ``max_workers``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DaemonPool"]

T = TypeVar("T")

_Work = tuple["concurrent.futures.Future[Any]", Callable[[], Any]]


class DaemonPool:
    """``submit(fn)`` runs ``fn()`` on a daemon worker thread and gives its Future."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self.max_workers = max_workers
        self.prefix = thread_name_prefix
        self._names = itertools.count()
        self._empty()
        _POOLS.add(self)

    def _empty(self) -> None:
        """No worker and no work yet: a new pool, and the pool in a forked child
        (``gunicorn --preload``), where the parent's workers do not exist (its idle count said
        a worker waited, so each child's first handler call was queued for no one and got its
        503 at the deadline)."""
        self._work: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._work.put((future, fn))
        if not self._idle.acquire(blocking=False):
            self._grow()
        return future

    def _grow(self) -> None:
        with self._lock:
            if len(self._threads) >= self.max_workers:
                return  # the work waits for a worker to finish
            thread = threading.Thread(
                target=self._run, name=f"{self.prefix}_{next(self._names)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _run(self) -> None:
        while True:
            _call(*self._work.get())  # (its frame goes: nothing of it is kept while idle)
            self._idle.release()


#: every pool of this process, reset in a forked child (weakly: a pool may go)
_POOLS: weakref.WeakSet[DaemonPool] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for pool in list(_POOLS):
        pool._empty()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _call(future: concurrent.futures.Future[Any], fn: Callable[[], Any]) -> None:
    if not future.set_running_or_notify_cancel():  # a cancelled one never runs
        return
    try:
        result = fn()
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)
