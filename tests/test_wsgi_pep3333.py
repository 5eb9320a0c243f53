"""The WSGI door against PEP 3333, from the WSGI bug hunt: what the server is given is a valid
status line, and what the app is given is what a server gives it.

* A status without a standard reason phrase (520, 299) still goes to the server as "code,
  space, phrase"; it went as a bare "520".
* A request for an app's mount point itself (SCRIPT_NAME=/app, PATH_INFO empty) keeps its
  SCRIPT_NAME.
* What the app gives ``write()`` between the iterable's chunks goes out in order, and
  ``start_response`` with ``exc_info`` before anything was sent replaces the head.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from wsgiref.validate import validator

import pytest
from werkzeug.test import Client

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeWSGIMiddleware

WAYS = {
    "short-way": lambda **kw: Behavior(cache=CachePolicy(0, 0, 0), **kw),
    "pipeline": lambda **kw: Behavior(origin_response=_pass, cache=CachePolicy(0, 0, 0), **kw),
    "cached": lambda **kw: Behavior(**kw),
}


def _pass(event: dict[str, Any], context: Any) -> Any:
    return event["Records"][0]["cf"]["response"]


def _status_app(status: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain"), ("Cache-Control", "max-age=60")])
        return [b"body"]

    return app


def _status_lines(app: Any) -> list[str]:
    """The status lines the server was given for two GETs, through wsgiref's validator."""
    seen: list[str] = []

    def outer(environ: dict[str, Any], start_response: Any) -> Any:
        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append(status)
            return start_response(status, headers, exc_info)

        return app(environ, recording)

    client = Client(validator(outer))
    for _ in range(2):
        response = client.get("/x")
        response.close()
    return seen


@pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")
@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize(
    ("given", "expected"),
    [("520 Origin Trouble", "520 Server Error"), ("299 Odd", "299 Successful")],
)
def test_a_status_without_a_standard_phrase_is_a_valid_status_line(
    way: str, given: str, expected: str
) -> None:
    mw = EdgeWSGIMiddleware(_status_app(given), config=EdgeConfig(default=WAYS[way]()))
    assert _status_lines(mw) == [expected, expected]


@pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")
def test_a_generated_status_without_a_phrase_is_a_valid_status_line() -> None:
    def generate(event: dict[str, Any], context: Any) -> Any:
        headers = {"content-type": [{"key": "Content-Type", "value": "text/plain"}]}
        return {"status": "299", "headers": headers, "body": "made at the edge"}

    config = EdgeConfig(default=Behavior(viewer_request=generate))
    mw = EdgeWSGIMiddleware(_status_app("200 OK"), config=config)
    assert _status_lines(mw) == ["299 Successful", "299 Successful"]


def _where_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
@pytest.mark.parametrize(
    ("path_info", "expected"), [("", b"/app|"), ("/", b"/app|/"), ("/x", b"/app|/x")]
)
def test_the_mount_point_itself_keeps_its_script_name(
    way: str, path_info: str, expected: bytes
) -> None:
    """An app mounted at SCRIPT_NAME=/app gets a request for /app itself with an empty
    PATH_INFO; the door gave it SCRIPT_NAME '' and PATH_INFO '/app', and Flask answered 404
    where it redirects to /app/."""
    mw = EdgeWSGIMiddleware(_where_app, config=EdgeConfig(default=WAYS[way]()))
    client = Client(mw)
    raw = "/app" + path_info  # as a server gives it: the whole path the viewer asked for
    overrides = {"SCRIPT_NAME": "/app", "PATH_INFO": path_info, "REQUEST_URI": raw, "RAW_URI": raw}
    response = client.get("/", environ_overrides=overrides)
    assert response.get_data() == expected


def _writes_between_chunks(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"A-"
    write(b"B-")  # PEP 3333: write() beside the iterable, in order
    yield b"C"


def _changes_its_mind(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    import sys

    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise RuntimeError("the view failed")
    except RuntimeError:
        # PEP 3333: nothing was sent yet, so exc_info replaces the status and headers
        start_response(
            "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
        )
    return [b"custom error page"]


@pytest.mark.parametrize("way", list(WAYS))
def test_bytes_given_to_write_between_chunks_are_sent_in_order(way: str) -> None:
    """They were lost after the first chunk, and the truncated body was cached."""
    config = EdgeConfig(default=WAYS[way]())
    client = Client(EdgeWSGIMiddleware(_writes_between_chunks, config=config))
    for _ in range(2):
        assert client.get("/x").get_data() == b"A-B-C"


@pytest.mark.parametrize("way", list(WAYS))
def test_exc_info_before_anything_was_sent_replaces_the_head(way: str) -> None:
    """The app's own 500 page, as a server gives it; it became CloudFront's 502."""
    client = Client(EdgeWSGIMiddleware(_changes_its_mind, config=EdgeConfig(default=WAYS[way]())))
    response = client.get("/x")
    assert (response.status_code, response.get_data()) == (500, b"custom error page")


class _Closable:
    """A non-generator iterable with close() (garbage collection does not close it)."""

    def __init__(self) -> None:
        self.closed = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self

    def __iter__(self) -> Any:
        yield b"first"
        yield b"second"

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("way", ["short-way", "pipeline"])
def test_the_app_is_closed_when_the_server_refuses_the_head(way: str) -> None:
    app = _Closable()
    mw = EdgeWSGIMiddleware(app, config=EdgeConfig(default=WAYS[way]()))

    def refusing(status: str, headers: Any, exc_info: Any = None) -> Any:
        raise ValueError("the server refused the head")

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/x",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(),
        "wsgi.errors": __import__("sys").stderr,
        "HTTP_HOST": "testserver",
    }
    with pytest.raises(ValueError):
        result = mw(environ, refusing)
        list(result)
        result.close()
    assert app.closed == 1
