"""Arguments and bounds at run time, on the generated pokedex package: what is not adapter-specific.

Versions, limits, timestamps, ids and page tokens beyond what every storage holds are refused with the
runtime's typed errors (InvalidEventError, EventDecodeError, MessageDecodeError, InvalidPageTokenError) or a
ValueError naming the argument: never a raw OverflowError, RecursionError or UnicodeEncodeError. What every
adapter refuses alike is in the storage conformance suite (its part 11).
"""

import base64
import json
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from .pokedex_builders import T0, appeared, pokemons_store  # first: it makes the generated pokedex package importable

# isort: split
from pokedex import (
    MESSAGE_CODEC,
    POKEMONS_EVENT_CODEC,
    AggregateExistsMessageBus,
    AggregateIdEntry,
    AggregateIdsQuery,
    EventDecodeError,
    InMemoryEventStorageAdapter,
    InMemoryMessageBusAdapter,
    InvalidEventError,
    InvalidPageTokenError,
    MessageDecodeError,
    OutboxRelay,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonLeveledUp,
    SQLiteEventStorageAdapter,
    StorageContext,
    pour_aggregate_ids,
)
from pokedex.runtime import limits
from pokedex.runtime.paging import MAX_PAGE_TOKEN_LENGTH, decode_page_token, encode_page_token
from pokedex.runtime.storage import id_problem

BEFORE_YEAR_1 = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
AFTER_YEAR_9999 = datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))
OUT_OF_RANGE = "is outside the years 1 to 9999 once in UTC"


def test_the_bounds_are_what_the_docs_say() -> None:
    assert limits.MAX_VERSION == limits.MAX_LIMIT == 2**31 - 1
    assert limits.MAX_AGGREGATE_ID_BYTES == 1024
    assert limits.MAX_EVENT_STORE_ID_BYTES == 256
    assert MAX_PAGE_TOKEN_LENGTH == 16_384


# -- events -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", [BEFORE_YEAR_1, AFTER_YEAR_9999], ids=["before year 1", "after year 9999"])
def test_an_event_timestamp_outside_the_years_in_utc_is_a_validation_error(timestamp: datetime) -> None:
    with pytest.raises(ValidationError, match=f"timestamp\n.*{OUT_OF_RANGE}"):
        PokemonLeveledUp(aggregate_id="p", version=2, timestamp=timestamp)
    at_the_edge = timestamp.replace(tzinfo=UTC)  # the same wall-clock time in UTC is held
    assert PokemonLeveledUp(aggregate_id="p", version=2, timestamp=at_the_edge).timestamp == at_the_edge


def test_an_event_version_is_an_integer_every_storage_holds() -> None:
    assert PokemonLeveledUp(aggregate_id="p", version=2**31 - 1).version == 2**31 - 1
    for version in (2**31, 2**63, True, "2", 2.0):
        with pytest.raises(ValidationError, match="version"):
            PokemonLeveledUp(aggregate_id="p", version=version)


async def test_a_push_of_an_absurd_version_is_an_invalid_event_error() -> None:
    # 10**5000 has more digits than Python writes out (4,300): the error says its size instead.
    pokemons = pokemons_store(InMemoryEventStorageAdapter())
    hostile = PokemonLeveledUp.model_construct(aggregate_id="p", version=10**5000)
    with pytest.raises(InvalidEventError, match=r"^pokemons/p van integer of 16610 bits: ") as raised:
        await pokemons.push_event(hostile)
    assert raised.value.version == 10**5000


@pytest.mark.parametrize("timestamp", [BEFORE_YEAR_1, AFTER_YEAR_9999], ids=["before year 1", "after year 9999"])
def test_reading_a_timestamp_outside_the_years_in_utc_is_a_decode_error(timestamp: datetime) -> None:
    event = f'{{"aggregate_id":"p","version":2,"type":"POKEMON_LEVELED_UP","timestamp":"{timestamp.isoformat()}"}}'
    with pytest.raises(EventDecodeError, match=f"^pokemons/p v2: invalid stored event: .*timestamp.*{OUT_OF_RANGE}"):
        POKEMONS_EVENT_CODEC.from_json(event, aggregate_id="p", version=2)
    exists = json.dumps(
        {
            "kind": "aggregate-exists",
            "event_store_id": "pokemons",
            "aggregate_id": "p",
            "initial_event_timestamp": timestamp.isoformat(),
        }
    )
    notification = f'{{"kind":"notification","event_store_id":"pokemons","event":{event}}}'
    for body in (exists, notification):
        with pytest.raises(MessageDecodeError, match=OUT_OF_RANGE):
            MESSAGE_CODEC.from_json(body)


