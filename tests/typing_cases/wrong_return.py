"""Hooks must return the store's aggregate, not another store's."""

from pokedex import Pokemon, PokemonAppeared, PokemonCaught, PokemonLeveledUp, PokemonsReducer, Trainer


class ConfusedReducer(PokemonsReducer):
    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        return Trainer(name=event.payload.name, caught_pokemon_ids=[])  # E: return-value

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Trainer:  # E: override
        return Trainer(name=aggregate.name, caught_pokemon_ids=[event.aggregate_id])

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": aggregate.level + 1})
