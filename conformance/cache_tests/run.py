"""Run the public HTTP cache conformance suite (cache-tests.fyi) against edge_middleware.

    python -m conformance.cache_tests                    # both doors (make cache-tests)
    python -m conformance.cache_tests --interface asgi   # one door
    python -m conformance.cache_tests --npm-tests        # the npm release's own (older) tests

What runs, all on 127.0.0.1 and stopped at the end:

* the suite's own origin (``server/server.mjs`` of the npm package ``http-cache-tests``, Node.js),
  which answers each request as the test it belongs to tells it;
* ``edge-middleware serve --origin <that server>`` with ``distribution.CONFIG``
  (``--interface asgi``: uvicorn and the ASGI door; ``wsgi``: cheroot and the WSGI door);
* the suite's client (``cli.mjs``), which sends every test's requests through the edge and
  prints one result per test.

The tests are upstream's at the commit whose stored results of other caches are vendored
beside them (``upstream/``), run through the npm release's runner and origin (0.4.5, whose own
tests are older: some expectations were reversed since); ``--suite FILE`` takes another
``tests-export.json`` (what upstream's ``npm run export`` prints), ``--npm-tests`` the
release's own. Results go to ``results/edge_middleware-<interface>.json`` in
upstream's format. The table counts a test only when the tests it depends on passed (as
cache-tests.fyi shows it), and names a reason for every failing ``required`` test that is
CloudFront's documented behaviour (``EXPLAINED``); any other failure is listed as unexplained.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PACKAGE = HERE / "node_modules" / "http-cache-tests"
RESULTS = HERE / "results"
UPSTREAM = HERE / "upstream"
#: The suite runs its tests concurrently, with pauses of a few seconds: about 20 s in all.
CLI_TIMEOUT = 5 * 60

#: Why a ``required`` test fails: CloudFront's documented behaviour, or a choice written down
#: (test id prefix -> reason, with the spec section). Matched longest prefix first.
EXPLAINED: dict[str, str] = {
    "vary-": "CloudFront keeps no variants by the origin's Vary; the key is the cache policy's "
    "(caching.md §1.6)",
    "status-": "error responses are cached for max(ErrorCachingMinTTL 10 s, their lifetime) "
    "(caching.md §1.4)",
    "heuristic-50": "502/503/504 are cached for ErrorCachingMinTTL (10 s) without freshness "
    "headers (caching.md §1.4)",
    "invalidate-": "no invalidation after POST/PUT/DELETE by default (caching.md §1.2, "
    "EdgeSettings.invalidate_on_unsafe_methods); M-SEARCH is not an allowed method (403)",
    "other-age-update": "Age on a hit is the seconds since the object entered the edge cache "
    "(caching.md §1.8)",
    "other-authorization": "Authorization forwarded by an all-viewer origin request policy is not "
    "in the key; CloudFront caches the answer (docs/cache-rules.md)",
    "freshness-expires-old-date": "Expires is compared with the edge clock, not the origin's Date "
    "(decisions.md #29, EdgeSettings.expires_against)",
    "freshness-expires-age-": "Expires is compared with the edge clock, not the origin's Date "
    "(decisions.md #29, EdgeSettings.expires_against)",
    "stale-close-": "an expired object is served when the origin fails, must-revalidate or not "
    "(caching.md §1.4); with EdgeSettings.must_revalidate_suppresses_stale the viewer gets "
    "CloudFront's 502, and the suite wants the connection closed, as no CDN does",
    "headers-store-Content-Length": "the origin sends more bytes than its Content-Length: 502, "
    "and the connection is dropped (docs/origin-failures.md)",
    "headers-store-Transfer-Encoding": "a Transfer-Encoding other than chunked is a malformed "
    "origin answer: 502 (docs/origin-failures.md)",
    "cdn-": "CloudFront does not read CDN-Cache-Control",
    "headers-store-Set-Cookie": "cookies are not forwarded, so CloudFront removes the origin's "
    "Set-Cookie (caching.md §1.13)",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within 30 s")


@contextlib.contextmanager
def _running(
    cmd: list[str], env: dict[str, str], port: int, what: str, log: Path
) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
        try:
            _wait_port(port, proc, what)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def install() -> None:
    """The npm release (runner and origin), as ``package-lock.json`` pins it."""
    if not PACKAGE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)


def suite_copy(work: Path, suite: Path | None) -> Path:
    """The npm package, or a copy of it whose tests are those of ``suite`` (an export)."""
    if suite is None:
        return PACKAGE
    copy = work / "http-cache-tests"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(PACKAGE, copy)
    shutil.copyfile(suite, copy / "tests" / "export.json")
    (copy / "tests" / "index.mjs").write_text(
        "import fs from 'fs'\n"
        "export default JSON.parse(fs.readFileSync(new URL('./export.json', import.meta.url)))\n"
        "  .filter(s => s.id !== 'surrogate-control')\n"
    )
    if not any(s["id"] == "surrogate-control" for s in json.loads(suite.read_text())):
        (copy / "tests" / "surrogate-control.mjs").write_text(
            "export default { name: 'Surrogate-Control', id: 'surrogate-control', tests: [] }\n"
        )
    (copy / "node_modules").symlink_to(HERE / "node_modules")
    return copy


def run_suite(
    interface: str, suite: Path | None, work: Path, serve_args: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Serve the edge on ``interface`` in front of the suite's origin and run every test
    (``work``: a folder for the logs and the suite's copy; ``serve_args``: more options of
    ``edge-middleware serve``, such as ``--redis URL``). Upstream's result per test id."""
    package = suite_copy(work, suite)
    origin_port, edge_port = _free_port(), _free_port()
    node_env = {
        **os.environ,
        "npm_config_protocol": "http",
        "npm_config_port": str(origin_port),
        "npm_config_pidfile": str(work / "origin.pid"),
    }
    edge_env = {**os.environ, "PYTHONPATH": str(REPO)}
    edge = [
        sys.executable,
        "-m",
        "edge_middleware",
        "serve",
        "--origin",
        f"http://127.0.0.1:{origin_port}",
        "--config",
        "conformance.cache_tests.distribution:CONFIG",
        "--interface",
        interface,
        "--port",
        str(edge_port),
        "--no-inspector",
        *serve_args,
    ]
    client_env = {
        **os.environ,
        "npm_config_base": f"http://127.0.0.1:{edge_port}",
        "npm_package_config_id": "",
    }
    node = ["node", "--no-warnings"]
    with (
        _running(
            [*node, str(package / "server" / "server.mjs")],
            node_env,
            origin_port,
            "the origin",
            work / "origin.log",
        ),
        _running(
            edge, edge_env, edge_port, "edge-middleware serve", work / f"edge-{interface}.log"
        ),
    ):
        done = subprocess.run(
            [*node, str(package / "cli.mjs")],
            env=client_env,
            cwd=package,
            capture_output=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"the suite's client failed:\n{done.stderr.decode(errors='replace')}")
    results: dict[str, Any] = json.loads(done.stdout)
    return results


