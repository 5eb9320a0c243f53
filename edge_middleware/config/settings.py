"""Where AWS is silent: the defaults from ``decisions.md``, each one a setting.

The number after each field is the item in the decision register.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Literal, get_args, get_origin, get_type_hints

from ..exceptions import ConfigurationError
from .checks import check_fields

__all__ = ["EdgeSettings", "function_settings"]

#: decisions.md #34: the 2xx/3xx statuses cached by the TTL rules (307/308 only with CC).
DEFAULT_CACHEABLE_STATUSES = frozenset({200, 203, 206, 300, 301, 302, 307, 308})


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """Behaviour switches for the places where CloudFront's behaviour is not documented.

    Every default is the one in the project's decision register; change one only to model a
    distribution that you have observed to behave otherwise. Example::

        EdgeConfig(settings=EdgeSettings(execution_error_status=500))
    """

    # -- handler results (lambda-edge.md §1-§3) --------------------------------------------
    #: #1 query string seen by origin events (and sent to the origin) when the policies do
    #: not forward all query strings: the forwarded one, or ``""`` ("all-only").
    origin_event_querystring: Literal["forwarded", "all-only"] = "forwarded"
    #: #2 capitalisation of a missing header ``key``.
    key_capitalization: Literal["first-letter", "title"] = "first-letter"
    #: #3 the dict key is the header's identity (lower-cased), not ``key``.
    header_identity: Literal["dict-key", "entry-key"] = "dict-key"
    #: #4 ``request.body`` present with ``data: ""`` for a bodyless method when IncludeBody is on.
    body_for_bodyless_methods: bool = True
    #: #5 a replaced request body over its limit: 502, or truncate it.
    replaced_body_over_limit: Literal["error", "truncate"] = "error"
    #: #6 ``authMethod`` shown for an Origin Access Control S3 origin.
    s3_oac_auth_method: Literal["none", "origin-access-identity"] = "none"
    #: #7 a request-trigger result with a ``status`` key is a response; with
    #: ``"status-or-no-uri"`` one without a ``uri`` is too (``{"statusCode": 200}`` then fails as
    #: a response with no ``status``, not as a request with no ``uri``).
    response_marker: Literal["status", "status-or-no-uri"] = "status"
    #: #8 accept an int ``status`` from a handler.
    accept_int_status: bool = True
    #: #9 viewer-response changing the status: 502, ignore the change, or allow it (as
    #: CloudFront Functions may, whatever this says: lambda-edge.md §8).
    viewer_response_status_change: Literal["error", "ignore", "allow"] = "error"
    #: #10 viewer-response setting ``body``: 502, ignore, or allow (CloudFront Functions
    #: may, whatever this says: lambda-edge.md §8).
    viewer_response_body: Literal["error", "ignore", "allow"] = "error"
    #: #11 a change to ``clientIp``/``method``: 502, or ignore it.
    readonly_field_change: Literal["error", "ignore"] = "error"
    #: #12 missing ``statusDescription``: use the standard phrase.
    default_status_description: bool = True
    #: #13 the 204-with-body check applies to both request triggers or viewer-request only.
    no_content_body_check: Literal["both", "viewer-request"] = "both"
    #: #14 size limits for generated/replaced responses (headers + body bytes).
    viewer_response_size_limit: int = 40 * 1024
    origin_response_size_limit: int = 1024 * 1024
    #: #15 deleting a read-only header: 502, or ignore.
    readonly_header_delete: Literal["error", "ignore"] = "error"
    #: #16 which read-only header list: the current docs or the 2023 one.
    readonly_header_list: Literal["current", "2023"] = "current"

    # -- failures and skip rules (lambda-edge.md §3.5, §4) ---------------------------------
    #: #17 status for a handler that raises (503; the 2019-2023 docs said 500).
    execution_error_status: int = 503
    #: #18 status for a handler that times out.
    timeout_error_status: int = 503
    #: #19 a configured custom error page replaces the Lambda error page.
    custom_error_page_for_lambda_errors: bool = True
    #: #20 Lambda error responses are cached for ErrorCachingMinTTL.
    cache_lambda_errors: bool = False
    #: #21 a method outside AllowedMethods is rejected before viewer-request runs.
    reject_method_before_viewer_request: bool = True
    #: #22 the viewer-response "status >= 400" skip judges the final or the origin status.
    viewer_response_skip_status: Literal["final", "origin"] = "final"
    #: #23 X-Cache on the miss that ran an origin-request-generated response.
    origin_generated_x_cache: Literal["LambdaGeneratedResponse", "Miss"] = "LambdaGeneratedResponse"
    #: #24 path patterns match the raw path, the percent-decoded one, or the one normalised as
    #: RFC 3986 §6.2.2 says (``config.model.normalized_path``; AWS's guide says CloudFront
    #: normalises before it matches: docs/distributions.md).
    path_match: Literal["raw", "decoded", "normalized"] = "raw"
    #: handler timeouts (lambda-edge.md §3.4): 5 s viewer events, 30 s origin events.
    viewer_timeout: float = 5.0
    origin_timeout: float = 30.0
    #: where a sync handler runs (``handlers.py``): ``"auto"`` runs it on a worker thread
    #: until it has proved fast, then on the calling thread; ``"inline"`` always on the
    #: calling thread (its 503 is sent when a late handler returns); ``"thread"`` always on a
    #: worker thread with the 503 sent at the deadline (strict on-time mode).
    handler_mode: Literal["auto", "inline", "thread"] = "auto"
    #: Plain requests to a behavior with nothing to run and caching off take the short way
    #: (``pipeline/fast.py``: the same answer without the state machine); ``False`` sends
    #: every request through the full pipeline.
    shortcuts: bool = True

    # -- cache (caching.md) -----------------------------------------------------------------
    #: #27 answer a HEAD from a cached GET.
    head_from_get: bool = True
    #: #28 purge the cached GET after POST/PUT/PATCH/DELETE to the same path.
    invalidate_on_unsafe_methods: bool = False
    #: #29 ``Expires`` measured against the edge clock or the origin ``Date``.
    expires_against: Literal["edge-clock", "origin-date"] = "edge-clock"
    #: #30 store a ``no-cache`` response with TTL 0 when MinTTL is 0 (RefreshHit possible).
    store_no_cache: bool = True
    #: #31 subtract the origin's ``Age`` from the lifetime.
    subtract_origin_age: bool = True
    #: #32 must-revalidate/proxy-revalidate change the edge TTL (no). With True, a lifetime
    #: below MinTTL is not raised to MinTTL when the origin says must-revalidate.
    revalidate_directives_affect_ttl: bool = False
    #: #33 a Cache-Control delta-seconds value that is malformed or negative (``max-age=-1``,
    #: ``max-age=1.5``) counts as absent, or with ``"stale"`` as 0.
    malformed_directives: Literal["absent", "stale"] = "absent"
    #: #34 statuses cached by the TTL rules.
    cacheable_statuses: frozenset[int] = field(default=DEFAULT_CACHEABLE_STATUSES)
    #: #35 410 is cached like 404.
    cache_410: bool = True
    #: #36 a coding with q=0 in Accept-Encoding counts as not listed.
    accept_encoding_q_zero_excludes: bool = True
    #: #37 answer viewer conditionals (If-None-Match/If-Modified-Since) with 304 on a hit.
    viewer_conditionals: bool = True
    #: #38 ``Age`` after a RefreshHit: reset to 0, or keep counting from the first store.
    age_after_refresh: Literal["reset", "keep"] = "reset"
    #: #39 X-Cache when serving stale because the origin failed / for stale-while-revalidate.
    stale_if_error_x_cache: Literal["RefreshHit", "Hit"] = "RefreshHit"
    stale_while_revalidate_x_cache: Literal["RefreshHit", "Hit"] = "Hit"
    #: #40 Min/MaxTTL bound the stale windows.
    ttl_bounds_stale_windows: bool = False
    #: #41 must-revalidate (and s-maxage, which implies proxy-revalidate) suppress stale
    #: serving.
    must_revalidate_suppresses_stale: bool = False
    #: #42 canonicalise query strings in the key (no: keyed as received).
    canonicalize_query: bool = False
    #: #50 seconds before an invalidation made through the middleware or the dev server takes
    #: effect (CloudFront's propagation takes seconds to minutes).
    invalidation_delay: float = 0.0
    #: #51 largest object stored (CloudFront: 30 GB; here a memory-friendly default).
    max_object_bytes: int = 64 * 1024 * 1024
    #: Bytes that all requests in flight together may read into memory to store (or compress)
    #: an origin body. A request that finds no room streams the body through, not stored (not
    #: compressed); each one alone is bounded by ``max_object_bytes`` (issue 16, item 8).
    max_buffered_bytes: int = 256 * 1024 * 1024
    #: the default error caching minimum TTL (caching.md §1.4).
    error_caching_min_ttl: int = 10
    #: seconds an expired entry is kept for revalidation and stale-on-error (caching.md §3).
    stale_retention: int = 86400

    # -- what the origin receives (lambda-edge.md §1.3) ------------------------------------------
    #: ``Host`` sent to the origin: the origin's domain (as CloudFront) or the viewer's Host
    #: (handy for a local app that builds absolute URLs). ``"auto"``: the viewer's Host when the
    #: distribution defines no origins, else the origin's domain.
    origin_host: Literal["auto", "origin", "viewer"] = "auto"
    #: Values for ``CloudFront-Viewer-*`` / ``CloudFront-Is-*-Viewer`` headers, by lower-case
    #: name, to test personalisation handlers locally (``{"cloudfront-viewer-country": "DE"}``).
    cloudfront_header_values: tuple[tuple[str, str], ...] = ()

    # -- what the viewer sees ------------------------------------------------------------------
    #: ``X-Amz-Cf-Pop`` value and the log ``x-edge-location``.
    pop: str = "LAX50-C1"

    def __post_init__(self) -> None:
        check_fields(self, "EdgeSettings")
        # a list given for a set or a tuple is kept as one: the settings stay hashable, as a
        # loaded file's are
        object.__setattr__(self, "cacheable_statuses", frozenset(self.cacheable_statuses))
        object.__setattr__(
            self,
            "cloudfront_header_values",
            tuple(tuple(pair) for pair in self.cloudfront_header_values),
        )
        for name, allowed in _choices().items():
            value = getattr(self, name)
            if value not in allowed:
                expected = " | ".join(repr(a) for a in allowed)
                raise ConfigurationError(f"EdgeSettings.{name}", value, expected)
        for name in ("execution_error_status", "timeout_error_status"):
            value = getattr(self, name)
            if value not in (500, 502, 503, 504):
                raise ConfigurationError(f"EdgeSettings.{name}", value, "500, 502, 503 or 504")
        if self.handler_mode not in ("auto", "inline", "thread"):
            raise ConfigurationError(
                "EdgeSettings.handler_mode", self.handler_mode, '"auto", "inline" or "thread"'
            )
        for name in ("viewer_timeout", "origin_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"EdgeSettings.{name}", getattr(self, name), "> 0")
        if self.max_buffered_bytes < 0:
            raise ConfigurationError(
                "EdgeSettings.max_buffered_bytes", self.max_buffered_bytes, ">= 0"
            )
        for name in (
            "max_object_bytes",
            "viewer_response_size_limit",
            "origin_response_size_limit",
            "error_caching_min_ttl",
            "stale_retention",
            "invalidation_delay",
        ):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"EdgeSettings.{name}", getattr(self, name), ">= 0")
        for status in self.cacheable_statuses:
            if not 100 <= status <= 599:
                raise ConfigurationError("EdgeSettings.cacheable_statuses", status, "100-599")
        # values that go out as header values as they are (X-Amz-Cf-Pop, CloudFront-*)
        shown = [("pop", self.pop)]
        shown += [("cloudfront_header_values", v) for _, v in self.cloudfront_header_values]
        for field_name, value in shown:
            if not _HEADER_TEXT.fullmatch(value):
                raise ConfigurationError(
                    f"EdgeSettings.{field_name}",
                    value,
                    "a header value: no line breaks or control characters",
                )


_HEADER_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")


def function_settings(settings: EdgeSettings) -> EdgeSettings:
    """The settings a CloudFront Function's viewer-response result is judged by: it may set
    the status and a body (lambda-edge.md §8; Lambda@Edge: decisions.md #9, #10), and only
    ``Warning`` and ``Via`` are read-only for it (§3.1: ``Content-Length``,
    ``Content-Encoding`` and ``Transfer-Encoding`` are Lambda@Edge's alone; the "2023" list
    of decisions.md #16 is exactly those two in viewer-response)."""
    return replace(
        settings,
        viewer_response_body="allow",
        viewer_response_status_change="allow",
        readonly_header_list="2023",
    )


@cache
def _choices() -> dict[str, tuple[object, ...]]:
    """Each ``Literal`` field's values: anything else (a typo like ``"eror"``) is refused at
    construction, where validation would otherwise read it as the alternative."""
    hints = get_type_hints(EdgeSettings)
    return {
        f.name: get_args(hints[f.name])
        for f in fields(EdgeSettings)
        if get_origin(hints[f.name]) is Literal
    }
