"""Local handlers for the Python functions a CloudFormation / SAM template defines.

A function resource of the template (``AWS::Serverless::Function`` or
``AWS::Lambda::Function``) whose runtime (its own ``Runtime`` or ``Globals.Function.Runtime``)
is ``python3.x`` becomes its own handler, with no ``handlers=`` entry:

- ``CodeUri`` (SAM) or a string ``Code`` (packaged) names the code directory, relative to the
  template; ``Handler: app.handler`` is ``handler`` in ``app.py`` there (``pkg.mod.fn`` works
  too), imported as Lambda does, with that directory first on ``sys.path``;
- an inline ``Code: {ZipFile: ...}`` is not run: map it with ``handlers=`` as before.

Each module is imported under a name of its own (``edge_sam.<LogicalId>.app``), so two
functions that both have an ``app.py`` do not share one; what a function's module imports from
its own directory is its own too (two functions' ``helper.py`` are two modules, and a reload
imports them anew). A function whose directory or file is
missing is left to ``handlers=`` (and reported as unmapped as before); one whose file exists
but does not import fails at start, naming the function and the file.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...exceptions import HandlerLoadError

__all__ = ["FUNCTION_TYPES", "function_files", "template_handlers"]

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
MODULE_PREFIX = "edge_sam"


def _runtime(props: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    runtime = props.get("Runtime")
    if runtime is None:
        globals_ = doc.get("Globals")
        function = globals_.get("Function") if isinstance(globals_, Mapping) else None
        runtime = function.get("Runtime") if isinstance(function, Mapping) else None
    return runtime if isinstance(runtime, str) else ""


def _global(doc: Mapping[str, Any], key: str) -> Any:
    globals_ = doc.get("Globals")
    function = globals_.get("Function") if isinstance(globals_, Mapping) else None
    return function.get(key) if isinstance(function, Mapping) else None


#: modules a function's load imported from its own code directory (``import helper`` in its
#: ``app.py``): each later load imports its own anew
_FROM_FUNCTION_CODE: set[str] = set()
#: the files of those modules (``serve --reload`` watches them)
_FUNCTION_FILES: set[Path] = set()


def function_files() -> set[Path]:
    """The files of the modules functions' loads imported from their own code directories
    (helpers beside ``app.py``): an edit to one is picked up by ``serve --reload``."""
    return set(_FUNCTION_FILES)


def _in_code(module: object, root: Path) -> bool:
    """Whether ``module`` is one of the function's own files under ``root``: not the standard
    library or an installed package (numpy cannot be imported twice), nor a virtualenv or a
    hidden directory inside a CodeUri of "." """
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return False
    try:
        parts = Path(file).resolve().relative_to(root).parts
    except ValueError:
        return False
    return not any(p.startswith(".") or p in ("site-packages", "dist-packages") for p in parts)


def _top_names(root: Path) -> set[str]:
    """The top-level modules and packages of a code directory (``helper.py``, ``pkg/``)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return set()
    return {
        e.stem if e.suffix == ".py" else e.name
        for e in entries
        if (e.suffix == ".py" and e.is_file()) or (e / "__init__.py").is_file()
    }


def _shadowed(root: Path) -> dict[str, types.ModuleType]:
    """Modules loaded before (the app's, an earlier load's) whose top-level name is a module
    or package of the function's own code: the function imports its own under that name."""
    own = _top_names(root)
    out: dict[str, types.ModuleType] = {}
    for modname, module in list(sys.modules.items()):
        if modname in _FROM_FUNCTION_CODE or (
            modname.partition(".")[0] in own and not _in_code(module, root)
        ):
            out[modname] = module
    return out


