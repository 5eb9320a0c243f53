"""Cache fixes from the HTTP-semantics bug hunt, on both doors and both storages
(caching.md §1.4, §1.9, §1.10, §1.11, §1.14; decisions.md #37).

* ``If-None-Match: *`` matches any cached object, tagged or not (RFC 9110 §13.1.2), and
  repeated ``If-None-Match`` lines are one list.
* The requests the edge makes on its own behalf ask for the whole object as a GET: a
  stale-while-revalidate refresh started by a Range or a HEAD request, and a custom error page
  fetched for a viewer that sent a Range; a stored 206 of the page is never the page.
* An object is invalidated by its path as keyed: the query parameters the key does not hold
  are not part of it (caching.md §1.10).
* An invalidation made while a fetch is in flight applies to what it fetches: the object is
  not stored after it (caching.md §1.10: after an invalidation the next request is a Miss).
* Only a request whose answer is the whole object leads a collapsed fetch: GETs that arrive
  while a HEAD's or a Range's fetch is in flight wait for a GET's (caching.md §1.9).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from werkzeug.test import EnvironBuilder

from edge_middleware import CachePolicy, CustomErrorResponse
from tests.support.edge_cache import DATE, ERROR, HIT, MISS, MakeEdge, cache_fixtures, wait_a_while

door, store, edge = cache_fixtures()


def test_if_none_match_star_matches_an_untagged_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/tagged", headers={"Cache-Control": "max-age=60", "ETag": '"v1"'}, body=b"tagged")
    e.route("/untagged", headers={"Cache-Control": "max-age=60"}, body=b"untagged")
    for path in ("/tagged", "/untagged"):
        assert e.get(path).x_cache == MISS
        r = e.get(path, {"If-None-Match": "*"})
        assert (r.status, r.x_cache, r.body) == (304, HIT, b""), path
        assert e.calls(path) == 1


@pytest.mark.parametrize("door", ["asgi"], indirect=True)
def test_repeated_if_none_match_lines_are_one_list(edge: MakeEdge) -> None:
    """(Only an ASGI server passes repeated lines through; a WSGI server joins them.)"""
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=60", "ETag": '"v2"'}, body=b"body")
    assert e.get("/a").x_cache == MISS
    client = e._asgi_client()
    r = client.get("/a", headers=[("If-None-Match", '"v1"'), ("If-None-Match", '"v2"')])
    assert (r.status_code, r.headers["x-cache"]) == (304, HIT)


SWR = "max-age=10, stale-while-revalidate=60"


def test_a_refresh_started_by_a_range_request_fetches_the_whole_object(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": SWR}, body=b"0123456789", ranges=True)
    assert e.get("/a").x_cache == MISS
    e.route("/a", headers={"Date": DATE, "Cache-Control": SWR}, body=b"abcdefghij", ranges=True)
    e.at(15)
    part = e.get("/a", {"Range": "bytes=0-3"})
    assert (part.status, part.body) == (206, b"0123")  # cut from the stale copy
    wait_a_while(lambda: (entry := e.stored("/a")) is not None and entry.body == b"abcdefghij")
    refresh = e.origin.last["/a"]
    assert "range" not in refresh.headers and refresh.method == "GET"
    entry = e.stored("/a")
    assert (entry.status, entry.body) == (200, b"abcdefghij")
    e.at(16)
    whole = e.get("/a")
    assert (whole.status, whole.body, whole.x_cache, e.calls("/a")) == (200, b"abcdefghij", HIT, 2)


def test_a_refresh_started_by_a_head_request_is_a_get(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Date": DATE, "Cache-Control": SWR}, body=b"version-1")
    assert e.get("/a").x_cache == MISS
    e.route("/a", headers={"Date": DATE, "Cache-Control": SWR}, body=b"version-2")
    e.at(15)
    head = e.request("HEAD", "/a")
    assert (head.status, head.x_cache) == (200, HIT)
    wait_a_while(lambda: (entry := e.stored("/a")) is not None and entry.body == b"version-2")
    assert e.origin.last["/a"].method == "GET"
    e.at(16)
    got = e.get("/a")
    assert (got.body, got.x_cache, e.calls("/a")) == (b"version-2", HIT, 2)


def test_a_custom_error_page_is_fetched_whole_for_a_range_request(edge: MakeEdge) -> None:
    page = b"<h1>Sorry, not found</h1>"
    e = edge(errors=[CustomErrorResponse(404, response_page_path="/errors/404.html")])
    e.route("/missing", status=404, body=b"plain 404")
    e.route("/missing2", status=404, body=b"plain 404")
    e.route("/errors/404.html", headers={"Cache-Control": "max-age=300"}, body=page, ranges=True)
    first = e.get("/missing", {"Range": "bytes=0-3"})
    assert (first.status, first.x_cache, first.body) == (404, ERROR, page)
    assert first.header("content-range") is None
    assert "range" not in e.origin.last["/errors/404.html"].headers
    later = e.get("/missing2")
    assert (later.status, later.body, later.header("content-range")) == (404, page, None)


def test_a_stored_part_of_the_error_page_is_not_the_page(edge: MakeEdge) -> None:
    """A 206 of the page stored by a viewer's own Range request is not used as the page."""
    page = b"<h1>Sorry, not found</h1>"
    e = edge(errors=[CustomErrorResponse(404, response_page_path="/errors/404.html")])
    e.route("/missing", status=404, body=b"plain 404")
    e.route("/errors/404.html", headers={"Cache-Control": "max-age=300"}, body=page, ranges=True)
    part = e.get("/errors/404.html", {"Range": "bytes=0-3"})
    assert (part.status, part.body) == (206, b"<h1>")
    got = e.get("/missing")
    assert (got.status, got.body, got.header("content-range")) == (404, page, None)


