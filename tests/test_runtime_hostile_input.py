"""Hostile and broken input at run time, on the generated pokedex package.

A corrupted stored row (SQLite, PostgreSQL), an event type the package no longer knows, and JSON that is
huge or nested deeply (pushed, read back, or in a message body) are refused with EventDecodeError,
InvalidEventError or MessageDecodeError naming the store, the aggregate, the version and what is wrong:
never a raw error of json, pydantic or the database driver, nor a RecursionError. Pushes over the
limits are refused before anything is stored, whatever the adapter.
"""

import json
import random
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    T0,
    adapter_fixture,  # noqa: F401  (the `adapter` fixture)
    appeared,
    caught,
    pokemons_store,
    registered,
)
from .services import postgres_schema

# isort: split
from pokedex import (
    MESSAGE_CODEC,
    POKEMONS_EVENT_CODEC,
    Aggregate,
    Event,
    EventCodec,
    EventDecodeError,
    EventLimits,
    EventStorageAdapter,
    EventStore,
    InMemoryEventStorageAdapter,
    InvalidEventError,
    InvalidMessageError,
    MessageCodec,
    MessageDecodeError,
    NotificationMessage,
    Pokemon,
    PokemonAppeared,
    PokemonsEvent,
    PostgresEventStorageAdapter,
    Reducer,
    SQLiteEventStorageAdapter,
    StateCarryingMessage,
    set_default_event_limits,
)
from pokedex.runtime.codecs import schema_depth
from pokedex.runtime.limits import DEFAULT_EVENT_LIMITS, default_event_limits, nests_deeper_than

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test

TS = "2024-05-01T12:00:00.000000+00:00"  # how the SQLite adapter writes timestamps
KNOWN_TYPES = "known types: 'POKEMON_APPEARED', 'POKEMON_CAUGHT', 'POKEMON_LEVELED_UP'"
CAUGHT = '{"trainer_id":"ash"}'
HUGE = 5_000_000  # bytes: over the default max_read_bytes (4 MB)
DEEP = 100_000  # levels: far beyond the stack of any recursive parser


