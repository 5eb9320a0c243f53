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

from urllib.parse import unquote

from .cache.entry import CacheEntry
from .cache.rules import (
    cache_key,
    collapsible,
    forwarded_to_origin,
)
from .config import Behavior, Origin, Trigger, default_root_object
from .convert import ViewerRequest, reason_phrase
from .effects import JoinFlight, Lookup, Outcome, ReadBody, Refresh, TraceStep
from .exceptions import (
    CloudFrontError,
    ViewerError,
)
from .headers import RawHeaders, get_first
from .origins import cloudfront_headers
from .pipeline_base import Gen
from .pipeline_origin import origin_phase
from .pipeline_viewer import ViewerSide
from .response_headers import apply_response_headers_policy, preflight_response
from .responses import new_request_id
from .types import CFHeaders, CFRequest
from .validation import (
    RequestResult,
    ResponseResult,
)

__all__ = ["Gen", "Pipeline"]


class Pipeline(ViewerSide):
    """CloudFront's rules for one distribution. ``run(viewer)`` is one request."""

    def run(self, viewer: ViewerRequest) -> Gen:
        s = self.settings
        rid = new_request_id()
        req = viewer.request
        hv = viewer.http_version
        steps: list[TraceStep] = []
        uri = req["uri"]
        # DefaultRootObject: "/" is served as "/index.html", before behaviors are matched and
        # viewer-request runs (docs/distributions.md); redirects keep the viewer's "/".
        root = default_root_object(uri, self.config.default_root_object)
        if root != uri:
            req = {**req, "uri": root}
        behavior = self.config.match(root if s.path_match == "raw" else unquote(root))
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
                return (yield from self._fail(res, req, viewer, rid, behavior, steps))
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
        preflight = preflight_response(behavior.headers_policy, method, req["headers"])
        if preflight is not None:
            # A CORS preflight the behavior's response headers policy answers at the edge:
            # no cache, no origin, no viewer-response (docs/distributions.md).
            for ev in ("origin-request", "origin-response", "viewer-response"):
                steps.append(TraceStep(ev, False, skipped_because="CORS preflight answered"))
            answer = apply_response_headers_policy(
                behavior.headers_policy, req["headers"], preflight, pop=s.pop, request_id=rid
            )
            return Outcome(
                200,
                "OK",
                self._edge_headers(answer, "Miss from cloudfront", rid, hv),
                b"",
                result_type="Miss",
                behavior=behavior,
                request_id=rid,
                steps=steps,
            )

        policy = behavior.cache
        cacheable = (
            method in behavior.cached_methods
            and policy.max_ttl > 0
            and not behavior.forward_all_headers
        )
        key = ""
        stale: CacheEntry | None = None
        if cacheable:
            # CloudFront-* headers are added after viewer-request and overwrite what the viewer
            # sent, so the key uses CloudFront's values, never the viewer's (§3.1).
            added = cloudfront_headers(behavior, viewer, s)
            key = cache_key(
                method=method,
                host=self._key_host(req["headers"]),
                uri=req["uri"],
                querystring=req["querystring"],
                headers={**req["headers"], **added} if added else req["headers"],
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
        orp = behavior.origin_request_policy
        if s.origin_event_querystring == "all-only" and not (
            behavior.cache.query_strings == "all"
            or (orp is not None and orp.query_strings == "all")
        ):
            qs = ""  # decisions.md #1: origin events see a query string only with "all"
        if behavior.forward_all_headers:
            headers = {k: [dict(e) for e in v] for k, v in req["headers"].items()}  # type: ignore[misc]
            headers.pop("host", None)
        viewer_host = get_first(req["headers"], "host")
        if (
            "host" in behavior.cache.headers
            or self._viewer_host_to_origin
            or _orp_forwards_host(behavior)
        ):
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
            "origin": self._origin_object(origin, viewer.scheme),
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


def _orp_forwards_host(behavior: Behavior) -> bool:
    """An origin request policy that forwards the viewer's Host (AllViewer does;
    AllViewerExceptHostHeader does not; caching.md §1.5)."""
    orp = behavior.origin_request_policy
    if orp is None:
        return False
    if orp.headers in ("allViewer", "allViewerAndWhitelistCloudFront"):
        return True
    if orp.headers == "whitelist":
        return "host" in orp.header_names
    return orp.headers == "allExcept" and "host" not in orp.header_names
