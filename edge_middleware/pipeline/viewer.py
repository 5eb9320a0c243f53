"""The viewer side of a request: CloudFront's own checks, viewer-request, the cache lookup and
serving a cached object (caching.md §1.1 steps 1-4, lambda-edge.md §4)."""

from __future__ import annotations

from ..cache.compression import http10_headers
from ..cache.entry import CacheEntry
from ..cache.ranges import byte_range_response
from ..cache.rules import (
    applicable_range,
    cache_key,
    collapsible,
    cookies_forwarded,
    edge_own_request,
    not_modified,
    stored_response_serves,
)
from ..config.model import Trigger
from ..config.response_headers import apply_response_headers_policy, preflight_response
from ..core.convert import reason_phrase
from ..core.headers import RawHeaders, get_first, with_length, without
from ..core.limits import MAX_HEADER_BYTES, MAX_URI_LENGTH, SERVER, VIEWER_BODY_LIMIT, url_length
from ..core.origins import cloudfront_headers, function_group, function_origin
from ..core.types import CFHeaders
from ..core.validation import RequestResult, ResponseResult
from ..exceptions import CloudFrontError, ViewerError
from .base import PipelineBase
from .effects import JoinFlight, Lookup, Outcome, ReadBody, Refresh, TraceStep, incomplete_body
from .flow import Answer, Flow, State, Step
from .respond import fail, generated

__all__ = ["hit", "lookup", "viewer_checks", "viewer_request"]

_BAD_LENGTH = "The request's Content-Length is not one valid length."
_BAD_METHOD = (
    "This distribution is not configured to allow the HTTP request method that was used for "
    "this request. The distribution supports only cachable requests."
)


def viewer_checks(p: PipelineBase, f: Flow) -> Step:
    """CloudFront's own answers, before any function runs (lambda-edge.md §4)."""
    req, viewer, behavior = f.req, f.viewer, f.behavior
    uri = req["uri"]
    if viewer.header_bytes > MAX_HEADER_BYTES or url_length(uri, req["querystring"]) > (
        MAX_URI_LENGTH
    ):
        too_large = p.error(f, ViewerError(413, "The request headers or URL are too large."))
        too_large.oversized = True
        return too_large
    if not _framing_ok(req["headers"]):
        return p.error(f, ViewerError(400, _BAD_LENGTH))
    if viewer.scheme == "http" and behavior.viewer_protocol_policy != "allow-all":
        if behavior.viewer_protocol_policy == "https-only":
            return p.error(f, ViewerError(403, "This distribution only accepts HTTPS."))
        return _redirect_to_https(p, f)
    if f.method in ("GET", "HEAD") and viewer.body_length != 0:
        return p.error(f, ViewerError(403, "A GET or HEAD request may not carry a body."))
    if f.method not in behavior.allowed_methods and p.settings.reject_method_before_viewer_request:
        return p.error(f, ViewerError(403, _BAD_METHOD))
    return State.VIEWER_REQUEST
    yield  # a generator like every state


def _framing_ok(headers: CFHeaders) -> bool:
    """RFC 9112 §6.3: without Transfer-Encoding, a request's Content-Length is one decimal
    number (a list of the same number counts as it); anything else (``abc``, ``-1``, two
    different lengths) leaves its body's end unknown, and CloudFront answers 400 before any
    function runs. An HTTP server usually refuses such a request itself; an ASGI scope can
    still carry one, and then the app must not be called with it."""
    entries = headers.get("content-length")
    if entries is None or "transfer-encoding" in headers:
        return True
    values = {v.strip() for e in entries for v in e["value"].split(",")}
    return len(values) == 1 and all(v.isdigit() and v.isascii() for v in values)


def _redirect_to_https(p: PipelineBase, f: Flow) -> Outcome:
    req = f.viewer.request  # the viewer's own uri: "/", not the DefaultRootObject
    host = get_first(req["headers"], "host") or p.config.distribution_domain_name
    qs = req["querystring"]
    location = f"https://{host}{req['uri']}" + (f"?{qs}" if qs else "")
    status = 301 if f.method in ("GET", "HEAD") else 307
    headers: RawHeaders = [
        (b"Server", SERVER),
        (b"Location", location.encode("latin-1", "replace")),
        (b"Content-Length", b"0"),
    ]
    return Outcome(
        status,
        reason_phrase(status),
        p._edge_headers(headers, "Redirect from cloudfront", f.rid, f.hv),
        b"",
        result_type="Redirect",
        behavior=f.behavior,
        request_id=f.rid,
        steps=f.steps,
    )


def body_for_event(limit: int) -> Step:
    """The viewer's body (a prefix of more than ``limit`` bytes) for an IncludeBody event, or
    the 400 of a body the viewer never finished: a function never sees a cut body as whole,
    and the origin is never sent it."""
    body = yield ReadBody(limit)
    if body is None:
        return incomplete_body()
    return body


