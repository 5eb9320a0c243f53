"""Timing, statistics, report rows and process helpers shared by every case.

Timing model: a *variant* is a callable that serves ``n`` requests and returns nothing. One
*round* runs every variant of a comparison once, in a rotated order, so slow drifts of the
machine (thermal, other processes) hit every variant alike. A case reports, per variant, the
median over rounds of microseconds per request, the spread (min-max over rounds), and against
its baseline the median of the *per-round* ratios and differences (paired, so a noisy round
moves both sides).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# -- run-wide settings ----------------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool = False
    #: rounds for in-process comparisons
    rounds: int = 9
    #: target wall time of one variant within one round (seconds)
    slice_s: float = 0.12
    #: wrk: seconds per run, rounds per server variant
    wrk_seconds: float = 5.0
    wrk_rounds: int = 3
    #: bytes streamed for the peak-RSS probe
    stream_bytes: int = 1 << 30
    #: case 3 load generator: "auto" (wrk when installed), "wrk" or "python"
    loadgen: str = "auto"

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick=True,
                rounds=3,
                slice_s=0.03,
                wrk_seconds=1.0,
                wrk_rounds=1,
                stream_bytes=256 << 20,
            )
        return cls()


# -- results --------------------------------------------------------------------------------------


@dataclass
class Stat:
    """Per-round samples of one variant, in microseconds per request."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        return min(self.samples)

    @property
    def hi(self) -> float:
        return max(self.samples)

    @property
    def rps(self) -> float:
        return 1e6 / self.median if self.median > 0 else float("inf")


@dataclass
class Target:
    case: str
    text: str
    measured: str
    ok: bool | None  # None: not measurable in this run (skipped)

    @property
    def verdict(self) -> str:
        return "SKIP" if self.ok is None else ("PASS" if self.ok else "MISS")


@dataclass
class Section:
    """One Markdown table of a case."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ChartBar:
    group: str
    label: str
    ratio: float
    target: float | None = None  # a minimum ratio to meet, drawn as a tick


@dataclass
class CaseResult:
    sections: list[Section] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    bars: list[ChartBar] = field(default_factory=list)
    #: numbers kept in results/baseline.json for before/after comparisons
    figures: dict[str, float] = field(default_factory=dict)


def verdict(ok: bool | None) -> str:
    return "SKIP" if ok is None else ("PASS" if ok else "MISS")


def fmt_us(us: float) -> str:
    if us >= 100_000:
        return f"{us / 1000:,.0f} ms"
    if us >= 10_000:
        return f"{us / 1000:,.1f} ms"
    if us >= 100:
        return f"{us:,.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def fmt_spread(stat: Stat) -> str:
    return f"{fmt_us(stat.lo)}\u2013{fmt_us(stat.hi)}"


def fmt_rps(rps: float) -> str:
    return f"{rps:,.0f}"


def fmt_signed_us(us: float) -> str:
    return ("+" if us >= 0 else "\u2212") + fmt_us(abs(us))


# -- interleaved measurement ----------------------------------------------------------------------


Runner = Callable[[int], float]  # serve n requests, return elapsed seconds


def calibrate(run: Runner, slice_s: float, *, max_n: int = 200_000) -> int:
    """Requests per round so that one variant's slice takes about ``slice_s`` seconds."""
    n = 1
    while True:
        elapsed = run(n)
        if elapsed >= slice_s / 4 or n >= max_n:
            break
        n *= 4 if elapsed < slice_s / 40 else 2
    per = elapsed / n
    return max(1, min(max_n, round(slice_s / per))) if per > 0 else max_n


