"""A reducer that forgets the POKEMON_LEVELED_UP hook: instantiating it is an error."""

from pokedex import Pokemon, PokemonAppeared, PokemonCaught, PokemonsReducer


class ForgetfulReducer(PokemonsReducer):
    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        payload = event.payload
        return Pokemon(
            name=payload.name, level=payload.level, pokemon_type=payload.pokemon_type, trainer_id=None
        )

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Pokemon:
        return aggregate.model_copy(update={"trainer_id": event.payload.trainer_id})


def make_reducer() -> PokemonsReducer:
    return ForgetfulReducer()  # E: abstract