def nested_text(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_lists(levels: int) -> list[Any]:
    """`levels` lists, each inside the previous one (built without recursion)."""
    outer: list[Any] = []
    inner = outer
    for _ in range(levels - 1):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.fixture
def default_limits() -> Iterator[None]:
    """Restores the package's default limits after a test that changes them."""
    previous = default_event_limits()
    yield
    set_default_event_limits(previous)


# -- a store of free-form events, to push payloads of any shape ------------------------------------------


class Noted(Event):
    event_store_id: ClassVar[str] = "notes"
    type: Literal["NOTED"] = "NOTED"
    payload: JsonValue


class Note(Aggregate):
    payload: JsonValue = None


class NotesReducer(Reducer[Noted, Note]):
    event_store_id = "notes"

    def _dispatch(self, aggregate: Note | None, event: Noted) -> Note:
        return Note(payload=event.payload)


def notes_store(adapter: EventStorageAdapter | None, limits: EventLimits | None = None) -> EventStore[Any, Noted, Note]:
    codec = EventCodec[Noted]("notes", TypeAdapter(Noted), limits=limits)
    return EventStore(
        event_store_id="notes",
        codec=codec,
        initial_event_types=["NOTED"],
        reducer=NotesReducer(),
        event_storage_adapter=adapter,
    )


def noted(payload: Any, *, aggregate_id: str = "note", timestamp: datetime | None = None) -> Noted:
    """A NOTED event built without validation, as hostile code could."""
    return Noted.model_construct(aggregate_id=aggregate_id, version=1, payload=payload, timestamp=timestamp)


# -- corrupted rows ----------------------------------------------------------------------------------------

# (type, timestamp, payload, metadata) of a corrupted version 2 of "missingno", and what the error says.
SQLITE_ROWS = {
    "payload is not JSON": ("POKEMON_CAUGHT", TS, '{"trainer_id": "ash"', None, "its payload column is not valid JSON"),
    "metadata is not JSON": ("POKEMON_CAUGHT", TS, CAUGHT, "{correlation_id}", "its metadata column is not valid JSON"),
    "payload no longer matches its model": (
        "POKEMON_CAUGHT",
        TS,
        '{"trainer_id": 151}',
        None,
        "POKEMON_CAUGHT.payload.trainer_id: Input should be a valid string",
    ),
    "a required field is missing": (
        "POKEMON_CAUGHT",
        TS,
        "{}",
        None,
        "POKEMON_CAUGHT.payload.trainer_id: Field required",
    ),
    "the payload is missing": ("POKEMON_CAUGHT", TS, None, None, "POKEMON_CAUGHT.payload: Field required"),
    "the timestamp is not a timestamp": (
        "POKEMON_CAUGHT",
        "yesterday",
        CAUGHT,
        None,
        "POKEMON_CAUGHT.timestamp: Input should be a valid datetime",
    ),
    "the timestamp is a blob": (
        "POKEMON_CAUGHT",
        b"\x00\x01",
        CAUGHT,
        None,
        "its timestamp column holds a blob, not text",
    ),
    "the type is a blob": (b"POKEMON_CAUGHT", TS, CAUGHT, None, "its type column holds a blob, not text"),
    "the payload is a blob": ("POKEMON_CAUGHT", TS, CAUGHT.encode(), None, "its payload column holds a blob, not text"),
    "an event type the package no longer knows": (
        "POKEMON_EVOLVED",
        TS,
        '{"into": "raichu"}',
        None,
        f"unknown event type 'POKEMON_EVOLVED' \\({KNOWN_TYPES}\\)",
    ),
    "the payload nests too deeply": (
        "POKEMON_CAUGHT",
        TS,
        nested_text(DEEP),
        None,
        r"nest deeper than the limit of 64 levels \(EventLimits.max_depth\)",
    ),
    "the payload is huge": (
        "POKEMON_CAUGHT",
        TS,
        json.dumps({"trainer_id": "x" * HUGE}),
        None,
        r"over the limit of 4000000 \(EventLimits.max_read_bytes\)",
    ),
}


def sqlite_insert(path: Path, *rows: tuple[Any, ...]) -> None:
    """Writes rows (store, aggregate, version, type, timestamp, payload, metadata) with raw sqlite3."""
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO kastor_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.close()


async def assert_unreadable(store: EventStore[Any, Any, Any], aggregate_id: str, version: int, error: str) -> None:
    """Reading the aggregate fails on its corrupted version, with an EventDecodeError naming it; the
    versions before it still read."""
    where = f"{store.event_store_id}/{aggregate_id} v{version}: invalid stored event: "
    for read in (store.get_events, store.get_aggregate):
        with pytest.raises(EventDecodeError, match=error) as raised:
            await read(aggregate_id)
        assert type(raised.value) is EventDecodeError
        assert str(raised.value).startswith(where)
        decoded = raised.value
        assert (decoded.event_store_id, decoded.aggregate_id, decoded.version) == (
            store.event_store_id,
            aggregate_id,
            version,
        )
    assert [event.version for event in await store.get_events(aggregate_id, max_version=version - 1)] == list(
        range(1, version)
    )


@pytest.mark.parametrize(("type_", "timestamp", "payload", "metadata", "error"), SQLITE_ROWS.values(), ids=SQLITE_ROWS)
async def test_a_corrupted_sqlite_row_is_a_decode_error_naming_it(
    tmp_path: Path, type_: Any, timestamp: Any, payload: Any, metadata: Any, error: str
) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("missingno", timestamp=T0))
        sqlite_insert(path, ("pokemons", "missingno", 2, type_, timestamp, payload, metadata))
        await assert_unreadable(pokemons, "missingno", 2, error)


async def test_a_corrupted_sqlite_column_cannot_change_the_identity_of_its_row(tmp_path: Path) -> None:
    # Columns are assembled into one JSON text: extra keys smuggled into a payload lose to the row's own.
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("missingno", timestamp=T0))
        smuggled = (
            CAUGHT + ',"aggregate_id":"mew","version":7,"type":"POKEMON_LEVELED_UP","timestamp":"1999-01-01T00:00:00Z"'
        )
        sqlite_insert(path, ("pokemons", "missingno", 2, "POKEMON_CAUGHT", TS, smuggled, None))
        [_, event] = await pokemons.get_events("missingno")
    assert (event.aggregate_id, event.version, event.type, event.timestamp) == (
        "missingno",
        2,
        "POKEMON_CAUGHT",
        datetime.fromisoformat(TS),
    )


async def test_a_sqlite_version_that_is_not_an_integer_is_a_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("missingno", timestamp=T0))  # creates the table
        sqlite_insert(path, ("pokemons", "missingno", 2.5, "POKEMON_CAUGHT", TS, CAUGHT, None))
        with pytest.raises(EventDecodeError, match="its version column holds a real, not an integer") as raised:
            await pokemons.get_events("missingno")
    assert raised.value.aggregate_id == "missingno"


async def test_an_initial_sqlite_row_without_a_timestamp_is_a_decode_error_when_listing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        sqlite_insert(path, ("pokemons", "missingno", 1, "POKEMON_APPEARED", "yesterday", "{}", None))
        with pytest.raises(EventDecodeError, match="its timestamp 'yesterday' is not an ISO 8601 timestamp") as raised:
            await pokemons.list_aggregate_ids()
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "missingno",
        1,
    )


def sqlite_execute(path: Path, sql: str) -> None:
    """Runs SQL of a hand-made corruption (text that is not UTF-8 cannot be written through parameters)."""
    with sqlite3.connect(path) as connection:
        connection.execute(sql)
    connection.close()


