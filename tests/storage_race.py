"""Writers racing on the same aggregates, for the race tests of the storage conformance suite.

`run_writer` is the writer loop of both races: asyncio tasks of one process, and the spawned processes of
the multi-process race, whose entry point is `write_in_child_process`. Everything here is top-level, so
that a `spawn`ed child can import it; the child makes the generated package importable itself.
"""

import asyncio
import inspect
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A spawned child starts from a fresh interpreter, where the generated package is not importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    EventAlreadyExistsError,
    EventStorageAdapter,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonsEvent,
    PokemonsEventStore,
    PokemonsMetadata,
)

from demo.pokedex_demo import Pokedex

#: A writer that needs more attempts than this per successful push is livelocked: the race fails.
MAX_ATTEMPTS_PER_SUCCESS = 100


@dataclass(frozen=True)
class WriterReport:
    """What one writer did: each push it saw succeed as (aggregate id, version, correlation id)."""

    writer: str
    pushed: tuple[tuple[str, int, str], ...]
    conflicts: int
    attempts: int


async def run_writer(
    pokemons: PokemonsEventStore, writer: str, offset: int, aggregate_ids: Sequence[str], successes: int
) -> WriterReport:
    """Pushes `successes` events, each the next version of an aggregate read just before.

    A push that loses the race raises EventAlreadyExistsError: counted as a conflict, and the writer
    retries on the same aggregate after reading it again. Any other error ends the race. Each event
    carries a correlation id unique to the attempt, so the stored event tells which writer stored it.
    """
    pushed: list[tuple[str, int, str]] = []
    conflicts = 0
    attempts = 0
    while len(pushed) < successes:
        if attempts >= successes * MAX_ATTEMPTS_PER_SUCCESS:
            raise AssertionError(f"{writer}: only {len(pushed)} successful pushes in {attempts} attempts")
        attempts += 1
        aggregate_id = aggregate_ids[(offset + len(pushed)) % len(aggregate_ids)]
        correlation_id = f"{writer}#{attempts}"
        current = await pokemons.get_aggregate(aggregate_id)
        versions = [event.version for event in current.events]
        if versions != list(range(1, len(versions) + 1)):
            raise AssertionError(f"{writer}: read {aggregate_id} with versions {versions}")
        await asyncio.sleep(0)  # let the other writers read the same version
        metadata = PokemonsMetadata(correlation_id=correlation_id)
        event: PokemonsEvent
        if current.aggregate is None:
            payload = PokemonAppearedPayload(name=aggregate_id, level=1, pokemon_type="normal")
            event = PokemonAppeared(aggregate_id=aggregate_id, version=1, payload=payload, metadata=metadata)
        else:
            event = PokemonCaught(
                aggregate_id=aggregate_id,
                version=current.aggregate.version + 1,
                payload=PokemonCaughtPayload(trainer_id=writer),
                metadata=metadata,
            )
        try:
            await pokemons.push_event(event, prev_aggregate=current.aggregate)
        except EventAlreadyExistsError as error:
            where = (error.event_store_id, error.aggregate_id, error.version)
            if where != ("pokemons", aggregate_id, event.version):
                raise AssertionError(
                    f"{writer}: conflict reported for {where}, pushed {aggregate_id} v{event.version}"
                ) from error
            conflicts += 1
            continue
        pushed.append((aggregate_id, event.version, correlation_id))
    return WriterReport(writer, tuple(pushed), conflicts, attempts)


def write_in_child_process(
    adapter_factory: Callable[[], EventStorageAdapter],
    writer: str,
    offset: int,
    aggregate_ids: Sequence[str],
    successes: int,
    start_line: Any,
    results: Any,
) -> None:
    """Entry point of a spawned writer: connects, waits at `start_line` (a Barrier of all writers), runs
    `run_writer`, and puts ("ok", writer, report) or ("error", writer, traceback) on `results`."""

    async def write() -> WriterReport:
        adapter = adapter_factory()
        try:
            pokemons = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=adapter)
            await pokemons.get_events(aggregate_ids[0])  # connected before the start, so that all start together
            start_line.wait(timeout=60)
            return await run_writer(pokemons, writer, offset, aggregate_ids, successes)
        finally:
            await close_adapter(adapter)

    try:
        report = asyncio.run(write())
    except BaseException:
        results.put(("error", writer, traceback.format_exc()))
        raise
    results.put(("ok", writer, report))


async def close_adapter(adapter: EventStorageAdapter) -> None:
    """Closes the adapter if its class has a `close` (sync or async); adapters without one need none."""
    close = getattr(adapter, "close", None)
    if close is None:
        return
    result = close()
    if inspect.isawaitable(result):
        await result
