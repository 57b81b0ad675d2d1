"""`kastor init`: scaffolds a project."""

import argparse

from .command_support import Commands


def add_command(commands: Commands) -> None:
    """Registers `kastor init` (being built)."""
    command = commands.add_parser("init", help="(being built)")
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    raise NotImplementedError("kastor init is being built")