def _load_module(name: str, file: Path, root: Path) -> types.ModuleType:
    """Import ``file`` as module ``name`` with ``root`` first on ``sys.path``, as Lambda does.
    What it imports from its own code is its own: a module of the same name that the app or
    another function's code loaded is hidden while it loads and put back after (two
    functions' ``helper.py`` were one; an app's ``config`` was a function's). A load that fails
    leaves the module loaded before in place (its file stays watched)."""
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    for parent in _parents(name):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    previous = sys.modules.get(name)
    hidden = _shadowed(root)
    for modname in hidden:
        del sys.modules[modname]
    before = set(sys.modules)
    sys.modules[name] = module
    sys.path.insert(0, str(root))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise
    finally:
        try:
            sys.path.remove(str(root))
        except ValueError:
            pass
        # the function's own modules leave sys.modules (it holds them); the others come back
        for modname in set(sys.modules) - before:
            loaded = sys.modules[modname]
            if modname != name and _in_code(loaded, root):
                _FROM_FUNCTION_CODE.add(modname)
                _FUNCTION_FILES.add(Path(str(loaded.__file__)).resolve())
                if modname in hidden:
                    del sys.modules[modname]
        for modname, hidden_module in hidden.items():
            sys.modules.setdefault(modname, hidden_module)
    return module


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _function_handler(
    logical: str, props: Mapping[str, Any], doc: Mapping[str, Any], base: Path
) -> Callable[..., Any] | None:
    handler = props.get("Handler", _global(doc, "Handler"))
    if not isinstance(handler, str) or "." not in handler:
        return None
    module_path, _, func_name = handler.rpartition(".")
    code = props.get("CodeUri", _global(doc, "CodeUri"))
    if code is None:
        code = props.get("Code")
    where = f"Resources.{logical}.Properties"
    name = f"{MODULE_PREFIX}.{logical}.{module_path}"
    try:
        if isinstance(code, str):
            root = (base / code).resolve()
            file = root.joinpath(*module_path.split(".")).with_suffix(".py")
            if not file.is_file():
                init = root.joinpath(*module_path.split("."), "__init__.py")
                if not init.is_file():
                    return None  # not built here: left to handlers=
                file = init
            where = str(file)
            module = _load_module(name, file, root)
        else:
            return None
    except Exception as exc:
        raise HandlerLoadError(
            f"Resources.{logical}.Properties.Handler",
            handler,
            f"an importable handler ({where}: {type(exc).__name__}: {exc})",
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise HandlerLoadError(
            f"Resources.{logical}.Properties.Handler", handler, f"{where} to define {func_name}()"
        )
    return func  # type: ignore[no-any-return]


def _refers_to(value: Any, logical: str) -> bool:
    """``{"Ref": X}``, ``{"Fn::GetAtt": [X, "Arn"]}`` or ``"X.Arn"`` naming ``logical``."""
    if isinstance(value, Mapping):
        if value.get("Ref") == logical:
            return True
        att = value.get("Fn::GetAtt")
        if isinstance(att, list) and att[:1] == [logical]:
            return True
        if isinstance(att, str) and att.split(".", 1)[0] == logical:
            return True
    return False


def _given(
    logical: str,
    props: Mapping[str, Any],
    resources: Mapping[str, Any],
    given: Mapping[str, Any],
) -> bool:
    """Whether ``handlers=`` maps this function under any of its keys: its logical id, its
    ``FunctionName`` (bare or in an ARN), or a version/alias resource of it."""
    keys = {logical}
    name = props.get("FunctionName")
    if isinstance(name, str):
        keys.add(name)
    for other, resource in resources.items():
        if isinstance(resource, Mapping) and resource.get("Type") in (
            "AWS::Lambda::Version",
            "AWS::Lambda::Alias",
        ):
            other_props = resource.get("Properties")
            if isinstance(other_props, Mapping) and _refers_to(
                other_props.get("FunctionName"), logical
            ):
                keys.add(str(other))
    for key in given:
        if key in keys:
            return True
        if isinstance(name, str) and (
            key.endswith(f":function:{name}") or f":function:{name}:" in key
        ):
            return True
    return False


def template_handlers(
    doc: Mapping[str, Any], base: Path, given: Mapping[str, Any] | None = None
) -> dict[str, Callable[..., Any]]:
    """``{logical id: handler}`` for the template's Python functions found under ``base``;
    a function ``given`` by logical id or ``FunctionName`` is left alone."""
    resources = doc.get("Resources")
    if not isinstance(resources, Mapping):
        return {}
    out: dict[str, Callable[..., Any]] = {}
    for logical, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") not in FUNCTION_TYPES:
            continue
        props = resource.get("Properties")
        props = props if isinstance(props, Mapping) else {}
        if not _runtime(props, doc).startswith("python3"):
            continue
        if given and _given(str(logical), props, resources, given):
            continue
        func = _function_handler(str(logical), props, doc, base)
        if func is not None:
            out[str(logical)] = func
    return out
