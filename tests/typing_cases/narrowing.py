"""Narrowing a store's event union on the `type` literal (or the class) gives the event's payload."""

from typing import assert_type

from pokedex import PokemonCaught, PokemonCaughtPayload, PokemonLeveledUp, PokemonsEvent


def trainer_of(event: PokemonsEvent) -> str | None:
    if event.type == "POKEMON_CAUGHT":
        assert_type(event, PokemonCaught)
        assert_type(event.payload, PokemonCaughtPayload)
        return event.payload.trainer_id
    return None


def trainer_by_match(event: PokemonsEvent) -> str | None:
    match event:
        case PokemonCaught(payload=payload):
            return payload.trainer_id
        case _:
            return None


def payload_of_any(event: PokemonsEvent) -> object:
    return event.payload  # E: union-attr


def payload_of_level_up(event: PokemonLeveledUp) -> object:
    return event.payload  # E: attr-defined
