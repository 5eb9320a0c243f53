"""Range requests cut from a cached object (edge_middleware.cache.ranges; caching.md §1.14,
docs/distributions.md "Byte ranges")."""

from __future__ import annotations

import email.parser
import email.policy

import pytest

from edge_middleware.cache.ranges import byte_range_response, parse_byte_ranges

BODY = bytes(range(100))
HEADERS = [(b"Content-Type", b"application/octet-stream"), (b"Content-Length", b"100")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("bytes=0-9", [(0, 9)], id="one"),
        pytest.param("bytes=0-9, 20-29", [(0, 9), (20, 29)], id="two"),
        pytest.param("bytes=-10", [(90, 99)], id="suffix"),
        pytest.param("bytes=95-", [(95, 99)], id="open-end"),
        pytest.param("bytes=90-200", [(90, 99)], id="end-clamped"),
        pytest.param("bytes=100-", [(100, 99)], id="past-the-end"),
        pytest.param("bytes=9-0", None, id="reversed"),
        pytest.param("bytes=-", None, id="empty-suffix"),
        pytest.param("items=0-1", None, id="unit"),
        pytest.param("bytes=a-b", None, id="not-numbers"),
        # RFC 9110 §5.6.1: a recipient parses and ignores empty list members
        pytest.param("bytes=0-9,", [(0, 9)], id="trailing-comma"),
        pytest.param("bytes=,0-9,,20-29", [(0, 9), (20, 29)], id="empty-members"),
        pytest.param("bytes=,", None, id="only-empty-members"),
        # int() takes signs, "_" and spaces; a range's numbers are ASCII digits only
        pytest.param("bytes=--5", None, id="signed-suffix"),
        pytest.param("bytes=+3-4", None, id="plus-sign"),
        pytest.param("bytes=0-1,--5", None, id="one-member-signed"),
        pytest.param("bytes=1_0-20", None, id="underscore"),
        pytest.param("bytes=0 -9", None, id="space-inside"),
        pytest.param("bytes=\u0661-9", None, id="other-digits"),
    ],
)
def test_parse(value: str, expected: list[tuple[int, int]] | None) -> None:
    assert parse_byte_ranges(value, len(BODY)) == expected


@pytest.mark.parametrize(
    ("value", "status"),
    [
        pytest.param("bytes=0-9", 206, id="single"),
        pytest.param("bytes=0-9,20-29", 206, id="multi"),
        pytest.param("bytes=20-29,0-9", 200, id="descending-full"),
        pytest.param("bytes=0-19,10-29", 200, id="overlap-full"),
        pytest.param("bytes=200-300", 416, id="unsatisfiable"),
        pytest.param("bytes=0-9,200-300", 206, id="one-satisfiable-single"),
        pytest.param("bytes=x", 200, id="invalid-full"),
        pytest.param("bytes=--5", 200, id="signed-full"),
    ],
)
def test_status(value: str, status: int) -> None:
    assert byte_range_response(value, BODY, HEADERS)[0] == status


def test_multipart_body() -> None:
    status, body, headers = byte_range_response("bytes=0-9, 50-54, -5", BODY, HEADERS)
    assert status == 206
    names = {k.decode().lower(): v.decode() for k, v in headers}
    assert names["content-type"].startswith("multipart/byteranges; boundary=")
    assert names["content-length"] == str(len(body))
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + names["content-type"].encode() + b"\r\n\r\n" + body
    )
    parts = list(message.iter_parts())
    assert [p["Content-Range"] for p in parts] == [
        "bytes 0-9/100",
        "bytes 50-54/100",
        "bytes 95-99/100",
    ]
    assert [p["Content-Type"] for p in parts] == ["application/octet-stream"] * 3
    assert [p.get_payload(decode=True) for p in parts] == [BODY[0:10], BODY[50:55], BODY[95:]]
    # the same request gets the same bytes (the boundary depends on the object only)
    assert byte_range_response("bytes=0-9, 50-54, -5", BODY, HEADERS)[1] == body
