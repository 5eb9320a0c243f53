"""The distribution the public cache-tests suite runs against (``run.py``).

One default behavior in front of the suite's own origin (a Node.js server that answers as each
test tells it), set up the way someone who wants CloudFront to follow the origin's caching
headers would set it up:

* a cache policy with MinTTL 0, DefaultTTL 0 and MaxTTL one year (the settings of AWS's
  managed ``UseOriginCacheControlHeaders-QueryStrings`` policy), so the origin's
  ``Cache-Control``/``Expires`` decide and a response without them is not reused; every query
  string is in the key (the suite's ``/test/<uuid>`` URLs carry test ids in some);
* an origin request policy that forwards every viewer header and query string (the suite's
  origin reads its own ``req-num`` header and the conditional headers) but **no cookies**: with
  cookies forwarded CloudFront does not answer ``If-None-Match``/``If-Modified-Since`` itself
  (caching.md §1.7), and the suite sets none;
* every method allowed (the suite configures its origin with ``PUT /config/<uuid>`` through
  the cache).
"""

from __future__ import annotations

from edge_middleware import Behavior, CachePolicy, EdgeConfig, OriginRequestPolicy

CONFIG = EdgeConfig(
    default=Behavior(
        cache=CachePolicy(
            min_ttl=0,
            default_ttl=0,
            max_ttl=31536000,
            query_strings="all",
            name="UseOriginCacheControlHeaders-QueryStrings (settings)",
        ),
        origin_request_policy=OriginRequestPolicy(
            headers="allViewer", query_strings="all", cookies="none", name="AllViewer, no cookies"
        ),
    )
)
