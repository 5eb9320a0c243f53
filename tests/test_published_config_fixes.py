"""Published configurations that loaded but behaved unlike CloudFront, or that CloudFront
refuses: the fixes from the published-config hunt of 2026-12-07.

Each section is one finding: legacy "forward all headers" (Host and cookies), CORS lists left
out or empty, a ResponseCode with no page, Host in an S3 origin's key, Authorization listed in
an origin request policy, ``Ref`` of an API Gateway stage, misspelt intrinsics, the smaller
refusals (cookie whitelist with no names, XSS ModeBlock with a ReportUri, S3 and custom origin
settings together, an OAI beside an OAC), and the warnings for signed URLs and geo restriction.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    CustomErrorResponse,
    OriginRequestPolicy,
    Trigger,
    load_config,
)
from tests.support.doors import Door, door_fixture

door = door_fixture(Door)

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
DC = "Resources.Dist.Properties.DistributionConfig"


def _template(dc_extra: dict[str, Any] | None = None, **resources: Any) -> dict[str, Any]:
    """A CloudFormation template: one custom origin ``web`` and CachingDisabled."""
    dc: dict[str, Any] = {
        "Enabled": True,
        "Origins": [
            {
                "Id": "web",
                "DomainName": "web.example.com",
                "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
            }
        ],
        "DefaultCacheBehavior": {
            "TargetOriginId": "web",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": CACHING_DISABLED,
        },
    }
    dc.update(dc_extra or {})
    return {
        "Resources": {
            "Dist": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {"DistributionConfig": dc},
            },
            **resources,
        }
    }


def _refused(template: dict[str, Any]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        load_config(template)
    return info.value


# -- legacy ForwardedValues.Headers ["*"] ------------------------------------------------------


def _legacy(headers: list[str], cookies: dict[str, Any]) -> dict[str, Any]:
    return _template(
        {
            "DefaultCacheBehavior": {
                "TargetOriginId": "web",
                "ViewerProtocolPolicy": "allow-all",
                "ForwardedValues": {"QueryString": False, "Cookies": cookies, "Headers": headers},
                "MinTTL": 0,
                "DefaultTTL": 0,
                "MaxTTL": 0,
            }
        }
    )


async def _echo(req: Request) -> JSONResponse:
    return JSONResponse({"host": req.headers.get("host"), "cookie": req.headers.get("cookie")})


_flask = Flask("echo")


@_flask.route("/<path:p>")
def _flask_echo(p: str) -> Any:
    return {"host": request.headers.get("host"), "cookie": request.headers.get("cookie")}


def _passthrough(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


@pytest.mark.parametrize("pipeline", [False, True], ids=["short-way", "pipeline"])
@pytest.mark.parametrize(
    ("cookies", "expected_cookie"),
    [
        ({"Forward": "none"}, None),
        ({"Forward": "whitelist", "WhitelistedNames": ["lang"]}, "lang=fr"),
        ({"Forward": "all"}, "lang=fr; session=abc"),
    ],
    ids=["none", "whitelist", "all"],
)
def test_forward_all_headers_sends_the_viewer_host_and_only_the_forwarded_cookies(
    door: Door, pipeline: bool, cookies: dict[str, Any], expected_cookie: str | None
) -> None:
    """Forwarding every header includes Host (the viewer's, as whitelisting Host gives it);
    Cookie still follows the cookie setting (caching.md §1.5, §1.13): with ``none`` it
    reached the origin, and the origin got its own domain as Host."""
    config = load_config(_legacy(["*"], cookies))
    if pipeline:  # a function on the behavior: the full state machine, not the short way
        behavior = dataclasses.replace(config.default, viewer_request=Trigger(_passthrough))
        config = dataclasses.replace(config, default=behavior)
    app = door.pick(Starlette(routes=[Route("/{p:path}", _echo)]), _flask.wsgi_app)
    client = door.viewer(door.wrap(app, config))
    r = door.send(
        client,
        "GET",
        "http://www.viewer.example/page",
        headers=[("cookie", "session=abc; lang=fr"), ("x-custom", "1")],
    )
    assert r.status == 200, r.text()
    assert r.json() == {"host": "www.viewer.example", "cookie": expected_cookie}


# -- CORS lists CloudFront requires -----------------------------------------------------------


def _cors(**cors: Any) -> dict[str, Any]:
    config = {
        "AccessControlAllowCredentials": False,
        "AccessControlAllowHeaders": {"Items": ["*"]},
        "AccessControlAllowMethods": {"Items": ["GET"]},
        "AccessControlAllowOrigins": {"Items": ["https://app.example"]},
        "OriginOverride": True,
    }
    config.update(cors)
    for key in [k for k, v in config.items() if v is None]:
        del config[key]
    template = _template(
        Rhp={
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {"ResponseHeadersPolicyConfig": {"Name": "cors", "CorsConfig": config}},
        }
    )
    behavior = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    behavior["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = {"Ref": "Rhp"}
    return template


CORS = "Resources.Rhp.Properties.ResponseHeadersPolicyConfig.CorsConfig"


@pytest.mark.parametrize("key", ["AccessControlAllowOrigins", "AccessControlAllowMethods"])
@pytest.mark.parametrize("value", [None, {"Items": []}], ids=["left-out", "empty"])
def test_cors_lists_left_out_or_empty_are_refused_not_read_as_any(key: str, value: Any) -> None:
    """Before, a CORS policy with no origins allowed every origin (``*``), and one with no
    methods allowed all of them."""
    err = _refused(_cors(**{key: value}))
    assert err.field == f"{CORS}.{key}"


def test_cors_with_both_lists_loads() -> None:
    policy = load_config(_cors()).default.response_headers_policy
    assert policy is not None and policy.cors is not None
    assert policy.cors.allow_origins == ("https://app.example",)
    assert policy.cors.allow_methods == ("GET",)


# -- ResponseCode needs ResponsePagePath -------------------------------------------------------


def _errors(item: dict[str, Any]) -> dict[str, Any]:
    return _template({"CustomErrorResponses": [{"ErrorCode": 404, **item}]})


def test_a_response_code_without_a_page_is_refused() -> None:
    """CloudFront: 'If you specify a value for ResponseCode, you must also specify a value for
    ResponsePagePath'. It loaded, and the viewer got the origin's 404 all the same."""
    err = _refused(_errors({"ResponseCode": "200"}))
    assert err.field == f"{DC}.CustomErrorResponses[0].ResponsePagePath"
    with pytest.raises(ConfigurationError, match="response_page_path"):
        CustomErrorResponse(404, response_code=200)


def test_error_caching_alone_and_a_page_alone_still_load() -> None:
    ttl_only = load_config(_errors({"ErrorCachingMinTTL": 5})).custom_error_responses[0]
    assert (ttl_only.response_page_path, ttl_only.response_code) == (None, None)
    page = load_config(_errors({"ResponsePagePath": "/404.html"})).custom_error_responses[0]
    assert page.response_page_path == "/404.html"


# -- Host in the key of an S3 origin -----------------------------------------------------------


S3_ORIGIN = {
    "Id": "bucket",
    "DomainName": "assets.s3.us-east-1.amazonaws.com",
    "S3OriginConfig": {"OriginAccessIdentity": ""},
}


def _s3_behavior(behavior: dict[str, Any], target: str = "bucket", **extra: Any) -> dict[str, Any]:
    template = _template(
        {
            "Origins": [
                {
                    "Id": "web",
                    "DomainName": "web.example.com",
                    "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
                },
                S3_ORIGIN,
            ],
            "CacheBehaviors": [
                {
                    "PathPattern": "/assets/*",
                    "TargetOriginId": target,
                    "ViewerProtocolPolicy": "allow-all",
                    **behavior,
                }
            ],
            **extra,
        },
        HostKey={
            "Type": "AWS::CloudFront::CachePolicy",
            "Properties": {
                "CachePolicyConfig": {
                    "Name": "host",
                    "MinTTL": 0,
                    "DefaultTTL": 60,
                    "MaxTTL": 600,
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "EnableAcceptEncodingGzip": False,
                        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Host"]},
                        "CookiesConfig": {"CookieBehavior": "none"},
                        "QueryStringsConfig": {"QueryStringBehavior": "none"},
                    },
                }
            },
        },
    )
    return template


BEH = f"{DC}.CacheBehaviors[0]"


def test_host_in_the_cache_policy_of_an_s3_origin_is_refused() -> None:
    """caching.md §1.5: Host can never be in the key 'for S3 origins' (CloudFront's
    InvalidHeadersForS3Origin); it loaded and the bucket got the viewer's Host."""
    err = _refused(_s3_behavior({"CachePolicyId": {"Ref": "HostKey"}}))
    assert err.field == f"{BEH}.CachePolicyId"


def test_host_in_legacy_headers_of_an_s3_origin_is_refused() -> None:
    legacy = {"ForwardedValues": {"QueryString": False, "Headers": ["Host"]}}
    err = _refused(_s3_behavior(legacy))
    assert err.field == f"{BEH}.ForwardedValues.Headers"


def test_host_in_the_key_of_a_group_with_an_s3_member_is_refused() -> None:
    groups = {
        "OriginGroups": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "group",
                    "Members": {"Items": [{"OriginId": "web"}, {"OriginId": "bucket"}]},
                    "FailoverCriteria": {"StatusCodes": {"Items": [503]}},
                }
            ],
        }
    }
    err = _refused(_s3_behavior({"CachePolicyId": {"Ref": "HostKey"}}, "group", **groups))
    assert err.field == f"{BEH}.CachePolicyId"


