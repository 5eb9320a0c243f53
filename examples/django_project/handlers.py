"""Lambda@Edge handlers for the Django example, written exactly as they are deployed."""

import re

_LEGACY = re.compile(r"^/blog/(?P<slug>[\w-]+)\.html$")

NOT_FOUND_PAGE = """<!doctype html>
<title>Page not found</title>
<h1>We couldn't find that page</h1>
<p><a href="/">Back to the front page</a></p>
"""


def redirect_legacy(event, context):
    """viewer-request: answer old ``/blog/<slug>.html`` links with a 301 at the edge
    (AWS example "generate an HTTP redirect"); the app never sees them."""
    request = event["Records"][0]["cf"]["request"]
    match = _LEGACY.match(request["uri"])
    if match is None:
        return request
    return {
        "status": "301",
        "statusDescription": "Moved Permanently",
        "headers": {
            "location": [{"key": "Location", "value": f"/articles/{match['slug']}/"}],
            "cache-control": [{"key": "Cache-Control", "value": "max-age=3600"}],
        },
    }


def not_found_page(event, context):
    """origin-response: replace the app's bare 404 body with the site's page (the status
    stays 404; AWS example "update the error status")."""
    response = event["Records"][0]["cf"]["response"]
    if response["status"] == "404":
        response["headers"]["content-type"] = [
            {"key": "Content-Type", "value": "text/html; charset=utf-8"}
        ]
        response["body"] = NOT_FOUND_PAGE
    return response
