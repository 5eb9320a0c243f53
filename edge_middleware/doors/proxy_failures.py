"""How a proxied origin fails: the logged 502/504 for a connection, a timeout or a body that
breaks off, when a request goes out again on a new connection (the origin's connection
attempts, a pooled keep-alive connection the origin had closed), and the check for bytes past
the end of a response that would otherwise desync a pooled keep-alive connection
(docs/origin-failures.md, issue 15; see ``proxy.py``)."""

from __future__ import annotations

import logging
import socket
from typing import Any

import h11
import httpx

from ..config.model import Origin
from ..core.convert import reason_phrase
from ..exceptions import OriginError, OriginTimeoutError
from .proxy_request import IDEMPOTENT, _Target

logger = logging.getLogger("edge_middleware.proxy")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _logged(err: OriginError, origin: Origin) -> OriginError:
    """Every origin failure is logged once, at warning level: status, reason, origin id."""
    logger.warning(
        "origin %r failed: %d %s: %s",
        origin.id,
        err.status,
        reason_phrase(err.status),
        err.reason,
        extra={"edge_origin_id": origin.id, "edge_status": err.status},
    )
    return err


def _before_headers(exc: Exception, target: _Target, origin: Origin) -> OriginError:
    """An origin failure before any response header arrived."""
    where = f"origin {origin.id!r} ({target.base})"
    if isinstance(exc, httpx.ReadTimeout):
        err: OriginError = OriginTimeoutError(
            f"The {where} sent no response within its read timeout of {origin.read_timeout} s."
        )
    elif isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        err = OriginError(
            f"Could not connect to the {where} within {origin.connection_timeout} s "
            f"({origin.connection_attempts} attempt(s))."
        )
    elif isinstance(exc, httpx.ConnectError):
        err = OriginError(f"Could not connect to the {where}: {_describe(exc)}")
    else:
        err = OriginError(f"The {where} failed before its response started: {_describe(exc)}")
    return _logged(err, origin)


#: httpcore 1.0.x's words for a connection that closed before any byte of its answer came
_NO_ANSWER = "Server disconnected without sending a response."


class Attempt:
    """One send of a request: whether it opened a connection of its own, as httpcore's
    ``trace`` extension reports (``connection.connect_tcp`` / ``connect_unix``); a send that
    opened none went out on a pooled keep-alive connection. :meth:`sync` (a ``Client``) or
    :meth:`async_` (an ``AsyncClient``) is the trace callback."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False

    def sync(self, name: str, info: dict[str, Any]) -> None:
        if name.startswith(("connection.connect_tcp", "connection.connect_unix")):
            self.connected = True

    async def async_(self, name: str, info: dict[str, Any]) -> None:
        self.sync(name, info)


def _send_again(
    exc: httpx.TransportError, request: httpx.Request, sent: Attempt, number: int, origin: Origin
) -> bool:
    """Whether ``request``, whose ``number``-th send failed with ``exc`` before any answer,
    goes out again on a new connection (docs/origin-failures.md, "Connection attempts"):

    * no connection was made (refused, DNS, connect timeout): CloudFront tries the origin's
      ``ConnectionAttempts`` times (1-3, default 3), each within its ``ConnectionTimeout``;
    * no answer within the origin's read timeout, for a ``GET`` or ``HEAD``: CloudFront's
      response timeout retries them the same number of times;
    * a pooled keep-alive connection closed or reset before any byte of the answer: the origin
      closed it as the request went out (Node.js closes idle ones after 5 s, CloudFront's own
      default keep-alive). The request goes again, once, when a client may (an idempotent method,
      RFC 9110 §9.2.2) and can (no body, or one read whole before it went out: up to
      ``REPLAY_LIMIT`` bytes; a longer viewer body streams once). On a connection this send
      opened, that is the origin's answer: the 502.
    """
    if number >= origin.connection_attempts:
        return False
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    if isinstance(exc, httpx.ReadTimeout) and request.method in ("GET", "HEAD"):
        # no answer within OriginReadTimeout: CloudFront asks again, up to ConnectionAttempts
        # times, for GET and HEAD (caching.md §1.4: "response (read) timeout ... with retries")
        return isinstance(request.stream, httpx.ByteStream)
    if sent.connected or number > 1 or request.method not in IDEMPOTENT:
        return False
    if not isinstance(request.stream, httpx.ByteStream):
        return False  # a body streamed from the viewer: it went once (bytes can go again)
    if isinstance(exc, httpx.RemoteProtocolError):  # a malformed answer is not sent again
        return str(exc) == _NO_ANSWER
    return isinstance(exc, httpx.ReadError | httpx.WriteError)


def _failed_send(
    exc: httpx.TransportError,
    request: httpx.Request,
    sent: Attempt,
    number: int,
    target: _Target,
    origin: Origin,
) -> None:
    """After the ``number``-th send of ``request`` failed before any answer: return when it
    goes out again (noted at debug level), else raise the origin's logged 502/504. Both
    proxies' send loops call this in their ``except``."""
    if not _send_again(exc, request, sent, number, origin):
        raise _before_headers(exc, target, origin) from exc
    logger.debug(
        "origin %r (%s): send %d failed before an answer (%s); sending the request again",
        origin.id,
        target.base,
        number,
        _describe(exc),
        extra={"edge_origin_id": origin.id},
    )


