"""The `kastor` command line: generate, check, validate, schema, sql.

Exit codes: 0 success, 1 `check` found stale output, 2 bad input (specs, arguments, configuration).
"""

import argparse
import gc
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, asyncapi_export, init_project, spec_diff, spec_docs, watch
from .command_support import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_STALE,
    UsageError,
    add_spec_arguments,
    plural,
    print_diagnostics,
    resolve,
    shown_path,
)
from .config import ConfigError
from .diagnostics import SpecError
from .formatting import FormattingError
from .pipeline import generate, load_packages
from .spec_model import spec_json_schema
from .template_files import runtime_string_constant
from .writer import ForeignFilesError, compare_package, write_package


def command() -> int:
    """The `kastor` command: `main` in a process of its own."""
    # What the imports made (the generator's libraries: a few hundred thousand objects) lives as long as
    # the process; frozen, it is left out of the garbage collector's passes, which generating a large spec
    # triggers again and again. Only here, where the process is ours: callers of `main` keep their own.
    gc.freeze()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        code: int = arguments.handler(arguments)
        return code
    except SpecError as error:
        print_diagnostics(error, "; nothing was written")
        return EXIT_BAD_INPUT
    except UsageError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic, file=sys.stderr)
        print(f"kastor: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ConfigError, ForeignFilesError) as error:
        print(f"kastor: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"kastor: cannot write the output: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FormattingError as error:
        print(f"kastor: internal error, please report it: {error}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    except KeyboardInterrupt:
        print("kastor: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kastor",
        description="Compiles YAML specs of event types, event stores and message channels into a typed "
        "Python package. With no SPEC, the specs and output of [tool.kastor] in pyproject.toml are used.",
    )
    parser.add_argument("--version", action="version", version=f"kastor {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def spec_command(name: str, help_text: str, *, output: bool) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        output_help = "directory that receives one folder per package; default: [tool.kastor] output"
        add_spec_arguments(command, output=output_help if output else None)
        return command

    generate_command = spec_command("generate", "Generate the packages of the specs into OUT.", output=True)
    watch.add_watch_argument(generate_command)
    generate_command.set_defaults(handler=_generate)
    spec_command(
        "check",
        "Exit 1 with a diff when the generated packages in OUT are stale, 0 when they are fresh.",
        output=True,
    ).set_defaults(handler=_check)
    spec_command("validate", "Check the specs and report every problem; writes nothing.", output=False).set_defaults(
        handler=_validate
    )
    schema = commands.add_parser(
        "schema",
        help="Print the JSON Schema of spec files (for editors).",
        description="Print the JSON Schema of spec files, for editors such as yaml-language-server.",
    )
    schema.set_defaults(handler=_schema)
    sql = commands.add_parser(
        "sql",
        help="Print the SQL that creates the event table of a storage adapter (for migration tools).",
        description="Print the SQL that creates the event table of a storage adapter, for your own migration "
        "tools, e.g. `kastor sql postgres --schema app | psql`. It is idempotent.",
    )
    sql.add_argument("database", choices=["postgres"], help="the adapter's database")
    sql.add_argument(
        "--schema", default="public", metavar="NAME", help="the table's schema (created if missing); default: public"
    )
    sql.set_defaults(handler=_sql)
    for module in (init_project, spec_docs, asyncapi_export, spec_diff):
        module.add_command(commands)
    return parser


def _generate(arguments: argparse.Namespace) -> int:
    if arguments.watch:
        # Each run goes through `main`, which reports its errors as a plain `generate` does; the watch goes on.
        return watch.watch(arguments, run_once=lambda: main(watch.single_run_argv(arguments)))
    sources, output = resolve(arguments, needs_output=True)
    assert output is not None
    packages = generate(sources)
    for package in packages:
        _refuse_foreign(output / package.name)
    for package in packages:
        changed = write_package(output / package.name, package.files)
        state = "written" if changed else "unchanged"
        print(f"{shown_path(output / package.name)}: {len(package.files)} files {state}")
    return EXIT_OK


def _refuse_foreign(directory: Path) -> None:
    # Checked for every package before any is written, so that a refusal writes nothing at all.
    compare_package(directory, {}, directory.name)


def _check(arguments: argparse.Namespace) -> int:
    sources, output = resolve(arguments, needs_output=True)
    assert output is not None
    stale = False
    for package in generate(sources):
        comparison = compare_package(output / package.name, package.files, shown_path(output / package.name))
        if comparison.fresh:
            print(f"{shown_path(output / package.name)}: up to date")
            continue
        stale = True
        sys.stdout.write(comparison.diff)
        print(f"{shown_path(output / package.name)}: stale, run `kastor generate`", file=sys.stderr)
    return EXIT_STALE if stale else EXIT_OK


def _validate(arguments: argparse.Namespace) -> int:
    sources, _ = resolve(arguments, needs_output=False)
    packages = load_packages(sources)
    names = ", ".join(package.model.name for package in packages)
    print(f"{plural(len(sources), 'spec file')} valid; {plural(len(packages), 'package')}: {names}")
    return EXIT_OK


def _schema(_: argparse.Namespace) -> int:
    print(json.dumps(spec_json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


def _sql(arguments: argparse.Namespace) -> int:
    # Read from the runtime's source, never imported: the generator does not depend on the runtime.
    module = "postgres_storage.py"
    schema: str = arguments.schema
    if re.fullmatch(runtime_string_constant(module, "SCHEMA_NAME_PATTERN"), schema) is None:
        raise UsageError(
            f"invalid schema name {schema!r}: use letters, digits and underscores, not starting with a digit, "
            "at most 63 characters"
        )
    sys.stdout.write(runtime_string_constant(module, "SCHEMA_SQL").format(schema=schema))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(command())
