"""Event and result fixes from the events bug hunt, on both doors (lambda-edge.md §1.3, §1.4,
§2.3, §3.1, §3.2, §3.5; docs/events.md "Encodings on the wire").

* A header value a function sets or changes goes on the wire as UTF-8, in any event; a value
  it did not change goes out as the bytes that came in (#1).
* Hop-by-hop headers from a function never reach the viewer: ``Transfer-Encoding`` in a
  generated response is CloudFront's 502 (read-only in both request events), ``TE`` is dropped
  (#3).
* A non-ASCII query string a function sets goes to the origin percent-encoded as UTF-8 (#4).
* A ``uri`` a function sets with ``?`` or ``#`` is CloudFront's 502 "invalid uri format" (#6).
"""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeSettings,
    OriginRequestPolicy,
    Trigger,
)
from edge_middleware.config.behavior import ALL_METHODS
from edge_middleware.core.convert import origin_environ, origin_scope
from edge_middleware.core.headers import FunctionText, headers_to_raw
from edge_middleware.core.types import CFRequest, CFResponse
from edge_middleware.core.validation import (
    BAD_URI,
    READ_ONLY,
    validate_request_result,
    validate_response_result,
)
from edge_middleware.exceptions import LambdaValidationError
from tests.support.doors import Door, Resp, asgi_scope, door_fixture
from tests.support.servers import RawOrigin, raw_origin

door = door_fixture(Door)

Handler = Callable[[dict[str, Any], Any], Any]
RawPairs = list[tuple[bytes, bytes]]
#: no caching, every viewer header and the whole query string to the origin
FORWARD: dict[str, Any] = {
    "cache": CachePolicy(0, 0, 0, query_strings="all"),
    "origin_request_policy": OriginRequestPolicy(headers="allViewer", query_strings="all"),
}
VALIDATION = "LambdaValidationError from cloudfront"


class Recorder:
    """An origin app for either door: records the request as bytes, answers ``answer``."""

    def __init__(self, answer: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.answer = list(answer)
        self.seen: list[dict[str, Any]] = []

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append({"headers": scope["headers"], "query": scope["query_string"]})
        head = [(b"content-length", b"2"), *self.answer]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b"ok"})

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = [
            (k[5:].replace("_", "-").lower().encode(), v.encode("latin-1"))
            for k, v in environ.items()
            if k.startswith("HTTP_")
        ]
        query = environ["QUERY_STRING"].encode("latin-1")
        self.seen.append({"headers": headers, "query": query, "uri": environ["REQUEST_URI"]})
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.answer]
        start_response("200 OK", [("Content-Length", "2"), *pairs])
        return [b"ok"]

    def header(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.seen[-1]["headers"] if k.lower() == name]


def _get(door: Door, app: Any, behavior: Behavior, url: str = "/p", **options: Any) -> Resp:
    """One GET through ``behavior`` (``headers``: raw viewer pairs; ``settings``). ASGI is
    driven without a client: Starlette's TestClient re-encodes header bytes as UTF-8."""
    settings = options.pop("settings", EdgeSettings())
    raw: RawPairs = options.pop("headers", [])
    wrapped = door.wrap(app, EdgeConfig(default=behavior, settings=settings), **options)
    if door.kind == "wsgi":  # PEP 3333: the bytes as latin-1 text
        pairs = [(k.decode(), v.decode("latin-1")) for k, v in raw]
        return door.send(door.viewer(wrapped), "GET", url, headers=pairs)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path, _, query = url.partition("?")
    headers = [(b"host", b"testserver"), *raw]
    asyncio.run(
        wrapped(asgi_scope(path, query_string=query.encode(), headers=headers), receive, send)
    )
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in sent[0]["headers"]]
    return Resp(sent[0]["status"], pairs, b"".join(m.get("body", b"") for m in sent[1:]))


def _sent(resp: Resp, name: str) -> list[bytes]:
    """The bytes of header ``name`` as the viewer got them (both doors give latin-1 text)."""
    return [v.encode("latin-1") for v in resp.all(name)]


