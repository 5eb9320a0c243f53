"""CloudFront Functions on ``mini-racer`` (an embedded V8; ``pip install edge-middleware[js]``),
the engine used when no ``node`` is installed (or with ``engine="mini-racer"``).

It answers with the same reply shape as a ``node`` worker (``node_worker.js``), so
:class:`~edge_middleware.js.cffunctions.CloudFrontFunction` does not care which engine ran.
The sandbox is the node engine's: no timers, ``eval`` or ``new Function``
(``minirace_harness.js``), with node's ``querystring`` module. Differences from the ``node``
engine: ``require('crypto')`` and (2.0) ``require('buffer')`` are not available; the compute
figure includes the call's thread hops (about 0.3-0.5 ms here); and
``setTimeout``/``clearTimeout`` are ``undefined`` names on the global object (mini-racer declares
them; they cannot be deleted), so calling one is a ``TypeError``, not a ``ReferenceError``.
"""

from __future__ import annotations

import atexit
import json
import re
import sys
import threading
import time
import weakref
from importlib import resources
from typing import Any

from ..exceptions import ConfigurationError
from .load_errors import js_error, load_error

__all__ = ["MiniRacerFunction", "available"]

_IMPORT = re.compile(r"^[ \t]*import[ \t]+(\w+)[ \t]+from[ \t]+['\"]([\w-]+)['\"][ \t]*;?", re.M)


#: ``_call``'s answer when V8 stopped the call at the memory limit.
_OVER_MEMORY: dict[str, Any] = {"ok": False}


def available() -> bool:
    try:
        import py_mini_racer  # noqa: F401
    except ImportError:
        return False
    return True


#: The invoker, wrapped: an async call's promise is not handed back (waiting on it from here
#: ran its continuation where no time limit holds); what it settles to goes to
#: ``globalThis.__edge_out``, and the call gives ``null``
_SETTLE = (
    "(function (invoke) { return function (event) { var r = invoke(event);"
    " if (!r || typeof r.then !== 'function') return r; globalThis.__edge_out = null;"
    " r.then(function (v) { globalThis.__edge_out = [1, v]; },"
    " function (e) { globalThis.__edge_out = [0, String(e)]; }); return null; }; })"
)


def _close_stopped(ctx: Any) -> None:
    """Close a context whose call was stopped mid-continuation (it stays unusable: its
    continuation runs again at every eval). V8's word on the stopped call then comes back to
    a loop ``close()`` has closed: that one "Event loop is closed" is expected, not reported."""
    hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        if not (
            isinstance(unraisable.exc_value, RuntimeError)
            and "Event loop is closed" in str(unraisable.exc_value)
        ):
            hook(unraisable)

    sys.unraisablehook = quiet
    try:
        ctx.close()
    finally:
        sys.unraisablehook = hook


def _named(code: str, file: object) -> str:
    """``code`` named ``file`` in V8's errors and stack traces, as a node ``vm`` script's
    ``filename`` is (js/load_errors.py tells the engine's files from the function's)."""
    return f"{code}\n//# sourceURL={file}"


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


#: every open function, closed at exit: mini-racer joins its own thread at interpreter
#: shutdown when a context is still open, and on Python 3.12+ that wait never ended (a
#: module-level middleware kept ``serve`` and uvicorn alive after Ctrl-C)
_OPEN: weakref.WeakSet[MiniRacerFunction] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for function in list(_OPEN):
        function.close()


