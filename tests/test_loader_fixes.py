"""Loading published configurations: the fixes from the loader bug hunt.

Each section is one finding: YAML scalars used as text by every intrinsic, legacy cookie
wildcards, legacy "forward all query strings, key on a whitelist", list parameters, CDK URL
origins, SAM ``Globals`` for Node.js functions, legacy TTL defaults, malformed intrinsics and
undefined conditions, ``AWS::NoValue`` in lists, nested origin groups, and file encodings.
"""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client

from edge_middleware import (
    CachePolicy,
    ConfigurationError,
    EdgeSettings,
    EdgeWSGIMiddleware,
    load_config,
)
from edge_middleware.cache.rules import cache_key, forwarded_to_origin
from edge_middleware.config.loaders import TemplateLoader
from edge_middleware.config.loaders.cloudformation import TemplateResolver
from edge_middleware.config.model import Behavior
from edge_middleware.js import NodeHandler

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CFN = "Resources.Distribution.Properties.DistributionConfig"
DC = "DistributionConfig"
NO_VALUE = {"Ref": "AWS::NoValue"}
SETTINGS = EdgeSettings()


def _yaml(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(textwrap.dedent(text), Loader=TemplateLoader)
    return doc


def _template(dc_extra: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A template whose distribution has one custom origin ``app`` and CachingDisabled."""
    dc: dict[str, Any] = {
        "Enabled": True,
        "Origins": [
            {
                "Id": "app",
                "DomainName": "app.example.com",
                "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
            }
        ],
        "DefaultCacheBehavior": {
            "TargetOriginId": "app",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": CACHING_DISABLED,
        },
        **(dc_extra or {}),
    }
    resources = {
        **top.pop("Resources", {}),
        "Distribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {"DistributionConfig": dc},
        },
    }
    return {**top, "Resources": resources}


def _distribution(behavior: dict[str, Any], **dc_extra: Any) -> dict[str, Any]:
    """``get-distribution-config`` output with one origin ``app`` and ``behavior`` as default."""
    return {
        "ETag": "E2EXAMPLE",
        "DistributionConfig": {
            "CallerReference": "x",
            "Comment": "",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [_api_origin("app")]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "app",
                "ViewerProtocolPolicy": "allow-all",
                **behavior,
            },
            **dc_extra,
        },
    }


def _api_origin(origin_id: str) -> dict[str, Any]:
    return {
        "Id": origin_id,
        "DomainName": f"{origin_id}.example.com",
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
        },
    }


def _legacy(forwarded: dict[str, Any], **ttls: int) -> dict[str, Any]:
    return _distribution({"ForwardedValues": {"QueryString": False, **forwarded}, **ttls})


def _request(qs: str = "", cookie: str | None = None) -> Any:
    headers = {} if cookie is None else {"cookie": [{"key": "Cookie", "value": cookie}]}
    return {
        "clientIp": "203.0.113.1",
        "headers": headers,
        "method": "GET",
        "querystring": qs,
        "uri": "/a",
    }


def _key(policy: CachePolicy, qs: str = "", cookie: str | None = None) -> str:
    request = _request(qs, cookie)
    return cache_key(
        method="GET",
        host="d111.cloudfront.net",
        uri="/a",
        querystring=qs,
        headers=request["headers"],
        policy=policy,
        settings=SETTINGS,
    )


def _forwarded(behavior: Behavior, qs: str = "", cookie: str | None = None) -> tuple[str, Any]:
    return forwarded_to_origin(
        _request(qs, cookie),
        behavior.cache,
        behavior.origin_request_policy,
        SETTINGS,
        cacheable=True,
    )


def _raises(call: Any, *args: Any, **kwargs: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        call(*args, **kwargs)
    return info.value


# -- 1. YAML booleans and numbers are text wherever an intrinsic uses them ------------------------

SCALARS = _yaml("""
    Parameters:
      Enable: {Type: String, Default: true}
      Debug: {Type: String, Default: false}
      Count: {Type: Number, Default: 3}
      Ratio: {Type: String, Default: 1.5}
    Mappings:
      Flags:
        "true": {Header: enabled}
    Resources: {}
""")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param({"Ref": "Enable"}, "true", id="ref-true"),
        pytest.param({"Ref": "Debug"}, "false", id="ref-false"),
        pytest.param({"Ref": "Count"}, "3", id="ref-number"),
        pytest.param({"Ref": "Ratio"}, "1.5", id="ref-float"),
        pytest.param({"Fn::Sub": "debug=${Debug}"}, "debug=false", id="sub"),
        pytest.param({"Fn::Sub": ["n=${N}", {"N": {"Ref": "Count"}}]}, "n=3", id="sub-variable"),
        pytest.param({"Fn::Join": ["", ["debug=", {"Ref": "Debug"}]]}, "debug=false", id="join"),
        pytest.param(
            {"Fn::Join": ["-", [True, 3, {"Ref": "Enable"}]]}, "true-3-true", id="join-lit"
        ),
        pytest.param({"Fn::Equals": [{"Ref": "Enable"}, "true"]}, True, id="equals-true"),
        pytest.param({"Fn::Equals": [{"Ref": "Count"}, "3"]}, True, id="equals-number"),
        pytest.param({"Fn::Equals": [{"Ref": "Debug"}, False]}, True, id="equals-yaml-bool"),
        pytest.param(
            {"Fn::FindInMap": ["Flags", {"Ref": "Enable"}, "Header"]}, "enabled", id="map"
        ),
        pytest.param(
            {"Fn::Base64": {"Ref": "Enable"}}, base64.b64encode(b"true").decode(), id="b64"
        ),
        pytest.param(
            {"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "Debug"}]}]}, "false", id="split"
        ),
    ],
)
def test_scalars_are_cloudformation_text(expr: Any, expected: Any) -> None:
    assert TemplateResolver(SCALARS).render(expr) == expected


def _pass(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(event["Records"][0]["cf"]["request"])


def test_boolean_default_keeps_a_conditional_trigger() -> None:
    doc = _yaml("""
        Parameters:
          EnableAuth: {Type: String, Default: true, AllowedValues: [true, false]}
          Debug: {Type: String, Default: false}
        Conditions:
          AuthOn: !Equals [!Ref EnableAuth, "true"]
        Resources: {}
    """)
    behavior = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
        "LambdaFunctionAssociations": {
            "Fn::If": [
                "AuthOn",
                [{"EventType": "viewer-request", "LambdaFunctionARN": "arn:aws:lambda:"
                  "us-east-1:123456789012:function:auth:1"}],
                NO_VALUE,
            ]
        },
    }  # fmt: skip
    headers = [
        {"HeaderName": "X-Debug", "HeaderValue": {"Ref": "Debug"}},
        {"HeaderName": "X-Debug-Sub", "HeaderValue": {"Fn::Sub": "debug=${Debug}"}},
    ]
    template = _template({"DefaultCacheBehavior": behavior}, **doc)
    template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["Origins"][0][
        "OriginCustomHeaders"
    ] = headers
    config = load_config(template, handlers={"auth": _pass})
    assert config.default.viewer_request is not None
    assert config.origins[0].custom_headers == (
        ("X-Debug", "false"),
        ("X-Debug-Sub", "debug=false"),
    )


# -- 2. legacy cookie whitelists: `*` and `?` wildcards, for keying and forwarding ---------------


@pytest.mark.parametrize(
    ("names", "cookie", "expected"),
    [
        pytest.param(("sess*",), "session=alice; theme=dark", ["session=alice"], id="star"),
        pytest.param(("sess*",), "sess=1; xsession=2", ["sess=1"], id="star-anchored"),
        pytest.param(("s?ss",), "sass=1; ss=2; sess=3; saass=4", ["sass=1", "sess=3"], id="q"),
        pytest.param(("a.b*",), "a.bc=1; axbc=2", ["a.bc=1"], id="dot-is-literal"),
        pytest.param(("theme", "sess*"), "session=a; other=x; theme=d", ["session=a", "theme=d"],
                     id="literal-and-wildcard"),
        pytest.param(("*",), "b=1; a=2", ["a=2", "b=1"], id="everything"),
        pytest.param(("Sess*",), "session=a", [], id="case-sensitive"),
    ],
)  # fmt: skip
def test_legacy_cookie_wildcards_key_and_forward(
    names: tuple[str, ...], cookie: str, expected: list[str]
) -> None:
    policy = CachePolicy(cookies="whitelist", cookie_names=names, cookie_wildcards=True)
    key = _key(policy, cookie=cookie)
    assert [part[2:] for part in key.split("|") if part.startswith("c:")] == expected
    _, headers = _forwarded(Behavior(cache=policy), cookie=cookie)
    sent = headers["cookie"][0]["value"] if "cookie" in headers else None
    assert sent == ("; ".join(expected) or None)


def test_cache_policy_cookie_names_are_literal() -> None:
    """Only legacy whitelists have wildcards (caching.md §1.13); a cache policy's names are
    cookie names."""
    policy = CachePolicy(cookies="whitelist", cookie_names=("sess*",))
    assert "c:session" not in _key(policy, cookie="session=a; sess*=b")
    assert "c:sess*=b" in _key(policy, cookie="session=a; sess*=b")


def test_legacy_cookie_wildcards_from_a_distribution() -> None:
    cookies = {"Forward": "whitelist", "WhitelistedNames": {"Quantity": 1, "Items": ["sess*"]}}
    behavior = load_config(_legacy({"Cookies": cookies})).default
    assert behavior.cache.cookie_wildcards
    alice = _key(behavior.cache, cookie="session=alice; theme=dark")
    bob = _key(behavior.cache, cookie="session=bob; theme=dark")
    assert alice != bob
    assert _forwarded(behavior, cookie="session=alice; theme=dark")[1]["cookie"][0]["value"] == (
        "session=alice"
    )


# -- 3. legacy QueryString + QueryStringCacheKeys: forward all, key on the list -----------------


@pytest.mark.parametrize(
    ("query", "keys", "forwarded", "keyed"),
    [
        pytest.param(True, ["lang"], "lang=en&page=2", "qs:lang=en", id="whitelist"),
        pytest.param(True, [], "lang=en&page=2", "qs:lang=en&page=2", id="all"),
        pytest.param(False, [], "", None, id="none"),
        pytest.param(False, ["lang"], "", None, id="keys-without-query-string"),
    ],
)
def test_legacy_query_strings_forward_all_key_on_a_whitelist(
    query: bool, keys: list[str], forwarded: str, keyed: str | None
) -> None:
    fv = {"QueryString": query, "QueryStringCacheKeys": {"Quantity": len(keys), "Items": keys}}
    behavior = load_config(_legacy(fv)).default
    assert _forwarded(behavior, qs="lang=en&page=2")[0] == forwarded
    parts = [p for p in _key(behavior.cache, qs="lang=en&page=2").split("|") if p[:3] == "qs:"]
    assert parts == ([keyed] if keyed else [])


def test_legacy_forwarding_through_the_middleware() -> None:
    """Two sessions are two cache entries, and the origin gets the session cookie and every
    query string (a Flask-free origin: what it saw is its answer)."""
    seen: list[tuple[str, str]] = []

    def origin(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append((environ.get("HTTP_COOKIE", ""), environ.get("QUERY_STRING", "")))
        start_response("200 OK", [("Cache-Control", "max-age=60")])
        return [f"{seen[-1]}".encode()]

    cookies = {"Forward": "whitelist", "WhitelistedNames": ["sess*"]}
    fv = {"QueryString": True, "QueryStringCacheKeys": ["lang"], "Cookies": cookies}
    config = load_config(_legacy(fv, DefaultTTL=300))
    client = Client(EdgeWSGIMiddleware(origin, config=config), use_cookies=False)
    for name, expected in (("alice", "Miss"), ("bob", "Miss"), ("alice", "Hit")):
        cookie = f"session={name}; theme=dark"
        response = client.get("/a?lang=en&page=2", headers={"Cookie": cookie})
        assert response.headers["X-Cache"] == f"{expected} from cloudfront"
    assert seen == [(f"session={n}", "lang=en&page=2") for n in ("alice", "bob")]


# -- 4. !Ref to a list parameter is a list -------------------------------------------------------

LISTS = _yaml("""
    Parameters:
      Domains: {Type: CommaDelimitedList, Default: "www.example.com, example.com"}
      Origins: {Type: "List<String>", Default: "app.example.com,backup.example.com"}
      Ports: {Type: "List<Number>", Default: "80, 443"}
      Bare: {Type: CommaDelimitedList}
    Resources: {}
""")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param({"Ref": "Domains"}, ["www.example.com", "example.com"], id="comma-list"),
        pytest.param({"Ref": "Ports"}, ["80", "443"], id="number-list"),
        pytest.param({"Ref": "Bare"}, ["Bare"], id="no-default"),
        pytest.param({"Fn::Join": ["|", {"Ref": "Domains"}]}, "www.example.com|example.com",
                     id="join"),
        pytest.param({"Fn::Select": [1, {"Ref": "Origins"}]}, "backup.example.com", id="select"),
        pytest.param({"Fn::Length": {"Ref": "Domains"}}, 2, id="length"),
    ],
)  # fmt: skip
def test_list_parameters(expr: Any, expected: Any) -> None:
    assert TemplateResolver(LISTS).render(expr) == expected


def test_list_parameter_as_aliases_and_origin() -> None:
    origins = [
        {
            "Id": "app",
            "DomainName": {"Fn::Select": [0, {"Ref": "Origins"}]},
            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
        }
    ]
    template = _template({"Aliases": {"Ref": "Domains"}, "Origins": origins}, **LISTS)
    config = load_config(template)
    assert config.aliases == ("www.example.com", "example.com")
    assert config.origins[0].domain_name == "app.example.com"


# -- 5. CDK FunctionUrlOrigin / HTTP API origins ---------------------------------------------------

URLS: dict[str, Any] = {
    "Resources": {
        "ApiFnUrl1A2B": {"Type": "AWS::Lambda::Url", "Properties": {"AuthType": "NONE"}},
        "HttpApiF5A9": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "api"}},
    }
}
FUNCTION_URL = {"Fn::GetAtt": ["ApiFnUrl1A2B", "FunctionUrl"]}
API_ENDPOINT = {"Fn::GetAtt": ["HttpApiF5A9", "ApiEndpoint"]}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param(FUNCTION_URL, "https://apifnurl1a2b.lambda-url.us-east-1.on.aws/", id="url"),
        pytest.param({"Fn::Select": [2, {"Fn::Split": ["/", FUNCTION_URL]}]},
                     "apifnurl1a2b.lambda-url.us-east-1.on.aws", id="function-url-origin"),
        pytest.param(API_ENDPOINT, "https://httpapif5a9.execute-api.us-east-1.amazonaws.com",
                     id="endpoint"),
        pytest.param({"Fn::Select": [1, {"Fn::Split": ["://", API_ENDPOINT]}]},
                     "httpapif5a9.execute-api.us-east-1.amazonaws.com", id="http-api-origin"),
    ],
)  # fmt: skip
def test_url_attributes_are_url_shaped(expr: Any, expected: str) -> None:
    assert TemplateResolver(URLS).render(expr) == expected


def test_cdk_function_url_origin_loads() -> None:
    domain = {"Fn::Select": [2, {"Fn::Split": ["/", FUNCTION_URL]}]}
    origins = [
        {
            "Id": "StackDistOrigin1",
            "DomainName": domain,
            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
        }
    ]
    behavior = {
        "TargetOriginId": "StackDistOrigin1",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
    }
    config = load_config(_template({"Origins": origins, "DefaultCacheBehavior": behavior}, **URLS))
    assert config.origins[0].domain_name == "apifnurl1a2b.lambda-url.us-east-1.on.aws"


# -- 6. SAM Globals.Function for Node.js functions ----------------------------------------------

SAM = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    {globals}
Resources:
  EdgeFn:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      {own}
  Distribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: app
            DomainName: app.example.com
            CustomOriginConfig: {{OriginProtocolPolicy: https-only}}
        DefaultCacheBehavior:
          TargetOriginId: app
          ViewerProtocolPolicy: allow-all
          CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad
          LambdaFunctionAssociations:
            - {{EventType: origin-request, LambdaFunctionARN: !Ref EdgeFn.Version}}
"""
NL = "\n    "


@pytest.fixture
def sam_dir(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.js").write_text(
        "exports.handler = async (event) => event.Records[0].cf.request;\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("globals_", "own"),
    [
        pytest.param(["Runtime: nodejs20.x", "CodeUri: src/"], ["Handler: index.handler"],
                     id="runtime-and-code-uri"),
        pytest.param(["CodeUri: src/"], ["Runtime: nodejs20.x", "Handler: index.handler"],
                     id="code-uri"),
        pytest.param(["Runtime: nodejs20.x", "CodeUri: src/", "Handler: index.handler"],
                     ["Timeout: 5"], id="everything"),
        pytest.param(["Timeout: 5"],
                     ["Runtime: nodejs20.x", "CodeUri: src/", "Handler: index.handler"],
                     id="nothing"),
    ],
)  # fmt: skip
def test_sam_globals_apply_to_node_functions(
    sam_dir: Path, globals_: list[str], own: list[str]
) -> None:
    path = sam_dir / "template.yaml"
    path.write_text(SAM.format(globals=NL.join(globals_), own="\n      ".join(own)))
    trigger = load_config(path).default.trigger("origin-request")
    assert trigger is not None
    handler = trigger.handler
    try:
        assert isinstance(handler, NodeHandler)
        assert handler.file == sam_dir / "src" / "index.js"
    finally:
        if isinstance(handler, NodeHandler):
            handler.close()


@pytest.mark.parametrize(
    ("globals_", "own", "field"),
    [
        pytest.param(["CodeUri: src/"], ["Runtime: nodejs20.x", "Handler: missing.handler"],
                     "Resources.EdgeFn.Properties.Handler", id="on-the-function"),
        pytest.param(["Handler: missing.handler"], ["Runtime: nodejs20.x"],
                     "Globals.Function.Handler", id="in-globals"),
        pytest.param(["Runtime: nodejs20.x"], ["CodeUri: src/"],
                     "Resources.EdgeFn.Properties.Handler", id="none"),
    ],
)  # fmt: skip
def test_sam_node_handler_errors_name_the_source(
    sam_dir: Path, globals_: list[str], own: list[str], field: str
) -> None:
    path = sam_dir / "template.yaml"
    path.write_text(SAM.format(globals=NL.join(globals_), own="\n      ".join(own)))
    assert _raises(load_config, path).field == field


# -- 8. legacy TTLs: defaults the user did not write are raised (caching.md §1.3) ---------------

BEHAVIOR = f"{DC}.DefaultCacheBehavior"


@pytest.mark.parametrize(
    ("ttls", "expected"),
    [
        pytest.param({}, (0, 86400, 31536000), id="defaults"),
        pytest.param({"MinTTL": 172800}, (172800, 172800, 31536000), id="min-raises-default"),
        pytest.param({"DefaultTTL": 63072000}, (0, 63072000, 63072000), id="default-raises-max"),
        pytest.param({"MinTTL": 40000000}, (40000000, 40000000, 40000000), id="min-raises-both"),
        pytest.param({"MinTTL": 5, "MaxTTL": 60, "DefaultTTL": 10}, (5, 10, 60), id="all"),
    ],
)
def test_legacy_ttl_defaults_are_raised(ttls: dict[str, int], expected: tuple[int, ...]) -> None:
    cache = load_config(_legacy({}, **ttls)).default.cache
    assert (cache.min_ttl, cache.default_ttl, cache.max_ttl) == expected


@pytest.mark.parametrize(
    ("ttls", "field"),
    [
        pytest.param({"MinTTL": 100, "DefaultTTL": 50}, "DefaultTTL", id="default-below-min"),
        pytest.param({"DefaultTTL": 100, "MaxTTL": 50}, "DefaultTTL", id="default-above-max"),
        pytest.param({"MinTTL": 100, "MaxTTL": 50}, "MaxTTL", id="max-below-min"),
        pytest.param({"MaxTTL": 3600}, "MaxTTL", id="max-below-default-default"),
    ],
)
def test_legacy_ttls_that_contradict_name_the_written_field(
    ttls: dict[str, int], field: str
) -> None:
    assert _raises(load_config, _legacy({}, **ttls)).field == f"{BEHAVIOR}.{field}"


# -- 9, 10. malformed intrinsics and undefined conditions are ConfigurationErrors ---------------

MALFORMED: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
    "Mappings": {"Map": {"k": {"k": "v"}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "OneOperand": {"Fn::Equals": [{"Ref": "Stage"}]},
        "EmptyNot": {"Fn::Not": []},
        "Undefined": {"Fn::Not": [{"Condition": "Nope"}]},
    },
    "Resources": {},
}


@pytest.mark.parametrize(
    ("expr", "field", "value"),
    [
        pytest.param({"Fn::If": ["OneOperand", "a", "b"]}, "Conditions.OneOperand", None,
                     id="equals-one-operand"),
        pytest.param({"Fn::If": ["EmptyNot", "a", "b"]}, "Conditions.EmptyNot", None,
                     id="not-empty"),
        pytest.param({"Fn::If": ["Undefined", "a", "b"]}, "Conditions.Undefined", "Nope",
                     id="condition-names-undefined"),
        pytest.param({"Fn::If": ["IsProdd", "a", "b"]}, "X.F", "IsProdd", id="if-undefined"),
        pytest.param({"Condition": "Nope"}, "X.F", "Nope", id="condition-undefined"),
        pytest.param({"Fn::Equals": ["a"]}, "X.F", None, id="equals"),
        pytest.param({"Fn::Not": [True, False]}, "X.F", None, id="not-two"),
        pytest.param({"Fn::Split": ["", "a.example.com"]}, "X.F", None, id="split-empty"),
        pytest.param({"Fn::FindInMap": [["Map"], "k", "k"]}, "X.F", None, id="map-list-name"),
        pytest.param({"Fn::FindInMap": ["Map", {"a": 1}, "k"]}, "X.F", None, id="map-dict-key"),
        pytest.param({"Fn::Sub": ["${L}", {"L": ["a", "b"]}]}, "X.F", None, id="sub-list"),
        pytest.param({"Fn::Join": [",", "ab"]}, "X.F", None, id="join-not-a-list"),
        pytest.param({"Fn::Join": [",", [["a"]]]}, "X.F", None, id="join-nested-list"),
        pytest.param({"Ref": ["x"]}, "X.F", None, id="ref-list"),
        pytest.param({"Fn::Base64": ["a"]}, "X.F", None, id="base64-list"),
    ],
)  # fmt: skip
def test_malformed_intrinsics(expr: Any, field: str, value: Any) -> None:
    error = _raises(TemplateResolver(MALFORMED).value, expr, "X.F")
    assert error.field == field
    if value is not None:
        assert error.value == value


INTRINSICS = (
    "Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::If",
    "Fn::ImportValue", "Fn::FindInMap", "Fn::Split", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr",
    "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Transform", "Fn::Length",
    "Fn::ToJsonString",
)  # fmt: skip
ODD_ARGS: list[Any] = [
    None, "", "x", 0, -1, True, 1.5, [], {}, [None], [1], ["a", "b"], ["a", "b", "c"], [[], []],
    [{}, {}], [0, []], ["", ""], [["Map"], "k", "k"], [{"a": 1}, [1], 2], {"a": 1}, [NO_VALUE],
    {"Ref": "Nope"}, ["IsProdd", "a", "b"], [{"Fn::Not": []}, "a"], [[1, 2], [3]],
]  # fmt: skip


@pytest.mark.parametrize("name", INTRINSICS)
def test_intrinsics_never_crash(name: str) -> None:
    """A fuzz of argument shapes at an origin's DomainName: the template loads, or a
    ConfigurationError names the field (or the condition), nothing else."""
    for args in ODD_ARGS:
        origin = {
            "Id": "app",
            "DomainName": {name: args},
            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
        }
        try:
            load_config(_template({"Origins": [origin]}, **MALFORMED))
        except ConfigurationError as exc:
            assert exc.field in (f"{CFN}.Origins[0].DomainName", "Conditions.EmptyNot"), args


FUNCTIONS: dict[str, Any] = {
    "Resources": {
        "Rewrite": {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": "rewrite",
                "FunctionCode": "function handler(event) { return event.request; }",
                "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-2.0"},
            },
        },
        "EdgeFn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Runtime": "nodejs20.x", "Handler": "index.handler"},
        },
    }
}
BAD_GETATT = {"Fn::GetAtt": ["a", "b", "c"]}
BAD_SUB = {"Fn::Sub": [["x"], {}]}


