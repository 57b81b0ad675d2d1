"""Messages as JSON (for brokers): every kind round-trips to an equal typed message; bad bodies are clear errors."""

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .pokedex_builders import T0, appeared, caught, leveled_up, pokemon, registered, trainer_caught  # isort: split

from pokedex import (
    MESSAGE_CODEC,
    AggregateExistsMessage,
    InvalidMessageError,
    Message,
    MessageDecodeError,
    NotificationMessage,
    Pokemon,
    PokemonCaught,
    PokemonsEvent,
    StateCarryingMessage,
    Trainer,
    TrainersEvent,
)
from pokedex.runtime.limits import MAX_VERSION

MESSAGES = [
    NotificationMessage("pokemons", appeared(timestamp=T0)),
    NotificationMessage("trainers", registered(timestamp=T0)),
    StateCarryingMessage("pokemons", caught(version=2, timestamp=T0), pokemon(version=2, trainer_id="ash")),
    StateCarryingMessage(
        "trainers", registered(timestamp=T0), Trainer(aggregate_id="ash", version=1, name="Ash", caught_pokemon_ids=[])
    ),
    AggregateExistsMessage("pokemons", "pikachu-1", T0),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: type(message).__name__)
def test_every_kind_of_message_round_trips_to_an_equal_typed_message(message: object) -> None:
    decoded = MESSAGE_CODEC.from_json(MESSAGE_CODEC.to_json(message))  # type: ignore[arg-type]
    assert decoded == message
    assert type(decoded) is type(message)


def test_the_body_is_plain_json_that_names_the_kind_the_store_and_the_event() -> None:
    message = StateCarryingMessage("pokemons", caught(version=2, timestamp=T0), pokemon(version=2, trainer_id="ash"))
    body = json.loads(MESSAGE_CODEC.to_json(message))
    assert body["kind"] == "state-carrying"
    assert body["event_store_id"] == "pokemons"
    assert body["event"]["type"] == "POKEMON_CAUGHT"
    assert body["event"]["payload"] == {"trainer_id": "ash"}
    assert body["aggregate"]["trainer_id"] == "ash"
    decoded = MESSAGE_CODEC.from_dict(body)
    assert isinstance(decoded, StateCarryingMessage) and isinstance(decoded.event, PokemonCaught)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"kind": "notification"}', "no event_store_id"),
        (b'{"kind": "notification", "event_store_id": "orders", "event": {}}', "no store 'orders'"),
        (b'{"kind": "shout", "event_store_id": "pokemons", "event": {}}', "unknown message kind 'shout'"),
        (b'{"kind": "notification", "event_store_id": "pokemons", "event": {"type": "X"}}', "invalid event in"),
        (
            b'{"kind": "state-carrying", "event_store_id": "trainers", "aggregate": {"name": 1},'
            b' "event": {"aggregate_id": "ash", "version": 1, "type": "TRAINER_REGISTERED", "payload": {"name": "A"}}}',
            "invalid aggregate in a message",
        ),
        (b'{"kind": "notification", "event_store_id": "pokemons"}', "malformed notification message"),
        (
            b'{"kind": "aggregate-exists", "event_store_id": "pokemons", "aggregate_id": "p",'
            b' "initial_event_timestamp": "2024-01-01T00:00:00"}',
            "must be an aware datetime",
        ),
    ],
)
def test_a_bad_body_is_a_message_decode_error_saying_what_is_wrong(body: bytes, error: str) -> None:
    with pytest.raises(MessageDecodeError, match=error):
        MESSAGE_CODEC.from_json(body)


def test_a_message_of_a_store_the_package_does_not_have_cannot_be_written() -> None:
    with pytest.raises(MessageDecodeError, match="no store 'orders'"):
        MESSAGE_CODEC.to_json(AggregateExistsMessage("orders", "o-1", T0))


def test_a_message_of_another_runtime_is_refused_not_guessed() -> None:
    # Each generated package carries its own runtime: bookshop's message classes are not pokedex's.
    import bookshop

    foreign = bookshop.StateCarryingMessage("pokemons", appeared(timestamp=T0), pokemon(version=1))
    with pytest.raises(TypeError, match="StateCarryingMessage is not a message of this package"):
        MESSAGE_CODEC.to_json(foreign)  # type: ignore[arg-type]


# -- strict decoding: every field of every kind ------------------------------------------------------------

