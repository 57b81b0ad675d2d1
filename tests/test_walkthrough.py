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


#: Printed after each shell block, so that each block's output can be told apart.
_BLOCK_END = "@@kastor-walkthrough-block-end@@"


@pytest.mark.slow
def test_the_readme_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    """Every shell block runs in order; a `text` block is what the shell block before it prints at the end.

    The program is run twice, as a reader who tries again would: the second run must work too."""
    blocks = walkthrough_blocks()
    assert [language for language, _ in blocks] == ["sh", "sh", "python", "sh", "text", "sh", "text", "sh", "text"]
    # The commands the reader types, with this environment's `kastor`, `python` and `pip` first on the PATH.
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for variable in ("PYTHONPATH", "MYPYPATH"):
        environment.pop(variable, None)
    script: list[str] = ["set -euo pipefail"]
    expected_outputs: dict[int, str] = {}  # shell block number -> the end of what it prints
    shell_blocks = 0
    for language, body in blocks:
        if language == "sh":
            script.extend([body, f"echo {_BLOCK_END}"])
            shell_blocks += 1
        elif language == "python":
            name, _, _ = body.partition("\n")
            assert name == "# app.py"
            script.append(f"cat > app.py <<'KASTOR_WALKTHROUGH_EOF'\n{body}KASTOR_WALKTHROUGH_EOF")
        else:
            expected_outputs[shell_blocks - 1] = body
    completed = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    outputs = completed.stdout.split(f"{_BLOCK_END}\n")
    assert len(outputs) == shell_blocks + 1, completed.stdout
    for block, expected in expected_outputs.items():
        assert outputs[block].endswith(expected), f"shell block {block + 1} printed:\n{outputs[block]}"
    assert "Traceback" not in completed.stderr
    project = tmp_path / "todo"
    assert (project / "src" / "todo" / "channels.py").is_file()
    assert (project / "tasks.sqlite3").is_file()