@pytest.mark.parametrize("bad", [BAD_GETATT, BAD_SUB], ids=["getatt", "sub"])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        pytest.param(("FunctionAssociations", 0, "FunctionARN"),
                     f"{CFN}.DefaultCacheBehavior.FunctionAssociations[0].FunctionARN", id="cff"),
        pytest.param(("LambdaFunctionAssociations", 0, "LambdaFunctionARN"),
                     f"{CFN}.DefaultCacheBehavior.LambdaFunctionAssociations[0]"
                     ".LambdaFunctionARN", id="lambda"),
        pytest.param(("CachePolicyId",), f"{CFN}.DefaultCacheBehavior.CachePolicyId", id="policy"),
        pytest.param(("Rewrite", "Name"), "Resources.Rewrite.Properties.Name", id="cff-name"),
        pytest.param(("EdgeFn", "Runtime"), "Resources.EdgeFn.Properties.Runtime",
                     id="lambda-runtime"),
    ],
)  # fmt: skip
def test_malformed_intrinsics_in_functions_are_named(
    where: tuple[Any, ...], field: str, bad: Any
) -> None:
    behavior = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
        "FunctionAssociations": [
            {
                "EventType": "viewer-request",
                "FunctionARN": {"Fn::GetAtt": ["Rewrite", "FunctionARN"]},
            }
        ],
        "LambdaFunctionAssociations": [
            {"EventType": "origin-request", "LambdaFunctionARN": {"Fn::GetAtt": ["EdgeFn", "Arn"]}}
        ],
    }
    template = _template({"DefaultCacheBehavior": behavior}, **FUNCTIONS)
    holder: Any = behavior
    if where[0] in FUNCTIONS["Resources"]:
        holder = template["Resources"][where[0]]["Properties"]
        where = where[1:]
    for key in where[:-1]:
        holder = holder[key]
    holder[where[-1]] = bad
    assert _raises(load_config, template, handlers={"EdgeFn": _pass}).field == field


