"""Which distribution a shared cache belongs to (issue 16, item 4).

Two apps or distributions on one Redis must not serve each other's objects, yet every worker
of one app (other processes, other hosts) must share them. :func:`distribution_identity` gives
a name that is the same wherever the same configuration runs and differs when the
configuration (behaviors, policies, handlers, origins, settings, ``distribution_id``, domain
name) or the origin app differs. A ``RedisStorage`` created without ``distribution_id`` adopts
it from the middleware it serves; setting ``distribution_id`` yourself (or
``?distribution_id=`` in a storage URL) shares one namespace on purpose.

Everything here is deterministic across the processes of one deployment: no ``id()``, no
addresses. Two projects laid out alike (``app = Flask(__name__)`` in each one's ``app.py``, or
Django's default ``mysite``) differ by where their code is: Flask's ``root_path``, the source
file of a function or class of the project, Django's settings module and ``BASE_DIR``. These
are absolute paths of the project's own files only, never of the standard library or installed
packages (the same code wherever it is installed), so every worker and host that runs one
checkout from one place agrees.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import os
import re
import sys
import sysconfig
from collections.abc import Mapping
from typing import Any

__all__ = ["app_fingerprint", "config_fingerprint", "distribution_identity"]

#: How deep :func:`app_fingerprint` follows wrappers (``app.app``) and routers.
_APP_DEPTH = 4

#: Where library code lives: its paths tell no project apart (see :func:`_project_path`).
_LIBRARY_DIRS = ("site-packages", "dist-packages")
_STDLIB = tuple(
    os.path.join(os.path.abspath(p), "")
    for p in {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    if p
)


def _project_path(path: Any) -> str:
    """``path`` made absolute if it is the project's own (a file or directory), else ``""``:
    for none, a pseudo-file (``<string>``), the standard library or an installed package."""
    if not isinstance(path, str | os.PathLike) or not str(path) or str(path).startswith("<"):
        return ""
    found = os.path.abspath(path)
    if found.startswith(_STDLIB) or any(d in found.split(os.sep) for d in _LIBRARY_DIRS):
        return ""
    return found


def _module_path(name: str) -> str:
    return _project_path(getattr(sys.modules.get(name), "__file__", None))


def _at(path: str) -> str:
    return f"@{path}" if path else ""


def _django_project(app: Any) -> str:
    """What tells Django projects apart (every one is served by the same handler classes):
    its settings module, URLconf and ``BASE_DIR``; ``""`` for other apps."""
    if type(app).__module__.partition(".")[0] != "django":
        return ""
    settings = getattr(sys.modules.get("django.conf"), "settings", None)
    if settings is None or not settings.configured:
        return ""
    module = str(getattr(settings, "SETTINGS_MODULE", None) or "")
    urlconf = str(getattr(settings, "ROOT_URLCONF", None) or "")
    base = _project_path(str(getattr(settings, "BASE_DIR", None) or ""))
    return f"django({module}{_at(_module_path(module))},{urlconf},{base})"


def _callable_name(obj: Any) -> str:
    """``module:qualname`` of a function, method or callable object, plus the first line of a
    function's code so two lambdas or closures in one module differ."""
    if isinstance(obj, functools.partial):
        return (
            f"partial({_callable_name(obj.func)},{_canonical(obj.args)},{_canonical(obj.keywords)})"
        )
    func = getattr(obj, "__func__", obj)  # bound methods: the function
    module = getattr(func, "__module__", None) or type(obj).__module__
    qualname = getattr(func, "__qualname__", None) or type(obj).__qualname__
    code = getattr(func, "__code__", None)
    line = f"@{code.co_firstlineno}" if code is not None else ""
    return f"{module}:{qualname}{line}"


