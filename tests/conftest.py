"""Shared fixtures: a real ``redis-server`` for the Redis storage tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
