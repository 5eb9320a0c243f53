"""AWS's published Lambda@Edge example handlers, rewritten in our own words.

Source: the CloudFront developer guide page "Lambda@Edge example functions" (lambda-edge.md §6,
examples 1-7 and 15-18) plus the example removed in 2020 that served a gzip-compressed page as a
base64 generated body. Each function keeps what the AWS example does (including the quirks the
spec calls out: an ``int`` status in origin-response, a ``KeyError`` when ``auth`` is missing)
but is written here as a plain Python ``handler(event, context)``.
"""

from __future__ import annotations

import base64
import gzip
import random
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

__all__ = [
    "CONTROL_URI",
    "GZIP_PAGE",
    "STATIC_PAGE",
    "TREATMENT_URI",
    "ab_testing",
    "error_to_200",
    "error_to_redirect",
    "form_fields_seen",
    "gzip_static_content",
    "modify_form",
    "normalize_query_string",
    "override_last_modified",
    "query_to_header",
    "read_form",
    "redirect",
    "redirect_unauthenticated",
    "static_content",
]


def _cf(event: dict[str, Any]) -> dict[str, Any]:
    cf: dict[str, Any] = event["Records"][0]["cf"]
    return cf


def _cookie_pairs(headers: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for entry in headers.get("cookie", []):
        for part in entry["value"].split(";"):
            name, _, value = part.strip().partition("=")
            if name:
                pairs.append((name, value))
    return pairs


# -- 1. A/B testing (viewer-request) -------------------------------------------------------------
PIXEL_URI = "/experiment-pixel.jpg"
CONTROL_URI = "/experiment-group/control-pixel.jpg"
TREATMENT_URI = "/experiment-group/treatment-pixel.jpg"


def ab_testing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve the control or treatment image by the ``X-Experiment-Name`` cookie; without the
    cookie pick one at random, 75 % control."""
    request: dict[str, Any] = _cf(event)["request"]
    if request["uri"] != PIXEL_URI:
        return request
    chosen = None
    for name, value in _cookie_pairs(request["headers"]):
        if name == "X-Experiment-Name" and value == "A":
            chosen = CONTROL_URI
        elif name == "X-Experiment-Name" and value == "B":
            chosen = TREATMENT_URI
    if chosen is None:
        chosen = CONTROL_URI if random.random() < 0.75 else TREATMENT_URI
    request["uri"] = chosen
    return request


# -- 2. Override a response header (origin-response or viewer-response) -------------------------
def override_last_modified(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Copy ``X-Amz-Meta-Last-Modified`` into ``Last-Modified`` when the origin sent it."""
    response: dict[str, Any] = _cf(event)["response"]
    headers = response["headers"]
    meta = headers.get("x-amz-meta-last-modified")
    if meta:
        headers["last-modified"] = [{"key": "Last-Modified", "value": meta[0]["value"]}]
    return response


# -- 3. Generate static content (viewer-request or origin-request) -------------------------------
STATIC_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Simple Lambda@Edge Static Content Response</title></head>
  <body><p>Hello from Lambda@Edge!</p></body>
</html>"""


def static_content(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer with a fixed HTML page that the cache may keep for 100 seconds."""
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "cache-control": [{"key": "Cache-Control", "value": "max-age=100"}],
            "content-type": [{"key": "Content-Type", "value": "text/html"}],
        },
        "body": STATIC_PAGE,
    }


# -- 4. HTTP redirect (viewer-request or origin-request) -----------------------------------------
REDIRECT_TARGET = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-edge.html"


def redirect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Send every viewer to another URL with a 302."""
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": REDIRECT_TARGET}]},
    }


# -- 5. Query string parameter to a header (viewer-request / origin-request) ---------------------
def query_to_header(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Move ``auth=`` from the query string into an ``Auth-Header`` request header.

    Like the AWS Python version, a request without ``auth`` raises ``KeyError``.
    """
    request: dict[str, Any] = _cf(event)["request"]
    params = parse_qs(request["querystring"], keep_blank_values=True)
    request["headers"]["auth-header"] = [{"key": "Auth-Header", "value": params["auth"][0]}]
    del params["auth"]
    request["querystring"] = urlencode(params, doseq=True)
    return request


