"""Lambda@Edge events as CloudFront sends them (lambda-edge.md §1): :class:`EventBuilder`."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from ..config.model import Origin
from ..config.settings import EdgeSettings
from ..core.convert import _target_uri, reason_phrase
from ..core.limits import DEFAULT_DISTRIBUTION_DOMAIN, DEFAULT_DISTRIBUTION_ID, REQUEST_BODY_LIMITS
from ..core.origins import build_origin_object
from ..core.responses import new_request_id, via_id
from ..core.types import EVENT_TYPES, EventType

__all__ = ["EventBuilder", "HeadersArg", "complete_event", "infer_event_type"]

#: What the builder's ``headers=`` accepts: a mapping (a value may be a list of repeats),
#: a list of ``(name, value)`` pairs (repeats kept, in order), or a CloudFront header map.
HeadersArg = (
    Mapping[str, str | Sequence[str] | Sequence[Mapping[str, str]]] | Iterable[tuple[str, str]]
)

DEFAULT_CLIENT_IP = "203.0.113.178"
DEFAULT_USER_AGENT = "curl/8.5.0"
DEFAULT_ORIGIN_DOMAIN = "example.org"
#: lambda-edge.md §1.5: the exposed body is cut at 40 KB (viewer) / 1 MB (origin).


def _header_map(headers: HeadersArg | None) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    if headers is None:
        return out
    pairs: list[tuple[str, str]] = []
    if isinstance(headers, str | bytes) or not isinstance(headers, Mapping | Iterable):
        from ..exceptions import EventError

        raise EventError("headers", f"a mapping or (name, value) pairs, not {headers!r}")
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
        distribution_domain_name: str = DEFAULT_DISTRIBUTION_DOMAIN,
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
        sent (headers as for :meth:`origin_response`; the defaults also hold the
        ``Content-Length`` and ``Via`` the middleware's viewer-response events carry, which
        a function may not remove)."""
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

    # -- CloudFront Functions ------------------------------------------------------------------
    def function_event(
        self,
        event_type: str = "viewer-request",
        path: str = "/",
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A CloudFront Functions event (``event.version``, ``context``, ``viewer.ip``,
        ``request.headers`` as ``{name: {value, multiValue}}``, ``querystring``, ``cookies``,
        and ``response`` for viewer-response), from the same arguments as :meth:`event`.

        Example::

            ev = EventBuilder().function_event("viewer-request", "/a", headers={"Cookie": "s=1"})
            assert ev["request"]["cookies"] == {"s": {"value": "1"}}

        :raises EventError: (a ``ValueError``) for an origin event (CloudFront Functions run
            on viewer events only).
        """
        if event_type not in ("viewer-request", "viewer-response"):
            from ..exceptions import EventError

            raise EventError(
                "event_type",
                f"an event CloudFront Functions run on (viewer-request and viewer-response "
                f"only), not {event_type!r}",
            )
        from ..js.shapes import to_cf_event

        return to_cf_event(self.event(event_type, path, **kwargs))

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
        ``path`` is read as a viewer's request target: its ``uri`` is ASCII, with other bytes
        (and spaces) percent-encoded as UTF-8 (``/café`` -> ``/caf%C3%A9``), and a
        ``#fragment`` is no part of it nor of the query string, as CloudFront shows them.

        :raises EventError: (a ``ValueError``) for an unknown event type, a path not starting
            with ``/``, a status that is not one, or a body for a response event (CloudFront
            never exposes one there).
        """
        from ..exceptions import EventError

        if event_type not in EVENT_TYPES:
            raise EventError("event_type", f"one of {', '.join(EVENT_TYPES)}")
        ev: EventType = event_type
        if not isinstance(path, str) or not path.partition("?")[0].startswith("/"):
            raise EventError("path", f"a path starting with '/', not {path!r}")
        uri, _, querystring = path.partition("#")[0].partition("?")
        uri = _target_uri(uri.encode("utf-8"))
        if not isinstance(method, str) or not method.isalpha():
            raise EventError("method", f"an HTTP method such as GET, not {method!r}")
        is_response = ev in ("origin-response", "viewer-response")
        if is_response and body is not None:
            raise EventError("body", f"none: {ev} events carry no body (lambda-edge.md §1.7)")
        if is_response and not (str(status).isdigit() and 100 <= int(status) <= 599):
            raise EventError("status", f"a status from 100 to 599, not {status!r}")
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
            limit = REQUEST_BODY_LIMITS[ev]
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
                status_description = reason_phrase(code)
            if response_headers is None:
                response_headers = {"Content-Type": "text/html; charset=utf-8"}
                if ev == "viewer-response":  # as the middleware's event has them, read-only
                    response_headers["Content-Length"] = "0"  # there (lambda-edge.md §3.1)
                    response_headers["Via"] = (
                        f"1.1 {via_id(self.distribution_id)}.cloudfront.net (CloudFront)"
                    )
            cf["response"] = {
                "status": str(code),
                "statusDescription": status_description,
                "headers": _header_map(response_headers),
            }
        return {"Records": [{"cf": cf}]}

    def complete(
        self, event: Mapping[str, Any], event_type: EventType | str | None = None
    ) -> dict[str, Any]:
        """``event`` (e.g. from ``sam local generate-event cloudfront``) with what CloudFront
        always sends filled in from this builder's defaults: :func:`complete_event`.

        Example::

            event = EventBuilder().complete(json.load(open("sam-event.json")), "viewer-request")
        """
        return complete_event(event, event_type, builder=self)

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


# -- events written by other tools ------------------------------------------------------------

_REQUEST_EVENTS = ("viewer-request", "origin-request")


def infer_event_type(cf: Mapping[str, Any]) -> EventType:
    """The event type of a ``Records[0].cf`` without ``config.eventType``, from its shape:
    a ``response`` makes it a response event, a ``request.origin`` an origin event
    (lambda-edge.md §1.1, §1.6: only origin events carry ``origin``, only response events a
    ``response``). ``sam local generate-event cloudfront`` prints events without it."""
    request = cf.get("request")
    origin_side = isinstance(request, Mapping) and "origin" in request
    if "response" in cf:
        return "origin-response" if origin_side else "viewer-response"
    return "origin-request" if origin_side else "viewer-request"


def complete_event(
    event: Any,
    event_type: EventType | str | None = None,
    *,
    builder: EventBuilder | None = None,
) -> dict[str, Any]:
    """A copy of ``event`` with what CloudFront always sends filled in, so that events written
    by other tools (``sam local generate-event cloudfront ...``, the developer guide's samples)
    can be run (docs/events.md).

    * ``config.eventType``: ``event_type`` when given (it must agree with the event's own
      value, if it has one), else inferred by :func:`infer_event_type`;
    * ``config.distributionId``, ``distributionDomainName``, ``requestId``: the builder's;
    * ``request`` and its ``clientIp``, ``headers``, ``method`` (GET), ``querystring`` (""),
      ``uri`` ("/"); ``request.origin`` for origin events: the builder's custom origin;
    * a ``response`` is dropped from a request event (CloudFront sends none there).

    :raises EventError: what can't be filled in (no ``Records[0].cf``, an unknown event type,
        a response event without ``response``, a value of the wrong type); ``field`` names it.
    """
    from ..exceptions import EventError

    b = builder or EventBuilder()
    if not isinstance(event, Mapping):
        raise EventError("event", '{"Records": [{"cf": {...}}]}')
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise EventError("Records", "a list with one record")
    record = records[0]
    if not isinstance(record, Mapping) or not isinstance(record.get("cf"), Mapping):
        raise EventError("Records[0].cf", "an object")
    cf: dict[str, Any] = copy.deepcopy(dict(record["cf"]))
    config = cf.get("config", {})
    if not isinstance(config, Mapping):
        raise EventError("Records[0].cf.config", "an object")
    config = dict(config)
    own = config.get("eventType")
    if own is not None and own not in EVENT_TYPES:
        raise EventError("Records[0].cf.config.eventType", f"one of {', '.join(EVENT_TYPES)}")
    if event_type is not None:
        if event_type not in EVENT_TYPES:
            raise EventError("event_type", f"one of {', '.join(EVENT_TYPES)}")
        if own is not None and own != event_type:
            raise EventError(
                "Records[0].cf.config.eventType",
                f"{event_type!r}, the event type asked for (the event says {own!r})",
            )
    ev: EventType = own or event_type or infer_event_type(cf)
    config["eventType"] = ev
    config.setdefault("distributionId", b.distribution_id)
    config.setdefault("distributionDomainName", b.distribution_domain_name)
    config.setdefault("requestId", b.request_id)
    cf["config"] = config
    request = cf.get("request", {})
    if not isinstance(request, Mapping):
        raise EventError("Records[0].cf.request", "an object")
    request = dict(request)
    for key, value in (
        ("clientIp", b.client_ip),
        ("headers", {}),
        ("method", "GET"),
        ("querystring", ""),
        ("uri", "/"),
    ):
        request.setdefault(key, value)
    for key in ("clientIp", "method", "querystring", "uri"):
        if not isinstance(request[key], str):
            raise EventError(f"Records[0].cf.request.{key}", "a string")
    if not isinstance(request["headers"], Mapping):
        raise EventError("Records[0].cf.request.headers", "a header map {name: [{key, value}]}")
    if ev.startswith("origin"):
        request.setdefault("origin", b._origin(None))
    cf["request"] = request
    if ev in _REQUEST_EVENTS:
        cf.pop("response", None)
    elif not isinstance(cf.get("response"), Mapping):
        raise EventError("Records[0].cf.response", f"an object (a {ev} event needs it)")
    else:
        response = dict(cf["response"])
        status = response.get("status")
        if type(status) is int:
            status = response["status"] = str(status)
        if not (isinstance(status, str) and status.isascii() and status.isdigit()):
            raise EventError("Records[0].cf.response.status", 'a status such as "200"')
        response.setdefault("headers", {})
        if not isinstance(response["headers"], Mapping):
            raise EventError("Records[0].cf.response.headers", "a header map")
        response.setdefault("statusDescription", reason_phrase(int(status)))
        cf["response"] = response
    out = dict(event)
    out["Records"] = [{**record, "cf": cf}, *records[1:]]
    return out
