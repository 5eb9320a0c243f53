"""What the README and docs promise a new user, held: the fixes from the docs walkthrough of
2026-12-07.

* A typo in a response headers policy table (``Valeu``, ``CustomHeaderConfig``, snake_case
  keys) is a ConfigurationError at its field, as in every other table; it loaded as an empty
  header or an empty policy.
* "A missing extra fails at start with its install line": Redis without redis-py, a CloudFront
  Function without node or mini-racer.
* The commands report a mistake in one line, in their own terms: ``serve`` names the config file
  and says ``--handler``/``--kvs``/``--logical-id`` (not Python keywords); an access log that
  cannot be written, ``--tls`` beside ``--cert``, ``invalidate --redis`` with Redis down and the
  ``invoke`` usage errors say what is wrong.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from edge_middleware import ConfigurationError, load_config
from edge_middleware.devtools.accesslog import AccessLog
from edge_middleware.devtools.devapp import ServeError, load_edge_config
from edge_middleware.devtools.serve_options import ServeOptions, _tls_files
from edge_middleware.js import cffunctions
from tests.redis_server import free_port
from tests.support.devserver import cli

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "examples" / "site"


# -- response headers policy tables ----------------------------------------------------------------


def _with_policy(table: str) -> dict[str, Any]:
    import tomllib

    text = textwrap.dedent(
        f"""
        [default]
        response_headers_policy = {table}
        """
    )
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("table", "field"),
    [
        (
            '{CustomHeadersConfig={Items=[{Header="X-A",Valeu="1",Override=true}]}}',
            "CustomHeadersConfig.Items[0].Valeu",
        ),
        (
            '{CustomHeaderConfig={Items=[{Header="X-A",Value="1",Override=true}]}}',
            "CustomHeaderConfig",
        ),
        (
            '{SecurityHeaderConfig={FrameOptions={FrameOption="DENY",Override=true}}}',
            "SecurityHeaderConfig",
        ),
        (
            '{SecurityHeadersConfig={FrameOptions={FrameOptoin="DENY",Override=true}}}',
            "SecurityHeadersConfig.FrameOptions.FrameOptoin",
        ),
        ('{ custom_headers = [{ header = "X-A", value = "1" }] }', "custom_headers"),
        (
            '{ CustomHeadersConfig = { Items = [{ Header = "X-A", Override = true }] } }',
            "CustomHeadersConfig.Items[0].Value",
        ),
    ],
    ids=["item-key", "section", "security-section", "security-key", "snake-case", "no-value"],
)
def test_a_typo_in_a_response_headers_policy_table_is_refused_at_its_field(
    table: str, field: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(_with_policy(table))
    assert info.value.field == f"default.response_headers_policy.{field}"


def test_a_correct_response_headers_policy_table_loads() -> None:
    table = (
        '{ CustomHeadersConfig = { Items = [{ Header = "X-A", Value = "1", Override = true }] } }'
    )
    policy = load_config(_with_policy(table)).default.response_headers_policy
    assert policy is not None
    assert [(h.name, h.value, h.override) for h in policy.custom_headers] == [("X-A", "1", True)]


# -- missing extras --------------------------------------------------------------------------

_BLOCK = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Absent())
"""


