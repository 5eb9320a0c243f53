"""Events printed by ``sam local generate-event cloudfront KIND`` (tests/fixtures/sam-events/)
work with ``run_trigger``, ``EventBuilder.complete`` and ``edge-middleware invoke``; events that
can't be completed raise an :class:`EventError` naming the field (docs/events.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import EdgeError, EventError
from edge_middleware.devtools.cli import main
from edge_middleware.testing import EventBuilder, run_trigger
from edge_middleware.testing.events import complete_event

try:
    import aws_examples as aws
except ImportError:
    from tests import aws_examples as aws

SAM = Path(__file__).parent / "fixtures" / "sam-events"

#: kind -> the event type inferred from its shape (a response makes it viewer-response: no
#: request.origin in any of them)
KINDS = {
    "ab-test": "viewer-request",
    "access-request-in-response": "viewer-response",
    "http-redirect": "viewer-request",
    "modify-querystring": "viewer-request",
    "modify-response-header": "viewer-response",
    "multiple-remote-calls-aggregate-response": "viewer-request",
    "normalize-querystring-to-improve-cache-hit": "viewer-request",
    "redirect-on-viewer-country": "viewer-request",
    "redirect-unauthenticated-users": "viewer-request",
    "response-generation": "viewer-request",
    "serve-object-on-viewer-device": "viewer-request",
    "simple-remote-call": "viewer-request",
}
ALL = [pytest.param(kind, inferred, id=kind) for kind, inferred in KINDS.items()]


def sam(kind: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SAM / f"{kind}.json").read_text())
    return doc


def passthrough(event: dict[str, Any], context: Any) -> Any:
    cf = event["Records"][0]["cf"]
    return cf["response"] if "response" in cf else cf["request"]


def test_twelve_fixtures() -> None:
    assert sorted(p.stem for p in SAM.glob("*.json")) == sorted(KINDS)
    for kind in KINDS:
        assert "eventType" not in sam(kind)["Records"][0]["cf"]["config"]


@pytest.mark.parametrize(("kind", "inferred"), ALL)
def test_run_trigger_infers_the_event_type(kind: str, inferred: str) -> None:
    event = sam(kind)
    result = run_trigger(passthrough, event)
    assert ("status" in result) == inferred.endswith("response")
    assert event == sam(kind)  # the caller's event is not changed


@pytest.mark.parametrize(("kind", "inferred"), ALL)
def test_run_trigger_with_an_event_type(kind: str, inferred: str) -> None:
    result = run_trigger(passthrough, sam(kind), event_type="viewer-request")
    assert result["method"] == "GET" and result["uri"].startswith("/")


@pytest.mark.parametrize(("kind", "inferred"), ALL)
def test_event_builder_completes(kind: str, inferred: str) -> None:
    builder = EventBuilder(distribution_id="E2SAM")
    cf = builder.complete(sam(kind))["Records"][0]["cf"]
    config = cf["config"]
    assert config["eventType"] == inferred
    assert config["distributionId"] == "EXAMPLE"  # the event's own value is kept
    assert config["requestId"] == builder.request_id
    assert config["distributionDomainName"] == builder.distribution_domain_name
    assert {"clientIp", "headers", "method", "querystring", "uri"} <= set(cf["request"])
    origin = builder.complete(sam(kind), "origin-request")["Records"][0]["cf"]["request"]
    assert "custom" in origin["origin"]


@pytest.mark.parametrize(("kind", "inferred"), ALL)
def test_cli_invoke_with_event_type(
    kind: str, inferred: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handlers = tmp_path / "sam_handlers.py"
    handlers.write_text(
        "def handler(event, context):\n    return event['Records'][0]['cf']['request']\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        code = main(
            [
                "invoke",
                "sam_handlers:handler",
                "--event",
                str(SAM / f"{kind}.json"),
                "--event-type",
                "viewer-request",
            ]
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sam_handlers", None)
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["event"]["Records"][0]["cf"]["config"]["eventType"] == "viewer-request"
    assert out["result"]["uri"] == out["event"]["Records"][0]["cf"]["request"]["uri"]


def test_cli_invoke_subprocess(tmp_path: Path) -> None:
    """The console entry point as a user runs it, on one SAM event."""
    (tmp_path / "h.py").write_text(
        "def handler(event, context):\n    return event['Records'][0]['cf']['request']\n"
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "edge_middleware", "invoke", "h:handler"),
            *("--event", str(SAM / "ab-test.json"), "--event-type", "viewer-request"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["uri"] == "/test"


@pytest.mark.parametrize(
    ("kind", "handler", "event_type", "check"),
    [
        pytest.param(
            "ab-test",
            aws.ab_testing,
            None,
            lambda r: r["uri"] == "/test",
            id="ab-test-not-the-pixel",
        ),
        pytest.param(
            "modify-querystring",
            aws.query_to_header,
            None,
            lambda r: r["headers"]["auth-header"][0]["value"] == "test",
            id="modify-querystring",
        ),
        pytest.param(
            "normalize-querystring-to-improve-cache-hit",
            aws.normalize_query_string,
            None,
            lambda r: r["querystring"] == "color=red&size=large",
            id="normalize-querystring",
        ),
        pytest.param(
            "redirect-unauthenticated-users",
            aws.redirect_unauthenticated,
            None,
            lambda r: r["status"] == "302",
            id="redirect-unauthenticated",
        ),
        pytest.param(
            "modify-response-header",
            aws.override_last_modified,
            "origin-response",
            lambda r: r["headers"]["last-modified"][0]["value"] == "2016-01-01",
            id="modify-response-header-as-origin-response",
        ),
    ],
)
def test_aws_examples_on_sam_events(
    kind: str, handler: Any, event_type: str | None, check: Any
) -> None:
    assert check(run_trigger(handler, sam(kind), event_type=event_type))


def _cf(**cf: Any) -> dict[str, Any]:
    return {"Records": [{"cf": cf}]}


@pytest.mark.parametrize(
    ("event", "event_type", "field"),
    [
        pytest.param([], None, "event", id="not-an-object"),
        pytest.param({}, None, "Records", id="no-records"),
        pytest.param({"Records": [{}]}, None, "Records[0].cf", id="no-cf"),
        pytest.param(_cf(config=[]), None, "Records[0].cf.config", id="config-not-object"),
        pytest.param(
            _cf(config={"eventType": "viewer"}),
            None,
            "Records[0].cf.config.eventType",
            id="unknown-event-type",
        ),
        pytest.param(_cf(), "viewer", "event_type", id="unknown-event-type-asked"),
        pytest.param(
            _cf(config={"eventType": "origin-request"}),
            "viewer-request",
            "Records[0].cf.config.eventType",
            id="event-type-disagrees",
        ),
        pytest.param(_cf(), "viewer-response", "Records[0].cf.response", id="no-response"),
        pytest.param(
            _cf(response={"headers": {}}),
            None,
            "Records[0].cf.response.status",
            id="no-status",
        ),
        pytest.param(_cf(request=[]), None, "Records[0].cf.request", id="request-not-object"),
        pytest.param(
            _cf(request={"uri": 3}), None, "Records[0].cf.request.uri", id="uri-not-string"
        ),
        pytest.param(
            _cf(request={"headers": []}),
            None,
            "Records[0].cf.request.headers",
            id="headers-not-map",
        ),
    ],
)
def test_incomplete_events_raise_event_error(
    event: Any, event_type: str | None, field: str
) -> None:
    with pytest.raises(EventError) as info:
        run_trigger(passthrough, event, event_type=event_type)
    assert info.value.field == field
    assert isinstance(info.value, EdgeError) and field in str(info.value)
    with pytest.raises(EventError):
        complete_event(event, event_type)


def test_cli_reports_the_missing_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(_cf(config={})))
    code = main(["invoke", "x:y", "--event", str(path), "--event-type", "viewer-response"])
    assert code == 1
    assert "Records[0].cf.response" in capsys.readouterr().err
