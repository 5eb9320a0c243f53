"""RedisStorage's arguments checked at construction, each refused with its name (they raised
from inside redis-py, or failed at the first request), and its URL with the password hidden."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    import redis

__all__ = ["check_connection_options", "check_options", "check_url_shape", "redact"]


def redact(url: str) -> str:
    """``url`` with its password masked, in the userinfo and in a ``password=`` query
    parameter (both are redis-py's)."""
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018 - (a malformed netloc raises here or above)
    except ValueError:  # ("redis://[::1:6379"): any userinfo masked as a whole
        return re.sub(r"://[^/?#]*@", "://***@", url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        url = urlunsplit(parts._replace(netloc=user + host))
    base, sep, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(name == "password" for name, _ in pairs):
        masked = [(n, "***" if n == "password" else v) for n, v in pairs]
        url = base + sep + urlencode(masked, safe="*/:")
    return url


def check_connection_options(pool: redis.BlockingConnectionPool, url: str) -> None:
    """Fail now on a URL query parameter redis-py's connections do not take: redis-py passes
    it on unchecked, and every connection it opens would raise ``TypeError``."""
    import redis as redis_py

    try:
        pool.connection_class(**pool.connection_kwargs)  # no IO: connects on first use
    except (ValueError, redis_py.RedisError) as exc:  # ssl_cert_reqs=requird
        raise ConfigurationError(
            "RedisStorage.url", redact(url), f"query parameters redis-py takes ({exc})"
        ) from None
    except TypeError as exc:
        found = re.search(r"argument '([^']+)'", str(exc))
        name = found.group(1) if found else str(exc)
        raise ConfigurationError(
            "RedisStorage.url",
            redact(url),
            f"only query parameters redis-py knows (unknown parameter {name!r})",
        ) from None


def _positive_number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value > 0  # type: ignore[arg-type,operator]


def check_options(
    url: object,
    prefix: object,
    distribution_id: object,
    clock: object,
    max_object_bytes: object,
    max_connections: object,
    seconds: dict[str, object],
) -> None:
    """RedisStorage's arguments, each refused with its name (they raised from inside redis-py,
    or failed at the first request); ``seconds``: its durations by name."""
    if not isinstance(url, str):
        raise ConfigurationError("RedisStorage.url", url, "a redis:// URL")
    if not isinstance(prefix, str) or not prefix:
        raise ConfigurationError("RedisStorage.prefix", prefix, "a non-empty string")
    if distribution_id is not None and (
        not isinstance(distribution_id, str) or not distribution_id
    ):
        raise ConfigurationError(
            "RedisStorage.distribution_id", distribution_id, "a non-empty string or None"
        )
    if not callable(clock):
        raise ConfigurationError("RedisStorage.clock", clock, "a callable giving seconds")
    if type(max_object_bytes) is not int or max_object_bytes < 0:
        raise ConfigurationError(
            "RedisStorage.max_object_bytes", max_object_bytes, "an integer >= 0"
        )
    if type(max_connections) is not int or max_connections < 1:
        raise ConfigurationError("RedisStorage.max_connections", max_connections, "an integer >= 1")
    for name, value in seconds.items():
        if not _positive_number(value):
            raise ConfigurationError(f"RedisStorage.{name}", value, "a number > 0")


#: redis-py options that change what its replies are: the storage reads bytes (every request
#: was a Miss, logged as a TypeError that named no option)
_REPLY_OPTIONS = ("decode_responses", "encoding", "encoding_errors")
#: RedisStorage's own keyword arguments (storage_from_url takes them from a URL's query)
_OWN_OPTIONS = (
    "max_connections",
    "pool_timeout",
    "socket_timeout",
    "max_object_bytes",
    "prefix",
    "distribution_id",
    "fill_lock_ttl",
    "retry_after",
)
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?")


def _check_host(url: str, host: str | None) -> None:
    """A host name or an IP address: redis-py took an empty one as localhost, and one with a
    space or a ``$`` failed only at the first request."""
    if host and (_HOST_NAME.fullmatch(host) or _is_ip(host)):
        return
    raise ConfigurationError(
        "RedisStorage.url", redact(url), f"a host name or an IP address, not {host or ''!r}"
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url_shape(url: str) -> None:
    """Refuse, naming the URL (password masked), what redis-py takes without a word and then
    fails on or misreads: a malformed URL, a database that is no number (``/O`` used db 0,
    another app's; ``/-1`` failed every request), options that turn replies into text."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query)
        parts.port  # noqa: B018 - (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ConfigurationError("RedisStorage.url", redact(url), f"a Redis URL ({exc})") from None
    for name, _ in query:
        if name in _OWN_OPTIONS:
            raise ConfigurationError(
                "RedisStorage.url",
                redact(url),
                f"{name} as RedisStorage's keyword argument, not in the URL (the URL's would "
                "override the pool's alone; storage_from_url() and --redis read it from a URL)",
            )
    if parts.scheme.lower() in ("redis", "rediss"):
        _check_host(url, parts.hostname)
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ConfigurationError(
                "RedisStorage.url", redact(url), f"a database number after the host, not {db!r}"
            )
    for name, _ in query:
        if name in _REPLY_OPTIONS:
            raise ConfigurationError(
                "RedisStorage.url",
                redact(url),
                f"no {name}= (the storage reads Redis's replies as bytes)",
            )
