"""The public API tried as a user would (hunt of 2026-12-07, second session): bad input fails
at construction with the field named, the decision register's settings switch what they say,
and a delayed invalidation follows the middleware's clock."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    CloudFrontFunction,
    ConfigurationError,
    EdgeConfig,
    EdgeError,
    EdgeSettings,
    LambdaValidationError,
    MemoryStorage,
    Origin,
    Trigger,
)
from edge_middleware.cache.control import parse_cache_control
from edge_middleware.config.policies import OriginRequestPolicy
from edge_middleware.core.validation import validate_request_result
from edge_middleware.testing import EventBuilder
from tests.support.doors import Door, door_fixture, ok_asgi, ok_wsgi

door = door_fixture(Door)


def _pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        pytest.param(
            lambda: Origin("o", custom_headers=(("Host", "evil.example"),)),
            "Origin('o').custom_headers[0]",
            id="origin-host",
        ),
        pytest.param(
            lambda: Origin("o", custom_headers=(("X-A", "a\nb"),)),
            "Origin('o').custom_headers[0]",
            id="origin-newline",
        ),
        pytest.param(
            lambda: Origin("o", custom_headers=(("bad name", "v"),)),
            "Origin('o').custom_headers[0]",
            id="origin-name",
        ),
        pytest.param(
            lambda: Origin("o", custom_headers=(("X-Amz-Foo", "1"),)),
            "Origin('o').custom_headers[0]",
            id="origin-x-amz",
        ),
        pytest.param(lambda: Trigger(_pass, name=5), "Trigger.name", id="trigger-name"),
        pytest.param(
            lambda: CachePolicy(headers=("bad header",)), "CachePolicy.headers", id="key-header"
        ),
        pytest.param(
            lambda: OriginRequestPolicy(headers="whitelist", header_names=("x:y",)),
            "OriginRequestPolicy.header_names",
            id="orp-header",
        ),
    ],
)
def test_bad_input_fails_at_construction_with_the_field(make: Any, field: str) -> None:
    """An Origin built in Python skipped the checks every loader makes (its ``Host`` replaced
    the app's); ``Trigger(name=5)`` failed later with an AttributeError; a key header that
    is no header name could never match."""
    with pytest.raises(ConfigurationError) as exc:
        make()
    assert exc.value.field == field


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: EventBuilder().viewer_request("/", headers=5), id="event-headers"),
        pytest.param(lambda: CloudFrontFunction(5), id="function-source"),
        pytest.param(lambda: MemoryStorage().invalidate(None), id="invalidate-none"),
    ],
)
def test_public_helpers_fail_with_an_edge_error(call: Any) -> None:
    """API.md: ``EdgeError`` is the base of every exception the library raises (these were
    bare TypeErrors)."""
    with pytest.raises(EdgeError):
        call()


def test_settings_given_lists_stay_hashable() -> None:
    settings = EdgeSettings(
        cacheable_statuses=[200, 201],
        cloudfront_header_values=[("CloudFront-Viewer-Country", "US")],
    )
    assert settings.cacheable_statuses == frozenset({200, 201})
    assert settings.cloudfront_header_values == (("CloudFront-Viewer-Country", "US"),)
    hash(EdgeConfig(settings=settings))


@pytest.mark.parametrize(
    ("setting", "max_age"),
    [pytest.param("absent", None, id="absent"), pytest.param("stale", 0, id="stale")],
)
@pytest.mark.parametrize("value", ["max-age=-1", "max-age=1.5", "max-age=abc", "max-age"])
def test_malformed_directives_setting(setting: Any, max_age: int | None, value: str) -> None:
    """decisions.md #33 asks for a setting; there was none."""
    assert parse_cache_control([value], setting).max_age == max_age
    assert EdgeSettings().malformed_directives == "absent"


def test_malformed_directives_stale_on_the_wire(door: Door) -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"cache-control", b"max-age=-1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Cache-Control", "max-age=-1")])
        return [b"x"]

    for setting, second in (("absent", "Hit"), ("stale", "Miss")):
        config = EdgeConfig(
            default=Behavior(cache=CachePolicy(default_ttl=60)),
            settings=EdgeSettings(malformed_directives=setting),  # type: ignore[arg-type]
        )
        client = door.viewer(door.wrap(door.pick(asgi, wsgi), config))
        door.send(client, "GET", "/p")
        assert door.send(client, "GET", "/p").get("x-cache") == f"{second} from cloudfront"


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        pytest.param("status", "request.uri", id="status"),
        pytest.param("status-or-no-uri", "response.status", id="status-or-no-uri"),
    ],
)
def test_response_marker_switches(setting: Any, field: str) -> None:
    """decisions.md #7's setting had one allowed value: it could switch nothing."""
    event = EventBuilder().viewer_request("/")
    before = event["Records"][0]["cf"]["request"]
    with pytest.raises(LambdaValidationError) as exc:
        validate_request_result(
            "viewer-request",
            before,
            {"statusCode": 200, "body": "x"},
            EdgeSettings(response_marker=setting),
            include_body=False,
        )
    assert (exc.value.field or "").startswith(field)


def test_a_delayed_invalidation_follows_the_middlewares_clock(door: Door) -> None:
    """API.md: every expiry decision uses ``clock``; the delay ran on a wall-clock timer
    only, so a test moving its clock never saw the invalidation."""

    config = EdgeConfig(
        default=Behavior(cache=CachePolicy()),
        settings=EdgeSettings(invalidation_delay=30),
    )
    app = door.wrap(door.pick(ok_asgi, ok_wsgi), config)
    client = door.viewer(app)
    door.send(client, "GET", "/img/a.png")
    assert app.invalidate(["/img/*"]) == 1
    assert door.send(client, "GET", "/img/a.png").get("x-cache") == "Hit from cloudfront"
    door.advance(31)
    assert door.send(client, "GET", "/img/a.png").get("x-cache") == "Miss from cloudfront"
    assert door.send(client, "GET", "/img/a.png").get("x-cache") == "Hit from cloudfront"


def test_what_basic_credentials_decode_to_is_masked_too() -> None:
    """README: secret values are masked "inside handler output, exception text and
    tracebacks"; an auth handler that decodes ``Basic`` credentials and prints them printed
    the password in clear (security hunt of 2026-12-07, second session)."""
    from edge_middleware.devtools.masking import Masker, collect

    secret = {"authorization": [{"key": "Authorization", "value": "Basic dXNlcjpQQVNTV0Q5"}]}
    shown = Masker(collect(secret)).text("user:PASSWD9 / PASSWD9 / dXNlcjpQQVNTV0Q5 / user")
    assert "PASSWD9" not in shown and "dXNlcjpQQVNTV0Q5" not in shown
    assert shown.endswith("/ user")  # the user name alone is no secret


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (413, "Request Entity Too Large"),
        (414, "Request-URI Too Long"),
        (416, "Requested Range Not Satisfiable"),
        (422, "Unprocessable Entity"),
        (200, "OK"),
    ],
)
def test_reason_phrases_do_not_depend_on_the_python_version(status: int, phrase: str) -> None:
    """Python 3.13's ``HTTPStatus`` renamed these four (``Content Too Large`` ...): status
    lines and events' ``statusDescription`` changed with the Python version (Python versions
    hunt of 2026-12-07, second session)."""
    from edge_middleware.core.convert import reason_phrase

    assert reason_phrase(status) == phrase
