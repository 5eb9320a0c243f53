"""``request.origin`` as an origin-request function may set it: exactly one of custom/s3, the
field rules and the origin custom headers (lambda-edge.md §1.6, §3.1)."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Any

from ..config.settings import EdgeSettings
from ..exceptions import LambdaValidationError
from .types import CFHeaders, CFOrigin
from .validation_headers import (
    _BAD_URI_CHAR,
    BLACKLISTED,
    _fail,
    _get,
    _header_map,
    _mark_function_text,
    _names,
    is_disallowed_header,
)

__all__ = ["ORIGIN_CUSTOM_HEADER_DENY", "ORIGIN_CUSTOM_HEADER_DENY_PREFIXES"]

# The logger this code has always used (it was part of validation.py).
_log = logging.getLogger("edge_middleware.core.validation")


#: §3.1: names an origin custom header may not use (plus the two prefixes below).
ORIGIN_CUSTOM_HEADER_DENY = _names(
    "cache-control connection content-length cookie host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since max-forwards pragma proxy-authorization "
    "proxy-connection range request-range te trailer transfer-encoding upgrade via "
    "x-real-ip"
)
ORIGIN_CUSTOM_HEADER_DENY_PREFIXES = ("x-amz-", "x-edge-")
_DNS = re.compile(r"[A-Za-z0-9._-]+")
_SSL_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3"})


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
        and not _BAD_URI_CHAR.search(value)  # "?" and "#" too: the origin's path would
    )  # end there for a URL origin and not for an in-process one, as in a uri


_PATH_RULE = (
    "'' or start with '/', not end with '/', at most 255 characters, no '?', '#', space or "
    "control character"
)
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
    headers = _custom_headers(merged, hpath, req_headers, settings)
    _mark_function_text(headers, None if old is None else old.get("customHeaders"))
    out: dict[str, Any] = {"customHeaders": headers}
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
