"""A SAM function's code directory is its own import namespace (config/loaders/sam_handlers.py):
what the function imports from it, at load or at call time, is its own; the app's modules and
``sys.path`` are left alone."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from edge_middleware import EdgeWSGIMiddleware, HandlerLoadError
from tests.support import doors
from tests.test_cfn_hunt_fixes import _ONE_FUNCTION, _TWO_FUNCTIONS


def _tag(tmp_path: Path) -> str:
    """A module name no other test uses (sys.modules is the process's)."""
    return tmp_path.name.replace("-", "_")


def _body(app: EdgeWSGIMiddleware, path: str = "/x") -> str:
    status, _, body = doors.call_wsgi(app, "GET", path)
    assert status.startswith("200"), (status, body)
    return body.decode()


def _write(directory: Path, files: dict[str, str]) -> None:
    """The function's code: ``{relative path: source}`` under ``directory``."""
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _lazy(helper: str, shown: str = "WHO") -> str:
    """An app.py whose handler imports ``helper`` when called and answers ``helper.<shown>``."""
    return (
        "def handler(event, context):\n"
        f"    import {helper}\n"
        f"    return {{'status': '200', 'body': {helper}.{shown}}}\n"
    )


def _handler(handler: str) -> str:
    return _ONE_FUNCTION.replace("Handler: app.handler", f"Handler: {handler}")


def _build(tmp_path: Path, template: str = _ONE_FUNCTION) -> EdgeWSGIMiddleware:
    (tmp_path / "sam.yaml").write_text(template)
    return EdgeWSGIMiddleware(lambda e, s: [], config=str(tmp_path / "sam.yaml"))


def test_an_import_inside_the_handler_finds_the_functions_own_helper(tmp_path: Path) -> None:
    """A lazy ``import helper`` in the handler's body raised ModuleNotFoundError (a 503): the
    code directory was on sys.path only while the module loaded."""
    helper = f"lazy_{_tag(tmp_path)}"
    for fn in ("a", "b"):
        _write(
            tmp_path / f"src_{fn}",
            {f"{helper}.py": f"WHO = 'helper of {fn.upper()}'\n", "app.py": _lazy(helper)},
        )
    app = _build(tmp_path, _TWO_FUNCTIONS)
    for _ in range(2):
        assert _body(app, "/a/x") == "helper of A"
        assert _body(app, "/b/x") == "helper of B"
    assert helper not in sys.modules  # the app's namespace is not the functions'


def test_a_helper_imported_at_load_and_again_at_call_time_is_one_module(tmp_path: Path) -> None:
    """With the helper imported at the top too, the call-time import may have found another
    function's copy (the first one imported under the bare name)."""
    helper = f"both_{_tag(tmp_path)}"
    for fn in ("a", "b"):
        src = tmp_path / f"src_{fn}"
        src.mkdir()
        (src / f"{helper}.py").write_text(f"WHO = '{fn}'\nCALLS = []\n")
        (src / "app.py").write_text(
            f"import {helper} as top\n"
            "def handler(event, context):\n"
            f"    import {helper}\n"
            f"    {helper}.CALLS.append(1)\n"
            f"    same = {helper} is top\n"
            f"    body = f'{{{helper}.WHO}} {{same}} {{len(top.CALLS)}}'\n"
            "    return {'status': '200', 'body': body}\n"
        )
    app = _build(tmp_path, _TWO_FUNCTIONS)
    assert [_body(app, "/a/x"), _body(app, "/b/x"), _body(app, "/a/x")] == [
        "a True 1",
        "b True 1",
        "a True 2",
    ]


def test_a_package_handler_with_relative_imports(tmp_path: Path) -> None:
    """``Handler: pkg.mod.handler`` whose module does ``from . import util`` failed to load (its
    package was a stub with no path); the package's ``__init__`` runs first, as on Lambda."""
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("INIT = 'package init ran'\n")
    (pkg / "util.py").write_text("from . import INIT\nWHO = 'relative util'\n")
    (pkg / "mod.py").write_text(
        "from . import util\n"
        "from .util import INIT\n"
        "def handler(event, context):\n"
        "    from .util import WHO\n"
        "    return {'status': '200', 'body': WHO + ', ' + INIT}\n"
    )
    app = _build(tmp_path, _handler("pkg.mod.handler"))
    assert _body(app) == "relative util, package init ran"


def test_a_handler_path_with_a_slash(tmp_path: Path) -> None:
    """``Handler: lib/app.handler`` (Lambda's Python runtime reads the slash as a dot)."""
    lib = tmp_path / "src" / "lib"
    lib.mkdir(parents=True)
    (lib / "app.py").write_text(
        "def handler(event, context):\n    return {'status': '200', 'body': 'slashed'}\n"
    )
    app = _build(tmp_path, _handler("lib/app.handler"))
    assert _body(app) == "slashed"


def test_the_app_imports_its_own_module_after_the_template_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the template loaded, the app's first ``import settings`` got the function's
    ``settings`` (left in sys.modules under the bare name)."""
    name = f"settings_{_tag(tmp_path)}"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{name}.py").write_text("WHO = 'the app'\n")
    monkeypatch.syspath_prepend(str(site))
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{name}.py").write_text("WHO = 'the function'\n")
    (src / "app.py").write_text(
        f"import {name}\n"
        "def handler(event, context):\n"
        f"    return {{'status': '200', 'body': {name}.WHO}}\n"
    )
    path_before = list(sys.path)
    app = _build(tmp_path)
    assert sys.path == path_before
    assert __import__(name).WHO == "the app"
    assert _body(app) == "the function"


def test_an_import_error_inside_the_handler_is_still_the_functions_503(tmp_path: Path) -> None:
    """A module the function does not have fails the call (a 503), not the load."""
    src = tmp_path / "src"
    src.mkdir()
    missing = f"missing_{_tag(tmp_path)}"
    (src / "app.py").write_text(
        f"def handler(event, context):\n    import {missing}\n    return event\n"
    )
    status, _, _ = doors.call_wsgi(_build(tmp_path), "GET", "/x")
    assert status.startswith("503")


def test_lazy_imports_from_threads_get_one_module(tmp_path: Path) -> None:
    """Calls on worker threads importing the helper at once all get the same module."""
    helper = f"threads_{_tag(tmp_path)}"
    _write(
        tmp_path / "src",
        {
            f"{helper}.py": "import time\ntime.sleep(0.05)\nWHO = 'loaded once'\n",
            "app.py": _lazy(helper, f"WHO + ' ' + str(id({helper}))"),
        },
    )
    app = _build(tmp_path)
    bodies: list[str] = []
    threads = [threading.Thread(target=lambda: bodies.append(_body(app))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(bodies) == 6 and len(set(bodies)) == 1
    assert bodies[0].startswith("loaded once ")


def test_a_reload_imports_lazily_imported_helpers_anew(tmp_path: Path) -> None:
    helper = f"anew_{_tag(tmp_path)}"
    src = tmp_path / "src"
    _write(src, {f"{helper}.py": "WHO = 'one'\n", "app.py": _lazy(helper)})
    assert _body(_build(tmp_path)) == "one"
    (src / f"{helper}.py").write_text("WHO = 'two, a longer file'\n")
    assert _body(_build(tmp_path)) == "two, a longer file"


def test_a_failed_load_keeps_the_previous_modules(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(
        "def handler(event, context):\n    return {'status': '200', 'body': 'one'}\n"
    )
    app = _build(tmp_path)
    loaded = {k for k in sys.modules if k.startswith("edge_sam.")}
    (src / "app.py").write_text("def handler(event, context)\n")
    with pytest.raises(HandlerLoadError, match="SyntaxError"):
        _build(tmp_path)
    assert loaded <= set(sys.modules)
    assert _body(app) == "one"


def test_a_handler_in_the_file_that_builds_the_middleware_does_not_recurse(
    tmp_path: Path,
) -> None:
    """The template's function is in the app's own file: loading it built the middleware
    again, which loaded it again, for ever (RecursionError)."""
    tag = _tag(tmp_path)
    template = _ONE_FUNCTION.replace("CodeUri: src/", "CodeUri: .").replace(
        "Handler: app.handler", f"Handler: site_{tag}.handler"
    )
    (tmp_path / "sam.yaml").write_text(template)
    (tmp_path / f"site_{tag}.py").write_text(
        "from pathlib import Path\n"
        "from edge_middleware import EdgeWSGIMiddleware\n"
        "def handler(event, context):\n"
        "    return {'status': '200', 'body': 'same file'}\n"
        "def origin(environ, start_response):\n"
        "    return []\n"
        "app = EdgeWSGIMiddleware(origin, config=str(Path(__file__).with_name('sam.yaml')))\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(f"site_{tag}")
    finally:
        sys.path.remove(str(tmp_path))
    assert _body(module.app) == "same file"


# -- what is not the function's own ---------------------------------------------------------------
def test_a_vendored_package_is_imported_by_its_plain_name(tmp_path: Path) -> None:
    """A package `pip install -t` put in the CodeUri (its *.dist-info beside it) was loaded as
    edge_sam.FnA.<name>: code importing it by its plain name (pickle, compiled extensions,
    pydantic_core) then got KeyError, or another copy's classes."""
    name = f"vend_{_tag(tmp_path)}"
    src = tmp_path / "src"
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text("class Point:\n    x = 1\n")
    info = src / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "top_level.txt").write_text(f"{name}\n")
    (src / "app.py").write_text(
        "import pickle, sys\n"
        f"from {name} import Point\n"
        "def handler(event, context):\n"
        "    back = pickle.loads(pickle.dumps(Point()))\n"
        f"    same = type(back) is Point and sys.modules['{name}'].Point is Point\n"
        "    return {'status': '200', 'body': str(same)}\n"
    )
    assert _body(_build(tmp_path)) == "True"