def test_malformed_condition_in_a_template() -> None:
    behavior = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": {"Fn::If": ["OneOperand", CACHING_OPTIMIZED, CACHING_DISABLED]},
    }
    error = _raises(load_config, _template({"DefaultCacheBehavior": behavior}, **MALFORMED))
    assert error.field == "Conditions.OneOperand"


@pytest.mark.parametrize(
    ("where", "field"),
    [
        pytest.param("CachePolicyId", f"{CFN}.DefaultCacheBehavior.CachePolicyId", id="fn-if"),
        pytest.param("Condition", "Resources.Distribution.Condition", id="resource-condition"),
    ],
)
def test_undefined_condition_in_a_template(where: str, field: str) -> None:
    template = _template(**MALFORMED)
    if where == "Condition":
        template["Resources"]["Distribution"]["Condition"] = "IsProdd"
    else:
        dc = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
        dc["DefaultCacheBehavior"]["CachePolicyId"] = {
            "Fn::If": ["IsProdd", CACHING_OPTIMIZED, CACHING_DISABLED]
        }
    error = _raises(load_config, template)
    assert (error.field, error.value) == (field, "IsProdd")


# -- 11. a list item removed by AWS::NoValue is dropped -------------------------------------------

REMOVED = {"Fn::If": ["IsDev", "dev", NO_VALUE]}
NO_VALUES: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
    "Conditions": {"IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}},
    "Resources": {},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param({"Fn::Join": [".", [REMOVED, "app", "com"]]}, "app.com", id="join"),
        pytest.param({"Fn::Select": [0, [REMOVED, "app"]]}, "app", id="select"),
        pytest.param({"Fn::Length": [REMOVED, "app"]}, 1, id="length"),
        pytest.param({"Fn::Join": ["", ["a", NO_VALUE, "b"]]}, "ab", id="join-no-value"),
    ],
)
@pytest.mark.parametrize("cleaned", [True, False], ids=["cleaned", "raw"])
def test_no_value_items_are_dropped(expr: Any, expected: Any, cleaned: bool) -> None:
    resolver = TemplateResolver(NO_VALUES)
    raw = resolver.clean(expr) if cleaned else expr
    assert resolver.value(raw, "X.F") == expected


