"""Subcommands of the `ece-restart-operator` CLI that are not owned by the simulator or the sandbox."""
