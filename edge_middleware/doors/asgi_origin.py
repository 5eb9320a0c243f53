"""The origin ASGI app run for one request on its own task, behind four calls: ``head()``,
``next_chunk()``, ``read()``, ``close()`` (the WSGI door's twin is ``wsgi_origin.OriginCall``);
:func:`open_origin` starts it for a :class:`~edge_middleware.pipeline.effects.FetchOrigin`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..core.convert import origin_scope
from ..core.origins import effective_origin
from ..exceptions import CloudFrontError, OriginError
from ..pipeline.effects import FetchOrigin, OriginBody, OriginResponse, bodiless_status
from .asgi_fast import NO_EXTENSIONS, ViewerWatch, body_bytes, log_cut_short, start_head
from .eager import EAGER, eager_task
from .interfaces import ASGIApp, Message, Receive, Scope

if TYPE_CHECKING:
    from .asgi import EdgeMiddleware

__all__ = ["OriginStream", "open_origin"]

logger = logging.getLogger("edge_middleware.asgi")


class OriginStream:
    """The origin app running on its own task (so its own cancel scopes and task groups stay
    its own). What it sends is queued here and pulled by the responder; the app's ``send``
    waits while more than :attr:`HIGH_WATER` bytes are queued, so a large streamed body is
    never buffered whole, and ``close`` lets it run to its end: it is never half-run."""

    HIGH_WATER = 256 * 1024

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        self.start: Message | None = None
        self.body_seen = False
        self.head_taken = False
        self.chunks: list[bytes] = []
        self.queued = 0
        self.more = True
        self.discard = False
        #: the viewer's send failed: the app's own sends fail too, as a server's would
        self.refused = False
        self.error: BaseException | None = None
        self._changed: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        #: the app returned before its last body message: the response stays cut, as a
        #: server leaves the bare app's
        self.cut_short = False
        self.viewer = ViewerWatch(receive)
        #: on Python 3.12+ an app that never waits has run to its end when this returns
        self.task = eager_task(self._run(app, scope, self.viewer))

    async def _run(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        try:
            await app(scope, receive, self._send)
        except Exception as exc:
            if self.start is not None and not self.more:
                # after its last body message (a background task, say): a server would have
                # sent the whole response, so the viewer gets it and the edge may store it
                logger.error("the origin app failed after its response was complete", exc_info=exc)
            else:
                self.error = exc
        else:
            if self.start is not None and self.more and self.error is None and self._bodied(scope):
                # returned without its last body message (Starlette and Django do when the
                # viewer went away): the body is incomplete, never stored, and a viewer
                # getting it streamed is cut, as a server cuts it (caching.md §1.14)
                self.error = OriginError("The origin app returned before its body was complete.")
                self.cut_short = True
                log_cut_short(self.viewer)
        finally:
            self.more = False
            self._wake()

    def _bodied(self, scope: Scope) -> bool:
        """Whether the answer has a body on the wire (not HEAD, not a ``bodiless_status``), so
        an app that returns before ending it has left it incomplete."""
        assert self.start is not None
        status = self.start.get("status")
        if scope["method"] == "HEAD":
            return False
        # (a malformed status has a body here: it is the 502 of its own check)
        return not isinstance(status, int) or not bodiless_status(status)

    def _wake(self) -> None:
        waiter, self._changed = self._changed, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _send(self, message: Message) -> None:
        if self.refused:  # an app that streams until its send fails stops here, as it would
            raise OSError("The viewer went away.")  # behind the server (else it never ends)
        kind = message["type"]
        if kind == "http.response.start":
            if self.start is not None:
                raise RuntimeError("http.response.start sent twice")
            self.start = message
            return
        if kind != "http.response.body":
            return  # trailers and unknown extensions are not forwarded (CloudFront drops them)
        if self.discard:  # dropped by the edge (a failover's primary): its end still counts,
            if not message.get("more_body", False):  # or a whole answer reads as a cut one
                self.more = False
            return
        if self.start is None:
            raise RuntimeError("http.response.body sent before http.response.start")
        body = body_bytes(message)
        if not self.more:
            return  # the body had ended: what follows is not part of it (as on the short way)
        self.body_seen = True
        if body:
            self.chunks.append(body)
            self.queued += len(body)
        if not message.get("more_body", False):
            self.more = False
        self._wake()
        # the app goes on once the pipeline has seen its answer's head (as if the pipeline ran
        # inside this send), and while less than HIGH_WATER bytes wait to be taken
        while (
            (self.queued > self.HIGH_WATER or not self.head_taken)
            and not self.discard
            and not self.refused
        ):
            if not self.more:
                break
            # one future for every sender waiting (an app's tasks may send at once: an SSE
            # data task and its heartbeat): a second sender replaced the first one's, which
            # then waited for ever; shielded, so a sender cancelled leaves it to the others
            drained = self._drained
            if drained is None or drained.done():
                drained = self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(drained)

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        await self._changed

    async def head(self) -> OriginResponse | CloudFrontError:
        """The status, headers and the body bytes sent so far."""
        if not EAGER and not self.task.done():
            # 3.11: the app's task was scheduled before this request's next step, so after one
            # turn of the loop an app that never waits has answered (waiting on a future it
            # sets took two turns: about 2 µs more per request)
            await asyncio.sleep(0)
        while not self.task.done() and not (self.start is not None and self.body_seen):
            await self._wait()
        if self.start is None:
            if self.error is None:
                return OriginError("The origin returned no response.")
            if isinstance(self.error, CloudFrontError):
                return self.error
            logger.error("the origin app failed before its response started", exc_info=self.error)
            return OriginError("The origin failed before its response started.")
        # the first body message only: what follows is read (or streamed) when wanted
        first = self.chunks.pop(0) if self.chunks else b""
        self.queued -= len(first)
        self.head_taken = True
        self._release()
        streaming = bool(self.chunks) or self.more or self.error is not None
        return OriginResponse(*start_head(self.start), first, streaming)

    def _take(self) -> bytes:
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.queued = 0
        self._release()
        return data

    def _release(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def viewer_left(self) -> None:
        """The viewer went while the answer streamed to it (a server whose ``send`` does not
        fail then, as uvicorn's): the app's next send fails, as it would behind the server,
        and :meth:`next_chunk` ends (an endless stream was read for ever)."""
        self.refused = True
        self._release()
        self._wake()

    async def next_chunk(self) -> bytes | None:
        """The next body bytes, ``None`` at the end (or once the viewer left); raises what
        the app raised."""
        if self.refused:
            return None
        while not self.chunks:
            if self.refused:
                return None
            if self.error is not None:
                raise self.error
            if not self.more:  # the last chunk was sent; close() lets the app return
                return None
            await self._wait()
        return self._take()

    async def read(self, limit: int) -> OriginBody:
        """The body's next bytes, until the end or past ``limit`` bytes; an origin that broke
        off is closed and reported in :attr:`OriginBody.error`."""
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = await self.next_chunk()
                if chunk is None:
                    return OriginBody(b"".join(chunks), True)
                chunks.append(chunk)
                size += len(chunk)
        except CloudFrontError as exc:  # a proxied origin's failure, logged where it was found
            await self.close()
            return OriginBody(b"".join(chunks), False, exc)
        except Exception:
            logger.exception("the origin's body broke off while it was being read")
            await self.close()
            return OriginBody(
                b"".join(chunks), False, OriginError("The origin's response broke off.")
            )
        return OriginBody(b"".join(chunks), False)

    async def close(self, viewer_gone: bool = False) -> None:
        """Let the app finish (what it still sends is dropped): it is never left half-run.
        ``viewer_gone``: sending to the viewer failed, and the app's next send fails the same
        way (an endless stream that waits for that would never finish)."""
        self.discard = True
        # a body the edge will not read to its end (a failover's primary, an answer the viewer
        # left): the app's next send fails, as a server's does once its client closed, so an
        # endless or slow stream ends there (it was read to its end, and the viewer waited)
        self.refused = self.refused or viewer_gone or self.more
        self._take()
        current = None if self.task.done() else asyncio.current_task()
        if current is not None and current.cancelling():
            # the request is being cancelled (a request timeout, a server shutting down): so is
            # the app, as the bare app would be, not awaited to its end (an endless one never)
            self.task.cancel()
            await asyncio.wait([self.task])
            return
        await self.task


def open_origin(
    mw: EdgeMiddleware,
    scope: Scope,
    effect: FetchOrigin,
    body: bytes | None,
    more: bool,
    receive: Receive,
) -> OriginStream:
    """Start the origin ``effect`` asks for (this app, another app, or a URL through the
    proxy) with CloudFront's request; ``body`` (``more``: a prefix, the rest follows from
    ``receive``) replaces the viewer's when given."""
    target = mw.options.target(effect.origin_id)
    app: ASGIApp = mw.app if target is None else target  # type: ignore[assignment]
    if isinstance(target, str):
        from .proxy import proxy_app

        app = proxy_app(target, effective_origin(effect.origin, effect.request))
    new = origin_scope(
        scope,
        effect.request,
        None if effect.body is None else len(effect.body),
        request_id=effect.request_id,
        origin_path=not isinstance(target, str),
    )
    new["edge.middleware"] = mw
    extensions = new.get("extensions")
    if extensions:
        new["extensions"] = {k: v for k, v in extensions.items() if k not in NO_EXTENSIONS}
    return OriginStream(app, new, receive if body is None else _replay(body, more, receive))


def _replay(body: bytes, more: bool, outer: Receive) -> Receive:
    """``receive`` that gives ``body`` first, then what the viewer still sends (``more``: the
    rest of a prefix). After a whole body (one a function replaced, maybe having seen only its
    first 40 KB / 1 MB) the viewer's unread rest is dropped: the app waits for the viewer to
    go, as after any complete body (a second ``http.request`` broke Django's ASGI handler)."""
    sent = dropping = False

    async def replay() -> Message:
        nonlocal sent, dropping
        if not sent:
            sent = dropping = True
            return {"type": "http.request", "body": body, "more_body": more}
        while True:
            message = await outer()
            if more or not dropping or message.get("type") != "http.request":
                return message
            dropping = message.get("more_body", False)  # up to the rest's last message

    return replay
