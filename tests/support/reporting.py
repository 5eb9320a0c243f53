"""Figures lines for the terminal: what the load, fault and property tests measured."""

from __future__ import annotations

import pytest

__all__ = ["report"]


def report(config: pytest.Config, line: str) -> None:
    """Print a figures line on the terminal, past pytest's output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(line)
