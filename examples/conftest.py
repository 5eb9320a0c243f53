"""Lets each example's test import the example as its users run it: from its own folder.

The examples are run from their folder (``cd examples/flask_app && flask --app app run``), so
they import their own modules by short names (``app``, ``handlers``). Several examples share
those names, so ``import_example`` puts one folder first on ``sys.path``, forgets any module
of the same names imported before, and undoes both when the test module finishes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _local_names(folder: Path) -> set[str]:
    names = {p.stem for p in folder.glob("*.py") if not p.stem.startswith(("test_", "conftest"))}
    names |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    return names


def _forget(names: set[str]) -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in names:
            del sys.modules[name]


@pytest.fixture(scope="module")
def import_example() -> Iterator[Callable[[str, str], ModuleType]]:
    """``import_example("flask_app", "app")``: the module ``app`` of ``examples/flask_app``."""
    saved_path = list(sys.path)
    touched: set[str] = set()

    def load(folder: str, module: str) -> ModuleType:
        path = HERE / folder
        names = _local_names(path)
        touched.update(names)
        _forget(names)
        if str(path) in sys.path:
            sys.path.remove(str(path))
        sys.path.insert(0, str(path))
        return importlib.import_module(module)

    yield load
    _forget(touched)
    sys.path[:] = saved_path