def interleave(
    variants: dict[str, Runner], settings: Settings, *, warmup: int = 20
) -> dict[str, Stat]:
    """Run every variant once per round, rotating the order; µs/request per round."""
    names = list(variants)
    counts: dict[str, int] = {}
    for name in names:
        variants[name](warmup)
        counts[name] = calibrate(variants[name], settings.slice_s)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(settings.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            n = counts[name]
            elapsed = variants[name](n)
            samples[name].append(elapsed / n * 1e6)
    return {name: Stat(s) for name, s in samples.items()}


def paired(stats: dict[str, Stat], name: str, base: str) -> tuple[float, float]:
    """(median per-round throughput ratio name/base, median per-round added µs)."""
    a, b = stats[name].samples, stats[base].samples
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    added = [x - y for x, y in zip(a, b, strict=True)]
    return statistics.median(ratios), statistics.median(added)


def async_runner(loop: asyncio.AbstractEventLoop, make: Callable[[int], Awaitable[None]]) -> Runner:
    """Wrap ``async def make(n)`` (which serves n requests) as a timed runner on ``loop``."""

    def run(n: int) -> float:
        async def timed() -> float:
            t0 = time.perf_counter()
            await make(n)
            return time.perf_counter() - t0

        return loop.run_until_complete(timed())

    return run


def sync_runner(make: Callable[[int], None]) -> Runner:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        make(n)
        return time.perf_counter() - t0

    return run


# -- memory ---------------------------------------------------------------------------------------


def proc_status(field_name: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# -- processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any] | None, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Processes:
    """Subprocesses started by this run, each in its own session; all stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []

    def start(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(list(args), start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the group led by a process we started
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, no persistence."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.exe = shutil.which("redis-server")
        self.port = free_port()
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.proc: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> bool:
        if self.exe is None:
            return False
        self.tmp = tempfile.TemporaryDirectory(prefix="em-bench-redis-")
        self.proc = self.procs.start(
            [
                self.exe,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.tmp.name,
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.tmp.name,
        )  # fmt: skip
        return wait_port(self.port, self.proc, 10.0)

    def stop(self) -> None:
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


# -- comparison tables ----------------------------------------------------------------------------

COMPARE_COLUMNS = [
    "variant",
    "µs/request (median)",
    "spread (min\u2013max of rounds)",
    "requests/s",
    "throughput vs baseline",
    "added µs vs baseline",
    "target",
    "result",
]


@dataclass
class Spec:
    """How a variant is judged: against which baseline, and by which target (if any)."""

    base: str | None = None
    min_ratio: float | None = None
    max_added_us: float | None = None
    chart: bool = True


def comparison(
    case: str,
    title: str,
    stats: dict[str, Stat],
    specs: dict[str, Spec],
    *,
    group: str,
    result: CaseResult,
    key: str,
) -> Section:
    """A table of variants against their baselines; targets and chart bars go into ``result``."""
    section = Section(title, list(COMPARE_COLUMNS))
    for name, stat in stats.items():
        spec = specs.get(name, Spec())
        ratio_s = added_s = target_s = verdict_s = ""
        result.figures[f"{key}/{name}/us"] = round(stat.median, 3)
        if spec.base is not None:
            ratio, added = paired(stats, name, spec.base)
            ratio_s = f"{ratio:.2f}\u00d7 ({spec.base})"
            added_s = fmt_signed_us(added)
            result.figures[f"{key}/{name}/added_us"] = round(added, 3)
            checks: list[tuple[str, bool]] = []
            if spec.min_ratio is not None:
                text = f"≥ {spec.min_ratio:.2f}\u00d7 {spec.base}"
                checks.append((text, ratio >= spec.min_ratio))
            if spec.max_added_us is not None:
                checks.append((f"≤ +{spec.max_added_us:g} µs", added <= spec.max_added_us))
            if checks:
                target_s = "; ".join(text for text, _ in checks)
                ok = all(good for _, good in checks)
                verdict_s = verdict(ok)
                measured = f"{ratio:.2f}\u00d7 / {fmt_signed_us(added)} µs"
                result.targets.append(Target(case, f"{group}: {name} {target_s}", measured, ok))
            if spec.chart:
                # an added-µs target drawn as the ratio it allows against this baseline
                tick = spec.min_ratio
                if tick is None and spec.max_added_us is not None:
                    base_us = stats[spec.base].median
                    tick = base_us / (base_us + spec.max_added_us)
                result.bars.append(ChartBar(group, name, ratio, tick))
        section.rows.append(
            [
                name,
                fmt_us(stat.median),
                fmt_spread(stat),
                fmt_rps(stat.rps),
                ratio_s or "baseline",
                added_s,
                target_s,
                verdict_s,
            ]
        )
    return section
