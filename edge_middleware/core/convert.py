"""Pure conversions between ASGI scopes / WSGI environs and CloudFront request dicts.

One function per direction (a2wsgi's ``build_environ``/``build_scope`` style):

* :func:`request_from_scope`, :func:`request_from_environ`: what the viewer sent, as the
  CloudFront ``request`` a viewer-request function sees (disallowed headers removed, §3.1).
* :func:`origin_scope`, :func:`origin_environ`: a CloudFront request as the origin app
  receives it (percent-decoded ``path`` plus the raw bytes in ``raw_path``/``REQUEST_URI``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from .headers import (
    DISALLOWED_HEADERS,
    RawHeaders,
    capitalize,
    connection_options,
    drop_viewer_derived,
    encode_value,
    headers_from_raw,
    headers_to_raw,
    is_disallowed,
    lower_raw,
    name_cache,
    one_cookie,
    replaced_by,
)
from .mounts import PATH_SAFE, at_or_below, missing_mount, quote_latin1
from .responses import reason_phrase
from .types import CFHeaders, CFRequest
from .viewer import viewer_ip

__all__ = [
    "DISALLOWED_HEADERS",
    "PrefixedInput",
    "ViewerRequest",
    "environ_http_version",
    "environ_key",
    "environ_uri",
    "http_key",
    "is_disallowed",
    "origin_environ",
    "origin_protocol",
    "origin_query",
    "origin_raw_path",
    "origin_request_uri",
    "origin_root_path",
    "origin_scope",
    "origin_url_scheme",
    "reason_phrase",
    "request_from_environ",
    "request_from_scope",
    "scope_uri",
    "under_script_name",
    "viewer_scope",
]

_PATH_SAFE = PATH_SAFE
_PRINTABLE = bytes(range(33, 127))
_PATH_PLAIN = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + _PATH_SAFE.encode()
)
_PRINTABLE_TEXT = "".join(chr(b) for b in range(33, 127))


def _target_uri(raw: bytes) -> str:
    """The raw request path as CloudFront's ``uri``: bytes outside printable ASCII (raw UTF-8
    from a lax client, control bytes) are percent-encoded; everything else stays as sent."""
    if not raw.translate(None, _PRINTABLE):  # nothing outside 33..126 (a C-speed check)
        return raw.decode("ascii")
    return quote(raw, safe=_PRINTABLE_TEXT)


def _target_text(uri: str) -> str:
    """A ``uri`` as the origin's request target carries it. A viewer's uri is printable ASCII
    (:func:`_target_uri`) and goes as it is; a character outside ASCII can only come from a
    function, and goes percent-encoded as UTF-8 (a request target is ASCII, RFC 9112 §3.2), so
    the raw target decodes to the same path the app reads and a URL origin receives
    ``/caf%C3%A9`` for ``/café`` (README, "A uri outside ASCII")."""
    return uri if uri.isascii() else quote(uri, safe=_PRINTABLE_TEXT)


def origin_raw_path(uri: str) -> bytes:
    """The origin scope's ``raw_path`` for ``uri`` (:func:`_target_text`)."""
    return _target_text(uri).encode("ascii")


def origin_request_uri(uri: str, query_string: str) -> str:
    """The origin environ's ``REQUEST_URI``/``RAW_URI``: ``uri`` as its target
    (:func:`_target_text`) and the environ's ``QUERY_STRING`` after a ``?`` when there is one."""
    target = _target_text(uri)
    return f"{target}?{query_string}" if query_string else target


_ASCII_TEXT = "".join(chr(b) for b in range(128))


def origin_query(query: str, viewer: str) -> str:
    """The query string the origin receives for the request's ``query``, as the latin-1 text
    of its bytes (``viewer``: the viewer's own query string, so read).

    A parameter (``&``-separated) the viewer sent goes out as the bytes it came as, as the
    headers do (lambda-edge.md §1.4). A function's text goes out as UTF-8, its characters
    outside ASCII percent-encoded (§3.2 recommends it; an ASGI ``query_string`` is
    percent-encoded bytes); the rest stays as written (``%2B``, ``+``, ``=``), so ASGI,
    WSGI and URL origins all receive ``q=caf%C3%A9`` for ``q=café`` (docs/events.md)."""
    if query.isascii() or query == viewer:
        return query
    sent = set(viewer.split("&"))
    return "&".join(
        part if part.isascii() or part in sent else quote(part, safe=_ASCII_TEXT)
        for part in query.split("&")
    )