NOT_UTF8 = "CAST(x'7b22ff' AS TEXT)"  # the bytes {"\xff stored as text: what a broken writer can leave
SQLITE_COLUMNS = {
    "type": f"{NOT_UTF8}, '{TS}', '{CAUGHT}', NULL",
    "timestamp": f"'POKEMON_CAUGHT', {NOT_UTF8}, '{CAUGHT}', NULL",
    "payload": f"'POKEMON_CAUGHT', '{TS}', {NOT_UTF8}, NULL",
    "metadata": f"'POKEMON_CAUGHT', '{TS}', '{CAUGHT}', {NOT_UTF8}",
}


@pytest.mark.parametrize(("column", "values"), SQLITE_COLUMNS.items(), ids=SQLITE_COLUMNS)
async def test_sqlite_text_that_is_not_utf8_is_a_decode_error_naming_its_row(
    tmp_path: Path, column: str, values: str
) -> None:
    # sqlite3 fails the whole fetch on such text, with no word of its row: the adapter finds the row.
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("missingno", timestamp=T0))
        sqlite_execute(path, f"INSERT INTO kastor_events VALUES ('pokemons', 'missingno', 2, {values})")
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        await assert_unreadable(
            pokemons, "missingno", 2, rf"its {column} column holds text that is not valid UTF-8 \(b'{{\"\\xff'\)"
        )
        assert [event.version for event in await pokemons.get_events("pikachu")] == [1]  # other aggregates read


AGGREGATE_IDS = {
    "a blob": ("x'6869'", r"holds a blob \(b'hi'\), not text"),
    "text that is not UTF-8": ("CAST(x'68ff' AS TEXT)", r"holds text that is not valid UTF-8 \(b'h\\xff'\)"),
}


@pytest.mark.parametrize("limit", [None, 1])
@pytest.mark.parametrize(("stored_id", "error"), AGGREGATE_IDS.values(), ids=AGGREGATE_IDS)
async def test_an_initial_sqlite_row_whose_aggregate_id_is_not_text_is_a_decode_error_when_listing(
    tmp_path: Path, stored_id: str, error: str, limit: int | None
) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        sqlite_execute(
            path,
            f"INSERT INTO kastor_events VALUES ('pokemons', {stored_id}, 1, 'POKEMON_APPEARED', '{TS}', '{{}}', NULL)",
        )
        with pytest.raises(
            EventDecodeError, match="has no readable aggregate id: its aggregate_id column " + error
        ) as raised:
            await pokemons.list_aggregate_ids(limit=limit)
    assert str(raised.value).startswith("pokemons: invalid stored event: an initial event (version 1) ")
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == ("pokemons", None, 1)


@pytest.mark.parametrize(
    ("stored_timestamp", "error"),
    [
        ("x'00'", "its timestamp column holds a blob, not text"),
        (NOT_UTF8, "its timestamp column holds text that is not valid UTF-8"),
    ],
    ids=["a blob", "text that is not UTF-8"],
)
async def test_an_initial_sqlite_row_whose_timestamp_is_not_text_is_a_decode_error_when_listing(
    tmp_path: Path, stored_timestamp: str, error: str
) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        values = f"'pokemons', 'missingno', 1, 'POKEMON_APPEARED', {stored_timestamp}, '{{}}', NULL"
        sqlite_execute(path, f"INSERT INTO kastor_events VALUES ({values})")
        with pytest.raises(EventDecodeError, match=error) as raised:
            await pokemons.list_aggregate_ids()
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "missingno",
        1,
    )


POSTGRES_ROWS = {
    "payload no longer matches its model": (
        "POKEMON_CAUGHT",
        TS,
        '{"trainer_id": 151}',
        None,
        "POKEMON_CAUGHT.payload.trainer_id: Input should be a valid string",
    ),
    "the payload is not an object": (
        "POKEMON_CAUGHT",
        TS,
        '"ash"',
        None,
        "POKEMON_CAUGHT.payload: Input should be an object",
    ),
    "a required field is missing": (
        "POKEMON_CAUGHT",
        TS,
        "{}",
        None,
        "POKEMON_CAUGHT.payload.trainer_id: Field required",
    ),
    "the payload is missing": ("POKEMON_CAUGHT", TS, None, None, "POKEMON_CAUGHT.payload: Field required"),
    "the metadata no longer matches its model": (
        "POKEMON_CAUGHT",
        TS,
        CAUGHT,
        '{"correlation_id": ["a"]}',
        "POKEMON_CAUGHT.metadata.correlation_id: Input should be a valid string",
    ),
    "the timestamp is infinity": (
        "POKEMON_CAUGHT",
        "infinity",
        CAUGHT,
        None,
        "its timestamp is not one Python can hold",
    ),
    "the timestamp is minus infinity": ("POKEMON_CAUGHT", "-infinity", CAUGHT, None, "its timestamp is not one Python"),
    "the timestamp is after year 9999": ("POKEMON_CAUGHT", "12000-01-01 00:00+00", CAUGHT, None, "not one Python can"),
    "an event type the package no longer knows": (
        "POKEMON_EVOLVED",
        TS,
        '{"into": "raichu"}',
        None,
        f"unknown event type 'POKEMON_EVOLVED' \\({KNOWN_TYPES}\\)",
    ),
    "the payload nests too deeply": (
        "POKEMON_CAUGHT",
        TS,
        nested_text(5_000),
        None,
        r"nest deeper than the limit of 64 levels \(EventLimits.max_depth\)",
    ),
    "the payload is huge": (
        "POKEMON_CAUGHT",
        TS,
        json.dumps({"trainer_id": "x" * HUGE}),
        None,
        r"over the limit of 4000000 \(EventLimits.max_read_bytes\)",
    ),
}


