"""The spec fuzz harness's worker: runs `kastor` commands on fuzzed specs in its own process, one after another,
each through the CLI's entry function (no process per call), and writes what each did.

    python -m tests.spec_fuzz_worker JOBS RESULTS

JOBS is a JSON list of `{"case": int, "argv": [...], "cwd": str, "out": str | null}`. RESULTS receives one JSON
line per job as it ends: its exit code (null when `main` raised, the traceback then in `stderr`), its output,
its duration, whether it wrote `out` (then removed, once its modules compiled: `compile_errors`).

A call that runs longer than `HANG_SECONDS` makes faulthandler print every thread's stack and end the worker:
the job after the last result line is the one that hung, and the harness fails on it instead of waiting.
"""

import contextlib
import faulthandler
import io
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from generator.cli import main

HANG_SECONDS = 10


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | None
    previous = Path.cwd()
    os.chdir(job["cwd"])
    started = time.perf_counter()
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(job["argv"])
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
            except BaseException:  # reported as the traceback a user would see
                code = None
                traceback.print_exc()
    finally:
        faulthandler.cancel_dump_traceback_later()
        seconds = time.perf_counter() - started
        os.chdir(previous)
    result: dict[str, Any] = {
        "case": job["case"],
        "argv": job["argv"],
        "code": code,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "seconds": seconds,
        "wrote": False,
        "compile_errors": [],
    }
    out = Path(job["cwd"], job["out"]) if job.get("out") else None
    if out is not None and out.exists():
        result["wrote"] = True
        result["compile_errors"] = compile_errors(out)
        shutil.rmtree(out)
    return result


def compile_errors(out: Path) -> list[str]:
    """The generated modules (the runtime, copied as it is, left out) that do not compile."""
    errors = []
    for module in sorted(out.rglob("*.py")):
        if "runtime" in module.relative_to(out).parts[1:2]:
            continue
        try:
            compile(module.read_text(encoding="utf-8"), str(module), "exec")
        except SyntaxError as error:
            errors.append(f"{module}: {error}")
    return errors


def run(jobs_path: Path, results_path: Path) -> None:
    jobs = json.loads(jobs_path.read_text(encoding="utf-8"))
    with results_path.open("w", encoding="utf-8") as results:
        for job in jobs:
            results.write(json.dumps(run_job(job)) + "\n")
            results.flush()


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
