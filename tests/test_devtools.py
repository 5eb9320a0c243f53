"""The dev tools on a user's first hour (issue 14): ``serve`` on an app that already wraps
itself, TLS, what reaches the origin, ``--policies``, SAM handlers, proxy-only mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_server import serve

WRAPPED_FLASK = """
from flask import Flask
from edge_middleware import Behavior, EdgeConfig, EdgeWSGIMiddleware

def basic_auth(event, context):
    request = event["Records"][0]["cf"]["request"]
    if "authorization" not in request["headers"]:
        return {"status": "401", "statusDescription": "Unauthorized"}
    return request

app = Flask(__name__)

@app.route("/<path:rest>")
def page(rest):
    return "page " + rest

app.wsgi_app = EdgeWSGIMiddleware(
    app.wsgi_app,
    config=EdgeConfig(
        distribution_id="EINCODE",
        behaviors=[Behavior("/admin/*", viewer_request=basic_auth)],
    ),
)
"""

WRAPPED_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from edge_middleware import Behavior, EdgeConfig, EdgeMiddleware

def basic_auth(event, context):
    request = event["Records"][0]["cf"]["request"]
    if "authorization" not in request["headers"]:
        return {"status": "401", "statusDescription": "Unauthorized"}
    return request

async def page(request):
    return PlainTextResponse("page " + request.url.path)

app = Starlette(routes=[Route("/{rest:path}", page)])
app.add_middleware(
    EdgeMiddleware,
    config=EdgeConfig(
        distribution_id="EINCODE",
        behaviors=[Behavior("/admin/*", viewer_request=basic_auth)],
    ),
)
"""


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_middleware", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- 14.1: an app already wrapped in code ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "source",
    [
        pytest.param(WRAPPED_FLASK, id="flask-wsgi_app"),
        pytest.param(WRAPPED_STARLETTE, id="starlette-add_middleware"),
    ],
)
def test_serve_uses_the_middleware_the_app_already_has(tmp_path: Path, source: str) -> None:
    (tmp_path / "wrapped.py").write_text(textwrap.dedent(source))
    with serve(tmp_path, "wrapped:app") as served:
        assert served.get("/admin/panel").status_code == 401  # the in-code viewer-request ran
        ok = served.get("/admin/panel", headers={"Authorization": "Basic dTpw"})
        assert ok.status_code == 200
        assert ok.text == "page /admin/panel" or ok.text == "page admin/panel"
        assert "config: the EdgeMiddleware" in served.stdout or "EdgeWSGIMiddleware" in (
            served.stdout
        )
        assert "distribution EINCODE" in served.stdout


def test_serve_refuses_a_second_config_naming_both(tmp_path: Path) -> None:
    (tmp_path / "wrapped.py").write_text(textwrap.dedent(WRAPPED_FLASK))
    (tmp_path / "edge.toml").write_text('[default]\ncache = "CachingDisabled"\n')
    result = cli(tmp_path, "serve", "wrapped:app", "--config", "edge.toml")
    assert result.returncode == 1
    assert "--config edge.toml" in result.stderr
    assert "EdgeWSGIMiddleware in code (distribution EINCODE, 2 behaviors)" in result.stderr
    assert "listening" not in result.stdout
