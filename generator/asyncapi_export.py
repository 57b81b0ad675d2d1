"""`kastor export asyncapi`: an AsyncAPI 3.0 document of the specs."""

import argparse

from .command_support import Commands


def add_command(commands: Commands) -> None:
    """Registers `kastor export` (being built)."""
    command = commands.add_parser("export", help="(being built)")
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    raise NotImplementedError("kastor export is being built")
