"""CloudFront Functions (``cloudfront-js-1.0`` / ``cloudfront-js-2.0``) as handler objects.

A :class:`CloudFrontFunction` is called like a Python Lambda@Edge handler, with the
Lambda@Edge-shaped event the pipeline builds, and returns a Lambda@Edge-shaped result, so the
pipeline runs it unchanged. Inside, it converts the event to CloudFront Functions' own shape
(``event.version``, ``context.eventType``, ``viewer.ip``, ``headers`` as
``{name: {value, multiValue}}``, ``querystring`` and ``cookies`` objects), runs the JavaScript in a
sandboxed ``node`` worker (``node_worker.js``), and converts the returned request or response
back (``shapes.py``). docs/cloudfront-functions.md is the spec, with sources.

Errors, as CloudFront reports them:

- the function threw, or returned something that is not an object: 503 ``FunctionExecutionError``
- it ran far past its compute budget: 503 ``FunctionThrottledError`` (stopped)
- its result fails validation: 502 ``FunctionValidationError``
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..core import capture
from ..exceptions import (
    CloudFrontError,
    ConfigurationError,
    FunctionExecutionError,
    FunctionThrottledError,
    FunctionValidationError,
    LambdaValidationError,
)
from . import minirace
from .engine import NodePool, WorkerDied, WorkerTimeout, find_node
from .es51 import first_unsupported
from .minirace import MiniRacerFunction
from .origin_change import origin_change
from .paths import resolve
from .shapes import Runtime, from_cf_request, from_cf_response, to_cf_event

__all__ = ["MAX_FUNCTION_MEMORY", "MAX_FUNCTION_SIZE", "CloudFrontFunction"]

RUNTIMES: tuple[Runtime, ...] = ("cloudfront-js-1.0", "cloudfront-js-2.0")
#: CloudFront Functions quota: "Maximum size of a function: 10 KB".
MAX_FUNCTION_SIZE = 10 * 1024
#: CloudFront Functions quota: "Maximum memory: 2 MB" (enforced by the mini-racer engine).
MAX_FUNCTION_MEMORY = 2 * 1024 * 1024
#: CloudFront Functions run on viewer events only.
EVENT_TYPES = ("viewer-request", "viewer-response")

logger = logging.getLogger("edge_middleware.js")


# -- the handler object ------------------------------------------------------------------------
def _load_kvs(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str | os.PathLike):
        try:
            value = json.loads(resolve(value).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(field, str(value), f"a readable JSON file ({exc})") from None
    if not isinstance(value, Mapping):
        raise ConfigurationError(field, value, "a mapping of keys to values, or a JSON file path")
    # AWS's import format: {"data": [{"key": ..., "value": ...}]}
    if isinstance(value.get("data"), list):
        value = {item["key"]: item["value"] for item in value["data"]}
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        for k, v in value.items()
    }


def _choose_engine(engine: str | None, node: str | None) -> Literal["node", "mini-racer"]:
    """``node`` when there is one (faster here, see engine.py), else ``mini-racer``."""
    engine = engine or os.environ.get("EDGE_MIDDLEWARE_JS_ENGINE") or "auto"
    if engine == "mini-racer":
        return "mini-racer"
    if engine not in ("auto", "node"):
        raise ConfigurationError("CloudFrontFunction.engine", engine, "auto | node | mini-racer")
    if engine == "auto" and node is None and minirace.available():
        try:
            find_node()
        except ConfigurationError:
            return "mini-racer"
    try:
        find_node(node)
    except ConfigurationError as exc:
        if engine == "auto" and node is None:  # a Function runs without node too
            raise ConfigurationError(
                exc.field,
                exc.value,
                f"{exc.expected}; or, for CloudFront Functions without Node.js, the embedded "
                "V8 engine: pip install 'edge-middleware[js]'",
            ) from None
        raise
    return "node"


def _split_reply(raw: bytes) -> dict[str, Any]:
    # node_worker.js answers a raw event with the reply object, a tab, then the result JSON
    head, _, tail = raw.partition(b"\t")
    reply: dict[str, Any] = json.loads(head)
    if tail:
        reply["resultJson"] = tail
    return reply


class CloudFrontFunction:
    """A CloudFront Function, run by the pipeline like a Lambda@Edge handler.

    :param source: a path to the function's ``.js`` file; or the code itself with
        ``code=True`` (CloudFormation's inline ``FunctionCode``).
    :param runtime: ``"cloudfront-js-2.0"`` (the default) or ``"cloudfront-js-1.0"``.
    :param key_value_store: the KeyValueStore associated with the function (2.0 only): a
        mapping, a JSON file with one, or AWS's import format ``{"data": [{"key", "value"}]}``.
    :param key_value_store_id: the id ``cf.kvs(id)`` is given (any id resolves to the one store).
    :param name: the function's name in logs and errors (default: the file's stem).
    :param compute_budget_ms: the CPU time that counts as 100 % compute utilization (the
        figure is CPU time, so a busy machine does not inflate it).
    :param max_compute_ms: a call still running after this long (wall clock, with the time to
        reach the engine) is stopped: 503 ``FunctionThrottledError``. CloudFront stops
        functions that run far past their budget; the default leaves room for a busy laptop.
    :param workers: the most ``node`` workers kept for this function.
    :param engine: ``"node"`` (a pool of ``node`` workers), ``"mini-racer"`` (embedded V8, from
        ``pip install edge-middleware[js]``) or ``"auto"`` (the default, also read from
        ``$EDGE_MIDDLEWARE_JS_ENGINE``): ``node`` when installed, else ``mini-racer``.

    Example::

        Behavior(viewer_request=CloudFrontFunction("functions/rewrite.js"))

    The code must fit CloudFront's 10 KB function size; a larger one is refused here.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        code: bool = False,
        runtime: Runtime = "cloudfront-js-2.0",
        key_value_store: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        key_value_store_id: str = "local",
        name: str | None = None,
        compute_budget_ms: float = 1.0,
        max_compute_ms: float = 250.0,
        workers: int = 2,
        node: str | None = None,
        engine: Literal["auto", "node", "mini-racer"] | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigurationError("CloudFrontFunction.runtime", runtime, " | ".join(RUNTIMES))
        if not isinstance(source, str | os.PathLike):
            raise ConfigurationError(
                "CloudFrontFunction.source", source, "a .js file's path (or code with code=True)"
            )
        if code:
            text, self.path = str(source), None
            default_name = "function"
        else:
            self.path = resolve(source)
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    "CloudFrontFunction.source", str(source), f"a readable .js file ({exc})"
                ) from None
            default_name = self.path.stem
        size = len(text.encode("utf-8"))
        if size > MAX_FUNCTION_SIZE:
            raise ConfigurationError(
                "CloudFrontFunction.source",
                f"{name or default_name} ({size} bytes)",
                f"a function of at most {MAX_FUNCTION_SIZE} bytes (10 KB, CloudFront Functions' "
                f"maximum function size); it is {size} bytes",
            )
        if runtime == "cloudfront-js-1.0":
            unsupported = first_unsupported(text)
            if unsupported is not None:
                construct, line = unsupported
                raise ConfigurationError(
                    "CloudFrontFunction.source",
                    f"{name or default_name} line {line}: {construct}",
                    "code that cloudfront-js-1.0 runs (ES 5.1 with template literals, arrow "
                    f"functions, rest parameters and **): {construct} need cloudfront-js-2.0",
                )
        kvs = _load_kvs(key_value_store, "CloudFrontFunction.key_value_store")
        self._kvs_file = (
            resolve(key_value_store) if isinstance(key_value_store, str | os.PathLike) else None
        )
        if key_value_store is not None and runtime != "cloudfront-js-2.0":
            raise ConfigurationError(
                "CloudFrontFunction.key_value_store", "cloudfront-js-1.0", "cloudfront-js-2.0"
            )
        for attr, val in (
            ("compute_budget_ms", compute_budget_ms),
            ("max_compute_ms", max_compute_ms),
        ):
            if isinstance(val, bool) or not isinstance(val, int | float) or val <= 0:
                raise ConfigurationError(f"CloudFrontFunction.{attr}", val, "a number > 0")
        self.code = text
        self.size = size
        self.runtime: Runtime = runtime
        self.name = name or default_name
        self.compute_budget_ms = float(compute_budget_ms)
        self.max_compute_ms = float(max_compute_ms)
        # the pipeline's display name for the trigger (config.Trigger.display_name)
        self.__qualname__ = self.name
        self.__module__ = ""
        self._kvs_json = json.dumps(kvs, sort_keys=True) if key_value_store is not None else ""
        init = {
            "kind": "cf",
            "code": text,
            "runtime": runtime,
            "kvs": {key_value_store_id: kvs} if key_value_store is not None else {},
            "limitMs": self.max_compute_ms,
            "memoryBytes": MAX_FUNCTION_MEMORY,
            # the file in errors and stack traces (node: the vm script's filename)
            "name": str(self.path) if self.path is not None else f"<inline:{self.name}>",
        }
        field = "CloudFrontFunction.source"  # code that does not load: js/load_errors.py
        self.engine = _choose_engine(engine, node)
        self._pool: NodePool | MiniRacerFunction
        if self.engine == "node":
            self._pool = NodePool(init, size=workers, node=node, name=field)
        else:
            self._pool = MiniRacerFunction(init, field)
        #: compute utilization of the last invocation (CloudFront's 0-100+ figure)
        self.last_compute_utilization: int | None = None

    #: CloudFront Functions run on viewer events only (read by config.Behavior)
    event_types = EVENT_TYPES
    #: It stops itself at its deadline (the worker is killed), so the pipeline may call it
    #: without a watchdog thread (read by handlers.HandlerRunner)
    keeps_own_deadline = True
    #: how CloudFront marks an answer it generated (lambda-edge.md §8; read by
    #: pipeline.respond.generated)
    generated_result_type = "FunctionGeneratedResponse"
    generated_headers = ((b"Cloudfront-Functions", b"generated-by-CloudFront-Functions"),)
    #: viewer-response may set the body (lambda-edge.md §8; read by pipeline.base)
    sets_viewer_response_body = True

    @property
    def source_files(self) -> tuple[Path, ...]:
        """The files the code and the KeyValueStore came from (watched by ``serve --reload``)."""
        return tuple(p for p in (self.path, self._kvs_file) if p is not None)

    def _key(self) -> tuple[str, str, str]:
        return (self.code, self.runtime, self._kvs_json)

    def __eq__(self, other: object) -> bool:
        """The same code, runtime and KeyValueStore (wherever it was loaded from)."""
        if not isinstance(other, CloudFrontFunction):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"CloudFrontFunction({self.name!r}, runtime={self.runtime!r})"

    def close(self) -> None:
        """Stop this function's ``node`` workers."""
        self._pool.close()

    def run(
        self,
        cf_event: dict[str, Any],
        deadline: float | None = None,
        trace: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the function on a CloudFront Functions event; returns its raw result.

        Prints what the function logged (captured per invocation like a Python handler's
        prints); its compute utilization goes into the captured output. With ``trace``, the
        raw result and the origin change the function asked for are left in it
        (``"result"``, ``"origin"``).
        """
        if deadline is None:
            deadline = time.monotonic() + 5.0
        event_json = json.dumps(cf_event, separators=(",", ":"))
        try:
            if isinstance(self._pool, NodePool):
                line = b"E" + event_json.encode()
                raw = self._pool.call_raw(line, deadline, self.max_compute_ms / 1000)
                reply = _split_reply(raw)
            else:
                reply = self._pool.call({"eventJson": event_json}, deadline)
        except (WorkerTimeout, WorkerDied) as exc:
            raise self._stopped(exc) from None
        return self._result(reply, trace)

    async def arun(
        self,
        cf_event: dict[str, Any],
        deadline: float | None = None,
        trace: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`run` awaited on the event loop (the ASGI door), no thread hop."""
        if not isinstance(self._pool, NodePool):
            return await asyncio.to_thread(self.run, cf_event, deadline, trace)
        if deadline is None:
            deadline = time.monotonic() + 5.0
        line = b"E" + json.dumps(cf_event, separators=(",", ":")).encode()
        try:
            raw = await self._pool.acall_raw(line, deadline, self.max_compute_ms / 1000)
        except (WorkerTimeout, WorkerDied) as exc:
            raise self._stopped(exc) from None
        return self._result(_split_reply(raw), trace)

    def _stopped(self, exc: Exception) -> FunctionExecutionError:
        if isinstance(exc, WorkerTimeout):
            return FunctionThrottledError(
                f"The CloudFront function {self.name} ran past {self.max_compute_ms:g} ms, far "
                "over its compute budget, and was stopped",
                handler=self.name,
            )
        return FunctionExecutionError(
            f"The CloudFront function {self.name} crashed ({exc})", handler=self.name
        )

    def _result(self, reply: dict[str, Any], trace: dict[str, Any] | None) -> dict[str, Any]:
        compute_us = float(reply.get("computeUs", 0.0))
        utilization = round(compute_us / (self.compute_budget_ms * 10))
        self.last_compute_utilization = utilization
        logs = reply.get("logs") or ""
        if logs:
            sys.stdout.write(logs + "\n")
        # CloudFront shows compute utilization beside each invocation: it goes into this
        # invocation's captured output (the inspector, the dev server's log), not to stdout.
        captured = capture._current.get()
        if captured is not None and not captured.closed:
            captured.write(f"[compute utilization {utilization}]\n")
        logger.log(
            logging.INFO if utilization > 100 else logging.DEBUG,
            "CloudFront function %s: compute utilization %d",
            self.name,
            utilization,
        )
        if not reply.get("ok"):
            err = reply.get("error") or {}
            if reply.get("throttled"):
                raise FunctionThrottledError(
                    f"The CloudFront function {self.name} exceeded its compute budget "
                    f"(stopped after {compute_us / 1000:.1f} ms, compute utilization "
                    f"{utilization})",
                    handler=self.name,
                )
            raise FunctionExecutionError(
                f"The CloudFront function {self.name} threw {err.get('name', 'Error')}: "
                f"{err.get('message', '')}",
                handler=self.name,
            )
        result: Any = json.loads(reply.get("resultJson") or "null")
        if trace is not None:
            trace["result"] = result
        origin = reply.get("origin")
        if origin:
            change = origin_change(origin, self.name)
            if change is None:
                sys.stdout.write(f"{self.name}: origin change not applied {json.dumps(origin)}\n")
            elif trace is not None:
                trace["origin"] = change
        if not isinstance(result, dict):
            what = "nothing" if result is None else type(result).__name__
            raise FunctionExecutionError(
                f"The CloudFront function {self.name} returned {what}, "
                "not a request or response object",
                handler=self.name,
            )
        return result

    def _start(
        self, event: dict[str, Any], context: Any
    ) -> tuple[dict[str, Any], float | None, dict[str, Any] | None]:
        cf = event["Records"][0]["cf"]
        event_type = cf["config"]["eventType"]
        if event_type not in EVENT_TYPES:
            raise FunctionExecutionError(
                f"CloudFront Functions run on viewer events only, not {event_type}",
                handler=self.name,
            )
        deadline = None
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            deadline = time.monotonic() + remaining() / 1000
        cf_event = to_cf_event(event, self.runtime)
        # the trace shows the event this function really received (core.handlers.LambdaContext)
        trace: dict[str, Any] | None = None
        if hasattr(context, "edge_trace"):
            trace = context.edge_trace = {"event": cf_event}
        return cf_event, deadline, trace

    @staticmethod
    def _back(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        cf = event["Records"][0]["cf"]
        if cf["config"]["eventType"] == "viewer-request":
            if "statusCode" in result:
                return from_cf_response(result)
            return from_cf_request(result, cf["request"])
        return from_cf_response(result, cf.get("response"))

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Run on a Lambda@Edge-shaped event; return a Lambda@Edge-shaped result."""
        cf_event, deadline, trace = self._start(event, context)
        return self._back(event, self.run(cf_event, deadline, trace))

    async def acall(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """:meth:`__call__` for the ASGI door (read by ``handlers.HandlerRunner``)."""
        cf_event, deadline, trace = self._start(event, context)
        return self._back(event, await self.arun(cf_event, deadline, trace))

    @staticmethod
    def validation_error(exc: CloudFrontError) -> CloudFrontError:
        """The pipeline's validation failure under CloudFront Functions' name (a hook read by
        ``pipeline.base.PipelineBase._invalid``)."""
        if isinstance(exc, LambdaValidationError) and not isinstance(exc, FunctionValidationError):
            # the checks are Lambda@Edge's, their words name the function as a Function
            reason = exc.reason.replace("The Lambda function result", "The function's result")
            return FunctionValidationError(reason, field=exc.field, handler=exc.handler)
        return exc
