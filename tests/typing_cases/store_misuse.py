"""Mistakes with typed event stores that mypy must catch."""

from pokedex import (
    PokemonLeveledUp,
    PokemonsEventStore,
    PokemonsReducer,
    PushEventResult,
    Trainer,
    TrainerRegistered,
    TrainerRegisteredPayload,
    TrainersEvent,
    TrainersReducer,
)

ASH = TrainerRegistered(aggregate_id="ash", version=1, payload=TrainerRegisteredPayload(name="Ash"))


async def push_a_trainer_into_pokemons(pokemons: PokemonsEventStore) -> None:
    await pokemons.push_event(ASH)  # E: arg-type


async def level_without_checking(pokemons: PokemonsEventStore) -> int:
    current = await pokemons.get_aggregate("pikachu-1")
    return current.aggregate.level  # E: union-attr


async def next_aggregate_is_a_pokemon(pokemons: PokemonsEventStore) -> Trainer | None:
    pushed = await pokemons.push_event(PokemonLeveledUp(aggregate_id="pikachu-1", version=2))
    return pushed.next_aggregate  # E: return-value


async def prev_aggregate_of_another_store(pokemons: PokemonsEventStore, trainer: Trainer) -> None:
    await pokemons.push_event(PokemonLeveledUp(aggregate_id="pikachu-1", version=2), prev_aggregate=trainer)  # E: arg-type


def store_with_the_wrong_reducer(reducer: TrainersReducer) -> PokemonsEventStore:
    return PokemonsEventStore(reducer=reducer)  # E: arg-type


async def on_trainer_pushed(result: PushEventResult[TrainersEvent, Trainer]) -> None:
    return None


def callback_of_another_store(reducer: PokemonsReducer) -> PokemonsEventStore:
    return PokemonsEventStore(reducer=reducer, on_event_pushed=on_trainer_pushed)  # E: arg-type
