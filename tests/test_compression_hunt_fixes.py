"""The response hunt of 2026-12-08: what the viewer gets from the edge's compression and its
response headers policy, on both doors and both storages.

* A body a viewer-response function sets on a compressed object goes out without the
  ``Content-Encoding`` it was given (plain text labelled gzip, which no browser decodes); one
  the function set itself stays.
* An origin's ``Vary: *`` on a compressed body keeps ``Accept-Encoding`` once MinTTL > 0 drops
  the ``*`` (the gzip body had no ``Vary``).
* A CORS preflight whose ``Origin`` a function set to text ISO-8859-1 has no bytes for is
  answered (it was an internal failure's 502, with a traceback).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    CorsConfig,
    EdgeConfig,
    EdgeSettings,
    ResponseHeadersPolicy,
    Trigger,
)
from edge_middleware.js import CloudFrontFunction
from tests.support.edge_cache import DATE, HIT, MISS, MakeEdge, cache_fixtures

door, store, edge = cache_fixtures()

HTML = b"<p>hello, compressed world</p>\n" * 100  # 3,100 bytes: compressed
GZIP = CachePolicy(min_ttl=0, default_ttl=100, max_ttl=1000, enable_accept_encoding_gzip=True)
PAGE = {"Date": DATE, "Content-Type": "text/html", "Cache-Control": "max-age=100"}


def replace_body(event: dict[str, Any], context: Any) -> Any:
    response = event["Records"][0]["cf"]["response"]
    response["body"] = "replaced by the function"
    return response


@pytest.fixture
def functions(tmp_path: Path) -> Path:
    (tmp_path / "plain.js").write_text(
        'function handler(event) { var r = event.response; r.body = "replaced"; return r; }\n'
    )
    (tmp_path / "own.js").write_text(  # a function that sends its own encoding: kept
        "function handler(event) { var r = event.response; r.body = 'replaced';\n"
        "  r.headers['content-encoding'] = {value: 'x-own'}; return r; }\n"
    )
    return tmp_path


@pytest.mark.parametrize("kind", ["lambda", "function"])
def test_a_viewer_response_body_on_a_compressed_object_is_not_labelled_gzip(
    edge: MakeEdge, functions: Path, kind: str
) -> None:
    if kind == "lambda":
        trig: Any = Trigger(replace_body)
        settings = EdgeSettings(viewer_response_body="allow")
        body = b"replaced by the function"
    else:
        trig, settings, body = (
            CloudFrontFunction(functions / "plain.js"),
            EdgeSettings(),
            b"replaced",
        )
    e = edge(cache=GZIP, compress=True, viewer_response=trig, settings=settings)
    e.route("/page", headers=PAGE, body=HTML)
    for expected in (MISS, HIT):
        got = e.get("/page", {"accept-encoding": "gzip"})
        assert got.x_cache == expected
        assert got.header("content-encoding") is None, got.headers
        assert got.body == body
        assert got.header("content-length") == str(len(body))
    assert e.calls("/page") == 1


def test_a_content_encoding_the_function_set_itself_stays(edge: MakeEdge, functions: Path) -> None:
    e = edge(cache=GZIP, compress=True, viewer_response=CloudFrontFunction(functions / "own.js"))
    e.route("/page", headers=PAGE, body=HTML)
    got = e.get("/page", {"accept-encoding": "gzip"})
    assert (got.header("content-encoding"), got.body) == ("x-own", b"replaced")


def test_a_compressed_answer_to_vary_star_keeps_accept_encoding(edge: MakeEdge) -> None:
    policy = CachePolicy(min_ttl=1, default_ttl=100, max_ttl=1000, enable_accept_encoding_gzip=True)
    e = edge(cache=policy, compress=True)
    e.route("/v", headers={**PAGE, "Vary": "*"}, body=HTML)
    for expected in (MISS, HIT):
        got = e.get("/v", {"accept-encoding": "gzip"})
        assert (got.x_cache, got.header("content-encoding")) == (expected, "gzip")
        vary = [t.strip().lower() for v in got.all("vary") for t in v.split(",")]
        assert vary == ["accept-encoding"]  # '*' filtered (MinTTL > 0, caching.md §1.6)
        assert gzip.decompress(got.body) == HTML


def set_origin(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["origin"] = [{"key": "Origin", "value": "https://b\u20ac.example"}]
    return request


def test_a_preflight_for_an_origin_iso_8859_1_cannot_hold_is_answered(edge: MakeEdge) -> None:
    policy = ResponseHeadersPolicy(cors=CorsConfig(allow_origins=("*",), allow_credentials=True))
    behavior = Behavior(
        viewer_request=Trigger(set_origin),
        response_headers_policy=policy,
        allowed_methods=("GET", "HEAD", "OPTIONS"),
    )
    e = edge(config=EdgeConfig(default=behavior))
    e.route("/x", headers=PAGE, body=b"ok")
    pre = e.request(
        "OPTIONS", "/x", {"origin": "https://a", "access-control-request-method": "GET"}
    )
    got = e.get("/x", {"origin": "https://a"})
    # "?" for what ISO-8859-1 cannot hold, on both answers (config.response_headers._set)
    expected = "https://b?.example"
    assert pre.status == 200, pre.headers
    assert pre.header("access-control-allow-origin") == expected
    assert got.status == 200
    assert got.header("access-control-allow-origin") == expected
