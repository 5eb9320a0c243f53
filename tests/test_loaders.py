"""load_config: get-distribution-config JSON, CloudFormation/SAM templates, our TOML format."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import (
    CachePolicy,
    ConfigurationError,
    EdgeConfig,
    EdgeSettings,
    OriginRequestPolicy,
    load_config,
)
from edge_middleware.config.loaders import detect_format, read_source
from edge_middleware.config.model import Behavior, Trigger

FIXTURES = Path(__file__).parent / "fixtures" / "distributions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
DC = "DistributionConfig"
CFN = "Resources.Distribution.Properties.DistributionConfig"


# -- the local handlers the distribution's functions map to ------------------------------------


def auth(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["request"])


def origin_router(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["request"])


def api_forms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["request"])


def sec_headers(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["response"])


def cookie_banner(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["response"])


def redirects(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["request"])


#: Keyed every way the API allows: exact ARN, ARN without version, bare name.
API_HANDLERS: dict[str, Any] = {
    f"{ARN}auth:7": auth,
    f"{ARN}origin-router": origin_router,
    "sec-headers": sec_headers,
    "cookie-banner": cookie_banner,
    "api-forms": "tests.test_loaders:api_forms",
}
#: A template's functions: by name, or by logical id when the template gives no FunctionName.
CFN_HANDLERS: dict[str, Any] = {
    "auth": auth,
    f"{ARN}origin-router:4": origin_router,
    "SecHeadersFunction": sec_headers,
    "CookieBannerFunction": cookie_banner,
    "api-forms": "tests.test_loaders:api_forms",
}
TOML_HANDLERS: dict[str, Any] = {"cookie-banner": cookie_banner}


def api_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "get-distribution-config.json").read_text())
    return doc


def cfn_doc() -> dict[str, Any]:
    return dict(read_source(FIXTURES / "cloudformation.yaml"))


def toml_doc() -> dict[str, Any]:
    return tomllib.loads((FIXTURES / "edge.toml").read_text())


def handler_of(behavior: Behavior, event: str) -> Any:
    trigger = behavior.trigger(event)  # type: ignore[arg-type]
    assert trigger is not None, f"{behavior.path_pattern}: no {event} trigger"
    return trigger.handler


# -- the same shop storefront in every format ------------------------------------------------


def _bare_config() -> dict[str, Any]:
    inner: dict[str, Any] = api_doc()[DC]
    return inner


SHOP_SOURCES = [
    pytest.param(FIXTURES / "get-distribution-config.json", API_HANDLERS, id="api-json-file"),
    pytest.param(str(FIXTURES / "get-distribution-config.json"), API_HANDLERS, id="api-str-path"),
    pytest.param(api_doc(), API_HANDLERS, id="api-mapping-with-etag"),
    pytest.param({DC: api_doc()[DC]}, API_HANDLERS, id="api-mapping-no-etag"),
    pytest.param(_bare_config(), API_HANDLERS, id="bare-distribution-config"),
    pytest.param(FIXTURES / "cloudformation.yaml", CFN_HANDLERS, id="cloudformation-yaml"),
    pytest.param(FIXTURES / "edge.toml", TOML_HANDLERS, id="own-toml"),
]


@pytest.mark.parametrize(("source", "handlers"), SHOP_SOURCES)
def test_shop_behaviors_in_order(source: Any, handlers: Mapping[str, Any]) -> None:
    config = load_config(source, handlers=handlers)
    assert isinstance(config, EdgeConfig)
    assert [b.path_pattern for b in config.all_behaviors] == [
        "/api/*",
        "/static/*",
        "/search*",
        "/live/*",
        "*",
    ]
    assert [b.target_origin_id for b in config.all_behaviors] == [
        "app",
        "assets",
        "app",
        "app",
        "app",
    ]
    assert config.match("/api/orders").path_pattern == "/api/*"
    assert config.match("/search/shoes?x").path_pattern == "/search*"
    assert config.match("/index.html") is config.default


@pytest.mark.parametrize(("source", "handlers"), SHOP_SOURCES)
def test_shop_triggers_map_to_local_handlers(source: Any, handlers: Mapping[str, Any]) -> None:
    config = load_config(source, handlers=handlers)
    api, static, search, live, default = config.all_behaviors
    assert handler_of(default, "viewer-request") in (auth, "tests.test_loaders:auth")
    assert handler_of(default, "origin-request") in (
        origin_router,
        "tests.test_loaders:origin_router",
    )
    assert handler_of(default, "origin-response") in (sec_headers, "tests.test_loaders:sec_headers")
    assert handler_of(default, "viewer-response") is cookie_banner
    assert handler_of(api, "origin-request") == "tests.test_loaders:api_forms"
    assert handler_of(static, "viewer-response") in (sec_headers, "tests.test_loaders:sec_headers")
    # IncludeBody is kept, on request events only.
    assert default.has_body_trigger
    assert default.trigger("origin-request").include_body is True  # type: ignore[union-attr]
    assert default.trigger("viewer-request").include_body is False  # type: ignore[union-attr]
    assert api.trigger("origin-request").include_body is True  # type: ignore[union-attr]
    assert search.trigger("viewer-request") is None
    assert all(live.trigger(ev) is None for ev in ("viewer-request", "origin-request"))


@pytest.mark.parametrize(("source", "handlers"), SHOP_SOURCES)
def test_shop_cache_settings(source: Any, handlers: Mapping[str, Any]) -> None:
    config = load_config(source, handlers=handlers)
    api, static, search, live, default = config.all_behaviors
    assert (api.cache.min_ttl, api.cache.default_ttl, api.cache.max_ttl) == (0, 0, 0)
    assert api.cache.caching_disabled
    assert api.origin_request_policy is not None
    assert api.allowed_methods == ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
    assert api.cached_methods == ("GET", "HEAD")
    assert api.viewer_protocol_policy == "https-only"
    assert default.cache.name == "CachingOptimized"
    assert (default.cache.min_ttl, default.cache.max_ttl) == (1, 31536000)
    assert default.viewer_protocol_policy == "redirect-to-https"
    assert default.compress is True
    assert static.allowed_methods == ("GET", "HEAD")
    # Legacy ForwardedValues: forwarding = keying.
    assert search.cache == CachePolicy(
        min_ttl=0,
        default_ttl=300,
        max_ttl=3600,
        query_strings="whitelist",
        query_string_names=("q", "page"),
        headers=("accept-language",),
        cookies="whitelist",
        cookie_names=("session",),
        enable_accept_encoding_gzip=True,
    )
    assert search.allowed_methods == ("GET", "HEAD", "OPTIONS")
    assert search.cached_methods == ("GET", "HEAD", "OPTIONS")
    # Headers ["*"]: everything forwarded, nothing cached.
    assert live.forward_all_headers is True
    assert live.cache.caching_disabled
    assert live.cache.cookies == "all"
    assert not search.forward_all_headers


@pytest.mark.parametrize(("source", "handlers"), SHOP_SOURCES)
def test_shop_origins_and_errors(source: Any, handlers: Mapping[str, Any]) -> None:
    config = load_config(source, handlers=handlers)
    app, assets = config.origins
    assert (app.id, app.kind, app.domain_name) == ("app", "custom", "app.example.com")
    assert app.protocol_policy == "https-only"
    assert (app.http_port, app.https_port) == (80, 443)
    assert (app.read_timeout, app.keepalive_timeout) == (45, 10)
    assert app.ssl_protocols == ("TLSv1.2",)
    assert app.custom_headers == (("X-Origin-Token", "t0k"),)
    assert not app.uses_oac
    assert (assets.id, assets.kind, assets.origin_path) == ("assets", "s3", "/static")
    assert assets.uses_oac is True
    assert assets.domain_name.startswith("shop-assets.s3.")
    assert assets.region in ("eu-west-1", "us-east-1")  # the template's placeholder region
    not_found, unavailable = config.custom_error_responses
    assert (not_found.error_code, not_found.response_page_path) == (404, "/errors/404.html")
    assert (not_found.response_code, not_found.error_caching_min_ttl) == (404, 60)
    assert (unavailable.error_code, unavailable.response_page_path) == (503, None)
    assert (unavailable.response_code, unavailable.error_caching_min_ttl) == (None, 0)
    assert config.aliases == ("shop.example.com", "www.shop.example.com")
    assert config.default_root_object == "index.html"


def test_api_json_details() -> None:
    config = load_config(FIXTURES / "get-distribution-config.json", handlers=API_HANDLERS)
    _, static, _, _, default = config.all_behaviors
    assert config.distribution_id == "EDFDVBD6EXAMPLE"  # DistributionConfig has no Id
    assert config.origins[1].region == "eu-west-1"
    # Trigger names are the ARNs, for logs.
    assert default.trigger("viewer-request").name == f"{ARN}auth:7"  # type: ignore[union-attr]
    assert static.cache.enable_accept_encoding_brotli is True
    # Legacy settings only key on gzip, and only when Compress is on.
    assert config.all_behaviors[3].cache.enable_accept_encoding_gzip is False


@pytest.mark.parametrize(
    ("wrap", "expected_id", "expected_domain"),
    [
        pytest.param(
            lambda dc: {
                "ETag": "E1",
                "Distribution": {"Id": "E2ID", "DomainName": "d2.net", DC: dc},
            },
            "E2ID",
            "d2.net",
            id="get-distribution",
        ),
        pytest.param(
            lambda dc: {"ETag": "E1", "Id": "E3ID", "DomainName": "d3.net", DC: dc},
            "E3ID",
            "d3.net",
            id="top-level-id",
        ),
        pytest.param(
            lambda dc: {"ETag": "E1", DC: dc},
            "EDFDVBD6EXAMPLE",
            "d111111abcdef8.cloudfront.net",
            id="defaults",
        ),
    ],
)
def test_distribution_id_and_domain(
    wrap: Callable[[Any], dict[str, Any]], expected_id: str, expected_domain: str
) -> None:
    config = load_config(wrap(api_doc()[DC]), handlers=API_HANDLERS)
    assert (config.distribution_id, config.distribution_domain_name) == (
        expected_id,
        expected_domain,
    )


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(f"{ARN}auth:7", id="exact-arn"),
        pytest.param(f"{ARN}auth", id="arn-without-version"),
        pytest.param("auth", id="bare-name"),
    ],
)
def test_api_handler_keys(key: str) -> None:
    handlers = {**{k: v for k, v in API_HANDLERS.items() if "auth" not in k}, key: auth}
    config = load_config(api_doc(), handlers=handlers)
    assert handler_of(config.default, "viewer-request") is auth


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("auth", id="function-name"),
        pytest.param(f"{ARN}auth", id="unversioned-arn"),
        pytest.param("AuthFunction", id="function-logical-id"),
        pytest.param("AuthFunctionVersion", id="version-logical-id"),
    ],
)
def test_cloudformation_handler_keys(key: str) -> None:
    handlers = {**{k: v for k, v in CFN_HANDLERS.items() if k != "auth"}, key: auth}
    config = load_config(FIXTURES / "cloudformation.yaml", handlers=handlers)
    assert handler_of(config.default, "viewer-request") is auth


def test_cloudformation_yaml_details() -> None:
    config = load_config(FIXTURES / "cloudformation.yaml", handlers=CFN_HANDLERS)
    api, static, search, _, default = config.all_behaviors
    # !Ref to an AWS::CloudFront::CachePolicy in the template.
    assert static.cache == CachePolicy(
        min_ttl=0,
        default_ttl=3600,
        max_ttl=86400,
        query_strings="whitelist",
        query_string_names=("v",),
        enable_accept_encoding_gzip=True,
        enable_accept_encoding_brotli=True,
        name="shop-static",
    )
    # !GetAtt X.Id to an AWS::CloudFront::OriginRequestPolicy.
    assert api.origin_request_policy == OriginRequestPolicy(
        headers="whitelist",
        header_names=("authorization-token", "cloudfront-viewer-country"),
        cookies="all",
        query_strings="all",
        name="shop-api",
    )
    # !Sub "${Fn.Arn}:4" keeps the version; !Ref Version and !Join lead to the function.
    assert default.trigger("origin-request").name == f"{ARN}origin-router:4"  # type: ignore[union-attr]
    assert default.trigger("viewer-response").name == f"{ARN}CookieBannerFunction:1"  # type: ignore[union-attr]
    assert handler_of(static, "viewer-response") is sec_headers
    # !GetAtt Bucket.RegionalDomainName, !GetAtt OAC.Id, !FindInMap, !Ref parameter.
    app, assets = config.origins
    assert assets.domain_name == "shop-assets.s3.us-east-1.amazonaws.com"
    assert (assets.kind, assets.region, assets.uses_oac) == ("s3", "us-east-1", True)
    assert app.domain_name == "app.example.com"
    assert search.cache.max_ttl == 3600  # MaxTTL: !Ref SearchMaxTTL (a Number parameter)


def test_cloudformation_conditions_pick_branches() -> None:
    doc = cfn_doc()
    doc["Parameters"] = {**doc["Parameters"], "Stage": {"Type": "String", "Default": "prod"}}
    config = load_config(doc, handlers=CFN_HANDLERS)
    # The !If [IsProd, ..., !Ref AWS::NoValue] behavior now exists, and comes first.
    assert config.behaviors[0].path_pattern == "/admin/*"
    assert config.origins[0].domain_name == "app.shop.example.com"


def test_sam_template() -> None:
    handlers = {"EdgeAuth": auth, "edge-headers": sec_headers}
    config = load_config(FIXTURES / "sam-template.yaml", handlers=handlers)
    html, default = config.all_behaviors
    assert html.path_pattern == "*.html"
    assert html.cache.caching_disabled
    assert handler_of(default, "viewer-request") is auth  # !Ref EdgeAuth.Version, by logical id
    assert handler_of(default, "origin-response") is sec_headers  # by FunctionName
    assert handler_of(html, "viewer-request") is auth  # !Ref EdgeAuth.Alias
    assert html.trigger("viewer-request").name == f"{ARN}EdgeAuth:live"  # type: ignore[union-attr]
    (site,) = config.origins
    assert (site.kind, site.domain_name) == ("s3", "sitebucket.s3.us-east-1.amazonaws.com")
    assert site.s3_origin_access_identity == "origin-access-identity/cloudfront/SiteOAI"
    (page,) = config.custom_error_responses
    assert (page.error_code, page.response_code, page.response_page_path) == (
        403,
        200,
        "/index.html",
    )


@pytest.mark.parametrize(
    ("logical_id", "default_origin", "cache_name", "behaviors"),
    [
        pytest.param("Blue", "docs-blue", "docs", ["old/*.html"], id="blue"),
        pytest.param("Green", "docs-green", "docs", [], id="green"),
    ],
)
def test_json_template_logical_id(
    logical_id: str, default_origin: str, cache_name: str, behaviors: list[str]
) -> None:
    config = load_config(
        FIXTURES / "cloudformation.json",
        handlers={"docs-redirects": redirects},
        logical_id=logical_id,
    )
    assert config.origin_for(config.default).id == default_origin
    assert config.default.cache.name == cache_name
    assert [b.path_pattern for b in config.behaviors] == behaviors


def test_json_template_blue_details() -> None:
    config = load_config(
        FIXTURES / "cloudformation.json", handlers={"RedirectVersion": redirects}, logical_id="Blue"
    )
    # The behavior targets the origin group; requests go to its primary member first.
    assert config.default.target_origin_id == "docs-failover"
    assert config.origin_for(config.default).id == "docs-blue"
    group = config.origin_group_for(config.default)
    assert group is not None and group.members == ("docs-blue", "docs-website")
    assert group.failover_status_codes == (502, 503)
    assert handler_of(config.default, "origin-request") is redirects
    assert config.default.cache == CachePolicy(
        min_ttl=60,
        default_ttl=600,
        max_ttl=86400,
        headers=("accept-language",),
        cookies="allExcept",
        cookie_names=("_ga", "_gid"),
        enable_accept_encoding_gzip=True,
        name="docs",
    )
    assert config.default.cached_methods == ("GET", "HEAD", "OPTIONS")
    blue, website = config.origins
    assert (blue.http_port, blue.https_port, blue.protocol_policy) == (8080, 8443, "match-viewer")
    assert blue.ssl_protocols == ("TLSv1.1", "TLSv1.2")
    assert blue.custom_headers == (("X-Color", "blue"),)
    assert blue.origin_path == "/v1"
    # An S3 website endpoint is a custom origin.
    assert (website.kind, website.region) == ("custom", "")
    assert config.aliases == ("docs.example.com",)
    assert config.custom_error_responses[0].response_code == 404


def test_toml_details() -> None:
    config = load_config(
        FIXTURES / "edge.toml",
        handlers=TOML_HANDLERS,
        settings=EdgeSettings(viewer_timeout=2.0, pop="IAD89-C1"),
    )
    assert (config.distribution_id, config.distribution_domain_name) == (
        "E2SHOPEXAMPLE",
        "d2shop.cloudfront.net",
    )
    # [settings] goes on top of the settings argument.
    assert config.settings.execution_error_status == 500
    assert config.settings.pop == "FRA56-P1"
    assert config.settings.viewer_timeout == 2.0
    assert config.settings.cacheable_statuses == frozenset({200, 301})
    assert config.origins[1].region == "eu-west-1"
    assert config.default.trigger("viewer-response").name == "cookie-banner"  # type: ignore[union-attr]


def test_toml_handlers_override_by_name_or_string() -> None:
    handlers = {
        **TOML_HANDLERS,
        "sec-headers": cookie_banner,  # by the trigger's name
        "tests.test_loaders:auth": origin_router,  # by its handler string
    }
    config = load_config(FIXTURES / "edge.toml", handlers=handlers)
    assert handler_of(config.default, "origin-response") is cookie_banner
    assert handler_of(config.default, "viewer-request") is origin_router
    assert handler_of(config.behaviors[1], "viewer-response") == "tests.test_loaders:sec_headers"


def test_own_format_as_mapping_and_minimal() -> None:
    config = load_config({"default": {"viewer_request": "tests.test_loaders:auth"}})
    assert handler_of(config.default, "viewer-request") == "tests.test_loaders:auth"
    assert config.origins[0].id == "default"
    assert load_config({}) == EdgeConfig()


def test_policies_argument_for_custom_policy_ids() -> None:
    doc = api_doc()
    behaviors = doc[DC]["CacheBehaviors"]["Items"]
    behaviors[0]["CachePolicyId"] = "custom-1"
    behaviors[0]["OriginRequestPolicyId"] = "custom-orp"
    behaviors[1]["CachePolicyId"] = "custom-2"
    policies: dict[str, Any] = {
        "custom-1": CachePolicy(default_ttl=5, name="mine"),
        "custom-orp": OriginRequestPolicy(headers="allViewer"),
        "custom-2": {  # as printed by aws cloudfront get-cache-policy
            "ETag": "E1",
            "CachePolicy": {
                "Id": "custom-2",
                "CachePolicyConfig": {
                    "Name": "two",
                    "MinTTL": 1,
                    "DefaultTTL": 2,
                    "MaxTTL": 3,
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "EnableAcceptEncodingGzip": False,
                        "HeadersConfig": {"HeaderBehavior": "none"},
                        "CookiesConfig": {"CookieBehavior": "all"},
                        "QueryStringsConfig": {
                            "QueryStringBehavior": "allExcept",
                            "QueryStrings": {"Quantity": 1, "Items": ["utm"]},
                        },
                    },
                },
            },
        },
    }
    config = load_config(doc, handlers=API_HANDLERS, policies=policies)
    assert config.behaviors[0].cache.name == "mine"
    assert config.behaviors[0].origin_request_policy == OriginRequestPolicy(headers="allViewer")
    assert config.behaviors[1].cache == CachePolicy(
        1, 2, 3, cookies="all", query_strings="allExcept", query_string_names=("utm",), name="two"
    )


def test_function_association_beside_a_lambda_on_the_same_event_is_refused() -> None:
    """CloudFront Functions now run (edge_middleware.js; tests/test_js_config.py); a behavior
    cannot have one and a Lambda@Edge function on the same event type, as in CloudFront's API."""
    doc = api_doc()
    doc[DC]["DefaultCacheBehavior"]["FunctionAssociations"] = {
        "Quantity": 1,
        "Items": [
            {"FunctionARN": "arn:aws:cloudfront::1:function/x", "EventType": "viewer-request"}
        ],
    }
    with pytest.raises(ConfigurationError, match="same event type"):
        load_config(doc, handlers=API_HANDLERS)


