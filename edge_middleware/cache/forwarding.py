"""What reaches the origin (caching.md §1.5, lambda-edge.md §1.3), which Vary names survive
(§1.6), cookies, request collapsing (§1.10), and the Authorization warning (issue 15.5)."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..config.model import Behavior, CachePolicy, EdgeConfig, OriginRequestPolicy
from ..config.settings import EdgeSettings
from ..core.types import CFHeaders, CFRequest, HeaderEntry
from .keys import (
    _by_name,
    _parse_cookies,
    _select,
    _union,
    joined_values,
    normalize_accept_encoding,
)
from .ranges import honoured_range

# -- forwarding to the origin --------------------------------------------------------------------

#: CloudFront's RequestAndResponseBehaviorCustomOrigin table: always sent to the origin.
_ALWAYS_FORWARDED = frozenset(
    {
        "content-length",
        "content-md5",
        "content-type",
        "if-match",
        "if-range",
        "if-unmodified-since",
        "range",
        "transfer-encoding",
    }
)
#: Viewer conditionals: only for requests the edge does not cache (it sends its own).
_CONDITIONALS = frozenset({"if-modified-since", "if-none-match"})
#: What only the viewer's own request may ask: a part of the object, or an answer that
#: depends on the viewer's copy. A request the edge makes for itself (a stale-while-revalidate
#: refresh, a custom error page) asks for the whole object (caching.md §1.4, §1.11, §1.14).
_VIEWER_CONDITIONS = frozenset(
    {"range", "if-range", "if-match", "if-unmodified-since", *_CONDITIONALS}
)


def edge_own_request(req: CFRequest, uri: str | None = None) -> CFRequest:
    """``req`` as the edge asks for a whole object on its own behalf: a GET (a HEAD's refresh
    must fill the GET object, decisions.md #27), without the viewer's Range and conditionals,
    at ``uri`` when given (a custom error page), with no query string then."""
    own: CFRequest = {
        "clientIp": req["clientIp"],
        "headers": {k: v for k, v in req["headers"].items() if k not in _VIEWER_CONDITIONS},
        "method": "GET",
        "querystring": req["querystring"] if uri is None else "",
        "uri": req["uri"] if uri is None else uri,
    }
    return own


#: Hop-by-hop and disallowed headers (lambda-edge.md §3.1), plus Host (the caller sets it).
_NEVER_FORWARDED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "x-real-ip",
        "x-forwarded-proto",
        "host",
        "x-cache",
        "x-amzn-auth",
        "x-amzn-cf-billing",
        "x-amzn-cf-id",
        "x-amzn-cf-xff",
        "x-amzn-errortype",
        "x-amzn-fle-profile",
        "x-amzn-header-count",
        "x-amzn-header-order",
        "x-amzn-lambda-integration-tag",
        "x-amzn-requestid",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
    }
)
_NEVER_PREFIXES = ("proxy-", "x-amz-cf-", "x-edge-")
_UNSAFE_FOR_AUTH = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class _ForwardPlan:
    qs: Callable[[str], bool] | None  # None = all
    qs_any: bool
    cookies: Callable[[str], bool] | None
    cookies_any: bool
    keyed_headers: frozenset[str]
    orp_headers: str
    orp_header_names: frozenset[str]
    normalize_ae: bool


_NO_ORP = OriginRequestPolicy()


@lru_cache(maxsize=256)
def _forward_plan(policy: CachePolicy, orp: OriginRequestPolicy | None) -> _ForwardPlan:
    o = orp or _NO_ORP
    qs_a = _select(policy.query_strings, policy.query_string_names)
    qs_b = _select(o.query_strings, o.query_string_names)
    # a legacy cookie whitelist may use wildcards (caching.md §1.13), compiled here once
    ck_a = _select(policy.cookies, policy.cookie_names, policy.cookie_wildcards)
    ck_b = _select(o.cookies, o.cookie_names)
    return _ForwardPlan(
        qs=_union(qs_a, qs_b),
        qs_any=qs_a.active or qs_b.active,
        cookies=_union(ck_a, ck_b),
        cookies_any=ck_a.active or ck_b.active,
        keyed_headers=frozenset(policy.headers),
        orp_headers=o.headers,
        orp_header_names=frozenset(o.header_names),
        normalize_ae=policy.normalizes_accept_encoding,
    )


def _orp_selects(plan: _ForwardPlan, name: str) -> bool:
    mode = plan.orp_headers
    if mode == "none":
        return False
    if mode == "whitelist":
        return name in plan.orp_header_names
    cloudfront = name.startswith("cloudfront-")
    if mode == "allViewer":
        return not cloudfront
    if mode == "allViewerAndWhitelistCloudFront":
        return not cloudfront or name in plan.orp_header_names
    return not cloudfront and name not in plan.orp_header_names  # allExcept


def forwarded_cookie(plan: _ForwardPlan, entries: Sequence[HeaderEntry]) -> str | None:
    """The one ``Cookie`` value CloudFront sends for the viewer's cookie lines: the cookies
    the policies select, sorted by name; ``None`` when none is forwarded (caching.md §1.5)."""
    if not plan.cookies_any:
        return None
    pairs = _parse_cookies(entries)
    if plan.cookies is not None:
        select = plan.cookies
        pairs = [c for c in pairs if select(c[0])]
    if not pairs:
        return None
    pairs.sort(key=_by_name)
    return "; ".join(f"{n}={v}" for n, v in pairs)


def forwarded_to_origin(
    request: CFRequest,
    policy: CachePolicy,
    origin_request_policy: OriginRequestPolicy | None,
    settings: EdgeSettings,
    *,
    cacheable: bool,
) -> tuple[str, CFHeaders]:
    """The query string and viewer headers CloudFront sends to the origin (caching.md §1.5).

    ``cacheable``: the request may be answered from/stored in the cache (then viewer
    ``If-Modified-Since``/``If-None-Match`` are not forwarded; the edge sends its own).
    The result keeps each header's original ``key`` casing and the request's header order; the
    forwarded cookies become one ``Cookie`` header sorted by name. ``Host`` is never included.
    ``CloudFront-*`` headers count as viewer headers only when a policy names them.
    """
    plan = _forward_plan(policy, origin_request_policy)

    querystring = request["querystring"]
    if plan.qs is not None:
        if not plan.qs_any:
            querystring = ""
        elif querystring:
            select = plan.qs
            querystring = "&".join(p for p in querystring.split("&") if select(p.partition("=")[0]))

    method = request["method"].upper()
    out: CFHeaders = {}
    headers = request["headers"]
    # a Range the edge answers with the whole object asks the origin for the whole object
    # (caching.md §1.14), and its If-Range goes with it
    asked = joined_values(headers["range"]) if cacheable and "range" in headers else None
    whole = asked is not None and not honoured_range(asked)
    for lower, entries in headers.items():
        if not entries:
            continue
        if lower in _NEVER_FORWARDED or lower.startswith(_NEVER_PREFIXES):
            continue
        if whole and (lower == "range" or lower == "if-range"):
            continue
        if lower == "cookie":
            cookie = forwarded_cookie(plan, entries)
            if cookie is not None:
                out["cookie"] = [{"key": entries[0].get("key") or "Cookie", "value": cookie}]
            continue
        if lower == "accept-encoding" and plan.normalize_ae:
            ae = normalize_accept_encoding(joined_values(entries), policy, settings)
            out[lower] = [
                {"key": entries[0].get("key") or "Accept-Encoding", "value": ae or "identity"}
            ]
            continue
        if lower in _ALWAYS_FORWARDED:
            keep = True
        elif lower in _CONDITIONALS:
            keep = not cacheable
        elif lower == "authorization":
            # removed on GET/HEAD, and on OPTIONS when OPTIONS answers are cached (the
            # authorized answer would be served to every viewer): AWS's "Request and response
            # behavior for custom origins", Authorization
            keep = (
                (method not in _UNSAFE_FOR_AUTH and not (cacheable and method == "OPTIONS"))
                or lower in plan.keyed_headers
                or (plan.orp_headers not in ("none", "whitelist") and _orp_selects(plan, lower))
            )
        else:
            keep = lower in plan.keyed_headers or _orp_selects(plan, lower)
        if keep:
            out[lower] = [e.copy() for e in entries]
    return querystring, out


# -- Vary, cookies, collapsing ------------------------------------------------------------------

_DEVICE_HEADERS = frozenset(
    {
        "cloudfront-is-desktop-viewer",
        "cloudfront-is-mobile-viewer",
        "cloudfront-is-smarttv-viewer",
        "cloudfront-is-tablet-viewer",
        "cloudfront-is-android-viewer",
        "cloudfront-is-ios-viewer",
    }
)
_VARY_ALWAYS = frozenset({"accept-encoding", "cookie"})


@dataclass(frozen=True, slots=True)
class ForwardedHeaders:
    """The viewer header names CloudFront sends to the origin for a behavior: those in the
    cache key and those its origin request policy forwards (caching.md §1.5). ``name in it``
    takes a lower-case name. ``Authorization`` counts only when keyed or sent by an "all
    viewer headers" policy (it cannot be listed in an ORP), as in :func:`forwarded_to_origin`.
    """

    keyed: frozenset[str]
    plan: _ForwardPlan | None
    everything: bool = False

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self.everything or name in self.keyed:
            return True
        plan = self.plan
        if plan is None or (name == "authorization" and plan.orp_headers == "whitelist"):
            return False
        return _orp_selects(plan, name)


@lru_cache(maxsize=256)
def forwarded_header_names(
    policy: CachePolicy, orp: OriginRequestPolicy | None, forward_all: bool = False
) -> ForwardedHeaders:
    """The :class:`ForwardedHeaders` of a behavior; ``forward_all`` is the legacy
    ``ForwardedValues`` ``*`` (every header forwarded, caching off)."""
    keyed = frozenset(h.lower() for h in policy.headers)
    return ForwardedHeaders(keyed, _forward_plan(policy, orp) if orp else None, forward_all)


def filter_vary(
    headers: Sequence[tuple[bytes, bytes]],
    forwarded_header_names: Container[str],
    min_ttl: int,
) -> list[tuple[bytes, bytes]]:
    """The origin's ``Vary`` as the viewer sees it (caching.md §1.6).

    Keeps ``Accept-Encoding``, ``Cookie`` and the names of headers CloudFront forwards to the
    origin (lower-case names ``in forwarded_header_names``: a set, or the
    :class:`ForwardedHeaders` of :func:`forwarded_header_names`, which counts the origin
    request policy's headers too); ``User-Agent`` when a device-type header is forwarded; ``*``
    only when ``min_ttl == 0``. A ``Vary`` line left empty is dropped. Other headers untouched.
    AWS, "Request and response behavior for custom origins", ``Vary``: "If you configure
    CloudFront to forward headers to your origin, and if you configure your origin to return
    the header names to CloudFront in the Vary header ..., CloudFront returns the Vary header
    with those values to the viewer"; an origin request policy forwards headers as much as a
    cache policy does, so its names are kept too.
    """
    if not any(name.lower() == b"vary" for name, _ in headers):
        return list(headers)  # the common case: nothing to filter
    out: list[tuple[bytes, bytes]] = []
    device = any(h in forwarded_header_names for h in _DEVICE_HEADERS)
    for name, value in headers:
        if name.lower() != b"vary":
            out.append((name, value))
            continue
        kept = []
        for token in value.split(b","):
            token = token.strip()
            if not token:
                continue
            lower = token.decode("latin-1").lower()
            if (
                lower in _VARY_ALWAYS
                or lower in forwarded_header_names
                or (lower == "user-agent" and device)
                or (lower == "*" and min_ttl == 0)
            ):
                kept.append(token)
        if kept:
            out.append((name, b", ".join(kept)))
    return out


def cookies_forwarded(policy: CachePolicy, orp: OriginRequestPolicy | None) -> bool:
    """Any cookie reaches the origin (in the key or through the ORP), caching.md §1.13."""
    return _forward_plan(policy, orp).cookies_any


def collapsible(policy: CachePolicy, orp: OriginRequestPolicy | None) -> bool:
    """Request collapsing applies (caching.md §1.9): not with caching disabled (MaxTTL 0) nor
    with any cookie forwarding. The per-object rule (MinTTL 0 and a response that is not stored
    or has TTL 0) is for the caller, from the :class:`StoreDecision`."""
    return not policy.caching_disabled and not cookies_forwarded(policy, orp)


# -- Authorization and caching -------------------------------------------------------------------


def authorization_cache_warning(behavior: Behavior) -> str | None:
    """A plain-words warning when a behavior caches answers to requests that carry viewer
    credentials without telling users apart, else ``None``. For ``check`` and the dev server
    banner.

    That is the case when its origin request policy sends every viewer header (``allViewer``,
    ``allViewerAndWhitelistCloudFront``, or an ``allExcept`` that does not list it), so the
    origin gets ``Authorization``, while the cache key does not contain ``Authorization`` and
    caching is on. CloudFront forwards ``Authorization`` then (caching.md §1.5; AWS, "Configure
    CloudFront to forward the Authorization header": you "can't forward the Authorization header
    individually in an origin request policy, but when you forward all viewer headers CloudFront
    includes the Authorization header"), and it looks objects up by the cache key alone (AWS,
    "Control origin requests with a policy": the origin request policy is for what goes to the
    origin "but not in the cache key"). So the answer to one viewer's ``Authorization`` is
    served from the cache to another viewer, with other credentials or none.
    """
    cache = behavior.cache
    orp = behavior.origin_request_policy
    if orp is None or cache.max_ttl == 0 or behavior.forward_all_headers:
        return None
    if "authorization" in forwarded_header_names(cache, None):  # keyed: users kept apart
        return None
    if orp.headers == "whitelist" or "authorization" not in forwarded_header_names(cache, orp):
        return None
    stored = (
        f"for up to MinTTL {cache.min_ttl} s even when it says private or no-store"
        if cache.min_ttl > 0
        else "unless it says private or no-store"
    )
    return (
        f"Behavior {behavior.path_pattern!r}: its origin request policy ({orp.headers}) sends "
        "the viewer's Authorization header to the origin, but Authorization is not in the cache "
        f"key and caching is on (MaxTTL {cache.max_ttl} s). CloudFront stores the answer to an "
        f"authorized request {stored}, and serves it to every viewer whose request has the same "
        "cache key, whatever credentials they send or if they send none. Add Authorization to "
        "the cache policy's headers, or use a cache policy with caching disabled."
    )


def authorization_cache_warnings(config: EdgeConfig) -> list[str]:
    """:func:`authorization_cache_warning` for every behavior of ``config``, in order."""
    out = []
    for behavior in config.all_behaviors:
        warning = authorization_cache_warning(behavior)
        if warning is not None:
            out.append(warning)
    return out
