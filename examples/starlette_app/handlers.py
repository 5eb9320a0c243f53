"""Lambda@Edge handlers for the Starlette example, written exactly as they are deployed.

``async def`` handlers work too: the middleware awaits them on the event loop.
"""

ROBOTS_TXT = "User-agent: *\nDisallow: /api/\n"
ALLOWED_ORIGINS = {"https://www.example.com", "http://localhost:3000"}


async def robots_txt(event, context):
    """viewer-request: answer ``/robots.txt`` at the edge (AWS example "serve static
    content"); every other request goes on unchanged."""
    request = event["Records"][0]["cf"]["request"]
    if request["uri"] != "/robots.txt":
        return request
    return {
        "status": "200",
        "headers": {
            "content-type": [{"key": "Content-Type", "value": "text/plain; charset=utf-8"}],
            "cache-control": [{"key": "Cache-Control", "value": "max-age=86400"}],
        },
        "body": ROBOTS_TXT,
    }


def cors_headers(event, context):
    """viewer-response: allow the site's own front ends to call the API from the browser
    (CloudFront Functions example "add CORS headers to the response")."""
    cf = event["Records"][0]["cf"]
    origin = cf["request"]["headers"].get("origin", [{"value": ""}])[0]["value"]
    headers = cf["response"]["headers"]
    if origin in ALLOWED_ORIGINS:
        headers["access-control-allow-origin"] = [
            {"key": "Access-Control-Allow-Origin", "value": origin}
        ]
        headers["vary"] = [{"key": "Vary", "value": "Origin"}]
    return cf["response"]
