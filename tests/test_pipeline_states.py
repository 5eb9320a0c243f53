"""The pipeline as a sans-IO state machine, with no HTTP client and no event loop (issue 11).

A fake driver feeds ``Pipeline.run`` the results a front door would and records every effect,
the way h11's tests drive its connection state machine. Each row is one request: the effect
types the pipeline must ask for, in order, and the answer it must give. The HTTP-level tests
(``test_frontdoors.py`` and the rest) then only have to show that the doors perform effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, CustomErrorResponse, EdgeConfig, EdgeSettings
from edge_middleware.cache.entry import CacheEntry
from edge_middleware.config.behavior import ALL_METHODS
from edge_middleware.core.convert import ViewerRequest, request_from_scope
from edge_middleware.core.headers import raw_get
from edge_middleware.exceptions import CloudFrontError, LambdaTimeoutError, OriginError
from edge_middleware.pipeline import STATES, Outcome, Pipeline, State
from edge_middleware.pipeline.effects import (
    CallHandler,
    Compress,
    Effect,
    FetchOrigin,
    Invalidate,
    JoinFlight,
    LeaveFlight,
    Lookup,
    OriginBody,
    OriginResponse,
    ReadBody,
    ReadOriginBody,
    Refresh,
    Store,
)
from edge_middleware.pipeline.flow import Flow

NOW = 1_700_000_000.0
NO_CACHE = CachePolicy(0, 0, 0)
CACHED = CachePolicy(min_ttl=0, default_ttl=60, max_ttl=3600)


def viewer(
    path: str = "/page",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "https",
) -> ViewerRequest:
    return request_from_scope(
        {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers if headers is not None else [(b"host", b"example.com")],
            "client": ("203.0.113.7", 5000),
            "scheme": scheme,
            "http_version": "1.1",
        }
    )


@dataclass
class FakeDoor:
    """Performs effects from canned answers and records them."""

    cache: dict[str, CacheEntry] = field(default_factory=dict)
    origin: OriginResponse | Exception = field(
        default_factory=lambda: OriginResponse(
            200, [(b"content-type", b"text/plain"), (b"content-length", b"2")], b"ok"
        )
    )
    #: what the origin's remaining body gives when read (ReadOriginBody)
    rest: OriginBody = field(default_factory=lambda: OriginBody(b"", True))
    handler: Callable[[CallHandler], Any] | None = None
    effects: list[Effect] = field(default_factory=list)

    def perform(self, effect: Effect) -> Any:
        self.effects.append(effect)
        match effect:
            case CallHandler():
                if self.handler is not None:
                    return self.handler(effect)
                try:
                    return effect.runner.call_sync(effect.event, effect.request_id, effect.timeout)
                except CloudFrontError as exc:
                    return exc
            case Lookup():
                return self.cache.get(effect.key)
            case Store():
                self.cache[effect.entry.key] = effect.entry
                return None
            case ReadBody():
                return b""
            case JoinFlight():
                return True
            case FetchOrigin():
                return self.origin
            case ReadOriginBody():
                return self.rest
            case Compress():
                return effect.body, effect.headers
            case Invalidate() | Refresh() | LeaveFlight():
                return None
        raise AssertionError(effect)  # pragma: no cover

    def run(self, pipeline: Pipeline, request: ViewerRequest, flow: Flow | None = None) -> Outcome:
        gen = pipeline.run(request, flow)
        value: Any = None
        while True:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                assert isinstance(stop.value, Outcome)
                return stop.value
            value = self.perform(effect)

    @property
    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.effects]


def pipeline(config: EdgeConfig) -> Pipeline:
    return Pipeline(config, clock=lambda: NOW, request_id=lambda: "REQ-ID==")


def identity(event: dict[str, Any], context: Any) -> Any:
    cf = event["Records"][0]["cf"]
    return cf.get("response", cf["request"])


def generate(event: dict[str, Any], context: Any) -> Any:
    return {"status": "200", "body": "made at the edge"}


def entry(key: str, *, fresh_for: float = 60, etag: str | None = None) -> CacheEntry:
    return CacheEntry(
        key=key,
        status=200,
        reason="OK",
        headers=((b"content-type", b"text/plain"),),
        body=b"cached",
        stored_at=NOW - 10,
        fresh_until=NOW + fresh_for,
        retain_until=NOW + 86400,
        path="/page",
        orig_path="/page",
        etag=etag,
    )


def test_every_state_has_its_function() -> None:
    assert set(STATES) == set(State)


def test_no_triggers_caching_disabled_is_one_fetch() -> None:
    door = FakeDoor()
    out = door.run(pipeline(EdgeConfig(default=Behavior(cache=NO_CACHE))), viewer())
    assert door.kinds == ["FetchOrigin"]
    assert (out.status, out.body, out.result_type) == (200, b"ok", "Miss")
    assert raw_get(out.headers, b"x-cache") == b"Miss from cloudfront"
    assert raw_get(out.headers, b"x-amz-cf-id") == b"REQ-ID=="


@pytest.mark.parametrize(
    ("behavior", "request_", "status", "x_cache"),
    [
        pytest.param(
            Behavior(viewer_request=identity),
            viewer(headers=[(b"host", b"h"), (b"x-big", b"v" * 21000)]),
            413,
            "Error",
            id="headers-too-large",
        ),
        *(
            pytest.param(
                Behavior(viewer_request=identity, allowed_methods=ALL_METHODS),
                viewer(method="PUT", headers=[(b"host", b"h"), *lengths]),
                400,
                "Error",
                id=f"content-length-{name}",
            )
            for name, lengths in [
                ("not-a-number", [(b"content-length", b"abc")]),
                ("negative", [(b"content-length", b"-1")]),
                ("two-lengths", [(b"content-length", b"5"), (b"content-length", b"7")]),
                ("list-of-two-lengths", [(b"content-length", b"5, 7")]),
            ]
        ),
        pytest.param(
            Behavior(viewer_protocol_policy="redirect-to-https"),
            viewer(scheme="http"),
            301,
            "Redirect",
            id="redirect-to-https",
        ),
        pytest.param(
            Behavior(viewer_protocol_policy="https-only"),
            viewer(scheme="http"),
            403,
            "Error",
            id="https-only",
        ),
        pytest.param(
            Behavior(allowed_methods=("GET", "HEAD")),
            viewer(method="POST"),
            403,
            "Error",
            id="method-not-allowed",
        ),
    ],
)
def test_cloudfront_answers_before_any_function(
    behavior: Behavior, request_: ViewerRequest, status: int, x_cache: str
) -> None:
    door = FakeDoor()
    out = door.run(pipeline(EdgeConfig(default=behavior)), request_)
    assert door.kinds == []
    assert out.status == status
    assert raw_get(out.headers, b"x-cache") == f"{x_cache} from cloudfront".encode()
    # the trace names who answered: never "Error error response" (issue 11's closing notes)
    reasons = {step.event_type: step.skipped_because for step in out.steps if not step.ran}
    if x_cache == "Error":
        assert reasons["viewer-request"] == "CloudFront error response"
        assert reasons["viewer-response"] == f"CloudFront error response (status {status} >= 400)"
    assert not any("Error error" in reason for reason in reasons.values())


@pytest.mark.parametrize(
    "lengths",
    [
        [(b"content-length", b"5")],
        [(b"content-length", b"5"), (b"content-length", b"5")],
        [(b"content-length", b"5, 5")],
        [(b"content-length", b"abc"), (b"transfer-encoding", b"chunked")],  # TE decides
    ],
    ids=["one", "the-same-twice", "a-list-of-the-same", "with-transfer-encoding"],
)
def test_a_content_length_that_says_one_length_goes_on(lengths: list[tuple[bytes, bytes]]) -> None:
    door = FakeDoor()
    config = EdgeConfig(default=Behavior(allowed_methods=ALL_METHODS, cache=NO_CACHE))
    out = door.run(pipeline(config), viewer(method="PUT", headers=[(b"host", b"h"), *lengths]))
    assert door.kinds == ["FetchOrigin"]
    assert out.status == 200


@pytest.mark.parametrize(
    ("behavior", "kinds", "status", "x_cache"),
    [
        pytest.param(
            Behavior(viewer_request=generate, cache=NO_CACHE),
            ["CallHandler"],
            200,
            "LambdaGeneratedResponse",
            id="viewer-request-generates",
        ),
        pytest.param(
            Behavior(
                viewer_request=identity,
                origin_request=identity,
                origin_response=identity,
                viewer_response=identity,
                cache=NO_CACHE,
            ),
            ["CallHandler", "CallHandler", "FetchOrigin", "CallHandler", "CallHandler"],
            200,
            "Miss",
            id="four-triggers-in-order",
        ),
        pytest.param(
            Behavior(origin_request=generate, cache=CACHED),
            ["Lookup", "JoinFlight", "CallHandler", "Store"],
            200,
            "LambdaGeneratedResponse",
            id="origin-request-generates-and-is-stored",
        ),
        pytest.param(
            Behavior(cache=CACHED),
            ["Lookup", "JoinFlight", "FetchOrigin", "Store"],
            200,
            "Miss",
            id="cacheable-miss-is-stored",
        ),
    ],
)
def test_effects_per_request(
    behavior: Behavior, kinds: list[str], status: int, x_cache: str
) -> None:
    door = FakeDoor()
    out = door.run(pipeline(EdgeConfig(default=behavior)), viewer())
    assert door.kinds == kinds
    assert out.status == status
    assert raw_get(out.headers, b"x-cache") == f"{x_cache} from cloudfront".encode()


def test_hit_asks_only_the_cache_and_counts_age() -> None:
    door = FakeDoor()
    p = pipeline(EdgeConfig(default=Behavior(viewer_request=identity, cache=CACHED)))
    door.run(p, viewer())  # the miss stores it
    door.effects.clear()
    out = door.run(p, viewer())
    assert door.kinds == ["CallHandler", "Lookup"]
    assert (out.status, out.result_type, out.body) == (200, "Hit", b"ok")
    assert raw_get(out.headers, b"age") == b"0"
    skipped = {s.event_type: s.skipped_because for s in out.steps if not s.ran}
    assert skipped["origin-request"] == "cache hit"


def test_stale_entry_revalidated_by_a_304_is_a_refresh_hit() -> None:
    door = FakeDoor()
    p = pipeline(EdgeConfig(default=Behavior(cache=CACHED)))
    door.run(p, viewer())
    (key,) = door.cache
    door.cache[key] = entry(key, fresh_for=-1, etag='"v1"')
    door.origin = OriginResponse(304, [(b"etag", b'"v1"')], b"")
    door.effects.clear()
    out = door.run(p, viewer())
    assert door.kinds == ["Lookup", "JoinFlight", "FetchOrigin", "Store"]
    fetch = door.effects[2]
    assert isinstance(fetch, FetchOrigin)
    assert fetch.request["headers"]["if-none-match"][0]["value"] == '"v1"'
    assert (out.status, out.result_type, out.body) == (200, "RefreshHit", b"cached")


def test_origin_failure_with_stale_copy_serves_it() -> None:
    door = FakeDoor(origin=OriginError("refused"))
    p = pipeline(EdgeConfig(default=Behavior(cache=CACHED)))
    door.run(p, viewer())
    assert door.kinds == ["Lookup", "JoinFlight", "FetchOrigin"]
    (key,) = [e.key for e in door.effects if isinstance(e, Lookup)]
    door.cache[key] = entry(key, fresh_for=-1)
    door.effects.clear()
    out = door.run(p, viewer())
    assert (out.status, out.body, out.result_type) == (200, b"cached", "RefreshHit")
    assert door.kinds[-1] == "Store"  # held for the error caching minimum TTL


@pytest.mark.parametrize(
    "mode", [pytest.param("thread", id="sync-handler"), pytest.param("async", id="async-handler")]
)
def test_a_timed_out_handler_gets_the_custom_error_page(mode: str) -> None:
    """A handler past its deadline, sync or async, gets the same answer: CloudFront's 503,
    or the distribution's custom page for 503 (decisions.md #19)."""

    def timed_out(effect: CallHandler) -> Any:
        if effect.event_type == "viewer-request":
            return LambdaTimeoutError("did not finish", handler=effect.runner.name)
        cf = effect.event["Records"][0]["cf"]
        return cf.get("response", cf["request"])

    config = EdgeConfig(
        default=Behavior(viewer_request=identity, cache=NO_CACHE),
        custom_error_responses=[CustomErrorResponse(503, "/sorry.html", 503)],
    )
    door = FakeDoor(handler=timed_out)
    out = door.run(pipeline(config), viewer())
    assert door.kinds == ["CallHandler", "FetchOrigin"]  # the page comes from the origin
    page = door.effects[1]
    assert isinstance(page, FetchOrigin) and page.request["uri"] == "/sorry.html"
    assert (out.status, out.body) == (503, b"ok")
    assert raw_get(out.headers, b"x-cache") == b"Error from cloudfront"
    assert isinstance(out.error, LambdaTimeoutError)


