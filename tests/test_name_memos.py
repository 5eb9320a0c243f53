"""The per-header-name memos (core/headers.py, pipeline/fast.py, core/validation_headers.py):
they remember only what was found valid, stay bounded in count and name length, and give the
same answers remembered or not."""

from __future__ import annotations

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig
from edge_middleware.core import headers as hdr
from edge_middleware.core.convert import request_from_scope
from edge_middleware.core.headers import (
    NAME_MEMO_COUNT,
    NAME_MEMO_LENGTH,
    headers_from_raw,
    memo_keeps,
    raw_header_problem,
)
from edge_middleware.pipeline import Pipeline


@pytest.mark.parametrize(
    "name",
    [b"bad name", b"", b"x:y", b"caf\xe9", b"a" * (NAME_MEMO_LENGTH + 1) + b" "],
)
def test_an_invalid_name_is_found_every_time(name: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hdr, "_TOKEN_NAMES", set())
    for _ in range(3):  # never remembered as valid
        problem = raw_header_problem([(b"content-type", b"text/plain"), (name, b"v")])
        assert problem is not None and "is not a valid HTTP header name" in problem
    assert name not in hdr._TOKEN_NAMES


def test_a_bad_value_is_found_after_its_name_was_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hdr, "_TOKEN_NAMES", set())  # room, whatever ran before
    assert raw_header_problem([(b"x-memo-probe", b"fine")]) is None
    assert b"x-memo-probe" in hdr._TOKEN_NAMES
    problem = raw_header_problem([(b"x-memo-probe", b"a\x01b")])
    assert problem == "invalid character '%01' in the value of header x-memo-probe"
    assert raw_header_problem([(b"X-Memo-Probe", b"a\nb")]) is not None


def test_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hdr, "_TOKEN_NAMES", set())
    monkeypatch.setattr(hdr, "_RAW_NAMES", {})
    names = [b"x-name-%d" % i for i in range(NAME_MEMO_COUNT + 50)]
    long_name = b"x-" + b"n" * NAME_MEMO_LENGTH
    raw = [(name, b"v") for name in [long_name, *names]]
    # (so many headers are over CloudFront's 20,480 bytes: the names were checked all the same)
    assert raw_header_problem(raw) is hdr.TOO_BIG
    converted = headers_from_raw(raw)
    assert len(converted) == len(raw)  # every name converted, remembered or not
    assert converted[long_name.decode()] == [{"key": long_name.decode(), "value": "v"}]
    assert len(hdr._TOKEN_NAMES) == NAME_MEMO_COUNT
    assert len(hdr._RAW_NAMES) == NAME_MEMO_COUNT
    assert long_name not in hdr._TOKEN_NAMES and long_name not in hdr._RAW_NAMES
    assert not memo_keeps(hdr._RAW_NAMES, b"x")
    assert memo_keeps({}, b"n" * NAME_MEMO_LENGTH)
    assert not memo_keeps({}, b"n" * (NAME_MEMO_LENGTH + 1))


@pytest.mark.parametrize("remembered", [False, True])
def test_viewer_headers_drop_disallowed_names_remembered_or_not(
    remembered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hdr, "_RAW_NAMES", {})
    if not remembered:
        monkeypatch.setattr(hdr, "NAME_MEMO_COUNT", 0)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"Host", b"example.com"),
            (b"X-Amz-Cf-Id", b"spoofed"),
            (b"Connection", b"close"),
            (b"Accept", b"*/*"),
            (b"accept", b"text/html"),
            (b"X-Edge-Thing", b"1"),
        ],
    }
    for _ in range(2):
        headers = request_from_scope(scope).request["headers"]
        assert headers == {
            "host": [{"key": "Host", "value": "example.com"}],
            "accept": [{"key": "Accept", "value": "*/*"}, {"key": "accept", "value": "text/html"}],
        }
    assert (b"Host" in hdr._RAW_NAMES) is remembered


def test_answer_name_fates_are_the_drop_rules() -> None:
    """The short way's per-name fate gives what the set of dropped names gives, any case."""
    pipeline = Pipeline(EdgeConfig(default=Behavior(cache=CachePolicy(0, 0, 0))))
    cut = next(iter(pipeline.shortcuts.values()))
    answer = [
        (b"Content-Type", b"text/plain"),
        (b"Connection", b"keep-alive"),
        (b"X-Cache", b"from the app"),
        (b"Set-Cookie", b"a=1"),
        (b"VARY", b"Accept-Encoding, X-Custom"),
        (b"Via", b"1.1 app"),
    ]
    for _ in range(2):  # first computed, then remembered
        got = cut.viewer_headers(200, answer, b"RID", "1.1", "GET")
        assert not isinstance(got, Exception)
        headers, head = got
        assert not head
        names = [k for k, _ in headers]
        # hop-by-hop and CloudFront's own names go; Set-Cookie too (no cookie is forwarded)
        assert names[:2] == [b"Content-Type", b"VARY"]
        assert all(v != b"from the app" for _, v in headers)
        assert names[-4:] == [b"Via", b"X-Cache", b"X-Amz-Cf-Pop", b"X-Amz-Cf-Id"]