def test_no_value_in_a_joined_domain() -> None:
    domain = {"Fn::Join": [".", [REMOVED, "app", "example", "com"]]}
    origins = [
        {
            "Id": "app",
            "DomainName": domain,
            "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"},
        }
    ]
    config = load_config(_template({"Origins": origins}, **NO_VALUES))
    assert config.origins[0].domain_name == "app.example.com"


# -- 12. an origin group cannot be a member of another group --------------------------------------


def test_group_member_that_is_a_group() -> None:
    def group(gid: str, a: str, b: str) -> dict[str, Any]:
        return {
            "Id": gid,
            "FailoverCriteria": {"StatusCodes": {"Quantity": 1, "Items": [500]}},
            "Members": {"Quantity": 2, "Items": [{"OriginId": a}, {"OriginId": b}]},
        }

    doc = _distribution(
        {"TargetOriginId": "g2", "CachePolicyId": CACHING_DISABLED},
        Origins={"Quantity": 3, "Items": [_api_origin(x) for x in "abc"]},
        OriginGroups={"Quantity": 2, "Items": [group("g1", "a", "b"), group("g2", "g1", "c")]},
    )
    error = _raises(load_config, doc)
    assert error.field == f"{DC}.OriginGroups.Items[1].Members.Items[0].OriginId"
    assert error.value == "g1"


