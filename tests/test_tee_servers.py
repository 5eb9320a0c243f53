"""A cacheable WSGI stream (no Content-Length) behind real servers: gunicorn (gthread) in its own
process, and the dev server's cheroot. It reaches the viewer as it comes and is stored once a
viewer read it whole; a viewer that leaves mid-stream leaves nothing stored (a cut copy would
be served to everyone after), and the server logs no traceback.

The origin appends one line per call to a file, so calls are counted across processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

APP = """
import os, time
from flask import Flask, Response
from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware

flask_app = Flask("feed")

@flask_app.route("/feed")
def feed():
    with open(os.environ["EM_CALLS_FILE"], "a") as calls:
        calls.write("feed\\n")

    def chunks():
        for n in range(30):
            yield f"chunk {n:02d};".encode()
            time.sleep(0.02)

    return Response(chunks(), mimetype="text/plain", headers={"Cache-Control": "max-age=60"})

app = EdgeWSGIMiddleware(
    flask_app.wsgi_app, config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 3600)))
)
"""

WHOLE = b"".join(f"chunk {n:02d};".encode() for n in range(30))


def _request(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET /feed HTTP/1.1\r\nHost: feed.test\r\nConnection: close\r\n\r\n")
    return conn


def _read_all(port: int) -> tuple[bytes, bytes]:
    """(head, de-chunked body) of one whole answer."""
    conn = _request(port)
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while body:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, body = out + body[:size], body[size + 2 :]
        body = out
    return head, body


def _leave_mid_stream(port: int) -> None:
    """Read the head and the first bytes of the stream, then go (RST, as a closed tab)."""
    conn = _request(port)
    got = b""
    while b"chunk 01;" not in got:
        part = conn.recv(4096)
        assert part, got
        got += part
    assert got.startswith(b"HTTP/1.1 200")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _x_cache(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"x-cache":
            return value.strip().decode()
    return ""


@contextmanager
def _serve(kind: str, tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    (tmp_path / "feedapp.py").write_text(APP)
    calls, log = tmp_path / "calls.txt", tmp_path / f"{kind}.log"
    port = free_port()
    env = dict(os.environ, EM_CALLS_FILE=str(calls), PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    if kind == "gunicorn":
        argv = [
            sys.executable, "-m", "gunicorn", "feedapp:app", "-w", "1", "-k", "gthread",
            "--threads", "4", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2",
        ]  # fmt: skip
    else:  # cheroot, as the dev server serves a WSGI app
        code = (
            "import sys; from cheroot import wsgi; import feedapp; "
            f"s = wsgi.Server(('127.0.0.1', {port}), feedapp.app); s.start()"
        )
        argv = [sys.executable, "-c", code]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield port, calls, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("kind", ["gunicorn", "cheroot"])
def test_a_stream_the_viewer_left_is_not_stored_and_a_whole_one_is(
    kind: str, tmp_path: Path
) -> None:
    pytest.importorskip(kind)
    with _serve(kind, tmp_path) as (port, calls, log):
        _leave_mid_stream(port)
        time.sleep(0.8)  # the origin's stream would have ended by now (30 x 20 ms)
        head, body = _read_all(port)
        assert (_x_cache(head), body) == ("Miss from cloudfront", WHOLE)
        head, body = _read_all(port)
        assert (_x_cache(head), body) == ("Hit from cloudfront", WHOLE)
        assert _calls(calls) == 2
    assert "Traceback" not in log.read_text()
