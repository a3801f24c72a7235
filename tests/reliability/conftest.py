"""Reliability suites: their figures (kills, duplicates, unknowns, request counts) are printed in the terminal
summary of every run, with or without -s, and stored as junit properties by the tests themselves."""

from __future__ import annotations

from typing import Any

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
