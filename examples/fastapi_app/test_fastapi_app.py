"""The FastAPI example, driven with FastAPI's TestClient."""

import pytest
from fastapi.testclient import TestClient

from edge_middleware.testing import run_trigger


@pytest.fixture(scope="module")
def example(import_example):
    return import_example("fastapi_app", "app")


@pytest.fixture
def client(example):
    with TestClient(example.app) as client:
        yield client


def test_api_needs_a_key(client):
    response = client.post("/api/items", json={"name": "socks"})
    assert response.status_code == 403
    assert response.json() == {"detail": "missing X-Api-Key"}
    assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"


def test_body_is_tagged_at_the_edge(client):
    response = client.post("/api/items", json={"name": "socks"}, headers={"X-Api-Key": "k"})
    assert response.status_code == 201
    item = response.json()["item"]
    assert item["name"] == "socks"
    assert item["edge_request_id"] == response.headers["X-Amz-Cf-Id"]
    assert response.headers["X-Cache"] == "Miss from cloudfront"


def test_other_paths_pass_through(client):
    response = client.get("/")
    assert response.json() == {"hello": "edge"}
    assert response.headers["X-Cache"] == "Miss from cloudfront"


def test_handlers_alone(example, edge_event):
    event = edge_event.origin_request(
        "/api/items", method="POST", body=b'{"name": "mug"}', headers={"X-Api-Key": "k"}
    )
    result = run_trigger(example.tag_json_body, event)
    assert result["body"]["action"] == "replace"
    assert run_trigger(example.require_api_key, edge_event.viewer_request("/api/x"))["status"] == (
        "403"
    )
