"""Case 5 — profile the hot paths once and list where a request's time goes.

Each scenario serves requests in a loop under pyinstrument (a sampling profiler; ``cProfile``
from the standard library when pyinstrument is not installed). Every sample is charged to the
innermost ``edge_middleware`` function on its stack, together with the first function outside
the package that it called (``[self]`` when the time is in the function's own code). Samples
inside the origin app (Starlette / Flask) and the benchmark driver are shown as such: they are
what the bare app costs too. The table lists the top costs per request with file:line (the
``def`` line), so they can be fixed; results/baseline.json keeps the figures of a reference run
so that a later run shows before and after.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_middleware import Behavior, EdgeMiddleware, EdgeWSGIMiddleware, MemoryStorage

from . import apps
from ._harness import REPO, CaseResult, Section, Settings, fmt_us
from .app_inside import app_inside

PKG = os.path.join(str(REPO), "edge_middleware") + os.sep
TOP = 8
TOP_DET = 6
ORIGIN_MARKERS = (
    os.sep + os.path.join("starlette", "applications.py"),
    os.sep + os.path.join("flask", "app.py"),
)
DRIVER = os.path.join(str(REPO), "benchmarks") + os.sep


@dataclass
class Scenario:
    name: str
    key: str
    #: serve n requests (synchronously; ASGI scenarios run their own loop)
    serve: Callable[[int], None]


def _scenarios() -> tuple[list[Scenario], asyncio.AbstractEventLoop]:
    app = apps.starlette_app()
    wapp = apps.flask_app()
    get = apps.asgi_scope()
    env = apps.wsgi_environ()
    cached = apps.config(Behavior(cache=apps.CACHE_ALL_QS))
    loop = asyncio.new_event_loop()

    def asgi(mw: Any) -> Callable[[int], None]:
        drive = apps.asgi_driver(mw, get)
        loop.run_until_complete(drive(2))
        return lambda n: loop.run_until_complete(drive(n))

    def wsgi(mw: Any) -> Callable[[int], None]:
        drive = apps.wsgi_driver(mw, env)
        drive(2)
        return drive

    scenarios = [
        Scenario(
            "ASGI, wrapped, no triggers",
            "asgi-plain",
            asgi(EdgeMiddleware(app, config=apps.config())),
        ),
        Scenario(
            "ASGI, four sync triggers",
            "asgi-four",
            asgi(EdgeMiddleware(app, config=apps.config(apps.four_triggers()))),
        ),
        Scenario(
            "ASGI, MemoryStorage hit",
            "asgi-hit",
            asgi(EdgeMiddleware(app, config=cached, storage=MemoryStorage())),
        ),
        Scenario(
            "WSGI, wrapped, no triggers",
            "wsgi-plain",
            wsgi(EdgeWSGIMiddleware(wapp, config=apps.config())),
        ),
        Scenario(
            "WSGI, four sync triggers",
            "wsgi-four",
            wsgi(EdgeWSGIMiddleware(wapp, config=apps.config(apps.four_triggers()))),
        ),
        Scenario(
            "WSGI, MemoryStorage hit",
            "wsgi-hit",
            wsgi(EdgeWSGIMiddleware(wapp, config=cached, storage=MemoryStorage())),
        ),
    ]
    return scenarios, loop


def _short(path: str) -> str:
    if path.startswith(str(REPO) + os.sep):
        return os.path.relpath(path, REPO)
    for marker in ("site-packages" + os.sep, "lib" + os.sep + "python3"):
        if marker in path:
            return path.split(marker, 1)[1].lstrip(os.sep)
    return os.path.basename(path) if path else "?"


# -- pyinstrument ---------------------------------------------------------------------------------


def _charge_pyinstrument(root: Any) -> dict[tuple[str, str], float]:
    """Seconds per (edge function, first outside callee) from a pyinstrument frame tree."""
    costs: dict[tuple[str, str], float] = defaultdict(float)

    def walk(frame: Any, edge: str | None, callee: str | None, origin: bool) -> None:
        path = frame.file_path or ""
        if not frame.is_synthetic:
            if any(path.endswith(m) for m in ORIGIN_MARKERS):
                origin = True  # inside the app, until it calls back into edge_middleware
            if path.startswith(PKG):
                edge = f"{_short(path)}:{frame.line_no} {frame.function}"
                callee = None
                origin = False
            elif edge is not None and callee is None:
                callee = f"{frame.function} ({_short(path)})"
        self_time = (
            sum(c.time for c in frame.children if c.is_synthetic) if not frame.is_synthetic else 0.0
        )
        if frame.is_synthetic:
            return
        if self_time:
            if origin:
                key = ("origin app (the bare app's own work)", "")
            elif edge is not None:
                key = (edge, callee or "[self]")
            elif path.startswith(DRIVER):
                key = ("benchmark driver (scope/environ copy, loop)", "")
            elif frame.function.endswith(("poll", "select")) or path.endswith("selectors.py"):
                key = ("event loop idle: waiting for worker threads (sync handlers)", "")
            else:
                key = (f"outside edge_middleware: {frame.function} ({_short(path)})", "")
            costs[key] += self_time
        for child in frame.children:
            walk(child, edge, callee, origin)

    walk(root, None, None, False)
    return costs


def _profile_pyinstrument(
    serve: Callable[[int], None], n: int
) -> tuple[dict[tuple[str, str], float], float]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001, async_mode="disabled")
    t0 = time.perf_counter()
    profiler.start()
    serve(n)
    profiler.stop()
    wall = time.perf_counter() - t0
    return _charge_pyinstrument(profiler.last_session.root_frame()), wall


# -- cProfile fallback ----------------------------------------------------------------------------


def _profile_cprofile(
    serve: Callable[[int], None], n: int
) -> tuple[dict[tuple[str, str], float], float]:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    serve(n)
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    costs: dict[tuple[str, str], float] = defaultdict(float)
    for (path, line, func), (_cc, _nc, tottime, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if path.startswith(PKG):
            costs[(f"{_short(path)}:{line} {func}", "[self]")] += tottime
            continue
        # charge outside time to an edge_middleware caller when there is one
        edge_callers = [(c, v) for c, v in callers.items() if c[0].startswith(PKG)]
        if edge_callers:
            total = sum(v[2] for _, v in edge_callers) or 1.0
            for (cpath, cline, cfunc), v in edge_callers:
                key = (f"{_short(cpath)}:{cline} {cfunc}", f"{func} ({_short(path)})")
                costs[key] += tottime * v[2] / total
        else:
            costs[(f"outside edge_middleware: {func} ({_short(path)})", "")] += tottime
    return costs, wall


@dataclass
class Counted:
    calls: float  # per request
    tottime_us: float  # per request, the function's own code (cProfile-inflated)
    cumtime_us: float  # per request, with what it calls


def _deterministic(serve: Callable[[int], None], n: int) -> tuple[dict[str, Counted], float]:
    """cProfile figures of edge_middleware functions per request, keyed like the table, and
    the total number of Python/C function calls per request."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    serve(n)
    prof.disable()
    out: dict[str, Counted] = {}
    all_calls = 0
    for (path, line, func), (_cc, nc, tt, ct, _callers) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        all_calls += nc
        if path.startswith(PKG):
            out[f"{_short(path)}:{line} {func}"] = Counted(nc / n, tt / n * 1e6, ct / n * 1e6)
    return out, all_calls / n


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    try:
        import pyinstrument  # noqa: F401

        tool, profile = "pyinstrument (sampling every 100 µs)", _profile_pyinstrument
    except ImportError:
        tool, profile = (
            "cProfile (pyinstrument not installed; deterministic, inflates small calls)",
            _profile_cprofile,
        )
    seconds = 0.4 if settings.quick else 1.5
    summary = Section(
        "5. Profile — top costs per request on the hot paths",
        [
            "scenario (µs/request unprofiled)",
            "rank",
            "where (file:line of def)",
            "calls out to",
            "share",
            "≈ µs/request",
            "calls/request",
        ],
    )
    det = Section(
        "5. Profile — deterministic view (cProfile): edge_middleware functions by own time",
        [
            "scenario",
            "rank",
            "function (file:line of def)",
            "calls/request",
            "own µs/request",
            "with callees µs/request",
        ],
    )
    scenarios, loop = _scenarios()
    for sc in scenarios:
        sc.serve(20)
        n0 = 20
        while True:
            t0 = time.perf_counter()
            sc.serve(n0)
            elapsed = time.perf_counter() - t0
            if elapsed > 0.1 or n0 > 100_000:
                break
            n0 *= 4
        per = max(elapsed / n0, 1e-7)
        us_per_req = per * 1e6
        n = max(20, int(seconds / per / 4))  # profiling slows requests down several times
        costs, _wall = profile(sc.serve, n)
        counted, all_calls = _deterministic(sc.serve, max(10, n // 4))
        result.figures[f"profile/{sc.key}/calls_per_request"] = round(all_calls, 1)
        for rank, (where, c) in enumerate(
            sorted(counted.items(), key=lambda kv: kv[1].tottime_us, reverse=True)[:TOP_DET], 1
        ):
            det.rows.append(
                [
                    f"{sc.name} ({all_calls:,.0f} calls/request)" if rank == 1 else "",
                    str(rank),
                    f"`{where}`",
                    f"{c.calls:g}",
                    fmt_us(c.tottime_us),
                    fmt_us(c.cumtime_us),
                ]
            )
        total = sum(costs.values()) or 1.0
        ranked = sorted(costs.items(), key=lambda kv: kv[1], reverse=True)
        edge_share = (
            sum(v for (k, _), v in costs.items() if k.startswith("edge_middleware")) / total
        )
        result.figures[f"profile/{sc.key}/us"] = round(us_per_req, 2)
        result.figures[f"profile/{sc.key}/edge_share"] = round(edge_share, 3)
        for rank, ((where, callee), secs) in enumerate(ranked[:TOP], 1):
            share = secs / total
            ncalls = counted[where].calls if where in counted else None
            summary.rows.append(
                [
                    f"{sc.name} ({fmt_us(us_per_req)})" if rank == 1 else "",
                    str(rank),
                    f"`{where}`",
                    callee,
                    f"{share:.0%}",
                    fmt_us(share * us_per_req),
                    "" if ncalls is None else f"{ncalls:g}",
                ]
            )
        summary.rows.append(
            [
                "",
                "",
                f"*all of edge_middleware: {edge_share:.0%}*",
                "",
                "",
                fmt_us(edge_share * us_per_req),
                "",
            ]
        )
    loop.close()
    summary.notes.append(
        f"Profiler: {tool}. Each sample is charged to the innermost edge_middleware function on "
        "its stack plus the first outside function it called. Sync handlers run on worker "
        "threads the profiler does not sample: on ASGI their time shows as the event loop "
        "waiting (`select`), on WSGI inside the call that waits for them. Profiling slows "
        "everything, so the µs are larger than in cases 1\u20132; the shares are what matter."
    )
    det.notes.append(
        "cProfile traces every call, so small functions look several times more expensive than "
        "they are; use the counts and the ranking, and the sampled table above for shares."
    )
    result.sections.append(summary)
    result.sections.append(det)
    result.sections.append(app_inside(settings))
    return result
