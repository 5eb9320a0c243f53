"""The origin WSGI app called for one request, behind the same four calls as the ASGI door's
:class:`~edge_middleware.doors.asgi_origin.OriginStream`: ``head()``, ``next_chunk()``,
``read()``, ``close()``; :func:`open_origin` prepares it for a
:class:`~edge_middleware.pipeline.effects.FetchOrigin`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..core.convert import PrefixedInput, origin_environ
from ..core.headers import RawHeaders
from ..core.origins import effective_origin
from ..exceptions import CloudFrontError, OriginError
from ..pipeline.effects import FetchOrigin, OriginBody, OriginResponse, incomplete_body
from .interfaces import StartResponse, WSGIApp

if TYPE_CHECKING:
    from .wsgi import EdgeWSGIMiddleware

__all__ = ["OriginCall", "open_origin", "start_viewer"]

logger = logging.getLogger("edge_middleware.wsgi")


class OriginCall:
    """Call ``app`` with ``environ``: :meth:`head` gives its status, headers and first body
    bytes, :meth:`next_chunk` the rest of its iterable, :meth:`close` closes it (once)."""

    def __init__(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        self.app = app
        self.environ = environ
        self.iterator: Iterator[bytes] | None = None
        self.closer: Callable[[], None] | None = None
        #: what the app gave the ``write()`` callable, not yet taken (PEP 3333: it goes out
        #: before what the iterable yields next)
        self.written: list[bytes] = []
        #: the head went to the pipeline: a later ``start_response`` with ``exc_info`` can no
        #: longer replace it (PEP 3333: it raises, as after headers were sent)
        self.head_taken = False
        #: a URL origin's body that broke before its first bytes (raised by next_chunk)
        self.broken: CloudFrontError | None = None

    def head(self) -> OriginResponse | CloudFrontError:
        captured: list[Any] = []
        written = self.written

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info is not None and self.head_taken:
                raise exc_info[1].with_traceback(exc_info[2])
            captured[:] = [status, headers]  # (before the head went: the app changed its mind)
            return written.append

        try:
            result = self.app(self.environ, start_response)
            self.closer = getattr(result, "close", None)
            if isinstance(result, list | tuple) and captured:
                first, streaming = b"".join(written) + b"".join(result), False
                written.clear()
            else:
                first, streaming = self._first_chunk(iter(result), captured)
                first = self._take_written(first)
        except CloudFrontError as exc:
            self.close()
            return exc
        except Exception:
            logger.exception("the origin app failed before its response started")
            self.close()
            return OriginError("The origin failed before its response started.")
        self.head_taken = True
        answer = _answer(captured, first, streaming)
        if not streaming or isinstance(answer, CloudFrontError):
            self.close()
        return answer

    def _take_written(self, chunk: bytes) -> bytes:
        """What ``write()`` was given so far, then ``chunk``."""
        if not self.written:
            return chunk
        data = b"".join(self.written) + chunk
        self.written.clear()
        return data

    def _first_chunk(self, it: Iterator[bytes], captured: list[Any]) -> tuple[bytes, bool]:
        self.iterator = it
        try:
            while True:
                chunk = next(it)
                if captured:
                    return chunk, True
        except StopIteration:
            self.iterator = None
            return b"", False
        except CloudFrontError as exc:
            if not captured:
                raise
            # a URL origin's body broke at its first bytes, after its head came: the answer
            # keeps its status (a 200 never fails over) and its body reports the failure, as
            # on the ASGI door (it was read as an origin never reached)
            self.broken = exc
            return b"", True

    def next_chunk(self) -> bytes | None:
        """The next body bytes, ``None`` at the end; raises what the app raised."""
        broken, self.broken = self.broken, None
        if broken is not None:
            raise broken
        if self.iterator is None:
            return self._take_written(b"") or None
        for chunk in self.iterator:
            if chunk or self.written:
                return self._take_written(chunk)
        self.iterator = None
        return self._take_written(b"") or None

    def read(self, limit: int) -> OriginBody:
        """The body's next bytes, until the end or past ``limit`` bytes; an origin that broke
        off is closed and reported in :attr:`OriginBody.error`."""
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = self.next_chunk()
                if chunk is None:
                    return OriginBody(b"".join(chunks), True)
                chunks.append(chunk)
                size += len(chunk)
        except CloudFrontError as exc:  # a proxied origin's failure, logged where it was found
            self.close()
            return OriginBody(b"".join(chunks), False, exc)
        except Exception:
            logger.exception("the origin's body broke off while it was being read")
            self.close()
            broken = OriginError("The origin's response broke off.")
            return OriginBody(b"".join(chunks), False, broken)
        return OriginBody(b"".join(chunks), False)

    def close(self) -> None:
        close, self.closer, self.iterator = self.closer, None, None
        if close is not None:
            try:
                close()
            except Exception:
                logger.exception("closing the origin response failed")


def _answer(captured: list[Any], first: bytes, streaming: bool) -> OriginResponse | CloudFrontError:
    if not captured:
        return OriginError("The origin returned no response.")
    status_line, header_pairs = captured
    try:
        status = int(status_line.split(" ", 1)[0])
    except (AttributeError, TypeError, ValueError):
        return OriginError(f"The origin sent an invalid status {status_line!r}.")
    try:  # PEP 3333: names and values are latin-1 text
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in header_pairs]
    except (AttributeError, TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        # no bytes to give: the pairs go as they are, and the pipeline's check of every
        # origin head (core/validation.py) refuses them with CloudFront's 502
        raw = header_pairs
    return OriginResponse(status, raw, first, streaming=streaming)


def open_origin(
    mw: EdgeWSGIMiddleware,
    environ: dict[str, Any],
    effect: FetchOrigin,
    body: bytes | None,
    more: bool,
) -> OriginCall:
    """Prepare the origin ``effect`` asks for (this app, another app, or a URL through the
    proxy) with CloudFront's request; ``body`` (``more``: a prefix, the rest follows from the
    viewer's ``wsgi.input``) replaces the viewer's when given."""
    target = mw.options.target(effect.origin_id)
    app: WSGIApp = mw.app if target is None else target  # type: ignore[assignment]
    if isinstance(target, str):
        from .proxy import proxy_wsgi_app

        app = proxy_wsgi_app(target, effective_origin(effect.origin, effect.request))
    new = origin_environ(
        environ,
        effect.request,
        None if more else body,
        request_id=effect.request_id,
        origin_path=not isinstance(target, str),
    )
    if more and body is not None:  # what a function saw, then the rest from the viewer
        new["wsgi.input"] = PrefixedInput(body, environ["wsgi.input"])
    if (body is None or more) and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        new["wsgi.input"] = _ViewerInput(new["wsgi.input"])
    new["edge.middleware"] = mw
    return OriginCall(app, new)


class _ViewerInput:
    """The viewer's chunked body as the origin app reads it: the server's failure to read it
    (a broken chunk, a viewer gone: gunicorn's ``NoMoreData``, cheroot's ``ValueError``) is
    the viewer's 400, as a Content-Length body cut short is, not the origin's 502."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _read(self, how: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, how)(*args)
        except Exception as exc:
            logger.warning("the viewer's request body could not be read: %s", exc)
            raise incomplete_body() from None

    # (as the app called them: no size is the server's own default, read to the end)
    def read(self, size: int | None = None) -> bytes:
        return self._read("read", *_given(size))  # type: ignore[no-any-return]

    def readline(self, size: int | None = None) -> bytes:
        return self._read("readline", *_given(size))  # type: ignore[no-any-return]

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return self._read("readlines", *_given(hint))  # type: ignore[no-any-return]

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _given(size: int | None) -> tuple[int, ...]:
    return () if size is None else (size,)


#: RFC 9110 §15's names of the status classes, for a code without a standard phrase
_CLASS_PHRASES = {
    1: "Informational",
    2: "Successful",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
}


def start_viewer(
    start_response: StartResponse, status: int, reason: str, headers: RawHeaders
) -> None:
    """``start_response`` for the viewer: one status line (validation keeps CR/LF out of a
    reason; this keeps it one printable latin-1 line anyway), headers as latin-1 text."""
    if not (reason.isascii() and reason.isprintable()):
        reason = "".join(ch for ch in reason if ch.isprintable())
        reason = reason.encode("latin-1", "replace").decode("latin-1")
    if not reason.strip():  # PEP 3333: a code, a space and a phrase (a 520 has no standard one)
        reason = _CLASS_PHRASES.get(status // 100, "Unknown")
    start_response(
        f"{status} {reason}",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
    )
