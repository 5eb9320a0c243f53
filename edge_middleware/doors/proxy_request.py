"""The request a proxied origin receives: the URL target (base URL path, origin path, the
request path with its dot-segments resolved, never re-quoted) and the headers without hop-by-hop
ones (see ``proxy.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from ..config.model import Origin
from ..core.limits import REPLAY_BODY_LIMIT
from ..exceptions import OriginError
from .proxy_clients import _timeout

__all__ = ["resolve_path"]

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# Bytes sent as they are in a request target; everything else (controls, space, non-ASCII) is
# percent-encoded because it cannot appear on an HTTP/1.1 request line.
_TARGET_OK = frozenset(range(0x21, 0x7F))


# -- the request --------------------------------------------------------------------------------
def _escape(raw: bytes) -> bytes:
    """Percent-encode only the bytes that cannot appear in a request target."""
    if all(b in _TARGET_OK for b in raw):
        return raw
    return b"".join(bytes((b,)) if b in _TARGET_OK else b"%%%02X" % b for b in raw)


def _dot(segment: bytes) -> bytes | None:
    """``b"."``/``b".."`` when the segment is a dot-segment, also percent-encoded (``%2e``)."""
    if b"." not in segment and b"%" not in segment:
        return None
    normal = segment.replace(b"%2e", b".").replace(b"%2E", b".")
    return normal if normal in (b".", b"..") else None


def resolve_path(raw_path: bytes, origin_id: str = "") -> bytes:
    """Remove dot-segments (RFC 3986 §5.2.4) so the path cannot climb above ``/``.

    ``%2e`` counts as ``.``. A segment hiding ``..`` behind an encoded slash or a backslash
    (``..%2f``, ``..\\``) is refused with :class:`OriginError`: an origin that decodes it could
    otherwise leave the origin path. The bytes are never re-quoted.
    """
    if not raw_path.startswith(b"/"):
        raw_path = b"/" + raw_path
    segments = raw_path.split(b"/")[1:]
    out: list[bytes] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        dot = _dot(segment)
        if dot is None:
            if b"%" in segment or b"\\" in segment:
                decoded = unquote_to_bytes(segment).replace(b"\\", b"/")
                if b"/" in decoded and b".." in decoded.split(b"/"):
                    raise OriginError(
                        f"The request path {raw_path!r} for origin {origin_id!r} has an encoded "
                        "dot-segment that could leave the origin path."
                    )
            out.append(segment)
            continue
        if dot == b".." and out:
            out.pop()
        if last:  # "/a/b/.." -> "/a/" (the trailing slash stays, as in RFC 3986)
            out.append(b"")
    return b"/" + b"/".join(out)


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    prefix: bytes  # the base URL's path plus the origin path, no trailing slash
    base: str  # the URL as messages show it (no password)


def _target(base_url: str, origin: Origin) -> _Target:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise OriginError(f"Origin {origin.id!r}: invalid origin URL {base_url!r}: {exc}")
    if url.scheme not in ("http", "https") or not url.host:
        raise OriginError(f"Origin {origin.id!r}: {base_url!r} is not an http(s):// URL")
    base_path = url.raw_path.partition(b"?")[0].rstrip(b"/")
    origin_path = _escape(origin.origin_path.encode("utf-8")).rstrip(b"/")
    return _Target(url.copy_with(raw_path=b"/"), base_path + origin_path, _shown(url, base_url))


def _shown(url: httpx.URL, base_url: str) -> str:
    """The origin URL as failures name it (logs, the inspector's trace): its password masked."""
    userinfo = url.userinfo.decode("ascii", "replace")
    user, colon, password = userinfo.partition(":")
    if not colon or not password:
        return base_url
    return base_url.replace(f"{userinfo}@", f"{user}:****@", 1)


def _request_target(target: _Target, raw_path: bytes, query: bytes, origin: Origin) -> bytes:
    path = target.prefix + resolve_path(_escape(raw_path), origin.id)
    return path + b"?" + _escape(query) if query else path


def _filter_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    pairs = [(k.lower(), v) for k, v in headers]
    drop = set(_HOP_BY_HOP)
    for name, value in pairs:
        if name == b"connection":
            drop.update(t.strip().lower() for t in value.split(b",") if t.strip())
        elif name == b"transfer-encoding":
            # RFC 9112 §6.3: the viewer's body was framed by Transfer-Encoding (de-chunked by
            # the server); a Content-Length beside it is removed before forwarding, as on the
            # response side (it went on, and h11 refused the body it did not match: a 502)
            drop.add(b"content-length")
    return [(k, v) for k, v in pairs if k not in drop and not k.startswith(b"proxy-")]


def _filter_response_headers(
    headers: list[tuple[bytes, bytes]], *, lower: bool
) -> list[tuple[bytes, bytes]]:
    drop = set(_HOP_BY_HOP)
    for name, value in headers:
        low = name.lower()
        if low == b"connection":
            drop.update(t.strip().lower() for t in value.split(b",") if t.strip())
        elif low == b"transfer-encoding":
            # RFC 9112 §6.3: the body was framed by Transfer-Encoding (and is de-chunked here);
            # a Content-Length beside it is not its length and is removed before forwarding
            drop.add(b"content-length")
    out = []
    for name, value in headers:
        low = name.lower()
        if low in drop or low.startswith(b"proxy-"):
            continue
        out.append((low if lower else name, value))
    return out


#: RFC 9110 §9.2.2: the methods a client may send again when their connection failed
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: The largest body an idempotent request has read whole before it goes out, so that it can go
#: out again on a new connection (``proxy_failures._send_again``); larger ones stream, once.
REPLAY_LIMIT = REPLAY_BODY_LIMIT


def replayable(method: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's body is read whole before it is sent, so that it can be sent
    again: an idempotent method with a ``Content-Length`` of 1 to :data:`REPLAY_LIMIT` bytes
    and no ``Transfer-Encoding`` (no body, or one that streams: ``False``)."""
    if method not in IDEMPOTENT:
        return False
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return False
        if name == b"content-length":
            text = value.strip()
            if not text.isdigit():
                return False
            length = int(text)
    return length is not None and 0 < length <= REPLAY_LIMIT


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """A request has a body when it declares a non-zero length or a chunked transfer."""
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return b"chunked" in value.lower()
    return False


def _build_request(
    target: _Target,
    origin: Origin,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    content: Any,
) -> httpx.Request:
    request_target = _request_target(target, raw_path, query, origin)
    try:
        url = target.url.copy_with(raw_path=request_target)
    except httpx.InvalidURL:  # e.g. a "#" in the path: the target extension still sends it
        url = target.url
    # With a Content-Length header httpx streams ``content`` as it is; without one (a chunked
    # upload) it sends chunked framing. A bodiless request gets no framing headers added.
    return httpx.Request(
        method,
        url,
        headers=headers,
        content=content,
        extensions={"target": request_target, "timeout": _timeout(origin)},
    )
