"""The conformance suite of event storage adapters: every adapter subclasses `EventStorageAdapterConformance`.

A subclass implements `make_adapter` (a fresh, empty adapter per call). Adapters whose database several
processes can share subclass `SharedDatabaseConformance` instead, and also implement
`process_adapter_factory`. The suite exercises the adapter through the generated typed stores of the
pokedex example (`PokemonsEventStore`, `TrainersEventStore`), and directly through the
`EventStorageAdapter` interface. Adapters with a `close` (sync or async) are closed after each test.

The class names have no `Test` prefix, so pytest only collects their subclasses.
"""

import asyncio
import base64
import json
import multiprocessing
import queue
import random
import string
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    appeared,
    caught,
    leveled_up,
    pokemons_store,
    registered,
    trainer_caught,
    trainers_store,
)
from .storage_race import WriterReport, close_adapter, run_writer, write_in_child_process

# isort: split
from pokedex import (
    POKEMONS_EVENT_CODEC,
    TRAINERS_EVENT_CODEC,
    AggregateIdEntry,
    AggregateIdsQuery,
    Event,
    EventAlreadyExistsError,
    EventsQuery,
    EventStorageAdapter,
    EventStore,
    InvalidEventError,
    InvalidPageTokenError,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonLeveledUp,
    PokemonsEventStore,
    PokemonsMetadata,
    PushEventResult,
    StorageContext,
    TrainerRegistered,
    TrainersEventStore,
)

POKEMONS = StorageContext("pokemons", POKEMONS_EVENT_CODEC)
TRAINERS = StorageContext("trainers", TRAINERS_EVENT_CODEC)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PLUS_2 = timezone(timedelta(hours=2))

# What every storage holds (docs/hostile-input.md, "Arguments and bounds"), written out rather than imported
# so that the tests state it.
MAX_VERSION = 2**31 - 1  # PostgreSQL keeps versions in an INTEGER column
MAX_LIMIT = 2**31 - 1
#: Aware times outside the years 1 to 9999 once in UTC, which datetime cannot hold.
OUT_OF_RANGE_TIMESTAMPS = {
    "before year 1": datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
    "after year 9999": datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
}
#: Aggregate ids that some storage cannot hold: not UTF-8, NUL (PostgreSQL text), over 1,024 bytes.
IDS_NO_STORAGE_HOLDS = {
    "lone surrogate": "a\ud800b",
    "NUL": "nul\x00",
    "over 1024 characters": "x" * 1025,
    "over 1024 bytes": "é" * 513,
}


# -- helpers -----------------------------------------------------------------------------------------


def stamped(event: Event, timestamp: datetime | None) -> Any:
    """The event as the store stores it: with the timestamp the push returned."""
    return event.model_copy(update={"timestamp": timestamp})


def ids(entries: Sequence[AggregateIdEntry]) -> list[str]:
    return [entry.aggregate_id for entry in entries]


async def versions_of(store: EventStore[Any, Any, Any], aggregate_id: str) -> list[int]:
    return [event.version for event in await store.get_events(aggregate_id)]


# -- the suite ---------------------------------------------------------------------------------------


