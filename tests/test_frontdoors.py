"""Both front doors, one table: every case runs through ``EdgeMiddleware`` (ASGI, Starlette origin,
Starlette's TestClient) and ``EdgeWSGIMiddleware`` (WSGI, Flask origin, werkzeug's test Client).

Spec: lambda-edge.md §1-§4 and §6, decisions.md, peers.md "Mistakes this project must not make".
Where the two doors differ by nature (ASGI servers lower-case header names; WSGI servers join
repeated request headers, PEP 3333) the case says so and expects each door's best.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import gzip
import hashlib
import html
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    EdgeConfig,
    EdgeSettings,
    Origin,
    OriginRequestPolicy,
    Trigger,
)

try:  # tests/ on sys.path, or the repository root on it (as in conftest.py)
    import aws_examples as aws
    from frontdoor_apps import (
        BINARY,
        LAST_MODIFIED,
        ORIGIN_ERROR,
        STREAM_CHUNKS,
        make_flask_app,
        make_starlette_app,
        pattern,
    )
except ImportError:
    from tests import aws_examples as aws
    from tests.frontdoor_apps import (
        BINARY,
        LAST_MODIFIED,
        ORIGIN_ERROR,
        STREAM_CHUNKS,
        make_flask_app,
        make_starlette_app,
        pattern,
    )
from tests.support import doors

KIB, MIB = 1024, 1024 * 1024
CLIENT_IP = "203.0.113.7"
SLOTS = ("viewer_request", "origin_request", "origin_response", "viewer_response")
VIA_RE = re.compile(r"^1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{54}==$")
EXECUTION_PAGE = (
    "The Lambda function associated with the CloudFront distribution is invalid or "
    "doesn't have the required permissions."
)
HANDLER_SECRET = "handler-secret-detail"

#: CloudFront's CachingDisabled + AllViewer: the origin sees everything the viewer sent.
NO_CACHE = CachePolicy(0, 0, 0)
ALL_VIEWER = OriginRequestPolicy(headers="allViewer", cookies="all", query_strings="all")
#: A caching policy that keys on (and so forwards) every query string and cookie.
KEY_ALL = CachePolicy(query_strings="all", cookies="all")


# -- the two doors ---------------------------------------------------------------------------------
class Resp(doors.Resp):
    """:class:`doors.Resp` whose text has CloudFront's HTML entities unescaped."""

    __slots__ = ()

    def text(self) -> str:
        return html.unescape(super().text())


@dataclass
class Door(doors.Door):
    origin_log: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[int, tuple[EdgeConfig, Any]] = field(default_factory=dict)

    def client(self, cfg: EdgeConfig) -> Any:
        """One middleware (and cache) per config, so repeated requests share the cache."""
        known = self.clients.get(id(cfg))
        if known is not None:
            return known[1]
        app = self.pick(
            make_starlette_app(self.origin_log), make_flask_app(self.origin_log).wsgi_app
        )
        client = self.viewer(self.wrap(app, cfg), client_ip=CLIENT_IP)
        self.clients[id(cfg)] = (cfg, client)
        return client


#: Events a slow handler waits on; set when the test ends so no worker thread lingers.
_RELEASE: list[threading.Event] = []
#: State kept by handlers shared by both doors' runs of a case; emptied before each test.
_PER_TEST_STATE: list[list[Any]] = []


@pytest.fixture(params=doors.DOORS)
def door(request: pytest.FixtureRequest) -> Iterator[Door]:
    d = Door(request.param)
    for state in _PER_TEST_STATE:
        state.clear()
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    reason = dict(case.bug).get(d.kind) if isinstance(case, Case) else None
    if reason is not None:  # a library bug seen on this door only
        request.node.add_marker(xfail(reason))
    yield d
    while _RELEASE:
        _RELEASE.pop().set()


def request(
    door: Door,
    cfg: EdgeConfig,
    method: str = "GET",
    path: str = "/echo",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
) -> Resp:
    """Send one viewer request through the door's middleware."""
    resp = door.send(
        door.client(cfg), method, path, headers=headers, body=body, client_ip=CLIENT_IP, raw=True
    )
    return Resp(*resp)


# -- handlers and the event recorder ---------------------------------------------------------------
Handler = Callable[[dict[str, Any], Any], Any]
#: A handler, or a ``"module:function"`` string (not spied on).
HandlerSpec = Handler | str