@dataclass(slots=True)
class ViewerRequest:
    """What a front door hands the pipeline about the viewer's request."""

    request: CFRequest
    scheme: str
    http_version: str
    #: Content-Length of the viewer body, ``-1`` for chunked/unknown, ``0`` for none.
    body_length: int
    #: Bytes of the request line plus header section (for CloudFront's 20,480-byte limit).
    header_bytes: int
    #: The viewer's source port (``CloudFront-Viewer-Address``); 0 when the server gave none.
    client_port: int = 0


def _viewer_headers(raw: RawHeaders) -> CFHeaders:
    headers = headers_from_raw(raw, drop_disallowed=True)
    for name, value in raw:
        if name.lower() == b"connection":  # what it lists went with the viewer's connection
            for listed in connection_options(value.decode("latin-1")):
                headers.pop(listed, None)
    return headers


def _body_length(headers: CFHeaders) -> int:
    if "transfer-encoding" in headers:
        return -1  # RFC 9112 §6.3: it frames the body, whatever a Content-Length beside says
    cl = headers.get("content-length")
    if cl:
        try:
            return max(0, int(cl[0]["value"]))
        except ValueError:
            return -1
    return 0


def viewer_scope(scope: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``scope`` with its request target as CloudFront reads it: an absolute-form target
    (``GET http://host/path``, RFC 9112 §3.2.2) as its path, and no ``#fragment`` (a client
    never sends one; a server that passes it on left it in the path or the query). Most scopes
    need nothing and are returned as they are."""
    raw_path: bytes | None = scope.get("raw_path")
    query: bytes = scope.get("query_string", b"")
    absolute = raw_path is not None and raw_path[:1] != b"/" and b"://" in raw_path
    if not (absolute or b"#" in (raw_path or b"") or b"#" in query):
        return scope
    fixed = dict(scope)
    if raw_path is not None:
        target = raw_path.partition(b"#")[0]
        if absolute:
            target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
        if target != raw_path:
            fixed["raw_path"] = target
            fixed["path"] = unquote(target.decode("latin-1"))
    fixed["query_string"] = query.partition(b"#")[0]
    return fixed


def scope_uri(scope: Mapping[str, Any]) -> str:
    """The viewer's ``uri`` (CloudFront's form of the path) from an ASGI scope."""
    raw_path = scope.get("raw_path")
    root: str = scope.get("root_path", "")
    # ASGI's ``path`` holds the ``root_path`` (origin_root_path); a server of the older
    # reading (FastAPI's root_path, a proxy that strips it) gives the path below it
    path: str = scope["path"]
    if root and not at_or_below(path, root):
        path = root.rstrip("/") + path
    if raw_path:
        uri = _target_uri(raw_path.split(b"?", 1)[0])
        return missing_mount(root, path, unquote(uri), quote) + uri if root else uri
    return quote(path, safe=_PATH_SAFE)


def environ_http_version(environ: Mapping[str, Any]) -> str:
    """The viewer's HTTP version from a WSGI environ: ``HTTP/1.1`` -> ``1.1``."""
    return str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")).rpartition("/")[2] or "1.1"


