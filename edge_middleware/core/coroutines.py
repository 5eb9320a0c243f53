"""Running coroutines from the handler runner: the rest of a coroutine whose first step already
ran (:class:`Resumed`), and a coroutine run to its end from sync code on the calling thread's
own event loop (:func:`run_coroutine`, the WSGI door's and ``run_trigger``'s way to call an
``async def`` handler; a helper thread's loop when the caller's thread already runs one)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["FRESH", "Resumed", "run_coroutine"]

_thread_loops = threading.local()


class Resumed:
    """Await the rest of a coroutine whose first step already ran (``first``: what it yielded;
    :data:`FRESH`: none ran yet): a transparent proxy that passes what the coroutine yields to
    the task and what the task sends (or throws) back.

    A handler that swallows the cancellation of its task (the timeout's, a server's at
    shutdown) is stopped there, as Lambda stops a function at its timeout: it is closed and the
    cancellation goes on, else the request waited for it for ever. A cancellation the handler
    itself asked for and took back (its own ``asyncio.timeout``) is its own business."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any = None) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.first
        if pending is FRESH:
            try:
                pending = coro.send(None)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # cancellation (the timeout) goes to the handler
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                if isinstance(exc, asyncio.CancelledError) and _cancel_pending():
                    _stop(coro)
                    raise
            else:
                try:
                    pending = coro.send(value)
                except StopIteration as stop:
                    return stop.value


#: ``Resumed(coro, FRESH)``: no step of ``coro`` ran yet
FRESH: Any = object()


def _cancel_pending() -> bool:
    """Whether a cancellation asked of the running task is still pending (its handler caught
    the CancelledError and went on)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _stop(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        coro.close()
    except RuntimeError:  # it ignored GeneratorExit too: left as it is
        pass


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion from sync code (WSGI) on this thread's own event loop (made
    once per thread and closed when the thread exits), never on a shared background loop.

    Sync code that an event loop is running (``run_trigger`` in an async test or a notebook
    cell, a WSGI app called from a coroutine) cannot run a second loop on its thread: there
    ``coro`` runs on a helper thread's own loop while this thread waits, as it waits for a
    sync handler."""
    if asyncio._get_running_loop() is not None:
        return _run_on_helper_thread(coro)
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
        _thread_loops.closer = _LoopCloser(loop)
    return loop.run_until_complete(coro)


def _run_on_helper_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    outcome: list[Any] = []
    context = contextvars.copy_context()  # the caller's context variables, as on its thread

    def main() -> None:
        try:
            outcome.append(context.run(asyncio.run, coro))
        except BaseException as exc:  # raised again on the caller's thread
            outcome.append(_Raised(exc))

    # a daemon: a handler stuck past an interrupted wait never keeps the process from exiting
    helper = threading.Thread(target=main, name="edge-handler-loop", daemon=True)
    helper.start()
    helper.join()
    got = outcome[0]
    if isinstance(got, _Raised):
        raise got.exc
    return got


class _Raised:
    """What the coroutine raised on the helper thread (a result may be any value)."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _LoopCloser:
    """Closes a thread's handler loop when the thread's locals are dropped (thread exit)."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __del__(self) -> None:
        if not self.loop.is_running():
            self.loop.close()
