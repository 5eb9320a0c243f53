"""The ASGI front door: ``EdgeMiddleware``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from .cache.entry import Storage
from .convert import origin_scope, request_from_scope
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

__all__ = ["EdgeMiddleware"]

logger = logging.getLogger("edge_middleware.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")


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
        self._flights: dict[str, asyncio.Event] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._refreshing: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("edge.middleware") is not None:
            await self.app(scope, receive, send)
            return
        await _Responder(self, scope, receive, send).run()


class _Responder:
    """Per-request state for one viewer request (never stored on the middleware)."""

    def __init__(self, mw: EdgeMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.mw = mw
        self.scope = scope
        self.receive = receive
        self.send = send
        self.body: bytes | None = None
        #: the viewer's body was read only in part (the rest streams to the origin)
        self.body_rest = False
        self.flights: list[str] = []
        self.started = False
        self.bytes_sent = 0
        self.t0 = time.perf_counter()
        self.viewer: Any = None

    # -- driving the pipeline ---------------------------------------------------------------
    async def run(self) -> None:
        try:
            self.viewer = request_from_scope(dict(self.scope))
            gen = self.mw.options.pipeline.run(self.viewer)
            await self.drive(gen, None)
        except Exception as exc:
            logger.exception("edge_middleware failed while handling a request")
            if self.started:
                raise
            err = exc if isinstance(exc, CloudFrontError) else OriginError("Internal error")
            rid = new_request_id()
            headers, body = error_page(err.status, err, rid)
            await self._start(err.status, headers)
            await self._body(body, False)
        finally:
            await self._release()

    async def drive(self, gen: Any, value: Any) -> None:
        while True:
            more, effect = await self.step(gen, value)
            if not more:
                if effect is not None:
                    await self._release()
                    await self.respond(effect)
                return
            if isinstance(effect, FetchOrigin) and not effect.whole:
                await self.fetch(effect, gen)
                return
            value = await self.perform(effect)

    async def step(self, gen: Any, value: Any) -> tuple[bool, Any]:
        """Send ``value`` in; returns ``(True, effect)`` for the front door to perform, or
        ``(False, result)`` when the pipeline is done. Sync handlers run in a segment."""
        try:
            effect = gen.send(value)
        except StopIteration as stop:
            return False, stop.value
        while runs_in_segment(effect):
            more, effect = await self.segment(gen, effect)
            if not more:
                return False, effect
        return True, effect

    async def segment(self, gen: Any, effect: CallHandler) -> tuple[bool, Any]:
        seg = Segment(gen, self.mw.options.storage, effect)
        fut = asyncio.wrap_future(EXECUTOR.submit(seg.run, effect))
        while True:
            done, _ = await asyncio.wait({fut}, timeout=seg.wait_time() + 0.001)
            if done:
                return fut.result()
            err = seg.overdue()
            if err is not None:
                hv = self.viewer.http_version if self.viewer is not None else "1.1"
                pipeline = self.mw.options.pipeline
                return False, pipeline._error(err, effect.request_id, hv, None, [])

    async def perform(self, effect: Any) -> Any:
        options = self.mw.options
        if isinstance(effect, CallHandler):
            try:
                return await effect.runner.call_async(
                    effect.event, effect.request_id, effect.timeout
                )
            except CloudFrontError as exc:
                return exc
        if isinstance(effect, Lookup):
            return await options.storage.aget(effect.key)
        if isinstance(effect, Store):
            await options.storage.aset(effect.entry)
            return None
        if isinstance(effect, ReadBody):
            return await self.read_body(effect.limit)
        if isinstance(effect, JoinFlight):
            return await self.join(effect)
        if isinstance(effect, Invalidate):
            self.mw.options.invalidate(effect.paths)
            return None
        if isinstance(effect, Refresh):
            refreshing = self.mw._refreshing
            if effect.key in refreshing:  # one background refresh per key at a time
                effect.run.close()
                return None
            refreshing.add(effect.key)
            task = asyncio.ensure_future(_Background(self.mw, self.scope).drive(effect.run))
            self.mw._background.add(task)
            task.add_done_callback(self.mw._background.discard)
            key = effect.key
            task.add_done_callback(lambda _task: refreshing.discard(key))
            return None
        if isinstance(effect, FetchOrigin):
            return await self.fetch_whole(effect)
        if isinstance(effect, ReadOriginBody):  # only reached for fully read bodies
            return (b"", True)
        raise TypeError(f"unknown effect {effect!r}")  # pragma: no cover

    async def read_body(self, limit: int | None = None) -> bytes:
        """The body, or with ``limit`` a prefix of more than ``limit`` bytes (issue 16, item 3:
        a function sees at most 40 KB / 1 MB; the rest streams to the origin unread)."""
        if self.body is None or self.body_rest:
            chunks = [self.body or b""]
            size = len(chunks[0])
            self.body_rest = False
            while limit is None or size <= limit:
                message = await self.receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if not message.get("more_body", False):
                    break
            else:
                self.body_rest = True
            self.body = b"".join(chunks)
        return self.body

    async def join(self, effect: JoinFlight) -> bool:
        """Collapse in process first (one asyncio.Event per key), then across processes
        through the storage's fill lock (Redis), so one request per key reaches the origin."""
        flights = self.mw._flights
        event = flights.get(effect.key)
        if event is None:
            flights[effect.key] = asyncio.Event()
            self.flights.append(effect.key)
            storage = self.mw.options.storage
            begin = getattr(storage, "abegin_fill", None)
            if begin is not None and not await begin(effect.key, effect.timeout):
                await storage.await_fill(effect.key, effect.timeout)  # type: ignore[attr-defined]
                return False
            return True
        try:
            await asyncio.wait_for(event.wait(), effect.timeout)
        except TimeoutError:
            pass
        return False

    async def _release(self) -> None:
        if not self.flights:
            return
        flights, self.flights = self.flights, []
        end = getattr(self.mw.options.storage, "aend_fill", None)
        for key in flights:
            event = self.mw._flights.pop(key, None)
            if event is not None:
                event.set()
            if end is not None:  # awaited: a lock must not outlive its request's task
                await end(key)

    # -- the origin -----------------------------------------------------------------------------
    def _receive_for_origin(self, body: bytes | None) -> Receive:
        more = False
        if body is None:
            body, more = self.body, self.body_rest  # a prefix: the rest follows from the viewer
        if body is None:
            return self.receive
        sent = False
        outer = self.receive

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await outer()

        return replay

    def _origin_app(self, effect: FetchOrigin) -> tuple[ASGIApp, Scope]:
        target = self.mw.options.target(effect.origin_id)
        app: ASGIApp = self.mw.app if target is None else target  # type: ignore[assignment]
        if isinstance(target, str):
            from .proxy import proxy_app

            app = proxy_app(target, effective_origin(effect.origin, effect.request))
        length = None if effect.body is None else len(effect.body)
        scope = origin_scope(
            dict(self.scope),
            effect.request,
            length,
            request_id=effect.event["Records"][0]["cf"]["config"]["requestId"],
            origin_path=not isinstance(target, str),
        )
        scope["edge.event"] = effect.event
        scope["edge.middleware"] = self.mw
        extensions = scope.get("extensions")
        if extensions:
            scope["extensions"] = {k: v for k, v in extensions.items() if k not in _NO_EXTENSIONS}
        return app, scope

    async def fetch_whole(self, effect: FetchOrigin) -> OriginResponse | CloudFrontError:
        """Call the origin and read its whole answer (error pages, background refreshes)."""
        app, scope = self._origin_app(effect)
        start: list[Message] = []
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await app(scope, self._receive_for_origin(effect.body), collect)
        except CloudFrontError as exc:
            return exc
        except Exception:
            logger.exception("the origin app failed")
            return OriginError("The origin failed before its response started.")
        if not start:
            return OriginError("The origin returned no response.")
        return OriginResponse(
            start[0]["status"], list(start[0].get("headers", [])), b"".join(chunks)
        )

    async def fetch(self, effect: FetchOrigin, gen: Any) -> None:
        app, scope = self._origin_app(effect)
        state = _OriginState(self, gen)
        try:
            await app(scope, self._receive_for_origin(effect.body), state.send)
        except Exception as exc:
            if state.phase in ("waiting", "held"):
                if isinstance(exc, CloudFrontError):
                    err: CloudFrontError = exc
                else:
                    logger.exception("the origin app failed before its response started")
                    err = OriginError("The origin failed before its response started.")
                await self.drive(gen, err)
                return
            if state.phase == "buffering" and not self.started:
                # Nothing reached the viewer yet: nothing is stored, and the viewer gets
                # CloudFront's origin error instead of a cut connection.
                logger.exception("the origin app failed while its body was being read")
                await self._release()
                rid = effect.event["Records"][0]["cf"]["config"]["requestId"]
                await self.respond(
                    self.mw.options.pipeline._error(
                        OriginError("The origin's response broke off."),
                        rid,
                        self.viewer.http_version,
                        None,
                        [],
                    )
                )
                return
            raise exc
        await state.app_returned()

    # -- to the viewer ----------------------------------------------------------------------
    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def _body(self, body: bytes, more: bool) -> None:
        self.bytes_sent += len(body)
        await self.send({"type": "http.response.body", "body": body, "more_body": more})

    async def respond(self, outcome: Outcome, *, more: bool = False) -> None:
        outcome.no_body(self.scope.get("method", ""))
        await self._start(outcome.status, outcome.headers)
        stream = more and outcome.stream_rest and not outcome.head
        await self._body(b"" if outcome.head else outcome.body, stream)
        if not stream:
            self.finished(outcome)

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
                    len(self.body or b""),
                    client[1] if client else 0,
                )
            )