def environ_uri(environ: Mapping[str, Any]) -> str:
    """The viewer's ``uri`` from a WSGI environ: the raw request target (``RAW_URI`` or
    ``REQUEST_URI``) when the server gives it, so percent-encoding survives."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target:
        if target[:1] != "/" and "://" in target:  # absolute-form (origin-form starts "/")
            rest = target.split("://", 1)[1]  # the authority ends at the first / or ?
            rest = rest[len(rest.partition("/")[0].partition("?")[0]) :]
            target = rest if rest[:1] == "/" else "/" + rest
        target = target.partition("#")[0]  # a fragment the server left in (gunicorn)
        uri = _target_uri(target.split("?", 1)[0].encode("latin-1", "replace")) or "/"
        script: str = environ.get("SCRIPT_NAME", "")
        if script:  # below the mount (ProxyFix x_prefix): the URL is SCRIPT_NAME + PATH_INFO
            full = script.rstrip("/") + environ.get("PATH_INFO", "")
            decoded = unquote_to_bytes(uri).decode("latin-1")
            uri = missing_mount(script, full, decoded, quote_latin1) + uri
        return uri
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    if not path.translate(None, _PATH_PLAIN):  # nothing quote() would change
        return path.decode("ascii") or "/"
    return quote(path, safe=_PATH_SAFE) or "/"


def request_from_scope(scope: Mapping[str, Any]) -> ViewerRequest:
    """An ASGI ``http`` scope to the viewer's CloudFront request (no body)."""
    uri = scope_uri(scope)
    raw: RawHeaders = scope["headers"]
    headers = _viewer_headers(raw)
    client = scope.get("client")
    qs: bytes = scope.get("query_string", b"")
    request: CFRequest = {
        "clientIp": viewer_ip(client[0]) if client else "127.0.0.1",
        "headers": headers,
        "method": scope["method"],
        "querystring": qs.decode("latin-1"),
        "uri": uri,
    }
    header_bytes = len(uri) + len(qs) + sum(len(k) + len(v) + 4 for k, v in raw)
    port = client[1] if client and len(client) > 1 and type(client[1]) is int else 0
    return ViewerRequest(
        request,
        scope.get("scheme", "http"),
        scope.get("http_version", "1.1"),
        _body_length(headers),
        header_bytes,
        port,
    )


@name_cache(2048)  # the same environ keys come with every request
def _environ_name(key: str) -> bytes:
    """``HTTP_X_API_KEY`` -> ``b"X-Api-Key"``; ``CONTENT_TYPE`` -> ``b"Content-Type"``."""
    name = key[5:] if key.startswith("HTTP_") else key
    return capitalize(name.replace("_", "-").lower()).encode("latin-1")


def _environ_headers(environ: dict[str, Any]) -> RawHeaders:
    raw: RawHeaders = []
    for key, value in environ.items():
        if not key.startswith("HTTP_") and (
            key not in ("CONTENT_TYPE", "CONTENT_LENGTH") or not value
        ):
            continue
        raw.append((_environ_name(key), str(value).encode("latin-1", "replace")))
    return raw


def request_from_environ(environ: dict[str, Any]) -> ViewerRequest:
    """A WSGI environ to the viewer's CloudFront request (no body).

    WSGI servers join repeated headers into one value (PEP 3333); they arrive here as one
    entry. The raw request target (``RAW_URI``/``REQUEST_URI``) is used when the server
    gives it, so percent-encoding survives.
    """
    uri = environ_uri(environ)
    raw = _environ_headers(environ)
    headers = _viewer_headers(raw)
    qs = environ.get("QUERY_STRING", "")
    request: CFRequest = {
        "clientIp": viewer_ip(environ.get("REMOTE_ADDR")),
        "headers": headers,
        "method": environ["REQUEST_METHOD"],
        "querystring": qs,
        "uri": uri,
    }
    header_bytes = len(uri) + len(qs) + sum(len(k) + len(v) + 4 for k, v in raw)
    port = environ.get("REMOTE_PORT", "")
    return ViewerRequest(
        request,
        environ.get("wsgi.url_scheme", "http"),
        environ_http_version(environ),
        _body_length(headers),
        header_bytes,
        int(port) if type(port) is str and port.isdigit() and len(port) < 6 else 0,
    )


def _replace_content_length(raw: RawHeaders, length: int | None) -> RawHeaders:
    if length is None:
        return raw
    out = [(k, v) for k, v in raw if k.lower() not in (b"content-length", b"transfer-encoding")]
    out.append((b"content-length", str(length).encode()))  # 0 too: a POST made empty says so
    return out


