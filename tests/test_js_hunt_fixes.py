"""The JavaScript hunt of 2026-12-07: a 1.0 function's byte strings reach crypto as bytes, an
unhandled rejection ends a Node.js Lambda's worker (fresh module state on the next call), and a
module that never finishes loading says so. Each test failed before its fix."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from edge_middleware.exceptions import ConfigurationError, LambdaExecutionError
from edge_middleware.js import CloudFrontFunction, NodeHandler
from edge_middleware.js import engine as js_engine
from edge_middleware.testing import EventBuilder, run_trigger

_CRYPTO = """var crypto = require('crypto');
var KEY = String.bytesFrom('/w==', 'base64');   // a binary secret, made as the code loads
function handler(event) {
  var made = String.bytesFrom('ff', 'hex');       // one made in the call
  var text = 'caf\\u00e9';                          // text, not bytes: hashed as its UTF-8
  return {statusCode: 200, body: [
    crypto.createHmac('sha256', KEY).update('payload').digest('hex'),
    crypto.createHash('sha256').update(made).digest('hex'),
    crypto.createHash('sha256').update(text).digest('hex'),
    crypto.createHash('sha256').update('caf\\u00e9'.toUTF8()).digest('hex'),
  ].join(' ')};
}"""


def test_a_1_0_functions_byte_strings_are_hashed_as_bytes(tmp_path: Path) -> None:
    """node hashed a byte string's code points 128-255 as UTF-8 (0xff as c3 bf): an HMAC with
    a base64-decoded secret, as a JWT check has, never matched what CloudFront computes."""
    (tmp_path / "jwt.js").write_text(_CRYPTO)
    fn = CloudFrontFunction(tmp_path / "jwt.js", runtime="cloudfront-js-1.0", engine="node")
    try:
        for _ in range(2):  # the load's key stays a byte string in later calls
            body = run_trigger(fn, EventBuilder().viewer_request("/"))["body"]
            assert body.split() == [
                hmac.new(b"\xff", b"payload", hashlib.sha256).hexdigest(),
                hashlib.sha256(b"\xff").hexdigest(),
                hashlib.sha256("café".encode()).hexdigest(),
                hashlib.sha256("café".encode()).hexdigest(),
            ]
    finally:
        fn.close()


_REJECTS = """let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  const request = event.Records[0].cf.request;
  if (request.uri === '/reject') Promise.reject(new Error('forgot to await'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  request.headers['x-calls'] = [{key: 'X-Calls', value: String(calls)}];
  return request;
};"""


def test_an_unhandled_rejection_ends_the_node_worker_as_lambda_does(tmp_path: Path) -> None:
    """The worker kept its module state: the next call counted on from the failed one."""
    (tmp_path / "h.js").write_text(_REJECTS)
    handler = NodeHandler("h.handler", root=tmp_path)
    try:
        first = run_trigger(handler, EventBuilder().viewer_request("/"))
        assert first["headers"]["x-calls"][0]["value"] == "1"
        with pytest.raises(LambdaExecutionError, match="forgot to await"):
            run_trigger(handler, EventBuilder().viewer_request("/reject"))
        again = run_trigger(handler, EventBuilder().viewer_request("/"))
        assert again["headers"]["x-calls"][0]["value"] == "1"  # a fresh module
    finally:
        handler.close()


def test_a_module_that_never_finishes_loading_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message ended with an empty reason ("did not start: ")."""
    monkeypatch.setattr(js_engine, "START_TIMEOUT", 1.0)
    (tmp_path / "slow.mjs").write_text(
        "await new Promise(() => {});\nexport const handler = async (e) => e;\n"
    )
    with pytest.raises(ConfigurationError, match="did not finish loading within 1 s"):
        NodeHandler("slow.handler", root=tmp_path)


def test_a_node_handler_past_its_timeout_names_the_timeout_it_was_given(tmp_path: Path) -> None:
    """It said "4.999 s" for a 5 s timeout (the time left when the call was sent)."""
    from edge_middleware import EdgeSettings
    from edge_middleware.exceptions import LambdaTimeoutError

    (tmp_path / "h.js").write_text("exports.handler = async () => new Promise(() => {});\n")
    handler = NodeHandler("h.handler", root=tmp_path)
    try:
        with pytest.raises(LambdaTimeoutError, match=r"within its 0\.5 s timeout"):
            run_trigger(
                handler,
                EventBuilder().viewer_request("/"),
                settings=EdgeSettings(viewer_timeout=0.5),
            )
    finally:
        handler.close()


_TWO_EXPORTS = """
exports.viewerRequest = async (event, context) => {
  const request = event.Records[0].cf.request;
  request.headers["x-fn"] = [{ key: "X-Fn", value: context.functionName }];
  return request;
};
exports.originRequest = async (event) => { throw new Error("nope"); };
"""


def test_two_exports_of_one_file_are_told_apart(tmp_path: Path) -> None:
    """Both were named "multi" (the file's stem) in banners and in the "handler ... failed"
    line; the default name is now Lambda's Handler form. context.functionName stays the
    module's name."""
    from edge_middleware import Behavior, EdgeConfig
    from edge_middleware.devtools.devlog import banner

    (tmp_path / "multi.js").write_text(_TWO_EXPORTS)
    first = NodeHandler("multi.viewerRequest", root=tmp_path)
    second = NodeHandler("multi.originRequest", root=tmp_path)
    named = NodeHandler("multi.viewerRequest", root=tmp_path, name="site-auth")
    try:
        assert (first.name, second.name) == ("multi.viewerRequest", "multi.originRequest")
        config = EdgeConfig(default=Behavior(viewer_request=first, origin_request=second))
        text = "\n".join(banner(config))
        assert "multi.viewerRequest" in text and "multi.originRequest" in text, text
        seen = run_trigger(first, EventBuilder().viewer_request("/"))
        assert seen["headers"]["x-fn"][0]["value"] == "multi"
        seen = run_trigger(named, EventBuilder().viewer_request("/"))
        assert seen["headers"]["x-fn"][0]["value"] == "site-auth"
        with pytest.raises(LambdaExecutionError) as caught:
            run_trigger(second, EventBuilder().origin_request("/"))
        assert caught.value.handler == "multi.originRequest"
    finally:
        for handler in (first, second, named):
            handler.close()
