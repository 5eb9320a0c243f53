"""The site example end to end: distribution.json + handlers/ in front of app.py, driven with
Starlette's TestClient through the ``edge_client`` fixture."""

import pytest

from edge_middleware import load_config
from edge_middleware.testing import run_trigger

EVENTS = ("viewer-request", "origin-request", "origin-response", "viewer-response")
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


@pytest.fixture(scope="module")
def site(import_example):
    import_example("site", "handlers")
    return import_example("site", "app")


@pytest.fixture(scope="module")
def config(site):
    from handlers import HANDLERS

    return load_config(site.STATIC.parent / "distribution.json", handlers=HANDLERS)


@pytest.fixture
def client(site, config, edge_client):
    return edge_client(site.app, config=config)


def assert_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_home_is_cached_with_security_headers(client):
    first = client.get("/")
    assert first.status_code == 200 and "Example site" in first.text
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert_security_headers(first)
    second = client.get("/")
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert_security_headers(second)  # stored with the origin-response function's headers


def test_account_needs_a_session(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert response.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"


def test_sign_in_then_account_and_api_see_the_cookie(client):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/api/login", content=b"user=alice", headers=form)
    assert response.status_code == 303 and response.headers["Location"] == "/account/"
    assert "session=alice" in response.headers["Set-Cookie"]
    for _ in range(2):  # CachingDisabled: every request goes to the app
        account = client.get("/account/")  # the client keeps the cookie
        assert account.status_code == 200 and "Signed in as <b>alice</b>" in account.text
        assert account.headers["X-Cache"] == "Miss from cloudfront"
        assert_security_headers(account)
    api = client.get("/api/time")
    assert api.json()["signed_in_as"] == "alice"  # AllViewer forwards the cookie
    assert api.headers["X-Cache"] == "Miss from cloudfront"
    assert client.get("/api/time").headers["X-Cache"] == "Miss from cloudfront"
    signed_out = client.post("/account/logout")
    assert signed_out.status_code == 303 and 'session=""' in signed_out.headers["Set-Cookie"]
    assert client.get("/account/").status_code == 302


def test_static_files_are_cached_for_a_day(client, edge_clock):
    first = client.get("/static/site.css")
    assert first.status_code == 200 and "font-family" in first.text
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert "X-Frame-Options" not in first.headers  # no function on /static/*
    edge_clock.advance(86399)
    hit = client.get("/static/site.css")
    assert (hit.headers["X-Cache"], hit.headers["Age"]) == ("Hit from cloudfront", "86399")
    edge_clock.advance(2)
    assert client.get("/static/site.css").headers["X-Cache"] != "Hit from cloudfront"


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        pytest.param("/app/", "/app/index.html", id="app-root"),
        pytest.param("/app/settings/profile", "/app/index.html", id="deep-route"),
    ],
)
def test_single_page_app_through_javascript_functions(client, path, seen):
    """The CloudFront Function rewrites every /app/ route to the shell; the Node.js
    origin-response function adds the security headers, cached with the page."""
    first = client.get(path)
    assert first.status_code == 200 and "Single-page app" in first.text
    assert_security_headers(first)
    assert first.headers["Content-Security-Policy"] == "default-src 'self'"
    again = client.get(path)
    assert again.headers["X-Cache"] == "Hit from cloudfront"  # keyed on the rewritten URI
    assert_security_headers(again)
    assert client.get("/app/missing.js").status_code == 404  # files are not rewritten


def test_handlers_alone(site, edge_event):
    event = edge_event.viewer_request("/account/", headers={"Cookie": "theme=dark; session=bob"})
    assert run_trigger("handlers.auth:handler", event)["uri"] == "/account/"
    event = edge_event.viewer_request("/account/", headers={"Cookie": "session="})
    assert run_trigger("handlers.auth:handler", event)["status"] == "302"
    result = run_trigger("handlers.security_headers:handler", edge_event.origin_response("/"))
    assert result["headers"]["x-frame-options"] == [{"key": "X-Frame-Options", "value": "DENY"}]


def test_edge_toml_is_the_same_distribution(site, config):
    own = load_config(site.STATIC.parent / "edge.toml")

    def shape(cfg):
        behaviors = [
            (
                b.path_pattern,
                b.cache,
                b.origin_request_policy,
                b.allowed_methods,
                b.cached_methods,
                b.compress,
                b.viewer_protocol_policy,
                b.target_origin_id,
                [
                    (ev, t.handler, t.include_body)
                    for ev in (
                        "viewer-request",
                        "origin-request",
                        "origin-response",
                        "viewer-response",
                    )
                    if (t := b.trigger(ev)) is not None
                ],
            )
            for b in cfg.all_behaviors
        ]
        return behaviors, cfg.origins, cfg.aliases

    assert shape(own) == shape(config)
