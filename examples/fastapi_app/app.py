"""A FastAPI app behind the CloudFront edge, added with ``app.add_middleware``.

Run it from this folder::

    uvicorn app:app
    curl -i -X POST -H 'X-Api-Key: k' -H 'Content-Type: application/json' \
        -d '{"name": "socks"}' http://127.0.0.1:8000/api/items
"""

from fastapi import FastAPI, Request
from handlers import require_api_key, tag_json_body
from pydantic import BaseModel

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware, Trigger


class Item(BaseModel):
    name: str
    edge_request_id: str | None = None


app = FastAPI(title="FastAPI behind CloudFront")


@app.get("/")
async def index():
    return {"hello": "edge"}


@app.post("/api/items", status_code=201)
async def create_item(item: Item, request: Request):
    return {"item": item, "host": request.headers.get("host")}


config = EdgeConfig(
    behaviors=[
        Behavior(
            "/api/*",
            viewer_request=require_api_key,
            origin_request=Trigger(tag_json_body, include_body=True),
            cache=CachePolicy(0, 0, 0),  # CachingDisabled
        )
    ]
)

app.add_middleware(EdgeMiddleware, config=config)
