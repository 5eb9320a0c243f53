"""viewer-request on ``/account/*``: visitors without a session cookie go to ``/login``.

Runs before the cache and the app, so signed-out visitors never reach the account pages.
Deployed as the Lambda function ``auth``.
"""

SESSION_COOKIE = "session"


def has_session(headers):
    """Whether one of the ``Cookie`` headers (there may be several) holds a session."""
    for entry in headers.get("cookie", []):
        for pair in entry["value"].split(";"):
            name, _, value = pair.strip().partition("=")
            if name == SESSION_COOKIE and value:
                return True
    return False


def handler(event, context):
    request = event["Records"][0]["cf"]["request"]
    if has_session(request["headers"]):
        return request
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {
            "location": [{"key": "Location", "value": "/login"}],
            "cache-control": [{"key": "Cache-Control", "value": "no-store"}],
        },
    }
