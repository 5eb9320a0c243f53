"""CloudFront Functions as people publish them (hunt of 2026-12-07, second session), on both
engines: a runaway continuation stopped on mini-racer, KeyValueStore failures as rejections,
cloudfront-js-1.0's String methods, 2.0's Buffer, and regular expressions the ES 5.1 check
took for other syntax."""

from __future__ import annotations

from typing import Any

import pytest

from edge_middleware.exceptions import CloudFrontError
from edge_middleware.js import CloudFrontFunction
from edge_middleware.js.es51 import first_unsupported
from edge_middleware.testing import EventBuilder, run_trigger

ENGINES = ["node", "mini-racer"]


def _run(fn: CloudFrontFunction, path: str = "/") -> Any:
    return run_trigger(fn, EventBuilder().viewer_request(path))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_runaway_continuation_is_stopped_and_the_function_goes_on(engine: str) -> None:
    """``await`` then a runaway loop: node gave its 503 at the limit; mini-racer's request
    hung for ever (the continuation ran where no time limit held)."""
    code = (
        "async function handler(event) { if (event.request.uri === '/loop') {"
        " await null; while (true) {} } return event.request; }"
    )
    fn = CloudFrontFunction(code, code=True, runtime="cloudfront-js-2.0", engine=engine)  # type: ignore[arg-type]
    try:
        with pytest.raises(CloudFrontError) as info:
            _run(fn, "/loop")
        assert info.value.error_name == "FunctionThrottledError"
        assert _run(fn, "/ok")["uri"] == "/ok"  # a fresh context: the function goes on
    finally:
        fn.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_keyvaluestore_failure_rejects_its_promise(engine: str) -> None:
    """AWS's helper methods answer with a promise: a value that is not the JSON asked for
    threw at the call, so the function's ``.catch`` never ran (a 503)."""
    code = (
        "import cf from 'cloudfront';\n"
        "async function handler(event) { try { await cf.kvs().get('k', {format: 'json'});"
        " } catch (e) { return {statusCode: 200, body: 'caught ' + e.name}; }"
        " return {statusCode: 500}; }"
    )
    fn = CloudFrontFunction(  # type: ignore[arg-type]
        code,
        code=True,
        runtime="cloudfront-js-2.0",
        key_value_store={"k": "not json"},
        engine=engine,
    )
    try:
        assert _run(fn)["body"] == "caught SyntaxError"
    finally:
        fn.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_runtime_1_0_has_njs_string_methods(engine: str) -> None:
    """AWS's verify-jwt example (runtime 1.0) decodes with ``String.bytesFrom``: a
    TypeError, so every token failed."""
    code = (
        "function handler(event) { var r = event.request;"
        " r.headers['x-a'] = {value: String.bytesFrom('eyJhIjoxfQ', 'base64url')};"
        " r.headers['x-b'] = {value: String.bytesFrom('6869', 'hex')};"
        " r.headers['x-c'] = {value: String.bytesFrom([104, 105])};"
        " var u = '\\u00e9'.toUTF8();"
        " r.headers['x-d'] = {value: u.length + '/' + u.fromUTF8()};"
        " r.headers['x-e'] = {value: String('\\u20ac'.toBytes())}; return r; }"
    )
    fn = CloudFrontFunction(code, code=True, runtime="cloudfront-js-1.0", engine=engine)  # type: ignore[arg-type]
    try:
        headers = _run(fn)["headers"]
    finally:
        fn.close()
    got = {name: headers[name][0]["value"] for name in ("x-a", "x-b", "x-c", "x-d", "x-e")}
    assert got == {"x-a": '{"a":1}', "x-b": "hi", "x-c": "hi", "x-d": "2/\u00e9", "x-e": "null"}


def test_runtime_2_0_has_buffer_as_a_global() -> None:
    code = (
        "function handler(event) { var r = event.request;"
        " r.headers['x-a'] = {value: Buffer.from('eyJhIjoxfQ', 'base64url').toString()};"
        " return r; }"
    )
    fn = CloudFrontFunction(code, code=True, runtime="cloudfront-js-2.0", engine="node")  # type: ignore[arg-type]
    try:
        assert _run(fn)["headers"]["x-a"][0]["value"] == '{"a":1}'
    finally:
        fn.close()


@pytest.mark.parametrize(
    "code",
    [
        "if (x) { y(); }\n/a?.b/.test(u) && z();",
        "if (x) /a?.b/.test(u);",
        "while (i--) /const/.test(s);",
        "{ }\n/^let me/.test(s);",
    ],
)
def test_a_regular_expression_after_a_statement_is_no_other_syntax(code: str) -> None:
    """After a block's ``}`` or an ``if (...)`` head a ``/`` starts a regular expression:
    the ES 5.1 check read it as a division and refused ``?.``, ``const``, ``let`` in it."""
    assert first_unsupported(code) is None


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("var o = {a: 1}\n/ 2; x?.y", "optional chaining (?.)"),
        ("f(a) / b; const c = 1;", "const"),
    ],
)
def test_real_findings_after_a_parenthesis_or_an_object_still_count(code: str, found: str) -> None:
    got = first_unsupported(code)
    assert got is not None and found in got[0]
