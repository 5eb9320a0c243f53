"""The code keeps the shape issue 11 asks for, measured here so `make test` fails when it drifts:

* every module under ``edge_middleware/`` has at most ``MAX_MODULE_LINES`` lines (physical lines,
  as ``wc -l`` counts them);
* every function and method in ``edge_middleware/pipeline/`` and ``edge_middleware/doors/``
  (nested ones included) has at most ``MAX_FUNCTION_LINES`` lines, from its ``def`` line to its
  last line (``end_lineno - lineno + 1``: decorators are not counted, its docstring is).

The third limit, cyclomatic complexity at most 15 in the same two directories, is ruff's mccabe
rule C901 (``[tool.ruff.lint.mccabe]`` and ``per-file-ignores`` in pyproject.toml).

The doors make no CloudFront answer and judge nothing: issue 11's grep for ``_error(`` and
``error_page(`` in ``edge_middleware/doors`` finds nothing
(:func:`test_doors_call_no_error_makers`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "edge_middleware"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
#: Where the function length limit applies (directories of ``edge_middleware/``).
FUNCTION_DIRS = ("pipeline", "doors")

#: Offenders that are someone else's to fix, by module path (relative to ``edge_middleware/``) or
#: ``path::qualified.name`` for a function. Each must still offend: once it is fixed the test
#: below fails until its entry is removed, so this list only ever shrinks.
KNOWN_OFFENDERS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _functions(
    node: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function in ``node`` with its qualified name (``Class.method``, ``outer.inner``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                yield name, child
            yield from _functions(child, name + ".")
        else:
            yield from _functions(child, prefix)


def module_sizes() -> dict[str, int]:
    """Lines per module, for every module of the package (each one parsed, so it is Python)."""
    sizes = {}
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        ast.parse(source, filename=str(path))
        sizes[_name(path)] = len(source.splitlines())
    return sizes


def measure(tree: ast.AST) -> dict[str, int]:
    """Lines per function of a parsed module, by qualified name (the longest, when a name is
    defined twice: a property's getter and setter, a conditional definition)."""
    sizes: dict[str, int] = {}
    for name, func in _functions(tree):
        size = (func.end_lineno or func.lineno) - func.lineno + 1
        sizes[name] = max(size, sizes.get(name, 0))
    return sizes


def function_sizes() -> dict[str, int]:
    """Lines per function in ``FUNCTION_DIRS``, keyed ``path::qualified.name``."""
    sizes = {}
    for path in _modules():
        if path.relative_to(PACKAGE).parts[0] not in FUNCTION_DIRS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, size in measure(tree).items():
            sizes[f"{_name(path)}::{name}"] = size
    return sizes


def _too_big(sizes: dict[str, int], limit: int) -> dict[str, int]:
    return {name: size for name, size in sizes.items() if size > limit}


def _check(what: str, sizes: dict[str, int], limit: int) -> None:
    """Fail, naming every offender not in ``KNOWN_OFFENDERS`` with its size, largest first."""
    offenders = {n: size for n, size in _too_big(sizes, limit).items() if n not in KNOWN_OFFENDERS}
    if offenders:
        lines = [f"{what} over {limit} lines:"]
        for name, size in sorted(offenders.items(), key=lambda item: -item[1]):
            lines.append(f"  {name}: {size} lines")
        pytest.fail("\n".join(lines))


def test_doors_call_no_error_makers() -> None:
    """Issue 11: every CloudFront answer and every judgement of a response is the pipeline's;
    the doors only perform effects, so no ``*_error(`` or ``error_page(`` appears in them (the
    issue's own grep, comments included)."""
    found = [
        f"{_name(path)}:{number}: {line.strip()}"
        for path in sorted((PACKAGE / "doors").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "_error(" in line or "error_page(" in line
    ]
    assert not found, "\n".join(found)


def test_modules_are_at_most_500_lines() -> None:
    _check("modules (split them along a seam)", module_sizes(), MAX_MODULE_LINES)


def test_functions_in_pipeline_and_doors_are_at_most_60_lines() -> None:
    _check("functions in pipeline/ and doors/", function_sizes(), MAX_FUNCTION_LINES)


def test_known_offenders_still_offend() -> None:
    """An entry that is fixed (or renamed, or gone) must leave the list."""
    sizes = {
        **_too_big(module_sizes(), MAX_MODULE_LINES),
        **_too_big(function_sizes(), MAX_FUNCTION_LINES),
    }
    stale = sorted(name for name in KNOWN_OFFENDERS if name not in sizes)
    if stale:
        pytest.fail(
            "KNOWN_OFFENDERS entries that are within the limits now (or gone): remove them:\n"
            + "\n".join(f"  {name}" for name in stale)
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("def f():\n    pass\n", {"f": 2}, id="function"),
        pytest.param(
            "@decorator\n@another\ndef f():\n    '''Doc.'''\n    return 1\n",
            {"f": 3},
            id="decorators-not-counted",
        ),
        pytest.param(
            "class C:\n    def m(self):\n        def inner():\n            pass\n"
            "        return 1\n",
            {"C.m": 4, "C.m.inner": 2},
            id="methods-and-nested",
        ),
        pytest.param("async def f():\n    await g()\n", {"f": 2}, id="async"),
        pytest.param(
            "class C:\n    @property\n    def p(self):\n        return 1\n"
            "    @p.setter\n    def p(self, v):\n        self.v = v\n        return None\n",
            {"C.p": 3},
            id="same-name-twice-the-longest",
        ),
    ],
)
def test_function_sizes_are_measured_from_def_to_last_line(
    source: str, expected: dict[str, int]
) -> None:
    assert measure(ast.parse(source)) == expected
