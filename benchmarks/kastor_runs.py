"""Kastor's side of the runtime benchmarks: the generated `pokedex` package (from `generated_examples/`) doing
the anchors' workloads, on the same storage.

Every factory returns a `Run`: it prepares fresh storage (untimed), times its workload, checks the result
(levels and versions, or deliveries) and removes what it made. The reducer is the one the README shows:
immutable aggregates updated with `model_copy`.
"""

import asyncio
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from benchmarks.harness import Run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

# The generated package is importable once its directory is on the path; the reducer is the README's.
from pokedex import (
    ConnectedEventStore,
    EventStorageAdapter,
    InMemoryEventStorageAdapter,
    InMemoryMessageBusAdapter,
    NotificationMessage,
    NotificationMessageBus,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonLeveledUp,
    PokemonsEvent,
    PokemonsEventStore,
    PokemonsNotificationMessage,
    PokemonsStateCarryingMessage,
    PostgresEventStorageAdapter,
    SQLiteEventStorageAdapter,
    StateCarryingMessage,
    StateCarryingMessageBus,
    Subscription,
)

from demo.pokedex_demo import Pokedex

#: "sqlite-inline": SQLite with `threaded=False`, in the event loop's thread.
Storage = Literal["memory", "sqlite", "sqlite-inline", "postgres"]
ConnectedMode = Literal["plain", "notification", "state-carrying", "state-carrying, re-fetched"]

#: The level pokemons appear at, as in the anchors.
INITIAL_LEVEL = 5
#: Long streams are stored by groups of this many events.
SETUP_BATCH = 1_000

ResultT = TypeVar("ResultT")


class NotificationBus(NotificationMessageBus[PokemonsNotificationMessage]):
    message_channel_id = "benchmark_notifications"
    source_event_store_ids = frozenset({"pokemons"})


class StateCarryingBus(StateCarryingMessageBus[PokemonsStateCarryingMessage]):
    message_channel_id = "benchmark_states"
    source_event_store_ids = frozenset({"pokemons"})


def push_with_load(
    storage: Storage, *, aggregates: int, rounds: int, workdir: Path, postgres_url: str | None = None
) -> Run:
    """`aggregates` pokemons; then `rounds` times, for each: get_existing_aggregate + push of a level-up."""

    async def work(store: PokemonsEventStore) -> float:
        ids = await _appear(store, aggregates)
        started = time.perf_counter()
        for _ in range(rounds):
            for aggregate_id in ids:
                found = await store.get_existing_aggregate(aggregate_id)
                await store.push_event(_level_up(found.aggregate), prev_aggregate=found.aggregate)
        elapsed = time.perf_counter() - started
        for aggregate_id in ids:
            await _check_level(store, aggregate_id, INITIAL_LEVEL + rounds)
        return elapsed

    return _with_store(storage, work, workdir=workdir, postgres_url=postgres_url)


def push_only_sqlite(*, events: int, workdir: Path, threaded: bool = True) -> Run:
    """`events` level-ups over 100 pokemons (created first), each pushed alone with its known previous
    aggregate: the write path only, as the raw sqlite3 anchor's inserts."""

    async def work(store: PokemonsEventStore) -> float:
        ids = await _appear(store, 100)
        latest = {aggregate_id: (await store.get_existing_aggregate(aggregate_id)).aggregate for aggregate_id in ids}
        started = time.perf_counter()
        for index in range(events):
            aggregate_id = ids[index % len(ids)]
            result = await store.push_event(_level_up(latest[aggregate_id]), prev_aggregate=latest[aggregate_id])
            assert result.next_aggregate is not None
            latest[aggregate_id] = result.next_aggregate
        elapsed = time.perf_counter() - started
        pushed = sum(aggregate.version - 1 for aggregate in latest.values())
        assert pushed == events, f"pushed {pushed} level-ups, expected {events}"
        return elapsed

    return _with_store("sqlite" if threaded else "sqlite-inline", work, workdir=workdir)