# -- scoring ------------------------------------------------------------------------------------
def definitions(package: Path, suite: Path | None) -> dict[str, dict[str, Any]]:
    """Every test by id, as ``suite`` (an export) or the npm release in ``package`` has it."""
    if suite is not None:
        suites = json.loads(suite.read_text())
    else:
        script = (
            "import t from './tests/index.mjs'; import s from './tests/surrogate-control.mjs';"
            "t.push(s); console.log(JSON.stringify(t))"
        )
        out = subprocess.run(
            ["node", "--no-warnings", "--input-type=module", "-e", script],
            cwd=package,
            capture_output=True,
            check=True,
        )
        suites = json.loads(out.stdout)
    return {t["id"]: t for s in suites for t in s["tests"]}


def _counted(results: dict[str, Any], tests: dict[str, dict[str, Any]], test_id: str) -> bool:
    """Whether the tests ``test_id`` depends on passed (cache-tests.fyi's dependency rule)."""
    return all(
        results.get(dep) is True and _counted(results, tests, dep)
        for dep in tests[test_id].get("depends_on", [])
        if dep in tests
    )


def score(results: dict[str, Any], tests: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per kind (required, optimal, check): tests passed, tests counted."""
    out: dict[str, tuple[int, int]] = {}
    for kind in ("required", "optimal", "check"):
        ids = [
            t
            for t, d in tests.items()
            if d.get("kind", "required") == kind and t in results and _counted(results, tests, t)
        ]
        out[kind] = (sum(results[t] is True for t in ids), len(ids))
    return out


def failing_required(results: dict[str, Any], tests: dict[str, dict[str, Any]]) -> list[str]:
    """The ``required`` tests that ran, whose dependencies passed, and that failed."""
    return [
        t
        for t, d in tests.items()
        if d.get("kind", "required") == "required"
        and t in results
        and results[t] is not True
        and _counted(results, tests, t)
    ]


def explain(test_id: str) -> str | None:
    for prefix in sorted(EXPLAINED, key=len, reverse=True):
        if test_id.startswith(prefix):
            return EXPLAINED[prefix]
    return None


def report(
    runs: dict[str, dict[str, Any]], tests: dict[str, dict[str, Any]], compare: Path | None
) -> str:
    rows = dict(runs)
    if compare is not None:
        for entry in json.loads((compare / "index.json").read_text()):
            if entry["type"] != "browser":
                rows[entry["name"]] = json.loads((compare / "results" / entry["file"]).read_text())
    lines = [
        "| cache | required passed | optimal passed |",
        "|---|---|---|",
    ]
    for name, results in rows.items():
        kinds = score({t: v for t, v in results.items() if t in tests}, tests)
        req, opt = kinds["required"], kinds["optimal"]
        lines.append(f"| {name} | {req[0]} / {req[1]} | {opt[0]} / {opt[1]} |")
    for name, results in runs.items():
        failing = failing_required(results, tests)
        unexplained = [t for t in failing if explain(t) is None]
        lines += ["", f"{name}: {len(failing)} required tests fail, {len(unexplained)} unexplained"]
        lines += [
            f"- {t}: {str(results[t])[:120]} ({explain(t) or 'UNEXPLAINED'})" for t in failing
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.cache_tests", description=__doc__)
    parser.add_argument("--interface", choices=["asgi", "wsgi", "both"], default="both")
    parser.add_argument(
        "--suite", type=Path, default=UPSTREAM / "tests-export.json", help="a tests-export.json"
    )
    parser.add_argument("--npm-tests", action="store_true", help="the npm release's own tests")
    parser.add_argument("--redis", metavar="URL", help="cache in this Redis (RedisStorage)")
    parser.add_argument(
        "--compare", type=Path, default=UPSTREAM, help="a cache-tests results folder (index.json)"
    )
    args = parser.parse_args(argv)
    suite: Path | None = None if args.npm_tests else args.suite
    install()
    work = HERE / "work"
    work.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    interfaces = ["asgi", "wsgi"] if args.interface == "both" else [args.interface]
    runs: dict[str, dict[str, Any]] = {}
    for interface in interfaces:
        started = time.monotonic()
        serve_args = ("--redis", args.redis) if args.redis else ()
        results = run_suite(interface, suite, work, serve_args)
        name = f"edge_middleware ({interface}{', Redis' if args.redis else ''})"
        runs[name] = results
        out = RESULTS / f"edge_middleware-{interface}{'-redis' if args.redis else ''}.json"
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {len(results)} tests in {time.monotonic() - started:.0f} s -> {out}")
    print(report(runs, definitions(PACKAGE, suite), None if args.npm_tests else args.compare))
    return 0
