"""Loading and running Lambda@Edge handlers: ``module:function`` strings, sync or async,
a Lambda-style context object, and CloudFront's timeouts (5 s viewer, 30 s origin events).

A sync handler never runs on the ASGI event loop: it runs on a worker thread, so a handler
that hangs costs its own request a 503 and nothing else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

from .capture import Captured, capturing, run_captured
from .exceptions import (
    CloudFrontError,
    HandlerLoadError,
    LambdaExecutionError,
    LambdaTimeoutError,
)

__all__ = ["HandlerRunner", "LambdaContext", "load_handler"]

logger = logging.getLogger("edge_middleware.handlers")

Handler = Callable[[dict[str, Any], Any], Any]

_EXECUTOR = concurrent.futures.ThreadPoolExecutor(
    max_workers=256, thread_name_prefix="edge-handler"
)
_loop_lock = threading.Lock()
_background_loop: asyncio.AbstractEventLoop | None = None


def _loop_for_sync_callers() -> asyncio.AbstractEventLoop:
    """One background event loop that runs ``async def`` handlers for the WSGI front door."""
    global _background_loop
    with _loop_lock:
        if _background_loop is None or _background_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(
                target=loop.run_forever, name="edge-async-handlers", daemon=True
            ).start()
            _background_loop = loop
        return _background_loop


def load_handler(spec: str | Callable[..., Any], field_name: str = "handler") -> Handler:
    """Import ``"package.module:function"`` (the attribute may be dotted) or return a callable.

    Strings are imported, never evaluated.
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise HandlerLoadError(field_name, spec, '"module:function"')
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerLoadError(field_name, spec, f"an importable module ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HandlerLoadError(field_name, spec, f"{module_name} to define {attr}") from None
    if not callable(obj):
        raise HandlerLoadError(field_name, spec, "a callable handler(event, context)")
    return obj  # type: ignore[no-any-return]


@dataclass
class LambdaContext:
    """The ``context`` a handler receives, shaped like AWS Lambda's Python context."""

    function_name: str
    aws_request_id: str
    timeout: float
    function_version: str = "1"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = (
                "arn:aws:lambda:us-east-1:000000000000:function:"
                f"{self.function_name}:{self.function_version}"
            )
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/us-east-1.{self.function_name}"
        self._deadline = time.monotonic() + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before CloudFront gives up on this invocation."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _function_name(name: str) -> str:
    # "arn:aws:lambda:us-east-1:123:function:auth:7" -> "auth"; "pkg.mod:fn" -> "fn"
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else name
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


class _Resumed:
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


class HandlerRunner:
    """A loaded handler plus how to call it within its timeout.

    :meth:`invocation` gives a per-call copy that captures what the handler prints
    (``capture.py``); read it from :attr:`output` after the call.
    """

    __slots__ = ("_captured", "func", "function_name", "inline", "is_async", "name")

    def __init__(self, spec: str | Callable[..., Any], name: str) -> None:
        self.func = load_handler(spec)
        self.name = name
        self.function_name = _function_name(name)
        self.is_async = inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(
            getattr(self.func, "__call__", None)  # noqa: B004 - async callable objects
        )
        self._captured: Captured | None = None
        #: A handler that keeps its own deadline and cannot hang (edge_middleware.js: it kills
        #: its node worker at the deadline) runs on the WSGI request thread, no thread hop.
        self.inline = bool(getattr(self.func, "keeps_own_deadline", False)) and not self.is_async

    def invocation(self) -> HandlerRunner:
        """A copy of this runner for one call, with the handler's output captured."""
        run = object.__new__(HandlerRunner)
        run.func, run.name, run.function_name = self.func, self.name, self.function_name
        run.is_async, run.inline = self.is_async, self.inline
        run._captured = Captured()
        return run

    @property
    def output(self) -> str:
        """What the handler printed during the call (only on an :meth:`invocation`)."""
        return self._captured.text if self._captured is not None else ""

    def context(self, request_id: str, timeout: float) -> LambdaContext:
        return LambdaContext(self.function_name, request_id, timeout)

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

    def _timed_out(self, timeout: float) -> LambdaTimeoutError:
        logger.error("handler %s timed out after %.1f s", self.name, timeout)
        return LambdaTimeoutError(
            f"The Lambda function did not finish within its {timeout:g} s timeout",
            handler=self.name,
        )

    def call_here(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run a sync handler on the calling (worker) thread. The caller enforces the timeout
        from outside (see ``segments.py``); a handler that returns late still counts as timed
        out. Raises LambdaExecutionError / LambdaTimeoutError."""
        ctx = self.context(request_id, timeout)
        buf = self._captured
        started = time.monotonic()
        try:
            if buf is None:
                result = self.func(event, ctx)
            else:
                result = run_captured(buf, self.func, event, ctx)
        except (Exception, SystemExit) as exc:  # sys.exit() in a handler is its failure
            raise self._fail(exc) from None
        finally:
            if buf is not None:
                buf.close()
        if time.monotonic() - started > timeout:
            raise self._timed_out(timeout)
        return result

    def call_sync(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run from a WSGI worker thread. Raises LambdaExecutionError / LambdaTimeoutError."""
        if self.inline:
            return self.call_here(event, request_id, timeout)
        ctx = self.context(request_id, timeout)
        buf = self._captured
        if self.is_async:
            fut = asyncio.run_coroutine_threadsafe(
                self._async_body(event, ctx), _loop_for_sync_callers()
            )
        elif buf is None:
            fut = _EXECUTOR.submit(self.func, event, ctx)
        else:
            fut = _EXECUTOR.submit(run_captured, buf, self.func, event, ctx)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise self._timed_out(timeout) from None
        except (Exception, SystemExit) as exc:  # sys.exit() in a handler is its failure
            raise self._fail(exc) from None
        finally:
            if buf is not None:
                buf.close()

    async def _async_body(self, event: dict[str, Any], ctx: LambdaContext) -> object:
        if self._captured is None:
            return await self.func(event, ctx)
        with capturing(self._captured):
            return await self.func(event, ctx)

    async def call_async(self, event: dict[str, Any], request_id: str, timeout: float) -> object:
        """Run from the ASGI event loop; sync handlers go to a worker thread."""
        ctx = self.context(request_id, timeout)
        buf = self._captured
        try:
            if self.inline and hasattr(self.func, "acall"):
                # edge_middleware.js: awaits its node worker's pipe on the loop, no thread
                if buf is None:
                    return await self.func.acall(event, ctx)
                with capturing(buf):
                    return await self.func.acall(event, ctx)
            if self.is_async:
                # Most handlers never await: run the first step inline and only arm a timer
                # (a loop TimerHandle per call) when the handler really suspends.
                coro = self._async_body(event, ctx)
                try:
                    first = coro.send(None)
                except StopIteration as stop:
                    return stop.value
                async with asyncio.timeout(timeout):
                    return await _Resumed(coro, first)
            if buf is None:
                fut = asyncio.wrap_future(_EXECUTOR.submit(self.func, event, ctx))
            else:
                fut = asyncio.wrap_future(
                    _EXECUTOR.submit(run_captured, buf, self.func, event, ctx)
                )
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise self._timed_out(timeout) from None
        except asyncio.CancelledError:
            raise
        except (Exception, SystemExit) as exc:  # sys.exit() in a handler is its failure
            raise self._fail(exc) from None
        finally:
            if buf is not None:
                buf.close()