def pass_request(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["request"]


def pass_response(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["response"]


PASS: dict[str, Handler] = {
    "viewer_request": pass_request,
    "origin_request": pass_request,
    "origin_response": pass_response,
    "viewer_response": pass_response,
}


def returns(value: Any) -> Handler:
    """A handler that returns (a fresh copy of) ``value``."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        return copy.deepcopy(value)

    return handler


def edit_request(fn: Callable[[dict[str, Any]], None]) -> Handler:
    """A request handler that edits the request in place and returns it."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        req = event["Records"][0]["cf"]["request"]
        fn(req)
        return req

    return handler


def edit_response(fn: Callable[[dict[str, Any]], None]) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> Any:
        resp = event["Records"][0]["cf"]["response"]
        fn(resp)
        return resp

    return handler


def raises(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError(HANDLER_SECRET)


async def async_raises(event: dict[str, Any], context: Any) -> Any:
    raise ValueError(HANDLER_SECRET)


def slow(event: dict[str, Any], context: Any) -> Any:
    """Takes a second (longer than the tiny timeouts the cases set)."""
    gate = threading.Event()
    _RELEASE.append(gate)
    gate.wait(1.0)
    return event["Records"][0]["cf"].get("response", event["Records"][0]["cf"]["request"])


def slow_for(seconds: float) -> Handler:
    """A request handler that takes ``seconds`` and then passes the request on."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        gate = threading.Event()
        _RELEASE.append(gate)
        gate.wait(seconds)
        return event["Records"][0]["cf"]["request"]

    return handler


def fails_once(slot_result: Handler) -> Handler:
    """Raises on its first call, then behaves like ``slot_result``."""
    calls: list[int] = []
    _PER_TEST_STATE.append(calls)

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(HANDLER_SECRET)
        return slot_result(event, context)

    return handler


async def async_slow(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(1.0)
    return event["Records"][0]["cf"]["request"]


def page(status: Any = "200", body: str | None = None, **extra: Any) -> dict[str, Any]:
    """A generated response."""
    out: dict[str, Any] = {"status": status, "statusDescription": "Generated"}
    if body is not None:
        out["body"] = body
    out.update(extra)
    return out


def hdr(name: str, *values: Any) -> list[dict[str, Any]]:
    return [{"key": name, "value": v} for v in values]


class Seen(NamedTuple):
    event: dict[str, Any]
    request_id: str
    remaining_ms: int


class Run:
    """One case on one door: the config, the responses, and what handlers and origin saw."""

    def __init__(self, door: Door, case: Case) -> None:
        self.door = door
        self.kind = door.kind
        self.case = case
        self.seen: dict[str, list[Seen]] = {slot: [] for slot in SLOTS}
        behavior: dict[str, Any] = {}
        for slot, fn in case.triggers.items():
            target = fn if isinstance(fn, str) else self._spy(slot, fn)
            behavior[slot] = Trigger(target, include_body=slot in case.include_body)
        self.cfg = EdgeConfig(
            default=Behavior(
                cache=case.cache,
                origin_request_policy=case.orp,
                allowed_methods=case.allowed_methods,
                viewer_protocol_policy=case.viewer_protocol_policy,  # type: ignore[arg-type]
                **behavior,
            ),
            distribution_id=case.distribution_id,
            distribution_domain_name=case.domain,
            settings=case.settings,
            origins=case.origins,
        )
        self.responses: list[Resp] = []

    def _spy(self, slot: str, fn: Handler) -> Handler:
        def record(event: dict[str, Any], context: Any) -> None:
            self.seen[slot].append(
                Seen(
                    copy.deepcopy(event),
                    context.aws_request_id,
                    context.get_remaining_time_in_millis(),
                )
            )

        if inspect.iscoroutinefunction(fn):

            async def async_spy(event: dict[str, Any], context: Any) -> Any:
                record(event, context)
                return await fn(event, context)

            return async_spy

        def spy(event: dict[str, Any], context: Any) -> Any:
            record(event, context)
            return fn(event, context)

        return spy

    def send(
        self,
        method: str | None = None,
        path: str | None = None,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> Resp:
        c = self.case
        resp = request(
            self.door,
            self.cfg,
            c.method if method is None else method,
            c.path if path is None else path,
            c.headers if headers is None else headers,
            c.body if body is None else body,
        )
        self.responses.append(resp)
        return resp

    @property
    def resp(self) -> Resp:
        return self.responses[-1]

    @property
    def origin(self) -> list[dict[str, Any]]:
        return self.door.origin_log

    def cf(self, slot: str, i: int = 0) -> dict[str, Any]:
        """``Records[0].cf`` of the i-th event the slot's handler saw."""
        cf: dict[str, Any] = self.seen[slot][i].event["Records"][0]["cf"]
        return cf

    def calls(self, slot: str) -> int:
        return len(self.seen[slot])

    def origin_headers(self, i: int = -1) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, v in self.origin[i]["headers"]:
            out.setdefault(k.lower(), []).append(v)
        return out


@dataclass(frozen=True)
class Case:
    triggers: dict[str, HandlerSpec] = field(default_factory=dict)
    method: str = "GET"
    path: str = "/echo"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    status: int = 200
    #: ``X-Cache`` of the (first) response; ``None``: not checked.
    x_cache: str | None = "Miss from cloudfront"
    check: Callable[[Run], None] | None = None
    include_body: tuple[str, ...] = ()
    cache: CachePolicy = NO_CACHE
    orp: OriginRequestPolicy | None = ALL_VIEWER
    settings: EdgeSettings = field(default_factory=EdgeSettings)
    distribution_id: str = "EDFDVBD6EXAMPLE"
    domain: str = "d111111abcdef8.cloudfront.net"
    allowed_methods: tuple[str, ...] = ("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE")
    viewer_protocol_policy: str = "allow-all"
    origins: tuple[Origin, ...] = ()
    #: A line CloudFront's error page must show (the validation reason).
    reason: str | None = None
    #: ``(door, reason)``: a library bug that makes this case fail on that door only.
    bug: tuple[tuple[str, str], ...] = ()


def run_case(door: Door, case: Case) -> Run:
    run = Run(door, case)
    resp = run.send()
    assert resp.status == case.status, resp.body[:2000]
    if case.x_cache is not None:
        assert resp.all("x-cache") == [case.x_cache]
    if case.reason is not None:
        assert case.reason in resp.text()
    if case.check is not None:
        case.check(run)
    return run


def xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"BUG: {reason}")


# -- shared checks ---------------------------------------------------------------------------------
def origin_not_called(run: Run) -> None:
    assert run.origin == []


def echoed(run: Run) -> dict[str, Any]:
    """The origin's JSON description of the request it received."""
    data: dict[str, Any] = run.resp.json()
    return data


def lower_names(entries: dict[str, Any]) -> set[str]:
    return {name.lower() for name in entries}


# ==================================================================================================
# 1. Conversions (peers mistakes 3, 4, 5, 8, 9)
# ==================================================================================================
def _path(path: str, raw: str, uri: str | None = None) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        got = echoed(run)
        assert got["path"] == path
        assert got["raw_path"] == raw
        assert run.cf("viewer_request")["request"]["uri"] == (uri or raw)

    return check


def _query(expected: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.cf("viewer_request")["request"]["querystring"] == expected
        assert echoed(run)["query_string"] == expected
        assert run.cf("origin_request")["request"]["querystring"] == expected

    return check


def _binary_request(run: Run) -> None:
    got = echoed(run)
    assert got["method"] == "POST"
    assert got["body_length"] == 256
    assert got["body_sha256"] == hashlib.sha256(BINARY).hexdigest()


def _binary_response(run: Run) -> None:
    assert run.resp.body == BINARY
    assert run.resp.get("content-type") == "application/octet-stream"
    assert run.resp.get("content-length") == "256"


def _head_echo(run: Run) -> None:
    assert run.resp.body == b""
    assert run.resp.get("content-type") == "application/json"
    assert run.cf("viewer_request")["request"]["method"] == "HEAD"
    assert run.origin[0]["method"] == "HEAD"


def _head_binary(run: Run) -> None:
    assert run.resp.body == b""
    assert run.resp.get("content-type") == "application/octet-stream"
    assert run.resp.get("content-length") == "256"


def _header_casing(run: Run) -> None:
    headers = run.cf("viewer_request")["request"]["headers"]
    assert "x-mixed-case" in headers
    assert headers["x-mixed-case"] == [
        # ASGI servers hand over lower-case names (so does every ASGI server); a WSGI environ
        # has no casing at all, so the WSGI door capitalises each part.
        {"key": "x-mixed-case" if run.kind == "asgi" else "X-Mixed-Case", "value": "v1"}
    ]


def _header_value_verbatim(run: Run) -> None:
    headers = run.cf("viewer_request")["request"]["headers"]
    assert [e["value"] for e in headers["x-list"]] == ["a, b; c=d,,e"]
    assert run.origin_headers()["x-list"] == ["a, b; c=d,,e"]


def _repeated_request_header(run: Run) -> None:
    values = [e["value"] for e in run.cf("viewer_request")["request"]["headers"]["x-twice"]]
    # WSGI joins repeated request headers into one (PEP 3333); ASGI keeps each line.
    assert values == (["one", "two"] if run.kind == "asgi" else ["one, two"])


def _two_set_cookies(run: Run) -> None:
    cookies = run.resp.all("set-cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("first=1")
    assert cookies[1].startswith("second=2")


def _set_cookie_stripped(run: Run) -> None:
    assert run.resp.all("set-cookie") == []
    assert run.resp.body == b"cookies"


def _two_cookie_lines(run: Run) -> None:
    entries = run.cf("viewer_request")["request"]["headers"]["cookie"]
    values = [e["value"] for e in entries]
    if run.kind == "asgi":
        assert values == ["first=1", "second=2; third=3"]
    else:  # one joined line: the WSGI server merged them before the middleware saw them
        assert len(values) == 1
        assert "first=1" in values[0]
        assert "second=2; third=3" in values[0]
    cookie = "; ".join(run.origin_headers()["cookie"])
    for pair in ("first=1", "second=2", "third=3"):
        assert pair in cookie


def _origin_status_and_headers(run: Run) -> None:
    assert run.resp.get("x-origin-status") == "201"
    assert (run.resp.get("content-type") or "").startswith("text/plain")
    assert run.resp.body == b"status 201"


def _origin_error_passthrough(run: Run) -> None:
    assert run.resp.body == b"status 404"
    assert run.resp.get("x-origin-status") == "404"


def _streamed(run: Run) -> None:
    assert run.resp.body == b"".join(STREAM_CHUNKS)


def _large_body(run: Run) -> None:
    got = echoed(run)
    assert got["body_length"] == 100 * KIB
    assert got["body_sha256"] == hashlib.sha256(b"z" * 100 * KIB).hexdigest()


def _method(name: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert echoed(run)["method"] == name
        assert run.cf("viewer_request")["request"]["method"] == name

    return check


def _no_content(run: Run) -> None:
    assert run.resp.body == b""
    assert run.resp.get("x-origin-status") == "204"


def _rewritten_uri(run: Run) -> None:
    got = echoed(run)
    assert got["path"] == "/new path/é"
    assert got["raw_path"] == "/new%20path/%C3%A9"


def _json_unicode(run: Run) -> None:
    assert echoed(run)["path"] == "/ünï/cödé"


def _big_body(n: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert len(run.resp.body) == n
        assert run.resp.body == pattern(n)
        for resp in run.responses[1:]:
            assert resp.body == pattern(n)

    return check


def _big_cached(n: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        second = run.send()
        assert second.all("x-cache") == ["Hit from cloudfront"]
        assert len(run.origin) == 1
        _big_body(n)(run)

    return check


def _origin_query(expected: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert echoed(run)["query_string"] == expected

    return check


def _edge_headers_to_origin(run: Run) -> None:
    seen = run.origin_headers()
    assert seen["x-from-edge"] == ["added"]
    assert "x-remove-me" not in seen
    assert "x-remove-me" in run.cf("viewer_request")["request"]["headers"]


def _cf_id_to_origin(run: Run) -> None:
    assert run.origin_headers().get("x-amz-cf-id") == [run.resp.get("x-amz-cf-id")]


def _add_edge_header(req: dict[str, Any]) -> None:
    req["headers"].pop("x-remove-me")
    req["headers"]["x-from-edge"] = hdr("X-From-Edge", "added")


VR = {"viewer_request": pass_request, "origin_request": pass_request}
OR_PASS = {"origin_response": pass_response}
TWO_MB = 2 * MIB

CONVERSIONS = [
    pytest.param(
        Case(VR, path="/caf%C3%A9", check=_path("/café", "/caf%C3%A9")), id="percent-encoded-path"
    ),
    pytest.param(
        Case(
            VR,
            path="/café",  # werkzeug sends the raw UTF-8 bytes; httpx percent-encodes them
            check=_path("/café", "/caf%C3%A9"),
        ),
        id="non-ascii-path",
    ),
    pytest.param(
        Case(VR, path="/%C3%BCn%C3%AF/c%C3%B6d%C3%A9", check=_json_unicode),
        id="non-ascii-json-roundtrip",
    ),
    pytest.param(Case(VR, path="/a%2Fb", check=_path("/a/b", "/a%2Fb")), id="encoded-slash"),
    pytest.param(Case(VR, path="/a%20b/c", check=_path("/a b/c", "/a%20b/c")), id="encoded-space"),
    pytest.param(
        Case(
            {
                "viewer_request": edit_request(lambda r: r.update(uri="/new%20path/%C3%A9")),
                "origin_request": pass_request,
            },
            path="/old",
            check=_rewritten_uri,
        ),
        id="uri-rewritten-by-viewer-request-decoded-for-app",
    ),
    pytest.param(
        Case(VR, path="/echo?a=1&a=2&b=x", check=_query("a=1&a=2&b=x")), id="repeated-query-keys"
    ),
    pytest.param(Case(VR, path="/echo", check=_query("")), id="empty-query"),
    pytest.param(
        Case(VR, path="/echo?a=&b&c=3", check=_query("a=&b&c=3")), id="blank-query-values"
    ),
    pytest.param(
        Case(VR, path="/echo?q=caf%C3%A9&plus=%2B", check=_query("q=caf%C3%A9&plus=%2B")),
        id="percent-encoded-query-kept-raw",
    ),
    pytest.param(
        Case(VR, method="POST", body=BINARY, check=_binary_request), id="binary-request-body"
    ),
    pytest.param(Case(VR, path="/binary", check=_binary_response), id="binary-response-body"),
    pytest.param(Case(VR, method="HEAD", check=_head_echo), id="head-no-body-headers-kept"),
    pytest.param(
        Case(VR, method="HEAD", path="/binary", check=_head_binary), id="head-keeps-content-length"
    ),
    pytest.param(
        Case(VR, headers=(("X-Mixed-Case", "v1"),), check=_header_casing), id="header-key-casing"
    ),
    pytest.param(
        Case(VR, headers=(("X-List", "a, b; c=d,,e"),), check=_header_value_verbatim),
        id="header-value-not-split",
    ),
    pytest.param(
        Case(VR, headers=(("X-Twice", "one"), ("X-Twice", "two")), check=_repeated_request_header),
        id="repeated-request-header",
    ),
    pytest.param(
        Case(VR, path="/cookies", cache=KEY_ALL, orp=None, check=_two_set_cookies),
        id="two-set-cookie-kept-with-cookie-forwarding",
    ),
    pytest.param(
        Case(VR, path="/cookies", cache=CachePolicy(), orp=None, check=_set_cookie_stripped),
        id="set-cookie-stripped-without-cookie-forwarding",
    ),
    pytest.param(
        Case(
            VR,
            headers=(("Cookie", "first=1"), ("Cookie", "second=2; third=3")),
            check=_two_cookie_lines,
        ),
        id="two-cookie-lines",
    ),
    pytest.param(
        Case(VR, path="/status/201", status=201, check=_origin_status_and_headers),
        id="origin-201-status-and-headers-kept",
    ),
    pytest.param(
        Case(
            VR,
            path="/status/404",
            status=404,
            x_cache="Error from cloudfront",
            check=_origin_error_passthrough,
        ),
        id="origin-404-passes-through",
    ),
    pytest.param(
        Case(VR, path="/status/204", status=204, check=_no_content), id="origin-204-no-body"
    ),
    pytest.param(Case(VR, path="/stream", check=_streamed), id="streamed-origin-body"),
    pytest.param(
        Case(VR, method="POST", body=b"z" * 100 * KIB, check=_large_body),
        id="large-body-reaches-origin",
    ),
    pytest.param(
        Case(OR_PASS, path="/binary", check=_binary_response),
        id="binary-body-through-origin-response",
    ),
    pytest.param(
        Case(OR_PASS, path="/stream", check=_streamed), id="stream-through-origin-response"
    ),
    pytest.param(
        Case(OR_PASS, path=f"/bytes/{TWO_MB}", check=_big_body(TWO_MB)),
        id="2mb-origin-body-through-origin-response",
    ),
    pytest.param(
        Case(
            OR_PASS,
            path=f"/bytes/{TWO_MB}",
            cache=CachePolicy(),
            orp=None,
            check=_big_cached(TWO_MB),
        ),
        id="2mb-origin-body-cached-then-hit",
    ),
    pytest.param(
        Case(
            {"viewer_request": edit_request(lambda r: r.update(querystring="z=9&z=8"))},
            path="/echo?a=1",
            check=_origin_query("z=9&z=8"),
        ),
        id="querystring-changed-by-viewer-request-reaches-origin",
    ),
    pytest.param(
        Case(
            {"viewer_request": edit_request(_add_edge_header)},
            headers=(("X-Remove-Me", "1"),),
            check=_edge_headers_to_origin,
        ),
        id="headers-added-and-removed-by-viewer-request",
    ),
    pytest.param(
        Case(VR, check=_cf_id_to_origin),
        id="x-amz-cf-id-sent-to-origin",
    ),
    pytest.param(Case(VR, method="PUT", body=b"x=1", check=_method("PUT")), id="put"),
    pytest.param(Case(VR, method="DELETE", check=_method("DELETE")), id="delete"),
    pytest.param(Case(VR, method="PATCH", body=b"{}", check=_method("PATCH")), id="patch"),
]


@pytest.mark.parametrize("case", CONVERSIONS)
def test_conversions(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 2. Event shape per trigger (peers mistake 7; lambda-edge.md §1)
# ==================================================================================================
def _event_types(run: Run) -> None:
    for slot in SLOTS:
        assert run.calls(slot) == 1
        assert run.cf(slot)["config"]["eventType"] == slot.replace("_", "-")


def _request_ids(run: Run) -> None:
    cf_id = run.resp.get("x-amz-cf-id")
    assert cf_id is not None
    assert REQUEST_ID_RE.match(cf_id)
    for slot in SLOTS:
        assert run.cf(slot)["config"]["requestId"] == cf_id
    # context.aws_request_id is each invocation's own (a UUID, as on Lambda), not the event's
    # requestId (runtime hunt #5)
    invocation_ids = {run.seen[slot][0].request_id for slot in SLOTS}
    assert len(invocation_ids) == len(SLOTS) and cf_id not in invocation_ids
    second = run.send()
    assert second.get("x-amz-cf-id") != cf_id
    assert run.cf("viewer_request", 1)["config"]["requestId"] == second.get("x-amz-cf-id")


def _distribution(run: Run) -> None:
    for slot in SLOTS:
        config = run.cf(slot)["config"]
        assert config["distributionId"] == "E2CUSTOMDIST"
        assert config["distributionDomainName"] == "dzzz999example.cloudfront.net"
        assert "distributionID" not in config
        assert set(config) == {
            "distributionId",
            "distributionDomainName",
            "eventType",
            "requestId",
        }


def _client_ip(run: Run) -> None:
    for slot in SLOTS:
        assert run.cf(slot)["request"]["clientIp"] == CLIENT_IP


def _cloudfront_headers(viewer_value: str | None) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        vreq = run.cf("viewer_request")["request"]["headers"]
        if viewer_value is None:
            assert not [n for n in vreq if n.startswith("cloudfront-")]
        else:
            assert [e["value"] for e in vreq["cloudfront-viewer-country"]] == [viewer_value]
        oreq = run.cf("origin_request")["request"]["headers"]
        assert [e["value"] for e in oreq["cloudfront-viewer-country"]] == ["DE"]
        assert run.origin_headers()["cloudfront-viewer-country"] == ["DE"]

    return check


def _origin_side_headers(run: Run) -> None:
    headers = run.cf("origin_request")["request"]["headers"]
    assert VIA_RE.match(headers["via"][0]["value"])
    assert headers["x-forwarded-for"][0]["value"] == CLIENT_IP
    assert headers["user-agent"][0]["value"] == "Amazon CloudFront"
    assert "x-amz-cf-id" not in headers  # sent to the origin, but disallowed in events
    vreq = run.cf("viewer_request")["request"]["headers"]
    assert "via" not in vreq
    assert "x-forwarded-for" not in vreq
    seen = run.origin_headers()
    assert seen["user-agent"] == ["Amazon CloudFront"]
    assert seen["x-forwarded-for"] == [CLIENT_IP]


def _xff_appended(run: Run) -> None:
    headers = run.cf("origin_request")["request"]["headers"]
    assert headers["x-forwarded-for"][0]["value"] == f"198.51.100.1, {CLIENT_IP}"


def _user_agent_forwarded(run: Run) -> None:
    headers = run.cf("origin_request")["request"]["headers"]
    assert [e["value"] for e in headers["user-agent"]] == ["my-browser/1.0"]


def _origin_only_in_origin_events(run: Run) -> None:
    assert "origin" not in run.cf("viewer_request")["request"]
    assert "origin" not in run.cf("viewer_response")["request"]
    for slot in ("origin_request", "origin_response"):
        origin = run.cf(slot)["request"]["origin"]
        assert list(origin) == ["custom"]
        custom = origin["custom"]
        assert custom["domainName"]
        assert custom["port"] in (80, 443)
        assert custom["protocol"] == "http"
        assert isinstance(custom["customHeaders"], dict)


def _response_shape(run: Run) -> None:
    for slot in ("viewer_request", "origin_request"):
        assert "response" not in run.cf(slot)
    for slot in ("origin_response", "viewer_response"):
        response = run.cf(slot)["response"]
        assert response["status"] == "200"
        assert response["statusDescription"] == "OK"
        assert "body" not in response
        assert lower_names(response["headers"]) == set(response["headers"])


def _origin_response_status_404(run: Run) -> None:
    assert run.cf("origin_response")["response"]["status"] == "404"
    assert run.cf("origin_response")["response"]["statusDescription"] == "Not Found"


def _origin_response_sees_origin_request(run: Run) -> None:
    oreq = run.cf("origin_response")["request"]
    assert oreq["headers"]["x-added-by-origin-request"][0]["value"] == "yes"
    assert VIA_RE.match(oreq["headers"]["via"][0]["value"])
    assert oreq["uri"] == "/from-origin-request"
    assert "origin" in oreq
    assert echoed(run)["path"] == "/from-origin-request"


def _viewer_response_sees_viewer_request(run: Run) -> None:
    vreq = run.cf("viewer_response")["request"]
    assert vreq["uri"] == "/from-viewer-request"
    assert vreq["headers"]["x-added-by-viewer-request"][0]["value"] == "yes"
    assert "via" not in vreq["headers"]
    assert "origin" not in vreq
    assert "x-added-by-origin-request" not in vreq["headers"]


def _viewer_response_headers(run: Run) -> None:
    headers = run.cf("viewer_response")["response"]["headers"]
    assert headers["content-type"][0]["value"] == "application/json"
    assert "x-cache" not in headers
    assert "x-amz-cf-id" not in headers
    assert "transfer-encoding" not in headers


def _no_body_without_include_body(run: Run) -> None:
    for slot in ("viewer_request", "origin_request"):
        assert "body" not in run.cf(slot)["request"]
        assert run.cf(slot)["request"]["method"] == "POST"
    assert echoed(run)["body_text"] == "a=1"


def _querystring(viewer: str, origin: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.cf("viewer_request")["request"]["querystring"] == viewer
        assert run.cf("origin_request")["request"]["querystring"] == origin
        assert run.cf("origin_response")["request"]["querystring"] == origin
        assert run.cf("viewer_response")["request"]["querystring"] == viewer

    return check


def _one_record(run: Run) -> None:
    for slot in SLOTS:
        event = run.seen[slot][0].event
        assert list(event) == ["Records"]
        assert len(event["Records"]) == 1
        assert list(event["Records"][0]) == ["cf"]


def _timeouts_in_context(run: Run) -> None:
    for slot in ("viewer_request", "viewer_response"):
        assert 0 < run.seen[slot][0].remaining_ms <= 5000
    for slot in ("origin_request", "origin_response"):
        assert 5000 < run.seen[slot][0].remaining_ms <= 30000


def _host_headers(run: Run) -> None:
    assert run.cf("viewer_request")["request"]["headers"]["host"][0]["value"] == "testserver"
    assert run.cf("viewer_response")["request"]["headers"]["host"][0]["value"] == "testserver"


def _origin_response_cookies(run: Run) -> None:
    entries = run.cf("origin_response")["response"]["headers"]["set-cookie"]
    assert len(entries) == 2
    assert entries[0]["value"].startswith("first=1")
    assert entries[1]["value"].startswith("second=2")
    assert len(run.cf("viewer_response")["response"]["headers"]["set-cookie"]) == 2


async def async_pass_request(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    return event["Records"][0]["cf"]["request"]


async def async_pass_response(event: dict[str, Any], context: Any) -> Any:
    await asyncio.sleep(0)
    return event["Records"][0]["cf"]["response"]


ASYNC_PASS: dict[str, HandlerSpec] = {
    "viewer_request": async_pass_request,
    "origin_request": async_pass_request,
    "origin_response": async_pass_response,
    "viewer_response": async_pass_response,
}


def _async_ran(run: Run) -> None:
    _event_types(run)
    assert echoed(run)["path"] == "/echo"


APP_ORIGIN = Origin(
    "app",
    domain_name="app.example.com",
    custom_headers=(("X-Origin-Secret", "s3cr3t"),),
    origin_path="/v1",
    http_port=8080,
    read_timeout=45,
    keepalive_timeout=7,
)
S3_ORIGIN = Origin(
    "assets", domain_name="assets.s3.eu-west-1.amazonaws.com", kind="s3", region="eu-west-1"
)


def _custom_origin_object(run: Run) -> None:
    expected = {
        "custom": {
            "customHeaders": {"x-origin-secret": hdr("X-Origin-Secret", "s3cr3t")},
            "domainName": "app.example.com",
            "keepaliveTimeout": 7,
            "path": "/v1",
            "port": 8080,
            "protocol": "http",
            "readTimeout": 45,
            "sslProtocols": ["TLSv1.2"],
        }
    }
    for slot in ("origin_request", "origin_response"):
        assert run.cf(slot)["request"]["origin"] == expected
        assert run.cf(slot)["request"]["headers"]["host"] == hdr("Host", "app.example.com")
    assert run.cf("viewer_request")["request"]["headers"]["host"][0]["value"] == "testserver"
    assert run.origin_headers()["host"] == ["app.example.com"]


def _s3_origin_object(run: Run) -> None:
    expected = {
        "s3": {
            "authMethod": "none",
            "customHeaders": {},
            "domainName": "assets.s3.eu-west-1.amazonaws.com",
            "path": "",
            "region": "eu-west-1",
        }
    }
    for slot in ("origin_request", "origin_response"):
        assert run.cf(slot)["request"]["origin"] == expected


def _custom_headers_reach_origin(run: Run) -> None:
    assert run.origin_headers().get("x-origin-secret") == ["s3cr3t"]
    assert "x-origin-secret" not in run.cf("origin_request")["request"]["headers"]


def _origin_path_prepended(run: Run) -> None:
    assert run.cf("origin_request")["request"]["uri"] == "/echo"
    assert echoed(run)["path"] == "/v1/echo"


def _oresp_cached(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["Hit from cloudfront"]
    assert second.get("x-origin-response") == "ran"
    assert run.calls("origin_response") == 1


def _vresp_not_cached(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["Hit from cloudfront"]
    assert second.all("x-viewer-response") == ["ran"]
    assert run.calls("viewer_response") == 2
    assert run.cf("viewer_response", 1)["response"]["headers"].get("x-viewer-response") is None


def _oresp_cache_control_drives_ttl(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["Hit from cloudfront"]
    run.door.now[0] += 31
    third = run.send()
    assert third.all("x-cache") == ["Miss from cloudfront"]
    assert len(run.origin) == 2


CF_COUNTRY = EdgeSettings(cloudfront_header_values=(("cloudfront-viewer-country", "DE"),))
KEY_COUNTRY = CachePolicy(headers=("cloudfront-viewer-country",))

EVENTS = [
    pytest.param(Case(PASS, check=_event_types), id="event-type-in-each-trigger"),
    pytest.param(Case(PASS, check=_request_ids), id="one-request-id-equal-to-x-amz-cf-id"),
    pytest.param(
        Case(
            PASS,
            distribution_id="E2CUSTOMDIST",
            domain="dzzz999example.cloudfront.net",
            check=_distribution,
        ),
        id="distribution-id-and-domain-from-config",
    ),
    pytest.param(Case(PASS, check=_client_ip), id="client-ip"),
    pytest.param(
        Case(
            PASS, cache=KEY_COUNTRY, orp=None, settings=CF_COUNTRY, check=_cloudfront_headers(None)
        ),
        id="cloudfront-headers-only-after-viewer-request",
    ),
    pytest.param(
        Case(
            PASS,
            headers=(("CloudFront-Viewer-Country", "XX"),),
            cache=KEY_COUNTRY,
            orp=None,
            settings=CF_COUNTRY,
            check=_cloudfront_headers("XX"),
        ),
        id="viewer-sent-cloudfront-header-overwritten-for-origin",
    ),
    pytest.param(
        Case(PASS, orp=None, cache=CachePolicy(), check=_origin_side_headers),
        id="origin-request-via-xff-user-agent",
    ),
    pytest.param(
        Case(PASS, headers=(("X-Forwarded-For", "198.51.100.1"),), check=_xff_appended),
        id="x-forwarded-for-appended",
    ),
    pytest.param(
        Case(
            PASS,
            headers=(("User-Agent", "my-browser/1.0"),),
            cache=CachePolicy(headers=("user-agent",)),
            orp=None,
            check=_user_agent_forwarded,
        ),
        id="user-agent-kept-when-forwarded",
    ),
    pytest.param(
        Case(PASS, check=_origin_only_in_origin_events), id="origin-in-origin-events-only"
    ),
    pytest.param(Case(PASS, check=_response_shape), id="response-status-is-a-string"),
    pytest.param(
        Case(
            PASS,
            path="/status/404",
            status=404,
            x_cache="Error from cloudfront",
            check=_origin_response_status_404,
        ),
        id="origin-response-sees-404-as-string",
    ),
    pytest.param(
        Case(
            {
                **PASS,
                "origin_request": edit_request(
                    lambda r: r.update(
                        uri="/from-origin-request",
                        headers={
                            **r["headers"],
                            "x-added-by-origin-request": hdr("X-Added-By-Origin-Request", "yes"),
                        },
                    )
                ),
            },
            check=_origin_response_sees_origin_request,
        ),
        id="origin-response-request-is-the-origin-request",
    ),
    pytest.param(
        Case(
            {
                **PASS,
                "viewer_request": edit_request(
                    lambda r: r.update(
                        uri="/from-viewer-request",
                        headers={
                            **r["headers"],
                            "x-added-by-viewer-request": hdr("X-Added-By-Viewer-Request", "yes"),
                        },
                    )
                ),
                "origin_request": edit_request(
                    lambda r: r["headers"].update(
                        {"x-added-by-origin-request": hdr("X-Added-By-Origin-Request", "yes")}
                    )
                ),
            },
            check=_viewer_response_sees_viewer_request,
        ),
        id="viewer-response-request-is-the-changed-viewer-request",
    ),
    pytest.param(Case(PASS, check=_viewer_response_headers), id="viewer-response-headers"),
    pytest.param(
        Case(PASS, method="POST", body=b"a=1", check=_no_body_without_include_body),
        id="no-body-key-without-include-body",
    ),
    pytest.param(
        Case(
            PASS,
            path="/echo?a=1&b=2",
            cache=CachePolicy(),
            orp=None,
            check=_querystring("a=1&b=2", ""),
        ),
        id="querystring-not-forwarded-is-empty-in-origin-events",
    ),
    pytest.param(
        Case(PASS, path="/echo?a=1&b=2", check=_querystring("a=1&b=2", "a=1&b=2")),
        id="querystring-forwarded-in-origin-events",
    ),
    pytest.param(Case(PASS, check=_one_record), id="one-record-envelope"),
    pytest.param(
        Case(PASS, path="/cookies", cache=KEY_ALL, orp=None, check=_origin_response_cookies),
        id="response-events-see-each-set-cookie",
    ),
    pytest.param(Case(ASYNC_PASS, check=_async_ran), id="async-handlers-in-all-four"),
    pytest.param(
        # AllViewer forwards the viewer's Host; AllViewerExceptHostHeader lets the origin's
        # domain through as Host (caching.md §1.5).
        Case(
            PASS,
            origins=(APP_ORIGIN,),
            orp=OriginRequestPolicy(headers="allExcept", header_names=("host",)),
            check=_custom_origin_object,
        ),
        id="custom-origin-object-and-host-from-config",
    ),
    pytest.param(Case(PASS, origins=(S3_ORIGIN,), check=_s3_origin_object), id="s3-origin-object"),
    pytest.param(
        Case(PASS, origins=(APP_ORIGIN,), check=_custom_headers_reach_origin),
        id="origin-custom-headers-sent-to-origin",
    ),
    pytest.param(
        Case(PASS, origins=(APP_ORIGIN,), check=_origin_path_prepended),
        id="origin-path-prepended-for-origin",
    ),
    pytest.param(
        Case(
            PASS,
            path="/echo?a=1&b=2&a=3",
            cache=CachePolicy(query_strings="whitelist", query_string_names=("a",)),
            orp=None,
            check=_querystring("a=1&b=2&a=3", "a=1&a=3"),
        ),
        id="allow-listed-querystring-in-origin-events",
    ),
    pytest.param(Case(PASS, check=_timeouts_in_context), id="context-remaining-time"),
    pytest.param(Case(PASS, check=_host_headers), id="viewer-events-see-viewer-host"),
]


@pytest.mark.parametrize("case", EVENTS)
def test_event_shape(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 3. Skip rules (lambda-edge.md §2.1, §4; decisions.md #22, #23)
# ==================================================================================================
def _viewer_generated(run: Run) -> None:
    assert run.resp.body == b"from the edge"
    assert run.resp.get("server") == "CloudFront"
    assert run.calls("viewer_request") == 1
    for slot in ("origin_request", "origin_response", "viewer_response"):
        assert run.calls(slot) == 0
    origin_not_called(run)


def _viewer_generated_not_cached(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["LambdaGeneratedResponse from cloudfront"]
    assert run.calls("viewer_request") == 2
    origin_not_called(run)


def _origin_generated(run: Run) -> None:
    assert run.resp.body == b"from origin-request"
    assert run.calls("origin_response") == 0
    assert run.calls("viewer_response") == 1
    origin_not_called(run)


def _origin_generated_cached(run: Run) -> None:
    second = run.send()
    assert second.status == 200
    assert second.all("x-cache") == ["Hit from cloudfront"]
    assert second.body == b"from origin-request"
    assert run.calls("origin_request") == 1
    assert run.calls("origin_response") == 0
    assert run.calls("viewer_response") == 2
    origin_not_called(run)


def _viewer_response_skipped(run: Run) -> None:
    assert run.calls("origin_response") == 1
    assert run.calls("viewer_response") == 0
    assert run.resp.get("x-viewer-response") is None


def _viewer_response_ran(run: Run) -> None:
    assert run.calls("viewer_response") == 1
    assert run.resp.get("x-viewer-response") == "ran"


def _fixed_404(run: Run) -> None:
    _viewer_response_ran(run)
    assert run.cf("origin_response")["response"]["status"] == "404"
    assert run.cf("viewer_response")["response"]["status"] == "200"
    assert run.resp.body == b"fixed"


def _hit_runs_viewer_response(run: Run) -> None:
    assert run.calls("viewer_response") == 1
    run.door.now[0] += 7
    second = run.send()
    assert second.all("x-cache") == ["Hit from cloudfront"]
    assert second.get("age") == "7"
    assert second.get("x-viewer-response") == "ran"
    assert run.calls("origin_request") == 1
    assert run.calls("origin_response") == 1
    assert run.calls("viewer_response") == 2
    age = run.cf("viewer_response", 1)["response"]["headers"].get("age")
    assert age is not None
    assert age[0]["value"] == "7"
    assert len(run.origin) == 1


def _cache_lifetime(run: Run) -> None:
    assert run.resp.get("age") is None
    run.door.now[0] += 59
    hit = run.send()
    assert hit.all("x-cache") == ["Hit from cloudfront"]
    assert hit.get("age") == "59"
    assert hit.body == b"cached for 60"
    assert len(run.origin) == 1
    run.door.now[0] += 2
    again = run.send()
    assert again.all("x-cache") == ["Miss from cloudfront"]
    assert len(run.origin) == 2


def _post_not_cached(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["Miss from cloudfront"]
    assert run.calls("origin_request") == 2
    assert len(run.origin) == 2


def _error_made_by_origin_response(run: Run) -> None:
    assert run.calls("origin_response") == 1
    assert run.calls("viewer_response") == 0
    assert run.resp.body == b"status 200"


def _nothing_ran(run: Run) -> None:
    for slot in SLOTS:
        assert run.calls(slot) == 0
    origin_not_called(run)


def _https_redirect(run: Run) -> None:
    _nothing_ran(run)
    assert run.resp.get("location") == "https://testserver/echo?a=1"


def _rewrite_to(uri: str) -> Handler:
    return edit_request(lambda r: r.update(uri=uri))


def _viewer_rewrite_shares_key(run: Run) -> None:
    second = run.send(path="/another")
    assert second.all("x-cache") == ["Hit from cloudfront"]
    assert len(run.origin) == 1


def _origin_rewrite_keeps_key(run: Run) -> None:
    again = run.send(path="/one")
    assert again.all("x-cache") == ["Hit from cloudfront"]
    other = run.send(path="/two")
    assert other.all("x-cache") == ["Miss from cloudfront"]
    assert [o["path"] for o in run.origin] == ["/cache/60", "/cache/60"]


def _head_from_get(run: Run) -> None:
    head = run.send(method="HEAD")
    assert head.all("x-cache") == ["Hit from cloudfront"]
    assert head.body == b""
    assert len(run.origin) == 1


#: On the ASGI door httpx drops a HEAD body itself, so only the WSGI door shows it.
HEAD_BODY_BUG = "generated and error responses to HEAD carry a body (Outcome.head not set)"


def _no_body(run: Run) -> None:
    assert run.resp.body == b""


def _set_cookies_reach_viewer(run: Run) -> None:
    assert run.resp.all("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


GENERATED_WITH_COOKIES = returns(
    page(
        "302",
        headers={
            "location": hdr("Location", "/home"),
            "set-cookie": hdr("Set-Cookie", "a=1; Path=/", "b=2; Path=/"),
        },
    )
)


def _cached_error(run: Run) -> None:
    run.door.now[0] += 5
    second = run.send()
    assert second.status == 404
    assert second.all("x-cache") == ["Error from cloudfront"]
    assert second.get("age") == "5"
    assert len(run.origin) == 1
    assert run.calls("viewer_response") == 0
    run.door.now[0] += 6  # ErrorCachingMinTTL (10 s) has passed
    run.send()
    assert len(run.origin) == 2


def _lambda_error_not_cached(run: Run) -> None:
    second = run.send()
    assert second.status == 200
    assert second.all("x-cache") == ["Miss from cloudfront"]
    assert len(run.origin) == 2


MARK_VIEWER_RESPONSE = edit_response(
    lambda r: r["headers"].update({"x-viewer-response": hdr("X-Viewer-Response", "ran")})
)
GENERATED_AT_VIEWER = returns(page("200", "from the edge"))
GENERATED_AT_ORIGIN = returns(
    page(
        "200",
        "from origin-request",
        headers={"cache-control": hdr("Cache-Control", "max-age=300")},
    )
)
ALL_MARKED = {**PASS, "viewer_response": MARK_VIEWER_RESPONSE}

SKIPS = [
    pytest.param(
        Case(
            {**PASS, "viewer_request": GENERATED_AT_VIEWER},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_viewer_generated,
        ),
        id="viewer-request-answer-skips-everything",
    ),
    pytest.param(
        Case(
            {**PASS, "viewer_request": GENERATED_AT_VIEWER},
            cache=CachePolicy(),
            orp=None,
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_viewer_generated_not_cached,
        ),
        id="viewer-request-answer-never-cached",
    ),
    pytest.param(
        Case(
            {
                **PASS,
                "viewer_request": returns(
                    page(
                        "404",
                        "not here",
                        headers={"content-type": hdr("Content-Type", "text/plain")},
                    )
                ),
            },
            status=404,
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=origin_not_called,
        ),
        id="viewer-request-404-answer",
    ),
    pytest.param(
        Case(
            {**ALL_MARKED, "origin_request": GENERATED_AT_ORIGIN},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_origin_generated,
        ),
        id="origin-request-answer-skips-origin-and-origin-response",
    ),
    pytest.param(
        Case(
            {**ALL_MARKED, "origin_request": GENERATED_AT_ORIGIN},
            cache=CachePolicy(),
            orp=None,
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_origin_generated_cached,
        ),
        id="origin-request-answer-cached-then-hit",
    ),
    pytest.param(
        Case(
            ALL_MARKED,
            path="/status/404",
            status=404,
            x_cache="Error from cloudfront",
            check=_viewer_response_skipped,
        ),
        id="viewer-response-skipped-for-404",
    ),
    pytest.param(
        Case(
            ALL_MARKED,
            path="/status/500",
            status=500,
            x_cache="Error from cloudfront",
            check=_viewer_response_skipped,
        ),
        id="origin-response-runs-for-500-viewer-response-skipped",
    ),
    pytest.param(
        Case(
            {
                **ALL_MARKED,
                "origin_response": edit_response(
                    lambda r: r.update(status="200", statusDescription="OK", body="fixed")
                ),
            },
            path="/status/404",
            check=_fixed_404,
        ),
        id="origin-response-404-to-200-lets-viewer-response-run",
    ),
    pytest.param(
        Case(
            {**ALL_MARKED, "origin_response": edit_response(lambda r: r.update(status="503"))},
            path="/status/200",
            status=503,
            x_cache="Error from cloudfront",
            check=_error_made_by_origin_response,
        ),
        id="origin-response-200-to-503-skips-viewer-response",
    ),
    pytest.param(
        Case(ALL_MARKED, path="/status/302", status=302, check=_viewer_response_ran),
        id="viewer-response-runs-for-302",
    ),
    pytest.param(Case(ALL_MARKED, check=_viewer_response_ran), id="viewer-response-runs-for-200"),
    pytest.param(
        Case(
            ALL_MARKED,
            path="/cache/60",
            cache=CachePolicy(),
            orp=None,
            check=_hit_runs_viewer_response,
        ),
        id="cache-hit-skips-origin-triggers-runs-viewer-response",
    ),
    pytest.param(
        Case(PASS, path="/cache/60", cache=CachePolicy(), orp=None, check=_cache_lifetime),
        id="cache-hit-age-and-expiry",
    ),
    pytest.param(
        Case(
            {
                **PASS,
                "origin_response": edit_response(
                    lambda r: r["headers"].update(
                        {"x-origin-response": hdr("X-Origin-Response", "ran")}
                    )
                ),
            },
            path="/cache/60",
            cache=CachePolicy(),
            orp=None,
            check=_oresp_cached,
        ),
        id="origin-response-changes-are-cached",
    ),
    pytest.param(
        Case(ALL_MARKED, path="/cache/60", cache=CachePolicy(), orp=None, check=_vresp_not_cached),
        id="viewer-response-changes-not-cached",
    ),
    pytest.param(
        Case(
            {
                "origin_response": edit_response(
                    lambda r: r["headers"].update(
                        {"cache-control": hdr("Cache-Control", "max-age=30")}
                    )
                )
            },
            cache=CachePolicy(default_ttl=0),
            orp=None,
            check=_oresp_cache_control_drives_ttl,
        ),
        id="cache-control-from-origin-response-drives-ttl",
    ),
    pytest.param(
        Case(
            ALL_MARKED,
            path="/status/404",
            cache=CachePolicy(),
            orp=None,
            status=404,
            x_cache="Error from cloudfront",
            check=_cached_error,
        ),
        id="cached-404-hit-skips-viewer-response",
    ),
    pytest.param(
        Case(
            {"origin_response": fails_once(pass_response)},
            path="/cache/60",
            cache=CachePolicy(),
            orp=None,
            status=503,
            x_cache="LambdaExecutionError from cloudfront",
            check=_lambda_error_not_cached,
        ),
        id="lambda-error-not-cached",
    ),
    pytest.param(
        Case(PASS, body=b"x", status=403, x_cache="Error from cloudfront", check=_nothing_ran),
        id="get-with-body-rejected-before-viewer-request",
    ),
    pytest.param(
        Case(
            PASS,
            method="POST",
            allowed_methods=("GET", "HEAD"),
            status=403,
            x_cache="Error from cloudfront",
            check=_nothing_ran,
        ),
        id="method-not-allowed-403-before-viewer-request",
    ),
    pytest.param(
        Case(
            PASS,
            path="/echo?a=1",
            viewer_protocol_policy="redirect-to-https",
            status=301,
            x_cache="Redirect from cloudfront",
            check=_https_redirect,
        ),
        id="https-redirect-before-viewer-request",
    ),
    pytest.param(
        Case(
            PASS,
            viewer_protocol_policy="https-only",
            status=403,
            x_cache="Error from cloudfront",
            check=_nothing_ran,
        ),
        id="https-only-403-before-viewer-request",
    ),
    pytest.param(
        Case(
            {"viewer_request": _rewrite_to("/cache/60")},
            path="/first",
            cache=CachePolicy(),
            orp=None,
            check=_viewer_rewrite_shares_key,
        ),
        id="viewer-request-uri-rewrite-changes-cache-key",
    ),
    pytest.param(
        Case(
            {"origin_request": _rewrite_to("/cache/60")},
            path="/one",
            cache=CachePolicy(),
            orp=None,
            check=_origin_rewrite_keeps_key,
        ),
        id="origin-request-uri-rewrite-keeps-cache-key",
    ),
    pytest.param(
        Case(PASS, path="/cache/60", cache=CachePolicy(), orp=None, check=_head_from_get),
        id="head-answered-from-cached-get",
    ),
    pytest.param(
        Case(
            {"viewer_request": GENERATED_AT_VIEWER},
            method="HEAD",
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_no_body,
        ),
        id="head-viewer-request-answer-has-no-body",
    ),
    pytest.param(
        Case(
            {"viewer_request": raises},
            method="HEAD",
            status=503,
            x_cache="LambdaExecutionError from cloudfront",
            check=_no_body,
        ),
        id="head-error-page-has-no-body",
    ),
    pytest.param(
        Case(
            {"viewer_request": GENERATED_WITH_COOKIES},
            cache=CachePolicy(),
            orp=None,
            status=302,
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_set_cookies_reach_viewer,
        ),
        id="set-cookie-in-viewer-request-answer-kept",
    ),
    pytest.param(
        Case(
            {
                "viewer_response": edit_response(
                    lambda r: r["headers"].update(
                        {"set-cookie": hdr("Set-Cookie", "a=1; Path=/", "b=2; Path=/")}
                    )
                )
            },
            cache=CachePolicy(),
            orp=None,
            check=_set_cookies_reach_viewer,
        ),
        id="set-cookie-added-by-viewer-response-kept",
    ),
    pytest.param(
        Case(
            PASS,
            method="POST",
            path="/cache/60",
            cache=CachePolicy(),
            orp=None,
            check=_post_not_cached,
        ),
        id="post-never-cached",
    ),
]


@pytest.mark.parametrize("case", SKIPS)
def test_skip_rules(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 4. Validation: 502 LambdaValidationError (lambda-edge.md §2.3, §3.1-§3.3; peers mistakes 1, 2, 10)
# ==================================================================================================
def _validation_failed(slot: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        text = run.resp.text()
        assert "502 ERROR" in text
        assert "Traceback" not in text
        assert run.resp.get("content-type") == "text/html"
        assert run.resp.get("server") == "CloudFront"
        assert run.calls(slot) == 1
        if slot in ("viewer_request", "origin_request"):
            origin_not_called(run)
        if slot != "viewer_response":
            assert run.calls("viewer_response") == 0

    return check


def invalid(slot: str, handler: Handler, path: str = "/echo", **kw: Any) -> Case:
    triggers = dict(PASS)
    triggers[slot] = handler
    return Case(
        triggers,
        path=path,
        status=502,
        x_cache="LambdaValidationError from cloudfront",
        check=_validation_failed(slot),
        **kw,
    )


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj["headers"].pop(name)


def _put(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj["headers"].update({name: [{"key": key, "value": value}]})


BIG_VIEWER_PAGE = "x" * (41 * KIB)
BIG_ORIGIN_PAGE = "x" * (MIB + 1)

VALIDATION = [
    pytest.param(invalid("viewer_request", returns(page("999"))), id="status-999"),
    pytest.param(invalid("viewer_request", returns(page("199"))), id="status-199"),
    pytest.param(invalid("viewer_request", returns(page("600"))), id="status-600"),
    pytest.param(invalid("viewer_request", returns(page("abc"))), id="status-not-a-number"),
    pytest.param(invalid("viewer_request", returns(page(999))), id="int-status-999"),
    pytest.param(
        invalid("origin_response", edit_response(lambda r: r.update(status="999"))),
        id="origin-response-status-999",
    ),
    pytest.param(
        invalid("viewer_request", returns(page("204", "body"))), id="viewer-request-204-with-body"
    ),
    pytest.param(
        invalid("origin_request", returns(page("204", "body"))), id="origin-request-204-with-body"
    ),
    pytest.param(
        invalid("viewer_request", returns(page("200", BIG_VIEWER_PAGE))),
        id="viewer-request-41kb-page",
    ),
    pytest.param(
        invalid("origin_request", returns(page("200", BIG_ORIGIN_PAGE))),
        id="origin-request-page-over-1mb",
    ),
    pytest.param(
        invalid("viewer_request", returns(page("200", "not base64!!", bodyEncoding="base64"))),
        id="invalid-base64-body",
    ),
    pytest.param(
        invalid("viewer_request", returns(page("200", "x", bodyEncoding="gzip"))),
        id="unknown-body-encoding",
    ),
    pytest.param(
        invalid("viewer_request", returns(page("200", "x", headers={"x-n": hdr("X-N", 42)}))),
        id="generated-header-value-int",
    ),
    pytest.param(
        invalid("origin_request", edit_request(_put("x-n", "X-N", 42))),
        id="request-header-value-int",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(_put("x-bad", "X-Bad", "a\r\nInjected: 1"))),
        id="crlf-in-request-header",
    ),
    pytest.param(
        invalid("origin_response", edit_response(_put("x-bad", "X-Bad", "a\nb"))),
        id="lf-in-response-header",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(lambda r: r["headers"].update({"x-bad": "plain"}))),
        id="header-entries-not-a-list",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(_put("x-cache", "X-Cache", "Hit from cloudfront"))),
        id="disallowed-x-cache-added-to-request",
    ),
    pytest.param(
        invalid(
            "viewer_request", returns(page("200", "x", headers={"x-cache": hdr("X-Cache", "mine")}))
        ),
        id="disallowed-x-cache-in-generated-response",
    ),
    pytest.param(
        invalid("origin_response", edit_response(_put("x-amz-cf-id", "X-Amz-Cf-Id", "forged"))),
        id="disallowed-x-amz-cf-id-in-origin-response",
    ),
    pytest.param(
        invalid("viewer_response", edit_response(_put("connection", "Connection", "close"))),
        id="disallowed-connection-in-viewer-response",
    ),
    pytest.param(
        invalid("origin_request", edit_request(_put("content-length", "Content-Length", "3"))),
        id="read-only-content-length-added-in-origin-request",
    ),
    pytest.param(
        invalid("origin_request", edit_request(_put("via", "Via", "1.1 me"))),
        id="read-only-via-changed-in-origin-request",
    ),
    pytest.param(
        invalid("origin_request", edit_request(_drop("via"))),
        id="read-only-via-deleted-in-origin-request",
    ),
    pytest.param(
        invalid(
            "origin_response",
            edit_response(_put("transfer-encoding", "Transfer-Encoding", "chunked")),
        ),
        id="read-only-transfer-encoding-added-in-origin-response",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(_put("host", "Host", "evil.example.com"))),
        id="read-only-host-changed-in-viewer-request",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(_drop("host"))),
        id="read-only-host-deleted-in-viewer-request",
    ),
    pytest.param(
        invalid("viewer_response", edit_response(_drop("content-length")), path="/binary"),
        id="read-only-content-length-deleted-in-viewer-response",
    ),
    pytest.param(
        invalid("viewer_response", edit_response(lambda r: r.update(status="201"))),
        id="viewer-response-changes-status",
    ),
    pytest.param(
        invalid("viewer_response", edit_response(lambda r: r.update(body="new body"))),
        id="viewer-response-sets-body",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(lambda r: r.update(method="DELETE"))),
        id="viewer-request-changes-method",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(lambda r: r.update(clientIp="192.0.2.1"))),
        id="viewer-request-changes-client-ip",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(lambda r: r.update(uri="no-leading-slash"))),
        id="uri-without-leading-slash",
    ),
    pytest.param(
        invalid("viewer_request", edit_request(lambda r: r.update(querystring="a=1 2"))),
        id="querystring-with-space",
    ),
    pytest.param(
        invalid("origin_request", edit_request(lambda r: r["origin"]["custom"].update(port=22))),
        id="origin-port-invalid",
    ),
    pytest.param(invalid("viewer_request", returns(None)), id="viewer-request-returns-none"),
    pytest.param(invalid("viewer_request", returns([])), id="viewer-request-returns-list"),
    pytest.param(invalid("viewer_request", returns("str")), id="viewer-request-returns-str"),
    pytest.param(invalid("viewer_request", returns(42)), id="viewer-request-returns-number"),
    pytest.param(invalid("origin_request", returns(None)), id="origin-request-returns-none"),
    pytest.param(invalid("origin_response", returns(None)), id="origin-response-returns-none"),
    pytest.param(invalid("origin_response", returns(["x"])), id="origin-response-returns-list"),
    pytest.param(invalid("viewer_response", returns(None)), id="viewer-response-returns-none"),
    pytest.param(invalid("viewer_response", returns("str")), id="viewer-response-returns-str"),
    pytest.param(
        invalid("viewer_request", returns({"statusCode": 200, "body": "hi"})),
        id="api-gateway-style-in-viewer-request",
    ),
    pytest.param(
        invalid("origin_request", returns({"statusCode": 302, "headers": {"Location": "/x"}})),
        id="api-gateway-style-in-origin-request",
    ),
    pytest.param(
        invalid(
            "viewer_request", returns(page("200", "x", headers={"bad name": hdr("bad name", "v")}))
        ),
        id="header-name-not-a-token",
    ),
]


#: The reason line CloudFront's page shows, by case id prefix/suffix (lambda-edge.md §2.1, §3.5).
REASONS = [
    ("status-9", "is not in the range 200-599"),
    ("status-1", "is not in the range 200-599"),
    ("status-6", "is not in the range 200-599"),
    ("int-status-999", "is not in the range 200-599"),
    ("origin-response-status-999", "is not in the range 200-599"),
    ("disallowed-", "The function tried to add a blacklisted header."),
    ("read-only-", "The function tried to add, delete, or change a read-only header."),
    ("-41kb-page", "exceeds the maximum size"),
    ("-over-1mb", "exceeds the maximum size"),
    ("crlf-", "invalid character '%0D' in header value"),
    ("lf-", "invalid character '%0A' in header value"),
    ("-header-value-int", "must be of string or array of string type"),
    (
        "-returns-",
        "The Lambda function returned invalid JSON: The JSON output must be an object type.",
    ),
    ("uri-without-leading-slash", "invalid uri format"),
]


def _with_reason(param: Any) -> Any:
    for fragment, reason in REASONS:
        if param.id.startswith(fragment) or fragment in param.id:
            case = dataclasses.replace(param.values[0], reason=reason)
            return pytest.param(case, id=param.id, marks=param.marks)
    return param


VALIDATION = [_with_reason(p) for p in VALIDATION]


@pytest.mark.parametrize("case", VALIDATION)
def test_validation_errors(door: Door, case: Case) -> None:
    run_case(door, case)


# -- what validation accepts -----------------------------------------------------------------------
def _body_is(expected: bytes) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.resp.body == expected
        assert run.resp.get("content-length") == str(len(expected))

    return check


def _no_content(run: Run) -> None:
    """A 204 has no body and no Content-Length (RFC 9110 §8.6)."""
    assert run.resp.body == b""
    assert run.resp.get("content-length") is None


def _viewer_header(name: str, value: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        # the key's spelling reaches a WSGI server; an ASGI one gets the name lower-cased
        # ("Header names must be lowercased" in http.response.start)
        wanted = (name if run.kind == "wsgi" else name.lower(), value)
        assert wanted in run.resp.headers, run.resp.headers

    return check


def _origin_header(name: str, value: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        pairs = [(k, v) for k, v in run.origin[-1]["headers"]]
        assert any(k.lower() == name.lower() and v == value for k, v in pairs), pairs

    return check


def _status_description_default(run: Run) -> None:
    assert run.resp.body == b"made"


GEN = "viewer_request"


def _two_lines(run: Run) -> None:
    assert run.resp.all("x-multi") == ["one", "two"]


ACCEPTED = [
    pytest.param(
        Case({GEN: returns(page(200, "int status"))}, x_cache=None, check=_body_is(b"int status")),
        id="int-status-accepted",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("200", "x" * (40 * KIB - 100)))},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_body_is(b"x" * (40 * KIB - 100)),
        ),
        id="viewer-request-page-just-under-40kb",
    ),
    pytest.param(
        Case(
            {"origin_request": returns(page("200", BIG_VIEWER_PAGE))},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_body_is(BIG_VIEWER_PAGE.encode()),
        ),
        id="origin-request-41kb-page-accepted",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("200", base64.b64encode(BINARY).decode(), bodyEncoding="base64"))},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_body_is(BINARY),
        ),
        id="base64-generated-body-decoded",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("204"))},
            status=204,
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_no_content,
        ),
        id="204-without-body-accepted",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("200", "k", headers={"x-custom-header": [{"value": "v"}]}))},
            x_cache=None,
            check=_viewer_header("X-Custom-Header", "v"),
        ),
        id="missing-key-capitalised-generated",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("200", "k", headers={"x-CUSTOM": [{"value": "v"}]}))},
            x_cache=None,
            check=_viewer_header("X-CUSTOM", "v"),
        ),
        id="missing-key-only-first-letters-upper-cased",
    ),
    pytest.param(
        Case(
            {
                "origin_response": edit_response(
                    lambda r: r["headers"].update({"x-custom-header": [{"value": "o"}]})
                )
            },
            check=_viewer_header("X-Custom-Header", "o"),
        ),
        id="missing-key-capitalised-origin-response",
    ),
    pytest.param(
        Case(
            {
                "viewer_response": edit_response(
                    lambda r: r["headers"].update({"x-custom-header": [{"value": "w"}]})
                )
            },
            check=_viewer_header("X-Custom-Header", "w"),
        ),
        id="missing-key-capitalised-viewer-response",
    ),
    pytest.param(
        Case(
            {
                GEN: edit_request(
                    lambda r: r["headers"].update({"x-custom-header": [{"value": "q"}]})
                )
            },
            check=_origin_header("X-Custom-Header", "q"),
        ),
        id="missing-key-request-header-reaches-origin",
    ),
    pytest.param(
        Case(
            {GEN: returns(page("200", "m", headers={"x-multi": hdr("X-Multi", "one", "two")}))},
            x_cache=None,
            check=_two_lines,
        ),
        id="two-entries-two-header-lines",
    ),
    pytest.param(
        Case(
            {GEN: returns({"status": "200", "body": "made"})},
            x_cache="LambdaGeneratedResponse from cloudfront",
            check=_status_description_default,
        ),
        id="minimal-generated-response",
    ),
    pytest.param(
        Case(
            {"origin_response": edit_response(lambda r: r.update(status=201, body="replaced"))},
            status=201,
            check=_body_is(b"replaced"),
        ),
        id="origin-response-int-status-and-body-replaced",
    ),
    pytest.param(
        Case(
            {"origin_response": edit_response(lambda r: r.update(body=""))},
            path="/binary",
            check=_body_is(b""),
        ),
        id="origin-response-empty-body-removes-it",
    ),
    pytest.param(
        Case(
            {
                "origin_response": edit_response(
                    lambda r: r.update(
                        body=base64.b64encode(b"\x00\xff").decode(), bodyEncoding="base64"
                    )
                )
            },
            check=_body_is(b"\x00\xff"),
        ),
        id="origin-response-base64-body",
    ),
]


@pytest.mark.parametrize("case", ACCEPTED)
def test_validation_accepts(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 5. Failures: 503 for handler errors and timeouts, 502 for an origin that breaks (§3.5)
# ==================================================================================================
def _execution_error(run: Run) -> None:
    text = run.resp.text()
    assert f"{run.resp.status} ERROR" in text
    assert EXECUTION_PAGE in text
    assert "Traceback" not in text
    assert 'File "' not in text
    assert run.resp.get("content-type") == "text/html"
    assert run.resp.get("server") == "CloudFront"
    cf_id = run.resp.get("x-amz-cf-id")
    assert cf_id is not None
    assert f"Request ID: {cf_id}" in text


def _failed_in(slot: str, also: Callable[[Run], None] | None = None) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        _execution_error(run)
        assert run.calls(slot) == 1
        for later in SLOTS[SLOTS.index(slot) + 1 :]:
            assert run.calls(later) == 0
        if slot in ("viewer_request", "origin_request"):
            origin_not_called(run)
        if also is not None:
            also(run)

    return check


def _secret_not_shown(run: Run) -> None:
    assert HANDLER_SECRET not in run.resp.text()
    assert "RuntimeError" not in run.resp.text()


def _origin_failed(run: Run) -> None:
    text = run.resp.text()
    assert "502 ERROR" in text
    assert "Traceback" not in text
    assert ORIGIN_ERROR not in text
    assert len(run.origin) == 1
    assert run.calls("origin_response") == 0
    assert run.calls("viewer_response") == 0


def failing(slot: str, handler: Handler, status: int = 503, **kw: Any) -> Case:
    triggers = dict(PASS)
    triggers[slot] = handler
    return Case(
        triggers,
        status=status,
        x_cache="LambdaExecutionError from cloudfront",
        check=_failed_in(slot, kw.pop("also", None)),
        **kw,
    )


TINY = EdgeSettings(viewer_timeout=0.2, origin_timeout=0.2)

FAILURES = [
    pytest.param(failing("viewer_request", raises), id="viewer-request-raises"),
    pytest.param(failing("origin_request", raises), id="origin-request-raises"),
    pytest.param(failing("origin_response", raises), id="origin-response-raises"),
    pytest.param(failing("viewer_response", raises), id="viewer-response-raises"),
    pytest.param(failing("viewer_request", async_raises), id="async-handler-raises"),
    pytest.param(
        failing("viewer_request", raises, also=_secret_not_shown),
        id="exception-message-not-shown-to-viewer",
    ),
    pytest.param(
        failing(
            "viewer_request", raises, status=500, settings=EdgeSettings(execution_error_status=500)
        ),
        id="execution-error-status-setting",
    ),
    pytest.param(failing("viewer_request", slow, settings=TINY), id="viewer-request-timeout"),
    pytest.param(failing("origin_request", slow, settings=TINY), id="origin-request-timeout"),
    pytest.param(failing("origin_response", slow, settings=TINY), id="origin-response-timeout"),
    pytest.param(failing("viewer_response", slow, settings=TINY), id="viewer-response-timeout"),
    pytest.param(failing("viewer_request", async_slow, settings=TINY), id="async-handler-timeout"),
    pytest.param(
        Case(
            {"origin_request": slow_for(0.4)},
            settings=EdgeSettings(viewer_timeout=0.2, origin_timeout=5.0),
        ),
        id="origin-events-use-the-origin-timeout",
    ),
    pytest.param(
        failing("viewer_request", aws.query_to_header), id="aws-query-to-header-without-auth-raises"
    ),
    pytest.param(
        Case(
            PASS, path="/raise", status=502, x_cache="Error from cloudfront", check=_origin_failed
        ),
        id="origin-app-raises-before-response",
    ),
]


@pytest.mark.parametrize("case", FAILURES)
def test_failures(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 6. IncludeBody (lambda-edge.md §1.5; decisions.md #4, #5; peers mistake 11)
# ==================================================================================================
def _exposed(slot: str, size: int, truncated: bool, shown: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        body = run.cf(slot)["request"]["body"]
        assert body["inputTruncated"] is truncated
        assert body["action"] == "read-only"
        assert body["encoding"] == "base64"
        assert base64.b64decode(body["data"]) == BODY[:shown]
        got = echoed(run)
        assert got["body_length"] == size  # the full original body still reaches the origin
        assert got["body_sha256"] == hashlib.sha256(BODY[:size]).hexdigest()

    return check


def _get_body_object(run: Run) -> None:
    body = run.cf("viewer_request")["request"]["body"]
    assert body == {
        "inputTruncated": False,
        "action": "read-only",
        "encoding": "base64",
        "data": "",
    }


def _origin_received(expected: bytes) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        got = echoed(run)
        assert got["body_length"] == len(expected)
        assert got["body_sha256"] == hashlib.sha256(expected).hexdigest()
        length = run.origin_headers().get("content-length")
        assert length == [str(len(expected))] or (not expected and length is None)

    return check


def _read_only_ignores_edits(run: Run) -> None:
    _origin_received(b"original=1")(run)


def _replace(data: str, encoding: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(req: dict[str, Any]) -> None:
        req["body"]["action"] = "replace"
        req["body"]["data"] = data
        if encoding is None:
            req["body"].pop("encoding", None)
        else:
            req["body"]["encoding"] = encoding

    return edit


def body_case(slot: str, handler: Handler, size: int = 10, **kw: Any) -> Case:
    triggers = dict(VR)
    triggers[slot] = handler
    return Case(
        triggers,
        method=kw.pop("method", "POST"),
        body=kw.pop("body", BODY[:size]),
        include_body=(slot,),
        **kw,
    )


#: A body whose bytes differ along its length, so truncation and replacement show.
BODY = (bytes(range(256)) * (4 * MIB // 256 + 1))[: 2 * MIB]


def _origin_request_sees(data: bytes) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        body = run.cf("origin_request")["request"]["body"]
        assert base64.b64decode(body["data"]) == data
        assert body["action"] == "read-only"
        assert echoed(run)["body_text"] == data.decode()

    return check


INCLUDE_BODY = [
    pytest.param(
        body_case(
            "viewer_request", pass_request, 10, check=_exposed("viewer_request", 10, False, 10)
        ),
        id="viewer-request-body-exposed-base64",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            pass_request,
            40 * KIB,
            check=_exposed("viewer_request", 40 * KIB, False, 40 * KIB),
        ),
        id="viewer-request-40kb-not-truncated",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            pass_request,
            40 * KIB + 1,
            check=_exposed("viewer_request", 40 * KIB + 1, True, 40 * KIB),
        ),
        id="viewer-request-over-40kb-truncated-origin-gets-all",
    ),
    pytest.param(
        body_case(
            "origin_request",
            pass_request,
            41 * KIB,
            check=_exposed("origin_request", 41 * KIB, False, 41 * KIB),
        ),
        id="origin-request-41kb-not-truncated",
    ),
    pytest.param(
        body_case(
            "origin_request",
            pass_request,
            MIB + 1,
            check=_exposed("origin_request", MIB + 1, True, MIB),
        ),
        id="origin-request-over-1mb-truncated",
    ),
    pytest.param(
        Case(
            VR,
            method="POST",
            body=b"both=1",
            include_body=("viewer_request", "origin_request"),
            check=_origin_request_sees(b"both=1"),
        ),
        id="body-in-both-request-triggers",
    ),
    pytest.param(
        Case(
            {
                "viewer_request": edit_request(_replace("replaced=1", "text")),
                "origin_request": pass_request,
            },
            method="POST",
            body=b"original=1",
            include_body=("viewer_request", "origin_request"),
            check=_origin_request_sees(b"replaced=1"),
        ),
        id="origin-request-sees-body-replaced-by-viewer-request",
    ),
    pytest.param(
        body_case("viewer_request", pass_request, method="GET", body=b"", check=_get_body_object),
        id="get-body-object-with-empty-data",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(lambda r: r["body"].update(data=base64.b64encode(b"changed").decode())),
            body=b"original=1",
            check=_read_only_ignores_edits,
        ),
        id="read-only-action-keeps-original-body",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace("hello=world", "text")),
            check=_origin_received(b"hello=world"),
        ),
        id="viewer-request-replace-text",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace(base64.b64encode(BINARY).decode(), "base64")),
            check=_origin_received(BINARY),
        ),
        id="viewer-request-replace-base64",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace(base64.b64encode(b"default").decode())),
            check=_origin_received(b"default"),
        ),
        id="replace-encoding-defaults-to-base64",
    ),
    pytest.param(
        body_case(
            "origin_request",
            edit_request(_replace("from=origin-request", "text")),
            check=_origin_received(b"from=origin-request"),
        ),
        id="origin-request-replace-text",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace("", "text")),
            check=_origin_received(b""),
        ),
        id="replace-with-empty-body",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace("x" * (40 * KIB + 1), "text")),
            status=502,
            x_cache="LambdaValidationError from cloudfront",
            check=origin_not_called,
        ),
        id="viewer-request-replaced-text-over-40kb",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace(base64.b64encode(b"y" * (40 * KIB + 3)).decode(), "base64")),
            status=502,
            x_cache="LambdaValidationError from cloudfront",
            check=origin_not_called,
        ),
        id="viewer-request-replaced-base64-over-limit",
    ),
    pytest.param(
        body_case(
            "origin_request",
            edit_request(_replace("x" * (MIB + 1), "text")),
            status=502,
            x_cache="LambdaValidationError from cloudfront",
            check=origin_not_called,
        ),
        id="origin-request-replaced-text-over-1mb",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(_replace("%%% not base64", "base64")),
            status=502,
            x_cache="LambdaValidationError from cloudfront",
            check=origin_not_called,
        ),
        id="replaced-invalid-base64",
    ),
    pytest.param(
        body_case(
            "viewer_request",
            edit_request(lambda r: r["body"].update(action="rewrite")),
            status=502,
            x_cache="LambdaValidationError from cloudfront",
            check=origin_not_called,
        ),
        id="unknown-body-action",
    ),
]


