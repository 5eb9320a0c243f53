"""The Redis hit path: lookups on the lean client (``cache/redis_wire.py`` and
``redis_resp.py``), its pools, and the decode memo (``cache/redis_codec.py``), against a real
``redis-server``.

What must hold however fast a hit is: an equal entry comes back; a connection never carries two
commands at once (each thread or task gets its own key's body); a restarted server is
reconnected to; a value that is not a readable entry of this key is a miss, never an error.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from edge_middleware.cache.entry import CacheEntry
from edge_middleware.cache.redis import RedisStorage, dumps
from edge_middleware.cache.redis_codec import DecodeMemo
from edge_middleware.cache.redis_resp import pack, parse, wire_for
from tests.redis_server import require_redis_server
from tests.support.servers import bound_socket, wait_until
from tests.support.storage import make_entry, rich_entry


def entry(key: str = "k", body: bytes = b"hello", **changes: Any) -> CacheEntry:
    """An entry with repeated headers and validators (``rich_entry``'s), under ``key``."""
    headers = rich_entry().headers
    return make_entry(key, body=body, now=time.time(), headers=headers, etag='"v1"', **changes)


@pytest.fixture
def storage(redis_url: str, request: pytest.FixtureRequest) -> Iterator[RedisStorage]:
    """A storage on the session server (options by indirect parametrization)."""
    made = RedisStorage(redis_url, **getattr(request, "param", {}))
    yield made
    made.close()


def run_async(storage: RedisStorage, main: Callable[[], Any]) -> Any:
    async def wrapped() -> Any:
        try:
            return await main()
        finally:
            await storage.aclose()

    return asyncio.run(wrapped())


def entry_name(storage: RedisStorage, key: str) -> str:
    return storage._space.entry_key(key)


# -- no server needed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6380/2", ("127.0.0.1", 6380, 2, None, None, None)),
        ("redis://u:p%40ss@h/0", ("h", 6379, 0, "u", "p@ss", None)),
        ("redis://:secret@h:1/5", ("h", 1, 5, None, "secret", None)),
        ("unix:///tmp/r.sock?db=3", ("localhost", 6379, 3, None, None, "/tmp/r.sock")),
    ],
)
def test_wire_for(url: str, expected: tuple[Any, ...]) -> None:
    wire = wire_for(url)
    assert wire is not None
    assert (wire.host, wire.port, wire.db, wire.username, wire.password, wire.path) == expected


@pytest.mark.parametrize(
    "url",
    [
        "rediss://127.0.0.1:6379/0",  # TLS: redis-py serves it
        "redis://127.0.0.1:6379/0?protocol=3",
        "redis://127.0.0.1:6379/0?client_name=x",
        "memcached://x",
    ],
)
def test_wire_for_leaves_the_rest_to_redis_py(url: str) -> None:
    assert wire_for(url) is None


def test_resp_parse() -> None:
    reply = b"*3\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:7\r\n+OK\r\n"
    assert parse(reply) == ([b"abc", None, [7, b"OK"]], len(reply))
    error, _ = parse(b"-WRONGTYPE nope\r\n")
    assert isinstance(error, redis.ResponseError)
    assert "WRONGTYPE" in str(error)
    assert pack("MGET", b"a\r\n", 12) == b"*3\r\n$4\r\nMGET\r\n$3\r\na\r\n\r\n$2\r\n12\r\n"


def test_decode_memo_compares_the_bytes() -> None:
    memo = DecodeMemo()
    first = dumps(entry(body=b"one"))
    got = memo.loads("n", first)
    assert memo.loads("n", bytes(first)) is got  # the same bytes: not decoded again
    changed = dumps(entry(body=b"two"))
    assert memo.loads("n", changed).body == b"two"
    with pytest.raises(ValueError):
        memo.loads("n", changed[:-1])  # truncated: checked afresh, refused
    assert memo.loads("n", changed[:-1] + b"X").body == b"twX"


def test_decode_memo_is_bounded() -> None:
    base = entry(body=b"x")
    one = dumps(base)
    size = base.nbytes + len(one) - 1  # the entry and its metadata line
    memo = DecodeMemo(max_bytes=3 * size)
    for name in "abcde":
        memo.loads(name, one)
    assert list(memo._items) == ["c", "d", "e"]  # oldest first out
    assert memo.nbytes == 3 * size
    memo.loads("d", dumps(base.with_changes(body=b"y")))  # replaced, not counted twice
    assert memo.nbytes == 3 * size
    big = dumps(entry(body=bytes(memo.max_body + 1)))
    memo.loads("big", big)
    assert "big" not in memo._items