# -- 13. file encodings ---------------------------------------------------------------------------

_DC = {
    "Comment": "café",
    "Origins": [{"Id": "app", "DomainName": "app.example.com"}],
    "DefaultCacheBehavior": {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
    },
}
JSON_DOC = json.dumps({"DistributionConfig": _DC}, ensure_ascii=False)
#: JSON is YAML: the same distribution as a template
YAML_DOC = json.dumps(_template(_DC), ensure_ascii=False)


@pytest.mark.parametrize(
    ("name", "text", "encoding"),
    [
        pytest.param("d.json", JSON_DOC, "utf-8", id="utf-8"),
        pytest.param("d.json", JSON_DOC, "utf-8-sig", id="utf-8-bom"),
        pytest.param("d.json", JSON_DOC, "utf-16", id="utf-16-bom"),
        pytest.param("d.json", "\ufeff" + JSON_DOC, "utf-16-be", id="utf-16-be-bom"),
        pytest.param("d.json", JSON_DOC, "utf-32", id="utf-32-bom"),
        pytest.param("t.yaml", YAML_DOC, "utf-8-sig", id="yaml-utf-8-bom"),
        pytest.param("t.yaml", YAML_DOC, "utf-16", id="yaml-utf-16-bom"),
        pytest.param("c.toml", '[settings]\nexecution_error_status = 500\n', "utf-8-sig",
                     id="toml-utf-8-bom"),
    ],
)  # fmt: skip
def test_encodings_load(tmp_path: Path, name: str, text: str, encoding: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    assert load_config(path) is not None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(JSON_DOC.encode("latin-1"), id="latin-1"),
        pytest.param(JSON_DOC.encode("utf-16-le"), id="utf-16-without-bom"),
        pytest.param(b"\xff\xfe" + b"{\x00\x00\xd8", id="utf-16-broken"),
    ],
)
def test_undecodable_files_name_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(data)
    error = _raises(load_config, path)
    assert error.field == str(path)


