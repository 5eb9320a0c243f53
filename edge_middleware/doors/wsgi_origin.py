"""The origin WSGI app called for one request, behind the same three calls as the ASGI door's
:class:`~edge_middleware.doors.asgi_origin.OriginStream`: ``head()``, ``next_chunk()``,
``close()``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..exceptions import CloudFrontError, OriginError
from ..pipeline.effects import OriginResponse
from .interfaces import WSGIApp

__all__ = ["OriginCall"]

logger = logging.getLogger("edge_middleware.wsgi")


class OriginCall:
    """Call ``app`` with ``environ``: :meth:`head` gives its status, headers and first body
    bytes, :meth:`next_chunk` the rest of its iterable, :meth:`close` closes it (once)."""

    def __init__(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        self.app = app
        self.environ = environ
        self.iterator: Iterator[bytes] | None = None
        self.closer: Callable[[], None] | None = None

    def head(self) -> OriginResponse | CloudFrontError:
        captured: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if exc_info is not None and captured:
                raise exc_info[1].with_traceback(exc_info[2])
            captured[:] = [status, headers]
            return written.append

        try:
            result = self.app(self.environ, start_response)
            self.closer = getattr(result, "close", None)
            if isinstance(result, list | tuple) and captured:
                first, streaming = b"".join(written) + b"".join(result), False
            else:
                first, streaming = self._first_chunk(iter(result), captured)
                first = b"".join(written) + first
        except CloudFrontError as exc:
            self.close()
            return exc
        except Exception:
            logger.exception("the origin app failed before its response started")
            self.close()
            return OriginError("The origin failed before its response started.")
        answer = _answer(captured, first, streaming)
        if not streaming or isinstance(answer, CloudFrontError):
            self.close()
        return answer

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

    def next_chunk(self) -> bytes | None:
        """The next body bytes, ``None`` at the end; raises what the app raised."""
        if self.iterator is None:
            return None
        for chunk in self.iterator:
            if chunk:
                return chunk
        self.iterator = None
        return None

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
    except ValueError:
        return OriginError(f"The origin sent an invalid status {status_line!r}.")
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in header_pairs]
    return OriginResponse(status, raw, first, streaming=streaming)
