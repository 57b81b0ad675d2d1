"""The transactional outbox: the conformance suite on the in-memory, SQLite and PostgreSQL adapters, what is
particular to PostgreSQL (its table), and what needs no storage: the wiring errors, the backoff and the
`Deduplicator` that at-least-once delivery asks of consumers."""

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.outbox_conformance")

from .outbox_conformance import (  # noqa: E402
    OutboxConformance,
    OutboxRow,
    RecordingSink,
    SharedDatabaseOutboxConformance,
)
from .pokedex_builders import appeared, pokemons_store  # noqa: E402
from .services import postgres_schema  # noqa: E402

# isort: split
from pokedex import (  # noqa: E402
    MESSAGE_CODEC,
    AggregateIdEntry,
    AggregateIdsQuery,
    AppMessageBus,
    ConnectedEventStore,
    Deduplicator,
    DeliveryContext,
    Event,
    EventsQuery,
    EventStorageAdapter,
    EventStorageError,
    InMemoryEventStorageAdapter,
    NotificationMessage,
    OutboxBackoff,
    OutboxRelay,
    OutboxStorage,
    PokemonAppearedPayload,
    PokemonNotificationsQueue,
    PostgresEventStorageAdapter,
    SQLiteEventStorageAdapter,
    StorageContext,
)
from pokedex.runtime.postgres_storage import OUTBOX_TABLE, schema_sql  # noqa: E402

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test

# -- the conformance suite ---------------------------------------------------------------------------


class TestInMemoryOutbox(OutboxConformance):
    def make_adapter(self) -> EventStorageAdapter:
        return InMemoryEventStorageAdapter()

    async def outbox_rows(self, adapter: EventStorageAdapter) -> list[OutboxRow]:
        assert isinstance(adapter, InMemoryEventStorageAdapter)
        return [
            OutboxRow(
                (
                    entry.message.message_channel_id,
                    entry.message.event_store_id,
                    entry.message.aggregate_id,
                    entry.message.version,
                ),
                entry.done,
                entry.attempts,
                entry.claimed_by,
                entry.retry_at,
                entry.last_error,
            )
            for entry in adapter._outbox
        ]


class TestSQLiteOutbox(SharedDatabaseOutboxConformance):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.path = tmp_path / "events.sqlite3"

    def make_adapter(self) -> EventStorageAdapter:
        return SQLiteEventStorageAdapter(self.path)

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        return functools.partial(SQLiteEventStorageAdapter, self.path)

    async def outbox_rows(self, adapter: EventStorageAdapter) -> list[OutboxRow]:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute(
                "SELECT message_channel_id, event_store_id, aggregate_id, version, done, attempts, claimed_by, "
                "retry_at, last_error FROM kastor_outbox ORDER BY id"
            ).fetchall()
        return [
            OutboxRow(
                (channel, store, aggregate, version),
                bool(done),
                attempts,
                claimed_by,
                None if retry_at is None else datetime.fromisoformat(retry_at),
                last_error,
            )
            for channel, store, aggregate, version, done, attempts, claimed_by, retry_at, last_error in rows
        ]


def postgres_rows(url: str, schema: str) -> list[OutboxRow]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT message_channel_id, event_store_id, aggregate_id, version, done, attempts, claimed_by, retry_at, "
            f'last_error FROM "{schema}"."{OUTBOX_TABLE}" ORDER BY id'
        ).fetchall()
    return [
        OutboxRow((channel, store, aggregate, version), done, attempts, claimed_by, retry_at, last_error)
        for channel, store, aggregate, version, done, attempts, claimed_by, retry_at, last_error in rows
    ]