def _set(part: str, name: str, value: str) -> Handler:
    """A handler that sets header ``name`` of its event's ``part`` to ``value``."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        obj = event["Records"][0]["cf"][part]
        obj["headers"][name] = [{"key": name.title(), "value": value}]
        return obj

    return handler


def _keep(event: dict[str, Any], context: Any) -> Any:
    cf = event["Records"][0]["cf"]
    return cf.get("response") or cf["request"]


def _through_json(event: dict[str, Any], context: Any) -> Any:
    """The request back with a tuple in it: validation takes it through JSON, as CloudFront."""
    request = event["Records"][0]["cf"]["request"]
    request["headers"]["x-o"] = ({"key": "X-O", "value": "1"},)
    return request


def _custom_header(event: dict[str, Any], context: Any) -> Any:
    request = event["Records"][0]["cf"]["request"]
    request["origin"]["custom"]["customHeaders"]["x-secret"] = [{"key": "X-Secret", "value": CAFE}]
    return request


def _generate(name: str, value: str) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> Any:
        return {"status": "200", "headers": {name: [{"value": value}]}, "body": "made"}

    return handler


def _edit(field: str, value: str) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        request[field] = value
        return request

    return handler


# -- 1. header values a function sets go out as UTF-8 --------------------------------------------
CAFE = "caf\u00e9"
CAFE_UTF8 = b"caf\xc3\xa9"
VR_CAFE = _set("request", "x-new", CAFE)


@pytest.mark.parametrize(
    ("triggers", "viewer", "name", "expected"),
    [
        pytest.param(
            {"viewer_request": VR_CAFE}, [], b"x-new", [CAFE_UTF8], id="vr-adds-latin-1-range"
        ),
        pytest.param(
            {"viewer_request": _set("request", "x-new", CAFE + " \u20ac")},
            [],
            b"x-new",
            [CAFE_UTF8 + b" \xe2\x82\xac"],
            id="vr-adds-beyond-latin-1",
        ),
        pytest.param({"origin_request": VR_CAFE}, [], b"x-new", [CAFE_UTF8], id="or-adds"),
        pytest.param(
            {"viewer_request": VR_CAFE, "origin_request": _keep},
            [],
            b"x-new",
            [CAFE_UTF8],
            id="vr-adds-or-passes-on",
        ),
        pytest.param(
            {"viewer_request": _set("request", "x-name", CAFE)},
            [(b"x-name", b"plain")],
            b"x-name",
            [CAFE_UTF8],
            id="vr-changes-viewer-value",
        ),
        pytest.param(
            {"viewer_request": VR_CAFE},
            [(b"x-name", CAFE_UTF8)],
            b"x-name",
            [CAFE_UTF8],
            id="viewer-utf-8-bytes-unchanged",
        ),
        pytest.param(
            {"viewer_request": VR_CAFE, "origin_request": _set("request", "x-o", "1")},
            [(b"x-name", b"caf\xe9")],
            b"x-name",
            [b"caf\xe9"],
            id="viewer-latin-1-bytes-unchanged",
        ),
        pytest.param(
            {"viewer_request": VR_CAFE, "origin_request": _through_json},
            [],
            b"x-new",
            [CAFE_UTF8],
            id="vr-adds-or-result-through-json",
        ),
        pytest.param(
            {"origin_request": _custom_header}, [], b"x-secret", [CAFE_UTF8], id="or-custom-header"
        ),
        pytest.param({}, [(b"x-name", b"caf\xe9")], b"x-name", [b"caf\xe9"], id="no-function"),
    ],
)
def test_request_header_bytes_at_the_origin(
    door: Door, triggers: dict[str, Any], viewer: RawPairs, name: bytes, expected: list[bytes]
) -> None:
    origin = Recorder()
    resp = _get(
        door, door.pick(origin.asgi, origin.wsgi), Behavior(**triggers, **FORWARD), headers=viewer
    )
    assert resp.status == 200
    assert origin.header(name) == expected


@pytest.mark.parametrize(
    ("triggers", "answer", "name", "expected"),
    [
        pytest.param(
            {"origin_response": _set("response", "x-new", CAFE)},
            [],
            "x-new",
            [CAFE_UTF8],
            id="ors-adds",
        ),
        pytest.param(
            {"viewer_response": _set("response", "x-new", CAFE)},
            [],
            "x-new",
            [CAFE_UTF8],
            id="vrs-adds",
        ),
        pytest.param(
            {"viewer_request": _generate("x-new", CAFE)},
            [],
            "x-new",
            [CAFE_UTF8],
            id="vr-generated",
        ),
        pytest.param(
            {"origin_request": _generate("x-new", CAFE)},
            [],
            "x-new",
            [CAFE_UTF8],
            id="or-generated",
        ),
        pytest.param(
            {
                "origin_response": _set("response", "x-new", CAFE),
                "viewer_response": _set("response", "x-other", "1"),
            },
            [],
            "x-new",
            [CAFE_UTF8],
            id="ors-adds-vrs-passes-on",
        ),
        pytest.param(
            {"viewer_response": _set("response", "x-new", CAFE)},
            [(b"x-origin", b"caf\xe9")],
            "x-origin",
            [b"caf\xe9"],
            id="vrs-adds-origin-latin-1-kept",
        ),
        pytest.param(
            {"origin_response": _set("response", "x-new", CAFE)},
            [(b"x-origin", CAFE_UTF8)],
            "x-origin",
            [CAFE_UTF8],
            id="ors-adds-origin-utf-8-kept",
        ),
    ],
)
def test_response_header_bytes_at_the_viewer(
    door: Door, triggers: dict[str, Any], answer: RawPairs, name: str, expected: list[bytes]
) -> None:
    origin = Recorder(answer)
    resp = _get(door, door.pick(origin.asgi, origin.wsgi), Behavior(**triggers, **FORWARD))
    assert resp.status == 200
    assert _sent(resp, name) == expected


def test_events_show_viewer_bytes_as_iso_8859_1(door: Door) -> None:
    """§1.4: CloudFront reads any header bytes as ISO-8859-1 for the function; the UTF-8
    text a function set is shown as set to the next function (origin-request)."""
    seen: list[Any] = []

    def origin_request(event: dict[str, Any], context: Any) -> Any:
        seen.append(event["Records"][0]["cf"]["request"]["headers"])
        return event["Records"][0]["cf"]["request"]

    origin = Recorder()
    behavior = Behavior(viewer_request=VR_CAFE, origin_request=origin_request, **FORWARD)
    _get(door, door.pick(origin.asgi, origin.wsgi), behavior, headers=[(b"x-name", CAFE_UTF8)])
    assert seen[0]["x-name"][0]["value"] == "caf\u00c3\u00a9"
    assert seen[0]["x-new"][0]["value"] == CAFE
    assert origin.header(b"x-name") == [CAFE_UTF8] and origin.header(b"x-new") == [CAFE_UTF8]


@pytest.mark.parametrize("event_type", ["origin-response", "viewer-response"])
def test_validation_marks_only_what_a_function_wrote(event_type: Any) -> None:
    """The contract under the door tests: the value a function added is a FunctionText (sent
    as UTF-8), the one it was given and kept stays the ISO-8859-1 text of its bytes."""
    before: CFResponse = {
        "status": "200",
        "statusDescription": "OK",
        "headers": {"x-origin": [{"key": "X-Origin", "value": "caf\xe9"}]},
    }
    result = copy.deepcopy(before)
    result["headers"]["x-new"] = [{"key": "X-New", "value": CAFE}]
    out = validate_response_result(event_type, before, result, EdgeSettings())
    assert [type(e["value"]) for es in out.headers.values() for e in es] == [str, FunctionText]
    assert headers_to_raw(out.headers) == [(b"X-Origin", b"caf\xe9"), (b"X-New", CAFE_UTF8)]


# -- 3. hop-by-hop headers from a function -------------------------------------------------------
@pytest.mark.parametrize(
    ("triggers", "settings", "status"),
    [
        pytest.param(
            {"viewer_request": _generate("transfer-encoding", "chunked")},
            {},
            502,
            id="vr-generated-transfer-encoding",
        ),
        pytest.param(
            {"origin_request": _generate("transfer-encoding", "chunked")},
            {},
            502,
            id="or-generated-transfer-encoding",
        ),
        pytest.param(
            {"viewer_request": _generate("te", "trailers")}, {}, 200, id="vr-generated-te"
        ),
        pytest.param(
            {"origin_request": _generate("te", "trailers")}, {}, 200, id="or-generated-te"
        ),
        pytest.param({"origin_response": _set("response", "te", "trailers")}, {}, 200, id="ors-te"),
        pytest.param({"viewer_response": _set("response", "te", "trailers")}, {}, 200, id="vrs-te"),
        pytest.param(
            {"viewer_response": _set("response", "transfer-encoding", "chunked")},
            {"readonly_header_list": "2023"},  # not read-only there: dropped
            200,
            id="vrs-transfer-encoding-2023-list",
        ),
        pytest.param(
            {"viewer_request": _generate("connection", "close")},
            {},
            502,
            id="vr-generated-connection",
        ),
        pytest.param(
            {"origin_response": _set("response", "transfer-encoding", "chunked")},
            {},
            502,
            id="ors-transfer-encoding",
        ),
    ],
)
def test_hop_by_hop_headers_never_reach_the_viewer(
    door: Door, triggers: dict[str, Any], settings: dict[str, Any], status: int
) -> None:
    origin = Recorder()
    app = door.pick(origin.asgi, origin.wsgi)
    resp = _get(door, app, Behavior(**triggers, **FORWARD), settings=EdgeSettings(**settings))
    assert resp.status == status
    if status == 502:
        assert resp.get("x-cache") == VALIDATION
        assert READ_ONLY.rsplit(": ", 1)[0] in resp.text()  # "... failed validation"
    names = {k.lower() for k, _ in resp.headers}
    assert not names & {"te", "transfer-encoding", "connection"}
    assert resp.get("content-length") == str(len(resp.body))


# -- 4. a non-ASCII query string a function sets -------------------------------------------------
QUERIES = [
    pytest.param("viewer_request", "q=" + CAFE, b"q=caf%C3%A9", id="vr-latin-1-range"),
    pytest.param("viewer_request", "q=\u20ac", b"q=%E2%82%AC", id="vr-beyond-latin-1"),
    pytest.param(
        "viewer_request", "a=%2B+b&c=\u00e9=&d", b"a=%2B+b&c=%C3%A9=&d", id="vr-rest-as-written"
    ),
    pytest.param("origin_request", "q=" + CAFE, b"q=caf%C3%A9", id="or-latin-1-range"),
    pytest.param("viewer_request", "q=plain&r=%C3%A9", b"q=plain&r=%C3%A9", id="vr-ascii"),
]


@pytest.mark.parametrize(("event", "query", "expected"), QUERIES)
def test_function_query_string_at_an_app_origin(
    door: Door, event: str, query: str, expected: bytes
) -> None:
    origin = Recorder()
    behavior = Behavior(**{event: _edit("querystring", query)}, **FORWARD)  # type: ignore[arg-type]
    resp = _get(door, door.pick(origin.asgi, origin.wsgi), behavior)
    assert resp.status == 200
    assert origin.seen[0]["query"] == expected
    if door.kind == "wsgi":
        assert origin.seen[0]["uri"] == "/p?" + expected.decode("ascii")


def _answer_ok(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.mark.parametrize(("event", "query", "expected"), QUERIES)
def test_function_query_string_at_a_url_origin(
    door: Door, event: str, query: str, expected: bytes
) -> None:
    behavior = Behavior(**{event: _edit("querystring", query)}, **FORWARD)  # type: ignore[arg-type]
    with raw_origin(_answer_ok) as server:
        unused = Recorder()
        app = door.pick(unused.asgi, unused.wsgi)
        resp = _get(door, app, behavior, origins={"default": server.url})
    assert resp.status == 200 and unused.seen == []
    assert list(server.hits) == ["/p?" + expected.decode("ascii")]


def _request(query: str) -> CFRequest:
    return {
        "clientIp": "127.0.0.1",
        "headers": {},
        "method": "GET",
        "querystring": query,
        "uri": "/p",
    }


@pytest.mark.parametrize(
    ("viewer", "query", "expected"),
    [
        pytest.param(b"q=\xe9&x=1", "q=\xe9&x=1", b"q=\xe9&x=1", id="viewer-bytes-unchanged"),
        pytest.param(b"q=\xe9&x=1", "q=\xe9", b"q=\xe9", id="viewer-param-kept"),
        pytest.param(
            b"q=\xe9&x=1", "q=\xe9&x=1&l=\xe9", b"q=\xe9&x=1&l=%C3%A9", id="function-param-added"
        ),
        pytest.param(b"q=\xe9", "q=\xe9\xe9", b"q=%C3%A9%C3%A9", id="function-changed-param"),
    ],
)
def test_origin_query_bytes_keep_the_viewers_params(
    viewer: bytes, query: str, expected: bytes
) -> None:
    """The conversions both doors use: a parameter the viewer sent goes out as its bytes,
    one a function wrote is percent-encoded as UTF-8 where it is not ASCII."""
    scope = origin_scope(asgi_scope("/p", query_string=viewer), _request(query))
    assert scope["query_string"] == expected
    environ = EnvironBuilder(path="/p").get_environ()
    environ["QUERY_STRING"] = viewer.decode("latin-1")
    new = origin_environ(environ, _request(query))
    assert new["QUERY_STRING"].encode("latin-1") == expected
    assert new["REQUEST_URI"] == "/p?" + expected.decode("latin-1")


# -- 6. a uri with "?" or "#" ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "uri", "status"),
    [
        pytest.param("viewer_request", "/a?b=1", 502, id="vr-question-mark"),
        pytest.param("viewer_request", "/a#frag", 502, id="vr-hash"),
        pytest.param("origin_request", "/a?b=1", 502, id="or-question-mark"),
        pytest.param("origin_request", "/x#", 502, id="or-trailing-hash"),
        pytest.param("viewer_request", "/a%3Fb%231", 200, id="vr-percent-encoded"),
    ],
)
def test_function_uri_is_a_path_only(door: Door, event: str, uri: str, status: int) -> None:
    origin = Recorder()
    behavior = Behavior(**{event: _edit("uri", uri)}, **FORWARD)  # type: ignore[arg-type]
    resp = _get(door, door.pick(origin.asgi, origin.wsgi), behavior)
    assert resp.status == status
    if status == 502:
        assert resp.get("x-cache") == VALIDATION
        assert "invalid uri format" in resp.text()
        assert origin.seen == []
    else:
        assert len(origin.seen) == 1


@pytest.mark.parametrize("uri", ["/a?b=1", "/a#b", "/?", "/#"])
@pytest.mark.parametrize("event_type", ["viewer-request", "origin-request"])
def test_uri_with_query_or_fragment_fails_validation(event_type: Any, uri: str) -> None:
    before = _request("q=1")
    result = dict(before, uri=uri)
    with pytest.raises(LambdaValidationError) as caught:
        validate_request_result(event_type, before, result, EdgeSettings(), include_body=False)
    assert caught.value.reason == BAD_URI and caught.value.field == "request.uri"


@pytest.mark.parametrize("shown_for_get", [True, False], ids=["default", "bodyless-off"])
@pytest.mark.parametrize("event_type", ["viewer_request", "origin_request"])
@pytest.mark.parametrize(
    ("method", "body", "expected_for_get_off"),
    [
        ("GET", b"", None),
        ("POST", b"", ""),
        ("PUT", b"", ""),
        ("PATCH", b"", ""),
        ("POST", b"x=1", "eD0x"),  # (a GET with body bytes is CloudFront's 403)
    ],
)
def test_body_object_for_bodyless_methods_only(
    door: Door,
    shown_for_get: bool,
    event_type: str,
    method: str,
    body: bytes,
    expected_for_get_off: str | None,
) -> None:
    """decisions.md #4: ``body_for_bodyless_methods`` is about a bodyless *method* (GET); an
    empty POST, PUT or PATCH carries a body, empty, and its IncludeBody event shows it (the
    switch used to drop the body object of every empty request)."""
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        seen.append(request.get("body"))
        return request

    origin = Recorder()
    trigger = Trigger(handler, include_body=True)
    behavior = Behavior(
        **{event_type: trigger}, allowed_methods=ALL_METHODS, cache=CachePolicy(0, 0, 0)
    )
    settings = EdgeSettings(body_for_bodyless_methods=shown_for_get)
    wrapped = door.wrap(
        door.pick(origin.asgi, origin.wsgi), EdgeConfig(default=behavior, settings=settings)
    )
    resp = door.send(door.viewer(wrapped), method, "/p", body=body)
    assert resp.status == 200
    expected = "" if shown_for_get and expected_for_get_off is None else expected_for_get_off
    if expected is None:
        assert seen == [None]
    else:
        assert seen[0] is not None and seen[0]["data"] == expected


@pytest.mark.parametrize(
    "triggers", [{}, {"origin_request": "pass"}], ids=["short-way", "pipeline"]
)
def test_repeated_x_forwarded_for_lines_are_one_list(door: Door, triggers: dict[str, Any]) -> None:
    """lambda-edge.md §1.3: the origin gets the viewer's X-Forwarded-For with the client's
    address appended; two lines of it are one list (RFC 9110 §5.3), and the second one's hops
    were lost on the ASGI door."""

    def passes(event: dict[str, Any], context: Any) -> Any:
        return event["Records"][0]["cf"]["request"]

    origin = Recorder()
    behavior = Behavior(**{k: passes for k in triggers}, cache=CachePolicy(0, 0, 0))
    lines = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"198.51.100.2")]
    resp = _get(door, door.pick(origin.asgi, origin.wsgi), behavior, headers=lines)
    assert resp.status == 200
    sent = b", ".join(origin.header(b"x-forwarded-for"))
    assert sent.startswith(b"198.51.100.1, 198.51.100.2, "), sent
