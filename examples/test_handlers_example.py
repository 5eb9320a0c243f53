"""How to test Lambda@Edge handlers with edge_middleware's pytest plugin.

Installing edge_middleware registers the plugin; its fixtures need no import:

* ``edge_event``  builds CloudFront events (``edge_event.viewer_request("/a?b=1")`` ...);
* ``edge_clock``  a clock that stands still until ``edge_clock.advance(seconds)``;
* ``edge_client`` ``edge_client(app, config=...)``: a test client over the app behind the edge
  (Starlette's TestClient for ASGI apps, Werkzeug's Client for WSGI apps).

``run_trigger(handler, event)`` runs one handler the way CloudFront does and returns its
normalised result, or raises the error CloudFront would answer with.
"""

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from edge_middleware import Behavior, CachePolicy, EdgeConfig, LambdaValidationError
from edge_middleware.testing import run_trigger


# -- the handlers under test, as they would be deployed ---------------------------------------
def add_language_prefix(event, context):
    """viewer-request: /page -> /en/page (or /de/page for German browsers)."""
    request = event["Records"][0]["cf"]["request"]
    accept = request["headers"].get("accept-language", [{"value": ""}])[0]["value"]
    request["uri"] = ("/de" if accept.startswith("de") else "/en") + request["uri"]
    return request


def add_cache_control(event, context):
    """origin-response: cache pages for ten minutes."""
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["cache-control"] = [{"key": "Cache-Control", "value": "max-age=600"}]
    return response


def broken(event, context):
    """origin-response: adds a header CloudFront forbids (a 502 in production)."""
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-cache"] = [{"value": "Hit"}]
    return response


# -- one handler at a time --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "uri"), [pytest.param("de-DE,de;q=0.9", "/de/page", id="de"), ("", "/en/page")]
)
def test_language_prefix(edge_event, language, uri):
    event = edge_event.viewer_request("/page", headers={"Accept-Language": language})
    assert run_trigger(add_language_prefix, event)["uri"] == uri


def test_cache_control(edge_event):
    result = run_trigger(add_cache_control, edge_event.origin_response("/en/page", status=200))
    assert result["status"] == "200"
    assert result["headers"]["cache-control"] == [{"key": "Cache-Control", "value": "max-age=600"}]


def test_forbidden_header_is_a_502(edge_event):
    with pytest.raises(LambdaValidationError) as error:
        run_trigger(broken, edge_event.origin_response("/"))
    assert error.value.field == 'response.headers["x-cache"]'


# -- the handlers around an app ---------------------------------------------------------------
async def page(request):
    return PlainTextResponse(f"you asked for {request.url.path}")


app = Starlette(routes=[Route("/{lang}/page", page)])
config = EdgeConfig(
    default=Behavior(
        viewer_request=add_language_prefix,
        origin_response=add_cache_control,
        cache=CachePolicy(),
    )
)


def test_through_the_edge(edge_client, edge_clock):
    client = edge_client(app, config=config)
    german = {"Accept-Language": "de"}
    first = client.get("/page", headers=german)
    assert first.text == "you asked for /de/page"
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    edge_clock.advance(599)
    hit = client.get("/page", headers=german)
    assert (hit.headers["X-Cache"], hit.headers["Age"]) == ("Hit from cloudfront", "599")
    edge_clock.advance(1)  # ten minutes: the cached copy has expired
    assert client.get("/page", headers=german).headers["X-Cache"] != "Hit from cloudfront"
    # the rewritten URI is the cache key: English visitors get their own copy
    assert client.get("/page").text == "you asked for /en/page"
