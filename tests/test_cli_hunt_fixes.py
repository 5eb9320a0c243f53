"""The command line as a user meets it (CLI hunt): secrets in the URLs ``serve`` was given,
Ctrl+C with a request in flight, ``invalidate --server`` answered by another service, YAML
syntax errors, a handler module whose own import fails, ``invoke`` option errors, ``--cert``
files that are not PEM, the flags in ``check``'s words, ``--port 0`` in the banner and
``check`` on an unknown policy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edge_middleware.core.handler_loading import load_handler
from edge_middleware.exceptions import HandlerLoadError
from tests.support.devserver import cli

WSGI_APP = (
    "def app(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'ok']\n"
)
ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""
APPS = {"wsgi": WSGI_APP, "asgi": ASGI_APP}
PASSTHROUGH = "def ok(event, context):\n    return event['Records'][0]['cf']['request']\n"


def _error_line(stderr: str) -> str:
    """The one ``error:`` line a failed command prints (and nothing else on stderr)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# -- 4. YAML syntax errors say the problem and where -------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "where"),
    [
        pytest.param(
            "Resources:\n  D: [\n",
            "expected the node content, but found '<stream end>'",
            "line 3, column 1",
            id="unclosed",
        ),
        pytest.param(
            "Resources:\n  D:\n    Type: AWS::CloudFront::Distribution\n\tProperties: {}\n",
            "found character '\\t' that cannot start any token",
            "line 4, column 1",
            id="tab",
        ),
    ],
)
def test_yaml_syntax_error_names_problem_and_line(
    tmp_path: Path, text: str, problem: str, where: str
) -> None:
    (tmp_path / "cfn.yaml").write_text(text)
    done = cli(tmp_path, "check", "cfn.yaml")
    assert done.returncode == 1
    assert _error_line(done.stderr) == (
        f"error: cfn.yaml is not valid YAML: {problem} (at {where})"
    )


# -- 5. a module whose own import fails names its file and line --------------------------------


@pytest.mark.parametrize(
    ("source", "what", "line"),
    [
        ("import json\nimport reqeusts\n", "No module named 'reqeusts'", 2),
        ("from os import no_such_name\n", "cannot import name 'no_such_name'", 1),
    ],
    ids=["missing-package", "missing-name"],
)
def test_handler_module_import_failure_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, what: str, line: int
) -> None:
    name = f"hunt_handlers_{line}"
    (tmp_path / f"{name}.py").write_text(source + "\ndef handler(event, context):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(HandlerLoadError) as caught:
        load_handler(f"{name}:handler")
    message = str(caught.value)
    assert what in message
    assert f"{tmp_path / name}.py, line {line}" in message
    assert "an importable module" not in message


def test_handler_module_that_does_not_exist_is_still_not_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hunt_pkg").mkdir()
    (tmp_path / "hunt_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("hunt_no_such_module:handler", "hunt_pkg.missing:handler"):
        with pytest.raises(HandlerLoadError, match="an importable module"):
            load_handler(spec)


@pytest.mark.parametrize("command", ["invoke", "serve"])
def test_cli_import_failure_names_file_and_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "myhandlers.py").write_text(
        "import json\nimport reqeusts  # typo\n\ndef handler(event, context):\n    return event\n"
        "app = handler\n"
    )
    args = (
        ("invoke", "myhandlers:handler", "--event-type", "viewer-request")
        if command == "invoke"
        else ("serve", "myhandlers:app", "--port", "0")
    )
    done = cli(tmp_path, *args)
    assert done.returncode == 1
    line = _error_line(done.stderr)
    assert "No module named 'reqeusts'" in line
    assert "myhandlers.py, line 2" in line


# -- 6. invoke names the option that built a refused event -------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--event-type", "viewer-request", "--method", "G ET"),
            "error: --method: 'G ET' is invalid; expected an HTTP method such as GET",
        ),
        (
            ("--event-type", "origin-response", "--status", "99"),
            "error: --status: 99 is invalid; expected a status from 100 to 599",
        ),
    ],
    ids=["method", "status"],
)
def test_invoke_option_errors_name_the_option(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "h.py").write_text(PASSTHROUGH)
    done = cli(tmp_path, "invoke", "h:ok", "--path", "/account/", *args)
    assert done.returncode == 1
    assert _error_line(done.stderr) == message


# -- 7. --cert/--key files that are not PEM ----------------------------------------------------


