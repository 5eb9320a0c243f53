"""WebSocket connections through ``serve --origin URL`` (CloudFront passes them to the origin:
the handshake, then frames both ways, with no function run and nothing cached).

The viewer's handshake goes to the origin with its path, query string, cookies, ``Origin``,
``Authorization`` and subprotocols; the origin's refusal is the viewer's (a 403, as the ASGI
server sends for a close before accept); then each message is passed on as it comes, until
one side closes, with its close code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

__all__ = ["proxy_websocket"]

logger = logging.getLogger("edge_middleware.server")

#: the viewer's handshake headers the origin is sent (the rest are the handshake's own)
_PASSED = frozenset(
    {b"cookie", b"origin", b"authorization", b"user-agent", b"accept-language", b"x-forwarded-for"}
)


async def proxy_websocket(origin: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Connect the viewer's WebSocket to ``origin`` (an ``http(s)://`` URL)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    base = urlsplit(origin)
    scheme = "wss" if base.scheme == "https" else "ws"
    target = scope.get("raw_path") or scope["path"].encode()
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scheme}://{base.netloc}{target}" + (f"?{query}" if query else "")
    headers = [
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k in _PASSED
    ]
    message = await receive()  # websocket.connect
    if message["type"] != "websocket.connect":
        return
    try:
        upstream = await connect(
            url,
            additional_headers=headers,
            subprotocols=scope.get("subprotocols") or None,
            open_timeout=10,
            max_size=None,
        )
    except (TimeoutError, OSError, InvalidStatus) as exc:
        logger.warning("WebSocket %s: the origin refused or could not be reached: %s", url, exc)
        await send({"type": "websocket.close", "code": 1011})
        return
    async with upstream:
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

        async def to_origin() -> None:
            while True:
                got = await receive()
                if got["type"] == "websocket.disconnect":
                    await _close(upstream, got.get("code", 1000))
                    return
                if got.get("bytes") is not None:
                    await upstream.send(got["bytes"])
                elif got.get("text") is not None:
                    await upstream.send(got["text"])

        async def to_viewer() -> None:
            try:
                async for data in upstream:
                    key = "bytes" if isinstance(data, bytes) else "text"
                    await send({"type": "websocket.send", key: data})
            except ConnectionClosed:
                pass
            code = upstream.close_code or 1000
            await send(
                {"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""}
            )

        tasks = [asyncio.ensure_future(to_origin()), asyncio.ensure_future(to_viewer())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _close(upstream: Any, code: int) -> None:
    """Close the origin's connection as the viewer's closed: with its code, or, for one no
    close frame may carry (1005 none, 1006 a connection dropped, 1015), by dropping it too:
    the origin saw a normal close (1000) of a viewer that had gone away."""
    try:
        await upstream.close(code)
    except Exception:  # (websockets refuses to send such a code)
        upstream.transport.abort()
