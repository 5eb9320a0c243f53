"""Helpers for testing Lambda@Edge handlers and apps wrapped in the edge middleware.

* :class:`EventBuilder` builds the four CloudFront event dicts with CloudFront's defaults;
* :func:`run_trigger` runs one handler the way CloudFront does (timeout, validation) and
  returns its normalised result, or raises the CloudFront error;
* :class:`FakeContext` is the Lambda ``context`` a handler receives;
* :class:`EdgeClock`, :func:`wrap_app` and :func:`edge_test_client` back the pytest fixtures
  (``edge_event``, ``edge_clock``, ``edge_client``) of :mod:`edge_middleware.pytest_plugin`.

Example::

    from edge_middleware.testing import EventBuilder, run_trigger

    event = EventBuilder().viewer_request("/account/", headers={"Cookie": "sid=1"})
    result = run_trigger("handlers.auth:handler", event)
    assert result["uri"] == "/account/"
"""

from __future__ import annotations

import base64
import copy
import inspect
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

from .config import Origin
from .exceptions import CloudFrontError
from .handlers import HandlerRunner, LambdaContext
from .origins import build_origin_object
from .responses import new_request_id, via_id
from .settings import EdgeSettings
from .types import EVENT_TYPES, CFRequest, CFResponse, EventType
from .validation import (
    RequestResult,
    ResponseResult,
    validate_request_result,
    validate_response_result,
)

if TYPE_CHECKING:
    from starlette.testclient import TestClient
    from werkzeug.test import Client

__all__ = [
    "EdgeClock",
    "EventBuilder",
    "FakeContext",
    "arun_trigger",
    "edge_test_client",
    "is_asgi_app",
    "run_trigger",
    "wrap_app",
]

#: What the builder's ``headers=`` accepts: a mapping (a value may be a list of repeats),
#: a list of ``(name, value)`` pairs (repeats kept, in order), or a CloudFront header map.
HeadersArg = (
    Mapping[str, str | Sequence[str] | Sequence[Mapping[str, str]]] | Iterable[tuple[str, str]]
)

DEFAULT_DOMAIN = "d111111abcdef8.cloudfront.net"
DEFAULT_DISTRIBUTION_ID = "EDFDVBD6EXAMPLE"
DEFAULT_CLIENT_IP = "203.0.113.178"
DEFAULT_USER_AGENT = "curl/8.5.0"
DEFAULT_ORIGIN_DOMAIN = "example.org"
#: lambda-edge.md §1.5: the exposed body is cut at 40 KB (viewer) / 1 MB (origin).
_BODY_LIMITS = {"viewer-request": 40 * 1024, "origin-request": 1024 * 1024}


def _header_map(headers: HeadersArg | None) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    if headers is None:
        return out
    pairs: list[tuple[str, str]] = []
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if isinstance(value, str):
                pairs.append((name, value))
                continue
            for item in value:
                if isinstance(item, Mapping):  # already {"key", "value"} entries
                    pairs.append((str(item.get("key") or name), str(item["value"])))
                else:
                    pairs.append((name, str(item)))
    else:
        pairs = [(str(name), str(value)) for name, value in headers]
    for name, value in pairs:
        out.setdefault(name.lower(), []).append({"key": name, "value": value})
    return out


def _with_defaults(
    given: dict[str, list[dict[str, str]]], defaults: Sequence[tuple[str, str]]
) -> dict[str, list[dict[str, str]]]:
    """Defaults first (CloudFront's order), for the names the caller did not give."""
    out: dict[str, list[dict[str, str]]] = {}
    for name, value in defaults:
        if name.lower() not in given:
            out[name.lower()] = [{"key": name, "value": value}]
    out.update(given)
    return out


