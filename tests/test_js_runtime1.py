"""``cloudfront-js-1.0`` code is checked for syntax the 1.0 runtime does not have (at load,
with the construct and its line), and CloudFront Functions' 2 MB memory limit is enforced on
the mini-racer engine, through both front doors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from edge_middleware import (
    Behavior,
    CachePolicy,
    ConfigurationError,
    EdgeConfig,
    EdgeMiddleware,
    EdgeWSGIMiddleware,
    OriginRequestPolicy,
    load_config,
)
from edge_middleware.js import CloudFrontFunction
from edge_middleware.js.es51 import first_unsupported, tokenize
from edge_middleware.js.minirace import available

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    from frontdoor_apps import make_flask_app, make_starlette_app
except ImportError:  # pragma: no cover
    from tests.frontdoor_apps import make_flask_app, make_starlette_app

FUNCTIONS = Path(__file__).parent / "fixtures" / "js" / "functions"

# -- the tokenizer-level check -----------------------------------------------------------------
FINDINGS = [
    ("var x = 1;\nconst y = 2;", ("const declarations", 2)),
    ("var x;\n\nlet [a, b] = c;", ("let declarations", 3)),
    ("async function handler(e) { return e; }", ("async functions", 1)),
    ("var f = async (e) => e;", ("async functions", 1)),
    ("var f = async e => e;", ("async functions", 1)),
    ("function h(e) {\n  return await g(e);\n}", ("await", 2)),
    ("var a = b?.c;", ("optional chaining (?.)", 1)),
    ("var a = b ?? c;", ("the nullish coalescing operator (??)", 1)),
    ("a ||= 1;", ("logical assignment (||=)", 1)),
    ("class A {}", ("classes", 1)),
    ("import cf from 'cloudfront';", ("ES modules (import)", 1)),
    ("export function handler() {}", ("ES modules (export)", 1)),
    ("for (var k of list) {}", ("for...of loops", 1)),
    ("var {a} = b;", ("destructuring", 1)),
    ("function* g() {}", ("generator functions", 1)),
    ("var n = 10n;", ("BigInt literals", 1)),
    ("var t = `line1\nline2 ${ `inner ${1}` }\n`; const z = 1;", ("const declarations", 3)),
    ('var s = "it\'s"; var u = \'say "hi"\'; let x = 1;', ("let declarations", 1)),
    # after "i++" or "j--" a "/" divides (it is no regex that would hide the rest)
    ("var half = i++ / 2;\nconst n = half;", ("const declarations", 2)),
    ("var d = j-- / n; let m = d;", ("let declarations", 1)),
]
ACCEPTED = [
    # ES 5.1 and the documented additions: template literals, arrow functions, rest, **
    "var h = x => `${x ** 2}`; function f(a, ...rest) { return rest; }",
    # the words in strings, comments, templates and regular expressions are not code
    "var s = 'const x'; // let y = 1\n/* async function */\n"
    "var t = `a ${ {b: 'await x'}.b } const`;",
    "var r = /const[/]x/g.test(s); var d = a / b / c; var e = (a) / 2;",
    "var o = {class: 1, const: 2}; o.const = o.await; o.let = 1;",
    "var a = b ?.5 : 1;",  # a conditional, not ?.
    "for (var k in obj) {} var let_ = 1, async = 2; async(1);",
]


@pytest.mark.parametrize(("code", "found"), FINDINGS)
def test_constructs_1_0_does_not_have(code: str, found: tuple[str, int]) -> None:
    assert first_unsupported(code) == found


@pytest.mark.parametrize("code", ACCEPTED)
def test_1_0_code_passes(code: str) -> None:
    assert first_unsupported(code) is None


def test_tokenizer_keeps_lines_and_kinds() -> None:
    toks = tokenize("var a = `x${ {y: 1}.y }z`;\n/re\\/g/i.test('q') /* c */ // d\nb")
    assert [t.kind for t in toks[:4]] == ["name", "name", "punct", "template"]
    assert ("regex", "/re\\/g/i", 2) in [(t.kind, t.text, t.line) for t in toks]
    assert toks[-1] == ("name", "b", 3)
    assert tokenize("var s = 'unterminated") == [
        ("name", "var", 1),
        ("name", "s", 1),
        ("punct", "=", 1),
    ]


def test_the_shipped_1_0_functions_pass() -> None:
    for name in ("add-index.js", "redirect-by-country.js", "security-headers.js", "errors.js"):
        assert first_unsupported((FUNCTIONS / name).read_text()) is None, name
    root = Path(__file__).parent.parent
    for path in (
        root / "examples/site/functions/spa-rewrite.js",
        root / "benchmarks/js/rewrite.js",
    ):
        assert first_unsupported(path.read_text()) is None, path


# -- at load -----------------------------------------------------------------------------------
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

ASYNC_CODE = """function helper(x) { return x; }
async function handler(event) {
    return event.request;
}
"""


def test_1_0_function_with_2_0_syntax_is_refused_naming_construct_and_line() -> None:
    with pytest.raises(ConfigurationError) as err:
        CloudFrontFunction(ASYNC_CODE, code=True, runtime="cloudfront-js-1.0", name="rw")
    assert err.value.field == "CloudFrontFunction.source"
    assert err.value.value == "rw line 2: async functions"
    assert "cloudfront-js-2.0" in err.value.expected
    with pytest.raises(ConfigurationError, match=r"kvs-redirect line 2: ES modules \(import\)"):
        CloudFrontFunction(FUNCTIONS / "kvs-redirect.js", runtime="cloudfront-js-1.0")


@needs_node
def test_the_same_code_loads_on_2_0() -> None:
    fn = CloudFrontFunction(ASYNC_CODE, code=True, runtime="cloudfront-js-2.0")
    fn.close()


def test_template_1_0_function_is_refused_at_its_resource() -> None:
    template: dict[str, Any] = {
        "Resources": {
            "Rewrite": {
                "Type": "AWS::CloudFront::Function",
                "Properties": {
                    "Name": "rewrite",
                    "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-1.0"},
                    "FunctionCode": (
                        "var a = 1;\nlet b = 2;\nfunction handler(e) { return e.request; }"
                    ),
                },
            },
            "Cdn": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Origins": [{"Id": "app", "DomainName": "app.example.com"}],
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
                        },
                    }
                },
            },
        }
    }
    with pytest.raises(ConfigurationError) as err:
        load_config(template)
    assert err.value.field == "Resources.Rewrite.Properties.FunctionCode"
    assert err.value.value == "rewrite line 2: let declarations"


# -- the memory limit ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def memory_fn() -> Iterator[CloudFrontFunction]:
    if not available():  # pragma: no cover - the [js] extra
        pytest.skip("needs mini-racer (pip install edge-middleware[js])")
    fn = CloudFrontFunction(
        FUNCTIONS / "memory.js", runtime="cloudfront-js-1.0", engine="mini-racer"
    )
    yield fn
    fn.close()


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_memory_over_2_mb_fails_the_function(kind: str, memory_fn: CloudFrontFunction) -> None:
    config = EdgeConfig(
        default=Behavior(
            cache=CachePolicy(0, 0, 0),
            origin_request_policy=OriginRequestPolicy(headers="allViewer"),
            viewer_request=memory_fn,
        )
    )
    log: list[dict[str, Any]] = []

    def get(path: str) -> tuple[int, str]:
        if kind == "asgi":
            r = TestClient(EdgeMiddleware(make_starlette_app(log), config=config)).get(path)
            return r.status_code, r.headers.get("x-cache", "")
        app = make_flask_app(log).wsgi_app
        resp = Client(EdgeWSGIMiddleware(app, config=config)).get(path)
        resp.close()
        return resp.status_code, resp.headers.get("x-cache", "")

    assert get("/small?n=2000") == (200, "Miss from cloudfront")
    assert (
        dict(log[-1]["headers"]).get("X-Items", dict(log[-1]["headers"]).get("x-items")) == "2000"
    )
    assert get("/big?n=300000") == (503, "FunctionExecutionError from cloudfront")
    # the engine recovers: the next call within the limit runs
    assert get("/small?n=2000") == (200, "Miss from cloudfront")
    for _ in range(20):  # garbage from earlier calls does not count against a later one
        assert get("/small?n=20000")[0] == 200


def test_memory_error_names_the_limit(memory_fn: CloudFrontFunction) -> None:
    from edge_middleware import FunctionExecutionError
    from edge_middleware.testing import EventBuilder

    event = EventBuilder().viewer_request("/big?n=300000")
    with pytest.raises(FunctionExecutionError, match="MemoryLimitError: used more than 2 MB"):
        memory_fn(event)
