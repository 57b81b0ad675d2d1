"""A hook that declares the event class of another event type."""

from pokedex import Pokemon, PokemonAppeared, PokemonLeveledUp, PokemonsReducer


class MixedUpReducer(PokemonsReducer):
    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        payload = event.payload
        return Pokemon(
            name=payload.name, level=payload.level, pokemon_type=payload.pokemon_type, trainer_id=None
        )

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:  # E: override
        return aggregate

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": aggregate.level + 1})
