"""Shared fixtures: a real ``redis-server`` for the Redis storage tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

try:  # tests/ on sys.path (rootdir-relative conftest) or the repository root on it
    from redis_server import RedisServer, redis_server_fixture, require_redis_server
except ImportError:  # pragma: no cover
    from tests.redis_server import RedisServer, redis_server_fixture, require_redis_server

#: One server for the whole session; skips without redis-server (fails when CI is set).
redis_server = redis_server_fixture("session")


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, with an empty database (FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return str(redis_server.url)


@pytest.fixture
def storages() -> Iterator[list[Any]]:
    """RedisStorages a test opened (``tests.support.storage.open_storage``), closed after it."""
    made: list[Any] = []
    yield made
    for storage in made:
        storage.close()


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], RedisServer]]:
    """Start private servers (for tests that kill or restart them); all stopped afterwards."""
    executable = require_redis_server()
    servers: list[RedisServer] = []

    def start() -> RedisServer:
        server = RedisServer(executable)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


#: non-daemon threads that end by themselves at interpreter exit: the workers of
#: ``concurrent.futures`` pools (handlers' ``edge-handler``, the WSGI door's ``edge-refresh``
#: for stale-while-revalidate, asyncio's default executor)
_POOL_THREADS = ("edge-handler", "edge-refresh", "ThreadPoolExecutor", "asyncio_")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that leaves a non-daemon thread running (a server it started and never stopped)
    would keep pytest from exiting at all, and CI would hang until it is killed. Such threads
    get 5 s to end; then their stacks are printed and the run ends with status 3."""
    import os
    import sys
    import threading
    import time
    import traceback

    def leaked() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t is not threading.main_thread()
            and not t.daemon
            and t.is_alive()
            and not t.name.startswith(_POOL_THREADS)
        ]

    deadline = time.monotonic() + 5
    while leaked() and time.monotonic() < deadline:
        time.sleep(0.1)
    threads = leaked()
    if not threads:
        return
    frames = sys._current_frames()
    print(f"\n{len(threads)} non-daemon thread(s) left running by the tests:", file=sys.stderr)
    for thread in threads[:5]:
        print(f"--- {thread.name}", file=sys.stderr)
        stack = frames.get(thread.ident or 0)
        if stack is not None:
            traceback.print_stack(stack, file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(3)
