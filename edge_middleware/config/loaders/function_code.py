"""A template's Python function's code directory as an import namespace of its own.

Lambda runs a function with its code directory first on ``sys.path``. Here many functions and
the app share one process, so each directory becomes a package, ``edge_sam.<LogicalId>``,
whose path is the directory: its modules are ``edge_sam.<LogicalId>.<name>`` in
``sys.modules``, and each is given ``builtins`` whose ``__import__`` maps an absolute import of
one of the directory's own top-level names there (:class:`FunctionCode`). ``sys.path`` is never
changed and the app's modules keep their names.

Not the function's own, and imported under their plain names as on any ``sys.path``:

- the standard library (Lambda's runtime has imported most of it before the function);
- third-party packages: those a ``*.dist-info`` in the directory lists (``sam build``,
  ``pip install -t``) and those installed in the environment's site-packages. The
  environment's copy is used when there is one; one only in the directory is found there
  (:class:`_VendoredFinder`, after every other finder). Their compiled code imports them by
  their plain names, which a private copy would break.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MODULE_PREFIX",
    "FunctionCode",
    "Snapshot",
    "function_files",
    "load_function",
    "rollback",
]

MODULE_PREFIX = "edge_sam"

#: how an ``import`` statement imports when it is not one of a function's own modules
_IMPORT = builtins.__import__
#: names that are never a function's own module: its file of that name is not imported
_STANDARD = frozenset(sys.builtin_module_names) | frozenset(sys.stdlib_module_names)
#: directories an installed distribution lives in
_SITE_DIRS = ("site-packages", "dist-packages")


def function_files() -> set[Path]:
    """The files to watch for ``serve --reload``: those of the modules loaded from functions'
    own code directories (helpers beside ``app.py``, those a handler imported at call time
    too), and those a failed load named (a new helper broken on arrival: its fix is picked
    up)."""
    files = set().union(*_FAILED.values())
    for code in list(_CODES.values()):
        for module in list(code.modules.values()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.endswith(".py"):
                files.add(Path(file).resolve())
    return files


# -- which names are the function's own -------------------------------------------------------
def _has_modules(directory: Path, depth: int = 3) -> bool:
    """Whether a directory holds ``.py`` files (a namespace package, PEP 420), at most
    ``depth`` levels down; hidden directories are not looked into."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return False
    if any(e.suffix == ".py" for e in entries):
        return True
    return depth > 0 and any(
        e.is_dir() and not e.name.startswith(".") and _has_modules(e, depth - 1) for e in entries
    )


def _distributed(root: Path) -> frozenset[str]:
    """The top-level names the ``*.dist-info`` directories in ``root`` list (their
    ``top_level.txt``, else their ``RECORD``'s first path parts)."""
    names: set[str] = set()
    for info in root.glob("*.dist-info"):
        try:
            top = info / "top_level.txt"
            if top.is_file():
                names.update(line.strip() for line in top.read_text().splitlines())
                continue
            record = info / "RECORD"
            if record.is_file():
                for line in record.read_text().splitlines():
                    first = line.split(",", 1)[0].split("/", 1)[0]
                    names.add(first[:-3] if first.endswith(".py") else first.partition(".")[0])
        except (OSError, UnicodeDecodeError):
            continue
    return frozenset(n for n in names if n.isidentifier())


def _site_installed(spec: importlib.machinery.ModuleSpec | None) -> bool:
    """Whether ``spec`` (a name found on ``sys.path``) is a distribution installed in the
    environment (site-packages)."""
    origin = None if spec is None else spec.origin
    if origin is None and spec is not None and spec.submodule_search_locations:
        origin = next(iter(spec.submodule_search_locations), None)
    return origin is not None and any(part in _SITE_DIRS for part in Path(origin).parts)


