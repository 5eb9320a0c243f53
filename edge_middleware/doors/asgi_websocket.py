"""WebSocket upgrades through the ASGI door: CloudFront's own checks of the upgrade request.

On CloudFront a WebSocket connection starts as an HTTP ``GET`` with ``Upgrade: websocket`` on
a cache behavior: its viewer protocol policy holds for it as for any request (``https-only``
over ``ws://`` is a 403, ``redirect-to-https`` a 301), and so do the size limits. The
connection is then passed on as it is (no function runs on its messages, nothing is cached);
docs/events.md says what is and is not emulated.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.convert import request_from_scope, viewer_scope
from ..pipeline.effects import Outcome
from ..pipeline.flow import State
from ..pipeline.viewer import viewer_checks
from .asgi_fast import lowered
from .interfaces import Receive, Scope, Send

if TYPE_CHECKING:
    from .asgi import EdgeMiddleware

__all__ = ["refuse_upgrade"]

logger = logging.getLogger("edge_middleware.asgi")

#: the ASGI extension that lets an app answer an upgrade with an HTTP response of its own
_DENIAL = "websocket.http.response"


async def refuse_upgrade(mw: EdgeMiddleware, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer an upgrade CloudFront would refuse (its 403, its 301 to ``wss://``) and return
    ``True``; ``False``: the connection goes to the app."""
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    http = {**viewer_scope(scope), "type": "http", "method": "GET", "scheme": scheme}
    pipeline = mw.options.pipeline
    try:
        flow = pipeline.flow(request_from_scope(http))
        checks = viewer_checks(pipeline, flow)
        try:
            next(checks)
            return False  # (its checks never wait on anything)
        except StopIteration as stop:
            answer = stop.value
    except Exception:  # the app has the connection, as before there were checks
        logger.exception("edge_middleware could not check a WebSocket upgrade")
        return False
    if isinstance(answer, State) or not isinstance(answer, Outcome):
        return False
    await _deny(scope, receive, send, answer)
    return True


async def _deny(scope: Scope, receive: Receive, send: Send, answer: Outcome) -> None:
    message = await receive()
    if message.get("type") != "websocket.connect":
        return  # the viewer went before its handshake
    if _DENIAL in (scope.get("extensions") or {}):
        headers = lowered(answer.headers)
        start = {"type": "websocket.http.response.start", "status": answer.status}
        await send({**start, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": answer.body})
        return
    # without the extension a close before the accept is the server's 403
    await send({"type": "websocket.close", "code": 1008})
