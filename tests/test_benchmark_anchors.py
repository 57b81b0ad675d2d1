"""The benchmark anchors (eventsourcing, raw sqlite3, a plain fold) do the work they claim, check their own
results and leave nothing behind: tiny sizes, never a timing assertion. The PostgreSQL ones need the server."""

from pathlib import Path
from typing import Literal

import psycopg
import pytest

from benchmarks import anchor_raw
from benchmarks.anchor_eventsourcing import (
    INITIAL_LEVEL,
    Persistence,
    Pokedex,
    Pokemon,
    concurrent_writers_postgres,
    get_aggregate,
    push_with_load,
)
from benchmarks.anchor_raw import fold, plain_fold, raw_sqlite_inserts

from .services import require_postgres

Source = Literal["memory", "sqlite"]


def eventsourcing_schemas(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'eventsourcing\\_bench\\_%'"
        ).fetchall()
    return {row[0] for row in rows}


def test_pokemon_aggregate_replays_its_events() -> None:
    app = Pokedex(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        pokemon = Pokemon("Pikachu", 5, "electric")
        pokemon.level_up()
        pokemon.level_up()
        app.save(pokemon)
        loaded: Pokemon = app.repository.get(pokemon.id)
        assert (loaded.name, loaded.level, loaded.pokemon_type, loaded.trainer_id) == ("Pikachu", 7, "electric", None)
        assert loaded.version == 3
        assert app.repository.cache is None  # every get replays the stream
    finally:
        app.close()


def test_the_application_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "100")
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    app = Pokedex(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        assert app.repository.cache is None
        assert app.snapshots is None
    finally:
        app.close()


@pytest.mark.parametrize("persistence", ["popo", "sqlite"])
def test_push_with_load(persistence: Persistence, tmp_path: Path) -> None:
    run = push_with_load(persistence, aggregates=3, rounds=2, workdir=tmp_path)
    assert run() >= 0
    assert run() >= 0  # a second run starts afresh
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("persistence", ["popo", "sqlite"])
def test_get_aggregate_across_setup_batches(persistence: Persistence, tmp_path: Path) -> None:
    run = get_aggregate(persistence, stream_length=2_345, loads=2, workdir=tmp_path)
    assert run() >= 0
    assert list(tmp_path.iterdir()) == []


def test_eventsourcing_runs_check_the_levels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = push_with_load("popo", aggregates=2, rounds=1, workdir=tmp_path)
    monkeypatch.setattr(Pokemon, "level_up", lambda self: None)
    with pytest.raises(AssertionError, match=f"level {INITIAL_LEVEL} at version 1, expected level {INITIAL_LEVEL + 1}"):
        run()


def test_raw_sqlite_inserts(tmp_path: Path) -> None:
    run = raw_sqlite_inserts(events=250, workdir=tmp_path)
    assert run() >= 0
    assert run() >= 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", ["memory", "sqlite"])
def test_plain_fold(source: Source, tmp_path: Path) -> None:
    run = plain_fold(source, stream_length=300, loads=2, workdir=tmp_path)
    assert run() >= 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", ["memory", "sqlite"])
def test_plain_fold_checks_the_level(source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = plain_fold(source, stream_length=10, loads=1, workdir=tmp_path)
    monkeypatch.setattr(anchor_raw, "fold", lambda events: {"level": 0, "version": 0})
    with pytest.raises(AssertionError, match=r"\(level, version\) \(0, 0\), expected \(14, 10\)"):
        run()
    assert list(tmp_path.iterdir()) == []


def test_fold() -> None:
    appeared = {
        "aggregate_id": "p",
        "version": 1,
        "type": "POKEMON_APPEARED",
        "timestamp": "t",
        "payload": {"name": "Pikachu", "level": 5, "pokemon_type": "electric"},
    }
    leveled_up = {"aggregate_id": "p", "version": 2, "type": "POKEMON_LEVELED_UP", "timestamp": "t"}
    assert fold([]) is None
    assert fold([appeared, leveled_up]) == {
        "aggregate_id": "p",
        "version": 2,
        "name": "Pikachu",
        "level": 6,
        "pokemon_type": "electric",
        "trainer_id": None,
    }
    with pytest.raises(ValueError, match="leveled up before appearing"):
        fold([leveled_up])
    with pytest.raises(ValueError, match="unknown event type 'POKEMON_FAINTED'"):
        fold([{**appeared, "type": "POKEMON_FAINTED"}])


@pytest.mark.service
@pytest.mark.parametrize("workload", ["push_with_load", "get_aggregate"])
def test_postgres(workload: str, tmp_path: Path) -> None:
    url = require_postgres()
    before = eventsourcing_schemas(url)
    if workload == "push_with_load":
        run = push_with_load("postgres", aggregates=3, rounds=2, workdir=tmp_path, postgres_url=url)
    else:
        run = get_aggregate("postgres", stream_length=1_500, loads=2, workdir=tmp_path, postgres_url=url)
    assert run() >= 0
    assert run() >= 0
    assert eventsourcing_schemas(url) <= before  # each run dropped its schema


@pytest.mark.service
def test_concurrent_writers_postgres() -> None:
    url = require_postgres()
    before = eventsourcing_schemas(url)
    run = concurrent_writers_postgres(writers=4, events_per_writer=5, postgres_url=url)
    assert run() >= 0
    assert eventsourcing_schemas(url) <= before
