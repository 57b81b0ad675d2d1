"""`kastor init [DIR]`: scaffolds a project: a starter spec with its editor schema, the [tool.kastor] section of
pyproject.toml, a .gitattributes line and a pre-commit hook running `kastor check`.

Every check comes before any write, so that a refusal leaves the directory exactly as it was.
"""

import argparse
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import naming
from .command_support import EXIT_OK, Commands, UsageError
from .spec_model import spec_json_schema
from .validation import MAX_PACKAGE_NAME

SPECS_DIRECTORY = "specs"
OUTPUT_DIRECTORY = "src"
#: Beside the spec, so that the `$schema` comment works offline, in any editor, without knowing where kastor is
#: installed; `kastor schema > specs/kastor.schema.json` refreshes it after an upgrade.
SCHEMA_FILE = "kastor.schema.json"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOK_ID = "kastor-check"
_HOOK_BY_HAND = "add the kastor check hook by hand (docs/project-setup.md); nothing was written"

STARTER_SPEC = """\
# yaml-language-server: $schema={schema_file}
# The starter spec written by `kastor init`: a to-do list. Tasks are created, then completed; every event
# is forwarded to a bus. Edit it (the format: `kastor schema`, or the README's "The spec format"), then run
# `kastor generate`.
kastor: 1
package: {package}
description: Tasks that are created, then completed.

definitions:
  Priority: {{type: string, enum: [low, normal, high]}}

event_stores:
  tasks:
    description: Every task, from its creation.
    aggregate:
      name: Task                    # aggregate_id and version are implicit fields
      schema:
        type: object
        properties:
          title: {{type: string}}
          priority: {{$ref: "#/definitions/Priority"}}
          done: {{type: boolean}}
        required: [title, priority, done]
    events:
      TASK_CREATED:
        initial: true               # creates the aggregate: only valid at version 1
        description: A task is created, not done yet.
        payload:
          type: object
          properties:
            title: {{type: string, minLength: 1}}
            priority: {{$ref: "#/definitions/Priority"}}
          required: [title, priority]
      TASK_COMPLETED:
        description: The task is done.

channels:
  task_events:
    kind: bus                       # bus | queue
    message: notification           # notification | state-carrying | aggregate-exists
    sources: [tasks]

connections:                        # connected event stores: store -> channel it forwards to
  - {{store: tasks, channel: task_events}}
"""

#: What the starter spec declares, for the next steps printed after init.
STARTER_REDUCER = "TasksReducer"
STARTER_HOOKS = ("on_task_created", "on_task_completed")


def add_command(commands: Commands) -> None:
    """Registers `kastor init`."""
    description = (
        "Scaffold a kastor project in DIR: a starter spec (specs/PACKAGE.yaml) and its editor schema, the "
        "[tool.kastor] section of pyproject.toml (created if missing), a .gitattributes line marking the "
        "generated package as generated, and a pre-commit hook running `kastor check`. Existing files are "
        "never overwritten: init refuses (exit 2) before writing anything."
    )
    command = commands.add_parser("init", help="Scaffold a kastor project in DIR.", description=description)
    command.add_argument("directory", nargs="?", default=".", metavar="DIR", help="default: the current directory")
    command.add_argument(
        "--package",
        metavar="NAME",
        help="the generated package's name, lower_snake; default: derived from DIR's name",
    )
    command.set_defaults(handler=run)


@dataclass(frozen=True)
class PlannedWrite:
    """One file init writes, with its whole new text and what the write does (created, appended to)."""

    relative_path: str
    text: str
    action: str


