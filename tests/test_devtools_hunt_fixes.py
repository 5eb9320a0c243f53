"""The dev console against hostile input (the hunt of 2026-12-07): control characters from a
viewer's query, a handler's output or an exception message are shown escaped, never sent to
the terminal (a cleared screen, a forged request line); a cookie a handler prints decoded is
masked as the raw one is. Each test failed before its fix."""

from __future__ import annotations

from typing import Any

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware, Trigger
from edge_middleware.devtools.devlog import format_request, request_masker
from edge_middleware.doors.middleware import RequestRecord
from tests.support.doors import call_wsgi, ok_wsgi


def _record(handler: Any, **environ: Any) -> RequestRecord:
    records: list[RequestRecord] = []
    config = EdgeConfig(
        default=Behavior(viewer_request=Trigger(handler), cache=CachePolicy(0, 0, 0))
    )
    edge = EdgeWSGIMiddleware(ok_wsgi, config=config)
    edge.add_observer(records.append)
    call_wsgi(edge, **environ)
    return records[0]


def test_console_lines_show_control_characters_escaped() -> None:
    def fails(event: dict[str, Any], context: Any) -> Any:
        raise ValueError("boom\nGET /admin/secret  *  -  Hit  200  0.1ms")

    record = _record(fails, path="/q", QUERY_STRING="x=\x1b]0;owned\x07\x1b[2J")
    record.outcome.steps[0].output = "a\rFAKE \x1b[32mgreen\nsecond line\n"
    lines = format_request(record)
    assert lines[0].startswith("GET /q?x=\\x1b]0;owned\\x07\\x1b[2J  ")
    for line in lines:
        assert not any(c in line for c in "\x1b\x07\r\n"), line
    assert not any(line.startswith("GET /admin") for line in lines[1:])  # no forged request
    assert "    viewer-request | FAKE \\x1b[32mgreen" in lines


def test_a_cookie_a_handler_prints_decoded_is_masked() -> None:
    def passes(event: dict[str, Any], context: Any) -> Any:
        return event["Records"][0]["cf"]["request"]

    secret = "s%3AZk9QsecretVALUE.signature"
    record = _record(passes, path="/p", HTTP_COOKIE=f"connect.sid={secret}")
    mask = request_masker(record)
    printed = mask.text("cookie connect.sid = s:Zk9QsecretVALUE.signature")
    assert "Zk9Qsecret" not in printed
    assert "Zk9Qsecret" not in mask.text(f"raw {secret}")