class EventBuilder:
    """Builds Lambda@Edge event dicts, shaped and defaulted as CloudFront sends them.

    Every method returns a fresh plain dict ``{"Records": [{"cf": {...}}]}``. Events from one
    builder share one ``requestId``, as the four events of one viewer request do.

    :param distribution_domain_name: ``config.distributionDomainName``.
    :param distribution_id: ``config.distributionId``.
    :param request_id: ``config.requestId``; default a random 56-character id.
    :param client_ip: ``request.clientIp``.
    :param host: the viewer's ``Host`` header; default the distribution domain name.
    :param user_agent: the viewer's ``User-Agent``.
    :param origin_domain: the custom origin's domain in origin events (their ``Host``).

    Example::

        events = EventBuilder()
        vr = events.viewer_request("/a?b=1", headers={"Cookie": "x=1"})
        orq = events.origin_request("/form", method="POST", body=b"a=1", include_body=True)
        ors = events.origin_response("/missing", status=404)
    """

    def __init__(
        self,
        *,
        distribution_domain_name: str = DEFAULT_DOMAIN,
        distribution_id: str = DEFAULT_DISTRIBUTION_ID,
        request_id: str | None = None,
        client_ip: str = DEFAULT_CLIENT_IP,
        host: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        origin_domain: str = DEFAULT_ORIGIN_DOMAIN,
    ) -> None:
        self.distribution_domain_name = distribution_domain_name
        self.distribution_id = distribution_id
        self.request_id = request_id or new_request_id()
        self.client_ip = client_ip
        self.host = host or distribution_domain_name
        self.user_agent = user_agent
        self.origin_domain = origin_domain

    # -- the four events ----------------------------------------------------------------------
    def viewer_request(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: HeadersArg | None = None,
        body: bytes | str | None = None,
        include_body: bool | None = None,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """A ``viewer-request`` event. ``body`` is exposed (base64) when ``include_body`` is
        true, which is the default when a body is given."""
        return self.event(
            "viewer-request",
            path,
            method=method,
            headers=headers,
            body=body,
            include_body=include_body,
            client_ip=client_ip,
        )

    def origin_request(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: HeadersArg | None = None,
        body: bytes | str | None = None,
        include_body: bool | None = None,
        client_ip: str | None = None,
        origin: Mapping[str, Any] | Origin | None = None,
    ) -> dict[str, Any]:
        """An ``origin-request`` event, with CloudFront's ``Via``, ``X-Forwarded-For`` and
        ``User-Agent: Amazon CloudFront`` and a ``request.origin`` object (default: a custom
        origin at :attr:`origin_domain`; pass a dict or an :class:`~edge_middleware.Origin`)."""
        return self.event(
            "origin-request",
            path,
            method=method,
            headers=headers,
            body=body,
            include_body=include_body,
            client_ip=client_ip,
            origin=origin,
        )

    def origin_response(
        self,
        path: str = "/",
        *,
        status: int | str = 200,
        status_description: str | None = None,
        response_headers: HeadersArg | None = None,
        method: str = "GET",
        headers: HeadersArg | None = None,
        client_ip: str | None = None,
        origin: Mapping[str, Any] | Origin | None = None,
    ) -> dict[str, Any]:
        """An ``origin-response`` event: the origin-side request and the origin's response.

        ``response_headers`` default to ``Content-Type: text/html; charset=utf-8``; given (even
        empty), they are exactly the response's headers. The body is never exposed (§1.7)."""
        return self.event(
            "origin-response",
            path,
            method=method,
            headers=headers,
            client_ip=client_ip,
            origin=origin,
            status=status,
            status_description=status_description,
            response_headers=response_headers,
        )

    def viewer_response(
        self,
        path: str = "/",
        *,
        status: int | str = 200,
        status_description: str | None = None,
        response_headers: HeadersArg | None = None,
        method: str = "GET",
        headers: HeadersArg | None = None,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """A ``viewer-response`` event: the viewer's request and the response about to be
        sent (headers as for :meth:`origin_response`)."""
        return self.event(
            "viewer-response",
            path,
            method=method,
            headers=headers,
            client_ip=client_ip,
            status=status,
            status_description=status_description,
            response_headers=response_headers,
        )

    # -- the general form ---------------------------------------------------------------------
    def event(
        self,
        event_type: EventType | str,
        path: str = "/",
        *,
        method: str = "GET",
        headers: HeadersArg | None = None,
        body: bytes | str | None = None,
        include_body: bool | None = None,
        client_ip: str | None = None,
        origin: Mapping[str, Any] | Origin | None = None,
        status: int | str = 200,
        status_description: str | None = None,
        response_headers: HeadersArg | None = None,
    ) -> dict[str, Any]:
        """Any of the four events by its ``eventType``; the keywords that do not apply to
        that event (``status`` for request events, ``origin`` for viewer events) are ignored.

        :raises ValueError: for an unknown event type, a path not starting with ``/``, or a
            body for a response event (CloudFront never exposes one there).
        """
        if event_type not in EVENT_TYPES:
            raise ValueError(f"event_type {event_type!r}: expected one of {EVENT_TYPES}")
        ev: EventType = event_type
        uri, _, querystring = path.partition("?")
        if not uri.startswith("/"):
            raise ValueError(f"path {path!r}: expected a path starting with '/'")
        is_response = ev in ("origin-response", "viewer-response")
        if is_response and body is not None:
            raise ValueError(f"{ev} events carry no body (lambda-edge.md §1.7)")
        ip = client_ip or self.client_ip
        given = _header_map(headers)
        request: dict[str, Any] = {"clientIp": ip, "headers": {}, "method": method.upper()}
        request["querystring"] = querystring
        request["uri"] = uri
        if ev.startswith("viewer"):
            request["headers"] = _with_defaults(
                given, [("Host", self.host), ("User-Agent", self.user_agent)]
            )
        else:
            origin_obj = self._origin(origin)
            target = origin_obj.get("custom") or origin_obj.get("s3") or {}
            request["headers"] = _with_defaults(
                given,
                [
                    ("Host", str(target.get("domainName", self.origin_domain))),
                    ("Via", f"2.0 {via_id(self.distribution_id)}.cloudfront.net (CloudFront)"),
                    ("X-Forwarded-For", ip),
                    ("User-Agent", "Amazon CloudFront"),
                ],
            )
            request["origin"] = origin_obj
        if not is_response and (include_body or (include_body is None and body is not None)):
            data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
            limit = _BODY_LIMITS[ev]
            request["body"] = {
                "inputTruncated": len(data) > limit,
                "action": "read-only",
                "encoding": "base64",
                "data": base64.b64encode(data[:limit]).decode("ascii"),
            }
        cf: dict[str, Any] = {
            "config": {
                "distributionDomainName": self.distribution_domain_name,
                "distributionId": self.distribution_id,
                "eventType": ev,
                "requestId": self.request_id,
            },
            "request": request,
        }
        if is_response:
            code = int(status)
            if status_description is None:
                try:
                    status_description = HTTPStatus(code).phrase
                except ValueError:
                    status_description = ""
            if response_headers is None:
                response_headers = {"Content-Type": "text/html; charset=utf-8"}
            cf["response"] = {
                "status": str(code),
                "statusDescription": status_description,
                "headers": _header_map(response_headers),
            }
        return {"Records": [{"cf": cf}]}

    def _origin(self, origin: Mapping[str, Any] | Origin | None) -> dict[str, Any]:
        if isinstance(origin, Origin):
            return cast(dict[str, Any], build_origin_object(origin, "https", EdgeSettings()))
        if origin is not None:
            return copy.deepcopy(dict(origin))
        return {
            "custom": {
                "customHeaders": {},
                "domainName": self.origin_domain,
                "keepaliveTimeout": 5,
                "path": "",
                "port": 443,
                "protocol": "https",
                "readTimeout": 30,
                "sslProtocols": ["TLSv1", "TLSv1.1", "TLSv1.2"],
            }
        }


@dataclass
class FakeContext(LambdaContext):
    """The Lambda ``context`` a handler receives (the same class the middleware passes):
    ``function_name``, ``aws_request_id``, ``get_remaining_time_in_millis()`` counting down
    from ``timeout`` seconds (5 for viewer events, 30 for origin events).

    Example::

        ctx = FakeContext.for_event(event)          # timeout and request id from the event
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
        """A context with the event's timeout (lambda-edge.md §3.4) and ``requestId``."""
        config = _record(event)["config"]
        return cls(function_name, str(config["requestId"]), _timeout(config["eventType"], settings))


def _record(event: Mapping[str, Any]) -> dict[str, Any]:
    try:
        cf = event["Records"][0]["cf"]
        if cf["config"]["eventType"] not in EVENT_TYPES or not isinstance(cf["request"], dict):
            raise ValueError
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(
            "event: expected "
            '{"Records": [{"cf": {"config": {"eventType": ...}, "request": {...}}}]}'
        ) from None
    return cast(dict[str, Any], cf)


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
    ) -> None:
        cf = _record(event)
        self.settings = settings or EdgeSettings()
        self.event_type: EventType = cf["config"]["eventType"]
        self.request_id = str(cf["config"].get("requestId") or new_request_id())
        self.timeout = _timeout(self.event_type, self.settings)
        self.before_request = cast(CFRequest, copy.deepcopy(cf["request"]))
        self.before_response = cast(CFResponse | None, copy.deepcopy(cf.get("response")))
        if self.event_type.endswith("response") and self.before_response is None:
            raise ValueError(f"event: a {self.event_type} event needs Records[0].cf.response")
        self.include_body = "body" in cf["request"] if include_body is None else include_body
        name = handler if isinstance(handler, str) else _callable_name(handler)
        self.runner = HandlerRunner(handler, name)
        self.event = copy.deepcopy(dict(event))  # the handler may mutate its own copy

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
                checked = validate_response_result(
                    self.event_type,  # type: ignore[arg-type]
                    self.before_response,
                    result,
                    self.settings,
                )
        except CloudFrontError as exc:
            exc.handler = self.runner.name
            raise
        return _as_dict(checked, result)


def _callable_name(handler: Callable[..., Any]) -> str:
    mod = getattr(handler, "__module__", "") or ""
    qual = getattr(handler, "__qualname__", type(handler).__name__)
    return f"{mod}:{qual}" if mod else str(qual)


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
) -> dict[str, Any]:
    """Run one Lambda@Edge handler on ``event`` as CloudFront would, and check its result.

    The handler (a callable, ``async def`` too, or ``"module:function"``) gets a copy of the
    event and a :class:`FakeContext`, and must finish within the event's timeout (5 s viewer,
    30 s origin events; ``settings`` may change them). Its result is validated like
    CloudFront validates it (:func:`~edge_middleware.validation.validate_request_result`,
    :func:`~edge_middleware.validation.validate_response_result`).

    :param settings: the :class:`~edge_middleware.EdgeSettings` for timeouts and validation.
    :param include_body: the association's ``IncludeBody``; default: whether the event's
        request has a ``body``.
    :returns: the normalised result as a plain dict: the request (request triggers), or a
        response with ``status`` as a string and, when a body was set, ``body`` as text or
        base64 with its ``bodyEncoding``.
    :raises LambdaValidationError: the result would be a 502 on CloudFront (``.field`` names
        the offending item).
    :raises LambdaExecutionError: the handler raised (503).
    :raises LambdaTimeoutError: the handler ran past its timeout (503).

    Example::

        event = EventBuilder().origin_response("/", status=200)
        result = run_trigger("handlers.security_headers:handler", event)
        assert "strict-transport-security" in result["headers"]
    """
    prepared = _Prepared(handler, event, settings, include_body)
    result = prepared.runner.call_sync(prepared.event, prepared.request_id, prepared.timeout)
    return prepared.finish(result)


