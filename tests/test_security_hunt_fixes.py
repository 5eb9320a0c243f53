"""The security hunt of 2026-12-08: secrets a handler prints the usual way stay masked.

README "Secrets": the values of secret headers are masked "inside handler output". A handler
printing ``json.dumps(event)`` (AWS's usual debugging line) showed a quoted cookie value or a
``Digest`` Authorization in clear (JSON escapes their quotes, so the value no longer matched),
and one printing a cookie its parser unquoted showed the value in clear too.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

from starlette.testclient import TestClient

from edge_middleware import Behavior, CachePolicy, EdgeConfig, EdgeMiddleware
from edge_middleware.devtools.inspector import mount_inspector
from edge_middleware.devtools.masking import Masker, collect

COOKIE = 'sid="S3cretCookieValue"; theme=dark'
DIGEST = 'Digest username="bob", realm="r", nonce="n", response="S3cretDigestResponse"'
TOKEN = "tok\u00e9n-S3cretToken\u2603"  # not ASCII: JSON shows \\u escapes
SECRETS = ("S3cretCookieValue", "S3cretDigestResponse", "S3cretToken")


def _headers() -> dict[str, Any]:
    return {
        "cookie": [{"key": "Cookie", "value": COOKIE}],
        "authorization": [{"key": "Authorization", "value": DIGEST}],
        "x-session-token": [{"key": "X-Session-Token", "value": TOKEN}],
    }


def test_secrets_printed_as_json_or_parsed_are_masked() -> None:
    headers = _headers()
    mask = Masker(collect(headers))
    printed = [
        json.dumps({"headers": headers}),
        json.dumps({"headers": headers}, ensure_ascii=False),
        "session is " + SimpleCookie(COOKIE)["sid"].value,
    ]
    for text in printed:
        shown = mask.text(text)
        assert not [s for s in SECRETS if s in shown], shown
    assert mask.text("theme is dark, user bob").endswith("user bob")  # no secret: as it was


def test_the_inspector_masks_what_a_handler_printed_of_the_event() -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        request = event["Records"][0]["cf"]["request"]
        print(json.dumps(event))
        print("session is", SimpleCookie(request["headers"]["cookie"][0]["value"])["sid"].value)
        return request

    async def origin(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = EdgeConfig(default=Behavior(viewer_request=handler, cache=CachePolicy(0, 0, 0)))
    app = mount_inspector(EdgeMiddleware(origin, config=config))
    # (the token as UTF-8 bytes on the wire; the edge reads it as ISO-8859-1, as CloudFront)
    sent = {"Cookie": COOKIE, "Authorization": DIGEST, "X-Session-Token": TOKEN.encode()}
    client = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 5))
    assert client.get("/page", headers=sent).status_code == 200
    listed = client.get("/_edge/api/requests")
    pages = [client.get(r["url"]).text for r in listed.json()]
    shown = listed.text + "".join(pages)
    assert "session is" in shown  # the output is there, masked
    assert not [s for s in SECRETS if s in shown]


def test_a_short_secret_does_not_mask_its_escape_everywhere() -> None:
    """Values under 4 characters are never masked; their JSON escapes were, once the escapes
    were added: a cookie ``accent=é`` masked every ``\\u00e9``, and a handler printing
    ``json.dumps({"author": "José"})`` showed ``"Jos`` and the mask (regression hunt)."""
    mask = Masker(collect({"cookie": [{"key": "Cookie", "value": "accent=\u00e9"}]}))
    printed = json.dumps({"author": "Jos\u00e9"})
    assert mask.text(printed) == printed
