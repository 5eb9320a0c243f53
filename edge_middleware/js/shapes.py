"""CloudFront Functions' event and result shapes from and to Lambda@Edge's (pure functions).

The pipeline builds Lambda@Edge events and validates Lambda@Edge results; a CloudFront
Function sees ``{version, context, viewer, request, response}`` with headers as
``{name: {value, multiValue}}`` and ``querystring``/``cookies`` objects
(docs/cloudfront-functions.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..core.headers import capitalize
from ..exceptions import FunctionValidationError

__all__ = ["Runtime", "from_cf_request", "from_cf_response", "to_cf_event"]

Runtime = Literal["cloudfront-js-1.0", "cloudfront-js-2.0"]


# -- Lambda@Edge shape -> CloudFront Functions shape -------------------------------------------
def _values(entries: list[dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"value": entries[0]["value"]}
    if len(entries) > 1:
        out["multiValue"] = [{"value": e["value"]} for e in entries]
    return out


def _cf_headers(headers: Mapping[str, list[Any]], skip: str) -> dict[str, Any]:
    return {name: _values(entries) for name, entries in headers.items() if entries and name != skip}


def _add(target: dict[str, Any], name: str, item: dict[str, Any]) -> None:
    have = target.get(name)
    if have is None:
        target[name] = item
        return
    multi = have.setdefault("multiValue", [{k: v for k, v in have.items() if k != "multiValue"}])
    multi.append(item)


def _cf_querystring(qs: str) -> dict[str, Any]:
    # Values stay as the viewer sent them (percent-encoded), as CloudFront passes them.
    out: dict[str, Any] = {}
    for part in qs.split("&") if qs else ():
        if part:
            name, _, value = part.partition("=")
            _add(out, name, {"value": value})
    return out


def _cf_cookies(headers: Mapping[str, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in headers.get("cookie", ()):
        for part in entry["value"].split(";"):
            part = part.strip()
            if part:
                name, _, value = part.partition("=")
                _add(out, name.strip(), {"value": value.strip()})
    return out


def _cf_set_cookies(headers: Mapping[str, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in headers.get("set-cookie", ()):
        pair, _, attributes = entry["value"].partition(";")
        name, _, value = pair.partition("=")
        item = {"value": value.strip()}
        if attributes.strip():
            item["attributes"] = attributes.strip()
        _add(out, name.strip(), item)
    return out


def to_cf_event(event: Mapping[str, Any], runtime: Runtime = "cloudfront-js-2.0") -> dict[str, Any]:
    """A Lambda@Edge event (``{"Records": [{"cf": ...}]}``) as the CloudFront Functions event."""
    cf = event["Records"][0]["cf"]
    config = cf["config"]
    req = cf["request"]
    out: dict[str, Any] = {
        "version": "1.0",
        "context": {
            # a standard distribution's; a multi-tenant one has "endpoint" instead (§8)
            "distributionDomainName": config["distributionDomainName"],
            "distributionId": config["distributionId"],
            "eventType": config["eventType"],
            "requestId": config["requestId"],
        },
        "viewer": {"ip": req.get("clientIp", "")},
        "request": {
            "method": req["method"],
            "uri": req["uri"],
            "querystring": _cf_querystring(req.get("querystring", "")),
            "headers": _cf_headers(req["headers"], "cookie"),
            "cookies": _cf_cookies(req["headers"]),
        },
    }
    resp = cf.get("response")
    if resp is not None:
        out["response"] = {
            "statusCode": int(resp["status"]),
            "statusDescription": resp.get("statusDescription", ""),
            "headers": _cf_headers(resp["headers"], "set-cookie"),
            "cookies": _cf_set_cookies(resp["headers"]),
        }
    return out


# -- CloudFront Functions shape -> Lambda@Edge shape -------------------------------------------
def _invalid(reason: str, field: str) -> FunctionValidationError:
    return FunctionValidationError(reason, field=field)


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"{field} must be an object", field)
    return value


def _strings(
    item: Any, field: str, *, attributes: bool = False, given: list[str] | None = None
) -> list[tuple[str, str]]:
    """``{value, multiValue}`` -> [(value, attributes)]. ``multiValue`` wins when present,
    unless it is the one the event carried (``given``, a repeated name's values) and only
    ``value`` changed: lambda-edge.md §8, "when it is changed it wins over value"."""
    if not isinstance(item, dict):
        raise _invalid(f"{field} must be an object with a value", field)
    multi = item.get("multiValue")
    entries = multi if isinstance(multi, list) and multi else [item]
    if entries is multi and _only_value_changed(item, multi, given):
        entries = [item]
    out = []
    for i, entry in enumerate(entries):
        where = f"{field}.multiValue[{i}]" if entries is multi else field
        if not isinstance(entry, dict) or "value" not in entry:
            raise _invalid(f"{where} must be an object with a value", where)
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _invalid(f"{where}.value must be a string", f"{where}.value")
        attrs = entry.get("attributes", "") if attributes else ""
        if not isinstance(attrs, str):
            raise _invalid(f"{where}.attributes must be a string", f"{where}.attributes")
        out.append((str(value), attrs))
    return out


def _only_value_changed(item: dict[str, Any], multi: list[Any], given: list[str] | None) -> bool:
    """``multiValue`` is the one the event carried and ``value`` is not its first value."""
    if not given or item.get("value") == given[0]:
        return False
    return [e.get("value") if isinstance(e, dict) else e for e in multi] == given


def _le_headers(
    value: Any, field: str, original: Mapping[str, list[Any]], skip: str
) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for name, item in _object(value, field).items():
        lower = name.lower()
        if lower == skip:
            continue  # cookies travel in their own object
        before = original.get(lower)
        # a new header goes out as CloudFront writes it: each part capitalised (§8)
        key = before[0].get("key", name) if before else capitalize(lower)
        given = [e["value"] for e in before] if before and len(before) > 1 else None
        out.setdefault(lower, []).extend(
            {"key": key, "value": v} for v, _ in _strings(item, f"{field}.{name}", given=given)
        )
    return out


def _querystring(value: Any, field: str, before: str = "") -> str:
    if isinstance(value, str):
        return value[1:] if value.startswith("?") else value
    shown = _cf_querystring(before)
    if value == shown:  # returned as the event had it: the viewer's bytes, not a rewrite
        return before  # (``a=`` stays ``a=``, ``a=1&b=2&a=3`` keeps its order; decisions.md #42)
    given = _repeated(shown)
    parts: list[str] = []
    for name, item in _object(value, field).items():
        parts.extend(
            f"{name}={v}" if v != "" else name
            for v, _ in _strings(item, f"{field}.{name}", given=given.get(name))
        )
    return "&".join(parts)


def _repeated(cf_object: Mapping[str, Any]) -> dict[str, list[str]]:
    """The values of each repeated name of an event's querystring or cookies object."""
    return {
        name: [e["value"] for e in item["multiValue"]]
        for name, item in cf_object.items()
        if "multiValue" in item
    }


def from_cf_request(result: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """A request a CloudFront Function returned, as the Lambda@Edge request result.

    ``before`` is the Lambda@Edge request the function was given (``clientIp``, ``origin``
    and header key spellings come from it).
    """
    uri = result.get("uri", before["uri"])
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise _invalid("request.uri must be a string that starts with /", "request.uri")
    method = result.get("method", before["method"])
    if method != before["method"]:
        raise _invalid("request.method is read-only", "request.method")
    headers = _le_headers(result.get("headers"), "request.headers", before["headers"], "cookie")
    shown = _cf_cookies(before["headers"])
    returned = result.get("cookies")
    if returned == shown and shown:  # as the event had them: the viewer's Cookie lines as sent
        headers["cookie"] = [dict(e) for e in before["headers"]["cookie"]]
    else:
        given = _repeated(shown)
        cookies = [
            f"{name}={v}"
            for name, item in _object(returned, "request.cookies").items()
            for v, _ in _strings(item, f"request.cookies.{name}", given=given.get(name))
        ]
        if cookies:
            key = before["headers"].get("cookie", [{"key": "Cookie"}])[0].get("key", "Cookie")
            headers["cookie"] = [{"key": key, "value": "; ".join(cookies)}]
    out: dict[str, Any] = {
        "clientIp": before.get("clientIp", ""),
        "headers": headers,
        "method": before["method"],
        "querystring": _querystring(
            result.get("querystring", {}), "request.querystring", before["querystring"]
        ),
        "uri": uri,
    }
    for kept in ("origin", "body"):
        if kept in before:
            out[kept] = before[kept]
    return out


def from_cf_response(
    result: Mapping[str, Any], before: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A response a CloudFront Function returned (generated in viewer-request, or the
    viewer-response result), as the Lambda@Edge response result."""
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _invalid(
            f"response.statusCode must be an HTTP status code, not {status!r}",
            "response.statusCode",
        )
    original = before["headers"] if before else {}
    headers = _le_headers(result.get("headers"), "response.headers", original, "set-cookie")
    shown = _cf_set_cookies(original)
    returned = result.get("cookies")
    if returned == shown and shown:  # as the event had them: the origin's lines, in order
        set_cookies = [dict(e) for e in original["set-cookie"]]
    else:
        given = _repeated(shown)  # a changed value of a repeated name wins (§8)
        set_cookies = [
            {"key": "Set-Cookie", "value": f"{name}={v}" + (f"; {attrs}" if attrs else "")}
            for name, item in _object(returned, "response.cookies").items()
            for v, attrs in _strings(
                item, f"response.cookies.{name}", attributes=True, given=given.get(name)
            )
        ]
    if set_cookies:
        headers["set-cookie"] = set_cookies
    out: dict[str, Any] = {"status": str(status), "headers": headers}
    description = result.get("statusDescription")
    if description is not None:
        if not isinstance(description, str):
            raise _invalid(
                "response.statusDescription must be a string", "response.statusDescription"
            )
        out["statusDescription"] = description
    body = result.get("body")
    if body is not None:
        if isinstance(body, str):
            out["body"], out["bodyEncoding"] = body, "text"
        elif isinstance(body, dict) and isinstance(body.get("data"), str):
            encoding = body.get("encoding", "text")
            if encoding not in ("text", "base64"):
                raise _invalid(
                    "response.body.encoding must be text or base64", "response.body.encoding"
                )
            out["body"], out["bodyEncoding"] = body["data"], encoding
        else:
            raise _invalid("response.body must be a string or {encoding, data}", "response.body")
    return out
