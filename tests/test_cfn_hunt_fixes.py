"""CloudFormation templates as CDK and people write them (a hunt's findings): a resource's
``Condition`` decides whether it exists, a policy id may come from a nested stack's output,
and a template's own CloudFront Function is found by its ARN however it is written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import CachePolicy, ConfigurationError, load_config
from tests.support import doors
from tests.support.devserver import serve
from tests.support.servers import wait_until

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def _dist(domain: str = "app.example.com", **behavior: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudFront::Distribution",
        "Properties": {
            "DistributionConfig": {
                "Enabled": True,
                "Origins": [
                    {
                        "Id": "o",
                        "DomainName": domain,
                        "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"},
                    }
                ],
                "DefaultCacheBehavior": {
                    "TargetOriginId": "o",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": CACHING_OPTIMIZED,
                    **behavior,
                },
            }
        },
    }


def _gated(env: str) -> dict[str, Any]:
    return {
        "Parameters": {"Env": {"Type": "String", "Default": env}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
        },
        "Resources": {
            "ProdDist": {**_dist("prod.example.com"), "Condition": "IsProd"},
            "DevDist": {**_dist("dev.example.com"), "Condition": "IsDev"},
        },
    }


@pytest.mark.parametrize(
    ("env", "domain"), [("prod", "prod.example.com"), ("dev", "dev.example.com")]
)
def test_the_distribution_whose_condition_holds_is_the_one(env: str, domain: str) -> None:
    """Two distributions under complementary conditions were "two distributions"."""
    config = load_config(_gated(env))
    assert config.origins[0].domain_name == domain


def test_a_distribution_whose_condition_is_false_is_refused_by_logical_id() -> None:
    with pytest.raises(ConfigurationError, match="Condition IsDev is false") as caught:
        load_config(_gated("prod"), logical_id="DevDist")
    assert caught.value.field == "logical_id"
    assert load_config(_gated("prod"), logical_id="ProdDist").origins[0].domain_name == (
        "prod.example.com"
    )


def test_no_distribution_whose_condition_holds_is_refused() -> None:
    doc = _gated("staging")
    with pytest.raises(ConfigurationError, match="whose Condition holds"):
        load_config(doc)


def test_a_reference_to_a_resource_that_is_not_created_is_refused() -> None:
    """CloudFormation refuses it ("Unresolved resource dependencies"); it loaded."""
    doc = _gated("prod")
    del doc["Resources"]["DevDist"]
    doc["Resources"]["DevPolicy"] = {
        "Type": "AWS::CloudFront::CachePolicy",
        "Condition": "IsDev",
        "Properties": {
            "CachePolicyConfig": {
                "Name": "dev",
                "MinTTL": 0,
                "DefaultTTL": 5,
                "MaxTTL": 5,
                "ParametersInCacheKeyAndForwardedToOrigin": {
                    "EnableAcceptEncodingGzip": False,
                    "CookiesConfig": {"CookieBehavior": "none"},
                    "HeadersConfig": {"HeaderBehavior": "none"},
                    "QueryStringsConfig": {"QueryStringBehavior": "none"},
                },
            }
        },
    }
    behavior = doc["Resources"]["ProdDist"]["Properties"]["DistributionConfig"]
    behavior["DefaultCacheBehavior"]["CachePolicyId"] = {"Ref": "DevPolicy"}
    with pytest.raises(ConfigurationError, match="Condition IsDev is false") as caught:
        load_config(doc)
    assert caught.value.field.endswith("DefaultCacheBehavior.CachePolicyId")  # (it said "Ref")
    # chosen with Fn::If, the branch not taken is never resolved
    behavior["DefaultCacheBehavior"]["CachePolicyId"] = {
        "Fn::If": ["IsDev", {"Ref": "DevPolicy"}, CACHING_OPTIMIZED]
    }
    assert load_config(doc).default.cache.default_ttl == 86400


def test_a_policy_id_from_a_nested_stacks_output_is_looked_up_in_policies() -> None:
    """CDK's NestedStack writes !GetAtt Nested.Outputs.X: it was refused, whatever
    ``policies=`` held."""
    mine = CachePolicy(0, 60, 600)
    doc: dict[str, Any] = {
        "Resources": {
            "Nested": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "https://example.com/t.json"},
            },
            "Dist": _dist(),
        }
    }
    behavior = doc["Resources"]["Dist"]["Properties"]["DistributionConfig"]
    behavior["DefaultCacheBehavior"]["CachePolicyId"] = {
        "Fn::GetAtt": ["Nested", "Outputs.CachePolicyId"]
    }
    config = load_config(copy.deepcopy(doc), policies={"Nested.Outputs.CachePolicyId": mine})
    assert config.default.cache.default_ttl == 60
    with pytest.raises(ConfigurationError, match=r"Nested\.Outputs\.CachePolicyId"):
        load_config(doc)  # not given: refused, naming the id to give
    # a resource of another kind is still refused as before
    doc["Resources"]["Nested"]["Type"] = "AWS::S3::Bucket"
    with pytest.raises(ConfigurationError, match="a managed policy id or a AWS::CloudFront"):
        load_config(doc, policies={"Nested.Outputs.CachePolicyId": mine})


def _with_function(arn: Any, runtime: str = "cloudfront-js-2.0") -> dict[str, Any]:
    dist = _dist(FunctionAssociations=[{"EventType": "viewer-request", "FunctionARN": arn}])
    return {
        "Resources": {
            "Rewrite": {
                "Type": "AWS::CloudFront::Function",
                "Properties": {
                    "Name": "rw",
                    "AutoPublish": True,
                    "FunctionCode": "function handler(event) { return event.request; }",
                    "FunctionConfig": {"Comment": "c", "Runtime": runtime},
                },
            },
            "Dist": dist,
        }
    }


@pytest.mark.parametrize(
    "arn",
    [
        {"Fn::GetAtt": ["Rewrite", "FunctionARN"]},
        {"Fn::Sub": "arn:aws:cloudfront::${AWS::AccountId}:function/rw"},
        "arn:aws:cloudfront::123456789012:function/rw",
    ],
    ids=["getatt", "sub", "literal"],
)
def test_the_templates_own_function_is_found_by_its_arn_however_written(arn: Any) -> None:
    """Written out with !Sub (or literally) it asked for handlers=."""
    config = load_config(_with_function(arn))
    trigger = config.default.viewer_request
    assert trigger is not None
    assert "rw" in repr(trigger.handler) and "cloudfront-js-2.0" in repr(trigger.handler)


def test_a_bad_function_runtime_names_the_templates_field() -> None:
    """It named the internal CloudFrontFunction.runtime."""
    with pytest.raises(ConfigurationError) as caught:
        load_config(_with_function({"Fn::GetAtt": ["Rewrite", "FunctionARN"]}, "cloudfront-js-3.0"))
    assert caught.value.field == "Resources.Rewrite.Properties.FunctionConfig.Runtime"


#: a SAM template's distribution: one origin, the default behavior and what follows it
_SAM_DIST = """  Dist:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins: [{Id: app, DomainName: app.example.com,
                   CustomOriginConfig: {OriginProtocolPolicy: http-only}}]
        DefaultCacheBehavior:
          TargetOriginId: app
          ViewerProtocolPolicy: allow-all
          CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad
