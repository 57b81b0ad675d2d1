"""Stored histories that no push could have written: a version missing, an initial event elsewhere than at
version 1. Rows deleted or written by hand (SQLite, PostgreSQL) and seeds of the in-memory adapter are read
as an EventDecodeError naming the gap or the misplaced event, by every read of the store: never folded
into an aggregate.
"""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .pokedex_builders import T0, appeared, caught, leveled_up, pokemons_store
from .services import postgres_schema

# isort: split
from pokedex import (
    EventDecodeError,
    InMemoryEventStorageAdapter,
    PokemonsEvent,
    PokemonsEventStore,
    PostgresEventStorageAdapter,
    SQLiteEventStorageAdapter,
)

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test

INITIAL_AT_2 = "POKEMON_APPEARED is an initial event, so its version should be 1"
NOT_INITIAL_AT_1 = (
    "POKEMON_CAUGHT is not an initial event, so its version cannot be 1 (initial events: POKEMON_APPEARED)"
)


def history(length: int, aggregate_id: str = "p-1") -> list[PokemonsEvent]:
    """A pokemon that appeared, then leveled up: versions 1 to `length`."""
    events: list[PokemonsEvent] = [appeared(aggregate_id, timestamp=T0)]
    events.extend(leveled_up(aggregate_id, version=version, timestamp=T0) for version in range(2, length + 1))
    return events


async def stored(store: PokemonsEventStore, events: list[PokemonsEvent]) -> None:
    for event in events:
        await store.push_event(event)


def sqlite_execute(path: Path, sql: str, *parameters: Any) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(sql, parameters)
    connection.close()


async def collected(events: AsyncIterator[PokemonsEvent]) -> list[PokemonsEvent]:
    return [event async for event in events]


