"""Response headers policies found wrong by trying them from outside (hunt of 2026-12-07,
second session): headers a policy may not set, ``Pragma: server-timing``, wrong types in the
Python API, and load errors named at the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.responses import PlainTextResponse

from edge_middleware import Behavior, ConfigurationError, EdgeConfig, load_config
from edge_middleware.config.response_headers import (
    CorsConfig,
    ResponseHeader,
    ResponseHeadersPolicy,
)
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)

_CORS = {
    "AccessControlAllowOrigins": {"Items": ["*"]},
    "AccessControlAllowHeaders": {"Items": ["*"]},
    "AccessControlAllowMethods": {"Items": ["GET"]},
    "AccessControlAllowCredentials": False,
    "OriginOverride": True,
}


def _load(policy: dict[str, Any]) -> None:
    load_config({"default": {"response_headers_policy": {"Name": "p", **policy}}})


@pytest.mark.parametrize("name", ["Content-Length", "transfer-encoding", "Content-Encoding", "Via"])
def test_a_policy_never_sets_the_headers_cloudfront_frames_the_response_with(name: str) -> None:
    """A custom ``Content-Length: 3`` went out on an 11-byte body (uvicorn then broke the
    connection), ``Transfer-Encoding`` beside a length, ``Content-Encoding: gzip`` on plain
    bytes: refused at load and at construction, as RemoveHeadersConfig refuses them."""
    item = {"Header": name, "Value": "3", "Override": True}
    with pytest.raises(ConfigurationError) as exc:
        _load({"CustomHeadersConfig": {"Items": [item]}})
    assert exc.value.field.endswith("CustomHeadersConfig.Items[0].Header")
    with pytest.raises(ConfigurationError, match="custom_headers"):
        ResponseHeadersPolicy(custom_headers=(ResponseHeader(name, "3"),))


def _app() -> tuple[Any, Any]:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("ok")(scope, receive, send)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return asgi, wsgi


@pytest.mark.parametrize(
    ("pragma", "timed"),
    [
        pytest.param("server-timing", True, id="asked"),
        pytest.param("no-cache, Server-Timing", True, id="asked-among-others"),
        pytest.param("no-cache", False, id="not-asked"),
    ],
)
def test_pragma_server_timing_asks_for_the_header_at_zero_sampling(
    door: Door, pragma: str, timed: bool
) -> None:
    """caching.md §1.8: "A viewer ``Pragma: server-timing`` asks for it even at 0 %
    sampling"; it was never read."""
    policy = ResponseHeadersPolicy(server_timing_sampling_rate=0)
    config = EdgeConfig(default=Behavior(response_headers_policy=policy))
    client = door.viewer(door.wrap(door.pick(*_app()), config))
    r = door.send(client, "GET", "/", headers=[("pragma", pragma)])
    assert (r.get("server-timing") is not None) is timed


@pytest.mark.parametrize(
    ("make", "field"),
    [
        pytest.param(
            lambda: ResponseHeadersPolicy(cors={"allow_origins": ["*"]}), "cors", id="cors-dict"
        ),
        pytest.param(
            lambda: ResponseHeadersPolicy(security_headers=None), "security_headers", id="none"
        ),
        pytest.param(
            lambda: ResponseHeadersPolicy(custom_headers=ResponseHeader("X-A", "1")),
            "custom_headers",
            id="one-header",
        ),
        pytest.param(
            lambda: ResponseHeadersPolicy(remove_headers=None), "remove_headers", id="remove-none"
        ),
        pytest.param(lambda: CorsConfig(expose_headers=None), "expose_headers", id="expose-none"),
        pytest.param(lambda: CorsConfig(allow_methods=[1]), "allow_methods", id="method-int"),
        pytest.param(
            lambda: CorsConfig(allow_credentials="false"), "allow_credentials", id="credentials"
        ),
        pytest.param(lambda: CorsConfig(max_age_sec=True), "max_age_sec", id="max-age-bool"),
        pytest.param(
            lambda: ResponseHeader("Content-Security-Policy", "default-src \u2019self\u2019"),
            "value",
            id="not-latin-1",
        ),
    ],
)
def test_wrong_types_fail_at_construction_with_the_field(make: Any, field: str) -> None:
    """A dict for ``cors`` gave every CORS request a 502 with a traceback; ``"false"`` sent
    ``Access-Control-Allow-Credentials: true``; a typographic quote went out as ``?``."""
    with pytest.raises(ConfigurationError) as exc:
        make()
    assert exc.value.field.endswith(field)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        pytest.param(
            {"CorsConfig": {**_CORS, "AccessControlAllowMethods": {"Items": ["TRACE"]}}},
            "CorsConfig.AccessControlAllowMethods",
            id="method",
        ),
        pytest.param(
            {"CorsConfig": {**_CORS, "AccessControlExposeHeaders": {"Items": ["a b"]}}},
            "CorsConfig.AccessControlExposeHeaders",
            id="expose",
        ),
        pytest.param(
            {"CustomHeadersConfig": {"Items": [{"Header": "X Bad", "Value": "1"}]}},
            "CustomHeadersConfig.Items[0].Header",
            id="custom-name",
        ),
        pytest.param(
            {"RemoveHeadersConfig": {"Items": [{"Header": "*"}]}},
            "RemoveHeadersConfig.Items[0].Header",
            id="remove-star",
        ),
        pytest.param(
            {"ServerTimingHeadersConfig": {"Enabled": False, "SamplingRate": 500}},
            "ServerTimingHeadersConfig.SamplingRate",
            id="rate-when-disabled",
        ),
    ],
)
def test_load_errors_name_the_field(edit: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        _load(copy.deepcopy(edit))
    assert exc.value.field == f"default.response_headers_policy.{field}"
