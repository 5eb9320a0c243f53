"""The command line as a user meets it (CLI hunt): secrets in the URLs ``serve`` was given,
Ctrl+C with a request in flight, ``invalidate --server`` answered by another service, YAML
syntax errors, a handler module whose own import fails, ``invoke`` option errors, ``--cert``
files that are not PEM, the flags in ``check``'s words, ``--port 0`` in the banner and
``check`` on an unknown policy."""

from __future__ import annotations

import http.server
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge_middleware.core.handler_loading import load_handler
from edge_middleware.devtools.masking import secret_header
from edge_middleware.exceptions import HandlerLoadError
from tests.support.devserver import cli, serve, stop
from tests.support.servers import free_port, wait_until

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


# -- 1. the credentials of --redis and --origin URLs are masked ------------------------------


def test_credentials_masker_masks_the_password_of_each_url() -> None:
    from edge_middleware.devtools.masking import credentials_masker

    mask = credentials_masker(
        "redis://user:Hunter2Passw0rd@127.0.0.1:6379/0", "http://tok%40en1@h:9", None
    )
    assert mask("cache: redis redis://user:Hunter2Passw0rd@127.0.0.1:6379/0") == (
        "cache: redis redis://user:[redacted]@127.0.0.1:6379/0"
    )
    assert mask("said Hunter2Passw0rd") == "said [redacted]"
    assert mask("proxy to http://tok%40en1@h:9") == "proxy to http://[redacted]@h:9"
    assert credentials_masker("redis://127.0.0.1/0", None)("redis://127.0.0.1/0") == (
        "redis://127.0.0.1/0"
    )


@pytest.mark.slow
@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_serve_masks_the_origin_url_password(tmp_path: Path, interface: str) -> None:
    origin = f"http://user:OriginPassw0rd@127.0.0.1:{free_port()}"  # nothing listens there
    with serve(tmp_path, f"--origin={origin}", "--interface", interface) as served:
        assert served.get("/x").status_code == 502
        wait_until(lambda: "502" in served.stdout, 10, "the request line")
    printed = served.stdout + served.stderr
    assert "OriginPassw0rd" not in printed
    assert "http://user:[redacted]@127.0.0.1" in served.stdout  # banner and request lines
    assert "origin 'default' failed" in served.stderr  # the proxy's warning, masked too


@pytest.mark.slow
@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_serve_masks_the_redis_password(tmp_path: Path, interface: str) -> None:
    (tmp_path / "webapp.py").write_text(APPS[interface])
    (tmp_path / "edge.toml").write_text('[default]\ncache = "CachingOptimized"\n')
    url = f"redis://user:Hunter2Passw0rd@127.0.0.1:{free_port()}/0"  # no Redis there
    with serve(tmp_path, "webapp:app", "--config", "edge.toml", "--redis", url) as served:
        served.get("/x")
    assert "Hunter2Passw0rd" not in served.stdout + served.stderr
    assert "cache: redis redis://user:[redacted]@127.0.0.1" in served.stdout


def test_session_headers_are_secret() -> None:
    assert secret_header("X-Session-Id")
    assert not secret_header("X-Request-Id")


# -- 2. Ctrl+C with a request in flight --------------------------------------------------------