def every_read(store: PokemonsEventStore, aggregate_id: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """Each way of reading a whole aggregate."""
    return {
        "get_events": lambda: store.get_events(aggregate_id),
        "get_events reverse": lambda: store.get_events(aggregate_id, reverse=True),
        "get_aggregate": lambda: store.get_aggregate(aggregate_id),
        "get_existing_aggregate": lambda: store.get_existing_aggregate(aggregate_id),
        "iter_events": lambda: collected(store.iter_events(aggregate_id)),
        "iter_events by pages of one": lambda: collected(store.iter_events(aggregate_id, page_size=1)),
    }


async def assert_impossible(store: PokemonsEventStore, aggregate_id: str, version: int, problem: str) -> None:
    """Every read of the aggregate fails with an EventDecodeError naming the event where the history breaks."""
    for name, read in every_read(store, aggregate_id).items():
        with pytest.raises(EventDecodeError) as raised:
            await read()
        assert str(raised.value) == f"pokemons/{aggregate_id} v{version}: invalid stored history: {problem}", name
        decoded = raised.value
        assert (decoded.event_store_id, decoded.aggregate_id, decoded.version) == ("pokemons", aggregate_id, version)


# -- SQLite: rows deleted or written by hand -----------------------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[PokemonsEventStore, Path]]:
    """The pokemons store on a fresh SQLite file, and the file's path (to corrupt it)."""
    path = tmp_path / "events.sqlite3"
    adapter = SQLiteEventStorageAdapter(path)
    yield pokemons_store(adapter), path
    asyncio.run(adapter.close())


DELETED = {
    "one in the middle": ([2], 3, "version 2 is missing"),
    "several in the middle": ([2, 3], 4, "versions 2 to 3 are missing"),
    "the first": ([1], 2, "version 1 is missing"),
    "the first ones": ([1, 2], 3, "versions 1 to 2 are missing"),
}


@pytest.mark.parametrize(("deleted", "version", "problem"), DELETED.values(), ids=DELETED)
async def test_a_version_deleted_by_hand_is_a_decode_error_naming_the_gap(
    sqlite_store: tuple[PokemonsEventStore, Path], deleted: list[int], version: int, problem: str
) -> None:
    store, path = sqlite_store
    await stored(store, history(5))
    for missing in deleted:
        sqlite_execute(path, "DELETE FROM kastor_events WHERE version = ?", missing)
    await assert_impossible(store, "p-1", version, problem)


async def test_a_gap_is_found_from_min_version_on_and_not_beyond_the_bounds_of_the_read(
    sqlite_store: tuple[PokemonsEventStore, Path],
) -> None:
    store, path = sqlite_store
    await stored(store, history(5))
    sqlite_execute(path, "DELETE FROM kastor_events WHERE version = 3")
    with pytest.raises(EventDecodeError, match=r"^pokemons/p-1 v4: invalid stored history: version 3 is missing$"):
        await store.get_events("p-1", min_version=2)
    with pytest.raises(EventDecodeError, match="v4: invalid stored history: version 3 is missing"):
        await store.get_events("p-1", min_version=3)
    with pytest.raises(EventDecodeError, match="v4: invalid stored history: version 3 is missing"):
        await store.get_events("p-1", min_version=2, reverse=True)
    # What a read does not reach cannot be checked: the versions read follow each other.
    assert [event.version for event in await store.get_events("p-1", max_version=2)] == [1, 2]
    assert [event.version for event in await store.get_events("p-1", min_version=4)] == [4, 5]
    assert [event.version for event in await store.get_events("p-1", reverse=True, limit=2)] == [5, 4]
    assert (await store.get_aggregate("p-1", max_version=2)).aggregate is not None


async def test_an_initial_event_after_version_1_is_a_decode_error(
    sqlite_store: tuple[PokemonsEventStore, Path],
) -> None:
    store, path = sqlite_store
    await stored(store, history(3))
    sqlite_execute(
        path,
        "UPDATE kastor_events SET type = 'POKEMON_APPEARED', payload = ? WHERE version = 2",
        '{"name":"Mew","level":1,"pokemon_type":"psychic"}',
    )
    await assert_impossible(store, "p-1", 2, INITIAL_AT_2)


async def test_a_first_event_that_is_not_initial_is_a_decode_error(
    sqlite_store: tuple[PokemonsEventStore, Path],
) -> None:
    store, path = sqlite_store
    await stored(store, history(3))
    sqlite_execute(
        path, "UPDATE kastor_events SET type = 'POKEMON_CAUGHT', payload = '{\"trainer_id\":\"ash\"}' WHERE version = 1"
    )
    await assert_impossible(store, "p-1", 1, NOT_INITIAL_AT_1)


async def test_other_aggregates_still_read(sqlite_store: tuple[PokemonsEventStore, Path]) -> None:
    store, path = sqlite_store
    await stored(store, history(3, "p-1") + history(3, "p-2"))
    sqlite_execute(path, "DELETE FROM kastor_events WHERE aggregate_id = 'p-1' AND version = 2")
    await assert_impossible(store, "p-1", 3, "version 2 is missing")
    assert [event.version for event in await store.get_events("p-2")] == [1, 2, 3]


# -- in memory: seeds ------------------------------------------------------------------------------------------


SEEDS = {
    "an initial event at version 2": ([appeared("p-1", timestamp=T0), appeared("p-1", version=2)], 2, INITIAL_AT_2),
    "a first event that is not initial": (
        [caught("p-1", version=1), leveled_up("p-1", version=2)],
        1,
        NOT_INITIAL_AT_1,
    ),
}


@pytest.mark.parametrize(("seeds", "version", "problem"), SEEDS.values(), ids=SEEDS)
async def test_an_impossible_seed_of_the_in_memory_adapter_is_a_decode_error(
    seeds: list[PokemonsEvent], version: int, problem: str
) -> None:
    store = pokemons_store(InMemoryEventStorageAdapter(seeds))
    await assert_impossible(store, "p-1", version, problem)


# -- PostgreSQL ------------------------------------------------------------------------------------------------


@pytest.mark.service
async def test_impossible_postgres_histories_are_decode_errors(postgres_schema_fixture: tuple[str, str]) -> None:
    import psycopg

    url, schema = postgres_schema_fixture
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        store = pokemons_store(adapter)
        await stored(store, history(3, "p-1") + history(3, "p-2"))
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                f'DELETE FROM "{schema}".kastor_events WHERE aggregate_id = %s AND version = 2', ("p-1",)
            )
            connection.execute(
                f"UPDATE \"{schema}\".kastor_events SET type = 'POKEMON_APPEARED', payload = %s::jsonb "
                "WHERE aggregate_id = %s AND version = 2",
                ('{"name":"Mew","level":1,"pokemon_type":"psychic"}', "p-2"),
            )
        await assert_impossible(store, "p-1", 3, "version 2 is missing")
        await assert_impossible(store, "p-2", 2, INITIAL_AT_2)


# -- adapters of one's own -------------------------------------------------------------------------------------


class ReadsWhatItIsGiven(InMemoryEventStorageAdapter):
    """An adapter of one's own that reads back a fixed list of events, whatever the query."""

    def __init__(self, events: list[PokemonsEvent]) -> None:
        super().__init__()
        self.events = events

    async def get_events(self, context: Any, aggregate_id: str, query: Any) -> list[Any]:
        return list(self.events)


async def test_versions_read_twice_or_out_of_order_are_a_decode_error() -> None:
    one, two, three = history(3)
    for events, version, problem in (
        ([one, two, two, three], 2, "version 2 comes after version 2"),
        ([one, three, two], 3, "version 2 is missing"),
    ):
        store = pokemons_store(ReadsWhatItIsGiven(events))
        with pytest.raises(EventDecodeError) as raised:
            await store.get_events("p-1")
        assert str(raised.value) == f"pokemons/p-1 v{version}: invalid stored history: {problem}"
    store = pokemons_store(ReadsWhatItIsGiven([two, one]))
    with pytest.raises(EventDecodeError, match=r"v1: invalid stored history: version 1 is below 2$"):
        await store.get_events("p-1", min_version=2, reverse=True)
