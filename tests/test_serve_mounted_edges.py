"""``edge-middleware serve APP`` where APP mounts apps that wrap edges of their own in code:
every edge is invalidated, every edge's handlers are watched by ``--reload``, every edge's
config is in the banner; ``--redis`` beside an app that wraps its edge in code is refused (it
was ignored: the edge kept its own MemoryStorage while the banner said redis)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.devserver import cli, serve
from tests.support.servers import wait_until

_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, Trigger
import handler_a, handler_b


def site(name):
    async def page(request):
        return PlainTextResponse(name, headers={{"cache-control": "max-age=600"}})
    return Starlette(routes=[Route("/{{rest:path}}", page)])


def edge(name, module):
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(0, 60, 3600), viewer_response=Trigger(module.handler))
    )
    return EdgeMiddleware(site(name), config=config)


app = Starlette(routes=[Mount("/a", edge("a", handler_a)), Mount("/b", edge("b", handler_b))])
"""

_HANDLER = """
def handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-from"] = [{{"key": "X-From", "value": "{value}"}}]
    return response
"""


def _project(tmp_path: Path) -> None:
    (tmp_path / "mounted.py").write_text(_APP.format())
    (tmp_path / "handler_a.py").write_text(_HANDLER.format(value="a1"))
    (tmp_path / "handler_b.py").write_text(_HANDLER.format(value="b1"))


@pytest.mark.slow
def test_every_mounted_edge_is_invalidated_and_shown(tmp_path: Path) -> None:
    _project(tmp_path)
    with serve(tmp_path, "mounted:app", "--no-inspector") as served:
        for path in ("/a/x", "/b/x"):
            served.get(path)
            assert served.get(path).headers["x-cache"].startswith("Hit")
        done = cli(tmp_path, "invalidate", "/b/x", "--server", served.url)
        assert done.returncode == 0, done.stderr
        assert "invalidated 1" in done.stdout + done.stderr  # the second edge's object
        assert served.get("/b/x").headers["x-cache"].startswith("Miss")
        assert served.get("/a/x").headers["x-cache"].startswith("Hit")
        assert served.stdout.count("edge ") >= 2  # each edge's config in the banner


@pytest.mark.slow
def test_reload_watches_every_mounted_edges_handlers(tmp_path: Path) -> None:
    _project(tmp_path)
    args = ("--no-inspector", "--reload", "--reload-interval", "0.1")
    with serve(tmp_path, "mounted:app", *args) as served:
        assert served.get("/b/x").headers["x-from"] == "b1"
        (tmp_path / "handler_b.py").write_text(_HANDLER.format(value="b2, edited"))

        def edited() -> bool:
            try:
                return served.get("/b/y").headers.get("x-from") == "b2, edited"
            except httpx.HTTPError:  # (between the old server's app and the new)
                return False

        wait_until(edited, 15, "the second edge's edited handler")


def test_redis_beside_an_app_that_wraps_its_edge_in_code_is_refused(tmp_path: Path) -> None:
    _project(tmp_path)
    done = cli(tmp_path, "serve", "mounted:app", "--redis", "redis://127.0.0.1:1/0")
    assert done.returncode != 0
    assert "already wraps EdgeMiddleware in code" in done.stderr + done.stdout
    assert "RedisStorage" in done.stderr + done.stdout


def test_an_observer_added_twice_is_called_once() -> None:
    """serve --reload added its console observer again to an edge that survived the reload (one
    built in another module than APP): every request was logged twice, then three times."""
    from edge_middleware import EdgeConfig, EdgeMiddleware
    from tests.support import doors

    calls: list[object] = []

    def observer(record: object) -> None:
        calls.append(record)

    edge = EdgeMiddleware(doors.ok_asgi, config=EdgeConfig())
    edge.add_observer(observer)
    edge.add_observer(observer)
    doors.call_asgi(edge, doors.asgi_scope("/x"))
    assert len(calls) == 1


def test_one_invalidation_over_edges_of_both_kinds_counts_one_kind() -> None:
    """Objects dropped in memory and paths recorded in Redis were summed: one path given, and
    "recorded for 5 path(s)" said."""
    from types import SimpleNamespace

    from edge_middleware.devtools.invalidation import every_edge

    def edge(kind: str, count: int) -> object:
        return SimpleNamespace(
            options=SimpleNamespace(invalidation_counts=kind), invalidate=lambda paths: count
        )

    invalidate, counts = every_edge([edge("objects", 4), edge("paths", 1), edge("objects", 2)])
    assert (invalidate(["/a/*"]), counts) == (6, "objects")
    invalidate, counts = every_edge([edge("paths", 1), edge("paths", 1)])
    assert (invalidate(["/a/*"]), counts) == (1, "paths")


def test_a_bound_method_observer_added_twice_is_called_once() -> None:
    """The inspector's observer is a bound method, a new object each time it is read: serve
    --reload added it again, and each request was traced once more per reload."""
    from edge_middleware import EdgeConfig, EdgeMiddleware
    from tests.support import doors

    class Recorder:
        def __init__(self) -> None:
            self.calls = 0

        def observe(self, record: object) -> None:
            self.calls += 1

    recorder = Recorder()
    edge = EdgeMiddleware(doors.ok_asgi, config=EdgeConfig())
    edge.add_observer(recorder.observe)
    edge.add_observer(recorder.observe)
    doors.call_asgi(edge, doors.asgi_scope("/x"))
    assert recorder.calls == 1


_MAIN = """
from starlette.applications import Starlette
from starlette.routing import Mount
from sub import sub_edge

app = Starlette(routes=[Mount("/b", sub_edge)])
"""

_SUB = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, Trigger
import handler_b


async def page(request):
    return PlainTextResponse("b")


config = EdgeConfig(
    default=Behavior(cache=CachePolicy(0, 0, 0), viewer_response=Trigger(handler_b.handler))
)
sub_edge = EdgeMiddleware(Starlette(routes=[Route("/{rest:path}", page)]), config=config)
"""


@pytest.mark.slow
def test_reload_rebuilds_an_edge_built_in_another_module(tmp_path: Path) -> None:
    """main.py mounts the edge sub.py builds: a change to its handler reloaded main.py, which
    got the same old sub module and edge: the old handler ran on."""
    (tmp_path / "main.py").write_text(_MAIN)
    (tmp_path / "sub.py").write_text(_SUB)
    (tmp_path / "handler_b.py").write_text(_HANDLER.format(value="b1"))
    args = ("--no-inspector", "--reload", "--reload-interval", "0.1")
    with serve(tmp_path, "main:app", *args) as served:
        assert served.get("/b/x").headers["x-from"] == "b1"
        (tmp_path / "handler_b.py").write_text(_HANDLER.format(value="b2, edited"))

        def edited() -> bool:
            try:
                return served.get("/b/y").headers.get("x-from") == "b2, edited"
            except httpx.HTTPError:
                return False

        wait_until(edited, 15, "the edge built in sub.py, rebuilt")
