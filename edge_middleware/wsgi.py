"""The WSGI front door: ``EdgeWSGIMiddleware``."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .cache.entry import Storage
from .convert import PrefixedInput, origin_environ, reason_phrase, request_from_environ
from .effects import (
    CallHandler,
    FetchOrigin,
    Invalidate,
    JoinFlight,
    Lookup,
    OriginResponse,
    Outcome,
    ReadBody,
    ReadOriginBody,
    Refresh,
    Store,
)
from .exceptions import CloudFrontError, OriginError
from .middleware import FrontDoor, RequestRecord, SharedOptions
from .origins import effective_origin
from .responses import error_page, new_request_id
from .segments import EXECUTOR, Segment, runs_in_segment

__all__ = ["EdgeWSGIMiddleware"]

logger = logging.getLogger("edge_middleware.wsgi")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class EdgeWSGIMiddleware(FrontDoor):
    """Run a distribution's Lambda@Edge triggers and edge cache in front of a WSGI app.

    :param app: the WSGI application (Flask's ``app.wsgi_app``, Django's WSGI handler ...).
    :param config: an :class:`~edge_middleware.EdgeConfig`, or a path/mapping for
        :func:`~edge_middleware.load_config`.
    :param storage: the cache storage; default an in-process ``MemoryStorage()``.
    :param clock: seconds since the epoch; every TTL and ``Age`` decision uses it.
    :param origins: origin id -> ``None`` (this app), an ``http(s)://`` URL, or another app.

    Example::

        from edge_middleware import EdgeWSGIMiddleware

        app.wsgi_app = EdgeWSGIMiddleware(app.wsgi_app, config="distribution.json")
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        config: object = None,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
        origins: Mapping[str, object] | None = None,
    ) -> None:
        self.app = app
        self.options = SharedOptions(
            config=config, storage=storage, clock=clock, origins=origins, app=app
        )
        self._flights: dict[str, threading.Event] = {}
        self._flights_lock = threading.Lock()
        self._refreshing: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("edge.middleware") is not None:
            return self.app(environ, start_response)
        return _Responder(self, environ).run(start_response)