# -- against a real redis-server ----------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("size", [0, 5, 100_000, 3 * 2**20], ids=["empty", "small", "100k", "3M"])
def test_hit_round_trip(storage: RedisStorage, size: int) -> None:
    stored = entry(body=bytes(range(256)) * (size // 256) + b"\r\n"[: size % 2])
    storage.set(stored)
    assert storage.get("k") == stored
    assert storage.get("k") == stored  # again (from the memo when small)
    assert run_async(storage, lambda: storage.aget("k")) == stored


@pytest.mark.redis
def test_hit_uses_the_lean_client(storage: RedisStorage) -> None:
    assert storage._pool is not None  # a redis:// URL: lookups bypass redis-py
    stored = entry()
    storage.set(stored)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("redis-py used for a lookup")

    storage._client.mget = refuse  # type: ignore[method-assign]
    assert storage.get("k") == stored


@pytest.mark.redis
# fewer connections than threads: they wait
@pytest.mark.parametrize("storage", [{"max_connections": 3}], indirect=True, ids=["3-conns"])
def test_concurrent_hits_from_threads(storage: RedisStorage) -> None:
    keys = [f"k{i}" for i in range(8)]
    for i, key in enumerate(keys):
        storage.set(entry(key, body=key.encode() * (1 + i * 5000)))
    wrong: list[str] = []
    barrier = threading.Barrier(len(keys))

    def hammer(key: str, expected: bytes) -> None:
        barrier.wait()
        for _ in range(200):
            got = storage.get(key)
            if got is None or got.key != key or got.body != expected:
                wrong.append(key)

    threads = [
        threading.Thread(target=hammer, args=(key, key.encode() * (1 + i * 5000)))
        for i, key in enumerate(keys)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert storage._pool is not None and storage._pool._count <= 3


@pytest.mark.redis
@pytest.mark.parametrize(
    "storage", [{}, {"max_connections": 4}], indirect=True, ids=["default", "4-conns"]
)
def test_concurrent_hits_from_tasks(storage: RedisStorage) -> None:
    keys = [f"t{i}" for i in range(50)]
    for i, key in enumerate(keys):
        storage.set(entry(key, body=key.encode() * (1 + i * 700)))

    async def one(i: int, key: str) -> list[str]:
        wrong = []
        for _ in range(20):
            got = await storage.aget(key)
            if got is None or got.body != key.encode() * (1 + i * 700):
                wrong.append(key)
            await asyncio.sleep(0)
        return wrong

    async def main() -> list[str]:
        results = await asyncio.gather(*(one(i, key) for i, key in enumerate(keys)))
        assert storage._apool()._count <= storage.max_connections
        return [key for wrong in results for key in wrong]

    assert run_async(storage, main) == []


@pytest.mark.redis
@pytest.mark.parametrize("storage", [{"max_connections": 1}], indirect=True, ids=["1-conn"])
def test_cancelled_lookup_does_not_poison_the_pool(storage: RedisStorage) -> None:
    storage.set(entry("a", body=b"A" * 200_000))
    storage.set(entry("b", body=b"B"))

    async def main() -> None:
        for _ in range(20):
            task = asyncio.ensure_future(storage.aget("a"))
            await asyncio.sleep(0)  # the command is written; its reply is on its way
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            got = await storage.aget("b")
            assert got is not None and got.body == b"B"

    run_async(storage, main)


@pytest.mark.redis
def test_reconnects_after_a_restart(redis_server_factory: Callable[[], Any]) -> None:
    """A restart between two lookups: the pooled sockets are dead, the next lookup is served
    on a new one (no miss, no outage logged)."""
    server = redis_server_factory()
    storage = RedisStorage(server.url, retry_after=60)
    client = redis.Redis.from_url(server.url)
    try:
        stored = entry()
        blob = dumps(stored)

        async def aget() -> CacheEntry | None:
            return await storage.aget("k")

        async def twice() -> list[CacheEntry | None]:
            first = await aget()
            server.restart()
            client.set(entry_name(storage, "k"), blob)
            return [first, await aget()]

        client.set(entry_name(storage, "k"), blob)
        assert storage.get("k") == stored
        assert run_async(storage, twice) == [stored, stored]
        server.restart()
        client.set(entry_name(storage, "k"), blob)
        assert storage.get("k") == stored
        assert not storage._closed()
    finally:
        client.close()
        storage.close()


@pytest.mark.redis
def test_outage_then_recovery(redis_server_factory: Callable[[], Any]) -> None:
    server = redis_server_factory()
    storage = RedisStorage(server.url, retry_after=0.05)
    try:
        stored = entry()
        storage.set(stored)
        server.kill()
        assert storage.get("k") is None
        assert run_async(storage, lambda: storage.aget("k")) is None
        server.start()
        wait_until(lambda: storage.get("k") is None and not storage._closed(), 10, "recovery")
        storage.set(stored)
        assert storage.get("k") == stored
        assert run_async(storage, lambda: storage.aget("k")) == stored
    finally:
        storage.close()


#: What may sit under an entry's key after it was read and remembered (``test_loads_rejects``
#: covers the format's checks one by one).
UNREADABLE = {
    "old-format": b"em0\n{}\nbody",
    "garbage": b"\x80\x04\x95pickle",
    "truncated": dumps(entry())[:-2],
    "another-key": dumps(entry("other")),
}


@pytest.mark.redis
@pytest.mark.parametrize("value", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_values_are_misses(storage: RedisStorage, redis_url: str, value: bytes) -> None:
    with redis.Redis.from_url(redis_url) as client:
        storage.set(entry())
        assert storage.get("k") is not None  # decoded and remembered
        client.set(entry_name(storage, "k"), value)
        assert storage.get("k") is None
        assert run_async(storage, lambda: storage.aget("k")) is None
        assert not storage._closed()  # a bad value is not an outage


@pytest.mark.redis
def test_wrong_redis_type_is_a_miss(storage: RedisStorage, redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.rpush(entry_name(storage, "k"), b"x")  # MGET answers nil for a non-string
        assert storage.get("k") is None
        assert run_async(storage, lambda: storage.aget("k")) is None


@pytest.mark.redis
def test_password_and_database(redis_server_factory: Callable[[], Any]) -> None:
    server = redis_server_factory()
    with redis.Redis.from_url(server.url) as admin:
        admin.config_set("requirepass", "s3cret")
    url = f"redis://:s3cret@{server.host}:{server.port}/3"
    storage = RedisStorage(url)
    wrong = RedisStorage(f"redis://:nope@{server.host}:{server.port}/3", retry_after=60)
    try:
        stored = entry()
        storage.set(stored)
        assert storage.get("k") == stored
        assert run_async(storage, lambda: storage.aget("k")) == stored
        with redis.Redis.from_url(url) as client:
            assert client.exists(entry_name(storage, "k")) == 1
        assert wrong.get("k") is None  # AUTH refused: fail open
    finally:
        storage.close()
        wrong.close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that never answers: a listening socket nobody accepts on (the kernel completes
    the handshakes and takes the commands)."""
    with bound_socket() as sock:
        sock.listen(16)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_silent_server_times_out(silent_url: str) -> None:
    """The lookup gives up after ``socket_timeout`` and fails open, sync and async."""
    storage = RedisStorage(silent_url, socket_timeout=0.1, retry_after=0.01)
    try:
        assert storage.get("k") is None
        time.sleep(0.02)
        assert run_async(storage, lambda: storage.aget("k")) is None
    finally:
        storage.close()


def test_pool_wait_is_bounded(silent_url: str) -> None:
    """All connections busy (one, stuck): the next lookup waits ``pool_timeout`` at most, then
    fails open; its wait ends long before the stuck command's ``socket_timeout``."""
    storage = RedisStorage(silent_url, socket_timeout=2.0, pool_timeout=0.05, max_connections=1)
    done: list[str] = []

    async def lookup(name: str) -> None:
        assert await storage.aget(name) is None
        done.append(name)

    async def main() -> None:
        stuck = asyncio.ensure_future(lookup("stuck"))
        await asyncio.sleep(0.01)  # connected, its command sent
        await lookup("waiting")
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck

    try:
        run_async(storage, main)
    finally:
        storage.close()
    assert done == ["waiting"]


@pytest.mark.redis
def test_forked_child_opens_its_own_connections(storage: RedisStorage) -> None:
    """A worker forked after the parent used the storage (``gunicorn --preload``) must not read
    replies from the parent's sockets: the child's pool starts empty."""
    import multiprocessing

    stored = entry(body=b"parent")
    storage.set(stored)
    assert storage.get("k") == stored  # the parent's pool now holds a connection
    parent_conn = storage._pool._idle[-1] if storage._pool is not None else None

    def child(out: Any) -> None:
        pool = storage._pool
        out.send(
            (
                pool is not None and parent_conn not in pool._idle,
                storage.get("k") == stored,
            )
        )

    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=child, args=(writer,))
    proc.start()
    assert reader.recv() == (True, True)
    proc.join(10)
    assert proc.exitcode == 0
    assert storage.get("k") == stored  # the parent's connection still in step
    assert storage._pool is not None and parent_conn in storage._pool._idle


@pytest.mark.redis
def test_unix_socket(tmp_path: Any) -> None:
    """``unix://`` URLs take the lean client too (its own connect path, sync and async)."""
    path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [require_redis_server(), "--port", "0", "--unixsocket", str(path), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    storage = RedisStorage(f"unix://{path}?db=2")
    try:
        wait_until(path.exists, 10, "redis-server's unix socket")
        assert storage._wire is not None and storage._wire.path == str(path)
        stored = entry()
        storage.set(stored)
        assert storage.get("k") == stored
        assert run_async(storage, lambda: storage.aget("k")) == stored
    finally:
        storage.close()
        server.terminate()
        server.wait(10)
