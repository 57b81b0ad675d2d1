"""The README's newcomer walk-through works verbatim: its shell blocks run in order in a new directory, its
`# app.py` block is that file, and the program prints what the README says it prints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .support import REPO

_SECTION = re.compile(r"<!-- walk-through:.*?-->(.*?)<!-- /walk-through -->", re.DOTALL)
_BLOCK = re.compile(r"^```(sh|python|text)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def walkthrough_blocks() -> list[tuple[str, str]]:
    (section,) = _SECTION.findall((REPO / "README.md").read_text(encoding="utf-8"))
    return [(language, body) for language, body in _BLOCK.findall(section)]


@pytest.mark.slow
def test_the_readme_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    blocks = walkthrough_blocks()
    assert [language for language, _ in blocks] == ["sh", "sh", "python", "sh", "text"]
    # The commands the reader types, with this environment's `kastor` and `python` first on the PATH.
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PYTHONPATH", None)
    script: list[str] = ["set -euo pipefail"]
    expected_output = ""
    for language, body in blocks:
        if language == "sh":
            script.append(body)
        elif language == "python":
            name, _, _ = body.partition("\n")
            assert name == "# app.py"
            script.append(f"cat > app.py <<'KASTOR_WALKTHROUGH_EOF'\n{body}KASTOR_WALKTHROUGH_EOF")
        else:
            expected_output = body
    completed = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.endswith(expected_output), completed.stdout
    project = tmp_path / "todo"
    assert (project / "src" / "todo" / "channels.py").is_file()
    assert (project / "tasks.sqlite3").is_file()
    # The reader's program type-checks against the generated package, as the README says it does.
    mypy = [sys.executable, "-m", "mypy", "--strict", "--config-file", os.devnull]
    checked = subprocess.run(
        [*mypy, "--cache-dir", str(tmp_path / "cache"), "app.py"],
        cwd=project,
        env={**environment, "MYPYPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
