"""The PostgreSQL adapter passes the storage conformance suite (processes racing on one database included),
each test in a schema of its own; and what is particular to it: the table is created on request only,
connection errors, given connections and pools, lost connections, closing, and group atomicity as a
concurrent reader sees it."""

import asyncio
import functools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg_pool
import pytest

pytest.register_assert_rewrite("tests.storage_conformance", "tests.storage_race")

from .pokedex_builders import (  # noqa: E402  (first: it makes the generated pokedex package importable)
    appeared,
    leveled_up,
    pokemons_store,
    registered,
    trainer_caught,
    trainers_store,
)
from .services import postgres_schema, require_postgres, unique_name  # noqa: E402
from .storage_conformance import POKEMONS, SharedDatabaseConformance, ids  # noqa: E402
from .support import EXAMPLES  # noqa: E402

# isort: split
from pokedex import (  # noqa: E402
    POKEMONS_EVENT_CODEC,
    EventAlreadyExistsError,
    EventDecodeError,
    EventsQuery,
    EventStorageAdapter,
    EventStorageError,
    EventStore,
    InvalidEventError,
    PokemonAppearedPayload,
    PostgresEventStorageAdapter,
)
from pokedex.runtime.postgres_storage import (  # noqa: E402
    CONNECT_TIMEOUT_SECONDS,
    KEEPALIVES,
    SCHEMA_SQL,
    TABLE,
    TIMEOUT_SECONDS,
    _client_check_options,
    schema_sql,
)

pytestmark = pytest.mark.service

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def execute(url: str, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
    """Runs one statement on a connection of its own (autocommit); the rows it returns, if any."""
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql, parameters)
        return cursor.fetchall() if cursor.description is not None else []