class MiniRacerFunction:
    """One CloudFront Function in its own V8 context; calls are serialised by a lock."""

    def __init__(self, init: dict[str, Any], name: str) -> None:
        try:
            from py_mini_racer import MiniRacer  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "CloudFrontFunction.engine",
                "mini-racer",
                "pip install edge-middleware[js] (mini-racer), or a node executable",
            ) from None
        self._lock = threading.Lock()
        self._limit = float(init["limitMs"]) / 1000
        self._init, self._name = init, name
        self._ctx: Any = None
        self._invoke: Any = None
        self._build()
        _OPEN.add(self)

    def _build(self) -> None:
        """A fresh context with the function loaded (again after a call the engine had to
        stop: a stopped continuation leaves its context unusable)."""
        from py_mini_racer import MiniRacer

        init, name = self._init, self._name
        self._ctx = MiniRacer()
        try:
            ctx = self._ctx
            package = resources.files("edge_middleware.js")
            kvs = json.dumps(json.dumps(init.get("kvs") or {}))
            ctx.eval(
                f"globalThis.__edge_kvs_json = {kvs}; globalThis.__edge_bytes = function (v) {{"
                # the value's UTF-8 bytes, as node's Buffer gives them
                " var s = unescape(encodeURIComponent(String(v))), out = new Uint8Array(s.length);"
                " for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; };"
            )
            runtime = package.joinpath("cf_runtime.js")
            ctx.eval(_named(runtime.read_text(encoding="utf-8"), runtime))
            if init["runtime"] == "cloudfront-js-1.0":  # its non-standard String methods
                strings = package.joinpath("njs_strings.js")
                ctx.eval(_named(strings.read_text(encoding="utf-8"), strings))
            harness = package.joinpath("minirace_harness.js")
            v2 = init["runtime"] == "cloudfront-js-2.0"
            # the invoker, made before the function's code runs (it cannot replace it)
            invoke = ctx.eval(
                _named(
                    f"({harness.read_text(encoding='utf-8')})"
                    f"(globalThis, {'globalThis.__edge_cloudfront' if v2 else 'null'})",
                    harness,
                )
            )
            invoke = ctx.eval(_SETTLE)(invoke)
            code = _IMPORT.sub(r"var \1 = require('\2');", init["code"])
            ctx.eval(_named(code, init.get("name") or name), timeout_sec=self._limit * 4)
            if ctx.eval("typeof handler") != "function":
                raise RuntimeError("the function does not define a function handler(event)")
            self._invoke = invoke
            # CloudFront's 2 MB: what the function may hold beyond the loaded code and its
            # KeyValueStore (V8 checks it when it collects garbage, so it is approximate)
            self._memory = int(init.get("memoryBytes") or 0)
            if self._memory:
                ctx.set_hard_memory_limit(ctx.heap_stats()["used_heap_size"] + self._memory)
            # the compute figure leaves out the engine's own cost of a call (its thread hops)
            noop = ctx.eval("(function () { return 0; })")
            self._overhead = min(_timed(noop) for _ in range(20))
        except Exception as exc:
            self.close()
            source = init.get("name") or name
            raise load_error(name, source, js_error(exc), file=source) from None

    def call(
        self, msg: dict[str, Any], deadline: float, limit: float | None = None
    ) -> dict[str, Any]:
        with self._lock:
            if self._invoke is None:
                return {"ok": False, "error": {"name": "Error", "message": "the engine is closed"}}
            reply = self._call(msg)
            if reply is _OVER_MEMORY:
                # V8 checks the limit when it collects garbage, and garbage that earlier calls
                # left in the old generation counts: collect it all, and run the call again
                # once (a function has no side effects but its logs and origin change, which
                # the harness starts afresh). A function that really needs more fails again.
                self._rearm()
                reply = self._call(msg)
                if reply is _OVER_MEMORY:
                    self._rearm()
                    cap = f"{self._memory / 1024 / 1024:g} MB"
                    return {
                        "ok": False,
                        "error": {"name": "MemoryLimitError", "message": f"used more than {cap}"},
                        "computeUs": 0.0,
                    }
            return reply

    def _rearm(self) -> None:
        self._ctx.low_memory_notification()
        self._ctx.set_hard_memory_limit(self._ctx.heap_stats()["used_heap_size"] + self._memory)

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        from py_mini_racer import JSOOMException, JSTimeoutException

        t0 = time.perf_counter()
        try:
            out = self._invoke(msg["eventJson"], timeout_sec=self._limit)
            if out is None:
                # an async call: its continuation runs at the next eval, bounded as the call
                # was (``await kvs.get(...); while (true) {}`` held V8's loop for ever)
                self._ctx.eval("0", timeout_sec=self._limit)
                settled = json.loads(self._ctx.eval("JSON.stringify(globalThis.__edge_out)"))
                if settled is None:  # nothing can settle it now: CloudFront stops it too
                    raise TimeoutError("the function's promise never settled")
                if not settled[0]:  # (the harness answers a function's own failures)
                    return {"ok": False, "error": {"name": "Error", "message": settled[1]}}
                out = settled[1]
        except JSOOMException:
            return _OVER_MEMORY
        except (JSTimeoutException, TimeoutError) as exc:
            # the terminated call's own completion arrives late: let it land, then start
            # afresh (a stopped continuation leaves the context unusable)
            ctx, self._ctx, self._invoke = self._ctx, None, None
            _close_stopped(ctx)
            self._build()
            return {
                "ok": False,
                "throttled": True,
                "error": {"name": "Error", "message": str(exc)},
                "computeUs": (time.perf_counter() - t0) * 1e6,
            }
        except Exception as exc:  # a JS error that escaped the harness
            if self._memory and self._ctx.was_hard_memory_limit_reached():
                return _OVER_MEMORY  # the termination surfaced as another error
            return {"ok": False, "error": {"name": type(exc).__name__, "message": str(exc)}}
        if not isinstance(out, str):
            if self._memory and self._ctx.was_hard_memory_limit_reached():
                return _OVER_MEMORY
            return {"ok": False, "error": {"name": "Error", "message": f"the engine gave {out!r}"}}
        reply: dict[str, Any] = json.loads(out)
        spent = time.perf_counter() - t0 - self._overhead
        reply["computeUs"] = max(0.0, spent) * 1e6
        return reply

    def close(self) -> None:
        ctx, self._ctx = self._ctx, None
        self._invoke = None
        if ctx is not None:
            ctx.close()
