"""`kastor generate --watch`: generates, then generates again whenever a spec or the [tool.kastor] configuration
changes, until Ctrl-C.

Changes are found by polling (no dependency, works on every file system and editor): every `POLL_INTERVAL`
seconds the watched files are listed again, so that specs added or removed under a [tool.kastor] glob
pattern are noticed, and their contents compared, so that an mtime's coarse resolution cannot hide an edit.
"""

import argparse
import contextlib
import glob
import hashlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

from .command_support import EXIT_OK, plural, resolve, shown_path
from .config import ConfigError, find_project_root, load_config

POLL_INTERVAL = 0.5
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: The signals that end the watch: Ctrl-C, and what `kill` and process managers send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: What each watched file holds: a digest of its bytes, or None when it cannot be read (e.g. removed).
Snapshot = dict[Path, str | None]


def add_watch_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--watch",
        action="store_true",
        help="keep running: generate again whenever a spec (or [tool.kastor]) changes, including specs added or "
        "removed under its patterns; spec errors are printed and the watch goes on; Ctrl-C ends it (exit 130), "
        "and so does SIGTERM (exit 143)",
    )


def single_run_argv(arguments: argparse.Namespace) -> list[str]:
    """The `kastor generate` command line of one run of the watch: the same specs and output, without --watch."""
    output = ["-o", arguments.output] if arguments.output is not None else []
    return ["generate", *output, "--", *arguments.specs]


def watch(
    arguments: argparse.Namespace,
    run_once: Callable[[], int],
    *,
    interval: float = POLL_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
    keep_watching: Callable[[], bool] = lambda: True,
) -> int:
    """Runs `run_once` (one `kastor generate` reporting its own errors) now and after every change, until
    Ctrl-C (exit 130) or SIGTERM (143), also during a run, or until `keep_watching` says no (exit 0; for tests,
    with a `sleep` that edits files).

    Specs or an output that cannot be found at the start end the watch at once (UsageError or ConfigError,
    exit 2): there would be nothing to watch. Later, every problem is printed by `run_once` and the watch goes on.
    """
    resolve(arguments, needs_output=True)
    previous: Snapshot | None = None
    with _stopped_by_signals() as received:
        try:
            while keep_watching():
                # Taken before the run: an edit made while generating differs from it and triggers the next run.
                current = snapshot(watched_files(arguments, known=list(previous or ())))
                if current != previous:
                    if previous is not None:
                        _say(f"{describe_changes(previous, current)}; generating again")
                    code = run_once()
                    sys.stdout.flush()  # when stdout is a pipe or a file, a watcher must see each run at once
                    if code == EXIT_INTERRUPTED:  # Ctrl-C during a run, which reported it and wrote nothing half
                        raise KeyboardInterrupt
                    if previous is None:
                        _say(f"watching {plural(len(current), 'file')} for changes; Ctrl-C to stop")
                    previous = current
                sleep(interval)
        except KeyboardInterrupt:
            _say("stopped watching")
            return 128 + received[0] if received else EXIT_INTERRUPTED
    return EXIT_OK


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[list[int]]:
    """While the watch runs, SIGINT and SIGTERM raise KeyboardInterrupt; yields the list that records which
    signal came, for the exit code (128 + its number).

    Installed explicitly because the inherited dispositions cannot be trusted: a shell starts a background
    job with SIGINT ignored, and Python then installs no handler of its own, so Ctrl-C (or `kill -INT`) would
    be lost and the watch would never end. Only the main thread may set handlers; elsewhere (a caller's
    thread) the process's own handling is left as it is.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def stop(signal_number: int, frame: FrameType | None) -> None:
        received[:] = [signal_number]
        raise KeyboardInterrupt

    previous = {signal_number: signal.signal(signal_number, stop) for signal_number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for signal_number, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back from here; the default is closest.
            signal.signal(signal_number, signal.SIG_DFL if handler is None else handler)


def watched_files(arguments: argparse.Namespace, *, known: list[Path]) -> list[Path]:
    """The specs given on the command line; else pyproject.toml and what its [tool.kastor] patterns match now
    (the `known` files while the configuration cannot be read: its patterns are unknown then)."""
    if arguments.specs:
        return [Path(given) for given in arguments.specs]
    try:
        root = find_project_root(Path.cwd())
        if root is None:
            return []
        config = load_config(root)
    except ConfigError:
        # The run reports it; pyproject.toml is among the known files, so that its fix is noticed.
        return known
    matches = (glob.glob(pattern, root_dir=root, recursive=True) for pattern in config.specs)
    return [root / "pyproject.toml", *sorted({root / match for found in matches for match in found})]


def snapshot(paths: Iterable[Path]) -> Snapshot:
    return {path: _digest(path) for path in paths}


def describe_changes(previous: Snapshot, current: Snapshot) -> str:
    """`specs/a.yaml changed, specs/b.yaml added`: what differs between two snapshots, at most 3 files named."""
    changes = [
        f"{shown_path(path)} changed" for path in current if path in previous and current[path] != previous[path]
    ]
    changes += [f"{shown_path(path)} added" for path in current if path not in previous]
    changes += [f"{shown_path(path)} removed" for path in previous if path not in current]
    shown = ", ".join(changes[:3])
    return shown + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _say(message: str) -> None:
    print(f"kastor: {message}", file=sys.stderr, flush=True)
