"""CloudFront Functions from ``tests/fixtures/js/functions``, loaded once per test module
(starting a ``node`` worker costs ~50 ms) and closed by the module's fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_middleware.js import CloudFrontFunction

FUNCTIONS = Path(__file__).parent / "fixtures" / "js" / "functions"


class LoadedFunctions:
    """``functions("name.js", **options)`` -> the same CloudFrontFunction each time."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], CloudFrontFunction] = {}

    def __call__(self, name: str, **options: Any) -> CloudFrontFunction:
        key = (name, repr(sorted(options.items())))
        if key not in self._loaded:
            self._loaded[key] = CloudFrontFunction(FUNCTIONS / name, **options)
        return self._loaded[key]

    def close(self) -> None:
        for fn in self._loaded.values():
            fn.close()
        self._loaded.clear()
