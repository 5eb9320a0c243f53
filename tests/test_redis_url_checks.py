"""RedisStorage's URL, refused at start where redis-py took it without a word: a host that is
neither a name nor an address (an empty one became localhost, one with a space failed at the
first request), and the storage's own options in the URL's query (redis-py gave them to the
pool alone: ``?max_connections=0`` overrode the keyword's check; ``storage_from_url`` and
``--redis`` read them from the URL, and still do)."""

from __future__ import annotations

import pytest

from edge_middleware import ConfigurationError, RedisStorage
from edge_middleware.cache.redis import storage_from_url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://bad host:6379/0", "'bad host'"),
        ("redis://ho$t:6379/0", "'ho\\$t'"),
        ("redis://:secret@:6379/0", "a host name or an IP address, not ''"),
        ("redis:///0", "a host name"),
        ("redis://127.0.0.1:6379/0?pool_timeout=0.5", "pool_timeout as RedisStorage's keyword"),
        ("redis://127.0.0.1:6379/0?max_connections=0", "max_connections as RedisStorage's"),
        ("redis://127.0.0.1:6379/0?socket_timeout=3", "socket_timeout as"),
        ("redis://u:secret@127.0.0.1:6379/0?fill_lock_ttl=3", "fill_lock_ttl as"),
    ],
)
def test_a_url_redis_py_would_take_wrongly_is_refused(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as caught:
        RedisStorage(url)
    assert "secret" not in str(caught.value)
    assert "RedisStorage.url" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "redis://[::1]:6379/0",
        "redis://redis_1:6379",
        "redis://my-redis.internal:6379/2",
        "rediss://user:pw@cache.example.com:6380/0",
        "unix:///tmp/redis.sock?db=2",
    ],
)
def test_hosts_as_people_write_them_are_taken(url: str) -> None:
    RedisStorage(url).close()


def test_storage_from_url_still_reads_the_storage_options_from_the_url() -> None:
    storage = storage_from_url("redis://127.0.0.1:6379/0?max_connections=32&pool_timeout=0.5")
    try:
        assert (storage.max_connections, storage.pool_timeout) == (32, 0.5)  # type: ignore[union-attr]
    finally:
        storage.close()
    with pytest.raises(ConfigurationError, match="max_connections"):
        storage_from_url("redis://127.0.0.1:6379/0?max_connections=0")
