"""Run one handler as CloudFront does: :func:`run_trigger`, :class:`FakeContext`."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..config.behavior import handler_name
from ..config.settings import EdgeSettings, function_settings
from ..core.handlers import HandlerRunner, LambdaContext
from ..core.responses import new_request_id
from ..core.types import CFRequest, CFResponse, EventType
from ..core.validation import (
    RequestResult,
    ResponseResult,
    validate_request_result,
    validate_response_result,
)
from ..exceptions import CloudFrontError, LambdaExecutionError, LambdaTimeoutError
from .events import complete_event

__all__ = ["FakeContext", "arun_trigger", "run_trigger"]


@dataclass
class FakeContext(LambdaContext):
    """The Lambda ``context`` a handler receives (the same class the middleware passes):
    ``function_name``, ``aws_request_id`` (a UUID of its own, as each Lambda invocation has),
    ``get_remaining_time_in_millis()`` counting down from ``timeout`` seconds (5 for viewer
    events, 30 for origin events).

    Example::

        ctx = FakeContext.for_event(event)          # the event's timeout
        assert handler(event, ctx)["uri"] == "/"
    """

    function_name: str = "test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout: float = 5.0

    @classmethod
    def for_event(
        cls,
        event: Mapping[str, Any],
        function_name: str = "test-function",
        settings: EdgeSettings | None = None,
    ) -> FakeContext:
        """A context with the event's timeout (lambda-edge.md §3.4) and, as on Lambda, its own
        ``aws_request_id`` (CloudFront's ``requestId`` is in the event)."""
        event_type = _record(event)["config"]["eventType"]
        return cls(function_name, timeout=_timeout(event_type, settings))


def _record(event: Mapping[str, Any], event_type: str | None = None) -> dict[str, Any]:
    """``Records[0].cf`` of the completed event (:func:`complete_event`)."""
    return cast(dict[str, Any], complete_event(event, event_type)["Records"][0]["cf"])


def _timeout(event_type: str, settings: EdgeSettings | None) -> float:
    s = settings or EdgeSettings()
    return s.viewer_timeout if event_type.startswith("viewer") else s.origin_timeout


class _Prepared:
    """What both ``run_trigger`` flavours share: the runner, the event copy, the checks."""

    def __init__(
        self,
        handler: str | Callable[..., Any],
        event: Mapping[str, Any],
        settings: EdgeSettings | None,
        include_body: bool | None,
        event_type: str | None = None,
    ) -> None:
        event = complete_event(event, event_type)
        cf = event["Records"][0]["cf"]
        self.settings = settings or EdgeSettings()
        self.event_type: EventType = cf["config"]["eventType"]
        self.request_id = str(cf["config"].get("requestId") or new_request_id())
        self.timeout = _timeout(self.event_type, self.settings)
        self.before_request = cast(CFRequest, copy.deepcopy(cf["request"]))
        self.before_response = cast(CFResponse | None, copy.deepcopy(cf.get("response")))
        self.include_body = "body" in cf["request"] if include_body is None else include_body
        # named, and run where EdgeSettings.handler_mode says, as in the middleware
        self.runner = HandlerRunner(handler, handler_name(handler), self.settings.handler_mode)
        self.event = copy.deepcopy(dict(event))  # the handler may mutate its own copy

    def configured(self, exc: LambdaExecutionError) -> None:
        """The status the middleware answers for ``exc`` with these settings
        (``pipeline.base`` ``error_outcome``; decisions.md #17, #18)."""
        if isinstance(exc, LambdaTimeoutError):
            exc.status = self.settings.timeout_error_status
        else:
            exc.status = self.settings.execution_error_status

    def finish(self, result: object) -> dict[str, Any]:
        try:
            if self.event_type in ("viewer-request", "origin-request"):
                checked = validate_request_result(
                    self.event_type,
                    self.before_request,
                    result,
                    self.settings,
                    include_body=self.include_body,
                )
            else:
                assert self.before_response is not None  # checked in __init__
                settings = self.settings
                if getattr(self.runner.func, "sets_viewer_response_body", False):
                    settings = function_settings(settings)  # a CloudFront Function (§8)
                checked = validate_response_result(
                    self.event_type,  # type: ignore[arg-type]
                    self.before_response,
                    result,
                    settings,
                )
        except CloudFrontError as exc:
            # as the middleware judges it: a CloudFront Function's own error name
            rename = getattr(self.runner.func, "validation_error", None)
            failure = exc if rename is None else rename(exc)
            failure.handler = self.runner.name
            if failure is exc:
                raise
            raise failure from None
        return _as_dict(checked, result)


def _as_dict(checked: RequestResult | ResponseResult, raw: object) -> dict[str, Any]:
    if isinstance(checked, RequestResult):
        return cast(dict[str, Any], checked.request)
    out: dict[str, Any] = {
        "status": str(checked.status),
        "statusDescription": checked.status_description,
        "headers": checked.headers,
    }
    if checked.body is not None:
        encoding = raw.get("bodyEncoding", "text") if isinstance(raw, dict) else "text"
        if encoding == "base64":
            out["body"] = base64.b64encode(checked.body).decode("ascii")
        else:
            out["body"] = checked.body.decode("utf-8", "surrogatepass")
        out["bodyEncoding"] = encoding
    return out


def run_trigger(
    handler: str | Callable[..., Any],
    event: Mapping[str, Any],
    *,
    settings: EdgeSettings | None = None,
    include_body: bool | None = None,
    event_type: str | None = None,
) -> dict[str, Any]:
    """Run one Lambda@Edge handler on ``event`` as CloudFront would, and check its result.

    The handler (a callable, ``async def`` too, or ``"module:function"``) gets a copy of the
    event and a :class:`FakeContext`, and must finish within the event's timeout (5 s viewer,
    30 s origin events; ``settings`` may change them). Its result is validated like
    CloudFront validates it (:func:`~edge_middleware.core.validation.validate_request_result`,
    :func:`~edge_middleware.core.validation.validate_response_result`).

    Called where an event loop already runs (an async test, a notebook cell; there, prefer
    ``await`` :func:`arun_trigger`), an ``async def`` handler runs on a helper thread's own
    loop while this call waits.

    :param settings: the :class:`~edge_middleware.EdgeSettings` for timeouts and validation.
    :param include_body: the association's ``IncludeBody``; default: whether the event's
        request has a ``body``.
    :param event_type: the event type, for events without ``config.eventType`` (those of
        ``sam local generate-event cloudfront``); without it the type is inferred from the
        event's shape. Missing fields CloudFront always sends are filled in
        (:func:`~edge_middleware.testing.events.complete_event`).
    :returns: the normalised result as a plain dict: the request (request triggers), or a
        response with ``status`` as a string and, when a body was set, ``body`` as text or
        base64 with its ``bodyEncoding``.
    :raises LambdaValidationError: the result would be a 502 on CloudFront (``.field`` names
        the offending item).
    :raises LambdaExecutionError: the handler raised (``.status`` 503, or the settings'
        ``execution_error_status``, as the middleware answers).
    :raises LambdaTimeoutError: the handler ran past its timeout (``.status`` 503, or the
        settings' ``timeout_error_status``).
    :raises EventError: ``event`` is not a Lambda@Edge event (``.field`` names what is missing).

    Example::

        event = EventBuilder().origin_response("/", status=200)
        result = run_trigger("handlers.security_headers:handler", event)
        assert "strict-transport-security" in result["headers"]
    """
    prepared = _Prepared(handler, event, settings, include_body, event_type)
    try:
        result = prepared.runner.call_sync(prepared.event, prepared.request_id, prepared.timeout)
    except LambdaExecutionError as exc:
        prepared.configured(exc)
        raise
    return prepared.finish(result)


async def arun_trigger(
    handler: str | Callable[..., Any],
    event: Mapping[str, Any],
    *,
    settings: EdgeSettings | None = None,
    include_body: bool | None = None,
    event_type: str | None = None,
) -> dict[str, Any]:
    """:func:`run_trigger` for async tests: sync handlers run on a worker thread."""
    prepared = _Prepared(handler, event, settings, include_body, event_type)
    try:
        result = await prepared.runner.call_async(
            prepared.event, prepared.request_id, prepared.timeout
        )
    except LambdaExecutionError as exc:
        prepared.configured(exc)
        raise
    return prepared.finish(result)
