"""The request-independent part of the pipeline: loaded handlers, event building, CloudFront's
headers and error responses, and running one trigger with validation. The states (``viewer.py``,
``origin.py``, ``respond.py``) receive it as ``p``."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from typing import Any

from ..cache.budget import BufferBudget
from ..cache.keys import keyed_path
from ..cache.rules import ForwardedHeaders, cookies_forwarded, forwarded_header_names
from ..config.model import Behavior, EdgeConfig, Origin, Trigger, default_root_object
from ..config.settings import function_settings
from ..core.convert import reason_phrase
from ..core.handlers import HandlerRunner
from ..core.headers import CLOUDFRONT_ADDED, RawHeaders
from ..core.limits import ORIGIN_BODY_LIMIT, VIEWER_BODY_LIMIT
from ..core.origins import FunctionOrigin, build_origin_object
from ..core.responses import error_page, new_request_id, via_id
from ..core.types import EVENT_TYPES, CFHeaders, CFOrigin, CFRequest, CFResponse, EventType
from ..core.validation import (
    copy_request,
    copy_response,
    shrink_for_trace,
    validate_request_result,
    validate_response_result,
)
from ..core.viewer import viewer_http_version
from ..exceptions import (
    CloudFrontError,
    HandlerLoadError,
    LambdaExecutionError,
    LambdaTimeoutError,
)
from .effects import CallHandler, Outcome, TraceStep
from .flow import Flow, State, Step

__all__ = ["PipelineBase"]

#: the names of the headers CloudFront sets on every answer, as written and in lower case
_TAIL = (b"Via", b"X-Cache", b"X-Amz-Cf-Pop", b"X-Amz-Cf-Id")
_TAIL_LOWER = tuple(name.lower() for name in _TAIL)

logger = logging.getLogger("edge_middleware.pipeline")


class PipelineBase:
    """The request-independent part: config, loaded handlers, clock."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Callable[[], float] = time.time,
        request_id: Callable[[], str] = new_request_id,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.clock = clock
        self.request_id = request_id
        self.runners: dict[int, HandlerRunner] = {}
        #: bytes all requests in flight may read into memory to store or compress a body
        self.buffers = BufferBudget(self.settings.max_buffered_bytes)
        mode = self.settings.handler_mode
        for behavior in config.all_behaviors:
            for ev in EVENT_TYPES:
                trig = behavior.trigger(ev)
                if trig is not None and id(trig) not in self.runners:
                    try:
                        self.runners[id(trig)] = HandlerRunner(
                            trig.handler, trig.display_name, mode
                        )
                    except HandlerLoadError as exc:  # name the behavior and trigger (issue 14)
                        where = f"Behavior({behavior.path_pattern!r}).{ev.replace('-', '_')}"
                        raise HandlerLoadError(where, exc.value, exc.expected) from exc
        self._via_host = f"{via_id(config.distribution_id)}.cloudfront.net (CloudFront)"
        self._vias: dict[str, bytes] = {}
        self._pop = self.settings.pop.encode()
        #: the settings a CloudFront Function's viewer-response result is judged by
        #: (function_settings)
        self._function_settings = function_settings(self.settings)
        self._origin_objects: dict[tuple[str, str], CFOrigin] = {}
        defined = config.origins_defined
        #: EdgeSettings.origin_host: the viewer's Host goes to the origin (then it is keyed).
        self._viewer_host_to_origin = self.settings.origin_host == "viewer" or (
            self.settings.origin_host == "auto" and not defined
        )
        self._origins_defined = defined
        #: per behavior, what its policies forward: the Vary names kept, whether cookies go
        #: (computed once: hashing a frozen policy on every request is not free)
        self.forwarded: dict[int, tuple[ForwardedHeaders, bool]] = {
            id(b): (
                forwarded_header_names(b.cache, b.origin_request_policy, b.forward_all_headers),
                cookies_forwarded(b.cache, b.origin_request_policy),
            )
            for b in config.all_behaviors
        }

    def fetch_bound(self, behavior: Behavior) -> float:
        """How long a request waits for the fetch in flight it joined (caching.md §1.9: "until
        the first response arrives"): the longest the leader's may take, its two origin
        functions and every attempt at ``behavior``'s origin (connect and read), with some
        slack. (A wait for another process's fill is capped by the storage:
        ``RedisStorage(fill_lock_ttl=...)``.) Waiters gave up after the origin function's
        timeout and each asked a slow origin themselves."""
        origin = self.config.origin_for(behavior)
        tries = origin.connection_attempts * (origin.connection_timeout + origin.read_timeout)
        return 2 * self.settings.origin_timeout + tries + 5

    def forwarded_for(self, behavior: Behavior) -> tuple[ForwardedHeaders, bool]:
        known = self.forwarded.get(id(behavior))
        if known is not None:
            return known
        return (
            forwarded_header_names(
                behavior.cache, behavior.origin_request_policy, behavior.forward_all_headers
            ),
            cookies_forwarded(behavior.cache, behavior.origin_request_policy),
        )

    def drive(self, flow: Flow, state: State) -> Step:
        """Run ``flow`` from ``state`` until it is done (``Pipeline`` implements it)."""
        raise NotImplementedError

    def _origin_object(self, origin: Origin, scheme: str) -> CFOrigin:
        """``request.origin`` depends only on the config and the scheme: built once each.
        Handlers get copies, so the shared object is never changed."""
        if type(origin) is FunctionOrigin:  # cf.updateRequestOrigin(): this request's own
            return build_origin_object(origin, scheme, self.settings)
        cache_key = (origin.id, scheme)
        obj = self._origin_objects.get(cache_key)
        if obj is None:
            obj = self._origin_objects[cache_key] = build_origin_object(
                origin, scheme, self.settings
            )
        return obj

    def _key_host(self, headers: CFHeaders, behavior: Behavior) -> str:
        """The host in the cache key: the distribution's domain, or the viewer's Host when
        EdgeSettings.origin_host sends it to the app (which may answer by host), or the
        behavior forwards it (an origin request policy such as AllViewer, legacy ``*``).
        CloudFront refuses a Host that is none of the distribution's names before any of
        this; here every Host is answered, so one that reaches the origin is keyed: a
        forged Host then never poisons the page other viewers get (docs/cache-rules.md)."""
        if (
            self._viewer_host_to_origin
            or behavior.forward_all_headers
            or policy_forwards_host(behavior)
        ):
            entries = headers.get("host")
            # as sent (the origin gets it so), and none is a key of its own, not the domain's
            return entries[0]["value"] if entries else ""
        return self.config.distribution_domain_name

    def entry_paths(self, f: Flow, qs: str) -> tuple[str, str]:
        """The paths an invalidation matches for an object ``f`` stores (``qs``: the query
        sent to the origin): the uri as the origin got it, and the one viewer-request was
        given (after DefaultRootObject: ``/`` served as ``/index.html`` that a function
        rewrote is ``/index.html``'s), each with the query as the key holds it."""
        policy, canonical = f.behavior.cache, self.settings.canonicalize_query
        viewer = f.viewer.request
        first = viewer["uri"]
        if f.req["uri"] != first:  # (DefaultRootObject or a function changed it)
            first = default_root_object(first, self.config.default_root_object)
        return (
            keyed_path(f.req["uri"], qs, policy, canonical),
            keyed_path(first, viewer["querystring"], policy, canonical),
        )

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
        known = self._vias.get(http_version)
        if known is None:
            # the first token follows the viewer's HTTP version (lambda-edge.md §1.3, §5.2)
            known = f"{viewer_http_version(http_version)} {self._via_host}".encode()
            if len(self._vias) < 16:  # a few versions exist; a hostile scope's are not kept
                self._vias[http_version] = known
        return known

    def _edge_headers(
        self, headers: RawHeaders, x_cache: str, rid: str, http_version: str
    ) -> RawHeaders:
        out = [(k, v) for k, v in headers if k.lower() not in CLOUDFRONT_ADDED]
        self._edge_tail(out, x_cache.encode(), rid.encode(), http_version)
        return out

    def _edge_tail(
        self, out: RawHeaders, x_cache: bytes, rid: bytes, http_version: str, lower: bool = False
    ) -> None:
        """Append the four headers CloudFront sets on every answer (``out`` holds none);
        ``lower``: their names in lower case (ASGI)."""
        via, cache, pop, cf_id = _TAIL_LOWER if lower else _TAIL
        out.append((via, self._via(http_version)))
        out.append((cache, x_cache))
        out.append((pop, self._pop))
        out.append((cf_id, rid))

    def error_outcome(
        self,
        err: CloudFrontError,
        rid: str,
        http_version: str,
        behavior: Behavior | None,
        steps: list[TraceStep],
    ) -> Outcome:
        """CloudFront's own error page for ``err``, with its headers."""
        status = err.status
        if isinstance(err, LambdaTimeoutError):
            status = self.settings.timeout_error_status
        elif isinstance(err, LambdaExecutionError):
            status = self.settings.execution_error_status
        headers, body = error_page(status, err, rid)
        seen = {step.event_type for step in steps if not step.page}
        # "Error" is X-Cache's name for CloudFront's own answers (a refused method, an origin
        # it could not reach): the trace says "CloudFront error response", not "Error error"
        name = "CloudFront" if err.error_name == "Error" else err.error_name
        for event_type in EVENT_TYPES:
            if event_type not in seen:
                steps.append(
                    TraceStep(
                        event_type,
                        False,
                        skipped_because=f"{name} error response (status {status} >= 400)"
                        if event_type == "viewer-response"
                        else f"{name} error response",
                    )
                )
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

    def error(self, f: Flow, err: CloudFrontError) -> Outcome:
        return self.error_outcome(err, f.rid, f.hv, f.behavior, f.steps)

    # -- triggers -----------------------------------------------------------------------------
    def _body_object(self, data: bytes, limit: int) -> dict[str, Any]:
        shown = data[:limit]
        return {
            "inputTruncated": len(data) > limit,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(shown).decode("ascii"),
        }

    def _call(
        self,
        event_type: EventType,
        trig: Trigger,
        f: Flow,
        given: dict[str, Any],
        traced: dict[str, Any],
    ) -> Step:
        """Run one handler on ``given`` (its own copy of the event) within its event's timeout
        (5 s viewer, 30 s origin) and record a TraceStep showing ``traced``. Returns
        ``(result, step)``; the result is a CloudFrontError if the handler raised or hung."""
        viewer = event_type in ("viewer-request", "viewer-response")
        timeout = self.settings.viewer_timeout if viewer else self.settings.origin_timeout
        step = TraceStep(event_type, True, event=traced)
        f.steps.append(step)
        t0 = time.perf_counter()
        runner = self.runners[id(trig)].invocation()  # captures what the handler prints
        result = yield CallHandler(runner, given, event_type, f.rid, timeout)
        step.duration = time.perf_counter() - t0
        step.output = runner.output
        if isinstance(result, CloudFrontError):
            step.error = result.reason
        else:
            step.result = result
        if (shown := runner.trace) is not None:  # a CloudFront Function: its own event shape
            step.event, step.origin_change = shown["event"], shown.get("origin")
            step.result = shown.get("result", step.result)
        return result, step

    def _invalid(
        self, exc: CloudFrontError, event_type: EventType, trig: Trigger, step: TraceStep
    ) -> CloudFrontError:
        runner = self.runners[id(trig)]
        # A CloudFront Function reports its own error name (FunctionValidationError).
        rename = getattr(runner.func, "validation_error", None)
        if rename is not None:
            exc = rename(exc)
        exc.handler = runner.name
        step.error, step.error_field = exc.reason, exc.field or ""
        # A rejected result may be huge: keep a cut copy, and no traceback whose frames would
        # keep the result (and validation's copy of it) alive with the request's record.
        step.result = shrink_for_trace(step.result)
        exc.__traceback__ = None
        logger.warning(
            "%s handler %s failed validation at %s: %s",
            event_type,
            exc.handler,
            exc.field,
            exc.reason,
        )
        return exc

    def request_trigger(
        self,
        event_type: EventType,
        trig: Trigger,
        f: Flow,
        request: CFRequest,
        body: bytes | None,
    ) -> Step:
        """Run a request trigger. Returns RequestResult | ResponseResult | CloudFrontError."""
        rid = f.rid
        before = request
        if trig.include_body and body is not None:
            limit = VIEWER_BODY_LIMIT if event_type == "viewer-request" else ORIGIN_BODY_LIMIT
            before = dict(request)  # type: ignore[assignment]
            before["body"] = self._body_object(body, limit)  # type: ignore[typeddict-item]
        result, step = yield from self._call(
            event_type,
            trig,
            f,
            self._event(event_type, rid, copy_request(before)),
            self._event(event_type, rid, before),
        )
        if isinstance(result, CloudFrontError):
            return result
        try:
            return validate_request_result(
                event_type,  # type: ignore[arg-type]
                before,
                result,
                self.settings,
                include_body=trig.include_body,
            )
        except CloudFrontError as exc:
            return self._invalid(exc, event_type, trig, step)

    def response_trigger(
        self,
        event_type: EventType,
        trig: Trigger,
        f: Flow,
        request: CFRequest,
        response: CFResponse,
    ) -> Step:
        """Run a response trigger. Returns ResponseResult | CloudFrontError."""
        rid = f.rid
        result, step = yield from self._call(
            event_type,
            trig,
            f,
            self._event(event_type, rid, copy_request(request), copy_response(response)),
            self._event(event_type, rid, request, response),
        )
        if isinstance(result, CloudFrontError):
            return result
        settings = self.settings
        if getattr(self.runners[id(trig)].func, "sets_viewer_response_body", False):
            settings = self._function_settings  # a CloudFront Function (§8)
        try:
            return validate_response_result(event_type, response, result, settings)  # type: ignore[arg-type]
        except CloudFrontError as exc:
            return self._invalid(exc, event_type, trig, step)


def policy_forwards_host(behavior: Behavior) -> bool:
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
