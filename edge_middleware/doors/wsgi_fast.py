"""The WSGI door's short way (``pipeline/fast.py``): the origin app is called on the request's
own thread with CloudFront's request, and its answer goes to the viewer with CloudFront's
headers as it streams. Its twin is ``asgi_fast.py``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from ..cache.forwarding import forwarded_cookie
from ..config.model import Behavior
from ..core.convert import (
    environ_http_version,
    environ_key,
    environ_uri,
    http_key,
    origin_request_uri,
    origin_url_scheme,
    reason_phrase,
    under_script_name,
)
from ..core.headers import connection_options, encode_value, memo_keeps, name_cache
from ..core.limits import MAX_HEADER_BYTES
from ..core.types import CFHeaders
from ..core.viewer import viewer_ip
from ..exceptions import CloudFrontError
from ..pipeline.effects import OriginResponse
from ..pipeline.fast import COOKIE, DROP, SLOW, Shortcut
from ..pipeline.fast_hit import HitAnswer, HitShortcut
from ..pipeline.flow import Prefetched, Routed
from .interfaces import StartResponse
from .wsgi_origin import OriginCall, start_viewer

if TYPE_CHECKING:
    from .wsgi import EdgeWSGIMiddleware

__all__ = ["shortcut"]

logger = logging.getLogger("edge_middleware.wsgi")


@name_cache(1024)
def _header_name(key: str) -> bytes:
    """``HTTP_X_API_KEY`` -> ``b"x-api-key"`` (as ``request_from_environ`` names it)."""
    name = key[5:] if key.startswith("HTTP_") else key
    return name.replace("_", "-").lower().encode("latin-1")


def shortcut(
    mw: EdgeWSGIMiddleware, environ: dict[str, Any], start_response: StartResponse
) -> tuple[Iterable[bytes] | None, Prefetched | None, Routed | None]:
    """Serve the request the short way: ``(answer, None, None)``. ``(None, lookup, route)``:
    nothing was called and the pipeline answers, with the cache read already made and the
    route found (or ``None``)."""
    pipeline = mw.options.pipeline
    answer: HitAnswer | None = None
    prepared = None
    try:
        uri, behavior = pipeline.route(environ_uri(environ))
        hit = pipeline.hit_shortcuts.get(id(behavior))
        if hit is not None:
            hv = environ_http_version(environ)
            found = _hit_key(hit, environ, uri, hv)
            if found is None:
                return None, None, (uri, behavior)
            key, conditions = found
            entry = mw.options.storage.get(key)
            if entry is not None and hit.serves(entry, conditions):
                rid = pipeline.request_id().encode()
                method = environ["REQUEST_METHOD"]
                answer = hit.answer(entry, conditions, rid, hv, method)
            if answer is None:
                return None, (key, entry), (uri, behavior)
        else:
            prepared = _prepare(mw, environ, uri, behavior)
            if prepared is None:
                return None, None, (uri, behavior)
    except Exception:  # nothing was called: the pipeline answers (its 502 at worst)
        logger.exception("edge_middleware's short way failed; the pipeline answers")
        return None, None, None
    if answer is not None:
        start_viewer(start_response, answer.status, answer.reason, answer.headers)
        return [answer.body] if answer.body else [], None, None
    assert prepared is not None
    return _fetch(mw, prepared, start_response), None, None


def _viewer_pairs(environ: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    """The viewer's headers as ``request_from_environ`` reads them: lower-case names."""
    return [
        (_header_name(key), str(value).encode("latin-1", "replace"))
        for key, value in environ.items()
        if key[:5] == "HTTP_" or (key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value)
    ]


def _hit_key(
    hit: HitShortcut, environ: dict[str, Any], uri: str, hv: str
) -> tuple[str, CFHeaders] | None:
    method: str = environ["REQUEST_METHOD"]
    qs: str = environ.get("QUERY_STRING", "")
    scheme = environ.get("wsgi.url_scheme", "http")
    return hit.key(method, scheme, uri, qs, _viewer_pairs(environ), hv)


def _fetch(
    mw: EdgeWSGIMiddleware,
    prepared: tuple[Shortcut, Any, dict[str, Any], bytes, str, str],
    start_response: StartResponse,
) -> Iterable[bytes]:
    cut, app, origin, rid, hv, method = prepared
    call = OriginCall(app, origin)
    answer = call.head()
    if isinstance(answer, OriginResponse):
        viewed = cut.viewer_headers(answer.status, answer.headers, rid, hv, method)
        if not isinstance(viewed, CloudFrontError):
            headers, head = viewed
            try:
                start_viewer(start_response, answer.status, reason_phrase(answer.status), headers)
            except BaseException:  # the server refused the head: the app is closed all the same
                call.close()
                raise
            if head or not answer.streaming:
                call.close()
                return [] if head else [answer.body]
            return _Rest(call, answer.body)
        answer = viewed
        call.close()
    outcome = mw.options.pipeline.error_outcome(answer, rid.decode(), hv, cut.behavior, [])
    outcome.no_body(method)
    start_viewer(start_response, outcome.status, outcome.reason, outcome.headers)
    return [] if outcome.head else [outcome.body]


