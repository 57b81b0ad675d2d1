"""The hook of an initial event takes (event) only: there is no aggregate before it."""

from pokedex import Pokemon, PokemonAppeared, PokemonCaught, PokemonLeveledUp, PokemonsReducer


class EagerReducer(PokemonsReducer):
    def on_pokemon_appeared(self, aggregate: Pokemon, event: PokemonAppeared) -> Pokemon:  # E: override
        return aggregate

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Pokemon:
        return aggregate.model_copy(update={"trainer_id": event.payload.trainer_id})

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": aggregate.level + 1})
