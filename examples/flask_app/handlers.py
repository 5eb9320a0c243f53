"""Lambda@Edge handlers for the Flask example, written exactly as they are deployed.

Both are plain ``handler(event, context)`` functions with no import from edge_middleware: the
same file can be zipped and published to Lambda@Edge.
"""

from urllib.parse import parse_qsl, urlencode


def normalize_query(event, context):
    """viewer-request: lower-case and sort the query string, so ``?B=2&a=1`` and ``?a=1&b=2``
    share one cache entry (AWS example "normalize query string parameters")."""
    request = event["Records"][0]["cf"]["request"]
    params = sorted(parse_qsl(request["querystring"].lower(), keep_blank_values=True))
    request["querystring"] = urlencode(params)
    return request


def default_cache_control(event, context):
    """origin-response: keep a 200 for five minutes when the app sent no Cache-Control."""
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    if response["status"] == "200" and "cache-control" not in headers:
        headers["cache-control"] = [{"key": "Cache-Control", "value": "public, max-age=300"}]
    return response