class _OriginState:
    """Drives the rest of the pipeline from inside the origin app's ``send`` (as Starlette's
    GZipResponder does), so a streamed body is never buffered unless it is being stored."""

    def __init__(self, responder: _Responder, gen: Any) -> None:
        self.r = responder
        self.gen = gen
        self.phase = "waiting"  # waiting -> held -> buffering | streaming | done
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = 0
        self.outcome: Outcome | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.phase != "waiting":
                raise RuntimeError("http.response.start sent twice")
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self.phase = "held"
            return
        if kind != "http.response.body":
            return  # trailers and unknown extensions are not forwarded (CloudFront drops them)
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.phase == "held":
            await self.resume(OriginResponse(self.status, self.headers, body, streaming=more))
        elif self.phase == "buffering":
            self.chunks.append(body)
            self.size += len(body)
            if not more:
                await self.finish_buffering(complete=True)
            elif self.size > self.limit:
                await self.finish_buffering(complete=False)
        elif self.phase == "streaming":
            await self.r._body(body, more)
            if not more:
                self.done()

    async def resume(self, value: Any) -> None:
        """Run the pipeline from the origin's answer until it needs the body or is done."""
        while True:
            more, effect = await self.r.step(self.gen, value)
            if not more:
                if effect is None:  # a background refresh: nothing goes to a viewer
                    self.phase = "done"
                else:
                    await self.deliver(effect)
                return
            if isinstance(effect, ReadOriginBody):
                self.phase = "buffering"
                self.limit = effect.limit
                return
            value = await self.r.perform(effect)

    async def finish_buffering(self, *, complete: bool) -> None:
        data = b"".join(self.chunks)
        self.chunks = []
        self.phase = "resuming"
        await self.resume((data, complete))

    async def deliver(self, outcome: Outcome) -> None:
        await self.r._release()
        self.outcome = outcome
        streaming = outcome.stream_rest
        await self.r.respond(outcome, more=streaming)
        self.phase = "streaming" if streaming and not outcome.head else "done"

    def done(self) -> None:
        self.phase = "done"
        if self.outcome is not None:
            self.r.finished(self.outcome)

    async def app_returned(self) -> None:
        if self.phase == "waiting":
            await self.r.drive(self.gen, OriginError("The origin returned no response."))
        elif self.phase == "held":
            await self.resume(OriginResponse(self.status, self.headers, b"", streaming=False))
        elif self.phase == "buffering":
            await self.finish_buffering(complete=True)
        elif self.phase == "streaming":
            await self.r._body(b"", False)
            self.done()


class _Background(_Responder):
    """Runs a stale-while-revalidate refresh: the origin answer is read whole and stored."""

    def __init__(self, mw: EdgeMiddleware, scope: Scope) -> None:
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        super().__init__(mw, scope, no_body, discard)
        self.body = b""

    async def drive(self, gen: Any, value: Any = None) -> None:
        try:
            await super().drive(gen, value)
        except Exception:
            logger.exception("background revalidation failed")
        finally:
            await self._release()