@pytest.mark.slow
def test_serve_cert_that_is_not_pem_is_named(tmp_path: Path) -> None:
    from edge_middleware.devtools.devtls import ensure_local_certificate

    files = ensure_local_certificate(tmp_path / "tls")
    other = ensure_local_certificate(tmp_path / "other")
    (tmp_path / "webapp.py").write_text(WSGI_APP)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    cases = [
        ("junk.pem", str(files.key), "--cert junk.pem: not a PEM certificate"),
        (str(files.cert), "junk.pem", "--key junk.pem: not a PEM private key"),
        (str(files.cert), str(other.key), f"--cert {files.cert} with --key {other.key}: "),
    ]
    for cert, key, expected in cases:
        done = cli(tmp_path, "serve", "webapp:app", "--port", "0", "--cert", cert, "--key", key)
        assert done.returncode == 1
        line = _error_line(done.stderr)
        assert line.startswith(f"error: {expected}"), line
        assert "cannot serve on" not in line


# -- 8. check and serve speak in flags, not keywords -------------------------------------------


@pytest.mark.parametrize(
    ("toml", "flag", "keyword"),
    [
        ('[default]\ncache = "CachingOptimised"\n', "or one in a --policies FILE", "policies="),
        (
            '[default]\nviewer_request = "auth"\n',
            "or a name given with --handler NAME=module:function",
            "handlers=",
        ),
    ],
    ids=["policies", "handlers"],
)
@pytest.mark.parametrize("command", ["check", "serve"])
def test_config_errors_name_the_flags(
    tmp_path: Path, toml: str, flag: str, keyword: str, command: str
) -> None:
    (tmp_path / "edge.toml").write_text(toml)
    (tmp_path / "webapp.py").write_text(WSGI_APP)
    args = (
        ("check", "edge.toml")
        if command == "check"
        else ("serve", "webapp:app", "--config", "edge.toml", "--port", "0")
    )
    done = cli(tmp_path, *args)
    assert done.returncode == 1
    line = _error_line(done.stderr)
    assert flag in line
    assert keyword not in line


# -- 10. check on an unknown policy says so in an error line ------------------------------------

UNKNOWN_POLICY = """{"DistributionConfig": {"CallerReference": "x", "Comment": "", "Enabled": true,
 "Origins": {"Quantity": 1, "Items": [{"Id": "app", "DomainName": "app.example.com",
   "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
 "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "allow-all",
   "CachePolicyId": "11111111-2222-3333-4444-555555555555"}}}"""


@pytest.mark.slow
def test_check_unknown_policy_prints_the_error_serve_gives(tmp_path: Path) -> None:
    (tmp_path / "dist.json").write_text(UNKNOWN_POLICY)
    (tmp_path / "webapp.py").write_text(WSGI_APP)
    checked = cli(tmp_path, "check", "dist.json")
    served = cli(tmp_path, "serve", "webapp:app", "--config", "dist.json", "--port", "0")
    assert checked.returncode == served.returncode == 1
    assert "structure OK" in checked.stdout
    assert "CachePolicyId 11111111-2222-3333-4444-555555555555" in checked.stdout
    line = _error_line(checked.stderr)
    assert line == _error_line(served.stderr)
    assert "DefaultCacheBehavior.CachePolicyId" in line


# -- 11. invoke --path builds the uri CloudFront shows ------------------------------------------


@pytest.mark.parametrize(
    ("path", "uri", "query"),
    [
        ("/café", "/caf%C3%A9", ""),
        ("/a b", "/a%20b", ""),
        ("/a#frag", "/a", ""),
        ("/a?x=1#frag", "/a", "x=1"),
        ("/caf%C3%A9", "/caf%C3%A9", ""),
    ],
    ids=["non-ascii", "space", "fragment", "query-fragment", "encoded"],
)
def test_event_builder_uri_is_what_cloudfront_shows(path: str, uri: str, query: str) -> None:
    from edge_middleware.testing import EventBuilder

    for event_type in ("viewer-request", "origin-request", "origin-response"):
        request = EventBuilder().event(event_type, path)["Records"][0]["cf"]["request"]
        assert (request["uri"], request["querystring"]) == (uri, query)


def test_invoke_path_is_percent_encoded(tmp_path: Path) -> None:
    import json

    (tmp_path / "h.py").write_text(PASSTHROUGH)
    done = cli(tmp_path, "invoke", "h:ok", "--event-type", "viewer-request", "--path", "/café")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["uri"] == "/caf%C3%A9"
