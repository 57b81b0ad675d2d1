"""`kastor diff OLD NEW`: breaking and safe changes between two versions of the specs.

Exit codes: 0 no breaking change, 1 at least one (so that CI can gate on it), 2 bad input (a side that
cannot be read or is not a valid spec). Warnings do not fail: see docs/diff.md for every rule.
"""

import argparse
import json
import tempfile
from pathlib import Path

from .command_support import EXIT_BAD_INPUT, EXIT_OK, EXIT_STALE, Commands, print_diagnostics
from .diagnostics import SpecError
from .pipeline import load_packages
from .spec_changes import Change, PackageView, diff_packages
from .spec_revisions import SpecSide, resolve_side
from .validation import SpecDocument, check_structure
from .yaml_source import load_yaml_file

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
        load_packages(side.sources)
    except SpecError as error:
        print_diagnostics(error, "", label=side.label)
        return None
    return _package_views(side)


def _package_views(side: SpecSide) -> dict[str, PackageView]:
    # Read again for the documents themselves: `load_packages` keeps only the generator's model, and a
    # second parse of valid specs is cheap next to duplicating its validation here.
    grouped: dict[str, list[SpecDocument]] = {}
    for source in side.sources:
        loaded, _ = load_yaml_file(source.path, source.display_path)
        assert loaded is not None, "validated above"
        document, _ = check_structure(loaded)
        assert document is not None, "validated above"
        grouped.setdefault(document.spec.package, []).append(document)
    return {name: PackageView.of(name, documents) for name, documents in grouped.items()}


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
