"""Case 3 — under a real server on loopback.

uvicorn (``--workers 1``) serving the Starlette constant app, gunicorn (``-w 2 -k gthread``)
serving the Flask one; each bare and wrapped (no triggers, a policy that caches and keys on the
query string). Load: ``wrk -c 32 -t 2 --latency`` (or ``benchmarks.loadgen`` when wrk is
missing) for a few seconds per run, rounds interleaving bare / wrapped miss / wrapped hit.
"Miss" sends a new ``?n=`` on every request (looked up, fetched, stored); "hit" asks ``/``.

Target: the hit path at least as fast as bare (requests/s ratio ≥ 1.0). ``make bench`` installs
wrk with apt when it can; ``benchmarks.loadgen`` (Python) competes with the server for the
2 cores, so its ratios are noisier.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from ._harness import (
    REPO,
    CaseResult,
    ChartBar,
    Processes,
    Section,
    Settings,
    Target,
    free_port,
    verdict,
    wait_port,
)

#: issue 11: under uvicorn and gunicorn a hit is at least as fast as the bare app.
MIN_HIT_RATIO = 1.0
CONNECTIONS = 32
THREADS = 2

MISS_LUA = """
-- every request asks a URL never asked before: per-thread token + per-thread counter
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local counter = 0
local token = "x"
hits = 0
function init(args)
  token = (args[1] or "x") .. "-" .. tostring(tid)
end
function request()
  counter = counter + 1
  return wrk.format("GET", "/?n=" .. token .. "-" .. counter)
end
function response(status, headers, body)
  local x = headers["X-Cache"] or headers["x-cache"] or ""
  if string.sub(x, 1, 3) == "Hit" then hits = hits + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("hits") end
  io.write("stray hits: " .. total .. "\\n")
end
"""


@dataclass
class Load:
    rps: float
    p99_ms: float
    errors: int
    #: hits seen by a miss run (should be 0: every URL is new)
    stray_hits: int = 0


def _parse_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> Load:
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        # read errors are counted by wrk for servers that close keep-alive connections; only
        # connect/write/timeout errors are failures here
        errors += int(sock.group(1)) + int(sock.group(3)) + int(sock.group(4))
    stray = re.search(r"stray hits:\s*(\d+)", out)
    return Load(
        float(rps.group(1)) if rps else 0.0,
        _parse_ms(p99.group(1)) if p99 else float("nan"),
        errors,
        int(stray.group(1)) if stray else 0,
    )


def _wrk(settings: Settings) -> str | None:
    if settings.loadgen == "python":
        return None
    wrk = shutil.which("wrk")
    if wrk is None and settings.loadgen == "wrk":
        raise RuntimeError("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    return wrk


def _load(port: int, unique: bool, seconds: float, lua: Path | None, wrk: str | None) -> Load:
    timeout = seconds + 60
    if wrk is not None:
        secs = max(1, round(seconds))  # wrk takes whole seconds
        args = [wrk, "-c", str(CONNECTIONS), "-t", str(THREADS), "-d", f"{secs}s", "--latency"]
        if unique and lua is not None:
            args += ["-s", str(lua)]
        args.append(f"http://127.0.0.1:{port}/")
        if unique:
            args += ["--", uuid.uuid4().hex[:8]]
        out = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=True
        ).stdout
        return parse_wrk(out)
    args = [
        sys.executable, "-m", "benchmarks.loadgen",
        "--port", str(port), "--path", "/",
        "--connections", str(CONNECTIONS), "--procs", str(THREADS),
        "--duration", f"{seconds:g}",
    ]  # fmt: skip
    if unique:
        args.append("--unique")
    out = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=True, cwd=REPO
    ).stdout
    data = json.loads(out)
    return Load(data["rps"], data["p99_ms"], int(data["errors"]))


def _get(port: int, path: str) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        resp.read()
        return {k.lower(): v for k, v in resp.headers.items()}


def _uvicorn_http() -> str:
    """uvicorn's HTTP implementation: httptools (``uvicorn[standard]``, as deployed; the bench
    extra installs it) when importable, else the pure-Python h11, where each response header
    costs the server a few µs more."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def _server_args(kind: str, app: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", f"benchmarks.server_apps:{app}",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--http", _uvicorn_http(), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
        "-b", f"127.0.0.1:{port}", "--log-level", "warning", f"benchmarks.server_apps:{app}",
    ]  # fmt: skip


def run(settings: Settings) -> CaseResult:
    result = CaseResult()
    wrk = _wrk(settings)
    tool = "wrk" if wrk else "benchmarks.loadgen (Python; wrk not installed or not chosen)"
    servers = {
        "uvicorn": ("asgi_bare", "asgi_edge"),
        "gunicorn": ("wsgi_bare", "wsgi_edge"),
    }
    with Processes() as procs, tempfile.TemporaryDirectory(prefix="em-bench-") as tmp:
        lua = Path(tmp) / "miss.lua"
        lua.write_text(MISS_LUA)
        for kind, apps_ in servers.items():
            try:
                __import__(kind)
            except ImportError:
                result.targets.append(Target("3", f"{kind}: wrapped hit", "not installed", None))
                continue
            log = Path(tmp) / f"{kind}.log"
            try:
                loads = _measure(kind, apps_, procs, settings, lua, wrk, log)
            except Exception as exc:
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                result.targets.append(
                    Target("3", f"3 {kind}: wrapped hit", f"run failed: {exc}", False)
                )
                section = Section(f"3. Real server on loopback — {kind}: FAILED", [])
                section.notes.append(f"{type(exc).__name__}: {exc}")
                if tail:
                    section.notes.append("```\n" + tail + "\n```")
                result.sections.append(section)
                continue
            _report(kind, loads, result, tool, settings)
    return result


