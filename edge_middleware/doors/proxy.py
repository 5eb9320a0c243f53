"""Proxy a CloudFront origin to a real HTTP server (``origins={"api": "http://127.0.0.1:9000"}``).

:func:`proxy_app` returns an ASGI app and :func:`proxy_wsgi_app` a WSGI app; the front doors call
them with the origin scope/environ built from the CloudFront origin request. The request goes out
with its method, the origin path plus the request path (dot-segments resolved so it cannot leave
the origin path, never re-quoted), the raw query string, the headers minus hop-by-hop ones and a
streamed body. The response streams back chunk by chunk; nothing is read whole.

Failures (lambda-edge.md §3.5, caching.md §1.4, §1.14):

* no connection (refused, DNS, connect timeout 10 s): :class:`OriginError` (502);
* no response headers within the origin's ``read_timeout``: :class:`OriginTimeoutError` (504);
* the body breaks after the headers (reset, truncated, stalled past ``read_timeout``, a chunked
  framing error): raised, so the front door neither caches the incomplete object nor finishes
  the viewer's response (the viewer connection is cut, as CloudFront does);
* the origin sent bytes past the end of its response (more than its ``Content-Length``, data
  after the last chunk, a body on a HEAD/204/304 answer): :class:`OriginError` (502) once the
  declared body has been read, and that connection is closed, never reused, so the extra bytes
  cannot become the answer to the next request (docs/origin-failures.md, issue 15).

Every failure is logged once on ``edge_middleware.proxy`` at warning level with its status, its
reason and the origin's id.

Clients are pooled per base URL (one ``httpx.Client``) and per base URL and event loop (one
``httpx.AsyncClient``), with ``keepalive_expiry = origin.keepalive_timeout``. An async client is
closed when its event loop shuts down (``asyncio.run``, uvicorn, anyio); call
:func:`aclose_clients` / :func:`close_clients` to close them earlier.
"""

from __future__ import annotations

import asyncio
import atexit
import http.cookiejar
import logging
import socket
import threading
import urllib.request
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote, unquote_to_bytes

import h11
import httpx

from ..config.model import Origin
from ..exceptions import OriginError, OriginTimeoutError
from .interfaces import ASGIApp, Receive, Scope, Send, StartResponse, WSGIApp

__all__ = ["aclose_clients", "close_clients", "proxy_app", "proxy_wsgi_app", "resolve_path"]

logger = logging.getLogger("edge_middleware.proxy")


#: Connection setup timeout (CloudFront's default connection timeout, caching.md §1.4).
CONNECT_TIMEOUT = 10.0
#: Request body chunk size for WSGI input.
CHUNK_SIZE = 64 * 1024

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# Bytes sent as they are in a request target; everything else (controls, space, non-ASCII) is
# percent-encoded because it cannot appear on an HTTP/1.1 request line.
_TARGET_OK = frozenset(range(0x21, 0x7F))


