"""CloudFront's request pipeline as a state machine that does no IO (STYLE.md: one set of
rules, two thin front doors).

``Pipeline.run(viewer)`` is a generator: it yields :data:`~.effects.Effect` objects, the front
door performs them and sends the results back in, and it returns the
:class:`~.effects.Outcome` for the viewer. Every answer the viewer can get, CloudFront's own
errors for a handler past its deadline, an internal failure or an origin that broke off
included, is made here, with CloudFront's headers and the distribution's
CustomErrorResponses. The states and their order are in ``flow.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from ..config.model import Behavior, EdgeConfig, default_root_object, normalized_path
from ..core.convert import ViewerRequest
from ..exceptions import OriginError
from .base import PipelineBase
from .effects import Effect, Outcome, TraceStep
from .fast import Shortcut, shortcut_for
from .fast_hit import HitShortcut, hit_shortcut_for
from .flow import Flow, Routed, State, StateFn, Step
from .origin import fetch, origin_request, origin_response, store
from .respond import viewer_response
from .viewer import hit, lookup, viewer_checks, viewer_request

__all__ = ["STATES", "Effect", "Outcome", "Pipeline", "State", "Step", "TraceStep"]

logger = logging.getLogger("edge_middleware.pipeline")

#: Each state's function (h11's ``_state.py`` keeps its transitions in one table the same way).
STATES: Mapping[State, StateFn] = {
    State.VIEWER_CHECKS: viewer_checks,
    State.VIEWER_REQUEST: viewer_request,
    State.LOOKUP: lookup,
    State.HIT: hit,
    State.ORIGIN_REQUEST: origin_request,
    State.FETCH: fetch,
    State.ORIGIN_RESPONSE: origin_response,
    State.STORE: store,
    State.VIEWER_RESPONSE: viewer_response,
}
# the same table by the members' string values: an Enum member hashes in Python code
_BY_VALUE: dict[str, StateFn] = {state._value_: fn for state, fn in STATES.items()}


class Pipeline(PipelineBase):
    """CloudFront's rules for one distribution. ``run(viewer)`` is one request."""

    def __init__(self, config: EdgeConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        #: per behavior (by id), its short way when it has one (``fast.py``)
        self.shortcuts: dict[int, Shortcut] = {}
        #: per behavior (by id), its short way to a fresh cached object (``fast_hit.py``)
        self.hit_shortcuts: dict[int, HitShortcut] = {}
        if self.settings.shortcuts:
            for behavior in config.all_behaviors:
                cut = shortcut_for(self, behavior)
                if cut is not None:
                    self.shortcuts[id(behavior)] = cut
                hit = hit_shortcut_for(self, behavior)
                if hit is not None:
                    self.hit_shortcuts[id(behavior)] = hit
        self.has_shortcuts = bool(self.shortcuts or self.hit_shortcuts)

    def route(self, uri: str) -> tuple[str, Behavior]:
        """The uri after DefaultRootObject ("/" is served as "/index.html", before behaviors
        are matched and viewer-request runs; redirects keep the viewer's "/"), and the
        behavior it matches (docs/distributions.md)."""
        uri = default_root_object(uri, self.config.default_root_object)
        how = self.settings.path_match
        if how == "raw":
            return uri, self.config.match(uri)
        return uri, self.config.match(unquote(uri) if how == "decoded" else normalized_path(uri))

    def flow(self, viewer: ViewerRequest, routed: Routed | None = None) -> Flow:
        """A new request's state (``routed``: what :meth:`route` gave for its uri already)."""
        req = viewer.request
        uri, behavior = routed or self.route(req["uri"])
        if uri != req["uri"]:
            req = {**req, "uri": uri}
        return Flow(viewer, self.request_id(), behavior, req)

    def run(self, viewer: ViewerRequest, flow: Flow | None = None) -> Step:
        """One viewer request, from CloudFront's own checks to the viewer's answer."""
        return self.drive(flow or self.flow(viewer), State.VIEWER_CHECKS)

    def drive(self, flow: Flow, state: State) -> Step:
        nxt: State | Outcome | None = state
        while isinstance(nxt, State):
            nxt = yield from _BY_VALUE[nxt._value_](self, flow)
        return nxt

    # -- answers the front doors need when the pipeline itself could not run ----------------
    def internal_failure(self, viewer: ViewerRequest | None, flow: Flow | None = None) -> Outcome:
        """A failure inside edge_middleware (or the wrapped app failing in a way no rule
        covers): CloudFront's 502 page with its headers, never a traceback."""
        err = OriginError("Internal error")
        if flow is not None:
            return self.error(flow, err)
        rid = self.request_id()
        return self.error_outcome(err, rid, viewer.http_version if viewer else "1.1", None, [])
