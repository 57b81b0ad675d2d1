"""Builders for the tests of the generated pokedex example: its events, aggregates and stores, and the
`adapter` fixture.

Importing this module makes the generated `pokedex` package (in generated_examples/) importable, so test
modules import it before `pokedex`. A test module uses the `adapter` fixture by importing its function,
`from .pokedex_builders import adapter_fixture  # noqa: F401`: named apart, so that the tests' `adapter`
parameters do not shadow an import. This module holds no `assert`, so pytest need not rewrite it (were
one added, its importers would have to `pytest.register_assert_rewrite("tests.pokedex_builders")` first).
"""

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .support import EXAMPLES

sys.path.insert(0, str(EXAMPLES))

from pokedex import (
    EventStorageAdapter,
    InMemoryEventStorageAdapter,
    OnEventPushed,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonsEvent,
    PokemonsEventStore,
    PokemonsMetadata,
    PushEventResult,
    SQLiteEventStorageAdapter,
    Trainer,
    TrainerCaughtPokemon,
    TrainerCaughtPokemonPayload,
    TrainerRegistered,
    TrainerRegisteredPayload,
    TrainersEvent,
    TrainersEventStore,
)

from demo.pokedex_demo import Pokedex, TrainerBook

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# -- events and aggregates -------------------------------------------------------------------------------


def appeared(
    aggregate_id: str = "pikachu-1",
    *,
    version: int = 1,
    name: str = "Pikachu",
    level: int = 5,
    timestamp: datetime | None = None,
    correlation_id: str | None = None,
) -> PokemonAppeared:
    return PokemonAppeared(
        aggregate_id=aggregate_id,
        version=version,
        timestamp=timestamp,
        payload=PokemonAppearedPayload(name=name, level=level, pokemon_type="electric"),
        # An absent correlation id is left out: the metadata schema makes it optional, not nullable.
        metadata=PokemonsMetadata() if correlation_id is None else PokemonsMetadata(correlation_id=correlation_id),
    )


def leveled_up(aggregate_id: str = "pikachu-1", *, version: int, timestamp: datetime | None = None) -> PokemonLeveledUp:
    return PokemonLeveledUp(aggregate_id=aggregate_id, version=version, timestamp=timestamp)


def caught(
    aggregate_id: str = "pikachu-1", *, version: int, trainer_id: str = "ash", timestamp: datetime | None = None
) -> PokemonCaught:
    payload = PokemonCaughtPayload(trainer_id=trainer_id)
    return PokemonCaught(aggregate_id=aggregate_id, version=version, payload=payload, timestamp=timestamp)


def registered(aggregate_id: str = "ash", *, name: str = "Ash", timestamp: datetime | None = None) -> TrainerRegistered:
    payload = TrainerRegisteredPayload(name=name)
    return TrainerRegistered(aggregate_id=aggregate_id, version=1, payload=payload, timestamp=timestamp)


def trainer_caught(
    aggregate_id: str = "ash", *, version: int, pokemon_id: str = "pikachu-1", timestamp: datetime | None = None
) -> TrainerCaughtPokemon:
    payload = TrainerCaughtPokemonPayload(pokemon_id=pokemon_id)
    return TrainerCaughtPokemon(aggregate_id=aggregate_id, version=version, payload=payload, timestamp=timestamp)


def pokemon(aggregate_id: str = "pikachu-1", version: int = 1, **changes: Any) -> Pokemon:
    fields: dict[str, Any] = {"name": "Pikachu", "level": 5, "pokemon_type": "electric", "trainer_id": None}
    fields.update(changes)
    return Pokemon(aggregate_id=aggregate_id, version=version, **fields)


# -- stores ----------------------------------------------------------------------------------------------


def pokemons_store(
    adapter: EventStorageAdapter | None = None,
    *,
    on_event_pushed: OnEventPushed[PokemonsEvent, Pokemon] | None = None,
) -> PokemonsEventStore:
    """The pokemons store with the demo's reducer, on `adapter` (none by default)."""
    return PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=adapter, on_event_pushed=on_event_pushed)


def trainers_store(
    adapter: EventStorageAdapter | None = None,
    *,
    on_event_pushed: OnEventPushed[TrainersEvent, Trainer] | None = None,
) -> TrainersEventStore:
    """The trainers store with the demo's reducer, on `adapter` (none by default)."""
    return TrainersEventStore(reducer=TrainerBook(), event_storage_adapter=adapter, on_event_pushed=on_event_pushed)


class Recorder:
    """An `on_event_pushed` callback that records each result and, at that moment, what a read returns."""

    def __init__(self, read: Callable[[PushEventResult[Any, Any]], Awaitable[object]] | None = None) -> None:
        self.results: list[PushEventResult[Any, Any]] = []
        self.reads: list[object] = []
        self._read = read

    async def __call__(self, result: PushEventResult[Any, Any]) -> None:
        self.results.append(result)
        if self._read is not None:
            self.reads.append(await self._read(result))


@pytest.fixture(name="adapter", params=["in_memory", "sqlite"])
def adapter_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStorageAdapter]:
    """A fresh storage adapter: in memory, or SQLite in a file."""
    if request.param == "in_memory":
        yield InMemoryEventStorageAdapter()
        return
    sqlite = SQLiteEventStorageAdapter(tmp_path / "events.sqlite3")
    yield sqlite
    asyncio.run(sqlite.close())