def get_aggregate(
    storage: Storage, *, stream_length: int, loads: int, workdir: Path, postgres_url: str | None = None
) -> Run:
    """One pokemon of `stream_length` events, rebuilt `loads` times with get_aggregate."""

    async def work(store: PokemonsEventStore) -> float:
        await _long_stream(store, "pikachu", stream_length)
        started = time.perf_counter()
        for _ in range(loads):
            found = await store.get_existing_aggregate("pikachu")
        elapsed = time.perf_counter() - started
        assert found.aggregate.level == INITIAL_LEVEL + stream_length - 1, found.aggregate
        return elapsed

    return _with_store(storage, work, workdir=workdir, postgres_url=postgres_url)


class DeliveryCheck:
    """Checks each delivered message as it comes (its kind; a state-carrying message's aggregate at the event's
    version) and counts them, keeping none: as a projection would, so that the run's memory stays flat."""

    def __init__(self, mode: ConnectedMode) -> None:
        self.mode = mode
        self.count = 0
        self.top_level = 0

    def check(self, message: object) -> None:
        self.count += 1
        if self.mode == "notification":
            assert isinstance(message, NotificationMessage), message
            return
        assert isinstance(message, StateCarryingMessage), message
        assert message.aggregate.version == message.event.version, message
        self.top_level = max(self.top_level, message.aggregate.level)


def connected_push(mode: ConnectedMode, storage: Storage, *, aggregates: int, rounds: int, workdir: Path) -> Run:
    """Pushes of level-ups with their previous aggregate, `rounds` per pokemon: through a plain store, or a
    store connected to an in-memory bus with one subscriber. The deliveries are awaited inside the timing.
    "re-fetched": pushed without `prev_aggregate`, so the state-carrying message needs a read."""

    async def work(store: PokemonsEventStore) -> float:
        bus_adapter = InMemoryMessageBusAdapter()
        received = DeliveryCheck(mode)

        async def handler(message: Any, context: Any) -> None:
            received.check(message)

        pusher: PokemonsEventStore | ConnectedEventStore[Any, PokemonsEvent, Pokemon] = store
        if mode == "notification":
            pusher = ConnectedEventStore(store, NotificationBus(bus_adapter))
        elif mode != "plain":
            pusher = ConnectedEventStore(store, StateCarryingBus(bus_adapter))
        # What a generated channel's `on(PokemonLeveledUp, handler)` registers.
        bus_adapter.subscribe(Subscription(handler, frozenset({"pokemons"}), frozenset({"POKEMON_LEVELED_UP"})))
        ids = await _appear(store, aggregates)
        latest = {aggregate_id: (await store.get_existing_aggregate(aggregate_id)).aggregate for aggregate_id in ids}
        with_previous = mode != "state-carrying, re-fetched"
        started = time.perf_counter()
        for _ in range(rounds):
            for aggregate_id in ids:
                previous = latest[aggregate_id]
                if with_previous:
                    result = await pusher.push_event(_level_up(previous), prev_aggregate=previous)
                    assert result.next_aggregate is not None
                    latest[aggregate_id] = result.next_aggregate
                else:
                    await pusher.push_event(_level_up(previous))
                    # Only its version matters to the next push; the level is checked on the messages.
                    latest[aggregate_id] = previous.model_copy(update={"version": previous.version + 1})
        await bus_adapter.wait_until_idle()
        elapsed = time.perf_counter() - started
        expected = 0 if mode == "plain" else aggregates * rounds
        assert received.count == expected, f"{mode}: {received.count} deliveries, expected {expected}"
        if mode.startswith("state-carrying"):
            assert received.top_level == INITIAL_LEVEL + rounds, f"{mode}: the top level is {received.top_level}"
        assert all(aggregate.version == rounds + 1 for aggregate in latest.values())
        return elapsed

    return _with_store(storage, work, workdir=workdir)


def concurrent_writers_postgres(*, writers: int, events_per_writer: int, postgres_url: str) -> Run:
    """`writers` asyncio tasks sharing one adapter (a pool of `writers` connections), each writing its own
    pokemon: `events_per_writer` times get_existing_aggregate + push."""

    async def work(store: PokemonsEventStore) -> float:
        ids = await _appear(store, writers)

        async def writer(aggregate_id: str) -> None:
            for _ in range(events_per_writer):
                found = await store.get_existing_aggregate(aggregate_id)
                await store.push_event(_level_up(found.aggregate), prev_aggregate=found.aggregate)

        started = time.perf_counter()
        await asyncio.gather(*(writer(aggregate_id) for aggregate_id in ids))
        elapsed = time.perf_counter() - started
        for aggregate_id in ids:
            await _check_level(store, aggregate_id, INITIAL_LEVEL + events_per_writer)
        return elapsed

    return _with_store("postgres", work, workdir=Path(), postgres_url=postgres_url, pool_size=writers)