@pytest.mark.parametrize("timestamp", [BEFORE_YEAR_1, AFTER_YEAR_9999], ids=["before year 1", "after year 9999"])
async def test_a_sqlite_row_with_a_timestamp_outside_the_years_in_utc_is_a_decode_error(
    tmp_path: Path, timestamp: datetime
) -> None:
    path = tmp_path / "events.sqlite3"
    async with SQLiteEventStorageAdapter(path) as adapter:
        pokemons = pokemons_store(adapter)
        await pokemons.push_event(appeared("pikachu", timestamp=T0))  # creates the table
        with sqlite3.connect(path) as connection:
            connection.execute(
                "INSERT INTO kastor_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                ("pokemons", "edge", 1, "POKEMON_APPEARED", timestamp.isoformat(), "{}", None),
            )
        connection.close()
        with pytest.raises(EventDecodeError, match=f"^pokemons/edge v1: invalid stored event: .*{OUT_OF_RANGE}"):
            await pokemons.get_events("edge")
        with pytest.raises(EventDecodeError, match=f"^pokemons/edge v1: invalid stored event: .*{OUT_OF_RANGE}"):
            await pokemons.list_aggregate_ids()


@pytest.mark.parametrize(
    ("event_store_id", "problem"),
    [
        ("a\ud800", "holds a lone surrogate"),
        ("a\x00", "holds a NUL character"),
        ("s" * 257, "over the limit of 256 bytes"),
        (7, "must be a string, got 7"),
    ],
)
def test_a_store_id_that_no_storage_holds_is_refused_once_for_every_call(event_store_id: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=f"^event_store_id .*{problem}"):
        StorageContext(event_store_id, POKEMONS_EVENT_CODEC)


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        (
            PokemonLeveledUp.model_construct(aggregate_id="nul\x00", version=1),
            re.escape("aggregate_id 'nul\\x00' holds a NUL"),
        ),
        (PokemonLeveledUp.model_construct(aggregate_id="p", version=2**63), "version must be an integer from 1"),
        (PokemonLeveledUp.model_construct(aggregate_id="p", version=1, timestamp=AFTER_YEAR_9999), OUT_OF_RANGE),
    ],
    ids=["NUL in the id", "version beyond storage", "timestamp after year 9999"],
)
def test_seeds_of_the_in_memory_adapter_are_held_to_what_every_storage_holds(seed: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=f"^initial event pokemons/.*: .*{problem}"):
        InMemoryEventStorageAdapter([seed])


def test_an_outbox_relay_writes_only_what_every_storage_holds() -> None:
    adapter = InMemoryEventStorageAdapter()
    for batch_size in (0, 2**63, True):
        with pytest.raises(ValueError, match=r"^OutboxRelay: batch_size must be an integer from 1 to 2147483647"):
            OutboxRelay(adapter, [], MESSAGE_CODEC, batch_size=batch_size)
    for relay_id, problem in (("relay\x00", "holds a NUL"), ("relay\ud800", "holds a lone surrogate")):
        with pytest.raises(ValueError, match=f"^OutboxRelay: relay_id .* {problem}"):
            OutboxRelay(adapter, [], MESSAGE_CODEC, relay_id=relay_id)


class PokemonIdsBus(AggregateExistsMessageBus[Any]):
    message_channel_id: ClassVar[str] = "pokemon_ids"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons"})


async def test_a_pour_page_size_beyond_what_every_storage_holds_is_refused_before_pouring() -> None:
    pokemons = pokemons_store(SQLiteEventStorageAdapter(":memory:", threaded=False))
    await pokemons.push_event(appeared("pikachu", timestamp=T0))
    for page_size in (2**63, 0, True):
        with pytest.raises(ValueError, match=r"^pour: page_size must be an integer from 1 to 2147483647"):
            await pour_aggregate_ids(pokemons, PokemonIdsBus(InMemoryMessageBusAdapter()), page_size=page_size)


# -- page tokens ----------------------------------------------------------------------------------------------


#: The long run of the property tests (as for the generator's): ten times as many examples.
LONG = os.environ.get("KASTOR_LONG_PROPERTY_TESTS") == "1"


