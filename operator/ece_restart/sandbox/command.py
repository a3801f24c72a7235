"""`ece-restart-operator sandbox`: placeholder until implemented."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare this subcommand's flags."""


def main(args: argparse.Namespace) -> int:
    raise SystemExit("not implemented yet")
