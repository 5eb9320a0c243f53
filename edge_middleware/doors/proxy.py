"""Proxy a CloudFront origin to a real HTTP server (``origins={"api": "http://127.0.0.1:9000"}``).

:func:`proxy_app` returns an ASGI app and :func:`proxy_wsgi_app` a WSGI app; the front doors call
them with the origin scope/environ built from the CloudFront origin request. The request goes out
with its method, the origin path plus the request path (dot-segments resolved so it cannot leave
the origin path, never re-quoted), the raw query string, the headers minus hop-by-hop ones and a
streamed body. The response streams back chunk by chunk; nothing is read whole.

Failures (lambda-edge.md §3.5, caching.md §1.4, §1.14):

* no connection (refused, DNS, no connection within the origin's ``connection_timeout``), after
  the origin's ``connection_attempts``: :class:`OriginError` (502); a bodiless idempotent
  request whose pooled keep-alive connection closed before any byte of the answer (the origin
  closed it as the request went out) is sent again, once, on a new connection;
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
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, cast
from urllib.parse import quote

import httpx

from ..config.model import Origin
from ..core.convert import reason_phrase
from ..exceptions import OriginError
from ..pipeline.effects import bodiless_status, incomplete_body
from .interfaces import ASGIApp, Receive, Scope, Send, StartResponse, WSGIApp

# The pooled clients, the request target and the failures (with the check for bytes past the end
# of a response) are modules of their own; their public names are imported from here.
from .proxy_clients import (
    CONNECT_TIMEOUT,  # noqa: F401 - a public constant of this module
    _async_client,
    _async_clients,  # noqa: F401 - tests look at the pool through this module
    _client_options,
    _sync_client,
    aclose_clients,
    close_clients,
)
from .proxy_failures import (
    Attempt,
    _after_headers,
    _failed_send,
    _h11_connection,
    _leftover,
    _overrun,
)
from .proxy_request import (
    _build_request,
    _filter_request_headers,
    _filter_response_headers,
    _has_body,
    _Target,
    _target,
    replayable,
    resolve_path,
)

__all__ = ["aclose_clients", "close_clients", "proxy_app", "proxy_wsgi_app", "resolve_path"]

logger = logging.getLogger("edge_middleware.proxy")

#: Request body chunk size for WSGI input.
CHUNK_SIZE = 64 * 1024


def _status_line(response: httpx.Response) -> str:
    reason = response.reason_phrase
    if not reason:
        reason = reason_phrase(response.status_code)
    return f"{response.status_code} {reason}".rstrip()


# -- ASGI ---------------------------------------------------------------------------------------
class _ASGIProxy:
    def __init__(self, base_url: str, origin: Origin) -> None:
        self.base_url = base_url
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise OriginError(f"Origin {self.origin.id!r}: cannot proxy a {scope['type']} scope")
        try:
            await self._proxy(scope, receive, send)
        except _ViewerLeft:  # (the origin's connection was cut): the viewer's 400, as when
            raise incomplete_body() from None  # a function reads the body, not the origin's 502

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = self.origin
        target = _target(self.base_url, origin)
        raw_path: bytes = scope.get("raw_path") or quote(
            scope.get("path", "/"), safe="/:@!$&'()*+,;=-._~"
        ).encode("ascii")
        query: bytes = scope.get("query_string", b"")
        viewer_headers = scope.get("headers", [])
        headers = _filter_request_headers(viewer_headers)
        content: bytes | AsyncIterator[bytes] | None = None
        if replayable(scope["method"], viewer_headers):  # can go out again
            content = b"".join([chunk async for chunk in _receive_body(receive)])
        elif _has_body(viewer_headers):
            content = _receive_body(receive)
        request = _build_request(target, origin, scope["method"], raw_path, query, headers, content)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): a client for this request only
            async with httpx.AsyncClient(**_client_options(origin.keepalive_timeout)) as own:
                await self._forward(own, request, target, send)
            return
        client = await _async_client(self.base_url, origin)
        await self._forward(client, request, target, send)

    async def _send(
        self, client: httpx.AsyncClient, request: httpx.Request, target: _Target
    ) -> httpx.Response:
        """The origin's answer (its head), within the origin's connection attempts."""
        number = 1
        while True:
            sent = Attempt()
            request.extensions["trace"] = sent.async_
            try:
                return await client.send(request, stream=True)
            except httpx.TransportError as exc:
                _failed_send(exc, request, sent, number, target, self.origin)  # or raises
                number += 1

    async def _forward(
        self, client: httpx.AsyncClient, request: httpx.Request, target: _Target, send: Send
    ) -> None:
        origin = self.origin
        response = await self._send(client, request, target)
        conn = _h11_connection(response)
        try:
            # The raw stream, not aiter_raw(): that one closes the response (and pools the
            # connection) as soon as the body ends, before the leftover can be looked at.
            stream = cast(httpx.AsyncByteStream, response.stream)
            chunks = stream.__aiter__()
            if request.method == "HEAD" or bodiless_status(response.status_code):
                # nothing follows such a head: bytes there are the origin's 502, found before
                # anything is sent (as the WSGI door finds them)
                async for _ in chunks:
                    pass
                extra = _leftover(conn, response)
                if extra:
                    raise _overrun(conn, extra, target, origin)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _filter_response_headers(response.headers.raw, lower=True),
                }
            )
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


class _ViewerLeft(Exception):
    """The viewer went before its body ended (``http.disconnect``): the upload is cut at the
    origin too, never sent on as complete (the last chunk of a chunked upload closed it)."""


async def _receive_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ViewerLeft
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
    """The viewer's body in chunks; one shorter than its ``Content-Length`` (the viewer went)
    raises the viewer's 400 (sent on as it is, the origin's framing error was a 502)."""
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
        if not chunk:
            if remaining is not None:
                logger.warning("the viewer's request body ended %d bytes short", remaining)
                raise incomplete_body()
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
        method = str(environ.get("REQUEST_METHOD", "GET"))
        content: bytes | Iterator[bytes] | None = None
        length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ.get("wsgi.input")
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        if stream is not None:
            if chunked:  # (RFC 9112 §6.3: whatever a Content-Length beside it says)
                content = _read_input(stream, None)
            elif length_text:
                try:
                    length = int(length_text)
                except ValueError:
                    raise OriginError(f"Invalid Content-Length {length_text!r}")
                if replayable(method, headers):  # can go out again
                    content = b"".join(_read_input(stream, length))
                elif length > 0:
                    content = _read_input(stream, length)
        request = _build_request(
            target,
            origin,
            method,
            _environ_path(environ),
            str(environ.get("QUERY_STRING", "")).encode("latin-1"),
            _filter_request_headers(headers),
            content,
        )
        response = self._send(_sync_client(self.base_url, origin), request, target)
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

    def _send(
        self, client: httpx.Client, request: httpx.Request, target: _Target
    ) -> httpx.Response:
        """The origin's answer (its head), within the origin's connection attempts."""
        number = 1
        while True:
            sent = Attempt()
            request.extensions["trace"] = sent.sync
            try:
                return client.send(request, stream=True)
            except httpx.TransportError as exc:
                _failed_send(exc, request, sent, number, target, self.origin)  # or raises
                number += 1


def proxy_wsgi_app(base_url: str, origin: Origin) -> WSGIApp:
    """A WSGI app that forwards each request to the HTTP server at ``base_url``.

    The path comes from ``REQUEST_URI`` (else ``SCRIPT_NAME + PATH_INFO``), the query from
    ``QUERY_STRING``, the headers from the ``HTTP_*`` keys; the body is read from
    ``wsgi.input`` in 64 KiB chunks. The returned iterable must be closed (WSGI servers do).
    """
    return _WSGIProxy(base_url, origin)
