"""Case 4 — growth: cost per request as headers, behaviors and bodies grow; memory.

* headers: 10, 50, 200 request headers; bare vs wrapped (no triggers) vs four triggers;
* behaviors: 1, 25, 75 path patterns (the request matches only the last, the default);
* bodies: 1 KB to 100 MB streamed responses (64 KB messages), caching disabled;
* memory: peak RSS while 1 GB streams through with no body trigger (fresh process each);
  MemoryStorage filled through the middleware to 10x its ``max_bytes``.

Targets: peak RSS under 64 MB above idle while streaming 1 GB; MemoryStorage within max_bytes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from edge_middleware import Behavior, EdgeMiddleware, EdgeWSGIMiddleware

from . import apps
from ._harness import (
    REPO,
    CaseResult,
    Section,
    Settings,
    Spec,
    Target,
    async_runner,
    comparison,
    interleave,
    sync_runner,
    verdict,
)

HEADER_COUNTS = (10, 50, 200)
BEHAVIOR_COUNTS = (1, 25, 75)
BODY_SIZES = (
    ("1 KB", 1 << 10),
    ("64 KB", 64 << 10),
    ("1 MB", 1 << 20),
    ("10 MB", 10 << 20),
    ("100 MB", 100 << 20),
)
MAX_STREAM_RSS = 64 << 20
FILL_MAX_BYTES = 8 << 20
FILL_BODY = 32 << 10
FILL_FACTOR = 10
MB = 1 << 20


def _asgi_headers(n: int) -> list[tuple[bytes, bytes]]:
    base = [(b"host", b"bench.local"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*")]
    return base + [(b"x-bench-%d" % i, b"value-%d-abcdefghij" % i) for i in range(n - len(base))]


def _wsgi_headers(n: int) -> dict[str, str]:
    base = {"Host": "bench.local", "User-Agent": "bench/1.0", "Accept": "*/*"}
    base.update({f"X-Bench-{i}": f"value-{i}-abcdefghij" for i in range(n - len(base))})
    return base


def headers(settings: Settings, result: CaseResult) -> None:
    app = apps.starlette_app()
    wapp = apps.flask_app()
    plain = apps.config()
    four = apps.config(apps.four_triggers())
    loop = asyncio.new_event_loop()
    try:
        variants = {}
        specs = {}
        for n in HEADER_COUNTS:
            scope = apps.asgi_scope(headers=_asgi_headers(n))
            base = f"ASGI bare, {n} headers"
            variants[base] = async_runner(loop, apps.asgi_driver(app, scope))
            for label, cfg in (("wrapped", plain), ("four triggers", four)):
                name = f"ASGI {label}, {n} headers"
                variants[name] = async_runner(
                    loop, apps.asgi_driver(EdgeMiddleware(app, config=cfg), scope)
                )
                specs[name] = Spec(base, chart=False)
        for n in HEADER_COUNTS:
            env = apps.wsgi_environ(headers=_wsgi_headers(n))
            base = f"WSGI bare, {n} headers"
            variants[base] = sync_runner(apps.wsgi_driver(wapp, env))
            for label, cfg in (("wrapped", plain), ("four triggers", four)):
                name = f"WSGI {label}, {n} headers"
                variants[name] = sync_runner(
                    apps.wsgi_driver(EdgeWSGIMiddleware(wapp, config=cfg), env)
                )
                specs[name] = Spec(base, chart=False)
        stats = interleave(variants, settings)
    finally:
        loop.close()
    section = comparison(
        "4",
        "4a. Growth — request headers (constant app, caching disabled)",
        stats,
        specs,
        group="4 headers",
        result=result,
        key="growth/headers",
    )
    for front in ("ASGI", "WSGI"):
        lo, hi = HEADER_COUNTS[0], HEADER_COUNTS[-1]
        a = result.figures[f"growth/headers/{front} wrapped, {lo} headers/added_us"]
        b = result.figures[f"growth/headers/{front} wrapped, {hi} headers/added_us"]
        section.notes.append(
            f"{front} no-trigger overhead goes from {a:.1f} µs at {lo} headers to {b:.1f} µs at "
            f"{hi} ({(b - a) / (hi - lo):.2f} µs per extra header)."
        )
    result.sections.append(section)


def behaviors(settings: Settings, result: CaseResult) -> None:
    app = apps.starlette_app()
    scope = apps.asgi_scope(path="/")
    loop = asyncio.new_event_loop()
    try:
        variants = {"ASGI bare": async_runner(loop, apps.asgi_driver(app, scope))}
        specs = {}
        for n in BEHAVIOR_COUNTS:
            extra = [Behavior(f"/section-{i}/*", cache=apps.NO_CACHE) for i in range(n - 1)]
            mw = EdgeMiddleware(app, config=apps.config(behaviors=extra))
            name = f"wrapped, {n} path pattern{'s' if n > 1 else ''}"
            variants[name] = async_runner(loop, apps.asgi_driver(mw, scope))
            specs[name] = Spec("ASGI bare", chart=False)
        stats = interleave(variants, settings)
    finally:
        loop.close()
    section = comparison(
        "4",
        "4b. Growth — behaviors (ASGI; `/` matches only the default, so every pattern is tried)",
        stats,
        specs,
        group="4 behaviors",
        result=result,
        key="growth/behaviors",
    )
    result.sections.append(section)


def bodies(settings: Settings, result: CaseResult) -> None:
    sizes = BODY_SIZES[:4] if settings.quick else BODY_SIZES
    loop = asyncio.new_event_loop()
    try:
        variants = {}
        specs = {}
        scope = apps.asgi_scope()
        env = apps.wsgi_environ()
        for label, size in sizes:
            a = apps.asgi_streamer(size)
            w = apps.wsgi_streamer(size)
            variants[f"ASGI bare, {label}"] = async_runner(loop, apps.asgi_driver(a, scope))
            name = f"ASGI wrapped, {label}"
            mw = EdgeMiddleware(a, config=apps.config())
            variants[name] = async_runner(loop, apps.asgi_driver(mw, scope))
            specs[name] = Spec(f"ASGI bare, {label}", chart=size in (1 << 20, 100 << 20))
            variants[f"WSGI bare, {label}"] = sync_runner(apps.wsgi_driver(w, env))
            name = f"WSGI wrapped, {label}"
            wmw = EdgeWSGIMiddleware(w, config=apps.config())
            variants[name] = sync_runner(apps.wsgi_driver(wmw, env))
            specs[name] = Spec(f"WSGI bare, {label}", chart=size in (1 << 20, 100 << 20))
        stats = interleave(variants, settings, warmup=2)
    finally:
        loop.close()
    section = comparison(
        "4",
        "4c. Growth — streamed response bodies (64 KB messages, caching disabled, no triggers)",
        stats,
        specs,
        group="4 bodies",
        result=result,
        key="growth/bodies",
    )
    (small, _), (label, size) = sizes[0], sizes[-1]
    messages = size // (64 << 10)
    for front in ("ASGI", "WSGI"):
        first = result.figures[f"growth/bodies/{front} wrapped, {small}/added_us"]
        last = result.figures[f"growth/bodies/{front} wrapped, {label}/added_us"]
        per = (last - first) / max(1, messages - 1)
        result.figures[f"growth/bodies/{front}/added_us_per_message"] = round(per, 3)
        section.notes.append(
            f"{front}: the middleware adds {per:.2f} µs per streamed 64 KB message "
            f"(from +{first:.1f} µs at {small} to +{last:.1f} µs at {label}, {messages} messages)."
        )
    section.notes.append(
        "The app sends one shared 64 KB buffer per message, so these are the per-message "
        "costs of each path, not memory copies (see 4d for memory)."
    )
    result.sections.append(section)


def _probe(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memprobe", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def memory(settings: Settings, result: CaseResult) -> None:
    total = settings.stream_bytes
    size_label = f"{total >> 30} GB" if total >= 1 << 30 else f"{total >> 20} MB"
    section = Section(
        f"4d. Memory — peak RSS while streaming {size_label} in 1 MB chunks (fresh process each)",
        [
            "variant",
            "idle RSS MB",
            "peak RSS MB",
            "peak above idle MB",
            "seconds",
            "target",
            "result",
        ],
    )
    modes = [
        ("asgi-bare", "ASGI bare app", False),
        ("asgi", "ASGI wrapped, caching disabled", True),
        ("wsgi-bare", "WSGI bare app", False),
        ("wsgi", "WSGI wrapped, caching disabled", True),
        ("asgi-cacheable", "ASGI wrapped, cacheable answer (default policy)", False),
        ("wsgi-cacheable", "WSGI wrapped, cacheable answer (default policy)", False),
    ]
    reset_ok = True
    for mode, label, judged in modes:
        d = _probe("stream", mode, str(total))
        if d["bytes"] != d["expected"]:
            raise RuntimeError(f"memprobe {mode}: received {d['bytes']} of {d['expected']} bytes")
        idle, peak = int(d["idle"]), int(d["peak"])  # type: ignore[call-overload]
        reset_ok = reset_ok and bool(d["hwm_reset"])
        above = peak - idle
        target = verdict_s = ""
        result.figures[f"memory/stream/{mode}/above_idle_mb"] = round(above / MB, 2)
        if judged:
            ok = above < MAX_STREAM_RSS
            target, verdict_s = "< 64 MB above idle", verdict(ok)
            result.targets.append(
                Target(
                    "4",
                    f"4 memory: {label}, {size_label} stream peak < 64 MB above idle",
                    f"{above / MB:.1f} MB",
                    ok,
                )
            )
        section.rows.append(
            [
                label,
                f"{idle / MB:.1f}",
                f"{peak / MB:.1f}",
                f"{above / MB:.1f}",
                f"{d['seconds']:.2f}",
                target,
                verdict_s,
            ]
        )
    if not reset_ok:
        section.notes.append("VmHWM could not be reset here: peak is the process's lifetime peak.")
    if total < 1 << 30:
        section.notes.append(f"--quick streams {size_label}; the full run streams 1 GB.")
    section.notes.append(
        "Cacheable rows have no target: they show the buffer kept to store an object, bounded by "
        "`EdgeSettings.max_object_bytes` (64 MB by default), before the rest is streamed."
    )
    result.sections.append(section)

    fill = Section(
        f"4e. Memory — MemoryStorage(max_bytes={FILL_MAX_BYTES >> 20} MB) filled through the "
        f"middleware with {FILL_FACTOR}\u00d7 that in {FILL_BODY >> 10} KB objects",
        [
            "front door",
            "objects offered",
            "max currsize MB",
            "max entries \u00d7 body MB",
            "requests over budget",
            "RSS growth MB",
            "target",
            "result",
        ],
    )
    for mode in ("asgi", "wsgi"):
        d = _probe("fill", mode, str(FILL_MAX_BYTES), str(FILL_BODY), str(FILL_FACTOR))
        ok = (
            int(d["max_currsize"]) <= FILL_MAX_BYTES  # type: ignore[call-overload]
            and int(d["entries_bytes_bound"]) <= FILL_MAX_BYTES  # type: ignore[call-overload]
            and d["requests_over_budget"] == 0
        )
        result.targets.append(
            Target(
                "4",
                f"4 memory: {mode.upper()} MemoryStorage stays within max_bytes when filled "
                f"{FILL_FACTOR}\u00d7 past it",
                f"max {int(d['max_currsize']) / MB:.2f} of {FILL_MAX_BYTES / MB:.0f} MB",  # type: ignore[call-overload]
                ok,
            )
        )
        result.figures[f"memory/fill/{mode}/rss_growth_mb"] = round(int(d["rss_growth"]) / MB, 2)  # type: ignore[call-overload]
        fill.rows.append(
            [
                mode.upper(),
                str(d["requests"]),
                f"{int(d['max_currsize']) / MB:.2f}",  # type: ignore[call-overload]
                f"{int(d['entries_bytes_bound']) / MB:.2f}",  # type: ignore[call-overload]
                str(d["requests_over_budget"]),
                f"{int(d['rss_growth']) / MB:.1f}",  # type: ignore[call-overload]
                "currsize ≤ max_bytes after every request",
                verdict(ok),
            ]
        )
    result.sections.append(fill)


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    headers(settings, result)
    behaviors(settings, result)
    bodies(settings, result)
    memory(settings, result)
    return result
