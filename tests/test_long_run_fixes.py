"""Resource use over long runs: the fixes from the leak hunt of 2026-12-07.

* The hit short way kept every object it had served (bodies included) alive in its rendered
  headers memo, outside the storage's ``max_bytes`` (1,500 objects of 100 KB: 152 MB).
* The lookup notes held each missing key's string (up to 65,536 of them, of any length).
* A viewer gone while the full pipeline streamed an endless answer, behind a server whose
  ``send`` raises on a closed connection: the request waited for the app for ever.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from edge_middleware import Behavior, CachePolicy, EdgeConfig, MemoryStorage
from edge_middleware.cache.entry import CacheEntry
from edge_middleware.cache.lookup_notes import LookupNotes
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)


def _entries_alive() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is CacheEntry)


def test_the_hit_short_way_keeps_no_evicted_object_alive(door: Door) -> None:
    body = b"x" * 20_000

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"cache-control", b"max-age=600")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "max-age=600")])
        return [body]

    storage = MemoryStorage(max_bytes=200_000)  # room for about 9 of them
    config = EdgeConfig(default=Behavior(cache=CachePolicy(0, 600, 600)))
    client = door.viewer(door.wrap(door.pick(asgi_app, wsgi_app), config, storage=storage))
    before = _entries_alive()
    for i in range(200):
        assert door.send(client, "GET", f"/o/{i}").status == 200
        assert door.send(client, "GET", f"/o/{i}").get("x-cache") == "Hit from cloudfront"
    assert len(storage) <= 10
    assert _entries_alive() - before <= len(storage) + 5  # (was 200: one per object served)


def test_lookup_notes_keep_no_key_strings() -> None:
    notes: LookupNotes[int] = LookupNotes()
    keys = [f"/{'k' * 2000}/{i}" for i in range(100)]
    for i, key in enumerate(keys):
        notes.note(key, i)
    assert all(type(k) is int for k in notes._notes)
    assert keys[3] in notes and notes.take(keys[3]) == 3 and keys[3] not in notes


def test_a_viewer_gone_mid_stream_stops_an_endless_origin_on_the_pipeline() -> None:
    """The ASGI spec has ``send`` raise once the connection closed: the bare app then ends;
    wrapped on the full pipeline (caching on) its sends were dropped silently and it never
    did, nor did the request."""
    from edge_middleware import EdgeMiddleware

    running: set[object] = set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        me = object()
        running.add(me)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream"),
                        (b"cache-control", b"max-age=60"),
                    ],
                }
            )
            while True:
                await send(
                    {"type": "http.response.body", "body": b"data: x\n\n", "more_body": True}
                )
                await asyncio.sleep(0.001)
        finally:
            running.discard(me)

    edge = EdgeMiddleware(app, config=EdgeConfig(default=Behavior(cache=CachePolicy(0, 60, 60))))

    async def main() -> bool:
        gone = asyncio.Event()
        chunks = 0

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal chunks
            if gone.is_set():
                raise OSError("connection closed")
            if message["type"] == "http.response.body":
                chunks += 1
                if chunks == 3:  # the viewer reads three chunks and goes
                    gone.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/events",
            "raw_path": b"/events",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        task = asyncio.ensure_future(edge(scope, receive, send))
        done, _ = await asyncio.wait([task], timeout=3)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return False
        # the viewer's own failure, as behind the bare app, or (the door saw the viewer's
        # http.disconnect first) the answer ends, cut, with nothing raised
        error = task.exception()
        assert error is None or isinstance(error, OSError)
        return True

    assert asyncio.run(main()), "the request still waited for the origin 3 s after the viewer left"
    assert running == set()
