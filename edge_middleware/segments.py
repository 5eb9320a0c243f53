"""Running consecutive synchronous pipeline steps on one worker thread.

A sync handler must never run on the ASGI event loop, and its timeout must hold even if it
hangs, so it runs on a worker thread. One thread hop per handler is the dominant cost of a
request with several triggers; instead, a :class:`Segment` takes the generator to a worker
thread at the first sync handler and keeps driving it there through every effect that can run
synchronously (more sync handlers, cache reads and writes), handing it back at the first effect
that needs the front door (the origin, the request body, collapsing, a background refresh).

The front door waits for the segment with the deadline of the handler now running. If a
handler overruns, the request is answered with CloudFront's timeout error at once and the
segment is abandoned: when the handler finally returns, the worker stops without touching the
cache or the response.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from typing import Any

from .cache.entry import Storage
from .effects import CallHandler, Lookup, Store
from .exceptions import CloudFrontError, LambdaTimeoutError

__all__ = ["EXECUTOR", "Segment", "runs_in_segment"]

#: A hung handler holds its worker until it returns (Python threads cannot be killed), so the
#: pool is sized for many of them before other requests have to queue.
EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=256, thread_name_prefix="edge-segment")


def runs_in_segment(effect: object) -> bool:
    """Effects that start a segment: a handler that is not ``async def`` (nor one that keeps
    its own deadline, ``HandlerRunner.inline``, which the WSGI door calls in place)."""
    return (
        isinstance(effect, CallHandler) and not effect.runner.is_async and not effect.runner.inline
    )


class Segment:
    """One stretch of synchronous work on a worker thread; see the module docstring."""

    __slots__ = ("abandoned", "deadline", "gen", "lock", "running", "storage")

    def __init__(self, gen: Any, storage: Storage) -> None:
        self.gen = gen
        self.storage = storage
        self.lock = threading.Lock()
        #: monotonic deadline of the handler running now (inf between handlers)
        self.deadline = math.inf
        self.running: CallHandler | None = None
        self.abandoned = False

    def run(self, effect: CallHandler) -> tuple[bool, Any]:
        """Worker thread: returns ``(True, next_effect)`` for the front door, or
        ``(False, outcome)`` when the pipeline finished, or ``(False, None)`` if abandoned."""
        current: Any = effect
        while True:
            value = self._perform(current)
            if self.abandoned:
                return False, None
            try:
                current = self.gen.send(value)
            except StopIteration as stop:
                return False, stop.value
            if not isinstance(current, Lookup | Store) and not runs_in_segment(current):
                return True, current

    def _perform(self, effect: Any) -> Any:
        if isinstance(effect, CallHandler):
            with self.lock:
                self.running = effect
                self.deadline = time.monotonic() + effect.timeout
            try:
                return effect.runner.call_here(effect.event, effect.request_id, effect.timeout)
            except CloudFrontError as exc:
                return exc
            finally:
                with self.lock:
                    self.deadline = math.inf
                    self.running = None
        if isinstance(effect, Lookup):
            return self.storage.get(effect.key)
        self.storage.set(effect.entry)
        return None

    def overdue(self) -> LambdaTimeoutError | None:
        """Front door, after a wait ran out: the timeout error if a handler is overdue (the
        segment is then abandoned), else ``None`` (keep waiting)."""
        with self.lock:
            running = self.running
            if running is None or time.monotonic() < self.deadline:
                return None
            self.abandoned = True
        return running.runner._timed_out(running.timeout)

    def wait_time(self) -> float:
        with self.lock:
            return max(0.0, self.deadline - time.monotonic()) if self.running else 0.05
