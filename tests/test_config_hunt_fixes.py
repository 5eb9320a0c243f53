"""Distributions as people publish them: the config-loader hunt of 2026-12-07. Each case loaded
without an error before and dropped a setting (or printed it wrong); now it fails at start with
the field named, or loads as it should."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import ConfigurationError, EdgeConfig, load_config
from edge_middleware.devtools.devlog import banner

_MANAGED_CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
_AUTH_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auth:3"


def _template(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


_NO_DASH = """
    Resources:
      Distribution:
        Type: AWS::CloudFront::Distribution
        Properties:
          DistributionConfig:
            Enabled: true
            Origins:
              - Id: app
                DomainName: app.example.com
                CustomOriginConfig: {OriginProtocolPolicy: https-only}
            DefaultCacheBehavior:
              TargetOriginId: app
              ViewerProtocolPolicy: allow-all
              CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
              %s
"""


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (
            "LambdaFunctionAssociations:\n"
            "                EventType: viewer-request\n"
            f"                LambdaFunctionARN: {_AUTH_ARN}",
            "DefaultCacheBehavior.LambdaFunctionAssociations",
        ),
        (
            "FunctionAssociations:\n"
            "                EventType: viewer-request\n"
            "                FunctionARN: arn:aws:cloudfront::123456789012:function/f",
            "DefaultCacheBehavior.FunctionAssociations",
        ),
    ],
    ids=["lambda-associations", "function-associations"],
)
def test_a_yaml_list_written_without_dashes_is_refused(
    tmp_path: Path, lines: str, field: str
) -> None:
    """Read as an empty {Quantity, Items} list, the viewer-request function never ran."""
    path = _template(tmp_path, _NO_DASH % lines)
    with pytest.raises(ConfigurationError, match='each item starts with "- "') as caught:
        load_config(path, handlers={"auth": lambda e, c: e})
    assert caught.value.field.endswith(field)


def test_cache_behaviors_and_error_pages_without_dashes_are_refused(tmp_path: Path) -> None:
    for key, item in (
        (
            "CacheBehaviors",
            "PathPattern: /api/*\n              TargetOriginId: app\n"
            "              ViewerProtocolPolicy: allow-all\n"
            f"              CachePolicyId: {_MANAGED_CACHING_OPTIMIZED}",
        ),
        ("CustomErrorResponses", "ErrorCode: 404\n              ResponseCode: 200"),
        ("Origins", "Id: app2\n              DomainName: b.example.com"),
    ):
        body = _NO_DASH % "" + f"            {key}:\n              {item}\n"
        if key == "Origins":  # the only Origins, written without its dash
            body = body.replace(
                "            Origins:\n              - Id: app\n"
                "                DomainName: app.example.com\n"
                "                CustomOriginConfig: {OriginProtocolPolicy: https-only}\n",
                "",
            ).replace("TargetOriginId: app\n", "TargetOriginId: app2\n")
        path = _template(tmp_path, body)
        with pytest.raises(ConfigurationError, match='each item starts with "- "') as caught:
            load_config(path)
        assert caught.value.field.endswith(f"DistributionConfig.{key}"), key


def test_api_lists_with_quantity_and_items_still_load() -> None:
    config = load_config(
        {
            "DistributionConfig": {
                "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.example.com"}]},
                "DefaultCacheBehavior": {
                    "TargetOriginId": "o",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": _MANAGED_CACHING_OPTIMIZED,
                    "AllowedMethods": {
                        "Quantity": 2,
                        "Items": ["GET", "HEAD"],
                        "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
                    },
                },
                "CacheBehaviors": {"Quantity": 0},
            }
        }
    )
    assert isinstance(config, EdgeConfig)


def _policy_template(params_key: str, orp_qs_key: str) -> dict[str, Any]:
    return {
        "Resources": {
            "ApiPolicy": {
                "Type": "AWS::CloudFront::CachePolicy",
                "Properties": {
                    "CachePolicyConfig": {
                        "Name": "api",
                        "MinTTL": 0,
                        "DefaultTTL": 60,
                        "MaxTTL": 300,
                        params_key: {
                            "EnableAcceptEncodingGzip": False,
                            "HeadersConfig": {
                                "HeaderBehavior": "whitelist",
                                "Headers": ["X-Tenant"],
                            },
                            "CookiesConfig": {"CookieBehavior": "none"},
                            "QueryStringsConfig": {"QueryStringBehavior": "none"},
                        },
                    }
                },
            },
            "ApiOrp": {
                "Type": "AWS::CloudFront::OriginRequestPolicy",
                "Properties": {
                    "OriginRequestPolicyConfig": {
                        "Name": "orp",
                        "HeadersConfig": {"HeaderBehavior": "allViewer"},
                        "CookiesConfig": {"CookieBehavior": "none"},
                        orp_qs_key: {"QueryStringBehavior": "all"},
                    }
                },
            },
            "Dist": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Origins": [{"Id": "app", "DomainName": "app.example.com"}],
                        "DefaultCacheBehavior": {
                            "TargetOriginId": "app",
                            "ViewerProtocolPolicy": "allow-all",
                            "CachePolicyId": {"Ref": "ApiPolicy"},
                            "OriginRequestPolicyId": {"Ref": "ApiOrp"},
                        },
                    }
                },
            },
        }
    }


_PARAMS = "ParametersInCacheKeyAndForwardedToOrigin"


def test_policy_configs_load_with_their_keys_spelled_right() -> None:
    config = load_config(_policy_template(_PARAMS, "QueryStringsConfig"))
    assert config.default.cache.headers == ("x-tenant",)
    assert config.default.origin_request_policy is not None
    assert config.default.origin_request_policy.query_strings == "all"


@pytest.mark.parametrize(
    ("params_key", "orp_qs_key", "field"),
    [
        (_PARAMS + "s", "QueryStringsConfig", f"CachePolicyConfig.{_PARAMS}s"),
        (_PARAMS, "QueryStringConfig", "OriginRequestPolicyConfig.QueryStringConfig"),
    ],
    ids=["cache-policy", "origin-request-policy"],
)
def test_a_misspelled_policy_key_is_refused(params_key: str, orp_qs_key: str, field: str) -> None:
    """Ignored before: the cache key lost X-Tenant (one tenant's page served to another), or
    no query string reached the origin."""
    with pytest.raises(ConfigurationError, match="a known key") as caught:
        load_config(_policy_template(params_key, orp_qs_key))
    assert caught.value.field.endswith(field)


def test_a_cache_policy_without_its_parameters_is_refused() -> None:
    template = _policy_template(_PARAMS, "QueryStringsConfig")
    del template["Resources"]["ApiPolicy"]["Properties"]["CachePolicyConfig"][_PARAMS]
    with pytest.raises(ConfigurationError, match="required") as caught:
        load_config(template)
    assert caught.value.field.endswith(f"CachePolicyConfig.{_PARAMS}")


def test_a_misspelled_key_inside_a_headers_config_is_refused() -> None:
    template = _policy_template(_PARAMS, "QueryStringsConfig")
    params = template["Resources"]["ApiPolicy"]["Properties"]["CachePolicyConfig"][_PARAMS]
    params["HeadersConfig"] = {"HeaderBehavior": "whitelist", "Header": ["X-Tenant"]}
    with pytest.raises(ConfigurationError, match="a known key") as caught:
        load_config(template)
    assert caught.value.field.endswith("HeadersConfig.Header")


_ORIGIN = """
    Parameters:
      ApiDomain: {Type: String, Default: api.example.com}
    Resources:
      SiteBucket:
        Type: AWS::S3::Bucket
      Distribution:
        Type: AWS::CloudFront::Distribution
        Properties:
          DistributionConfig:
            Enabled: true
            Origins:
              - Id: o
                DomainName: %s
            DefaultCacheBehavior:
              TargetOriginId: o
              ViewerProtocolPolicy: allow-all
              CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
"""


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        ("!GetAtt SiteBukcet.RegionalDomainName", "SiteBucket"),
        ("!Sub '${ApiDomian}'", "ApiDomain"),
        ("!Ref ApiDomian", "ApiDomain"),
        ("!Sub '${SiteBukcet.DomainName}'", "SiteBucket"),
    ],
)
def test_an_intrinsic_naming_nothing_the_template_defines_is_refused(
    tmp_path: Path, domain: str, suggestion: str
) -> None:
    """CloudFormation refuses such a template; it loaded with an origin named after the typo."""
    path = _template(tmp_path, _ORIGIN % domain)
    with pytest.raises(ConfigurationError, match=f"did you mean {suggestion}") as caught:
        load_config(path)
    assert caught.value.field.endswith("Origins[0].DomainName")


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("!GetAtt SiteBucket.RegionalDomainName", "sitebucket.s3.us-east-1.amazonaws.com"),
        ("!Ref ApiDomain", "api.example.com"),
        ("!Sub 'x.${AWS::Region}.example.com'", "x.us-east-1.example.com"),
    ],
)
def test_intrinsics_naming_what_the_template_defines_still_load(
    tmp_path: Path, domain: str, expected: str
) -> None:
    config = load_config(_template(tmp_path, _ORIGIN % domain))
    assert config.origins[0].domain_name == expected


def test_a_sam_template_may_name_the_resources_its_transform_makes(tmp_path: Path) -> None:
    body = "Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(
        _ORIGIN % "!Sub '${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com'"
    )
    config = load_config(_template(tmp_path, body))
    assert config.origins[0].domain_name == "ServerlessRestApi.execute-api.us-east-1.amazonaws.com"


def test_a_default_root_object_written_with_a_slash_prints_as_it_is_served() -> None:
    config = load_config(
        {
            "DistributionConfig": {
                "DefaultRootObject": "/index.html",
                "Origins": [{"Id": "o", "DomainName": "o.example.com"}],
                "DefaultCacheBehavior": {
                    "TargetOriginId": "o",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": _MANAGED_CACHING_OPTIMIZED,
                },
            }
        }
    )
    assert config.default_root_object == "index.html"
    assert "default root object: /index.html" in banner(config)


def test_a_python_handler_written_with_a_dot_names_its_key_and_the_colon_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "authmod.py").write_text("def handler(e, c):\n    return e\n")
    monkeypatch.chdir(tmp_path)
    dist = {
        "DistributionConfig": {
            "Origins": [{"Id": "o", "DomainName": "o.example.com"}],
            "DefaultCacheBehavior": {
                "TargetOriginId": "o",
                "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": _MANAGED_CACHING_OPTIMIZED,
                "LambdaFunctionAssociations": [
                    {
                        "EventType": "viewer-request",
                        "LambdaFunctionARN": _AUTH_ARN,
                    }
                ],
            },
        }
    }
    with pytest.raises(ConfigurationError, match='"module:function"') as caught:
        load_config(dist, handlers={"auth": "authmod.handler"})
    assert caught.value.field == "handlers['auth']"
