"""CloudFront's edge compression (caching.md §1.12): when the behavior says ``Compress``, the
cache policy normalises Accept-Encoding and the origin sent an uncompressed body of a listed
type and size, CloudFront compresses it itself (Brotli preferred) and caches the result."""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Iterable, Sequence

from ..config.model import Behavior, CachePolicy
from ..core.headers import HOP_BY_HOP, RawHeaders, raw_get, without
from ..core.types import CFHeaders

# brotli is a dependency, imported on the first Brotli compression (not at import time);
# without it only gzip is offered.
_HAS_BROTLI = importlib.util.find_spec("brotli") is not None

__all__ = [
    "COMPRESSIBLE_TYPES",
    "COMPRESS_MAX_BYTES",
    "COMPRESS_MIN_BYTES",
    "choose_coding",
    "compress",
    "http10_headers",
    "merge_304",
    "varying_by_encoding",
]

#: The content types CloudFront compresses (CloudFront Developer Guide, "Serving compressed
#: files").
COMPRESSIBLE_TYPES = frozenset(
    {
        "application/dash+xml",
        "application/eot",
        "application/font",
        "application/font-sfnt",
        "application/javascript",
        "application/json",
        "application/opentype",
        "application/otf",
        "application/pdf",
        "application/pkcs7-mime",
        "application/protobuf",
        "application/rss+xml",
        "application/truetype",
        "application/ttf",
        "application/vnd.apple.mpegurl",
        "application/vnd.mpegurl",
        "application/vnd.ms-fontobject",
        "application/xhtml+xml",
        "application/xml",
        "application/x-font-opentype",
        "application/x-font-truetype",
        "application/x-font-ttf",
        "application/x-httpd-cgi",
        "application/x-javascript",
        "application/x-mpegurl",
        "application/x-opentype",
        "application/x-otf",
        "application/x-perl",
        "application/x-ttf",
        "font/eot",
        "font/opentype",
        "font/otf",
        "font/ttf",
        "image/svg+xml",
        "text/css",
        "text/csv",
        "text/html",
        "text/javascript",
        "text/js",
        "text/plain",
        "text/richtext",
        "text/tab-separated-values",
        "text/xml",
        "text/x-script",
        "text/x-component",
        "text/x-java-source",
    }
)
_STATUSES = frozenset({200, 403, 404})


#: CloudFront compresses objects of 1,000 to 10,000,000 bytes (caching.md §1.13).
COMPRESS_MIN_BYTES = 1000
COMPRESS_MAX_BYTES = 10_000_000


def http10_headers(headers: CFHeaders, policy: CachePolicy, http_version: str) -> CFHeaders:
    """``headers`` as the cache key and the origin see them: an HTTP/1.0 request loses its
    ``Accept-Encoding`` when the policy normalises it (caching.md §1.5), so the uncompressed
    copy it gets is not stored under a compressed variant's key."""
    if http_version == "1.0" and "accept-encoding" in headers and policy.normalizes_accept_encoding:
        return {k: v for k, v in headers.items() if k != "accept-encoding"}
    return headers


