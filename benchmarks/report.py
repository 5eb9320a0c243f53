"""The Markdown report (results/latest.md), the ratio chart (results/ratios.png), and the
baseline kept for before/after comparisons (results/baseline.json)."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from ._harness import REPO, ChartBar, Section, Target

#: Figures shown in the before/after table when a baseline exists (prefix match, in order).
BEFORE_AFTER = (
    ("overhead/asgi/", "/added_us", "µs added"),
    ("overhead/wsgi/", "/added_us", "µs added"),
    ("cache/asgi/", "/added_us", "µs added"),
    ("cache/wsgi/", "/added_us", "µs added"),
    ("server/", "/rps", "req/s"),
    ("server/", "/p99_ms", "p99 ms"),
    ("growth/headers/", "200 headers/added_us", "µs added"),
    ("growth/behaviors/", "/added_us", "µs added"),
    ("memory/", "_mb", "MB"),
    ("profile/", "/calls_per_request", "calls/request"),
    ("profile/", "/us", "µs/request"),
)


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit or "unknown",
        "python": platform.python_version(),
        "cpu": cpu or "unknown",
        "cores": str(os.cpu_count() or "?"),
    }


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _select(figures: dict[str, float]) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    seen = set()
    for prefix, suffix, unit in BEFORE_AFTER:
        for key in figures:
            if key.startswith(prefix) and key.endswith(suffix) and key not in seen:
                seen.add(key)
                chosen.append((key, unit))
    return chosen


def before_after(
    figures: dict[str, float], baseline: dict[str, Any] | None, *, saving: bool = False
) -> Section:
    section = Section(
        "5. Before / after (against results/baseline.json)",
        ["figure", "unit", "before", "after (this run)", "change"],
    )
    if saving:
        section.notes.append(
            "This run is saved as results/baseline.json: it is the 'before' that later runs "
            "compare their figures with here."
        )
        if baseline is None:
            return section
    if baseline is None:
        section.notes.append(
            "No baseline yet: `python -m benchmarks --save-baseline` records this run's figures "
            "as the 'before' of the next runs."
        )
        return section
    before: dict[str, float] = baseline.get("figures", {})
    meta = baseline.get("machine", {})
    section.notes.append(
        f"Before: the run of {meta.get('date', '?')} at commit {meta.get('commit', '?')}"
        f"{' (quick mode)' if baseline.get('quick') else ''}. Lower is better except req/s."
    )
    for key, unit in _select(figures):
        now = figures[key]
        old = before.get(key)
        if old is None:
            section.rows.append([key, unit, "—", f"{now:g}", ""])
            continue
        change = ""
        if old:
            change = f"{(now - old) / abs(old):+.0%}"
        section.rows.append([key, unit, f"{old:g}", f"{now:g}", change])
    return section


def markdown(
    sections: list[Section],
    targets: list[Target],
    info: dict[str, str],
    *,
    quick: bool,
    elapsed: float,
    failures: list[str],
    chart: str | None,
    load: tuple[float, float] = (float("nan"), float("nan")),
) -> str:
    lines = [
        "# edge_middleware benchmarks — latest run",
        "",
        f"`python -m benchmarks{' --quick' if quick else ''}` (or `make bench`) on {info['date']}, "
        f"commit {info['commit']}, Python {info['python']}, {info['cores']} cores ({info['cpu']}); "
        f"the whole run took {elapsed / 60:.1f} min. 1-minute load average {load[0]:.1f} at the "
        f"start, {load[1]:.1f} at the end"
        + (
            f" (more than the {os.cpu_count()} cores: other work shared the CPUs, so the figures "
            "are noisier than on an idle machine)."
            if max(load) > (os.cpu_count() or 2)
            else "."
        ),
        "",
        "In-process figures: median over rounds that interleave the variants being compared; "
        "spread is the min\u2013max of the rounds; 'vs baseline' ratios and added µs are "
        "medians of "
        "per-round pairs. Throughput ratio = baseline µs / variant µs (1.00 = as fast as bare).",
        "",
    ]
    if quick:
        lines += ["**Quick mode** (smoke run): fewer, shorter rounds; figures are rough.", ""]
    if failures:
        lines += ["## Failures", ""] + [f"- {f}" for f in failures] + [""]
    if chart:
        lines += [f"![throughput ratios]({chart})", ""]
    passed = sum(t.ok is True for t in targets)
    missed = sum(t.ok is False for t in targets)
    skipped = sum(t.ok is None for t in targets)
    lines += [f"## Targets — {passed} PASS, {missed} MISS, {skipped} SKIP", ""]
    lines += _table(
        ["case", "target", "measured", "result"],
        [[t.case, t.text, t.measured, f"**{t.verdict}**"] for t in targets],
    )
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.rows:
            lines += _table(section.columns, section.rows)
            lines.append("")
        for note in section.notes:
            lines += [note, ""]
    return "\n".join(lines).rstrip() + "\n"


def chart(bars: list[ChartBar], path: Path, *, title: str) -> bool:
    """A horizontal bar chart of throughput ratios (log scale) with the targets marked."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not bars:
        return False
    labels = [f"{b.group}: {b.label}" for b in bars]
    ratios = [max(b.ratio, 1e-3) for b in bars]
    colors = []
    for b in bars:
        if b.target is None:
            colors.append("#8c8c8c")
        elif b.ratio >= b.target:
            colors.append("#2e9e44")
        else:
            colors.append("#d1483c")
    height = max(4.0, 0.32 * len(bars) + 1.5)
    fig, ax = plt.subplots(figsize=(11, height))
    y = list(range(len(bars)))[::-1]
    ax.barh(y, ratios, color=colors, height=0.7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    for yi, b in zip(y, bars, strict=True):
        if b.target is not None:
            ax.plot([b.target, b.target], [yi - 0.4, yi + 0.4], color="black", linewidth=2)
        ax.text(max(b.ratio, 1e-3) * 1.05, yi, f"{b.ratio:.2f}\u00d7", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    lo = min(ratios)
    hi = max(ratios)
    ax.set_xlim(10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(max(hi * 1.5, 1.5))))
    ax.set_xlabel("throughput relative to the bare app (log scale; 1 = no cost). Tick = target.")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def load_baseline(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def save_baseline(path: Path, figures: dict[str, float], info: dict[str, str], quick: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"machine": info, "quick": quick, "figures": figures}, indent=1, sort_keys=True)
        + "\n"
    )
