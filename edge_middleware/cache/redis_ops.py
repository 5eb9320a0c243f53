"""What one distribution keeps in Redis, and every storage operation on it written once, as steps.

A step is a Redis call described as data, ``(command, args, kwargs)``, whose result is sent
back into the generator. ``RedisStorage`` runs the same steps with a sync driver (WSGI) or an
async one (ASGI), and owns the fail-open policy. Besides client methods a step may name one of
the Lua :data:`SCRIPTS`, or ``"sleep"``. No IO here.

Layout, under ``{prefix}:{distribution_id}:``:

* ``e:{sha256(key)}``  the serialised entry (``redis_codec``), written with ``SET … PX``;
* ``inv:ver``          the invalidation generation, ``INCR``-ed by every invalidation;
* ``inv``              a ZSET of ``"{ver}:{pattern}"`` scored by ``ver``;
* ``inv:epoch``        a random token, set (``NX``) by the first invalidation or registration
  in this Redis's lifetime: gone or changed means the generations start again (a restart,
  ``FLUSHDB``, eviction, :meth:`Namespace.clear_steps`);
* ``lock:{sha256(key)}`` the cross-process fill lock (request collapsing, caching.md §1.9).

A lookup is one round trip (``MGET`` entry + generation + epoch). An entry written at
generation *g* is dropped on read when a pattern recorded after *g* matches its ``path`` or
``orig_path``; the pattern list is kept here per generation and per epoch (a new epoch drops
it, and the registration in ``{prefix}:distributions`` is made again on the next store), so
there is no ``KEYS``/``SCAN`` on the hot path.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Generator
from typing import Any, TypeAlias, TypeVar

from edge_middleware.cache.entry import CacheEntry, invalidates
from edge_middleware.cache.lookup_notes import LookupNotes
from edge_middleware.cache.redis_codec import DecodeMemo, dumps

__all__ = ["SCRIPTS", "Namespace", "Steps"]

logger = logging.getLogger("edge_middleware.cache")

_T = TypeVar("_T")
Step = tuple[str, tuple[Any, ...], dict[str, Any]]
Steps: TypeAlias = Generator[Step, Any, _T]

_NO_KW: dict[str, Any] = {}
#: How long a released fill lock's token is left for its waiters (ms): far longer than a
#: waiter's poll interval, so a waiter tells a release from an expiry.
_LEFT_FOR_MS = 10_000
#: How long past a fill lock's TTL its waiters wait, to see it expire (s).
_SEE_EXPIRY = 0.25
_WITHSCORES: dict[str, Any] = {"withscores": True}

#: The counter ``ver`` made when it is missing: above the newest pattern in ``inv`` and, when
#: the epoch stood without it (lost on its own), above the clock in microseconds (a counter
#: counts far fewer invalidations than microseconds pass): never back over a generation issued.
_MAKE_COUNTER = """
    local function make_counter(ver, inv, epoch_stood)
        if redis.call('EXISTS', ver) == 1 then return end
        local top = redis.call('ZRANGE', inv, -1, -1, 'WITHSCORES')
        local floor = tonumber(top[2] or 0)
        if epoch_stood then
            local t = redis.call('TIME')
            floor = math.max(floor, tonumber(t[1]) * 1000000 + tonumber(t[2]))
        end
        redis.call('SET', ver, string.format('%d', floor))
    end
