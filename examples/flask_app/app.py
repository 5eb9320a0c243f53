"""A Flask app behind the CloudFront edge: its two Lambda@Edge handlers and the edge cache run
in-process, around ``app.wsgi_app``.

Run it from this folder::

    flask --app app run
    curl -i 'http://127.0.0.1:5000/search?Q=Edge&page=1'    # X-Cache: Miss from cloudfront
    curl -i 'http://127.0.0.1:5000/search?page=1&q=edge'    # X-Cache: Hit from cloudfront
"""

from flask import Flask, jsonify, request

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware

app = Flask(__name__)


@app.get("/")
def index():
    return "<h1>Flask behind CloudFront</h1><p><a href='/search?q=edge'>search</a></p>"


@app.get("/search")
def search():
    # Runs once per normalised query string: the edge answers the rest from its cache.
    return jsonify(query=request.query_string.decode(), args=request.args)


@app.get("/account")
def account():
    return "<h1>Your account</h1>", 200, {"Cache-Control": "private, no-store"}


config = EdgeConfig(
    default=Behavior(
        viewer_request="handlers:normalize_query",
        origin_response="handlers:default_cache_control",
        cache=CachePolicy(query_strings="all"),  # the whole query string is in the cache key
    )
)

app.wsgi_app = EdgeWSGIMiddleware(app.wsgi_app, config=config)
