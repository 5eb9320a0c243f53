"""The library as a user installs and types it (packaging hunt of 2026-12-07, third session):
embedded V8 contexts closed at exit, misspelled imports caught by a type checker, every missing
extra an ``EdgeError``, a user's package never taken for ours in tracebacks, and an origin URL's
password kept out of failure messages."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import edge_middleware
from edge_middleware import EdgeError, Origin
from edge_middleware.devtools import tracebacks
from edge_middleware.doors.proxy_request import _target
from edge_middleware.exceptions import ConfigurationError, MissingExtraError
from edge_middleware.js import minirace

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.skipif(not minirace.available(), reason="mini-racer is the [js] extra")
def test_embedded_v8_contexts_are_closed_before_the_interpreter_exits(tmp_path: Path) -> None:
    """mini-racer joins its own thread at interpreter shutdown when a context is still open;
    on Python 3.12+ that never ended: a module-level middleware with a CloudFront Function on
    the embedded engine kept ``serve`` and uvicorn alive after Ctrl-C. The contexts are now
    closed by an ``atexit`` hook (checked here by a hook that runs after it)."""
    (tmp_path / "rewrite.js").write_text(
        "function handler(event) { var r = event.request; r.uri = '/x' + r.uri; return r; }\n"
    )
    script = textwrap.dedent(
        """
        import atexit, gc
        def check():  # registered first: runs after the library's own hook
            from edge_middleware.js import minirace
            left = [f for f in gc.get_objects() if isinstance(f, minirace.MiniRacerFunction)]
            print("open contexts:", sum(f._ctx is not None for f in left), "of", len(left))
        atexit.register(check)
        from werkzeug.test import Client
        from edge_middleware import Behavior, CloudFrontFunction, EdgeConfig, EdgeWSGIMiddleware
        def origin(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ["PATH_INFO"].encode()]
        function = CloudFrontFunction("rewrite.js", engine="mini-racer")
        app = EdgeWSGIMiddleware(origin, config=EdgeConfig(default=Behavior(
            viewer_request=function)))
        print("answer:", Client(app).get("/a").get_data().decode())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["answer: /x/a", "open contexts: 0 of 1"]


def test_a_type_checker_sees_no_module_getattr() -> None:
    """The lazy-import hook ``edge_middleware.__getattr__`` made every name Any to mypy:
    ``from edge_middleware import EdgeMiddlware`` passed ``mypy --strict``. It is defined only
    when not type checking, and every lazy name is imported for the checker."""
    source = (ROOT / "edge_middleware" / "__init__.py").read_text()
    tree = ast.parse(source)
    top_level = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "__getattr__" not in top_level
    checked: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    checked.update(alias.asname or alias.name for alias in inner.names)
    lazy = set(edge_middleware._LAZY)  # type: ignore[attr-defined]
    assert lazy <= checked
    assert edge_middleware.EdgeMiddleware.__name__ == "EdgeMiddleware"  # still lazy at run time
    with pytest.raises(AttributeError):
        edge_middleware.EdgeMiddlware  # type: ignore[attr-defined]  # noqa: B018


def test_a_missing_extra_is_an_edge_error_and_an_import_error() -> None:
    """API.md: ``EdgeError`` is the base of every exception the library raises. RedisStorage
    without redis-py and the ASGI test client without its HTTP client raised a bare
    ImportError."""
    err = MissingExtraError("RedisStorage", "redis-py", "redis")
    assert isinstance(err, EdgeError)
    assert isinstance(err, ConfigurationError)
    assert isinstance(err, ImportError)
    assert str(err) == "RedisStorage needs redis-py: pip install 'edge-middleware[redis]'"
    assert err.field == "RedisStorage"


@pytest.mark.parametrize(
    ("filename", "ours"),
    [
        (str(ROOT / "edge_middleware_handlers" / "auth.py"), False),  # beside the package
        ("/srv/app/threading.py", False),
        ("/srv/app/asyncio/handler.py", False),
        (str(Path(tracebacks.__file__).resolve()), True),
        (str(Path(__import__("threading").__file__).resolve()), True),
        (str(Path(__import__("asyncio").events.__file__).resolve()), True),
    ],
)
def test_only_our_frames_and_the_standard_librarys_are_hidden(filename: str, ours: bool) -> None:
    """A user package named ``edge_middleware_handlers`` (or a user file ``threading.py``) was
    taken for library code: the console and the inspector showed none of the handler's frames."""
    assert tracebacks._ours(filename) is ours


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cret@127.0.0.1:9/", "http://user:****@127.0.0.1:9/"),
        ("https://u:p%40ss@example.com/base", "https://u:****@example.com/base"),
        ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
        ("http://user@127.0.0.1:9/", "http://user@127.0.0.1:9/"),
    ],
)
def test_an_origin_url_password_stays_out_of_failure_messages(url: str, shown: str) -> None:
    """The proxy's failures (logged, shown in the inspector's trace) quoted the origin URL with
    its password."""
    target = _target(url, Origin("o"))
    assert target.base == shown
    assert target.url.password == httpx.URL(url).password  # the request still carries it


@pytest.mark.slow
def test_user_code_type_checks_as_the_readme_writes_it(tmp_path: Path) -> None:
    """``mypy --strict`` on a user's file: README's ``app.wsgi_app = mount_inspector(
    EdgeWSGIMiddleware(...))`` was typed as an ASGI-or-WSGI union (an error where a WSGI app
    is expected), and misspelled names from ``edge_middleware`` passed as Any."""
    (tmp_path / "user_app.py").write_text(
        textwrap.dedent(
            """
            from typing import Any, assert_type
            from edge_middleware import EdgeMiddleware, EdgeWSGIMiddleware
            from edge_middleware.devtools.inspector import (
                InspectorASGIMount, InspectorWSGIMount, mount_inspector)

            def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                return [b""]

            async def asgi(scope: Any, receive: Any, send: Any) -> None:
                return None

            assert_type(mount_inspector(EdgeWSGIMiddleware(wsgi)), InspectorWSGIMount)
            assert_type(mount_inspector(EdgeMiddleware(asgi)), InspectorASGIMount)
            assert_type(mount_inspector(wsgi, interface="wsgi"), InspectorWSGIMount)
            """
        )
    )
    (tmp_path / "typo.py").write_text("from edge_middleware import EdgeMiddlware\n")
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    good = subprocess.run(
        [*command, "user_app.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert good.returncode == 0, good.stdout
    typo = subprocess.run(
        [*command, "typo.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert typo.returncode == 1
    assert "EdgeMiddlware" in typo.stdout