class EventStorageAdapterConformance:
    """What every event storage adapter must do. Subclass it as `Test...` and implement `make_adapter`."""

    #: Races of test 9 (asyncio tasks in one process).
    TASK_WRITERS = 8
    TASK_SUCCESSES = 25
    TASK_AGGREGATES = ("pikachu", "eevee", "snorlax")
    TASK_READERS = 3
    #: Races of test 10 (spawned processes on one database).
    PROCESS_WRITERS = 4
    PROCESS_SUCCESSES = 30
    PROCESS_AGGREGATES = ("mew", "mewtwo")
    PROCESS_DEADLINE_SECONDS = 60.0

    def make_adapter(self) -> EventStorageAdapter:
        """A fresh, empty adapter (each call)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_adapter")

    # -- plumbing ------------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _close_adapters_after_test(self) -> Iterator[None]:
        self._adapters: list[EventStorageAdapter] = []
        yield
        for adapter in self._adapters:
            asyncio.run(close_adapter(adapter))

    def track(self, adapter: EventStorageAdapter) -> EventStorageAdapter:
        self._adapters.append(adapter)
        return adapter

    def adapter(self) -> EventStorageAdapter:
        return self.track(self.make_adapter())

    def stores(
        self,
        adapter: EventStorageAdapter | None = None,
        *,
        pushed: list[PushEventResult[Any, Any]] | None = None,
    ) -> tuple[PokemonsEventStore, TrainersEventStore]:
        """Both stores on one adapter (a fresh one by default); `pushed` collects their on_event_pushed."""
        shared = self.adapter() if adapter is None else adapter

        async def record(result: PushEventResult[Any, Any]) -> None:
            if pushed is not None:
                pushed.append(result)

        return pokemons_store(shared, on_event_pushed=record), trainers_store(shared, on_event_pushed=record)

    # -- 1. round trip -------------------------------------------------------------------------------

    async def test_pushed_events_read_back_equal_with_a_utc_timestamp_set_by_the_store(self) -> None:
        pokemons, trainers = self.stores()
        odd_id = 'pika "chu" é/\\ ⚡'
        first = appeared(odd_id, name='Pikachu "⚡" é', level=7, correlation_id="corr-1")
        before = datetime.now(UTC)
        r1 = await pokemons.push_event(first)
        r2 = await pokemons.push_event(leveled_up(odd_id, version=2), prev_aggregate=r1.next_aggregate)
        r3 = await pokemons.push_event(caught(odd_id, version=3, trainer_id="ash"), prev_aggregate=r2.next_aggregate)
        t1 = await trainers.push_event(registered("ash", name="Ash Ketchum"))
        after = datetime.now(UTC)

        for result in (r1, r2, r3, t1):
            timestamp = result.event.timestamp
            assert timestamp is not None
            assert timestamp.utcoffset() == timedelta(0)
            assert before <= timestamp <= after

        stored = await pokemons.get_events(odd_id)
        assert stored == [r1.event, r2.event, r3.event]
        assert stored[0] == stamped(first, r1.event.timestamp)
        assert [(e.aggregate_id, e.version, e.type) for e in stored] == [
            (odd_id, 1, "POKEMON_APPEARED"),
            (odd_id, 2, "POKEMON_LEVELED_UP"),
            (odd_id, 3, "POKEMON_CAUGHT"),
        ]
        assert isinstance(stored[0], PokemonAppeared)
        assert stored[0].payload == PokemonAppearedPayload(name='Pikachu "⚡" é', level=7, pokemon_type="electric")
        assert stored[0].metadata == PokemonsMetadata(correlation_id="corr-1")
        assert isinstance(stored[2], PokemonCaught)
        assert stored[2].payload.trainer_id == "ash"
        for event, result in zip(stored, (r1, r2, r3), strict=True):
            assert event.timestamp == result.event.timestamp
            assert event.timestamp is not None and event.timestamp.utcoffset() == timedelta(0)

        [ash] = await trainers.get_events("ash")
        assert ash == t1.event
        assert isinstance(ash, TrainerRegistered)
        assert ash.payload.name == "Ash Ketchum"

        pokemon = (await pokemons.get_existing_aggregate(odd_id)).aggregate
        assert (pokemon.aggregate_id, pokemon.version, pokemon.level, pokemon.trainer_id) == (odd_id, 3, 8, "ash")

    # -- 2. get_events options -----------------------------------------------------------------------

    async def test_get_events_options(self) -> None:
        pokemons, _ = self.stores()
        pushed = [
            (await pokemons.push_event(appeared("pikachu"))).event,
            (await pokemons.push_event(leveled_up("pikachu", version=2))).event,
            (await pokemons.push_event(caught("pikachu", version=3, trainer_id="ash"))).event,
            (await pokemons.push_event(leveled_up("pikachu", version=4))).event,
            (await pokemons.push_event(leveled_up("pikachu", version=5))).event,
        ]
        await pokemons.push_event(appeared("eevee"))

        async def read(**options: Any) -> list[int]:
            events = await pokemons.get_events("pikachu", **options)
            for event in events:
                assert event == pushed[event.version - 1]
            return [event.version for event in events]

        assert await read() == [1, 2, 3, 4, 5]
        assert await read(min_version=2) == [2, 3, 4, 5]
        assert await read(max_version=3) == [1, 2, 3]
        assert await read(min_version=2, max_version=4) == [2, 3, 4]
        assert await read(min_version=3, max_version=3) == [3]
        assert await read(min_version=4, max_version=2) == []
        assert await read(min_version=6) == []
        assert await read(max_version=0) == []
        assert await read(max_version=99) == [1, 2, 3, 4, 5]
        assert await read(reverse=True) == [5, 4, 3, 2, 1]
        assert await read(limit=2) == [1, 2]
        assert await read(reverse=True, limit=2) == [5, 4]
        assert await read(limit=0) == []
        assert await read(limit=10) == [1, 2, 3, 4, 5]
        assert await read(min_version=2, limit=2) == [2, 3]
        assert await read(max_version=4, reverse=True, limit=3) == [4, 3, 2]
        assert await read(min_version=2, max_version=4, reverse=True, limit=2) == [4, 3]
        assert await read(min_version=2, max_version=4, reverse=True) == [4, 3, 2]

        # Every combination against the same selection done in Python.
        for min_version in (None, 0, 1, 2, 5, 6):
            for max_version in (None, 0, 1, 3, 5, 9):
                for reverse in (False, True):
                    for limit in (None, 0, 1, 2, 10):
                        expected = [
                            v
                            for v in range(1, 6)
                            if (min_version is None or v >= min_version) and (max_version is None or v <= max_version)
                        ]
                        if reverse:
                            expected.reverse()
                        if limit is not None:
                            expected = expected[:limit]
                        options = {"min_version": min_version, "max_version": max_version}
                        got = await read(**options, reverse=reverse, limit=limit)
                        assert got == expected, (options, reverse, limit)

        for options in ({}, {"min_version": 1}, {"max_version": 3}, {"reverse": True, "limit": 2}):
            assert await pokemons.get_events("missingno", **options) == []
        assert await pokemons.get_events("PIKACHU") == []  # ids are case-sensitive
        assert await versions_of(pokemons, "eevee") == [1]

    async def test_iter_events_streams_every_event_in_pages(self) -> None:
        pokemons, _ = self.stores()
        await pokemons.push_event(appeared("pikachu"))
        await pokemons.push_event_group(
            *(pokemons.group_event(leveled_up("pikachu", version=version)) for version in range(2, 11))
        )
        stored = await pokemons.get_events("pikachu")
        reads: list[tuple[int | None, int | None, int | None]] = []
        original_get_events = pokemons.get_events

        async def counting_get_events(aggregate_id: str, **options: Any) -> list[Any]:
            reads.append((options.get("min_version"), options.get("max_version"), options.get("limit")))
            events: list[Any] = await original_get_events(aggregate_id, **options)
            return events

        pokemons.get_events = counting_get_events  # type: ignore[method-assign]
        for page_size in (1, 3, 5, 10, 11, 1_000):
            reads.clear()
            assert [event async for event in pokemons.iter_events("pikachu", page_size=page_size)] == stored
            # Pages of page_size, and one more read only when the last page came back full.
            assert len(reads) == 10 // page_size + 1, (page_size, reads)
            assert all(limit == page_size for _, _, limit in reads)
        streamed = [
            event.version async for event in pokemons.iter_events("pikachu", min_version=3, max_version=7, page_size=2)
        ]
        assert streamed == [3, 4, 5, 6, 7]
        assert [event async for event in pokemons.iter_events("missingno")] == []
        with pytest.raises(ValueError, match="page_size must be an integer from 1 to 2147483647, got 0"):
            [event async for event in pokemons.iter_events("pikachu", page_size=0)]

    # -- 3. conflicts --------------------------------------------------------------------------------

    async def test_pushing_a_stored_version_conflicts_and_force_overwrites(self) -> None:
        pokemons, _ = self.stores()
        first = await pokemons.push_event(appeared("pikachu"))
        second = await pokemons.push_event(
            caught("pikachu", version=2, trainer_id="ash"), prev_aggregate=first.next_aggregate
        )

        with pytest.raises(EventAlreadyExistsError) as conflict:
            await pokemons.push_event(
                caught("pikachu", version=2, trainer_id="misty"), prev_aggregate=first.next_aggregate
            )
        assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
            "pokemons",
            "pikachu",
            2,
        )
        with pytest.raises(EventAlreadyExistsError) as initial_conflict:
            await pokemons.push_event(appeared("pikachu", name="Raichu"))
        assert (initial_conflict.value.aggregate_id, initial_conflict.value.version) == ("pikachu", 1)
        assert await pokemons.get_events("pikachu") == [first.event, second.event]

        forced = await pokemons.push_event(caught("pikachu", version=2, trainer_id="misty"), force=True)
        stored = await pokemons.get_events("pikachu")
        assert stored == [first.event, forced.event]
        assert isinstance(stored[1], PokemonCaught)
        assert stored[1].payload.trainer_id == "misty"
        assert (await pokemons.get_existing_aggregate("pikachu")).aggregate.trainer_id == "misty"

        forced_initial = await pokemons.push_event(appeared("pikachu", name="Raichu"), force=True)
        assert await pokemons.get_events("pikachu") == [forced_initial.event, forced.event]
        # The history goes on after the overwrites.
        third = await pokemons.push_event(leveled_up("pikachu", version=3))
        assert await pokemons.get_events("pikachu") == [forced_initial.event, forced.event, third.event]

    # -- 4. contiguity -------------------------------------------------------------------------------

    async def test_versions_must_follow_each_other_from_one(self) -> None:
        pokemons, _ = self.stores()
        first = await pokemons.push_event(appeared("pikachu"))
        second = await pokemons.push_event(leveled_up("pikachu", version=2))

        with pytest.raises(InvalidEventError) as gap:
            await pokemons.push_event(leveled_up("pikachu", version=4))
        assert (gap.value.event_store_id, gap.value.aggregate_id, gap.value.version) == ("pokemons", "pikachu", 4)
        with pytest.raises(InvalidEventError) as forced_gap:
            await pokemons.push_event(leveled_up("pikachu", version=4), force=True)
        assert forced_gap.value.version == 4
        assert await pokemons.get_events("pikachu") == [first.event, second.event]

        with pytest.raises(InvalidEventError) as no_history:
            await pokemons.push_event(leveled_up("ghost", version=3))
        assert (no_history.value.aggregate_id, no_history.value.version) == ("ghost", 3)

        with pytest.raises(InvalidEventError) as late_initial:
            await pokemons.push_event(appeared("pikachu").model_copy(update={"version": 3}))
        assert (late_initial.value.aggregate_id, late_initial.value.version) == ("pikachu", 3)
        with pytest.raises(InvalidEventError):
            await pokemons.push_event(appeared("ghost").model_copy(update={"version": 2}))

        with pytest.raises(InvalidEventError) as early_follower:
            await pokemons.push_event(leveled_up("ghost", version=1))
        assert (early_follower.value.aggregate_id, early_follower.value.version) == ("ghost", 1)
        with pytest.raises(InvalidEventError):
            await pokemons.push_event(caught("ghost", version=1, trainer_id="ash"), force=True)

        assert await pokemons.get_events("pikachu") == [first.event, second.event]
        assert await pokemons.get_events("ghost") == []
        assert ids((await pokemons.list_aggregate_ids()).aggregate_ids) == ["pikachu"]

    # -- 5. stores are independent -------------------------------------------------------------------

    async def test_the_same_aggregate_id_in_two_stores_of_one_adapter_is_independent(self) -> None:
        adapter = self.adapter()
        pokemons, trainers = self.stores(adapter)
        p1 = await pokemons.push_event(appeared("red", timestamp=T0))
        p2 = await pokemons.push_event(leveled_up("red", version=2))
        p3 = await pokemons.push_event(caught("red", version=3, trainer_id="red"))
        t1 = await trainers.push_event(registered("red", name="Red", timestamp=T0 + MINUTE))

        assert await pokemons.get_events("red") == [p1.event, p2.event, p3.event]
        assert await trainers.get_events("red") == [t1.event]
        assert await trainers.get_events("red", min_version=2) == []

        # Version 2 and 3 exist in pokemons, not in trainers: no conflict, no gap.
        t2 = await trainers.push_event(trainer_caught("red", version=2, pokemon_id="red"))
        t3 = await trainers.push_event(trainer_caught("red", version=3, pokemon_id="blue"))
        with pytest.raises(EventAlreadyExistsError) as conflict:
            await trainers.push_event(trainer_caught("red", version=3, pokemon_id="green"))
        assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
            "trainers",
            "red",
            3,
        )
        with pytest.raises(InvalidEventError) as gap:
            await pokemons.push_event(leveled_up("red", version=5))
        assert gap.value.event_store_id == "pokemons"
        p4 = await pokemons.push_event(leveled_up("red", version=4))

        assert await pokemons.get_events("red") == [p1.event, p2.event, p3.event, p4.event]
        assert await trainers.get_events("red") == [t1.event, t2.event, t3.event]
        assert (await trainers.get_existing_aggregate("red")).aggregate.caught_pokemon_ids == ["red", "blue"]

        assert (await pokemons.list_aggregate_ids()).aggregate_ids == [AggregateIdEntry("red", T0)]
        assert (await trainers.list_aggregate_ids()).aggregate_ids == [AggregateIdEntry("red", T0 + MINUTE)]
        await trainers.push_event(registered("blue", name="Blue"))
        assert ids((await pokemons.list_aggregate_ids()).aggregate_ids) == ["red"]
        assert await pokemons.get_events("blue") == []

    # -- 6. groups -----------------------------------------------------------------------------------

    async def test_a_group_whose_last_member_conflicts_stores_nothing(self) -> None:
        notified: list[PushEventResult[Any, Any]] = []
        pokemons, trainers = self.stores(pushed=notified)
        pikachu = await pokemons.push_event(appeared("pikachu"))
        ash_1 = await trainers.push_event(registered("ash"))
        ash_2 = await trainers.push_event(trainer_caught("ash", version=2, pokemon_id="bulbasaur"))
        notified.clear()

        with pytest.raises(EventAlreadyExistsError) as conflict:
            await EventStore.push_event_group(
                pokemons.group_event(
                    caught("pikachu", version=2, trainer_id="ash"), prev_aggregate=pikachu.next_aggregate
                ),
                trainers.group_event(registered("misty", name="Misty")),
                pokemons.group_event(appeared("eevee")),
                pokemons.group_event(leveled_up("eevee", version=2)),
                trainers.group_event(trainer_caught("ash", version=2, pokemon_id="pikachu")),
            )
        assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
            "trainers",
            "ash",
            2,
        )
        assert notified == []
        assert await pokemons.get_events("pikachu") == [pikachu.event]
        assert await pokemons.get_events("eevee") == []
        assert await trainers.get_events("misty") == []
        assert await trainers.get_events("ash") == [ash_1.event, ash_2.event]
        assert ids((await pokemons.list_aggregate_ids()).aggregate_ids) == ["pikachu"]
        assert ids((await trainers.list_aggregate_ids()).aggregate_ids) == ["ash"]

        # The same when the last member is refused by the storage for a gap.
        with pytest.raises(InvalidEventError) as gap:
            await EventStore.push_event_group(
                pokemons.group_event(caught("pikachu", version=2, trainer_id="ash")),
                trainers.group_event(registered("misty", name="Misty")),
                trainers.group_event(trainer_caught("ash", version=4, pokemon_id="pikachu")),
            )
        assert (gap.value.event_store_id, gap.value.aggregate_id, gap.value.version) == ("trainers", "ash", 4)
        assert notified == []
        assert await pokemons.get_events("pikachu") == [pikachu.event]
        assert await trainers.get_events("misty") == []
        assert await trainers.get_events("ash") == [ash_1.event, ash_2.event]

    async def test_a_successful_group_stores_every_member_with_one_shared_timestamp(self) -> None:
        notified: list[PushEventResult[Any, Any]] = []
        pokemons, trainers = self.stores(pushed=notified)
        pikachu = await pokemons.push_event(appeared("pikachu"))
        ash = await trainers.push_event(registered("ash"))
        notified.clear()
        explicit = datetime(2020, 2, 2, 2, 2, 2, 222222, tzinfo=PLUS_2)

        before = datetime.now(UTC)
        results = await EventStore.push_event_group(
            pokemons.group_event(leveled_up("pikachu", version=2), prev_aggregate=pikachu.next_aggregate),
            pokemons.group_event(caught("pikachu", version=3, trainer_id="ash")),  # follows v2 of the same group
            trainers.group_event(
                trainer_caught("ash", version=2, pokemon_id="pikachu"), prev_aggregate=ash.next_aggregate
            ),
            pokemons.group_event(appeared("eevee", timestamp=explicit)),
            pokemons.group_event(leveled_up("eevee", version=2)),  # a new aggregate, whole within the group
        )
        after = datetime.now(UTC)

        assert notified == list(results)
        shared = {result.event.timestamp for i, result in enumerate(results) if i != 3}
        assert len(shared) == 1
        [timestamp] = shared
        assert timestamp is not None and timestamp.utcoffset() == timedelta(0)
        assert before <= timestamp <= after
        assert results[3].event.timestamp == explicit

        assert await pokemons.get_events("pikachu") == [pikachu.event, results[0].event, results[1].event]
        assert await trainers.get_events("ash") == [ash.event, results[2].event]
        assert await pokemons.get_events("eevee") == [results[3].event, results[4].event]
        stored_timestamps = [
            event.timestamp for event in [*await pokemons.get_events("pikachu", min_version=2), results[4].event]
        ]
        assert stored_timestamps == [timestamp, timestamp, timestamp]
        assert (await pokemons.get_existing_aggregate("pikachu")).aggregate.trainer_id == "ash"
        assert (await trainers.get_existing_aggregate("ash")).aggregate.caught_pokemon_ids == ["pikachu"]

    # -- 7. listing aggregate ids --------------------------------------------------------------------

    LISTED = (  # in push order, which is not the listing order
        ("eevee", T0 + 4 * MINUTE),
        ("bulbasaur", T0 + MINUTE),
        ("squirtle", T0 + 2 * MINUTE),
        ("pikachu", T0),
        ("zubat", T0 + 2 * MINUTE),
        ("charmander", T0 + 3 * MINUTE),
        ("abra", T0 + 2 * MINUTE),
    )
    LISTING_ORDER = ("pikachu", "bulbasaur", "abra", "squirtle", "zubat", "charmander", "eevee")

    async def _listed_stores(self) -> tuple[PokemonsEventStore, TrainersEventStore]:
        pokemons, trainers = self.stores()
        for aggregate_id, timestamp in self.LISTED:
            await pokemons.push_event(appeared(aggregate_id, timestamp=timestamp))
        # Later events' timestamps do not move an aggregate.
        await pokemons.push_event(leveled_up("pikachu", version=2, timestamp=T0 + 10 * MINUTE))
        await pokemons.push_event(leveled_up("eevee", version=2, timestamp=T0 - 10 * MINUTE))
        await trainers.push_event(registered("ash", timestamp=T0 - MINUTE))
        return pokemons, trainers

    async def test_list_aggregate_ids_order_and_bounds(self) -> None:
        pokemons, trainers = await self._listed_stores()
        timestamps = dict(self.LISTED)

        listed = await pokemons.list_aggregate_ids()
        assert listed.next_page_token is None
        assert listed.aggregate_ids == [AggregateIdEntry(i, timestamps[i]) for i in self.LISTING_ORDER]
        for entry in listed.aggregate_ids:
            assert entry.initial_event_timestamp.utcoffset() == timedelta(0)
        assert ids((await trainers.list_aggregate_ids()).aggregate_ids) == ["ash"]

        async def listing(**options: Any) -> list[str]:
            result = await pokemons.list_aggregate_ids(**options)
            assert result.next_page_token is None
            return ids(result.aggregate_ids)

        order = list(self.LISTING_ORDER)
        assert await listing(reverse=True) == order[::-1]
        assert await listing(reverse=False) == order
        assert await listing(initial_event_after=T0 + 2 * MINUTE) == order[2:]
        assert await listing(initial_event_before=T0 + 2 * MINUTE) == order[:5]
        assert await listing(initial_event_after=T0 + MINUTE, initial_event_before=T0 + 3 * MINUTE) == order[1:6]
        assert await listing(initial_event_after=T0 + MINUTE, initial_event_before=T0 + MINUTE) == ["bulbasaur"]
        assert await listing(initial_event_after=T0 + 2 * MINUTE, reverse=True) == order[2:][::-1]
        assert await listing(initial_event_after=T0 + MINUTE + timedelta(microseconds=1)) == order[2:]
        assert await listing(initial_event_before=T0 - timedelta(microseconds=1)) == []
        assert await listing(initial_event_after=T0 + 5 * MINUTE) == []
        assert await listing(initial_event_after=T0 + 3 * MINUTE, initial_event_before=T0 + MINUTE) == []
        # Bounds in another time zone are the same instants.
        assert await listing(initial_event_after=(T0 + 2 * MINUTE).astimezone(PLUS_2)) == order[2:]
        assert await listing(limit=7) == order
        assert await listing(limit=100) == order

    async def test_list_aggregate_ids_pages_walk_every_entry_once(self) -> None:
        pokemons, _ = await self._listed_stores()
        queries: list[dict[str, Any]] = [
            {},
            {"reverse": True},
            {"initial_event_after": T0 + MINUTE},
            {"initial_event_before": T0 + 3 * MINUTE, "reverse": True},
            {"initial_event_after": T0 + MINUTE, "initial_event_before": T0 + 3 * MINUTE},
        ]
        for query in queries:
            unpaged = (await pokemons.list_aggregate_ids(**query)).aggregate_ids
            assert unpaged
            for limit in (1, 2, 3, len(unpaged) - 1, len(unpaged), len(unpaged) + 1):
                if limit < 1:
                    continue
                pages: list[list[AggregateIdEntry]] = []
                result = await pokemons.list_aggregate_ids(limit=limit, **query)
                pages.append(result.aggregate_ids)
                while result.next_page_token is not None:
                    assert len(pages) <= len(unpaged), "paging does not end"
                    result = await pokemons.list_aggregate_ids(page_token=result.next_page_token)
                    pages.append(result.aggregate_ids)
                walked = [entry for page in pages for entry in page]
                assert walked == unpaged, (query, limit)
                assert all(1 <= len(page) <= limit for page in pages), (query, limit)
                assert len(pages) == -(-len(unpaged) // limit), (query, limit)

    async def test_page_tokens_carry_the_query_and_belong_to_their_store(self) -> None:
        pokemons, trainers = await self._listed_stores()
        first = await pokemons.list_aggregate_ids(
            limit=2, initial_event_after=T0 + MINUTE, initial_event_before=T0 + 3 * MINUTE, reverse=True
        )
        assert ids(first.aggregate_ids) == ["charmander", "zubat"]
        assert first.next_page_token is not None
        second = await pokemons.list_aggregate_ids(page_token=first.next_page_token)
        assert ids(second.aggregate_ids) == ["squirtle", "abra"]
        assert second.next_page_token is not None
        third = await pokemons.list_aggregate_ids(page_token=second.next_page_token)
        assert ids(third.aggregate_ids) == ["bulbasaur"]
        assert third.next_page_token is None
        # An option given with the token overrides the token's.
        wider = await pokemons.list_aggregate_ids(page_token=first.next_page_token, limit=10)
        assert ids(wider.aggregate_ids) == ["squirtle", "abra", "bulbasaur"]
        assert wider.next_page_token is None

        await trainers.push_event(registered("misty", timestamp=T0))
        trainers_page = await trainers.list_aggregate_ids(limit=1)
        assert trainers_page.next_page_token is not None
        with pytest.raises(InvalidPageTokenError) as foreign:
            await pokemons.list_aggregate_ids(page_token=trainers_page.next_page_token)
        assert foreign.value.event_store_id == "pokemons"
        for invalid in ("", "not a token", "bm90IGpzb24=", "W10=", "e30=", first.next_page_token[:-4]):
            with pytest.raises(InvalidPageTokenError):
                await pokemons.list_aggregate_ids(page_token=invalid)

    # -- 8. timestamps -------------------------------------------------------------------------------

    async def test_timestamps_round_trip_as_the_same_instant_in_utc(self) -> None:
        pokemons, _ = self.stores()
        cases = {
            "minus-0530": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "plus-14": datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=14))),
            "whole-second": datetime(2024, 1, 1, tzinfo=UTC),
            "one-microsecond": datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        }
        pushed = {}
        for aggregate_id, timestamp in cases.items():
            result = await pokemons.push_event(appeared(aggregate_id, timestamp=timestamp))
            assert result.event.timestamp == timestamp
            assert result.event.timestamp is not None and result.event.timestamp.utcoffset() == timedelta(0)
            pushed[aggregate_id] = result.event

        for aggregate_id, timestamp in cases.items():
            [stored] = await pokemons.get_events(aggregate_id)
            assert stored == pushed[aggregate_id]
            assert stored.timestamp == timestamp
            assert stored.timestamp is not None and stored.timestamp.utcoffset() == timedelta(0)
            assert stored.timestamp.microsecond == timestamp.astimezone(UTC).microsecond

        listed = (await pokemons.list_aggregate_ids()).aggregate_ids
        assert ids(listed) == ["whole-second", "one-microsecond", "minus-0530", "plus-14"]
        for entry in listed:
            assert entry.initial_event_timestamp == cases[entry.aggregate_id]
            assert entry.initial_event_timestamp.utcoffset() == timedelta(0)
        one_microsecond = cases["one-microsecond"]
        after = await pokemons.list_aggregate_ids(initial_event_after=one_microsecond)
        assert ids(after.aggregate_ids) == ["one-microsecond", "minus-0530", "plus-14"]
        before = await pokemons.list_aggregate_ids(initial_event_before=one_microsecond - timedelta(microseconds=1))
        assert ids(before.aggregate_ids) == ["whole-second"]

        # Events come back in version order, whatever their timestamps.
        later = await pokemons.push_event(leveled_up("plus-14", version=2, timestamp=datetime(1999, 1, 1, tzinfo=UTC)))
        assert await pokemons.get_events("plus-14") == [pushed["plus-14"], later.event]

    async def test_timestamps_are_ordered_as_instants_not_as_wall_clock_times(self) -> None:
        pokemons, _ = self.stores()
        berlin = datetime(2024, 6, 1, 10, 0, tzinfo=PLUS_2)  # 08:00 UTC
        tokyo = datetime(2024, 6, 1, 17, 30, tzinfo=timezone(timedelta(hours=9)))  # 08:30 UTC
        london = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
        # Id order and wall-clock order both differ from instant order.
        for aggregate_id, timestamp in (("a-london", london), ("b-tokyo", tokyo), ("c-berlin", berlin)):
            await pokemons.push_event(appeared(aggregate_id, timestamp=timestamp))

        assert ids((await pokemons.list_aggregate_ids()).aggregate_ids) == ["c-berlin", "b-tokyo", "a-london"]
        assert ids((await pokemons.list_aggregate_ids(reverse=True)).aggregate_ids) == [
            "a-london",
            "b-tokyo",
            "c-berlin",
        ]
        after = await pokemons.list_aggregate_ids(initial_event_after=datetime(2024, 6, 1, 10, 15, tzinfo=PLUS_2))
        assert ids(after.aggregate_ids) == ["b-tokyo", "a-london"]
        before = await pokemons.list_aggregate_ids(
            initial_event_before=datetime(2024, 6, 1, 17, 59, tzinfo=timezone(timedelta(hours=9)))
        )
        assert ids(before.aggregate_ids) == ["c-berlin", "b-tokyo"]
        page = await pokemons.list_aggregate_ids(limit=1)
        assert ids(page.aggregate_ids) == ["c-berlin"]
        assert page.next_page_token is not None
        rest = await pokemons.list_aggregate_ids(page_token=page.next_page_token)
        assert ids(rest.aggregate_ids) == ["b-tokyo"]
        [berlin_event] = await pokemons.get_events("c-berlin")
        assert berlin_event.timestamp == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)

    # -- 9. racing tasks -----------------------------------------------------------------------------

    async def test_concurrent_writers_and_readers_in_one_process(self) -> None:
        pokemons, _ = self.stores()
        aggregates = self.TASK_AGGREGATES
        writing = asyncio.Event()
        writing.set()

        async def reader() -> int:
            seen: dict[str, int] = {}
            reads = 0
            while writing.is_set():
                for aggregate_id in aggregates:
                    await read_contiguously(pokemons, aggregate_id, seen)
                    reads += 1
                await asyncio.sleep(0)
            return reads

        readers = [asyncio.create_task(reader()) for _ in range(self.TASK_READERS)]
        try:
            reports = await asyncio.gather(
                *(
                    run_writer(pokemons, f"writer-{i}", i, aggregates, self.TASK_SUCCESSES)
                    for i in range(self.TASK_WRITERS)
                )
            )
        finally:
            writing.clear()
            reads = await asyncio.gather(*readers)
        assert all(count > 0 for count in reads)
        await assert_race_outcome(pokemons, aggregates, reports, self.TASK_WRITERS, self.TASK_SUCCESSES)
        assert sum(report.conflicts for report in reports) > 0

    # -- the adapter interface, directly -------------------------------------------------------------

    async def test_adapter_interface_round_trip(self) -> None:
        adapter = self.adapter()
        events = [
            appeared("pikachu", timestamp=T0, correlation_id="c"),
            leveled_up("pikachu", version=2, timestamp=T0 + MINUTE),
            caught("pikachu", version=3, trainer_id="ash", timestamp=(T0 + 2 * MINUTE).astimezone(PLUS_2)),
        ]
        ash = registered("pikachu", timestamp=T0 + timedelta(microseconds=7))
        await adapter.push_events([*((POKEMONS, event) for event in events), (TRAINERS, ash)], force=False)

        assert await adapter.get_events(POKEMONS, "pikachu", EventsQuery()) == events
        assert await adapter.get_events(TRAINERS, "pikachu", EventsQuery()) == [ash]
        assert await adapter.get_events(POKEMONS, "pikachu", EventsQuery(min_version=2, reverse=True, limit=1)) == [
            events[2]
        ]
        assert await adapter.get_events(POKEMONS, "pikachu", EventsQuery(max_version=2, reverse=True)) == [
            events[1],
            events[0],
        ]
        assert await adapter.get_events(POKEMONS, "nobody", EventsQuery()) == []
        read = await adapter.get_events(POKEMONS, "pikachu", EventsQuery())
        assert [type(event) for event in read] == [PokemonAppeared, PokemonLeveledUp, PokemonCaught]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery()) == [AggregateIdEntry("pikachu", T0)]
        assert await adapter.list_aggregate_ids(TRAINERS, AggregateIdsQuery()) == [
            AggregateIdEntry("pikachu", T0 + timedelta(microseconds=7))
        ]

    async def test_adapter_interface_writes_all_or_nothing(self) -> None:
        adapter = self.adapter()
        first = appeared("pikachu", timestamp=T0)
        await adapter.push_events([(POKEMONS, first)], force=False)

        with pytest.raises(EventAlreadyExistsError) as conflict:
            await adapter.push_events(
                [
                    (TRAINERS, registered("ash", timestamp=T0)),
                    (POKEMONS, leveled_up("pikachu", version=2, timestamp=T0)),
                    (POKEMONS, leveled_up("pikachu", version=3, timestamp=T0)),
                    (POKEMONS, appeared("pikachu", name="Raichu", timestamp=T0)),
                ],
                force=False,
            )
        assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
            "pokemons",
            "pikachu",
            1,
        )
        with pytest.raises(InvalidEventError) as gap:
            await adapter.push_events(
                [
                    (POKEMONS, leveled_up("pikachu", version=2, timestamp=T0)),
                    (TRAINERS, registered("ash", timestamp=T0)),
                    (POKEMONS, leveled_up("pikachu", version=4, timestamp=T0)),
                ],
                force=False,
            )
        assert (gap.value.event_store_id, gap.value.aggregate_id, gap.value.version) == ("pokemons", "pikachu", 4)
        with pytest.raises(EventAlreadyExistsError) as twice:
            await adapter.push_events(
                [
                    (POKEMONS, leveled_up("pikachu", version=2, timestamp=T0)),
                    (POKEMONS, caught("pikachu", version=2, trainer_id="ash", timestamp=T0)),
                ],
                force=False,
            )
        assert (twice.value.aggregate_id, twice.value.version) == ("pikachu", 2)
        assert await adapter.get_events(POKEMONS, "pikachu", EventsQuery()) == [first]
        assert await adapter.get_events(TRAINERS, "ash", EventsQuery()) == []
        assert await adapter.list_aggregate_ids(TRAINERS, AggregateIdsQuery()) == []

        raichu = appeared("pikachu", name="Raichu", timestamp=T0 + MINUTE)
        second = leveled_up("pikachu", version=2, timestamp=T0 + MINUTE)
        await adapter.push_events([(POKEMONS, raichu), (POKEMONS, second)], force=True)
        assert await adapter.get_events(POKEMONS, "pikachu", EventsQuery()) == [raichu, second]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery()) == [
            AggregateIdEntry("pikachu", T0 + MINUTE)
        ]

    async def test_adapter_interface_lists_aggregate_ids_after_a_cursor(self) -> None:
        adapter = self.adapter()
        listed = [("e", T0 + 2 * MINUTE), ("c", T0 + MINUTE), ("a", T0), ("d", T0 + MINUTE), ("b", T0 + MINUTE)]
        for aggregate_id, timestamp in listed:
            await adapter.push_events([(POKEMONS, appeared(aggregate_id, timestamp=timestamp))], force=False)
        await adapter.push_events([(TRAINERS, registered("z", timestamp=T0))], force=False)

        full = await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery())
        assert full == [AggregateIdEntry(i, t) for i, t in sorted(listed, key=lambda item: (item[1], item[0]))]
        assert ids(full) == ["a", "b", "c", "d", "e"]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(start_after=full[1])) == full[2:]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(start_after=full[1], limit=2)) == full[2:4]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(reverse=True, start_after=full[3])) == [
            full[2],
            full[1],
            full[0],
        ]
        # A cursor between entries of one timestamp, that names no stored aggregate.
        between = AggregateIdEntry("bb", T0 + MINUTE)
        assert ids(await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(start_after=between))) == [
            "c",
            "d",
            "e",
        ]
        assert ids(
            await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(start_after=between, reverse=True))
        ) == ["b", "a"]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(limit=2)) == full[:2]
        assert await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(limit=2, reverse=True)) == [
            full[4],
            full[3],
        ]
        # Bounds in another time zone, given to the adapter as they are.
        bounded = AggregateIdsQuery(
            initial_event_after=(T0 + MINUTE).astimezone(PLUS_2),
            initial_event_before=(T0 + MINUTE).astimezone(timezone(timedelta(hours=-7))),
        )
        assert ids(await adapter.list_aggregate_ids(POKEMONS, bounded)) == ["b", "c", "d"]
        assert ids(await adapter.list_aggregate_ids(TRAINERS, AggregateIdsQuery())) == ["z"]

    # -- 11. what no storage holds: refused alike by every adapter -----------------------------------------

    async def test_versions_beyond_what_storage_holds_are_refused_at_push(self) -> None:
        pokemons, trainers = self.stores()
        adapter = pokemons.get_event_storage_adapter()
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        for version in (MAX_VERSION + 1, 2**63, 2**64, True):
            hostile = PokemonLeveledUp.model_construct(aggregate_id="pikachu", version=version, timestamp=T0)
            with pytest.raises(InvalidEventError, match="version") as single:
                await pokemons.push_event(hostile)
            assert (single.value.aggregate_id, single.value.version) == ("pikachu", version)
            with pytest.raises(InvalidEventError, match="version"):
                await EventStore.push_event_group(
                    trainers.group_event(registered("ash", timestamp=T0)), pokemons.group_event(hostile)
                )
            with pytest.raises(InvalidEventError, match=f"version must be an integer from 1 to {MAX_VERSION}"):
                await adapter.push_events([(TRAINERS, registered("ash", timestamp=T0)), (POKEMONS, hostile)])
        # The highest version passes the bounds, and is refused only because version MAX_VERSION - 1 is missing.
        highest = PokemonLeveledUp.model_construct(aggregate_id="pikachu", version=MAX_VERSION, timestamp=T0)
        with pytest.raises(InvalidEventError, match=f"version {MAX_VERSION - 1} is not stored"):
            await pokemons.push_event(highest)
        with pytest.raises(InvalidEventError, match=f"version {MAX_VERSION - 1} is not stored"):
            await adapter.push_events([(POKEMONS, highest)])
        assert await versions_of(pokemons, "pikachu") == [1]
        assert await trainers.get_events("ash") == []

    async def test_read_arguments_beyond_what_storage_holds_are_value_errors_naming_them(self) -> None:
        pokemons, _ = self.stores()
        adapter = pokemons.get_event_storage_adapter()
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        await pokemons.push_event(leveled_up("pikachu", version=2, timestamp=T0))
        refused = [
            ("min_version", 2**63, -1, MAX_VERSION + 1, True),
            ("max_version", -(2**70), -1, MAX_VERSION + 1, False),
            ("limit", 2**63, -1, MAX_LIMIT + 1, True),
        ]
        for name, *values in refused:
            for value in values:
                with pytest.raises(ValueError, match=f"^pokemons: {name} must be an integer from 0 to 2147483647"):
                    await pokemons.get_events("pikachu", **{name: value})
                with pytest.raises(ValueError, match=f"{name} must be an integer from 0 to 2147483647"):
                    await adapter.get_events(POKEMONS, "pikachu", EventsQuery(**{name: value}))
        with pytest.raises(ValueError, match="max_version must be an integer from 0 to 2147483647, got -1"):
            await pokemons.get_aggregate("pikachu", max_version=-1)
        for page_size in (0, 2**63, True):
            with pytest.raises(ValueError, match="page_size must be an integer from 1 to 2147483647"):
                [event async for event in pokemons.iter_events("pikachu", page_size=page_size)]
        # The bounds themselves are accepted.
        assert await versions_of(pokemons, "pikachu") == [1, 2]
        for options in ({"min_version": 0}, {"max_version": MAX_VERSION}, {"limit": MAX_LIMIT}):
            assert [event.version for event in await pokemons.get_events("pikachu", **options)] == [1, 2]
        assert await pokemons.get_events("pikachu", min_version=MAX_VERSION) == []
        assert (
            await pokemons.get_events("pikachu", max_version=0) == await pokemons.get_events("pikachu", limit=0) == []
        )
        streamed = [event.version async for event in pokemons.iter_events("pikachu", page_size=MAX_LIMIT)]
        assert streamed == [1, 2]

        for limit in (2**63 - 1, 2**63, MAX_LIMIT + 1, 0, -1, True):
            with pytest.raises(ValueError, match=r"^pokemons: limit must be an integer from 1 to 2147483647"):
                await pokemons.list_aggregate_ids(limit=limit)
        for limit in (2**63, MAX_LIMIT + 1, -1, True):
            with pytest.raises(ValueError, match="limit must be an integer from 0 to 2147483647"):
                await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(limit=limit))
        every = await pokemons.list_aggregate_ids(limit=MAX_LIMIT)
        assert (ids(every.aggregate_ids), every.next_page_token) == (["pikachu"], None)

    async def test_timestamps_outside_the_years_1_to_9999_in_utc_are_refused(self) -> None:
        pokemons, trainers = self.stores()
        adapter = pokemons.get_event_storage_adapter()
        for timestamp in OUT_OF_RANGE_TIMESTAMPS.values():
            hostile = PokemonAppeared.model_construct(
                aggregate_id="edge",
                version=1,
                timestamp=timestamp,
                payload=PokemonAppearedPayload(name="Mew", level=1, pokemon_type="psychic"),
            )
            with pytest.raises(InvalidEventError, match="is outside the years 1 to 9999 once in UTC"):
                await pokemons.push_event(hostile)
            with pytest.raises(InvalidEventError, match="is outside the years 1 to 9999 once in UTC"):
                await EventStore.push_event_group(
                    trainers.group_event(registered("ash", timestamp=T0)), pokemons.group_event(hostile)
                )
            with pytest.raises(InvalidEventError, match="is outside the years 1 to 9999 once in UTC"):
                await adapter.push_events([(TRAINERS, registered("ash", timestamp=T0)), (POKEMONS, hostile)])
            for bound in ("initial_event_after", "initial_event_before"):
                with pytest.raises(ValueError, match=f"{bound} .* is outside the years 1 to 9999"):
                    await pokemons.list_aggregate_ids(**{bound: timestamp})
                with pytest.raises(ValueError, match=f"{bound} .* is outside the years 1 to 9999"):
                    await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(**{bound: timestamp}))
            cursor = AggregateIdEntry("edge", timestamp)
            with pytest.raises(ValueError, match=r"start_after\.initial_event_timestamp .* is outside the years"):
                await adapter.list_aggregate_ids(POKEMONS, AggregateIdsQuery(start_after=cursor))
        assert await pokemons.get_events("edge") == await trainers.get_events("ash") == []

        # The first and the last instants that every storage holds round-trip, in order.
        first = datetime(1, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=14)))  # 0001-01-01T00:00Z
        last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        await pokemons.push_event(appeared("last", timestamp=last))
        await pokemons.push_event(appeared("first", timestamp=first))
        assert [event.timestamp for event in await pokemons.get_events("first")] == [first]
        assert [event.timestamp for event in await pokemons.get_events("last")] == [last]
        page = await pokemons.list_aggregate_ids(initial_event_after=first, initial_event_before=last, limit=1)
        assert [(entry.aggregate_id, entry.initial_event_timestamp) for entry in page.aggregate_ids] == [
            ("first", first)
        ]
        assert page.next_page_token is not None
        rest = await pokemons.list_aggregate_ids(page_token=page.next_page_token)
        assert [(entry.aggregate_id, entry.initial_event_timestamp) for entry in rest.aggregate_ids] == [("last", last)]

    @pytest.mark.parametrize("aggregate_id", IDS_NO_STORAGE_HOLDS.values(), ids=IDS_NO_STORAGE_HOLDS)
    async def test_aggregate_ids_that_no_storage_holds_are_refused(self, aggregate_id: str) -> None:
        pokemons, trainers = self.stores()
        adapter = pokemons.get_event_storage_adapter()
        # (A lone surrogate is refused by the store's codec already, as JSON cannot hold it.)
        refused = "aggregate_id|surrogates not allowed"
        with pytest.raises(InvalidEventError, match=refused) as single:
            await pokemons.push_event(appeared(aggregate_id))
        assert single.value.aggregate_id == aggregate_id
        assert str(single.value).encode()  # the message escapes what the id holds, so it can be printed
        with pytest.raises(InvalidEventError, match=refused):
            await EventStore.push_event_group(
                trainers.group_event(registered("ash")), pokemons.group_event(appeared(aggregate_id))
            )
        with pytest.raises(InvalidEventError, match="aggregate_id"):
            await adapter.push_events([(POKEMONS, appeared(aggregate_id, timestamp=T0))])
        reads = {
            "get_events": lambda: pokemons.get_events(aggregate_id),
            "get_aggregate": lambda: pokemons.get_aggregate(aggregate_id),
            "get_existing_aggregate": lambda: pokemons.get_existing_aggregate(aggregate_id),
            "adapter.get_events": lambda: adapter.get_events(POKEMONS, aggregate_id, EventsQuery()),
            "adapter.list_aggregate_ids": lambda: adapter.list_aggregate_ids(
                POKEMONS, AggregateIdsQuery(start_after=AggregateIdEntry(aggregate_id, T0))
            ),
        }
        for read, call in reads.items():
            with pytest.raises(ValueError, match="aggregate_id") as refused:
                await call()
            assert str(refused.value).encode(), read
        with pytest.raises(ValueError, match="aggregate_id"):
            [event async for event in pokemons.iter_events(aggregate_id)]
        assert (await pokemons.list_aggregate_ids()).aggregate_ids == []
        assert await trainers.get_events("ash") == []

    async def test_the_longest_aggregate_ids_are_held_by_every_storage(self) -> None:
        pokemons, _ = self.stores()
        # 1,024 bytes of UTF-8, of characters of 1 to 4 bytes that do not compress (PostgreSQL indexes
        # compressed keys more easily).
        rng = random.Random(1024)
        longest = {
            "ascii": "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(1024)),
            "two-byte": "".join(chr(rng.randrange(0x100, 0x800)) for _ in range(512)),
            "four-byte": "".join(chr(rng.randrange(0x10000, 0x1F000)) for _ in range(256)),
        }
        for aggregate_id in longest.values():
            assert len(aggregate_id.encode()) == 1024
            pushed = await pokemons.push_event(appeared(aggregate_id, timestamp=T0))
            assert await pokemons.get_events(aggregate_id) == [pushed.event]
        walked, token = [], None
        for _ in longest:  # a page each (their tokens carry the longest ids)
            page = await pokemons.list_aggregate_ids(limit=1, page_token=token)
            walked += ids(page.aggregate_ids)
            token = page.next_page_token
        assert token is None
        assert sorted(walked) == sorted(longest.values())

    async def test_a_hostile_page_token_is_an_invalid_page_token_error(self) -> None:
        pokemons, _ = self.stores()
        await pokemons.push_event(appeared("pikachu", timestamp=T0))
        await pokemons.push_event(appeared("raichu", timestamp=T0))
        token = (await pokemons.list_aggregate_ids(limit=1)).next_page_token
        assert token is not None
        body = json.loads(base64.urlsafe_b64decode(token))

        def forged(**changes: Any) -> str:
            return base64.urlsafe_b64encode(json.dumps({**body, **changes}).encode()).decode()

        hostile = {
            "5,000 nested lists": base64.urlsafe_b64encode(b"[" * 5_000).decode(),
            "13 KB": base64.urlsafe_b64encode(b"[" * 10_000).decode(),
            "nested in a field": forged(limit=json.loads("[" * 50 + "]" * 50)),
            "limit beyond storage": forged(limit=2**63),
            "limit of zero": forged(limit=0),
            "limit a boolean": forged(limit=True),
            "reverse not a boolean": forged(reverse="yes"),
            "last id a lone surrogate": forged(last=[body["last"][0], "a\ud800"]),
            "last id with NUL": forged(last=[body["last"][0], "a\x00"]),
            "last id not a string": forged(last=[body["last"][0], {"id": 1}]),
            "last timestamp before year 1": forged(last=["0001-01-01T00:30:00+01:00", "pikachu"]),
            "after after year 9999": forged(after="9999-12-31T23:30:00-01:00"),
            "naive timestamp": forged(before="2024-01-01T00:00:00"),
            "a list": base64.urlsafe_b64encode(b"[1, 2]").decode(),
            "not ascii": "é" + token,
            "huge": "A" * 1_000_000,
        }
        for label, page_token in hostile.items():
            with pytest.raises(InvalidPageTokenError) as raised:
                await pokemons.list_aggregate_ids(page_token=page_token)
            assert raised.value.event_store_id == "pokemons", label
        for not_text in (b"token", 7, ["token"]):
            with pytest.raises(InvalidPageTokenError, match="it must be a string"):
                await pokemons.list_aggregate_ids(page_token=not_text)  # type: ignore[arg-type]
        assert ids((await pokemons.list_aggregate_ids(page_token=forged())).aggregate_ids) == ["raichu"]


# -- race checks -------------------------------------------------------------------------------------


async def read_contiguously(store: PokemonsEventStore, aggregate_id: str, seen: dict[str, int]) -> None:
    """Reads the aggregate's events while writers push: versions 1..n, never fewer than the last read."""
    versions = await versions_of(store, aggregate_id)
    assert versions == list(range(1, len(versions) + 1)), f"{aggregate_id}: read versions {versions}"
    assert len(versions) >= seen.get(aggregate_id, 0), f"{aggregate_id}: a read went back in time"
    seen[aggregate_id] = len(versions)
    newest = [event.version for event in await store.get_events(aggregate_id, reverse=True, limit=3)]
    if versions:
        top = newest[0]
        assert top >= len(versions), f"{aggregate_id}: newest {newest} read after {len(versions)} events"
        assert newest == list(range(top, max(top - 3, 0), -1)), f"{aggregate_id}: newest versions {newest}"


