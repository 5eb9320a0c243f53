"""Lambda@Edge handlers for the FastAPI example, written exactly as they are deployed."""

import base64
import json


def require_api_key(event, context):
    """viewer-request: turn away API calls without an ``X-Api-Key`` header at the edge."""
    request = event["Records"][0]["cf"]["request"]
    if request["headers"].get("x-api-key"):
        return request
    return {
        "status": "403",
        "statusDescription": "Forbidden",
        "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]},
        "body": json.dumps({"detail": "missing X-Api-Key"}),
    }


def tag_json_body(event, context):
    """origin-request with IncludeBody: add the CloudFront request id to a JSON body before
    it reaches the app (AWS example "modify the request body")."""
    cf = event["Records"][0]["cf"]
    request = cf["request"]
    body = request.get("body")
    if request["method"] != "POST" or not body or not body["data"]:
        return request
    data = json.loads(base64.b64decode(body["data"]))
    data["edge_request_id"] = cf["config"]["requestId"]
    body["action"] = "replace"
    body["encoding"] = "text"
    body["data"] = json.dumps(data)
    return request
