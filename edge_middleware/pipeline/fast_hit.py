"""The short way for a cache hit: a behavior with no viewer-side function and no response
headers policy serves a fresh cached object to a plain ``GET``/``HEAD`` the same way every
time, so the pipeline's states are not needed for it.

:class:`HitShortcut` computes the cache key with the real ``cache_key`` on a small header
map holding only what the key reads, and renders each cached object's viewer headers once
(all but ``Age``, ``Via``, ``X-Cache``, ``X-Amz-Cf-Pop`` and ``X-Amz-Cf-Id``); a matching
conditional gets its 304 and a ``Range`` its bytes, as the ``HIT`` state gives them.
Anything else (a stale or missing object, an error status with a custom page) goes to the
full pipeline with the lookup it already made (``Flow.prefetched``), so the storage is read
once. ``tests/test_fast_path.py`` compares both paths on generated requests, on both doors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from ..cache.entry import CacheEntry
from ..cache.forwarding import _forward_plan
from ..cache.ranges import byte_range_response
from ..cache.rules import (
    applicable_range,
    cache_key,
    cookies_forwarded,
    filter_vary,
    not_modified,
    stored_response_serves,
)
from ..config.model import Behavior
from ..core.convert import reason_phrase
from ..core.headers import (
    CLOUDFRONT_ADDED,
    RawHeaders,
    is_disallowed,
    with_length,
    without,
)
from ..core.limits import MAX_HEADER_BYTES, MAX_URI_LENGTH, url_length
from ..core.origins import cloudfront_headers
from ..core.types import CFHeaders, HeaderEntry
from .effects import without_body
from .fast import PROBE_VIEWER

if TYPE_CHECKING:
    from .base import PipelineBase

__all__ = ["HitAnswer", "HitShortcut", "hit_shortcut_for"]

#: request headers that mean a body (the pipeline reads it, or answers 403)
_BODY = frozenset({b"transfer-encoding", b"content-length"})
#: request headers a hit answers with a 304 or a byte range (``If-Range`` says which)
_CONDITIONS = frozenset({b"range", b"if-range", b"if-none-match", b"if-modified-since"})
#: ``Connection`` values that name no header (any other takes the full pipeline)
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close", b"upgrade"})
_HIT = b"Hit from cloudfront"
_ERROR = b"Error from cloudfront"
#: requests this short (uri, query string and keyed headers) have their cache key remembered,
#: at most this many keys at a time (a few MB at most)
_KEY_MEMO_SIZE = 1024
_KEY_MEMO_COUNT = 4096
#: what the rendered-headers memo keeps per behavior: at most these bytes of headers (objects
#: the storage evicted must not stay alive beyond its max_bytes: the memo holds their headers),
#: and no object whose headers are over the second figure
_RENDERED_BYTES = 4 * 2**20
_RENDERED_ONE = 16 * 1024


def hit_shortcut_for(p: PipelineBase, behavior: Behavior) -> HitShortcut | None:
    """The behavior's :class:`HitShortcut`, or ``None`` when its hits need the pipeline."""
    if behavior.viewer_request is not None or behavior.viewer_response is not None:
        return None
    if behavior.cache.max_ttl <= 0 or behavior.forward_all_headers:
        return None
    if behavior.headers_policy is not None:
        return None
    if cloudfront_headers(behavior, PROBE_VIEWER, p.settings):  # type: ignore[arg-type]
        return None  # keyed CloudFront-* headers vary per viewer
    return HitShortcut(p, behavior)


