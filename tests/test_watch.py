"""`kastor generate --watch`: regenerates on every change of a spec (edited, added or removed under the
[tool.kastor] patterns), prints spec errors and goes on, and ends with exit code 130 on Ctrl-C (143 on
SIGTERM), also when the process started with SIGINT ignored, as a shell's background job does.

The loop is driven in-process by a `sleep` that edits the project between polls, and once as a real process
that receives SIGINT. No timing is asserted: waits are bounded by generous timeouts only.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator import watch
from generator.cli import main

from .support import REPO, run_cli, working_directory


def initialized_project(tmp_path: Path, name: str = "shop") -> Path:
    project = tmp_path / name
    project.mkdir()
    result = run_cli("init", cwd=project)
    assert result.code == 0, result.stderr
    return project


def add_event(spec: Path) -> None:
    # TASK_REOPENED, without payload, before TASK_COMPLETED: the last event of the starter spec.
    text = spec.read_text()
    spec.write_text(text.replace("      TASK_COMPLETED:\n", "      TASK_REOPENED: {}\n      TASK_COMPLETED:\n"))


def break_spec(spec: Path) -> None:
    # `payloads` is an unknown key (did you mean 'payload'?) of TASK_COMPLETED.
    text = spec.read_text()
    spec.write_text(text.replace("        description: The task is done.\n", "        payloads: {}\n"))


def fix_spec(spec: Path) -> None:
    text = spec.read_text()
    spec.write_text(text.replace("        payloads: {}\n", "        description: The task is done.\n"))


def watch_arguments(*specs: str, output: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(specs=list(specs), output=output, watch=True)


class ScriptedSleep:
    """A `sleep` for the watch loop that runs one step of a script per poll (capturing what was printed
    since the previous poll), and a `keep_watching` that stops at the poll after the last step."""

    def __init__(self, capsys: pytest.CaptureFixture[str], steps: list[Callable[[], None]]) -> None:
        self.capsys = capsys
        self.steps = steps
        self.outputs: list[str] = []
        self.done = False

    def __call__(self, interval: float) -> None:
        captured = self.capsys.readouterr()
        self.outputs.append(captured.out + captured.err)
        if self.steps:
            self.steps.pop(0)()
        else:
            self.done = True

    def keep_watching(self) -> bool:
        return not self.done


def test_watch_regenerates_on_every_change_and_survives_spec_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = initialized_project(tmp_path)
    spec = project / "specs" / "shop.yaml"
    other = project / "specs" / "other.yaml"
    runs: list[int] = []
    arguments = watch_arguments()

    def run_once() -> int:
        runs.append(code := main(watch.single_run_argv(arguments)))
        return code

    def add_other_spec() -> None:
        other.write_text(spec.read_text().replace("package: shop\n", "package: other\n"))

    steps: list[Callable[[], None]] = [
        lambda: add_event(spec),
        lambda: None,  # nothing changed: no run
        lambda: break_spec(spec),
        lambda: fix_spec(spec),
        add_other_spec,
        other.unlink,
    ]
    sleep = ScriptedSleep(capsys, steps)
    with working_directory(project):
        code = watch.watch(arguments, run_once, sleep=sleep, keep_watching=sleep.keep_watching)
    assert code == 0
    assert runs == [0, 0, 2, 0, 0, 0]
    initial, added_event, unchanged, broken, fixed, added_spec, removed_spec = sleep.outputs
    assert "src/shop: " in initial and "files written" in initial
    assert "watching 2 files for changes; Ctrl-C to stop" in initial
    assert "specs/shop.yaml changed; generating again" in added_event
    assert unchanged == ""
    assert "specs/shop.yaml:" in broken and "unknown key 'payloads'" in broken
    assert "1 problem found; nothing was written" in broken
    assert "specs/shop.yaml changed" in fixed and "src/shop: " in fixed
    assert "specs/other.yaml added" in added_spec and "src/other: " in added_spec
    assert "specs/other.yaml removed" in removed_spec
    assert "class TaskReopened(" in (project / "src" / "shop" / "events.py").read_text()


def test_watch_follows_the_specs_given_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = initialized_project(tmp_path)
    arguments = watch_arguments("specs/shop.yaml", output="out")
    sleep = ScriptedSleep(capsys, [lambda: add_event(project / "specs" / "shop.yaml")])
    with working_directory(project):
        code = watch.watch(
            arguments, lambda: main(watch.single_run_argv(arguments)), sleep=sleep, keep_watching=sleep.keep_watching
        )
    assert code == 0
    assert "watching 1 file for changes" in sleep.outputs[0]
    assert "class TaskReopened(" in (project / "out" / "shop" / "events.py").read_text()


def test_a_broken_configuration_is_reported_and_its_fix_noticed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = initialized_project(tmp_path)
    pyproject = project / "pyproject.toml"
    good = pyproject.read_text()
    arguments = watch_arguments()

    def break_configuration() -> None:
        pyproject.write_text(good + "[broken\n")

    def fix_configuration() -> None:
        pyproject.write_text(good)

    steps: list[Callable[[], None]] = [break_configuration, fix_configuration]
    sleep = ScriptedSleep(capsys, steps)
    with working_directory(project):
        code = watch.watch(
            arguments, lambda: main(watch.single_run_argv(arguments)), sleep=sleep, keep_watching=sleep.keep_watching
        )
    assert code == 0
    _, broken, fixed = sleep.outputs
    # Only the edit is news: the specs stay watched while their patterns cannot be read.
    assert "kastor: pyproject.toml changed; generating again" in broken
    assert "pyproject.toml: cannot read it" in broken
    assert "kastor: pyproject.toml changed; generating again" in fixed and "src/shop: " in fixed


def test_ctrl_c_ends_the_watch_with_exit_code_130(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = initialized_project(tmp_path)

    def interrupted(interval: float) -> None:
        raise KeyboardInterrupt

    with working_directory(project):
        code = watch.watch(watch_arguments(), lambda: 0, sleep=interrupted)
    assert code == 130
    assert "kastor: stopped watching" in capsys.readouterr().err


def test_ctrl_c_during_a_generation_ends_the_watch_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = initialized_project(tmp_path)
    runs: list[int] = []

    def interrupted_run() -> int:  # what `main` returns when Ctrl-C lands while it generates
        runs.append(1)
        return 130

    with working_directory(project):
        code = watch.watch(watch_arguments(), interrupted_run, sleep=lambda interval: None)
    assert (code, len(runs)) == (130, 1)
    assert capsys.readouterr().err.rstrip().endswith("kastor: stopped watching")


def test_the_watch_leaves_the_signal_handlers_as_it_found_them(tmp_path: Path) -> None:
    project = initialized_project(tmp_path)
    before = {number: signal.getsignal(number) for number in watch.STOP_SIGNALS}
    with working_directory(project):
        assert watch.watch(watch_arguments(), lambda: 0, keep_watching=iter([True, False]).__next__) == 0
    assert {number: signal.getsignal(number) for number in watch.STOP_SIGNALS} == before


def test_a_watch_with_nothing_to_watch_ends_at_once(tmp_path: Path) -> None:
    result = run_cli("generate", "--watch", cwd=tmp_path)
    assert result.code == 2
    assert "no spec given" in result.stderr


def test_the_single_run_keeps_specs_and_output() -> None:
    assert watch.single_run_argv(watch_arguments("-odd.yaml", output="out")) == [
        "generate",
        "-o",
        "out",
        "--",
        "-odd.yaml",
    ]
    assert watch.single_run_argv(watch_arguments()) == ["generate", "--"]


def test_generate_help_describes_watch() -> None:
    result = run_cli("generate", "--help")
    assert "--watch" in result.stdout


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the watch ended (exit {process.returncode}) while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


@contextlib.contextmanager
def running_watch(
    project: Path, *, ignore_sigint: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """`kastor generate --watch` in `project` as a process of its own, its stdout and stderr going to files;
    killed on the way out if it still runs. Afterwards, its stderr must hold no traceback and end with the
    watch's own last line.

    With `ignore_sigint`, it starts as a shell's background job does: with SIGINT ignored.
    """
    stdout, stderr = project / "watch.out", project / "watch.err"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "generator", "generate", "--watch"],
            cwd=project,
            stdout=out,
            stderr=err,
            env=environment,
            preexec_fn=ignore if ignore_sigint else None,
        )
    try:
        yield process, stdout, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
    assert "Traceback" not in stderr.read_text()
    assert stderr.read_text().rstrip().endswith("kastor: stopped watching")


def stop_watch(process: subprocess.Popen[bytes], signal_number: int) -> int:
    """Sends the signal; waits for the exit (bounded only to keep a lost signal from hanging the run)."""
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=60)
        pytest.fail(f"the watch did not end within 120 s of signal {signal_number}: the signal was lost")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_the_watch_as_a_real_process(tmp_path: Path) -> None:
    project = initialized_project(tmp_path)
    spec = project / "specs" / "shop.yaml"
    events = project / "src" / "shop" / "events.py"
    with running_watch(project) as (process, stdout, stderr):
        wait_for(lambda: "watching" in stderr.read_text(), "first generation", process)
        assert events.is_file()

        add_event(spec)
        wait_for(lambda: events.is_file() and "TaskReopened" in events.read_text(), "regeneration", process)

        break_spec(spec)
        wait_for(lambda: "unknown key 'payloads'" in stderr.read_text(), "spec error", process)
        assert process.poll() is None

        fix_spec(spec)
        wait_for(lambda: stderr.read_text().count("generating again") == 3, "regeneration after the fix", process)
        wait_for(lambda: stdout.read_text().count("src/shop: ") == 3, "the fixed spec's generation", process)

        assert stop_watch(process, signal.SIGINT) == 130


@pytest.mark.skipif(sys.platform == "win32", reason="signals to a child process are POSIX")
@pytest.mark.parametrize(
    ("ignore_sigint", "signal_number", "exit_code"),
    [
        pytest.param(True, signal.SIGINT, 130, id="SIGINT to a watch started with SIGINT ignored (a background job)"),
        pytest.param(False, signal.SIGTERM, 143, id="SIGTERM"),
    ],
)
def test_the_watch_stops_on_its_signals_whatever_it_inherited(
    tmp_path: Path, ignore_sigint: bool, signal_number: int, exit_code: int
) -> None:
    project = initialized_project(tmp_path)
    with running_watch(project, ignore_sigint=ignore_sigint) as (process, _, stderr):
        wait_for(lambda: "watching" in stderr.read_text(), "first generation", process)
        assert stop_watch(process, signal_number) == exit_code
