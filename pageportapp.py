
from edge_middleware import EdgeWSGIMiddleware, EdgeConfig, Behavior, CachePolicy
from edge_middleware.config.model import CustomErrorResponse
from edge_middleware.config.policies import OriginRequestPolicy
ORP = OriginRequestPolicy(headers="whitelist", header_names=("CloudFront-Viewer-Address",))
def inner(environ, start_response):
    addr = environ.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS", "-")
    if environ["PATH_INFO"].startswith("/errors/"):
        start_response("200 OK", [("X-Page-Saw", addr)]); return [b"page"]
    start_response("404 Not Found", [("X-Origin-Saw", addr)]); return [b"nope"]
app = EdgeWSGIMiddleware(inner, config=EdgeConfig(
    default=Behavior(cache=CachePolicy(0, 0, 0), origin_request_policy=ORP),
    custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 404, 0)]))