def test_origin_body_broken_while_buffered_is_a_502_and_nothing_is_stored() -> None:
    door = FakeDoor(
        origin=OriginResponse(200, [(b"content-length", b"100")], b"part", streaming=True),
        rest=OriginBody(b"more", False, OriginError("The origin's response broke off.")),
    )
    out = door.run(pipeline(EdgeConfig(default=Behavior(cache=CACHED))), viewer())
    assert door.kinds == ["Lookup", "JoinFlight", "FetchOrigin", "ReadOriginBody"]
    assert out.status == 502
    assert raw_get(out.headers, b"x-cache") == b"Error from cloudfront"
    assert raw_get(out.headers, b"via") is not None


def test_internal_error_carries_cloudfront_headers() -> None:
    p = pipeline(EdgeConfig())
    out = p.internal_failure(viewer())
    assert out.status == 502
    for name in (b"x-cache", b"via", b"x-amz-cf-id", b"x-amz-cf-pop"):
        assert raw_get(out.headers, name) is not None, name


def test_handler_mode_setting_reaches_the_runners() -> None:
    config = EdgeConfig(
        default=Behavior(viewer_request=identity), settings=EdgeSettings(handler_mode="thread")
    )
    (runner,) = pipeline(config).runners.values()
    assert runner.placement() == "thread"


def test_a_prefetched_lookup_is_not_read_again() -> None:
    """The hit short way's cache read (Flow.prefetched) stands in for LOOKUP's own."""
    door = FakeDoor()
    p = pipeline(EdgeConfig(default=Behavior(cache=CACHED)))
    door.run(p, viewer())
    (key,) = door.cache
    stale = entry(key, fresh_for=-1)
    door.effects.clear()
    request = viewer()
    flow = p.flow(request)
    flow.prefetched = (key, stale)  # what the short way found: an expired copy
    out = door.run(p, request, flow)
    assert door.kinds == ["JoinFlight", "FetchOrigin", "Store"]  # no Lookup
    assert (out.status, out.result_type) == (200, "Miss")


def test_a_prefetched_lookup_for_another_key_is_ignored() -> None:
    door = FakeDoor()
    p = pipeline(EdgeConfig(default=Behavior(cache=CACHED)))
    request = viewer()
    flow = p.flow(request)
    flow.prefetched = ("some|other|key", entry("some|other|key"))
    out = door.run(p, request, flow)
    assert door.kinds[0] == "Lookup"
    assert (out.status, out.result_type, out.body) == (200, "Miss", b"ok")