def test_host_in_the_key_of_a_custom_origin_still_loads() -> None:
    config = load_config(_s3_behavior({"CachePolicyId": {"Ref": "HostKey"}}, "web"))
    assert "host" in config.behaviors[0].cache.headers


# -- Authorization in an origin request policy --------------------------------------------------


def test_authorization_listed_in_an_origin_request_policy_is_refused() -> None:
    """caching.md §1.5: Authorization 'can't be listed one by one in an ORP'; it loaded, and
    the header was then dropped on the way to the origin."""
    template = _template(
        Orp={
            "Type": "AWS::CloudFront::OriginRequestPolicy",
            "Properties": {
                "OriginRequestPolicyConfig": {
                    "Name": "auth",
                    "HeadersConfig": {
                        "HeaderBehavior": "whitelist",
                        "Headers": ["Accept", "Authorization"],
                    },
                    "CookiesConfig": {"CookieBehavior": "none"},
                    "QueryStringsConfig": {"QueryStringBehavior": "none"},
                }
            },
        }
    )
    behavior = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    behavior["DefaultCacheBehavior"]["OriginRequestPolicyId"] = {"Ref": "Orp"}
    err = _refused(template)
    assert err.field == "Resources.Orp.Properties.OriginRequestPolicyConfig.HeadersConfig.Headers"
    with pytest.raises(ConfigurationError, match="Authorization"):
        OriginRequestPolicy(headers="whitelist", header_names=("authorization",))