def test_redis_without_redis_py_fails_with_its_install_line(tmp_path: Path) -> None:
    """The lean client's modules imported redis-py's errors at module level: a traceback
    (ModuleNotFoundError) before RedisStorage's own install line could be given."""
    script = _BLOCK + textwrap.dedent(
        """
        from edge_middleware import RedisStorage
        try:
            RedisStorage("redis://127.0.0.1:1/0")
        except ImportError as exc:
            print(exc)
        from edge_middleware.devtools.cli import main
        sys.exit(main(["invalidate", "/x", "--redis", "redis://127.0.0.1:1/0"]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    install = "RedisStorage needs redis-py: pip install 'edge-middleware[redis]'"
    assert out.stdout.strip() == install
    assert out.stderr.strip() == f"error: {install}"
    assert out.returncode == 1


def test_a_function_without_node_or_mini_racer_names_the_js_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EDGE_MIDDLEWARE_NODE", "/nonexistent/node")
    monkeypatch.setattr(cffunctions.minirace, "available", lambda: False)
    with pytest.raises(ConfigurationError, match=r"pip install 'edge-middleware\[js\]'"):
        cffunctions._choose_engine(None, None)
    with pytest.raises(ConfigurationError) as info:  # node asked for by name: node's error
        cffunctions._choose_engine("node", "/nonexistent/node")
    assert "[js]" not in str(info.value)


# -- the commands' own words ---------------------------------------------------------------------


def test_serve_names_the_config_file_and_the_flag_for_an_unmapped_function() -> None:
    """It said 'pass handlers={key: callable or ...}' (a Python keyword) and no file."""
    with pytest.raises(ServeError) as info:
        load_edge_config(
            str(SITE / "distribution.json"), handlers={"auth": "handlers.auth:handler"}
        )
    text = str(info.value)
    assert text.startswith(f"{SITE / 'distribution.json'}: ")
    assert "--handler KEY=module:function" in text and "handlers=" not in text


@pytest.mark.parametrize("target", ["missing-dir/x.log", "."])
def test_an_access_log_that_cannot_be_written_is_a_configuration_error(
    tmp_path: Path, target: str
) -> None:
    with pytest.raises(ConfigurationError, match="a file that can be written"):
        AccessLog(tmp_path / target)


def test_tls_beside_cert_and_key_is_refused(tmp_path: Path) -> None:
    cert, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    options = ServeOptions(app="app:app", tls=True, cert=cert, key=key)
    with pytest.raises(ServeError, match="--tls or --cert/--key, not both"):
        _tls_files(options)


def test_invalidate_with_redis_down_says_nothing_was_recorded(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    out = cli(tmp_path, "invalidate", "/x", "--redis", url)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: could not record the invalidation in {url}: ")
    assert "serving without the shared cache" not in out.stderr


def test_invoke_usage_errors_say_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("def handler(event, context):\n    return None\n")
    none = cli(tmp_path, "invoke", "hello:handler")
    assert "expected --event FILE, or --event-type viewer-request |" in none.stderr
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_viewer_response_event()))
    mismatch = cli(tmp_path, "invoke", "hello:handler", "--event", str(event), "--event-type",
                   "origin-response")  # fmt: skip
    assert "(the event says 'viewer-response')" in mismatch.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_invoke_takes_a_node_handler_as_serve_does(tmp_path: Path) -> None:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.js").write_text(
        "exports.handler = async (event) => event.Records[0].cf.request;\n"
    )
    out = cli(tmp_path, "invoke", "handlers/h.handler", "--event-type", "viewer-request")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"]["uri"] == "/"


def test_invoke_calls_a_functions_invalid_result_the_functions(tmp_path: Path) -> None:
    (tmp_path / "bad.js").write_text(
        "function handler(e) { var r = e.request; r.headers['connection'] = {value: 'x'};"
        " return r; }\n"
    )
    out = cli(tmp_path, "invoke", "bad.js", "--event-type", "viewer-request")
    assert out.returncode == 2
    assert (
        "FunctionValidationError: The function's result failed validation"
        in out.stdout + out.stderr
    )
    assert "Lambda function" not in out.stdout + out.stderr


def _viewer_response_event() -> dict[str, Any]:
    from edge_middleware.testing import EventBuilder

    return EventBuilder().viewer_response("/", status=200)


def test_the_dev_servers_invalidation_count_says_what_it_counts() -> None:
    """With Redis (or a delay) the count is the paths recorded, not objects dropped: the
    dev server said 'invalidated 1 cached object(s)' for any one path."""
    from edge_middleware import EdgeConfig, EdgeSettings, EdgeWSGIMiddleware, RedisStorage
    from edge_middleware.devtools.devapp import invalidate_request

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    memory = EdgeWSGIMiddleware(app, config=EdgeConfig())
    delayed = EdgeWSGIMiddleware(
        app, config=EdgeConfig(settings=EdgeSettings(invalidation_delay=5))
    )
    redis = EdgeWSGIMiddleware(
        app, config=EdgeConfig(), storage=RedisStorage(f"redis://127.0.0.1:{free_port()}/0")
    )
    try:
        assert memory.options.invalidation_counts == "objects"
        assert delayed.options.invalidation_counts == "paths"
        assert redis.options.invalidation_counts == "paths"
        status, doc = invalidate_request(
            "POST", "application/json", b'["/a/*"]', lambda paths: len(paths), "paths"
        )
        assert (status, doc["counts"]) == (200, "paths")
        from edge_middleware.devtools.devapp import invalidated_words

        assert invalidated_words(doc) == "invalidation recorded for 1 path(s): /a/*"
    finally:
        redis.storage.close()  # type: ignore[attr-defined]


def test_a_country_given_alone_does_not_keep_seattle() -> None:
    """viewer-country=DE came with 'CloudFront-Viewer-Country-Name: United States', region
    WA and a Seattle postcode."""
    from edge_middleware import Behavior, EdgeSettings, OriginRequestPolicy
    from edge_middleware.core.convert import request_from_scope
    from edge_middleware.core.origins import cloudfront_headers
    from tests.support.doors import asgi_scope

    behavior = Behavior(
        origin_request_policy=OriginRequestPolicy(headers="allViewerAndWhitelistCloudFront",
            header_names=("CloudFront-Viewer-Country", "CloudFront-Viewer-Country-Name",
                          "CloudFront-Viewer-City", "CloudFront-Viewer-Time-Zone"))
    )  # fmt: skip
    viewer = request_from_scope(asgi_scope())

    def shown(*values: tuple[str, str]) -> dict[str, str]:
        settings = EdgeSettings(cloudfront_header_values=values)
        return {k: v[0]["value"] for k, v in cloudfront_headers(behavior, viewer, settings).items()}

    assert shown()["cloudfront-viewer-city"] == "Seattle"
    assert shown(("cloudfront-viewer-country", "DE")) == {"cloudfront-viewer-country": "DE"}
    assert shown(("cloudfront-viewer-country", "DE"), ("cloudfront-viewer-city", "Berlin")) == {
        "cloudfront-viewer-country": "DE",
        "cloudfront-viewer-city": "Berlin",
    }


def test_the_banner_shows_the_url_an_origin_is_served_by() -> None:
    """``serve --origin URL``: the banner said 'origin default (localhost)'."""
    from edge_middleware import EdgeConfig
    from edge_middleware.devtools.devlog import banner

    lines = banner(EdgeConfig(), origins={"default": "http://127.0.0.1:9000"})
    assert any("-> origin default (http://127.0.0.1:9000)" in line for line in lines)
    assert any("-> origin default (localhost)" in line for line in banner(EdgeConfig()))
