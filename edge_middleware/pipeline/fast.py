"""The short way through the pipeline, for a request the state machine would only pass along.

A behavior with no function on any event, caching off, no response headers policy and an
in-process origin (the wrapped app or another app) does the same thing to every plain
``GET``/``HEAD``: it forwards the headers its policies select plus ``Host``,
``X-Forwarded-For``, ``Via``, ``User-Agent`` and ``X-Amz-Cf-Id``, and it gives the origin's
answer CloudFront's headers. :class:`Shortcut` does exactly that on raw header lists, without
building the CloudFront request dict, the trace or the effects.

Every decision it takes per header name is asked of the real rules once
(:func:`~edge_middleware.cache.rules.forwarded_to_origin` on a one-header request) and kept,
so the two paths cannot drift apart; anything unusual (a body, a repeated header, a cookie or
``Accept-Encoding`` the policy rewrites, a limit close to being hit, an origin answer that is
not a plain one) is left to the full pipeline before anything was sent. ``tests/test_fast_path.py``
compares both paths on generated requests, on both doors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from ..cache.forwarding import _forward_plan, forwarded_cookie
from ..cache.rules import filter_vary, forwarded_to_origin
from ..config.model import Behavior, EdgeConfig, Origin
from ..core.convert import origin_protocol
from ..core.headers import (
    CLOUDFRONT_ADDED,
    HOP_BY_HOP,
    RawHeaders,
    connection_options,
    encode_value,
    headers_to_raw,
    is_disallowed,
    memo_keeps,
    replaced_by,
)
from ..core.limits import MAX_HEADER_BYTES, MAX_URI_LENGTH, url_length
from ..core.origins import cloudfront_headers
from ..core.types import EVENT_TYPES, CFRequest
from ..core.validation import origin_response_error
from ..exceptions import CloudFrontError
from .effects import without_body
from .origin import forwards_viewer_host

if TYPE_CHECKING:
    from .base import PipelineBase

__all__ = ["BODY", "COOKIE", "DROP", "KEEP", "PROBE_VIEWER", "SLOW", "Shortcut", "shortcut_for"]

#: what a viewer header becomes on the short way
KEEP: Final = 0
DROP: Final = 1
SLOW: Final = 2  # this request takes the full pipeline
BODY: Final = 3  # Content-Length: kept when it says 0, else the pipeline reads the body
COOKIE: Final = 4  # the cookies the policies select, sorted by name (forwarded_cookie)

_BODY_HEADERS = frozenset({"content-length", "transfer-encoding"})
#: headers whose value the rules may rewrite (cookies sorted, Accept-Encoding normalised)
_REWRITTEN = frozenset({"cookie", "accept-encoding"})
_FAST_METHODS = frozenset({"GET", "HEAD"})
_PLACED = frozenset({b"x-forwarded-for", b"via", b"user-agent"})
_MISS = b"Miss from cloudfront"
_ERROR = b"Error from cloudfront"
#: the fate of a name in the origin's answer
_KEPT: Final = 0
_DROPPED: Final = 1
_VARY: Final = 2


def shortcut_for(p: PipelineBase, behavior: Behavior) -> Shortcut | None:
    """The behavior's :class:`Shortcut`, or ``None`` when its requests need the pipeline."""
    config = p.config
    if any(behavior.trigger(ev) is not None for ev in EVENT_TYPES):
        return None
    cached = behavior.cache.max_ttl > 0 and not behavior.forward_all_headers
    if cached or behavior.headers_policy is not None:
        return None
    if any(c.response_page_path for c in config.custom_error_responses):
        return None  # an error status may need a page fetched
    origin = config.origin_for(behavior)
    if config.origin_group_for(behavior) is not None:
        return None  # failover re-asks another origin
    if cloudfront_headers(behavior, PROBE_VIEWER, p.settings):  # type: ignore[arg-type]
        return None  # CloudFront-* headers vary per viewer
    return Shortcut(p, config, behavior, origin)