async def arun_trigger(
    handler: str | Callable[..., Any],
    event: Mapping[str, Any],
    *,
    settings: EdgeSettings | None = None,
    include_body: bool | None = None,
) -> dict[str, Any]:
    """:func:`run_trigger` for async tests: sync handlers run on a worker thread."""
    prepared = _Prepared(handler, event, settings, include_body)
    result = await prepared.runner.call_async(prepared.event, prepared.request_id, prepared.timeout)
    return prepared.finish(result)


class EdgeClock:
    """A clock for ``clock=``: call it for the time; it moves only when told to.

    Example::

        clock = EdgeClock()
        app = EdgeMiddleware(app, config=config, clock=clock)
        clock.advance(3600)                     # an hour later: the cached copy is stale
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError(f"seconds {seconds!r}: a clock only moves forward")
        self.now += seconds
        return self.now

    def set(self, when: float) -> None:
        """Jump to ``when`` (seconds since the epoch)."""
        self.now = float(when)


def is_asgi_app(app: object) -> bool:
    """Whether ``app`` is an ASGI 3 app (an ``async`` callable), as opposed to WSGI."""
    if inspect.iscoroutinefunction(app):
        return True
    return inspect.iscoroutinefunction(getattr(app, "__call__", None))  # noqa: B004


def wrap_app(
    app: Any,
    *,
    config: object = None,
    asgi: bool | None = None,
    **options: Any,
) -> Any:
    """``app`` wrapped in :class:`~edge_middleware.EdgeMiddleware` (ASGI) or
    :class:`~edge_middleware.EdgeWSGIMiddleware` (WSGI), detected unless ``asgi`` is given.
    An app that is already wrapped is returned as it is (then pass no options).

    ``options`` are the middleware's keyword options (``storage``, ``clock``, ``origins``).
    """
    from .asgi import EdgeMiddleware
    from .wsgi import EdgeWSGIMiddleware

    if isinstance(app, EdgeMiddleware | EdgeWSGIMiddleware):
        if config is not None or options:
            raise ValueError("app is already wrapped: pass config and options to it instead")
        return app
    if asgi if asgi is not None else is_asgi_app(app):
        return EdgeMiddleware(app, config=config, **options)
    return EdgeWSGIMiddleware(app, config=config, **options)


def edge_test_client(
    app: Any,
    *,
    config: object = None,
    asgi: bool | None = None,
    base_url: str = "http://testserver",
    **options: Any,
) -> TestClient | Client:
    """A test client over ``app`` wrapped by :func:`wrap_app`: Starlette's ``TestClient`` for
    ASGI apps, Werkzeug's test ``Client`` for WSGI apps. Neither follows redirects. Close a
    ``TestClient`` when done (the ``edge_client`` fixture does).

    Example::

        client = edge_test_client(flask_app.wsgi_app, config="distribution.json")
        assert client.get("/").headers["X-Cache"] == "Miss from cloudfront"
    """
    wrapped = wrap_app(app, config=config, asgi=asgi, **options)
    from .asgi import EdgeMiddleware

    if isinstance(wrapped, EdgeMiddleware):
        from starlette.testclient import TestClient

        return TestClient(wrapped, base_url=base_url, follow_redirects=False)
    from werkzeug.test import Client

    return Client(wrapped)
