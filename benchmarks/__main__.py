"""``python -m benchmarks`` (``make bench``): every case in one run; writes
``benchmarks/results/latest.md`` and ``ratios.png`` and prints the Markdown.

    python -m benchmarks                 # the full run (about 4-6 minutes on 2 cores)
    python -m benchmarks --quick         # a smoke run (about a minute)
    python -m benchmarks --only 1,2      # some cases
    python -m benchmarks --save-baseline # also record this run as the 'before' of later runs
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable

from . import report
from ._harness import RESULTS, CaseResult, Settings


def _cases() -> dict[str, tuple[str, Callable[[Settings], CaseResult]]]:
    from . import case_cache, case_growth, case_js, case_overhead, case_profile, case_server

    return {
        "1": ("in-process overhead", case_overhead.run),
        "2": ("cache", case_cache.run),
        "3": ("real servers", case_server.run),
        "4": ("growth and memory", case_growth.run),
        "5": ("profile", case_profile.run),
        "6": ("JavaScript triggers", case_js.run),
    }


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--only", default="", help="comma-separated case numbers (1-6)")
    parser.add_argument("--save-baseline", action="store_true", help="write results/baseline.json")
    parser.add_argument("--out", default=str(RESULTS), help="output directory")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="case 3 load generator (auto: wrk when installed, else benchmarks.loadgen)",
    )
    args = parser.parse_args(argv)

    from pathlib import Path

    out = Path(args.out)
    settings = Settings.make(args.quick)
    settings.loadgen = args.loadgen
    cases = _cases()
    wanted = [c.strip() for c in args.only.split(",") if c.strip()] or list(cases)
    unknown = [c for c in wanted if c not in cases]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(cases)}")

    started = time.perf_counter()
    load_start = _load()
    merged = CaseResult()
    failures: list[str] = []
    for number in wanted:
        title, run = cases[number]
        t0 = time.perf_counter()
        print(f"[bench] case {number}: {title} ...", file=sys.stderr, flush=True)
        try:
            res = run(settings)
        except Exception as exc:
            traceback.print_exc()
            failures.append(f"case {number} ({title}) failed: {type(exc).__name__}: {exc}")
            continue
        merged.sections += res.sections
        merged.targets += res.targets
        merged.bars += res.bars
        merged.figures.update(res.figures)
        print(
            f"[bench] case {number} done in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    info = report.machine()
    baseline_path = out / "baseline.json"
    sections = list(merged.sections)
    if "5" in wanted:
        sections.append(
            report.before_after(
                merged.figures, report.load_baseline(baseline_path), saving=args.save_baseline
            )
        )
    png = out / "ratios.png"
    drew = report.chart(
        merged.bars,
        png,
        title=f"edge_middleware: throughput vs bare ({info['date']}, {info['commit']}"
        f"{', quick' if args.quick else ''})",
    )
    text = report.markdown(
        sections,
        merged.targets,
        info,
        quick=args.quick,
        elapsed=time.perf_counter() - started,
        failures=failures,
        chart=png.name if drew else None,
        load=(load_start, _load()),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)
    if args.save_baseline:
        report.save_baseline(baseline_path, merged.figures, info, args.quick)
    print(text)
    print(
        f"[bench] wrote {out / 'latest.md'}"
        + (f" and {png}" if drew else " (no chart: matplotlib missing)"),
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