# -- clients ------------------------------------------------------------------------------------
class _RejectAllCookies(http.cookiejar.CookiePolicy):
    """The pooled clients are shared by every viewer: never store or send cookies."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: urllib.request.Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: urllib.request.Request) -> bool:
        return False


def _client_options(keepalive: int) -> dict[str, Any]:
    return {
        "limits": httpx.Limits(
            max_connections=None, max_keepalive_connections=100, keepalive_expiry=keepalive
        ),
        "timeout": httpx.Timeout(30.0, connect=CONNECT_TIMEOUT),
        "follow_redirects": False,
        "trust_env": False,
        "cookies": http.cookiejar.CookieJar(policy=_RejectAllCookies()),
    }


def _timeout(origin: Origin) -> dict[str, float | None]:
    read = float(origin.read_timeout)
    return httpx.Timeout(read, connect=CONNECT_TIMEOUT, pool=CONNECT_TIMEOUT).as_dict()


_lock = threading.Lock()
_sync_clients: dict[tuple[str, int], httpx.Client] = {}


@dataclass(eq=False)
class _LoopClients:
    """The async clients of one event loop, and the async generator that closes them when the
    loop shuts down (``loop.shutdown_asyncgens()`` runs its ``finally``)."""

    clients: dict[tuple[str, int], httpx.AsyncClient] = field(default_factory=dict)
    closer: Any = None


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_shutdown(
    loop: asyncio.AbstractEventLoop, record: _LoopClients
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with _lock:
            if _async_clients.get(loop) is record:
                del _async_clients[loop]
        await _aclose_record(record)


async def _aclose_record(record: _LoopClients) -> None:
    clients = list(record.clients.values())
    record.clients.clear()
    for client in clients:
        try:
            await client.aclose()
        except Exception:  # pragma: no cover - closing must not fail the shutdown
            logger.exception("closing an origin client failed")


def _sync_client(base: str, origin: Origin) -> httpx.Client:
    key = (base, origin.keepalive_timeout)
    with _lock:
        client = _sync_clients.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(**_client_options(origin.keepalive_timeout))
            _sync_clients[key] = client
        return client


async def _async_client(base: str, origin: Origin) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    key = (base, origin.keepalive_timeout)
    with _lock:
        record = _async_clients.get(loop)
    if record is None:
        record = _LoopClients()
        closer = _close_at_shutdown(loop, record)
        await closer.__anext__()  # registered with this loop: closed by shutdown_asyncgens()
        record.closer = closer
        with _lock:
            _async_clients[loop] = record
    client = record.clients.get(key)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(**_client_options(origin.keepalive_timeout))
        record.clients[key] = client
    return client


async def aclose_clients() -> None:
    """Close the async clients of the running event loop (e.g. in a lifespan shutdown)."""
    with _lock:
        record = _async_clients.get(asyncio.get_running_loop())
    if record is not None:
        await record.closer.aclose()


def close_clients() -> None:
    """Close every sync client, and the async clients of every event loop.

    Async clients of a running loop are closed on that loop (scheduled, not awaited); those of
    a loop that is already closed are dropped.
    """
    _close_sync_clients()
    with _lock:
        records = list(_async_clients.items())
    for loop, record in records:
        if loop.is_closed():
            with _lock:
                _async_clients.pop(loop, None)
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(_aclose_record(record), loop)
        else:
            loop.run_until_complete(record.closer.aclose())


def _close_sync_clients() -> None:
    with _lock:
        clients = list(_sync_clients.values())
        _sync_clients.clear()
    for client in clients:
        client.close()


atexit.register(_close_sync_clients)


# -- the request --------------------------------------------------------------------------------
def _escape(raw: bytes) -> bytes:
    """Percent-encode only the bytes that cannot appear in a request target."""
    if all(b in _TARGET_OK for b in raw):
        return raw
    return b"".join(bytes((b,)) if b in _TARGET_OK else b"%%%02X" % b for b in raw)


def _dot(segment: bytes) -> bytes | None:
    """``b"."``/``b".."`` when the segment is a dot-segment, also percent-encoded (``%2e``)."""
    if b"." not in segment and b"%" not in segment:
        return None
    normal = segment.replace(b"%2e", b".").replace(b"%2E", b".")
    return normal if normal in (b".", b"..") else None


def resolve_path(raw_path: bytes, origin_id: str = "") -> bytes:
    """Remove dot-segments (RFC 3986 §5.2.4) so the path cannot climb above ``/``.

    ``%2e`` counts as ``.``. A segment hiding ``..`` behind an encoded slash or a backslash
    (``..%2f``, ``..\\``) is refused with :class:`OriginError`: an origin that decodes it could
    otherwise leave the origin path. The bytes are never re-quoted.
    """
    if not raw_path.startswith(b"/"):
        raw_path = b"/" + raw_path
    segments = raw_path.split(b"/")[1:]
    out: list[bytes] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        dot = _dot(segment)
        if dot is None:
            if b"%" in segment or b"\\" in segment:
                decoded = unquote_to_bytes(segment).replace(b"\\", b"/")
                if b"/" in decoded and b".." in decoded.split(b"/"):
                    raise OriginError(
                        f"The request path {raw_path!r} for origin {origin_id!r} has an encoded "
                        "dot-segment that could leave the origin path."
                    )
            out.append(segment)
            continue
        if dot == b".." and out:
            out.pop()
        if last:  # "/a/b/.." -> "/a/" (the trailing slash stays, as in RFC 3986)
            out.append(b"")
    return b"/" + b"/".join(out)


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    prefix: bytes  # the base URL's path plus the origin path, no trailing slash
    base: str


def _target(base_url: str, origin: Origin) -> _Target:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise OriginError(f"Origin {origin.id!r}: invalid origin URL {base_url!r}: {exc}")
    if url.scheme not in ("http", "https") or not url.host:
        raise OriginError(f"Origin {origin.id!r}: {base_url!r} is not an http(s):// URL")
    base_path = url.raw_path.partition(b"?")[0].rstrip(b"/")
    origin_path = _escape(origin.origin_path.encode("utf-8")).rstrip(b"/")
    return _Target(url.copy_with(raw_path=b"/"), base_path + origin_path, base_url)


def _request_target(target: _Target, raw_path: bytes, query: bytes, origin: Origin) -> bytes:
    path = target.prefix + resolve_path(_escape(raw_path), origin.id)
    return path + b"?" + _escape(query) if query else path


def _filter_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    pairs = [(k.lower(), v) for k, v in headers]
    drop = set(_HOP_BY_HOP)
    for name, value in pairs:
        if name == b"connection":
            drop.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return [(k, v) for k, v in pairs if k not in drop and not k.startswith(b"proxy-")]


def _filter_response_headers(
    headers: list[tuple[bytes, bytes]], *, lower: bool
) -> list[tuple[bytes, bytes]]:
    drop = set(_HOP_BY_HOP)
    for name, value in headers:
        if name.lower() == b"connection":
            drop.update(t.strip().lower() for t in value.split(b",") if t.strip())
    out = []
    for name, value in headers:
        low = name.lower()
        if low in drop or low.startswith(b"proxy-"):
            continue
        out.append((low if lower else name, value))
    return out


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """A request has a body when it declares a non-zero length or a chunked transfer."""
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return b"chunked" in value.lower()
    return False


def _build_request(
    target: _Target,
    origin: Origin,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    content: Any,
) -> httpx.Request:
    request_target = _request_target(target, raw_path, query, origin)
    try:
        url = target.url.copy_with(raw_path=request_target)
    except httpx.InvalidURL:  # e.g. a "#" in the path: the target extension still sends it
        url = target.url
    # With a Content-Length header httpx streams ``content`` as it is; without one (a chunked
    # upload) it sends chunked framing. A bodiless request gets no framing headers added.
    return httpx.Request(
        method,
        url,
        headers=headers,
        content=content,
        extensions={"target": request_target, "timeout": _timeout(origin)},
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _logged(err: OriginError, origin: Origin) -> OriginError:
    """Every origin failure is logged once, at warning level: status, reason, origin id."""
    logger.warning(
        "origin %r failed: %d %s: %s",
        origin.id,
        err.status,
        HTTPStatus(err.status).phrase,
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
        err = OriginError(f"Could not connect to the {where} within {CONNECT_TIMEOUT:g} s.")
    elif isinstance(exc, httpx.ConnectError):
        err = OriginError(f"Could not connect to the {where}: {_describe(exc)}")
    else:
        err = OriginError(f"The {where} failed before its response started: {_describe(exc)}")
    return _logged(err, origin)


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


def _status_line(response: httpx.Response) -> str:
    reason = response.reason_phrase
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    return f"{response.status_code} {reason}".rstrip()


# -- ASGI ---------------------------------------------------------------------------------------
class _ASGIProxy:
    def __init__(self, base_url: str, origin: Origin) -> None:
        self.base_url = base_url
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise OriginError(f"Origin {self.origin.id!r}: cannot proxy a {scope['type']} scope")
        origin = self.origin
        target = _target(self.base_url, origin)
        raw_path: bytes = scope.get("raw_path") or quote(
            scope.get("path", "/"), safe="/:@!$&'()*+,;=-._~"
        ).encode("ascii")
        query: bytes = scope.get("query_string", b"")
        headers = _filter_request_headers(scope.get("headers", []))
        content = _receive_body(receive) if _has_body(scope.get("headers", [])) else None
        request = _build_request(target, origin, scope["method"], raw_path, query, headers, content)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): a client for this request only
            async with httpx.AsyncClient(**_client_options(origin.keepalive_timeout)) as own:
                await self._forward(own, request, target, send)
            return
        client = await _async_client(self.base_url, origin)
        await self._forward(client, request, target, send)

    async def _forward(
        self, client: httpx.AsyncClient, request: httpx.Request, target: _Target, send: Send
    ) -> None:
        origin = self.origin
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _before_headers(exc, target, origin) from exc
        conn = _h11_connection(response)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _filter_response_headers(response.headers.raw, lower=True),
                }
            )
            # The raw stream, not aiter_raw(): that one closes the response (and pools the
            # connection) as soon as the body ends, before the leftover can be looked at.
            stream = cast(httpx.AsyncByteStream, response.stream)
            chunks = stream.__aiter__()
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except httpx.TransportError as exc:
                    raise _after_headers(exc, target, origin) from exc
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            extra = _leftover(conn, response)
            if extra:
                raise _overrun(conn, extra, target, origin)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


async def _receive_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the body stays short
            return
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def proxy_app(base_url: str, origin: Origin) -> ASGIApp:
    """An ASGI app that forwards each request to the HTTP server at ``base_url``.

    ``base_url`` is ``http(s)://host[:port][/path]``; the request path becomes
    ``/path`` + ``origin.origin_path`` + the scope's ``raw_path``. Example::

        app = proxy_app("http://127.0.0.1:9000", Origin(id="api", read_timeout=10))
    """
    return _ASGIProxy(base_url, origin)


# -- WSGI ---------------------------------------------------------------------------------------
def _environ_headers(environ: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").lower()
            if not value:
                continue
        else:
            continue
        out.append((name.encode("latin-1"), str(value).encode("latin-1")))
    return out


def _environ_path(environ: dict[str, Any]) -> bytes:
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        raw = str(uri).encode("latin-1").partition(b"?")[0]
        if raw.startswith((b"http://", b"https://")):  # absolute-form request target
            raw = b"/" + raw.split(b"/", 3)[3] if raw.count(b"/") >= 3 else b"/"
        return raw
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~").encode("ascii")


def _read_input(stream: Any, length: int | None) -> Iterator[bytes]:
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
        if not chunk:
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk


class _WSGIBody:
    """The origin's body as a WSGI iterable; ``close()`` closes the httpx response."""

    def __init__(self, response: httpx.Response, target: _Target, origin: Origin) -> None:
        self.response = response
        self.target = target
        self.origin = origin
        self.conn = _h11_connection(response)

    def __iter__(self) -> Iterator[bytes]:
        # The raw stream, not iter_raw(): see _ASGIProxy._forward.
        chunks = iter(cast(httpx.SyncByteStream, self.response.stream))
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except httpx.TransportError as exc:
                raise _after_headers(exc, self.target, self.origin) from exc
            if chunk:
                yield chunk
        extra = _leftover(self.conn, self.response)
        if extra:
            raise _overrun(self.conn, extra, self.target, self.origin)

    def close(self) -> None:
        self.response.close()


