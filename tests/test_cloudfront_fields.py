"""Every optional property of AWS::CloudFront::Distribution (and the policy resources) may be
left out, with CloudFront's default; CloudFormation's scalar coercion applies where the
property's type asks for it (docs/loaders.md; issue 12 item 1).

One template that sets every property is the base; each row removes one property (or sets
one scalar in another type) and checks what the loaded config holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from edge_middleware import ConfigurationError, EdgeConfig, load_config

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
DC = ("Resources", "Distribution", "Properties", "DistributionConfig")
ORIGIN = (*DC, "Origins", 0)
S3 = (*DC, "Origins", 1)
CUSTOM = (*ORIGIN, "CustomOriginConfig")
DEF = (*DC, "DefaultCacheBehavior")
BEH = (*DC, "CacheBehaviors", 0)
LEGACY = (*DC, "CacheBehaviors", 1)
ERR = (*DC, "CustomErrorResponses", 0)
CP = ("Resources", "Policy", "Properties", "CachePolicyConfig")
ORP = ("Resources", "Forward", "Properties", "OriginRequestPolicyConfig")
DELETE = object()


def handler(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


HANDLERS = {"auth": handler, "headers": handler}


def template() -> dict[str, Any]:
    """A distribution with every property CloudFormation documents set to a non-default."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Policy": {
                "Type": "AWS::CloudFront::CachePolicy",
                "Properties": {
                    "CachePolicyConfig": {
                        "Name": {"Fn::Join": ["-", ["site", {"Ref": "AWS::StackName"}]]},
                        "Comment": "site policy",
                        "MinTTL": 1,
                        "DefaultTTL": 60,
                        "MaxTTL": 600,
                        "ParametersInCacheKeyAndForwardedToOrigin": {
                            "EnableAcceptEncodingGzip": True,
                            "EnableAcceptEncodingBrotli": True,
                            "HeadersConfig": {
                                "HeaderBehavior": "whitelist",
                                "Headers": ["Accept-Language"],
                            },
                            "CookiesConfig": {"CookieBehavior": "whitelist", "Cookies": ["sid"]},
                            "QueryStringsConfig": {
                                "QueryStringBehavior": "whitelist",
                                "QueryStrings": ["page"],
                            },
                        },
                    }
                },
            },
            "Forward": {
                "Type": "AWS::CloudFront::OriginRequestPolicy",
                "Properties": {
                    "OriginRequestPolicyConfig": {
                        "Name": "forward",
                        "Comment": "forward",
                        "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["X-Tenant"]},
                        "CookiesConfig": {"CookieBehavior": "all"},
                        "QueryStringsConfig": {"QueryStringBehavior": "all"},
                    }
                },
            },
            "Headers": {
                "Type": "AWS::CloudFront::ResponseHeadersPolicy",
                "Properties": {
                    "ResponseHeadersPolicyConfig": {
                        "Name": "headers",
                        "Comment": "every property",
                        "CorsConfig": {
                            "AccessControlAllowCredentials": True,
                            "AccessControlAllowHeaders": {"Items": ["Authorization"]},
                            "AccessControlAllowMethods": {"Items": ["GET"]},
                            "AccessControlAllowOrigins": {"Items": ["https://a.example"]},
                            "AccessControlExposeHeaders": {"Items": ["X-Total"]},
                            "AccessControlMaxAgeSec": 600,
                            "OriginOverride": True,
                        },
                        "SecurityHeadersConfig": {
                            "ContentSecurityPolicy": {
                                "ContentSecurityPolicy": "default-src 'self'",
                                "Override": True,
                            },
                            "ContentTypeOptions": {"Override": True},
                            "FrameOptions": {"FrameOption": "DENY", "Override": True},
                            "ReferrerPolicy": {"ReferrerPolicy": "no-referrer", "Override": True},
                            "StrictTransportSecurity": {
                                "AccessControlMaxAgeSec": 600,
                                "IncludeSubdomains": True,
                                "Preload": True,
                                "Override": True,
                            },
                            "XSSProtection": {
                                "Protection": True,
                                "ModeBlock": True,
                                "Override": True,
                            },
                        },
                        "CustomHeadersConfig": {
                            "Items": [{"Header": "X-A", "Value": "1", "Override": True}]
                        },
                        "RemoveHeadersConfig": {"Items": [{"Header": "Server"}]},
                        "ServerTimingHeadersConfig": {"Enabled": True, "SamplingRate": 10},
                    }
                },
            },
            "Distribution": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Comment": "every property",
                        "Aliases": ["www.example.com"],
                        "DefaultRootObject": "index.html",
                        "HttpVersion": "http2and3",
                        "IPV6Enabled": True,
                        "PriceClass": "PriceClass_100",
                        "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1",
                        "Staging": False,
                        "ContinuousDeploymentPolicyId": "",
                        "Logging": {
                            "Bucket": "logs.s3.amazonaws.com",
                            "IncludeCookies": True,
                            "Prefix": "cf/",
                        },
                        "ViewerCertificate": {
                            "AcmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
                            "MinimumProtocolVersion": "TLSv1.2_2021",
                            "SslSupportMethod": "sni-only",
                        },
                        "Restrictions": {
                            "GeoRestriction": {"RestrictionType": "whitelist", "Locations": ["DE"]}
                        },
                        "Origins": [
                            {
                                "Id": "app",
                                "DomainName": "app.example.com",
                                "OriginPath": "/v1",
                                "ConnectionAttempts": 2,
                                "ConnectionTimeout": 5,
                                "OriginShield": {
                                    "Enabled": True,
                                    "OriginShieldRegion": "us-east-1",
                                },
                                "OriginCustomHeaders": [
                                    {"HeaderName": "X-Debug", "HeaderValue": "yes"}
                                ],
                                "CustomOriginConfig": {
                                    "HTTPPort": 8080,
                                    "HTTPSPort": 8443,
                                    "OriginProtocolPolicy": "https-only",
                                    "OriginReadTimeout": 45,
                                    "OriginKeepaliveTimeout": 10,
                                    "OriginSSLProtocols": ["TLSv1.1", "TLSv1.2"],
                                },
                            },
                            {
                                "Id": "assets",
                                "DomainName": "assets.s3.eu-west-1.amazonaws.com",
                                "OriginAccessControlId": "E1OAC",
                                "S3OriginConfig": {
                                    # empty beside an OAC, as the CDK writes it
                                    "OriginAccessIdentity": "",
                                    "OriginReadTimeout": 30,
                                },
                            },
                        ],
                        "OriginGroups": {
                            "Quantity": 1,
                            "Items": [
                                {
                                    "Id": "group",
                                    "SelectionCriteria": "default",
                                    "FailoverCriteria": {
                                        "StatusCodes": {"Quantity": 1, "Items": [503]}
                                    },
                                    "Members": {
                                        "Quantity": 2,
                                        "Items": [{"OriginId": "app"}, {"OriginId": "assets"}],
                                    },
                                }
                            ],
                        },
                        "DefaultCacheBehavior": {
                            "TargetOriginId": "app",
                            "ViewerProtocolPolicy": "redirect-to-https",
                            "AllowedMethods": ["GET", "HEAD", "OPTIONS"],
                            "CachedMethods": ["GET", "HEAD", "OPTIONS"],
                            "Compress": True,
                            "SmoothStreaming": False,
                            "FieldLevelEncryptionId": "",
                            "RealtimeLogConfigArn": "",
                            "TrustedKeyGroups": [],
                            "TrustedSigners": [],
                            "CachePolicyId": {"Ref": "Policy"},
                            "OriginRequestPolicyId": {"Ref": "Forward"},
                            "LambdaFunctionAssociations": [
                                {
                                    "EventType": "viewer-request",
                                    "IncludeBody": True,
                                    "LambdaFunctionARN": f"{ARN}auth:1",
                                }
                            ],
                        },
                        "CacheBehaviors": [
                            {
                                "PathPattern": "/static/*",
                                "TargetOriginId": "assets",
                                "ViewerProtocolPolicy": "allow-all",
                                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                                "ResponseHeadersPolicyId": {"Ref": "Headers"},
                                "AllowedMethods": ["GET", "HEAD", "OPTIONS"],
                                "LambdaFunctionAssociations": [
                                    {
                                        "EventType": "origin-response",
                                        "LambdaFunctionARN": f"{ARN}headers:2",
                                        "IncludeBody": False,
                                    }
                                ],
                            },
                            {
                                "PathPattern": "/legacy/*",
                                "TargetOriginId": "app",
                                "ViewerProtocolPolicy": "allow-all",
                                "MinTTL": 5,
                                "DefaultTTL": 50,
                                "MaxTTL": 100000,
                                "ForwardedValues": {
                                    "QueryString": True,
                                    "QueryStringCacheKeys": ["q"],
                                    "Headers": ["Accept"],
                                    "Cookies": {"Forward": "whitelist", "WhitelistedNames": ["a"]},
                                },
                            },
                        ],
                        "CustomErrorResponses": [
                            {
                                "ErrorCode": 404,
                                "ResponseCode": 200,
                                "ResponsePagePath": "/404.html",
                                "ErrorCachingMinTTL": 30,
                            }
                        ],
                    }
                },
            },
        },
    }