"""
_SAM = (
    """Transform: AWS::Serverless-2016-10-31
Resources:
  EdgeFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: edge.handler, Runtime: python3.12, AutoPublishAlias: live}
"""
    + _SAM_DIST
    + """          OriginRequestPolicyId: 216adef6-5c7f-47e4-b989-5492eafa07d3
          LambdaFunctionAssociations:
            - {EventType: origin-request, LambdaFunctionARN: !Ref EdgeFn.Version}
"""
)
_SAM_APP = """def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ.get("HTTP_X_V", "-").encode()]
"""


def _sam_handler(version: str) -> str:
    return (
        "def handler(event, context):\n"
        "    request = event['Records'][0]['cf']['request']\n"
        f"    request['headers']['x-v'] = [{{'key': 'X-V', 'value': '{version}'}}]\n"
        "    return request\n"
    )


_ONE_FUNCTION = (
    """Transform: AWS::Serverless-2016-10-31
Resources:
  FnA:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}
"""
    + _SAM_DIST
    + """          LambdaFunctionAssociations:
            - {EventType: viewer-request, LambdaFunctionARN: !GetAtt FnA.Arn}
"""
)

_TWO_FUNCTIONS = (
    _ONE_FUNCTION.replace("CodeUri: src/", "CodeUri: src_a/")
    + """        CacheBehaviors:
          - PathPattern: /b/*
            TargetOriginId: app
            ViewerProtocolPolicy: allow-all
            CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad
            LambdaFunctionAssociations:
              - {EventType: viewer-request, LambdaFunctionARN: !GetAtt FnB.Arn}
  FnB:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src_b/, Handler: app.handler, Runtime: python3.12}
"""
)

_APP = """import {helper}
def handler(event, context):
    return {{"status": "200", "body": {helper}.WHO}}
"""


def test_two_functions_with_a_helper_of_one_name_each_import_their_own(tmp_path: Path) -> None:
    """FnB's `import helper` got FnA's module (the first one imported, by its bare name)."""
    helper = f"helper_{tmp_path.name.replace('-', '_')}"  # (no other test's module)
    for fn in ("a", "b"):
        src = tmp_path / f"src_{fn}"
        src.mkdir()
        (src / f"{helper}.py").write_text(f"WHO = 'helper of function {fn.upper()}'\n")
        (src / "app.py").write_text(_APP.format(helper=helper))
    (tmp_path / "sam.yaml").write_text(_TWO_FUNCTIONS)
    from edge_middleware import EdgeWSGIMiddleware

    for _ in range(2):  # and again, as a reload builds it
        app = EdgeWSGIMiddleware(lambda e, s: [], config=str(tmp_path / "sam.yaml"))
        assert doors.call_wsgi(app, "GET", "/a/x")[2] == b"helper of function A"
        assert doors.call_wsgi(app, "GET", "/b/x")[2] == b"helper of function B"


@pytest.mark.slow
def test_serve_reload_picks_up_edits_of_a_template_function(tmp_path: Path) -> None:
    """A SAM function's module (CodeUri) was re-imported with importlib.reload, which cannot
    find it: "reload failed", and the old code kept running. And a failed load dropped the
    module, and with it the watch on its file: the fix of a syntax error was never picked up."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "edge.py").write_text(_sam_handler("one"))
    (tmp_path / "sam.yaml").write_text(_SAM)
    (tmp_path / "samapp.py").write_text(_SAM_APP)
    args = ("--config", "sam.yaml", "--reload", "--reload-interval", "0.1")
    with serve(tmp_path, "samapp:app", *args) as served:
        assert served.get("/").text == "one"
        (tmp_path / "src" / "edge.py").write_text(_sam_handler("two"))
        wait_until(lambda: served.get("/").text == "two", 15, "the edited function")
        assert "reload failed" not in served.stdout
        wait_until(lambda: "reloaded after a change to edge.py" in served.stdout)
        (tmp_path / "src" / "edge.py").write_text("def handler(event, context)\n")
        wait_until(lambda: "reload failed" in served.stdout, 15, "the reload error")
        assert served.get("/").text == "two"
        (tmp_path / "src" / "edge.py").write_text(_sam_handler("three"))
        wait_until(lambda: served.get("/").text == "three", 15, "the fixed function")


def test_only_a_functions_own_modules_are_imported_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed library imported by the function was imported again at every build
    (numpy cannot be: every second build and serve --reload failed); an app module of a name
    the function's code also has was given to the function (or the function's to the app)."""
    import sys

    tag = tmp_path.name.replace("-", "_")
    lib, config = f"installed_{tag}", f"config_{tag}"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{lib}.py").write_text("import itertools\nLOADS = next(itertools.count(1))\n")
    (site / f"{config}.py").write_text("WHO = 'the app'\n")
    monkeypatch.syspath_prepend(str(site))
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{config}.py").write_text("WHO = 'the function'\n")
    (src / "app.py").write_text(
        f"import {lib}, {config}\n"
        "def handler(event, context):\n"
        f"    return {{'status': '200', 'body': {config}.WHO + ' ' + str(id({lib}))}}\n"
    )
    (tmp_path / "sam.yaml").write_text(_ONE_FUNCTION)
    app_config = __import__(config)  # the app's, imported first
    from edge_middleware import EdgeWSGIMiddleware

    bodies = set()
    for _ in range(2):  # a second build (a reload, another test) imports the library once
        app = EdgeWSGIMiddleware(lambda e, s: [], config=str(tmp_path / "sam.yaml"))
        body = doors.call_wsgi(app, "GET", "/x")[2].decode()
        assert body.startswith("the function ")
        bodies.add(body.split()[-1])
    assert bodies == {str(id(sys.modules[lib]))}
    assert sys.modules[config] is app_config and app_config.WHO == "the app"


@pytest.mark.slow
def test_serve_reload_picks_up_an_edit_of_a_functions_helper(tmp_path: Path) -> None:
    """Only the handler's own file was watched: an edited helper beside it was not."""
    helper = f"helper_{tmp_path.name.replace('-', '_')}"
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{helper}.py").write_text("WHO = 'one'\n")
    (src / "app.py").write_text(_APP.format(helper=helper))
    (tmp_path / "sam.yaml").write_text(_ONE_FUNCTION)
    (tmp_path / "samapp.py").write_text(_SAM_APP)
    args = ("--config", "sam.yaml", "--reload", "--reload-interval", "0.1")
    with serve(tmp_path, "samapp:app", *args) as served:
        assert served.get("/").text == "one"
        (src / f"{helper}.py").write_text("WHO = 'two'\n")
        wait_until(lambda: served.get("/").text == "two", 15, "the edited helper")
        assert "reload failed" not in served.stdout
