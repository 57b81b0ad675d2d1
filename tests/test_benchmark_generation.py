"""The generation benchmarks run end to end in quick mode: every goal is measured, and what both sides
generated is real code that imports and works. Tiny sizes, never a timing assertion."""

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.generation import QUICK_SIZES, STORE_COUNT, package_directory, package_name, run_generation_benchmarks
from benchmarks.harness import Report
from benchmarks.specs import STORES, build_spec, event_type, store_of

pytestmark = pytest.mark.slow

SMALL, LARGE = QUICK_SIZES
ANCHOR_MODULE = "datamodel_codegen_models"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    workdir = tmp_path_factory.mktemp("generation-benchmarks")
    report = Report(quick=True)
    run_generation_benchmarks(report, quick=True, workdir=workdir)
    return report, workdir


@pytest.fixture
def forget_generated_modules() -> Iterator[None]:
    """Removes the modules that a test imported from the benchmark's output once it is done."""
    yield
    for name in [name for name in sys.modules if name.startswith("kastor_bench_") or name == ANCHOR_MODULE]:
        del sys.modules[name]


def test_every_goal_is_measured(quick_run: tuple[Report, Path]) -> None:
    report, _ = quick_run
    titles = [goal.title for goal in report.goals]
    assert titles == [
        f"generate {SMALL} events (CLI)",
        f"generate {LARGE} vs {SMALL} events",
        "generate the Octokit corpus (224 events, CLI)",
        f"mypy --strict {LARGE} vs {SMALL} events",
    ]
    for goal in report.goals:
        assert goal.kind == "cost"
        assert goal.subject.operations == goal.anchor.operations == 1
        assert goal.subject.unit == goal.anchor.unit == "run"
        assert goal.subject.runs and all(seconds > 0 for seconds in goal.subject.runs + goal.anchor.runs)
    first, scaling, corpus, typing = report.goals
    assert (corpus.subject.name, corpus.anchor.name) == (
        "kastor generate the Octokit corpus",
        "datamodel-codegen the Octokit schemas",
    )
    assert (first.subject.name, first.anchor.name) == (
        f"kastor generate {SMALL} events",
        f"datamodel-codegen {SMALL} events' payloads",
    )
    assert (scaling.subject.name, scaling.anchor.name) == (
        f"kastor generate {LARGE} events",
        f"kastor generate {SMALL} events",
    )
    assert (typing.subject.name, typing.anchor.name) == (
        f"mypy --strict {LARGE} events",
        f"mypy --strict {SMALL} events",
    )
    kept = {measurement.name for measurement in report.measurements}
    assert {goal.subject.name for goal in report.goals} | {goal.anchor.name for goal in report.goals} <= kept
    assert f"datamodel-codegen {LARGE} events' payloads" in kept
    assert f"generated lines ({LARGE} events)" in report.figures


@pytest.mark.usefixtures("forget_generated_modules")
@pytest.mark.parametrize("event_count", QUICK_SIZES)
def test_the_generated_packages_import_and_work(
    quick_run: tuple[Report, Path], event_count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, workdir = quick_run
    monkeypatch.syspath_prepend(str(package_directory(workdir, event_count).parent))
    package = importlib.import_module(package_name(event_count))
    spec = build_spec(package_name(event_count), event_count, store_count=STORE_COUNT)
    for store_id in STORES[:STORE_COUNT]:
        reducer = getattr(package, f"{store_id.capitalize()}Reducer")
        hooks = {f"on_{name.lower()}" for name in spec["event_stores"][store_id]["events"]}
        assert set(reducer.__abstractmethods__) == hooks

    # One event of each payload shape: scalars; shared definitions and an inline enum; a uuid, a date-time
    # and a nested object.
    payloads = {
        0: {"reference": "r-1", "quantity": 3, "recorded_on": "2024-05-01", "note": None},
        1: {
            "tracking_code": "AB123456789FR",
            "amount": {"amount_cents": 1250, "currency": "EUR"},
            "priority": "high",
            "channel": "web",
        },
        2: {
            "operator_id": "3f1c8f7e-5d2a-4b8e-9c1d-2a3b4c5d6e7f",
            "occurred_at": "2024-05-01T10:00:00Z",
            "location": {"depot_code": "LYS", "bay": 4, "coordinates": {"lat": 45.75, "lon": 4.85}},
        },
    }
    for index, payload in payloads.items():
        codec = getattr(package, f"{store_of(index, STORE_COUNT).upper()}_EVENT_CODEC")
        stored = {"aggregate_id": "a-1", "version": 1, "type": event_type(index), "payload": payload}
        event = codec.from_dict({**stored, "metadata": {"actor": "staff"}})
        assert codec.from_json(codec.to_json(event)) == event
    assert event.payload.occurred_at == "2024-05-01T10:00:00Z"  # a date-time is kept as the text it was given
    assert event.payload.location.coordinates.lat == 45.75


@pytest.mark.usefixtures("forget_generated_modules")
def test_the_anchor_generated_every_payload_model(quick_run: tuple[Report, Path]) -> None:
    _, workdir = quick_run
    path = workdir / "inputs" / str(SMALL) / "datamodel_codegen_models.py"
    module_spec = importlib.util.spec_from_file_location(ANCHOR_MODULE, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # pydantic resolves the module's annotations through sys.modules
    module_spec.loader.exec_module(module)
    spec = build_spec(package_name(SMALL), SMALL, store_count=STORE_COUNT)
    payload_events = [
        name for store in spec["event_stores"].values() for name, event in store["events"].items() if "payload" in event
    ]
    assert payload_events
    for name in payload_events:
        assert hasattr(module, "".join(part.capitalize() for part in name.split("_")) + "Payload"), name
