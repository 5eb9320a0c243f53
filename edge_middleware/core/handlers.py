"""Running Lambda@Edge handlers (loaded by ``handler_loading.py``), sync or async,
a Lambda-style context object, and CloudFront's timeouts (5 s viewer, 30 s origin events).

One runner, three ways a call can go, chosen per call by :meth:`HandlerRunner.placement`
(``EdgeSettings.handler_mode``):

* ``async def`` handlers run on the caller's event loop (ASGI) or on the calling thread's
  own loop (WSGI, :func:`run_coroutine`): no thread hop. The first step runs eagerly, so a
  handler that never awaits costs one coroutine step; a timer is armed only if it suspends.
* ``"inline"``: a sync handler runs on the calling thread (the WSGI request thread, or the
  ASGI event loop). Its timeout is judged **when it returns**: a late handler's request gets
  CloudFront's 503 then, not at the deadline.
* ``"thread"``: a sync handler runs on a worker thread and the caller stops waiting **at the
  deadline** (strict on-time 503). The deadline starts when the request asks for the call, so
  a request that cannot get a worker in time (every worker held by hung handlers) gets its 503
  too, and the queued call never runs.
* ``"auto"`` (the default): a handler starts in ``"thread"`` and moves inline once it has
  proved fast (:data:`PROVEN_CALLS` calls under :data:`FAST_CALL`); a call over
  :data:`SLOW_CALL`, or :data:`SLOW_STRIKES` calls over :data:`FAST_CALL`, send it back to
  threads for good. A handler that hangs from the start never blocks the loop or the request
  thread; four trivial handlers cost microseconds, not four thread hops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from asyncio.events import _get_running_loop, _set_running_loop
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

from ..exceptions import (
    CloudFrontError,
    LambdaExecutionError,
    LambdaTimeoutError,
)
from . import capture
from .context import LambdaContext, _context_fields
from .coroutines import FRESH, Resumed, run_coroutine
from .daemon_pool import DaemonPool
from .handler_loading import load_handler

__all__ = [
    "HandlerRunner",
    "LambdaContext",
    "Placement",
    "load_handler",
    "run_coroutine",
]

logger = logging.getLogger("edge_middleware.handlers")

Placement = Literal["async", "inline", "thread"]

#: ``"auto"``: calls a handler must finish under FAST_CALL seconds before it runs inline.
PROVEN_CALLS = 8
FAST_CALL = 0.005
#: One inline call over SLOW_CALL, or SLOW_STRIKES calls over FAST_CALL, and it goes back to
#: worker threads for good.
SLOW_CALL = 0.1
SLOW_STRIKES = 3

#: What a handler call lets through (Ctrl-C on the serving thread, a close, a cancel): all
#: else it raises, ``sys.exit()`` and a library's BaseException too, is its failure (§3.5).
NOT_A_FAILURE = (KeyboardInterrupt, GeneratorExit, asyncio.CancelledError)

#: Worker threads for sync handlers in "thread" placement: a hung one holds its worker until it
#: returns (threads cannot be killed); requests queued behind still get their 503 in time.
#: Daemon threads: a hung handler never keeps the process from exiting (daemon_pool.py).
_EXECUTOR = DaemonPool(max_workers=256, thread_name_prefix="edge-handler")


class _Raised:
    """What a handler raised on a worker thread, handed back as a value."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Later:
    """A handler call :meth:`HandlerRunner.call_here` could not finish without awaiting:
    ``await later.result()`` gives its result (or raises as ``call_async`` does)."""

    __slots__ = ("acall", "coro", "event", "first", "request_id", "runner", "spent", "timeout")

    def __init__(
        self,
        runner: HandlerRunner,
        event: dict[str, Any],
        request_id: str,
        timeout: float,
        coro: Coroutine[Any, Any, Any] | None = None,
        first: Any = None,
        *,
        acall: bool = False,
    ) -> None:
        self.runner = runner
        self.event = event
        self.request_id = request_id
        self.timeout = timeout
        #: an ``async def`` handler's coroutine after its first step, and what that yielded
        self.coro = coro
        self.first = first
        #: a handler object that keeps its own deadline and is awaited (``acall``)
        self.acall = acall
        #: seconds of the timeout the first step used
        self.spent = 0.0

    def result(self) -> Coroutine[Any, Any, object]:
        return self.runner._call_later(self)


