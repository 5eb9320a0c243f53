"""The race hunt of 2026-12-08: an invalidation made while a fetch is in flight applies to
what that fetch brings back (caching.md §1.10, docs/cache-rules.md), with RedisStorage too
when the invalidation comes from ``edge-middleware invalidate --redis`` before the
distribution's first object was stored (the two-fetches case is in
``tests/test_shared_cache_fixes.py``)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from edge_middleware import EdgeConfig, EdgeWSGIMiddleware
from edge_middleware.cache.redis import storage_from_url
from tests.support.devserver import cli


@pytest.mark.redis
def test_a_cli_invalidation_before_the_first_store_reaches_the_fetch_in_flight(
    tmp_path: Path, redis_url: str
) -> None:
    """The middleware recorded its namespace for the CLI on its first store: an invalidation
    made while the first fetch was in flight found no distribution (or, after a Redis
    restart, went to the default namespace, "invalidation recorded"), and the object fetched
    before it was stored and served as a Hit."""
    url = f"{redis_url}?prefix=race{uuid.uuid4().hex[:8]}"  # a namespace no one has used
    version = {"v": b"v1"}
    release = threading.Event()

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = version["v"]  # the content as the fetch started
        release.wait(10)
        start_response("200 OK", [("Cache-Control", "max-age=3600")])
        return [body]

    storage = storage_from_url(url)
    edge = EdgeWSGIMiddleware(origin, config=EdgeConfig(), storage=storage)
    viewer = Client(edge)
    try:
        fetch = threading.Thread(target=viewer.get, args=("/price.json",))
        fetch.start()
        while not edge._flights.events:  # the fetch is in flight
            time.sleep(0.005)
        version["v"] = b"v2"
        done = cli(tmp_path, "invalidate", "/price.json", "--redis", url)
        release.set()
        fetch.join()
        assert done.returncode == 0, done.stderr
        assert "invalidation recorded for 1 path(s)" in done.stdout
        again = viewer.get("/price.json")
        assert (again.headers["X-Cache"], again.get_data()) == ("Miss from cloudfront", b"v2")
    finally:
        release.set()
        storage.close()
