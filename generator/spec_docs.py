"""`kastor docs`: Markdown documentation of the specs."""

import argparse

from .command_support import Commands


def add_command(commands: Commands) -> None:
    """Registers `kastor docs` (being built)."""
    command = commands.add_parser("docs", help="(being built)")
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    raise NotImplementedError("kastor docs is being built")
