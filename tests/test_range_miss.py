"""A Range the edge answers with the whole object (invalid, descending, overlapping: caching.md
§1.14) asks the origin for the whole object on a miss too. It went to the origin as sent, and
the viewer got the framework's answer to it (Starlette's 400 or its own 206, Werkzeug's 416)
on a miss, and the full 200 on a hit. A Range the edge honours still reaches the origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from edge_middleware import Behavior, EdgeConfig
from tests.support import doors

BODY = b"0123456789" * 100
WHOLE = [
    "bytes=5-1",
    "bytes=abc",
    "bytes=10-19,0-4",
    "bytes=0-9,5-14",
    "bytes=-3,0-4",
    # a suffix range beside others overlaps or not by the object's size (here they overlap)
    "bytes=0-600,-500",
    "bytes=0-999,-1",
]


def _apps(kind: str, directory: Path, seen: list[str | None]) -> Any:
    """Starlette's StaticFiles or Flask's static files, recording each request's Range."""
    if kind == "asgi":
        files = Starlette(routes=[Mount("/static", StaticFiles(directory=directory))])

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            seen.append(dict(scope["headers"]).get(b"range", b"").decode() or None)
            await files(scope, receive, send)

        return asgi
    flask = Flask("ranges", static_folder=str(directory), static_url_path="/static")

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ.get("HTTP_RANGE"))
        return flask.wsgi_app(environ, start_response)

    return wsgi


def _get(kind: str, app: Any, *ranges: str) -> tuple[int, bytes]:
    headers = [("Range", value) for value in ranges]
    response = doors.send(kind, doors.viewer(kind, app), "GET", "/static/a.txt", headers)
    return response.status, response.body


@pytest.mark.parametrize("range_", WHOLE)
@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_range_the_edge_does_not_honour_asks_the_origin_for_the_whole_object(
    kind: str, range_: str, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_bytes(BODY)
    seen: list[str | None] = []
    app = doors.wrap(
        kind, _apps(kind, tmp_path, seen), EdgeConfig(default=Behavior(cache="CachingOptimized"))
    )
    assert _get(kind, app, range_) == (200, BODY)  # the miss
    assert _get(kind, app, range_) == (200, BODY)  # the hit, as before
    assert seen == [None]


@pytest.mark.parametrize("kind", doors.DOORS)
def test_a_range_the_edge_honours_still_reaches_the_origin(kind: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(BODY)
    seen: list[str | None] = []
    app = doors.wrap(
        kind, _apps(kind, tmp_path, seen), EdgeConfig(default=Behavior(cache="CachingOptimized"))
    )
    assert _get(kind, app, "bytes=10-19") == (206, BODY[10:20])
    assert seen == ["bytes=10-19"]


def test_a_range_sent_twice_is_the_whole_object_on_a_miss_and_on_a_hit(tmp_path: Path) -> None:
    """The miss read both lines (one invalid value: the whole object), the hit the first
    only (a 206)."""
    (tmp_path / "a.txt").write_bytes(BODY)
    seen: list[str | None] = []
    config = EdgeConfig(default=Behavior(cache="CachingOptimized"))
    app = doors.wrap("asgi", _apps("asgi", tmp_path, seen), config)
    for _ in range(2):
        assert _get("asgi", app, "bytes=0-4", "bytes=10-14") == (200, BODY)
    assert seen == [None]
