"""CI runs what a newcomer runs: the README's two quickstart commands as written (.ci/readme-command), in a
plain shell (.ci/plain-env) where none of this machine's Python or Kastor settings survive."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .support import REPO

CI = REPO / ".ci"


def readme_command(name: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(CI / "readme-command"), name], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def test_ci_runs_the_readme_quickstart_commands_exactly() -> None:
    quickstart = re.search(r"^## Quickstart\n(.*?)^## ", (REPO / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    assert quickstart is not None
    blocks = re.findall(r"^```sh\n(.*?)\n```$", quickstart.group(1), re.MULTILINE | re.DOTALL)
    assert [readme_command("main"), readme_command("tests")] == blocks
    assert readme_command("tests").endswith("&& pytest")  # the test command, with nothing that narrows it
    run = (CI / "run").read_text()
    assert '.ci/plain-env bash -c "set -euo pipefail; $main_command"' in run
    assert '.ci/plain-env KASTOR_REQUIRE_SERVICES=1 bash -c "set -euo pipefail; $tests_command"' in run


def plain_environment(environment: dict[str, str], *assignments: str) -> dict[str, str]:
    script = "import json, os; print(json.dumps(dict(os.environ)))"
    completed = subprocess.run(
        ["bash", str(CI / "plain-env"), *assignments, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    seen: dict[str, str] = json.loads(completed.stdout)
    return seen


def test_the_plain_shell_drops_what_changes_how_python_and_the_tests_behave(tmp_path: Path) -> None:
    machine = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(tmp_path),
        "MYPYPATH": str(tmp_path),
        "KASTOR_TEST_POSTGRES_URL": "postgresql://elsewhere/test",
        "VIRTUAL_ENV": str(tmp_path / "venv"),
        "PATH": f"{tmp_path / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        "HOME": str(tmp_path),
    }
    seen = plain_environment(machine, "KASTOR_REQUIRE_SERVICES=1")
    for dropped in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "MYPYPATH", "KASTOR_TEST_POSTGRES_URL", "VIRTUAL_ENV"):
        assert dropped not in seen
    assert str(tmp_path / "venv" / "bin") not in seen["PATH"].split(os.pathsep)
    # Kept: what every login has, how the machine reaches the registries, and what the caller sets on top.
    assert seen["HOME"] == str(tmp_path)
    assert seen["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert seen["KASTOR_REQUIRE_SERVICES"] == "1"
