"""``edge-middleware serve --threads N``: the WSGI server's worker threads (32 unless said)."""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.devserver import cli, serve

pytestmark = pytest.mark.slow

#: Each /hold request waits (at most 3 s) until four are inside the app at once, and answers
#: with the most it saw at once: the server's threads bound it.
WSGI_APP = """
import threading, time

lock = threading.Lock()
inside = [0, 0]   # now, most seen

def app(environ, start_response):
    with lock:
        inside[0] += 1
        inside[1] = max(inside[1], inside[0])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and inside[1] < 4:
        time.sleep(0.01)
    with lock:
        inside[0] -= 1
        most = inside[1]
    body = str(most).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
    return [body]
"""

ASGI_APP = """
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "held.py").write_text(textwrap.dedent(WSGI_APP))
    (tmp_path / "plain_asgi.py").write_text(textwrap.dedent(ASGI_APP))
    return tmp_path


def _most_at_once(url: str) -> set[str]:
    with ThreadPoolExecutor(4) as pool:
        # four paths: four cache keys (one path's requests would be collapsed into one fetch)
        answers = list(pool.map(lambda n: httpx.get(f"{url}/hold/{n}", timeout=20), range(4)))
    assert all(a.status_code == 200 for a in answers)
    return {a.text for a in answers}


@pytest.mark.parametrize(("args", "most"), [((), "4"), (("--threads", "2"), "2")])
def test_threads_bounds_the_requests_a_wsgi_app_serves_at_once(
    site: Path, args: tuple[str, ...], most: str
) -> None:
    with serve(site, "held:app", *args) as served:
        seen = _most_at_once(served.url)
        out = served.stdout
    # with 2 threads, no request ever saw more than 2 inside the app; with 32, all four met
    assert max(seen) == most, (seen, out)
    threads = args[1] if args else "32"
    assert f"(cheroot, {threads} threads, keep-alive)" in out


@pytest.mark.parametrize(
    ("app", "threads", "message"),
    [
        ("held:app", "0", "--threads: 0 is invalid; expected 1-1024"),
        ("held:app", "5000", "--threads: 5000 is invalid; expected 1-1024"),
        ("plain_asgi:app", "4", "--threads sets the worker threads of the WSGI server"),
    ],
)
def test_threads_refused_with_its_reason(site: Path, app: str, threads: str, message: str) -> None:
    done = cli(site, "serve", app, "--port", "0", "--threads", threads)
    assert done.returncode == 1, done
    assert message in done.stderr + done.stdout
    assert "listening" not in done.stdout