def viewer_request(p: PipelineBase, f: Flow) -> Step:
    trig = f.behavior.viewer_request
    if isinstance(trig, Trigger):
        if trig.include_body and f.shows_body(p.settings.body_for_bodyless_methods):
            body = yield from body_for_event(VIEWER_BODY_LIMIT)
            if isinstance(body, CloudFrontError):
                return (yield from fail(p, f, body))
            f.viewer_body, f.viewer_body_whole = body, len(body) <= VIEWER_BODY_LIMIT
        res = yield from p.request_trigger("viewer-request", trig, f, f.req, f.viewer_body)
        if isinstance(res, CloudFrontError):
            return (yield from fail(p, f, res))
        if isinstance(res, ResponseResult):
            return generated(p, f, res)
        assert isinstance(res, RequestResult)
        if (change := f.steps[-1].origin_change) is not None:  # cf.selectRequestOriginById ...
            try:
                f.origin = function_origin(
                    p.config, p.config.origin_for(f.behavior), change, trig.display_name
                )
                f.group = function_group(change)
            except CloudFrontError as exc:
                f.steps[-1].error = exc.reason
                return (yield from fail(p, f, exc))
        f.req = res.request
        f.req.pop("body", None)
        if res.body is not None:
            f.send_body = res.body
    else:
        f.steps.append(TraceStep("viewer-request", False, skipped_because="no function"))
    if f.method not in f.behavior.allowed_methods:
        return p.error(f, ViewerError(403, _BAD_METHOD))
    preflight = preflight_response(f.behavior.headers_policy, f.method, f.req["headers"])
    if preflight is not None:
        return _preflight(p, f, preflight)
    return State.LOOKUP


def _preflight(p: PipelineBase, f: Flow, headers: RawHeaders) -> Outcome:
    """A CORS preflight the behavior's response headers policy answers at the edge: no cache,
    no origin, no viewer-response (docs/distributions.md)."""
    for ev in ("origin-request", "origin-response", "viewer-response"):
        f.steps.append(TraceStep(ev, False, skipped_because="CORS preflight answered"))
    answer = apply_response_headers_policy(
        f.behavior.headers_policy, f.req["headers"], headers, pop=p.settings.pop, request_id=f.rid
    )
    return Outcome(
        200,
        "OK",
        p._edge_headers(answer, "Miss from cloudfront", f.rid, f.hv),
        b"",
        result_type="Miss",
        behavior=f.behavior,
        request_id=f.rid,
        steps=f.steps,
    )


def lookup(p: PipelineBase, f: Flow) -> Step:
    """The cache lookup (caching.md §1.1 step 3): hit, stale-if-error hold, stale while
    revalidate, stale to revalidate, or miss; misses are collapsed per key (§1.10)."""
    s, behavior, req = p.settings, f.behavior, f.req
    policy = behavior.cache
    if not (
        f.method in behavior.cached_methods
        and policy.max_ttl > 0
        and not behavior.forward_all_headers
    ):
        return State.ORIGIN_REQUEST
    # CloudFront-* headers are added after viewer-request and overwrite what the viewer sent,
    # so the key uses CloudFront's values, never the viewer's (lambda-edge.md §3.1).
    added = cloudfront_headers(behavior, f.viewer, s)
    headers = http10_headers(req["headers"], policy, f.viewer.http_version)
    f.key = cache_key(
        method=f.method,
        host=p._key_host(req["headers"], behavior),
        uri=req["uri"],
        querystring=req["querystring"],
        headers={**headers, **added} if added else headers,
        policy=policy,
        settings=s,
    )
    known = f.prefetched
    if known is not None and known[0] == f.key:
        entry = known[1]
    else:
        entry = yield Lookup(f.key)
    entry = _usable(p, f, entry)
    if entry is not None:
        now = p.clock()
        label = _served_as(p, entry, now)
        if label is not None:
            return _serve(f, entry, label)
        swr = entry.stale_while_revalidate
        if swr and now < entry.fresh_until + swr:
            yield Refresh(f.key, _refresh(p, f, entry))
            return _serve(f, entry, s.stale_while_revalidate_x_cache)
        f.stale = entry
    if collapsible(policy, behavior.origin_request_policy):
        return (yield from _collapse(p, f))
    return State.ORIGIN_REQUEST


