"""Per-request viewer simulation for the dev server (``X-Edge-Viewer``, loopback only).

``serve`` reads ``X-Edge-Viewer: viewer-country=DE; is-mobile-viewer=true`` from a loopback
client and sets these values for that one request, over
``EdgeSettings.cloudfront_header_values``; the header itself never reaches the app. The names
are CloudFront's header names with or without the ``cloudfront-`` prefix. CloudFront adds
those headers only when the behavior's policies forward them, and so does the middleware.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["VIEWER_HEADER", "parse_viewer_header", "simulated", "simulated_values"]

VIEWER_HEADER = "x-edge-viewer"

#: The values for the request being handled (set by the dev server's holder).
simulated: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("edge_simulated", default=())


def simulated_values() -> tuple[tuple[str, str], ...]:
    """``(lower-case CloudFront header name, value)`` pairs for the current request."""
    return simulated.get()


def parse_viewer_header(value: str) -> tuple[tuple[str, str], ...]:
    """``"viewer-country=DE; is-mobile-viewer=true"`` to CloudFront header names and values."""
    out = []
    for part in value.replace(",", ";").split(";"):
        name, sep, val = part.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            continue
        if not name.startswith("cloudfront-"):
            name = "cloudfront-" + name
        out.append((name, val.strip()))
    return tuple(out)
