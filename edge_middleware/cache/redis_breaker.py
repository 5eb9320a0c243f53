"""The circuit breaker of a :class:`~edge_middleware.cache.redis.RedisStorage` namespace: an
unreachable Redis is left alone for ``retry_after`` seconds (every operation fails open, as
an empty cache), with one warning per outage; a full one (``noeviction``, an ``OOM`` reply)
only refuses writes, so what it holds is still served and new objects go uncached."""

from __future__ import annotations

import logging
import threading
import time

from edge_middleware.cache.redis_options import redact

__all__ = ["Breaker"]

logger = logging.getLogger("edge_middleware.cache")


class Breaker:
    def __init__(self, url: str, retry_after: float) -> None:
        self.url = url
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._down = False
        self._down_until = 0.0
        #: Redis refuses writes (OOM): warned once, until a write goes through
        self._full = False

    def closed(self) -> bool:
        """The breaker is open: leave Redis alone for now."""
        return self._down_until != 0.0 and time.monotonic() < self._down_until

    def failed(self, operation: str, exc: BaseException) -> None:
        full = type(exc).__name__ == "OutOfMemoryError" or str(exc).startswith("OOM ")
        with self._lock:
            if full:
                first, self._full = not self._full, True
            else:
                first, self._down = not self._down, True
                self._down_until = time.monotonic() + self.retry_after
        if first:
            logger.warning(
                "Redis cache storage %s %s during %s (%s: %s); %s",
                redact(self.url),
                "refused a write" if full else "failed",
                operation,
                type(exc).__name__,
                exc,
                "new objects go uncached until it takes writes again"
                if full
                else f"serving without the shared cache, retrying every {self.retry_after:.3g} s",
                extra={"edge_redis_failure": (redact(self.url), f"{type(exc).__name__}: {exc}")},
            )

    def succeeded(self, operation: str) -> None:
        if operation == "set":
            self._full = False
        if self._down:
            with self._lock:
                was_down, self._down, self._down_until = self._down, False, 0.0
            if was_down:
                logger.info("Redis cache storage %s is reachable again", redact(self.url))