class Shortcut:
    """One behavior's short way: what goes to the origin and what comes back to the viewer."""

    def __init__(self, p: PipelineBase, config: EdgeConfig, behavior: Behavior, origin: Origin):
        s = p.settings
        self.p = p
        self.behavior = behavior
        self.origin = origin
        self.origin_id = origin.id
        self._decisions: dict[bytes, int] = {}
        self.plan = _forward_plan(behavior.cache, behavior.origin_request_policy)
        self.host_from_viewer = forwards_viewer_host(p, behavior)
        self.origin_host = origin.domain_name.encode("latin-1", "replace")
        self.origin_host_text = self.origin_host.decode("latin-1")
        self.protocol_ok = behavior.viewer_protocol_policy == "allow-all"
        forwarded, cookies = p.forwarded_for(behavior)
        self.vary_names = forwarded
        self.min_ttl = behavior.cache.min_ttl
        drop = set(HOP_BY_HOP | CLOUDFRONT_ADDED)
        if not cookies:
            drop.add(b"set-cookie")
        self.response_drop = frozenset(drop)
        #: per raw name in the origin's answers: _KEPT, _DROPPED or _VARY (kept, and filtered)
        self._answer_names: dict[bytes, int] = {}
        self.querystring = _querystring_mode(p, behavior)
        # request.origin's custom headers and path, as the full path's origin_scope adds them
        self._extras: dict[str, tuple[str, RawHeaders, str]] = {}
        self.settings = s

    # -- the request ------------------------------------------------------------------------
    def decision(self, lower: bytes) -> int:
        """KEEP, DROP, SLOW, BODY or COOKIE for a viewer header (lower-case name), asked
        once of the real forwarding rules."""
        known = self._decisions.get(lower)
        if known is not None:
            return known
        decision = self._decide(lower.decode("latin-1"))
        if memo_keeps(self._decisions, lower):
            self._decisions[lower] = decision
        return decision

    def _decide(self, lower: str) -> int:
        if is_disallowed(lower):
            return DROP  # removed from the viewer's request before anything sees it
        if lower == "content-length":
            return BODY
        if lower in _BODY_HEADERS or lower == "host":
            return SLOW  # a body, or a second Host: the pipeline decides
        behavior = self.behavior
        if lower == "cookie":  # the policy's cookie names decide, per cookie
            return COOKIE if self.plan.cookies_any else DROP
        if behavior.forward_all_headers:
            return KEEP
        probe: CFRequest = {
            "clientIp": "",
            "headers": {lower: [{"key": lower, "value": "v=1"}]},
            "method": "GET",
            "querystring": "",
            "uri": "/",
        }
        _, out = forwarded_to_origin(
            probe, behavior.cache, behavior.origin_request_policy, self.settings, cacheable=False
        )
        got = out.get(lower)
        if got is None:
            return DROP
        if lower in _REWRITTEN or got != [{"key": lower, "value": "v=1"}]:
            return SLOW
        return KEEP

    def extras(self, scheme: str) -> tuple[str, RawHeaders, str]:
        """The origin path, custom headers (lower-case names) and the scheme the origin app
        sees (a custom origin's protocol, ``core.convert.origin_scope``) for ``scheme``."""
        known = self._extras.get(scheme)
        if known is None:
            obj = self.p._origin_object(self.origin, scheme)
            target: dict[str, object] = obj.get("custom") or obj.get("s3") or {}  # type: ignore[assignment]
            pairs = headers_to_raw(target.get("customHeaders") or {})  # type: ignore[arg-type]
            known = (
                str(target.get("path", "") or ""),
                [(k.lower(), v) for k, v in pairs],
                origin_protocol(obj) or scheme,
            )
            self._extras[scheme] = known
        return known

    def querystring_for(self, qs: str) -> str:
        mode = self.querystring
        if mode == "all":
            return qs
        if mode == "none" or not qs:
            return ""
        probe: CFRequest = {
            "clientIp": "",
            "headers": {},
            "method": "GET",
            "querystring": qs,
            "uri": "/",
        }
        behavior = self.behavior
        return forwarded_to_origin(
            probe, behavior.cache, behavior.origin_request_policy, self.settings, cacheable=False
        )[0]

    def origin_headers(
        self,
        viewer: Iterable[tuple[bytes, bytes]],
        client: bytes,
        http_version: str,
        tail: RawHeaders,
    ) -> RawHeaders | None:
        """The origin's header list (lower-case names) from the viewer's ``(name, value)``
        pairs, in the full pipeline's order, then ``tail`` (what the door adds: the
        origin's custom headers and ``X-Amz-Cf-Id``); ``None``: take the full pipeline."""
        decisions = self._decisions
        out: RawHeaders = [(b"host", self.origin_host)]
        seen: set[bytes] = set()
        at: dict[bytes, int] = {}  # where a forwarded X-Forwarded-For, Via, User-Agent sits
        xff = None
        size = 0
        for name, value in viewer:
            lower = name.lower()
            size += len(lower) + len(value) + 4
            if lower in seen:
                return None  # repeated: the pipeline groups them
            seen.add(lower)
            if lower == b"host":
                if self.host_from_viewer and value:  # an empty Host: the origin's own
                    out[0] = (b"host", value)
                continue
            if lower == b"x-forwarded-for":
                xff = value
            decision = decisions.get(lower)
            if decision is None:
                decision = self.decision(lower)
            if decision:
                if decision == DROP and lower != b"connection":
                    continue  # the common case of _not_kept, without its call
                done = self._not_kept(out, lower, value, decision)
                if done is None:
                    return None
                if done:
                    continue
            if lower in _PLACED:
                at[lower] = len(out)
            out.append((lower, value))
        if size > MAX_HEADER_BYTES - 8192:  # near CloudFront's 413: let the pipeline judge
            return None
        _put(out, at, b"x-forwarded-for", xff + b", " + client if xff else client)
        _put(out, at, b"via", self.p._via(http_version))
        if b"user-agent" not in at:
            out.append((b"user-agent", b"Amazon CloudFront"))
        return _with_tail(out, seen, tail)

    def _not_kept(self, out: RawHeaders, lower: bytes, value: bytes, decision: int) -> bool | None:
        """A viewer header the rules do not pass on as it is: ``True`` when dealt with
        (dropped, or its cookies rewritten into ``out``), ``False`` when it goes as it is after
        all (``Content-Length: 0``), ``None``: take the full pipeline."""
        if decision == DROP:
            # a Connection header that names others: the pipeline removes those too
            return None if lower == b"connection" and _lists_headers(value) else True
        if decision == COOKIE:
            cookie = forwarded_cookie(self.plan, [{"key": "", "value": value.decode("latin-1")}])
            if cookie is not None:
                out.append((b"cookie", encode_value(cookie)))
            return True
        if decision == SLOW or value != b"0":
            return None
        return False

    def viewer_ok(self, method: str, scheme: str, uri: str, qs: str) -> bool:
        """CloudFront's own checks pass, so the pipeline would not answer by itself."""
        return (
            method in _FAST_METHODS
            and (self.protocol_ok or scheme == "https")
            and url_length(uri, qs) <= MAX_URI_LENGTH
        )

    # -- the answer -------------------------------------------------------------------------
    def viewer_headers(
        self,
        status: int,
        headers: RawHeaders,
        rid: bytes,
        http_version: str,
        method: str,
        lower: bool = False,
    ) -> tuple[RawHeaders, bool] | CloudFrontError:
        """The origin's answer as the viewer gets it: ``(headers, head_only)``, or the error
        CloudFront answers instead (an answer it cannot pass on); ``lower``: every name in
        lower case (ASGI's ``http.response.start``)."""
        problem = origin_response_error(status, headers)
        if problem is not None:
            return problem
        names = self._answer_names
        out: RawHeaders = []
        vary = False
        for k, v in headers:  # pairs may be lists (ASGI allows it): tuples go out
            fate = names.get(k)
            if fate is None:
                fate = self._answer_name(k)
            if fate != _DROPPED:
                out.append((k.lower() if lower and not k.islower() else k, v))
                if fate == _VARY:
                    vary = True
        if vary:
            out = filter_vary(out, self.vary_names, self.min_ttl)
        self.p._edge_tail(out, _MISS if status < 400 else _ERROR, rid, http_version, lower)
        return without_body(status, method, out)

    def _answer_name(self, name: bytes) -> int:
        """_KEPT, _DROPPED or _VARY for a raw header name of the origin's answer."""
        lower = name.lower()
        fate = _DROPPED if lower in self.response_drop else _VARY if lower == b"vary" else _KEPT
        if memo_keeps(self._answer_names, name):
            self._answer_names[name] = fate
        return fate


