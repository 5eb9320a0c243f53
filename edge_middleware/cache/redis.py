"""The shared edge cache in Redis: every worker and host sees the same objects (caching.md §4).

Keys live under ``{prefix}:{distribution_id}:`` (the id a middleware derives from its config
and app unless one is given, see ``identity.py``; ``{prefix}:distributions`` is a SET of the
derived ids that stored something, for invalidating from outside the servers). The layout and
the operations are in ``redis_ops.py``, the entry format in ``redis_codec.py``.

A hit is one round trip (``MGET`` entry + generation + epoch) on the lean client of
``redis_wire.py`` (its protocol in ``redis_resp.py``); the other commands, Lua scripts and
``rediss://`` go through redis-py. Every Redis failure fails open (a miss, a skipped store)
behind a circuit breaker.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from edge_middleware.cache.entry import CacheEntry, invalidation_paths
from edge_middleware.cache.memory import MemoryStorage
from edge_middleware.cache.redis_breaker import Breaker
from edge_middleware.cache.redis_codec import FORMAT_MAGIC, dumps, loads
from edge_middleware.cache.redis_ops import SCRIPTS, Namespace, Steps
from edge_middleware.cache.redis_options import (
    check_connection_options,
    check_options,
    check_url_shape,
    redact,
)
from edge_middleware.exceptions import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aioredis
    from redis.commands.core import AsyncScript, Script

    from edge_middleware.cache.redis_wire import AsyncPool

__all__ = ["FORMAT_MAGIC", "RedisStorage", "dumps", "loads", "storage_from_url"]

logger = logging.getLogger("edge_middleware.cache")

_T = TypeVar("_T")


class RedisStorage:
    """A cache storage in Redis, shared by every worker process and host.

    Sync methods use one connection pool per process, ``a``-prefixed ones one per running event
    loop (lookups on the lean client of ``redis_wire.py`` for ``redis://`` and ``unix://``
    URLs; the rest on ``redis.Redis`` / ``redis.asyncio.Redis``). Nothing raises on a Redis
    failure: reads miss, writes are skipped, a warning is logged once per outage on
    ``edge_middleware.cache``, and Redis is left alone for ``retry_after`` seconds before it is
    tried again.

    Besides the :class:`~edge_middleware.cache.entry.Storage` methods it offers cross-process
    request collapsing: :meth:`begin_fill`, :meth:`end_fill`, :meth:`wait_fill` (and ``a``
    versions).

    :param url: a redis-py URL (``redis://``, ``rediss://``, ``unix://``); a query parameter
        that redis-py's connections do not take is a ``ConfigurationError``.
    :param prefix: first part of every key name.
    :param distribution_id: second part, so distributions can share one database. Left out,
        the storage adopts the identity of the middleware that serves it (its configuration
        and app, see ``identity.py``), so two apps on one Redis never see each other's
        objects while the workers of one app share theirs; ``"default"`` until then.
    :param socket_timeout: seconds for connecting and for each command.
    :param max_object_bytes: entries larger than this are not stored (decisions.md #51).
    :param retry_after: seconds the circuit breaker stays open after an error.
    :param max_connections: connections per pool (per process for the sync methods, per
        event loop for the async ones; lookups and the other commands have a pool each); a
        request waits up to ``pool_timeout`` seconds for one, then the cache fails open.
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
        try:  # (the lean client's modules use redis-py's errors: imported after this check)
            import redis

            from edge_middleware.cache.redis_resp import wire_for
            from edge_middleware.cache.redis_wire import SyncPool
        except ImportError as exc:
            if getattr(exc, "name", None) != "redis" and not str(exc.name).startswith("redis."):
                raise
            raise MissingExtraError("RedisStorage", "redis-py", "redis") from exc
        check_options(
            url,
            prefix,
            distribution_id,
            clock,
            max_object_bytes,
            max_connections,
            {
                "socket_timeout": socket_timeout,
                "retry_after": retry_after,
                "pool_timeout": pool_timeout,
                "fill_lock_ttl": fill_lock_ttl,
            },
        )
        self.url = url
        self.prefix = prefix
        self.distribution_id = distribution_id or "default"
        #: whether the namespace was chosen by the user (else adopted from a middleware)
        self.distribution_id_given = distribution_id is not None
        self._adopted: str | None = None
        given = self.distribution_id_given
        # a distribution_id given is recorded as an adopted one is, so that
        # `edge-middleware invalidate --redis URL` reaches it (it recorded patterns nobody read)
        self._space = Namespace(prefix, self.distribution_id, adopted=given, scoped=given)
        self.socket_timeout = socket_timeout
        self.max_object_bytes = max_object_bytes
        self.retry_after = retry_after
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.fill_lock_ttl = fill_lock_ttl
        self._clock = clock
        self._clock_given = clock is not time.time
        # A corrupt value (ValueError) is a backend failure too, and so is anything unforeseen
        # the client raises (TypeError): fail open, as the README promises.
        self._errors = (redis.RedisError, OSError, ValueError, TypeError)
        check_url_shape(url)
        try:
            pool = redis.BlockingConnectionPool.from_url(url, **self._pool_options(False))
        except (ValueError, redis.RedisError) as exc:
            raise ConfigurationError(
                "RedisStorage.url", redact(url), f"a Redis URL ({exc})"
            ) from None
        check_connection_options(pool, url)
        self._client: redis.Redis = redis.Redis.from_pool(pool)
        self._scripts: dict[str, Script] = {
            name: self._client.register_script(lua) for name, lua in SCRIPTS.items()
        }
        self._aclients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[aioredis.Redis, dict[str, AsyncScript]]
        ] = weakref.WeakKeyDictionary()
        # the lean client for lookups (None: a URL it does not serve, redis-py does it all)
        self._wire = wire_for(url, socket_timeout, max_connections, pool_timeout)
        self._pool = None if self._wire is None else SyncPool(self._wire)
        self._apools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncPool] = (
            weakref.WeakKeyDictionary()
        )
        self._breaker = Breaker(url, retry_after)
        #: per running loop (by id), what closes its clients as it shuts down
        self._loop_hooks: dict[int, AsyncGenerator[None, None]] = {}

    def adopt_distribution(self, identity: str) -> RedisStorage:
        """The storage a middleware with distribution ``identity`` (see
        :func:`~edge_middleware.cache.identity.distribution_identity`) should use: this one, keyed
        under ``identity`` unless ``distribution_id`` was given; or, when this object already
        serves another identity (a second app on it, a dev-server reload with a changed
        config), a view under ``identity`` that shares its connection pools."""
        if self.distribution_id_given or identity == self._adopted:
            return self
        target = self if self._adopted is None else copy.copy(self)
        if target is not self and not self._clock_given:
            target._clock = time.time  # another middleware's clock is not this one's
        target._adopted = target.distribution_id = identity
        # a namespace (and breaker) of its own; the clients, scripts and pools stay shared
        target._space = Namespace(self.prefix, identity, adopted=True, scoped=True)
        if target is not self:
            target._breaker = Breaker(self.url, self.retry_after)
        return target

    def __repr__(self) -> str:
        return (
            f"RedisStorage({redact(self.url)!r}, prefix={self.prefix!r}, "
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

    def _run(self, operation: str, steps: Steps[_T], failed: _T, force: bool = False) -> _T:
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
                elif command == "mget" and self._pool is not None:
                    did_io = True
                    result = self._pool.execute("MGET", *args)
                else:
                    did_io = True
                    call = self._scripts.get(command) or getattr(self._client, command)
                    result = call(*args, **kwargs)
                step = steps.send(result)
        except StopIteration as stop:
            # a forced call (ending a fill lock while the breaker is open) proves nothing:
            # Redis may take that small command and refuse every write
            if did_io and not force:
                self._breaker.succeeded(operation)
            return cast(_T, stop.value)
        except self._errors as exc:
            steps.close()
            self._breaker.failed(operation, exc)
            return failed

    async def _arun(self, operation: str, steps: Steps[_T], failed: _T, force: bool = False) -> _T:
        if self._closed() and not force:
            steps.close()
            return failed
        did_io = False
        try:
            step = next(steps)
            while True:
                command, args, kwargs = step
                if command == "sleep":
                    await asyncio.sleep(*args)
                    result = None
                elif command == "mget" and self._wire is not None:
                    did_io = True
                    result = await self._apool().execute("MGET", *args)
                else:
                    did_io = True
                    client, scripts = self._aclient()
                    call = scripts.get(command) or getattr(client, command)
                    result = await call(*args, **kwargs)
                step = steps.send(result)
        except StopIteration as stop:
            # a forced call (ending a fill lock while the breaker is open) proves nothing:
            # Redis may take that small command and refuse every write
            if did_io and not force:
                self._breaker.succeeded(operation)
            return cast(_T, stop.value)
        except self._errors as exc:
            steps.close()
            self._breaker.failed(operation, exc)
            return failed

    def _aclient(self) -> tuple[aioredis.Redis, dict[str, AsyncScript]]:
        loop = asyncio.get_running_loop()
        found = self._aclients.get(loop)
        if found is None:
            import redis.asyncio as aioredis

            apool = aioredis.BlockingConnectionPool.from_url(self.url, **self._pool_options(True))
            client = aioredis.Redis.from_pool(apool)
            scripts = {name: client.register_script(lua) for name, lua in SCRIPTS.items()}
            found = self._aclients[loop] = (client, scripts)
            self._watch_loop(loop)
        return found

    def _apool(self) -> AsyncPool:
        loop = asyncio.get_running_loop()
        pool = self._apools.get(loop)
        if pool is None:
            assert self._wire is not None
            from edge_middleware.cache.redis_wire import AsyncPool

            pool = self._apools[loop] = AsyncPool(self._wire)
            self._watch_loop(loop)
        return pool

    def _watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close this loop's clients when it shuts down (``asyncio.run``, a Runner, uvicorn, a
        TestClient's portal call ``shutdown_asyncgens`` while the loop still runs): each
        finished loop kept a pool and an open connection before (a test suite's TestClient
        without ``with`` opened one per request, for ever)."""
        key = id(loop)
        if key in self._loop_hooks:
            return
        from edge_middleware.cache.redis_wire import closed_with_the_loop

        hook = closed_with_the_loop(weakref.ref(self), key)
        self._loop_hooks[key] = hook
        try:
            hook.asend(None).send(None)  # (runs to its yield: the loop knows of it now)
        except StopIteration:
            pass

    def _closed(self) -> bool:
        return self._breaker.closed()

    # -- the steps that need settings ------------------------------------------------------------

    def _set_steps(self, entry: CacheEntry) -> Steps[None]:
        return self._space.set_steps(entry, self._clock(), self.max_object_bytes)

    def _begin_fill_steps(self, key: str, ttl: float) -> Steps[bool]:
        # Capped: a lock whose release was lost (Redis unreachable at that moment) must not
        # hold other processes' requests for the whole origin timeout.
        return self._space.begin_fill_steps(key, min(ttl, self.fill_lock_ttl))

    def _wait_fill_steps(self, key: str, timeout: float) -> Steps[CacheEntry | bool | None]:
        wait = min(timeout, self.fill_lock_ttl)
        return self._space.wait_fill_steps(key, wait, self._clock, self._closed)

    # -- sync API -------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key`` unless absent, unreadable or invalidated since it was stored.
        Its ``generation`` is the invalidation generation current at this lookup."""
        return self._run("get", self._space.get_steps(key, self._clock()), None)

    def set(self, entry: CacheEntry) -> None:
        """Store ``entry`` until its ``retain_until`` (``SET … PX``). Too large or already past
        ``retain_until``: not stored (and an older object under its key is dropped).
        ``entry.generation`` is kept if non-zero (0 if Redis was reset since: older than every
        pattern recorded after the reset), else the current generation is recorded."""
        self._run("set", self._set_steps(entry), None)

    def delete(self, key: str) -> None:
        self._run("delete", self._space.delete_steps(key), None)

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Keep time with ``clock`` (the middleware's) when made with the default one."""
        if self._clock is time.time:
            self._clock = clock

    def invalidate(self, paths: Iterable[str]) -> int:
        """Record invalidation ``paths`` (exact, or a prefix when ending in ``*``; matched
        against ``path`` and ``orig_path``): every worker treats matching entries stored before
        as misses (and deletes them) from its next lookup on.

        Returns the number of distinct patterns recorded, not of entries removed (unknown
        without a scan); 0 if Redis is unavailable (logged).
        """
        return self._run("invalidate", self._space.invalidate_steps(invalidation_paths(paths)), 0)

    def clear(self) -> None:
        """Delete this distribution's entries, locks and patterns, keeping the generation counter
        (it must only grow). Uses ``SCAN``: for tests and the CLI, not the hot path."""
        self._run("clear", self._space.clear_steps(), None)

    def close(self) -> None:
        """Close the sync connection pools (async ones: :meth:`aclose`, in their loop)."""
        self._client.close()
        if self._pool is not None:
            self._pool.close()

    def begin_fill(self, key: str, ttl: float) -> bool:
        """Try to become the one process that fetches ``key`` from the origin (caching.md §1.9);
        the lock expires after ``ttl`` seconds. True if this process won or Redis is down."""
        return self._run("begin_fill", self._begin_fill_steps(key, ttl), True)

    def end_fill(self, key: str) -> None:
        """Release the lock taken by :meth:`begin_fill`, only if it is still ours."""
        lkey, token = self._space.take_token(key)
        if token is not None:
            # always try: a lock left behind would stall its key until it expires
            self._run("end_fill", self._space.release_steps(lkey, token), None, force=True)

    def wait_fill(self, key: str, timeout: float) -> CacheEntry | bool | None:
        """Wait (polling with a short backoff, at most ``timeout`` seconds) until ``key`` has a
        fresh entry or its fill lock is released; the entry, or None (timeout, nothing stored,
        Redis down). A stale entry is returned only once the lock is released: the caller
        judges its freshness. A lock that expired unreleased (its holder died, or outlasted
        ``fill_lock_ttl``) is taken over by one waiter: ``True`` there (this process fetches,
        then :meth:`end_fill`), and the others wait for it."""
        return self._run("wait_fill", self._wait_fill_steps(key, timeout), None)

    # -- async API ------------------------------------------------------------------------------

    async def aget(self, key: str) -> CacheEntry | None:
        return await self._arun("get", self._space.get_steps(key, self._clock()), None)

    async def aset(self, entry: CacheEntry) -> None:
        await self._arun("set", self._set_steps(entry), None)

    async def adelete(self, key: str) -> None:
        await self._arun("delete", self._space.delete_steps(key), None)

    async def ainvalidate(self, paths: Iterable[str]) -> int:
        # checked as invalidate() checks them: "/img/*" given as one string was 8 patterns,
        # "*" among them, and purged everything
        return await self._arun(
            "invalidate", self._space.invalidate_steps(invalidation_paths(paths)), 0
        )

    async def aclear(self) -> None:
        await self._arun("clear", self._space.clear_steps(), None)

    async def abegin_fill(self, key: str, ttl: float) -> bool:
        return await self._arun("begin_fill", self._begin_fill_steps(key, ttl), True)

    async def aend_fill(self, key: str) -> None:
        lkey, token = self._space.take_token(key)
        if token is not None:
            await self._arun("end_fill", self._space.release_steps(lkey, token), None, force=True)

    async def await_fill(self, key: str, timeout: float) -> CacheEntry | bool | None:
        return await self._arun("wait_fill", self._wait_fill_steps(key, timeout), None)

    async def aclose(self) -> None:
        """Close the async clients of the running event loop (call it before the loop ends)."""
        loop = asyncio.get_running_loop()
        pool = self._apools.pop(loop, None)
        if pool is not None:
            pool.close()
        found = self._aclients.pop(loop, None)
        if found is not None:
            await found[0].aclose()


def storage_from_url(url: str) -> MemoryStorage | RedisStorage:
    """A storage from a URL: ``memory://`` (optionally ``?max_bytes=N&max_object_bytes=N``), or
    a redis-py URL, optionally with ``prefix=``, ``distribution_id=``, ``max_connections=``
    (pool size), ``pool_timeout=`` (seconds a request waits for a pooled connection),
    ``socket_timeout=`` and ``max_object_bytes=`` query parameters. Any other parameter must be
    one redis-py takes (``client_name=``, ``ssl_cert_reqs=``, ...), else ``ConfigurationError``.

    ::

        storage_from_url("memory://?max_bytes=67108864")
        storage_from_url("redis://127.0.0.1:6379/0?distribution_id=E2QWRUHEXAMPLE")
        storage_from_url("redis://127.0.0.1:6379/0?max_connections=32&pool_timeout=0.5")
    """
    try:
        parts = urlsplit(url)  # (raises ValueError for "redis://[::1:6379")
        scheme = parts.scheme.lower()
        query = dict(parse_qsl(parts.query))
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
                ("max_object_bytes", int),
            ):
                if name in query:
                    tuning[name] = kind(query.pop(name))
            # not urlunsplit: it would turn unix:///path into unix:/path
            rest = url.partition("?")[0] + (f"?{urlencode(query)}" if query else "")
            return RedisStorage(rest, prefix=prefix, distribution_id=distribution_id, **tuning)
    except ValueError as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError("storage", redact(url), f"a valid storage URL ({exc})")
    raise ConfigurationError("storage", redact(url), "memory:// or a redis(s):// or unix:// URL")
