"""Validate what a Lambda@Edge handler returns, the way CloudFront does.

Spec: lambda-edge.md §1.4-§1.6, §2 and §3.1-§3.3; where AWS is silent the switches in
:class:`~edge_middleware.config.settings.EdgeSettings` (decisions.md #1-#16) apply. Pure
functions, no IO.

An invalid result raises :class:`~edge_middleware.exceptions.LambdaValidationError` (502) whose
reason uses CloudFront's observed wording where known and whose ``field`` names the offending
item (``response.headers["x-cache"]``, ``request.origin.custom.port`` ...). A valid result comes
back as a *new* normalised object that shares nothing with the handler's dicts and lists.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from ..config.settings import EdgeSettings
from ..exceptions import LambdaValidationError, OriginError
from .headers import (
    DISALLOWED_HEADERS,
    VALUE_CONTROLS,
    RawHeaders,
    capitalize,
    is_disallowed,
    raw_header_problem,
)
from .limits import MAX_URI_LENGTH, REQUEST_BODY_LIMITS
from .types import (
    CFBody,
    CFHeaders,
    CFOrigin,
    CFRequest,
    CFResponse,
    EventType,
    HeaderEntry,
)

__all__ = [
    "DISALLOWED_HEADERS",
    "REQUEST_BODY_LIMITS",
    "RequestResult",
    "ResponseResult",
    "copy_request",
    "copy_response",
    "is_disallowed_header",
    "origin_response_error",
    "read_only_headers",
    "shrink_for_trace",
    "validate_request_result",
    "validate_response_result",
]

_log = logging.getLogger(__name__)

INVALID_JSON = "The Lambda function returned invalid JSON: "
FAILED = "The Lambda function result failed validation: "
NOT_OBJECT = INVALID_JSON + "The JSON output must be an object type."
NOT_PARSABLE = INVALID_JSON + "The JSON output is not parsable."
READ_ONLY = FAILED + "The function tried to add, delete, or change a read-only header."
BLACKLISTED = FAILED + "The function tried to add a blacklisted header."
BAD_BODY = FAILED + "The body is not a string, is not an object, or exceeds the maximum size"
BAD_URI = FAILED + "invalid uri format"
#: A text body must be valid Unicode: a lone surrogate has no UTF-8 form.
SURROGATE_BODY = FAILED + "The body contains a lone surrogate, which is not valid UTF-8."
BAD_HEADER_VALUE = (
    FAILED + "the value of each header value must be of string or array of string type"
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: §3.1: names an origin custom header may not use (plus the two prefixes below).
ORIGIN_CUSTOM_HEADER_DENY = _names(
    "cache-control connection content-length cookie host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since max-forwards pragma proxy-authorization "
    "proxy-connection range request-range te trailer transfer-encoding upgrade via "
    "x-real-ip"
)
ORIGIN_CUSTOM_HEADER_DENY_PREFIXES = ("x-amz-", "x-edge-")

_RO_ORIGIN_REQUEST = (
    "accept-encoding content-length if-modified-since if-none-match if-range "
    "if-unmodified-since transfer-encoding via"
)
#: §3.1 read-only headers per event; "current" docs and the "2023" page (decisions.md #16).
READ_ONLY_HEADERS: dict[str, dict[EventType, frozenset[str]]] = {
    "current": {
        "viewer-request": _names("cdn-loop content-length host transfer-encoding via"),
        "origin-request": _names("cdn-loop " + _RO_ORIGIN_REQUEST),
        "origin-response": _names("transfer-encoding via"),
        "viewer-response": _names("warning via content-length content-encoding transfer-encoding"),
    },
    "2023": {
        "viewer-request": _names("content-length host transfer-encoding via"),
        "origin-request": _names(_RO_ORIGIN_REQUEST),
        "origin-response": _names("transfer-encoding via"),
        "viewer-response": _names("warning via"),
    },
}

#: §1.5: replaced request body limits (text bytes; a base64 string may be 4/3 as long).
#: §3.2: uri + "?" + querystring returned by a function must be shorter than this.

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# No control character but HTAB (CloudFront rejects them all; CR, LF and NUL would also split
# the header on the wire); lone surrogates cannot be encoded at all.
_BAD_VALUE_CHAR = re.compile(f"[{VALUE_CONTROLS}\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_URI_CHAR = re.compile("[\x00-\x20\x7f\ud800-\udfff]")
_BAD_QUERY_CHAR = re.compile("[\x00-\x20\x7f#\ud800-\udfff]")
_BAD_REASON_CHAR = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_STATUS = re.compile(r"[0-9]{1,10}")
_DNS = re.compile(r"[A-Za-z0-9._-]+")
_SSL_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3"})
_TYPE_NAMES: dict[type, str] = {str: "a string", dict: "an object", list: "an array", int: "an int"}
_MISSING: Any = object()


@dataclass(slots=True)
class RequestResult:
    """A request trigger's result taken as a request."""

    #: A new normalised request (keeps ``body`` only with IncludeBody, ``origin`` only in
    #: origin-request). A replaced body appears as ``action: "replace"``, ``encoding: "base64"``.
    request: CFRequest
    #: ``None``: send the original body; bytes: the body was replaced (``action: "replace"``).
    body: bytes | None