def _names(root: Path) -> tuple[frozenset[str], frozenset[str]]:
    """``(own, vendored)`` top-level names of a code directory: modules an ``import`` finds
    there first (``helper.py``, an extension module, ``pkg/``, a directory of modules that no
    installed package of its name shadows), and the third-party packages in it."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return frozenset(), frozenset()
    distributed = _distributed(root)
    found: set[str] = set()
    suffixes = tuple(importlib.machinery.all_suffixes())
    for entry in entries:
        if entry.is_dir():
            if entry.name.isidentifier() and (
                (entry / "__init__.py").is_file() or _has_modules(entry)
            ):
                found.add(entry.name)
        elif entry.name.endswith(suffixes):
            name = entry.name.partition(".")[0]
            if name.isidentifier():
                found.add(name)
    found -= _STANDARD
    own: set[str] = set()
    vendored = distributed - _STANDARD
    for name in found:
        elsewhere = importlib.machinery.PathFinder.find_spec(name)  # (once: a sys.path scan)
        if name in distributed or _site_installed(elsewhere):
            vendored |= {name}
        elif (
            (root / name / "__init__.py").is_file()
            or not (root / name).is_dir()
            # a regular module of that name elsewhere wins over a namespace directory, as it
            # would on Lambda
            or elsewhere is None
            or elsewhere.loader is None
        ):
            own.add(name)
    return frozenset(own), frozenset(vendored)


# -- the namespace ------------------------------------------------------------------------------
class FunctionCode:
    """One function's code directory as an import namespace: its modules are
    ``<prefix>.<name>`` in ``sys.modules``, and each of them is given :attr:`builtins`, whose
    ``__import__`` maps an absolute import of one of the directory's own top-level names
    there; any other import is Python's own."""

    def __init__(self, prefix: str, root: Path) -> None:
        self.prefix = prefix
        self.root = root
        self.tops, self.vendored = _names(root)
        #: the modules this load made, by full name: the function's own even when another
        #: build of the same function (an app factory called twice) loaded them again since
        self.modules: dict[str, types.ModuleType] = {}
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
        if level:
            if globals is not None and globals.get("__package__") == self.prefix:
                # a top-level module has no package on Lambda (app.py's `from . import x`)
                raise ImportError("attempted relative import with no known parent package")
            return _IMPORT(name, globals, locals, fromlist, level)
        if top not in self.tops:
            return _IMPORT(name, globals, locals, fromlist, level)
        # ``import pkg.mod`` binds ``pkg``; ``from pkg import mod`` is given ``pkg``
        mine = self.modules
        known = mine.get(f"{self.prefix}.{name}")
        if known is not None:  # (recorded once its code ran)
            if not fromlist:
                first = mine.get(f"{self.prefix}.{top}")  # (a namespace package is not)
                if first is not None:
                    return first
            elif all(hasattr(known, x) for x in fromlist if x != "*"):
                return known
        module = _IMPORT(f"{self.prefix}.{name}", globals, locals, fromlist, 0)
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
        self.code.modules[module.__name__] = module

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


class _VendoredFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: a third-party package found in no other place is found in
    the code directory of a function that holds it, under its plain name."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None:
            return None
        for code in list(_CODES.values()):
            if fullname in code.vendored:
                spec = importlib.machinery.PathFinder.find_spec(fullname, [str(code.root)])
                if spec is not None:
                    return spec
        return None


#: the loaded functions' code, by prefix
_CODES: dict[str, FunctionCode] = {}
#: the prefix of each (logical id, code directory): the same function loaded again (a reload)
#: keeps its modules' names; another template's function of the same id gets its own
_PREFIXES: dict[tuple[str, Path], str] = {}
_FINDER = _CodeFinder()
_VENDORED = _VendoredFinder()
#: ``prefixes``: the functions this thread is loading
_LOADING = threading.local()
#: the files failed loads named, by prefix (watched until a load of the function succeeds)
_FAILED: dict[str, set[Path]] = {}


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
    if _VENDORED not in sys.meta_path:
        sys.meta_path.append(_VENDORED)
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


def _failed_files(exc: BaseException, root: Path) -> set[Path]:
    """The files under ``root`` a failed load names: a syntax error's, the traceback's."""
    files: set[Path] = set()
    if isinstance(exc, SyntaxError) and exc.filename:
        files.add(Path(exc.filename).resolve())
    tb = exc.__traceback__
    while tb is not None:
        files.add(Path(tb.tb_frame.f_code.co_filename).resolve())
        tb = tb.tb_next
    return {f for f in files if f.suffix == ".py" and f.is_relative_to(root)}


class Snapshot:
    """Every function's modules and namespaces as they are: :func:`rollback` puts them back
    (a build of a template that fails keeps the previous build's functions whole)."""

    def __init__(self) -> None:
        mine = MODULE_PREFIX + "."
        self.modules = {k: m for k, m in sys.modules.items() if k.startswith(mine)}
        self.codes = dict(_CODES)


def rollback(snapshot: Snapshot) -> None:
    mine = MODULE_PREFIX + "."
    for name in [k for k in sys.modules if k.startswith(mine)]:
        del sys.modules[name]
    sys.modules.update(snapshot.modules)
    _CODES.clear()
    _CODES.update(snapshot.codes)


def load_function(logical: str, module_path: str, root: Path) -> types.ModuleType:
    """Import ``module_path`` (``app``, ``pkg.mod``) of the function's directory ``root``, and
    with it what it imports from there, anew (a reload). The files a failed load names are
    watched; the caller's :func:`rollback` puts the modules loaded before back."""
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
    for name in [k for k in sys.modules if k == code.prefix or k.startswith(mine)]:
        del sys.modules[name]
    _install(code)
    importlib.invalidate_caches()  # a file added since the last load is found
    loading.add(prefix)
    try:
        module = importlib.import_module(f"{code.prefix}.{module_path}")
    except BaseException as exc:
        _FAILED.setdefault(prefix, set()).update(_failed_files(exc, root))
        raise
    finally:
        loading.discard(prefix)
    _FAILED.pop(prefix, None)
    return module
