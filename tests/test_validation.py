"""Handler-result validation (lambda-edge.md §1.4-§1.6, §2, §3.1-§3.3; decisions.md #1-#16)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from edge_middleware.config.settings import EdgeSettings
from edge_middleware.core.types import CFRequest, CFResponse
from edge_middleware.core.validation import (
    BAD_BODY,
    BAD_HEADER_VALUE,
    BAD_URI,
    BLACKLISTED,
    NOT_OBJECT,
    NOT_PARSABLE,
    READ_ONLY,
    RequestResult,
    ResponseResult,
    copy_request,
    copy_response,
    is_disallowed_header,
    validate_request_result,
    validate_response_result,
)
from edge_middleware.exceptions import LambdaValidationError

FAILED = "The Lambda function result failed validation: "
KIB, MIB = 1024, 1024 * 1024
DELETE = object()


def h(name: str, *values: str) -> list[dict[str, str]]:
    return [{"key": name, "value": v} for v in values]


CUSTOM_ORIGIN = {
    "custom": {
        "customHeaders": {"x-origin-secret": h("X-Origin-Secret", "s3cr3t")},
        "domainName": "app.example.com",
        "keepaliveTimeout": 5,
        "path": "",
        "port": 443,
        "protocol": "https",
        "readTimeout": 30,
        "sslProtocols": ["TLSv1.2"],
    }
}
S3_ORIGIN = {
    "authMethod": "none",
    "customHeaders": {},
    "domainName": "assets.s3.us-east-1.amazonaws.com",
    "path": "",
    "region": "us-east-1",
}
VIA = "2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)"
BODY = {"inputTruncated": False, "action": "read-only", "encoding": "base64", "data": "YT0x"}

BEFORE: dict[str, Any] = {
    "viewer-request": {
        "clientIp": "198.51.100.7",
        "method": "GET",
        "uri": "/index.html",
        "querystring": "a=1",
        "headers": {
            "host": h("Host", "www.example.com"),
            "cookie": h("Cookie", "a=1", "b=2"),
            "user-agent": h("User-Agent", "curl/8"),
        },
    },
    "origin-request": {
        "clientIp": "198.51.100.7",
        "method": "GET",
        "uri": "/index.html",
        "querystring": "",
        "headers": {
            "host": h("Host", "app.example.com"),
            "via": h("Via", VIA),
            "accept-encoding": h("Accept-Encoding", "gzip"),
            "user-agent": h("User-Agent", "Amazon CloudFront"),
        },
        "origin": CUSTOM_ORIGIN,
    },
    "origin-response": {
        "status": "404",
        "statusDescription": "Not Found",
        "headers": {
            "content-type": h("Content-Type", "text/html"),
            "transfer-encoding": h("Transfer-Encoding", "chunked"),
            "via": h("Via", "1.1 origin"),
        },
    },
    "viewer-response": {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "content-type": h("Content-Type", "text/html"),
            "content-length": h("Content-Length", "5"),
            "age": h("Age", "120"),
        },
    },
}
REQUEST_EVENTS = ("viewer-request", "origin-request")


def before_for(event: str, include_body: bool) -> Any:
    before = copy.deepcopy(BEFORE[event])
    if include_body:
        before["method"] = "POST"
        before["body"] = dict(BODY)
    return before


def run(event: str, handler: Callable[[Any], Any], include_body: bool = False, **kw: Any) -> Any:
    """Hand the handler its own copy, then validate its result against the original."""
    settings = EdgeSettings(**kw)
    before = before_for(event, include_body)
    kept = copy.deepcopy(before)
    if event in REQUEST_EVENTS:
        result = handler(copy_request(before))
        out = validate_request_result(event, before, result, settings, include_body=include_body)
    else:
        result = handler(copy_response(before))
        out = validate_response_result(event, before, result, settings)
    assert before == kept, "validation must not change `before`"
    return out


def edit(*changes: tuple[tuple[str, ...], Any]) -> Callable[[Any], Any]:
    """A handler that applies ``(path, value)`` changes to its event object (DELETE removes)."""

    def handler(obj: Any) -> Any:
        for path, value in changes:
            target = obj
            for part in path[:-1]:
                target = target[part]
            if value is DELETE:
                del target[path[-1]]
            else:
                target[path[-1]] = value
        return obj

    return handler


def const(value: Any) -> Callable[[Any], Any]:
    return lambda _obj: value


def gen(status: Any = "200", **fields: Any) -> Callable[[Any], Any]:
    """A request-trigger handler that returns a generated response."""
    return const({"status": status, **fields})


def reject(
    id: str, event: str, handler: Any, field: str, reason: str, body: bool = False, **kw: Any
) -> Any:
    return pytest.param(event, handler, body, kw, field, reason, id=id)


def hv(name: str, value: Any, key: Any = None) -> dict[str, Any]:
    entry = {"value": value} if key is None else {"key": key, "value": value}
    return {name: [entry]}


class Odd:
    pass


def circular() -> dict[str, Any]:
    d: dict[str, Any] = {"uri": "/"}
    d["self"] = d
    return d


REJECTED = [
    # -- top level (§2.1) --------------------------------------------------------------------
    *(
        reject(f"{ev}-{name}", ev, const(value), "result", NOT_OBJECT)
        for ev in ("viewer-request", "origin-response", "viewer-response")
        for name, value in [("none", None), ("list", []), ("str", "ok"), ("int", 200)]
    ),
    reject("float", "origin-request", const(1.5), "result", NOT_OBJECT),
    reject("set-inside", "viewer-request", edit((("uri",), {"/"})), "result", NOT_PARSABLE),
    reject("bytes-inside", "viewer-request", edit((("uri",), b"/")), "result", NOT_PARSABLE),
    reject("object-inside", "origin-response", edit((("x",), Odd())), "result", NOT_PARSABLE),
    reject("nan-inside", "viewer-request", edit((("x",), float("nan"))), "result", NOT_PARSABLE),
    reject("circular", "viewer-request", const(circular()), "result", NOT_PARSABLE),
    reject("top-level-set", "viewer-request", const({1, 2}), "result", NOT_PARSABLE),
    # -- request structure (§2.1, decisions #7) ----------------------------------------------
    reject(
        "api-gateway-style",
        "viewer-request",
        const({"statusCode": 200, "body": "hi"}),
        "request.uri",
        "The required field request.uri is missing.",
    ),
    *(
        reject(f"missing-{k}", "origin-request", edit(((k,), DELETE)), f"request.{k}", "missing")
        for k in ("uri", "method", "querystring", "headers", "clientIp")
    ),
    reject("uri-int", "viewer-request", edit((("uri",), 5)), "request.uri", "must be a string"),
    reject(
        "headers-list", "viewer-request", edit((("headers",), [])), "request.headers", "an object"
    ),
    # -- read-only fields (decisions #11) ----------------------------------------------------
    reject(
        "clientIp-changed",
        "viewer-request",
        edit((("clientIp",), "10.0.0.1")),
        "request.clientIp",
        "read-only field clientIp",
    ),
    reject(
        "method-changed",
        "origin-request",
        edit((("method",), "POST")),
        "request.method",
        "read-only field method",
    ),
    # -- uri / querystring (§1.3, §3.2) ------------------------------------------------------
    reject(
        "uri-no-slash", "viewer-request", edit((("uri",), "index.html")), "request.uri", BAD_URI
    ),
    reject("uri-empty", "viewer-request", edit((("uri",), "")), "request.uri", BAD_URI),
    reject("uri-space", "viewer-request", edit((("uri",), "/a b")), "request.uri", BAD_URI),
    reject("uri-control", "viewer-request", edit((("uri",), "/a\x01")), "request.uri", BAD_URI),
    reject("uri-newline", "origin-request", edit((("uri",), "/a\n")), "request.uri", BAD_URI),
    reject(
        "uri-8192-long",
        "viewer-request",
        edit((("uri",), "/" + "a" * 8188), (("querystring",), "b=")),
        "request.uri",
        "shorter than 8192",
    ),
    *(
        reject(
            f"qs-{n}", "viewer-request", edit((("querystring",), q)), "request.querystring", "'#'"
        )
        for n, q in [("space", "a=1 2"), ("hash", "a=1#x"), ("tab", "a=\t"), ("del", "a=\x7f")]
    ),
    # -- header map (§1.4) -------------------------------------------------------------------
    reject(
        "header-value-int",
        "viewer-request",
        edit((("headers", "x-a"), [{"key": "X-A", "value": 1}])),
        'request.headers["x-a"][0].value',
        BAD_HEADER_VALUE,
    ),
    reject(
        "header-value-missing",
        "origin-request",
        edit((("headers", "x-a"), [{"key": "X-A"}])),
        'request.headers["x-a"][0].value',
        BAD_HEADER_VALUE,
    ),
    reject(
        "header-entries-not-list",
        "viewer-request",
        edit((("headers", "x-a"), {"key": "X-A", "value": "1"})),
        'request.headers["x-a"]',
        BAD_HEADER_VALUE,
    ),
    reject(
        "header-entry-str",
        "origin-response",
        edit((("headers", "x-a"), ["1"])),
        'response.headers["x-a"][0].value',
        BAD_HEADER_VALUE,
    ),
    reject(
        "header-value-cr",
        "viewer-request",
        edit((("headers",), hv("x-a", "a\rb"))),
        'request.headers["x-a"][0].value',
        FAILED + "invalid character '%0D' in header value",
    ),
    reject(
        "header-value-lf",
        "origin-response",
        edit((("headers", "x-a"), h("X-A", "ok", "a\nb"))),
        'response.headers["x-a"][1].value',
        FAILED + "invalid character '%0A' in header value",
    ),
    reject(
        "header-value-nul",
        "viewer-response",
        edit((("headers", "x-a"), h("X-A", "a\x00"))),
        'response.headers["x-a"][0].value',
        FAILED + "invalid character '%00' in header value",
    ),
    reject(
        "header-key-space",
        "viewer-request",
        edit((("headers",), hv("x-a", "1", "X A"))),
        'request.headers["x-a"][0].key',
        "not a valid HTTP header name",
    ),
    reject(
        "header-key-crlf",
        "viewer-request",
        edit((("headers",), hv("x-a", "1", "X-A\r\n"))),
        'request.headers["x-a"][0].key',
        "not a valid HTTP header name",
    ),
    reject(
        "header-key-int",
        "origin-request",
        edit((("headers",), hv("x-a", "1", 7))),
        'request.headers["x-a"][0].key',
        "not a valid HTTP header name",
    ),
    reject(
        "header-name-colon",
        "viewer-request",
        edit((("headers",), hv("x:a", "1"))),
        'request.headers["x:a"]',
        "not a valid HTTP header name",
    ),
    reject(
        "header-map-null",
        "origin-response",
        edit((("headers",), None)),
        "response.headers",
        "must be an object",
    ),
    # -- disallowed headers (§3.1) -----------------------------------------------------------
    *(
        reject(
            f"disallowed-{name}-{ev}",
            ev,
            edit((("headers", name), h(name, "x"))),
            f'{"request" if ev in REQUEST_EVENTS else "response"}.headers["{name}"]',
            BLACKLISTED,
        )
        for ev, name in [
            ("viewer-request", "connection"),
            ("viewer-request", "x-forwarded-proto"),
            ("origin-request", "x-amz-cf-id"),
            ("origin-request", "x-amz-cf-pop"),
            ("origin-response", "x-cache"),
            ("origin-response", "x-edge-location"),
            ("viewer-response", "x-amzn-requestid"),
            ("viewer-response", "upgrade"),
        ]
    ),
    reject(
        "disallowed-upper-dict-key",
        "viewer-response",
        edit((("headers", "X-Cache"), h("X-Cache", "Hit"))),
        'response.headers["x-cache"]',
        BLACKLISTED,
    ),
    reject(
        "disallowed-in-generated",
        "viewer-request",
        gen(headers={"x-cache": h("X-Cache", "Hit from cloudfront")}),
        'response.headers["x-cache"]',
        BLACKLISTED,
    ),
    reject(
        "viewer-country-added",
        "viewer-request",
        edit((("headers", "cloudfront-viewer-country"), h("CloudFront-Viewer-Country", "US"))),
        'request.headers["cloudfront-viewer-country"]',
        "CloudFront-Viewer-Country",
    ),
    # -- read-only headers (§3.1, decisions #15, #16) ----------------------------------------
    reject(
        "trap2-content-length-added-origin-request",
        "origin-request",
        edit((("headers", "content-length"), h("Content-Length", "0"))),
        'request.headers["content-length"]',
        READ_ONLY,
    ),
    reject(
        "host-changed-viewer-request",
        "viewer-request",
        edit((("headers", "host"), h("Host", "evil.example.com"))),
        'request.headers["host"]',
        READ_ONLY,
    ),
    reject(
        "host-deleted-viewer-request",
        "viewer-request",
        edit((("headers", "host"), DELETE)),
        'request.headers["host"]',
        READ_ONLY,
    ),
    reject(
        "via-deleted-origin-request",
        "origin-request",
        edit((("headers", "via"), DELETE)),
        'request.headers["via"]',
        READ_ONLY,
    ),
    reject(
        "via-emptied-origin-request",
        "origin-request",
        edit((("headers", "via"), [])),
        'request.headers["via"]',
        READ_ONLY,
    ),
    reject(
        "via-duplicated-origin-request",
        "origin-request",
        edit((("headers", "via"), h("Via", VIA, VIA))),
        'request.headers["via"]',
        READ_ONLY,
    ),
    reject(
        "accept-encoding-changed",
        "origin-request",
        edit((("headers", "accept-encoding"), h("Accept-Encoding", "br"))),
        'request.headers["accept-encoding"]',
        READ_ONLY,
    ),
    reject(
        "if-none-match-added",
        "origin-request",
        edit((("headers", "if-none-match"), h("If-None-Match", '"x"'))),
        'request.headers["if-none-match"]',
        READ_ONLY,
    ),
    reject(
        "cdn-loop-added-current",
        "viewer-request",
        edit((("headers", "cdn-loop"), h("CDN-Loop", "x"))),
        'request.headers["cdn-loop"]',
        READ_ONLY,
    ),
    reject(
        "transfer-encoding-deleted-origin-response",
        "origin-response",
        edit((("headers", "transfer-encoding"), DELETE)),
        'response.headers["transfer-encoding"]',
        READ_ONLY,
    ),
    reject(
        "via-changed-origin-response",
        "origin-response",
        edit((("headers", "via"), h("Via", "1.1 other"))),
        'response.headers["via"]',
        READ_ONLY,
    ),
    reject(
        "content-length-changed-viewer-response",
        "viewer-response",
        edit((("headers", "content-length"), h("Content-Length", "6"))),
        'response.headers["content-length"]',
        READ_ONLY,
    ),
    reject(
        "warning-added-viewer-response-2023",
        "viewer-response",
        edit((("headers", "warning"), h("Warning", "110"))),
        'response.headers["warning"]',
        READ_ONLY,
        readonly_header_list="2023",
    ),
    # -- request body (§1.5, decisions #5) ---------------------------------------------------
    reject("body-str", "origin-request", edit((("body",), "x")), "request.body", BAD_BODY, True),
    reject(
        "body-action",
        "viewer-request",
        edit((("body", "action"), "append")),
        "request.body.action",
        "read-only or replace",
        True,
    ),
    reject(
        "body-encoding",
        "viewer-request",
        edit((("body", "action"), "replace"), (("body", "encoding"), "hex")),
        "request.body.encoding",
        "base64 or text",
        True,
    ),
    reject(
        "body-data-int",
        "viewer-request",
        edit((("body", "action"), "replace"), (("body", "data"), 5)),
        "request.body.data",
        BAD_BODY,
        True,
    ),
    reject(
        "body-bad-base64",
        "origin-request",
        edit((("body", "action"), "replace"), (("body", "data"), "not base64!")),
        "request.body.data",
        "not valid base64",
        True,
    ),
    *(
        reject(f"body-over-{ev}-{enc}", ev, handler, "request.body.data", BAD_BODY, True)
        for ev, limit in [("viewer-request", 40 * KIB), ("origin-request", MIB)]
        for enc, handler in [
            (
                "text",
                edit(
                    (
                        ("body",),
                        {"action": "replace", "encoding": "text", "data": "a" * (limit + 1)},
                    )
                ),
            ),
            (
                "base64",
                edit(
                    (
                        ("body",),
                        {
                            "action": "replace",
                            "data": base64.b64encode(b"a" * (limit + 2)).decode(),
                        },
                    )
                ),
            ),
        ]
    ),
    reject(
        "body-over-utf8-bytes",
        "viewer-request",
        edit((("body",), {"action": "replace", "encoding": "text", "data": "é" * (20 * KIB + 1)})),
        "request.body.data",
        BAD_BODY,
        True,
    ),
    # -- origin (§1.6) -----------------------------------------------------------------------
    reject("origin-str", "origin-request", edit((("origin",), "x")), "request.origin", "object"),
    reject(
        "origin-both-kinds",
        "origin-request",
        edit((("origin", "s3"), S3_ORIGIN)),
        "request.origin",
        "exactly one of custom or s3",
    ),
    reject(
        "origin-none", "origin-request", edit((("origin",), {})), "request.origin", "exactly one"
    ),
    reject(
        "origin-custom-list",
        "origin-request",
        edit((("origin", "custom"), [])),
        "request.origin.custom",
        "must be an object",
    ),
    *(
        reject(
            f"custom-{key}-{value!r:.20}",
            "origin-request",
            edit((("origin", "custom", key), value)),
            f"request.origin.custom.{key}",
            reason,
        )
        for key, value, reason in [
            ("domainName", "", "The origin domainName must be"),
            ("domainName", "192.0.2.1", "The origin domainName must be"),
            ("domainName", "2001:db8::1", "The origin domainName must be"),
            ("domainName", "app.example.com:8080", "The origin domainName must be"),
            ("domainName", "a" * 254, "The origin domainName must be"),
            ("domainName", "a b.com", "The origin domainName must be"),
            ("domainName", 5, "must be a string"),
            ("port", 22, "The origin port must be"),
            ("port", 1023, "The origin port must be"),
            ("port", 65536, "The origin port must be"),
            ("port", "443", "must be an int"),
            ("port", True, "must be an int"),
            ("protocol", "ftp", "The origin protocol must be"),
            ("path", "/a/", "The origin path must be"),
            ("path", "a", "The origin path must be"),
            ("path", "/" + "a" * 255, "The origin path must be"),
            ("path", "/a b", "The origin path must be"),
            ("readTimeout", 0, "The origin readTimeout must be"),
            ("readTimeout", 181, "The origin readTimeout must be"),
            ("keepaliveTimeout", 0, "The origin keepaliveTimeout must be"),
            ("keepaliveTimeout", 61, "The origin keepaliveTimeout must be"),
            ("sslProtocols", ["TLSv1.3"], "The origin sslProtocols must be"),
            ("sslProtocols", [1], "The origin sslProtocols must be"),
            ("sslProtocols", "TLSv1.2", "must be an array"),
        ]
    ),
    reject(
        "s3-authMethod",
        "origin-request",
        edit((("origin",), {"s3": {**S3_ORIGIN, "authMethod": "oac"}})),
        "request.origin.s3.authMethod",
        "The origin authMethod must be",
    ),
    reject(
        "s3-missing-authMethod",
        "origin-request",
        edit((("origin",), {"s3": {"domainName": "b.s3.amazonaws.com"}})),
        "request.origin.s3.authMethod",
        "missing",
    ),
    reject(
        "s3-upper-domain",
        "origin-request",
        edit((("origin",), {"s3": {**S3_ORIGIN, "domainName": "Bucket.s3.amazonaws.com"}})),
        "request.origin.s3.domainName",
        "The origin domainName must be",
    ),
    reject(
        "s3-domain-129",
        "origin-request",
        edit((("origin",), {"s3": {**S3_ORIGIN, "domainName": "b" * 129}})),
        "request.origin.s3.domainName",
        "The origin domainName must be",
    ),
    reject(
        "s3-region-int",
        "origin-request",
        edit((("origin",), {"s3": {**S3_ORIGIN, "region": 1}})),
        "request.origin.s3.region",
        "must be a string",
    ),
    reject(
        "s3-oai-from-custom",
        "origin-request",
        edit((("origin",), {"s3": {**S3_ORIGIN, "authMethod": "origin-access-identity"}})),
        "request.origin.s3.authMethod",
        "switching from custom to S3",
    ),
    *(
        reject(
            f"custom-header-{name}",
            "origin-request",
            edit((("origin", "custom", "customHeaders", name), h(name, "v"))),
            f'request.origin.custom.customHeaders["{name}"]',
            reason,
        )
        for name, reason in [
            ("x-cache", BLACKLISTED),
            ("x-edge-foo", BLACKLISTED),
            ("host", "can't be used as an origin custom header"),
            ("cache-control", "can't be used as an origin custom header"),
            ("x-amz-date", "can't be used as an origin custom header"),
            ("user-agent", "also in request.headers"),
        ]
    ),
    reject(
        "custom-headers-11",
        "origin-request",
        edit(
            (
                ("origin", "custom", "customHeaders"),
                {f"x-h{i}": h(f"X-H{i}", "v") for i in range(11)},
            )
        ),
        "request.origin.custom.customHeaders",
        "at most 10",
    ),
    reject(
        "custom-header-value-1784",
        "origin-request",
        edit((("origin", "custom", "customHeaders", "x-h"), h("X-H", "v" * 1784))),
        "request.origin.custom.customHeaders",
        "too long",
    ),
    reject(
        "custom-header-bad-value",
        "origin-request",
        edit((("origin", "custom", "customHeaders", "x-h"), [{"value": 1}])),
        'request.origin.custom.customHeaders["x-h"][0].value',
        BAD_HEADER_VALUE,
    ),
    # -- generated responses (§2.3, §3.3) ----------------------------------------------------
    reject("trap10-status-999", "viewer-request", gen("999"), "response.status", "200-599"),
    reject(
        "trap10-status-999-with-content-length",
        "origin-request",
        gen("999", headers={"content-length": h("Content-Length", "2")}, body="hi"),
        "response.status",
        "200-599",
    ),
    reject("status-199", "origin-request", gen("199"), "response.status", "200-599"),
    reject("status-600", "viewer-request", gen(600), "response.status", "200-599"),
    reject("status-0", "viewer-request", gen("0"), "response.status", "200-599"),
    reject("status-word", "viewer-request", gen("OK"), "response.status", "decimal string"),
    reject("status-padded", "viewer-request", gen(" 200"), "response.status", "decimal string"),
    reject("status-float", "viewer-request", gen(200.0), "response.status", "decimal string"),
    reject("status-bool", "viewer-request", gen(True), "response.status", "decimal string"),
    reject("status-null", "origin-request", gen(None), "response.status", "decimal string"),
    reject(
        "status-int-refused",
        "viewer-request",
        gen(200),
        "response.status",
        FAILED + "The status must be a decimal string.",
        accept_int_status=False,
    ),
    reject(
        "description-int",
        "viewer-request",
        gen(statusDescription=5),
        "response.statusDescription",
        "must be a string",
    ),
    reject(
        "generated-headers-list", "viewer-request", gen(headers=[]), "response.headers", "object"
    ),
    reject(
        "custom-headers-list",
        "origin-request",
        edit((("origin", "custom", "customHeaders"), [])),
        "request.origin.custom.customHeaders",
        "must be an object",
    ),
    reject("body-int", "viewer-request", gen(body=5), "response.body", BAD_BODY),
    reject("body-null", "origin-request", gen(body=None), "response.body", BAD_BODY),
    reject("body-object", "viewer-request", gen(body={"a": 1}), "response.body", BAD_BODY),
    reject(
        "bodyEncoding-gzip",
        "viewer-request",
        gen(body="x", bodyEncoding="gzip"),
        "response.bodyEncoding",
        "text or base64",
    ),
    reject(
        "body-bad-base64",
        "origin-request",
        gen(body="%%%", bodyEncoding="base64"),
        "response.body",
        "not valid base64",
    ),
    *(
        reject(f"204-body-{ev}", ev, gen("204", body="x"), "response.body", "204")
        for ev in REQUEST_EVENTS
    ),
    reject(
        "204-body-viewer-request-only-setting",
        "viewer-request",
        gen(204, body="x"),
        "response.body",
        "204",
        no_content_body_check="viewer-request",
    ),
    reject(
        "size-viewer-request",
        "viewer-request",
        gen(body="a" * (40 * KIB + 1)),
        "response.body",
        BAD_BODY,
    ),
    reject(
        "size-viewer-request-headers-count",
        "viewer-request",
        gen(headers={"x-a": h("X-A", "v" * 100)}, body="a" * (40 * KIB - 100)),
        "response.body",
        BAD_BODY,
    ),
    reject(
        "size-viewer-request-base64-string",
        "viewer-request",
        gen(body=base64.b64encode(b"a" * 31 * KIB).decode(), bodyEncoding="base64"),
        "response.body",
        BAD_BODY,
    ),
    reject(
        "size-origin-request",
        "origin-request",
        gen(body="a" * (MIB + 1)),
        "response.body",
        BAD_BODY,
    ),
    reject(
        "size-setting",
        "origin-request",
        gen(body="a" * 101),
        "response.body",
        BAD_BODY,
        origin_response_size_limit=100,
    ),
    # -- origin-response (§2.4) --------------------------------------------------------------
    reject(
        "oresp-missing-status",
        "origin-response",
        edit((("status",), DELETE)),
        "response.status",
        "missing",
    ),
    reject(
        "oresp-status-700",
        "origin-response",
        edit((("status",), "700")),
        "response.status",
        "200-599",
    ),
    reject(
        "oresp-status-100",
        "origin-response",
        edit((("status",), 100)),
        "response.status",
        "200-599",
    ),
    reject(
        "oresp-missing-headers",
        "origin-response",
        edit((("headers",), DELETE)),
        "response.headers",
        "missing",
    ),
    reject(
        "oresp-body-list",
        "origin-response",
        edit((("body",), ["x"])),
        "response.body",
        BAD_BODY,
    ),
    reject(
        "oresp-size",
        "origin-response",
        edit((("body",), "a" * MIB)),
        "response.body",
        BAD_BODY,
    ),
    # -- viewer-response (§2.2, decisions #9, #10) -------------------------------------------
    reject(
        "vresp-status-changed",
        "viewer-response",
        edit((("status",), "404")),
        "response.status",
        "change the status",
    ),
    reject(
        "vresp-status-changed-int",
        "viewer-response",
        edit((("status",), 302)),
        "response.status",
        "change the status",
    ),
    reject(
        "vresp-status-garbage",
        "viewer-response",
        edit((("status",), "two hundred")),
        "response.status",
        "decimal string",
    ),
    reject(
        "vresp-body",
        "viewer-response",
        edit((("body",), "hello")),
        "response.body",
        "can't set the body",
    ),
    reject(
        "vresp-body-allowed-but-too-big",
        "viewer-response",
        edit((("body",), "a" * 40 * KIB)),
        "response.body",
        BAD_BODY,
        viewer_response_body="allow",
    ),
]


@pytest.mark.parametrize(("event", "handler", "body", "kw", "field", "reason"), REJECTED)
def test_rejected(
    event: str, handler: Any, body: bool, kw: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(LambdaValidationError) as info:
        run(event, handler, body, **kw)
    exc = info.value
    assert type(exc) is LambdaValidationError
    assert exc.status == 502
    assert exc.x_cache == "LambdaValidationError from cloudfront"
    assert exc.field == field
    assert exc.reason.startswith(
        ("The Lambda function returned invalid JSON: ", "The Lambda function result failed")
    )
    if reason.startswith("The Lambda function"):
        assert exc.reason == reason
    else:
        assert reason in exc.reason


def accept(
    id: str, event: str, handler: Any, get: Any, expected: Any, body: bool = False, **kw: Any
) -> Any:
    return pytest.param(event, handler, body, kw, get, expected, id=id)


def req(r: Any) -> CFRequest:
    assert isinstance(r, RequestResult)
    return r.request


def resp(r: Any) -> ResponseResult:
    assert isinstance(r, ResponseResult)
    return r


def headers(r: Any) -> Any:
    return req(r)["headers"] if isinstance(r, RequestResult) else resp(r).headers


def whole(r: Any) -> tuple[int, str, Any, bytes | None]:
    x = resp(r)
    return x.status, x.status_description, x.headers, x.body


BIG_B64 = base64.b64encode(b"\x00" * (40 * KIB - 1)).decode()

ACCEPTED = [
    # -- identity and normalisation ----------------------------------------------------------
    accept("vreq-unchanged", "viewer-request", edit(), req, BEFORE["viewer-request"]),
    accept("oreq-unchanged", "origin-request", edit(), req, BEFORE["origin-request"]),
    accept(
        "tuple-becomes-list",
        "viewer-request",
        edit((("headers", "x-t"), ({"key": "X-T", "value": "1"},))),
        lambda r: req(r)["headers"]["x-t"],
        h("X-T", "1"),
    ),
    accept(
        "extra-keys-dropped",
        "viewer-request",
        edit((("extra",), 1)),
        lambda r: sorted(req(r)),
        ["clientIp", "headers", "method", "querystring", "uri"],
    ),
    accept(
        "uri-and-qs-changed",
        "viewer-request",
        edit((("uri",), "/caf%C3%A9"), (("querystring",), "x=%20&y")),
        lambda r: (req(r)["uri"], req(r)["querystring"]),
        ("/caf%C3%A9", "x=%20&y"),
    ),
    accept(
        "uri-8191-long",
        "viewer-request",
        edit((("uri",), "/" + "a" * 8187), (("querystring",), "b=")),
        lambda r: len(req(r)["uri"]),
        8188,
    ),
    accept(
        "uri-origin-request",
        "origin-request",
        edit((("uri",), "/new")),
        lambda r: req(r)["uri"],
        "/new",
    ),
    accept(
        "clientIp-change-ignored",
        "viewer-request",
        edit((("clientIp",), "10.0.0.1"), (("method",), "DELETE")),
        lambda r: (req(r)["clientIp"], req(r)["method"]),
        ("198.51.100.7", "GET"),
        readonly_field_change="ignore",
    ),
    accept(
        "key-filled-first-letter",
        "viewer-request",
        edit(
            (("headers", "x-custom-header"), [{"value": "1"}]),
            (("headers", "x-CUSTOM"), [{"value": "2"}]),
        ),
        lambda r: [(n, e["key"]) for n in ("x-custom-header", "x-custom") for e in headers(r)[n]],
        [("x-custom-header", "X-Custom-Header"), ("x-custom", "X-CUSTOM")],
    ),
    accept(
        "key-filled-title",
        "origin-response",
        edit(
            (("headers", "x-CUSTOM"), [{"value": "2"}]),
            (("headers", "content-type"), [{"value": "a"}]),
        ),
        lambda r: [headers(r)["x-custom"][0]["key"], headers(r)["content-type"][0]["key"]],
        ["X-Custom", "Content-Type"],
        key_capitalization="title",
    ),
    accept(
        "dict-key-lowercased",
        "viewer-request",
        edit((("headers", "X-Foo"), h("X-Foo", "1"))),
        lambda r: headers(r).get("x-foo"),
        h("X-Foo", "1"),
    ),
    accept(
        "dict-key-identity-wins",
        "viewer-response",
        edit((("headers", "x-a"), h("X-B", "1"))),
        lambda r: (headers(r)["x-a"], "x-b" in headers(r)),
        (h("X-A", "1"), False),
    ),
    accept(
        "entry-key-identity",
        "viewer-response",
        edit((("headers", "x-a"), h("X-B", "1"))),
        lambda r: (headers(r)["x-b"], "x-a" in headers(r)),
        (h("X-B", "1"), False),
        header_identity="entry-key",
    ),
    accept(
        "key-casing-kept",
        "viewer-request",
        edit((("headers", "accept"), h("accept", "*/*"))),
        lambda r: headers(r)["accept"],
        h("accept", "*/*"),
    ),
    accept(
        "null-key-filled",
        "viewer-request",
        edit(
            (("headers", "x-a"), [{"value": "1"}]),
            (("headers", "x-b"), [{"key": None, "value": "2"}]),
        ),
        lambda r: [headers(r)["x-a"][0]["key"], headers(r)["x-b"][0]["key"]],
        ["X-A", "X-B"],
    ),
    accept(
        "empty-list-removes-header",
        "viewer-request",
        edit((("headers", "user-agent"), [])),
        lambda r: "user-agent" in headers(r),
        False,
    ),
    accept(
        "two-cookies-kept",
        "origin-request",
        edit((("headers", "cookie"), h("Cookie", "a=1", "b=2"))),
        lambda r: headers(r)["cookie"],
        h("Cookie", "a=1", "b=2"),
    ),
    accept(
        "trap3-two-set-cookie-kept",
        "origin-response",
        edit((("headers", "set-cookie"), h("Set-Cookie", "a=1; Path=/", "b=2; HttpOnly"))),
        lambda r: headers(r)["set-cookie"],
        h("Set-Cookie", "a=1; Path=/", "b=2; HttpOnly"),
    ),
    accept(
        "trap3-two-set-cookie-generated",
        "viewer-request",
        gen(302, headers={"set-cookie": h("Set-Cookie", "a=1", "b=2")}),
        lambda r: resp(r).headers["set-cookie"],
        h("Set-Cookie", "a=1", "b=2"),
    ),
    accept(
        "utf8-header-value",
        "viewer-request",
        edit((("headers", "x-name"), h("X-Name", "café"))),
        lambda r: headers(r)["x-name"][0]["value"],
        "café",
    ),
    # -- disallowed / read-only / country ----------------------------------------------------
    accept(
        "host-writable-origin-request",
        "origin-request",
        edit((("headers", "host"), h("Host", "other.example.com"))),
        lambda r: headers(r)["host"],
        h("Host", "other.example.com"),
    ),
    accept(
        "read-only-key-case-change",
        "origin-request",
        edit((("headers", "via"), h("VIA", VIA))),
        lambda r: headers(r)["via"],
        h("VIA", VIA),
    ),
    accept(
        "read-only-delete-ignored-restored",
        "origin-request",
        edit((("headers", "via"), DELETE)),
        lambda r: headers(r)["via"],
        h("Via", VIA),
        readonly_header_delete="ignore",
    ),
    accept(
        "cdn-loop-added-2023",
        "viewer-request",
        edit((("headers", "cdn-loop"), h("CDN-Loop", "x"))),
        lambda r: headers(r)["cdn-loop"],
        h("CDN-Loop", "x"),
        readonly_header_list="2023",
    ),
    accept(
        "content-length-changed-viewer-response-2023",
        "viewer-response",
        edit((("headers", "content-length"), h("Content-Length", "6"))),
        lambda r: headers(r)["content-length"],
        h("Content-Length", "6"),
        readonly_header_list="2023",
    ),
    accept(
        "viewer-country-origin-request",
        "origin-request",
        edit((("headers", "cloudfront-viewer-country"), h("CloudFront-Viewer-Country", "US"))),
        lambda r: headers(r)["cloudfront-viewer-country"],
        h("CloudFront-Viewer-Country", "US"),
    ),
    accept(
        "cloudfront-headers-editable",
        "origin-request",
        edit(
            (("headers", "cloudfront-is-mobile-viewer"), h("CloudFront-Is-Mobile-Viewer", "true"))
        ),
        lambda r: "cloudfront-is-mobile-viewer" in headers(r),
        True,
    ),
    accept(
        "content-length-in-generated",
        "origin-request",
        gen(headers={"content-length": h("Content-Length", "2")}, body="hi"),
        lambda r: resp(r).headers["content-length"],
        h("Content-Length", "2"),
    ),
    accept(
        "response-header-added",
        "viewer-response",
        edit((("headers", "x-frame-options"), [{"value": "DENY"}])),
        lambda r: headers(r)["x-frame-options"],
        h("X-Frame-Options", "DENY"),
    ),
    # -- request body ------------------------------------------------------------------------
    accept(
        "body-read-only-ignores-data",
        "viewer-request",
        edit((("body", "data"), "!!not base64!!"), (("body", "encoding"), "weird")),
        lambda r: (r.body, req(r)["body"]),
        (None, BODY),
        True,
    ),
    accept(
        "body-absent-keeps-original",
        "origin-request",
        edit((("body",), DELETE)),
        lambda r: (r.body, req(r)["body"]),
        (None, BODY),
        True,
    ),
    accept(
        "body-replace-base64",
        "origin-request",
        edit(
            (("body", "action"), "replace"),
            (("body", "data"), base64.b64encode(b"\x00\xff").decode()),
        ),
        lambda r: (r.body, req(r)["body"]),
        (
            b"\x00\xff",
            {"inputTruncated": False, "action": "replace", "encoding": "base64", "data": "AP8="},
        ),
        True,
    ),
    accept(
        "body-replace-default-encoding-base64",
        "viewer-request",
        edit((("body",), {"action": "replace", "data": "aGk="})),
        lambda r: r.body,
        b"hi",
        True,
    ),
    accept(
        "body-replace-text",
        "viewer-request",
        edit((("body",), {"action": "replace", "encoding": "text", "data": "héllo"})),
        lambda r: r.body,
        "héllo".encode(),
        True,
    ),
    accept(
        "body-replace-empty",
        "viewer-request",
        edit((("body",), {"action": "replace", "encoding": "text", "data": ""})),
        lambda r: r.body,
        b"",
        True,
    ),
    *(
        accept(
            f"body-at-limit-{ev}",
            ev,
            edit((("body",), {"action": "replace", "encoding": "text", "data": "a" * limit})),
            lambda r: len(r.body),
            limit,
            True,
        )
        for ev, limit in [("viewer-request", 40 * KIB), ("origin-request", MIB)]
    ),
    accept(
        "body-base64-at-limit",
        "viewer-request",
        edit((("body",), {"action": "replace", "data": BIG_B64})),
        lambda r: len(r.body),
        40 * KIB - 1,
        True,
    ),
    *(
        accept(
            f"body-truncated-{ev}-{enc}",
            ev,
            edit((("body",), {"action": "replace", "encoding": enc, "data": data})),
            lambda r: r.body,
            b"a" * limit,
            True,
            replaced_body_over_limit="truncate",
        )
        for ev, limit in [("viewer-request", 40 * KIB), ("origin-request", MIB)]
        for enc, data in [
            ("text", "a" * (limit + 5)),
            ("base64", base64.b64encode(b"a" * (limit + 5)).decode()),
        ]
    ),
    accept(
        "body-ignored-without-include-body",
        "viewer-request",
        edit((("body",), {"action": "replace", "encoding": "text", "data": "x"})),
        lambda r: (r.body, "body" in req(r)),
        (None, False),
    ),
    accept(
        "body-garbage-ignored-without-include-body",
        "origin-request",
        edit((("body",), 5)),
        lambda r: r.body,
        None,
    ),
    # -- origin ------------------------------------------------------------------------------
    accept(
        "origin-ignored-viewer-request",
        "viewer-request",
        edit((("origin",), "garbage")),
        lambda r: "origin" in req(r),
        False,
    ),
    accept(
        "origin-absent-keeps-before",
        "origin-request",
        edit((("origin",), DELETE)),
        lambda r: req(r)["origin"],
        CUSTOM_ORIGIN,
    ),
    accept(
        "origin-partial-update-filled",
        "origin-request",
        const(
            {**BEFORE["origin-request"], "origin": {"custom": {"domainName": "new.example.com"}}}
        ),
        lambda r: req(r)["origin"],
        {"custom": {**CUSTOM_ORIGIN["custom"], "domainName": "new.example.com"}},
    ),
    *(
        accept(
            f"custom-{key}-{value!r}",
            "origin-request",
            edit((("origin", "custom", key), value)),
            lambda r, key=key: req(r)["origin"]["custom"][key],
            value,
        )
        for key, value in [
            ("port", 80),
            ("port", 1024),
            ("port", 65535),
            ("port", 8080),
            ("protocol", "http"),
            ("path", "/prefix"),
            ("path", "/a/b%20c"),
            ("readTimeout", 1),
            ("readTimeout", 180),
            ("keepaliveTimeout", 60),
            ("sslProtocols", ["TLSv1", "TLSv1.1", "TLSv1.2", "SSLv3"]),
            ("sslProtocols", []),
            ("domainName", "a" * 253),
            ("domainName", "my-origin.example.com"),
        ]
    ),
    accept(
        "switch-to-s3",
        "origin-request",
        edit((("origin",), {"s3": S3_ORIGIN})),
        lambda r: req(r)["origin"],
        {"s3": S3_ORIGIN},
    ),
    accept(
        "switch-to-s3-region-default",
        "origin-request",
        edit((("origin",), {"s3": {"domainName": "b.s3.amazonaws.com", "authMethod": "none"}})),
        lambda r: req(r)["origin"],
        {
            "s3": {
                "authMethod": "none",
                "customHeaders": {},
                "domainName": "b.s3.amazonaws.com",
                "path": "",
                "region": "",
            }
        },
    ),
    accept(
        "custom-header-added",
        "origin-request",
        edit((("origin", "custom", "customHeaders", "x-env"), [{"value": "prod"}])),
        lambda r: req(r)["origin"]["custom"]["customHeaders"]["x-env"],
        h("X-Env", "prod"),
    ),
    # -- generated responses -----------------------------------------------------------------
    accept(
        "trap1-int-status",
        "viewer-request",
        gen(201),
        whole,
        (201, "Created", {}, None),
    ),
    accept(
        "trap1-int-status-origin-request",
        "origin-request",
        gen(302, headers={"location": [{"value": "https://example.com/"}]}),
        whole,
        (302, "Found", {"location": h("Location", "https://example.com/")}, None),
    ),
    accept("status-200", "viewer-request", gen("200"), whole, (200, "OK", {}, None)),
    accept("status-599", "viewer-request", gen("599"), lambda r: resp(r).status_description, ""),
    accept(
        "description-given",
        "viewer-request",
        gen("200", statusDescription="Fine"),
        lambda r: resp(r).status_description,
        "Fine",
    ),
    accept(
        "description-not-defaulted",
        "viewer-request",
        gen("404"),
        lambda r: resp(r).status_description,
        "",
        default_status_description=False,
    ),
    accept(
        "generated-marker-wins",
        "origin-request",
        gen("200", uri=5, headers={}),
        lambda r: type(r),
        ResponseResult,
    ),
    accept(
        "body-text", "viewer-request", gen(body="héllo"), lambda r: resp(r).body, "héllo".encode()
    ),
    accept(
        "trap5-bodyEncoding-base64",
        "viewer-request",
        gen(body=base64.b64encode(b"\x89PNG\x00").decode(), bodyEncoding="base64"),
        lambda r: resp(r).body,
        b"\x89PNG\x00",
    ),
    accept(
        "body-explicit-text",
        "origin-request",
        gen(body="aGk=", bodyEncoding="text"),
        lambda r: resp(r).body,
        b"aGk=",
    ),
    accept("204-no-body", "viewer-request", gen("204"), lambda r: resp(r).body, None),
    accept("204-empty-body", "viewer-request", gen("204", body=""), lambda r: resp(r).body, b""),
    accept(
        "204-body-origin-request-allowed-by-setting",
        "origin-request",
        gen("204", body="x"),
        lambda r: resp(r).body,
        b"x",
        no_content_body_check="viewer-request",
    ),
    accept(
        "size-viewer-request-at-limit",
        "viewer-request",
        gen(headers={"x-a": h("X-A", "v" * 97)}, body="a" * (40 * KIB - 100)),
        lambda r: len(resp(r).body or b""),
        40 * KIB - 100,
    ),
    accept(
        "size-origin-request-at-limit",
        "origin-request",
        gen(body="a" * MIB),
        lambda r: len(resp(r).body or b""),
        MIB,
    ),
    accept(
        "size-setting-larger",
        "viewer-request",
        gen(body="a" * (40 * KIB + 1)),
        lambda r: len(resp(r).body or b""),
        40 * KIB + 1,
        viewer_response_size_limit=MIB,
    ),
    # -- origin-response ---------------------------------------------------------------------
    accept(
        "oresp-unchanged",
        "origin-response",
        edit(),
        whole,
        (404, "Not Found", BEFORE["origin-response"]["headers"], None),
    ),
    accept(
        "oresp-replace",
        "origin-response",
        edit((("status",), 200), (("statusDescription",), DELETE), (("body",), "<p>hi</p>")),
        lambda r: (resp(r).status, resp(r).status_description, resp(r).body),
        (200, "OK", b"<p>hi</p>"),
    ),
    accept(
        "oresp-body-removed", "origin-response", edit((("body",), "")), lambda r: resp(r).body, b""
    ),
    accept(
        "oresp-body-base64",
        "origin-response",
        edit((("body",), "AAE="), (("bodyEncoding",), "base64")),
        lambda r: resp(r).body,
        b"\x00\x01",
    ),
    accept(
        "oresp-204-body-not-checked",
        "origin-response",
        edit((("status",), "204"), (("body",), "x")),
        lambda r: (resp(r).status, resp(r).body),
        (204, b"x"),
    ),
    accept(
        "oresp-redirect",
        "origin-response",
        edit(
            (("status",), "301"),
            (("statusDescription",), "Moved"),
            (("headers", "location"), h("Location", "/new")),
        ),
        lambda r: (resp(r).status, resp(r).status_description, resp(r).headers["location"]),
        (301, "Moved", h("Location", "/new")),
    ),
    # -- viewer-response ---------------------------------------------------------------------
    accept(
        "vresp-status-int-same",
        "viewer-response",
        edit((("status",), 200)),
        lambda r: resp(r).status,
        200,
    ),
    accept(
        "vresp-status-change-ignored",
        "viewer-response",
        edit((("status",), "404"), (("statusDescription",), "Nope")),
        lambda r: (resp(r).status, resp(r).status_description),
        (200, "OK"),
        viewer_response_status_change="ignore",
    ),
    accept(
        "vresp-description-change-ignored",
        "viewer-response",
        edit((("statusDescription",), "Fine")),
        lambda r: resp(r).status_description,
        "OK",
    ),
    accept(
        "vresp-body-ignored",
        "viewer-response",
        edit((("body",), "x"), (("bodyEncoding",), "base64")),
        lambda r: resp(r).body,
        None,
        viewer_response_body="ignore",
    ),
    accept(
        "vresp-body-allowed",
        "viewer-response",
        edit((("body",), "aGk="), (("bodyEncoding",), "base64")),
        lambda r: resp(r).body,
        b"hi",
        viewer_response_body="allow",
    ),
    accept("vresp-no-body", "viewer-response", edit(), lambda r: resp(r).body, None),
]


@pytest.mark.parametrize(("event", "handler", "body", "kw", "get", "expected"), ACCEPTED)
def test_accepted(
    event: str, handler: Any, body: bool, kw: dict[str, Any], get: Any, expected: Any
) -> None:
    assert get(run(event, handler, body, **kw)) == expected


def test_disallowed_header_already_in_before_is_not_added() -> None:
    before: CFResponse = copy.deepcopy(BEFORE["viewer-response"])
    before["headers"]["x-cache"] = h("X-Cache", "Hit from cloudfront")  # type: ignore[assignment]
    out = validate_response_result("viewer-response", before, copy_response(before), EdgeSettings())
    assert out.headers["x-cache"] == h("X-Cache", "Hit from cloudfront")


def test_viewer_country_sent_by_viewer_may_stay() -> None:
    before: CFRequest = copy.deepcopy(BEFORE["viewer-request"])
    before["headers"]["cloudfront-viewer-country"] = h("CloudFront-Viewer-Country", "FR")  # type: ignore[assignment]
    out = validate_request_result(
        "viewer-request", before, copy_request(before), EdgeSettings(), include_body=False
    )
    assert isinstance(out, RequestResult)
    assert out.request["headers"]["cloudfront-viewer-country"][0]["value"] == "FR"


def test_s3_oai_kept_when_already_s3() -> None:
    before = copy.deepcopy(BEFORE["origin-request"])
    before["origin"] = {"s3": {**S3_ORIGIN, "authMethod": "origin-access-identity"}}
    result = copy_request(before)
    result["origin"]["s3"]["domainName"] = "other.s3.us-east-1.amazonaws.com"
    out = validate_request_result(
        "origin-request", before, result, EdgeSettings(), include_body=False
    )
    assert isinstance(out, RequestResult)
    assert out.request["origin"]["s3"]["authMethod"] == "origin-access-identity"
    result["origin"]["s3"]["region"] = ""
    with pytest.raises(LambdaValidationError) as info:
        validate_request_result(
            "origin-request", before, result, EdgeSettings(), include_body=False
        )
    assert info.value.field == "request.origin.s3.region"


def test_switch_from_s3_to_custom() -> None:
    before = copy.deepcopy(BEFORE["origin-request"])
    before["origin"] = {"s3": copy.deepcopy(S3_ORIGIN)}
    result = copy_request(before)
    result["origin"] = {"custom": {"domainName": "x.example.com", "protocol": "https"}}
    with pytest.raises(LambdaValidationError) as info:
        validate_request_result(
            "origin-request", before, result, EdgeSettings(), include_body=False
        )
    assert info.value.field == "request.origin.custom.port"
    assert info.value.reason == FAILED + "The required field request.origin.custom.port is missing."
    result["origin"]["custom"]["port"] = 443
    out = validate_request_result(
        "origin-request", before, result, EdgeSettings(), include_body=False
    )
    assert isinstance(out, RequestResult)
    assert out.request["origin"] == {
        "custom": {
            "customHeaders": {},
            "domainName": "x.example.com",
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }
    }


def test_result_shares_nothing_with_handler_objects() -> None:
    before = copy.deepcopy(BEFORE["origin-request"])
    result = copy_request(before)
    out = validate_request_result(
        "origin-request", before, result, EdgeSettings(), include_body=False
    )
    assert isinstance(out, RequestResult)
    assert out.request == result
    result["headers"]["host"][0]["value"] = "changed"
    result["headers"]["x-new"] = h("X-New", "1")
    result["origin"]["custom"]["customHeaders"]["x-origin-secret"][0]["value"] = "changed"
    result["origin"]["custom"]["sslProtocols"].append("SSLv3")
    assert out.request["headers"]["host"][0]["value"] == "app.example.com"
    assert "x-new" not in out.request["headers"]
    assert out.request["origin"] == CUSTOM_ORIGIN

    response = copy_response(BEFORE["origin-response"])
    res = validate_response_result(
        "origin-response", BEFORE["origin-response"], response, EdgeSettings()
    )
    response["headers"]["content-type"][0]["value"] = "changed"
    assert res.headers["content-type"][0]["value"] == "text/html"


def test_copy_request_is_independent() -> None:
    original = before_for("origin-request", include_body=True)
    snapshot = copy.deepcopy(original)
    dup = copy_request(original)
    assert dup == original
    dup["uri"] = "/x"
    dup["headers"]["host"][0]["value"] = "x"
    dup["headers"]["host"].append({"key": "Host", "value": "y"})
    dup["headers"]["new"] = []
    dup["body"]["data"] = ""
    dup["origin"]["custom"]["port"] = 8080
    dup["origin"]["custom"]["sslProtocols"].append("TLSv1")
    dup["origin"]["custom"]["customHeaders"]["x-origin-secret"][0]["value"] = "x"
    dup["origin"]["s3"] = {}
    assert original == snapshot

    s3_req = before_for("origin-request", include_body=False)
    s3_req["origin"] = {"s3": copy.deepcopy(S3_ORIGIN)}
    s3_dup = copy_request(s3_req)
    s3_dup["origin"]["s3"]["customHeaders"]["x"] = []
    assert s3_req["origin"]["s3"]["customHeaders"] == {}


def test_copy_response_is_independent() -> None:
    original = copy.deepcopy(BEFORE["origin-response"])
    snapshot = copy.deepcopy(original)
    dup = copy_response(original)
    assert dup == original
    dup["status"] = "200"
    dup["headers"]["via"][0]["value"] = "x"
    dup["headers"]["via"].append({"key": "Via", "value": "y"})
    dup["headers"]["new"] = []
    assert original == snapshot


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("x-amz-cf-pop", True, id="x-amz-cf-prefix"),
        pytest.param("x-edge-origin-shield-skip", True, id="x-edge-prefix"),
        pytest.param("x-amzn-cf-id", True, id="x-amzn-cf-id"),
        pytest.param("x-amz-date", False, id="x-amz-date-allowed"),
        pytest.param("x-amzn-trace-id", False, id="x-amzn-other-allowed"),
        pytest.param("cookie", False, id="cookie"),
    ],
)
def test_is_disallowed_header(name: str, expected: bool) -> None:
    assert is_disallowed_header(name) is expected
