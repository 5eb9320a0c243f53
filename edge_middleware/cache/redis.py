"""The shared edge cache in Redis: every worker and host sees the same objects (caching.md §4).

Layout, under ``{prefix}:{distribution_id}:`` (the id a middleware derives from its config and
app unless one is given, see ``identity.py``; ``{prefix}:distributions`` is a SET of the
derived ids that stored something, for invalidating from outside the servers):

* ``e:{sha256(key)}``  the serialised entry (see :func:`dumps`), written with ``SET … PX``;
* ``inv:ver``          the invalidation generation, ``INCR``-ed by every invalidation;
* ``inv``              a ZSET of ``"{ver}:{pattern}"`` scored by ``ver``;
* ``lock:{sha256(key)}`` the cross-process fill lock (request collapsing, caching.md §1.9).

A hit is one round trip (``MGET`` entry + generation). An entry written at generation *g* is
dropped on read when a pattern recorded after *g* matches its ``path`` or ``orig_path``; the
pattern list is cached in the process per generation, so there is no ``KEYS``/``SCAN`` on the
hot path. Every Redis failure fails open (a miss, a skipped store) behind a circuit breaker.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
import weakref
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from edge_middleware.cache.entry import CacheEntry, invalidation_matches
from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.core.headers import raw_header_problem
from edge_middleware.exceptions import ConfigurationError

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aioredis
    from redis.commands.core import AsyncScript, Script

__all__ = ["FORMAT_MAGIC", "RedisStorage", "dumps", "loads", "storage_from_url"]

logger = logging.getLogger("edge_middleware.cache")

_BAD_REASON = re.compile("[\x00-\x08\x0a-\x1f\x7f]")

#: Serialisation format version prefix (bump on any incompatible change, caching.md §2.3 #8).
FORMAT_MAGIC = b"em1\n"

# -- serialisation ------------------------------------------------------------------------------
#
# FORMAT_MAGIC, one line of ASCII JSON (the metadata; header bytes as latin-1 strings, which is
# lossless), b"\n", then the raw body. Never pickle: a shared Redis is not a trusted source, so
# every field is type-checked on the way back in.


def dumps(entry: CacheEntry) -> bytes:
    """Serialise ``entry`` (format ``em1``)."""
    meta = {
        "key": entry.key,
        "status": entry.status,
        "reason": entry.reason,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in entry.headers],
        "stored_at": entry.stored_at,
        "fresh_until": entry.fresh_until,
        "retain_until": entry.retain_until,
        "path": entry.path,
        "orig_path": entry.orig_path,
        "swr": entry.stale_while_revalidate,
        "sie": entry.stale_if_error,
        "etag": entry.etag,
        "last_modified": entry.last_modified,
        "generated": entry.generated,
        "error_until": entry.error_until,
        "no_conditional": entry.no_conditional,
        "generation": entry.generation,
        "body_len": len(entry.body),
    }
    header = json.dumps(meta, separators=(",", ":")).encode("ascii")
    return b"".join((FORMAT_MAGIC, header, b"\n", entry.body))


def _get(meta: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = meta[name]
    # bool is an int subclass; accept it only where a bool is expected.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"field {name!r} has the wrong type")
    return value


def _num(meta: dict[str, Any], name: str) -> float:
    return float(_get(meta, name, (int, float)))


def loads(blob: bytes) -> CacheEntry:
    """Deserialise what :func:`dumps` wrote; ``ValueError`` for anything else."""
    if not blob.startswith(FORMAT_MAGIC):
        raise ValueError("unknown cache entry format")
    end = blob.find(b"\n", len(FORMAT_MAGIC))
    if end < 0:
        raise ValueError("truncated cache entry")
    try:
        meta = json.loads(blob[len(FORMAT_MAGIC) : end])
        if not isinstance(meta, dict):
            raise ValueError("cache entry metadata is not an object")
        body = blob[end + 1 :]
        if len(body) != _get(meta, "body_len", int):
            raise ValueError("truncated cache entry body")
        headers = []
        for pair in _get(meta, "headers", list):
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and isinstance(pair[1], str)
            ):
                raise ValueError("malformed header pair")
            headers.append((pair[0].encode("latin-1"), pair[1].encode("latin-1")))
        # A shared Redis is not a trusted source: nothing unfit for the wire goes out from it.
        problem = raw_header_problem(headers)
        if problem is not None:
            raise ValueError(problem)
        if _BAD_REASON.search(_get(meta, "reason", str)):
            raise ValueError("control character in the status reason")
        return CacheEntry(
            key=_get(meta, "key", str),
            status=_get(meta, "status", int),
            reason=_get(meta, "reason", str),
            headers=tuple(headers),
            body=body,
            stored_at=_num(meta, "stored_at"),
            fresh_until=_num(meta, "fresh_until"),
            retain_until=_num(meta, "retain_until"),
            path=_get(meta, "path", str),
            orig_path=_get(meta, "orig_path", str),
            stale_while_revalidate=_get(meta, "swr", (int, type(None))),
            stale_if_error=_get(meta, "sie", (int, type(None))),
            etag=_get(meta, "etag", (str, type(None))),
            last_modified=_get(meta, "last_modified", (str, type(None))),
            generated=_get(meta, "generated", bool),
            error_until=_num(meta, "error_until"),
            no_conditional=_get(meta, "no_conditional", bool),
            generation=_get(meta, "generation", int),
        )
    except (KeyError, UnicodeError) as exc:
        raise ValueError(f"malformed cache entry: {exc!r}") from exc


# -- the storage --------------------------------------------------------------------------------
#
# Each operation is written once, as a generator of steps: a step is a Redis call described as
# data, ``(command, args, kwargs)``, whose result is sent back in. A sync driver runs the steps
# on ``redis.Redis``, an async one on ``redis.asyncio.Redis``; both own the fail-open policy.
# Besides client methods a step may name one of the Lua scripts below, or "sleep".

_T = TypeVar("_T")
_Step = tuple[str, tuple[Any, ...], dict[str, Any]]
_Steps: TypeAlias = Generator[_Step, Any, _T]

_NO_KW: dict[str, Any] = {}
_WITHSCORES: dict[str, Any] = {"withscores": True}

_SCRIPTS = {
    # Compare-and-delete: a slow fill winner whose lock expired must not release another's.
    "release": """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
    """,
    # One atomic step, so no reader sees a new generation before its patterns.
    "invalidate": """
        local v = redis.call('INCR', KEYS[1])
        for i = 1, #ARGV do redis.call('ZADD', KEYS[2], v, v .. ':' .. ARGV[i]) end
        return v
    """,
    # Is the fill lock still held; does the entry exist (one round trip while waiting).
    "poll": "return {redis.call('EXISTS', KEYS[1]), redis.call('EXISTS', KEYS[2])}",
}


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _int(raw: Any) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


class RedisStorage:
    """A cache storage in Redis, shared by every worker process and host.

    Sync methods use a ``redis.Redis`` pool, ``a``-prefixed ones a ``redis.asyncio.Redis``
    created lazily for the running event loop. Nothing raises on a Redis failure: reads miss,
    writes are skipped, a warning is logged once per outage on ``edge_middleware.cache``, and
    Redis is left alone for ``retry_after`` seconds before it is tried again.

    Besides the :class:`~edge_middleware.cache.entry.Storage` methods it offers cross-process
    request collapsing: :meth:`begin_fill`, :meth:`end_fill`, :meth:`wait_fill` (and ``a``
    versions).

    :param url: a redis-py URL (``redis://``, ``rediss://``, ``unix://``).
    :param prefix: first part of every key name.
    :param distribution_id: second part, so distributions can share one database. Left out,
        the storage adopts the identity of the middleware that serves it (its configuration
        and app, see ``identity.py``), so two apps on one Redis never see each other's
        objects while the workers of one app share theirs; ``"default"`` until then.
    :param socket_timeout: seconds for connecting and for each command.
    :param max_object_bytes: entries larger than this are not stored (decisions.md #51).
    :param retry_after: seconds the circuit breaker stays open after an error.
    :param max_connections: connections per pool (one sync pool, one async pool per loop);
        a request waits up to ``pool_timeout`` seconds for one, then the cache fails open.
    :param fill_lock_ttl: longest a request collapsing across processes waits for another
        process's origin fetch (and the life of that fill lock).
    :param clock: the clock of the entries' times (``retain_until`` becomes ``PX``).

    ::

        storage = RedisStorage("redis://127.0.0.1:6379/0", distribution_id="E2QWRUHEXAMPLE")
        storage.set(entry)
        storage.invalidate(["/images/*"])   # every worker sees it on its next lookup
        storage.close()                     # and ``await storage.aclose()`` in each event loop
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "em",
        distribution_id: str | None = None,
        socket_timeout: float = 0.25,
        max_object_bytes: int = 64 * 2**20,
        retry_after: float = 1.0,
        clock: Callable[[], float] = time.time,
        max_connections: int = 128,
        pool_timeout: float = 2.0,
        fill_lock_ttl: float = 10.0,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - redis is a test dependency
            raise ImportError(
                "RedisStorage needs redis-py: pip install 'edge-middleware[redis]'"
            ) from exc
        for name, value in (("socket_timeout", socket_timeout), ("retry_after", retry_after)):
            if not value > 0:
                raise ConfigurationError(f"RedisStorage.{name}", value, "a number > 0")
        if max_object_bytes < 0:
            raise ConfigurationError(
                "RedisStorage.max_object_bytes", max_object_bytes, "an integer >= 0"
            )
        self.url = url
        self.prefix = prefix
        self.distribution_id = distribution_id or "default"
        #: whether the namespace was chosen by the user (else adopted from a middleware)
        self.distribution_id_given = distribution_id is not None
        self._adopted: str | None = None
        self._registered = False
        self._dists_key = f"{prefix}:distributions"
        self.socket_timeout = socket_timeout
        self.max_object_bytes = max_object_bytes
        self.retry_after = retry_after
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.fill_lock_ttl = fill_lock_ttl
        self._clock = clock
        self._namespace(self.distribution_id)
        # A corrupt value (ValueError) is a backend failure too: fail open.
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError, ValueError)
        try:
            pool = redis.BlockingConnectionPool.from_url(url, **self._pool_options(False))
            self._client: redis.Redis = redis.Redis.from_pool(pool)
        except ValueError as exc:
            raise ConfigurationError("RedisStorage.url", _redact(url), f"a Redis URL ({exc})")
        self._scripts: dict[str, Script] = {
            name: self._client.register_script(lua) for name, lua in _SCRIPTS.items()
        }
        self._aclients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[aioredis.Redis, dict[str, AsyncScript]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        # circuit breaker
        self._down = False
        self._down_until = 0.0
        # invalidation patterns seen so far, sorted by generation
        self._inv_known = 0
        self._inv_versions: list[int] = []
        self._inv_patterns: list[str] = []
        # tokens of the fill locks this process holds
        self._fill_tokens: dict[str, str] = {}

    def _namespace(self, distribution_id: str) -> None:
        self._ns = f"{self.prefix}:{distribution_id}:"
        self._ver_key = self._ns + "inv:ver"
        self._inv_key = self._ns + "inv"

    def adopt_distribution(self, identity: str) -> RedisStorage:
        """The storage a middleware with distribution ``identity`` (see
        :func:`~edge_middleware.cache.identity.distribution_identity`) should use: this one, keyed
        under ``identity`` unless ``distribution_id`` was given; or, when this object already
        serves another identity (a second app on it, a dev-server reload with a changed
        config), a view under ``identity`` that shares its connection pools."""
        if self.distribution_id_given or identity == self._adopted:
            return self
        if self._adopted is None:
            self._adopted = self.distribution_id = identity
            self._namespace(identity)
            return self
        view = copy.copy(self)
        view._adopted = view.distribution_id = identity
        view._namespace(identity)
        # per-namespace state of its own; the clients, scripts and pools stay shared
        view._lock = threading.Lock()
        view._registered = False
        view._inv_known = 0
        view._inv_versions = []
        view._inv_patterns = []
        view._fill_tokens = {}
        return view

    def __repr__(self) -> str:
        return (
            f"RedisStorage({_redact(self.url)!r}, prefix={self.prefix!r}, "
            f"distribution_id={self.distribution_id!r})"
        )

    def _client_options(self, asynchronous: bool) -> dict[str, Any]:
        from redis.asyncio.retry import Retry as AsyncRetry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.retry import Retry

        # redis-py retries 10 times with backoff by default, which turns an outage into seconds
        # of latency per request. Retry once, on a connection error only: that is what a pooled
        # socket broken by a server restart needs.
        retry_class = AsyncRetry if asynchronous else Retry
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "retry": retry_class(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        }

    def _pool_options(self, asynchronous: bool) -> dict[str, Any]:
        # A bounded, blocking pool: under a burst (1,000 viewer connections) requests wait a
        # moment for a connection instead of each opening one until Redis or the process runs
        # out of sockets; a wait past ``pool_timeout`` is a backend failure (fail open).
        return {
            **self._client_options(asynchronous),
            "max_connections": self.max_connections,
            "timeout": self.pool_timeout,
        }

    # -- drivers and circuit breaker ------------------------------------------------------------

    def _run(self, operation: str, steps: _Steps[_T], failed: _T, force: bool = False) -> _T:
        if self._closed() and not force:
            steps.close()
            return failed
        did_io = False
        try:
            step = next(steps)
            while True:
                command, args, kwargs = step
                if command == "sleep":
                    time.sleep(*args)
                    result = None
                else:
                    did_io = True
                    call = self._scripts.get(command) or getattr(self._client, command)
                    result = call(*args, **kwargs)
                step = steps.send(result)
        except StopIteration as stop:
            if did_io:
                self._succeeded()
            return cast(_T, stop.value)
        except self._errors as exc:
            steps.close()
            self._failed(operation, exc)
            return failed

    async def _arun(self, operation: str, steps: _Steps[_T], failed: _T, force: bool = False) -> _T:
        if self._closed() and not force:
            steps.close()
            return failed
        did_io = False
        try:
            client, scripts = self._aclient()
            step = next(steps)
            while True:
                command, args, kwargs = step
                if command == "sleep":
                    await asyncio.sleep(*args)
                    result = None
                else:
                    did_io = True
                    call = scripts.get(command) or getattr(client, command)
                    result = await call(*args, **kwargs)
                step = steps.send(result)
        except StopIteration as stop:
            if did_io:
                self._succeeded()
            return cast(_T, stop.value)
        except self._errors as exc:
            steps.close()
            self._failed(operation, exc)
            return failed

    def _aclient(self) -> tuple[aioredis.Redis, dict[str, AsyncScript]]:
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            import redis.asyncio as aioredis

            apool = aioredis.BlockingConnectionPool.from_url(self.url, **self._pool_options(True))
            client = aioredis.Redis.from_pool(apool)
            scripts = {name: client.register_script(lua) for name, lua in _SCRIPTS.items()}
            found = self._aclients[loop] = (client, scripts)
        return found

    def _closed(self) -> bool:
        """The breaker is open: leave Redis alone for now."""
        return self._down_until != 0.0 and time.monotonic() < self._down_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self._down_until = time.monotonic() + self.retry_after
        if first:
            logger.warning(
                "Redis cache storage %s failed during %s (%s: %s); serving without the shared "
                "cache, retrying every %.3g s",
                _redact(self.url),
                operation,
                type(exc).__name__,
                exc,
                self.retry_after,
            )

    def _succeeded(self) -> None:
        if self._down:
            with self._lock:
                was_down, self._down, self._down_until = self._down, False, 0.0
            if was_down:
                logger.info("Redis cache storage %s is reachable again", _redact(self.url))

    # -- keys and invalidation bookkeeping (no IO) ----------------------------------------------

    def _entry_key(self, key: str) -> str:
        return f"{self._ns}e:{_digest(key)}"

    def _lock_key(self, key: str) -> str:
        return f"{self._ns}lock:{_digest(key)}"

    def _patterns_needed_from(self, current: int) -> int | None:
        """The generation after which patterns must be fetched to know ``current``, or None."""
        with self._lock:
            if current < self._inv_known:
                # The counter went backwards (FLUSHDB): forget what we knew.
                self._inv_known = 0
                self._inv_versions.clear()
                self._inv_patterns.clear()
            return self._inv_known if current > self._inv_known else None

    def _absorb(self, current: int, rows: list[tuple[bytes, float]]) -> None:
        with self._lock:
            # Rows come sorted by generation, each generation complete (one Lua call wrote it);
            # skip what another thread absorbed while this one was fetching.
            last = self._inv_versions[-1] if self._inv_versions else 0
            for member, score in rows:
                if int(score) > last:
                    self._inv_versions.append(int(score))
                    self._inv_patterns.append(member.decode("utf-8", "replace").partition(":")[2])
            newest = int(rows[-1][1]) if rows else 0
            self._inv_known = max(self._inv_known, current, newest)

    def _invalidated(self, entry: CacheEntry) -> bool:
        with self._lock:
            patterns = self._inv_patterns[bisect_right(self._inv_versions, entry.generation) :]
        return any(
            invalidation_matches(p, entry.path)
            or (entry.orig_path != "" and invalidation_matches(p, entry.orig_path))
            for p in patterns
        )

    def _take_token(self, key: str) -> tuple[str, str | None]:
        lkey = self._lock_key(key)
        with self._lock:
            return lkey, self._fill_tokens.pop(lkey, None)

    # -- the operations, as steps ---------------------------------------------------------------

    def _get_steps(self, key: str) -> _Steps[CacheEntry | None]:
        ekey = self._entry_key(key)
        blob, raw_ver = yield ("mget", (ekey, self._ver_key), _NO_KW)
        if blob is None:
            return None
        try:
            entry = loads(blob)
        except ValueError as exc:
            logger.debug("ignoring unreadable cache entry for %r: %s", key, exc)
            return None
        if entry.key != key:
            return None  # a hash collision or a foreign writer: never serve another's object
        current = _int(raw_ver)
        if current == entry.generation:
            return entry
        since = self._patterns_needed_from(current)
        if since is not None:
            rows = yield ("zrangebyscore", (self._inv_key, f"({since}", "+inf"), _WITHSCORES)
            self._absorb(current, rows)
        if self._invalidated(entry):
            yield ("delete", (ekey,), _NO_KW)
            return None
        return entry.with_changes(generation=current)

    def _set_steps(self, entry: CacheEntry) -> _Steps[None]:
        ekey = self._entry_key(entry.key)
        retain_ms = math.ceil((entry.retain_until - self._clock()) * 1000)
        if entry.nbytes > self.max_object_bytes or retain_ms <= 0:
            # Not stored; nor may an older object outlive it under the same key.
            yield ("delete", (ekey,), _NO_KW)
            return None
        if entry.generation <= 0:
            current = _int((yield ("get", (self._ver_key,), _NO_KW)))
            if current:
                entry = entry.with_changes(generation=current)
        if self._adopted is not None and not self._registered:
            # once per process: so `edge-middleware invalidate --redis URL` can find it
            yield ("sadd", (self._dists_key, self._adopted), _NO_KW)
            self._registered = True
        yield ("set", (ekey, dumps(entry)), {"px": retain_ms})
        return None

    def _invalidate_steps(self, patterns: list[str]) -> _Steps[int]:
        if not patterns:
            return 0
        namespaces = [self._ns]
        if not self.distribution_id_given and self._adopted is None:
            # A storage serving no middleware (the CLI's): every distribution that adopted a
            # derived id under this prefix, and the default namespace.
            names = yield ("smembers", (self._dists_key,), _NO_KW)
            ids = sorted(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)
            namespaces += [f"{self.prefix}:{d}:" for d in ids]
        for ns in dict.fromkeys(namespaces):
            keys = [ns + "inv:ver", ns + "inv"]
            yield ("invalidate", (), {"keys": keys, "args": patterns})
        return len(patterns)

    def _clear_steps(self) -> _Steps[None]:
        match = "".join("\\" + c if c in "*?[]\\" else c for c in self._ns) + "*"
        keep = self._ver_key.encode()
        cursor = 0
        while True:
            cursor, names = yield ("scan", (cursor,), {"match": match, "count": 1000})
            names = [n for n in names if n != keep]
            if names:
                yield ("unlink", tuple(names), _NO_KW)
            if not cursor:
                return None

    def _begin_fill_steps(self, key: str, ttl: float) -> _Steps[bool]:
        lkey, token = self._lock_key(key), uuid.uuid4().hex
        # Capped: a lock whose release was lost (Redis unreachable at that moment) must not
        # hold other processes' requests for the whole origin timeout.
        px = max(1, math.ceil(min(ttl, self.fill_lock_ttl) * 1000))
        won = yield ("set", (lkey, token), {"nx": True, "px": px})
        if won:
            with self._lock:
                self._fill_tokens[lkey] = token
        return bool(won)

    def _release_steps(self, lkey: str, token: str) -> _Steps[None]:
        yield ("release", (), {"keys": [lkey], "args": [token]})
        return None

    def _wait_fill_steps(self, key: str, timeout: float) -> _Steps[CacheEntry | None]:
        deadline = time.monotonic() + min(timeout, self.fill_lock_ttl)
        delay = 0.002
        keys = [self._lock_key(key), self._entry_key(key)]
        while not self._closed():
            locked, present = yield ("poll", (), {"keys": keys})
            # Done as soon as there is a fresh entry (the winner may still be streaming its
            # response), or when the lock is gone (the winner stored nothing, or failed). A
            # stale entry is what the winner is refreshing: keep waiting for the new one.
            if present:
                entry = yield from self._get_steps(key)
                fresh = entry is not None and entry.fresh_until > self._clock()
                if fresh or not locked:
                    return entry
            elif not locked:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield ("sleep", (min(delay, remaining),), _NO_KW)
            delay = min(delay * 2, 0.05)
        return None

    # -- sync API -------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` unless absent, unreadable or invalidated since it was stored.
        Its ``generation`` is the invalidation generation current at this lookup."""
        return self._run("get", self._get_steps(key), None)

    def set(self, entry: CacheEntry) -> None:
        """Store ``entry`` until its ``retain_until`` (``SET … PX``). Too large or already past
        ``retain_until``: not stored (and an older object under its key is dropped).
        ``entry.generation`` is kept if non-zero, else the current generation is recorded."""
        self._run("set", self._set_steps(entry), None)

    def delete(self, key: str) -> None:
        self._run("delete", self._delete_steps(key), None)

    def _delete_steps(self, key: str) -> _Steps[None]:
        yield ("delete", (self._entry_key(key),), _NO_KW)
        return None

    def invalidate(self, paths: Iterable[str]) -> int:
        """Record invalidation ``paths`` (exact, or a prefix when ending in ``*``; matched
        against ``path`` and ``orig_path``): every worker treats matching entries stored before
        as misses (and deletes them) from its next lookup on.

        Returns the number of distinct patterns recorded, not of entries removed (unknown
        without a scan); 0 if Redis is unavailable (logged).
        """
        return self._run("invalidate", self._invalidate_steps(list(dict.fromkeys(paths))), 0)

    def clear(self) -> None:
        """Delete this distribution's entries, locks and patterns, keeping the generation counter
        (it must only grow). Uses ``SCAN``: for tests and the CLI, not the hot path."""
        self._run("clear", self._clear_steps(), None)

    def close(self) -> None:
        """Close the sync connection pool (async clients: :meth:`aclose`, in their loop)."""
        self._client.close()

    def begin_fill(self, key: str, ttl: float) -> bool:
        """Try to become the one process that fetches ``key`` from the origin (caching.md §1.9);
        the lock expires after ``ttl`` seconds. True if this process won or Redis is down."""
        return self._run("begin_fill", self._begin_fill_steps(key, ttl), True)

    def end_fill(self, key: str) -> None:
        """Release the lock taken by :meth:`begin_fill`, only if it is still ours."""
        lkey, token = self._take_token(key)
        if token is not None:
            # always try: a lock left behind would stall its key until it expires
            self._run("end_fill", self._release_steps(lkey, token), None, force=True)

    def wait_fill(self, key: str, timeout: float) -> CacheEntry | None:
        """Wait (polling with a short backoff, at most ``timeout`` seconds) until ``key`` has an
        entry or its fill lock is released; the entry, or None (timeout, nothing stored, Redis
        down). A stale entry is returned only once the lock is gone: the caller judges its
        freshness."""
        return self._run("wait_fill", self._wait_fill_steps(key, timeout), None)

    # -- async API ------------------------------------------------------------------------------

    async def aget(self, key: str) -> CacheEntry | None:
        return await self._arun("get", self._get_steps(key), None)

    async def aset(self, entry: CacheEntry) -> None:
        await self._arun("set", self._set_steps(entry), None)

    async def adelete(self, key: str) -> None:
        await self._arun("delete", self._delete_steps(key), None)

    async def ainvalidate(self, paths: Iterable[str]) -> int:
        patterns = list(dict.fromkeys(paths))
        return await self._arun("invalidate", self._invalidate_steps(patterns), 0)

    async def aclear(self) -> None:
        await self._arun("clear", self._clear_steps(), None)

    async def abegin_fill(self, key: str, ttl: float) -> bool:
        return await self._arun("begin_fill", self._begin_fill_steps(key, ttl), True)

    async def aend_fill(self, key: str) -> None:
        lkey, token = self._take_token(key)
        if token is not None:
            await self._arun("end_fill", self._release_steps(lkey, token), None, force=True)

    async def await_fill(self, key: str, timeout: float) -> CacheEntry | None:
        return await self._arun("wait_fill", self._wait_fill_steps(key, timeout), None)

    async def aclose(self) -> None:
        """Close the async client of the running event loop (call it before the loop ends)."""
        found = self._aclients.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[0].aclose()


def storage_from_url(url: str) -> MemoryStorage | RedisStorage:
    """A storage from a URL: ``memory://`` (optionally ``?max_bytes=N&max_object_bytes=N``), or
    a redis-py URL, optionally with ``prefix=``, ``distribution_id=``, ``max_connections=``
    (pool size), ``pool_timeout=`` (seconds a request waits for a pooled connection) and
    ``socket_timeout=`` query parameters.

    ::

        storage_from_url("memory://?max_bytes=67108864")
        storage_from_url("redis://127.0.0.1:6379/0?distribution_id=E2QWRUHEXAMPLE")
        storage_from_url("redis://127.0.0.1:6379/0?max_connections=32&pool_timeout=0.5")
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = dict(parse_qsl(parts.query))
    try:
        if scheme == "memory":
            unknown = set(query) - {"max_bytes", "max_object_bytes"}
            if unknown:
                raise ValueError(f"unknown parameter {sorted(unknown)[0]!r}")
            max_object = query.get("max_object_bytes")
            return MemoryStorage(
                int(query.get("max_bytes", 256 * 2**20)),
                max_object_bytes=None if max_object is None else int(max_object),
            )
        if scheme in ("redis", "rediss", "unix"):
            prefix = query.pop("prefix", "em")
            distribution_id = query.pop("distribution_id", None)
            # The pool's size and wait, and the command timeout, as settings (issue 16.9).
            tuning: dict[str, Any] = {}
            for name, kind in (
                ("max_connections", int),
                ("pool_timeout", float),
                ("socket_timeout", float),
            ):
                if name in query:
                    tuning[name] = kind(query.pop(name))
            rest = urlunsplit(parts._replace(query=urlencode(query)))
            return RedisStorage(rest, prefix=prefix, distribution_id=distribution_id, **tuning)
    except ValueError as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError("storage", _redact(url), f"a valid storage URL ({exc})")
    raise ConfigurationError("storage", _redact(url), "memory:// or a redis(s):// or unix:// URL")
