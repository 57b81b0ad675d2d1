"""Messages as JSON (for brokers): every kind round-trips to an equal typed message; bad bodies are clear errors."""

import json

import pytest

from .pokedex_builders import T0, appeared, caught, pokemon, registered  # isort: split

from pokedex import (
    MESSAGE_CODEC,
    AggregateExistsMessage,
    MessageDecodeError,
    NotificationMessage,
    PokemonCaught,
    StateCarryingMessage,
    Trainer,
)

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
