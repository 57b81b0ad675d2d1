"""A complete reducer of the pokemons store, written as a user would: mypy --strict accepts it."""

from typing import assert_type

from pokedex import (
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonsEvent,
    PokemonsReducer,
)


class PokedexReducer(PokemonsReducer):
    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        payload = event.payload
        return Pokemon(
            name=payload.name, level=payload.level, pokemon_type=payload.pokemon_type, trainer_id=None
        )

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Pokemon:
        return aggregate.model_copy(update={"trainer_id": event.payload.trainer_id})

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": min(aggregate.level + 1, 100)})


def pikachu_history(aggregate_id: str) -> list[PokemonsEvent]:
    return [
        PokemonAppeared(
            aggregate_id=aggregate_id,
            version=1,
            payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
        ),
        PokemonCaught(aggregate_id=aggregate_id, version=2, payload=PokemonCaughtPayload(trainer_id="ash")),
        PokemonLeveledUp(aggregate_id=aggregate_id, version=3),
    ]


def fold_pikachu(aggregate_id: str) -> Pokemon | None:
    reducer = PokedexReducer()
    folded = reducer.fold(pikachu_history(aggregate_id))
    assert_type(folded, Pokemon | None)
    return folded


def level_up(aggregate: Pokemon) -> Pokemon:
    next_aggregate = PokedexReducer().reduce(
        aggregate, PokemonLeveledUp(aggregate_id=aggregate.aggregate_id, version=aggregate.version + 1)
    )
    assert_type(next_aggregate, Pokemon)
    return next_aggregate