def _origin_extras(request: CFRequest, request_id: str) -> tuple[str, RawHeaders, str | None]:
    """What CloudFront adds that the event does not show: the origin path in front of the
    uri, the origin custom headers, and ``X-Amz-Cf-Id`` (lambda-edge.md §1.3, §1.6); and the
    protocol it reaches a custom origin with (§1.6: ``OriginProtocolPolicy``), which is the
    scheme the origin app sees (``None``: the viewer's, as for an S3 origin)."""
    origin: Any = request.get("origin") or {}
    target: Any = origin.get("custom") or origin.get("s3") or {}
    extra = headers_to_raw(target.get("customHeaders") or {})
    if request_id:
        extra.append((b"X-Amz-Cf-Id", request_id.encode()))
    return target.get("path", "") or "", extra, origin_protocol(origin)


def origin_protocol(origin: Mapping[str, Any]) -> str | None:
    """The scheme CloudFront reaches ``request.origin`` with: a custom origin's ``protocol``
    (``OriginProtocolPolicy``, lambda-edge.md §1.6); ``None`` for an S3 origin (the viewer's)."""
    custom = origin.get("custom")
    protocol = custom.get("protocol") if custom else None
    return protocol if protocol in ("http", "https") else None


def origin_scope(
    scope: Mapping[str, Any],
    request: CFRequest,
    body_length: int | None = None,
    *,
    request_id: str = "",
    origin_path: bool = True,
) -> dict[str, Any]:
    """The scope the origin app receives for a CloudFront origin request.

    ``body_length`` is set when the body was replaced, so ``content-length`` matches it.
    ``origin_path=False`` leaves the origin path to a proxy that adds it itself.
    """
    prefix, extra, protocol = _origin_extras(request, request_id)
    uri = (prefix if origin_path else "") + request["uri"]
    raw_path = origin_raw_path(uri)
    new = dict(scope)
    if protocol:
        new["scheme"] = protocol
    new["path"] = unquote(uri)
    new["raw_path"] = raw_path
    viewer_query: bytes = scope.get("query_string", b"")
    query = origin_query(request["querystring"], viewer_query.decode("latin-1"))
    new["query_string"] = query.encode("latin-1")
    # ASGI requires lower-case header names in a scope (CloudFront's ``key`` keeps the case
    # the viewer or handler gave; Starlette's ``Headers`` only finds lower-case names).
    raw = replaced_by(
        lower_raw(request["headers"]), [(name.lower(), value) for name, value in extra]
    )
    if len(request["headers"].get("cookie", ())) > 1:
        raw = one_cookie(raw)
    new["headers"] = _replace_content_length(raw, body_length)
    drop_viewer_derived(new, scope["headers"], new["headers"])
    new["method"] = request["method"]
    new["root_path"] = origin_root_path(scope, new["path"])
    return new


def origin_root_path(scope: Mapping[str, Any], path: str) -> str:
    """The origin scope's ``root_path``: the viewer's (``uvicorn --root-path``, a ``Mount``)
    while the origin's ``path`` (which holds it, as the uri does) still starts with it; else
    ``""``, as the WSGI door clears a ``SCRIPT_NAME`` the path left."""
    root: str = scope.get("root_path", "").rstrip("/")  # ("/api/" routed /api/x as "x")
    return root if root and at_or_below(path, root) else ""