class HandlerRunner:
    """A loaded handler plus how to call it within its timeout.

    :meth:`invocation` gives a per-call copy that captures what the handler prints when
    capture is installed (the dev server, the inspector); read it from :attr:`output`.
    """

    __slots__ = (
        "_captured",
        "_ctx",
        "_stats",
        "context_name",
        "func",
        "is_async",
        "mode",
        "name",
        "own_deadline",
    )

    def __init__(
        self,
        spec: str | Callable[..., Any],
        name: str,
        mode: Literal["auto", "inline", "thread"] = "auto",
    ) -> None:
        self.func = load_handler(spec)
        self.name = name
        # what the context's function name, ARN and log group are made from: the name, or
        # the handler's own (a Node.js handler shown as "auth.handler" is the function "auth")
        own = getattr(self.func, "function_name", None)
        self.context_name = own if isinstance(own, str) and own else name
        self.is_async = inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(
            getattr(self.func, "__call__", None)  # noqa: B004 - async callable objects
        )
        self.mode = mode
        #: A handler that keeps its own deadline and cannot hang (edge_middleware.js: it kills
        #: its node worker at the deadline) runs on the calling thread, or awaits ``acall`` on
        #: the event loop: no thread hop.
        self.own_deadline = bool(getattr(self.func, "keeps_own_deadline", False))
        self._captured: capture.Captured | None = None
        self._ctx: LambdaContext | None = None
        #: [fast calls, slow strikes, demoted]; shared by every invocation copy
        self._stats = [0, 0, 0]

    def invocation(self) -> HandlerRunner:
        """A copy of this runner for one call, capturing output when capture is installed."""
        run = object.__new__(HandlerRunner)
        run.func, run.name, run.context_name = self.func, self.name, self.context_name
        run.is_async, run.mode, run._stats = self.is_async, self.mode, self._stats
        run.own_deadline = self.own_deadline
        run._captured = capture.Captured() if capture.installed() else None
        run._ctx = None
        return run

    @property
    def output(self) -> str:
        """What the handler printed during the call (only on an :meth:`invocation`)."""
        return self._captured.text if self._captured is not None else ""

    @property
    def trace(self) -> dict[str, Any] | None:
        """What the handler left in its context's ``edge_trace`` (only on an
        :meth:`invocation`; ``None`` for a plain handler)."""
        return self._ctx.edge_trace if self._ctx is not None else None

    def context(self, request_id: str, timeout: float) -> LambdaContext:
        # LambdaContext's fields as its __init__ would set them, without its per-call cost.
        # (request_id, CloudFront's, is in the event: aws_request_id is the call's own UUID.)
        ctx = object.__new__(LambdaContext)
        ctx.__dict__.update(_context_fields(self.context_name))
        ctx.timeout = timeout
        ctx._deadline = time.monotonic() + timeout
        self._ctx = ctx
        return ctx

    # -- where a call runs ------------------------------------------------------------------
    def placement(self) -> Placement:
        if self.is_async:
            return "async"
        if self.own_deadline:
            return "inline"
        if self.mode != "auto":
            return self.mode
        fast, _, demoted = self._stats
        return "inline" if fast >= PROVEN_CALLS and not demoted else "thread"

    def _record(self, seconds: float) -> None:
        stats = self._stats
        if seconds < FAST_CALL:
            stats[0] += 1
        elif seconds > SLOW_CALL:
            stats[2] = 1
        else:
            stats[1] += 1
            if stats[1] >= SLOW_STRIKES:
                stats[2] = 1

    # -- failures -----------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> CloudFrontError:
        if isinstance(exc, CloudFrontError):
            # A handler object that already knows CloudFront's answer (a CloudFront Function's
            # FunctionExecutionError, a Node.js worker's timeout; edge_middleware/js/).
            exc.handler = exc.handler or self.name
            logger.error("handler %s failed: %s: %s", self.name, exc.error_name, exc.reason)
            return exc
        try:
            text = str(exc)
        except Exception:  # an exception whose __str__ fails still fails only this request
            text = f"<{type(exc).__name__} with an unprintable message>"
        logger.error("handler %s raised %s: %s", self.name, type(exc).__name__, text, exc_info=exc)
        return LambdaExecutionError(
            f"The Lambda function raised {type(exc).__name__}: {text}", handler=self.name
        )

    def _failure(self, exc: BaseException) -> CloudFrontError:
        """:meth:`_fail` for what a call on this thread raised; lets NOT_A_FAILURE through,
        but for a ``CancelledError`` of the handler's own (its ``asyncio.run()`` cancelled, a
        task it cancelled and awaited): only the request's own cancellation goes through, and
        a sync call or WSGI has none (it escaped the middleware: a 500, a dropped connection,
        where the same handler on a worker thread got its 503)."""
        if isinstance(exc, NOT_A_FAILURE) and not (
            isinstance(exc, asyncio.CancelledError) and not _request_cancelled()
        ):
            raise exc
        return self._fail(exc)

    def _timed_out(self, timeout: float) -> LambdaTimeoutError:
        logger.error("handler %s timed out after %.1f s", self.name, timeout)
        return LambdaTimeoutError(
            f"The Lambda function did not finish within its {timeout:g} s timeout",
            handler=self.name,
        )

    def _body(self, event: dict[str, Any], ctx: LambdaContext) -> Any:
        buf = self._captured
        if buf is None:
            return self.func(event, ctx)
        return capture.run_captured(buf, self.func, event, ctx)

    # -- the calls ----------------------------------------------------------------------------
    def call_inline(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run a sync handler on this thread; a call that returns past ``timeout`` counts as
        timed out (the 503 is sent when it returns). Raises LambdaExecutionError /
        LambdaTimeoutError."""
        ctx = self.context(request_id, timeout)
        # On the event loop's thread a sync handler runs as on a worker thread, with no running
        # loop: its own asyncio.run() works (it failed once auto mode moved the handler here)
        loop = _get_running_loop()
        if loop is not None:
            _set_running_loop(None)
        started = time.perf_counter()
        try:
            result = self._body(event, ctx)
        except BaseException as exc:  # sys.exit(), a library's own BaseException: its failure
            raise self._failure(exc) from None
        finally:
            elapsed = time.perf_counter() - started
            if loop is not None:
                _set_running_loop(loop)
            if self.mode == "auto":
                self._record(elapsed)
            if self._captured is not None:
                self._captured.close()
        if elapsed > timeout and not self.own_deadline:  # (one that keeps its own has: a
            raise self._timed_out(timeout)  # Node.js worker's Init is not in its timeout)
        return result

    def _submit(self, event: dict[str, Any], ctx: LambdaContext) -> concurrent.futures.Future[Any]:
        def timed() -> Any:
            started = time.perf_counter()
            try:
                return self._body(event, ctx)
            except BaseException as exc:
                # returned, not raised: a StopIteration cannot travel through a Future (on a
                # worker thread even a KeyboardInterrupt is the handler's own raise)
                return _Raised(exc)
            finally:
                if self.mode == "auto":
                    self._record(time.perf_counter() - started)

        return _EXECUTOR.submit(timed)

    def _unwrap(self, result: Any) -> Any:
        if isinstance(result, _Raised):
            err = self._fail(result.exc)
            # as ``raise ... from None`` inside the except block would: the handler's exception
            # stays reachable for its traceback (tracebacks.py), hidden from the chain
            err.__context__, err.__suppress_context__ = result.exc, True
            raise err
        return result

    def call_sync(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run from sync code (WSGI, :func:`run_trigger`) where :meth:`placement` says.
        Raises LambdaExecutionError / LambdaTimeoutError."""
        placement = self.placement()
        if placement == "inline":
            return self.call_inline(event, request_id, timeout)
        ctx = self.context(request_id, timeout)
        try:
            if placement == "async":
                coro = Resumed(self._async_body(event, ctx), FRESH)
                return run_coroutine(_bounded(coro, timeout, 0.0))
            fut = self._submit(event, ctx)
            try:
                return self._unwrap(fut.result(timeout))
            except concurrent.futures.TimeoutError:  # (the handler's own comes as _Raised)
                fut.cancel()  # still queued: it never runs
                self._stats[2] = 1  # it hung: never inline (auto), whatever it does next
                raise _Deadline from None
        except _Deadline:
            raise self._timed_out(timeout) from None
        except CloudFrontError:
            raise
        except BaseException as exc:  # sys.exit(), a library's own BaseException: its failure
            raise self._failure(exc) from None
        finally:
            if self._captured is not None:
                self._captured.close()

    async def _async_body(self, event: dict[str, Any], ctx: LambdaContext) -> object:
        if self._captured is None:
            return await self.func(event, ctx)
        with capture.capturing(self._captured):
            return await self.func(event, ctx)

    def call_here(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """The start of :meth:`call_async` on the calling thread, with no await: a sync handler
        placed inline runs to its end, an ``async def`` handler runs its first step. Returns the
        result, or a :class:`Later` to await when the call is not finished (the event loop's
        driver calls this before making a coroutine for the call). Raises as :meth:`call_async`.
        """
        placement = self.placement()
        if placement == "inline":
            if not (self.own_deadline and hasattr(self.func, "acall")):
                return self.call_inline(event, request_id, timeout)
            return Later(self, event, request_id, timeout, acall=True)
        if placement != "async":
            return Later(self, event, request_id, timeout)
        # Most handlers never await: run the first step here and only arm a timer (a loop
        # TimerHandle per call) when the handler really suspends.
        ctx = self.context(request_id, timeout)
        coro = self._async_body(event, ctx)
        started = time.perf_counter()
        try:
            first = coro.send(None)
        except StopIteration as stop:
            self._close_capture()
            if time.perf_counter() - started > timeout:  # it blocked: no timer could fire
                raise self._timed_out(timeout) from None
            return stop.value
        except BaseException as exc:
            self._close_capture()
            # (no deadline runs yet: a TimeoutError here is the handler's own, its failure; so
            # is a CancelledError: the request's own cannot come before the handler waits)
            if isinstance(exc, (KeyboardInterrupt, GeneratorExit, CloudFrontError)):
                raise
            raise self._fail(exc) from None  # sys.exit(), a library's BaseException: its failure
        later = Later(self, event, request_id, timeout, coro, first)
        later.spent = time.perf_counter() - started
        return later

    async def call_async(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run from an event loop (ASGI) where :meth:`placement` says."""
        got = self.call_here(event, request_id, timeout)
        if type(got) is Later:
            return await got.result()
        return got

    async def _call_later(self, later: Later) -> object:
        event, timeout = later.event, later.timeout
        try:
            if later.coro is not None:  # an async def handler that suspended in its first step
                return await _bounded(Resumed(later.coro, later.first), timeout, later.spent)
            ctx = self.context(later.request_id, timeout)
            if later.acall:  # edge_middleware.js: awaits its node worker's pipe
                if self._captured is None:
                    return await self.func.acall(event, ctx)  # type: ignore[attr-defined]
                with capture.capturing(self._captured):
                    return await self.func.acall(event, ctx)  # type: ignore[attr-defined]
            fut = self._submit(event, ctx)
            wrapped = asyncio.wrap_future(fut)
            try:
                result = await _bounded(wrapped, timeout)
            except _Deadline:
                fut.cancel()  # still queued: it never runs
                self._stats[2] = 1  # it hung: never inline (auto), whatever it does next
                raise
            return self._unwrap(result)
        except _Deadline:
            raise self._timed_out(timeout) from None
        except CloudFrontError:
            raise
        except BaseException as exc:  # sys.exit(), a library's own BaseException: its failure
            raise self._failure(exc) from None
        finally:
            self._close_capture()

    def _close_capture(self) -> None:
        if self._captured is not None:
            self._captured.close()


def _request_cancelled() -> bool:
    """Whether the running task (the request's) is being cancelled; ``False`` with no running
    loop (WSGI, a sync handler inline: nothing cancels a request there)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False
    return task is not None and task.cancelling() > 0


class _Deadline(Exception):
    """A handler's own timeout passed (never the handler's ``TimeoutError``: that one is its
    failure, CloudFront's execution error)."""


async def _bounded(awaitable: Awaitable[Any], timeout: float, spent: float | None = None) -> Any:
    """``await awaitable`` within ``timeout`` seconds, else :class:`_Deadline`. With
    ``spent`` (an ``async def`` handler, ``spent`` seconds into its timeout already), a call
    that blocked the loop past the deadline, so that no timer could fire, is late too."""
    started = time.perf_counter()
    left = timeout if spent is None else timeout - spent
    if left <= 0:  # the handler is never resumed: closed, as a cancelled one would end
        coro = awaitable.coro if isinstance(awaitable, Resumed) else awaitable
        if inspect.iscoroutine(coro):
            coro.close()
        raise _Deadline
    try:
        async with asyncio.timeout(left) as deadline:
            result = await awaitable
    except TimeoutError:
        if deadline.expired():
            raise _Deadline from None
        raise
    if spent is not None and time.perf_counter() - started > left:
        raise _Deadline
    return result
