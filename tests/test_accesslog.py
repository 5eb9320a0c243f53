"""The CloudFront standard access log (lambda-edge.md §7), written by a real front door."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware, EdgeWSGIMiddleware
from edge_middleware.devtools.accesslog import AccessLog, format_record, log_encode
from edge_middleware.doors.middleware import RequestRecord
from edge_middleware.exceptions import (
    FunctionExecutionError,
    FunctionValidationError,
    OriginTimeoutError,
    ViewerError,
)
from edge_middleware.pipeline.effects import Outcome

#: Written out here, not imported, so the test checks the order against the spec.
SPEC_FIELDS = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
]

BODY = "hello from the origin"


def viewer_request(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    if request["uri"] == "/boom":
        raise RuntimeError("handler failure")
    return request


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse(BODY, headers={"Cache-Control": "max-age=60"})


def read_log(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    headers = [line for line in lines if line.startswith("#")]
    records = []
    for line in lines[len(headers) :]:
        values = line.split("\t")
        assert len(values) == 33, line
        records.append(dict(zip(SPEC_FIELDS, values, strict=True)))
    return headers, records


@pytest.fixture
def client_and_log(tmp_path: Path) -> Any:
    log_path = tmp_path / "access.log"
    log = AccessLog(log_path)
    app = EdgeMiddleware(
        Starlette(routes=[Route("/{rest:path}", page)]),
        config=EdgeConfig(default=Behavior(viewer_request=viewer_request)),
    )
    app.add_observer(log)
    with TestClient(app) as client:
        yield client, log_path
    log.close()


def test_asgi_requests_are_logged_field_by_field(client_and_log: Any) -> None:
    client, log_path = client_and_log
    headers = {
        "Referer": "https://example.com/from here",
        "User-Agent": "Mozilla/5.0 (X11; Linux)",
        "Cookie": "sid=secret",
        "X-Forwarded-For": "198.51.100.7",
    }
    miss = client.get('/a b"c?x=1 2', headers=headers)
    hit = client.get('/a b"c?x=1 2', headers=headers)
    failed = client.get("/boom")
    assert [miss.status_code, hit.status_code, failed.status_code] == [200, 200, 503]

    header_lines, (first, second, third) = read_log(log_path)
    assert header_lines == ["#Version: 1.0", "#Fields: " + " ".join(SPEC_FIELDS)]

    assert re.fullmatch(r"\d{4}-\d\d-\d\d", first["date"])
    assert re.fullmatch(r"\d\d:\d\d:\d\d", first["time"])
    assert first["date"] == time.strftime("%Y-%m-%d", time.gmtime()) or first["time"] < "00:01"
    assert first["x-edge-location"] == miss.headers["X-Amz-Cf-Pop"]
    assert int(first["sc-bytes"]) > len(BODY) + 100  # status line and headers count too
    # the viewer's address is always an IP (TestClient's "testclient" reads as 127.0.0.1)
    assert first["c-ip"] == "127.0.0.1"
    assert first["cs-method"] == "GET"
    assert first["cs(Host)"] == "d111111abcdef8.cloudfront.net"
    # the client sent /a%20b%22c; '%' is itself encoded, as in CloudFront's logs
    assert first["cs-uri-stem"] == "/a%2520b%2522c"
    assert first["sc-status"] == "200"
    assert first["cs(Referer)"] == "https://example.com/from%20here"
    assert first["cs(User-Agent)"] == "Mozilla/5.0%20(X11;%20Linux)"
    assert first["cs-uri-query"] == "x=1%25202"
    assert first["cs(Cookie)"] == "-"  # only with log_secrets
    assert first["x-edge-result-type"] == "Miss"
    assert first["x-edge-request-id"] == miss.headers["X-Amz-Cf-Id"]
    assert first["x-host-header"] == "testserver"
    assert first["cs-protocol"] == "http"
    assert int(first["cs-bytes"]) > len("GET /a%20b%22c?x=1%202 HTTP/1.1")
    assert re.fullmatch(r"\d+\.\d{3}", first["time-taken"])
    assert first["x-forwarded-for"] == "198.51.100.7"
    assert first["ssl-protocol"] == first["ssl-cipher"] == "-"
    assert first["x-edge-response-result-type"] == "Miss"
    assert first["cs-protocol-version"] == "HTTP/1.1"
    assert first["fle-status"] == first["fle-encrypted-fields"] == "-"
    assert first["c-port"] == "50000"
    assert re.fullmatch(r"\d+\.\d{3}", first["time-to-first-byte"])
    assert first["x-edge-detailed-result-type"] == "Miss"
    assert first["sc-content-type"] == "text/plain;%20charset=utf-8"
    assert first["sc-content-len"] == str(len(BODY))
    assert first["sc-range-start"] == first["sc-range-end"] == "-"

    assert second["x-edge-result-type"] == second["x-edge-response-result-type"] == "Hit"
    assert second["x-edge-detailed-result-type"] == "Hit"
    assert second["x-edge-request-id"] == hit.headers["X-Amz-Cf-Id"]

    # decisions.md #49: a Lambda failure is logged as Error
    assert third["sc-status"] == "503"
    assert third["x-edge-result-type"] == third["x-edge-response-result-type"] == "Error"
    assert third["x-edge-detailed-result-type"] == "Error"
    assert third["cs-uri-query"] == third["cs(Referer)"] == "-"


def test_wsgi_requests_are_logged(tmp_path: Path) -> None:
    from flask import Flask
    from werkzeug.test import Client

    flask_app = Flask(__name__)

    @flask_app.route("/w")
    def w() -> tuple[str, int, dict[str, str]]:
        return "wsgi", 200, {"Cache-Control": "max-age=60"}

    log = AccessLog(tmp_path / "access.log", log_secrets=True, domain_name="d2.cloudfront.net")
    app = EdgeWSGIMiddleware(flask_app.wsgi_app)
    app.add_observer(log)
    client = Client(app, use_cookies=False)
    client.get("/w", headers={"Cookie": "a=1; b=2"})
    client.get("/w")
    log.close()

    header_lines, records = read_log(tmp_path / "access.log")
    assert len(header_lines) == 2
    assert [r["x-edge-result-type"] for r in records] == ["Miss", "Hit"]
    assert records[0]["cs(Host)"] == "d2.cloudfront.net"
    assert records[0]["cs(Cookie)"] == "a=1;%20b=2"
    assert records[1]["cs(Cookie)"] == "-"
    assert records[0]["sc-content-len"] == "4"


def test_header_lines_written_once_per_file(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    AccessLog(path).close()
    AccessLog(path).close()
    assert path.read_text().count("#Version: 1.0") == 1


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        pytest.param('/a b"c', "/a%20b%22c", id="space-and-quote"),
        pytest.param(
            "<>#%{}|\\^~[]`'", "%3C%3E%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27", id="specials"
        ),
        pytest.param("a\tb\x00c\x7f", "a%09b%00c%7F", id="controls"),
        pytest.param("€", "%E2%82%AC", id="non-latin-1-as-utf-8"),
        pytest.param("\xe9", "%E9", id="latin-1-byte"),
        pytest.param("/plain/path-1.2_3", "/plain/path-1.2_3", id="untouched"),
        pytest.param("", "-", id="empty"),
        pytest.param(None, "-", id="missing"),
    ],
)
def test_log_encode(value: str | None, logged: str) -> None:
    assert log_encode(value) == logged


def _record(outcome: Outcome, **request: Any) -> RequestRecord:
    viewer = {"clientIp": "203.0.113.9", "method": "GET", "uri": "/r", "querystring": ""}
    viewer["headers"] = {}
    viewer.update(request)
    return RequestRecord(outcome, viewer, "https", "2", time.perf_counter(), 10, 0, 443)


@pytest.mark.parametrize(
    ("outcome", "result", "detailed"),
    [
        pytest.param(Outcome(200, "OK", [], b""), "Miss", "Miss", id="miss"),
        pytest.param(
            Outcome(200, "OK", [], b"", result_type="LambdaGeneratedResponse"),
            "LambdaGeneratedResponse",
            "LambdaGeneratedResponse",
            id="generated",
        ),
        pytest.param(Outcome(404, "Not Found", [], b""), "Error", "Error", id="origin-404"),
        pytest.param(
            Outcome(504, "", [], b"", result_type="Error", error=OriginTimeoutError("slow")),
            "Error",
            "OriginCommError",
            id="origin-timeout",
        ),
        pytest.param(
            Outcome(
                403, "", [], b"", result_type="Error", error=ViewerError(403, "bad HTTP method")
            ),
            "Error",
            "InvalidRequestMethod",
            id="method",
        ),
        pytest.param(
            Outcome(503, "", [], b"", result_type="Error", error=FunctionExecutionError("threw")),
            "Error",
            "FunctionExecutionError",
            id="cloudfront-function-threw",
        ),
        pytest.param(
            Outcome(502, "", [], b"", result_type="Error", error=FunctionValidationError("bad")),
            "Error",
            "FunctionValidationError",
            id="cloudfront-function-invalid",
        ),
    ],
)
def test_result_types(outcome: Outcome, result: str, detailed: str) -> None:
    fields = dict(zip(SPEC_FIELDS, format_record(_record(outcome)).split("\t"), strict=True))
    assert fields["x-edge-result-type"] == result
    assert fields["x-edge-detailed-result-type"] == detailed
    assert fields["cs-protocol-version"] == "HTTP/2.0"
    assert fields["cs-protocol"] == "https"
    assert fields["c-port"] == "443"


def test_range_fields() -> None:
    outcome = Outcome(206, "Partial Content", [(b"Content-Range", b"bytes 100-199/1000")], b"")
    fields = dict(zip(SPEC_FIELDS, format_record(_record(outcome)).split("\t"), strict=True))
    assert (fields["sc-range-start"], fields["sc-range-end"]) == ("100", "199")


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "access.log")
    record = _record(Outcome(200, "OK", [], b""), uri="/" + "x" * 2000)

    def write() -> None:
        for _ in range(50):
            log(record)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    log.close()
    _, records = read_log(tmp_path / "access.log")
    assert len(records) == 400
    assert {r["cs-uri-stem"] for r in records} == {"/" + "x" * 2000}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_cs_bytes_counts_a_body_that_streamed_to_the_app(tmp_path: Path, kind: str) -> None:
    """cs-bytes is everything the viewer sent, its body too, also when the body went to the
    app unread by the middleware (it counted only a body a function had asked for)."""
    from flask import Flask, request
    from werkzeug.test import Client

    flask_app = Flask(__name__)

    @flask_app.route("/up", methods=["POST"])
    def up() -> str:
        return str(len(request.get_data()))

    async def upload(req: Any) -> PlainTextResponse:
        return PlainTextResponse(str(len(await req.body())))

    log = AccessLog(tmp_path / "access.log")
    body = b"x" * 5000
    if kind == "asgi":
        app: Any = EdgeMiddleware(Starlette(routes=[Route("/up", upload, methods=["POST"])]))
        app.add_observer(log)
        with TestClient(app) as client:
            assert client.post("/up", content=body).text == "5000"
    else:
        app = EdgeWSGIMiddleware(flask_app.wsgi_app)
        app.add_observer(log)
        with Client(app).post("/up", data=body) as r:  # logged when the answer is closed
            assert r.get_data() == b"5000"
    log.close()
    _, records = read_log(tmp_path / "access.log")
    assert int(records[0]["cs-bytes"]) > 5000
