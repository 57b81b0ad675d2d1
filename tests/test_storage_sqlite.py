"""The SQLite adapter passes the storage conformance suite, on a file (shared by processes too) and in
`:memory:`; and what is particular to it: one connection, the schema, WAL mode, the table's key."""

import asyncio
import functools
import gc
import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.storage_conformance", "tests.storage_race")

from .pokedex_builders import (  # noqa: E402  (first: it makes the generated pokedex package importable)
    appeared,
    leveled_up,
    pokemons_store,
    registered,
    trainers_store,
)
from .storage_conformance import (  # noqa: E402
    T0,
    EventStorageAdapterConformance,
    SharedDatabaseConformance,
    ids,
)

# isort: split
from pokedex import (  # noqa: E402
    EventStorageAdapter,
    EventStorageError,
    PokemonsEventStore,
    SQLiteEventStorageAdapter,
    TrainersEventStore,
)
from pokedex.runtime.sqlite_storage import TABLE  # noqa: E402


class TestSQLiteEventStorageAdapterOnAFile(SharedDatabaseConformance):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.created = 0

    def make_adapter(self) -> EventStorageAdapter:
        self.created += 1
        return SQLiteEventStorageAdapter(self.directory / f"events-{self.created}.sqlite3")

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        return functools.partial(SQLiteEventStorageAdapter, str(self.directory / "shared.sqlite3"))


class TestSQLiteEventStorageAdapterInTheCallersThread(TestSQLiteEventStorageAdapterOnAFile):
    """`threaded=False`: the same promises, SQLite running in the event loop's thread."""

    def make_adapter(self) -> EventStorageAdapter:
        self.created += 1
        return SQLiteEventStorageAdapter(self.directory / f"events-{self.created}.sqlite3", threaded=False)

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        return functools.partial(SQLiteEventStorageAdapter, str(self.directory / "shared.sqlite3"), threaded=False)


class TestSQLiteEventStorageAdapterInMemory(EventStorageAdapterConformance):
    def make_adapter(self) -> EventStorageAdapter:
        return SQLiteEventStorageAdapter(":memory:")


def stores(adapter: EventStorageAdapter) -> tuple[PokemonsEventStore, TrainersEventStore]:
    return pokemons_store(adapter), trainers_store(adapter)


