"""The README's examples work: its Python blocks (but sketches marked as such), run in order, form one program."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: The newcomer walk-through is a program of its own, in a project of its own (tests/test_walkthrough.py).
_WALKTHROUGH = re.compile(r"<!-- walk-through:.*?<!-- /walk-through -->", re.DOTALL)


def test_readme_python_blocks_run_as_one_program(tmp_path: Path) -> None:
    blocks = [
        block
        for block in _PYTHON_BLOCK.findall(_WALKTHROUGH.sub("", (REPO / "README.md").read_text(encoding="utf-8")))
        if not block.startswith("# (sketch")
    ]
    assert len(blocks) >= 3, "the README lost its examples"
    program = tmp_path / "readme_example.py"
    program.write_text("\n\n".join(blocks), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO / "generated_examples")}
    completed = subprocess.run(
        [sys.executable, str(program)], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["Pikachu 6 2", "POKEMON_LEVELED_UP Eevee 10"]
    assert (tmp_path / "pokedex.sqlite3").is_file(), "the example's events did not reach the SQLite file"