"""

SCRIPTS = {
    # Compare-and-delete: a slow fill winner whose lock expired must not release another's.
    # The token is left for a moment under KEYS[2]: a waiter that saw this lock held tells its
    # release (each waiter then looks the key up again or fetches alone) from its expiry (the
    # leader died, or outlasted the lock: one waiter takes the lock over, the others wait).
    "release": """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
            return redis.call('DEL', KEYS[1])
        end
        return 0
    """,
    # One atomic step, so no reader sees a new generation before its patterns. A counter lost
    # (evicted, with or without its patterns) goes on above every generation issued before.
    "invalidate": _MAKE_COUNTER
    + """
        make_counter(KEYS[1], KEYS[2], redis.call('EXISTS', KEYS[3]) == 1)
        local v = redis.call('INCR', KEYS[1])
        redis.call('SET', KEYS[3], ARGV[1], 'NX')
        local tag = string.format('%d', v)
        for i = 2, #ARGV do redis.call('ZADD', KEYS[2], v, tag .. ':' .. ARGV[i]) end
        return v
    """,
    # Record a namespace for outside invalidation; the epoch it is recorded in. The counter is
    # made with the epoch, so a lookup that finds the epoch without it knows it was lost.
    "register": _MAKE_COUNTER
    + """
        local fresh = redis.call('SET', KEYS[2], ARGV[2], 'NX')
        redis.call('SADD', KEYS[1], ARGV[1])
        make_counter(KEYS[3], KEYS[4], not fresh)
        return redis.call('GET', KEYS[2])
    """,
    # The fill lock's holder (nil: none), whether the entry exists, the token of the last
    # holder that released it (one round trip while waiting).
    "poll": """
        return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2]),
                redis.call('GET', KEYS[3])}
    """,
}


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _int(raw: Any) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def _token(raw: Any) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw


def _new_token() -> str:
    return uuid.uuid4().hex


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class Namespace:
    """The keys of one distribution, what this process knows of its invalidations, the fill
    locks it holds, and the operations as steps.

    :param prefix: first part of every key name.
    :param distribution_id: second part.
    :param adopted: the id was adopted from a middleware (recorded in ``{prefix}:distributions``
        on the first store, and again on the first store in each new epoch, so a storage
        serving no middleware can find it to invalidate).
    :param scoped: invalidations reach this namespace only (else, for a storage serving no
        middleware, every adopted one under ``prefix`` as well).
    """

    def __init__(self, prefix: str, distribution_id: str, *, adopted: bool, scoped: bool) -> None:
        self.prefix = prefix
        self.distribution_id = distribution_id
        self.adopted = adopted
        self.scoped = scoped
        self._ns = f"{prefix}:{distribution_id}:"
        self._ver_key = self._ns + "inv:ver"
        self._inv_key = self._ns + "inv"
        self._epoch_key = self._ns + "inv:epoch"
        self._dists_key = f"{prefix}:distributions"
        # what clear() deletes: entries and locks, exactly (not those of an id that starts
        # with this one, "site" vs "site:staging")
        self._clear_glob = _glob_escape(self._ns) + "[el]*"
        self._clear_name = re.compile(
            re.escape(self._ns.encode()) + rb"(?:e|lock|left):[0-9a-f]{64}"
        )
        self._registered = False
        self._lock = threading.Lock()
        # the epoch that what follows belongs to (None: no epoch key when last looked)
        self._epoch: bytes | None = None
        # invalidation patterns seen so far, sorted by generation
        self._inv_known = 0
        self._inv_versions: list[int] = []
        self._inv_patterns: list[str] = []
        # tokens of the fill locks this process holds
        self._fill_tokens: dict[str, str] = {}
        #: key -> (generation, epoch) when a lookup found no fresh object (``get_steps``)
        self._asked: LookupNotes[tuple[int, bytes | None]] = LookupNotes()
        self._decoded = DecodeMemo()

    def entry_key(self, key: str) -> str:
        return f"{self._ns}e:{_digest(key)}"

    def lock_key(self, key: str) -> str:
        return f"{self._ns}lock:{_digest(key)}"

    def left_key(self, lock_key: str) -> str:
        """Where a released fill lock's token is left a moment (the ``release`` script)."""
        return f"{self._ns}left:{lock_key.rsplit(':', 1)[1]}"

    # -- invalidation bookkeeping ---------------------------------------------------------------

    def _observe(self, raw_epoch: Any) -> None:
        """Note the epoch Redis holds now: another one (or none where there was one) means
        the generations started again and the registration may be gone, so forget both."""
        epoch = _token(raw_epoch)
        if epoch == self._epoch:
            return
        with self._lock:
            if epoch != self._epoch:
                self._epoch = epoch
                self._inv_known = 0
                self._inv_versions.clear()
                self._inv_patterns.clear()
                self._registered = False

    def _patterns_needed_from(self, current: int) -> int | None:
        """The generation after which patterns must be fetched to know ``current``, or None."""
        with self._lock:
            if current < self._inv_known:
                # The counter went backwards (FLUSHDB): forget what we knew.
                self._inv_known = 0
                self._inv_versions.clear()
                self._inv_patterns.clear()
            return self._inv_known if current > self._inv_known else None

    def _absorb(self, current: int, rows: list[tuple[bytes, float]], epoch: Any) -> bool:
        """Add the patterns fetched in ``epoch``; False if this process moved on to another
        epoch meanwhile (the rows may belong to either)."""
        with self._lock:
            if _token(epoch) != self._epoch:
                return False
            # Rows come sorted by generation, each generation complete (one Lua call wrote it);
            # skip what another thread absorbed while this one was fetching.
            last = self._inv_versions[-1] if self._inv_versions else 0
            for member, score in rows:
                if int(score) > last:
                    self._inv_versions.append(int(score))
                    self._inv_patterns.append(member.decode("utf-8", "replace").partition(":")[2])
            newest = int(rows[-1][1]) if rows else 0
            self._inv_known = max(self._inv_known, current, newest)
            return True

    def _invalidated(self, entry: CacheEntry) -> bool:
        with self._lock:
            patterns = self._inv_patterns[bisect_right(self._inv_versions, entry.generation) :]
        return invalidates(patterns, entry)

    def take_token(self, key: str) -> tuple[str, str | None]:
        """The fill lock key of ``key`` and this process's token for it (forgotten), if any."""
        lkey = self.lock_key(key)
        with self._lock:
            return lkey, self._fill_tokens.pop(lkey, None)

    # -- the operations, as steps ---------------------------------------------------------------

    def get_steps(self, key: str, now: float) -> Steps[CacheEntry | None]:
        """The entry under ``key``, as of ``now`` on the storage's clock: one past its
        ``retain_until`` is gone, as in MemoryStorage (Redis's own ``PX`` runs on real time,
        so an injected clock that moved on would still find it). When there is no fresh one,
        the invalidation generation is noted: the object fetched next is stored with it, so
        an invalidation made while it was in flight applies to it (caching.md §1.10)."""
        ekey = self.entry_key(key)
        blob, raw_ver, epoch = yield ("mget", (ekey, self._ver_key, self._epoch_key), _NO_KW)
        if epoch != self._epoch:
            self._observe(epoch)
        entry = yield from self._entry_steps(key, ekey, blob, raw_ver, epoch, now)
        if entry is None:
            # a fetch starts (_register_steps); a full Redis that refuses the write fails
            # this lookup, which found nothing anyway
            yield from self._register_steps()
        if entry is None or entry.fresh_until <= now:
            self._asked.note(key, (_int(raw_ver), self._epoch))
        return entry

    def _entry_steps(
        self, key: str, ekey: str, blob: Any, raw_ver: Any, epoch: Any, now: float
    ) -> Steps[CacheEntry | None]:
        if blob is None:
            return None
        try:
            entry = self._decoded.loads(ekey, blob)
        except ValueError as exc:
            logger.debug("ignoring unreadable cache entry for %r: %s", key, exc)
            return None
        if entry.key != key:
            return None  # a hash collision or a foreign writer: never serve another's object
        if now >= entry.retain_until:
            return None
        current = _int(raw_ver)
        if raw_ver is None and epoch is not None:
            # the counter was evicted on its own (the epoch stands): it stood at least at the
            # newest pattern's generation, so every pattern recorded must be known to judge
            known = self._inv_known
            rows = yield ("zrangebyscore", (self._inv_key, f"({known}", "+inf"), _WITHSCORES)
            current = max(known, int(rows[-1][1]) if rows else 0)
            if not self._absorb(current, rows, epoch):
                return None
        elif current == entry.generation:
            return entry
        elif not (yield from self._learn_steps(current, epoch)):
            return None  # Redis was reset while we looked: a miss is always safe
        if self._invalidated(entry):
            yield ("delete", (ekey,), _NO_KW)
            return None
        return self._decoded.checked(ekey, entry, current)

    def _learn_steps(self, current: int, epoch: Any) -> Steps[bool]:
        """Fetch the patterns recorded up to generation ``current`` this process does not
        know yet; ``False``: Redis was reset while we looked."""
        since = self._patterns_needed_from(current)
        if since is None:
            return True
        rows = yield ("zrangebyscore", (self._inv_key, f"({since}", "+inf"), _WITHSCORES)
        return self._absorb(current, rows, epoch)

    def set_steps(self, entry: CacheEntry, now: float, max_object_bytes: int) -> Steps[None]:
        ekey = self.entry_key(entry.key)
        retain_ms = math.ceil((entry.retain_until - now) * 1000)
        if entry.nbytes > max_object_bytes or retain_ms <= 0:
            # Not stored; nor may an older object outlive it under the same key.
            yield ("delete", (ekey,), _NO_KW)
            return None
        raw_ver, epoch = yield ("mget", (self._ver_key, self._epoch_key), _NO_KW)
        known_epoch = self._epoch
        self._observe(epoch)
        current = _int(raw_ver)
        if entry.generation <= 0:
            # the generation of the lookup that found no fresh object, when this process made
            # one: an invalidation recorded since applies to what it fetched (0: every one)
            asked = self._asked.take(entry.key)
            since = current
            if asked is not None:
                since = min(asked[0], current) if asked[1] == self._epoch else 0
            if since:
                entry = entry.with_changes(generation=since)
        elif current < entry.generation or _token(epoch) != known_epoch:
            # Looked up before Redis was reset (a revalidation across a restart): that
            # generation is another counter's, so every pattern recorded since must apply.
            entry = entry.with_changes(generation=0)
        if entry.generation < current:  # invalidations recorded since its lookup: one that
            # matches refuses it here, not at the next read, so it does not replace an object
            # stored after the invalidation (that one was lost, and fetched again)
            if not (yield from self._learn_steps(current, epoch)):
                return None  # Redis was reset while we looked: not stored is always safe
            if self._invalidated(entry):
                return None
        yield from self._register_steps()
        yield ("set", (ekey, dumps(entry)), {"px": retain_ms})
        return None

    def _register_steps(self) -> Steps[None]:
        """Once per process and epoch, an adopted namespace is recorded, so that
        ``edge-middleware invalidate --redis URL`` finds it: by a lookup that found no object
        (a fetch starts: an invalidation made while it is in flight must reach it; on the
        first store only, one made before a distribution's first object went to the default
        namespace, and the object fetched before it was stored), or by a store. Not by a
        lookup that found a stale object: a store registered this epoch already, and a full
        Redis refuses the write (the stale object was not served any more)."""
        if self.adopted and not self._registered:
            keys = [self._dists_key, self._epoch_key, self._ver_key, self._inv_key]
            args = [self.distribution_id, _new_token()]
            self._observe((yield ("register", (), {"keys": keys, "args": args})))
            self._registered = True

    def delete_steps(self, key: str) -> Steps[None]:
        yield ("delete", (self.entry_key(key),), _NO_KW)
        return None

    def invalidate_steps(self, patterns: list[str]) -> Steps[int]:
        if not patterns:
            return 0
        namespaces = [self._ns]
        if not self.scoped:
            # A storage serving no middleware (the CLI's): every distribution that adopted a
            # derived id under this prefix, and the default namespace; and, as the register
            # may have been evicted, every namespace with an epoch (a SCAN: never a lookup's)
            names = yield ("smembers", (self._dists_key,), _NO_KW)
            ids = sorted(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)
            namespaces += [f"{self.prefix}:{d}:" for d in ids]
            namespaces += yield from self._epoch_namespaces()
        for ns in dict.fromkeys(namespaces):
            keys = [ns + "inv:ver", ns + "inv", ns + "inv:epoch"]
            yield ("invalidate", (), {"keys": keys, "args": [_new_token(), *patterns]})
        return len(patterns)

    def _epoch_namespaces(self) -> Steps[list[str]]:
        found: list[str] = []
        glob = _glob_escape(f"{self.prefix}:") + "*:inv:epoch"
        cursor = 0
        while True:
            cursor, names = yield ("scan", (cursor,), {"match": glob, "count": 1000})
            found += sorted((_token(n) or b"").decode("utf-8", "replace")[:-9] for n in names)
            if not cursor:
                return found

    def clear_steps(self) -> Steps[None]:
        # The generation counter stays (it must only grow); the epoch goes with the patterns,
        # so every process forgets those it knew.
        yield ("unlink", (self._inv_key, self._epoch_key), _NO_KW)
        exact = self._clear_name.fullmatch
        cursor = 0
        while True:
            cursor, names = yield ("scan", (cursor,), {"match": self._clear_glob, "count": 1000})
            names = [n for n in names if exact(_token(n) or b"")]
            if names:
                yield ("unlink", tuple(names), _NO_KW)
            if not cursor:
                return None

    def begin_fill_steps(self, key: str, ttl: float) -> Steps[bool]:
        """Take the fill lock. The token is kept before the SET goes out: a request cancelled
        while the reply is on its way (the server may have set it) still releases its lock
        by token, where else every worker waited out the lock's TTL on that key."""
        lkey, token = self.lock_key(key), _new_token()
        with self._lock:
            held = self._fill_tokens.setdefault(lkey, token)
        won = yield ("set", (lkey, token), {"nx": True, "px": max(1, math.ceil(ttl * 1000))})
        with self._lock:
            if won:
                self._fill_tokens[lkey] = token
            elif held == token and self._fill_tokens.get(lkey) == token:
                del self._fill_tokens[lkey]
        return bool(won)

    def release_steps(self, lkey: str, token: str) -> Steps[None]:
        keys = [lkey, self.left_key(lkey)]
        yield ("release", (), {"keys": keys, "args": [token, _LEFT_FOR_MS]})
        return None

    def wait_fill_steps(
        self,
        key: str,
        timeout: float,
        clock: Callable[[], float],
        closed: Callable[[], bool],
    ) -> Steps[CacheEntry | bool | None]:
        """Wait for the process that holds ``key``'s fill lock: its fresh entry as soon as it
        is stored; once it released the lock, what is stored (maybe stale) or None (it stored
        nothing: the caller fetches alone). A lock that expired instead (its leader died, or
        outlasted the lock) is taken over: True when this process took it (it fetches, and
        releases it), else the wait goes on for the one that did, with a new ``timeout``."""
        # (a moment past the lock's own TTL: the waiter sees it expire)
        deadline = time.monotonic() + timeout + _SEE_EXPIRY
        delay = 0.002
        lkey = self.lock_key(key)
        keys = [lkey, self.entry_key(key), self.left_key(lkey)]
        holder = None
        while not closed():
            locker, present, left = yield ("poll", (), {"keys": keys})
            # Done as soon as there is a fresh entry (the winner may still be streaming its
            # response). A stale entry is what the winner is refreshing: keep waiting for the
            # new one while the lock is held.
            entry = None
            if present:
                entry = yield from self.get_steps(key, clock())
                if entry is not None and entry.fresh_until > clock():
                    return entry
            if holder is not None and left == holder:
                # released by the one this waiter waited for (whoever holds the lock now, a
                # request that came after): stored nothing new, or failed. Each waiter then
                # fetches alone, at once: never queued behind the next holders
                return entry
            if locker is not None:
                if holder is not None and locker != holder:  # it expired and was taken over
                    deadline = time.monotonic() + timeout + _SEE_EXPIRY
                holder = locker
            elif left is not None and holder is None:
                return entry  # released before this waiter first looked
            elif (yield from self.begin_fill_steps(key, timeout)):
                return True  # expired: this process leads now
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            yield ("sleep", (min(delay, remaining),), _NO_KW)
            delay = min(delay * 2, 0.05)
        return None