def choose_coding(
    behavior: Behavior,
    normalized_ae: str | None,
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    http_version: str,
) -> str | None:
    """``"br"``, ``"gzip"`` or ``None``: every condition of caching.md §1.12 must hold."""
    policy = behavior.cache
    if not behavior.compress or policy.max_ttl == 0 or not normalized_ae:
        return None
    if not policy.normalizes_accept_encoding:
        return None
    if "accept-encoding" in policy.headers or http_version == "1.0" or status not in _STATUSES:
        return None
    if raw_get(headers, b"content-encoding") is not None:
        return None  # any value, even identity, means "already compressed"
    length = raw_get(headers, b"content-length")
    try:
        if length is None or not COMPRESS_MIN_BYTES <= int(length) <= COMPRESS_MAX_BYTES:
            return None
    except ValueError:
        return None
    ctype = (raw_get(headers, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    if ctype.decode("latin-1") not in COMPRESSIBLE_TYPES:
        return None
    codings = normalized_ae.split(",")
    if "br" in codings and policy.enable_accept_encoding_brotli and _HAS_BROTLI:
        return "br"
    if "gzip" in codings and policy.enable_accept_encoding_gzip:
        return "gzip"
    return None


def compress(coding: str, body: bytes, headers: RawHeaders) -> tuple[bytes, RawHeaders]:
    """The compressed body and its headers: Content-Encoding and Content-Length set, a strong
    ETag weakened and an invalid one dropped (caching.md §1.7), ``Vary: Accept-Encoding``."""
    if coding == "br" and _HAS_BROTLI:
        import brotli  # type: ignore[import-untyped]

        out = brotli.compress(body)
    else:
        out = gzip.compress(body, compresslevel=6, mtime=0)
    new: RawHeaders = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            continue
        if lower == b"etag":
            if value.startswith(b'"'):
                value = b"W/" + value
            elif not value.startswith(b"W/"):
                continue
        new.append((name, value))
    new.append((b"Content-Encoding", coding.encode()))
    new.append((b"Content-Length", str(len(out)).encode()))
    return out, varying_by_encoding(new)


def varying_by_encoding(headers: RawHeaders) -> RawHeaders:
    """``headers`` with ``Accept-Encoding`` among their ``Vary`` names, once: added to the first
    ``Vary`` line when no line names it (as a token: ``X-Accept-Encoding-Hint`` is not it), or
    as a line of its own (a compressed body varies by it, C25). A ``Vary: *`` gets it too:
    with MinTTL > 0 the viewer's ``Vary`` loses ``*`` (caching.md §1.6), and a compressed body
    must not reach the viewer with no ``Vary`` at all."""
    tokens = _vary_tokens(headers)
    if b"accept-encoding" in tokens:
        return headers
    lines = [i for i, (name, _) in enumerate(headers) if name.lower() == b"vary"]
    out = list(headers)
    if not lines:
        out.append((b"Vary", b"Accept-Encoding"))
    else:
        name, value = out[lines[0]]
        out[lines[0]] = (name, value + b", Accept-Encoding")
    return out


def merge_304(stored: tuple[tuple[bytes, bytes], ...], fresh: RawHeaders) -> RawHeaders:
    """RFC 9111 §4.3.4: headers in the 304 replace the stored ones of the same name. The
    stored ``Age`` goes in any case: it was the first answer's age, and the refreshed copy's
    is the 304's (none: 0), so the new TTL is not cut by it again (§4.2.3). The origin's
    strong ``ETag`` does not replace the weak one the edge gave a body it compressed (the
    body stays compressed, caching.md §1.7)."""
    # the body is the stored one: its Content-Encoding stays (RFC 9111 §3.2; a 304 saying
    # identity sent gzip bytes as identity)
    fresh = without(fresh, *HOP_BY_HOP, b"content-length", b"content-encoding")
    encoded = raw_get(stored, b"content-encoding") is not None
    weak = raw_get(stored, b"etag")
    tag = raw_get(fresh, b"etag")
    if weak is not None and weak.startswith(b"W/") and tag == weak[2:]:
        fresh = [(k, weak if k.lower() == b"etag" else v) for k, v in fresh]
    elif encoded and tag is not None and not tag.startswith((b'"', b"W/")):
        fresh = without(fresh, b"etag")  # an invalid tag is dropped on a compressed body (§1.7)
    names = {k.lower() for k, _ in fresh}
    names.add(b"age")
    merged = [(k, v) for k, v in stored if k.lower() not in names] + fresh
    if encoded and b"accept-encoding" in _vary_tokens(stored):  # a 304's own Vary (Cookie)
        merged = varying_by_encoding(merged)  # kept the stored body's
    return merged


def _vary_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """The names every ``Vary`` line lists, lower case (one list, RFC 9110 §5.3)."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"vary"
        for token in value.split(b",")
        if token.strip()
    }