def test_an_object_keyed_without_the_query_is_invalidated_by_its_path(edge: MakeEdge) -> None:
    e = edge()  # the default policy: no query string in the key
    e.route("/a.jpg", headers={"Cache-Control": "max-age=3600"}, body=b"v1")
    assert e.get("/a.jpg?utm=1").x_cache == MISS
    assert e.get("/a.jpg").x_cache == HIT  # the same object
    e.route("/a.jpg", headers={"Cache-Control": "max-age=3600"}, body=b"v2")
    e.mw.storage.invalidate(["/a.jpg"])
    got = e.get("/a.jpg")
    assert (got.x_cache, got.body) == (MISS, b"v2")


def test_an_object_is_invalidated_by_the_query_parameters_its_key_holds(edge: MakeEdge) -> None:
    e = edge(cache=CachePolicy(query_strings="whitelist", query_string_names=("color",)))
    e.route("/a", headers={"Cache-Control": "max-age=3600"})
    assert e.get("/a?color=red&utm=x").x_cache == MISS
    assert e.get("/a?utm=y&color=red").x_cache == HIT
    e.mw.storage.invalidate(["/a"])  # /a (no color) is another object
    assert e.get("/a?color=red").x_cache == HIT
    e.mw.storage.invalidate(["/a?color=red"])
    assert e.get("/a?color=red").x_cache == MISS


def _burst_after(
    e: Any,
    path: str,
    first: dict[str, Any],
    n: int,
    *,
    first_answers_first: bool = True,
    then: dict[str, Any] | None = None,
    held: int = 2,
) -> list[str]:
    """``first`` (method, headers) at ``path``, then ``n`` GETs while the origin holds both
    answers (``held``: the origin calls to wait for, up to a second, before it answers);
    the origin gives ``first`` its answer before (or after) the GETs'; ``then``: what the
    route answers from its second call on. Returns the X-Cache of the GETs."""
    first = {**first, "then": then or {}, "held": held}
    if e.door == "asgi":
        return asyncio.run(_aburst_after(e, path, first, n, first_answers_first))
    gates = [threading.Event(), threading.Event()]
    e.origin.routes[path]["gate"] = gates[0]
    results: list[str] = []
    lock = threading.Lock()

    def one(method: str, headers: dict[str, str]) -> None:
        environ = EnvironBuilder(path=path, method=method, headers=headers).get_environ()
        seen: dict[str, str] = {}

        def start_response(status: str, pairs: list[tuple[str, str]], exc: Any = None) -> Any:
            seen.update((k.lower(), v) for k, v in pairs)
            return lambda data: None

        it = e.mw(environ, start_response)
        b"".join(it)
        if hasattr(it, "close"):
            it.close()
        if method == "GET" and not headers:
            with lock:
                results.append(seen.get("x-cache", ""))

    lead = threading.Thread(target=one, args=(first["method"], first["headers"]))
    lead.start()
    wait_a_while(lambda: e.calls(path) >= 1)
    e.origin.routes[path].update(first.get("then", {}), gate=gates[1])
    gets = [threading.Thread(target=one, args=("GET", {})) for _ in range(n)]
    for th in gets:
        th.start()
    _settle(lambda: e.calls(path) >= first["held"])
    try:
        if first_answers_first:
            gates[0].set()
            lead.join(10)
            gates[1].set()
        else:
            gates[1].set()
            _settle(lambda: len(results) == n)
            gates[0].set()
    finally:
        for gate in gates:
            gate.set()
        for th in (lead, *gets):
            th.join(10)
    return results