# -- Behavior's policies by managed name; a TOML trigger table mixing two kinds ----------------


def test_behavior_takes_managed_policy_names() -> None:
    behavior = Behavior(cache="CachingOptimized", origin_request_policy="AllViewer")  # type: ignore[arg-type]
    assert behavior.cache.name == "CachingOptimized"
    assert behavior.origin_request_policy is not None
    assert behavior.origin_request_policy.headers == "allViewer"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"cache": "NoSuchPolicy"}, "Behavior('*').cache", id="unknown-cache"),
        pytest.param({"cache": 42}, "Behavior('*').cache", id="cache-int"),
        pytest.param(
            {"origin_request_policy": "NoSuchPolicy"},
            "Behavior('*').origin_request_policy",
            id="unknown-orp",
        ),
        pytest.param(
            {"origin_request_policy": 42}, "Behavior('*').origin_request_policy", id="orp-int"
        ),
    ],
)
def test_behavior_policies_refused_with_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Behavior(**fields)
    assert caught.value.field == field


JS = Path(__file__).parent / "fixtures" / "js"


@pytest.mark.parametrize(
    ("table", "field"),
    [
        pytest.param(
            f'{{ cloudfront_function = "{JS}/functions/add-index.js", handler = "m:f" }}',
            "default.viewer_request.handler",
            id="cff-and-handler",
        ),
        pytest.param(
            f'{{ cloudfront_function = "{JS}/functions/add-index.js", root = "edge" }}',
            "default.viewer_request.root",
            id="cff-and-root",
        ),
        pytest.param(
            '{ handler = "index.handler", runtime = "nodejs20.x", key_value_store = "k.json" }',
            "default.viewer_request.key_value_store",
            id="node-and-kvs",
        ),
    ],
)
def test_toml_trigger_mixing_two_kinds_is_refused(tmp_path: Path, table: str, field: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(f"[default]\nviewer_request = {table}\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert caught.value.field == field


@pytest.mark.parametrize("runtime", ["nodejs16.x", "nodejsXYZ", "python3.12"])
def test_toml_node_runtime_is_named_at_its_field(tmp_path: Path, runtime: str) -> None:
    path = tmp_path / "edge.toml"
    table = f'{{ handler = "index.handler", runtime = "{runtime}" }}'
    path.write_text(f"[default]\norigin_response = {table}\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert caught.value.field == "default.origin_response.runtime"
    assert "nodejs20.x" in str(caught.value)


_FN = "arn:aws:lambda:us-east-1:123456789012:function:auth"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        pytest.param(f"{_FN}:$LATEST", "numbered function version", id="latest"),
        pytest.param(f"{_FN}:live", "numbered function version", id="alias"),
        pytest.param(_FN, "numbered function version", id="no-version"),
        pytest.param(
            "arn:aws:lambda:eu-west-1:123456789012:function:auth:7", "us-east-1", id="region"
        ),
    ],
)
@pytest.mark.parametrize("shape", ["distribution-config", "template"])
def test_a_lambda_arn_cloudfront_refuses_fails_at_load(arn: str, expected: str, shape: str) -> None:
    """lambda-edge.md §3.4, §5.6: CloudFront refuses an association that is not a numbered
    version of a us-east-1 function (InvalidLambdaFunctionAssociation); they all loaded."""
    association = {"EventType": "viewer-request", "LambdaFunctionARN": arn}
    behavior = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
    }
    if shape == "template":
        doc: dict[str, Any] = _template(
            {"DefaultCacheBehavior": {**behavior, "LambdaFunctionAssociations": [association]}}
        )
    else:
        items = {"Quantity": 1, "Items": [association]}
        doc = _distribution({**behavior, "LambdaFunctionAssociations": items})
    with pytest.raises(ConfigurationError, match=expected) as info:
        load_config(doc, handlers={"auth": _pass})
    assert info.value.field.endswith("LambdaFunctionAssociations.Items[0].LambdaFunctionARN") or (
        info.value.field.endswith("LambdaFunctionAssociations[0].LambdaFunctionARN")
    )


