"""Running coroutines from the handler runner: the rest of a coroutine whose first step already
ran (:class:`Resumed`), and a coroutine run to its end from sync code on the calling thread's
own event loop (:func:`run_coroutine`, the WSGI door's way to call an ``async def`` handler)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["Resumed", "run_coroutine"]

_thread_loops = threading.local()


class Resumed:
    """Await the rest of a coroutine whose first step already ran: a transparent proxy that
    passes what the coroutine yields to the task and what the task sends (or throws) back."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.first
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation (the timeout) goes to the handler
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(value)
                except StopIteration as stop:
                    return stop.value


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion from sync code (WSGI) on this thread's own event loop (made
    once per thread and closed when the thread exits), never on a shared background loop."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
        _thread_loops.closer = _LoopCloser(loop)
    return loop.run_until_complete(coro)


class _LoopCloser:
    """Closes a thread's handler loop when the thread's locals are dropped (thread exit)."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __del__(self) -> None:
        if not self.loop.is_running():
            self.loop.close()