def _settle(predicate: Any) -> None:
    """Wait up to a second for ``predicate`` (it may never hold: then the test's counts
    show it), and a little more for the requests waiting behind it."""
    deadline = time.monotonic() + 1.0
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)


async def _asettle(predicate: Any) -> None:
    deadline = time.monotonic() + 1.0
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)


async def _aburst_after(
    e: Any, path: str, first: dict[str, Any], n: int, first_answers_first: bool
) -> list[str]:
    gates = [asyncio.Event(), asyncio.Event()]
    e.origin.routes[path]["gate"] = gates[0]
    transport = httpx.ASGITransport(app=e.mw)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            lead = asyncio.ensure_future(c.request(first["method"], path, headers=first["headers"]))
            await _asettle(lambda: e.calls(path) >= 1)
            e.origin.routes[path].update(first.get("then", {}), gate=gates[1])
            gets = [asyncio.ensure_future(c.get(path)) for _ in range(n)]
            await _asettle(lambda: e.calls(path) >= first["held"])
            if first_answers_first:
                gates[0].set()
                await asyncio.wait_for(lead, 10)
                gates[1].set()
            else:
                gates[1].set()
                await asyncio.wait_for(asyncio.gather(*gets), 10)
                gates[0].set()
            await asyncio.wait_for(lead, 10)
            answers = await asyncio.wait_for(asyncio.gather(*gets), 10)
    finally:
        if hasattr(e.storage, "aclose"):
            await e.storage.aclose()
    return [r.headers.get("x-cache", "") for r in answers]


@pytest.mark.parametrize(
    "first",
    [
        {"method": "HEAD", "headers": {}},
        {"method": "GET", "headers": {"Range": "bytes=0-3"}},
    ],
    ids=["head", "range"],
)
def test_gets_behind_a_head_or_range_fetch_collapse_on_a_get(
    edge: MakeEdge, first: dict[str, Any]
) -> None:
    e = edge()
    e.route("/slow", headers={"Cache-Control": "max-age=60"}, body=b"0123456789", ranges=True)
    got = _burst_after(e, "/slow", first, 5)
    assert sorted(got) == sorted([MISS] + [HIT] * 4)
    assert e.calls("/slow") == 2
    assert e.get("/slow").x_cache == HIT


def test_a_range_answered_after_the_whole_object_does_not_replace_it(edge: MakeEdge) -> None:
    e = edge()
    e.route("/slow", headers={"Cache-Control": "max-age=60"}, body=b"0123456789", ranges=True)
    first = {"method": "GET", "headers": {"Range": "bytes=0-3"}}
    got = _burst_after(e, "/slow", first, 3, first_answers_first=False)
    assert sorted(got) == sorted([MISS] + [HIT] * 2)
    entry = e.stored("/slow")
    assert (entry.status, entry.body) == (200, b"0123456789")
    whole = e.get("/slow")
    assert (whole.x_cache, whole.body, e.calls("/slow")) == (HIT, b"0123456789", 2)


@pytest.mark.parametrize("stale_first", [False, True], ids=["miss", "stale"])
def test_an_invalidation_made_during_a_fetch_applies_to_it(
    edge: MakeEdge, stale_first: bool
) -> None:
    e = edge()
    if stale_first:  # the fetch revalidates a stale copy
        e.route("/a", headers={"Cache-Control": "max-age=10"}, body=b"v0")
        assert e.get("/a").x_cache == MISS
        e.at(20)
    gate = threading.Event()
    e.route("/a", headers={"Cache-Control": "max-age=3600"}, body=b"v1", gate=gate)
    answers: list[Any] = []
    fetch = threading.Thread(target=lambda: answers.append(e.get("/a")))
    fetch.start()
    try:
        wait_a_while(lambda: e.calls("/a") == (2 if stale_first else 1))
        e.route("/a", headers={"Cache-Control": "max-age=3600"}, body=b"v2")  # deployed
        e.mw.storage.invalidate(["/*"])
    finally:
        gate.set()
        fetch.join(10)
    assert answers[0].body == b"v1"  # the viewer in flight gets what it was fetched
    after = e.get("/a")
    assert (after.x_cache, after.body) == (MISS, b"v2")
    assert e.get("/a").x_cache == HIT  # and the new object is stored as usual


def test_a_fetch_with_no_invalidation_meanwhile_is_stored(edge: MakeEdge) -> None:
    e = edge()
    e.route("/a", headers={"Cache-Control": "max-age=3600"}, body=b"v1")
    e.mw.storage.invalidate(["/other"])
    assert e.get("/a").x_cache == MISS
    e.mw.storage.invalidate(["/b*"])  # made after it was stored, matching something else
    assert e.get("/a").x_cache == HIT
