"""The Django example through both entry points: ``wsgi.py`` (Werkzeug's test client, as a
WSGI server would call it) and ``asgi.py`` (Starlette's TestClient), plus the bare views with
``django.test.Client``."""

import os

import django
import pytest
from django.test import Client, override_settings

from edge_middleware.testing import edge_test_client, run_trigger

#: Settings Django does not let a test override (the values are the defaults anyway).
UNSAFE = {"INSTALLED_APPS", "DATABASES"}


@pytest.fixture(scope="module", autouse=True)
def example_settings(import_example):
    """This example's settings module, also when another test configured Django first
    (Django's settings are process-wide)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    module = import_example("django_project", "settings")
    django.setup()
    values = {k: v for k, v in vars(module).items() if k.isupper() and k not in UNSAFE}
    with override_settings(**values):
        yield


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def client(request, import_example):
    module = import_example("django_project", request.param)
    client = edge_test_client(module.application)  # already wrapped: used as it is
    yield client
    close = getattr(client, "close", None)
    if close is not None:
        close()


def test_views_without_the_edge(import_example):
    import_example("django_project", "urls")
    response = Client().get("/articles/caching/")
    assert response.status_code == 200
    assert response.json() == {"slug": "caching", "title": "How the edge cache works"}
    assert "X-Cache" not in response.headers


def test_article_is_cached_at_the_edge(client):
    first = client.get("/articles/hello-edge/")
    assert first.status_code == 200
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    second = client.get("/articles/hello-edge/")
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert second.text == first.text


def test_legacy_links_are_redirected_at_the_edge(client):
    response = client.get("/blog/caching.html")
    assert response.status_code == 301
    assert response.headers["Location"] == "/articles/caching/"
    assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"


def test_not_found_gets_the_site_page(client):
    response = client.get("/articles/missing/")
    assert response.status_code == 404
    assert "We couldn't find that page" in response.text
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.text.encode())


def test_handlers_alone(import_example, edge_event):
    import_example("django_project", "handlers")
    result = run_trigger("handlers:redirect_legacy", edge_event.viewer_request("/about/"))
    assert result["uri"] == "/about/"
    result = run_trigger("handlers:not_found_page", edge_event.origin_response(status=500))
    assert result["status"] == "500" and "body" not in result