class TestSQLiteSpecifics:
    async def test_a_memory_database_is_one_connection_serving_every_caller(self) -> None:
        async with SQLiteEventStorageAdapter(":memory:") as adapter:
            pokemons, trainers = stores(adapter)
            other_pokemons, _ = stores(adapter)
            # The first use is a read: the schema is created by it, not by a write.
            assert await pokemons.get_events("p0") == []
            assert (await trainers.list_aggregate_ids()).aggregate_ids == []
            pushed = await asyncio.gather(
                *(pokemons.push_event(appeared(f"p{i}", timestamp=T0)) for i in range(10)),
                trainers.push_event(registered("ash")),
            )
            # Each connection to :memory: has its own database: seeing every write means one connection.
            assert ids((await other_pokemons.list_aggregate_ids()).aggregate_ids) == sorted(f"p{i}" for i in range(10))
            reads = await asyncio.gather(*(other_pokemons.get_events(f"p{i}") for i in range(10)))
            assert reads == [[result.event] for result in pushed[:10]]
            assert await trainers.get_events("ash") == [pushed[10].event]

    async def test_its_thread_outlives_a_cancelled_caller_and_ends_with_the_adapter(self, tmp_path: Path) -> None:
        others = set(worker_threads())  # threads of adapters other tests left to the garbage collector
        adapter = SQLiteEventStorageAdapter(tmp_path / "events.sqlite3")
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu"))
        assert len(set(worker_threads()) - others) == 1
        # A caller cancelled while its work runs: the work's outcome is dropped, the next caller served.
        reading = asyncio.ensure_future(pokemons.get_events("pikachu"))
        await asyncio.sleep(0)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert [event.version for event in await pokemons.get_events("pikachu")] == [1]
        # Used again after close: a new connection on a new thread.
        await adapter.close()
        assert await no_worker_thread_left(but=others)
        assert [event.version for event in await pokemons.get_events("pikachu")] == [1]
        assert len(set(worker_threads()) - others) == 1
        # Dropped without close: its thread ends too.
        del pokemons, adapter, reading
        gc.collect()
        assert await no_worker_thread_left(but=others)

    async def test_unthreaded_it_starts_no_thread(self, tmp_path: Path) -> None:
        others = set(worker_threads())
        async with SQLiteEventStorageAdapter(tmp_path / "events.sqlite3", threaded=False) as adapter:
            pokemons = pokemons_store(adapter)
            await pokemons.push_event(appeared("pikachu"))
            assert [event.version for event in await pokemons.get_events("pikachu")] == [1]
            assert set(worker_threads()) == others
            assert "threaded=False" in repr(adapter)

    async def test_the_schema_is_created_on_first_use_of_a_file(self, tmp_path: Path) -> None:
        path = tmp_path / "events.sqlite3"
        async with SQLiteEventStorageAdapter(path) as adapter:
            pokemons, _ = stores(adapter)
            assert not path.exists()
            assert (await pokemons.list_aggregate_ids()).aggregate_ids == []
            assert path.exists()
            with closing(sqlite3.connect(path)) as connection:
                names = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
            assert {TABLE, f"{TABLE}_initial"} <= names
            # A second adapter on the existing file neither fails nor loses what is stored.
            await pokemons.push_event(appeared("pikachu"))
        async with SQLiteEventStorageAdapter(path) as reopened:
            again, _ = stores(reopened)
            assert await again.get_events("pikachu") == await pokemons.get_events("pikachu")
            assert len(await again.get_events("pikachu")) == 1

    async def test_a_file_database_runs_in_wal_mode(self, tmp_path: Path) -> None:
        path = tmp_path / "events.sqlite3"
        async with SQLiteEventStorageAdapter(path) as adapter:
            pokemons, _ = stores(adapter)
            await pokemons.push_event(appeared("pikachu"))
            with closing(sqlite3.connect(path)) as connection:
                assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert path.with_name(path.name + "-wal").exists()

    async def test_the_table_is_keyed_by_store_aggregate_and_version(self, tmp_path: Path) -> None:
        path = tmp_path / "events.sqlite3"
        async with SQLiteEventStorageAdapter(path) as adapter:
            pokemons, trainers = stores(adapter)
            await pokemons.push_event(appeared("red"))
            await pokemons.push_event(leveled_up("red", version=2))
            await trainers.push_event(registered("red"))
            with closing(sqlite3.connect(path)) as connection:
                columns = connection.execute(f"PRAGMA table_info({TABLE})").fetchall()
                key = [name for _, name, _, _, _, position in sorted(columns, key=lambda c: c[5]) if position]
                assert key == ["event_store_id", "aggregate_id", "version"]
                rows = connection.execute(
                    f"SELECT event_store_id, aggregate_id, version, type FROM {TABLE} ORDER BY 1, 2, 3"
                ).fetchall()
                assert rows == [
                    ("pokemons", "red", 1, "POKEMON_APPEARED"),
                    ("pokemons", "red", 2, "POKEMON_LEVELED_UP"),
                    ("trainers", "red", 1, "TRAINER_REGISTERED"),
                ]
                with pytest.raises(sqlite3.IntegrityError):
                    connection.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE event_store_id = 'trainers'")
                connection.rollback()

    async def test_several_adapters_using_a_fresh_file_at_once_all_connect(self, tmp_path: Path) -> None:
        # Switching a fresh file to WAL is refused at once ("database is locked") to all but one of the
        # connections trying together; the adapter must wait its turn. A race: try many fresh files.
        for round_ in range(100):
            path = tmp_path / f"fresh-{round_}.sqlite3"
            adapters = [SQLiteEventStorageAdapter(path) for _ in range(2)]
            try:
                outcomes = await asyncio.gather(
                    *(stores(adapter)[0].get_events("pikachu") for adapter in adapters), return_exceptions=True
                )
            finally:
                for adapter in adapters:
                    await adapter.close()
            errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert not errors, f"round {round_}: {errors[0]!r}"


async def test_an_unusable_path_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing-directory" / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        with pytest.raises(EventStorageError, match=f"SQLite database {re.escape(str(path))}: unable to open"):
            await stores(adapter)[0].get_events("pikachu")


def worker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "kastor-sqlite" and thread.is_alive()]


async def no_worker_thread_left(*, but: set[threading.Thread]) -> bool:
    """Whether the adapters' threads, but these, end within a second (a stopped thread ends on its own time)."""
    for _ in range(100):
        if not set(worker_threads()) - but:
            return True
        await asyncio.sleep(0.01)
    return False