def test_authorization_in_an_all_except_list_and_in_the_key_still_load() -> None:
    kept = OriginRequestPolicy(headers="allExcept", header_names=("Authorization",))
    assert kept.header_names == ("authorization",)
    Behavior(cache=CachePolicy(headers=("Authorization",)))


# -- Ref of an API Gateway stage ---------------------------------------------------------------


def _api_origin(origin_path: Any, **resources: Any) -> dict[str, Any]:
    return _template(
        {
            "Origins": [
                {
                    "Id": "web",
                    "DomainName": "api.example.com",
                    "OriginPath": origin_path,
                    "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
                }
            ]
        },
        **resources,
    )


def test_ref_of_an_api_gateway_stage_is_its_stage_name() -> None:
    """The CDK's RestApiOrigin writes OriginPath from ``Ref`` of the stage: it was the
    logical id (``/ApiDeploymentStageprod3EB9684E``), which the app was then asked for."""
    url = {
        "Fn::Join": [
            "",
            ["https://", {"Ref": "Api"}, ".execute-api.us-east-1.amazonaws.com/", {"Ref": "Stg"}],
        ]
    }
    path = {"Fn::Join": ["", ["/", {"Fn::Select": [3, {"Fn::Split": ["/", url]}]}]]}
    template = _api_origin(
        path,
        Api={"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        Stg={
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"},
        },
    )
    assert load_config(template).origins[0].origin_path == "/prod"


@pytest.mark.parametrize(
    ("kind", "props", "stage"),
    [
        ("AWS::Serverless::Api", {"StageName": "Prod"}, "/Prod"),
        ("AWS::Serverless::Api", {"StageName": "v1"}, "/v1"),
        ("AWS::Serverless::HttpApi", {}, "/$default"),
    ],
)
def test_sam_api_stage_ref_is_its_stage_name(kind: str, props: dict[str, Any], stage: str) -> None:
    template = _api_origin(
        {"Fn::Join": ["", ["/", {"Ref": "MyApi.Stage"}]]},
        MyApi={"Type": kind, "Properties": props},
    )
    assert load_config(template).origins[0].origin_path == stage


# -- misspelt intrinsics -----------------------------------------------------------------------


def test_a_misspelt_intrinsic_is_refused_at_its_field() -> None:
    """``Fn::Sbu`` loaded as its argument, a literal ``api-${Env}.example.com``."""
    template = _template()
    origin = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]["Origins"][0]
    origin["DomainName"] = {"Fn::Sbu": "api-${Env}.example.com"}
    err = _refused(template)
    assert err.field == f"{DC}.Origins[0].DomainName"
    assert "Fn::Sbu" in str(err)