def execute(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(sql)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description is not None else []


@pytest.mark.service
class TestPostgresOutbox(SharedDatabaseOutboxConformance):
    @pytest.fixture(autouse=True)
    def _table(self, postgres_schema_fixture: tuple[str, str]) -> None:
        self.url, self.schema = postgres_schema_fixture
        execute(self.url, schema_sql(self.schema))

    def make_adapter(self) -> EventStorageAdapter:
        return PostgresEventStorageAdapter(self.url, schema=self.schema)

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        return functools.partial(PostgresEventStorageAdapter, self.url, schema=self.schema)

    async def outbox_rows(self, adapter: EventStorageAdapter) -> list[OutboxRow]:
        return postgres_rows(self.url, self.schema)


# -- PostgreSQL: the table -----------------------------------------------------------------------------


@pytest.mark.service
def test_the_postgres_outbox_table_and_its_pending_index(postgres_schema_fixture: tuple[str, str]) -> None:
    url, schema = postgres_schema_fixture
    execute(url, schema_sql(schema))
    execute(url, schema_sql(schema))  # idempotent
    columns = execute(
        url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{OUTBOX_TABLE}' ORDER BY ordinal_position",
    )
    assert columns == [
        ("id", "bigint", "NO"),
        ("message_channel_id", "text", "NO"),
        ("event_store_id", "text", "NO"),
        ("aggregate_id", "text", "NO"),
        ("version", "integer", "NO"),
        ("body", "json", "NO"),
        ("done", "boolean", "NO"),
        ("attempts", "integer", "NO"),
        ("claimed_by", "text", "YES"),
        ("claimed_until", "timestamp with time zone", "YES"),
        ("retry_at", "timestamp with time zone", "YES"),
        ("last_error", "text", "YES"),
    ]
    [(definition,)] = execute(
        url, f"SELECT indexdef FROM pg_indexes WHERE schemaname = '{schema}' AND indexname = 'kastor_outbox_pending'"
    )
    assert "(message_channel_id, event_store_id, aggregate_id, version) WHERE (NOT done)" in definition


@pytest.mark.service
async def test_the_postgres_outbox_keeps_a_body_exactly_and_a_legacy_jsonb_body_refuses_what_jsonb_would_change(
    postgres_schema_fixture: tuple[str, str],
) -> None:
    url, schema = postgres_schema_fixture
    execute(url, schema_sql(schema))
    outbox_table = f'"{schema}"."{OUTBOX_TABLE}"'
    payload = PokemonAppearedPayload(name="Mew", level=5, pokemon_type="psychic", zeta=1e20, sign=-0.0, alpha=1)
    mew = appeared("mew").model_copy(update={"payload": payload})
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        store = pokemons_store(adapter)
        connected = ConnectedEventStore(
            store, AppMessageBus(RecordingSink("app_message_bus")), delivery="outbox", message_codec=MESSAGE_CODEC
        )
        await connected.push_event(mew)
        [pending] = await adapter.claim_outbox_messages(
            relay_id="r", limit=10, lease=timedelta(seconds=30), now=datetime.now(UTC)
        )
        # The body is the codec's text as it is (json, not jsonb): its numbers and key order kept.
        assert pending.message.body == MESSAGE_CODEC.to_json(MESSAGE_CODEC.from_json(pending.message.body)).decode()
        assert '"zeta":1e+20,"sign":-0.0,"alpha":1' in pending.message.body

    # A body column left jsonb by an earlier version refuses a message it would change, event and all.
    execute(url, f"ALTER TABLE {outbox_table} ALTER COLUMN body TYPE jsonb")
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        store = pokemons_store(adapter)
        connected = ConnectedEventStore(
            store, AppMessageBus(RecordingSink("app_message_bus")), delivery="outbox", message_codec=MESSAGE_CODEC
        )
        with pytest.raises(EventStorageError) as refused:
            await connected.push_event(appeared("mew").model_copy(update={"aggregate_id": "mew-2", "payload": payload}))
        message = str(refused.value)
        assert "cannot store the outbox message of pokemons/mew-2 v1 for app_message_bus" in message
        assert "1e+20, which jsonb would give back as an integer" in message
        assert f"ALTER TABLE {outbox_table} ALTER COLUMN body TYPE json" in message
        assert await store.get_events("mew-2") == []  # one transaction: the event is not stored either
        await connected.push_event(appeared("pikachu"))  # a message jsonb keeps as it is stays welcome
        assert await adapter.count_pending_outbox_messages() == 2  # mew (claimed, not done) and pikachu


@pytest.mark.service
async def test_a_database_without_the_outbox_table_says_so_and_create_schema_adds_it(
    postgres_schema_fixture: tuple[str, str],
) -> None:
    url, schema = postgres_schema_fixture
    execute(url, schema_sql(schema))
    execute(url, f'DROP TABLE "{schema}"."{OUTBOX_TABLE}"')  # a database of the events table only
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        store = pokemons_store(adapter)
        connected = ConnectedEventStore(
            store, AppMessageBus(RecordingSink("app_message_bus")), delivery="outbox", message_codec=MESSAGE_CODEC
        )
        await store.push_event(appeared("mew"))  # events alone still work
        with pytest.raises(EventStorageError) as missing:
            await connected.push_event(appeared())
        assert f'the table "{schema}"."{OUTBOX_TABLE}" does not exist' in str(missing.value)
        assert await store.get_events("pikachu-1") == []  # the event was not stored either
        with pytest.raises(EventStorageError, match=OUTBOX_TABLE):
            await adapter.count_pending_outbox_messages()

        await adapter.create_schema()
        await connected.push_event(appeared())
        assert await adapter.count_pending_outbox_messages() == 1


# -- wiring errors ---------------------------------------------------------------------------------------


class NoOutboxAdapter(EventStorageAdapter):
    """A storage adapter that keeps no outbox (its events in memory)."""

    def __init__(self) -> None:
        self.inner = InMemoryEventStorageAdapter()

    async def push_events(self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool = False) -> None:
        await self.inner.push_events(events, force=force)

    async def get_events(self, context: StorageContext[Any], aggregate_id: str, query: EventsQuery) -> list[Any]:
        return await self.inner.get_events(context, aggregate_id, query)

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        return await self.inner.list_aggregate_ids(context, query)


async def test_outbox_delivery_on_an_adapter_without_outbox_is_a_type_error_storing_nothing() -> None:
    adapter = NoOutboxAdapter()
    assert not isinstance(adapter, OutboxStorage)
    store = pokemons_store(adapter)
    connected = ConnectedEventStore(
        store, AppMessageBus(RecordingSink("app_message_bus")), delivery="outbox", message_codec=MESSAGE_CODEC
    )
    with pytest.raises(TypeError, match="NoOutboxAdapter"):
        await connected.push_event(appeared())
    assert await store.get_events("pikachu-1") == []
    with pytest.raises(TypeError, match="NoOutboxAdapter keeps no outbox"):
        OutboxRelay(adapter, [], MESSAGE_CODEC)  # type: ignore[arg-type]
    # Direct delivery needs no outbox.
    direct = ConnectedEventStore(store, AppMessageBus(RecordingSink("app_message_bus")))
    await direct.push_event(appeared())
    assert len(await store.get_events("pikachu-1")) == 1


def test_outbox_delivery_without_a_message_codec_is_a_value_error() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    with pytest.raises(ValueError, match="message_codec=MESSAGE_CODEC"):
        ConnectedEventStore(store, AppMessageBus(RecordingSink("bus")), delivery="outbox")
    with pytest.raises(ValueError, match="'direct' or 'outbox'"):
        ConnectedEventStore(store, AppMessageBus(RecordingSink("bus")), delivery="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        OutboxRelay(InMemoryEventStorageAdapter(), [], MESSAGE_CODEC, batch_size=0)


def test_the_backoff_grows_by_its_factor_up_to_its_maximum() -> None:
    backoff = OutboxBackoff(initial=0.5, factor=2.0, maximum=3.0)
    assert [backoff.delay(attempts) for attempts in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert OutboxBackoff().delay(1) == 0.5


# -- Deduplicator ----------------------------------------------------------------------------------------

CONTEXT = DeliveryContext(attempt_number=1, retries_left=0, replay=False)


def message(aggregate_id: str = "pikachu-1", version: int = 1, store: str = "pokemons") -> Any:
    event = appeared(aggregate_id) if version == 1 else appeared(aggregate_id).model_copy(update={"version": version})
    return NotificationMessage(store, event)


async def test_a_deduplicated_handler_runs_once_per_store_aggregate_and_version() -> None:
    deduplicator = Deduplicator()
    handled: list[tuple[str, str, int]] = []

    async def handler(received: Any, context: DeliveryContext) -> None:
        handled.append((received.event_store_id, received.event.aggregate_id, received.event.version))

    once = deduplicator.deduplicated(handler)
    for delivered in [message(), message(), message(version=2), message("eevee"), message(), message(store="trainers")]:
        await once(delivered, CONTEXT)
    assert handled == [
        ("pokemons", "pikachu-1", 1),
        ("pokemons", "pikachu-1", 2),
        ("pokemons", "eevee", 1),
        ("trainers", "pikachu-1", 1),
    ]
    assert deduplicator.duplicates == 2


async def test_a_failed_handling_is_not_remembered_so_the_redelivery_is_handled() -> None:
    deduplicator = Deduplicator()
    calls: list[int] = []

    async def flaky(received: Any, context: DeliveryContext) -> None:
        calls.append(context.attempt_number)
        if len(calls) == 1:
            raise RuntimeError("database down")

    once = deduplicator.deduplicated(flaky)
    with pytest.raises(RuntimeError):
        await once(message(), CONTEXT)
    await once(message(), DeliveryContext(attempt_number=2, retries_left=0, replay=False))
    await once(message(), CONTEXT)
    assert calls == [1, 2]
    assert deduplicator.duplicates == 1


async def test_the_deduplicator_remembers_at_most_max_entries() -> None:
    deduplicator = Deduplicator(max_entries=2)
    handled: list[str] = []

    async def handler(received: Any, context: DeliveryContext) -> None:
        handled.append(received.event.aggregate_id)

    once = deduplicator.deduplicated(handler)
    for aggregate_id in ["a", "b", "c", "c", "a"]:  # "a" was forgotten when "c" came
        await once(message(aggregate_id), CONTEXT)
    assert handled == ["a", "b", "c", "a"]
    assert len(deduplicator._seen) == 2
    assert deduplicator.duplicates == 1

    assert deduplicator.first_time(message("z")) is True
    assert deduplicator.first_time(message("z")) is False
    assert len(deduplicator._seen) == 2


async def test_a_consumer_behind_a_redelivering_relay_handles_each_event_once() -> None:
    """At least once, then exactly once in effect: a relay that died after publishing publishes again."""
    adapter = InMemoryEventStorageAdapter()
    store = pokemons_store(adapter)
    connected = ConnectedEventStore(
        store, PokemonNotificationsQueue(RecordingSink("q")), delivery="outbox", message_codec=MESSAGE_CODEC
    )
    await connected.push_event(appeared())
    deduplicator = Deduplicator()
    handled: list[Any] = []

    async def handler(received: Any, context: DeliveryContext) -> None:
        handled.append(received)

    once = deduplicator.deduplicated(handler)

    class Consumer(RecordingSink):
        async def publish_message(self, received: Any, *, replay: bool = False) -> None:
            await once(received, CONTEXT)

    now = datetime.now().astimezone()
    [claimed] = await adapter.claim_outbox_messages(relay_id="dead", limit=1, lease=timedelta(seconds=1), now=now)
    await once(MESSAGE_CODEC.from_json(claimed.message.body), CONTEXT)  # published, then the relay died
    relay = OutboxRelay(
        adapter, [PokemonNotificationsQueue(Consumer("q"))], MESSAGE_CODEC, clock=lambda: now + timedelta(seconds=1)
    )
    assert await relay.relay_once() == 1
    assert len(handled) == 1
    assert deduplicator.duplicates == 1


async def test_a_sqlite_outbox_body_that_is_not_utf8_fails_alone_and_the_others_are_published(tmp_path: Path) -> None:
    """Python's sqlite3 fails a whole read on one text that is not UTF-8: such a body (written by other
    means) must not jam every relay. It is refused for itself, retried with backoff and its error kept."""
    adapter = SQLiteEventStorageAdapter(tmp_path / "outbox.sqlite3")
    sink = RecordingSink("q")
    connected = ConnectedEventStore(
        pokemons_store(adapter), PokemonNotificationsQueue(sink), delivery="outbox", message_codec=MESSAGE_CODEC
    )
    await connected.push_event(appeared("pikachu-1"))
    await connected.push_event(appeared("eevee"))
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as connection:
        connection.execute(
            "UPDATE kastor_outbox SET body = REPLACE(body, 'pikachu', CAST(x'ff' AS TEXT)) "
            "WHERE aggregate_id = 'pikachu-1'"
        )
    connection.close()
    relay = OutboxRelay(adapter, [PokemonNotificationsQueue(sink)], MESSAGE_CODEC)
    assert await relay.relay_once() == 1
    assert [received.event.aggregate_id for _, received in sink.log] == ["eevee"]
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as connection:
        [(done, attempts, last_error)] = connection.execute(
            "SELECT done, attempts, last_error FROM kastor_outbox WHERE aggregate_id = 'pikachu-1'"
        ).fetchall()
    connection.close()
    assert (done, attempts) == (0, 1)
    assert "MessageDecodeError" in last_error and "lone surrogate" in last_error
    await adapter.close()


async def test_a_running_relay_outlives_storage_errors_and_publishes_once_the_storage_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class UnreachableForAWhile(InMemoryEventStorageAdapter):
        failures_left = 2

        async def claim_outbox_messages(
            self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
        ) -> list[Any]:
            if self.failures_left:
                self.failures_left -= 1
                raise EventStorageError("the database is unreachable")
            return await super().claim_outbox_messages(relay_id=relay_id, limit=limit, lease=lease, now=now)

    adapter = UnreachableForAWhile()
    sink = RecordingSink("q")
    connected = ConnectedEventStore(
        pokemons_store(adapter), PokemonNotificationsQueue(sink), delivery="outbox", message_codec=MESSAGE_CODEC
    )
    await connected.push_event(appeared())
    backoff = OutboxBackoff(initial=0.01, maximum=0.02)
    relay = OutboxRelay(adapter, [PokemonNotificationsQueue(sink)], MESSAGE_CODEC, backoff=backoff)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop, idle_interval=0.01))
    for _ in range(500):  # at most 5 s: a bound on a hang, not a measure of speed
        if sink.log or running.done():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert [received.event.aggregate_id for _, received in sink.log] == ["pikachu-1"]
    warnings = [record.getMessage() for record in caplog.records if "storage failed" in record.getMessage()]
    assert len(warnings) == 2 and "the database is unreachable" in warnings[0]