EXISTS = {"kind": "aggregate-exists", "event_store_id": "pokemons", "aggregate_id": "p"}
EXISTS_AT = {**EXISTS, "initial_event_timestamp": "2024-01-01T00:00:00+00:00"}
APPEARED = {"aggregate_id": "pikachu-1", "version": 1, "type": "POKEMON_APPEARED"} | {
    "payload": {"name": "Pikachu", "level": 5, "pokemon_type": "electric"}
}
CARRYING = {"kind": "state-carrying", "event_store_id": "pokemons", "event": APPEARED}
PIKACHU = {"name": "Pikachu", "level": 5, "pokemon_type": "electric", "trainer_id": None}


def body(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            body({**EXISTS_AT, "aggregate_id": None}), "aggregate_id must be a string, got null", id="id null"
        ),
        pytest.param(body({**EXISTS_AT, "aggregate_id": {"a": 1}}), "must be a string, got an object", id="id object"),
        pytest.param(body({**EXISTS_AT, "aggregate_id": 7}), "must be a string, got a number", id="id number"),
        pytest.param(body({**EXISTS_AT, "aggregate_id": True}), "must be a string, got a boolean", id="id boolean"),
        pytest.param(body({**EXISTS, "initial_event_timestamp": 1}), "must be an ISO 8601 string", id="time number"),
        pytest.param(body({**EXISTS, "initial_event_timestamp": "yesterday"}), "not an ISO 8601", id="time text"),
        pytest.param(
            body({**EXISTS, "initial_event_timestamp": "0001-01-01T00:30:00+01:00"}),
            "outside the years 1 to 9999 once in UTC",
            id="time before year 1 in UTC",
        ),
        pytest.param(
            body({**CARRYING, "aggregate": {**PIKACHU, "aggregate_id": "eevee-1", "version": 1}}),
            "carries the aggregate 'eevee-1' at version 1, but its event is of 'pikachu-1' at version 1",
            id="aggregate of another id",
        ),
        pytest.param(
            body({**CARRYING, "aggregate": {**PIKACHU, "aggregate_id": "pikachu-1", "version": 2}}),
            "carries the aggregate 'pikachu-1' at version 2, but its event is of 'pikachu-1' at version 1",
            id="aggregate of another version",
        ),
        pytest.param(body({**CARRYING, "aggregate": [1]}), "aggregate must be a JSON object, got an array", id="agg"),
        pytest.param(body({**CARRYING, "event": "x", "aggregate": {}}), "event must be a JSON object", id="event"),
        pytest.param(body({**EXISTS_AT, "event_store_id": 3}), "event_store_id must be a string", id="store id"),
        pytest.param(body({**EXISTS_AT, "event_store_id": "x" * 10_000}), r"no store 'xxx.*\.\.\.x' in", id="long"),
        pytest.param(body({**EXISTS_AT, "kind": ["notification"]}), "unknown message kind", id="kind array"),
        pytest.param(body({**EXISTS_AT, "extra": 1}), "unexpected field 'extra'", id="extra field"),
        pytest.param(body({**EXISTS_AT, "event": APPEARED}), "unexpected field 'event'", id="field of another kind"),
        pytest.param(body(EXISTS), "malformed aggregate-exists message: no initial_event_timestamp", id="missing"),
        pytest.param(b'{"kind": "aggregate-exists", "kind": "notification"}', "repeats the key 'kind'", id="dup"),
        pytest.param(body(EXISTS_AT).replace(b'"p"', b"NaN"), "NaN is not a JSON number", id="NaN"),
        pytest.param(body(EXISTS_AT).replace(b'"p"', b"1e400"), "too large for a float", id="1e400"),
        pytest.param(body(EXISTS_AT).replace(b'"p"', b"9" * 5000), "not JSON", id="huge integer"),
        pytest.param(body(EXISTS_AT).replace(b'"p"', b'"\xff"'), "not UTF-8", id="not UTF-8"),
        pytest.param(json.dumps(EXISTS_AT).encode("utf-16"), "not UTF-8", id="UTF-16"),
        pytest.param(body(EXISTS_AT).replace(b'"p"', b'"\\ud800"'), "lone surrogate", id="escaped lone surrogate"),
        pytest.param(
            json.dumps({**EXISTS_AT, "aggregate_id": "\ud800"}, ensure_ascii=False), "lone surrogate", id="str"
        ),
        pytest.param(12, "must be str or bytes, got int", id="not a body"),
    ],
)
def test_every_field_of_every_kind_is_checked_strictly(data: Any, error: str) -> None:
    with pytest.raises(MessageDecodeError, match=error):
        MESSAGE_CODEC.from_json(data)


