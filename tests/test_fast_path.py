"""The short way (``pipeline/fast.py``, ``doors/*_fast.py``) gives the same answer as the full
pipeline (issue 11).

Each generated case is one viewer request (method, scheme, path, query string, a header set
drawn from a pool that includes the awkward ones) against one behavior and one origin answer.
It is sent twice, through a middleware with the short way and one with
``EdgeSettings(shortcuts=False)``; the origin must receive the same scope or environ and the
viewer the same status, headers and body. The request id is fixed so ``X-Amz-Cf-Id`` matches.
The short way must also be taken for the plain cases (else this would compare the pipeline
with itself).
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from edge_middleware import (
    Behavior,
    CachePolicy,
    CustomErrorResponse,
    EdgeConfig,
    EdgeMiddleware,
    EdgeSettings,
    EdgeWSGIMiddleware,
    Origin,
    OriginRequestPolicy,
)
from edge_middleware.doors import asgi as asgi_door
from edge_middleware.doors import wsgi as wsgi_door

NO_CACHE = CachePolicy(0, 0, 0)
NOW = 1_700_000_000.0


def stamp(event: dict[str, Any], context: Any) -> Any:
    """An origin-response function: it runs on misses only, never on hits."""
    response = event["Records"][0]["cf"]["response"]
    response["headers"]["x-stamped"] = [{"key": "X-Stamped", "value": "yes"}]
    return response


BEHAVIORS: dict[str, Behavior] = {
    "plain": Behavior(cache=NO_CACHE),
    "all-viewer": Behavior(
        cache=NO_CACHE,
        origin_request_policy=OriginRequestPolicy(
            headers="allViewer", cookies="all", query_strings="all"
        ),
    ),
    "some-headers": Behavior(
        cache=CachePolicy(
            0,
            0,
            0,
            headers=("accept-language", "x-api-key"),
            query_strings="whitelist",
            query_string_names=("q",),
        ),
        origin_request_policy=OriginRequestPolicy(
            headers="whitelist",
            header_names=("user-agent", "via", "x-forwarded-for"),
            cookies="none",
        ),
    ),
    "all-except": Behavior(
        cache=NO_CACHE,
        origin_request_policy=OriginRequestPolicy(
            headers="allExcept",
            header_names=("x-secret",),
            cookies="whitelist",
            cookie_names=("a",),
        ),
    ),
    "https-only": Behavior(cache=NO_CACHE, viewer_protocol_policy="redirect-to-https"),
    "all-methods": Behavior(
        cache=NO_CACHE,
        allowed_methods=("GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"),
    ),
    # cached behaviors: the hit short way (the first request for a key is a miss on both)
    "cached": Behavior(cache=CachePolicy(0, 60, 3600)),
    "cached-keyed": Behavior(
        cache=CachePolicy(
            0,
            60,
            3600,
            headers=("accept-language", "x-api-key"),
            cookies="whitelist",
            cookie_names=("a",),
            query_strings="all",
            enable_accept_encoding_gzip=True,
        ),
        origin_response="tests.test_fast_path:stamp",
    ),
    "cached-all-viewer": Behavior(
        cache=CachePolicy(1, 60, 3600, query_strings="whitelist", query_string_names=("q",)),
        origin_request_policy=OriginRequestPolicy(headers="allViewer", cookies="all"),
    ),
}
CACHED = {name for name in BEHAVIORS if name.startswith("cached")}

HEADER_POOL: list[tuple[bytes, bytes]] = [
    (b"host", b"www.example.com"),
    (b"host", b""),
    (b"user-agent", b"curl/8.0"),
    (b"accept", b"*/*"),
    (b"accept-language", b"en-GB,en;q=0.8"),
    (b"accept-encoding", b"gzip, br"),
    (b"x-forwarded-for", b"198.51.100.7"),
    (b"x-forwarded-for", b""),
    (b"via", b"1.1 proxy"),
    (b"cookie", b"b=2; a=1"),
    (b"cookie", b"z=1;a=2; =x; c; a=\xe9"),
    (b"authorization", b"Bearer t"),
    (b"if-none-match", b'"v1"'),
    (b"if-modified-since", b"Wed, 21 Oct 2015 07:28:00 GMT"),
    (b"range", b"bytes=0-3"),
    (b"range", b"bytes=1-2,0-0"),
    (b"range", b"bytes=50-60"),
    (b"if-none-match", b'"nope", W/"v1"'),
    (b"content-length", b"0"),
    (b"content-type", b"text/plain"),
    (b"x-api-key", b"k1"),
    (b"x-secret", b"s"),
    (b"x-amz-cf-id", b"spoofed"),
    (b"x-cache", b"spoofed"),
    (b"connection", b"keep-alive"),
    (b"cloudfront-is-mobile-viewer", b"true"),
    (b"x-latin", "caf\u00e9".encode("latin-1")),
    (b"x-utf8", "\u00e9t\u00e9".encode()),
    (b"X-Mixed-Case", b"yes"),
]
PATHS = ["/", "/index.html", "/a/b", "/a%20b", "/caf%C3%A9", "/x/../y", "/with;params", "/q?"]
QUERIES = ["", "q=1", "q=1&r=2", "a=%20&q=x", "r"]


@dataclass
class Answer:
    """What the origin app answers."""

    status: int = 200
    headers: tuple[tuple[bytes, bytes], ...] = (
        (b"content-type", b"text/plain"),
        (b"content-length", b"5"),
    )
    chunks: tuple[bytes, ...] = (b"hello",)
    fail: str = ""  # "before": raise before start; "none": no response


ANSWERS: list[Answer] = [
    Answer(),
    Answer(
        headers=(
            (b"content-type", b"text/html"),
            (b"set-cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
            (b"vary", b"Accept-Encoding, X-Api-Key, User-Agent, *"),
            (b"connection", b"close"),
            (b"x-cache", b"origin"),
            (b"Via", b"1.0 origin"),
            (b"x-amz-cf-pop", b"ORIGIN"),
            (b"keep-alive", b"timeout=5"),
        ),
        chunks=(b"one", b"two", b"three"),
    ),
    Answer(status=404, headers=((b"content-type", b"text/plain"),), chunks=(b"nope",)),
    Answer(
        headers=(
            (b"content-type", b"text/plain"),
            (b"etag", b'"v1"'),
            (b"last-modified", b"Wed, 21 Oct 2015 07:28:00 GMT"),
            (b"content-length", b"10"),
        ),
        chunks=(b"0123456789",),
    ),
    Answer(status=204, headers=((b"content-length", b"0"),), chunks=()),
    Answer(status=304, headers=((b"etag", b'"v1"'), (b"content-length", b"5")), chunks=(b"",)),
    Answer(status=299, headers=(), chunks=(b"odd",)),
    Answer(status=503, headers=((b"retry-after", b"1"),), chunks=(b"down",)),
    Answer(headers=((b"bad header", b"x"),), chunks=(b"x",)),
    Answer(headers=((b"x-ok", b"a\x01b"),), chunks=(b"x",)),
    Answer(fail="before"),
    Answer(fail="none"),
]


_PLAIN_POOL = [
    h for h in HEADER_POOL if h[0] not in (b"range", b"if-none-match", b"if-modified-since")
]


def _case(
    rng: random.Random, plain: bool = False
) -> tuple[str, str, str, str, list[tuple[bytes, bytes]], int]:
    """One request; ``plain`` leans to what a cache serves (GETs, no Range or conditional)."""
    plain = plain and rng.random() < 0.6
    method = "GET" if plain else rng.choice(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS"])
    scheme = rng.choice(["http", "https"])
    path = rng.choice(PATHS)
    query = rng.choice(QUERIES)
    headers = rng.sample(_PLAIN_POOL if plain else HEADER_POOL, rng.randint(0, 8))
    if rng.random() < 0.1 and headers:
        headers.append(headers[0])  # a repeated header
    return method, scheme, path, query, headers, rng.randrange(len(ANSWERS))


def _cacheable(answer: Answer) -> Answer:
    """The same answer with a lifetime, so a cached behavior stores it."""
    return replace(answer, headers=(*answer.headers, (b"cache-control", b"max-age=30")))


def _config(name: str, **settings: Any) -> EdgeConfig:
    behavior = BEHAVIORS[name]
    extra: dict[str, Any] = {}
    if name == "plain":
        extra["default_root_object"] = "index.html"
    return EdgeConfig(
        default=behavior,
        origins=[
            Origin(
                "app",
                "origin.example.com",
                origin_path="/base" if name == "all-viewer" else "",
                custom_headers=(("X-Origin-Key", "secret"),) if name == "some-headers" else (),
            )
        ],
        settings=EdgeSettings(**settings),
        **extra,
    )


# -- ASGI ----------------------------------------------------------------------------------------


def _asgi_origin(answer: Answer, seen: list[dict[str, Any]]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append({k: v for k, v in scope.items() if k != "edge.middleware"})
        if answer.fail == "before":
            raise RuntimeError("origin broke")
        if answer.fail == "none":
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": list(answer.headers),
            }
        )
        for i, chunk in enumerate(answer.chunks):
            await send(
                {
                    "type": "http.response.body",
                    "body": chunk,
                    "more_body": i < len(answer.chunks) - 1,
                }
            )

    return app


def _asgi_call(
    mw: EdgeMiddleware,
    method: str,
    scheme: str,
    path: str,
    query: str,
    headers: list[tuple[bytes, bytes]],
) -> tuple[Any, ...]:
    raw = path.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw,
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in headers],
        "client": ("203.0.113.9", 4000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    ended = [m for m in sent if m["type"] == "http.response.body" and not m.get("more_body")]
    return start["status"], _no_date(start["headers"]), body, len(ended)


# -- WSGI ----------------------------------------------------------------------------------------


def _wsgi_origin(answer: Answer, seen: list[dict[str, Any]]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        seen.append(
            {
                k: v
                for k, v in environ.items()
                if k not in ("edge.middleware", "wsgi.input", "wsgi.errors")
            }
        )
        if answer.fail == "before":
            raise RuntimeError("origin broke")
        if answer.fail == "none":
            return iter(())
        start_response(
            f"{answer.status} Whatever",
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers],
        )
        return iter(answer.chunks)

    return app


def _wsgi_call(
    mw: EdgeWSGIMiddleware,
    method: str,
    scheme: str,
    path: str,
    query: str,
    headers: list[tuple[bytes, bytes]],
) -> tuple[Any, ...]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path + ("?" + query if query else ""),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    for name, value in headers:  # a WSGI server joins repeats into one value
        key = name.decode().upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]}, {text}" if key in environ else text
    got: list[Any] = []

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got[:] = [status, hdrs]
        return lambda data: None

    result = mw(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return got[0], _no_date(got[1]), body


def _pair(
    door: str, name: str, answer: Answer
) -> tuple[Callable[..., Any], Callable[..., Any], list[Any], list[Any]]:
    """Two middlewares on two copies of the origin: with the short way and without it."""
    wrap: Any = EdgeMiddleware if door == "asgi" else EdgeWSGIMiddleware
    origin = _asgi_origin if door == "asgi" else _wsgi_origin
    call: Any = _asgi_call if door == "asgi" else _wsgi_call
    fast_seen: list[Any] = []
    full_seen: list[Any] = []
    fast = wrap(origin(answer, fast_seen), config=_config(name), clock=_clock)
    full = wrap(origin(answer, full_seen), config=_config(name, shortcuts=False), clock=_clock)
    for mw in (fast, full):
        mw.options.pipeline.request_id = lambda: "REQUEST-ID"
    return (lambda *a: call(fast, *a)), (lambda *a: call(full, *a)), fast_seen, full_seen


def _clock() -> float:
    return NOW


def _no_date(headers: list[Any]) -> list[Any]:
    """CloudFront's error page carries the time: a second may tick between the two calls."""
    return [(k, v) for k, v in headers if k.lower() not in ("date", b"date")]