def backends(url: str, application_name: str) -> list[int]:
    """The process ids of the server's connections of that application name."""
    rows = execute(url, "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,))
    return [pid for (pid,) in rows]


def eventually(check: Callable[[], bool]) -> bool:
    """Whether `check` holds within 5 s: a server process ends a moment after its client closed."""
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def terminate(url: str, application_name: str) -> int:
    """Ends every server connection of that application name, as a lost network or a restart would."""
    rows = execute(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (application_name,),
    )
    return len(rows)


def named(url: str, application_name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={application_name}"


# -- the conformance suite ---------------------------------------------------------------------------


class TestPostgresEventStorageAdapter(SharedDatabaseConformance):
    @pytest.fixture(autouse=True)
    def _table(self, postgres_schema_fixture: tuple[str, str]) -> None:
        # Every adapter of a test shares the test's schema; its table is made before any of them runs.
        self.url, self.schema = postgres_schema_fixture
        execute(self.url, schema_sql(self.schema))

    def make_adapter(self) -> EventStorageAdapter:
        return PostgresEventStorageAdapter(self.url, schema=self.schema)

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        return functools.partial(PostgresEventStorageAdapter, self.url, schema=self.schema)


# -- what is particular to PostgreSQL ----------------------------------------------------------------


@pytest.fixture
def database(postgres_schema_fixture: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """(URL, schema): an empty schema of this test, without the table."""
    yield postgres_schema_fixture


@pytest.fixture
def with_table(database: tuple[str, str]) -> tuple[str, str]:
    """(URL, schema): a schema of this test with the table."""
    url, schema = database
    execute(url, schema_sql(schema))
    return url, schema


async def test_create_schema_makes_schema_table_and_index_and_is_idempotent(database: tuple[str, str]) -> None:
    url, schema = database
    execute(url, f'DROP SCHEMA "{schema}"')  # create_schema also creates the schema
    adapters = [PostgresEventStorageAdapter(url, schema=schema) for _ in range(3)]
    try:
        # Several at once (as processes starting together would) take turns instead of colliding.
        await asyncio.gather(*(adapter.create_schema() for adapter in adapters))
        pokemons = pokemons_store(adapters[0])
        first = await pokemons.push_event(appeared("pikachu"))
        await adapters[1].create_schema()  # again, on a table with events: nothing changes
        assert await pokemons_store(adapters[2]).get_events("pikachu") == [first.event]
    finally:
        for adapter in adapters:
            await adapter.close()

    columns = execute(
        url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, TABLE),
    )
    assert columns == [
        ("event_store_id", "text", "NO"),
        ("aggregate_id", "text", "NO"),
        ("version", "integer", "NO"),
        ("type", "text", "NO"),
        ("timestamp", "timestamp with time zone", "NO"),
        ("payload", "json", "YES"),
        ("metadata", "json", "YES"),
    ]
    key = execute(
        url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        (f'"{schema}"."{TABLE}"',),
    )
    assert [name for (name,) in key] == ["event_store_id", "aggregate_id", "version"]
    [(definition,)] = execute(
        url, "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = 'kastor_events_initial'", (schema,)
    )
    assert '(event_store_id, "timestamp", aggregate_id) WHERE (version = 1)' in definition
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(url, f"INSERT INTO \"{schema}\".{TABLE} VALUES ('pokemons', 'x', 0, 'T', now(), NULL, NULL)")


async def test_a_missing_table_is_a_storage_error_saying_how_to_create_it(database: tuple[str, str]) -> None:
    url, schema = database
    for missing_schema in (schema, unique_name("kastor_absent")):
        async with PostgresEventStorageAdapter(url, schema=missing_schema) as adapter:
            pokemons = pokemons_store(adapter)
            attempts = [
                pokemons.get_events("pikachu"),
                pokemons.push_event(appeared("pikachu")),
                pokemons.list_aggregate_ids(),
            ]
            for attempt in attempts:
                with pytest.raises(EventStorageError) as missing:
                    await attempt
                message = str(missing.value)
                assert f'the table "{missing_schema}"."{TABLE}" does not exist' in message
                assert "await adapter.create_schema()" in message
                assert f"kastor sql postgres --schema {missing_schema}" in message
                assert "127.0.0.1:5432 (database test)" in message
                assert isinstance(missing.value.__cause__, psycopg.errors.UndefinedTable)
    # Nothing was created by those calls.
    assert execute(url, "SELECT 1 FROM information_schema.tables WHERE table_schema = %s", (schema,)) == []


async def test_an_unreachable_server_is_a_storage_error_naming_host_and_port_at_once() -> None:
    started = time.monotonic()
    async with PostgresEventStorageAdapter("postgresql://postgres@127.0.0.1:1/test", schema="app") as adapter:
        for attempt in (pokemons_store(adapter).get_events("pikachu"), adapter.create_schema()):
            with pytest.raises(EventStorageError) as unreachable:
                await attempt
            assert "cannot connect to PostgreSQL at 127.0.0.1:1 (database test)" in str(unreachable.value)
            assert "Connection refused" in str(unreachable.value)
            assert isinstance(unreachable.value.__cause__, psycopg.OperationalError)
    assert time.monotonic() - started < 5
    # A connect timeout bounds the wait for a silent host; one given in the conninfo is kept.
    assert PostgresEventStorageAdapter("host=db")._connect_kwargs()["connect_timeout"] == CONNECT_TIMEOUT_SECONDS
    assert "connect_timeout" not in PostgresEventStorageAdapter("host=db connect_timeout=2")._connect_kwargs()


def test_the_timeouts_are_checked_and_reach_the_connections_the_adapter_makes() -> None:
    assert PostgresEventStorageAdapter("host=db").timeout == TIMEOUT_SECONDS == 30
    kwargs = PostgresEventStorageAdapter("host=db connect_timeout=7", timeout=5, connect_timeout=2.5)._connect_kwargs()
    # The adapter's connect timeout wins over the conninfo's (libpq counts whole seconds); unacknowledged data
    # kills a connection after the call's timeout, and keepalives find a silent server gone.
    assert kwargs["connect_timeout"] == 3
    assert kwargs["tcp_user_timeout"] == 5000
    assert PostgresEventStorageAdapter("host=db", timeout=1e12)._connect_kwargs()["tcp_user_timeout"] == 2**31 - 1
    assert {key: kwargs[key] for key in KEEPALIVES} == KEEPALIVES
    # What the conninfo sets is kept.
    assert "keepalives_idle" not in PostgresEventStorageAdapter("host=db keepalives_idle=5")._connect_kwargs()
    assert "tcp_user_timeout" not in PostgresEventStorageAdapter("host=db tcp_user_timeout=1")._connect_kwargs()
    # The server checks that the adapter is still there while it runs a statement (PostgreSQL 14 and later),
    # the options of the conninfo or PGOPTIONS kept.
    check = "-c client_connection_check_interval=1000"
    assert _client_check_options("host=db", 150000) == {"options": check}
    assert _client_check_options("host=db options='-c work_mem=8MB'", 140000) == {"options": f"-c work_mem=8MB {check}"}
    assert _client_check_options("host=db", 130000) == {}
    assert _client_check_options("options='-c client_connection_check_interval=5000'", 150000) == {}
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PGOPTIONS", "-c search_path=app")
        assert _client_check_options("host=db", 150000) == {"options": f"-c search_path=app {check}"}
    for bad in (0, -1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
            PostgresEventStorageAdapter("host=db", timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="connect_timeout must be a positive number of seconds"):
            PostgresEventStorageAdapter("host=db", connect_timeout=bad)  # type: ignore[arg-type]


async def test_a_given_connection_serves_one_call_at_a_time_and_stays_open(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    # Not in autocommit: the adapter must still end every transaction it starts.
    async with await psycopg.AsyncConnection.connect(url) as connection:
        adapter = PostgresEventStorageAdapter(connection=connection, schema=schema)
        pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
        pushed = await asyncio.gather(*(pokemons.push_event(appeared(f"p{i}", timestamp=T0)) for i in range(10)))
        reads = await asyncio.gather(*(pokemons.get_events(f"p{i}") for i in range(10)))
        assert reads == [[result.event] for result in pushed]
        await EventStore.push_event_group(
            pokemons.group_event(leveled_up("p0", version=2)), trainers.group_event(registered("ash"))
        )
        assert len(await pokemons.get_events("p0")) == 2
        assert ids((await pokemons.list_aggregate_ids(limit=3)).aggregate_ids) == ["p0", "p1", "p2"]
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        await adapter.close()
        assert not connection.closed
        assert await (await connection.execute("SELECT count(*) FROM " + f'"{schema}".{TABLE}')).fetchone() == (12,)


async def test_a_given_pool_is_used_and_stays_open(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    async with psycopg_pool.AsyncConnectionPool(url, min_size=1, max_size=3, open=False) as pool:
        adapter = PostgresEventStorageAdapter(pool=pool, schema=schema)
        pokemons = pokemons_store(adapter)
        pushed = await asyncio.gather(*(pokemons.push_event(appeared(f"p{i}")) for i in range(10)))
        reads = await asyncio.gather(*(pokemons.get_events(f"p{i}") for i in range(10)))
        assert reads == [[result.event] for result in pushed]
        await adapter.close()
        assert not pool.closed
        async with pool.connection() as connection:
            assert await (await connection.execute("SELECT 1")).fetchone() == (1,)
        assert len(await pokemons.get_events("p3")) == 1  # still usable after close()


async def test_a_lost_connection_of_the_adapters_pool_is_replaced_without_an_error(
    with_table: tuple[str, str],
) -> None:
    url, schema = with_table
    application = unique_name("kastor_lost")
    async with PostgresEventStorageAdapter(named(url, application), schema=schema) as adapter:
        pokemons = pokemons_store(adapter)
        first = await pokemons.push_event(appeared("pikachu"))
        before = backends(url, application)
        assert terminate(url, application) == len(before) >= 1
        assert eventually(lambda: not set(backends(url, application)) & set(before))
        # The pool checks a connection before lending it when the connection has something to read, as
        # one has once its server process said goodbye: the dead one is replaced, the call succeeds.
        assert await pokemons.get_events("pikachu") == [first.event]
        second = await pokemons.push_event(leveled_up("pikachu", version=2))
        assert await pokemons.get_events("pikachu") == [first.event, second.event]


async def test_a_lost_connection_of_a_given_pool_without_checks_fails_one_call(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    application = unique_name("kastor_lost")
    async with psycopg_pool.AsyncConnectionPool(named(url, application), min_size=1, max_size=1, open=False) as pool:
        pokemons = pokemons_store(PostgresEventStorageAdapter(pool=pool, schema=schema))
        first = await pokemons.push_event(appeared("pikachu"))
        assert terminate(url, application) == 1
        # Without `check=`, the pool lends the dead connection once, then replaces it.
        with pytest.raises(EventStorageError) as lost:
            await pokemons.get_events("pikachu")
        assert "PostgreSQL at 127.0.0.1:5432 (database test)" in str(lost.value)
        assert isinstance(lost.value.__cause__, psycopg.OperationalError)
        assert await pokemons.get_events("pikachu") == [first.event]


async def test_a_lost_given_connection_fails_every_call(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    application = unique_name("kastor_lost")
    async with await psycopg.AsyncConnection.connect(named(url, application), autocommit=True) as connection:
        pokemons = pokemons_store(PostgresEventStorageAdapter(connection=connection, schema=schema))
        await pokemons.push_event(appeared("pikachu"))
        assert terminate(url, application) == 1
        # A connection the adapter was given is not its to replace: each call says it is lost.
        for _ in range(2):
            with pytest.raises(EventStorageError) as lost:
                await pokemons.get_events("pikachu")
            assert isinstance(lost.value.__cause__, psycopg.OperationalError)


def test_the_adapters_pool_closes_with_its_event_loop_and_reopens_in_the_next(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    application = unique_name("kastor_loops")
    adapter = PostgresEventStorageAdapter(named(url, application), schema=schema, min_size=2)
    pokemons = pokemons_store(adapter)
    # asyncio.run cancels every task as it ends: the pool is closed then, in its own loop (its
    # workers would otherwise hang the end of the loop).
    asyncio.run(pokemons.push_event(appeared("pikachu")))
    assert eventually(lambda: backends(url, application) == [])
    # A later loop gets a pool of its own.
    assert len(asyncio.run(pokemons.get_events("pikachu"))) == 1
    assert eventually(lambda: backends(url, application) == [])
    # close() works from any loop, and twice.
    asyncio.run(adapter.close())
    asyncio.run(adapter.close())
    assert eventually(lambda: backends(url, application) == [])


async def test_close_closes_what_the_adapter_opened_and_it_reopens_when_used(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    application = unique_name("kastor_close")
    adapter = PostgresEventStorageAdapter(named(url, application), schema=schema)
    pokemons = pokemons_store(adapter)
    await pokemons.push_event(appeared("pikachu"))
    assert backends(url, application) != []
    await adapter.close()
    assert eventually(lambda: backends(url, application) == [])
    assert len(await pokemons.get_events("pikachu")) == 1
    await adapter.close()
    assert eventually(lambda: backends(url, application) == [])


async def test_a_reader_never_sees_part_of_a_group(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    groups = 40
    async with (
        PostgresEventStorageAdapter(url, schema=schema) as writer,
        PostgresEventStorageAdapter(url, schema=schema) as reader,
        await psycopg.AsyncConnection.connect(url, autocommit=True) as raw,
    ):
        pokemons, trainers = pokemons_store(writer), trainers_store(writer)
        await pokemons.push_event(appeared("pikachu"))
        await trainers.push_event(registered("ash"))
        reading = pokemons_store(reader)
        done = asyncio.Event()
        seen: set[tuple[int, int]] = set()

        async def read() -> int:
            reads = 0
            while not done.is_set():
                # One aggregate through the adapter: its two events of a group come together.
                versions = [event.version for event in await reading.get_events("pikachu")]
                assert versions == list(range(1, len(versions) + 1))
                assert len(versions) % 2 == 1, versions
                # Both stores in one statement: a group's events of both stores come together.
                cursor = await raw.execute(
                    "SELECT count(*) FILTER (WHERE event_store_id = 'pokemons'), "
                    f"count(*) FILTER (WHERE event_store_id = 'trainers') FROM \"{schema}\".{TABLE}"
                )
                counts = await cursor.fetchone()
                assert counts is not None
                pokemon_count, trainer_count = counts
                assert pokemon_count == 2 * trainer_count - 1, counts
                seen.add(counts)
                reads += 1
                await asyncio.sleep(0)
            return reads

        async def write() -> None:
            try:
                for i in range(1, groups + 1):
                    await EventStore.push_event_group(
                        pokemons.group_event(leveled_up("pikachu", version=2 * i)),
                        trainers.group_event(trainer_caught("ash", version=i + 1, pokemon_id=f"p{i}")),
                        pokemons.group_event(leveled_up("pikachu", version=2 * i + 1)),
                    )
            finally:
                done.set()

        reads, _ = await asyncio.gather(read(), write())
        assert reads > 0
        assert len(seen) > 1  # the reader did read while the groups were being written
        assert len(await reading.get_events("pikachu")) == 2 * groups + 1


async def test_a_deadlock_between_two_writers_is_a_conflict_for_its_victim(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    application = unique_name("kastor_deadlock")
    table = f'"{schema}".{TABLE}'
    async with (
        PostgresEventStorageAdapter(named(url, application), schema=schema) as adapter,
        await psycopg.AsyncConnection.connect(url) as other,
    ):
        pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
        # Another writer stores trainers/ash v1 (not committed yet), and later pokemons/pikachu v1; it
        # checks for deadlocks after 5 s, the adapter's session after 1 s (the default): it is the victim.
        await other.execute("SET deadlock_timeout = '5s'")
        insert = f"INSERT INTO {table} VALUES (%s, %s, 1, %s, now(), %s::jsonb, %s::jsonb)"
        await other.execute(insert, ("trainers", "ash", "TRAINER_REGISTERED", '{"name": "Ash"}', None))
        group = asyncio.create_task(
            EventStore.push_event_group(
                pokemons.group_event(appeared("pikachu")), trainers.group_event(registered("ash"))
            )
        )
        waiting = "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
        deadline = time.monotonic() + 10
        while not execute(url, waiting, (application,)):  # (another connection: each read is fresh)
            assert time.monotonic() < deadline, "the adapter never waited for the other writer's row"
            await asyncio.sleep(0.01)
        pika = '{"name": "Pika", "level": 1, "pokemon_type": "electric"}'
        await other.execute(insert, ("pokemons", "pikachu", "POKEMON_APPEARED", pika, "{}"))
        with pytest.raises(EventAlreadyExistsError) as conflict:
            await asyncio.wait_for(group, timeout=10)
        await other.commit()
        assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
            "trainers",
            "ash",
            1,
        )
        assert isinstance(conflict.value.__cause__, psycopg.errors.DeadlockDetected)
        [pikachu] = await pokemons.get_events("pikachu")
        assert pikachu.payload.name == "Pika"  # the other writer's


async def test_a_bad_row_is_a_decode_error_naming_it(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    execute(
        url,
        f"INSERT INTO \"{schema}\".{TABLE} VALUES ('pokemons', 'missingno', 1, 'POKEMON_APPEARED', now(), "
        "'{\"name\": 1}', NULL)",
    )
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        with pytest.raises(EventDecodeError) as bad:
            await pokemons_store(adapter).get_events("missingno")
    assert (bad.value.event_store_id, bad.value.aggregate_id, bad.value.version) == ("pokemons", "missingno", 1)


async def test_a_nul_character_is_refused_in_an_id_before_postgresql_and_kept_in_a_payload(
    with_table: tuple[str, str],
) -> None:
    url, schema = with_table
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        pokemons = pokemons_store(adapter)
        # PostgreSQL's text cannot hold NUL: every adapter refuses such an id alike, before storage.
        with pytest.raises(InvalidEventError, match="NUL"):
            await EventStore.push_event_group(
                pokemons.group_event(appeared("fine")), pokemons.group_event(appeared("nul\x00"))
            )
        assert (await pokemons.list_aggregate_ids()).aggregate_ids == []
        # A JSON string holds it (escaped as \u0000): json columns keep the text, and it comes back.
        nul_in_json = (await pokemons.push_event(appeared("json", name="nul\x00"))).event
        assert await pokemons.get_events("json") == [nul_in_json]


@pytest.mark.parametrize("session_zone", ["Asia/Tokyo", "America/Anchorage"])
async def test_timestamps_at_the_ends_of_the_years_read_back_whatever_the_session_time_zone(
    with_table: tuple[str, str], session_zone: str
) -> None:
    # PostgreSQL hands timestamptz over in the session's zone: 9999-12-31T23:30Z is year 10000 in Tokyo,
    # 0001-01-01T00:30Z year 0 in Anchorage, and datetime holds neither.
    url, schema = with_table
    zoned = f"{url}?options=-c%20TimeZone%3D{session_zone.replace('/', '%2F')}"
    last, first = datetime(9999, 12, 31, 23, 30, tzinfo=UTC), datetime(1, 1, 1, 0, 30, tzinfo=UTC)
    async with PostgresEventStorageAdapter(zoned, schema=schema) as adapter:
        assert execute(zoned, "SHOW TimeZone") == [(session_zone,)]
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("last", timestamp=last))
        await pokemons.push_event(appeared("first", timestamp=first))
        [last_event] = await pokemons.get_events("last")
        [first_event] = await pokemons.get_events("first")
        assert (last_event.timestamp, first_event.timestamp) == (last, first)
        listed = (await pokemons.list_aggregate_ids()).aggregate_ids
        assert [(entry.aggregate_id, entry.initial_event_timestamp) for entry in listed] == [
            ("first", first),
            ("last", last),
        ]
        around = await pokemons.list_aggregate_ids(initial_event_after=first, initial_event_before=last, limit=1)
        assert around.next_page_token is not None
        rest = await pokemons.list_aggregate_ids(page_token=around.next_page_token)
        assert ids(rest.aggregate_ids) == ["last"]


async def test_aggregate_ids_are_ordered_by_code_point_like_every_adapter(with_table: tuple[str, str]) -> None:
    url, schema = with_table
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        pokemons = pokemons_store(adapter)
        odd = ["b", "B", "é", "a", "Z", "_", "a b", "ab", "e"]
        for aggregate_id in odd:
            await pokemons.push_event(appeared(aggregate_id, timestamp=T0))
        listed = ids((await pokemons.list_aggregate_ids()).aggregate_ids)
        assert listed == sorted(odd)
        walked: list[str] = []
        page = await pokemons.list_aggregate_ids(limit=2)
        walked += ids(page.aggregate_ids)
        while page.next_page_token is not None:
            page = await pokemons.list_aggregate_ids(page_token=page.next_page_token)
            walked += ids(page.aggregate_ids)
        assert walked == sorted(odd)
        # The direct interface with the same store id as the pokedex's.
        assert await adapter.get_events(POKEMONS, "é", EventsQuery()) == await pokemons.get_events("é")


def test_schema_names_and_sources_are_checked() -> None:
    assert schema_sql("app") == SCHEMA_SQL.format(schema="app")
    assert 'CREATE TABLE IF NOT EXISTS "public"."kastor_events"' in schema_sql()
    for invalid in ("", "1app", "app-1", 'a"b', "a;b", "x" * 64, "é"):
        with pytest.raises(ValueError, match="invalid PostgreSQL schema name"):
            schema_sql(invalid)
        with pytest.raises(ValueError, match="invalid PostgreSQL schema name"):
            PostgresEventStorageAdapter("", schema=invalid)
    with pytest.raises(ValueError, match="one of conninfo, pool and connection"):
        PostgresEventStorageAdapter("postgresql://", pool=object())
    with pytest.raises(ValueError, match="min_size"):
        PostgresEventStorageAdapter("postgresql://", min_size=3, max_size=2)
    assert "secret" not in repr(PostgresEventStorageAdapter("postgresql://me:secret@db:6543/app"))
    assert repr(PostgresEventStorageAdapter("postgresql://me:secret@db:6543/app", schema="s")) == (
        "PostgresEventStorageAdapter('PostgreSQL at db:6543 (database app)', schema='s')"
    )


def test_the_runtime_imports_without_psycopg_and_says_what_to_install() -> None:
    script = """
import asyncio, sys
sys.modules["psycopg"] = None  # as if not installed
sys.modules["psycopg_pool"] = None
from pokedex import EventStorageError, PostgresEventStorageAdapter, PokemonsEventStore
from pokedex.runtime.storage import EventsQuery, StorageContext
from pokedex import POKEMONS_EVENT_CODEC
adapter = PostgresEventStorageAdapter("postgresql://127.0.0.1/test")
try:
    asyncio.run(adapter.get_events(StorageContext("pokemons", POKEMONS_EVENT_CODEC), "x", EventsQuery()))
except EventStorageError as error:
    print(error)
"""
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=EXAMPLES,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES)},
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "install psycopg[binary] and psycopg-pool" in completed.stdout


async def test_drop_schema_removes_the_schema_and_refuses_public() -> None:
    url = require_postgres()
    schema = unique_name("kastor_drop")
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        await pokemons_store(adapter).push_event(appeared())
        await adapter.drop_schema()
        with pytest.raises(EventStorageError, match="create_schema"):
            await pokemons_store(adapter).get_events("pikachu-1")
    with pytest.raises(ValueError, match="public"):
        await PostgresEventStorageAdapter(url).drop_schema()


# -- stored JSON comes back exactly as pushed (issue 15, R8) ----------------------------------------------

#: Free-form values (undeclared properties, which payload models keep) that jsonb would change: floats in
#: exponent form read back as integers, -0.0 loses its sign, object keys come back sorted, plus edges that
#: must survive as they are (the smallest subnormal, the largest float, integers past 64 bits).
FREE_FORM: dict[str, Any] = {
    "zeta": 1e20,
    "largest": 1e308,
    "max_float": 1.7976931348623157e308,
    "negative_zero": -0.0,
    "subnormal": 5e-324,
    "one": 1.0,
    "small": 1.5e-7,
    "big_int": 2**70,
    "negative_big_int": -(10**40),
    "nested": {"z": 1, "a": [1e21, -0.0, {"y": 2, "b": 3}], "m": 2.5e16},
    "alpha": "first key in jsonb's order, last here",
}


def free_form_appeared(aggregate_id: str) -> Any:
    payload = PokemonAppearedPayload(name="Mew", level=5, pokemon_type="psychic", **FREE_FORM)
    return appeared(aggregate_id).model_copy(update={"payload": payload})


def stored_columns(url: str, schema: str, aggregate_id: str) -> tuple[Any, ...]:
    [row] = execute(
        url,
        f'SELECT payload::text, metadata::text FROM "{schema}".{TABLE} WHERE aggregate_id = %s',
        (aggregate_id,),
    )
    return row


async def test_payloads_come_back_exactly_as_pushed_numbers_and_key_order_included(
    database: tuple[str, str],
) -> None:
    url, schema = database
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        pokemons = pokemons_store(adapter)
        pushed = (await pokemons.push_event(free_form_appeared("mew"))).event
        [read] = await pokemons.get_events("mew")
    assert POKEMONS_EVENT_CODEC.to_json(read) == POKEMONS_EVENT_CODEC.to_json(pushed)
    extras = read.payload.model_extra or {}
    assert list(extras) == list(FREE_FORM)
    for name, value in FREE_FORM.items():
        assert type(extras[name]) is type(value), name
        assert repr(extras[name]) == repr(value), name  # -0.0 and 0.0 are equal, but not alike
    assert list(extras["nested"]) == ["z", "a", "m"]
    # The column holds the codec's text, byte for byte.
    payload_text, _ = stored_columns(url, schema, "mew")
    assert payload_text == json.dumps(
        POKEMONS_EVENT_CODEC.to_dict(pushed)["payload"], separators=(",", ":"), ensure_ascii=False
    )


def legacy_schema_sql(schema: str) -> str:
    """The tables as Kastor created them before it stored JSON as json: jsonb columns."""
    return re.sub(r"\bJSON\b", "JSONB", schema_sql(schema))


async def test_a_legacy_jsonb_table_refuses_what_jsonb_would_change_until_migrated_to_json(
    database: tuple[str, str],
) -> None:
    url, schema = database
    execute(url, legacy_schema_sql(schema))
    table = f'"{schema}"."{TABLE}"'
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
        # Refused before anything is written, naming the value, its path, the column and the migration.
        with pytest.raises(EventStorageError) as refused:
            await EventStore.push_event_group(
                trainers.group_event(registered("ash")), pokemons.group_event(free_form_appeared("mew"))
            )
        message = str(refused.value)
        assert "PostgreSQL at 127.0.0.1:5432 (database test): cannot store pokemons/mew v1" in message
        assert "its payload.zeta is 1e+20, which jsonb would give back as an integer" in message
        assert f"ALTER TABLE {table} ALTER COLUMN payload TYPE json" in message
        for path, value, becomes in [
            ("payload.nested.a[1]", {"nested": {"a": [1.5, -0.0]}}, "-0.0, which jsonb would give back as 0.0"),
            ("payload.largest", {"largest": 1e308}, "1e+308, which jsonb would give back as an integer"),
            ("payload.a[0].b", {"a": [{"b": 2.5e16}]}, "2.5e+16, which jsonb would give back as an integer"),
        ]:
            payload = PokemonAppearedPayload(name="Mew", level=5, pokemon_type="psychic", **value)
            with pytest.raises(EventStorageError, match=re.escape(f"its {path} is {becomes}")):
                await pokemons.push_event(appeared("mew").model_copy(update={"payload": payload}))
        assert execute(url, f"SELECT count(*) FROM {table}") == [(0,)]
        # What jsonb gives back as it was pushed is stored: other floats, integers of any size.
        kept = {"one": 1.0, "small": 1.5e-7, "subnormal": 5e-324, "big_int": 2**70, "zero": 0.0}
        payload = PokemonAppearedPayload(name="Mew", level=5, pokemon_type="psychic", **kept)
        pushed = (await pokemons.push_event(appeared("kept").model_copy(update={"payload": payload}))).event
        [read] = await pokemons.get_events("kept")
        assert {name: repr(value) for name, value in (read.payload.model_extra or {}).items()} == {
            name: repr(value) for name, value in kept.items()
        }
        assert read == pushed

        # The documented migration: the same adapter then stores it exactly.
        execute(url, f"ALTER TABLE {table} ALTER COLUMN payload TYPE json, ALTER COLUMN metadata TYPE json")
        pushed = (await pokemons.push_event(free_form_appeared("mew"))).event
        [read] = await pokemons.get_events("mew")
        assert POKEMONS_EVENT_CODEC.to_json(read) == POKEMONS_EVENT_CODEC.to_json(pushed)
        assert len(await pokemons.get_events("kept")) == 1  # migrated rows read as before