def test_a_surrogate_pair_escape_is_a_character_not_a_lone_surrogate() -> None:
    decoded = MESSAGE_CODEC.from_json(body({**EXISTS_AT, "aggregate_id": "🐉"}))
    assert isinstance(decoded, AggregateExistsMessage) and decoded.aggregate_id == "🐉"


def test_a_message_holding_a_lone_surrogate_cannot_be_written() -> None:
    with pytest.raises(InvalidMessageError, match="cannot be written as UTF-8 JSON: it holds a lone surrogate"):
        MESSAGE_CODEC.to_json(AggregateExistsMessage("pokemons", "a\ud800b", T0))


# -- the message classes refuse what contradicts itself ----------------------------------------------------


@pytest.mark.parametrize(
    ("aggregate", "error"),
    [
        (pokemon("eevee-1", version=2, trainer_id="ash"), "aggregate is 'eevee-1' at version 2, but its event is of"),
        (pokemon(version=1, trainer_id="ash"), "at version 1, but its event is of 'pikachu-1' at version 2"),
        (None, "aggregate is None at version None"),
    ],
)
def test_a_state_carrying_message_refuses_an_aggregate_not_as_of_its_event(aggregate: Any, error: str) -> None:
    with pytest.raises(InvalidMessageError, match=error) as refused:
        StateCarryingMessage("pokemons", caught(version=2, timestamp=T0), aggregate)
    assert refused.value.event_store_id == "pokemons"
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("aggregate_id", "timestamp", "error"),
    [
        (None, T0, "aggregate_id must be a str, got NoneType"),
        ("p", datetime(2024, 1, 1), "initial_event_timestamp must be an aware datetime"),
        ("p", "2024-01-01T00:00:00+00:00", "initial_event_timestamp must be an aware datetime"),
    ],
)
def test_an_aggregate_exists_message_refuses_a_non_string_id_or_a_naive_timestamp(
    aggregate_id: Any, timestamp: Any, error: str
) -> None:
    with pytest.raises(InvalidMessageError, match=error):
        AggregateExistsMessage("pokemons", aggregate_id, timestamp)


# -- properties: every message round-trips; any body is a message or a MessageDecodeError -------------------

LONG = os.environ.get("KASTOR_LONG_PROPERTY_TESTS") == "1"
PROPERTY_SETTINGS = settings(
    max_examples=2000 if LONG else 150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

texts = st.text(max_size=12)
versions = st.integers(min_value=1, max_value=MAX_VERSION)  # every version a storage holds
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
timestamps = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets.map(timezone)
)
levels = st.integers(min_value=1, max_value=100)
pokemon_types = st.sampled_from(["fire", "water", "grass", "electric", "psychic", "normal"])


@st.composite
def pokemons_events(draw: st.DrawFn) -> PokemonsEvent:
    aggregate_id, version = draw(texts), draw(versions)
    timestamp = draw(st.none() | timestamps)
    kind = draw(st.sampled_from(["appeared", "caught", "leveled up"]))
    if kind == "appeared":
        name = draw(st.text(min_size=1, max_size=12))
        correlation_id = draw(st.none() | texts)
        return appeared(aggregate_id, version=version, name=name, timestamp=timestamp, correlation_id=correlation_id)
    if kind == "caught":
        return caught(aggregate_id, version=version, trainer_id=draw(texts), timestamp=timestamp)
    return leveled_up(aggregate_id, version=version, timestamp=timestamp)


@st.composite
def trainers_events(draw: st.DrawFn) -> TrainersEvent:
    aggregate_id, timestamp = draw(texts), draw(st.none() | timestamps)
    if draw(st.booleans()):
        return registered(aggregate_id, name=draw(st.text(min_size=1, max_size=12)), timestamp=timestamp)
    return trainer_caught(aggregate_id, version=draw(versions), pokemon_id=draw(texts), timestamp=timestamp)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    kind = draw(st.sampled_from(["notification", "state-carrying", "aggregate-exists"]))
    store = draw(st.sampled_from(["pokemons", "trainers"]))
    if kind == "aggregate-exists":
        return AggregateExistsMessage(store, draw(texts), draw(timestamps))
    event: Any = draw(pokemons_events() if store == "pokemons" else trainers_events())
    if kind == "notification":
        return NotificationMessage(store, event)
    aggregate: Any
    if store == "pokemons":
        aggregate = Pokemon(
            aggregate_id=event.aggregate_id,
            version=event.version,
            name=draw(texts),
            level=draw(levels),
            pokemon_type=draw(pokemon_types),
            trainer_id=draw(st.none() | texts),
        )
    else:
        caught_ids = draw(st.lists(texts, max_size=3))
        aggregate = Trainer(
            aggregate_id=event.aggregate_id, version=event.version, name=draw(texts), caught_pokemon_ids=caught_ids
        )
    return StateCarryingMessage(store, event, aggregate)


