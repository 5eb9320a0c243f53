"""One request's state as it moves through the pipeline, and the names of the states.

A request is one :class:`Flow` (hishel's ``_core/_spec.py`` and Starlette's ``GZipResponder``
keep per-request data in one object the same way). Each state is a generator function
``state(pipeline, flow)`` in ``viewer.py``, ``origin.py`` or ``respond.py`` that yields effects
and returns the next :class:`State`, an :class:`~.effects.Outcome` (done) or ``None`` (done
with nothing for a viewer: a background refresh or a custom error page fetch, whose page is
left in :attr:`Flow.answer`). ``Pipeline`` maps each name to its function (``STATES``)::

    VIEWER_CHECKS ─► VIEWER_REQUEST ─► LOOKUP ─► HIT ─────────────────────────────┐
                                         │                                       │
                                         └─► ORIGIN_REQUEST ─► FETCH ─► HIT (304) ┤
                                                   │             └─► ORIGIN_RESPONSE ─► STORE ┤
                                                   └─► STORE (generated response)       │
                                                                       VIEWER_RESPONSE ◄┘ ─► Outcome
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..cache.entry import CacheEntry
from ..config.model import Behavior, Origin, OriginGroup
from ..core.convert import ViewerRequest
from ..core.headers import RawHeaders
from ..core.types import CFRequest
from .effects import Effect, Outcome, Tee, TraceStep

if TYPE_CHECKING:
    from .base import PipelineBase

__all__ = ["Answer", "Flow", "Next", "Prefetched", "Routed", "State", "StateFn", "Step"]


class State(enum.Enum):
    VIEWER_CHECKS = "viewer checks"
    VIEWER_REQUEST = "viewer-request"
    LOOKUP = "lookup"
    HIT = "hit"
    ORIGIN_REQUEST = "origin-request"
    FETCH = "fetch"
    ORIGIN_RESPONSE = "origin-response"
    STORE = "store"
    VIEWER_RESPONSE = "viewer-response"


#: methods whose requests carry a body, even an empty one (RFC 9110 §9.3)
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))

Next: TypeAlias = "State | Outcome | None"
#: a cache read made before the pipeline ran (the hit short way's): the key and what it found
Prefetched: TypeAlias = "tuple[str, CacheEntry | None]"
#: ``Pipeline.route``'s answer for the viewer's uri, when a door has it already
Routed: TypeAlias = "tuple[str, Behavior]"
Step: TypeAlias = Generator[Effect, Any, Any]
StateFn: TypeAlias = "Callable[[PipelineBase, Flow], Step]"


@dataclass(slots=True)
class Answer:
    """The response as it stands on its way to the viewer."""

    status: int
    reason: str
    headers: RawHeaders
    body: bytes
    #: After ``body``, the rest of the origin's body is still to be streamed.
    stream_rest: bool = False
    #: the x-edge-result-type: Hit, Miss, RefreshHit, LambdaGeneratedResponse ...
    result_type: str = "Miss"
    #: made by origin-request, not by the origin
    generated: bool = False


@dataclass(slots=True, eq=False)
class Flow:
    """Everything one request carries from state to state."""

    viewer: ViewerRequest
    rid: str
    behavior: Behavior
    #: the request as it stands (after viewer-request it is the function's result)
    req: CFRequest
    steps: list[TraceStep] = field(default_factory=list)
    #: the cache key, "" when this request is not cacheable
    key: str = ""
    #: an expired entry to revalidate or to serve if the origin fails
    stale: CacheEntry | None = None
    #: the entry HIT serves and the label it is served under (Hit, RefreshHit ...)
    entry: CacheEntry | None = None
    label: str = "Hit"
    #: the origin was contacted for the entry HIT serves (revalidation, stale on error)
    contacted: bool = False
    #: the viewer's body once read; the body to send to the origin when a function replaced it
    viewer_body: bytes | None = None
    #: ``viewer_body`` is the whole body (a function's event read it within its limit)
    viewer_body_whole: bool = False
    send_body: bytes | None = None
    #: a stale-while-revalidate refresh: nothing goes to a viewer
    background: bool = False
    #: a custom error page fetch: the page is left in ``answer``
    collect: bool = False
    #: the origin asked instead of the behavior's own: an origin group's secondary (failover),
    #: and the body as it was before origin-request ran (the failover request starts again)
    origin: Origin | None = None
    #: an origin group a CloudFront Function made for this request (createRequestOriginGroup),
    #: or False when one chose a single origin (selectRequestOriginById: no failover)
    group: OriginGroup | Literal[False] | None = None
    body_before_origin_request: bytes | None = None
    #: the request as the origin receives it, and the status the origin answered
    oreq: CFRequest | None = None
    origin_status: int | None = None
    #: when the origin's answer arrived (the clock of TTL decisions)
    now: float = 0.0
    ttl_reason: str = ""
    answer: Answer | None = None
    #: the lookup the hit short way made already (``fast_hit.py``): not read twice
    prefetched: Prefetched | None = None
    #: the answer is stored once it streamed to the viewer (``store``)
    tee: Tee | None = None

    @property
    def hv(self) -> str:
        return self.viewer.http_version

    @property
    def method(self) -> str:
        return self.req["method"]

    def shows_body(self, bodyless_too: bool) -> bool:
        """Whether an IncludeBody event carries ``request.body``: when the viewer sent body
        bytes, for a method that carries a body (an empty POST too), and for a bodyless method
        (GET) only with ``EdgeSettings.body_for_bodyless_methods`` (decisions.md #4)."""
        return self.viewer.body_length != 0 or bodyless_too or self.method in _BODY_METHODS

    @property
    def quiet(self) -> bool:
        """Nothing of this flow goes to a viewer (background refresh, error page fetch)."""
        return self.background or self.collect