def test_a_numbered_version_arn_loads() -> None:
    association = {"EventType": "viewer-request", "LambdaFunctionARN": f"{_FN}:7"}
    behavior = {
        "TargetOriginId": "app",
        "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": CACHING_DISABLED,
        "LambdaFunctionAssociations": {"Quantity": 1, "Items": [association]},
    }
    assert load_config(_distribution(behavior), handlers={"auth": _pass}).default.viewer_request


@pytest.mark.parametrize(
    ("items", "field", "expected"),
    [
        pytest.param(
            [{"ErrorCode": 304, "ErrorCachingMinTTL": 10}],
            "Items[0].ErrorCode",
            "400-599",
            id="304",
        ),
        pytest.param(
            [{"ErrorCode": 404, "ResponsePagePath": "/404.html", "ResponseCode": "101"}],
            "Items[0].ResponseCode",
            "200-599",
            id="response-101",
        ),
        pytest.param(
            [{"ErrorCode": 404, "ErrorCachingMinTTL": 10}, {"ErrorCode": 404}],
            "Items[1].ErrorCode",
            "one CustomErrorResponse per code",
            id="duplicate",
        ),
    ],
)
def test_custom_error_responses_cloudfront_refuses_fail_at_load(
    items: list[dict[str, Any]], field: str, expected: str
) -> None:
    """One CustomErrorResponse per ErrorCode (two loaded, and the second was dead), codes in
    range."""
    doc = _distribution(
        {"CachePolicyId": CACHING_DISABLED},
        CustomErrorResponses={"Quantity": len(items), "Items": items},
    )
    with pytest.raises(ConfigurationError, match=expected) as info:
        load_config(doc)
    assert info.value.field.endswith(f"CustomErrorResponses.{field}")