def streaming_peak_memory(*, stream_length: int, page_size: int, workdir: Path) -> tuple[int, int]:
    """Peak traced memory (bytes) while reading a `stream_length`-event stream from SQLite: with
    `iter_events` (pages of `page_size`), then with `get_events` (the whole list), each counted alone."""

    async def work(store: PokemonsEventStore) -> tuple[int, int]:
        await _long_stream(store, "pikachu", stream_length)
        tracemalloc.start()
        try:
            read = 0
            async for event in store.iter_events("pikachu", page_size=page_size):
                read += 1
                assert event.version == read
            assert read == stream_length
            streamed = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            events = await store.get_events("pikachu")
            assert len(events) == stream_length
            listed = tracemalloc.get_traced_memory()[1] - baseline
            del events
        finally:
            tracemalloc.stop()
        return streamed, listed

    return asyncio.run(_in_store("sqlite", work, workdir=workdir, postgres_url=None, pool_size=None))


# -- helpers ------------------------------------------------------------------------------------------


def _with_store(
    storage: Storage,
    work: Callable[[PokemonsEventStore], Awaitable[float]],
    *,
    workdir: Path,
    postgres_url: str | None = None,
    pool_size: int | None = None,
) -> Run:
    def run() -> float:
        return asyncio.run(_in_store(storage, work, workdir=workdir, postgres_url=postgres_url, pool_size=pool_size))

    return run


async def _in_store(
    storage: Storage,
    work: Callable[[PokemonsEventStore], Awaitable[ResultT]],
    *,
    workdir: Path,
    postgres_url: str | None,
    pool_size: int | None,
) -> ResultT:
    adapter: EventStorageAdapter
    if storage == "memory":
        return await work(PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=InMemoryEventStorageAdapter()))
    if storage in ("sqlite", "sqlite-inline"):
        directory = Path(tempfile.mkdtemp(prefix="kastor-bench-", dir=workdir))
        try:
            path = directory / "events.sqlite3"
            async with SQLiteEventStorageAdapter(path, threaded=storage == "sqlite") as adapter:
                return await work(PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=adapter))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    if postgres_url is None:
        raise ValueError("the postgres storage needs a postgres_url")
    postgres = PostgresEventStorageAdapter(
        postgres_url, schema=f"kastor_bench_{uuid.uuid4().hex[:12]}", max_size=pool_size or 10
    )
    try:
        await postgres.create_schema()
        return await work(PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=postgres))
    finally:
        await postgres.drop_schema()
        await postgres.close()


async def _appear(store: PokemonsEventStore, count: int) -> list[str]:
    ids = [f"pokemon-{index:05d}" for index in range(count)]
    for aggregate_id in ids:
        await store.push_event(_appeared(aggregate_id))
    return ids


async def _long_stream(store: PokemonsEventStore, aggregate_id: str, length: int) -> None:
    await store.push_event(_appeared(aggregate_id))
    for first in range(2, length + 1, SETUP_BATCH):
        versions = range(first, min(first + SETUP_BATCH, length + 1))
        await store.push_event_group(
            *(store.group_event(PokemonLeveledUp(aggregate_id=aggregate_id, version=version)) for version in versions)
        )


def _appeared(aggregate_id: str) -> PokemonAppeared:
    payload = PokemonAppearedPayload(name=aggregate_id, level=INITIAL_LEVEL, pokemon_type="electric")
    return PokemonAppeared(aggregate_id=aggregate_id, version=1, payload=payload)


def _level_up(aggregate: Pokemon) -> PokemonLeveledUp:
    return PokemonLeveledUp(aggregate_id=aggregate.aggregate_id, version=aggregate.version + 1)


async def _check_level(store: PokemonsEventStore, aggregate_id: str, level: int) -> None:
    found = await store.get_existing_aggregate(aggregate_id)
    assert found.aggregate.level == level, f"{aggregate_id} is at level {found.aggregate.level}, expected {level}"


def postgres_url_from_environment() -> str:
    return os.environ.get("KASTOR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
