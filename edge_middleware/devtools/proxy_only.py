"""The app behind ``edge-middleware serve --origin URL`` (proxy-only mode): every origin of the
distribution is that URL, so HTTP requests never reach it; WebSockets go to the origin."""

from __future__ import annotations

from typing import Any

__all__ = ["no_app_asgi", "no_app_wsgi"]


def no_app_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Proxy-only mode: every origin is a URL, so this is never reached."""
    start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
    return [b"no app: this server only proxies to --origin\n"]


def no_app_asgi(origin: str) -> Any:
    """The app behind a proxy-only edge: WebSockets go to ``origin`` (``ws_proxy.py``)."""

    async def no_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            from .ws_proxy import proxy_websocket

            await proxy_websocket(origin, scope, receive, send)
            return
        if scope["type"] != "http":
            return
        body = b"no app: this server only proxies to --origin\n"
        await send({"type": "http.response.start", "status": 502, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return no_app
