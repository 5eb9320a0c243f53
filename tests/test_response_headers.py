"""Response headers policies: the pure functions, the managed policies and the three config
formats (docs/distributions.md "Response headers policies")."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware import Behavior, ConfigurationError, load_config
from edge_middleware.config.response_headers import (
    MANAGED_RESPONSE_HEADERS_POLICY_IDS,
    CorsConfig,
    ResponseHeader,
    ResponseHeadersPolicy,
    apply_response_headers_policy,
    managed_response_headers_policy,
    preflight_response,
)

RawPairs = list[tuple[bytes, bytes]]


def cf_headers(**pairs: str) -> dict[str, list[dict[str, str]]]:
    return {
        k.lower().replace("_", "-"): [{"key": k.replace("_", "-"), "value": v}]
        for k, v in pairs.items()
    }


def names(headers: RawPairs) -> dict[str, str]:
    return {k.decode().lower(): v.decode() for k, v in headers}


ORIGIN_HEADERS: RawPairs = [(b"X-Frame-Options", b"DENY"), (b"Server", b"nginx")]


@pytest.mark.parametrize(
    ("policy", "request_headers", "expected", "absent"),
    [
        pytest.param(
            ResponseHeadersPolicy(
                security_headers=(ResponseHeader("X-Frame-Options", "SAMEORIGIN", True),)
            ),
            {},
            {"x-frame-options": "SAMEORIGIN"},
            (),
            id="override-on-replaces-the-origin",
        ),
        pytest.param(
            ResponseHeadersPolicy(
                security_headers=(ResponseHeader("X-Frame-Options", "SAMEORIGIN", False),)
            ),
            {},
            {"x-frame-options": "DENY"},
            (),
            id="override-off-keeps-the-origin",
        ),
        pytest.param(
            ResponseHeadersPolicy(custom_headers=(ResponseHeader("X-Team", "edge", False),)),
            {},
            {"x-team": "edge"},
            (),
            id="custom-header-added-when-absent",
        ),
        pytest.param(
            ResponseHeadersPolicy(remove_headers=("Server",)),
            {},
            {"x-frame-options": "DENY"},
            ("server",),
            id="remove-headers",
        ),
        pytest.param(
            ResponseHeadersPolicy(cors=CorsConfig(allow_origins=("https://a.example",))),
            cf_headers(Origin="https://b.example"),
            {},
            ("access-control-allow-origin",),
            id="cors-origin-not-allowed",
        ),
        pytest.param(
            ResponseHeadersPolicy(cors=CorsConfig(allow_credentials=True)),
            cf_headers(Origin="https://b.example"),
            {
                "access-control-allow-origin": "https://b.example",
                "access-control-allow-credentials": "true",
            },
            (),
            id="cors-credentials-echo-the-origin",
        ),
        pytest.param(
            ResponseHeadersPolicy(server_timing_sampling_rate=0),
            {},
            {},
            ("server-timing",),
            id="server-timing-rate-0",
        ),
        pytest.param(
            ResponseHeadersPolicy(server_timing_sampling_rate=100),
            {},
            {
                "server-timing": 'cdn-upstream-layer;desc="EDGE",cdn-cache-miss,'
                'cdn-pop;desc="LAX50-C1",cdn-rid;desc="rid=="'
            },
            (),
            id="server-timing-miss",
        ),
        pytest.param(None, {}, {"x-frame-options": "DENY", "server": "nginx"}, (), id="no-policy"),
    ],
)
def test_apply_policy(
    policy: ResponseHeadersPolicy | None,
    request_headers: dict[str, Any],
    expected: dict[str, str],
    absent: tuple[str, ...],
) -> None:
    out = names(
        apply_response_headers_policy(
            policy, request_headers, list(ORIGIN_HEADERS), pop="LAX50-C1", request_id="rid=="
        )
    )
    for name, value in expected.items():
        assert out.get(name) == value
    for name in absent:
        assert name not in out


def test_server_timing_on_a_hit() -> None:
    out = names(
        apply_response_headers_policy(
            ResponseHeadersPolicy(server_timing_sampling_rate=100),
            {},
            [],
            result_type="Hit",
            pop="P",
            request_id="r",
        )
    )
    assert out["server-timing"].startswith("cdn-cache-hit,")


@pytest.mark.parametrize(
    ("method", "headers", "answered"),
    [
        pytest.param(
            "OPTIONS",
            cf_headers(Origin="https://a", Access_Control_Request_Method="PUT"),
            True,
            id="preflight",
        ),
        pytest.param("OPTIONS", cf_headers(Origin="https://a"), False, id="no-request-method"),
        pytest.param(
            "GET",
            cf_headers(Origin="https://a", Access_Control_Request_Method="PUT"),
            False,
            id="not-options",
        ),
    ],
)
def test_preflight_detection(method: str, headers: dict[str, Any], answered: bool) -> None:
    policy = managed_response_headers_policy("CORS-With-Preflight")
    assert (preflight_response(policy, method, headers) is not None) == answered
    assert preflight_response(None, method, headers) is None


def test_managed_policies() -> None:
    by_name = {p.name: i for i, p in MANAGED_RESPONSE_HEADERS_POLICY_IDS.items()}
    assert by_name == {
        "SimpleCORS": "60669652-455b-4ae9-85a4-c4c02393f86c",
        "CORS-With-Preflight": "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
        "CORS-and-SecurityHeadersPolicy": "e61eb60c-9c35-4d20-a928-2b84e02af89c",
        "CORS-With-Preflight-And-SecurityHeadersPolicy": "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
        "SecurityHeadersPolicy": "67f7725c-6f97-4210-82d7-5512b31e9d03",
    }
    for name, policy_id in by_name.items():
        assert managed_response_headers_policy(name) is managed_response_headers_policy(policy_id)
    with pytest.raises(ConfigurationError) as info:
        Behavior(response_headers_policy="NoSuchPolicy")
    assert info.value.field == "Behavior('*').response_headers_policy"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"remove_headers": ("Content-Length",)}, "remove_headers", id="remove-cl"),
        pytest.param({"remove_headers": ("X-Amz-Cf-Id",)}, "remove_headers", id="remove-cf"),
        pytest.param({"server_timing_sampling_rate": 101}, "server_timing", id="rate"),
    ],
)
def test_invalid_policies(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ResponseHeadersPolicy(**kwargs)
    assert field in info.value.field


FULL_CONFIG: dict[str, Any] = {
    "Name": "site-headers",
    "CorsConfig": {
        "AccessControlAllowOrigins": {"Items": ["https://app.example.com"]},
        "AccessControlAllowHeaders": {"Items": ["Authorization"]},
        "AccessControlAllowMethods": {"Items": ["GET", "POST"]},
        "AccessControlAllowCredentials": "true",
        "AccessControlExposeHeaders": {"Items": ["X-Total"]},
        "AccessControlMaxAgeSec": "600",
        "OriginOverride": True,
    },
    "SecurityHeadersConfig": {
        "ContentSecurityPolicy": {"ContentSecurityPolicy": "default-src 'self'", "Override": True},
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": "DENY", "Override": False},
        "ReferrerPolicy": {"ReferrerPolicy": "no-referrer", "Override": True},
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": 63072000,
            "IncludeSubdomains": True,
            "Preload": True,
            "Override": True,
        },
        "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": True},
    },
    "CustomHeadersConfig": {"Items": [{"Header": "X-Team", "Value": True, "Override": False}]},
    "RemoveHeadersConfig": {"Items": [{"Header": "Server"}]},
    "ServerTimingHeadersConfig": {"Enabled": True, "SamplingRate": 50},
}


def _template(policy_ref: Any, with_resource: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Dist": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {
                "DistributionConfig": {
                    "Enabled": True,
                    "Origins": [
                        {
                            "Id": "o",
                            "DomainName": "o.example.com",
                            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
                        }
                    ],
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "o",
                        "ViewerProtocolPolicy": "allow-all",
                        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                        "ResponseHeadersPolicyId": policy_ref,
                    },
                }
            },
        }
    }
    if with_resource:
        resources["Headers"] = {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {"ResponseHeadersPolicyConfig": FULL_CONFIG},
        }
    return {"Resources": resources}


def _check_full(policy: ResponseHeadersPolicy | None) -> None:
    assert policy is not None and policy.name == "site-headers"
    assert policy.cors == CorsConfig(
        allow_origins=("https://app.example.com",),
        allow_headers=("Authorization",),
        allow_methods=("GET", "POST"),
        allow_credentials=True,
        expose_headers=("X-Total",),
        max_age_sec=600,
        origin_override=True,
    )
    assert {h.name: (h.value, h.override) for h in policy.security_headers} == {
        "Content-Security-Policy": ("default-src 'self'", True),
        "X-Content-Type-Options": ("nosniff", True),
        "X-Frame-Options": ("DENY", False),
        "Referrer-Policy": ("no-referrer", True),
        "Strict-Transport-Security": ("max-age=63072000; includeSubDomains; preload", True),
        "X-XSS-Protection": ("1; mode=block", True),
    }
    assert policy.custom_headers == (ResponseHeader("X-Team", "true", False),)
    assert policy.remove_headers == ("server",)
    assert policy.server_timing_sampling_rate == 50.0


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param({"Ref": "Headers"}, id="ref"),
        pytest.param({"Fn::GetAtt": ["Headers", "Id"]}, id="getatt-id"),
    ],
)
def test_cloudformation_resource(ref: Any) -> None:
    _check_full(load_config(_template(ref)).default.headers_policy)


def test_api_with_managed_and_custom_ids() -> None:
    doc = _template("67f7725c-6f97-4210-82d7-5512b31e9d03", with_resource=False)
    dc = doc["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    policy = load_config({"DistributionConfig": dc}).default.headers_policy
    assert policy is not None and policy.name == "SecurityHeadersPolicy"
    dc["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = "custom-id"
    got = load_config(
        {"DistributionConfig": dc},
        policies={
            "custom-id": {"ResponseHeadersPolicy": {"ResponseHeadersPolicyConfig": FULL_CONFIG}}
        },
    )
    _check_full(got.default.headers_policy)
    with pytest.raises(ConfigurationError) as info:
        load_config({"DistributionConfig": dc})
    assert info.value.field == "DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId"


def test_toml_string_and_table() -> None:
    by_name = load_config({"default": {"response_headers_policy": "CORS-With-Preflight"}})
    assert by_name.default.headers_policy is managed_response_headers_policy("CORS-With-Preflight")
    table = load_config({"default": {"response_headers_policy": FULL_CONFIG}})
    _check_full(table.default.headers_policy)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        pytest.param(
            ("SecurityHeadersConfig", "FrameOptions", "FrameOption", "ALLOW"),
            "SecurityHeadersConfig.FrameOptions.FrameOption",
            id="frame-option",
        ),
        pytest.param(
            ("ServerTimingHeadersConfig", "SamplingRate", "lots"),
            "ServerTimingHeadersConfig.SamplingRate",
            id="sampling-rate",
        ),
        pytest.param(
            ("CorsConfig", "AccessControlAllowMethods", {"Items": ["TRACE"]}),
            "CorsConfig",
            id="cors-method",
        ),
    ],
)
def test_bad_policy_config_names_the_field(edit: tuple[Any, ...], field: str) -> None:
    import copy

    config = copy.deepcopy(FULL_CONFIG)
    target = config
    for part in edit[:-2]:
        target = target[part]
    target[edit[-2]] = edit[-1]
    with pytest.raises(ConfigurationError) as info:
        load_config({"default": {"response_headers_policy": config}})
    assert info.value.field.startswith("default.response_headers_policy." + field)
