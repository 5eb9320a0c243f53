"""Origin groups (a failover hunt's finding): ``cf.selectRequestOriginById`` sends the request
to that one origin, with no failover, even when it picks the primary of the group the behavior
targets (the group's secondary still answered for it)."""

from __future__ import annotations

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
