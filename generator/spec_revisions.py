"""The specs one side of `kastor diff` names: spec files, a directory, or a git revision.

`git:REV` always names a revision; any other argument names a file or directory when one exists, else a
revision (so `kastor diff main .` works, and `git:main` reaches a revision shadowed by a directory `main`).
At a revision, the specs are those of [tool.kastor] specs in the project's pyproject.toml as it was at that
revision: they are read with `git show` into a temporary directory, never touching the work tree.
"""

import os
import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .command_support import UsageError, expand_patterns, shown_path, spec_source
from .config import find_project_root, load_config
from .pipeline import SpecSource

GIT_PREFIX = "git:"


@dataclass(frozen=True)
class SpecSide:
    """The specs of one side, and how to name that side in messages (`OLD (main)`)."""

    label: str
    sources: list[SpecSource]


def resolve_side(label: str, given: str, scratch: Path) -> SpecSide:
    """The specs `given` names; a revision's files are written below `scratch`, which the caller removes."""
    if given.startswith(GIT_PREFIX):
        problem = _no_repository()
        if problem is not None:
            raise UsageError(f"{label} '{given}' names a git revision, but {problem}")
        return SpecSide(f"{label} ({given})", revision_sources(given.removeprefix(GIT_PREFIX), scratch))
    path = Path(given)
    if path.is_dir():
        return SpecSide(f"{label} ({given})", directory_sources(path))
    if path.exists():
        return SpecSide(f"{label} ({given})", [spec_source(path, given)])
    problem = _no_repository()
    if problem is not None:
        # Said apart from an unknown revision: "not a revision" would send the user looking for a typo.
        raise UsageError(
            f"{label} '{given}' is neither a spec file nor a directory, and {problem}, so it cannot name a revision"
        )
    if _is_revision(given):
        return SpecSide(f"{label} ({given})", revision_sources(given, scratch))
    raise UsageError(f"{label} '{given}' is neither a spec file, a directory nor a git revision")


def directory_sources(directory: Path) -> list[SpecSource]:
    """The [tool.kastor] specs of a project directory, else the YAML files directly in the directory."""
    if find_project_root(directory.resolve()) == directory.resolve():
        config = load_config(directory.resolve())
        if config.specs:
            paths = expand_patterns(config.root, config.specs)
            return [spec_source(path, shown_path(path)) for path in paths]
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        raise UsageError(
            f"{directory} holds no spec: neither [tool.kastor] specs in its pyproject.toml nor *.yaml files"
        )
    return [spec_source(path, shown_path(path)) for path in paths]


def revision_sources(revision: str, scratch: Path) -> list[SpecSource]:
    """The [tool.kastor] specs at `revision` of the project around the working directory, copied to `scratch`."""
    top = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()).decode().strip())
    if not _is_revision(revision):
        raise UsageError(f"unknown git revision '{revision}'")
    project = find_project_root(Path.cwd()) or Path.cwd()
    prefix = Path(os.path.relpath(project.resolve(), top.resolve())).as_posix().removeprefix(".").strip("/")
    pyproject = posixpath.join(prefix, "pyproject.toml")
    copy = scratch / revision.replace("/", "_")
    _extract(top, revision, pyproject, copy)
    config = load_config((copy / pyproject).parent)
    if not config.specs:
        raise UsageError(f"{revision}:{pyproject} has no [tool.kastor] specs")
    tracked = _git("ls-tree", "-r", "-z", "--name-only", revision, "--", prefix or ".", cwd=top).decode()
    files = [name for name in tracked.split("\0") if name]
    sources: list[SpecSource] = []
    for pattern in config.specs:
        for path in _matching(files, posixpath.normpath(posixpath.join(prefix, pattern)), revision, pattern):
            if path in files:
                _extract(top, revision, path, copy)
            # A path missing at the revision stays missing in the copy: the loader reports it as not found.
            header = posixpath.relpath(path, prefix or ".")
            sources.append(SpecSource(copy / path, f"{revision}:{path}", header))
    return sources


def _matching(files: list[str], pattern: str, revision: str, given: str) -> list[str]:
    if not re.search(r"[*?\[]", pattern):
        return [pattern]  # a plain path, reported as "file not found" when the revision lacks it
    regex = _glob_regex(pattern)
    matches = sorted(name for name in files if regex.fullmatch(name))
    if not matches:
        raise UsageError(f"[tool.kastor] specs pattern '{given}' matches no file at {revision}")
    return matches


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`glob.glob`'s rules on a list of paths: `*` and `?` stay within a directory, `**/` spans any number."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:[^/]+/)*")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2 :]:
            end = pattern.index("]", index + 2)
            body = pattern[index + 1 : end]
            parts.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            index = end + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))


def _extract(top: Path, revision: str, path: str, copy: Path) -> None:
    content = _git("show", f"{revision}:{path}", cwd=top)
    target = copy / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _no_repository() -> str | None:
    """Why no revision can be read from the working directory (git missing, no repository around it), or None."""
    cwd = Path.cwd()
    try:
        completed = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        return "git is not installed"
    return None if completed.returncode == 0 else f"{cwd} is not inside a git repository"


def _is_revision(name: str) -> bool:
    if name.startswith("-"):
        return False  # never passed to git as an option
    try:
        _git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=Path.cwd())
    except UsageError:
        return False
    return True


def _git(*arguments: str, cwd: Path) -> bytes:
    try:
        completed = subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as error:
        raise UsageError("git is not installed, so revisions cannot be read") from error
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip() or f"git {arguments[0]} failed"
        raise UsageError(detail.splitlines()[0].removeprefix("fatal: "))
    return completed.stdout