class _WSGIProxy:
    def __init__(self, base_url: str, origin: Origin) -> None:
        self.base_url = base_url
        self.origin = origin

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        origin = self.origin
        target = _target(self.base_url, origin)
        headers = _environ_headers(environ)
        content: Iterator[bytes] | None = None
        length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ.get("wsgi.input")
        if stream is not None:
            if length_text:
                try:
                    length = int(length_text)
                except ValueError:
                    raise OriginError(f"Invalid Content-Length {length_text!r}")
                if length > 0:
                    content = _read_input(stream, length)
            elif "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
                content = _read_input(stream, None)
        request = _build_request(
            target,
            origin,
            str(environ.get("REQUEST_METHOD", "GET")),
            _environ_path(environ),
            str(environ.get("QUERY_STRING", "")).encode("latin-1"),
            _filter_request_headers(headers),
            content,
        )
        client = _sync_client(self.base_url, origin)
        try:
            response = client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _before_headers(exc, target, origin) from exc
        try:
            raw = _filter_response_headers(response.headers.raw, lower=False)
            start_response(
                _status_line(response),
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw],
            )
        except BaseException:
            response.close()
            raise
        return _WSGIBody(response, target, origin)


def proxy_wsgi_app(base_url: str, origin: Origin) -> WSGIApp:
    """A WSGI app that forwards each request to the HTTP server at ``base_url``.

    The path comes from ``REQUEST_URI`` (else ``SCRIPT_NAME + PATH_INFO``), the query from
    ``QUERY_STRING``, the headers from the ``HTTP_*`` keys; the body is read from
    ``wsgi.input`` in 64 KiB chunks. The returned iterable must be closed (WSGI servers do).
    """
    return _WSGIProxy(base_url, origin)