@dataclass(slots=True)
class ResponseResult:
    """A generated response, or a response trigger's result."""

    status: int
    status_description: str
    #: A new normalised header map (every entry has a ``key``).
    headers: CFHeaders
    #: ``None``: no body given (origin-response keeps the origin body; generated: empty).
    body: bytes | None


def _copy_headers(headers: CFHeaders) -> CFHeaders:
    return {name: [entry.copy() for entry in entries] for name, entries in headers.items()}


def copy_request(req: CFRequest) -> CFRequest:
    """A copy of ``req`` that shares no dict or list with it (faster than ``copy.deepcopy``)."""
    out = req.copy()
    out["headers"] = _copy_headers(req["headers"])
    body = req.get("body")
    if body is not None:
        out["body"] = body.copy()
    origin = req.get("origin")
    if origin is not None:
        out["origin"] = _copy_origin(origin)
    return out


def _copy_origin(origin: CFOrigin) -> CFOrigin:
    out: CFOrigin = {}
    custom = origin.get("custom")
    if custom is not None:
        out["custom"] = c = custom.copy()
        c["customHeaders"] = _copy_headers(custom["customHeaders"])
        c["sslProtocols"] = list(custom["sslProtocols"])
    s3 = origin.get("s3")
    if s3 is not None:
        out["s3"] = s = s3.copy()
        s["customHeaders"] = _copy_headers(s3["customHeaders"])
    return out


def copy_response(resp: CFResponse) -> CFResponse:
    """A copy of ``resp`` that shares no dict or list with it."""
    out = resp.copy()
    out["headers"] = _copy_headers(resp["headers"])
    return out


#: The same rule under the name this module has always exported.
is_disallowed_header = is_disallowed


def read_only_headers(event_type: EventType, settings: EdgeSettings) -> frozenset[str]:
    """The read-only header names (lower-case) of one event (§3.1, decisions.md #16)."""
    return READ_ONLY_HEADERS[settings.readonly_header_list][event_type]


def _fail(reason: str, field: str) -> LambdaValidationError:
    return LambdaValidationError(FAILED + reason, field=field)