def test_functions_with_no_local_value_still_stand_as_their_arguments() -> None:
    template = _template()
    origin = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]["Origins"][0]
    origin["OriginCustomHeaders"] = [
        {"HeaderName": "X-Json", "HeaderValue": {"Fn::ToJsonString": "kept"}}
    ]
    assert load_config(template).origins[0].custom_headers == (("X-Json", "kept"),)


# -- smaller refusals ---------------------------------------------------------------------------


def test_cookie_whitelist_without_names_is_refused() -> None:
    template = _legacy([], {"Forward": "whitelist"})
    err = _refused(template)
    assert err.field == f"{DC}.DefaultCacheBehavior.ForwardedValues.Cookies.WhitelistedNames"


def test_xss_mode_block_with_a_report_uri_is_refused() -> None:
    security = {
        "XSSProtection": {
            "Override": True,
            "Protection": True,
            "ModeBlock": True,
            "ReportUri": "https://report.example/xss",
        }
    }
    template = _cors()
    rhp = template["Resources"]["Rhp"]["Properties"]["ResponseHeadersPolicyConfig"]
    rhp["SecurityHeadersConfig"] = security
    err = _refused(template)
    assert err.field.endswith("SecurityHeadersConfig.XSSProtection.ReportUri")
    security["XSSProtection"]["ModeBlock"] = False
    load_config(template)  # a ReportUri alone is fine


def test_an_origin_with_s3_and_custom_settings_is_refused() -> None:
    template = _template()
    origin = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]["Origins"][0]
    origin["S3OriginConfig"] = {"OriginAccessIdentity": ""}
    assert _refused(template).field == f"{DC}.Origins[0].S3OriginConfig"


def test_an_oai_beside_an_oac_is_refused_and_either_alone_loads() -> None:
    template = _template()
    dc = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    both = {
        **S3_ORIGIN,
        "Id": "web",
        "OriginAccessControlId": "E1OAC",
        "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/E1"},
    }
    dc["Origins"] = [both]
    err = _refused(template)
    assert err.field == f"{DC}.Origins[0].S3OriginConfig.OriginAccessIdentity"
    oai_only = copy.deepcopy(template)
    del oai_only["Resources"]["Dist"]["Properties"]["DistributionConfig"]["Origins"][0][
        "OriginAccessControlId"
    ]
    assert load_config(oai_only).origins[0].s3_origin_access_identity.endswith("/E1")
    oac_only = copy.deepcopy(template)
    del oac_only["Resources"]["Dist"]["Properties"]["DistributionConfig"]["Origins"][0][
        "S3OriginConfig"
    ]["OriginAccessIdentity"]
    loaded = load_config(oac_only).origins[0]
    assert loaded.uses_oac and loaded.s3_origin_access_identity == ""


# -- warnings for what changes the viewer's answer and is not emulated --------------------------


@pytest.mark.parametrize(
    "value",
    [["kg-1"], {"Enabled": True, "Quantity": 1, "Items": ["kg-1"]}],
    ids=["cloudformation", "api"],
)
@pytest.mark.parametrize("key", ["TrustedKeyGroups", "TrustedSigners"])
def test_signed_url_behaviors_warn_at_load(
    key: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    template = _template()
    dc = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    dc["DefaultCacheBehavior"][key] = value
    with caplog.at_level(logging.WARNING, "edge_middleware.config"):
        load_config(template)
    assert [r.getMessage() for r in caplog.records] == [
        f"{DC}.DefaultCacheBehavior.{key}: CloudFront serves this behavior only to signed URLs "
        "or signed cookies; edge_middleware does not check signatures, so unsigned requests "
        "are served"
    ]


def test_geo_restriction_warns_and_unused_settings_do_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = _template()
    dc = template["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    dc["DefaultCacheBehavior"]["TrustedKeyGroups"] = []
    dc["DefaultCacheBehavior"]["TrustedSigners"] = {"Enabled": False, "Quantity": 0}
    dc["Restrictions"] = {"GeoRestriction": {"RestrictionType": "none"}}
    with caplog.at_level(logging.WARNING, "edge_middleware.config"):
        load_config(template)
        assert caplog.records == []
        dc["Restrictions"]["GeoRestriction"] = {"RestrictionType": "whitelist", "Locations": ["FR"]}
        load_config(template)
    assert [r.getMessage() for r in caplog.records] == [
        f"{DC}.Restrictions.GeoRestriction: CloudFront refuses viewers by country; "
        "edge_middleware serves every viewer"
    ]
