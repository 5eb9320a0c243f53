"""Node.js Lambda@Edge handlers as people write them (hunt of 2026-12-07, second session): a
callback from zlib or crypto work, nested handler paths, the JavaScript stack in the dev
tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_middleware import EdgeSettings
from edge_middleware.devtools.tracebacks import handler_traceback
from edge_middleware.exceptions import LambdaExecutionError
from edge_middleware.js import NodeHandler
from edge_middleware.testing import EventBuilder, run_trigger

_THREAD_POOL = {
    "gzip": "require('zlib').gzip(Buffer.from('x'), () => callback(null, r));",
    "random-bytes": "require('crypto').randomBytes(8, () => callback(null, r));",
    "pbkdf2": "require('crypto').pbkdf2('p', 's', 1, 8, 'sha256', () => callback(null, r));",
    "webcrypto": "crypto.subtle.digest('SHA-256', Buffer.from('x')).then(() => callback(null, r));",
    "nested-immediate": "setImmediate(() => setImmediate(() => callback(null, r)));",
    "then-gzip": "Promise.resolve().then(() => require('zlib').gzip(Buffer.from('x'), "
    "() => callback(null, r)));",
    "succeed": "require('zlib').deflate(Buffer.from('x'), () => context.succeed(r));",
}


def _node(tmp_path: Path, source: str, spec: str = "h.handler") -> NodeHandler:
    module = tmp_path / (spec.rpartition("/")[0] or ".") / "h.js"
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(source)
    return NodeHandler(spec, root=tmp_path)


@pytest.mark.parametrize("work", list(_THREAD_POOL.values()), ids=list(_THREAD_POOL))
def test_a_callback_from_thread_pool_work_is_the_answer(tmp_path: Path, work: str) -> None:
    """zlib and crypto keep Node's event loop alive (Lambda's runtime waits for them), but
    ``process.getActiveResourcesInfo()`` does not list them: the handler answered null (a
    502) before its callback came."""
    source = (
        "exports.handler = (event, context, callback) => {"
        " const r = event.Records[0].cf.request; r.uri = '/done'; " + work + " };"
    )
    handler = _node(tmp_path, source)
    try:
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/done"
    finally:
        handler.close()


def test_a_nested_handler_path_is_read_as_lambdas_runtime_reads_it(tmp_path: Path) -> None:
    """``nested/h.handlers.viewer``: module ``nested/h``, export ``handlers.viewer`` (the
    module ends at the first dot after the last slash); it was refused."""
    source = (
        "exports.handlers = { viewer: async (event) => {"
        " const r = event.Records[0].cf.request; r.uri = '/nested'; return r; } };"
    )
    handler = _node(tmp_path, source, "nested/h.handlers.viewer")
    try:
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/nested"
    finally:
        handler.close()


def test_a_node_handlers_exception_shows_its_javascript_stack(tmp_path: Path) -> None:
    """README: "a handler's exception shows its traceback"; a Node.js one had none."""
    source = "function inner() { throw new Error('boom'); }\nexports.handler = async () => inner();"
    handler = _node(tmp_path, source)
    try:
        with pytest.raises(LambdaExecutionError) as info:
            run_trigger(handler, EventBuilder().viewer_request("/"))
    finally:
        handler.close()
    shown = handler_traceback(info.value)
    assert "Error: boom" in shown and "at inner" in shown and "h.js:1" in shown
    assert "node_worker.js" not in shown


@pytest.mark.slow
def test_a_workers_module_load_is_not_charged_to_the_request(tmp_path: Path) -> None:
    """Lambda runs Init as its own phase (the function timeout covers the Invoke only): a
    module that takes 1.5 s to load, under a 1 s viewer timeout, failed every request that
    needed a fresh worker (after a crash) with a 503, and the worker never joined the pool."""
    source = (
        "const end = Date.now() + 1500; while (Date.now() < end) {}\n"
        "exports.handler = async (event) => {"
        " if (event.Records[0].cf.request.uri === '/crash') process.exit(3);"
        " return event.Records[0].cf.request; };"
    )
    handler = _node(tmp_path, source)
    settings = EdgeSettings(viewer_timeout=1.0)
    try:
        with pytest.raises(LambdaExecutionError):
            run_trigger(handler, EventBuilder().viewer_request("/crash"), settings=settings)
        for _ in range(2):  # a fresh worker loads (1.5 s), then answers within its 1 s
            got = run_trigger(handler, EventBuilder().viewer_request("/"), settings=settings)
            assert got["uri"] == "/"
    finally:
        handler.close()


def test_an_uncaught_exception_starts_the_next_call_with_fresh_module_state(
    tmp_path: Path,
) -> None:
    """Lambda's Node runtime reports an uncaught exception and ends its process (exit 129):
    the next invocation loads the module again. The worker went on with the old state."""
    source = (
        "let calls = 0;\n"
        "exports.handler = async (event) => { calls++; const r = event.Records[0].cf.request;"
        " if (r.uri === '/boom') { setTimeout(() => { throw new Error('late'); }, 0);"
        " await new Promise((ok) => setTimeout(ok, 50)); }"
        " r.uri = '/calls/' + calls; return r; };"
    )
    handler = _node(tmp_path, source)
    try:
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/calls/1"
        with pytest.raises(LambdaExecutionError):
            run_trigger(handler, EventBuilder().viewer_request("/boom"))
        assert run_trigger(handler, EventBuilder().viewer_request("/"))["uri"] == "/calls/1"
    finally:
        handler.close()


def test_what_a_module_prints_as_it_loads_is_shown(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Lambda keeps the Init phase's logs; a worker dropped them at its first request."""
    handler = _node(
        tmp_path, "console.log('loading the module');\nexports.handler = async (e) => null;"
    )
    handler.close()
    assert "INFO\tloading the module" in capfd.readouterr().out
