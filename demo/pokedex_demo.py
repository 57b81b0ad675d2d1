"""The pokedex demo: typed event stores of the generated `pokedex` package on SQLite, the embedded default.

Run it from the repository root after `kastor generate`:

    python demo/pokedex_demo.py [--database PATH]

Without --database the events go to a fresh file in a temporary directory. Pikachu appears, levels up
and is caught by Ash: the catch is one atomic group of two events in two stores. The aggregates are then
rebuilt from the stored events, and the stores list their aggregates.
"""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

# The generated package lives in generated_examples/, which is not installed: make it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    EventAlreadyExistsError,
    EventStore,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonsEventStore,
    PokemonsReducer,
    PushEventResult,
    SQLiteEventStorageAdapter,
    Trainer,
    TrainerCaughtPokemon,
    TrainerCaughtPokemonPayload,
    TrainerRegistered,
    TrainerRegisteredPayload,
    TrainersEvent,
    TrainersEventStore,
    TrainersReducer,
)


class Pokedex(PokemonsReducer):
    """How each pokemon event changes a pokemon: one typed hook per event type."""

    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        payload = event.payload
        return Pokemon(name=payload.name, level=payload.level, pokemon_type=payload.pokemon_type, trainer_id=None)

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Pokemon:
        return aggregate.model_copy(update={"trainer_id": event.payload.trainer_id})

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": aggregate.level + 1})


class TrainerBook(TrainersReducer):
    """How each trainer event changes a trainer."""

    def on_trainer_registered(self, event: TrainerRegistered) -> Trainer:
        return Trainer(name=event.payload.name, caught_pokemon_ids=[])

    def on_trainer_caught_pokemon(self, aggregate: Trainer, event: TrainerCaughtPokemon) -> Trainer:
        return aggregate.model_copy(
            update={"caught_pokemon_ids": [*aggregate.caught_pokemon_ids, event.payload.pokemon_id]}
        )


async def run(database: Path) -> None:
    async with SQLiteEventStorageAdapter(database) as storage:
        pokemons = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=storage)
        trainers = TrainersEventStore(reducer=TrainerBook(), event_storage_adapter=storage, on_event_pushed=announce)

        appeared = await pokemons.push_event(
            PokemonAppeared(
                aggregate_id="pikachu-1",
                version=1,
                payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
            )
        )
        # Passing the previous aggregate gives the next one without reading the store again.
        await pokemons.push_event(
            PokemonLeveledUp(aggregate_id="pikachu-1", version=2), prev_aggregate=appeared.next_aggregate
        )
        await trainers.push_event(
            TrainerRegistered(aggregate_id="ash", version=1, payload=TrainerRegisteredPayload(name="Ash"))
        )

        # A catch changes two aggregates of two stores: both events are stored, or neither is.
        pikachu = await pokemons.get_existing_aggregate("pikachu-1")
        ash = await trainers.get_existing_aggregate("ash")
        await EventStore.push_event_group(
            pokemons.group_event(
                PokemonCaught(aggregate_id="pikachu-1", version=3, payload=PokemonCaughtPayload(trainer_id="ash")),
                prev_aggregate=pikachu.aggregate,
            ),
            trainers.group_event(
                TrainerCaughtPokemon(
                    aggregate_id="ash", version=2, payload=TrainerCaughtPokemonPayload(pokemon_id="pikachu-1")
                ),
                prev_aggregate=ash.aggregate,
            ),
        )

        rebuilt = await pokemons.get_existing_aggregate("pikachu-1")
        for event in rebuilt.events:
            print(f"pokemons/{event.aggregate_id} v{event.version} {event.type}")
        pokemon = rebuilt.aggregate
        print(f"{pokemon.name}: level {pokemon.level}, caught by {pokemon.trainer_id} (version {pokemon.version})")
        trainer = (await trainers.get_existing_aggregate("ash")).aggregate
        print(f"{trainer.name} has caught {', '.join(trainer.caught_pokemon_ids)}")
        listed = await pokemons.list_aggregate_ids()
        print("pokemons stored:", ", ".join(entry.aggregate_id for entry in listed.aggregate_ids))


async def announce(pushed: PushEventResult[TrainersEvent, Trainer]) -> None:
    print(f"trainers/{pushed.event.aggregate_id} v{pushed.event.version} {pushed.event.type} stored")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", type=Path, help="SQLite file to use (default: a fresh temporary file)")
    arguments = parser.parse_args()
    if arguments.database is None:
        with tempfile.TemporaryDirectory(prefix="kastor-demo-") as directory:
            asyncio.run(run(Path(directory) / "pokedex.sqlite3"))
        return
    try:
        asyncio.run(run(arguments.database))
    except EventAlreadyExistsError as error:
        sys.exit(f"pokedex demo: {arguments.database} already holds the demo's events ({error}); use a new file")


if __name__ == "__main__":
    main()