@pytest.mark.parametrize("case", INCLUDE_BODY)
def test_include_body(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 7. CloudFront's own headers on every response (lambda-edge.md §5.2)
# ==================================================================================================
def _cloudfront_headers_once(run: Run) -> None:
    for resp in run.responses:
        for name in ("via", "x-amz-cf-id", "x-amz-cf-pop", "x-cache"):
            assert len(resp.all(name)) == 1, (name, resp.headers)
        assert VIA_RE.match(resp.get("via") or "")
        assert resp.get("x-amz-cf-pop") == "FRA56-P1"
        assert REQUEST_ID_RE.match(resp.get("x-amz-cf-id") or "")


def cf_case(**kw: Any) -> Case:
    kw.setdefault("settings", EdgeSettings(pop="FRA56-P1"))
    kw.setdefault("check", _cloudfront_headers_once)
    return Case(**kw)


def _two_then_check(run: Run) -> None:
    second = run.send()
    assert second.all("x-cache") == ["Hit from cloudfront"]
    _cloudfront_headers_once(run)


def _head_check(run: Run) -> None:
    assert run.resp.body == b""
    _cloudfront_headers_once(run)


def _origin_via_replaced(run: Run) -> None:
    _cloudfront_headers_once(run)
    assert "origin-proxy" not in (run.resp.get("via") or "")


CLOUDFRONT_HEADERS = [
    pytest.param(cf_case(), id="miss-on-first-get"),
    pytest.param(
        cf_case(path="/status/404", status=404, x_cache="Error from cloudfront"), id="origin-404"
    ),
    pytest.param(
        cf_case(path="/status/503", status=503, x_cache="Error from cloudfront"), id="origin-503"
    ),
    pytest.param(
        cf_case(
            triggers={GEN: GENERATED_AT_VIEWER}, x_cache="LambdaGeneratedResponse from cloudfront"
        ),
        id="viewer-request-answer",
    ),
    pytest.param(
        cf_case(
            triggers={GEN: returns(None)},
            status=502,
            x_cache="LambdaValidationError from cloudfront",
        ),
        id="validation-error",
    ),
    pytest.param(
        cf_case(triggers={GEN: raises}, status=503, x_cache="LambdaExecutionError from cloudfront"),
        id="execution-error",
    ),
    pytest.param(
        cf_case(path="/raise", status=502, x_cache="Error from cloudfront"), id="origin-raises"
    ),
    pytest.param(cf_case(method="HEAD", check=_head_check), id="head"),
    pytest.param(
        cf_case(path="/cache/60", cache=CachePolicy(), orp=None, check=_two_then_check),
        id="hit-on-second-get",
    ),
    pytest.param(
        cf_case(triggers={"viewer_response": MARK_VIEWER_RESPONSE}), id="after-viewer-response"
    ),
    pytest.param(cf_case(path="/stream"), id="streamed"),
]


@pytest.mark.parametrize("case", CLOUDFRONT_HEADERS)
def test_cloudfront_headers(door: Door, case: Case) -> None:
    run_case(door, case)


# ==================================================================================================
# 8. AWS's example functions (lambda-edge.md §6)
# ==================================================================================================
def _ab_path(expected: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert echoed(run)["path"] == expected

    return check


def _ab_random(run: Run) -> None:
    assert echoed(run)["path"] in (aws.CONTROL_URI, aws.TREATMENT_URI)


def _last_modified(run: Run) -> None:
    assert run.resp.get("last-modified") == LAST_MODIFIED
    assert run.resp.get("x-amz-meta-last-modified") == LAST_MODIFIED


def _static_page(cached: bool) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.resp.body == aws.STATIC_PAGE.encode()
        assert run.resp.get("cache-control") == "max-age=100"
        assert run.resp.get("content-type") == "text/html"
        origin_not_called(run)
        second = run.send()
        expected = "Hit from cloudfront" if cached else "LambdaGeneratedResponse from cloudfront"
        assert second.all("x-cache") == [expected]
        assert second.body == aws.STATIC_PAGE.encode()

    return check


def _redirected(run: Run) -> None:
    assert run.resp.get("location") == aws.REDIRECT_TARGET
    origin_not_called(run)


def _auth_header(run: Run) -> None:
    got = echoed(run)
    assert got["query_string"] == "x=1"
    assert run.origin_headers()["auth-header"] == ["token-123"]


def _normalized(run: Run) -> None:
    assert echoed(run)["query_string"] == "a=1&b=2&c=x"


def _signin(run: Run) -> None:
    location = run.resp.get("location") or ""
    assert location == (
        "https://www.example.com/signin?redirect_url="
        "https%3A%2F%2Ftestserver%2Fprivate%2Fpage%3Fx%3D1"
    )
    origin_not_called(run)


def _signed_in(run: Run) -> None:
    assert echoed(run)["path"] == "/private/page"


def _error_page_200(run: Run) -> None:
    assert run.resp.body == aws.ERROR_PAGE_BODY.encode()
    assert run.resp.get("content-length") == str(len(aws.ERROR_PAGE_BODY))
    assert run.resp.get("x-origin-status") == "404"


def _plan_b(run: Run) -> None:
    assert run.resp.get("location") == "/plan-b/path?q=7"
    assert run.resp.body == b""


def _form_read(run: Run) -> None:
    assert aws.form_fields_seen[-1] == {"name": "Ada Lovelace", "lang": "py"}
    assert echoed(run)["body_text"] == FORM


def _form_modified(run: Run) -> None:
    text = echoed(run)["body_text"]
    assert text == FORM + "&new-param-name=new-param-value"


def _gzip_page(run: Run) -> None:
    assert run.resp.get("content-encoding") == "gzip"
    assert gzip.decompress(run.resp.body) == aws.GZIP_PAGE
    origin_not_called(run)


FORM = "name=Ada+Lovelace&lang=py"
FORM_HEADERS = (("Content-Type", "application/x-www-form-urlencoded"),)
GENERATED = "LambdaGeneratedResponse from cloudfront"

AWS = [
    pytest.param(
        Case(
            {GEN: aws.ab_testing},
            path="/experiment-pixel.jpg",
            headers=(("Cookie", "X-Experiment-Name=B"),),
            check=_ab_path(aws.TREATMENT_URI),
        ),
        id="1-ab-testing-treatment",
    ),
    pytest.param(
        Case(
            {GEN: aws.ab_testing},
            path="/experiment-pixel.jpg",
            headers=(("Cookie", "other=1; X-Experiment-Name=A"),),
            check=_ab_path(aws.CONTROL_URI),
        ),
        id="1-ab-testing-control",
    ),
    pytest.param(
        Case({GEN: aws.ab_testing}, path="/experiment-pixel.jpg", check=_ab_random),
        id="1-ab-testing-no-cookie",
    ),
    pytest.param(
        Case({"origin_response": aws.override_last_modified}, path="/meta", check=_last_modified),
        id="2-override-header-origin-response",
    ),
    pytest.param(
        Case({"viewer_response": aws.override_last_modified}, path="/meta", check=_last_modified),
        id="2-override-header-viewer-response",
    ),
    pytest.param(
        Case(
            {GEN: aws.static_content},
            cache=CachePolicy(),
            orp=None,
            x_cache=GENERATED,
            check=_static_page(cached=False),
        ),
        id="3-static-content-viewer-request",
    ),
    pytest.param(
        Case(
            {"origin_request": aws.static_content},
            cache=CachePolicy(),
            orp=None,
            x_cache=GENERATED,
            check=_static_page(cached=True),
        ),
        id="3-static-content-origin-request-cached",
    ),
    pytest.param(
        Case({GEN: aws.redirect}, status=302, x_cache=GENERATED, check=_redirected),
        id="4-redirect-viewer-request",
    ),
    pytest.param(
        Case(
            {GEN: f"{aws.__name__}:redirect"},
            status=302,
            x_cache=GENERATED,
            check=_redirected,
        ),
        id="4-redirect-as-module-function-string",
    ),
    pytest.param(
        Case(
            {"origin_request": aws.redirect},
            status=302,
            x_cache=GENERATED,
            check=_redirected,
        ),
        id="4-redirect-origin-request",
    ),
    pytest.param(
        Case(
            {GEN: aws.query_to_header},
            path="/echo?auth=token-123&x=1",
            check=_auth_header,
        ),
        id="5-query-string-to-header",
    ),
    pytest.param(
        Case({GEN: aws.normalize_query_string}, path="/echo?C=X&b=2&A=1&a=9", check=_normalized),
        id="6-normalize-query-string",
    ),
    pytest.param(
        Case(
            {GEN: aws.redirect_unauthenticated},
            path="/private/page?x=1",
            status=302,
            x_cache=GENERATED,
            check=_signin,
        ),
        id="7-unauthenticated-redirect",
    ),
    pytest.param(
        Case(
            {GEN: aws.redirect_unauthenticated},
            path="/private/page",
            headers=(("Cookie", "session-id=abc"),),
            check=_signed_in,
        ),
        id="7-authenticated-passes",
    ),
    pytest.param(
        Case(
            {"origin_response": aws.error_to_200, "viewer_response": pass_response},
            path="/status/404",
            check=_error_page_200,
        ),
        id="15-origin-response-404-to-200-int-status",
    ),
    pytest.param(
        Case(
            {"origin_response": aws.error_to_200},
            path="/status/500",
            check=_body_is(aws.ERROR_PAGE_BODY.encode()),
        ),
        id="15-origin-response-500-to-200",
    ),
    pytest.param(
        Case(
            {"origin_response": aws.error_to_redirect},
            path="/status/404?q=7",
            status=302,
            check=_plan_b,
        ),
        id="16-origin-response-404-to-302-int-status",
    ),
    pytest.param(
        Case(
            {GEN: aws.read_form},
            method="POST",
            body=FORM.encode(),
            headers=FORM_HEADERS,
            include_body=(GEN,),
            check=_form_read,
        ),
        id="17-read-form-viewer-request",
    ),
    pytest.param(
        Case(
            {"origin_request": aws.read_form},
            method="POST",
            body=FORM.encode(),
            headers=FORM_HEADERS,
            include_body=("origin_request",),
            check=_form_read,
        ),
        id="17-read-form-origin-request",
    ),
    pytest.param(
        Case(
            {GEN: aws.modify_form},
            method="POST",
            body=FORM.encode(),
            headers=FORM_HEADERS,
            include_body=(GEN,),
            check=_form_modified,
        ),
        id="18-modify-form-viewer-request",
    ),
    pytest.param(
        Case(
            {"origin_request": aws.modify_form},
            method="POST",
            body=FORM.encode(),
            headers=FORM_HEADERS,
            include_body=("origin_request",),
            check=_form_modified,
        ),
        id="18-modify-form-origin-request",
    ),
    pytest.param(
        Case({GEN: aws.gzip_static_content}, x_cache=GENERATED, check=_gzip_page),
        id="removed-gzip-base64-generated-body",
    ),
]


@pytest.mark.parametrize("case", AWS)
def test_aws_examples(door: Door, case: Case) -> None:
    run_case(door, case)
