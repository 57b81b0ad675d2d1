"""`kastor diff OLD NEW`: breaking and safe changes between two versions of the specs."""

import argparse

from .command_support import Commands


def add_command(commands: Commands) -> None:
    """Registers `kastor diff` (being built)."""
    command = commands.add_parser("diff", help="(being built)")
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    raise NotImplementedError("kastor diff is being built")
