"""``edge-middleware invoke`` and ``check`` through their real entry point (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_middleware.testing import EventBuilder
from tests.support.devserver import cli

FIXTURES = Path(__file__).parent / "fixtures" / "distributions"

HANDLERS = """
def passthrough(event, context):
    request = event["Records"][0]["cf"]["request"]
    print("handler output goes to stderr")
    request["headers"]["x-seen"] = [{"key": "X-Seen", "value": request["uri"]}]
    return request


def add_read_only_header(event, context):
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["via"] = [{"key": "Via", "value": "1.1 me"}]
    return request


def not_an_object(event, context):
    return "nope"


def raises(event, context):
    raise ValueError("handler blew up")


def security_headers(event, context):
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["strict-transport-security"] = [
        {"key": "Strict-Transport-Security", "value": "max-age=63072000"}
    ]
    return response
"""

GOOD_TOML = """
[default]
viewer_request = "cli_handlers:passthrough"

[[behaviors]]
path_pattern = "/static/*"
origin_response = "cli_handlers:security_headers"
cache = { min_ttl = 0, default_ttl = 3600, max_ttl = 86400 }

[[behaviors]]
path_pattern = "/forms/*"
origin_request = { handler = "cli_handlers:passthrough", include_body = true }
cache = "CachingDisabled"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "cli_handlers.py").write_text(HANDLERS)
    return tmp_path


# -- invoke ----------------------------------------------------------------------------------


def test_invoke_builds_the_event_and_prints_the_validated_result(project: Path) -> None:
    done = cli(
        project,
        "invoke",
        "cli_handlers:passthrough",
        "--event-type",
        "viewer-request",
        "--path",
        "/account",
        "--querystring",
        "a=1",
        "--method",
        "post",
        "--header",
        "Accept: text/html",
        "--header",
        "Accept: application/json",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    request = out["event"]["Records"][0]["cf"]["request"]
    assert out["event"]["Records"][0]["cf"]["config"]["eventType"] == "viewer-request"
    assert (request["method"], request["uri"], request["querystring"]) == (
        "POST",
        "/account",
        "a=1",
    )
    assert [e["value"] for e in request["headers"]["accept"]] == ["text/html", "application/json"]
    assert out["result"]["headers"]["x-seen"] == [{"key": "X-Seen", "value": "/account"}]
    assert "handler output goes to stderr" in done.stderr


def test_invoke_on_an_event_file(project: Path) -> None:
    event = EventBuilder().origin_response("/static/app.js", status=200)
    (project / "event.json").write_text(json.dumps(event))
    done = cli(project, "invoke", "cli_handlers:security_headers", "--event", "event.json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["event"] == event
    assert out["result"]["status"] == "200"
    assert "strict-transport-security" in out["result"]["headers"]


@pytest.mark.parametrize(
    ("handler", "reason", "field"),
    [
        pytest.param(
            "add_read_only_header",
            "LambdaValidationError: The Lambda function result failed validation: "
            "The function tried to add, delete, or change a read-only header.",
            'field: request.headers["via"]',
            id="read-only-header",
        ),
        pytest.param(
            "not_an_object",
            "LambdaValidationError: The Lambda function returned invalid JSON: "
            "The JSON output must be an object type.",
            "field: result",
            id="not-an-object",
        ),
    ],
)
def test_invoke_invalid_result_exits_2(
    project: Path, handler: str, reason: str, field: str
) -> None:
    done = cli(
        project,
        "invoke",
        f"cli_handlers:{handler}",
        "--event-type",
        "viewer-request",
        "--path",
        "/",
    )
    assert done.returncode == 2
    assert reason in done.stderr
    assert field in done.stderr
    assert "result" not in json.loads(done.stdout)


def test_invoke_handler_raising_exits_3(project: Path) -> None:
    done = cli(project, "invoke", "cli_handlers:raises", "--event-type", "origin-request")
    assert done.returncode == 3
    assert "LambdaExecutionError: The Lambda function raised ValueError: handler blew up" in (
        done.stderr
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["cli_handlers:nope", "--event-type", "viewer-request"], id="no-such-handler"),
        pytest.param(["cli_handlers:passthrough"], id="no-event"),
        pytest.param(["cli_handlers:passthrough", "--event", "missing.json"], id="missing-file"),
        pytest.param(
            ["cli_handlers:passthrough", "--event-type", "viewer-response", "--body", "x"],
            id="body-on-response",
        ),
    ],
)
def test_invoke_usage_errors_exit_1(project: Path, args: list[str]) -> None:
    done = cli(project, "invoke", *args)
    assert done.returncode == 1
    assert "error:" in done.stderr


# -- check -----------------------------------------------------------------------------------


def test_check_good_toml_prints_the_behaviors(project: Path) -> None:
    (project / "edge.toml").write_text(GOOD_TOML)
    done = cli(project, "check", "edge.toml")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "edge.toml: OK" in out
    order = [out.index(p) for p in ("1. /static/*", "2. /forms/*", "3. *  (default)")]
    assert order == sorted(order)
    assert "TTL 0/3600/86400s" in out
    assert "origin-request   cli_handlers:passthrough  IncludeBody=true" in out
    assert "without a local handler" not in out


def test_check_distribution_without_handlers_validates_the_structure(project: Path) -> None:
    done = cli(project, "check", str(FIXTURES / "get-distribution-config.json"))
    # the structure is checked and printed; unmapped functions fail as the middleware fails
    assert done.returncode == 1, done.stderr
    assert "expected a function with a local handler" in done.stderr
    # README: check names the file once with the first mistake (this one did not)
    assert done.stderr.startswith(f"error: {FIXTURES / 'get-distribution-config.json'}: ")
    assert "1. /api/*" in done.stdout
    assert "functions without a local handler" in done.stdout
    assert "arn:aws:lambda:us-east-1:123456789012:function:auth:7" in done.stdout


def test_check_distribution_with_a_mapped_handler(project: Path) -> None:
    done = cli(
        project,
        "check",
        str(FIXTURES / "get-distribution-config.json"),
        "--handler",
        "auth=cli_handlers:passthrough",
    )
    assert done.returncode == 1, done.stderr
    unmapped = done.stdout.split("without a local handler", 1)[1]
    assert "function:auth:7" not in unmapped
    assert "function:sec-headers:3" in unmapped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "[default]\ncache = { min_ttl = 10, default_ttl = 5 }\n",
            "default.cache.default_ttl: 5 is invalid",
            id="bad-ttl",
        ),
        pytest.param(
            '[[behaviors]]\npath_pattern = "/a[b]"\n',
            "/a[b]",
            id="bad-path-pattern",
        ),
        pytest.param(
            '[default]\nviewer_request = "cli_handlers:missing"\n',
            "cli_handlers:missing",
            id="unimportable-handler",
        ),
        pytest.param("[default\n", "broken.toml is not valid TOML: ", id="not-toml"),
    ],
)
def test_check_broken_file_exits_1(project: Path, text: str, expected: str) -> None:
    (project / "broken.toml").write_text(text)
    done = cli(project, "check", "broken.toml")
    assert done.returncode == 1
    assert expected in done.stderr
    assert done.stdout == ""


def test_console_script_and_module_agree(project: Path) -> None:
    script = Path(sys.executable).with_name("edge-middleware")
    if not script.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    done = subprocess.run(
        [str(script), "--help"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert done.stdout == cli(project, "--help").stdout.replace("__main__.py", "edge-middleware")