def _canonical(obj: Any) -> str:
    """A stable text for a configuration value (dataclasses, containers, handlers)."""
    if obj is None or isinstance(obj, bool | int | float | str | bytes):
        return repr(obj)
    if isinstance(obj, enum.Enum):
        return f"{type(obj).__qualname__}.{obj.name}"
    if isinstance(obj, re.Pattern):
        return f"re({obj.pattern!r})"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = (
            f"{f.name}={_canonical(getattr(obj, f.name))}"
            for f in dataclasses.fields(obj)
            if f.init and not f.name.startswith("_")
        )
        return f"{type(obj).__qualname__}({','.join(fields)})"
    if isinstance(obj, Mapping):
        items = sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in obj.items())
        return "{" + ",".join(items) + "}"
    if isinstance(obj, set | frozenset):
        return "set(" + ",".join(sorted(_canonical(v) for v in obj)) + ")"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(_canonical(v) for v in obj) + "]"
    if callable(obj):
        return _callable_name(obj)
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def config_fingerprint(config: Any) -> str:
    """SHA-256 (hex) of everything in an ``EdgeConfig`` that shapes what gets cached."""
    return hashlib.sha256(_canonical(config).encode("utf-8", "surrogatepass")).hexdigest()


def app_fingerprint(app: Any, depth: int = 0) -> str:
    """A stable name for an origin app: Flask's ``import_name`` and ``root_path``, a function's
    qualified name and source file, a router's routes (path and endpoint), a Django project's
    settings, following ``.app`` wrappers; ``""`` for ``None``. Paths only of the project's own
    code (see the module's doc)."""
    if app is None or depth > _APP_DEPTH:
        return ""
    try:
        return _app_fingerprint(app, depth)
    except Exception:  # an app whose attributes raise still gets a (coarser) name
        return f"{type(app).__module__}:{type(app).__qualname__}"


def _app_fingerprint(app: Any, depth: int) -> str:
    owner = getattr(app, "__self__", None)  # Flask's app.wsgi_app is a bound method
    if owner is not None and not isinstance(owner, type):
        return f"{app_fingerprint(owner, depth + 1)}.{getattr(app, '__name__', '')}"
    import_name = getattr(app, "import_name", None)
    if isinstance(import_name, str):
        # Flask: "app" in every project whose app is in app.py; where that is tells them apart
        root = getattr(app, "root_path", None)
        where = _project_path(root) if root is not None else _module_path(import_name)
        return f"{type(app).__qualname__}({import_name}{_at(where)})"
    code = getattr(app, "__code__", None)
    if code is not None:
        return _callable_name(app) + _at(_project_path(getattr(code, "co_filename", None)))
    module = type(app).__module__
    parts = [f"{module}:{type(app).__qualname__}{_at(_module_path(module))}"]
    django = _django_project(app)
    if django:
        parts.append(django)
    routes = getattr(app, "routes", None)
    if isinstance(routes, list | tuple):
        for route in routes:
            endpoint = getattr(route, "endpoint", None) or getattr(route, "app", None)
            path = getattr(route, "path", "")
            name = app_fingerprint(endpoint, depth + 1) if endpoint is not None else ""
            parts.append(f"{path}={name}")
    inner = getattr(app, "app", None)
    if inner is not None and inner is not app:
        parts.append(app_fingerprint(inner, depth + 1))
    return "|".join(parts)


def distribution_identity(
    config: Any, app: Any = None, origins: Mapping[str, Any] | None = None
) -> str:
    """The namespace of a distribution in a shared cache: ``{distribution_id}-{12 hex}``,
    where the hex digits hash the configuration, the origin app and the middleware's
    ``origins=`` (a URL, or another app, for an origin id: two edges of one configuration in
    front of different servers must not serve each other's objects).

    ::

        distribution_identity(EdgeConfig())   # 'EDFDVBD6EXAMPLE-3f0c…'
    """
    digest = hashlib.sha256()
    digest.update(config_fingerprint(config).encode())
    digest.update(b"\0" + app_fingerprint(app).encode("utf-8", "surrogatepass"))
    for origin_id, target in sorted((origins or {}).items(), key=lambda item: str(item[0])):
        where = target if isinstance(target, str) else app_fingerprint(target)
        # (no origins, or none set: the same digest as before, so no namespace moves)
        digest.update(f"\0{origin_id}={where}".encode("utf-8", "surrogatepass"))
    name = str(getattr(config, "distribution_id", "") or "distribution")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]
    return f"{safe}-{digest.hexdigest()[:12]}"
