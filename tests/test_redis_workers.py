"""The shared Redis cache across real worker processes (issue 3, caching.md §1.9 and §4).

Real servers on free 127.0.0.1 ports, importing ``tests/worker_apps``:

* two separate ``uvicorn`` processes (Starlette behind ``EdgeMiddleware``);
* ``gunicorn -w 2`` (Flask behind ``EdgeWSGIMiddleware``): sync workers for the shared hit and
  the Redis outage, ``gthread`` workers (10 connections each) for request collapsing.

Every process builds its own ``RedisStorage`` from ``EM_REDIS_URL``. The origin appends one line
per call to a shared file (``O_APPEND``), so origin calls are counted across processes.
``X-Origin-Pid`` is cached with the object; ``X-Worker-Pid`` is added outside the middleware and
names the process that answered the viewer.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent
HIT = "Hit from cloudfront"
MISS = "Miss from cloudfront"
#: Bound for starting a server, and for any single request.
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0


# -- servers ------------------------------------------------------------------------------------


@dataclass
class Server:
    """One server process (uvicorn, or a gunicorn master with its workers)."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Cluster:
    servers: list[Server]
    calls_file: Path
    #: Where viewers connect: one URL per uvicorn process, or gunicorn's single one.
    urls: list[str] = field(default_factory=list)

    def calls(self, path: str | None = None) -> list[tuple[int, str]]:
        """Origin calls so far, ``(pid, path)``, across every process."""
        if not self.calls_file.exists():
            return []
        rows = []
        for line in self.calls_file.read_text(encoding="ascii").splitlines():
            pid, _, called = line.partition(" ")
            if path is None or called == path:
                rows.append((int(pid), called))
        return rows

    def assert_no_tracebacks(self) -> None:
        for server in self.servers:
            text = server.text()
            assert "Traceback" not in text, f"{server.name} logged an exception:\n{text[-4000:]}"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it is not gone within 10 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    # gunicorn workers may outlive a killed master: the group goes down with it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(5)


#: The viewer's Host, the same whichever process answers (as behind a load balancer): with no
#: origins configured the Host reaches the app, so it is part of the cache key.
VIEWER_HOST = "www.example.test"


def _get(url: str, timeout: float = REQUEST_TIMEOUT) -> httpx.Response:
    """One request on a new connection (so gunicorn may hand it to any worker)."""
    return httpx.get(url, timeout=timeout, headers={"Host": VIEWER_HOST})


