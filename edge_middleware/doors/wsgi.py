"""The WSGI front door: ``EdgeWSGIMiddleware``.

It converts the environ, drives the pipeline and performs its effects; it makes no CloudFront
answer of its own. Its twin is ``asgi.py``: the same methods in the same order.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, assert_never

from ..cache.compression import compress
from ..cache.entry import Storage
from ..cache.lookup_notes import new_request
from ..core.convert import ViewerRequest, request_from_environ
from ..exceptions import CloudFrontError
from ..pipeline import Step
from ..pipeline.effects import (
    CallHandler,
    Compress,
    Effect,
    FetchOrigin,
    Invalidate,
    JoinFlight,
    LeaveFlight,
    Lookup,
    OriginBody,
    OriginResponse,
    Outcome,
    ReadBody,
    ReadOriginBody,
    Refresh,
    Store,
    with_rest,
)
from ..pipeline.flow import Flow, Prefetched, Routed
from .flights import ThreadFlights
from .interfaces import StartResponse, WSGIApp
from .middleware import FrontDoor, RequestRecord, SharedOptions, body_bytes_received
from .wsgi_fast import shortcut
from .wsgi_origin import OriginCall, open_origin, start_viewer

__all__ = ["EdgeWSGIMiddleware"]

logger = logging.getLogger("edge_middleware.wsgi")


#: Background refreshes (stale-while-revalidate) run on a few shared, tracked threads.
_REFRESH_THREADS = 4


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
            config=config, storage=storage, clock=clock, origins=origins, app=app, interface="wsgi"
        )
        self._flights = ThreadFlights(self.options.fill_lock)
        self._lock = threading.Lock()
        #: background refreshes (stale-while-revalidate), one per key at a time
        self._background: dict[str, concurrent.futures.Future[None]] = {}
        self._refresher: concurrent.futures.ThreadPoolExecutor | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("edge.middleware") is not None:
            return self.app(environ, start_response)
        new_request()  # (this thread's last request looked keys up: its stores are done)
        if self.options.delayed:
            self.options.apply_due()
        prefetched = routed = None
        if self.options.pipeline.has_shortcuts and not self.options.observers:
            answer, prefetched, routed = shortcut(self, environ, start_response)
            if answer is not None:
                return answer
        return _Responder(self, environ).run(start_response, prefetched, routed)


class _Responder:
    """One viewer request (per-request state is never stored on the middleware)."""

    def __init__(self, mw: EdgeWSGIMiddleware, environ: dict[str, Any]) -> None:
        self.mw = mw
        self.environ = environ
        self.body: bytes | None = None
        #: the viewer's body was read only in part (the rest streams to the origin)
        self.body_rest = False
        #: the viewer went away before its body was complete
        self.body_cut = False
        self.flights: list[str] = []
        self.origin: OriginCall | None = None
        self.bytes_sent = 0
        self.t0 = time.perf_counter()
        #: when the answer's head went to the server, and whether the viewer went during it
        self.t_first: float | None = None
        self.viewer_left = ""
        self.viewer: ViewerRequest | None = None
        self.flow: Flow | None = None

    # -- driving the pipeline ---------------------------------------------------------------
    def run(
        self,
        start_response: StartResponse,
        prefetched: Prefetched | None = None,
        routed: Routed | None = None,
    ) -> Iterable[bytes]:
        pipeline = self.mw.options.pipeline
        outcome: Outcome | None = None
        try:
            self.viewer = request_from_environ(self.environ)
            self.flow = pipeline.flow(self.viewer, routed)
            self.flow.prefetched = prefetched
            outcome = self.drive(pipeline.run(self.viewer, self.flow))
        except Exception:
            logger.exception("edge_middleware failed while handling a request")
            self.close_origin()
            outcome = pipeline.internal_failure(self.viewer, self.flow)
        finally:
            if outcome is None or outcome.tee is None:  # else once it is stored (or not)
                self.release()
        try:
            return self.respond(outcome, start_response)
        except BaseException:
            self.release()
            self.close_origin()
            raise

    def drive(self, gen: Step) -> Any:
        value: Any = None
        while True:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                return stop.value
            # as the ASGI door: the most frequent effect first
            value = self.call(effect) if type(effect) is CallHandler else self.perform(effect)

    def call(self, effect: CallHandler) -> Any:
        try:
            return effect.runner.call_sync(effect.event, effect.request_id, effect.timeout)
        except CloudFrontError as exc:
            return exc

    def perform(self, effect: Effect) -> Any:
        storage = self.mw.options.storage
        match effect:
            case CallHandler():
                return self.call(effect)
            case Lookup():
                return storage.get(effect.key)
            case Store():
                storage.set(effect.entry)
                return None
            case ReadBody():
                body = self.read_body(effect.limit)
                return None if self.body_cut else body
            case JoinFlight():
                return self.join(effect)
            case LeaveFlight():
                return self.leave(effect.key)
            case FetchOrigin():
                return self.fetch(effect)
            case ReadOriginBody():
                return self.read_origin(effect.limit)
            case Compress():
                return compress(effect.coding, effect.body, effect.headers)
            case Invalidate():
                self.mw.options.purge(effect.paths)
                return None
            case Refresh():
                self.refresh(effect)
                return None
            case _:
                assert_never(effect)

    def refresh(self, effect: Refresh) -> None:
        """Run a background revalidation on a shared refresh thread, one per key at a time."""
        mw = self.mw
        with mw._lock:
            if effect.key in mw._background:
                effect.run.close()
                return
            if mw._refresher is None:
                mw._refresher = concurrent.futures.ThreadPoolExecutor(
                    _REFRESH_THREADS, thread_name_prefix="edge-refresh"
                )
            background = _Responder(mw, dict(self.environ))
            background.body = b""
            # in a copy of the request's context, as the ASGI door's task: its store is judged
            # by the request's lookup (cache/lookup_notes.py), not by the key's note alone
            run = contextvars.copy_context().run
            future = mw._refresher.submit(run, background.drive_background, effect.run)
            mw._background[effect.key] = future

        def done(_future: object, key: str = effect.key) -> None:
            with mw._lock:
                mw._background.pop(key, None)

        future.add_done_callback(done)

    def drive_background(self, gen: Step) -> None:
        try:
            self.drive(gen)
        except Exception:
            logger.exception("background revalidation failed")
        finally:
            self.release()
            self.close_origin()

    def read_body(self, limit: int | None = None) -> bytes:
        """The body, or with ``limit`` a prefix of more than ``limit`` bytes (a function sees
        at most 40 KB / 1 MB; the rest streams to the origin unread)."""
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
        try:
            data = b"" if stream is None or length == 0 or want == 0 else stream.read(want)
        except Exception as exc:  # the server's own: a broken chunked body, a viewer gone
            logger.warning("the viewer's request body could not be read: %s", exc)
            data, self.body_cut = b"", True
        # a known length the input ended short of: the viewer went away before its end
        self.body_cut = self.body_cut or (length > 0 and want > 0 and len(data) < want)
        body = self.body = have + data
        # more to come: a known length not reached, or an unknown one that filled ``want``
        self.body_rest = (
            want > 0 and len(data) == want and (len(body) < length if length > 0 else True)
        )
        return body

    def join(self, effect: JoinFlight) -> bool | None:
        return self.mw._flights.join(effect.key, effect.timeout, self.flights, effect.lead)

    def leave(self, key: str) -> None:
        """Release ``key`` alone, when this request leads it (``LeaveFlight``)."""
        if key in self.flights:
            self.flights.remove(key)
            self.mw._flights.release([key])

    def release(self) -> None:
        if self.flights:
            led, self.flights = self.flights, []
            self.mw._flights.release(led)

    # -- the origin -----------------------------------------------------------------------------
    def fetch(self, effect: FetchOrigin) -> OriginResponse | CloudFrontError:
        """Call the origin app and read its status, headers and first body bytes; the rest
        stays in its iterable (``read_origin``, ``respond``)."""
        body, more = effect.body, False
        if body is None:  # the viewer's body, or a prefix of it: the rest follows from it
            body, more = self.body, self.body_rest
        if effect.whole:  # (a custom error page: fetched beside the answer's stream, if any)
            return self.fetch_whole(effect, body, more)
        self.close_origin()  # an origin group's failed primary: never left half-run
        stream = self.origin = open_origin(self.mw, self.environ, effect, body, more)
        return stream.head()

    def fetch_whole(
        self, effect: FetchOrigin, body: bytes | None, more: bool
    ) -> OriginResponse | CloudFrontError:
        stream = open_origin(self.mw, self.environ, effect, body, more)
        try:
            answer = stream.head()
            if not isinstance(answer, OriginResponse) or answer.status in effect.dropped_on:
                return answer  # (failed over on: its body is not wanted)
            limit = self.mw.options.pipeline.settings.max_object_bytes
            rest = stream.read(limit - len(answer.body)) if answer.streaming else None
            return with_rest(answer, rest, limit)
        finally:
            stream.close()

    def read_origin(self, limit: int) -> OriginBody:
        if self.origin is None:
            return OriginBody(b"", True)
        return self.origin.read(limit)

    def close_origin(self) -> None:
        stream, self.origin = self.origin, None
        if stream is not None:
            stream.close()

    # -- to the viewer ----------------------------------------------------------------------
    def respond(self, outcome: Outcome, start_response: StartResponse) -> Iterable[bytes]:
        outcome.no_body(self.environ.get("REQUEST_METHOD", ""))
        self.t_first = time.perf_counter()
        start_viewer(start_response, outcome.status, outcome.reason, outcome.headers)
        if outcome.head or not outcome.stream_rest or self.origin is None:
            self.release()
            self.close_origin()
            self.bytes_sent = 0 if outcome.head else len(outcome.body)
            self.finished(outcome)
            return [] if outcome.head else [outcome.body]
        return _Streamed(self, outcome)

    def finished(self, outcome: Outcome) -> None:
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
                    self.bytes_sent,
                    body_bytes_received(self.viewer, self.body),
                    int(port) if port else 0,
                    None if self.t_first is None else self.t_first - self.t0,
                    self.viewer_left,
                )
            )


class _Streamed:
    """The viewer's body: what the pipeline has, then the rest of the origin's stream."""

    def __init__(self, responder: _Responder, outcome: Outcome) -> None:
        self.r = responder
        self.outcome = outcome
        #: it was read to its end, or it broke off itself (the origin's failure, not the viewer's)
        self.ended = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks()
            self.ended = True
        except Exception:
            self.ended = True
            raise
        finally:  # stored or not, the requests collapsed on it go on (a server that never
            self.r.release()  # calls close() too, once the iterator is collected)

    def _chunks(self) -> Iterator[bytes]:
        r = self.r
        if self.outcome.body:
            r.bytes_sent += len(self.outcome.body)
            yield self.outcome.body
        stream = r.origin
        if stream is None:
            return
        wanted = self.outcome.tee
        tee = None if wanted is None else wanted.buffer(r.mw.options.pipeline.buffers)
        try:
            while (chunk := stream.next_chunk()) is not None:
                if tee is not None and not tee.add(chunk):
                    tee = None  # it will not be stored: the requests collapsed on it go on
                    r.release()
                r.bytes_sent += len(chunk)
                yield chunk
        except CloudFrontError:
            raise  # a proxied origin's failure, logged where it was found
        except Exception:
            logger.exception("the response to the viewer broke off after it started")
            raise
        finally:
            if tee is not None:
                tee.release()
        if tee is not None and (entry := tee.entry()) is not None:
            try:  # the viewer had it all: stored as CloudFront fills its cache while it sends
                r.mw.options.storage.set(entry)
            except Exception:  # the viewer has its answer; the next request fetches again
                logger.exception("storing an answer that streamed to the viewer failed")

    def close(self) -> None:
        if not self.ended:  # the server stopped reading it: its viewer went
            self.r.viewer_left = self.r.viewer_left or "during"
        self.r.release()  # (requests collapsed on a streamed answer find it stored)
        self.r.close_origin()
        self.r.finished(self.outcome)
