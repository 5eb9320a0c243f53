"""The Redis protocol (RESP2) as the lean client of ``redis_wire.py`` speaks it: which URLs it
serves (:func:`wire_for`), commands packed in one buffer (:func:`pack`), and replies parsed from
whole buffers (:func:`parse`). No IO here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

__all__ = ["Incomplete", "Wire", "checked", "handshake", "pack", "parse", "wire_for"]

#: What :func:`wire_for` understands; any other URL setting means "use redis-py".
_PLAIN = frozenset({"host", "port", "db", "username", "password", "path", "connection_class"})


@dataclass(frozen=True, slots=True)
class Wire:
    """Where a pool connects, how it logs in, and its limits (see ``RedisStorage``)."""

    host: str
    port: int
    path: str | None  # a unix socket, else TCP to host:port
    db: int
    username: str | None
    password: str | None
    timeout: float = 0.25
    max_connections: int = 128
    pool_timeout: float = 2.0


def wire_for(
    url: str, timeout: float = 0.25, max_connections: int = 128, pool_timeout: float = 2.0
) -> Wire | None:
    """The :class:`Wire` of a ``redis://`` or ``unix://`` URL, or None if the lean client
    cannot serve it (``rediss://``, other query parameters)."""
    from redis.connection import UnixDomainSocketConnection, parse_url

    try:
        options = parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError:
        return None
    cls = options.get("connection_class")
    if not set(options) <= _PLAIN or cls not in (None, UnixDomainSocketConnection):
        return None
    if cls is not None and not options.get("path"):
        return None
    return Wire(
        host=options.get("host", "localhost"),
        port=int(options.get("port", 6379)),
        path=options.get("path") if cls is not None else None,
        db=int(options.get("db") or 0),
        username=options.get("username"),
        password=options.get("password"),
        timeout=timeout,
        max_connections=max_connections,
        pool_timeout=pool_timeout,
    )


def pack(*args: bytes | str | int) -> bytes:
    """One command in RESP (``*n`` then ``$len`` bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = (
            arg.encode() if isinstance(arg, str) else b"%d" % arg if isinstance(arg, int) else arg
        )
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def handshake(wire: Wire) -> list[bytes]:
    commands = []
    if wire.password is not None:
        user = () if wire.username is None else (wire.username,)
        commands.append(pack("AUTH", *user, wire.password))
    if wire.db:
        commands.append(pack("SELECT", wire.db))
    return commands


class Incomplete(Exception):
    """The buffer holds part of a reply; ``need`` is the least total length worth parsing."""

    def __init__(self, need: int) -> None:
        self.need = need


def parse(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """The RESP2 reply at ``buf[pos:]`` and the position after it. An error reply comes back as
    a ``ResponseError`` value; raises ``Incomplete`` if the reply is not all there."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete(len(buf) + 1)
    kind, line, pos = buf[pos], buf[pos + 1 : end], end + 2
    if kind == 36:  # $ bulk string
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete(pos + n + 2)
        return buf[pos : pos + n], pos + n + 2
    if kind == 42:  # * array
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == 58:  # : integer
        return int(line), pos
    if kind == 43:  # + simple string
        return line, pos
    if kind == 45:  # - error
        return ResponseError(line.decode("utf-8", "replace")), pos
    raise RedisConnectionError(f"unexpected RESP reply type {chr(kind)!r}")


def checked(reply: Any) -> Any:
    if isinstance(reply, ResponseError):
        raise reply
    return reply
