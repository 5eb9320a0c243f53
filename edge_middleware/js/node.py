"""Node.js Lambda@Edge handlers, run in a pool of long-lived ``node`` workers.

A :class:`NodeHandler` is called like a Python handler (``handler(event, context)``) and
returns the result the Node.js function gave, which the pipeline validates exactly as it
validates a Python handler's. ``exports.handler = async (event, context) => ...``, the
callback style ``(event, context, callback)`` and ``context.getRemainingTimeInMillis()`` work
as on Lambda; what the function logs with ``console.log`` is printed (and so captured per
invocation like a Python handler's prints).

Timeouts and crashes cost only their own request: a worker still busy at the deadline is
killed (the request gets CloudFront's 503 ``LambdaExecutionError``) and the next request
starts a fresh worker; a worker that dies mid-request is a 503 for that request and is
replaced.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, LambdaExecutionError, LambdaTimeoutError
from .engine import NodePool, WorkerDied, WorkerTimeout
from .paths import resolve

__all__ = ["NODE_RUNTIMES", "NodeHandler", "is_node_runtime"]

#: Lambda@Edge's supported Node.js runtimes (decisions.md #26: as of early 2026; recheck against
#: AWS Lambda's runtime list). Each runs on the local ``node``, whatever its version.
NODE_RUNTIMES = ("nodejs20.x", "nodejs22.x", "nodejs24.x")
_EXTENSIONS = (".js", ".mjs", ".cjs")


def is_node_runtime(runtime: object) -> bool:
    """Whether a Lambda function's ``Runtime`` names Node.js (``nodejs20.x``, also an old or
    misspelt ``nodejs16.x``: :class:`NodeHandler` refuses those outside :data:`NODE_RUNTIMES`,
    naming the field)."""
    return isinstance(runtime, str) and runtime.startswith("nodejs")


def _resolve(spec: str, root: Path) -> tuple[Path, str]:
    """Lambda's ``Handler``: ``"handlers/auth.handler"`` -> (handlers/auth.js, "handler")."""
    path = root / spec
    if path.suffix in _EXTENSIONS and path.is_file():
        return path, "handler"
    # as Lambda's Node runtime reads it: the module ends at the first "." after the last "/",
    # the rest is the export's path ("nested/index.handlers.viewer": handlers.viewer of index)
    folder, slash, name = spec.rpartition("/")
    base, dot, func = name.partition(".")
    module = folder + slash + base
    if not dot or not base or not func:
        raise ConfigurationError("NodeHandler.handler", spec, '"path/to/module.function"')
    for ext in _EXTENSIONS:
        candidate = root / (module + ext)
        if candidate.is_file():
            return candidate, func
    raise ConfigurationError(
        "NodeHandler.handler",
        spec,
        f"a module {module}.js, .mjs or .cjs under {root} (a Python handler is written "
        f'"module:function")',
    )


