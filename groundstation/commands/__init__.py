"""Subcommands of the ``groundstation`` CLI, one module per area."""
