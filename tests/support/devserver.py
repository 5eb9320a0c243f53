"""The dev server (``python -m edge_middleware serve``) and the CLI as real subprocesses, for
``test_server``, ``test_devtools``, ``test_cli`` and ``test_inspector``.

::

    with serve(tmp_path, "site:app", "--config", "edge.toml") as served:
        served.get("/")                 # httpx, on the server's URL
        served.request_lines()          # the per-request log lines, parsed with LINE
    cli(tmp_path, "check", "edge.toml") # one CLI run, output captured
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import free_port, wait_until

__all__ = ["LINE", "Served", "cli", "listening", "serve", "stop", "wait_until"]

#: One per-request line of the dev server's log.
LINE = re.compile(
    r"^GET (?P<path>\S+)  (?P<pattern>\S+)  (?P<triggers>.*?)  (?P<result>\w+)  "
    r"(?P<status>\d{3})  [\d.]+ms$"
)


class Served:
    """A running dev server: its process, port and URL, and what it printed."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, stdout: Path, stderr: Path):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._stdout = stdout
        self._stderr = stderr

    @property
    def stdout(self) -> str:
        return self._stdout.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return self._stderr.read_text(encoding="utf-8")

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def request_lines(self) -> list[re.Match[str]]:
        return [m for m in map(LINE.match, self.lines()) if m]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def serve(directory: Path, app: str, *args: str) -> Iterator[Served]:
    """``python -m edge_middleware serve APP ...`` on a free port, always stopped afterwards."""
    port = free_port()
    out_path, err_path = directory / "stdout.txt", directory / "stderr.txt"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("NO_COLOR", None)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_middleware", "serve", app, "--port", str(port), *args],
            cwd=directory,
            stdout=out,
            stderr=err,
            env=env,
        )
        served = Served(proc, port, out_path, err_path)
        try:
            wait_until(
                lambda: proc.poll() is not None or listening(port), 20, "the server to listen"
            )
            assert proc.poll() is None, f"serve exited early:\n{served.stdout}\n{served.stderr}"
            yield served
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m edge_middleware ARGS`` in ``cwd``; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "edge_middleware", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
