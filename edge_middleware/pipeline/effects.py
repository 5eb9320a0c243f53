"""The effects the pipeline yields and the outcome it returns: the typed protocol between the
core and the two front doors.

The pipeline does no IO. It yields one :data:`Effect`, the front door performs it (sync for
WSGI, async for ASGI; both ``match`` on the union and end with ``assert_never``) and sends the
result back in. The result each effect expects is in its docstring.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..cache.budget import BufferBudget, TeeBuffer
from ..cache.entry import CacheEntry
from ..config.model import Behavior, Origin
from ..core.handlers import HandlerRunner
from ..core.headers import RawHeaders
from ..core.types import CFRequest, EventType
from ..exceptions import CloudFrontError, OriginError, ViewerError

__all__ = [
    "CallHandler",
    "Compress",
    "Effect",
    "FetchOrigin",
    "Invalidate",
    "JoinFlight",
    "LeaveFlight",
    "Lookup",
    "OriginBody",
    "OriginResponse",
    "Outcome",
    "ReadBody",
    "ReadOriginBody",
    "Refresh",
    "Store",
    "Tee",
    "TraceStep",
    "bodiless_status",
    "incomplete_body",
    "with_rest",
    "without_body",
]


@dataclass(slots=True)
class ReadBody:
    """Read the viewer request body. Result: ``bytes``: all of it, or with ``limit`` a prefix
    of more than ``limit`` bytes when the body is longer (enough to expose ``limit`` bytes and
    tell it was cut); the rest stays unread and streams to the origin behind the prefix.
    ``None`` when the viewer's body ended before it was complete (the viewer went away): no
    function sees it and no origin gets it (``pipeline.viewer.body_for_event``)."""

    limit: int | None = None


@dataclass(slots=True)
class CallHandler:
    """Run a handler within ``timeout``. Result: the handler's return value, or the
    :class:`CloudFrontError` (execution error / timeout) it failed with."""

    runner: HandlerRunner
    event: dict[str, Any]
    event_type: EventType
    request_id: str
    timeout: float


@dataclass(slots=True)
class Lookup:
    """Read the cache. Result: ``CacheEntry | None``."""

    key: str


@dataclass(slots=True)
class Store:
    """Write the cache. Result: ``None``."""

    entry: CacheEntry


@dataclass(slots=True)
class Tee:
    """An answer without ``Content-Length`` that may be stored streams to the viewer as it
    comes (CloudFront sends while it fills its cache); the door stores ``entry`` with the whole
    body once the stream ended whole, within ``limit`` bytes (``EdgeSettings.max_object_bytes``)
    and the buffer budget (``cache.budget.TeeBuffer``)."""

    #: the entry to store, with the body the pipeline has (what the viewer gets first)
    entry: CacheEntry
    limit: int

    def buffer(self, budget: BufferBudget) -> TeeBuffer:
        """What the door keeps of the stream as it sends it."""
        return TeeBuffer(budget, self.entry, self.limit)


@dataclass(slots=True)
class JoinFlight:
    """Request collapsing: result ``True`` when this request fetches for ``key``; otherwise the
    driver waits until the fetching request has finished and returns ``False``, or ``None``
    when it waited ``timeout`` seconds in vain. A request that cannot fill the object
    (``lead=False``: a HEAD, a Range) waits for a fetch in flight but never leads one:
    ``None`` at once when there is none."""

    key: str
    timeout: float
    lead: bool = True


@dataclass(slots=True)
class LeaveFlight:
    """End this request's lead of the fetch for ``key`` now, before the request's own end
    (a custom error page's fetch, done while the error streams on): the requests waiting for
    it go on. Nothing when this request does not lead it. Result: ``None``."""

    key: str


@dataclass(slots=True)
class FetchOrigin:
    """Send ``request`` to the origin. ``body`` replaces the viewer's body when not ``None``.
    Result: an :class:`OriginResponse` or a :class:`CloudFrontError` (origin failure)."""

    origin: Origin
    #: The origin id the request is for (may differ from ``origin.id`` after a switch).
    origin_id: str
    request: CFRequest
    body: bytes | None
    #: The request id the origin gets in ``X-Amz-Cf-Id`` (the one its events carry).
    request_id: str
    #: Read the whole response before returning (custom error pages, background refreshes),
    #: beside the answer streaming to the viewer, within ``max_object_bytes``.
    whole: bool = False
    #: Statuses the answer is dropped on (an origin group fails over on them): a ``whole``
    #: fetch returns their head and first bytes only (an endless 5xx body was read for ever).
    dropped_on: frozenset[int] = frozenset()


@dataclass(slots=True)
class OriginResponse:
    status: int
    headers: RawHeaders
    #: Body bytes already read; for a streamed body, the front door keeps the rest.
    body: bytes = b""
    #: ``True`` when the rest of the body is still to be read from the origin.
    streaming: bool = False

    def trimmed(self) -> OriginResponse:
        """This answer with no whitespace around its header values: over HTTP it is no part
        of a value (RFC 9110 §5.5), so CloudFront's event never shows it; an app may send it
        (Django's WSGI handler gives ``Set-Cookie: " sessionid=..."``). Checked heads only."""
        for _name, value in self.headers:
            if value and (value[0] in _OWS or value[-1] in _OWS):
                self.headers = [(n, v.strip(b" \t")) for n, v in self.headers]
                break
        return self


#: space and tab, as bytes values
_OWS = (32, 9)


@dataclass(slots=True)
class ReadOriginBody:
    """Read the rest of the origin body, at most ``limit`` bytes. Result: an
    :class:`OriginBody`."""

    limit: int


@dataclass(slots=True)
class OriginBody:
    """What :class:`ReadOriginBody` read. When ``complete`` is False the bytes are a prefix
    and the rest stays streamable, unless ``error`` says the origin broke off (nothing of the
    response has reached the viewer yet: the pipeline answers with CloudFront's error)."""

    data: bytes
    complete: bool
    error: CloudFrontError | None = None


def with_rest(
    answer: OriginResponse, rest: OriginBody | None, limit: int
) -> OriginResponse | CloudFrontError:
    """A whole fetch's answer: its first bytes and ``rest`` (``None``: it came whole), within
    ``limit`` bytes (``max_object_bytes``; past it: no page, nothing stored; an endless one was
    read into memory for ever)."""
    if rest is not None:
        if rest.error is not None:
            return rest.error
        answer.body += rest.data
        answer.streaming = False
        if not rest.complete:
            return OriginError("The origin's answer is over max_object_bytes.")
    if len(answer.body) > limit:
        return OriginError("The origin's answer is over max_object_bytes.")
    return answer


@dataclass(slots=True)
class Compress:
    """Compress a whole body for the viewer (caching.md §1.13). Result: ``(body, headers)``.
    The ASGI door runs large bodies off the event loop."""

    coding: str
    body: bytes
    headers: RawHeaders


@dataclass(slots=True)
class Invalidate:
    """Drop cached objects by CloudFront invalidation paths. Result: ``None``."""

    paths: list[str]


@dataclass(slots=True)
class Refresh:
    """Start a background revalidation (stale-while-revalidate) unless one is already running
    for ``key`` in this process. Result: ``None``."""

    key: str
    #: a pipeline generator the driver runs to completion on its own
    run: Generator[Effect, Any, Any]


@dataclass(slots=True)
class TraceStep:
    """One trigger that ran (or was skipped), for logs and the inspector."""

    event_type: EventType
    ran: bool
    duration: float = 0.0
    skipped_because: str = ""
    event: dict[str, Any] | None = None
    result: Any = None
    error: str = ""
    error_field: str = ""
    #: What the handler printed (stdout, stderr, logging) during this call (``capture.py``).
    output: str = ""
    #: The origin a CloudFront Function asked for (``core.origins.function_origin``).
    origin_change: dict[str, Any] | None = None
    #: The custom error page (its path) this call's fetch was for, or empty: the request's own
    page: str = ""


@dataclass(slots=True)
class Outcome:
    """What goes to the viewer."""

    status: int
    reason: str
    headers: RawHeaders
    body: bytes
    #: After ``body``, stream the rest of the origin's body.
    stream_rest: bool = False
    #: Store the streamed answer once it ended (with ``stream_rest``).
    tee: Tee | None = None
    #: The ``x-edge-result-type`` (Hit, Miss, RefreshHit, Error, LambdaGeneratedResponse ...).
    result_type: str = "Miss"
    behavior: Behavior | None = None
    request_id: str = ""
    cache_key: str = ""
    ttl_reason: str = ""
    error: CloudFrontError | None = None
    steps: list[TraceStep] = field(default_factory=list)
    #: The request as the origin received it, when the origin was contacted.
    origin_request: CFRequest | None = None
    #: Head-only response (HEAD): send headers, no body.
    head: bool = False
    #: CloudFront's 413 for a request over its size limits: the connection is closed and the
    #: request is not logged (lambda-edge.md §3.2)
    oversized: bool = False

    def no_body(self, method: str) -> None:
        """Mark responses that carry no body on the wire (see :func:`without_body`)."""
        self.headers, head = without_body(self.status, method, self.headers)
        self.head = self.head or head


def incomplete_body() -> ViewerError:
    """CloudFront's 400 for a viewer body that ended before it was complete (the viewer went):
    the viewer's, whoever was reading it (a function's event, the origin), never the origin's."""
    return ViewerError(400, "The viewer's request body was incomplete.")


def bodiless_status(status: int) -> bool:
    """A status whose answer carries no body on the wire: 1xx, 204 and 304 (RFC 9110 §6.4.1;
    HEAD answers have none either)."""
    return status in (204, 304) or status < 200


def without_body(status: int, method: str, headers: RawHeaders) -> tuple[RawHeaders, bool]:
    """``(headers, head)``: whether the answer carries no body on the wire (HEAD, or a
    :func:`bodiless_status`); those statuses also lose Content-Length (§8.6), which could
    only mislead."""
    if status in (204, 304) or status < 200:  # bodiless_status, without its call
        return [(k, v) for k, v in headers if k.lower() != b"content-length"], True
    return headers, method == "HEAD"


Effect: TypeAlias = (
    ReadBody
    | CallHandler
    | Lookup
    | Store
    | JoinFlight
    | LeaveFlight
    | FetchOrigin
    | ReadOriginBody
    | Compress
    | Invalidate
    | Refresh
)