def _get(obj: dict[str, Any], key: str, typ: type, path: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` checked to be of ``typ`` (bool is not an int); missing: ``default`` or 502."""
    if key not in obj:
        if default is _MISSING:
            raise _fail(f"The required field {path} is missing.", path)
        return default
    value = obj[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise _fail(f"The field {path} must be {_TYPE_NAMES[typ]}.", path)
    return value


def _json_object(result: object) -> dict[str, Any]:
    """What CloudFront receives: the result through JSON (fresh objects; tuples become lists)."""
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise LambdaValidationError(NOT_PARSABLE, field="result")
    if not isinstance(result, dict):
        raise LambdaValidationError(NOT_OBJECT, field="result")
    data: dict[str, Any] = json.loads(text)
    return data


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _b64decode(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise _fail("The body is not valid base64 (bodyEncoding/encoding is base64).", field)


def _header_map(value: Any, path: str, settings: EdgeSettings) -> CFHeaders:
    """A handler's header map checked and normalised (§1.4, decisions.md #2, #3)."""
    if not isinstance(value, dict):
        raise _fail(f"The field {path} must be an object.", path)
    title = settings.key_capitalization == "title"
    by_entry_key = settings.header_identity == "entry-key"
    out: CFHeaders = {}
    for name, entries in value.items():
        hpath = f'{path}["{name.lower()}"]'
        if not _TOKEN.fullmatch(name):
            raise _fail(f"The header name {name!r} is not a valid HTTP header name.", hpath)
        if not isinstance(entries, list):
            raise LambdaValidationError(BAD_HEADER_VALUE, field=hpath)
        default_key = (
            "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))
            if title
            else capitalize(name)
        )
        for i, entry in enumerate(entries):
            epath = f"{hpath}[{i}]"
            val = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(val, str):
                raise LambdaValidationError(BAD_HEADER_VALUE, field=epath + ".value")
            bad = _BAD_VALUE_CHAR.search(val)
            if bad:
                reason = f"invalid character '%{ord(bad.group()):02X}' in header value"
                raise _fail(reason, epath + ".value")
            key = entry.get("key")
            if key is None:
                key = default_key
            elif not isinstance(key, str) or not _TOKEN.fullmatch(key):
                raise _fail(
                    f"The header key {key!r} is not a valid HTTP header name.", epath + ".key"
                )
            ident = key.lower() if by_entry_key else name.lower()
            if key.lower() != ident:  # the dict key is the identity: it also gives the name
                key = default_key
            new: HeaderEntry = {"key": key, "value": val}
            bucket = out.get(ident)
            if bucket is None:
                out[ident] = [new]
            else:
                bucket.append(new)
    return out


def _check_headers(
    event_type: EventType,
    before: CFHeaders,
    after: CFHeaders,
    path: str,
    settings: EdgeSettings,
    read_only: bool,
) -> None:
    """Disallowed, read-only and CloudFront-Viewer-Country rules (§3.1); may restore deletions."""
    for name in after:
        if name not in before and is_disallowed_header(name):
            raise LambdaValidationError(BLACKLISTED, field=f'{path}["{name}"]')
    country = "cloudfront-viewer-country"
    if event_type == "viewer-request" and country in after and not before.get(country):
        reason = "The function tried to add CloudFront-Viewer-Country in viewer-request."
        raise _fail(reason, f'{path}["cloudfront-viewer-country"]')
    if not read_only:
        return
    for name in read_only_headers(event_type, settings):
        old, new = before.get(name), after.get(name)
        if new is None:
            if old:
                if settings.readonly_header_delete == "error":
                    raise LambdaValidationError(READ_ONLY, field=f'{path}["{name}"]')
                after[name] = [entry.copy() for entry in old]
        elif not old or [e["value"] for e in old] != [e["value"] for e in new]:
            raise LambdaValidationError(READ_ONLY, field=f'{path}["{name}"]')


def validate_request_result(
    event_type: Literal["viewer-request", "origin-request"],
    before: CFRequest,
    result: object,
    settings: EdgeSettings,
    *,
    include_body: bool,
) -> RequestResult | ResponseResult:
    """Check a viewer-request/origin-request result: a request, or (with ``status``) a
    generated response (decisions.md #7). ``before`` is the request the handler was given."""
    if type(result) is dict and result == before:
        # Returned unchanged (the common pass-through): valid as built, nothing to normalise.
        unchanged = dict(before)
        if event_type == "viewer-request":
            unchanged.pop("origin", None)
        if not include_body:
            unchanged.pop("body", None)
        return RequestResult(unchanged, None)  # type: ignore[arg-type]
    data = _json_object(result)
    if settings.response_marker in data:
        return _response(event_type, data, settings, None)
    return _request(event_type, before, data, settings, include_body)


def _request(
    event_type: Literal["viewer-request", "origin-request"],
    before: CFRequest,
    data: dict[str, Any],
    settings: EdgeSettings,
    include_body: bool,
) -> RequestResult:
    f = {
        k: _get(data, k, str, f"request.{k}") for k in ("uri", "querystring", "method", "clientIp")
    }
    headers = _header_map(
        _get(data, "headers", dict, "request.headers"), "request.headers", settings
    )
    for key, original in (("clientIp", before["clientIp"]), ("method", before["method"])):
        if f[key] != original:
            if settings.readonly_field_change == "error":
                reason = f"The function tried to change the read-only field {key}."
                raise _fail(reason, "request." + key)
            f[key] = original
    uri, qs = f["uri"], f["querystring"]
    if not uri.startswith("/") or _BAD_URI_CHAR.search(uri):
        raise LambdaValidationError(BAD_URI, field="request.uri")
    if len(uri) + (len(qs) + 1 if qs else 0) >= MAX_URI_LENGTH:
        reason = f"The uri with its query string must be shorter than {MAX_URI_LENGTH} characters."
        raise _fail(reason, "request.uri")
    if _BAD_QUERY_CHAR.search(qs):
        reason = "The query string must not contain spaces, control characters or '#'."
        raise _fail(reason, "request.querystring")
    _check_headers(event_type, before["headers"], headers, "request.headers", settings, True)
    request: CFRequest = {
        "clientIp": f["clientIp"],
        "headers": headers,
        "method": f["method"],
        "querystring": qs,
        "uri": uri,
    }
    body: bytes | None = None
    if include_body:
        new_body, body = _request_body(event_type, before.get("body"), data, settings)
        if new_body is not None:
            request["body"] = new_body
    if event_type == "origin-request":
        origin = data.get("origin", _MISSING)
        old_origin = before.get("origin")
        if origin is not _MISSING:
            request["origin"] = _origin(old_origin, origin, headers, settings)
        elif old_origin is not None:
            request["origin"] = _copy_origin(old_origin)
    return RequestResult(request, body)


def _request_body(
    event_type: str, old: CFBody | None, data: dict[str, Any], settings: EdgeSettings
) -> tuple[CFBody | None, bytes | None]:
    """§1.5: ``action`` read-only keeps the original body; replace decodes and limits ``data``."""
    kept = old.copy() if old is not None else None
    value = data.get("body", _MISSING)
    if value is _MISSING:
        return kept, None
    if not isinstance(value, dict):
        raise LambdaValidationError(BAD_BODY, field="request.body")
    action = value.get("action", "read-only")
    if action not in ("read-only", "replace"):
        raise _fail("The body action must be read-only or replace.", "request.body.action")
    if action == "read-only":
        return kept, None
    encoding = value.get("encoding", "base64")
    if encoding not in ("base64", "text"):
        raise _fail("The body encoding must be base64 or text.", "request.body.encoding")
    text = value.get("data")
    if not isinstance(text, str):
        raise LambdaValidationError(BAD_BODY, field="request.body.data")
    limit = REQUEST_BODY_LIMITS[event_type]
    if encoding == "text":
        if not text.isascii() and _SURROGATE.search(text):
            raise _fail(SURROGATE_BODY, "request.body.data")
        raw = text.encode("utf-8")
        over = len(raw) > limit
    else:
        over = len(text) * 3 > limit * 4
        raw = _b64decode(text, "request.body.data")
    if over:
        if settings.replaced_body_over_limit == "error":
            raise LambdaValidationError(BAD_BODY, field="request.body.data")
        raw = raw[:limit]
    new: CFBody = {
        "inputTruncated": False,
        "action": "replace",
        "encoding": "base64",
        "data": base64.b64encode(raw).decode("ascii"),
    }
    return new, raw


def _dns_name(value: str, max_len: int) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return len(value) <= max_len and _DNS.fullmatch(value) is not None
    return False


def _origin_path(value: str) -> bool:
    return not value or (
        value.startswith("/")
        and not value.endswith("/")
        and len(value) <= 255
        and not _BAD_URI_CHAR.search(value)
    )


_PATH_RULE = "'' or start with '/', not end with '/', at most 255 characters"
#: §1.6 field rules: (name, type, check, what the check expects).
_ORIGIN_FIELDS: dict[str, tuple[tuple[str, type, Callable[[Any], bool], str], ...]] = {
    "custom": (
        ("domainName", str, lambda v: _dns_name(v, 253), "a DNS name (not an IP), <= 253 chars"),
        ("keepaliveTimeout", int, lambda v: 1 <= v <= 60, "1-60"),
        ("path", str, _origin_path, _PATH_RULE),
        ("port", int, lambda v: v in (80, 443) or 1024 <= v <= 65535, "80, 443 or 1024-65535"),
        ("protocol", str, lambda v: v in ("http", "https"), "http or https"),
        ("readTimeout", int, lambda v: 1 <= v <= 180, "1-180"),
        (
            "sslProtocols",
            list,
            lambda v: all(isinstance(p, str) and p in _SSL_PROTOCOLS for p in v),
            "TLSv1.2/1.1/1/SSLv3",
        ),
    ),
    "s3": (
        ("authMethod", str, lambda v: v in ("origin-access-identity", "none"), "oai or none"),
        ("domainName", str, lambda v: _dns_name(v, 128) and v == v.lower(), "lower case, <= 128"),
        ("path", str, _origin_path, _PATH_RULE),
        ("region", str, lambda v: True, "a string"),
    ),
}
#: Filled in when the handler switches origin kind and leaves them out (API defaults).
_ORIGIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "custom": {"keepaliveTimeout": 5, "readTimeout": 30, "sslProtocols": ["TLSv1.2"]},
    "s3": {"region": ""},
}


def _origin(
    before: CFOrigin | None, value: Any, req_headers: CFHeaders, settings: EdgeSettings
) -> CFOrigin:
    """§1.6: exactly one of custom/s3; missing fields come from the same kind in ``before``."""
    if not isinstance(value, dict):
        raise _fail("The field request.origin must be an object.", "request.origin")
    kinds = [k for k in ("custom", "s3") if k in value]
    if len(kinds) != 1:
        raise _fail("The origin must have exactly one of custom or s3.", "request.origin")
    kind = kinds[0]
    path = f"request.origin.{kind}"
    old: Any = (before or {}).get(kind)
    merged: dict[str, Any] = {"customHeaders": {}, "path": ""}
    merged.update(_ORIGIN_DEFAULTS[kind] if old is None else old)
    merged.update(_get(value, kind, dict, path))
    hpath = path + ".customHeaders"
    out: dict[str, Any] = {"customHeaders": _custom_headers(merged, hpath, req_headers, settings)}
    for key, typ, check, expected in _ORIGIN_FIELDS[kind]:
        field_value = _get(merged, key, typ, f"{path}.{key}")
        if not check(field_value):
            raise _fail(f"The origin {key} must be {expected}.", f"{path}.{key}")
        out[key] = list(field_value) if typ is list else field_value
    if kind == "custom" and not 4 <= out["readTimeout"] <= 60:
        _log.warning("%s.readTimeout %s is outside the documented 4-60 s", path, out["readTimeout"])
    if out.get("authMethod") == "origin-access-identity":
        if not out["region"]:
            raise _fail("An origin access identity needs a region.", path + ".region")
        if before is not None and "custom" in before:
            reason = "An origin access identity can't be used when switching from custom to S3."
            raise _fail(reason, path + ".authMethod")
    return {kind: out}  # type: ignore[misc]


def _custom_headers(
    merged: dict[str, Any], path: str, req_headers: CFHeaders, settings: EdgeSettings
) -> CFHeaders:
    """§1.6/§3.1: origin custom headers: deny lists, no repeat of request headers, limits."""
    headers = _header_map(merged["customHeaders"], path, settings)
    for name in headers:
        hpath = f'{path}["{name}"]'
        if is_disallowed_header(name):
            raise LambdaValidationError(BLACKLISTED, field=hpath)
        if name in ORIGIN_CUSTOM_HEADER_DENY or name.startswith(ORIGIN_CUSTOM_HEADER_DENY_PREFIXES):
            raise _fail(f"{name} can't be used as an origin custom header.", hpath)
        if name in req_headers:
            raise _fail(f"The origin custom header {name} is also in request.headers.", hpath)
    entries = [(n, e["value"]) for n, es in headers.items() for e in es]
    if len(entries) > 10 or sum(len(n) + len(v) for n, v in entries) > 10240:
        raise _fail("An origin has at most 10 custom headers of 10,240 characters.", path)
    if any(len(n) > 256 or len(v) > 1783 for n, v in entries):
        raise _fail("An origin custom header name or value is too long.", path)
    return headers


def validate_response_result(
    event_type: Literal["origin-response", "viewer-response"],
    before: CFResponse,
    result: object,
    settings: EdgeSettings,
) -> ResponseResult:
    """Check an origin-response/viewer-response result against ``before``, the response the
    handler was given (§2.1, §2.2, §2.4)."""
    if type(result) is dict and result == before:
        # Unchanged, but the values came from an origin (or a cache) nobody else checked:
        # one pass over all of them, the loop only to name the bad one.
        values = [e["value"] for entries in before["headers"].values() for e in entries]
        if _BAD_VALUE_CHAR.search("\t".join(values)):
            _header_map(before["headers"], "response.headers", settings)
        return ResponseResult(
            int(before["status"]), before["statusDescription"], before["headers"], None
        )
    return _response(event_type, _json_object(result), settings, before)


#: Longest string a rejected result keeps in its trace (logs, inspector).
TRACE_STRING_LIMIT = 4096


def shrink_for_trace(value: Any, limit: int = TRACE_STRING_LIMIT, depth: int = 0) -> Any:
    """A copy of a rejected result small enough to keep for logs and the inspector: strings and
    bytes over ``limit`` are cut (with a note of their length), deep nesting is elided. A
    200 MB body a handler returned must not stay resident with the request's record."""
    if isinstance(value, str | bytes):
        if len(value) <= limit:
            return value
        note = f"... [{len(value)} in all, cut for the trace]"
        if isinstance(value, bytes):
            return value[:limit] + note.encode()
        return value[:limit] + note
    if depth > 16:
        return "..."
    if isinstance(value, dict):
        return {  # keys as they are (they may be any hashable); only values are cut
            k: shrink_for_trace(v, limit, depth + 1) for k, v in list(value.items())[:1000]
        }
    if isinstance(value, list | tuple):
        return [shrink_for_trace(v, limit, depth + 1) for v in value[:1000]]
    return value


def origin_response_error(headers: RawHeaders) -> OriginError | None:
    """CloudFront's 502 for an origin response whose headers cannot be sent on (a name that is
    not a token, a control character in a value); ``None`` for a valid one. Such a response
    never reaches a function, the cache or the viewer (issue 16, item 7)."""
    problem = raw_header_problem(headers)
    if problem is None:
        return None
    _log.warning("origin response rejected: %s", problem)
    return OriginError(f"The origin returned an invalid response: {problem}.")


def _parse_status(data: dict[str, Any], settings: EdgeSettings) -> int:
    value = data.get("status", _MISSING)
    if value is _MISSING:
        raise _fail("The required field response.status is missing.", "response.status")
    if isinstance(value, int) and not isinstance(value, bool) and settings.accept_int_status:
        return value
    if isinstance(value, str) and _STATUS.fullmatch(value):
        return int(value)
    kind = "a decimal string or an int" if settings.accept_int_status else "a decimal string"
    raise _fail(f"The status must be {kind}.", "response.status")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _response(
    event_type: EventType,
    data: dict[str, Any],
    settings: EdgeSettings,
    before: CFResponse | None,
) -> ResponseResult:
    """A generated response (``before`` None) or a response trigger's result (§2.3, §2.4)."""
    status = _parse_status(data, settings)
    description = _get(data, "statusDescription", str, "response.statusDescription", None)
    if event_type == "viewer-response" and before is not None:
        original = int(before["status"])
        if status != original and settings.viewer_response_status_change == "error":
            raise _fail(
                "The function tried to change the status in viewer-response.", "response.status"
            )
        status, description = original, before["statusDescription"]  # only headers may change
    elif not 200 <= status <= 599:
        reason = f"The status {data['status']!r} is not in the range 200-599."
        raise _fail(reason, "response.status")
    if description is None:
        description = _phrase(status) if settings.default_status_description else ""
    elif _BAD_REASON_CHAR.search(description):
        raise _fail(
            "The statusDescription contains a control character.", "response.statusDescription"
        )
    hpath = "response.headers"
    old = {} if before is None else before["headers"]
    given = data.get("headers", {}) if before is None else _get(data, "headers", dict, hpath)
    headers = _header_map(given, hpath, settings)
    _check_headers(event_type, old, headers, hpath, settings, before is not None)
    body = data.get("body", _MISSING)
    if event_type == "viewer-response" and body is not _MISSING:
        if settings.viewer_response_body == "error":
            raise _fail("A viewer-response function can't set the body.", "response.body")
        if settings.viewer_response_body == "ignore":
            body = _MISSING
    size = sum(len(n) + _utf8_len(e["value"]) for n, es in headers.items() for e in es)
    if body is not _MISSING:
        if not isinstance(body, str):
            raise LambdaValidationError(BAD_BODY, field="response.body")
        encoding = data.get("bodyEncoding", "text")
        if encoding not in ("text", "base64"):
            raise _fail("bodyEncoding must be text or base64.", "response.bodyEncoding")
        no_content_check = event_type == "viewer-request" or (
            event_type == "origin-request" and settings.no_content_body_check == "both"
        )
        if no_content_check and status == 204 and body:
            raise _fail("A response with status 204 can't have a body.", "response.body")
        size += _utf8_len(body)
        decode = encoding == "base64"
    viewer = event_type in ("viewer-request", "viewer-response")
    limit = settings.viewer_response_size_limit if viewer else settings.origin_response_size_limit
    if size > limit:
        raise LambdaValidationError(BAD_BODY, field="response.body")
    if body is _MISSING:
        return ResponseResult(status, description, headers, None)
    if decode:
        raw = _b64decode(body, "response.body")
    elif not body.isascii() and _SURROGATE.search(body):
        raise _fail(SURROGATE_BODY, "response.body")
    else:
        raw = body.encode("utf-8")
    return ResponseResult(status, description, headers, raw)
