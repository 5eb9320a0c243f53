"""Issue 12 on both front doors: DefaultRootObject, response headers policies, origin groups
and multi-range requests. Real Starlette (ASGI) and Flask (WSGI) origins from
``frontdoor_apps``; specs in docs/distributions.md."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
)

try:
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

BASE_URL = "http://testserver"
START = 1_700_000_000.0


class Resp(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def get(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Door:
    """One door (ASGI or WSGI); ``apps`` maps an origin id to the log of a real app serving it
    (``None``: the wrapped app)."""

    kind: str
    now: list[float] = field(default_factory=lambda: [START])
    logs: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict)
    clients: dict[int, Any] = field(default_factory=dict)

    def log(self, origin_id: str | None = None) -> list[dict[str, Any]]:
        return self.logs.setdefault(origin_id, [])

    def app(self, origin_id: str | None = None) -> Any:
        if self.kind == "asgi":
            return make_starlette_app(self.log(origin_id))
        return make_flask_app(self.log(origin_id)).wsgi_app

    def client(self, cfg: EdgeConfig, origins: Sequence[str | Any] = ()) -> Any:
        known = self.clients.get(id(cfg))
        if known is not None:
            return known
        mapping: dict[str, Any] = {}
        for item in origins:
            if isinstance(item, str):
                mapping[item] = self.app(item)
            else:
                mapping[item[0]] = item[1]
        client: Any
        if self.kind == "asgi":
            mw = EdgeMiddleware(
                self.app(), config=cfg, clock=lambda: self.now[0], origins=mapping or None
            )
            client = TestClient(mw, base_url=BASE_URL, follow_redirects=False)
        else:
            wsgi = EdgeWSGIMiddleware(
                self.app(), config=cfg, clock=lambda: self.now[0], origins=mapping or None
            )
            client = Client(wsgi, use_cookies=False)
        self.clients[id(cfg)] = client
        return client

    def send(
        self,
        cfg: EdgeConfig,
        path: str = "/",
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        origins: Sequence[Any] = (),
    ) -> Resp:
        client = self.client(cfg, origins)
        if self.kind == "asgi":
            r = client.request(method, path, headers=list(headers))
            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw]
            return Resp(r.status_code, pairs, r.content)
        r = client.open(path, method=method, headers=list(headers), base_url=BASE_URL)
        try:
            return Resp(r.status_code, list(r.headers.to_wsgi_list()), r.get_data())
        finally:
            r.close()


@pytest.fixture(params=["asgi", "wsgi"])
def door(request: pytest.FixtureRequest) -> Door:
    return Door(request.param)


Handler = Callable[[dict[str, Any], Any], Any]


def recorder(events: list[dict[str, Any]]) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> Any:
        events.append(json.loads(json.dumps(event)))
        cf = event["Records"][0]["cf"]
        return cf["response"] if "response" in cf else cf["request"]

    return handler


# -- DefaultRootObject ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "origin_path", "event_uri"),
    [
        pytest.param("/", "/index.html", "/index.html", id="root"),
        pytest.param("/?a=1", "/index.html", "/index.html", id="root-with-query"),
        pytest.param("/docs/", "/docs/", "/docs/", id="subdirectory-not-rewritten"),
        pytest.param("/index.htm", "/index.htm", "/index.htm", id="other-path"),
    ],
)
def test_default_root_object(door: Door, path: str, origin_path: str, event_uri: str) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(viewer_request=recorder(events), cache=CachePolicy(0, 0, 0)),
        behaviors=[Behavior("/index.html", cache=CachePolicy(0, 0, 0))],
        default_root_object="index.html",
    )
    resp = door.send(cfg, path)
    assert resp.status == 200
    assert door.log()[-1]["path"] == origin_path
    if path.startswith("/?") or path == "/":
        assert not events  # "/index.html" matched its own behavior, which has no trigger
    else:
        assert events[-1]["Records"][0]["cf"]["request"]["uri"] == event_uri


def test_default_root_object_event_uri(door: Door) -> None:
    events: list[dict[str, Any]] = []
    cfg = EdgeConfig(
        default=Behavior(viewer_request=recorder(events), cache=CachePolicy(0, 0, 0)),
        default_root_object="index.html",
    )
    assert door.send(cfg, "/").status == 200
    assert events[0]["Records"][0]["cf"]["request"]["uri"] == "/index.html"
    assert door.log()[-1]["path"] == "/index.html"
