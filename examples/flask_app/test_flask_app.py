"""The Flask example, driven with Flask's own test client (through ``app.wsgi_app``)."""

import pytest

from edge_middleware.testing import run_trigger


@pytest.fixture(scope="module")
def example(import_example):
    return import_example("flask_app", "app")


@pytest.fixture
def client(example):
    example.app.wsgi_app.storage.clear()
    return example.app.test_client()


def test_query_strings_are_normalised_into_one_cache_entry(client):
    first = client.get("/search?Q=Edge&page=1")
    assert first.status_code == 200
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert first.get_json() == {"query": "page=1&q=edge", "args": {"page": "1", "q": "edge"}}
    assert first.headers["Cache-Control"] == "public, max-age=300"
    second = client.get("/search?page=1&q=edge")
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert second.headers["X-Amz-Cf-Id"] != first.headers["X-Amz-Cf-Id"]


def test_private_pages_are_not_cached(client):
    for _ in range(2):
        response = client.get("/account")
        assert response.headers["X-Cache"] == "Miss from cloudfront"
        assert response.headers["Cache-Control"] == "private, no-store"


def test_the_cache_expires_after_five_minutes(example, edge_client, edge_clock):
    # The same Flask app and config, wrapped again with the test's clock.
    client = edge_client(example.app.wsgi_app.app, config=example.config)
    assert client.get("/").headers["X-Cache"] == "Miss from cloudfront"
    edge_clock.advance(299)
    assert client.get("/").headers["X-Cache"] == "Hit from cloudfront"
    edge_clock.advance(2)
    assert client.get("/").headers["X-Cache"] != "Hit from cloudfront"


def test_handlers_alone(example, edge_event):
    event = edge_event.viewer_request("/search?b=2&A=1&a=0")
    assert run_trigger("handlers:normalize_query", event)["querystring"] == "a=0&a=1&b=2"
    event = edge_event.origin_response("/", response_headers={"Cache-Control": "no-cache"})
    result = run_trigger("handlers:default_cache_control", event)
    assert result["headers"]["cache-control"] == [{"key": "Cache-Control", "value": "no-cache"}]