class NodeHandler:
    """A Node.js Lambda@Edge function, run by the pipeline like a Python handler.

    :param handler: Lambda's ``Handler`` setting, ``"handlers/auth.handler"`` (module path
        without extension, then the exported function), relative to ``root``; or a path to a
        ``.js``/``.mjs`` file whose ``handler`` export is used.
    :param root: the function's code directory (SAM's ``CodeUri``); default the working dir.
    :param runtime: the Lambda runtime, one of :data:`NODE_RUNTIMES` (all run on the local
        ``node``).
    :param name: the function's name in logs, errors and ``context.functionName``; default
        ``"<module>.<export>"`` as Lambda's ``Handler`` names it (``auth.handler``), so two
        exports of one file are told apart.
    :param workers: the most ``node`` workers kept for this function (each runs one request
        at a time, as a Lambda instance does).

    Example::

        Behavior(viewer_request=NodeHandler("handlers/auth.handler", root="edge/"))

    :raises ConfigurationError: no ``node`` is installed, the module is missing or does not
        load, or does not export the function.
    """

    def __init__(
        self,
        handler: str,
        *,
        root: str | os.PathLike[str] = ".",
        runtime: str = "nodejs20.x",
        name: str | None = None,
        workers: int = 2,
        node: str | None = None,
    ) -> None:
        if runtime not in NODE_RUNTIMES:
            raise ConfigurationError(
                "NodeHandler.runtime",
                runtime,
                f"one of {', '.join(NODE_RUNTIMES)} (Lambda@Edge's Node.js runtimes)",
            )
        if not isinstance(handler, str) or not handler:
            raise ConfigurationError("NodeHandler.handler", handler, '"path/to/module.function"')
        self.file, self.export = _resolve(handler, resolve(root))
        self.runtime = runtime
        self.name = name or f"{self.file.stem}.{self.export}"
        #: ``context.functionName`` (the handler pool's): the name given, else the module's
        self.function_name = name or self.file.stem
        self.__qualname__ = self.name  # the pipeline's display name (config.Trigger)
        self.__module__ = ""
        self._pool = NodePool(
            {"kind": "lambda", "file": str(self.file), "handler": self.export},
            size=workers,
            node=node,
            name="NodeHandler.handler",
        )
        self._ids = 0

    #: It stops itself at its deadline (the worker is killed), so the pipeline may call it
    #: without a watchdog thread (read by handlers.HandlerRunner)
    keeps_own_deadline = True

    @property
    def source_files(self) -> tuple[Path, ...]:
        """The handler's module (watched by ``serve --reload``; its own requires are not)."""
        return (self.file,)

    def __eq__(self, other: object) -> bool:
        """The same module, export and runtime."""
        if not isinstance(other, NodeHandler):
            return NotImplemented
        return (self.file, self.export, self.runtime) == (other.file, other.export, other.runtime)

    def __hash__(self) -> int:
        return hash((self.file, self.export, self.runtime))

    def __repr__(self) -> str:
        return f"NodeHandler({str(self.file)!r}, export={self.export!r}, runtime={self.runtime!r})"

    def close(self) -> None:
        """Stop this function's ``node`` workers."""
        self._pool.close()

    def _message(self, context: Any) -> tuple[dict[str, Any], float, float]:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        left_ms = remaining() if remaining is not None else 30_000
        self._ids += 1
        ctx = {
            "functionName": getattr(context, "function_name", self.function_name),
            "functionVersion": getattr(context, "function_version", "1"),
            "invokedFunctionArn": getattr(context, "invoked_function_arn", ""),
            "memoryLimitInMB": str(getattr(context, "memory_limit_in_mb", "128")),
            "awsRequestId": getattr(context, "aws_request_id", ""),
            "logGroupName": getattr(context, "log_group_name", ""),
            "logStreamName": getattr(context, "log_stream_name", "local"),
            "remainingMs": left_ms,
        }
        return {"id": self._ids, "context": ctx}, time.monotonic() + left_ms / 1000, left_ms

    def _stopped(self, exc: Exception, left_ms: float) -> LambdaExecutionError:
        if isinstance(exc, WorkerTimeout):
            return LambdaTimeoutError(
                f"The Lambda function did not finish within its {round(left_ms / 1000, 1):g} s "
                "timeout "
                "(its node worker was stopped)",
                handler=self.name,
            )
        return LambdaExecutionError(
            f"The Lambda function's node process exited mid-request ({exc})", handler=self.name
        )

    def _result(self, reply: dict[str, Any]) -> Any:
        logs = reply.get("logs") or ""
        if logs:
            sys.stdout.write(logs + "\n")
        if not reply.get("ok"):
            err = reply.get("error") or {}
            failure = LambdaExecutionError(
                f"The Lambda function raised {err.get('name', 'Error')}: {err.get('message', '')}",
                handler=self.name,
            )
            # the JavaScript stack, without the worker's own frames: the dev tools show it as
            # they show a Python handler's traceback (devtools/tracebacks.py)
            stack = str(err.get("stack") or "").splitlines()
            failure.script_stack = "\n".join(s for s in stack if "node_worker.js" not in s)
            raise failure
        return reply.get("result")

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        msg, deadline, left_ms = self._message(context)
        msg["event"] = event
        try:
            reply = self._pool.call(msg, deadline)
        except (WorkerTimeout, WorkerDied) as exc:
            raise self._stopped(exc, left_ms) from None
        return self._result(reply)

    async def acall(self, event: dict[str, Any], context: Any = None) -> Any:
        """:meth:`__call__` for the ASGI door, awaited on the event loop (no thread hop)."""
        msg, deadline, left_ms = self._message(context)
        msg["event"] = event
        try:
            reply = await self._pool.acall(msg, deadline)
        except (WorkerTimeout, WorkerDied) as exc:
            raise self._stopped(exc, left_ms) from None
        return self._result(reply)
