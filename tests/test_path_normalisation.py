"""``EdgeSettings.path_match``: path patterns match the raw path (the default, decisions.md
#24), the percent-decoded one, or the path normalised as RFC 3986 §6.2.2 says ("CloudFront
normalizes URI paths consistent with RFC 3986 and then matches the path with the correct
cache behavior", AWS's guide). Whatever matched, the origin gets the path as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeSettings
from edge_middleware.config.model import normalized_path
from tests.support import doors

NO_CACHE = CachePolicy(0, 0, 0)


def refuse(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"status": "403", "statusDescription": "Forbidden", "body": "admin only"}


def _config(how: str) -> EdgeConfig:
    admin = Behavior(path_pattern="/admin/*", viewer_request=refuse, cache=NO_CACHE)
    return EdgeConfig(
        default=Behavior(cache=NO_CACHE),
        behaviors=[admin],
        settings=EdgeSettings(path_match=how),  # type: ignore[arg-type]
    )


async def _echo_asgi(scope: Any, receive: Any, send: Any) -> None:
    body = json.dumps(scope["raw_path"].decode("latin-1")).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _echo_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [json.dumps(environ.get("RAW_URI") or environ["PATH_INFO"]).encode()]


def _get(kind: str, how: str, target: str) -> tuple[int, bytes]:
    if kind == "asgi":
        app = doors.wrap(kind, _echo_asgi, _config(how))
        scope = doors.asgi_scope(target, raw_path=target.encode())
        sent = doors.call_asgi(app, scope)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])
    app = doors.wrap(kind, _echo_wsgi, _config(how))
    status, _, body = doors.call_wsgi(app, "GET", "/ignored", RAW_URI=target)
    return int(status.split()[0]), body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/%61dmin/x", "/admin/x"),
        ("/x/../admin/x", "/admin/x"),
        ("/x/%2E%2e/admin/y", "/admin/y"),
        ("/a/./b/", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/..", "/"),
        ("/%7euser", "/~user"),
        ("/admin%2fx", "/admin%2Fx"),  # reserved: stays encoded (upper case)
        ("//admin/x", "//admin/x"),  # empty segments are kept
        ("/a/..b/c", "/a/..b/c"),
        ("/.well-known/x", "/.well-known/x"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_normalized_path(path: str, expected: str) -> None:
    assert normalized_path(path) == expected


@pytest.mark.parametrize("kind", doors.DOORS)
@pytest.mark.parametrize("target", ["/%61dmin/x", "/x/../admin/x", "/x/%2e%2E/admin/x"])
def test_normalized_matching_finds_the_behavior_a_disguised_path_names(
    kind: str, target: str
) -> None:
    assert _get(kind, "normalized", target) == (403, b"admin only")
    assert _get(kind, "normalized", "/admin/x") == (403, b"admin only")


@pytest.mark.parametrize("kind", doors.DOORS)
def test_the_origin_gets_the_path_as_sent(kind: str) -> None:
    """Only the match is normalised: ``/%61bout/../x`` reaches the origin as sent."""
    status, body = _get(kind, "normalized", "/%61bout/../x")
    assert status == 200
    assert json.loads(body) == "/%61bout/../x"


@pytest.mark.parametrize("kind", doors.DOORS)
def test_raw_matching_stays_the_default(kind: str) -> None:
    """decisions.md #24: the default matches the raw path, as before."""
    assert EdgeSettings().path_match == "raw"
    status, _ = _get(kind, "raw", "/%61dmin/x")
    assert status == 200
    assert _get(kind, "raw", "/admin/x")[0] == 403
    # "decoded" decodes escapes but removes no dot segments
    assert _get(kind, "decoded", "/%61dmin/x")[0] == 403
    assert _get(kind, "decoded", "/x/../admin/x")[0] == 200