YAML_TAGS = """
a: !Ref Thing
b: !GetAtt Fn.Arn
c: !GetAtt [Fn, Arn]
d: !Sub "${A}-x"
e: !Join ["-", [a, !Ref B]]
f: !Select [0, !GetAZs ""]
g: !If [Cond, 1, !Ref AWS::NoValue]
h: !ImportValue shared-thing
i: !FindInMap [M, k1, k2]
j: !Split [",", "a,b"]
k: !Base64 hello
l: !Cidr [10.0.0.0/16, 4, 8]
m: !Equals [a, b]
n: !Not [!Condition C]
o: !And [!Condition C, !Or [!Condition D, !Condition E]]
p: 2010-09-09
"""


def test_yaml_short_form_tags() -> None:
    import yaml

    from edge_middleware.config.loaders import TemplateLoader

    doc = yaml.load(YAML_TAGS, Loader=TemplateLoader)
    assert doc == {
        "a": {"Ref": "Thing"},
        "b": {"Fn::GetAtt": ["Fn", "Arn"]},
        "c": {"Fn::GetAtt": ["Fn", "Arn"]},
        "d": {"Fn::Sub": "${A}-x"},
        "e": {"Fn::Join": ["-", ["a", {"Ref": "B"}]]},
        "f": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        "g": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]},
        "h": {"Fn::ImportValue": "shared-thing"},
        "i": {"Fn::FindInMap": ["M", "k1", "k2"]},
        "j": {"Fn::Split": [",", "a,b"]},
        "k": {"Fn::Base64": "hello"},
        "l": {"Fn::Cidr": ["10.0.0.0/16", 4, 8]},
        "m": {"Fn::Equals": ["a", "b"]},
        "n": {"Fn::Not": [{"Condition": "C"}]},
        "o": {
            "Fn::And": [
                {"Condition": "C"},
                {"Fn::Or": [{"Condition": "D"}, {"Condition": "E"}]},
            ]
        },
        "p": "2010-09-09",
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("t.template", (FIXTURES / "sam-template.yaml").read_text(), "cloudformation"),
        pytest.param(
            "t.template", (FIXTURES / "cloudformation.json").read_text(), "cloudformation"
        ),
        pytest.param("d.yml", json.dumps(api_doc()), "distribution"),
        pytest.param("d.json", json.dumps({"default": {}}), "own"),
    ],
)
def test_format_detection_by_content(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert detect_format(read_source(path)) == expected


# -- broken configurations ------------------------------------------------------------------------

DELETE = object()


def _edit(doc: dict[str, Any], edits: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for keys, value in edits:
        target: Any = doc
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return doc


ITEMS = "Items"
BEH = (DC, "CacheBehaviors", ITEMS)
DEF = (DC, "DefaultCacheBehavior")
ORIG = (DC, "Origins", ITEMS)
ASSOC = (*DEF, "LambdaFunctionAssociations", ITEMS)
CFN_DC = ("Resources", "Distribution", "Properties", DC)

BROKEN = [
    # -- get-distribution-config JSON: missing required keys
    pytest.param("api", [((DC, "Origins"), DELETE)], f"{DC}.Origins", None, id="no-origins"),
    pytest.param(
        "api", [(DEF, DELETE)], f"{DC}.DefaultCacheBehavior", None, id="no-default-behavior"
    ),
    pytest.param(
        "api",
        [((*BEH, 1, "TargetOriginId"), DELETE)],
        f"{DC}.CacheBehaviors.Items[1].TargetOriginId",
        None,
        id="no-target-origin",
    ),
    pytest.param(
        "api",
        [((*DEF, "ViewerProtocolPolicy"), DELETE)],
        f"{DC}.DefaultCacheBehavior.ViewerProtocolPolicy",
        None,
        id="no-viewer-protocol-policy",
    ),
    pytest.param(
        "api",
        [((*BEH, 2, "PathPattern"), DELETE)],
        f"{DC}.CacheBehaviors.Items[2].PathPattern",
        None,
        id="no-path-pattern",
    ),
    pytest.param(
        "api", [((*ORIG, 0, "Id"), DELETE)], f"{DC}.Origins.Items[0].Id", None, id="no-origin-id"
    ),
    pytest.param(
        "api",
        [((*ORIG, 1, "DomainName"), DELETE)],
        f"{DC}.Origins.Items[1].DomainName",
        None,
        id="no-domain-name",
    ),
    # -- bad values
    pytest.param(
        "api",
        [((*BEH, 0, "ViewerProtocolPolicy"), "http-only")],
        f"{DC}.CacheBehaviors.Items[0].ViewerProtocolPolicy",
        "http-only",
        id="bad-viewer-protocol-policy",
    ),
    pytest.param(
        "api",
        [((*ORIG, 0, "CustomOriginConfig", "OriginProtocolPolicy"), "https")],
        f"{DC}.Origins.Items[0].CustomOriginConfig.OriginProtocolPolicy",
        "https",
        id="bad-origin-protocol-policy",
    ),
    pytest.param(
        "api",
        [((*ORIG, 0, "CustomOriginConfig", "OriginSslProtocols", ITEMS, 0), "TLSv1.3")],
        f"{DC}.Origins.Items[0].CustomOriginConfig.OriginSslProtocols.Items[0]",
        "TLSv1.3",
        id="bad-ssl-protocol",
    ),
    pytest.param(
        "api",
        [((*BEH, 2, "PathPattern"), "/search/<q>")],
        f"{DC}.CacheBehaviors.Items[2].PathPattern",
        "/search/<q>",
        id="bad-path-pattern",
    ),
    pytest.param(
        "api",
        [((*BEH, 2, "DefaultTTL"), 7200)],
        f"{DC}.CacheBehaviors.Items[2].DefaultTTL",
        7200,
        id="default-ttl-above-max",
    ),
    pytest.param(
        "api",
        [((*BEH, 2, "MinTTL"), -1)],
        f"{DC}.CacheBehaviors.Items[2].MinTTL",
        -1,
        id="negative-min-ttl",
    ),
    pytest.param(
        "api",
        [((*BEH, 3, "MinTTL"), 5)],
        f"{DC}.CacheBehaviors.Items[3].MinTTL",
        5,
        id="forward-all-headers-with-min-ttl",
    ),
    pytest.param(
        "api",
        [((*BEH, 2, "ForwardedValues", "Headers", ITEMS, 0), "Cookie")],
        f"{DC}.CacheBehaviors.Items[2].ForwardedValues.Headers.Items",
        "cookie",
        id="unkeyable-forwarded-header",
    ),
    pytest.param(
        "api",
        [((*BEH, 1, "AllowedMethods", ITEMS), ["GET", "POST"])],
        f"{DC}.CacheBehaviors.Items[1].AllowedMethods.Items",
        ["GET", "POST"],
        id="bad-allowed-methods-set",
    ),
    pytest.param(
        "api",
        [((*ASSOC, 1, "EventType"), "viewer-request")],
        f"{DC}.DefaultCacheBehavior.LambdaFunctionAssociations.Items[1].EventType",
        "viewer-request",
        id="two-associations-one-event",
    ),
    pytest.param(
        "api",
        [((*ASSOC, 3, "EventType"), "viewer-start")],
        f"{DC}.DefaultCacheBehavior.LambdaFunctionAssociations.Items[3].EventType",
        "viewer-start",
        id="bad-event-type",
    ),
    pytest.param(
        "api",
        [((*ASSOC, 2, "IncludeBody"), True)],
        f"{DC}.DefaultCacheBehavior.LambdaFunctionAssociations.Items[2].IncludeBody",
        True,
        id="include-body-on-response-event",
    ),
    pytest.param(
        "api",
        [((*ASSOC, 0, "LambdaFunctionARN"), f"{ARN}unknown-fn:1")],
        f"{DC}.DefaultCacheBehavior.LambdaFunctionAssociations.Items[0].LambdaFunctionARN",
        f"{ARN}unknown-fn:1",
        id="arn-without-handler",
    ),
    pytest.param(
        "api",
        [((*BEH, 0, "CachePolicyId"), "00000000-0000-0000-0000-000000000000")],
        f"{DC}.CacheBehaviors.Items[0].CachePolicyId",
        "00000000-0000-0000-0000-000000000000",
        id="unknown-cache-policy",
    ),
    pytest.param(
        "api",
        [((*BEH, 0, "OriginRequestPolicyId"), "nope")],
        f"{DC}.CacheBehaviors.Items[0].OriginRequestPolicyId",
        "nope",
        id="unknown-origin-request-policy",
    ),
    pytest.param(
        "api",
        [((*BEH, 1, "TargetOriginId"), "nowhere")],
        f"{DC}.CacheBehaviors.Items[1].TargetOriginId",
        "nowhere",
        id="target-origin-not-found",
    ),
    pytest.param(
        "api",
        [((*ORIG, 1, "Id"), "app")],
        f"{DC}.Origins.Items[1].Id",
        "app",
        id="duplicate-origin-id",
    ),
    pytest.param(
        "api",
        [((*ORIG, 0, "CustomHeaders", ITEMS, 0, "HeaderName"), "X-Amz-Date")],
        f"{DC}.Origins.Items[0].CustomHeaders.Items[0].HeaderName",
        "X-Amz-Date",
        id="denied-origin-custom-header",
    ),
    pytest.param(
        "api",
        [((*ORIG, 0, "CustomHeaders", ITEMS, 0, "HeaderValue"), "v" * 1784)],
        f"{DC}.Origins.Items[0].CustomHeaders.Items[0].HeaderValue",
        "v" * 1784,
        id="origin-custom-header-too-long",
    ),
    pytest.param(
        "api",
        [((*ORIG, 0, "CustomOriginConfig", "OriginReadTimeout"), 500)],
        f"{DC}.Origins.Items[0].CustomOriginConfig.OriginReadTimeout",
        500,
        id="read-timeout-out-of-range",
    ),
    pytest.param(
        "api",
        [((DC, "CustomErrorResponses", ITEMS, 0, "ResponseCode"), "four-oh-four")],
        f"{DC}.CustomErrorResponses.Items[0].ResponseCode",
        "four-oh-four",
        id="bad-response-code",
    ),
    pytest.param(
        "api",
        [((DC, "CustomErrorResponses", ITEMS, 1, "ErrorCode"), 200)],
        f"{DC}.CustomErrorResponses.Items[1].ErrorCode",
        200,
        id="error-code-not-an-error",
    ),
    pytest.param(
        "api",
        [((*BEH, 0, "ForwardedValues"), {"QueryString": False})],
        f"{DC}.CacheBehaviors.Items[0].ForwardedValues",
        {"QueryString": False},
        id="cache-policy-and-forwarded-values",
    ),
    pytest.param(
        "api",
        [((*BEH, 3, "ForwardedValues"), DELETE)],
        f"{DC}.CacheBehaviors.Items[3].CachePolicyId",
        None,
        id="no-cache-settings",
    ),
    pytest.param(
        "api",
        [((DC, "Aliases", "Quantity"), 3)],
        f"{DC}.Aliases.Quantity",
        3,
        id="quantity-mismatch",
    ),
    pytest.param(
        "api",
        [((*ASSOC, 0, "IncludeBody"), "yes")],
        f"{DC}.DefaultCacheBehavior.LambdaFunctionAssociations.Items[0].IncludeBody",
        "yes",
        id="include-body-not-bool",
    ),
    # -- CloudFormation: paths as in the template, plain arrays
    pytest.param(
        "cfn",
        [((*CFN_DC, "CacheBehaviors", 2, "PathPattern"), "static/[a-z]*")],
        f"{CFN}.CacheBehaviors[2].PathPattern",
        "static/[a-z]*",
        id="cfn-bad-path-pattern",
    ),
    pytest.param(
        "cfn",
        [((*CFN_DC, "CacheBehaviors", 1, "CachedMethods"), ["GET", "HEAD", "POST"])],
        f"{CFN}.CacheBehaviors[1].CachedMethods",
        ["GET", "HEAD", "POST"],
        id="cfn-cached-method-not-cacheable",
    ),
    pytest.param(
        "cfn",
        [((*CFN_DC, "CacheBehaviors", 2, "CachePolicyId"), {"Ref": "AssetsBucket"})],
        f"{CFN}.CacheBehaviors[2].CachePolicyId",
        {"Ref": "AssetsBucket"},
        id="cfn-policy-ref-to-a-bucket",
    ),
    pytest.param(
        "cfn",
        [(("Resources", "StaticCachePolicy", "Properties", "CachePolicyConfig", "MaxTTL"), 60)],
        "Resources.StaticCachePolicy.Properties.CachePolicyConfig.DefaultTTL",
        3600,
        id="cfn-cache-policy-resource-ttl",
    ),
    pytest.param(
        "cfn",
        [(("Resources", "AuthFunction", "Properties", "FunctionName"), "auth-v2")],
        f"{CFN}.DefaultCacheBehavior.LambdaFunctionAssociations[0].LambdaFunctionARN",
        f"{ARN}auth-v2",
        id="cfn-function-without-handler",
    ),
    pytest.param(
        "cfn",
        [((*CFN_DC, "Origins", 0, "OriginCustomHeaders", 0, "HeaderName"), "Host")],
        f"{CFN}.Origins[0].OriginCustomHeaders[0].HeaderName",
        "Host",
        id="cfn-denied-origin-custom-header",
    ),
    pytest.param(
        "cfn",
        [((*CFN_DC, "CustomErrorResponses", 0, "ErrorCachingMinTTL"), -5)],
        f"{CFN}.CustomErrorResponses[0].ErrorCachingMinTTL",
        -5,
        id="cfn-negative-error-caching-ttl",
    ),
    pytest.param(
        "cfn",
        [(("Resources", "Distribution", "Properties", DC), DELETE)],
        f"Resources.Distribution.Properties.{DC}",
        None,
        id="cfn-no-distribution-config",
    ),
    pytest.param(
        "cfn",
        [(("Resources", "Distribution", "Type"), "AWS::CloudFront::StreamingDistribution")],
        "Resources",
        sorted(cfn_doc()["Resources"]),
        id="cfn-no-distribution",
    ),
    # -- our TOML format
    pytest.param(
        "toml",
        [(("behaviors", 0, "viewer_requst"), "tests.test_loaders:auth")],
        "behaviors[0].viewer_requst",
        "tests.test_loaders:auth",
        id="toml-unknown-key",
    ),
    pytest.param(
        "toml",
        [(("behaviors", 1, "cache"), "CachingFast")],
        "behaviors[1].cache",
        "CachingFast",
        id="toml-unknown-managed-policy",
    ),
    pytest.param(
        "toml",
        [(("default", "origin_response"), {"handler": "m:f", "include_body": True})],
        "default.origin_response.include_body",
        True,
        id="toml-include-body-on-response",
    ),
    pytest.param(
        "toml",
        [(("default", "viewer_response"), "banner")],
        "default.viewer_response",
        "banner",
        id="toml-handler-name-not-given",
    ),
    pytest.param(
        "toml",
        [(("behaviors", 2, "cache", "max_ttl"), 100)],
        "behaviors[2].cache.default_ttl",
        300,
        id="toml-bad-ttl",
    ),
    pytest.param(
        "toml",
        [(("behaviors", 3, "allowed_methods"), ["GET", "FETCH"])],
        "behaviors[3].allowed_methods",
        ["FETCH", "GET"],
        id="toml-bad-methods",
    ),
    pytest.param(
        "toml",
        [(("origins", 0, "protocol_policy"), "tls")],
        "origins[0].protocol_policy",
        "tls",
        id="toml-bad-enum",
    ),
    pytest.param(
        "toml",
        [(("behaviors", 0, "target_origin_id"), "nowhere")],
        "behaviors[0].target_origin_id",
        "nowhere",
        id="toml-target-origin-not-found",
    ),
    pytest.param(
        "toml",
        [(("settings", "execution_error_status"), 418)],
        "settings.execution_error_status",
        418,
        id="toml-bad-setting",
    ),
    pytest.param(
        "toml",
        [(("settings", "path_match"), "fuzzy")],
        "settings.path_match",
        "fuzzy",
        id="toml-bad-setting-literal",
    ),
]


@pytest.mark.parametrize(("kind", "edits", "field", "value"), BROKEN)
def test_broken_configs(
    kind: str, edits: list[tuple[tuple[Any, ...], Any]], field: str, value: Any
) -> None:
    base, handlers = {
        "api": (api_doc, API_HANDLERS),
        "cfn": (cfn_doc, CFN_HANDLERS),
        "toml": (toml_doc, TOML_HANDLERS),
    }[kind]
    with pytest.raises(ConfigurationError) as info:
        load_config(_edit(base(), edits), handlers=handlers)
    assert (info.value.field, info.value.value) == (field, value)
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("source", "kwargs", "field", "value"),
    [
        pytest.param(
            FIXTURES / "cloudformation.json",
            {},
            "Resources",
            ["Blue", "Green"],
            id="several-distributions",
        ),
        pytest.param(
            FIXTURES / "cloudformation.json",
            {"logical_id": "Purple"},
            "logical_id",
            "Purple",
            id="unknown-logical-id",
        ),
        pytest.param(
            FIXTURES / "cloudformation.yaml",
            {"handlers": {}},
            f"{CFN}.CacheBehaviors[1].LambdaFunctionAssociations[0].LambdaFunctionARN",
            f"{ARN}api-forms:2",
            id="no-handlers-at-all",
        ),
        pytest.param("distribution.xml", {}, "source", "distribution.xml", id="unknown-suffix"),
        pytest.param({"Comment": "what is this"}, {}, "source", ["Comment"], id="unknown-document"),
        pytest.param({"default": []}, {}, "default", [], id="own-format-not-a-table"),
    ],
)
def test_broken_sources(source: Any, kwargs: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(source, **kwargs)
    assert (info.value.field, info.value.value) == (field, value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("bad.json", '{"ETag": ', "valid json", id="json"),
        pytest.param("bad.toml", "[default\n", "valid toml", id="toml"),
        pytest.param("bad.yaml", "a: [1, 2\n", "valid yaml", id="yaml"),
        pytest.param("list.yaml", "- 1\n- 2\n", "a document that is an object", id="not-object"),
    ],
)
def test_unparsable_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    assert info.value.field == str(path)
    assert info.value.expected == expected


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(tmp_path / "absent.json")
    assert info.value.field == "source"


def test_handler_given_as_trigger_object_is_rejected() -> None:
    handlers: dict[str, Any] = {**API_HANDLERS, "auth": Trigger(auth)}
    handlers.pop(f"{ARN}auth:7")
    with pytest.raises(ConfigurationError) as info:
        load_config(api_doc(), handlers=handlers)
    assert info.value.field == "handlers['auth']"


# -- intrinsic functions -------------------------------------------------------------------------

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "NoDefault": {"Type": "String"}},
    "Mappings": {"Env": {"dev": {"Host": "dev.example.com"}}},
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
        "Loop": {"Condition": "Loop"},
    },
    "Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "edge-fn"}},
        "FnVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": "edge-fn"}},
        "FnAlias": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "prod"},
        },
        "Sam": {"Type": "AWS::Serverless::Function", "Properties": {"AutoPublishAlias": "live"}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
    },
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param({"Ref": "Stage"}, "dev", id="ref-parameter"),
        pytest.param({"Ref": "NoDefault"}, "NoDefault", id="ref-parameter-no-default"),
        pytest.param({"Ref": "AWS::Region"}, "us-east-1", id="ref-pseudo"),
        pytest.param({"Ref": "Fn"}, "edge-fn", id="ref-function"),
        pytest.param({"Ref": "FnVersion"}, f"{ARN}edge-fn", id="ref-version"),
        pytest.param({"Ref": "FnAlias"}, f"{ARN}edge-fn:prod", id="ref-alias"),
        pytest.param({"Ref": "Sam.Alias"}, f"{ARN}Sam:live", id="ref-sam-alias"),
        pytest.param({"Fn::Sub": "${Sam.Version}"}, f"{ARN}Sam", id="sub-sam-version"),
        pytest.param({"Ref": "Bucket"}, "bucket", id="ref-bucket"),
        pytest.param({"Ref": "Lb"}, "Lb", id="ref-other"),
        pytest.param({"Fn::GetAtt": ["FnVersion", "FunctionArn"]}, f"{ARN}edge-fn", id="getatt-fa"),
        pytest.param({"Fn::GetAtt": ["FnAlias", "Arn"]}, f"{ARN}edge-fn:prod", id="getatt-alias"),
        pytest.param({"Fn::GetAtt": "Bucket.DomainName"}, "bucket.s3.amazonaws.com", id="bucket"),
        pytest.param({"Fn::GetAtt": ["Lb", "DNSName"]}, "Lb.DNSName", id="getatt-other"),
        pytest.param(
            {"Fn::Sub": ["${A}.${Stage}.${!Literal}", {"A": {"Ref": "Fn"}}]},
            "edge-fn.dev.${Literal}",
            id="sub-variables",
        ),
        pytest.param({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b", id="select-split"),
        pytest.param({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "us-east-1a", id="getazs"),
        pytest.param({"Fn::Join": ["", ["a", {"Ref": "AWS::NoValue"}, "b"]]}, "ab", id="join"),
        pytest.param({"Fn::FindInMap": ["Env", {"Ref": "Stage"}, "Host"]}, "dev.example.com"),
        pytest.param({"Fn::FindInMap": ["Env", "prod", "Host"]}, "Env.prod.Host", id="map-miss"),
        pytest.param({"Fn::Base64": "hi"}, "aGk=", id="base64"),
        pytest.param({"Fn::Length": [1, 2]}, 2, id="length"),
        pytest.param({"Fn::ImportValue": "shared-origin"}, "shared-origin", id="import-value"),
        pytest.param({"Fn::If": ["IsProd", "p", "d"]}, "d", id="if"),
        pytest.param({"Condition": "Either"}, True, id="or"),
        pytest.param({"Fn::And": [{"Condition": "Both"}]}, False, id="and"),
        pytest.param({"a": [{"Ref": "Stage"}]}, {"a": ["dev"]}, id="nested"),
    ],
)
def test_intrinsics_render(expr: Any, expected: Any) -> None:
    from edge_middleware.config.loaders.cloudformation import TemplateResolver

    assert TemplateResolver(TEMPLATE).render(expr) == expected


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        pytest.param({"Fn::If": ["IsDev", "only-two"]}, "X.LambdaFunctionARN", id="bad-if"),
        pytest.param({"Fn::GetAtt": ["a", "b", "c"]}, "X.LambdaFunctionARN", id="bad-getatt"),
        pytest.param({"Fn::Sub": 3}, "X.LambdaFunctionARN", id="bad-sub"),
        pytest.param({"Fn::If": ["Loop", "a", "b"]}, "Conditions.Loop", id="condition-cycle"),
        pytest.param({"Fn::Split": [",", "a,b"]}, "X.LambdaFunctionARN", id="not-a-string"),
        # never a silent None: an index CloudFormation would reject is named at its field
        pytest.param({"Fn::Select": [5, ["a"]]}, "X.LambdaFunctionARN", id="select-out-of-range"),
    ],
)
def test_bad_intrinsics(expr: Any, field: str) -> None:
    from edge_middleware.config.loaders.cloudformation import TemplateResolver

    with pytest.raises(ConfigurationError) as info:
        TemplateResolver(TEMPLATE).function(expr, "X.LambdaFunctionARN")
    assert info.value.field == field


def test_toml_docstring_example_loads() -> None:
    from edge_middleware.config.loaders import toml as own_format

    doc = own_format.__doc__ or ""
    block = doc.split(".. code-block:: toml", 1)[1].split("\nA trigger is", 1)[0]
    text = "\n".join(line[4:] for line in block.splitlines())
    config = load_config(tomllib.loads(text))
    assert [b.path_pattern for b in config.all_behaviors] == ["/static/*", "*"]
    assert config.default.trigger("origin-request").include_body  # type: ignore[union-attr]
    assert config.origins[1].kind == "s3"
    assert config.settings.execution_error_status == 500