# -- the comparison --------------------------------------------------------------------------------


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each request took the short way."""
    record: list[bool] = []
    asgi_short = asgi_door.shortcut
    wsgi_short = wsgi_door.shortcut

    async def asgi_spy(*args: Any) -> Any:
        done = await asgi_short(*args)
        record.append(done[0])
        return done

    def wsgi_spy(*args: Any) -> Any:
        done = wsgi_short(*args)
        record.append(done[0] is not None)
        return done

    monkeypatch.setattr(asgi_door, "shortcut", asgi_spy)
    monkeypatch.setattr(wsgi_door, "shortcut", wsgi_spy)
    return record


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
@pytest.mark.parametrize("name", sorted(BEHAVIORS))
def test_the_short_way_answers_as_the_pipeline_does(
    door: str, name: str, taken: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(f"{door}-{name}")
    answers = [_cacheable(a) for a in ANSWERS] if name in CACHED else ANSWERS
    pairs = {i: _pair(door, name, a) for i, a in enumerate(answers)}
    cases = 300
    for _ in range(cases):
        method, scheme, path, query, headers, which = _case(rng, plain=name in CACHED)
        fast, full, fast_seen, full_seen = pairs[which]
        args = (method, scheme, path, query, headers)
        for _again in range(2 if name in CACHED else 1):  # a cached behavior: then a hit
            fast_seen.clear()
            full_seen.clear()
            assert fast(*args) == full(*args), (args, answers[which])
            assert fast_seen == full_seen, (args, answers[which])
    # random header sets often hold a Range or a conditional: fewer requests can be served
    # from the cache the short way than can be passed to the origin
    least = cases / 6 if name in CACHED else cases / 4
    if BEHAVIORS[name].viewer_protocol_policy == "allow-all":
        assert sum(taken) > least, f"the short way was taken {sum(taken)} times of {cases}"


@pytest.mark.parametrize("door", ["asgi", "wsgi"])
def test_behaviors_that_need_the_pipeline_have_no_short_way(door: str) -> None:
    cached = Behavior(cache=CachePolicy(0, 60, 3600))
    with_trigger = Behavior(cache=NO_CACHE, viewer_request="tests.aws_examples:ab_testing")
    policy = Behavior(cache=NO_CACHE, response_headers_policy="Managed-SecurityHeadersPolicy")
    for behavior in (cached, with_trigger, policy):
        config = EdgeConfig(default=behavior)
        mw = (EdgeMiddleware if door == "asgi" else EdgeWSGIMiddleware)(_noop, config=config)  # type: ignore[operator]
        assert mw.options.pipeline.shortcuts == {}
    pages = EdgeConfig(
        default=Behavior(cache=NO_CACHE),
        custom_error_responses=[
            CustomErrorResponse(404, response_page_path="/404.html", response_code=404)
        ],
    )
    assert EdgeMiddleware(_noop, config=pages).options.pipeline.shortcuts == {}
    plain = EdgeConfig(default=Behavior(cache=NO_CACHE), settings=EdgeSettings(shortcuts=False))
    assert EdgeMiddleware(_noop, config=plain).options.pipeline.shortcuts == {}
    assert EdgeMiddleware(
        _noop, config=replace(plain, settings=EdgeSettings())
    ).options.pipeline.shortcuts


def _noop(*args: Any) -> Any:  # pragma: no cover - never called
    raise AssertionError


@pytest.mark.parametrize("name", sorted(CACHED))
def test_remembered_cache_keys_are_the_keys_computed_afresh(name: str) -> None:
    """The hit short way remembers the keys of short requests: a remembered key is the key
    computed for that request with nothing remembered, requests that differ in any keyed
    part get their own, and what is remembered stays bounded."""
    rng = random.Random(11)
    config = _config(name)

    def hit_way() -> Any:
        pipeline = EdgeMiddleware(_noop, config=config).options.pipeline
        return pipeline.hit_shortcuts[id(config.default)]

    remembering, seen = hit_way(), set()
    for _ in range(600):
        headers = rng.sample(HEADER_POOL, rng.randint(0, 6))
        uri, qs = rng.choice(PATHS).split("?")[0], rng.choice(QUERIES)
        got = remembering.key("GET", "https", uri, qs, headers)
        again = remembering.key("HEAD", "https", uri, qs, headers)
        fresh = hit_way().key("GET", "https", uri, qs, headers)
        assert got == again == fresh
        if got is not None:
            seen.add(got[0])
    # every path has its own key at least (and the keyed parts more, where a policy keys them)
    assert len(seen) >= len({path.split("?")[0] for path in PATHS})
    assert 0 < len(remembering._keys) <= 4096
    long_uri = "/" + "x" * 2000  # too long to remember
    remembering.key("GET", "https", long_uri, "", [(b"host", b"a.example")])
    assert not any(known[0] == long_uri for known in remembering._keys)
    for n in range(5000):
        remembering.key("GET", "https", f"/n{n}", "", [(b"host", b"a.example")])
    assert len(remembering._keys) <= 4096


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTP_CONTENT_TYPE": "text/plain"},  # a second key for Content-Type
        {"HTTP_x_lower": "1"},  # not the key a server makes for X-Lower
        {"HTTP_": "empty name"},
        {"HTTP_X_WIDE": "\u20ac"},  # not latin-1: "?" on the wire
    ],
)
def test_environ_keys_the_short_way_cannot_read_go_to_the_pipeline(
    extra: dict[str, str], taken: list[bool]
) -> None:
    """The WSGI short way reads the viewer's environ keys as header names; a key that is not
    the one a server makes for its name goes to the pipeline, with the same answer."""
    fast_seen: list[Any] = []
    full_seen: list[Any] = []
    fast_mw = EdgeWSGIMiddleware(_wsgi_origin(ANSWERS[0], fast_seen), config=_config("all-viewer"))
    full_mw = EdgeWSGIMiddleware(
        _wsgi_origin(ANSWERS[0], full_seen), config=_config("all-viewer", shortcuts=False)
    )
    for mw in (fast_mw, full_mw):
        mw.options.pipeline.request_id = lambda: "REQUEST-ID"

    def call(mw: EdgeWSGIMiddleware) -> Any:
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/a",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "203.0.113.9",
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": io.StringIO(),
            "HTTP_HOST": "www.example.com",
            **extra,
        }
        got: list[Any] = []
        body = b"".join(mw(environ, lambda status, headers, exc=None: got.append(status)))
        return got, body

    assert call(fast_mw) == call(full_mw)
    assert fast_seen == full_seen and len(fast_seen) == 1
    assert taken == [extra.keys() == {"HTTP_X_WIDE"}]
