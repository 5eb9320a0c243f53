"""Local handlers for the Python functions a CloudFormation / SAM template defines.

A function resource of the template (``AWS::Serverless::Function`` or
``AWS::Lambda::Function``) whose runtime (its own ``Runtime`` or ``Globals.Function.Runtime``)
is ``python3.x`` becomes its own handler, with no ``handlers=`` entry:

- ``CodeUri`` (SAM) or a string ``Code`` (packaged) names the code directory, relative to the
  template; ``Handler: app.handler`` is ``handler`` in ``app.py`` there (``pkg.mod.fn`` and
  ``src/app.fn`` work too, ``pkg/__init__.py`` first), imported as Lambda imports it;
- an inline ``Code: {ZipFile: ...}`` is not run: map it with ``handlers=`` as before.

Each function's code directory is an import namespace of its own (:class:`FunctionCode`): its
modules live in ``sys.modules`` as ``edge_sam.<LogicalId>.<name>`` (``edge_sam.FnA.app``,
``edge_sam.FnA.helper``), and an ``import helper`` in any of them, at load or inside the
handler at call time, gives the function's own ``helper``, as the directory first on Lambda's
``sys.path`` does. Nothing else changes: ``sys.path`` is never touched, and the app's modules of
the same names stay the app's (two functions' ``helper.py`` are two modules; the app's
``config`` is not a function's). Relative imports inside a function's packages work as in any
package. Each build (a reload) imports a function's modules anew.

Limits: the modules see the ``builtins`` of the moment they were loaded (a name added to
``builtins`` later, as ``gettext.install`` does, is not seen), and ``importlib.import_module``
of a plain name does not look in the function's directory (``import`` statements do).

A function whose directory or file is missing is left to ``handlers=`` (and reported as
unmapped as before); one whose file exists but does not import fails at start, naming the
function and the file.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...exceptions import HandlerLoadError

__all__ = ["FUNCTION_TYPES", "FunctionCode", "function_files", "template_handlers"]

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


#: how an ``import`` statement imports when it is not one of a function's own modules
_IMPORT = builtins.__import__


def function_files() -> set[Path]:
    """The files of the modules loaded from functions' own code directories (helpers beside
    ``app.py``, those a handler imported at call time too): an edit to one is picked up by
    ``serve --reload``."""
    files = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith(MODULE_PREFIX + ".") and isinstance(file, str) and file.endswith(".py"):
            files.add(Path(file).resolve())
    return files


def _top_names(root: Path) -> frozenset[str]:
    """The top-level modules of a code directory that an ``import`` finds there first, as
    with the directory first on ``sys.path``: ``helper.py``, an extension module, a package
    ``pkg/`` (with its ``__init__.py``), and a directory of modules without one (a namespace
    package) unless a regular module of its name is installed (that one wins on Lambda too)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return frozenset()
    names: set[str] = set()
    suffixes = tuple(importlib.machinery.all_suffixes())
    for entry in entries:
        if entry.is_dir():
            if not entry.name.isidentifier():
                continue
            package = (entry / "__init__.py").is_file()
            if package or (any(entry.glob("*.py")) and _installed(entry.name) is None):
                names.add(entry.name)
        elif entry.name.endswith(suffixes):
            name = entry.name.partition(".")[0]
            if name.isidentifier():
                names.add(name)
    return frozenset(names)


def _installed(name: str) -> importlib.machinery.ModuleSpec | None:
    """A regular module or package ``name`` found outside the code directory."""
    if name in sys.builtin_module_names:
        return importlib.machinery.ModuleSpec(name, None, origin="built-in")
    spec = importlib.machinery.PathFinder.find_spec(name)
    return spec if spec is not None and spec.loader is not None else None


class FunctionCode:
    """One function's code directory as an import namespace: its modules are
    ``<prefix>.<name>`` in ``sys.modules``, and each of them is given :attr:`builtins`, whose
    ``__import__`` maps an absolute import of one of the directory's top-level names
    (:func:`_top_names`) there; any other import is Python's own."""

    def __init__(self, prefix: str, root: Path) -> None:
        self.prefix = prefix
        self.root = root
        self.tops = _top_names(root)
        self.builtins = dict(builtins.__dict__)
        self.builtins["__import__"] = self._import

    def _import(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,  # (__import__'s own names)
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        top = name.partition(".")[0]
        if level or top not in self.tops:
            return _IMPORT(name, globals, locals, fromlist, level)
        module = _IMPORT(f"{self.prefix}.{name}", globals, locals, fromlist, 0)
        # ``import pkg.mod`` binds ``pkg``; ``from pkg import mod`` is given ``pkg``
        return module if fromlist else sys.modules[f"{self.prefix}.{top}"]


class _CodeLoader(importlib.abc.Loader):
    """Python's own loader for a module of a function's code, which gives the module the
    function's ``builtins`` before its code runs (its functions keep them)."""

    def __init__(self, inner: Any, code: FunctionCode) -> None:
        self.inner = inner
        self.code = code

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.inner.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = self.code.builtins
        self.inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self.inner, name)


