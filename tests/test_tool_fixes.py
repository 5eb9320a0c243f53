"""The command line, the dev server, the examples and the JavaScript engines, as an outside user
meets them: mistakes end in one ``error:`` line and exit 1, never a traceback; both doors stop
and fail alike; both JavaScript engines give a CloudFront Function the same sandbox."""

from __future__ import annotations

import ast
import itertools
import json
import re
import shlex
import shutil
import signal
import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import EdgeError, load_config
from edge_middleware.core.handlers import load_handler
from edge_middleware.devtools import cli
from edge_middleware.exceptions import ConfigurationError, FunctionExecutionError
from edge_middleware.js import CloudFrontFunction, NodeHandler
from edge_middleware.js.node import NODE_RUNTIMES
from edge_middleware.testing import EventBuilder
from tests.support.devserver import cli as run_cli
from tests.support.devserver import serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HAS_NODE = shutil.which("node") is not None
ENGINES = [
    pytest.param("node", marks=pytest.mark.skipif(not HAS_NODE, reason="no node"), id="node"),
    pytest.param("mini-racer", id="mini-racer"),
]

PLAIN_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def page(request):
    return PlainTextResponse("page " + request.url.path)

app = Starlette(routes=[Route("/{rest:path}", page)])
"""

PLAIN_FLASK = """
from flask import Flask

app = Flask(__name__)

@app.route("/", defaults={"rest": ""})
@app.route("/<path:rest>")
def page(rest):
    return "page /" + rest
