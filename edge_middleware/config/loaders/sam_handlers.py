"""Local handlers for the Python functions a CloudFormation / SAM template defines.

A function resource of the template (``AWS::Serverless::Function`` or
``AWS::Lambda::Function``) whose runtime (its own ``Runtime`` or ``Globals.Function.Runtime``)
is ``python3.x`` becomes its own handler, with no ``handlers=`` entry:

- ``CodeUri`` (SAM) or a string ``Code`` (packaged) names the code directory, relative to the
  template; ``Handler: app.handler`` is ``handler`` in ``app.py`` there (``pkg.mod.fn`` and
  ``src/app.fn`` work too, ``pkg/__init__.py`` first), imported as Lambda imports it;
- an inline ``Code: {ZipFile: ...}`` is not run: map it with ``handlers=`` as before.

Each function's code directory is an import namespace of its own
(:mod:`~edge_middleware.config.loaders.function_code`): what the function imports from it, at
load or inside the handler at call time, is its own (``edge_sam.<LogicalId>.<name>``), as the
directory first on Lambda's ``sys.path`` makes it; ``sys.path`` and the app's modules are left
alone, and each build (a reload) imports the function's modules anew.

A function whose directory or file is missing is left to ``handlers=`` (and reported as
unmapped as before); one whose file exists but does not import fails at start, naming the
function and the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...exceptions import HandlerLoadError
from .function_code import (
    MODULE_PREFIX,
    FunctionCode,
    Snapshot,
    function_files,
    load_function,
    rollback,
)

__all__ = [
    "FUNCTION_TYPES",
    "MODULE_PREFIX",
    "FunctionCode",
    "function_files",
    "template_handlers",
]

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


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


def _function_handler(
    logical: str, props: Mapping[str, Any], doc: Mapping[str, Any], base: Path
) -> Callable[..., Any] | None:
    handler = props.get("Handler", _global(doc, "Handler"))
    if not isinstance(handler, str) or "." not in handler:
        return None
    module_path, _, func_name = handler.rpartition(".")
    module_path = module_path.replace("/", ".")  # src/app.handler: as Lambda's runtime reads it
    code = props.get("CodeUri", _global(doc, "CodeUri"))
    if code is None:
        code = props.get("Code")
    if not isinstance(code, str):
        return None
    root = (base / code).resolve()
    parts = module_path.split(".")
    file = root.joinpath(*parts).with_suffix(".py")
    if not file.is_file():
        file = root.joinpath(*parts, "__init__.py")
        if not file.is_file():
            return None  # not built here: left to handlers=
    try:
        module = load_function(logical, module_path, root)
    except Exception as exc:
        raise HandlerLoadError(
            f"Resources.{logical}.Properties.Handler",
            handler,
            f"an importable handler ({file}: {type(exc).__name__}: {exc})",
        ) from exc
    where = str(file)
    func = getattr(module, func_name, None)
    if not callable(func):
        expected = f"{where} to define {func_name}()"
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            # the file builds the middleware itself, and the build came first
            expected += " above the line that builds the middleware (the file was still loading)"
        raise HandlerLoadError(f"Resources.{logical}.Properties.Handler", handler, expected)
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
    snapshot = Snapshot()
    try:
        _load_all(doc, resources, base, given, out)
    except BaseException:
        rollback(snapshot)  # every function of the previous build stays whole (a reload)
        raise
    return out


def _load_all(
    doc: Mapping[str, Any],
    resources: Mapping[str, Any],
    base: Path,
    given: Mapping[str, Any] | None,
    out: dict[str, Callable[..., Any]],
) -> None:
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