class _CodeFinder(importlib.abc.MetaPathFinder):
    """Finds ``<prefix>.<name>`` in the function's directory (the prefix package's
    ``__path__``), as Python's path finder does, with :class:`_CodeLoader`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(MODULE_PREFIX + "."):
            return None
        code = _CODES.get(".".join(fullname.split(".", 2)[:2]))
        if code is None or fullname == code.prefix:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:  # (None: a namespace package)
            spec.loader = _CodeLoader(spec.loader, code)
        return spec


#: the loaded functions' code, by prefix
_CODES: dict[str, FunctionCode] = {}
#: the prefix of each (logical id, code directory): the same function loaded again (a reload)
#: keeps its modules' names; another template's function of the same id gets its own
_PREFIXES: dict[tuple[str, Path], str] = {}
_FINDER = _CodeFinder()
#: ``prefixes``: the functions this thread is loading
_LOADING = threading.local()


def _prefix(logical: str, root: Path) -> str:
    known = _PREFIXES.get((logical, root))
    if known is None:
        taken = set(_PREFIXES.values())
        known = f"{MODULE_PREFIX}.{logical}"
        n = 1
        while known in taken:
            n += 1
            known = f"{MODULE_PREFIX}.{logical}_{n}"
        _PREFIXES[logical, root] = known
    return known


def _install(code: FunctionCode) -> None:
    """Make ``code.prefix`` a package whose path is the function's directory."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    base = sys.modules.get(MODULE_PREFIX)
    if base is None:
        base = types.ModuleType(MODULE_PREFIX, "Python functions of loaded templates")
        base.__path__ = []
        base.__spec__ = importlib.machinery.ModuleSpec(MODULE_PREFIX, None, is_package=True)
        sys.modules[MODULE_PREFIX] = base
    package = types.ModuleType(code.prefix, f"The code of {code.root}")
    spec = importlib.machinery.ModuleSpec(code.prefix, None, is_package=True)
    spec.submodule_search_locations = [str(code.root)]
    package.__spec__ = spec
    package.__path__ = [str(code.root)]
    package.__package__ = code.prefix
    package.__dict__["__builtins__"] = code.builtins
    sys.modules[code.prefix] = package
    setattr(base, code.prefix.rpartition(".")[2], package)
    _CODES[code.prefix] = code


def _load_module(logical: str, module_path: str, root: Path) -> types.ModuleType:
    """Import ``module_path`` (``app``, ``pkg.mod``) of the function's directory ``root``, and
    with it what it imports from there, anew (a reload). A load that fails leaves the modules
    loaded before in place (their files stay watched)."""
    prefix = _prefix(logical, root)
    loading = _LOADING.__dict__.setdefault("prefixes", set())
    if prefix in loading:
        # the function's module builds the middleware itself (the app's own file): this is
        # that build, within the load; it gets the module as far as it ran, as a circular
        # import does (a handler defined above the build is there)
        module = sys.modules.get(f"{prefix}.{module_path}")
        if module is None:
            raise ImportError(f"{module_path} is imported again while it loads")
        return module
    code = FunctionCode(prefix, root)
    mine = code.prefix + "."
    previous = {k: m for k, m in sys.modules.items() if k == code.prefix or k.startswith(mine)}
    for name in previous:
        del sys.modules[name]
    before = _CODES.get(code.prefix)
    _install(code)
    importlib.invalidate_caches()  # a file added since the last load is found
    loading.add(prefix)
    try:
        return importlib.import_module(f"{code.prefix}.{module_path}")
    except BaseException:
        for name in [k for k in sys.modules if k == code.prefix or k.startswith(mine)]:
            del sys.modules[name]
        sys.modules.update(previous)
        if before is not None:
            _CODES[code.prefix] = before
        raise
    finally:
        loading.discard(prefix)


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
        module = _load_module(logical, module_path, root)
    except Exception as exc:
        raise HandlerLoadError(
            f"Resources.{logical}.Properties.Handler",
            handler,
            f"an importable handler ({file}: {type(exc).__name__}: {exc})",
        ) from exc
    where = str(file)
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