class HitShortcut:
    """One behavior's short way to a fresh cached object."""

    def __init__(self, p: PipelineBase, behavior: Behavior) -> None:
        self.p = p
        self.behavior = behavior
        policy = behavior.cache
        names = {n.lower() for n in policy.headers if not is_disallowed(n.lower())}
        plan = _forward_plan(policy, behavior.origin_request_policy)
        if plan.cookies_any or policy.cookies != "none":
            names.add("cookie")
        self.normalizes_ae = policy.normalizes_accept_encoding
        if self.normalizes_ae:
            names.add("accept-encoding")
        names.add("host")
        #: the viewer headers the key (or the key's host) reads, by raw lower-case name
        self.keyed = frozenset(n.encode("latin-1") for n in names)
        self.head_ok = p.settings.head_from_get
        self.conditionals = p.settings.viewer_conditionals and not cookies_forwarded(
            policy, behavior.origin_request_policy
        )
        self.protocol_ok = behavior.viewer_protocol_policy == "allow-all"
        forwarded, cookies = p.forwarded_for(behavior)
        self.vary_names = forwarded
        drop = set(CLOUDFRONT_ADDED)
        if not cookies:
            drop.add(b"set-cookie")
        self.drop = frozenset(drop)
        #: the cache keys of recent short requests, by uri, query string and keyed headers
        self._keys: dict[tuple[object, ...], str] = {}
        #: rendered viewer headers per cached object: checked by the stored headers object and
        #: the body's length (what rendering reads), never by holding the entry: an evicted
        #: object's body stayed alive here, outside the storage's max_bytes
        self._rendered: dict[str, tuple[object, int, RawHeaders]] = {}
        self._rendered_lower: dict[str, tuple[object, int, RawHeaders]] = {}  # lower-case names
        #: the bytes of the headers kept there (each object's and its rendered copy)
        self._rendered_bytes = 0

    def key(
        self,
        method: str,
        scheme: str,
        uri: str,
        qs: str,
        viewer: Iterable[tuple[bytes, bytes]],
        http_version: str = "1.1",
    ) -> tuple[str, CFHeaders] | None:
        """The cache key of a plain request and its ``Range``/conditional headers (a small
        CloudFront header map), or ``None``: take the full pipeline."""
        if method not in ("GET", "HEAD") or (method == "HEAD" and not self.head_ok):
            return None
        if http_version == "1.0" and self.normalizes_ae:
            return None  # its Accept-Encoding is not keyed (cache.compression.http10_headers)
        if not (self.protocol_ok or scheme == "https"):
            return None
        if len(uri) + len(qs) >= MAX_URI_LENGTH and url_length(uri, qs) > MAX_URI_LENGTH:
            return None
        keyed = self.keyed
        pairs: list[tuple[bytes, bytes]] = []
        conditions: CFHeaders = {}
        size = 0
        memo = len(uri) + len(qs)  # what remembering this key holds
        for raw, value in viewer:
            name = raw.lower()
            size += len(name) + len(value) + 4
            if name in keyed:
                pairs.append((name, value))
                memo += len(name) + len(value)
            if name in _CONDITIONS:
                _add(conditions, name, value)
            elif name in _BODY and (name != b"content-length" or value != b"0"):
                return None
            elif name == b"connection" and value.lower() not in _PLAIN_CONNECTION:
                return None  # it may name a keyed header, gone from the event and the key
        if size > MAX_HEADER_BYTES - 8192:
            return None
        # GET and HEAD share a key: it depends on nothing else than these (cache_key)
        known = (uri, qs, *pairs)
        key = self._keys.get(known)
        if key is None:
            headers: CFHeaders = {}
            for name, value in pairs:
                _add(headers, name, value)
            p = self.p
            key = cache_key(
                method=method,
                host=p._key_host(headers, self.behavior),
                uri=uri,
                querystring=qs,
                headers=headers,
                policy=self.behavior.cache,
                settings=p.settings,
            )
            if memo <= _KEY_MEMO_SIZE:
                if len(self._keys) >= _KEY_MEMO_COUNT:
                    self._keys.clear()
                self._keys[known] = key
        return key, conditions

    def serves(self, entry: CacheEntry | None, conditions: CFHeaders) -> bool:
        """A fresh object the short way may serve (the pipeline's lookup would serve it)."""
        if entry is None or self.p.clock() >= entry.fresh_until:
            return False
        ranged = applicable_range(conditions, entry)
        return stored_response_serves(entry.status, entry.headers, ranged)

    def answer(
        self,
        entry: CacheEntry,
        conditions: CFHeaders,
        rid: bytes,
        http_version: str,
        method: str,
        lower: bool = False,
    ) -> HitAnswer | None:
        """What the viewer gets for ``entry`` (the ``HIT`` then ``VIEWER_RESPONSE`` states'
        answer), or ``None`` when an error status has a custom page to fetch; ``lower``: the
        header names in lower case (ASGI's ``http.response.start``)."""
        p = self.p
        status, body = entry.status, entry.body
        age = (b"age" if lower else b"Age", _age(p.clock(), entry))
        out = [*self._rendered_for(entry, lower), age]
        if conditions and method in ("GET", "HEAD"):  # (a cached OPTIONS ignores them)
            if self.conditionals and not_modified(conditions, entry):
                status, body = 304, b""
                out = [(k, v) for k, v in out if k.lower() != b"content-length"]
            elif status == 200 and (ranged := applicable_range(conditions, entry)) is not None:
                status, body, out = byte_range_response(ranged, body, out)
                if lower:
                    out = [(k.lower(), v) for k, v in out]
        if status >= 400:
            custom = p.config.error_response_for(status)
            if custom is not None and custom.response_page_path:
                return None
        p._edge_tail(out, _HIT if status < 400 else _ERROR, rid, http_version, lower)
        out, head = without_body(status, method, out)
        reason = entry.reason if status == entry.status else reason_phrase(status)
        return HitAnswer(status, reason, out, b"" if head else body)

    def _rendered_for(self, entry: CacheEntry, lower: bool) -> RawHeaders:
        """The entry's headers as a hit sends them (before Age and CloudFront's own), in lower
        case with ``lower``; remembered per key while the entry stays the same."""
        memo = self._rendered_lower if lower else self._rendered
        known = memo.get(entry.key)
        if known is None or known[0] is not entry.headers or known[1] != len(entry.body):
            rendered = self._render(entry)
            if lower:
                rendered = [(k.lower(), v) for k, v in rendered]
            size = sum(len(k) + len(v) for k, v in entry.headers)
            if size > _RENDERED_ONE:  # headers that large are rendered again each time
                return rendered
            if len(memo) >= 4096 or self._rendered_bytes + 2 * size > _RENDERED_BYTES:
                self._rendered.clear()  # (the objects themselves are the storage's to bound)
                self._rendered_lower.clear()
                self._rendered_bytes = 0
            known = (entry.headers, len(entry.body), rendered)
            memo[entry.key] = known
            self._rendered_bytes += 2 * size
        return known[2]

    def _render(self, entry: CacheEntry) -> RawHeaders:
        headers = with_length(without(entry.headers, b"age"), entry.body)
        drop = self.drop
        headers = [(k, v) for k, v in headers if k.lower() not in drop]
        return filter_vary(headers, self.vary_names, self.behavior.cache.min_ttl)


class HitAnswer(NamedTuple):
    status: int
    reason: str
    headers: RawHeaders
    #: empty for a HEAD, a 304 and the other statuses without a body
    body: bytes


def _add(headers: CFHeaders, name: bytes, value: bytes) -> None:
    lower = name.decode("latin-1")
    entry: HeaderEntry = {"key": lower, "value": value.decode("latin-1")}
    headers.setdefault(lower, []).append(entry)


def _age(now: float, entry: CacheEntry) -> bytes:
    age = int(now - entry.stored_at)
    return b"%d" % age if age > 0 else b"0"