def postgres_insert(url: str, schema: str, *rows: tuple[Any, ...]) -> None:
    """Writes rows (store, aggregate, version, type, timestamp, payload, metadata) with raw psycopg."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for row in rows:
            connection.execute(
                f'INSERT INTO "{schema}".kastor_events VALUES (%s, %s, %s, %s, %s::timestamptz, %s::jsonb, %s::jsonb)',
                row,
            )


@pytest.mark.service
@pytest.mark.parametrize(
    ("type_", "timestamp", "payload", "metadata", "error"), POSTGRES_ROWS.values(), ids=POSTGRES_ROWS
)
async def test_a_corrupted_postgres_row_is_a_decode_error_naming_it(
    postgres_schema_fixture: tuple[str, str], type_: str, timestamp: str, payload: Any, metadata: Any, error: str
) -> None:
    url, schema = postgres_schema_fixture
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("missingno", timestamp=T0))
        postgres_insert(url, schema, ("pokemons", "missingno", 2, type_, timestamp, payload, metadata))
        await assert_unreadable(pokemons, "missingno", 2, error)


@pytest.mark.service
async def test_an_initial_postgres_row_at_infinity_is_a_decode_error_when_listing(
    postgres_schema_fixture: tuple[str, str],
) -> None:
    url, schema = postgres_schema_fixture
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        postgres_insert(url, schema, ("pokemons", "missingno", 1, "POKEMON_APPEARED", "infinity", "{}", None))
        with pytest.raises(EventDecodeError, match="its timestamp is not one Python can hold") as raised:
            await pokemons.list_aggregate_ids()
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "missingno",
        1,
    )


def test_the_codec_names_the_row_it_was_given_and_what_is_wrong() -> None:
    with pytest.raises(
        EventDecodeError, match=f"pokemons/p v3: invalid stored event: unknown event type 'X' \\({KNOWN_TYPES}\\)"
    ):
        POKEMONS_EVENT_CODEC.from_json('{"aggregate_id":"p","version":3,"type":"X"}', aggregate_id="p", version=3)
    with pytest.raises(EventDecodeError, match="pokemons/p v3: invalid stored event: it has no event type") as raised:
        POKEMONS_EVENT_CODEC.from_dict({"aggregate_id": "p", "version": 3}, aggregate_id="p", version=3)
    assert (raised.value.aggregate_id, raised.value.version) == ("p", 3)
    with pytest.raises(EventDecodeError, match=r"^pokemons: invalid stored event: it is not valid JSON \(EOF"):
        POKEMONS_EVENT_CODEC.from_json(b'{"aggregate_id":')


def test_an_error_lists_the_first_problems_only() -> None:
    codec = EventCodec[Noted]("notes", TypeAdapter(Noted))
    many = {"aggregate_id": "n", "version": 1, "type": "NOTED", "payload": None, **{f"x{i}": i for i in range(1000)}}
    with pytest.raises(EventDecodeError) as raised:
        codec.from_dict(many)
    assert str(raised.value).endswith("x9: Extra inputs are not permitted; and 990 more problems")


# -- limits on push ------------------------------------------------------------------------------------------


async def test_a_push_over_the_size_limit_is_refused_before_storage(adapter: EventStorageAdapter) -> None:
    pokemons = pokemons_store(adapter)
    with pytest.raises(InvalidEventError, match=r"over the limit of 1000000 \(EventLimits.max_event_bytes\)") as raised:
        await pokemons.push_event(appeared("huge", name="x" * 1_000_000))
    assert str(raised.value).startswith("pokemons/huge v1: PokemonAppeared is 1000")
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == ("pokemons", "huge", 1)
    assert await pokemons.get_events("huge") == []
    assert (await pokemons.list_aggregate_ids()).aggregate_ids == []


@pytest.mark.parametrize("levels", [65, 200, 300, DEEP])
async def test_a_push_nested_over_the_depth_limit_is_refused_before_storage(
    adapter: EventStorageAdapter, levels: int
) -> None:
    # The event is level 1 and its payload level 2: payloads of 63 nested lists are the deepest allowed.
    notes = notes_store(adapter)
    await notes.push_event(noted(nested_lists(63), aggregate_id="deepest"))
    with pytest.raises(
        InvalidEventError, match=r"nests arrays and objects deeper than the limit of 64 levels"
    ) as raised:
        await notes.push_event(noted(nested_lists(levels - 1)))
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == ("notes", "note", 1)
    assert await notes.get_events("note") == []
    assert [entry.aggregate_id for entry in (await notes.list_aggregate_ids()).aggregate_ids] == ["deepest"]
    [stored] = await notes.get_events("deepest")
    assert stored.payload == nested_lists(63)


@pytest.mark.parametrize("levels", [100, DEEP])
async def test_a_deep_push_to_a_store_whose_schema_cannot_nest_deeply_is_refused_too(
    adapter: EventStorageAdapter, levels: int
) -> None:
    # Valid pokemon events nest 2 levels at most, so their nesting is measured only when they are refused.
    pokemons = pokemons_store(adapter)
    hostile = PokemonAppeared.model_construct(aggregate_id="deep", version=1, payload=nested_lists(levels))
    with pytest.raises(InvalidEventError, match="pokemons/deep v1: PokemonAppeared nests arrays and objects deeper"):
        await pokemons.push_event(hostile)
    assert await pokemons.get_events("deep") == []


def test_the_nesting_a_schema_allows_is_known_without_events() -> None:
    class Tree(BaseModel):
        children: list["Tree"] = []

    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")

    # Payloads keep the properties their schema does not declare, of any shape, as JSON Schema says: unbounded.
    assert schema_depth(TypeAdapter(PokemonsEvent).core_schema) is None
    assert schema_depth(TypeAdapter(dict[str, list[tuple[int, list[int]]]]).core_schema) == 4
    assert schema_depth(TypeAdapter(Noted).core_schema) is None  # free-form payload
    assert schema_depth(TypeAdapter(Tree).core_schema) is None  # recursive
    assert schema_depth(TypeAdapter(Loose).core_schema) is None  # extra fields of any shape


async def test_the_limits_apply_to_the_whole_event_as_json(adapter: EventStorageAdapter) -> None:
    event = noted({"text": "a" * 100}, timestamp=T0)
    size = len(event.model_dump_json())  # its JSON, as stored
    at_the_limit = notes_store(adapter, EventLimits(max_event_bytes=size, max_depth=2))
    await at_the_limit.push_event(event)
    over_it = notes_store(adapter, EventLimits(max_event_bytes=size - 1))
    with pytest.raises(InvalidEventError, match=f"Noted is {size} bytes of JSON, over the limit of {size - 1}"):
        await over_it.push_event(event.model_copy(update={"aggregate_id": "nope"}))
    too_deep = notes_store(adapter, EventLimits(max_depth=2))
    with pytest.raises(InvalidEventError, match="deeper than the limit of 2 levels"):
        await too_deep.push_event(noted({"text": ["a"]}, aggregate_id="other"))
    with pytest.raises(InvalidEventError, match="deeper than the limit of 1 levels"):  # the event is level 1
        await notes_store(adapter, EventLimits(max_depth=1)).push_event(noted({}, aggregate_id="other"))
    await notes_store(adapter, EventLimits(max_depth=1)).push_event(noted(None, aggregate_id="flat"))
    assert await at_the_limit.get_events("nope") == await at_the_limit.get_events("other") == []
    assert len(await at_the_limit.get_events("flat")) == 1


def test_brackets_within_strings_do_not_count_as_nesting() -> None:
    codec = EventCodec[Noted]("notes", TypeAdapter(Noted), limits=EventLimits(max_depth=2))
    text = '[[[{{{ \\" ]]] \\\\'
    validated = codec.validate(noted({"text": text * 100}), default_timestamp=T0)
    assert validated.payload == {"text": text * 100}
    assert codec.from_json(codec.to_json(validated)) == validated


async def test_an_event_that_json_cannot_hold_is_refused_before_storage(adapter: EventStorageAdapter) -> None:
    notes = notes_store(adapter)
    with pytest.raises(InvalidEventError, match="notes/note v1: Noted is not a valid event of this store: payload"):
        await notes.push_event(noted({"when": object()}))
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(InvalidEventError, match="notes/note v1: Noted"):
        await notes.push_event(noted(circular))
    assert await notes.get_events("note") == []


# -- numbers JSON cannot hold ------------------------------------------------------------------------------


class Measured(Event):
    event_store_id: ClassVar[str] = "measures"
    type: Literal["MEASURED"] = "MEASURED"
    payload: JsonValue
    metadata: JsonValue = None


class Measure(Aggregate):
    payload: JsonValue = None


class MeasuresReducer(Reducer[Measured, Measure]):
    event_store_id = "measures"

    def _dispatch(self, aggregate: Measure | None, event: Measured) -> Measure:
        return Measure(aggregate_id=event.aggregate_id, version=event.version, payload=event.payload)


def measures_store(adapter: EventStorageAdapter | None) -> EventStore[Any, Measured, Measure]:
    return EventStore(
        event_store_id="measures",
        codec=EventCodec[Measured]("measures", TypeAdapter(Measured)),
        initial_event_types=["MEASURED"],
        reducer=MeasuresReducer(),
        event_storage_adapter=adapter,
    )


NAN, INFINITY = float("nan"), float("inf")
NOT_JSON_NUMBERS = {
    "NaN in a payload": ({"payload": {"stats": {"ratio": NAN}}}, "payload.stats.ratio: NaN is not a JSON number"),
    "infinity in an array": ({"payload": [1, None, INFINITY]}, "payload.2: infinity is not a JSON number"),
    "the payload itself": ({"payload": -INFINITY}, "payload: -infinity is not a JSON number"),
    "in metadata": ({"payload": None, "metadata": {"weights": [0.5, NAN]}}, "metadata.weights.1: NaN is not"),
}


@pytest.mark.parametrize(("fields", "error"), NOT_JSON_NUMBERS.values(), ids=NOT_JSON_NUMBERS)
async def test_numbers_json_cannot_hold_are_refused_before_storage_naming_their_path(
    adapter: EventStorageAdapter, fields: dict[str, Any], error: str
) -> None:
    # pydantic would write them as null: what was pushed would not be what is stored.
    measures = measures_store(adapter)
    event = Measured(aggregate_id="m-1", version=1, **fields)
    with pytest.raises(InvalidEventError, match=f"^measures/m-1 v1: {re.escape(error)}") as raised:
        await measures.push_event(event)
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == ("measures", "m-1", 1)
    with pytest.raises(InvalidEventError, match=re.escape(error)):
        await EventStore.push_event_group(measures.group_event(event))
    assert await measures.get_events("m-1") == []


@pytest.mark.service
async def test_numbers_json_cannot_hold_are_refused_before_storage_in_postgres(
    postgres_schema_fixture: tuple[str, str],
) -> None:
    url, schema = postgres_schema_fixture
    async with PostgresEventStorageAdapter(url, schema=schema) as adapter:
        await adapter.create_schema()
        measures = measures_store(adapter)
        with pytest.raises(InvalidEventError, match=r"payload.stats.ratio: NaN is not a JSON number"):
            await measures.push_event(Measured(aggregate_id="m-1", version=1, payload={"stats": {"ratio": NAN}}))
        assert await measures.get_events("m-1") == []


async def test_nulls_and_finite_numbers_are_stored_as_they_were_pushed(adapter: EventStorageAdapter) -> None:
    measures = measures_store(adapter)
    payload: JsonValue = {"none": None, "list": [None, 1.5, -0.25, 1e300], "text": "null NaN Infinity"}
    await measures.push_event(Measured(aggregate_id="m-1", version=1, payload=payload, metadata=None))
    [event] = await measures.get_events("m-1")
    assert (event.payload, event.metadata, "metadata" in event.model_fields_set) == (payload, None, True)


class RatedPayload(BaseModel):
    ratio: float
    best: float | None = None


class Rated(Event):
    event_store_id: ClassVar[str] = "rates"
    type: Literal["RATED"] = "RATED"
    payload: RatedPayload


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"ratio": NAN}, "payload.ratio: NaN is not a JSON number"),  # null, which the field refuses
        ({"ratio": 0.5, "best": INFINITY}, "payload.best: infinity is not a JSON number"),  # null, which it takes
    ],
    ids=["a number field", "a nullable number field"],
)
def test_typed_number_fields_refuse_numbers_json_cannot_hold(payload: dict[str, float], error: str) -> None:
    codec = EventCodec[Rated]("rates", TypeAdapter(Rated))
    event = Rated(aggregate_id="r-1", version=1, payload=RatedPayload(**payload))
    with pytest.raises(InvalidEventError, match=f"^rates/r-1 v1: {re.escape(error)}$"):
        codec.validate(event, default_timestamp=T0)
    assert codec.validate(Rated(aggregate_id="r-1", version=1, payload=RatedPayload(ratio=0.5, best=None)))


def test_codecs_refuse_to_write_numbers_json_cannot_hold() -> None:
    codec = EventCodec[Measured]("measures", TypeAdapter(Measured))
    event = Measured(aggregate_id="m-1", version=2, timestamp=T0, payload={"ratio": NAN})
    with pytest.raises(InvalidEventError, match=r"^measures/m-1 v2: payload.ratio: NaN is not a JSON number$"):
        codec.to_json(event)
    messages = MessageCodec({"measures": (codec, Measure)})
    with pytest.raises(InvalidMessageError, match=r"^measures: m-1 v2: payload.ratio: NaN is not a JSON number$"):
        messages.to_json(NotificationMessage("measures", event))
    finite = Measured(aggregate_id="m-1", version=2, timestamp=T0, payload={"ratio": None})
    aggregate = Measure(aggregate_id="m-1", version=2, payload={"ratios": [INFINITY]})
    for encode in (messages.to_json, messages.to_dict):
        with pytest.raises(InvalidMessageError, match=r"^measures: m-1 v2: aggregate.payload.ratios.0: infinity is"):
            encode(StateCarryingMessage("measures", finite, aggregate))
    assert codec.to_json(finite) == b'{"aggregate_id":"m-1","version":2,"timestamp":"2024-05-01T12:00:00Z",' + (
        b'"type":"MEASURED","payload":{"ratio":null}}'
    )


async def test_an_event_of_another_store_names_its_unknown_type(adapter: EventStorageAdapter) -> None:
    pokemons = pokemons_store(adapter)
    with pytest.raises(InvalidEventError, match=f"unknown event type 'TRAINER_REGISTERED' \\({KNOWN_TYPES}\\)"):
        await pokemons.push_event(registered("ash"))  # type: ignore[arg-type]


async def test_a_push_still_gets_the_store_timestamp_checked_and_in_utc() -> None:
    pokemons = pokemons_store(InMemoryEventStorageAdapter())
    before = datetime.now(UTC)
    pushed = await pokemons.push_event(appeared("pikachu"))
    assert pushed.event.timestamp is not None and before <= pushed.event.timestamp <= datetime.now(UTC)
    assert pushed.event.timestamp.tzinfo is UTC
    with pytest.raises(InvalidEventError, match="timestamp"):
        POKEMONS_EVENT_CODEC.validate(appeared("p"), default_timestamp=datetime(2024, 1, 1))  # naive


# -- limits on read and in messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [nested_text(DEEP), nested_text(DEEP).encode(), '{"a":' * DEEP + "1" + "}" * DEEP, nested_text(100)]
)
def test_deep_json_read_is_a_decode_error_not_a_recursion_error(data: str | bytes) -> None:
    with pytest.raises(EventDecodeError, match=r"^pokemons/p v1: invalid stored event: arrays and objects nest deeper"):
        POKEMONS_EVENT_CODEC.from_json(data, aggregate_id="p", version=1)


def test_the_read_limits_of_a_codec_are_its_own_or_the_default(default_limits: None) -> None:
    assert POKEMONS_EVENT_CODEC.limits is DEFAULT_EVENT_LIMITS == EventLimits(1_000_000, 4_000_000, 64)
    stored = POKEMONS_EVENT_CODEC.to_json(appeared(timestamp=T0))
    small = EventLimits(max_event_bytes=50, max_read_bytes=len(stored) - 1)
    assert set_default_event_limits(small) is DEFAULT_EVENT_LIMITS
    with pytest.raises(EventDecodeError, match=rf"{len(stored)} bytes of JSON, over the limit of {len(stored) - 1}"):
        POKEMONS_EVENT_CODEC.from_json(stored)
    with pytest.raises(InvalidEventError, match="over the limit of 50"):
        POKEMONS_EVENT_CODEC.validate(appeared())
    own = EventCodec[PokemonsEvent]("pokemons", TypeAdapter(PokemonsEvent), limits=DEFAULT_EVENT_LIMITS)
    assert own.from_json(stored) == appeared(timestamp=T0)
    own.limits = None  # follows the default again
    assert own.limits is small
    with pytest.raises(EventDecodeError, match="over the limit"):
        own.from_json(stored)
    assert set_default_event_limits(None) is small
    assert POKEMONS_EVENT_CODEC.from_json(stored) == appeared(timestamp=T0)


async def test_the_default_limits_apply_to_the_stores_of_the_package(tmp_path: Path, default_limits: None) -> None:
    async with SQLiteEventStorageAdapter(tmp_path / "events.sqlite3") as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", name="x" * 500))
        set_default_event_limits(EventLimits(max_event_bytes=400, max_read_bytes=400))
        with pytest.raises(
            EventDecodeError, match=r"pokemons/pikachu v1: invalid stored event: .* over the limit of 400"
        ):
            await pokemons.get_aggregate("pikachu")
        with pytest.raises(InvalidEventError, match="over the limit of 400"):
            await pokemons.push_event(appeared("raichu", name="x" * 500))
        set_default_event_limits(None)
        assert [entry.aggregate_id for entry in (await pokemons.list_aggregate_ids()).aggregate_ids] == ["pikachu"]


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        (dict(max_event_bytes=0), "max_event_bytes must be a positive integer, got 0"),
        (dict(max_depth=True), "max_depth must be a positive integer, got True"),
        (dict(max_read_bytes=2.5), "max_read_bytes must be a positive integer, got 2.5"),
        (dict(max_event_bytes=10, max_read_bytes=9), r"max_read_bytes \(9\) cannot be less than max_event_bytes"),
        (dict(max_depth=201), "max_depth must be at most 200"),
    ],
)
def test_limits_that_make_no_sense_are_refused(limits: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        EventLimits(**limits)


def test_limits_are_refused_unless_they_are_event_limits(default_limits: None) -> None:
    with pytest.raises(TypeError, match="expected EventLimits or None, got dict"):
        set_default_event_limits({"max_depth": 3})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected EventLimits or None, got int"):
        POKEMONS_EVENT_CODEC.limits = 3  # type: ignore[assignment]


def notification_body(event: str) -> str:
    return f'{{"kind":"notification","event_store_id":"pokemons","event":{event}}}'


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (nested_text(DEEP), "a message body nests arrays and objects deeper than the limit of 65 levels"),
        (nested_text(DEEP).encode(), "deeper than the limit of 65 levels"),
        (notification_body(nested_text(65)), "deeper than the limit of 65 levels"),
        (" " * HUGE, r"a message body is 5000000 bytes, over the limit of 4000000 \(EventLimits.max_read_bytes\)"),
        (notification_body('{"aggregate_id":"p","version":1,"type":"POKEMON_EVOLVED"}'), "unknown event type"),
    ],
    ids=["deep", "deep bytes", "event too deep", "huge", "unknown event type"],
)
def test_a_hostile_message_body_is_a_message_decode_error(body: str | bytes, error: str) -> None:
    with pytest.raises(MessageDecodeError, match=error):
        MESSAGE_CODEC.from_json(body)


def test_a_message_body_may_nest_one_level_more_than_its_event() -> None:
    event = noted(nested_lists(63), timestamp=T0)
    codec = EventCodec[Noted]("notes", TypeAdapter(Noted))
    messages = MessageCodec({"notes": (codec, Note)})
    message = NotificationMessage("notes", event)
    assert messages.from_json(messages.to_json(message)) == message


def test_a_message_codec_may_have_limits_of_its_own(default_limits: None) -> None:
    body = MESSAGE_CODEC.to_json(NotificationMessage("pokemons", caught(version=2, timestamp=T0)))
    strict = MessageCodec(
        {"pokemons": (POKEMONS_EVENT_CODEC, Pokemon)}, limits=EventLimits(max_event_bytes=10, max_read_bytes=10)
    )
    with pytest.raises(MessageDecodeError, match=f"a message body is {len(body)} bytes, over the limit of 10"):
        strict.from_json(body)
    set_default_event_limits(EventLimits(max_depth=1))
    assert strict.limits.max_depth == 64  # its own
    with pytest.raises(MessageDecodeError, match="deeper than the limit of 2 levels"):
        MESSAGE_CODEC.from_json(body)


# -- nesting, measured without parsing ------------------------------------------------------------------------


def depth_of(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def random_value(levels: int, rng: random.Random) -> Any:
    if levels <= 1 or rng.random() < 0.2:
        return rng.choice([1, None, "a[{", 'q"\\"]', "\\\\", "}]\\", [], {}])
    if rng.random() < 0.5:
        return [random_value(levels - 1, rng) for _ in range(rng.randint(0, 3))]
    return {f"k{rng.randint(0, 9)}[{{": random_value(levels - 1, rng) for _ in range(rng.randint(0, 3))}


def test_nesting_is_measured_exactly_whatever_the_strings_hold() -> None:
    rng = random.Random(7)
    for index in range(3000):
        value = random_value(rng.randint(1, 14), rng)
        text = json.dumps(value, ensure_ascii=index % 2 == 0, indent=None if index % 3 else 1)
        depth = depth_of(value)
        for limit in (1, 2, 5, 8, 9, 12):
            assert nests_deeper_than(text if index % 2 else text.encode(), limit) is (depth > limit), (text, limit)


@pytest.mark.parametrize(
    "shape",
    [
        "[" * 2_000_000 + "]" * 2_000_000,  # one long chain
        ("[" + "[" * 63 + "]" * 63) * 31_000 + "]" * 31_000,  # levels with siblings, so no long run of brackets
        "[" * 2_000_000,  # never closed
        "[" + ",".join(['{"a":[1,2],"b":"[[["}'] * 200_000) + "]",  # wide and shallow
    ],
    ids=["chain", "siblings", "unclosed", "wide"],
)
def test_nesting_of_a_hostile_document_is_measured_in_bounded_time(shape: str) -> None:
    started = time.perf_counter()
    assert nests_deeper_than(shape, 64) is not shape.startswith("[{")
    assert time.perf_counter() - started < 5
