"""A 200-event spec: the output type-checks under mypy --strict, imports, and grows by a few lines per event.

Run with `-s` to see the measured figures.
"""

import contextlib
import difflib
import importlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks.specs import AGGREGATES, STORES, build_spec, event_type, store_of, write_spec
from generator.cli import main

from .support import read_tree

pytestmark = pytest.mark.slow

PACKAGE = "kastor_scale_pkg"
EVENT_COUNT = 200
STORE_COUNT = 2
#: An event type adds its class, reducer hook, exports, payload model and its schema (schemas.py): about 50 lines.
MAX_CHANGED_LINES = 55


@dataclass(frozen=True)
class ScaleOutput:
    base: Path  # the package generated from EVENT_COUNT event types
    grown: Path  # the package generated from EVENT_COUNT + 1 event types


def generate(spec: Path, output: Path) -> Path:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["generate", str(spec), "-o", str(output)]) == 0
    return output / PACKAGE


@pytest.fixture(scope="module")
def scale_output(tmp_path_factory: pytest.TempPathFactory) -> ScaleOutput:
    root = tmp_path_factory.mktemp("scale")
    # One spec path for both runs, so that the generated headers (which name the spec) are equal.
    spec = root / "spec" / f"{PACKAGE}.yaml"
    started = time.perf_counter()
    base = generate(write_spec(spec, PACKAGE, EVENT_COUNT, store_count=STORE_COUNT), root / "base")
    print(f"\ngenerated {EVENT_COUNT} event types in {time.perf_counter() - started:.2f}s")
    grown = generate(write_spec(spec, PACKAGE, EVENT_COUNT + 1, store_count=STORE_COUNT), root / "grown")
    return ScaleOutput(base, grown)


def test_mypy_strict_accepts_the_generated_package(
    scale_output: ScaleOutput, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work_dir = tmp_path_factory.mktemp("scale-mypy")
    config = work_dir / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {scale_output.base.parent}\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MYPY")}
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(work_dir / "cache"),
            "--strict",
            "-p",
            PACKAGE,
        ],
        cwd=work_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"\nmypy --strict on {EVENT_COUNT} event types: {time.perf_counter() - started:.2f}s")
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture
def imported_package(scale_output: ScaleOutput, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(scale_output.base.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_generated_package_imports_and_works(imported_package: ModuleType) -> None:
    package = imported_package
    spec = build_spec(PACKAGE, EVENT_COUNT, store_count=STORE_COUNT)
    for store_id in STORES[:STORE_COUNT]:
        store_pascal = store_id.capitalize()
        reducer = getattr(package, f"{store_pascal}Reducer")
        hooks = {f"on_{name.lower()}" for name in spec["event_stores"][store_id]["events"]}
        assert set(reducer.__abstractmethods__) == hooks
        assert getattr(package, AGGREGATES[store_id]).__name__ == AGGREGATES[store_id]

    # An event with a nested payload (event #2: shape 2) survives its store's codec.
    codec = getattr(package, f"{store_of(2, STORE_COUNT).upper()}_EVENT_CODEC")
    stored = {
        "aggregate_id": "parcel-1",
        "version": 2,
        "type": event_type(2),
        "payload": {
            "operator_id": "3f1c8f7e-5d2a-4b8e-9c1d-2a3b4c5d6e7f",
            "location": {"depot_code": "LYS", "bay": 4, "coordinates": {"lat": 45.75, "lon": 4.85}},
            "cost": {"amount_cents": 1250, "currency": "EUR"},
        },
        "metadata": {"actor": "staff"},
    }
    event = codec.from_dict(stored)
    assert type(event).__name__ == "".join(part.capitalize() for part in event_type(2).split("_"))
    assert event.payload.location.coordinates.lat == 45.75
    assert codec.from_json(codec.to_json(event)) == event


def changed_lines(before: Path, after: Path) -> int:
    """Added plus removed lines of the unified diff of two generated trees (headers not counted).

    Importing a package leaves bytecode in its tree unless PYTHONDONTWRITEBYTECODE is set: `read_tree`
    leaves the caches out, so the count is the same in any shell.
    """
    old_tree, new_tree = read_tree(before), read_tree(after)
    count = 0
    for file in sorted(old_tree.keys() | new_tree.keys()):
        old = old_tree.get(file, b"").decode("utf-8").splitlines()
        new = new_tree.get(file, b"").decode("utf-8").splitlines()
        diff = difflib.unified_diff(old, new, file, file, n=0, lineterm="")
        count += sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return count


def test_one_more_event_type_changes_few_lines(scale_output: ScaleOutput) -> None:
    changed = changed_lines(scale_output.base, scale_output.grown)
    print(f"\n{EVENT_COUNT} -> {EVENT_COUNT + 1} event types ({event_type(EVENT_COUNT)}), changed lines: {changed}")
    assert 0 < changed <= MAX_CHANGED_LINES
