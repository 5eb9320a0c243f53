"""The event and context handlers get, field by field (an event-shape hunt's findings):
``clientIp`` is always an IP, ``CloudFront-Viewer-Http-Version`` follows the viewer as ``Via``
does, CloudFront's header names keep their case (SmartTV, IOS, ASN, TLS) and
``CloudFront-Viewer-Address`` its port, ``context.memory_limit_in_mb`` is a str and
``context.identity`` an object, as on AWS, and an S3 origin built in Python has its region."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, EdgeConfig, Origin
from edge_middleware.testing import EventBuilder, run_trigger
from tests.support import doors

ALL_CLOUDFRONT = "AllViewerAndCloudFrontHeaders-2022-06"


class Seen:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.contexts: list[Any] = []

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        cf = event["Records"][0]["cf"]
        self.events[cf["config"]["eventType"]] = cf
        self.contexts.append(context)
        return cf["request"]


def _through(kind: str, seen: Seen, **viewer: Any) -> None:
    config = EdgeConfig(
        default=Behavior(
            viewer_request=seen.handler,
            origin_request=seen.handler,
            origin_request_policy=ALL_CLOUDFRONT,
        )
    )
    if kind == "asgi":
        given = dict(viewer.get("asgi", {}))
        client = given.pop("client", None)
        scope = doors.asgi_scope("/p", **given)
        if client is not None:
            scope["client"] = client
        doors.call_asgi(doors.wrap(kind, doors.ok_asgi, config), scope)
    else:
        doors.call_wsgi(
            doors.wrap(kind, doors.ok_wsgi, config), "GET", "/p", **viewer.get("wsgi", {})
        )


@pytest.mark.parametrize(
    ("kind", "viewer"),
    [
        ("asgi", {"asgi": {"client": ("testclient", 50000)}}),  # Starlette's TestClient
        ("asgi", {"asgi": {"client": ("", 0)}}),
        ("asgi", {"asgi": {"client": ("unix-socket", 0)}}),
        ("wsgi", {"wsgi": {"REMOTE_ADDR": "testclient"}}),
        ("wsgi", {"wsgi": {"REMOTE_ADDR": ""}}),
    ],
)
def test_client_ip_is_always_an_ip(kind: str, viewer: dict[str, Any]) -> None:
    """A handler that parsed it (an IP allow-list) failed with a 503."""
    seen = Seen()
    _through(kind, seen, **viewer)
    for cf in seen.events.values():
        assert cf["request"]["clientIp"] == "127.0.0.1"
    address = seen.events["origin-request"]["request"]["headers"]["cloudfront-viewer-address"]
    assert address[0]["value"].startswith("127.0.0.1:")


@pytest.mark.parametrize(
    ("kind", "viewer", "version"),
    [
        ("asgi", {"asgi": {"http_version": "1.0"}}, "1.0"),
        ("asgi", {"asgi": {"http_version": "2"}}, "2.0"),
        ("asgi", {"asgi": {"http_version": "3"}}, "3.0"),
        ("wsgi", {"wsgi": {"SERVER_PROTOCOL": "HTTP/1.0"}}, "1.0"),
        ("wsgi", {}, "1.1"),
    ],
)
def test_viewer_http_version_follows_the_viewer(
    kind: str, viewer: dict[str, Any], version: str
) -> None:
    """Every viewer but HTTP/2 was "1.1", while Via said 1.0 or 3.0."""
    seen = Seen()
    _through(kind, seen, **viewer)
    headers = seen.events["origin-request"]["request"]["headers"]
    assert headers["cloudfront-viewer-http-version"][0]["value"] == version
    assert headers["via"][0]["value"].startswith(version + " ")


@pytest.mark.parametrize(
    ("kind", "viewer"),
    [
        ("asgi", {"asgi": {"client": ("198.51.100.7", 46532), "scheme": "https"}}),
        (
            "wsgi",
            {
                "wsgi": {
                    "REMOTE_ADDR": "198.51.100.7",
                    "REMOTE_PORT": "46532",
                    "wsgi.url_scheme": "https",
                }
            },
        ),
    ],
)
def test_cloudfront_header_names_and_the_viewers_port(kind: str, viewer: dict[str, Any]) -> None:
    seen = Seen()
    _through(kind, seen, **viewer)
    headers = seen.events["origin-request"]["request"]["headers"]
    expected = {
        "cloudfront-is-smarttv-viewer": "CloudFront-Is-SmartTV-Viewer",
        "cloudfront-is-ios-viewer": "CloudFront-Is-IOS-Viewer",
        "cloudfront-viewer-asn": "CloudFront-Viewer-ASN",
        "cloudfront-viewer-tls": "CloudFront-Viewer-TLS",
        "cloudfront-is-mobile-viewer": "CloudFront-Is-Mobile-Viewer",
    }
    assert {name: headers[name][0]["key"] for name in expected} == expected
    assert headers["cloudfront-viewer-address"][0]["value"] == "198.51.100.7:46532"


def test_the_context_is_shaped_as_on_aws() -> None:
    """memory_limit_in_mb was an int (a comparison with it passed here and raised on AWS);
    identity was None."""
    seen = Seen()
    run_trigger(seen.handler, EventBuilder().viewer_request("/"))
    context = seen.contexts[0]
    assert context.memory_limit_in_mb == "128"
    assert context.identity.cognito_identity_id is None
    assert context.identity.cognito_identity_pool_id is None


def test_an_s3_origin_built_in_python_has_its_region() -> None:
    seen = Seen()
    origin = Origin(id="assets", kind="s3", domain_name="assets.s3.us-west-2.amazonaws.com")
    config = EdgeConfig(origins=[origin], default=Behavior(origin_request=seen.handler))
    doors.call_asgi(doors.wrap("asgi", doors.ok_asgi, config), doors.asgi_scope("/a.png"))
    assert seen.events["origin-request"]["request"]["origin"]["s3"]["region"] == "us-west-2"


def test_a_custom_error_pages_origin_request_keeps_the_viewers_port() -> None:
    from edge_middleware import CustomErrorResponse

    seen = Seen()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        page = scope["path"] == "/errors/404.html"
        await send({"type": "http.response.start", "status": 200 if page else 404, "headers": []})
        await send({"type": "http.response.body", "body": b"page" if page else b"no"})

    config = EdgeConfig(
        default=Behavior(origin_request=seen.handler, origin_request_policy=ALL_CLOUDFRONT),
        custom_error_responses=[CustomErrorResponse(404, "/errors/404.html", 404, 0)],
    )
    scope = doors.asgi_scope("/missing")
    scope["client"] = ("198.51.100.7", 46532)
    sent = doors.call_asgi(doors.wrap("asgi", app, config), scope)
    assert sent[-1]["body"] == b"page"
    page_request = seen.events["origin-request"]["request"]
    assert page_request["uri"] == "/errors/404.html"
    address = page_request["headers"]["cloudfront-viewer-address"][0]["value"]
    assert address == "198.51.100.7:46532"
