"""The ASGI front door: ``EdgeMiddleware``.

It converts the scope, drives the pipeline and performs its effects; it makes no CloudFront
answer of its own. Its twin is ``wsgi.py``: the same methods in the same order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from ..cache.compression import compress
from ..cache.entry import CacheEntry, Storage
from ..cache.lookup_notes import new_request
from ..core.convert import ViewerRequest, request_from_scope, viewer_scope
from ..core.handlers import Later
from ..core.headers import raw_get
from ..exceptions import CloudFrontError, OriginError
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
from .asgi_fast import lowered, shortcut
from .asgi_origin import OriginStream, open_origin
from .asgi_websocket import refuse_upgrade
from .flights import AsyncFlights
from .interfaces import ASGIApp, Message, Receive, Scope, Send
from .middleware import FrontDoor, RequestRecord, SharedOptions, body_bytes_received

__all__ = ["EdgeMiddleware"]

logger = logging.getLogger("edge_middleware.asgi")


#: Bodies this large are compressed on a worker thread, not on the event loop.
_COMPRESS_OFF_LOOP = 128 * 1024


class EdgeMiddleware(FrontDoor):
    """Run a distribution's Lambda@Edge triggers and edge cache in front of an ASGI 3 app.

    :param app: the ASGI application (Starlette, FastAPI, Django ASGI ...): the origin.
    :param config: an :class:`~edge_middleware.EdgeConfig`, or a path/mapping for
        :func:`~edge_middleware.load_config`.
    :param storage: the cache storage; default an in-process ``MemoryStorage()``.
    :param clock: seconds since the epoch; every TTL and ``Age`` decision uses it.
    :param origins: origin id -> ``None`` (this app), an ``http(s)://`` URL, or another app.

    Non-``http`` scopes (websocket, lifespan) pass straight through. Example::

        from edge_middleware import EdgeMiddleware, EdgeConfig, Behavior

        app = EdgeMiddleware(app, config=EdgeConfig(default=Behavior(
            viewer_request="handlers.auth:handler")))
    """

    def __init__(
        self,
        app: ASGIApp,
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
        self._flights = AsyncFlights(self.options.fill_lock)
        #: background refreshes (stale-while-revalidate), one per key at a time
        self._background: dict[str, asyncio.Task[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("edge.middleware") is not None:
            if scope["type"] == "websocket" and scope.get("edge.middleware") is None:
                if await refuse_upgrade(self, scope, receive, send):
                    return  # (CloudFront's own checks of the upgrade request)
                scope = {**scope, "edge.middleware": self}
            await self.app(scope, receive, send)
            return
        new_request()  # (a caller may run several requests in one context: the last one is done)
        raw_path = scope.get("raw_path")
        if (
            not raw_path
            or raw_path[0] != 47
            or b"#" in raw_path
            or b"#" in scope.get("query_string", b"")
        ):
            scope = viewer_scope(scope)  # an absolute-form target, a fragment a server left
        options = self.options
        if options.delayed:
            options.apply_due()
        prefetched = routed = None
        if options.pipeline.has_shortcuts and not options.observers:
            done, prefetched, routed = await shortcut(self, scope, receive, send)
            if done:
                return
        await _Responder(self, scope, receive, send).run(prefetched, routed)


class _Responder:
    """One viewer request (per-request state is never stored on the middleware)."""

    def __init__(self, mw: EdgeMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.mw = mw
        self.scope = scope
        self.receive = receive
        self.send = send
        self.body: bytes | None = None
        #: the viewer's body was read only in part (the rest streams to the origin)
        self.body_rest = False
        #: the viewer went away before its body was complete
        self.body_cut = False
        self.flights: list[str] = []
        self.origin: OriginStream | None = None
        #: whole answers fetched beside ``origin`` (a custom error page, a refresh): their apps
        #: may go on after the answer (a background task, a wait for the viewer to go), so they
        #: are closed once the viewer has its answer
        self.spent: list[tuple[OriginStream, asyncio.Event]] = []
        self.bytes_sent = 0
        self.t0 = time.perf_counter()
        #: when the answer's head went to the viewer, and whether the viewer went first
        self.t_first: float | None = None
        self.viewer_left = ""
        self.viewer: ViewerRequest | None = None
        self.flow: Flow | None = None

    # -- driving the pipeline ---------------------------------------------------------------
    async def run(self, prefetched: Prefetched | None = None, routed: Routed | None = None) -> None:
        pipeline = self.mw.options.pipeline
        outcome: Outcome | None = None
        try:
            try:
                self.viewer = request_from_scope(self.scope)
                self.flow = pipeline.flow(self.viewer, routed)
                self.flow.prefetched = prefetched
                outcome = await self.drive(pipeline.run(self.viewer, self.flow))
            except Exception:
                logger.exception("edge_middleware failed while handling a request")
                await self.close_origin()
                outcome = pipeline.internal_failure(self.viewer, self.flow)
            finally:
                if outcome is None or outcome.tee is None:  # else once it is stored (or not)
                    await self.release()
            try:
                await self.respond(outcome)
            except CloudFrontError:
                raise  # a proxied origin's failure, logged where it was found
            except Exception:
                logger.exception("the response to the viewer broke off after it started")
                await self.close_origin(viewer_gone=True)
                raise
        finally:
            try:
                await self.release()  # (requests collapsed on a streamed answer find it stored)
                await self.close_origin()
            finally:  # (a request cancelled while the origin closes: the spent ones too)
                await self.close_spent()

    async def drive(self, gen: Step) -> Any:
        value: Any = None
        while True:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                return stop.value
            if type(effect) is CallHandler:  # no coroutine for a call that needs no await
                value = self.call(effect)
                if type(value) is Later:
                    value = await self.perform(effect, value)
            else:
                value = await self.perform(effect)

    def call(self, effect: CallHandler) -> Any:
        try:
            return effect.runner.call_here(effect.event, effect.request_id, effect.timeout)
        except CloudFrontError as exc:
            return exc

    async def perform(self, effect: Effect, later: Later | None = None) -> Any:
        storage = self.mw.options.storage
        match effect:
            case CallHandler():
                try:
                    if later is None:
                        later = self.call(effect)
                    return await later.result() if type(later) is Later else later
                except CloudFrontError as exc:
                    return exc
            case Lookup():
                return await storage.aget(effect.key)
            case Store():
                await storage.aset(effect.entry)
                return None
            case ReadBody():
                body = await self.read_body(effect.limit)
                return None if self.body_cut else body
            case JoinFlight():
                return await self.join(effect)
            case LeaveFlight():
                return await self.leave(effect.key)
            case FetchOrigin():
                return await self.fetch(effect)
            case ReadOriginBody():
                return await self.read_origin(effect.limit)
            case Compress():
                if len(effect.body) >= _COMPRESS_OFF_LOOP:
                    return await asyncio.to_thread(
                        compress, effect.coding, effect.body, effect.headers
                    )
                return compress(effect.coding, effect.body, effect.headers)
            case Invalidate():
                await self.mw.options.apurge(effect.paths)
                return None
            case Refresh():
                self.refresh(effect)
                return None
            case _:
                assert_never(effect)

    def refresh(self, effect: Refresh) -> None:
        """Run a background revalidation on its own task, one per key at a time."""
        running = self.mw._background
        if effect.key in running:
            effect.run.close()
            return
        ended = asyncio.Event()
        background = _Responder(self.mw, self.scope, _background_receive(ended), _discard)
        background.body = b""
        task = asyncio.ensure_future(background.drive_background(effect.run, ended))
        running[effect.key] = task
        key = effect.key
        task.add_done_callback(lambda _task: running.pop(key, None))

    async def drive_background(self, gen: Step, ended: asyncio.Event) -> None:
        try:
            await self.drive(gen)
        except Exception:
            logger.exception("background revalidation failed")
        finally:
            ended.set()  # an app still waiting in receive() hears the (absent) viewer go
            try:
                await self.release()
                await self.close_origin()
            finally:
                await self.close_spent()

    async def read_body(self, limit: int | None = None) -> bytes:
        """The body, or with ``limit`` a prefix of more than ``limit`` bytes (a function sees
        at most 40 KB / 1 MB; the rest streams to the origin unread)."""
        if self.body is None or self.body_rest:
            chunks = [self.body or b""]
            size = len(chunks[0])
            self.body_rest = False
            while limit is None or size <= limit:
                message = await self.receive()
                if message["type"] != "http.request":  # the viewer went before its end
                    self.body_cut = True
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if not message.get("more_body", False):
                    break
            else:
                self.body_rest = True
            self.body = b"".join(chunks)
        return self.body

    async def join(self, effect: JoinFlight) -> bool | None:
        return await self.mw._flights.join(effect.key, effect.timeout, self.flights, effect.lead)

    async def leave(self, key: str) -> None:
        """Release ``key`` alone, when this request leads it (``LeaveFlight``)."""
        if key in self.flights:
            self.flights.remove(key)
            await self.mw._flights.release([key])

    async def release(self) -> None:
        if self.flights:
            led, self.flights = self.flights, []
            await self.mw._flights.release(led)

    # -- the origin -----------------------------------------------------------------------------
    async def fetch(self, effect: FetchOrigin) -> OriginResponse | CloudFrontError:
        """Start the origin app on its own task and wait for its status, headers and first
        body bytes; the rest stays in the stream (``read_origin``, ``respond``)."""
        body, more = effect.body, False
        if body is None:  # the viewer's body, or a prefix of it: the rest follows from it
            body, more = self.body, self.body_rest
        if effect.whole:  # (a custom error page: fetched beside the answer's stream, if any)
            return await self.fetch_whole(effect, body, more)
        await self.close_origin()  # an origin group's failed primary: never left half-run
        stream = self.origin = open_origin(self.mw, self.scope, effect, body, more, self.receive)
        return await stream.head()

    async def fetch_whole(
        self, effect: FetchOrigin, body: bytes | None, more: bool
    ) -> OriginResponse | CloudFrontError:
        # its own viewer, which has gone once it closes: the app never takes the viewer's
        # messages (a queue-based server's one http.disconnect went to it, and the answer's
        # app waited for ever)
        ended = asyncio.Event()
        stream = open_origin(self.mw, self.scope, effect, body, more, _background_receive(ended))
        whole = False
        try:
            answer = await stream.head()
            if not isinstance(answer, OriginResponse) or answer.status in effect.dropped_on:
                return answer  # (failed over on: its body is not wanted)
            limit = self.mw.options.pipeline.settings.max_object_bytes
            rest = await stream.read(limit - len(answer.body)) if answer.streaming else None
            answer = with_rest(answer, rest, limit)
            whole = isinstance(answer, OriginResponse)
            return answer
        finally:
            if whole:
                self.spent.append((stream, ended))
            else:  # (dropped, or broken off: its app is told, as a failover's primary is)
                ended.set()
                await stream.close()

    async def read_origin(self, limit: int) -> OriginBody:
        if self.origin is None:
            return OriginBody(b"", True)
        return await self.origin.read(limit)

    async def close_origin(self, viewer_gone: bool = False) -> None:
        stream, self.origin = self.origin, None
        if stream is not None:
            await stream.close(viewer_gone)

    async def close_spent(self) -> None:
        spent, self.spent = self.spent, []
        for stream, ended in spent:
            ended.set()
            await stream.close()

    # -- to the viewer ----------------------------------------------------------------------
    async def respond(self, outcome: Outcome) -> None:
        outcome.no_body(self.scope.get("method", ""))
        headers = lowered(outcome.headers)
        if outcome.oversized:  # the server closes the connection after it (WSGI's decides)
            headers.append((b"connection", b"close"))
        if self.origin is not None and self.origin.viewer.left:
            self.viewer_left = "before"  # (the app heard it go)
        self.t_first = time.perf_counter()
        await self.send(
            {"type": "http.response.start", "status": outcome.status, "headers": headers}
        )
        stream = self.origin if outcome.stream_rest and not outcome.head else None
        await self.send_body(b"" if outcome.head else outcome.body, stream is not None)
        if stream is not None:
            await self.stream_rest(outcome, stream)
        self.finished(outcome)

    async def stream_rest(self, outcome: Outcome, stream: OriginStream) -> None:
        """The rest of the origin's body to the viewer, then stored when ``outcome.tee`` asks
        and it ended whole."""
        viewer = self.viewer
        watcher = _watch_viewer(stream, viewer is None or viewer.body_length != 0)
        buffers = self.mw.options.pipeline.buffers
        tee = None if outcome.tee is None else outcome.tee.buffer(buffers)
        try:
            while (chunk := await stream.next_chunk()) is not None:
                await self.send_body(chunk, True)
                if tee is not None and not tee.add(chunk):
                    tee = None  # it will not be stored: the requests collapsed on it go on
                    await self.release()
        except OriginError:
            if not stream.cut_short:
                raise
            # the app returned before its last body message (logged): the response stays
            # cut, as the server leaves the bare app's and the short way leaves it
            return
        finally:
            if watcher is not None:
                watcher.cancel()
            if tee is not None:
                tee.release()
        if not stream.refused:
            await self.send_body(b"", False)
        elif not _whole(outcome, self.bytes_sent):  # the viewer went while it streamed
            self.viewer_left = self.viewer_left or "during"
            return  # the answer stays cut
        # (else it went once it had every byte the Content-Length said: the answer is whole,
        # before the app's last empty message; it was never stored, and logged as cut)
        if tee is not None and (entry := tee.entry()) is not None:
            await self.store_streamed(entry)

    async def store_streamed(self, entry: CacheEntry) -> None:
        try:
            await self.mw.options.storage.aset(entry)
        except Exception:  # the viewer has its answer; the next request fetches again
            logger.exception("storing an answer that streamed to the viewer failed")

    async def send_body(self, body: bytes, more: bool) -> None:
        self.bytes_sent += len(body)
        await self.send({"type": "http.response.body", "body": body, "more_body": more})

    def finished(self, outcome: Outcome) -> None:
        options = self.mw.options
        if options.observers:
            client = self.scope.get("client")
            options.notify(
                RequestRecord(
                    outcome,
                    dict(self.viewer.request) if self.viewer else {},
                    self.scope.get("scheme", "http"),
                    self.scope.get("http_version", "1.1"),
                    self.t0,
                    self.bytes_sent,
                    body_bytes_received(self.viewer, self.body),
                    client[1] if client else 0,
                    None if self.t_first is None else self.t_first - self.t0,
                    self.viewer_left,
                )
            )


def _whole(outcome: Outcome, sent: int) -> bool:
    """Whether ``sent`` body bytes are all the answer's ``Content-Length`` says."""
    length = raw_get(outcome.headers, b"content-length")
    return length is not None and length.isdigit() and int(length) == sent


def _watch_viewer(stream: OriginStream, has_body: bool) -> asyncio.Task[None] | None:
    """While an answer streams, watch for the viewer going: a server whose ``send`` does not
    fail once it went (uvicorn) left an endless origin stream read for ever. Only once the
    app has had the whole body (or there is none): the viewer then sends nothing else."""
    viewer = stream.viewer
    if not viewer.ended and has_body:
        return None

    async def watch() -> None:
        if await viewer.watch():
            stream.viewer_left()

    return asyncio.ensure_future(watch())


def _background_receive(ended: asyncio.Event) -> Receive:
    """A refresh's ``receive``: an empty body, then, as a server gives nothing more until the
    response is over, ``http.disconnect`` only once ``ended`` is set. It returned the empty
    body again at once: Starlette's ``listen_for_disconnect`` (spec_version below 2.4, as
    uvicorn says) then looped without ever yielding, and the server froze."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await ended.wait()
        return {"type": "http.disconnect"}

    return receive


async def _discard(message: Message) -> None:
    return None
