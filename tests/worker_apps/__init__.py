"""Apps for the worker processes of ``tests/test_redis_workers.py`` (uvicorn and gunicorn).

Both modules read their settings from the environment when imported, so every worker process
builds its own :class:`~edge_middleware.cache.redis.RedisStorage`:

* ``EM_REDIS_URL``   the shared Redis (required);
* ``EM_CALLS_FILE``  a file the origin appends one line to per call (``"<pid> <path>\\n"``,
  one ``O_APPEND`` write, so the lines of concurrent processes never interleave).

Routes of the origin (the app behind the middleware):

* ``/obj/<name>``   200, ``Cache-Control: max-age=300``, answered at once;
* ``/slow/<name>``  the same after one second (request collapsing);
* ``/brief/<name>`` after one second too, but fresh for one second only (``max-age=1``);
* ``/hold/<s>``     CachingDisabled, answers after ``s`` seconds (keeps a worker busy); the
  duration is in the path because CachingDisabled forwards no query string.

Every origin response carries ``X-Origin-Pid`` (so it is cached with the object). An outer
wrapper, outside the edge middleware, adds ``X-Worker-Pid`` to every response, hits included:
the process that actually answered the viewer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edge_middleware import Behavior, CachePolicy, EdgeConfig

if TYPE_CHECKING:
    from edge_middleware.cache.redis import RedisStorage

__all__ = ["BRIEF_CACHE_CONTROL", "CACHE_CONTROL", "CONFIG", "record_call", "redis_storage"]

CACHE_CONTROL = "max-age=300"
BRIEF_CACHE_CONTROL = "max-age=1"

CONFIG = EdgeConfig(
    default=Behavior(cache=CachePolicy(min_ttl=0, default_ttl=86400, max_ttl=31536000)),
    behaviors=[Behavior("/hold*", cache=CachePolicy(min_ttl=0, default_ttl=0, max_ttl=0))],
)


def record_call(path: str) -> None:
    """Append ``"<pid> <path>"`` to ``$EM_CALLS_FILE`` (one atomic ``O_APPEND`` write)."""
    line = f"{os.getpid()} {path}\n".encode()
    fd = os.open(os.environ["EM_CALLS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def redis_storage() -> RedisStorage:
    """A fresh ``RedisStorage`` for ``$EM_REDIS_URL`` (one per worker process)."""
    from edge_middleware.cache.redis import RedisStorage

    return RedisStorage(os.environ["EM_REDIS_URL"], distribution_id="workers")
