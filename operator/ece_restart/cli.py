"""The `ece-restart-operator` command line: one console script, one subcommand per job.

Each subcommand lives in the module that owns the job; that module exposes `add_arguments(parser)` and
`main(args) -> int`. This file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from ece_restart import __version__


class Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


# name -> (module implementing it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ece_restart.commands.run", "run the controller against the current kubeconfig or in-cluster config"),
    "demo": ("ece_restart.commands.demo", "run everything locally (sandbox, simulator, operator) on examples/"),
    "simulator": ("ece_restart.simulator.command", "serve the ECE API simulator on loopback"),
    "sandbox": ("ece_restart.sandbox.command", "serve the local Kubernetes API sandbox with the ResourceRestart CRD"),
    "restart": ("ece_restart.commands.restart", "restart one deployment resource now, with the operator's client"),
    "status": ("ece_restart.commands.status", "list ResourceRestarts and their status as a table"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the selected subcommand's module is imported (kopf and the servers are slow to import).

    With no selection every subcommand is configured, e.g. for documentation."""
    parser = argparse.ArgumentParser(
        prog="ece-restart-operator",
        description="Restart Elastic Cloud Enterprise / Elastic Cloud deployment resources from Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if selected is None or name == selected:
            command = cast(Command, importlib.import_module(module_name))
            command.add_arguments(subparser)
            subparser.set_defaults(handler=command.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(arguments)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
