"""A real ``redis-server`` on a free loopback port, for the Redis storage tests.

::

    with RedisServer() as server:
        storage = RedisStorage(server.url)
        server.kill()      # simulate a crash
        server.start()     # same port, empty database

``redis_server_fixture()`` turns it into a pytest fixture that skips when ``redis-server`` is
not installed, unless the ``CI`` environment variable is set (then it fails).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from support.servers import free_port
except ImportError:  # pragma: no cover
    from tests.support.servers import free_port

__all__ = ["RedisServer", "free_port", "redis_server_fixture", "require_redis_server"]


def require_redis_server() -> str:
    """The path of ``redis-server``; skip the test without it (fail instead when ``CI`` is set)."""
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    return path


class RedisServer:
    """One ``redis-server`` process without persistence, in its own temporary directory.

    :param executable: the server binary.
    :param port: a fixed port; default a free one, kept across :meth:`start` calls.
    """

    def __init__(self, executable: str = "redis-server", port: int | None = None) -> None:
        self.executable = executable
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._tmp = tempfile.TemporaryDirectory(prefix="em-redis-")
        self.dir = Path(self._tmp.name)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server (on the same port as before) and wait until it answers PING."""
        if self.running:
            return self
        args = [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                log = self.dir / "redis.log"
                detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{detail}")
            time.sleep(0.01)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down cleanly (SIGTERM), killing it if it does not exit in time."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Crash it (SIGKILL): clients see their connections drop."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc = None

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def redis_server_fixture(scope: Any = "session") -> Callable[[], Iterator[RedisServer]]:
    """A pytest fixture (of ``scope``) yielding a running :class:`RedisServer`::

    redis_server = redis_server_fixture("session")   # in a conftest.py
    """

    @pytest.fixture(scope=scope)
    def fixture() -> Iterator[RedisServer]:
        executable = require_redis_server()
        with RedisServer(executable) as server:
            yield server

    return fixture
