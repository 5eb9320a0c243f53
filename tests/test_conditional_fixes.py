"""Conditional requests and revalidation found wrong from outside (hunt of 2026-12-07, second
session), on both doors and both storages: origin-response runs on a 304 revalidation, a
cached OPTIONS ignores conditionals and Range, and If-None-Match/If-Modified-Since corners."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, Trigger
from edge_middleware.cache.conditionals import not_modified
from edge_middleware.cache.entry import CacheEntry
from tests.support.edge_cache import MakeEdge, cache_fixtures

door, store, edge = cache_fixtures()


def _keep_five_minutes(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["cache-control"] = [{"key": "Cache-Control", "value": "max-age=300"}]
    _keep_five_minutes.seen.append(response["status"])  # type: ignore[attr-defined]
    return response


def test_origin_response_runs_on_a_304_revalidation(edge: MakeEdge) -> None:
    """lambda-edge.md §4: origin-response runs "after every origin response"; on a 304 it
    was skipped, the 304's ``max-age=0`` replaced what the function had set, and every later
    request went to the origin."""
    _keep_five_minutes.seen = []  # type: ignore[attr-defined]
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy(), origin_response=Trigger(_keep_five_minutes))
    )
    e = edge(config=config)
    e.route(
        "/p", headers={"Cache-Control": "max-age=0", "ETag": '"v1"'}, body=b"v1", conditional=True
    )
    assert e.get("/p").header("cache-control") == "max-age=300"
    e.at(301)
    refreshed = e.get("/p")
    assert refreshed.x_cache == "RefreshHit from cloudfront"
    assert refreshed.header("cache-control") == "max-age=300"
    e.at(302)
    assert e.get("/p").x_cache == "Hit from cloudfront"
    assert e.calls("/p") == 2
    assert _keep_five_minutes.seen == ["200", "304"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        {"If-None-Match": "*"},
        {"Range": "bytes=0-2"},
    ],
    ids=["ims", "inm", "range"],
)
def test_a_cached_options_answer_ignores_conditionals_and_range(
    edge: MakeEdge, headers: dict[str, str]
) -> None:
    """RFC 9110 §13.1.2/§13.1.3/§14.2: If-Modified-Since, a 304 for If-None-Match and Range
    are GET's and HEAD's; a cached OPTIONS gave 304 and 206."""
    e = edge(cached_methods=("GET", "HEAD", "OPTIONS"))
    e.route("/o", headers={"Cache-Control": "max-age=60", "ETag": '"x"'}, body=b"GET, HEAD")
    e.request("OPTIONS", "/o")
    r = e.request("OPTIONS", "/o", headers)
    assert (r.status, r.x_cache) == (200, "Hit from cloudfront")


def _entry(headers: tuple[tuple[bytes, bytes], ...], etag: str | None = None) -> CacheEntry:
    return CacheEntry(
        key="/k",
        status=200,
        reason="OK",
        headers=headers,
        body=b"x",
        stored_at=0.0,
        fresh_until=60.0,
        retain_until=60.0,
        path="/k",
        etag=etag,
    )


def test_an_entity_tag_with_a_comma_matches() -> None:
    """RFC 9110 §8.8.3: a "," may be inside an entity tag; the list was split at it."""
    entry = _entry(((b"etag", b'"a,b"'),), etag='"a,b"')
    inm = {"if-none-match": [{"key": "If-None-Match", "value": '"z", W/"a,b"'}]}
    assert not_modified(inm, entry)


def test_if_modified_since_compares_the_date_when_there_is_no_last_modified() -> None:
    """RFC 9111 §4.3.2: without Last-Modified the stored Date stands in; a hit never gave
    304."""
    entry = _entry(((b"date", b"Mon, 07 Dec 2026 00:00:00 GMT"),))
    ims = {
        "if-modified-since": [
            {"key": "If-Modified-Since", "value": "Tue, 08 Dec 2026 00:00:00 GMT"}
        ]
    }
    assert not_modified(ims, entry)
    older = {
        "if-modified-since": [
            {"key": "If-Modified-Since", "value": "Sun, 06 Dec 2026 00:00:00 GMT"}
        ]
    }
    assert not not_modified(older, entry)
