"""The Starlette example, driven with Starlette's TestClient."""

import pytest
from starlette.testclient import TestClient

from edge_middleware.testing import run_trigger


@pytest.fixture(scope="module")
def example(import_example):
    return import_example("starlette_app", "app")


@pytest.fixture
def client(example):
    with TestClient(example.app) as client:  # runs the lifespan through the middleware
        yield client


def test_robots_txt_is_served_at_the_edge(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.text == "User-agent: *\nDisallow: /api/\n"
    assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"


def test_cors_headers_for_known_origins_only(client):
    known = client.get("/api/products", headers={"Origin": "http://localhost:3000"})
    assert known.json()[0]["name"] == "Edge socks"
    assert known.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    unknown = client.get("/api/products", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in unknown.headers
    # the Origin header is part of the cache key: the second front end is a miss, then hits
    assert unknown.headers["X-Cache"] == "Miss from cloudfront"
    again = client.get("/api/products", headers={"Origin": "http://localhost:3000"})
    assert again.headers["X-Cache"] == "Hit from cloudfront"
    assert again.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_handlers_alone(example, edge_event):
    result = run_trigger(example.handlers.robots_txt, edge_event.viewer_request("/"))
    assert result["uri"] == "/"
    event = edge_event.viewer_response("/", headers={"Origin": "https://www.example.com"})
    result = run_trigger(example.handlers.cors_headers, event)
    assert result["headers"]["vary"] == [{"key": "Vary", "value": "Origin"}]