class _Responder:
    def __init__(self, mw: EdgeWSGIMiddleware, environ: dict[str, Any]) -> None:
        self.mw = mw
        self.environ = environ
        self.body: bytes | None = None
        #: the viewer's body was read only in part (the rest streams to the origin)
        self.body_rest = False
        self.flights: list[str] = []
        self.origin_iter: Iterator[bytes] | None = None
        self.origin_close: Callable[[], None] | None = None
        self.origin_broken = False
        self.t0 = time.perf_counter()
        self.viewer: Any = None

    def run(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            self.viewer = request_from_environ(self.environ)
            outcome = self.drive(self.mw.options.pipeline.run(self.viewer))
            if self.origin_broken:
                outcome = self.mw.options.pipeline._error(
                    OriginError("The origin's response broke off."),
                    outcome.request_id,
                    self.viewer.http_version,
                    outcome.behavior,
                    outcome.steps,
                )
        except Exception as exc:
            logger.exception("edge_middleware failed while handling a request")
            self.close_origin()
            err = exc if isinstance(exc, CloudFrontError) else OriginError("Internal error")
            headers, body = error_page(err.status, err, new_request_id())
            start_response(f"{err.status} {reason_phrase(err.status)}", _pairs(headers))
            return [body]
        finally:
            self.release()
        outcome.no_body(self.environ.get("REQUEST_METHOD", ""))
        # validation keeps CR/LF out of the reason; this keeps the status line one line anyway
        reason = "".join(ch for ch in outcome.reason if ch.isprintable())
        reason = reason.encode("latin-1", "replace").decode("latin-1")
        start_response(f"{outcome.status} {reason}".rstrip(), _pairs(outcome.headers))
        if outcome.head or not outcome.stream_rest:
            self.close_origin()
            self.finished(outcome, len(outcome.body) if not outcome.head else 0)
            return [] if outcome.head else [outcome.body]
        return _Streamed(self, outcome)

    def drive(self, gen: Any) -> Outcome:
        try:
            effect = gen.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        while True:
            if runs_in_segment(effect):
                more, effect = self.segment(gen, effect)
                if not more:
                    return effect  # type: ignore[no-any-return]
                continue
            value = self.perform(effect)
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def segment(self, gen: Any, effect: CallHandler) -> tuple[bool, Any]:
        """Sync handlers (and the cache steps between them) on a worker thread, so a handler
        that hangs costs this request CloudFront's timeout error, not the thread forever."""
        seg = Segment(gen, self.mw.options.storage, effect)
        fut = EXECUTOR.submit(seg.run, effect)
        while True:
            try:
                return fut.result(timeout=seg.wait_time() + 0.001)
            except concurrent.futures.TimeoutError:
                err = seg.overdue()
                if err is not None:
                    hv = self.viewer.http_version if self.viewer is not None else "1.1"
                    pipeline = self.mw.options.pipeline
                    return False, pipeline._error(err, effect.request_id, hv, None, [])

    def perform(self, effect: Any) -> Any:
        options = self.mw.options
        if isinstance(effect, CallHandler):
            try:
                return effect.runner.call_sync(effect.event, effect.request_id, effect.timeout)
            except CloudFrontError as exc:
                return exc
        if isinstance(effect, Lookup):
            return options.storage.get(effect.key)
        if isinstance(effect, Store):
            options.storage.set(effect.entry)
            return None
        if isinstance(effect, ReadBody):
            return self.read_body(effect.limit)
        if isinstance(effect, FetchOrigin):
            response = self.fetch(effect)
            if effect.whole and isinstance(response, OriginResponse) and response.streaming:
                rest, _ = self.read_origin(2**62)
                self.close_origin()
                response.body += rest
                response.streaming = False
            return response
        if isinstance(effect, ReadOriginBody):
            return self.read_origin(effect.limit)
        if isinstance(effect, JoinFlight):
            return self.join(effect)
        if isinstance(effect, Invalidate):
            self.mw.options.invalidate(effect.paths)
            return None
        if isinstance(effect, Refresh):
            with self.mw._flights_lock:
                busy = effect.key in self.mw._refreshing
                self.mw._refreshing.add(effect.key)
            if busy:  # one background refresh per key at a time
                effect.run.close()
                return None
            background = _Responder(self.mw, dict(self.environ))
            background.body = b""
            threading.Thread(
                target=background.run_background, args=(effect.run, effect.key), daemon=True
            ).start()
            return None
        raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover

    def run_background(self, gen: Any, key: str) -> None:
        try:
            self.drive(gen)
        except Exception:
            logger.exception("background revalidation failed")
        finally:
            self.close_origin()
            self.release()
            with self.mw._flights_lock:
                self.mw._refreshing.discard(key)

    def read_body(self, limit: int | None = None) -> bytes:
        """The body, or with ``limit`` a prefix of more than ``limit`` bytes (issue 16, item 3:
        a function sees at most 40 KB / 1 MB; the rest streams to the origin unread)."""
        if self.body is not None and (
            not self.body_rest or (limit is not None and len(self.body) > limit)
        ):
            return self.body
        have = self.body or b""
        stream = self.environ.get("wsgi.input")
        length = self.viewer.body_length if self.viewer else -1
        want = -1 if limit is None else limit + 1 - len(have)
        if length > 0:
            left = length - len(have)
            want = left if want < 0 else min(want, left)
        data = b"" if stream is None or length == 0 or want == 0 else stream.read(want)
        body = self.body = have + data
        # more to come: a known length not reached, or an unknown one that filled ``want``
        self.body_rest = (
            want > 0 and len(data) == want and (len(body) < length if length > 0 else True)
        )
        return body

    def join(self, effect: JoinFlight) -> bool:
        mw = self.mw
        with mw._flights_lock:
            event = mw._flights.get(effect.key)
            if event is None:
                mw._flights[effect.key] = threading.Event()
                self.flights.append(effect.key)
        if event is not None:
            event.wait(effect.timeout)
            return False
        begin = getattr(mw.options.storage, "begin_fill", None)
        if begin is not None and not begin(effect.key, effect.timeout):
            mw.options.storage.wait_fill(effect.key, effect.timeout)  # type: ignore[attr-defined]
            return False
        return True

    def release(self) -> None:
        if not self.flights:
            return
        mw = self.mw
        end = getattr(mw.options.storage, "end_fill", None)
        for key in self.flights:
            with mw._flights_lock:
                event = mw._flights.pop(key, None)
            if event is not None:
                event.set()
            if end is not None:
                end(key)
        self.flights = []

    # -- the origin -----------------------------------------------------------------------------
    def fetch(self, effect: FetchOrigin) -> OriginResponse | CloudFrontError:
        target = self.mw.options.target(effect.origin_id)
        app: WSGIApp = self.mw.app if target is None else target  # type: ignore[assignment]
        if isinstance(target, str):
            from .proxy import proxy_wsgi_app

            app = proxy_wsgi_app(target, effective_origin(effect.origin, effect.request))
        body = effect.body if effect.body is not None else self.body
        prefix = body if effect.body is None and self.body_rest else None
        environ = origin_environ(
            self.environ,
            effect.request,
            None if prefix is not None else body,
            request_id=effect.event["Records"][0]["cf"]["config"]["requestId"],
            origin_path=not isinstance(target, str),
        )
        if prefix is not None:  # what a function saw, then the rest from the viewer
            environ["wsgi.input"] = PrefixedInput(prefix, self.environ["wsgi.input"])
        environ["edge.event"] = effect.event
        environ["edge.middleware"] = self.mw
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
            result = app(environ, start_response)
        except CloudFrontError as exc:
            return exc
        except Exception:
            logger.exception("the origin app failed before its response started")
            return OriginError("The origin failed before its response started.")
        self.origin_close = getattr(result, "close", None)
        if isinstance(result, list | tuple) and captured:
            first, streaming = b"".join(written) + b"".join(result), False
        else:
            it = iter(result)
            self.origin_iter = it
            first, streaming = b"", True
            try:
                while True:
                    chunk = next(it)
                    if captured:
                        first = chunk
                        break
            except StopIteration:
                streaming = False
            except Exception:
                logger.exception("the origin app failed before its response started")
                self.close_origin()
                return OriginError("The origin failed before its response started.")
            first = b"".join(written) + first
        if not captured:
            self.close_origin()
            return OriginError("The origin returned no response.")
        status_line, header_pairs = captured
        try:
            status = int(status_line.split(" ", 1)[0])
        except ValueError:
            self.close_origin()
            return OriginError(f"The origin sent an invalid status {status_line!r}.")
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in header_pairs]
        if not streaming:
            self.close_origin()
        return OriginResponse(status, raw, first, streaming=streaming)

    def read_origin(self, limit: int) -> tuple[bytes, bool]:
        if self.origin_iter is None:
            return b"", True
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in self.origin_iter:
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    return b"".join(chunks), False
        except Exception:
            # Broken before anything reached the viewer: nothing is stored, and the viewer
            # gets CloudFront's origin error (see run()).
            logger.exception("the origin's body broke off while it was being read")
            self.origin_broken = True
            self.close_origin()
            return b"".join(chunks), False
        self.origin_iter = None
        return b"".join(chunks), True

    def close_origin(self) -> None:
        close, self.origin_close, self.origin_iter = self.origin_close, None, None
        if close is not None:
            try:
                close()
            except Exception:
                logger.exception("closing the origin response failed")

    def finished(self, outcome: Outcome, sent: int) -> None:
        options = self.mw.options
        if options.observers and self.viewer is not None:
            port = self.environ.get("REMOTE_PORT")
            options.notify(
                RequestRecord(
                    outcome,
                    dict(self.viewer.request),
                    self.environ.get("wsgi.url_scheme", "http"),
                    self.viewer.http_version,
                    self.t0,
                    sent,
                    len(self.body or b""),
                    int(port) if port else 0,
                )
            )


class _Streamed:
    """The viewer's body: what the pipeline has, then the rest of the origin's stream."""

    def __init__(self, responder: _Responder, outcome: Outcome) -> None:
        self.r = responder
        self.outcome = outcome
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.outcome.body:
            self.sent += len(self.outcome.body)
            yield self.outcome.body
        it = self.r.origin_iter
        if it is not None:
            for chunk in it:
                self.sent += len(chunk)
                yield chunk

    def close(self) -> None:
        self.r.close_origin()
        self.r.finished(self.outcome, self.sent)


def _pairs(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