def _measure(
    kind: str,
    app_names: tuple[str, str],
    procs: Processes,
    settings: Settings,
    lua: Path,
    wrk: str | None,
    log: Path,
) -> dict[str, list[Load]]:
    ports = {"bare": free_port(), "edge": free_port()}
    started = {}
    with open(log, "wb") as errlog:
        try:
            for which, app in zip(("bare", "edge"), app_names, strict=True):
                started[which] = procs.start(
                    _server_args(kind, app, ports[which]),
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=errlog,
                )
            for which, proc in started.items():
                if not wait_port(ports[which], proc, 30.0):
                    raise RuntimeError(f"{kind} serving {which} did not start")
            variants = {
                "bare": (ports["bare"], False),
                "wrapped miss": (ports["edge"], True),
                "wrapped hit": (ports["edge"], False),
            }
            # warm every variant (imports, first misses, each worker's cache), then check
            for port, unique in variants.values():
                _load(port, unique, 1.0, lua, wrk)
            # every worker process has its own MemoryStorage, and wrk's keep-alive connections
            # may all have landed on one worker: a few one-shot requests reach the others
            for _ in range(8):
                h = _get(ports["edge"], "/")
            if not h.get("x-cache", "").startswith("Hit"):
                raise RuntimeError(f"wrapped / is not a hit after warming: {h}")
            h = _get(ports["edge"], f"/?n=probe-{uuid.uuid4().hex}")
            if not h.get("x-cache", "").startswith("Miss"):
                raise RuntimeError(f"a new query string is not a miss: {h}")
            loads: dict[str, list[Load]] = {name: [] for name in variants}
            names = list(variants)
            for r in range(settings.wrk_rounds):
                for name in names[r % 3 :] + names[: r % 3]:
                    port, unique = variants[name]
                    loads[name].append(_load(port, unique, settings.wrk_seconds, lua, wrk))
            return loads
        finally:
            for proc in started.values():
                procs.stop(proc)


def _report(
    kind: str, loads: dict[str, list[Load]], result: CaseResult, tool: str, settings: Settings
) -> None:
    label = (
        "uvicorn --workers 1, Starlette"
        if kind == "uvicorn"
        else "gunicorn -w 2 -k gthread --threads 4, Flask"
    )
    section = Section(
        f"3. Real server on loopback — {label}",
        [
            "variant",
            "requests/s (median)",
            "spread (min\u2013max)",
            "p99 ms (median)",
            "vs bare",
            "errors",
            "target",
            "result",
        ],
    )
    bare = statistics.median(x.rps for x in loads["bare"])
    for name, runs in loads.items():
        rps = statistics.median(x.rps for x in runs)
        p99 = statistics.median(x.p99_ms for x in runs)
        ratio = rps / bare if bare else 0.0
        target = verdict_s = ""
        result.figures[f"server/{kind}/{name}/rps"] = round(rps, 1)
        result.figures[f"server/{kind}/{name}/p99_ms"] = round(p99, 3)
        if name != "bare":
            result.bars.append(
                ChartBar(f"3 {kind}", name, ratio, MIN_HIT_RATIO if name == "wrapped hit" else None)
            )
        if name == "wrapped hit":
            ok = ratio >= MIN_HIT_RATIO
            target = f"≥ {MIN_HIT_RATIO}\u00d7 bare req/s"
            verdict_s = verdict(ok)
            result.targets.append(
                Target(
                    "3",
                    f"3 {kind}: wrapped hit {target}",
                    f"{ratio:.2f}\u00d7 ({rps:,.0f} vs {bare:,.0f} req/s)",
                    ok,
                )
            )
        section.rows.append(
            [
                name,
                f"{rps:,.0f}",
                f"{min(x.rps for x in runs):,.0f}\u2013{max(x.rps for x in runs):,.0f}",
                f"{p99:.2f}",
                "baseline" if name == "bare" else f"{ratio:.2f}\u00d7",
                str(sum(x.errors for x in runs)),
                target,
                verdict_s,
            ]
        )
    stray = sum(x.stray_hits for x in loads["wrapped miss"])
    if stray:
        section.notes.append(f"Miss runs saw {stray} hits (expected 0): their figures are off.")
    if kind == "uvicorn":
        section.notes.append(f"uvicorn HTTP implementation: {_uvicorn_http()}.")
    section.notes.append(
        f"Load: {tool}, {CONNECTIONS} connections, {THREADS} threads (processes for loadgen), "
        f"{settings.wrk_seconds:g} s per run, {settings.wrk_rounds} interleaved round(s); the "
        "server and the load generator share the machine's cores."
    )
    result.sections.append(section)