def _after_headers(exc: Exception, target: _Target, origin: Origin) -> OriginError:
    """An origin failure while its body was streaming: logged, then raised to cut the viewer.
    A framing error (bad chunk) lands here too; httpcore has already closed that connection."""
    where = f"origin {origin.id!r} ({target.base})"
    if isinstance(exc, httpx.ReadTimeout):
        err: OriginError = OriginTimeoutError(
            f"The {where} stalled for {origin.read_timeout} s in the middle of its body."
        )
    else:
        err = OriginError(f"The {where} broke off its body: {_describe(exc)}")
    return _logged(err, origin)


# -- framing: bytes past the end of a response ---------------------------------------------------
# httpcore reads up to 64 KiB at a time and hands h11 everything it read. When an origin sends
# more than its response declares, the surplus stays in h11's receive buffer, and httpcore
# (1.0.x) puts the connection back in its pool as it is: the next request on it would read the
# surplus as its own response. So once a body has ended, and before the response is closed
# (which is when httpcore decides to pool or close), the leftover is looked for, and a
# connection that has any is failed so httpcore closes it instead.
#
# h11 is reached through private attributes of httpx and httpcore, pinned in pyproject.toml
# (httpx <1, httpcore 1.0.x):  BoundAsyncStream/BoundSyncStream._stream
# -> (Async)ResponseStream._httpcore_stream -> PoolByteStream._stream
# -> HTTP11ConnectionByteStream._connection -> (Async)HTTP11Connection._h11_state.
# tests/test_proxy.py checks that the walk still finds it.
_CHAIN = ("_stream", "_httpcore_stream", "_connection")


def _h11_connection(response: httpx.Response) -> h11.Connection | None:
    """The h11 state machine under a streamed HTTP/1.1 response, or ``None``."""
    obj: Any = response.stream
    for _ in range(8):
        state = getattr(obj, "_h11_state", None)
        if isinstance(state, h11.Connection):
            return state
        obj = next((getattr(obj, a) for a in _CHAIN if getattr(obj, a, None) is not None), None)
        if obj is None:
            return None
    return None


def _leftover(conn: h11.Connection | None, response: httpx.Response) -> int:
    """How many bytes past the end of the response have arrived: in h11's buffer, else (read
    without consuming) waiting in a plain TCP socket. 0 when none."""
    if conn is not None:
        data, _ = conn.trailing_data
        if data:
            return len(data)
    stream = response.extensions.get("network_stream")
    if response.http_version not in ("HTTP/1.1", "HTTP/1.0") or stream is None:
        return 0  # HTTP/2 multiplexes other streams' frames on the socket
    if stream.get_extra_info("ssl_object") is not None:
        return 0  # TLS: a close_notify cannot be told from data; httpcore's idle check remains
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket) or not stream.get_extra_info("is_readable"):
        return 0
    try:
        return len(sock.recv(1, socket.MSG_PEEK))  # b"" at end of stream: not an overrun
    except OSError:
        return 0


def _overrun(
    conn: h11.Connection | None, extra: int, target: _Target, origin: Origin
) -> OriginError:
    """Fail the connection (our side of h11 goes to ERROR, so httpcore closes the connection
    when the response closes instead of pooling it) and build the logged 502. Without h11 (not
    found) the surplus was only peeked at, so it is still in the socket, and httpcore's own
    check closes a pooled connection whose socket is readable before it is used again."""
    if conn is not None:
        conn.send_failed()
    err = OriginError(
        f"The origin {origin.id!r} ({target.base}) sent {extra if conn else 'more'} byte(s) "
        "past the end of its response (more than its Content-Length, or after the last chunk); "
        "the edge dropped that keep-alive socket instead of reusing it."
    )
    return _logged(err, origin)
