"""origin-response: add security headers to every page before CloudFront caches it (the
CloudFront tutorial "add HTTP security headers"). Deployed as ``security-headers``."""

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def handler(event, context):
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    for name, value in SECURITY_HEADERS.items():
        headers[name.lower()] = [{"key": name, "value": value}]
    return response