def _with_tail(out: RawHeaders, seen: set[bytes], tail: RawHeaders) -> RawHeaders:
    """``out`` then ``tail``, which replaces a viewer's header of the same name (``seen``: the
    viewer's names): :func:`~edge_middleware.core.headers.replaced_by` without its scan."""
    for name, _ in tail:
        if name in seen:
            return replaced_by(out, tail)
    out += tail
    return out


def _put(out: RawHeaders, at: dict[bytes, int], name: bytes, value: bytes) -> None:
    """Set ``name`` where the viewer's forwarded header sat, else at the end (as assigning to
    the pipeline's header dict does)."""
    where = at.get(name)
    if where is None:
        out.append((name, value))
    else:
        out[where] = (name, value)


def _querystring_mode(p: PipelineBase, behavior: Behavior) -> str:
    """ "all", "none" or "filter": what reaches the origin of the viewer's query string
    (the same plan :func:`~edge_middleware.cache.rules.forwarded_to_origin` follows)."""
    orp = behavior.origin_request_policy
    if p.settings.origin_event_querystring == "all-only" and not (
        behavior.cache.query_strings == "all" or (orp is not None and orp.query_strings == "all")
    ):
        return "none"  # decisions.md #1
    plan = _forward_plan(behavior.cache, orp)
    if plan.qs is None:
        return "all"
    return "filter" if plan.qs_any else "none"


class _ProbeViewer:
    """A stand-in viewer for asking whether a behavior adds any CloudFront-* header."""

    request: CFRequest = {
        "clientIp": "127.0.0.1",
        "headers": {},
        "method": "GET",
        "querystring": "",
        "uri": "/",
    }
    scheme = "https"
    http_version = "1.1"
    body_length = 0
    header_bytes = 0
    client_port = 0


PROBE_VIEWER: object = _ProbeViewer()


def _lists_headers(connection: bytes) -> bool:
    """Whether a ``Connection`` value names headers to remove (RFC 9110 §7.6.1)."""
    return bool(connection_options(connection.decode("latin-1")))