def _collapse(p: PipelineBase, f: Flow) -> Step:
    """Request collapsing (caching.md §1.9): wait for the fetch in flight for this key and
    take what it stored. When it stored nothing (``no-store``, an error not cached), collapsing
    is off for the object: the waiting requests are each forwarded, as CloudFront forwards
    them, not one after another behind each other."""
    leader = yield JoinFlight(f.key, p.fetch_bound(f.behavior), _fills_the_object(f))
    if leader is False:  # (True: this request fetches; None: none to wait for, or in vain)
        entry = _usable(p, f, (yield Lookup(f.key)))
        # fresh, or the stale copy the fetch kept for a failing origin (caching.md §1.4, C33:
        # served "without asking the origin again"; every waiter went to it before)
        label = None if entry is None else _served_as(p, entry, p.clock())
        if entry is not None and label is not None:
            return _serve(f, entry, label)
    return State.ORIGIN_REQUEST


def _usable(p: PipelineBase, f: Flow, entry: CacheEntry | None) -> CacheEntry | None:
    """``entry`` when it may answer this request at all (its freshness aside)."""
    if entry is None or (f.method == "HEAD" and not p.settings.head_from_get):
        return None
    # a stored 206 answers only a Range for its own bytes (caching.md §1.14)
    return entry if _answers(f, entry) else None


def _served_as(p: PipelineBase, entry: CacheEntry, now: float) -> str | None:
    """The X-Cache label a stored entry is served under with no origin call: ``Hit`` while
    fresh, the stale-if-error label while an origin error holds it; ``None`` otherwise."""
    if now < entry.fresh_until:
        return "Hit"
    if now < entry.error_until:
        return p.settings.stale_if_error_x_cache
    return None


def _answers(f: Flow, entry: CacheEntry) -> bool:
    """Whether ``entry`` can answer this request: a stored 206 only a Range for its own bytes
    (caching.md §1.14; an If-Range naming another version asks for the whole object)."""
    return stored_response_serves(
        entry.status, entry.headers, applicable_range(f.req["headers"], entry)
    )


def _fills_the_object(f: Flow) -> bool:
    """Only a request whose answer is the whole object leads a fetch others wait for: a
    HEAD's or a Range's answer is never stored for them (caching.md §1.9)."""
    return f.method != "HEAD" and get_first(f.req["headers"], "range") is None


def _serve(f: Flow, entry: CacheEntry, label: str) -> State:
    f.entry, f.label = entry, label
    return State.HIT


def _refresh(p: PipelineBase, f: Flow, entry: CacheEntry) -> Step:
    """The background revalidation of a stale-while-revalidate hit: its own flow, a GET for
    the whole object (never the viewer's HEAD, Range or conditionals). It leads a fetch for the
    key as a miss would (caching.md §1.9): when another request here, or another worker through
    the storage's fill lock, fetches it already, there is nothing to refresh (C35: exactly one
    background origin call, however many workers served the stale copy)."""
    leader = yield JoinFlight(f.key, p.fetch_bound(f.behavior), True)
    if leader is not True:
        return None
    refresh = Flow(
        f.viewer,
        f.rid,
        f.behavior,
        edge_own_request(f.req),
        key=f.key,
        stale=entry,
        send_body=f.send_body,
        background=True,
        # the origin (or group) a CloudFront Function chose for this request: the refresh is
        # made on its behalf (the behavior's own origin's answer was stored under the key)
        origin=f.origin,
        group=f.group,
    )
    return (yield from p.drive(refresh, State.ORIGIN_REQUEST))


def hit(p: PipelineBase, f: Flow) -> Step:
    """Serve ``f.entry``: a fresh ``Age``, a 304 to a matching conditional, a byte range."""
    entry, req = f.entry, f.req
    assert entry is not None
    if not f.contacted:
        for ev in ("origin-request", "origin-response"):
            f.steps.append(TraceStep(ev, False, skipped_because="cache hit"))
    headers = with_length(without(entry.headers, b"age"), entry.body)
    headers.append((b"Age", str(max(0, int(p.clock() - entry.stored_at))).encode()))
    status, body = entry.status, entry.body
    # conditionals and Range are GET's (and HEAD's): a cached OPTIONS answer ignores them
    # (RFC 9110 §13.1, §14.2)
    if f.method not in ("GET", "HEAD"):
        pass
    elif (
        p.settings.viewer_conditionals
        and not cookies_forwarded(f.behavior.cache, f.behavior.origin_request_policy)
        and not_modified(req["headers"], entry)
    ):
        status, body = 304, b""
        headers = without(headers, b"content-length")
    elif entry.status == 200 and (ranged := applicable_range(req["headers"], entry)) is not None:
        status, body, headers = byte_range_response(ranged, entry.body, headers)
    reason = entry.reason if status == entry.status else reason_phrase(status)
    f.answer = Answer(
        status, reason, headers, body, result_type=f.label.replace(" from cloudfront", "")
    )
    f.key = entry.key
    return State.VIEWER_RESPONSE
    yield  # a generator like every state
