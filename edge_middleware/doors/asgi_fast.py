"""The ASGI door's short way (``pipeline/fast.py``): the origin app is called on the request's
own task with CloudFront's request, and its answer goes to the viewer with CloudFront's
headers as it streams. Its twin is ``wsgi_fast.py``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ..config.model import Behavior
from ..core.convert import origin_raw_path, origin_root_path, scope_uri
from ..core.headers import RawHeaders, drop_viewer_derived, encode_value
from ..core.types import CFHeaders
from ..core.viewer import viewer_ip
from ..exceptions import CloudFrontError, OriginError
from ..pipeline.fast import Shortcut
from ..pipeline.fast_hit import HitAnswer, HitShortcut
from ..pipeline.flow import Prefetched, Routed
from .interfaces import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .asgi import EdgeMiddleware

__all__ = [
    "NO_EXTENSIONS",
    "ViewerWatch",
    "body_bytes",
    "log_cut_short",
    "lowered",
    "shortcut",
    "start_head",
]

logger = logging.getLogger("edge_middleware.asgi")


def lowered(headers: RawHeaders) -> RawHeaders:
    """``headers`` with lower-case names, as ASGI has them in ``http.response.start`` ("Header
    names must be lowercased"): CloudFront's ``X-Cache``, ``Via``, ``Age`` ... were sent as
    written, and an outer middleware reading them with Starlette's ``Headers`` (GZip) did not
    see the ``Content-Length`` of a hit and sent two. HTTP names are case-insensitive."""
    return [(name.lower(), value) for name, value in headers]


#: response extensions the origin is not offered (its body must pass through the relay)
NO_EXTENSIONS = ("http.response.pathsend", "http.response.zerocopysend")
_EMPTY_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


def body_bytes(message: Message) -> bytes:
    """The ``body`` of an ``http.response.body`` message as bytes (``None``: none). Anything
    else but a bytes-like object raises ``TypeError`` in the app's ``send``, as a server's
    would: the origin failed (CloudFront's 502 before its head was sent, a cut response
    after)."""
    body = message.get("body", b"")
    if type(body) is bytes:
        return body
    if body is None:
        return b""
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"http.response.body's body must be bytes, not {type(body).__name__}")


def start_head(message: Message) -> tuple[int, RawHeaders]:
    """The status and headers of an ``http.response.start`` message for the one check of every
    origin head (``core.validation.origin_response_error``): any iterable of pairs becomes a
    list (the check and what follows both read it); anything else is left as it is, for that
    check to refuse."""
    headers = message.get("headers", [])
    if type(headers) is not list:
        try:
            headers = list(headers)
        except TypeError:
            pass
    return message.get("status", 0), headers


async def shortcut(
    mw: EdgeMiddleware, scope: Scope, receive: Receive, send: Send
) -> tuple[bool, Prefetched | None, Routed | None]:
    """Serve the request the short way: ``(True, None, None)``. ``(False, lookup, route)``:
    nothing was sent and the pipeline answers, with the cache read already made and the route
    found (or ``None``)."""
    pipeline = mw.options.pipeline
    answer: HitAnswer | None = None
    prepared = None
    try:
        uri, behavior = pipeline.route(scope_uri(scope))
        hit = pipeline.hit_shortcuts.get(id(behavior))
        if hit is not None:
            hv = scope.get("http_version", "1.1")
            found = _hit_key(hit, scope, uri, hv)
            if found is None:
                return False, None, (uri, behavior)
            key, conditions = found
            storage = mw.options.storage
            entry = storage.get(key) if mw.options.direct_get else await storage.aget(key)
            if entry is not None and hit.serves(entry, conditions):
                rid = pipeline.request_id().encode()
                answer = hit.answer(entry, conditions, rid, hv, scope["method"], lower=True)
            if answer is None:
                return False, (key, entry), (uri, behavior)
        else:
            prepared = _prepare(mw, scope, send, uri, behavior)
            if prepared is None:
                return False, None, (uri, behavior)
    except Exception:  # nothing was sent: the pipeline answers (its 502 at worst)
        logger.exception("edge_middleware's short way failed; the pipeline answers")
        return False, None, None
    if answer is not None:
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": answer.headers,
            }
        )
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})
    elif prepared is not None:
        relay, app, origin = prepared
        await relay.run(app, origin, receive)
    return True, None, None


def _hit_key(hit: HitShortcut, scope: Scope, uri: str, hv: str) -> tuple[str, CFHeaders] | None:
    qs: str = scope.get("query_string", b"").decode("latin-1")
    return hit.key(scope["method"], scope.get("scheme", "http"), uri, qs, scope["headers"], hv)


def _prepare(
    mw: EdgeMiddleware, scope: Scope, send: Send, uri: str, behavior: Behavior
) -> tuple[_Relay, ASGIApp, Scope] | None:
    pipeline = mw.options.pipeline
    cut = pipeline.shortcuts.get(id(behavior))
    if cut is None:
        return None
    target = mw.options.origins.get(cut.origin_id)
    app = mw.app if target is None else target
    if not callable(app):
        return None  # a URL origin: the proxy takes the full pipeline
    method: str = scope["method"]
    scheme: str = scope.get("scheme", "http")
    qs: str = scope.get("query_string", b"").decode("latin-1")
    if not cut.viewer_ok(method, scheme, uri, qs):
        return None
    client = scope.get("client")
    hv: str = scope.get("http_version", "1.1")
    rid = pipeline.request_id().encode()
    prefix, custom, origin_scheme = cut.extras(scheme)
    headers = cut.origin_headers(
        scope["headers"],
        viewer_ip(client[0]).encode() if client else b"127.0.0.1",
        hv,
        [*custom, (b"x-amz-cf-id", rid)],
    )
    if headers is None:
        return None
    if prefix:
        uri = prefix + uri
    path = unquote(uri) if "%" in uri else uri
    origin = {
        **scope,
        "path": path,
        "raw_path": origin_raw_path(uri),
        "query_string": encode_value(cut.querystring_for(qs)),
        "headers": headers,
        "root_path": origin_root_path(scope, path) if "root_path" in scope else "",
        "edge.middleware": mw,
    }
    if origin_scheme != scheme:
        origin["scheme"] = origin_scheme
    if "session" in scope or "user" in scope or "auth" in scope:
        drop_viewer_derived(origin, scope["headers"], headers)
    extensions = scope.get("extensions")
    if extensions:
        origin["extensions"] = {k: v for k, v in extensions.items() if k not in NO_EXTENSIONS}
    return _Relay(mw, cut, send, rid, hv, method), app, origin


class ViewerWatch:
    """The viewer's ``receive`` as the origin app gets it, noting when it says the viewer
    went (``http.disconnect``): an app that then stops early did nothing wrong. ``ended``: the
    app has had the body's last message. :meth:`watch` lets the door wait for the viewer to
    go while the answer streams; what it receives meanwhile is kept for the app. The two never
    call the server's ``receive`` at once: on a queue-based server (hypercorn, daphne) each
    message goes to one call only, and an app waiting for the disconnect the watch took
    waited for ever."""

    __slots__ = ("ended", "inside", "kept", "left", "pending", "receive", "told")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.left = self.ended = self.inside = False
        self.kept: list[Message] | None = None
        #: the watch's receive() in flight, which a call of the app shares
        self.pending: asyncio.Future[Message] | None = None
        #: set with what the app's own receive() got, while the watch waits to hear it
        self.told: asyncio.Future[Message] | None = None

    async def __call__(self) -> Message:
        if self.kept:
            message = self.kept.pop(0)
        elif self.pending is not None:
            message = await self._share(self.pending)
        else:
            self.inside = True
            try:
                message = await self.receive()
            finally:
                self.inside = False
            told = self.told
            if told is not None and not told.done():
                told.set_result(message)
        if message.get("type") == "http.disconnect":
            self.left = True
        elif not message.get("more_body", False):  # the body's last http.request
            self.ended = True
        return message

    async def _share(self, pending: asyncio.Future[Message]) -> Message:
        message = await asyncio.shield(pending)
        if self.pending is pending:
            self.pending = None
            return message
        assert self.kept
        return self.kept.pop(0)  # the watch took it first and kept it for the app

    async def watch(self) -> bool:
        """Whether the viewer went (``http.disconnect``). The body's last message, if the app
        never asked for it, is passed over; after it a server sends nothing else, so anything
        else (a test driver's) ends the watch."""
        end_seen = self.ended
        self.kept = self.kept or []
        while True:
            message = await self._next()
            kind = message.get("type")
            if kind == "http.disconnect":
                return True
            if end_seen or kind != "http.request" or message.get("more_body", False):
                return False
            end_seen = True

    async def _next(self) -> Message:
        """The viewer's next message: heard from the app's receive() when it is in one, else
        received here and kept for the app."""
        if self.inside:
            told: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self.told = told
            try:
                return await told
            finally:
                self.told = None
        pending = self.pending = asyncio.ensure_future(self.receive())
        message = await asyncio.shield(pending)
        if self.pending is pending:
            self.pending = None
            assert self.kept is not None
            self.kept.append(message)
        return message


def log_cut_short(viewer: ViewerWatch | None) -> None:
    """An origin app returned before its last body message (the response stays cut)."""
    if viewer is not None and viewer.left:  # it stopped because the viewer went
        logger.debug("the origin app stopped early: the viewer had gone")
    else:
        logger.warning("the origin app returned before its response was complete")


class _Relay:
    """The origin's messages to the viewer, its head given CloudFront's headers."""

    __slots__ = (
        "cut",
        "done",
        "gone",
        "head",
        "hv",
        "method",
        "mw",
        "rejected",
        "rid",
        "send",
        "started",
        "viewer",
        "watcher",
    )

    def __init__(
        self, mw: EdgeMiddleware, cut: Shortcut, send: Send, rid: bytes, hv: str, method: str
    ) -> None:
        self.mw = mw
        self.cut = cut
        self.send = send
        self.rid = rid
        self.hv = hv
        self.method = method
        self.started = False
        self.head = False
        self.done = False
        #: the origin's head CloudFront cannot pass on: its 502 goes instead, the app runs out
        self.rejected: CloudFrontError | None = None
        self.viewer: ViewerWatch | None = None
        #: while a body streams: a watch for the viewer going, and whether it went
        self.watcher: asyncio.Task[None] | None = None
        self.gone = False

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        self.viewer = ViewerWatch(receive)
        try:
            await self._call(app, scope)
        finally:
            if self.watcher is not None:
                self.watcher.cancel()

    def _watch(self) -> None:
        """A streamed body (``more_body``): watch for the viewer going, as the pipeline's
        origin stream does; the app's next send then fails, as behind a server whose send
        fails once its client went (uvicorn's keeps succeeding, and an endless stream ran for
        ever after its viewer left). The short way takes no request with a body: the viewer
        sends nothing else but its going."""
        viewer = self.viewer
        if self.watcher is not None or viewer is None:
            return

        async def watch() -> None:
            if await viewer.watch():
                self.gone = True

        self.watcher = asyncio.ensure_future(watch())

    async def _call(self, app: ASGIApp, scope: Scope) -> None:
        assert self.viewer is not None
        try:
            await app(scope, self.viewer, self.relay)
        except Exception as exc:
            if self.rejected is not None:
                await self.fail(self.rejected)
                return
            if self.done:  # as the pipeline's origin stream: the viewer has it all
                logger.error("the origin app failed after its response was complete", exc_info=exc)
                return
            if self.gone:  # it stopped at the send that told it the viewer went
                logger.debug("the origin app stopped: the viewer had gone (%s)", exc)
                return
            if self.started:
                logger.exception("the response to the viewer broke off after it started")
                raise
            if not isinstance(exc, CloudFrontError):
                logger.error("the origin app failed before its response started", exc_info=exc)
                exc = OriginError("The origin failed before its response started.")
            await self.fail(exc)
            return
        if self.rejected is not None:
            await self.fail(self.rejected)
        elif not self.started:
            await self.fail(OriginError("The origin returned no response."))
        elif self.head and not self.done:  # no body on the wire: the head was all of it
            self.done = True
            await self.send(_EMPTY_END)
        elif not self.done:
            # returned without its last body message: the response stays incomplete, and the
            # server cuts it, as it does the bare app's (caching.md §1.14)
            log_cut_short(self.viewer)

    async def relay(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.done or self.rejected is not None:
                return
            if not self.started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.gone:
                raise OSError("The viewer went away.")
            more = message.get("more_body", False)
            if more and self.watcher is None:
                self._watch()
            if self.head:
                if not more:
                    self.done = True
                    await self.send(_EMPTY_END)
                return
            if len(message) == 3 and "more_body" in message and type(message.get("body")) is bytes:
                self.done = not more
                await self.send(message)  # nothing but type, body, more_body: as it is
            else:
                body = body_bytes(message)  # a body that is no bytes fails before it counts
                self.done = not more
                await self.send({"type": "http.response.body", "body": body, "more_body": more})
        elif kind == "http.response.start":
            if self.started or self.rejected is not None:
                raise RuntimeError("http.response.start sent twice")
            status, headers = start_head(message)
            answer = self.cut.viewer_headers(
                status, headers, self.rid, self.hv, self.method, lower=True
            )
            if isinstance(answer, CloudFrontError):
                self.rejected = answer  # nothing was sent: the viewer gets CloudFront's 502
                return
            self.started = True
            self.head = answer[1]
            await self.send({"type": "http.response.start", "status": status, "headers": answer[0]})
        # trailers and unknown extensions are not forwarded (CloudFront drops them)

    async def fail(self, err: CloudFrontError) -> None:
        pipeline = self.mw.options.pipeline
        outcome = pipeline.error_outcome(err, self.rid.decode(), self.hv, self.cut.behavior, [])
        outcome.no_body(self.method)
        await self.send(
            {
                "type": "http.response.start",
                "status": outcome.status,
                "headers": lowered(outcome.headers),
            }
        )
        body = b"" if outcome.head else outcome.body
        await self.send({"type": "http.response.body", "body": body, "more_body": False})
