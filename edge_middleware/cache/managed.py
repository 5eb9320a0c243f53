"""CloudFront's managed cache policies and origin request policies (lambda-edge.md §5.4).

Both tables are keyed by the policy id *and* by its name, so a ``DistributionConfig`` that
names ``CachePolicyId: 658327ea-...`` and a hand-written config that says ``"CachingOptimized"``
resolve to the same object. Only the ids listed in the spec are built in (decisions.md #25).
"""

from __future__ import annotations

from ..config.model import CachePolicy, OriginRequestPolicy
from ..exceptions import ConfigurationError

__all__ = [
    "ALL_VIEWER",
    "ALL_VIEWER_AND_CLOUDFRONT_HEADERS",
    "ALL_VIEWER_EXCEPT_HOST_HEADER",
    "AMPLIFY",
    "CACHING_DISABLED",
    "CACHING_OPTIMIZED",
    "CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS",
    "CLOUDFRONT_HEADERS",
    "CORS_CUSTOM_ORIGIN",
    "CORS_S3_ORIGIN",
    "ELEMENTAL_MEDIAPACKAGE",
    "MANAGED_CACHE_POLICIES",
    "MANAGED_CACHE_POLICY_IDS",
    "MANAGED_ORIGIN_REQUEST_POLICIES",
    "MANAGED_ORIGIN_REQUEST_POLICY_IDS",
    "managed_cache_policy",
    "managed_origin_request_policy",
]

# -- cache policies -----------------------------------------------------------------------------

CACHING_OPTIMIZED = CachePolicy(
    min_ttl=1,
    default_ttl=86400,
    max_ttl=31536000,
    enable_accept_encoding_gzip=True,
    enable_accept_encoding_brotli=True,
    name="CachingOptimized",
)
CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS = CachePolicy(
    min_ttl=1,
    default_ttl=86400,
    max_ttl=31536000,
    name="CachingOptimizedForUncompressedObjects",
)
CACHING_DISABLED = CachePolicy(0, 0, 0, name="CachingDisabled")
#: The spec records no compression flags for Amplify, so none are set here.
AMPLIFY = CachePolicy(
    min_ttl=2,
    default_ttl=2,
    max_ttl=600,
    headers=("authorization", "cloudfront-viewer-country", "host"),
    cookies="all",
    query_strings="all",
    name="Amplify",
)
#: NOT FROM THE SPEC: lambda-edge.md §5.4 records no settings for this policy ("—"). These
#: values (0 / 86,400 / 31,536,000; the MediaPackage query strings; the Origin header; gzip on)
#: were set by the project brief and must be checked against AWS's managed-policy page.
ELEMENTAL_MEDIAPACKAGE = CachePolicy(
    min_ttl=0,
    default_ttl=86400,
    max_ttl=31536000,
    query_strings="whitelist",
    query_string_names=("aws.manifestfilter", "start", "end", "m"),
    headers=("origin",),
    enable_accept_encoding_gzip=True,
    name="Elemental-MediaPackage",
)

#: id -> policy, exactly as listed in lambda-edge.md §5.4.
MANAGED_CACHE_POLICY_IDS: dict[str, CachePolicy] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": CACHING_OPTIMIZED,
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": CACHING_OPTIMIZED_FOR_UNCOMPRESSED_OBJECTS,
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": CACHING_DISABLED,
    "2e54312d-136d-493c-8eb9-b001f22f67d2": AMPLIFY,
    "08627262-05a9-4f76-9ded-b50ca2e3a84f": ELEMENTAL_MEDIAPACKAGE,
}

# -- origin request policies --------------------------------------------------------------------