@contextmanager
def _server(
    name: str, argv: list[str], port: int, env: dict[str, str], log: Path
) -> Iterator[Server]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers
        )
    server = Server(name, proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"{name} exited early:\n{server.text()[-4000:]}"
            try:
                if _get(server.url + "/hold/0", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{name} did not start:\n{server.text()[-4000:]}"
            time.sleep(0.05)
        yield server
    finally:
        _stop(proc)


def _env(redis_url: str, calls_file: Path) -> dict[str, str]:
    env = dict(os.environ, EM_REDIS_URL=redis_url, EM_CALLS_FILE=str(calls_file))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@contextmanager
def uvicorn_pair(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two separate uvicorn processes serving ``asgi_worker:app``."""
    calls = tmp_path / "calls.txt"
    env = _env(redis_url, calls)
    with ExitStack() as stack:
        servers = []
        for i in range(2):
            port = free_port()
            argv = [
                sys.executable, "-m", "uvicorn", "tests.worker_apps.asgi_worker:app",
                "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning",
                "--timeout-graceful-shutdown", "2",
            ]  # fmt: skip
            log = tmp_path / f"uvicorn{i}.log"
            servers.append(stack.enter_context(_server(f"uvicorn#{i}", argv, port, env, log)))
        yield Cluster(servers, calls, [s.url for s in servers])


@contextmanager
def gunicorn_workers(redis_url: str, tmp_path: Path, *options: str) -> Iterator[Cluster]:
    """``gunicorn -w 2`` serving ``wsgi_worker:app`` (``options``: worker class etc.)."""
    calls = tmp_path / "calls.txt"
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "tests.worker_apps.wsgi_worker:app",
        "-w", "2", "-b", f"127.0.0.1:{port}",
        "--graceful-timeout", "2", "--timeout", "30", "--log-level", "info",
        *options,
    ]  # fmt: skip
    with _server("gunicorn", argv, port, _env(redis_url, calls), tmp_path / "gunicorn.log") as s:
        _wait_for_booted_workers(s, 2)
        yield Cluster([s], calls, [s.url])


def _wait_for_booted_workers(server: Server, count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while server.text().count("Booting worker with pid") < count:
        assert server.proc.poll() is None, f"gunicorn exited:\n{server.text()[-4000:]}"
        assert time.monotonic() < deadline, f"gunicorn workers missing:\n{server.text()[-4000:]}"
        time.sleep(0.05)


def _pid(response: httpx.Response, name: str) -> int:
    return int(response.headers[name])


# -- a hit in one process for an object cached by the other ----------------------------------


@pytest.mark.slow
def test_two_uvicorn_processes_share_cached_objects(redis_url: str, tmp_path: Path) -> None:
    with uvicorn_pair(redis_url, tmp_path) as cluster:
        a, b = cluster.urls
        first = _get(a + "/obj/shared")
        assert first.status_code == 200
        assert first.headers["x-cache"] == MISS
        pid_a = _pid(first, "x-worker-pid")
        assert _pid(first, "x-origin-pid") == pid_a

        second = _get(b + "/obj/shared")
        assert second.status_code == 200
        assert second.headers["x-cache"] == HIT
        pid_b = _pid(second, "x-worker-pid")
        assert pid_b != pid_a, "the two uvicorn servers are one process"
        assert _pid(second, "x-origin-pid") == pid_a  # stored by A, served by B
        assert second.text == first.text == f"/obj/shared from {pid_a}"
        assert "age" in second.headers

        # And the other way round, for an object B fetched.
        assert _get(b + "/obj/other").headers["x-cache"] == MISS
        back = _get(a + "/obj/other")
        assert back.headers["x-cache"] == HIT
        assert (_pid(back, "x-origin-pid"), _pid(back, "x-worker-pid")) == (pid_b, pid_a)

        assert cluster.calls() == [(pid_a, "/obj/shared"), (pid_b, "/obj/other")]
        cluster.assert_no_tracebacks()


def _request_from_other_worker(url: str, path: str, not_pid: int) -> list[httpx.Response]:
    """GET ``path`` until a sync worker other than ``not_pid`` answers (every other attempt
    keeps one worker busy with ``/hold`` meanwhile, so the GET goes to the other one).
    Every response, the last one from another worker."""
    responses = []
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(1) as pool:
        for attempt in itertools.count():
            if time.monotonic() >= deadline:
                break
            # every other attempt, the GET alone: on a loaded machine one worker can win every
            # accept race, and then it took every hold, and every GET went to the other one
            held = pool.submit(_get, url + "/hold/0.6") if attempt % 2 == 0 else None
            time.sleep(0.2)
            response = _get(url + path)
            assert held is None or held.result().status_code == 200
            responses.append(response)
            if _pid(response, "x-worker-pid") != not_pid:
                return responses
    raise AssertionError(f"no other gunicorn worker than {not_pid} answered {path} in 60 s")


@pytest.mark.slow
@pytest.mark.parametrize("preload", [False, True], ids=["fork-then-load", "preload"])
def test_gunicorn_sync_workers_share_cached_objects(
    redis_url: str, tmp_path: Path, preload: bool
) -> None:
    options = ["--preload"] if preload else []
    with gunicorn_workers(redis_url, tmp_path, "-k", "sync", *options) as cluster:
        (url,) = cluster.urls
        first = _get(url + "/obj/shared")
        assert first.status_code == 200
        assert first.headers["x-cache"] == MISS
        pid_a = _pid(first, "x-worker-pid")
        assert _pid(first, "x-origin-pid") == pid_a

        responses = _request_from_other_worker(url, "/obj/shared", pid_a)
        for response in responses:  # from A or B: always the object A stored
            assert response.status_code == 200
            assert response.headers["x-cache"] == HIT
            assert _pid(response, "x-origin-pid") == pid_a
            assert response.text == first.text
        other = responses[-1]
        assert _pid(other, "x-worker-pid") != pid_a
        assert "age" in other.headers
        assert cluster.calls() == [(pid_a, "/obj/shared")]
        cluster.assert_no_tracebacks()


# -- request collapsing across processes (caching.md §1.9) ------------------------------------


def _burst(urls: list[str], n: int) -> list[tuple[float, float, httpx.Response]]:
    """``n`` concurrent GETs, spread round-robin over ``urls``: ``(sent, done, response)``."""
    barrier = threading.Barrier(n, timeout=REQUEST_TIMEOUT)

    def one(url: str) -> tuple[float, float, httpx.Response]:
        barrier.wait()
        sent = time.monotonic()
        response = _get(url)
        return sent, time.monotonic(), response

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(one, urls[i % len(urls)]) for i in range(n)]
        return [f.result(timeout=60) for f in futures]


def _assert_collapsed(
    cluster: Cluster,
    results: list[tuple[float, float, httpx.Response]],
    path: str,
    *,
    calls_before: int = 0,
) -> None:
    """One origin call for the whole burst (after ``calls_before`` earlier ones): one Miss, the
    others Hits of that response, and the burst was served by two processes."""
    # A harness check, by order rather than by a time bound: every request was sent before any
    # was answered, so all of them arrived while the 1-s origin call was in flight.
    assert max(r[0] for r in results) < min(r[1] for r in results)
    responses = [r[2] for r in results]
    assert [r.status_code for r in responses] == [200] * len(responses)
    calls = cluster.calls(path)[calls_before:]
    assert len(calls) == 1, f"the burst called the origin {len(calls)} times: {calls}"
    ((origin_pid, _),) = calls
    assert Counter(r.headers["x-cache"] for r in responses) == {MISS: 1, HIT: len(responses) - 1}
    assert {_pid(r, "x-origin-pid") for r in responses} == {origin_pid}
    assert {r.text for r in responses} == {f"{path} from {origin_pid}"}
    served_by = Counter(_pid(r, "x-worker-pid") for r in responses)
    assert len(served_by) == 2, f"the burst was not split over two processes: {served_by}"
    cluster.assert_no_tracebacks()


@contextmanager
def collapsing_cluster(
    front_door: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[Cluster, list[str]]]:
    """Two processes for bursts of 20, and the viewers' URLs (round-robin over them)."""
    if front_door == "asgi":
        with uvicorn_pair(redis_url, tmp_path) as cluster:
            yield cluster, cluster.urls
        return
    # Each gthread worker takes at most 10 connections at a time, so 20 concurrent requests
    # are split over both workers.
    threads = ["-k", "gthread", "--threads", "10", "--worker-connections", "10"]
    with gunicorn_workers(redis_url, tmp_path, *threads, "--keep-alive", "0") as cluster:
        # Warm both workers up (app loaded, Redis connected) with a burst of their own.
        warm = _burst([cluster.urls[0] + "/hold/0.5"], 20)
        assert len({_pid(r, "x-worker-pid") for _, _, r in warm}) == 2
        yield cluster, cluster.urls


FRONT_DOORS = [
    pytest.param("asgi", id="asgi-2-uvicorn"),
    pytest.param("wsgi", id="wsgi-gunicorn-2-gthread"),
]


@pytest.mark.slow
@pytest.mark.parametrize("front_door", FRONT_DOORS)
def test_collapsing_across_processes(front_door: str, redis_url: str, tmp_path: Path) -> None:
    """20 concurrent requests over two processes, one uncached key, a 1-s origin: one call."""
    with collapsing_cluster(front_door, redis_url, tmp_path) as (cluster, urls):
        path = "/slow/collapsed"
        results = _burst([u + path for u in urls], 20)
        _assert_collapsed(cluster, results, path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "front_door",
    [
        pytest.param("asgi", id="asgi-2-uvicorn"),
        pytest.param("wsgi", id="wsgi-gunicorn-2-gthread"),
    ],
)
def test_collapsing_across_processes_refetch_of_expired_object(
    front_door: str, redis_url: str, tmp_path: Path
) -> None:
    """The same for a key whose stored object has expired (still retained, caching.md §1.11):
    the refetch is collapsed too (§1.9 makes no exception for expired objects)."""
    with collapsing_cluster(front_door, redis_url, tmp_path) as (cluster, urls):
        path = "/brief/expired"  # fresh for 1 s
        assert _get(urls[0] + path).headers["x-cache"] == MISS
        time.sleep(1.5)
        results = _burst([u + path for u in urls], 20)
        _assert_collapsed(cluster, results, path, calls_before=1)


# -- Redis killed in the middle of a stream of requests ---------------------------------------


@dataclass
class Stream:
    """Viewers requesting without pause (one thread per URL) until stopped."""

    urls: list[str]
    results: list[tuple[float, float, str, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, index: int, url: str) -> None:
        n = 0
        while not self._stop.is_set():
            # Alternate the stored object with objects never requested before.
            path = "/obj/stored" if n % 2 == 0 else f"/obj/s{index}-{n}"
            n += 1
            sent = time.monotonic()
            try:
                response = _get(url + path)
            except httpx.HTTPError as exc:
                self.errors.append(f"{path}: {exc!r}")
                continue
            done = time.monotonic()
            self.results.append(
                (sent, done, path, response.status_code, response.headers.get("x-cache", ""))
            )

    def __enter__(self) -> Stream:
        for i, url in enumerate(self.urls):
            thread = threading.Thread(target=self._run, args=(i, url), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self._threads)


def _kill_redis_mid_stream(cluster: Cluster, server: RedisServer) -> None:
    urls = cluster.urls * 2 if len(cluster.urls) == 1 else cluster.urls
    first, *others = [_get(u + "/obj/stored") for u in urls]  # stored before the outage
    assert [first.headers["x-cache"], *(r.headers["x-cache"] for r in others)] == [MISS, HIT]
    assert len(cluster.calls("/obj/stored")) == 1

    with Stream(urls) as stream:
        time.sleep(0.5)
        killed = time.monotonic()
        server.kill()
        time.sleep(2.0)  # longer than RedisStorage.retry_after: the breaker re-probes a dead Redis
        server.start()  # same port, empty database
        restarted = time.monotonic()

        # A stored object is a hit again within a few seconds, in every process.
        def hit_everywhere() -> bool:
            got = [_get(u + "/obj/stored") for u in urls]
            assert all(r.status_code == 200 for r in got)
            return all(r.headers["x-cache"] == HIT for r in got)

        deadline = restarted + 5.0
        while not hit_everywhere():
            assert time.monotonic() < deadline, "no hit within 5 s of the Redis restart"
            time.sleep(0.1)
        time.sleep(0.3)  # a little more of the stream with Redis back

    assert stream.errors == []
    assert stream.results, "the stream made no request"
    bad = [r for r in stream.results if r[3] != 200]
    assert bad == [], f"requests failed while Redis was down: {bad[:5]}"
    before = [r for r in stream.results if r[1] < killed and r[2] == "/obj/stored"]
    assert before and {r[4] for r in before} == {HIT}
    during = [r for r in stream.results if killed < r[0] and r[1] < restarted]
    assert len(during) >= 4, "too few requests while Redis was down"
    # Fail open: nothing cached while Redis is down, every request goes to the origin.
    assert {r[4] for r in during} == {MISS}
    slowest = max(done - sent for sent, done, *_ in stream.results)
    # Semantic, not speed: failing open means no request waits on the dead Redis for longer
    # than a socket timeout or two (0.25 s each); 3 s is far from both.
    assert slowest < 3.0, f"a request took {slowest:.2f} s around the outage"
    for process in cluster.servers:  # the workers did notice (one warning per outage)
        assert "Redis cache storage" in process.text()
    cluster.assert_no_tracebacks()


@pytest.mark.slow
def test_redis_killed_mid_stream_uvicorn(
    redis_server_factory: Callable[[], RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory()
    with uvicorn_pair(server.url, tmp_path) as cluster:
        _kill_redis_mid_stream(cluster, server)


@pytest.mark.slow
def test_redis_killed_mid_stream_gunicorn(
    redis_server_factory: Callable[[], RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory()
    with gunicorn_workers(server.url, tmp_path, "-k", "sync") as cluster:
        _kill_redis_mid_stream(cluster, server)
