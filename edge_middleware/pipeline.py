"""CloudFront's request pipeline as a generator that does no IO (STYLE.md: one set of rules,
two thin front doors).

``Pipeline.run(viewer)`` yields effects (``effects.py``) and returns an :class:`Outcome`:

viewer ─► CloudFront's own checks (413, protocol policy, GET+body, methods)
       ─► [viewer-request] ─► cache lookup ─► (hit) ───────────────────────────┐
                               (miss/stale) ─► [origin-request] ─► origin        │
                                           ─► [origin-response] ─► store ───────┤
       ◄── [viewer-response] (skipped for status >= 400, generated answers) ◄──┘
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import unquote

from .cache.entry import CacheEntry
from .cache.rules import (
    cache_key,
    collapsible,
    cookies_forwarded,
    filter_vary,
    forwarded_to_origin,
)
from .config import Behavior, EdgeConfig, Origin, Trigger
from .convert import ViewerRequest, is_disallowed, reason_phrase
from .effects import CallHandler, JoinFlight, Lookup, Outcome, ReadBody, Refresh, TraceStep
from .exceptions import (
    CloudFrontError,
    LambdaExecutionError,
    LambdaTimeoutError,
    ViewerError,
)
from .handlers import HandlerRunner
from .headers import RawHeaders, get_first, headers_from_raw, headers_to_raw
from .origins import build_origin_object, cloudfront_headers
from .pipeline_origin import origin_phase
from .responses import error_page, new_request_id, via_id
from .types import CFHeaders, CFRequest, CFResponse, EventType
from .validation import (
    RequestResult,
    ResponseResult,
    copy_request,
    copy_response,
    validate_request_result,
    validate_response_result,
)

__all__ = ["Pipeline"]

logger = logging.getLogger("edge_middleware.pipeline")

Gen = Generator[Any, Any, Any]

#: Response headers that never reach a function or the viewer from the origin (§1.7, §5.2).
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
    }
)
_CF_ADDED = frozenset({b"via", b"x-cache", b"x-amz-cf-pop", b"x-amz-cf-id"})
_VIEWER_BODY_LIMIT = 40 * 1024
_ORIGIN_BODY_LIMIT = 1024 * 1024


class Pipeline:
    """The request-independent part: config, loaded handlers, clock. ``run`` is per request."""

    def __init__(self, config: EdgeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.settings = config.settings
        self.clock = clock
        self.runners: dict[int, HandlerRunner] = {}
        for behavior in config.all_behaviors:
            for ev in ("viewer-request", "origin-request", "origin-response", "viewer-response"):
                trig = behavior.trigger(ev)
                if trig is not None and id(trig) not in self.runners:
                    self.runners[id(trig)] = HandlerRunner(trig.handler, trig.display_name)
        self._via_host = f"{via_id(config.distribution_id)}.cloudfront.net (CloudFront)"
        self._pop = self.settings.pop.encode()
        self._origins_defined = len(config.origins) > 1 or config.origins[0].id != "default"

    # -- small builders ------------------------------------------------------------------------
    def _event(
        self, event_type: EventType, rid: str, request: Any, response: Any = None
    ) -> dict[str, Any]:
        cf: dict[str, Any] = {
            "config": {
                "distributionDomainName": self.config.distribution_domain_name,
                "distributionId": self.config.distribution_id,
                "eventType": event_type,
                "requestId": rid,
            },
            "request": request,
        }
        if response is not None:
            cf["response"] = response
        return {"Records": [{"cf": cf}]}

    def _via(self, http_version: str) -> bytes:
        return f"{'2.0' if http_version.startswith('2') else '1.1'} {self._via_host}".encode()

    def _edge_headers(
        self, headers: RawHeaders, x_cache: str, rid: str, http_version: str
    ) -> RawHeaders:
        out = [(k, v) for k, v in headers if k.lower() not in _CF_ADDED]
        out.append((b"Via", self._via(http_version)))
        out.append((b"X-Cache", x_cache.encode()))
        out.append((b"X-Amz-Cf-Pop", self._pop))
        out.append((b"X-Amz-Cf-Id", rid.encode()))
        return out

    def _error(
        self,
        err: CloudFrontError,
        rid: str,
        http_version: str,
        behavior: Behavior | None,
        steps: list[TraceStep],
    ) -> Outcome:
        status = err.status
        if isinstance(err, LambdaTimeoutError):
            status = self.settings.timeout_error_status
        elif isinstance(err, LambdaExecutionError):
            status = self.settings.execution_error_status
        headers, body = error_page(status, err, rid)
        return Outcome(
            status,
            reason_phrase(status),
            self._edge_headers(headers, err.x_cache, rid, http_version),
            body,
            result_type="Error",
            behavior=behavior,
            request_id=rid,
            error=err,
            steps=steps,
        )

    # -- triggers -----------------------------------------------------------------------------
    def _body_object(self, data: bytes, limit: int) -> dict[str, Any]:
        shown = data[:limit]
        return {
            "inputTruncated": len(data) > limit,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(shown).decode("ascii"),
        }

    def _request_trigger(
        self,
        event_type: EventType,
        trig: Trigger,
        request: CFRequest,
        body: bytes | None,
        rid: str,
        steps: list[TraceStep],
    ) -> Gen:
        """Run a request trigger. Returns RequestResult | ResponseResult | CloudFrontError."""
        before = request
        if trig.include_body and body is not None:
            limit = _VIEWER_BODY_LIMIT if event_type == "viewer-request" else _ORIGIN_BODY_LIMIT
            before = dict(request)  # type: ignore[assignment]
            before["body"] = self._body_object(body, limit)  # type: ignore[typeddict-item]
        timeout = (
            self.settings.viewer_timeout
            if event_type == "viewer-request"
            else self.settings.origin_timeout
        )
        event = self._event(event_type, rid, copy_request(before))
        step = TraceStep(event_type, True, event=self._event(event_type, rid, before))
        steps.append(step)
        t0 = time.perf_counter()
        runner = self.runners[id(trig)].invocation()  # captures what the handler prints
        result = yield CallHandler(runner, event, event_type, rid, timeout)
        step.duration = time.perf_counter() - t0
        step.output = runner.output
        if isinstance(result, CloudFrontError):
            step.error = result.reason
            return result
        step.result = result
        try:
            return validate_request_result(
                event_type,  # type: ignore[arg-type]
                before,
                result,
                self.settings,
                include_body=trig.include_body,
            )
        except CloudFrontError as exc:
            exc.handler = self.runners[id(trig)].name
            step.error, step.error_field = exc.reason, exc.field or ""
            logger.warning(
                "%s handler %s failed validation at %s: %s",
                event_type,
                exc.handler,
                exc.field,
                exc.reason,
            )
            return exc

    def _response_trigger(
        self,
        event_type: EventType,
        trig: Trigger,
        request: CFRequest,
        response: CFResponse,
        rid: str,
        steps: list[TraceStep],
    ) -> Gen:
        """Run a response trigger. Returns ResponseResult | CloudFrontError."""
        timeout = (
            self.settings.viewer_timeout
            if event_type == "viewer-response"
            else self.settings.origin_timeout
        )
        event = self._event(event_type, rid, copy_request(request), copy_response(response))
        step = TraceStep(event_type, True, event=self._event(event_type, rid, request, response))
        steps.append(step)
        t0 = time.perf_counter()
        runner = self.runners[id(trig)].invocation()  # captures what the handler prints
        result = yield CallHandler(runner, event, event_type, rid, timeout)
        step.duration = time.perf_counter() - t0
        step.output = runner.output
        if isinstance(result, CloudFrontError):
            step.error = result.reason
            return result
        step.result = result
        try:
            return validate_response_result(event_type, response, result, self.settings)  # type: ignore[arg-type]
        except CloudFrontError as exc:
            exc.handler = self.runners[id(trig)].name
            step.error, step.error_field = exc.reason, exc.field or ""
            logger.warning(
                "%s handler %s failed validation at %s: %s",
                event_type,
                exc.handler,
                exc.field,
                exc.reason,
            )
            return exc

    # -- the request --------------------------------------------------------------------------
    def run(self, viewer: ViewerRequest) -> Gen:
        s = self.settings
        rid = new_request_id()
        req = viewer.request
        hv = viewer.http_version
        steps: list[TraceStep] = []
        uri = req["uri"]
        behavior = self.config.match(uri if s.path_match == "raw" else unquote(uri))
        method = req["method"]

        # CloudFront's own answers: no function runs for them (lambda-edge.md §4).
        if viewer.header_bytes > 20480 or len(uri) + len(req["querystring"]) + 1 > 8192:
            return self._error(
                ViewerError(413, "The request headers or URL are too large."),
                rid,
                hv,
                behavior,
                steps,
            )
        if viewer.scheme == "http" and behavior.viewer_protocol_policy != "allow-all":
            if behavior.viewer_protocol_policy == "https-only":
                return self._error(
                    ViewerError(403, "This distribution only accepts HTTPS."),
                    rid,
                    hv,
                    behavior,
                    steps,
                )
            host = get_first(req["headers"], "host") or self.config.distribution_domain_name
            qs = req["querystring"]
            location = f"https://{host}{uri}" + (f"?{qs}" if qs else "")
            status = 301 if method in ("GET", "HEAD") else 307
            headers: RawHeaders = [
                (b"Server", b"CloudFront"),
                (b"Location", location.encode("latin-1", "replace")),
                (b"Content-Length", b"0"),
            ]
            return Outcome(
                status,
                reason_phrase(status),
                self._edge_headers(headers, "Redirect from cloudfront", rid, hv),
                b"",
                result_type="Redirect",
                behavior=behavior,
                request_id=rid,
                steps=steps,
            )
        if method in ("GET", "HEAD") and viewer.body_length != 0:
            return self._error(
                ViewerError(403, "A GET or HEAD request may not carry a body."),
                rid,
                hv,
                behavior,
                steps,
            )
        method_ok = method in behavior.allowed_methods
        bad_method = ViewerError(
            403,
            "This distribution is not configured to allow the HTTP request method that was "
            "used for this request. The distribution supports only cachable requests.",
        )
        if not method_ok and s.reject_method_before_viewer_request:
            return self._error(bad_method, rid, hv, behavior, steps)

        viewer_body: bytes | None = None
        send_body: bytes | None = None  # None: the viewer's body goes to the origin as is
        trig = behavior.viewer_request
        if isinstance(trig, Trigger):
            if trig.include_body and (viewer.body_length != 0 or s.body_for_bodyless_methods):
                viewer_body = yield ReadBody()
            res = yield from self._request_trigger(
                "viewer-request", trig, req, viewer_body, rid, steps
            )
            if isinstance(res, CloudFrontError):
                return self._error(res, rid, hv, behavior, steps)
            if isinstance(res, ResponseResult):
                return self._generated(res, rid, hv, behavior, steps)
            assert isinstance(res, RequestResult)
            req = res.request
            req.pop("body", None)
            if res.body is not None:
                send_body = res.body
        else:
            steps.append(TraceStep("viewer-request", False, skipped_because="no function"))
        if not method_ok:
            return self._error(bad_method, rid, hv, behavior, steps)

        policy = behavior.cache
        cacheable = (
            method in behavior.cached_methods
            and policy.max_ttl > 0
            and not behavior.forward_all_headers
        )
        key = ""
        stale: CacheEntry | None = None
        if cacheable:
            key = cache_key(
                method=method,
                host=self.config.distribution_domain_name,
                uri=req["uri"],
                querystring=req["querystring"],
                headers=req["headers"],
                policy=policy,
                settings=s,
            )
            entry = yield Lookup(key)
            if entry is not None and method == "HEAD" and not s.head_from_get:
                entry = None
            if entry is not None:
                now = self.clock()
                if now < entry.fresh_until:
                    return (yield from self._hit(entry, "Hit", req, viewer, rid, behavior, steps))
                if now < entry.error_until:
                    return (
                        yield from self._hit(
                            entry, s.stale_if_error_x_cache, req, viewer, rid, behavior, steps
                        )
                    )
                swr = entry.stale_while_revalidate
                if swr and now < entry.fresh_until + swr:
                    yield Refresh(
                        key,
                        self._origin(
                            behavior, req, send_body, key, entry, rid, viewer, [], background=True
                        ),
                    )
                    return (
                        yield from self._hit(
                            entry,
                            s.stale_while_revalidate_x_cache,
                            req,
                            viewer,
                            rid,
                            behavior,
                            steps,
                        )
                    )
                stale = entry
            if collapsible(policy, behavior.origin_request_policy):
                leader = yield JoinFlight(key, s.origin_timeout + 5)
                if not leader:
                    entry = yield Lookup(key)
                    if entry is not None and self.clock() < entry.fresh_until:
                        return (
                            yield from self._hit(entry, "Hit", req, viewer, rid, behavior, steps)
                        )
        return (
            yield from self._origin(
                behavior, req, send_body, key, stale, rid, viewer, steps, viewer_body=viewer_body
            )
        )

    # -- serving ------------------------------------------------------------------------------
    def _generated(
        self,
        res: ResponseResult,
        rid: str,
        hv: str,
        behavior: Behavior,
        steps: list[TraceStep],
    ) -> Outcome:
        """A viewer-request answer: straight back, never cached, no viewer-response."""
        body = res.body or b""
        headers = [(k, v) for k, v in headers_to_raw(res.headers) if k.lower() != b"content-length"]
        headers.append((b"Content-Length", str(len(body)).encode()))
        if not any(k.lower() == b"server" for k, _ in headers):
            headers.append((b"Server", b"CloudFront"))
        steps.append(
            TraceStep(
                "viewer-response", False, skipped_because="response generated by viewer-request"
            )
        )
        return Outcome(
            res.status,
            res.status_description,
            self._edge_headers(headers, "LambdaGeneratedResponse from cloudfront", rid, hv),
            body,
            result_type="LambdaGeneratedResponse",
            behavior=behavior,
            request_id=rid,
            steps=steps,
        )

    def _hit(
        self,
        entry: CacheEntry,
        label: str,
        req: CFRequest,
        viewer: ViewerRequest,
        rid: str,
        behavior: Behavior,
        steps: list[TraceStep],
        *,
        contacted: bool = False,
    ) -> Gen:
        now = self.clock()
        if not contacted:
            for ev in ("origin-request", "origin-response"):
                steps.append(TraceStep(ev, False, skipped_because="cache hit"))
        headers = [(k, v) for k, v in entry.headers if k.lower() not in (b"content-length", b"age")]
        headers.append((b"Content-Length", str(len(entry.body)).encode()))
        headers.append((b"Age", str(max(0, int(now - entry.stored_at))).encode()))
        status, body = entry.status, entry.body
        if self._not_modified(req, entry, behavior):
            status, body = 304, b""
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        return (
            yield from self._finish(
                status,
                entry.reason if status == entry.status else reason_phrase(304),
                headers,
                body,
                False,
                label.replace(" from cloudfront", ""),
                req,
                viewer,
                rid,
                behavior,
                steps,
                key=entry.key,
            )
        )

    def _not_modified(self, req: CFRequest, entry: CacheEntry, behavior: Behavior) -> bool:
        """decisions.md #37: answer a matching viewer conditional with 304 on a hit."""
        if not self.settings.viewer_conditionals or entry.status != 200:
            return False
        if cookies_forwarded(behavior.cache, behavior.origin_request_policy):
            return False
        inm = get_first(req["headers"], "if-none-match")
        if inm is not None:
            if entry.etag is None:
                return False
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or entry.etag.removeprefix("W/") in tags
        ims = get_first(req["headers"], "if-modified-since")
        return ims is not None and entry.last_modified is not None and ims == entry.last_modified

    def _finish(
        self,
        status: int,
        reason: str,
        headers: RawHeaders,
        body: bytes,
        stream_rest: bool,
        result_type: str,
        req: CFRequest,
        viewer: ViewerRequest,
        rid: str,
        behavior: Behavior,
        steps: list[TraceStep],
        *,
        key: str = "",
        ttl_reason: str = "",
        origin_request: CFRequest | None = None,
        origin_status: int | None = None,
    ) -> Gen:
        """Viewer-side filtering, the viewer-response trigger, CloudFront's headers."""
        hv = viewer.http_version
        x_cache = result_type if status < 400 else "Error"
        custom = self.config.error_response_for(status) if status >= 400 else None
        if custom is not None and custom.response_page_path:
            page = yield from self._custom_error_page(custom.response_page_path, req, viewer, rid)
            if page is not None:
                # CustomErrorResponses: the page replaces the body, ResponseCode the status, and
                # viewer-response does not run for a custom error page (lambda-edge.md §4).
                status = custom.response_code or status
                reason = reason_phrase(status)
                headers = [(k, v) for k, v in page[2] if k.lower() != b"content-length"]
                body, stream_rest = page[3], False
                headers.append((b"Content-Length", str(len(body)).encode()))
                steps.append(
                    TraceStep("viewer-response", False, skipped_because="custom error page")
                )
                return Outcome(
                    status,
                    reason,
                    self._edge_headers(headers, "Error from cloudfront", rid, hv),
                    body,
                    result_type="Error",
                    behavior=behavior,
                    request_id=rid,
                    cache_key=key,
                    ttl_reason=ttl_reason,
                    steps=steps,
                    origin_request=origin_request,
                    head=req["method"] == "HEAD",
                )
        if not cookies_forwarded(behavior.cache, behavior.origin_request_policy):
            headers = [(k, v) for k, v in headers if k.lower() != b"set-cookie"]
        forwarded = frozenset(behavior.cache.headers)
        headers = filter_vary(headers, forwarded, behavior.cache.min_ttl)
        judged = (
            status
            if self.settings.viewer_response_skip_status == "final"
            else (origin_status if origin_status is not None else status)
        )
        trig = behavior.viewer_response
        if not isinstance(trig, Trigger):
            steps.append(TraceStep("viewer-response", False, skipped_because="no function"))
        elif judged >= 400:
            steps.append(
                TraceStep("viewer-response", False, skipped_because="origin status >= 400")
            )
        else:
            shown = [
                (k, v)
                for k, v in headers
                if not is_disallowed(k.decode("latin-1").lower()) and k.lower() not in _HOP_BY_HOP
            ]
            shown.append((b"Via", self._via(hv)))
            response: CFResponse = {
                "status": str(status),
                "statusDescription": reason,
                "headers": headers_from_raw(shown),
            }
            res = yield from self._response_trigger(
                "viewer-response", trig, req, response, rid, steps
            )
            if isinstance(res, CloudFrontError):
                return self._error(res, rid, hv, behavior, steps)
            assert isinstance(res, ResponseResult)
            hidden = [(k, v) for k, v in headers if is_disallowed(k.decode("latin-1").lower())]
            headers = [
                (k, v) for k, v in headers_to_raw(res.headers) if k.lower() != b"via"
            ] + hidden
            if res.body is not None:  # only with EdgeSettings(viewer_response_body="allow")
                body, stream_rest = res.body, False
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"Content-Length", str(len(body)).encode()))
        return Outcome(
            status,
            reason,
            self._edge_headers(headers, f"{x_cache} from cloudfront", rid, hv),
            body,
            stream_rest=stream_rest,
            result_type=result_type,
            behavior=behavior,
            request_id=rid,
            cache_key=key,
            ttl_reason=ttl_reason,
            steps=steps,
            origin_request=origin_request,
            head=req["method"] == "HEAD",
        )

    def _custom_error_page(self, path: str, req: CFRequest, viewer: ViewerRequest, rid: str) -> Gen:
        """Fetch a custom error page through the behavior matching its path, from the cache
        or with that behavior's origin-side triggers; never viewer-request (decisions.md #48).
        Returns ``(status, reason, headers, body)`` or ``None`` when the page cannot be had."""
        behavior = self.config.match(path)
        page_req: CFRequest = {
            "clientIp": req["clientIp"],
            "headers": req["headers"],
            "method": "GET",
            "querystring": "",
            "uri": path,
        }
        key = ""
        if "GET" in behavior.cached_methods and behavior.cache.max_ttl > 0:
            key = cache_key(
                method="GET",
                host=self.config.distribution_domain_name,
                uri=path,
                querystring="",
                headers=req["headers"],
                policy=behavior.cache,
                settings=self.settings,
            )
            entry = yield Lookup(key)
            if entry is not None and self.clock() < entry.fresh_until:
                return entry.status, entry.reason, list(entry.headers), entry.body
        page_viewer = ViewerRequest(page_req, viewer.scheme, viewer.http_version, 0, 0)
        page = yield from origin_phase(
            self, behavior, page_req, None, key, None, rid, page_viewer, [], collect=True
        )
        if page is None or page[0] >= 400:
            return None
        return page

    # -- the origin side ----------------------------------------------------------------------
    def _origin_request(
        self,
        behavior: Behavior,
        origin: Origin,
        req: CFRequest,
        viewer: ViewerRequest,
        stale: CacheEntry | None,
        cacheable: bool,
    ) -> CFRequest:
        """The request CloudFront sends to the origin (lambda-edge.md §1.3, caching.md §1.5)."""
        s = self.settings
        qs, headers = forwarded_to_origin(
            req, behavior.cache, behavior.origin_request_policy, s, cacheable=cacheable
        )
        if behavior.forward_all_headers:
            headers = {k: [dict(e) for e in v] for k, v in req["headers"].items()}  # type: ignore[misc]
            headers.pop("host", None)
        viewer_host = get_first(req["headers"], "host")
        use_viewer_host = s.origin_host == "viewer" or (
            s.origin_host == "auto" and not self._origins_defined
        )
        if "host" in behavior.cache.headers or use_viewer_host:
            host = viewer_host or origin.domain_name
        else:
            host = origin.domain_name
        out: CFHeaders = {"host": [{"key": "Host", "value": host}]}
        out.update(headers)
        xff = get_first(req["headers"], "x-forwarded-for")
        client = req["clientIp"]
        out["x-forwarded-for"] = [
            {"key": "X-Forwarded-For", "value": f"{xff}, {client}" if xff else client}
        ]
        out["via"] = [{"key": "Via", "value": self._via(viewer.http_version).decode()}]
        if "user-agent" not in out:
            out["user-agent"] = [{"key": "User-Agent", "value": "Amazon CloudFront"}]
        out.update(cloudfront_headers(behavior, viewer, s))
        if stale is not None and not stale.no_conditional:
            if stale.etag:
                out["if-none-match"] = [{"key": "If-None-Match", "value": stale.etag}]
            if stale.last_modified:
                out["if-modified-since"] = [
                    {"key": "If-Modified-Since", "value": stale.last_modified}
                ]
        request: CFRequest = {
            "clientIp": client,
            "headers": out,
            "method": req["method"],
            "querystring": qs,
            "uri": req["uri"],
            "origin": build_origin_object(origin, viewer.scheme, s),
        }
        return request

    def _origin(
        self,
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
    ) -> Gen:
        return (
            yield from origin_phase(
                self,
                behavior,
                req,
                send_body,
                key,
                stale,
                rid,
                viewer,
                steps,
                viewer_body=viewer_body,
                background=background,
            )
        )