"""

_unique = itertools.count()


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- 1. a handler module that does not import ----------------------------------------------------

BROKEN = {
    "syntax": ("import os\ndef handler(event, context)\n    return event\n", "SyntaxError", 2),
    "raises": ("import os\n\nraise RuntimeError('missing env var')\n", "RuntimeError", 3),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_load_handler_names_the_file_and_line_of_a_module_that_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    source, error, line = BROKEN[kind]
    module = f"tool_fixes_broken_{next(_unique)}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        load_handler(f"{module}:handler", "HANDLER")
    text = str(info.value)
    assert text.startswith(f"HANDLER: '{module}:handler' is invalid; expected ")
    assert error in text
    assert f"{tmp_path / module}.py, line {line}" in text


@pytest.mark.parametrize("spec", [":handler", "mod:", ".relative:handler", "a:b:c"])
def test_load_handler_refuses_a_malformed_spec(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="HANDLER"):
        load_handler(spec, "HANDLER")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["invoke", "broken:handler", "--event-type", "viewer-request"], id="invoke"),
        pytest.param(["invoke", ":handler", "--event-type", "viewer-request"], id="empty-module"),
        pytest.param(["check", "edge.toml"], id="check"),
        pytest.param(
            ["serve", "asgi_site:app", "--config", "edge.toml", "--port", "1"], id="serve"
        ),
    ],
)
def test_cli_reports_a_broken_handler_module_in_one_line(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "broken.py").write_text(BROKEN["syntax"][0])
    (tmp_path / "asgi_site.py").write_text(PLAIN_STARLETTE)
    (tmp_path / "edge.toml").write_text('[default]\nviewer_request = "broken:handler"\n')
    done = run_cli(tmp_path, *args)
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    if args[1] != ":handler":
        assert f"{tmp_path / 'broken.py'}, line 2" in line


def test_cli_turns_any_edge_error_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def check(args: Any) -> int:
        raise EdgeError("something the library refused")

    monkeypatch.setattr(cli, "_check", check)
    assert cli.main(["check", "edge.toml"]) == 1
    assert capsys.readouterr().err == "error: something the library refused\n"


# -- 2. serve: a port in use, or an address that is not ours, on the ASGI door --------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.1"], ids=["port-in-use", "not-ours"])
def test_asgi_serve_that_cannot_bind_exits_1(tmp_path: Path, host: str) -> None:
    (tmp_path / "asgi_site.py").write_text(PLAIN_STARLETTE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run_cli(tmp_path, "serve", "asgi_site:app", "--host", host, "--port", port)
    assert done.returncode == 1
    assert _one_error_line(done.stderr).startswith(f"error: cannot serve on {host}:{port}: ")
    assert "listening" not in done.stdout


# -- 14. serve: SIGINT and SIGTERM end both doors with exit 0 -------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("app", ["asgi_site:app", "wsgi_site:app"], ids=["asgi", "wsgi"])
def test_serve_exits_0_after_a_signal_on_both_doors(
    tmp_path: Path, app: str, sig: signal.Signals
) -> None:
    (tmp_path / "asgi_site.py").write_text(PLAIN_STARLETTE)
    (tmp_path / "wsgi_site.py").write_text(PLAIN_FLASK)
    with serve(tmp_path, app) as served:
        assert served.get("/x").status_code == 200
        served.proc.send_signal(sig)
        assert served.proc.wait(30) == 0, served.stderr
        assert "Traceback" not in served.stderr


# -- 5. the examples' distribution.json commands work as written -----------------------------------


#: A documented ``serve`` line for site/distribution.json, with its continuation lines.
SITE_COMMAND = re.compile(r"edge-middleware serve app:app --config distribution\.json(?:.*\\\n)*.*")


def _site_options(text: str) -> list[str]:
    """The ``--config``/``--handler`` options of the documented ``serve`` line in ``text``."""
    command = SITE_COMMAND.search(text)
    assert command is not None, text
    words = shlex.split(command.group(0).replace("\\\n", " "), comments=True)
    options = []
    for option, value in itertools.pairwise(words):
        if option in ("--config", "--handler"):
            options += [option, value]
    return options


def _documented(where: str) -> str:
    if where == "app.py":
        return ast.get_docstring(ast.parse((EXAMPLES / "site" / "app.py").read_text())) or ""
    return (EXAMPLES.parent / where).read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["examples/README.md", "app.py"])
def test_the_documented_site_distribution_command_passes_check(where: str) -> None:
    options = _site_options(_documented(where))
    assert options == _site_options(_documented("Makefile")), "the options of `make demo`"
    done = run_cli(EXAMPLES / "site", "check", *options[1:])
    assert done.returncode == 0, done.stderr


# -- 6. invalidate --server with a URL that is not one -------------------------------------------


@pytest.mark.parametrize("server", ["localhost", "http://[::1", "ftp://127.0.0.1/"])
def test_invalidate_with_a_bad_server_url_is_one_line(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["invalidate", "/x", "--server", server]) == 1
    assert "--server" in _one_error_line(capsys.readouterr().err)


# -- 11. invoke options that do not apply are refused ---------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param(["--event-type", "origin-response", "--response-header", "bad"],
                     "--response-header", id="response-header-without-colon"),
        pytest.param(["--event-type", "origin-response", "--response-header", ": v"],
                     "--response-header", id="response-header-without-name"),
        pytest.param(["--event-type", "viewer-request", "--status", "500"], "--status",
                     id="status-on-a-request-event"),
        pytest.param(["--event-type", "origin-request", "--response-header", "X: 1"],
                     "--response-header", id="response-header-on-a-request-event"),
        pytest.param(["--event", "EVENT", "--status", "404"], "--status", id="status-with-event"),
        pytest.param(["--event", "EVENT", "--response-header", "X: 1"], "--response-header",
                     id="response-header-with-event"),
        pytest.param(["--event", "EVENT", "--header", "X: 1"], "--header", id="header-with-event"),
        pytest.param(["--event", "EVENT", "--method", "POST"], "--method", id="method-with-event"),
    ],
)  # fmt: skip
def test_invoke_refuses_options_that_do_not_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], named: str
) -> None:
    event = EventBuilder().event("origin-response", "/a", status=200)
    (tmp_path / "event.json").write_text(json.dumps(event))
    options = [str(tmp_path / "event.json") if o == "EVENT" else o for o in options]
    assert cli.main(["invoke", "tool_fixes_unused:handler", *options]) == 1
    assert named in _one_error_line(capsys.readouterr().err)


# -- 10. Node.js runtimes ----------------------------------------------------------------------


def test_node_runtimes_are_the_supported_set() -> None:
    assert NODE_RUNTIMES == ("nodejs20.x", "nodejs22.x", "nodejs24.x")


@pytest.mark.parametrize("runtime", ["nodejs4.3", "nodejs16.x", "nodejs18.x", "nodejsXYZ"])
def test_unsupported_node_runtimes_are_refused(tmp_path: Path, runtime: str) -> None:
    (tmp_path / "fn.js").write_text("exports.handler = async (event) => event;\n")
    expected = "NodeHandler.runtime: .* expected one of nodejs20.x, nodejs22.x, nodejs24.x"
    with pytest.raises(ConfigurationError, match=expected):
        NodeHandler("fn.handler", root=tmp_path, runtime=runtime)
    doc = {"default": {"origin_response": {"handler": "fn.handler", "runtime": runtime}}}
    with pytest.raises(ConfigurationError, match=re.escape(runtime)):
        load_config(doc)


# -- 8 and 13. the two JavaScript engines ----------------------------------------------------------

SANDBOX_PROBE = """
function probe(f) { try { return String(f()); } catch (e) { return e.name; } }
function handler(event) {
  var request = event.request;
  request.headers['x-sandbox'] = {value: [
    typeof setTimeout, typeof clearTimeout, typeof setInterval, typeof clearInterval,
    typeof setImmediate, typeof queueMicrotask,
    probe(function () { return eval('1 + 1'); }),
    probe(function () { return (0, eval)('1 + 1'); }),
    probe(function () { return new Function('return 2')(); }),
    probe(function () { return (function () {}).constructor('return 3')(); }),
    probe(function () { return Object.getPrototypeOf(async function () {}).constructor('4'); }),
    probe(function () { return Object.getPrototypeOf(function* () {}).constructor('5'); }),
    String((function () {}) instanceof Function), typeof Function.prototype.call,
  ].join(' ')};
  return request;
}
"""
SANDBOX_EXPECTED = " ".join(["undefined"] * 6 + ["EvalError"] * 6 + ["true", "function"])


def _function(engine: str, path: Path) -> CloudFrontFunction:
    if engine == "mini-racer":
        pytest.importorskip("py_mini_racer")
    return CloudFrontFunction(path, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_give_a_function_no_timers_eval_or_new_function(
    tmp_path: Path, engine: str
) -> None:
    (tmp_path / "probe.js").write_text(SANDBOX_PROBE)
    fn = _function(engine, tmp_path / "probe.js")
    try:
        result = fn(EventBuilder().event("viewer-request", "/a"), None)
    finally:
        fn.close()
    assert result["headers"]["x-sandbox"][0]["value"] == SANDBOX_EXPECTED


@pytest.mark.parametrize("engine", ENGINES)
def test_a_function_awaiting_a_timer_fails_on_both_engines(tmp_path: Path, engine: str) -> None:
    (tmp_path / "timer.js").write_text(
        "async function handler(event) {\n"
        "  await new Promise(function (ok) { setTimeout(ok, 1); });\n"
        "  return event.request;\n}\n"
    )
    fn = _function(engine, tmp_path / "timer.js")
    try:
        with pytest.raises(FunctionExecutionError, match="setTimeout"):
            fn(EventBuilder().event("viewer-request", "/a"), None)
    finally:
        fn.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_function_syntax_error_names_the_file_line_and_column(
    tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "synline.js"
    path.write_text("function handler(event) {\n  var a = 1;\n  var b = ;\n  return a;\n}\n")
    with pytest.raises(ConfigurationError) as info:
        _function(engine, path)
    assert str(info.value) == (
        f"CloudFrontFunction.source: {str(path)!r} is invalid; expected code that loads "
        "(line 3, column 11: SyntaxError: Unexpected token ';')"
    )


@pytest.mark.skipif(not HAS_NODE, reason="no node")
@pytest.mark.parametrize(
    ("files", "handler", "where"),
    [
        pytest.param({"s.js": "exports.handler = async (event) => {\n  var a = ;\n};\n"},
                     "s.handler", "line 2, column 11", id="commonjs"),
        pytest.param({"s.mjs": "export const handler = (event) => {\n  return event +;\n};\n"},
                     "s.handler", "line 2, column 17", id="esm"),
        pytest.param({"s.js": "const lib = require('./lib');\nexports.handler = lib.h;\n",
                      "lib.js": "\n\nexports.h = (e) => e +;\n"},
                     "s.handler", "lib.js line 3, column 23", id="required-module"),
    ],
)  # fmt: skip
def test_a_node_handler_syntax_error_names_the_file_and_line(
    tmp_path: Path, files: dict[str, str], handler: str, where: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    with pytest.raises(ConfigurationError) as info:
        NodeHandler(handler, root=tmp_path)
    text = str(info.value)
    assert text.startswith(f"NodeHandler.handler: {str(tmp_path / next(iter(files)))!r} is inv")
    assert f"{where}: SyntaxError: Unexpected token ';')" in text
    if where.startswith("lib.js"):
        assert str(tmp_path / "lib.js") in text


# -- serve: an APP that does not import, a port out of range: one line, exit 1 ---------------------


@pytest.mark.parametrize("kind", ["syntax", "raises"])
def test_serve_reports_an_app_module_that_does_not_import_in_one_line(
    tmp_path: Path, kind: str
) -> None:
    """As for a handler module: the APP module's file and line, not importlib's traceback."""
    source, error, line = BROKEN[kind]
    (tmp_path / "badapp.py").write_text(source)
    done = run_cli(tmp_path, "serve", "badapp:app", "--port", "1")
    assert done.returncode == 1
    message = _one_error_line(done.stderr)
    assert error in message and f"{tmp_path / 'badapp.py'}, line {line}" in message


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_serve_refuses_a_port_out_of_range_in_one_line(tmp_path: Path, port: str) -> None:
    (tmp_path / "asgi_site.py").write_text(PLAIN_STARLETTE)
    done = run_cli(tmp_path, "serve", "asgi_site:app", "--port", port)
    assert done.returncode == 1
    assert _one_error_line(done.stderr) == f"error: --port: {port} is invalid; expected 0-65535"