def _edit(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


def load(path: tuple[Any, ...] | None = None, value: Any = DELETE) -> EdgeConfig:
    doc = template()
    if path is not None:
        _edit(doc, path, value)
    return load_config(doc, handlers=HANDLERS)


Check = Callable[[EdgeConfig], Any]


def default(c: EdgeConfig) -> Any:
    return c.default


def legacy(c: EdgeConfig) -> Any:
    return c.behaviors[1]


def app(c: EdgeConfig) -> Any:
    return c.origins[0]


RHP = ("Resources", "Headers", "Properties", "ResponseHeadersPolicyConfig")
CORS = (*RHP, "CorsConfig")
SEC = (*RHP, "SecurityHeadersConfig")


def rhp(c: EdgeConfig) -> Any:
    return c.behaviors[0].headers_policy


def sec(name: str) -> Check:
    return lambda c: {h.name: h.value for h in rhp(c).security_headers}.get(name)


#: (path removed, what to read, the value CloudFront uses then)
OPTIONAL: list[Any] = [
    # OriginGroups, ResponseHeadersPolicyId
    pytest.param((*DC, "OriginGroups"), lambda c: c.origin_groups, (), id="OriginGroups"),
    pytest.param(
        (*DC, "OriginGroups", "Items", 0, "SelectionCriteria"),
        lambda c: c.origin_groups[0].members,
        ("app", "assets"),
        id="OriginGroup.SelectionCriteria",
    ),
    pytest.param((*BEH, "ResponseHeadersPolicyId"), rhp, None, id="ResponseHeadersPolicyId"),
    # ResponseHeadersPolicyConfig
    pytest.param((*RHP, "Comment"), lambda c: rhp(c).name, "headers", id="RHP.Comment"),
    pytest.param((*RHP, "CorsConfig"), lambda c: rhp(c).cors, None, id="RHP.CorsConfig"),
    pytest.param(
        (*CORS, "AccessControlExposeHeaders"),
        lambda c: rhp(c).cors.expose_headers,
        (),
        id="Cors.ExposeHeaders",
    ),
    pytest.param(
        (*CORS, "AccessControlMaxAgeSec"),
        lambda c: rhp(c).cors.max_age_sec,
        None,
        id="Cors.MaxAgeSec",
    ),
    pytest.param(
        (*CORS, "AccessControlAllowCredentials"),
        lambda c: rhp(c).cors.allow_credentials,
        False,
        id="Cors.AllowCredentials",
    ),
    pytest.param(
        (*CORS, "OriginOverride"), lambda c: rhp(c).cors.origin_override, False, id="Cors.Override"
    ),
    pytest.param(
        (*RHP, "SecurityHeadersConfig"), lambda c: rhp(c).security_headers, (), id="RHP.Security"
    ),
    pytest.param((*SEC, "ContentSecurityPolicy"), sec("Content-Security-Policy"), None, id="CSP"),
    pytest.param((*SEC, "ContentTypeOptions"), sec("X-Content-Type-Options"), None, id="XCTO"),
    pytest.param((*SEC, "FrameOptions"), sec("X-Frame-Options"), None, id="FrameOptions"),
    pytest.param((*SEC, "ReferrerPolicy"), sec("Referrer-Policy"), None, id="ReferrerPolicy"),
    pytest.param(
        (*SEC, "StrictTransportSecurity"), sec("Strict-Transport-Security"), None, id="HSTS"
    ),
    pytest.param(
        (*SEC, "StrictTransportSecurity", "IncludeSubdomains"),
        sec("Strict-Transport-Security"),
        "max-age=600; preload",
        id="HSTS.IncludeSubdomains",
    ),
    pytest.param(
        (*SEC, "StrictTransportSecurity", "Preload"),
        sec("Strict-Transport-Security"),
        "max-age=600; includeSubDomains",
        id="HSTS.Preload",
    ),
    pytest.param((*SEC, "XSSProtection"), sec("X-XSS-Protection"), None, id="XSSProtection"),
    pytest.param(
        (*SEC, "XSSProtection", "ModeBlock"), sec("X-XSS-Protection"), "1", id="XSS.ModeBlock"
    ),
    pytest.param(
        (*SEC, "FrameOptions", "Override"),
        lambda c: [h.override for h in rhp(c).security_headers if h.name == "X-Frame-Options"],
        [False],
        id="Security.Override",
    ),
    pytest.param(
        (*RHP, "CustomHeadersConfig"), lambda c: rhp(c).custom_headers, (), id="CustomHeaders"
    ),
    pytest.param(
        (*RHP, "RemoveHeadersConfig"), lambda c: rhp(c).remove_headers, (), id="RemoveHeaders"
    ),
    pytest.param(
        (*RHP, "ServerTimingHeadersConfig"),
        lambda c: rhp(c).server_timing_sampling_rate,
        None,
        id="ServerTiming",
    ),
    # DistributionConfig
    pytest.param((*DC, "Aliases"), lambda c: c.aliases, (), id="Aliases"),
    pytest.param((*DC, "Comment"), lambda c: c.default.path_pattern, "*", id="Comment"),
    pytest.param((*DC, "DefaultRootObject"), lambda c: c.default_root_object, "", id="DefRoot"),
    pytest.param((*DC, "HttpVersion"), lambda c: len(c.origins), 2, id="HttpVersion"),
    pytest.param((*DC, "IPV6Enabled"), lambda c: len(c.origins), 2, id="IPV6Enabled"),
    pytest.param((*DC, "PriceClass"), lambda c: len(c.origins), 2, id="PriceClass"),
    pytest.param((*DC, "WebACLId"), lambda c: len(c.origins), 2, id="WebACLId"),
    pytest.param((*DC, "Staging"), lambda c: len(c.origins), 2, id="Staging"),
    pytest.param((*DC, "ContinuousDeploymentPolicyId"), lambda c: 1, 1, id="ContinuousDeploy"),
    pytest.param((*DC, "Logging"), lambda c: len(c.origins), 2, id="Logging"),
    pytest.param((*DC, "Logging", "Bucket"), lambda c: 1, 1, id="Logging.Bucket"),
    pytest.param((*DC, "Logging", "IncludeCookies"), lambda c: 1, 1, id="Logging.IncludeCookies"),
    pytest.param((*DC, "Logging", "Prefix"), lambda c: 1, 1, id="Logging.Prefix"),
    pytest.param((*DC, "ViewerCertificate"), lambda c: 1, 1, id="ViewerCertificate"),
    pytest.param(
        (*DC, "ViewerCertificate", "MinimumProtocolVersion"), lambda c: 1, 1, id="MinProtocol"
    ),
    pytest.param((*DC, "ViewerCertificate", "SslSupportMethod"), lambda c: 1, 1, id="SslSupport"),
    pytest.param((*DC, "Restrictions"), lambda c: 1, 1, id="Restrictions"),
    pytest.param((*DC, "Restrictions", "GeoRestriction", "Locations"), lambda c: 1, 1, id="Geo"),
    pytest.param((*DC, "CacheBehaviors"), lambda c: c.behaviors, (), id="CacheBehaviors"),
    pytest.param(
        (*DC, "CustomErrorResponses"), lambda c: c.custom_error_responses, (), id="CustomErrors"
    ),
    # Origin
    pytest.param((*ORIGIN, "OriginPath"), lambda c: app(c).origin_path, "", id="OriginPath"),
    pytest.param(
        (*ORIGIN, "ConnectionAttempts"), lambda c: app(c).connection_attempts, 3, id="ConnAttempts"
    ),
    pytest.param(
        (*ORIGIN, "ConnectionTimeout"), lambda c: app(c).connection_timeout, 10, id="ConnTimeout"
    ),
    pytest.param((*ORIGIN, "OriginShield"), lambda c: app(c).id, "app", id="OriginShield"),
    pytest.param(
        (*ORIGIN, "OriginCustomHeaders"), lambda c: app(c).custom_headers, (), id="CustomHeaders"
    ),
    pytest.param(
        (*ORIGIN, "CustomOriginConfig"),
        lambda c: (app(c).kind, app(c).http_port, app(c).https_port),
        ("custom", 80, 443),
        id="CustomOriginConfig",
    ),
    pytest.param(
        (*S3, "OriginAccessControlId"), lambda c: c.origins[1].uses_oac, False, id="OAC-Id"
    ),
    pytest.param((*S3, "S3OriginConfig"), lambda c: c.origins[1].kind, "s3", id="S3OriginConfig"),
    # (S3OriginConfig.OriginAccessIdentity: this origin has an OAC, and CloudFront refuses an
    # OAI beside it; tests/test_published_config_fixes.py reads one left out)
    pytest.param((*S3, "S3OriginConfig", "OriginReadTimeout"), lambda c: 1, 1, id="S3.ReadTimeout"),
    # CustomOriginConfig (the CDK leaves out both ports)
    pytest.param((*CUSTOM, "HTTPPort"), lambda c: app(c).http_port, 80, id="HTTPPort"),
    pytest.param((*CUSTOM, "HTTPSPort"), lambda c: app(c).https_port, 443, id="HTTPSPort"),
    pytest.param(
        (*CUSTOM, "OriginReadTimeout"), lambda c: app(c).read_timeout, 30, id="OriginReadTimeout"
    ),
    pytest.param(
        (*CUSTOM, "OriginKeepaliveTimeout"),
        lambda c: app(c).keepalive_timeout,
        5,
        id="OriginKeepaliveTimeout",
    ),
    pytest.param(
        (*CUSTOM, "OriginSSLProtocols"), lambda c: app(c).ssl_protocols, ("TLSv1.2",), id="SSL"
    ),
    # DefaultCacheBehavior / CacheBehavior
    pytest.param(
        (*BEH, "AllowedMethods"),
        lambda c: (c.behaviors[0].allowed_methods, c.behaviors[0].cached_methods),
        (("GET", "HEAD"), ("GET", "HEAD")),
        id="AllowedMethods+CachedMethods",
    ),
    pytest.param(
        (*DEF, "CachedMethods"), lambda c: c.default.cached_methods, ("GET", "HEAD"), id="Cached"
    ),
    pytest.param((*DEF, "Compress"), lambda c: c.default.compress, False, id="Compress"),
    pytest.param((*DEF, "SmoothStreaming"), lambda c: 1, 1, id="SmoothStreaming"),
    pytest.param((*DEF, "FieldLevelEncryptionId"), lambda c: 1, 1, id="FieldLevelEncryption"),
    pytest.param((*DEF, "RealtimeLogConfigArn"), lambda c: 1, 1, id="RealtimeLogConfigArn"),
    pytest.param((*DEF, "TrustedKeyGroups"), lambda c: 1, 1, id="TrustedKeyGroups"),
    pytest.param((*DEF, "TrustedSigners"), lambda c: 1, 1, id="TrustedSigners"),
    pytest.param(
        (*DEF, "OriginRequestPolicyId"),
        lambda c: c.default.origin_request_policy,
        None,
        id="OriginRequestPolicyId",
    ),
    pytest.param(
        (*DEF, "LambdaFunctionAssociations"),
        lambda c: c.default.viewer_request,
        None,
        id="LambdaFunctionAssociations",
    ),
    pytest.param(
        (*DEF, "LambdaFunctionAssociations", 0, "IncludeBody"),
        lambda c: c.default.viewer_request.include_body,
        False,
        id="IncludeBody",
    ),
    pytest.param((*LEGACY, "MinTTL"), lambda c: legacy(c).cache.min_ttl, 0, id="MinTTL"),
    pytest.param(
        (*LEGACY, "DefaultTTL"),
        lambda c: legacy(c).cache.default_ttl,
        86400,
        id="DefaultTTL",
    ),
    pytest.param((*LEGACY, "MaxTTL"), lambda c: legacy(c).cache.max_ttl, 31536000, id="MaxTTL"),
    pytest.param(
        (*LEGACY, "ForwardedValues", "Cookies"), lambda c: legacy(c).cache.cookies, "none", id="Ck"
    ),
    pytest.param(
        (*LEGACY, "ForwardedValues", "Headers"), lambda c: legacy(c).cache.headers, (), id="FwdHdr"
    ),
    pytest.param(
        (*LEGACY, "ForwardedValues", "QueryStringCacheKeys"),
        lambda c: legacy(c).cache.query_strings,
        "all",
        id="QueryStringCacheKeys",
    ),
    # CustomErrorResponse
    pytest.param(
        (*ERR, "ErrorCachingMinTTL"),
        lambda c: c.custom_error_responses[0].error_caching_min_ttl,
        10,
        id="ErrorCachingMinTTL",
    ),
    pytest.param(
        (*ERR, "ResponseCode"), lambda c: c.custom_error_responses[0].response_code, None, id="RC"
    ),
    # (ResponsePagePath: CloudFront requires it beside this item's ResponseCode;
    # tests/test_published_config_fixes.py)
    # CachePolicy / OriginRequestPolicy resources
    pytest.param((*CP, "Comment"), lambda c: c.default.cache.default_ttl, 60, id="CP.Comment"),
    pytest.param(
        (*CP, "ParametersInCacheKeyAndForwardedToOrigin", "HeadersConfig", "Headers"),
        lambda c: c.default.cache.headers,
        (),
        id="CP.Headers",
    ),
    pytest.param(
        (*ORP, "Comment"), lambda c: c.default.origin_request_policy.name, "forward", id="ORP.C"
    ),
]


@pytest.mark.parametrize(("path", "read", "expected"), OPTIONAL)
def test_optional_property_left_out(path: tuple[Any, ...], read: Check, expected: Any) -> None:
    assert read(load()) != expected or path[-1] in _SAME_AS_BASE
    assert read(load(path)) == expected


#: Rows whose base value already equals the default (the property is ignored by the emulator).
_SAME_AS_BASE = {
    "HttpVersion", "IPV6Enabled", "PriceClass", "WebACLId", "Staging", "Logging", "Bucket",
    "IncludeCookies", "Prefix", "ViewerCertificate", "MinimumProtocolVersion", "SslSupportMethod",
    "Restrictions", "Locations", "ContinuousDeploymentPolicyId", "OriginShield",
    "S3OriginConfig", "OriginReadTimeout", "SmoothStreaming", "FieldLevelEncryptionId",
    "RealtimeLogConfigArn", "TrustedKeyGroups", "TrustedSigners", "Comment",
    "SelectionCriteria",
}  # fmt: skip


#: (path, the value in another scalar type, what to read, the coerced value)
COERCED: list[Any] = [
    pytest.param(
        (*ORIGIN, "OriginCustomHeaders", 0, "HeaderValue"),
        True,
        lambda c: app(c).custom_headers,
        (("X-Debug", "true"),),
        id="HeaderValue-bool",
    ),
    pytest.param(
        (*ORIGIN, "OriginCustomHeaders", 0, "HeaderValue"),
        42,
        lambda c: app(c).custom_headers,
        (("X-Debug", "42"),),
        id="HeaderValue-int",
    ),
    pytest.param(
        (*ORIGIN, "OriginCustomHeaders", 0, "HeaderValue"),
        1.5,
        lambda c: app(c).custom_headers,
        (("X-Debug", "1.5"),),
        id="HeaderValue-float",
    ),
    pytest.param((*CUSTOM, "HTTPPort"), "8081", lambda c: app(c).http_port, 8081, id="Port-str"),
    pytest.param(
        (*CUSTOM, "OriginReadTimeout"), "60", lambda c: app(c).read_timeout, 60, id="Timeout-str"
    ),
    pytest.param(
        (*ORIGIN, "ConnectionAttempts"),
        "1",
        lambda c: app(c).connection_attempts,
        1,
        id="ConnectionAttempts-str",
    ),
    pytest.param((*DEF, "Compress"), "false", lambda c: c.default.compress, False, id="Cmp-str"),
    pytest.param(
        (*DEF, "LambdaFunctionAssociations", 0, "IncludeBody"),
        "False",
        lambda c: c.default.viewer_request.include_body,
        False,
        id="IncludeBody-str",
    ),
    pytest.param(
        (*LEGACY, "DefaultTTL"), "60", lambda c: legacy(c).cache.default_ttl, 60, id="TTL-str"
    ),
    pytest.param(
        (*LEGACY, "MaxTTL"), 400.0, lambda c: legacy(c).cache.max_ttl, 400, id="TTL-double"
    ),
    pytest.param(
        (*LEGACY, "ForwardedValues", "QueryString"),
        "false",
        lambda c: legacy(c).cache.query_strings,
        "none",
        id="QueryString-str",
    ),
    pytest.param(
        (*ERR, "ErrorCode"), "404", lambda c: c.custom_error_responses[0].error_code, 404, id="EC"
    ),
    pytest.param(
        (*ERR, "ResponseCode"),
        "200",
        lambda c: c.custom_error_responses[0].response_code,
        200,
        id="ResponseCode-str",
    ),
    pytest.param(
        (*ERR, "ErrorCachingMinTTL"),
        "60.0",
        lambda c: c.custom_error_responses[0].error_caching_min_ttl,
        60,
        id="ErrorCachingMinTTL-double-str",
    ),
    pytest.param((*CP, "MinTTL"), "0", lambda c: c.default.cache.min_ttl, 0, id="CP.MinTTL-str"),
    pytest.param(
        (*CP, "ParametersInCacheKeyAndForwardedToOrigin", "EnableAcceptEncodingGzip"),
        "false",
        lambda c: c.default.cache.enable_accept_encoding_gzip,
        False,
        id="CP.Gzip-str",
    ),
    pytest.param((*DC, "Aliases", 0), 1234, lambda c: c.aliases, ("1234",), id="Aliases-item-int"),
    pytest.param(
        (*RHP, "CustomHeadersConfig", "Items", 0, "Value"),
        False,
        lambda c: rhp(c).custom_headers[0].value,
        "false",
        id="RHP.CustomHeader.Value-bool",
    ),
    pytest.param(
        (*CORS, "AccessControlMaxAgeSec"),
        "60",
        lambda c: rhp(c).cors.max_age_sec,
        60,
        id="Cors.MaxAgeSec-str",
    ),
    pytest.param(
        (*CORS, "OriginOverride"),
        "false",
        lambda c: rhp(c).cors.origin_override,
        False,
        id="Cors.OriginOverride-str",
    ),
    pytest.param(
        (*DC, "OriginGroups", "Items", 0, "FailoverCriteria", "StatusCodes", "Items", 0),
        "502",
        lambda c: c.origin_groups[0].failover_status_codes,
        (502,),
        id="FailoverStatusCode-str",
    ),
]


@pytest.mark.parametrize(("path", "value", "read", "expected"), COERCED)
def test_scalar_coerced(path: tuple[Any, ...], value: Any, read: Check, expected: Any) -> None:
    assert read(load(path, value)) == expected


def test_policy_name_from_an_intrinsic_is_resolved() -> None:
    assert load().default.cache.name == "site-stack"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(
            (*CUSTOM, "HTTPPort"),
            {"Ref": "PortWithoutDefault"},
            ".".join(map(str, CUSTOM[3:])).replace(".Origins.0.", ".Origins[0].") + ".HTTPPort",
            id="unresolved-ref-in-an-int",
        ),
        pytest.param(
            (*ORIGIN, "DomainName"),
            {"Fn::Select": [3, ["a.example.com"]]},
            "Resources.Distribution.Properties.DistributionConfig.Origins[0].DomainName",
            id="select-out-of-range",
        ),
        pytest.param(
            (*CUSTOM, "HTTPPort"),
            [80],
            "Resources.Distribution.Properties.DistributionConfig.Origins[0]"
            ".CustomOriginConfig.HTTPPort",
            id="list-for-an-int",
        ),
    ],
)
def test_unresolvable_values_name_their_path(path: tuple[Any, ...], value: Any, field: str) -> None:
    doc = template()
    doc["Parameters"] = {"PortWithoutDefault": {"Type": "Number"}}
    _edit(doc, path, value)
    with pytest.raises(ConfigurationError) as info:
        load_config(doc, handlers=HANDLERS)
    assert info.value.field.endswith(field.split("DistributionConfig.")[-1])
    assert "Resources.Distribution" in info.value.field


def test_api_shape_without_optional_lists() -> None:
    """get-distribution-config output with only the required keys loads too."""
    doc = {
        "ETag": "E1",
        "DistributionConfig": {
            "CallerReference": "x",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "o",
                        "DomainName": "o.example.com",
                        "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            },
        },
    }
    config = load_config(copy.deepcopy(doc))
    assert (config.origins[0].http_port, config.origins[0].https_port) == (80, 443)
    assert config.default.allowed_methods == ("GET", "HEAD")