#: The CloudFront-generated headers (lambda-edge.md §3.1), lower-case.
CLOUDFRONT_HEADERS: tuple[str, ...] = (
    "cloudfront-forwarded-proto",
    "cloudfront-is-desktop-viewer",
    "cloudfront-is-mobile-viewer",
    "cloudfront-is-smarttv-viewer",
    "cloudfront-is-tablet-viewer",
    "cloudfront-is-android-viewer",
    "cloudfront-is-ios-viewer",
    "cloudfront-viewer-country",
    "cloudfront-viewer-country-name",
    "cloudfront-viewer-country-region",
    "cloudfront-viewer-country-region-name",
    "cloudfront-viewer-city",
    "cloudfront-viewer-postal-code",
    "cloudfront-viewer-time-zone",
    "cloudfront-viewer-latitude",
    "cloudfront-viewer-longitude",
    "cloudfront-viewer-metro-code",
    "cloudfront-viewer-asn",
    "cloudfront-viewer-address",
    "cloudfront-viewer-http-version",
    "cloudfront-viewer-tls",
    "cloudfront-viewer-header-order",
    "cloudfront-viewer-header-count",
)

ALL_VIEWER = OriginRequestPolicy(
    headers="allViewer", cookies="all", query_strings="all", name="AllViewer"
)
ALL_VIEWER_AND_CLOUDFRONT_HEADERS = OriginRequestPolicy(
    headers="allViewerAndWhitelistCloudFront",
    header_names=CLOUDFRONT_HEADERS,
    cookies="all",
    query_strings="all",
    name="AllViewerAndCloudFrontHeaders-2022-06",
)
ALL_VIEWER_EXCEPT_HOST_HEADER = OriginRequestPolicy(
    headers="allExcept",
    header_names=("host",),
    cookies="all",
    query_strings="all",
    name="AllViewerExceptHostHeader",
)
CORS_CUSTOM_ORIGIN = OriginRequestPolicy(
    headers="whitelist", header_names=("origin",), name="CORS-CustomOrigin"
)
CORS_S3_ORIGIN = OriginRequestPolicy(
    headers="whitelist",
    header_names=("origin", "access-control-request-headers", "access-control-request-method"),
    name="CORS-S3Origin",
)

MANAGED_ORIGIN_REQUEST_POLICY_IDS: dict[str, OriginRequestPolicy] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": ALL_VIEWER,
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": ALL_VIEWER_AND_CLOUDFRONT_HEADERS,
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": ALL_VIEWER_EXCEPT_HOST_HEADER,
    "59781a5b-3903-41f3-afcb-af62929ccde1": CORS_CUSTOM_ORIGIN,
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": CORS_S3_ORIGIN,
}

# -- lookups ------------------------------------------------------------------------------------

#: Keyed by id and by name.
MANAGED_CACHE_POLICIES: dict[str, CachePolicy] = {
    **MANAGED_CACHE_POLICY_IDS,
    **{p.name: p for p in MANAGED_CACHE_POLICY_IDS.values() if p.name},
}
#: Keyed by id and by name.
MANAGED_ORIGIN_REQUEST_POLICIES: dict[str, OriginRequestPolicy] = {
    **MANAGED_ORIGIN_REQUEST_POLICY_IDS,
    **{p.name: p for p in MANAGED_ORIGIN_REQUEST_POLICY_IDS.values() if p.name},
}


def managed_cache_policy(id_or_name: str) -> CachePolicy:
    """A managed cache policy by id or name; unknown ones fail with the value named."""
    policy = MANAGED_CACHE_POLICIES.get(id_or_name) if isinstance(id_or_name, str) else None
    if policy is None:
        raise ConfigurationError(
            "CachePolicyId",
            id_or_name,
            "a managed policy id or name (" + ", ".join(_names(MANAGED_CACHE_POLICY_IDS)) + ")",
        )
    return policy


def managed_origin_request_policy(id_or_name: str) -> OriginRequestPolicy:
    """A managed origin request policy by id or name; unknown ones fail with the value named."""
    policy = (
        MANAGED_ORIGIN_REQUEST_POLICIES.get(id_or_name) if isinstance(id_or_name, str) else None
    )
    if policy is None:
        raise ConfigurationError(
            "OriginRequestPolicyId",
            id_or_name,
            "a managed policy id or name ("
            + ", ".join(_names(MANAGED_ORIGIN_REQUEST_POLICY_IDS))
            + ")",
        )
    return policy


def _names(table: dict[str, CachePolicy] | dict[str, OriginRequestPolicy]) -> list[str]:
    return [p.name or i for i, p in table.items()]
