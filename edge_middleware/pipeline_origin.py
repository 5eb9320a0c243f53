"""The origin half of the pipeline: origin-request, the fetch, revalidation and stale
serving, origin-response, and what gets stored (caching.md §1.1 steps 5-7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cache.compression import choose_coding, compress
from .cache.entry import CacheEntry
from .cache.rules import StoreDecision, decide_storage, normalize_accept_encoding
from .config import Behavior, Origin, Trigger
from .convert import ViewerRequest, is_disallowed, reason_phrase
from .effects import (
    FetchOrigin,
    Invalidate,
    OriginResponse,
    ReadBody,
    ReadOriginBody,
    Store,
    TraceStep,
)
from .exceptions import CloudFrontError
from .headers import (
    HOP_BY_HOP,
    RawHeaders,
    get_first,
    headers_from_raw,
    headers_to_raw,
    raw_get,
    with_length,
    without,
)
from .origins import match_origin
from .types import CFRequest, CFResponse
from .validation import ResponseResult

if TYPE_CHECKING:
    from .pipeline import Gen, Pipeline

__all__ = ["origin_phase"]


def _whole(headers: RawHeaders, body: bytes) -> bool:
    """caching.md §1.14: a body that does not match its Content-Length is not cached."""
    length = raw_get(headers, b"content-length")
    if length is None:
        return True
    try:
        return int(length) == len(body)
    except ValueError:
        return False


def _stale_ok(entry: CacheEntry, now: float) -> bool:
    """caching.md §1.4/§1.11: an expired copy may stand in for a failed origin unless the
    response said ``stale-if-error=0``; an explicit window bounds it."""
    if entry.stale_if_error == 0:
        return False
    if entry.stale_if_error:
        return now < entry.fresh_until + entry.stale_if_error
    return True


def _merge_304(stored: tuple[tuple[bytes, bytes], ...], fresh: RawHeaders) -> RawHeaders:
    """RFC 9111 §4.3.4: headers in the 304 replace the stored ones of the same name."""
    fresh = without(fresh, *HOP_BY_HOP, b"content-length")
    names = {k.lower() for k, _ in fresh}
    return [(k, v) for k, v in stored if k.lower() not in names] + fresh


def _entry(
    p: Pipeline,
    key: str,
    status: int,
    reason: str,
    headers: RawHeaders,
    body: bytes,
    decision: StoreDecision,
    req: CFRequest,
    viewer: ViewerRequest,
    now: float,
    *,
    generated: bool = False,
) -> CacheEntry:
    stored = without(headers, *HOP_BY_HOP, b"content-length")
    if decision.strip_set_cookie:
        stored = without(stored, b"set-cookie")
    qs = req["querystring"]
    vqs = viewer.request["querystring"]
    etag = raw_get(stored, b"etag")
    lm = raw_get(stored, b"last-modified")
    fresh_until = now + decision.ttl
    windows = max(
        decision.stale_while_revalidate or 0,
        decision.stale_if_error or 0,
        p.settings.stale_retention,
    )
    return CacheEntry(
        key=key,
        status=status,
        reason=reason,
        headers=tuple(stored),
        body=body,
        stored_at=now,
        fresh_until=fresh_until,
        retain_until=fresh_until + windows,
        path=req["uri"] + (f"?{qs}" if qs else ""),
        orig_path=viewer.request["uri"] + (f"?{vqs}" if vqs else ""),
        stale_while_revalidate=decision.stale_while_revalidate,
        stale_if_error=decision.stale_if_error,
        etag=etag.decode("latin-1") if etag else None,
        last_modified=lm.decode("latin-1") if lm else None,
        generated=generated,
        no_conditional=decision.no_conditional,
    )


def _ecmt(p: Pipeline, status: int) -> int | None:
    custom = p.config.error_response_for(status)
    return custom.error_caching_min_ttl if custom is not None else None


def origin_phase(
    p: Pipeline,
    behavior: Behavior,
    req: CFRequest,
    send_body: bytes | None,
    key: str,
    stale: CacheEntry | None,
    rid: str,
    viewer: ViewerRequest,
    steps: list[TraceStep],
    *,
    viewer_body: bytes | None = None,
    background: bool = False,
    collect: bool = False,
    origin: Origin | None = None,
) -> Gen:
    """Returns the viewer's Outcome; ``None`` for a background refresh; with ``collect`` (a
    custom error page fetch) the ``(status, reason, headers, body)`` of the page, or ``None``.
    ``origin``: the origin to use instead of the behavior's (an origin group's secondary)."""
    s = p.settings
    given_body = send_body
    background = background or collect
    cacheable = bool(key)
    storable = cacheable and req["method"] != "HEAD"
    default_origin = origin or p.config.origin_for(behavior)
    oreq = p._origin_request(behavior, default_origin, req, viewer, stale, cacheable)

    trig = behavior.origin_request
    generated: ResponseResult | None = None
    if isinstance(trig, Trigger):
        event_body = send_body if send_body is not None else viewer_body
        wants_body = viewer.body_length != 0 or s.body_for_bodyless_methods
        if trig.include_body and event_body is None and wants_body:
            event_body = yield ReadBody()
        res = yield from p._request_trigger("origin-request", trig, oreq, event_body, rid, steps)
        if isinstance(res, CloudFrontError):
            if background:
                return None
            return (yield from p._fail(res, req, viewer, rid, behavior, steps, key=key))
        if isinstance(res, ResponseResult):
            generated = res
        else:
            oreq = res.request
            oreq.pop("body", None)
            if res.body is not None:
                send_body = res.body
    else:
        steps.append(TraceStep("origin-request", False, skipped_because="no function"))

    if generated is not None:
        # Cached like an origin response; origin-response does not run (lambda-edge.md §2.1).
        steps.append(
            TraceStep(
                "origin-response", False, skipped_because="response generated by origin-request"
            )
        )
        body = generated.body or b""
        headers = with_length(headers_to_raw(generated.headers), body)
        ttl_reason = ""
        if storable:
            now = p.clock()
            decision = decide_storage(
                generated.status,
                headers,
                behavior.cache,
                s,
                now,
                error_caching_min_ttl=_ecmt(p, generated.status),
            )
            ttl_reason = decision.reason
            if decision.store and len(body) <= s.max_object_bytes:
                yield Store(
                    _entry(
                        p,
                        key,
                        generated.status,
                        generated.status_description,
                        headers,
                        body,
                        decision,
                        req,
                        viewer,
                        now,
                        generated=True,
                    )
                )
        if collect:
            return generated.status, generated.status_description, headers, body
        if background:
            return None
        return (
            yield from p._finish(
                generated.status,
                generated.status_description,
                headers,
                body,
                False,
                s.origin_generated_x_cache,
                req,
                viewer,
                rid,
                behavior,
                steps,
                key=key,
                ttl_reason=ttl_reason,
            )
        )

    target, origin_id = match_origin(p.config, oreq, default_origin)
    event = p._event("origin-request", rid, oreq)
    # An origin group's primary is read whole, so that a failover leaves nothing streaming.
    may_fail_over = p.config.failover_origin(behavior, default_origin, req["method"], None)
    resp = yield FetchOrigin(
        target, origin_id, oreq, send_body, event, whole=background or may_fail_over is not None
    )
    secondary = p.config.failover_origin(
        behavior,
        default_origin,
        req["method"],
        None if isinstance(resp, CloudFrontError) else resp.status,
    )
    if secondary is not None:
        # Origin failover: the request goes again, with origin-request, to the secondary
        # (docs/distributions.md "Origin groups"); the primary's answer is dropped.
        failed = resp.reason if isinstance(resp, CloudFrontError) else f"status {resp.status}"
        steps.append(
            TraceStep(
                "origin-response",
                False,
                skipped_because=f"origin group failover: {default_origin.id} answered {failed}",
            )
        )
        return (
            yield from origin_phase(
                p,
                behavior,
                req,
                given_body,
                key,
                stale,
                rid,
                viewer,
                steps,
                viewer_body=viewer_body,
                background=background,
                collect=collect,
                origin=secondary,
            )
        )
    now = p.clock()
    if isinstance(resp, CloudFrontError):
        steps.append(TraceStep("origin-response", False, skipped_because="origin unreachable"))
        if stale is not None and _stale_ok(stale, now):
            return (
                yield from _serve_stale(
                    p, resp.status, stale, now, req, viewer, rid, behavior, steps, background
                )
            )
        if background:
            return None
        return (yield from p._fail(resp, req, viewer, rid, behavior, steps, key=key))
    assert isinstance(resp, OriginResponse)
    origin_status = resp.status
    conditional = "if-none-match" in oreq["headers"] or "if-modified-since" in oreq["headers"]

    if stale is not None and origin_status == 304 and conditional:
        # Revalidated: reuse the cached body with the 304's headers (caching.md §1.7, C11/C12).
        steps.append(TraceStep("origin-response", False, skipped_because="304 revalidation"))
        merged = _merge_304(stale.headers, resp.headers)
        decision = decide_storage(
            stale.status,
            merged,
            behavior.cache,
            s,
            now,
            error_caching_min_ttl=_ecmt(p, stale.status),
        )
        refreshed = _entry(
            p, key, stale.status, stale.reason, merged, stale.body, decision, req, viewer, now
        )
        if s.age_after_refresh == "keep":
            refreshed = refreshed.with_changes(stored_at=stale.stored_at)
        yield Store(refreshed)
        if background:
            return None
        return (
            yield from p._hit(
                refreshed, "RefreshHit", req, viewer, rid, behavior, steps, contacted=True
            )
        )
    if stale is not None and origin_status >= 500 and _stale_ok(stale, now):
        steps.append(
            TraceStep("origin-response", False, skipped_because="stale served on origin error")
        )
        return (
            yield from _serve_stale(
                p, origin_status, stale, now, req, viewer, rid, behavior, steps, background
            )
        )

    status = resp.status
    reason = reason_phrase(status)
    headers = without(resp.headers, *HOP_BY_HOP)
    body = resp.body
    stream_rest = resp.streaming
    trig_r = behavior.origin_response
    if isinstance(trig_r, Trigger):
        shown = [(k, v) for k, v in headers if not is_disallowed(k.decode("latin-1").lower())]
        response: CFResponse = {
            "status": str(status),
            "statusDescription": reason,
            "headers": headers_from_raw(shown),
        }
        res_r = yield from p._response_trigger(
            "origin-response", trig_r, oreq, response, rid, steps
        )
        if isinstance(res_r, CloudFrontError):
            if background:
                return None
            return (yield from p._fail(res_r, req, viewer, rid, behavior, steps, key=key))
        assert isinstance(res_r, ResponseResult)
        hidden = [(k, v) for k, v in headers if is_disallowed(k.decode("latin-1").lower())]
        status, reason = res_r.status, res_r.status_description
        headers = headers_to_raw(res_r.headers) + hidden
        if res_r.body is not None:
            body, stream_rest = res_r.body, False
            headers = with_length(headers, body)
    else:
        steps.append(TraceStep("origin-response", False, skipped_because="no function"))

    if req["method"] != "HEAD":
        viewer_ae = normalize_accept_encoding(
            get_first(req["headers"], "accept-encoding"), behavior.cache, s
        )
        coding = choose_coding(behavior, viewer_ae, status, headers, viewer.http_version)
        if coding is not None:
            if stream_rest:
                rest, complete = yield ReadOriginBody(10_000_000)
                body += rest
                stream_rest = not complete
            if not stream_rest and _whole(headers, body):
                body, headers = compress(coding, body, headers)

    ttl_reason = ""
    # A 206 answers a Range the viewer sent; ranges are not assembled here, so a partial
    # object is never stored under the full object's key (caching.md §1.14).
    if storable and status != 206:
        decision = decide_storage(
            status, headers, behavior.cache, s, now, error_caching_min_ttl=_ecmt(p, status)
        )
        ttl_reason = decision.reason
        if decision.store:
            complete = True
            if stream_rest:
                rest, complete = yield ReadOriginBody(max(0, s.max_object_bytes - len(body)))
                body += rest
                stream_rest = not complete
            if complete and len(body) <= s.max_object_bytes and _whole(headers, body):
                yield Store(
                    _entry(p, key, status, reason, headers, body, decision, req, viewer, now)
                )
    if (
        s.invalidate_on_unsafe_methods
        and req["method"] in ("POST", "PUT", "PATCH", "DELETE")
        and status < 400
    ):
        # decisions.md #28 (RFC 9111 §4.4): a successful unsafe request drops the cached
        # objects for its path, with every query string.
        yield Invalidate([req["uri"], req["uri"] + "?*"])
    if collect:
        return status, reason, headers, body
    if background:
        return None
    return (
        yield from p._finish(
            status,
            reason,
            headers,
            body,
            stream_rest,
            "Miss",
            req,
            viewer,
            rid,
            behavior,
            steps,
            key=key,
            ttl_reason=ttl_reason,
            origin_request=oreq,
            origin_status=origin_status,
        )
    )


def _serve_stale(
    p: Pipeline,
    status: int,
    stale: CacheEntry,
    now: float,
    req: CFRequest,
    viewer: ViewerRequest,
    rid: str,
    behavior: Behavior,
    steps: list[TraceStep],
    background: bool,
) -> Gen:
    """Serve the expired copy and keep serving it for the error caching minimum TTL without
    asking the origin again (caching.md §1.4, C33)."""
    ecmt = _ecmt(p, status)
    hold = p.settings.error_caching_min_ttl if ecmt is None else ecmt
    held = stale.with_changes(
        error_until=now + hold, retain_until=max(stale.retain_until, now + hold)
    )
    yield Store(held)
    if background:
        return None
    return (
        yield from p._hit(
            held,
            p.settings.stale_if_error_x_cache,
            req,
            viewer,
            rid,
            behavior,
            steps,
            contacted=True,
        )
    )
