"""Configuring JavaScript functions: Behavior, our TOML format, DistributionConfig
``FunctionAssociations``, CloudFormation ``AWS::CloudFront::Function`` and SAM ``nodejs*``
functions, and the rule that a behavior cannot have a CloudFront Function and a Lambda@Edge
function on the same event type."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    load_config,
)
from edge_middleware.js import CloudFrontFunction, NodeHandler

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

if shutil.which("node") is None:  # pragma: no cover - .ci/run installs Debian's nodejs
    pytest.skip("needs node (apt-get install nodejs)", allow_module_level=True)

FIXTURES = Path(__file__).parent / "fixtures" / "js"
ADD_INDEX = FIXTURES / "functions" / "add-index.js"
LAMBDA = FIXTURES / "lambda"
CF_ARN = "arn:aws:cloudfront::123456789012:function/add-index"
L_ARN = "arn:aws:lambda:us-east-1:123456789012:function:misbehave:1"

_opened: list[Any] = []


@pytest.fixture(autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    while _opened:
        obj = _opened.pop()
        if hasattr(obj, "close"):
            obj.close()


def _handlers(cfg: EdgeConfig) -> dict[str, Any]:
    """slot -> handler object of the default behavior (closed after the test)."""
    out = {}
    for slot in ("viewer_request", "origin_request", "origin_response", "viewer_response"):
        trig = getattr(cfg.default, slot)
        if trig is not None:
            out[slot] = trig.handler
            _opened.append(trig.handler)
    return out


def _distribution(behavior_extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "DistributionConfig": {
            "CallerReference": "js",
            "Enabled": True,
            "Comment": "",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "app",
                        "DomainName": "app.example.com",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "app",
                "ViewerProtocolPolicy": "allow-all",
                "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",  # CachingDisabled
                **behavior_extra,
            },
        }
    }


def _functions(*events: str) -> dict[str, Any]:
    items = [{"FunctionARN": CF_ARN, "EventType": e} for e in events]
    return {"FunctionAssociations": {"Quantity": len(items), "Items": items}}


def _lambdas(*events: str) -> dict[str, Any]:
    items = [{"LambdaFunctionARN": L_ARN, "EventType": e, "IncludeBody": False} for e in events]
    return {"LambdaFunctionAssociations": {"Quantity": len(items), "Items": items}}


HANDLERS = {"add-index": str(ADD_INDEX), "misbehave": str(LAMBDA / "misbehave.handler")}


def test_distribution_function_associations() -> None:
    doc = _distribution({**_functions("viewer-request"), **_lambdas("origin-request")})
    cfg = load_config(doc, handlers=HANDLERS)
    got = _handlers(cfg)
    assert isinstance(got["viewer_request"], CloudFrontFunction)
    assert isinstance(got["origin_request"], NodeHandler)
    assert cfg.default.viewer_request is not None
    assert cfg.default.viewer_request.display_name == CF_ARN


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        pytest.param(
            {**_functions("viewer-request"), **_lambdas("viewer-request")},
            "cannot have a CloudFront Function and a Lambda@Edge function on the same event",
            id="function-and-lambda-on-viewer-request",
        ),
        pytest.param(_functions("origin-request"), "EventType", id="function-on-origin-event"),
        pytest.param(
            _functions("viewer-response", "viewer-response"), "one function per event type",
            id="two-functions-one-event",
        ),
    ],
)  # fmt: skip
def test_distribution_illegal_combinations(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        load_config(_distribution(extra), handlers=HANDLERS)


def test_behavior_refuses_a_cloudfront_function_on_an_origin_event() -> None:
    fn = CloudFrontFunction(ADD_INDEX)
    _opened.append(fn)
    with pytest.raises(ConfigurationError, match="CloudFront Function runs on viewer-request"):
        Behavior(origin_request=fn)


def test_toml_js_triggers() -> None:
    doc = {
        "default": {
            "viewer_request": {
                "cloudfront_function": str(ADD_INDEX),
                "runtime": "cloudfront-js-1.0",
                "name": "add-index",
            },
            "origin_response": {
                "handler": "misbehave.handler",
                "runtime": "nodejs20.x",
                "root": str(LAMBDA),
            },
        }
    }
    got = _handlers(load_config(doc))
    assert isinstance(got["viewer_request"], CloudFrontFunction)
    assert got["viewer_request"].runtime == "cloudfront-js-1.0"
    assert isinstance(got["origin_response"], NodeHandler)


def test_toml_js_trigger_needs_a_runtime() -> None:
    doc = {"default": {"viewer_request": {"handler": "misbehave.handler", "root": str(LAMBDA)}}}
    with pytest.raises(ConfigurationError, match="runtime"):
        load_config(doc)


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Rewrite": {
            "Type": "AWS::CloudFront::Function",
            "Properties": {
                "Name": "spa-rewrite",
                "AutoPublish": True,
                "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-2.0"},
                "FunctionCode": (
                    "function handler(event) {\n"
                    "  var r = event.request;\n"
                    "  if (!r.uri.includes('.')) r.uri = '/index.html';\n"
                    "  return r;\n"
                    "}\n"
                ),
            },
        },
        "Tagger": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Runtime": "nodejs20.x",
                "Handler": "misbehave.handler",
                "CodeUri": str(LAMBDA),
                "AutoPublishAlias": "live",
            },
        },
        "Cdn": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {
                "DistributionConfig": {
                    "Enabled": True,
                    "Origins": [
                        {
                            "Id": "app",
                            "DomainName": "app.example.com",
                            "CustomOriginConfig": {
                                "HTTPPort": 80,
                                "HTTPSPort": 443,
                                "OriginProtocolPolicy": "https-only",
                            },
                        }
                    ],
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "app",
                        "ViewerProtocolPolicy": "allow-all",
                        "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                        "FunctionAssociations": [
                            {
                                "EventType": "viewer-request",
                                "FunctionARN": {"Fn::GetAtt": ["Rewrite", "FunctionARN"]},
                            }
                        ],
                        "LambdaFunctionAssociations": [
                            {
                                "EventType": "origin-request",
                                "LambdaFunctionARN": {"Ref": "Tagger.Version"},
                            }
                        ],
                    },
                }
            },
        },
    }
}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_cloudformation_function_and_sam_nodejs_run_end_to_end(kind: str) -> None:
    cfg = load_config(TEMPLATE)
    got = _handlers(cfg)
    assert isinstance(got["viewer_request"], CloudFrontFunction)
    assert isinstance(got["origin_request"], NodeHandler)
    log: list[dict[str, Any]] = []
    if kind == "asgi":
        client = TestClient(EdgeMiddleware(make_starlette_app(log), config=cfg))
        r = client.get("/app/route")
        status, seen = r.status_code, r.json()
    else:
        app = make_flask_app(log)
        resp = Client(EdgeWSGIMiddleware(app.wsgi_app, config=cfg)).get("/app/route")
        status, seen = resp.status_code, resp.get_json()
    assert status == 200
    assert seen["path"] == "/index.html"  # the CloudFront Function
    assert any(k.lower() == "x-worker-pid" for k, _ in seen["headers"])  # the Node.js function


def test_check_reports_a_function_and_a_lambda_on_one_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge_middleware.devtools.cli import main

    path = tmp_path / "distribution.json"
    doc = _distribution({**_functions("viewer-request"), **_lambdas("viewer-request")})
    path.write_text(json.dumps(doc))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "FunctionAssociations" in err and "same event type" in err


def test_serve_reload_watches_and_reloads_javascript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from edge_middleware.devtools.server import DevServer, ServeOptions

    (tmp_path / "js_reload_app.py").write_text(
        "from starlette.applications import Starlette\napp = Starlette()\n"
    )
    fn = tmp_path / "rewrite.js"
    fn.write_text("function handler(e) { e.request.uri = '/one'; return e.request; }")
    (tmp_path / "edge.toml").write_text(
        '[default]\nviewer_request = { cloudfront_function = "rewrite.js" }\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    server = DevServer(
        ServeOptions("js_reload_app:app", config=str(tmp_path / "edge.toml"), inspector=False),
        out=io.StringIO(),
    )
    old = server.middleware.config.default.viewer_request
    assert old is not None
    _opened.append(old.handler)
    assert fn.resolve() in server.watched()
    fn.write_text("function handler(e) { e.request.uri = '/two'; return e.request; }")
    assert server.reload([fn.resolve()])
    new = server.middleware.config.default.viewer_request
    assert new is not None
    _opened.append(new.handler)
    assert "/two" in new.handler.code


def test_toml_key_value_store_file_next_to_the_config(tmp_path: Path) -> None:
    fn = tmp_path / "functions" / "kvs.js"
    fn.parent.mkdir()
    fn.write_text((FIXTURES / "functions" / "kvs-redirect.js").read_text())
    (tmp_path / "redirects.json").write_text(
        json.dumps({"data": [{"key": "/old", "value": "/new"}]})  # AWS's import format
    )
    (tmp_path / "edge.toml").write_text(
        '[default]\nviewer_request = { cloudfront_function = "functions/kvs.js", '
        'key_value_store = "redirects.json" }\n'
    )
    cfg = load_config(tmp_path / "edge.toml")
    fn_obj = _handlers(cfg)["viewer_request"]
    from edge_middleware.testing import EventBuilder

    out = fn_obj(EventBuilder().viewer_request("/old"), None)
    assert (out["status"], out["headers"]["location"][0]["value"]) == ("302", "/new")