def test_an_installed_package_copied_into_the_code_is_the_environments(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    import typing_extensions

    (src / "typing_extensions.py").write_text(Path(typing_extensions.__file__).read_text())
    (src / "app.py").write_text(
        "import sys, typing_extensions\n"
        "def handler(event, context):\n"
        "    same = typing_extensions is sys.modules['typing_extensions']\n"
        "    return {'status': '200', 'body': str(same)}\n"
    )
    assert _body(_build(tmp_path)) == "True"


def test_a_module_named_like_the_standard_library_is_the_standard_librarys(
    tmp_path: Path,
) -> None:
    """On Lambda the runtime imported `time` before the function: its time.py is not used."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "time.py").write_text("WHO = 'the function'\n")
    (src / "app.py").write_text(
        "import time\n"
        "def handler(event, context):\n"
        "    return {'status': '200', 'body': str(hasattr(time, 'monotonic'))}\n"
    )
    assert _body(_build(tmp_path)) == "True"


def test_a_namespace_package_a_level_down(tmp_path: Path) -> None:
    """company/edge/util.py with no __init__.py anywhere (PEP 420) did not load."""
    deep = tmp_path / "src" / f"company_{_tag(tmp_path)}" / "edge"
    deep.mkdir(parents=True)
    (deep / "util.py").write_text("WHO = 'namespace util'\n")
    (tmp_path / "src" / "app.py").write_text(
        f"from company_{_tag(tmp_path)}.edge import util\n"
        "def handler(event, context):\n"
        f"    import company_{_tag(tmp_path)}.edge.util as again\n"
        "    return {'status': '200', 'body': again.WHO + ' ' + str(again is util)}\n"
    )
    assert _body(_build(tmp_path)) == "namespace util True"


def test_a_relative_import_in_the_top_level_module_fails_as_on_lambda(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "helper.py").write_text("WHO = 1\n")
    (src / "app.py").write_text("from . import helper\ndef handler(event, context):\n    pass\n")
    with pytest.raises(HandlerLoadError, match="no known parent package"):
        _build(tmp_path)


# -- builds that fail -----------------------------------------------------------------------------
def test_a_failed_build_keeps_every_function_of_the_previous_one(tmp_path: Path) -> None:
    """FnB's syntax error failed the rebuild after FnA had loaded anew: FnA's handler, kept,
    then imported the failed build's helper at call time."""
    helper = f"kept_{_tag(tmp_path)}"
    for fn in ("a", "b"):
        src = tmp_path / f"src_{fn}"
        src.mkdir()
        (src / f"{helper}.py").write_text("CALLS = []\n")
        (src / "app.py").write_text(
            f"import {helper} as top\n"
            "def handler(event, context):\n"
            f"    import {helper}\n"
            f"    return {{'status': '200', 'body': str({helper} is top)}}\n"
        )
    app = _build(tmp_path, _TWO_FUNCTIONS)
    (tmp_path / "src_b" / "app.py").write_text("def handler(event, context)\n")
    with pytest.raises(HandlerLoadError):
        _build(tmp_path, _TWO_FUNCTIONS)
    assert _body(app, "/a/x") == "True"


def test_a_new_helper_broken_on_arrival_is_watched(tmp_path: Path) -> None:
    """serve --reload watched only loaded modules: the fix of a new helper that failed to
    import was never picked up."""
    from edge_middleware.config.loaders.sam_handlers import function_files

    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def handler(event, context):\n    return event\n")
    _build(tmp_path)
    broken = src / f"newer_{_tag(tmp_path)}.py"
    broken.write_text("def oops(:\n")
    (src / "app.py").write_text(f"import {broken.stem}\ndef handler(event, context):\n    pass\n")
    with pytest.raises(HandlerLoadError, match="SyntaxError"):
        _build(tmp_path)
    assert broken.resolve() in function_files()


def test_a_handler_below_the_build_in_its_own_file_is_named_as_such(tmp_path: Path) -> None:
    tag = _tag(tmp_path)
    template = _ONE_FUNCTION.replace("CodeUri: src/", "CodeUri: .").replace(
        "Handler: app.handler", f"Handler: below_{tag}.handler"
    )
    (tmp_path / "sam.yaml").write_text(template)
    (tmp_path / f"below_{tag}.py").write_text(
        "from pathlib import Path\n"
        "from edge_middleware import EdgeWSGIMiddleware\n"
        "config = str(Path(__file__).with_name('sam.yaml'))\n"
        "app = EdgeWSGIMiddleware(lambda e, s: [], config=config)\n"
        "def handler(event, context):\n"
        "    return event\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(HandlerLoadError, match="above the line that builds the middleware"):
            __import__(f"below_{tag}")
    finally:
        sys.path.remove(str(tmp_path))


def test_two_builds_of_one_template_each_keep_their_own_modules(tmp_path: Path) -> None:
    """An app factory called twice (or the two doors built from one template): the first
    build's handler imported the second build's helper at call time."""
    helper = f"builds_{_tag(tmp_path)}"
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{helper}.py").write_text("CALLS = []\n")
    (src / "app.py").write_text(
        f"import {helper} as top\n"
        "def handler(event, context):\n"
        f"    import {helper}\n"
        f"    from {helper} import CALLS\n"
        "    CALLS.append(1)\n"
        f"    body = f'{{{helper} is top}} {{len(top.CALLS)}}'\n"
        "    return {'status': '200', 'body': body}\n"
    )
    first = _build(tmp_path)
    second = _build(tmp_path)
    assert [_body(first), _body(second), _body(first)] == ["True 1", "True 1", "True 2"]
