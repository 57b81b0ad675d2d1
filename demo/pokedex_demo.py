"""The pokedex demo: typed events of the generated `pokedex` package, stored as JSON and folded back.

Run it from the repository root after `kastor generate`:  python demo/pokedex_demo.py

Event stores with SQLite storage and the in-memory channels arrive with the runtime's next layers; this
demo shows what the generated package gives today: validated events, their JSON codec and reducers.
"""

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

# The generated package lives in generated_examples/, which is not installed: make it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    POKEMONS_EVENT_CODEC,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonsEvent,
    PokemonsReducer,
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


def main() -> None:
    now = datetime.now(UTC)
    history: list[PokemonsEvent] = [
        PokemonAppeared(
            aggregate_id="pikachu-1",
            version=1,
            timestamp=now,
            payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
        ),
        PokemonLeveledUp(aggregate_id="pikachu-1", version=2, timestamp=now),
        PokemonCaught(
            aggregate_id="pikachu-1", version=3, timestamp=now, payload=PokemonCaughtPayload(trainer_id="ash")
        ),
    ]

    # Events travel as JSON: here through an embedded SQLite table, as a storage adapter keeps them.
    with sqlite3.connect(":memory:") as database:
        database.execute(
            "CREATE TABLE events (aggregate_id TEXT, version INTEGER, body BLOB, PRIMARY KEY (aggregate_id, version))"
        )
        database.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [(event.aggregate_id, event.version, POKEMONS_EVENT_CODEC.to_json(event)) for event in history],
        )
        rows = database.execute("SELECT body FROM events WHERE aggregate_id = ? ORDER BY version", ("pikachu-1",))
        stored = [POKEMONS_EVENT_CODEC.from_json(body) for (body,) in rows]

    assert stored == history, "the JSON round trip changed an event"
    pikachu = Pokedex().fold(stored)
    assert pikachu is not None
    for event in stored:
        print(f"v{event.version} {event.type}")
    print(
        f"{pikachu.name}: level {pikachu.level}, caught by {pikachu.trainer_id} (aggregate version {pikachu.version})"
    )


if __name__ == "__main__":
    main()
