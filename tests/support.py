"""Helpers shared by the tests: the repository's places and an in-process CLI runner."""

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"
EXAMPLES = REPO / "generated_examples"
EXAMPLE_SPECS = sorted(SPECS.glob("*.yaml"))


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def working_directory(directory: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def run_cli(*arguments: str, cwd: Path = REPO) -> CliResult:
    """Runs `kastor ARGUMENTS` in this process, from `cwd`."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with working_directory(cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(arguments))
        except SystemExit as exit_:  # argparse exits for --help and usage errors
            code = int(exit_.code or 0)
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file below `directory` by relative path, bytes exactly, caches left out."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def run_mypy_strict(mypy_path: Path, packages: list[str], work_dir: Path) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` on generated `packages` found under `mypy_path`, with a configuration and cache of its
    own in `work_dir` (the environment's MYPY* variables left out)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {mypy_path}\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MYPY")}
    arguments = [argument for package in packages for argument in ("-p", package)]
    return subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(work_dir / "cache")),
            *("--strict", "--no-color-output", *arguments),
        ],
        cwd=work_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