def test_custom_error_responses_cloudfront_accepts_load() -> None:
    items = [
        {"ErrorCode": 404, "ResponsePagePath": "/404.html", "ResponseCode": "404"},
        {"ErrorCode": 503, "ResponsePagePath": "", "ResponseCode": "", "ErrorCachingMinTTL": 0},
        {"ErrorCode": 500, "ErrorCachingMinTTL": 30},
    ]
    doc = _distribution(
        {"CachePolicyId": CACHING_DISABLED}, CustomErrorResponses={"Quantity": 3, "Items": items}
    )
    codes = [e.error_code for e in load_config(doc).custom_error_responses]
    assert codes == [404, 503, 500]


_TOML_ORIGINS = """
[[origins]]
id = "a"
domain_name = "a.example.com"

[[origins]]
id = "b"
domain_name = "b.example.com"
"""


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('[[origin_groups]]\nid = "g"\nmembers = ["a", "zz"]\n', "origin_groups[0].members"),
        ('[[origin_groups]]\nid = "a"\nmembers = ["a", "b"]\n', "origin_groups[0].id"),
        (
            "[[custom_error_responses]]\nerror_code = 404\n"
            "[[custom_error_responses]]\nerror_code = 404\n",
            "custom_error_responses[1].error_code",
        ),
    ],
    ids=["unknown-member", "group-id-of-an-origin", "two-for-one-code"],
)
def test_toml_distribution_errors_name_the_tomls_path(
    tmp_path: Path, extra: str, field: str
) -> None:
    """They were all reported at the field 'distribution' (edge-middleware check too)."""
    path = tmp_path / "edge.toml"
    path.write_text(_TOML_ORIGINS + extra)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert caught.value.field == field