def _prepare(
    mw: EdgeWSGIMiddleware, environ: dict[str, Any], uri: str, behavior: Behavior
) -> tuple[Shortcut, Any, dict[str, Any], bytes, str, str] | None:
    pipeline = mw.options.pipeline
    cut = pipeline.shortcuts.get(id(behavior))
    if cut is None:
        return None
    target = mw.options.origins.get(cut.origin_id)
    app = mw.app if target is None else target
    if not callable(app):
        return None  # a URL origin: the proxy takes the full pipeline
    method: str = environ["REQUEST_METHOD"]
    scheme: str = environ.get("wsgi.url_scheme", "http")
    qs: str = environ.get("QUERY_STRING", "")
    if not cut.viewer_ok(method, scheme, uri, qs):
        return None
    hv = environ_http_version(environ)
    client = viewer_ip(environ.get("REMOTE_ADDR"))
    origin = _origin_environ(cut, environ, client, hv)
    if origin is None:
        return None
    rid = pipeline.request_id()
    prefix, custom, origin_scheme = cut.extras(scheme)
    if origin_scheme != scheme:
        origin_url_scheme(origin, origin_scheme)
    uri = prefix + uri
    path = unquote_to_bytes(uri).decode("latin-1") if "%" in uri else uri
    if under_script_name(environ, path):
        path = path[len(environ["SCRIPT_NAME"].rstrip("/")) :]
    else:
        origin["SCRIPT_NAME"] = ""
    qs = cut.querystring_for(qs)
    origin["PATH_INFO"] = path
    origin["QUERY_STRING"] = encode_value(qs).decode("latin-1")
    origin["REQUEST_URI"] = origin["RAW_URI"] = origin_request_uri(uri, origin["QUERY_STRING"])
    origin["REQUEST_METHOD"] = method
    for name, value in custom:  # as origin_environ adds them: always HTTP_*, then the id
        origin[http_key(name.decode("latin-1"))] = value.decode("latin-1")
    origin["HTTP_X_AMZ_CF_ID"] = rid
    origin["edge.middleware"] = mw
    return cut, app, origin, rid.encode(), hv, method


#: per environ key, the header name it stands for (lower-case), or ``None`` for a key that is
#: not its name's own key (``HTTP_CONTENT_TYPE``, ``HTTP_x_y``): such a request takes the
#: pipeline, which reads every key as ``request_from_environ`` does
_KEY_NAMES: dict[str, bytes | None] = {}


def _key_name(key: str) -> bytes | None:
    known = _KEY_NAMES.get(key, b"")
    if known != b"":
        return known
    name: bytes | None = _header_name(key)
    if not name or environ_key(name.decode("latin-1")) != key:
        name = None
    if memo_keeps(_KEY_NAMES, key):
        _KEY_NAMES[key] = name
    return name


def _origin_environ(
    cut: Shortcut, environ: dict[str, Any], client: str, http_version: str
) -> dict[str, Any] | None:
    """The origin's environ (without the path, query string and id) straight from the
    viewer's, with the headers :meth:`Shortcut.origin_headers` would send: the same
    decisions, asked of the same rules, on environ keys; ``None``: take the pipeline."""
    origin = environ.copy()
    size = 0
    xff = ""
    agent = False
    for key, value in environ.items():
        if key[:5] != "HTTP_":
            if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
                continue
            if not value:  # an empty one is no header
                del origin[key]
                continue
        name = _key_name(key)
        if name is None:
            return None
        if not value.isascii():  # as the wire has it: latin-1, "?" for what is not
            value = origin[key] = value.encode("latin-1", "replace").decode("latin-1")
        size += len(name) + len(value) + 4
        if key == "HTTP_HOST":
            if not (cut.host_from_viewer and value):  # an empty Host: the origin's own
                origin[key] = cut.origin_host_text
            continue
        if key == "HTTP_X_FORWARDED_FOR":
            xff = value
        kept = _forward(cut, origin, key, name, value)
        if kept is None:
            return None
        if kept and key == "HTTP_USER_AGENT":
            agent = True
    if size > MAX_HEADER_BYTES - 8192:  # near CloudFront's 413: let the pipeline judge
        return None
    if "HTTP_HOST" not in environ:
        origin["HTTP_HOST"] = cut.origin_host_text
    origin["HTTP_X_FORWARDED_FOR"] = f"{xff}, {client}" if xff else client
    origin["HTTP_VIA"] = cut.p._via(http_version).decode("latin-1")
    if not agent:
        origin["HTTP_USER_AGENT"] = "Amazon CloudFront"
    return origin


def _forward(
    cut: Shortcut, origin: dict[str, Any], key: str, name: bytes, value: str
) -> bool | None:
    """Apply the rules' decision on one viewer header to ``origin``: ``True`` when it goes as
    it is, ``False`` when it was dropped or rewritten, ``None``: take the pipeline."""
    decision = cut.decision(name)
    if not decision:
        return True
    if decision == DROP:
        if key == "HTTP_CONNECTION" and connection_options(value):
            return None  # it names headers to remove: the pipeline removes them
        del origin[key]
        return False
    if decision == COOKIE:
        cookie = forwarded_cookie(cut.plan, [{"key": "", "value": value}])
        if cookie is None:
            del origin[key]
        else:
            origin[key] = encode_value(cookie).decode("latin-1")
        return False
    if decision == SLOW or value != "0":
        return None
    return True  # Content-Length: 0


class _Rest:
    """The first bytes, then the rest of the origin's iterable; ``close`` closes it."""

    def __init__(self, call: OriginCall, first: bytes) -> None:
        self.call = call
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        if self.first:
            yield self.first
        try:
            while (chunk := self.call.next_chunk()) is not None:
                yield chunk
        except Exception:
            logger.exception("the response to the viewer broke off after it started")
            raise

    def close(self) -> None:
        self.call.close()