class PrefixedInput(io.RawIOBase):
    """``wsgi.input`` for the origin when a function saw only the first part of the body: the
    bytes read already, then the rest straight from the viewer's stream (never all in memory).
    """

    def __init__(self, prefix: bytes, rest: Any) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            head = bytes(self._prefix)
            self._prefix = self._prefix[len(self._prefix) :]
            return head + bytes(self._rest.read())
        if self._prefix:
            head = bytes(self._prefix[:size])
            self._prefix = self._prefix[len(head) :]
            if len(head) < size:  # a full read across the seam, as apps expect
                head += bytes(self._rest.read(size - len(head)))
            return head
        return bytes(self._rest.read(size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        if self._prefix:
            data = bytes(self._prefix)
            end = data.find(b"\n")
            cut = len(data) if end < 0 else end + 1
            if size is not None and size >= 0:
                cut = min(cut, size)
            self._prefix = self._prefix[cut:]
            head = data[:cut]
            if head.endswith(b"\n") or (size is not None and 0 <= size <= len(head)):
                return head
            more = self._rest.readline(-1 if size is None or size < 0 else size - len(head))
            return head + bytes(more)
        return bytes(self._rest.readline(-1 if size is None else size))


@name_cache(1024)  # header names repeat from request to request
def environ_key(lower: str) -> str:
    """The environ key of a header (PEP 3333): ``x-api-key`` -> ``HTTP_X_API_KEY``, and
    ``CONTENT_TYPE`` / ``CONTENT_LENGTH`` for those two."""
    if lower == "content-type":
        return "CONTENT_TYPE"
    if lower == "content-length":
        return "CONTENT_LENGTH"
    return http_key(lower)


@name_cache(256)
def http_key(name: str) -> str:
    """``x-api-key`` -> ``HTTP_X_API_KEY`` for any name: an origin's custom headers always
    take this form, even one named Content-Type."""
    return "HTTP_" + name.upper().replace("-", "_")


def _wire_text(value: str) -> str:
    """A header value as WSGI carries it (PEP 3333): its wire bytes (:func:`encode_value`:
    UTF-8 for a function's text, else the bytes it came as) read as latin-1."""
    return value if value.isascii() else encode_value(value).decode("latin-1")


def under_script_name(environ: Mapping[str, Any], path: str) -> bool:
    """Whether ``path`` is at or below the environ's ``SCRIPT_NAME`` (the app's mount point:
    ``/app`` itself is, with an empty ``PATH_INFO``, as the server gave it)."""
    script: str = environ.get("SCRIPT_NAME", "")
    return bool(script) and at_or_below(path, script)


def origin_url_scheme(environ: dict[str, Any], protocol: str) -> None:
    """The scheme CloudFront reaches the origin with, as a WSGI server would give it."""
    environ["wsgi.url_scheme"] = protocol
    if "HTTPS" in environ:
        environ["HTTPS"] = "on" if protocol == "https" else "off"


def origin_environ(
    environ: dict[str, Any],
    request: CFRequest,
    body: bytes | None = None,
    *,
    request_id: str = "",
    origin_path: bool = True,
) -> dict[str, Any]:
    """The environ the origin app receives; ``body`` replaces ``wsgi.input`` when given."""
    prefix, extra, protocol = _origin_extras(request, request_id)
    new = environ.copy()  # then the viewer's headers out (faster than a filtered copy)
    if protocol:
        origin_url_scheme(new, protocol)
    for key in [k for k in new if k[:5] == "HTTP_"]:
        del new[key]
    new.pop("CONTENT_TYPE", None)
    new.pop("CONTENT_LENGTH", None)
    uri = (prefix if origin_path else "") + request["uri"]
    # PEP 3333: PATH_INFO is the path's bytes as latin-1 (a function may set a non-ASCII uri)
    plain = "%" not in uri and uri.isascii()
    path = uri if plain else unquote_to_bytes(uri).decode("latin-1")
    if under_script_name(environ, path):
        path = path[len(environ["SCRIPT_NAME"].rstrip("/")) :]
    else:
        new["SCRIPT_NAME"] = ""
    new["PATH_INFO"] = path
    new["QUERY_STRING"] = origin_query(request["querystring"], environ.get("QUERY_STRING", ""))
    new["REQUEST_URI"] = new["RAW_URI"] = origin_request_uri(uri, new["QUERY_STRING"])
    new["REQUEST_METHOD"] = request["method"]
    for lower, entries in request["headers"].items():
        if len(entries) == 1:  # a plain loop: a comprehension is a call each on 3.11
            new[environ_key(lower)] = _wire_text(entries[0]["value"])
        else:
            values = [_wire_text(e["value"]) for e in entries]
            new[environ_key(lower)] = ("; " if lower == "cookie" else ", ").join(values)
    for name, value in extra:
        new[http_key(name.decode("latin-1"))] = value.decode("latin-1")
    if body is not None:
        new["wsgi.input"] = io.BytesIO(body)
        new["CONTENT_LENGTH"] = str(len(body))
        new.pop("HTTP_TRANSFER_ENCODING", None)
    return new