async def assert_race_outcome(
    store: PokemonsEventStore,
    aggregate_ids: Sequence[str],
    reports: Sequence[WriterReport],
    writers: int,
    successes: int,
) -> None:
    """Every version is stored once, by the writer that saw its push succeed, and by no other."""
    assert len(reports) == writers
    stored: dict[tuple[str, int], str | None] = {}
    for aggregate_id in aggregate_ids:
        events = await store.get_events(aggregate_id)
        assert [event.version for event in events] == list(range(1, len(events) + 1)), aggregate_id
        assert events, f"{aggregate_id}: no event stored"
        assert isinstance(events[0], PokemonAppeared)
        assert all(isinstance(event, PokemonCaught) for event in events[1:])
        for event in events:
            stored[(aggregate_id, event.version)] = event.metadata.correlation_id
        aggregate = (await store.get_existing_aggregate(aggregate_id)).aggregate
        assert aggregate.version == len(events)

    claimed = [(aggregate_id, version) for report in reports for aggregate_id, version, _ in report.pushed]
    duplicates = sorted({claim for claim in claimed if claimed.count(claim) > 1})
    assert not duplicates, f"versions claimed by two writers: {duplicates}"
    assert set(claimed) == set(stored)
    assert len(claimed) == writers * successes
    for report in reports:
        assert len(report.pushed) == successes, report.writer
        assert len(report.pushed) + report.conflicts == report.attempts, report.writer
        for aggregate_id, version, correlation_id in report.pushed:
            assert stored[(aggregate_id, version)] == correlation_id, (report.writer, aggregate_id, version)