def run(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    package = arguments.package if arguments.package is not None else package_from_directory(root)
    check_package_name(package)
    writes, unchanged = plan(root, package)
    for write in writes:
        _write(root / write.relative_path, write.text)
    for write in writes:
        print(f"{_shown(root, write.relative_path)}: {write.action}")
    for relative_path in unchanged:
        print(f"{_shown(root, relative_path)}: unchanged (already set up)")
    print_next_steps(root, package)
    return EXIT_OK


def package_from_directory(root: Path) -> str:
    """DIR's name made lower_snake: `My-Project` gives `my_project`."""
    name = root.resolve().name
    candidate = "_".join(part for part in re.split(r"[^a-z0-9]+", name.lower()) if part)
    if not naming.LOWER_SNAKE.match(candidate):
        raise UsageError(
            f"cannot derive a package name from the directory name {name!r} "
            "(it must start with a letter): pass --package NAME"
        )
    return candidate


def check_package_name(package: str) -> None:
    """The generator's rules for package names, and no shadowing of a module the generated code imports."""
    hint = "; choose another with --package NAME"
    if not naming.LOWER_SNAKE.match(package):
        raise UsageError(
            f"package name {package!r} is not a lower_snake Python identifier "
            f"(lowercase letters, digits, single underscores, starting with a letter){hint}"
        )
    if naming.shadows_python(package):
        raise UsageError(f"package name {package!r} is a Python keyword or builtin{hint}")
    shadowed = naming.shadowed_module(package)
    if shadowed is not None:
        raise UsageError(f"package name {package!r} would shadow {shadowed}{hint}")
    if len(package) > MAX_PACKAGE_NAME:
        raise UsageError(f"package name is too long: at most {MAX_PACKAGE_NAME} characters{hint}")


def plan(root: Path, package: str) -> tuple[list[PlannedWrite], list[str]]:
    """Every write init will make, and the files already set up; raises UsageError on the first refusal."""
    spec_path = f"{SPECS_DIRECTORY}/{package}.yaml"
    schema_path = f"{SPECS_DIRECTORY}/{SCHEMA_FILE}"
    new_files = {
        spec_path: STARTER_SPEC.format(schema_file=SCHEMA_FILE, package=package),
        schema_path: json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n",
    }
    writes: list[PlannedWrite] = []
    for relative_path, text in new_files.items():
        if (root / relative_path).exists():
            raise UsageError(
                f"{_shown(root, relative_path)} already exists: init never overwrites a file; nothing was written"
            )
        writes.append(PlannedWrite(relative_path, text, "created"))
    unchanged: list[str] = []
    for planned in (
        plan_pyproject(root, package),
        plan_gitattributes(root, package),
        plan_pre_commit(root),
    ):
        if isinstance(planned, PlannedWrite):
            writes.append(planned)
        else:
            unchanged.append(planned)
    return writes, unchanged


def kastor_section() -> str:
    return (
        "[tool.kastor]\n"
        f'specs = ["{SPECS_DIRECTORY}/*.yaml"]  # paths or glob patterns, relative to this file\n'
        f'output = "{OUTPUT_DIRECTORY}"  # kastor generate writes {OUTPUT_DIRECTORY}/<package>/\n'
    )


def plan_pyproject(root: Path, package: str) -> PlannedWrite:
    """A new pyproject.toml, or the [tool.kastor] section appended to the existing one, untouched otherwise."""
    relative_path = "pyproject.toml"
    existing = _read(root, relative_path)
    if existing is None:
        # The generated package needs only pydantic at run time; setuptools finds it in src/ by itself.
        project = (
            "[project]\n"
            f'name = "{package}"\n'
            'version = "0.1.0"\n'
            'requires-python = ">=3.11"\n'
            'dependencies = ["pydantic>=2.11,<3"]\n'
        )
        return PlannedWrite(
            relative_path, project + "\n" + kastor_section(), "created with [project] and [tool.kastor]"
        )
    shown = _shown(root, relative_path)
    before = _parse_toml(existing, shown)
    tool = before.get("tool")
    if isinstance(tool, dict) and "kastor" in tool:
        raise UsageError(f"{shown} already has a [tool.kastor] section; nothing was written")
    text = _appended_section(existing, kastor_section())
    # Appending a table is valid TOML unless the file already closed `tool` (e.g. `tool = {...}`): parsing the
    # result proves that the rest of the document reads the same.
    try:
        after: dict[str, Any] | None = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        after = None
    expected_tool = {
        **(tool if isinstance(tool, dict) else {}),
        "kastor": {"specs": [f"{SPECS_DIRECTORY}/*.yaml"], "output": OUTPUT_DIRECTORY},
    }
    if after != {**before, "tool": expected_tool}:
        raise UsageError(
            f"{shown}: cannot append [tool.kastor] safely (is `tool` an inline table?); "
            "add the section by hand (docs/project-setup.md); nothing was written"
        )
    return PlannedWrite(relative_path, text, "[tool.kastor] appended")


def gitattributes_line(package: str) -> str:
    # The package's directory, not all of src/: the code you write beside it must stay visible in reviews.
    return f"{OUTPUT_DIRECTORY}/{package}/** linguist-generated=true"


def plan_gitattributes(root: Path, package: str) -> PlannedWrite | str:
    relative_path = ".gitattributes"
    line = gitattributes_line(package)
    existing = _read(root, relative_path)
    if existing is None:
        return PlannedWrite(relative_path, line + "\n", "created")
    if line in (candidate.strip() for candidate in existing.splitlines()):
        return relative_path
    return PlannedWrite(relative_path, _appended(existing, line + "\n"), "line appended")


def pre_commit_hook(indent: str) -> str:
    """The `repo: local` entry of `repos:`, each line indented by `indent`."""
    lines = [
        "- repo: local",
        "  hooks:",
        f"    - id: {HOOK_ID}",
        "      name: kastor check (generated code is fresh)",
        "      entry: kastor check",
        "      language: system",
        "      pass_filenames: false",
    ]
    return "".join(f"{indent}{line}\n" for line in lines)


def plan_pre_commit(root: Path) -> PlannedWrite | str:
    """A new .pre-commit-config.yaml, or the hook added at the end of the existing `repos:` list, the rest of
    the file (comments included) untouched; refused when the result would not read as exactly that."""
    relative_path = PRE_COMMIT_CONFIG
    existing = _read(root, relative_path)
    if existing is None:
        return PlannedWrite(relative_path, "repos:\n" + pre_commit_hook("  "), "created")
    shown = _shown(root, relative_path)
    before = _parse_yaml(existing, shown)
    if not isinstance(before, dict) or not isinstance(before.get("repos"), list | None):
        raise UsageError(f"{shown}: expected a mapping with a `repos:` list; {_HOOK_BY_HAND}")
    if any(_is_kastor_hook(hook) for repo in before.get("repos") or [] for hook in _hooks(repo)):
        return relative_path
    text = _insert_into_repos(existing, shown)
    expected = {**before, "repos": [*(before.get("repos") or []), yaml.safe_load(pre_commit_hook(""))[0]]}
    if _parse_yaml(text, shown) != expected:
        raise UsageError(f"{shown}: cannot add the hook to `repos:` safely; {_HOOK_BY_HAND}")
    return PlannedWrite(relative_path, text, "kastor check hook added to repos")


def _insert_into_repos(existing: str, shown: str) -> str:
    """The hook's lines inserted after the last item of the block-style top-level `repos:` list."""
    newline = "\r\n" if "\r\n" in existing else "\n"
    lines = existing.splitlines()
    start = next((index for index, line in enumerate(lines) if re.fullmatch(r"repos:\s*(#.*)?", line)), None)
    if start is None:
        raise UsageError(f"{shown}: no block-style top-level `repos:` list; {_HOOK_BY_HAND}")
    # The list ends where the next top-level key starts (its items may stand at column 0 too); comments and blank
    # lines after its last item stay after the hook, since they may introduce what follows.
    end = next((index for index in range(start + 1, len(lines)) if re.match(r"[^\s#-]", lines[index])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    indent = next((match.group(1) for line in lines[start + 1 : end] if (match := re.match(r"(\s*)- ", line))), "  ")
    hook = pre_commit_hook(indent).splitlines()
    result = [*lines[:end], *hook, *lines[end:]]
    return newline.join(result) + newline


def _hooks(repo: object) -> list[object]:
    hooks = repo.get("hooks") if isinstance(repo, dict) else None
    return hooks if isinstance(hooks, list) else []


def _is_kastor_hook(hook: object) -> bool:
    return isinstance(hook, dict) and (hook.get("id") == HOOK_ID or hook.get("entry") == "kastor check")


def print_next_steps(root: Path, package: str) -> None:
    cd = "" if root.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(root))} && "
    hooks = " and ".join(STARTER_HOOKS)
    print()
    print("Next:")
    print(f"  {cd}kastor generate        writes the package {package} into {OUTPUT_DIRECTORY}/{package}/")
    print(
        f"  then write the reducer outside {OUTPUT_DIRECTORY}/{package}/ (kastor owns that directory), e.g. in "
        f"{OUTPUT_DIRECTORY}/{package}_app/reducers.py: a subclass of {package}.{STARTER_REDUCER} with {hooks}"
    )
    print("  pre-commit install       runs `kastor check` before every commit (needs pre-commit)")


def _read(root: Path, relative_path: str) -> str | None:
    path = root / relative_path
    if not path.exists():
        return None
    try:
        # newline="" keeps \r\n as it is, so that what is appended can follow the file's line endings.
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{_shown(root, relative_path)}: cannot read it: {error}; nothing was written") from error


def _appended(existing: str, addition: str) -> str:
    """`addition` after `existing`, on a line of its own, with the file's line endings."""
    newline = "\r\n" if "\r\n" in existing else "\n"
    separator = "" if not existing or existing.endswith("\n") else newline
    return existing + separator + addition.replace("\n", newline)


def _appended_section(existing: str, section: str) -> str:
    """`section` after `existing` with exactly one blank line between them, with the file's line endings."""
    newline = "\r\n" if "\r\n" in existing else "\n"
    # Only the blank lines at the very end go (in valid TOML they are outside any string); the rest stays as it is.
    content = re.sub(r"(?:\r?\n[ \t]*)+\Z", "", existing)
    if not content.strip():  # blank lines only: nothing to keep apart from the section
        return section.replace("\n", newline)
    return content + newline * 2 + section.replace("\n", newline)


def _parse_toml(text: str, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{shown}: not valid TOML ({error}); nothing was written") from error


def _parse_yaml(text: str, shown: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = " ".join(str(error).split())
        raise UsageError(f"{shown}: not valid YAML ({problem}); nothing was written") from error


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(text)


def _shown(root: Path, relative_path: str) -> str:
    return (root / relative_path).as_posix() if root != Path(".") else relative_path
