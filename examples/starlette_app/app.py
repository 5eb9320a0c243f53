"""A Starlette app with the CloudFront edge as one of its middleware.

Run it from this folder::

    uvicorn app:app
    curl -i http://127.0.0.1:8000/robots.txt          # answered by the viewer-request handler
    curl -i -H 'Origin: http://localhost:3000' http://127.0.0.1:8000/api/products
"""

import handlers
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware

PRODUCTS = [{"id": 1, "name": "Edge socks"}, {"id": 2, "name": "Cache mug"}]


async def index(request):
    return HTMLResponse("<h1>Starlette behind CloudFront</h1>")


async def products(request):
    return JSONResponse(PRODUCTS, headers={"Cache-Control": "public, max-age=60"})


config = EdgeConfig(
    default=Behavior(
        viewer_request=handlers.robots_txt,
        viewer_response=handlers.cors_headers,
        # The Origin header is in the cache key: each front end gets its own cached copy.
        cache=CachePolicy(headers=("origin",)),
    )
)

app = Starlette(
    routes=[Route("/", index), Route("/api/products", products)],
    middleware=[Middleware(EdgeMiddleware, config=config)],
)
