"""Memory probes for case 4, each run in a fresh process so its RSS figures are its own.

    python -m benchmarks.memprobe stream MODE BYTES
    python -m benchmarks.memprobe fill asgi|wsgi MAX_BYTES BODY_BYTES FACTOR

``stream``: one request whose answer is BYTES streamed in 1 MB chunks (the app reuses one
buffer), driven in-process, the body discarded as it arrives. MODE is ``asgi``/``wsgi``
(through the middleware, caching disabled, no body trigger), ``asgi-bare``/``wsgi-bare`` (the
app alone) or ``asgi-cacheable``/``wsgi-cacheable`` (a cacheable answer under the default
policy, which buffers up to ``max_object_bytes`` to store it). Reports the idle RSS just before
the request and the peak RSS (``VmHWM``, reset to the idle RSS first where the kernel allows).

``fill``: a MemoryStorage(max_bytes=MAX_BYTES) behind the middleware, filled through it with
cacheable BODY_BYTES answers (a distinct bytes object each) on distinct URLs until FACTOR times
MAX_BYTES have been offered; after every request the storage's ``currsize`` and entry count are
recorded. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import sys
import time
from typing import Any

from edge_middleware import Behavior, EdgeMiddleware, EdgeWSGIMiddleware, MemoryStorage

from . import apps
from ._harness import proc_status, reset_peak_rss

CHUNK = 1 << 20


def stream(mode: str, total: int) -> dict[str, Any]:
    is_asgi = mode.startswith("asgi")
    # the default policy caches (buffering up to max_object_bytes); apps.config() does not
    cfg = apps.config(Behavior()) if mode.endswith("-cacheable") else apps.config()
    if is_asgi:
        origin: Any = apps.asgi_streamer(total, CHUNK, fresh=True)
        app: Any = origin if mode == "asgi-bare" else EdgeMiddleware(origin, config=cfg)
        small: Any = EdgeMiddleware(apps.asgi_streamer(CHUNK, CHUNK), config=apps.config())
    else:
        origin = apps.wsgi_streamer(total, CHUNK, fresh=True)
        app = origin if mode == "wsgi-bare" else EdgeWSGIMiddleware(origin, config=cfg)
        small = EdgeWSGIMiddleware(apps.wsgi_streamer(CHUNK, CHUNK), config=apps.config())

    received = 0
    loop = asyncio.new_event_loop() if is_asgi else None

    def once(target: Any) -> int:
        count = 0
        if loop is not None:
            scope = apps.asgi_scope()

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                nonlocal count
                if message["type"] == "http.response.body":
                    count += len(message.get("body", b""))

            loop.run_until_complete(target(scope.copy(), receive, send))
        else:
            env = apps.wsgi_environ()
            env["wsgi.input"] = io.BytesIO()
            result = target(env, lambda *a: None)
            try:
                for chunk in result:
                    count += len(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return count

    once(small)  # imports, thread pools, first-call caches: all part of "idle"
    gc.collect()
    idle = proc_status("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    received = once(app)
    elapsed = time.perf_counter() - t0
    peak = proc_status("VmHWM")
    if loop is not None:
        loop.close()
    return {
        "mode": mode,
        "bytes": received,
        "expected": total,
        "idle": idle,
        "peak": peak,
        "hwm_reset": reset,
        "seconds": elapsed,
    }


def _fresh_body(pattern: bytes, query: bytes, size: int) -> bytes:
    """A distinct bytes object per URL, so RSS reflects what the storage really keeps."""
    start = sum(query) % 256
    return pattern[start : start + size]


def fill(mode: str, max_bytes: int, body_bytes: int, factor: int) -> dict[str, Any]:
    storage = MemoryStorage(max_bytes=max_bytes)
    cfg = apps.config(Behavior(cache=apps.CACHE_ALL_QS))
    pattern = bytes(range(256)) * (body_bytes // 256 + 1)
    n = factor * max_bytes // body_bytes
    max_seen = 0
    max_entries = 0
    over = 0
    misses = 0
    rss0 = proc_status("VmRSS")
    if mode == "asgi":
        headers = [
            (b"content-type", b"application/octet-stream"),
            (b"cache-control", b"max-age=3600"),
            (b"content-length", str(body_bytes).encode()),
        ]

        async def origin(scope: Any, receive: Any, send: Any) -> None:
            body = _fresh_body(pattern, scope["query_string"], body_bytes)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        mw: Any = EdgeMiddleware(origin, config=cfg, storage=storage)
        scope = apps.asgi_scope()

        async def run_all() -> None:
            nonlocal max_seen, max_entries, over, misses
            for i in range(n):
                _, h, _ = await apps.asgi_once(mw, dict(scope, query_string=b"n=%d" % i))
                misses += apps.x_cache(h).startswith("Miss")
                size = storage.currsize
                max_seen = max(max_seen, size)
                max_entries = max(max_entries, len(storage))
                over += size > max_bytes

        asyncio.run(run_all())
    else:

        def worigin(environ: Any, start_response: Any) -> list[bytes]:
            start_response(
                "200 OK",
                [
                    ("Content-Type", "application/octet-stream"),
                    ("Cache-Control", "max-age=3600"),
                    ("Content-Length", str(body_bytes)),
                ],
            )
            return [_fresh_body(pattern, environ["QUERY_STRING"].encode(), body_bytes)]

        mw = EdgeWSGIMiddleware(worigin, config=cfg, storage=storage)
        env = apps.wsgi_environ()
        for i in range(n):
            _, h, _ = apps.wsgi_once(mw, dict(env, QUERY_STRING=f"n={i}"))
            misses += apps.x_cache(h).startswith("Miss")
            size = storage.currsize
            max_seen = max(max_seen, size)
            max_entries = max(max_entries, len(storage))
            over += size > max_bytes
    gc.collect()
    return {
        "mode": mode,
        "requests": n,
        "stored_bytes_offered": n * body_bytes,
        "max_bytes": max_bytes,
        "max_currsize": max_seen,
        "final_currsize": storage.currsize,
        "max_entries": max_entries,
        "entries_bytes_bound": max_entries * body_bytes,
        "requests_over_budget": over,
        "misses": misses,
        "rss_growth": proc_status("VmRSS") - rss0,
    }


def main(argv: list[str]) -> None:
    if argv[0] == "stream":
        out = stream(argv[1], int(argv[2]))
    elif argv[0] == "fill":
        out = fill(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