class SharedDatabaseConformance(EventStorageAdapterConformance):
    """The suite, plus writers in several processes racing on one database: for adapters whose database
    several processes can share (SQLite files, servers). Subclass it instead, and implement
    `process_adapter_factory` too."""

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter]:
        """A picklable factory of adapters that all use one database, for writers in other processes."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_adapter_factory")

    # -- 10. racing processes ------------------------------------------------------------------------

    async def test_concurrent_writers_in_several_processes_on_one_database(self) -> None:
        factory = self.process_adapter_factory()
        adapter = self.track(factory())
        pokemons, _ = self.stores(adapter)
        aggregates = self.PROCESS_AGGREGATES
        # Nobody has used the database yet: the children and the parent's reads also race to create it.

        context = multiprocessing.get_context("spawn")
        start_line = context.Barrier(self.PROCESS_WRITERS)
        results = context.Queue()
        processes = [
            context.Process(
                target=write_in_child_process,
                args=(factory, f"process-{i}", i, aggregates, self.PROCESS_SUCCESSES, start_line, results),
                daemon=True,
            )
            for i in range(self.PROCESS_WRITERS)
        ]
        started = time.monotonic()
        for process in processes:
            process.start()
        reports: list[WriterReport] = []
        seen: dict[str, int] = {}
        reads = 0
        try:
            while len(reports) < len(processes):
                for aggregate_id in aggregates:
                    await read_contiguously(pokemons, aggregate_id, seen)
                    reads += 1
                while True:
                    try:
                        status, writer, outcome = results.get_nowait()
                    except queue.Empty:
                        break
                    if status != "ok":
                        pytest.fail(f"{writer} failed:\n{outcome}")
                    reports.append(outcome)
                dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if dead and results.empty():
                    pytest.fail(f"writer processes died with exit codes {dead}")
                if time.monotonic() - started > self.PROCESS_DEADLINE_SECONDS:
                    pytest.fail(f"the writers did not finish in {self.PROCESS_DEADLINE_SECONDS} s")
                await asyncio.sleep(0.002)
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
                    process.join()
        assert [process.exitcode for process in processes] == [0] * len(processes)
        assert reads > 0
        await assert_race_outcome(pokemons, aggregates, reports, self.PROCESS_WRITERS, self.PROCESS_SUCCESSES)
        conflicts = {report.writer: report.conflicts for report in reports}
        print(f"{type(self).__name__}: {sum(conflicts.values())} conflicts {conflicts}, {reads} parent reads")
