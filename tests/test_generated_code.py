"""The generated events, models, codecs and reducers behave as the contract says, at run time."""

import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from .support import EXAMPLES

sys.path.insert(0, str(EXAMPLES))

import bookshop
import pokedex
from pokedex import (
    POKEMONS_EVENT_CODEC,
    EventDecodeError,
    InvalidEventError,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonsMetadata,
    PokemonsReducer,
)

from demo.pokedex_demo import Pokedex


def appeared(version: int = 1, **overrides: object) -> PokemonAppeared:
    payload = PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric")
    return PokemonAppeared(aggregate_id="pikachu-1", version=version, payload=payload, **overrides)  # type: ignore[arg-type]


def test_events_carry_their_type_literal_and_the_contract_fields() -> None:
    event = appeared()
    assert event.type == "POKEMON_APPEARED"
    assert set(PokemonAppeared.model_fields) == {"aggregate_id", "version", "timestamp", "type", "payload", "metadata"}
    assert "payload" not in PokemonLeveledUp.model_fields
    assert "metadata" not in pokedex.TrainerRegistered.model_fields
    assert event.timestamp is None
    assert event.metadata == PokemonsMetadata()


def test_payloads_are_validated() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        PokemonAppearedPayload(name="Mew", level=101, pokemon_type="psychic")
    with pytest.raises(ValidationError, match="pokemon_type"):
        PokemonAppearedPayload(name="Mew", level=1, pokemon_type="ghost")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        PokemonLeveledUp(aggregate_id="a", version=0)


def test_events_are_immutable() -> None:
    event = appeared()
    with pytest.raises(ValidationError, match="frozen"):
        event.version = 2  # type: ignore[misc]


def test_timestamps_must_be_aware_and_are_kept_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    event = appeared(timestamp=datetime(2026, 1, 2, 13, 0, 0, 123456, tzinfo=paris))
    assert event.timestamp == datetime(2026, 1, 2, 12, 0, 0, 123456, tzinfo=UTC)
    assert event.timestamp is not None and event.timestamp.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="timezone"):
        appeared(timestamp=datetime(2026, 1, 2, 12, 0, 0))


def test_the_codec_round_trips_every_event_exactly() -> None:
    events = [
        appeared(
            timestamp=datetime(2026, 1, 2, 12, 0, 0, 999999, tzinfo=UTC), metadata=PokemonsMetadata(correlation_id="c")
        ),
        PokemonCaught(aggregate_id="pikachu-1", version=2, payload=PokemonCaughtPayload(trainer_id="ash")),
        PokemonLeveledUp(aggregate_id="pikachu-1", version=3),
    ]
    for event in events:
        assert POKEMONS_EVENT_CODEC.from_json(POKEMONS_EVENT_CODEC.to_json(event)) == event
        assert POKEMONS_EVENT_CODEC.from_dict(POKEMONS_EVENT_CODEC.to_dict(event)) == event
        assert type(POKEMONS_EVENT_CODEC.from_json(POKEMONS_EVENT_CODEC.to_json(event))) is type(event)


def test_nullable_fields_survive_the_codec() -> None:
    cancelled = bookshop.OrderCancelled(
        aggregate_id="o1",
        version=2,
        payload=bookshop.OrderCancelledPayload(reason="out_of_stock", comment=None),
        metadata=bookshop.OrdersMetadata(correlation_id="7d1e2f0a-35a0-4c68-b3b1-8e1c0a1d9a00", actor="staff"),
    )
    assert bookshop.ORDERS_EVENT_CODEC.from_json(bookshop.ORDERS_EVENT_CODEC.to_json(cancelled)) == cancelled


def test_stored_json_that_no_event_matches_names_the_store() -> None:
    with pytest.raises(EventDecodeError, match="pokemons: invalid stored event") as raised:
        POKEMONS_EVENT_CODEC.from_json(b'{"aggregate_id": "a", "version": 1, "type": "POKEMON_VANISHED"}')
    assert raised.value.event_store_id == "pokemons"
    with pytest.raises(EventDecodeError, match="payload"):
        POKEMONS_EVENT_CODEC.from_dict({"aggregate_id": "a", "version": 1, "type": "POKEMON_APPEARED"})
    with pytest.raises(EventDecodeError):
        POKEMONS_EVENT_CODEC.from_json(b"not json")


def test_the_reducer_folds_events_and_maintains_id_and_version() -> None:
    reducer = Pokedex()
    aggregate = reducer.fold(
        [
            appeared(),
            PokemonLeveledUp(aggregate_id="pikachu-1", version=2),
            PokemonCaught(aggregate_id="pikachu-1", version=3, payload=PokemonCaughtPayload(trainer_id="ash")),
        ]
    )
    assert aggregate == Pokemon(
        aggregate_id="pikachu-1", version=3, name="Pikachu", level=6, pokemon_type="electric", trainer_id="ash"
    )


def test_a_non_initial_event_without_an_aggregate_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="needs an existing aggregate") as raised:
        Pokedex().reduce(None, PokemonLeveledUp(aggregate_id="pikachu-1", version=2))
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "pikachu-1",
        2,
    )


def test_a_reducer_missing_a_hook_cannot_be_instantiated() -> None:
    class Incomplete(PokemonsReducer):
        def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
            raise NotImplementedError

    with pytest.raises(TypeError, match="on_pokemon_caught"):
        Incomplete()  # type: ignore[abstract]


def test_nested_models_get_names_from_where_they_stand() -> None:
    assert (
        bookshop.OrderPlacedPayload.model_fields["delivery_address"].annotation
        is bookshop.OrderPlacedPayloadDeliveryAddress
    )
    assert "OrderShippedPayloadParcelsItem" in bookshop.__all__
    assert issubclass(bookshop.Order, bookshop.Aggregate)


def test_the_package_root_reexports_generated_and_runtime_names() -> None:
    for name in (
        "PokemonAppeared",
        "PokemonAppearedPayload",
        "PokemonsMetadata",
        "PokemonsEvent",
        "Pokemon",
        "PokemonsReducer",
        "Event",
        "Aggregate",
        "Reducer",
        "EventCodec",
        "KastorError",
    ):
        assert name in pokedex.__all__
        assert hasattr(pokedex, name)
