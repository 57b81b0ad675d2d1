"""Typed event stores, used as a user would: every result carries the store's own events and aggregate."""

import asyncio
from typing import Literal, assert_type

from complete_reducer import PokedexReducer
from pokedex import (
    EventStore,
    InMemoryEventStorageAdapter,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonLeveledUp,
    PokemonsEventStore,
    PushEventResult,
    Trainer,
    TrainerCaughtPokemon,
    TrainerRegistered,
    TrainerRegisteredPayload,
    TrainersEvent,
    TrainersEventStore,
    TrainersReducer,
)


class TrainerBook(TrainersReducer):
    def on_trainer_registered(self, event: TrainerRegistered) -> Trainer:
        return Trainer(name=event.payload.name, caught_pokemon_ids=[])

    def on_trainer_caught_pokemon(self, aggregate: Trainer, event: TrainerCaughtPokemon) -> Trainer:
        return aggregate.model_copy(update={"caught_pokemon_ids": [*aggregate.caught_pokemon_ids, event.payload.pokemon_id]})


async def on_trainer_pushed(result: PushEventResult[TrainersEvent, Trainer]) -> None:
    assert_type(result.event, TrainerCaughtPokemon | TrainerRegistered)


async def level_of_new_pokemon(pokemons: PokemonsEventStore, trainers: TrainersEventStore) -> int:
    assert_type(pokemons.event_store_id, Literal["pokemons"])
    appeared = await pokemons.push_event(
        PokemonAppeared(
            aggregate_id="pikachu-1", version=1, payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric")
        )
    )
    assert_type(appeared.next_aggregate, Pokemon | None)
    assert_type(appeared.event, PokemonAppeared | PokemonCaught | PokemonLeveledUp)

    current = await pokemons.get_aggregate("pikachu-1")
    assert_type(current.aggregate, Pokemon | None)
    assert_type(current.last_event, PokemonAppeared | PokemonCaught | PokemonLeveledUp | None)

    existing = await pokemons.get_existing_aggregate("pikachu-1")
    assert_type(existing.aggregate, Pokemon)

    leveled, registered = await EventStore.push_event_group(
        pokemons.group_event(PokemonLeveledUp(aggregate_id="pikachu-1", version=2), prev_aggregate=existing.aggregate),
        trainers.group_event(TrainerRegistered(aggregate_id="ash", version=1, payload=TrainerRegisteredPayload(name="Ash"))),
    )
    assert_type(leveled.next_aggregate, Pokemon | None)
    assert_type(registered.next_aggregate, Trainer | None)
    assert leveled.next_aggregate is not None
    return leveled.next_aggregate.level


def run() -> int:
    storage = InMemoryEventStorageAdapter()
    pokemons = PokemonsEventStore(reducer=PokedexReducer(), event_storage_adapter=storage)
    trainers = TrainersEventStore(reducer=TrainerBook(), event_storage_adapter=storage, on_event_pushed=on_trainer_pushed)
    return asyncio.run(level_of_new_pokemon(pokemons, trainers))
