"""`kastor diff OLD NEW`: breaking and safe changes between two versions of the specs.

Exit codes: 0 no breaking change, 1 at least one (so that CI can gate on it), 2 bad input (a side that
cannot be read or is not a valid spec). Warnings do not fail: see docs/diff.md for every rule.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .command_support import EXIT_BAD_INPUT, EXIT_OK, EXIT_STALE, Commands, print_diagnostics
from .diagnostics import SpecError
from .pipeline import load_packages

if TYPE_CHECKING:
    from .spec_changes import Change, PackageView
    from .spec_revisions import SpecSide

#: The exit code when a breaking change is found: the same "something to act on" code as a stale `check`.
EXIT_BREAKING = EXIT_STALE

_SIDE_HELP = (
    "spec file, directory (its [tool.kastor] specs, else its *.yaml files) or git revision "
    "(the [tool.kastor] specs at that revision; write git:REV when a file or directory has the same name)"
)


def add_command(commands: Commands) -> None:
    """Registers `kastor diff`."""
    description = (
        "List the breaking and safe changes from OLD to NEW specs. Exit 1 when a change is breaking (stored "
        "events or consumers would break), 0 otherwise, 2 on bad input. Example: kastor diff main ."
    )
    command = commands.add_parser(
        "diff", help="List breaking and safe changes between two versions of the specs.", description=description
    )
    command.add_argument("old", metavar="OLD", help=_SIDE_HELP)
    command.add_argument("new", metavar="NEW", help=_SIDE_HELP)
    command.add_argument("--json", action="store_true", help="print the changes as one JSON document")
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    # Imported here: every `kastor` command registers `diff`, only this one needs its schema comparisons.
    from .spec_changes import diff_packages
    from .spec_revisions import resolve_side

    with tempfile.TemporaryDirectory(prefix="kastor-diff-") as scratch:
        old_side = resolve_side("OLD", arguments.old, Path(scratch) / "old")
        new_side = resolve_side("NEW", arguments.new, Path(scratch) / "new")
        # Both sides are validated before either stops the command: every problem is shown at once.
        old = _load_side(old_side)
        new = _load_side(new_side)
    if old is None or new is None:
        return EXIT_BAD_INPUT
    changes = diff_packages(old, new)
    print(_json_report(changes) if arguments.json else _text_report(changes), end="")
    return EXIT_BREAKING if any(change.severity == "breaking" for change in changes) else EXIT_OK


def _load_side(side: SpecSide) -> dict[str, PackageView] | None:
    """The packages of one side, or None after printing its problems."""
    try:
        packages = load_packages(side.sources)
    except SpecError as error:
        print_diagnostics(error, "", label=side.label)
        return None
    from .spec_changes import PackageView

    return {package.model.name: PackageView.of(package.model.name, package.documents) for package in packages}


def _text_report(changes: list[Change]) -> str:
    lines = [_line(change) for change in changes]
    lines.append(f"kastor: {_summary(changes)}")
    return "".join(f"{line}\n" for line in lines)


def _line(change: Change) -> str:
    where = ""
    if change.position is not None:
        where = f" ({change.position})" if change.on_new_side else f" (was at {change.position})"
    line = f"{change.severity}: {change.subject}: {change.message}{where}"
    # One line whatever names hold: unprintable characters (line breaks above all) are escaped.
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in line)


def _summary(changes: list[Change]) -> str:
    if not changes:
        return "no changes"
    breaking = sum(change.severity == "breaking" for change in changes)
    warnings = sum(change.severity == "warning" for change in changes)
    safe = sum(change.severity == "safe" for change in changes)
    parts = [f"{breaking} breaking change{'' if breaking == 1 else 's'}"]
    if warnings:
        parts.append(f"{warnings} warning{'' if warnings == 1 else 's'}")
    parts.append(f"{safe} safe")
    return ", ".join(parts)


def _json_report(changes: list[Change]) -> str:
    document = {
        "breaking": sum(change.severity == "breaking" for change in changes),
        "warnings": sum(change.severity == "warning" for change in changes),
        "safe": sum(change.severity == "safe" for change in changes),
        "changes": [
            {
                "severity": change.severity,
                "subject": change.subject,
                "message": change.message,
                "position": None if change.position is None else str(change.position),
                "side": "new" if change.on_new_side else "old",
            }
            for change in changes
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
