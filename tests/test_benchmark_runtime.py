"""Kastor's side of the runtime benchmarks does the work it claims and checks its results (tiny sizes, never a
timing assertion); `iter_events` holds one page at a time; `python -m benchmarks --quick` reports every goal."""

import json
from pathlib import Path

import psycopg
import pytest

from benchmarks import kastor_runs
from benchmarks.__main__ import main

from .services import require_postgres

STORAGES: tuple[kastor_runs.Storage, ...] = ("memory", "sqlite")


@pytest.mark.parametrize("storage", STORAGES)
def test_push_with_load_and_get_aggregate_run_and_check_their_results(
    storage: kastor_runs.Storage, tmp_path: Path
) -> None:
    assert kastor_runs.push_with_load(storage, aggregates=3, rounds=2, workdir=tmp_path)() > 0
    assert kastor_runs.get_aggregate(storage, stream_length=1_234, loads=2, workdir=tmp_path)() > 0
    assert list(tmp_path.iterdir()) == []  # each run removes its database


def test_push_only_runs_its_pushes(tmp_path: Path) -> None:
    assert kastor_runs.push_only_sqlite(events=150, workdir=tmp_path)() > 0


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("mode", ["plain", "notification", "state-carrying", "state-carrying, re-fetched"])
def test_connected_pushes_deliver_one_message_each(
    mode: kastor_runs.ConnectedMode, storage: kastor_runs.Storage, tmp_path: Path
) -> None:
    # The run counts the deliveries and checks each message (kind, aggregate at the event's version).
    assert kastor_runs.connected_push(mode, storage, aggregates=3, rounds=4, workdir=tmp_path)() > 0


def test_a_run_whose_result_is_wrong_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pokemons appear at another level than the run's check expects.
    monkeypatch.setattr(kastor_runs, "_appeared", _appeared_at_level(kastor_runs.INITIAL_LEVEL + 2))
    with pytest.raises(AssertionError, match="expected"):
        kastor_runs.push_with_load("memory", aggregates=2, rounds=1, workdir=tmp_path)()


def test_iter_events_holds_one_page_where_get_events_holds_the_stream(tmp_path: Path) -> None:
    streamed, listed = kastor_runs.streaming_peak_memory(stream_length=5_000, page_size=100, workdir=tmp_path)
    # 50 pages: the peak of streaming is a page and its decoding, a small part of the whole list.
    assert 0 < streamed * 10 < listed, (streamed, listed)


@pytest.mark.service
def test_concurrent_writers_on_postgres_leave_no_schema(tmp_path: Path) -> None:
    url = require_postgres()
    assert kastor_runs.concurrent_writers_postgres(writers=3, events_per_writer=4, postgres_url=url)() > 0
    with psycopg.connect(url, autocommit=True) as connection:
        left = connection.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kastor\\_bench\\_%'").fetchall()
    assert left == []


def test_the_quick_benchmark_reports_every_runtime_goal(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    assert main(["--quick", "--only", "runtime,memory", "--json", str(output)]) == 0
    results = json.loads(output.read_text(encoding="utf-8"))
    assert results["quick"] is True
    titles = [goal["title"] for goal in results["goals"]]
    assert len(titles) == 14, titles
    assert sum("get_aggregate" in title for title in titles) == 5
    assert all(goal["subject"]["runs"] and goal["anchor"]["runs"] for goal in results["goals"])
    assert any(name.startswith("peak memory") for name in results["figures"])
    assert results["machine"]["packages"]["eventsourcing"] != "not installed"


def _appeared_at_level(level: int) -> object:
    original = kastor_runs._appeared

    def appeared(aggregate_id: str) -> object:
        event = original(aggregate_id)
        return event.model_copy(update={"payload": event.payload.model_copy(update={"level": level})})

    return appeared
