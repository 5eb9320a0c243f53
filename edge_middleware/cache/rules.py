"""CloudFront's cache rules as pure functions: TTLs, storability, cache keys, forwarding, Vary.

Spec: caching.md §1.3-§1.6, §1.9, §1.13 and lambda-edge.md §1.3; undocumented points follow
decisions.md items 27-42 through :class:`~edge_middleware.config.settings.EdgeSettings`.

The rules live in ``control.py`` (Cache-Control, TTLs, storability), ``keys.py`` (the cache
key) and ``forwarding.py`` (what reaches the origin, Vary, cookies, collapsing); this module
is where the rest of the library and the tests import them from. Everything runs on every
request, so per-policy data is precomputed once (``functools.lru_cache`` on the frozen policy
objects) and no regex is compiled per call.
"""

from __future__ import annotations

from .conditionals import applicable_range, not_modified, not_modified_since
from .control import (
    ResponseCacheControl,
    StoreDecision,
    decide_storage,
    origin_age,
    parse_cache_control,
    stored_response_serves,
)
from .forwarding import (
    ForwardedHeaders,
    authorization_cache_warning,
    authorization_cache_warnings,
    collapsible,
    cookies_forwarded,
    edge_own_request,
    filter_vary,
    forwarded_header_names,
    forwarded_to_origin,
)
from .keys import cache_key, keyed_path, normalize_accept_encoding

__all__ = [
    "ForwardedHeaders",
    "ResponseCacheControl",
    "StoreDecision",
    "applicable_range",
    "authorization_cache_warning",
    "authorization_cache_warnings",
    "cache_key",
    "collapsible",
    "cookies_forwarded",
    "decide_storage",
    "edge_own_request",
    "filter_vary",
    "forwarded_header_names",
    "forwarded_to_origin",
    "keyed_path",
    "normalize_accept_encoding",
    "not_modified",
    "not_modified_since",
    "origin_age",
    "parse_cache_control",
    "stored_response_serves",
]
