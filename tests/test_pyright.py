"""The generated code passes pyright in strict mode, as it passes mypy --strict.

Two checks, run side by side (pyright takes seconds): the committed generated_examples/ with the project's
check configuration, tests/pyright/pyrightconfig.json (`bash .ci/run` uses it too), and a package generated
from a richer spec (three stores, 40 event types with the varied payloads of benchmarks/specs.py, escaped
property names, a channel of every kind and message, connections) with the same settings. The generated
packages need no configuration of their own: the settings live beside this test, not in the packages or
at the repository root, so that nobody's editor or pyright run picks them up by accident.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.specs import build_spec

from .support import REPO, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.typing]

CONFIG = REPO / "tests" / "pyright" / "pyrightconfig.json"
RICH_PACKAGE = "kastor_pyright_pkg"
TIMEOUT_SECONDS = 600


@dataclass
class PyrightRun:
    """A pyright process started by the fixture: its result is read once, when a test needs it."""

    process: subprocess.Popen[str]
    result: dict[str, Any] | None = None

    def report(self) -> dict[str, Any]:
        if self.result is None:
            stdout, stderr = self.process.communicate(timeout=TIMEOUT_SECONDS)
            try:
                self.result = json.loads(stdout)
            except json.JSONDecodeError:
                pytest.fail(f"pyright did not report (exit {self.process.returncode}):\n{stdout}\n{stderr}")
        return self.result


def start_pyright(config: Path) -> PyrightRun:
    """pyright with `config`, resolving imports (pydantic...) in the environment running the tests."""
    command = [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable]
    process = subprocess.Popen(
        [*command, "--project", str(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return PyrightRun(process)


def rich_spec() -> dict[str, Any]:
    document = build_spec(RICH_PACKAGE, 40, store_count=3)
    # Property names that are not Python identifiers as they are: `class_` and `my_field` in Python.
    document["event_stores"]["parcels"]["events"]["PARCEL_RELABELLED"] = {
        "payload": {
            "type": "object",
            "properties": {"class": {"type": "string"}, "my-field": {"type": ["integer", "null"]}},
            "required": ["class"],
        }
    }
    stores = list(document["event_stores"])
    channels: dict[str, Any] = {}
    for kind in ("bus", "queue"):
        for message in ("notification", "state-carrying", "aggregate-exists"):
            channels[f"{message.replace('-', '_')}_{kind}"] = {"kind": kind, "message": message, "sources": stores}
    document["channels"] = channels
    document["connections"] = [
        {"store": "parcels", "channel": "state_carrying_bus"},
        {"store": "shipments", "channel": "notification_queue"},
        {"store": "depots", "channel": "notification_bus"},
    ]
    return document


@pytest.fixture(scope="module")
def pyright_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PyrightRun]]:
    work = tmp_path_factory.mktemp("pyright")
    spec = work / "rich.yaml"
    spec.write_text(yaml.safe_dump(rich_spec(), sort_keys=False), encoding="utf-8")
    generated = run_cli("generate", str(spec), "-o", str(work / "out"))
    assert generated.code == 0, generated.stderr
    settings = json.loads(CONFIG.read_text(encoding="utf-8"))
    settings["include"] = [f"out/{RICH_PACKAGE}"]
    rich_config = work / "pyrightconfig.json"
    rich_config.write_text(json.dumps(settings), encoding="utf-8")
    runs = {"examples": start_pyright(CONFIG), "rich": start_pyright(rich_config)}
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


def errors_of(report: dict[str, Any]) -> list[str]:
    return [
        f"{diagnostic['file']}:{diagnostic['range']['start']['line'] + 1}:"
        f"{diagnostic['range']['start']['character'] + 1}: {diagnostic['message']} ({diagnostic.get('rule', '')})"
        for diagnostic in report["generalDiagnostics"]
        if diagnostic["severity"] in ("error", "warning")
    ]


def test_the_check_configuration_is_strict() -> None:
    settings = json.loads(CONFIG.read_text(encoding="utf-8"))
    assert settings["typeCheckingMode"] == "strict"
    assert settings["pythonVersion"] == "3.11"
    assert sorted(settings["include"]) == ["../../generated_examples/bookshop", "../../generated_examples/pokedex"]


def test_generated_examples_pass_pyright_strict(pyright_runs: dict[str, PyrightRun]) -> None:
    report = pyright_runs["examples"].report()
    assert errors_of(report) == []
    assert report["summary"]["filesAnalyzed"] > 0


def test_package_of_a_richer_spec_passes_pyright_strict(pyright_runs: dict[str, PyrightRun]) -> None:
    report = pyright_runs["rich"].report()
    assert errors_of(report) == []
    assert report["summary"]["filesAnalyzed"] > 0