# -- 6. Normalise the query string (viewer-request) ----------------------------------------------
def normalize_query_string(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lower-case the query string and sort its parameters by name, one value per name."""
    request: dict[str, Any] = _cf(event)["request"]
    params = parse_qs(request["querystring"].lower(), keep_blank_values=True)
    request["querystring"] = urlencode(sorted((k, v[0]) for k, v in params.items()))
    return request


# -- 7. Redirect unauthenticated users to a sign-in page (viewer-request) ------------------------
SIGNIN_URL = "https://www.example.com/signin"


def redirect_unauthenticated(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Without a ``session-id`` cookie, 302 to the sign-in page with the original URL."""
    request: dict[str, Any] = _cf(event)["request"]
    if any(name == "session-id" for name, _ in _cookie_pairs(request["headers"])):
        return request
    host = request["headers"]["host"][0]["value"]
    original = f"https://{host}{request['uri']}"
    if request["querystring"]:
        original += "?" + request["querystring"]
    location = f"{SIGNIN_URL}?redirect_url={quote(original, safe='')}"
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": location}]},
    }


# -- 15. Error status to 200 (origin-response) ---------------------------------------------------
ERROR_PAGE_BODY = (
    "<html><body><p>Something went wrong, but here is a page anyway.</p></body></html>"
)


def error_to_200(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Replace a 4xx/5xx from the origin with a 200 and a static body (``int`` status, as AWS's
    Python example does)."""
    response: dict[str, Any] = _cf(event)["response"]
    if 400 <= int(response["status"]) <= 599:
        response["status"] = 200
        response["statusDescription"] = "OK"
        response["body"] = ERROR_PAGE_BODY
    return response


# -- 16. Error status to 302 (origin-response) ---------------------------------------------------
def error_to_redirect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Redirect a failed request to ``/plan-b/path`` keeping the query string (``int`` status)."""
    cf = _cf(event)
    response: dict[str, Any] = cf["response"]
    request: dict[str, Any] = cf["request"]
    if 400 <= int(response["status"]) <= 599:
        location = "/plan-b/path?" + request["querystring"]
        response["status"] = 302
        response["statusDescription"] = "Found"
        response["body"] = ""
        response["headers"]["location"] = [{"key": "Location", "value": location}]
    return response


# -- 17. Read an HTML form (request trigger with IncludeBody) ------------------------------------
#: What ``read_form`` parsed, newest last (the AWS example logs it instead).
form_fields_seen: list[dict[str, str]] = []


def read_form(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Decode the base64 body of a POSTed form and note its fields; the request goes on as is."""
    request: dict[str, Any] = _cf(event)["request"]
    if request["method"] == "POST":
        text = base64.b64decode(request["body"]["data"]).decode("utf-8")
        fields = {name: values[0] for name, values in parse_qs(text).items()}
        form_fields_seen.append(fields)
    return request


# -- 18. Modify an HTML form (request trigger with IncludeBody) ----------------------------------
def modify_form(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Add one field to a POSTed form and send the new body (as text) to the origin."""
    request: dict[str, Any] = _cf(event)["request"]
    if request["method"] == "POST":
        text = base64.b64decode(request["body"]["data"]).decode("utf-8")
        fields = {name: values[0] for name, values in parse_qs(text).items()}
        fields["new-param-name"] = "new-param-value"
        request["body"]["action"] = "replace"
        request["body"]["encoding"] = "text"
        request["body"]["data"] = urlencode(fields)
    return request


# -- removed example: gzip-compressed static content as a base64 generated body -----------------
GZIP_PAGE = b"<!DOCTYPE html><html><body><h1>Compressed at the edge</h1></body></html>"


def gzip_static_content(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer with a gzip-compressed page, base64-encoded, flagged with ``bodyEncoding``."""
    compressed = gzip.compress(GZIP_PAGE, mtime=0)
    return {
        "status": "200",
        "statusDescription": "OK",
        "headers": {
            "cache-control": [{"key": "Cache-Control", "value": "max-age=100"}],
            "content-type": [{"key": "Content-Type", "value": "text/html; charset=UTF-8"}],
            "content-encoding": [{"key": "Content-Encoding", "value": "gzip"}],
        },
        "body": base64.b64encode(compressed).decode("ascii"),
        "bodyEncoding": "base64",
    }
