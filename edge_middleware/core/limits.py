"""CloudFront's numbers and fixed strings, in one place (lambda-edge.md §3.1-§3.5); every other
module imports them from here."""

from __future__ import annotations

__all__ = [
    "DEFAULT_DISTRIBUTION_DOMAIN",
    "DEFAULT_DISTRIBUTION_ID",
    "MAX_HEADER_BYTES",
    "MAX_URI_LENGTH",
    "ORIGIN_BODY_LIMIT",
    "REQUEST_BODY_LIMITS",
    "SERVER",
    "VIEWER_BODY_LIMIT",
    "url_length",
]

#: The body a function sees with IncludeBody: 40 KB for viewer-request, 1 MB for
#: origin-request (truncated beyond, ``inputTruncated: true``; lambda-edge.md §3.3).
VIEWER_BODY_LIMIT = 40 * 1024
ORIGIN_BODY_LIMIT = 1024 * 1024
REQUEST_BODY_LIMITS: dict[str, int] = {
    "viewer-request": VIEWER_BODY_LIMIT,
    "origin-request": ORIGIN_BODY_LIMIT,
}
#: Longest URL (path plus query string) CloudFront accepts (413 beyond; §3.5).
MAX_URI_LENGTH = 8192


def url_length(uri: str, querystring: str) -> int:
    """The length :data:`MAX_URI_LENGTH` bounds: the path, and ``?`` and the query string
    when there is one."""
    return len(uri) + len(querystring) + 1 if querystring else len(uri)


#: The largest viewer body kept whole to be sent again: to an origin group's secondary, or on
#: a new connection to a URL origin. A longer one streams to the origin once (a request with
#: one does not fail over: docs/distributions.md "Origin groups").
REPLAY_BODY_LIMIT = 64 * 1024
#: Largest request line plus header section CloudFront accepts (413 beyond; §3.5).
MAX_HEADER_BYTES = 20480
#: ``Server`` header of the responses CloudFront makes itself.
SERVER = b"CloudFront"
#: The example distribution AWS's documentation uses, our default identity.
DEFAULT_DISTRIBUTION_ID = "EDFDVBD6EXAMPLE"
DEFAULT_DISTRIBUTION_DOMAIN = "d111111abcdef8.cloudfront.net"
