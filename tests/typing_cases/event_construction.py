"""Constructing events: the payload class is checked, and `type` is a string literal."""

from typing import Literal, assert_type

from pokedex import PokemonAppeared, PokemonAppearedPayload, PokemonCaughtPayload, PokemonLeveledUp

appeared = PokemonAppeared(
    aggregate_id="pikachu-1",
    version=1,
    payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
)
assert_type(appeared.type, Literal["POKEMON_APPEARED"])
assert_type(PokemonLeveledUp(aggregate_id="pikachu-1", version=2).type, Literal["POKEMON_LEVELED_UP"])

wrong_payload = PokemonAppeared(
    aggregate_id="pikachu-1",
    version=1,
    payload=PokemonCaughtPayload(trainer_id="ash"),  # E: arg-type
)

no_payload = PokemonAppeared(aggregate_id="pikachu-1", version=1)  # E: call-arg

wrong_type = PokemonAppeared(
    aggregate_id="pikachu-1",
    version=1,
    type="POKEMON_CAUGHT",  # E: arg-type
    payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
)

unknown_pokemon_type = PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="earth")  # E: arg-type