@PROPERTY_SETTINGS
@given(messages())
def test_every_message_encodes_and_decodes_back_exactly(message: Message) -> None:
    written = MESSAGE_CODEC.to_json(message)
    decoded = MESSAGE_CODEC.from_json(written)
    assert decoded == message
    assert type(decoded) is type(message)
    # Read back, a timestamp is in UTC: only an aggregate-exists body written at another offset changes.
    assert MESSAGE_CODEC.to_json(decoded) == written or isinstance(message, AggregateExistsMessage)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**310)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["pokemons", "trainers", "notification", "state-carrying", "aggregate-exists", "2024-01-01"])
    # Strings UTF-8 cannot hold, and instants UTC cannot hold.
    | st.sampled_from(["\ud800", "a\udfffb", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def nested(depth: int) -> Any:
    value: Any = []
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def corrupted_bodies(draw: st.DrawFn) -> Any:
    """A valid body with one field replaced (by any JSON value, deep nesting included), removed or added."""
    fields = json.loads(MESSAGE_CODEC.to_json(draw(messages())))
    inner = fields
    path = draw(st.lists(st.text(max_size=1), max_size=3))
    for step in path:  # a field of the body, or of its event or aggregate
        containers = [key for key, value in inner.items() if isinstance(value, dict)]
        if not containers or step == "":
            break
        inner = inner[draw(st.sampled_from(sorted(containers)))]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    keys = sorted(inner)
    if action == "add" or not keys:
        inner[draw(st.text(max_size=6))] = draw(json_values)
    elif action == "remove":
        del inner[draw(st.sampled_from(keys))]
    else:
        inner[draw(st.sampled_from(keys))] = draw(json_values | st.integers(60, 80).map(nested))
    return fields


def decodes_or_refuses(data: Any, fields: Any = None) -> None:
    """`data` decodes to a message that round-trips and says what `fields` (its body, when known) say, or
    is refused with MessageDecodeError; nothing else."""
    try:
        message = MESSAGE_CODEC.from_json(data)
    except MessageDecodeError:
        return
    assert MESSAGE_CODEC.from_json(MESSAGE_CODEC.to_json(message)) == message
    if isinstance(message, StateCarryingMessage):
        assert (message.aggregate.aggregate_id, message.aggregate.version) == (
            message.event.aggregate_id,
            message.event.version,
        )
    if isinstance(fields, dict):
        assert message.event_store_id == fields["event_store_id"]
        if isinstance(message, AggregateExistsMessage):
            assert message.aggregate_id == fields["aggregate_id"]


@PROPERTY_SETTINGS
@given(corrupted_bodies())
def test_a_corrupted_body_is_a_message_or_a_message_decode_error(fields: Any) -> None:
    decodes_or_refuses(json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass"), fields)
    decodes_or_refuses(json.dumps(fields), fields)


@PROPERTY_SETTINGS
@given(messages(), st.data())
def test_corrupted_bytes_are_a_message_or_a_message_decode_error(message: Message, data: st.DataObject) -> None:
    written = bytearray(MESSAGE_CODEC.to_json(message))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(written)))
        action = data.draw(st.sampled_from(["flip", "insert", "cut"]))
        if action == "flip" and at < len(written):
            written[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            written[at:at] = data.draw(st.binary(min_size=1, max_size=4) | st.sampled_from([b"\\ud800", b"[" * 70]))
        else:
            del written[at:]
    decodes_or_refuses(bytes(written))


@PROPERTY_SETTINGS
@given(json_values)
def test_any_json_value_is_a_message_or_a_message_decode_error(value: Any) -> None:
    decodes_or_refuses(json.dumps(value))
    decodes_or_refuses(value if isinstance(value, str) else json.dumps(value).encode())