SLOW_HANDLER = """
import pathlib, time
def handler(event, context):
    pathlib.Path("started").write_text("yes")
    time.sleep(4)
    return event["Records"][0]["cf"]["request"]
"""
SLOW_ASGI_APP = """
import asyncio, pathlib
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    pathlib.Path("started").write_text("yes")
    await asyncio.sleep(4)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("interface", "slow"),
    [
        pytest.param("asgi", "handler", id="asgi-handler"),
        pytest.param("asgi", "app", id="asgi-app"),
        pytest.param("wsgi", "handler", id="wsgi-handler"),
    ],
)
def test_sigint_with_a_request_in_flight_prints_no_traceback(
    tmp_path: Path, interface: str, slow: str
) -> None:
    (tmp_path / "webapp.py").write_text(SLOW_ASGI_APP if slow == "app" else APPS[interface])
    (tmp_path / "slow.py").write_text(SLOW_HANDLER)
    toml = '[default]\nviewer_request = "slow:handler"\n' if slow == "handler" else "[default]\n"
    (tmp_path / "edge.toml").write_text(toml)
    with serve(tmp_path, "webapp:app", "--config", "edge.toml") as served:
        client = threading.Thread(target=lambda: _get_quietly(served.url), daemon=True)
        client.start()
        wait_until((tmp_path / "started").exists, 10, "the request to be running")
        served.proc.send_signal(signal.SIGINT)
        assert served.proc.wait(20) == 0
    assert "Traceback" not in served.stderr
    assert "Exception in ASGI application" not in served.stderr
    if interface == "asgi":  # uvicorn cancels it after the grace period; cheroot lets it end
        assert "stopped 1 request(s) still running" in served.stdout
        assert served.stderr.strip() == ""


def _get_quietly(url: str) -> None:
    import httpx

    try:
        httpx.get(url + "/", timeout=15)
    except httpx.HTTPError:
        pass


# -- 3. invalidate --server answered by something else ----------------------------------------


@contextmanager
def _answering(
    body: bytes, content_type: str = "application/json", status: int = 200
) -> Iterator[str]:
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b"null", b"<html>hi</html>", b'{"status": "ok"}', b""],
    ids=["array", "null", "html", "other-object", "empty"],
)
def test_invalidate_server_that_is_not_a_dev_server(tmp_path: Path, body: bytes) -> None:
    with _answering(body) as url:
        done = cli(tmp_path, "invalidate", "/a", "--server", url)
    assert done.returncode == 1
    line = _error_line(done.stderr)
    assert f"--server {url}: not an edge-middleware dev server" in line


@pytest.mark.parametrize("status", [403, 404, 405])
def test_invalidate_server_answering_an_error_page(tmp_path: Path, status: int) -> None:
    """An app's own server (uvicorn, gunicorn; the edge's CloudFront 403 page for a POST it
    does not allow): one line saying it is no dev server (the whole page was printed)."""
    page = b"<!DOCTYPE HTML><html><body><h1>403 ERROR</h1><p>" + b"x" * 2000 + b"</p></html>"
    with _answering(page, "text/html; charset=utf-8", status) as url:
        done = cli(tmp_path, "invalidate", "/a", "--server", url)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    line = _error_line(done.stderr)
    assert f"--server {url}: not an edge-middleware dev server" in line
    assert f"answered {status} text/html" in line
    assert "--redis" in line
    assert "DOCTYPE" not in done.stderr


def test_invalidate_server_refusing_says_why(tmp_path: Path) -> None:
    with _answering(b'{"error": "/_edge/invalidate needs the token"}', status=403) as url:
        done = cli(tmp_path, "invalidate", "/a", "--server", url)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"error: {url}/_edge/invalidate: 403 /_edge/invalidate needs the token"
    )


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


# -- 9. serve --port 0: the banner shows the port bound ---------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_port_zero_banner_shows_the_bound_port(tmp_path: Path, interface: str) -> None:
    (tmp_path / "webapp.py").write_text(APPS[interface])
    out_path = tmp_path / "out.txt"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_middleware", "serve", "webapp:app", "--port", "0"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: "listening on" in out_path.read_text(), 20, "listening")
        finally:
            stop(proc)
    lines = out_path.read_text().splitlines()
    listening = next(line for line in lines if line.startswith("listening on "))
    url = listening.split()[2]
    assert not url.endswith(":0")
    assert f"inspector: {url}/_edge/  (loopback clients only)" in lines


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


# -- check: a CloudFront Function has no IncludeBody, mapped or not ---------------------------

FUNCTION_AND_LAMBDA = """{"DistributionConfig": {"CallerReference": "x", "Comment": "",
 "Enabled": true,
 "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "app.example.com",
   "CustomOriginConfig": {"OriginProtocolPolicy": "http-only"}}]},
 "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
   "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
   "FunctionAssociations": {"Quantity": 1, "Items": [{"EventType": "viewer-request",
     "FunctionARN": "arn:aws:cloudfront::123456789012:function/rewrite"}]},
   "LambdaFunctionAssociations": {"Quantity": 1, "Items": [{"EventType": "origin-request",
     "LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:auth:3",
     "IncludeBody": false}]}}}}"""


def test_check_shows_no_include_body_for_an_unmapped_cloudfront_function(tmp_path: Path) -> None:
    (tmp_path / "dist.json").write_text(FUNCTION_AND_LAMBDA)
    out = cli(tmp_path, "check", "dist.json").stdout
    lines = {line.split()[0]: line for line in out.splitlines() if "arn:aws:" in line}
    assert "IncludeBody" not in lines["viewer-request"], out
    assert "IncludeBody=false" in lines["origin-request"], out
