"""A custom error page kept with the cached error it stands for (hunt of 2026-12-07, second
session), on both doors and both storages."""

from __future__ import annotations

from edge_middleware import Behavior, CachePolicy, CustomErrorResponse, EdgeConfig
from tests.support.edge_cache import MakeEdge, cache_fixtures

door, store, edge = cache_fixtures()


def test_a_page_its_behavior_does_not_cache_is_kept_with_the_error(edge: MakeEdge) -> None:
    """caching.md §1.4: "the custom page (fetched through the behaviour matching its path)
    is cached instead, with the same durations": within the 404's ErrorCachingMinTTL the page
    was fetched from the origin again on every request when its own behavior did not cache."""
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy()),
        behaviors=[Behavior("/errors/*", cache=CachePolicy(0, 0, 0))],
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", None, 60)],
    )
    e = edge(config=config)
    e.route("/missing", status=404, body=b"origin: not found")
    e.route("/errors/404.html", body=b"the page")
    for t in (0, 10, 20, 59):
        e.at(t)
        r = e.get("/missing")
        assert (r.status, r.body) == (404, b"the page")
    assert (e.calls("/missing"), e.calls("/errors/404.html")) == (1, 1)
    e.at(61)  # past the 60 s: both are asked again
    assert e.get("/missing").body == b"the page"
    assert (e.calls("/missing"), e.calls("/errors/404.html")) == (2, 2)
    e.mw.invalidate(["/missing"])  # the error's path drops its page too
    assert e.get("/missing").body == b"the page"
    assert (e.calls("/missing"), e.calls("/errors/404.html")) == (3, 3)


def test_a_page_its_behavior_caches_is_still_read_from_its_own_entry(edge: MakeEdge) -> None:
    config = EdgeConfig(
        default=Behavior(cache=CachePolicy()),
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", None, 60)],
    )
    e = edge(config=config)
    e.route("/a", status=404, body=b"no a")
    e.route("/b", status=404, body=b"no b")
    e.route("/errors/404.html", body=b"the page")
    assert e.get("/a").body == e.get("/b").body == b"the page"
    assert e.calls("/errors/404.html") == 1  # one page, shared through its own key