def property_settings(max_examples: int) -> settings:
    """Deterministic (derandomized, no example database), without deadlines."""
    return settings(
        max_examples=max_examples * 10 if LONG else max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def assert_within_bounds(query: AggregateIdsQuery) -> None:
    """What a decoded token may hold: only what every storage holds."""
    assert query.limit is None or (type(query.limit) is int and 1 <= query.limit <= limits.MAX_LIMIT)
    assert type(query.reverse) is bool
    for timestamp in (query.initial_event_after, query.initial_event_before):
        assert timestamp is None or timestamp.utcoffset() == timedelta(0)
    assert query.start_after is not None
    assert id_problem(query.start_after.aggregate_id, limits.MAX_AGGREGATE_ID_BYTES) is None
    assert query.start_after.initial_event_timestamp.utcoffset() == timedelta(0)


def decodes_or_is_refused(token: Any) -> None:
    try:
        query = decode_page_token("pokemons", token)
    except InvalidPageTokenError as error:
        assert error.event_store_id == "pokemons"
        str(error).encode()  # printable, whatever the token held
    else:
        assert_within_bounds(query)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
timestamps_text = st.one_of(
    st.datetimes(timezones=st.timezones() | st.just(UTC)).map(datetime.isoformat),
    st.sampled_from([BEFORE_YEAR_1.isoformat(), AFTER_YEAR_9999.isoformat(), "2024-01-01T00:00:00", "yesterday"]),
)
#: Token bodies shaped like real ones, each field anything that could be there.
token_bodies = st.fixed_dictionaries(
    {
        "store": st.sampled_from(["pokemons", "trainers"]) | json_values,
        "limit": st.none() | st.integers() | st.booleans() | json_values,
        "after": st.none() | timestamps_text | json_values,
        "before": st.none() | timestamps_text | json_values,
        "reverse": st.booleans() | json_values,
        "last": st.tuples(timestamps_text | json_values, st.text() | json_values).map(list) | json_values,
    }
)


def base64_of(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


@property_settings(300)
@given(st.text())
def test_any_text_is_a_page_token_or_refused(token: str) -> None:
    decodes_or_is_refused(token)


@property_settings(300)
@given(st.binary().map(base64_of))
def test_base64_of_any_bytes_is_a_page_token_or_refused(token: str) -> None:
    decodes_or_is_refused(token)


@property_settings(300)
@given(json_values.map(lambda value: base64_of(json.dumps(value).encode())))
def test_base64_of_any_json_is_a_page_token_or_refused(token: str) -> None:
    decodes_or_is_refused(token)


@property_settings(500)
@given(token_bodies.map(lambda body: base64_of(json.dumps(body).encode())))
def test_a_forged_token_body_is_a_page_token_or_refused(token: str) -> None:
    decodes_or_is_refused(token)


@property_settings(50)
@given(st.integers(min_value=1, max_value=20_000), st.sampled_from(["[", "{", '{"a":', "[{", '"']))
def test_a_token_nested_or_unbalanced_to_any_depth_is_refused(levels: int, opening: str) -> None:
    with pytest.raises(InvalidPageTokenError):
        decode_page_token("pokemons", base64_of((opening * levels).encode()))


def test_any_value_that_is_not_text_is_refused_as_a_token() -> None:
    for token in (None, b"token", 7, ["a"], 10**5000):
        with pytest.raises(InvalidPageTokenError, match="it must be a string"):
            decode_page_token("pokemons", token)  # type: ignore[arg-type]


storable_ids = st.text().filter(lambda text: id_problem(text, limits.MAX_AGGREGATE_ID_BYTES) is None)
utc_instants = st.datetimes(timezones=st.timezones() | st.just(UTC)).filter(
    lambda moment: (
        datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
        <= moment
        <= datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
    )
)


@property_settings(300)
@given(
    st.none() | st.integers(min_value=1, max_value=limits.MAX_LIMIT),
    st.none() | utc_instants,
    st.none() | utc_instants,
    st.booleans(),
    storable_ids,
    utc_instants,
)
def test_every_token_list_aggregate_ids_returns_decodes_to_its_query(
    limit: int | None,
    after: datetime | None,
    before: datetime | None,
    reverse: bool,
    last_id: str,
    last_timestamp: datetime,
) -> None:
    query = AggregateIdsQuery(
        limit,
        None if after is None else after.astimezone(UTC),
        None if before is None else before.astimezone(UTC),
        reverse,
    )
    last = AggregateIdEntry(last_id, last_timestamp.astimezone(UTC))
    token = encode_page_token("pokemons", query, last)
    assert len(token) <= MAX_PAGE_TOKEN_LENGTH
    decoded = decode_page_token("pokemons", token)
    assert decoded == AggregateIdsQuery(limit, query.initial_event_after, query.initial_event_before, reverse, last)


def test_the_longest_token_is_within_the_length_bound() -> None:
    # Every byte of the id written as \u00XX: the most JSON a token's id can take.
    query = AggregateIdsQuery(limits.MAX_LIMIT, T0, T0, True)
    longest_id = "\x01" * limits.MAX_AGGREGATE_ID_BYTES
    store = "\x01" * limits.MAX_EVENT_STORE_ID_BYTES
    token = encode_page_token(store, query, AggregateIdEntry(longest_id, T0))
    assert len(token) <= MAX_PAGE_TOKEN_LENGTH
    assert decode_page_token(store, token).start_after == AggregateIdEntry(longest_id, T0)


def test_a_push_with_an_edge_timestamp_is_an_invalid_event_error_not_an_overflow() -> None:
    hostile = PokemonAppeared.model_construct(
        aggregate_id="edge",
        version=1,
        timestamp=AFTER_YEAR_9999,
        payload=PokemonAppearedPayload(name="Mew", level=1, pokemon_type="psychic"),
    )
    with pytest.raises(InvalidEventError, match=OUT_OF_RANGE):
        POKEMONS_EVENT_CODEC.validate(hostile)
