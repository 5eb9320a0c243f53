"""Origin groups (a failover hunt's finding): ``cf.selectRequestOriginById`` sends the request
to that one origin, with no failover, even when it picks the primary of the group the behavior
targets (the group's secondary still answered for it)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig
from edge_middleware.config.model import Origin, OriginGroup
from edge_middleware.js import CloudFrontFunction
from tests.support import doors

_SELECT = """import cf from 'cloudfront';
function handler(event) {
    cf.selectRequestOriginById(event.request.headers['x-pick'].value);
    return event.request;
}
"""


def _asgi(name: str, status: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": name.encode()})

    return app


def _wsgi(name: str, status: int) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(f"{status} X", [])
        return [name.encode()]

    return app


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize("pick", ["main", "other", "backup"])
def test_a_selected_origin_never_fails_over(tmp_path: Path, kind: str, pick: str) -> None:
    (tmp_path / "select.js").write_text(_SELECT)
    select = CloudFrontFunction(tmp_path / "select.js")
    config = EdgeConfig(
        origins=[
            Origin("main", "main.example.com"),
            Origin("backup", "backup.example.com"),
            Origin("other", "other.example.com"),
        ],
        origin_groups=[OriginGroup("site", ("main", "backup"), (503,))],
        default=Behavior(
            target_origin_id="site", cache=CachePolicy(0, 0, 0), viewer_request=select
        ),
    )
    make = _asgi if kind == "asgi" else _wsgi
    app = doors.wrap(
        kind,
        make("main", 503),
        config,
        origins={"backup": make("backup", 200), "other": make("other", 503)},
    )
    if kind == "asgi":
        scope = doors.asgi_scope("/x", headers=[(b"host", b"x"), (b"x-pick", pick.encode())])
        sent = doors.call_asgi(app, scope)
        status, body = sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])
    else:
        line, _, body = doors.call_wsgi(app, "GET", "/x", HTTP_X_PICK=pick)
        status = int(line.split()[0])
    assert (status, body) == ((200 if pick == "backup" else 503), pick.encode())
    select.close()


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_refresh_asks_the_origin_a_function_chose(tmp_path: Path, kind: str) -> None:
    """A stale-while-revalidate refresh asked the behavior's own origin, and stored its answer
    under the key, where the viewer-request function sends every request elsewhere."""
    (tmp_path / "select.js").write_text(_SELECT)
    select = CloudFrontFunction(tmp_path / "select.js")
    now = [1_000_000.0]
    config = EdgeConfig(
        origins=[Origin("a", "a.example.com"), Origin("b", "b.example.com")],
        default=Behavior(
            target_origin_id="a", cache=CachePolicy(0, 60, 3600), viewer_request=select
        ),
    )
    stale = [(b"cache-control", b"max-age=1, stale-while-revalidate=600")]

    def asgi(name: str) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": stale})
            await send({"type": "http.response.body", "body": name.encode()})

        return app

    def wsgi(name: str) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [(k.decode(), v.decode()) for k, v in stale])
            return [name.encode()]

        return app

    make = asgi if kind == "asgi" else wsgi
    app = doors.wrap(kind, make("a"), config, origins={"b": make("b")}, clock=lambda: now[0])
    bodies: list[bytes] = []
    if kind == "asgi":

        async def get() -> bytes:
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def record(message: dict[str, Any]) -> None:
                sent.append(message)

            scope = doors.asgi_scope("/x", headers=[(b"host", b"x"), (b"x-pick", b"b")])
            await app(scope, receive, record)
            return b"".join(m.get("body", b"") for m in sent[1:])

        async def three() -> None:
            bodies.append(await get())
            now[0] += 5  # stale: served, and refreshed in the background
            bodies.append(await get())
            await asyncio.sleep(0.3)
            bodies.append(await get())

        asyncio.run(three())
    else:
        bodies.append(doors.call_wsgi(app, "GET", "/x", HTTP_X_PICK="b")[2])
        now[0] += 5
        bodies.append(doors.call_wsgi(app, "GET", "/x", HTTP_X_PICK="b")[2])
        time.sleep(0.3)  # (the refresh runs on a thread of its own)
        bodies.append(doors.call_wsgi(app, "GET", "/x", HTTP_X_PICK="b")[2])
    assert bodies == [b"b", b"b", b"b"]
    select.close()
