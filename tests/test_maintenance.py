"""Data maintenance (`pour_*`, Castore's "dam"), on the generated pokedex stores and channels.

The pours read what stores hold and publish it again as replays. These tests check what each publishes
(messages, `replay=True`, counts, first and last), in which order (timestamps across aggregates and stores,
ties by store, aggregate and version, whatever the page size), within which bounds (inclusive), the
aggregates of state-carrying messages (those `get_aggregate` gives at each version), the rate limit (the
waits asked of an injected sleep, on an injected clock), that events are poured while aggregates are still
being listed, and the refusals (TypeError, ValueError, MessageChannelEventStoreNotFoundError) before
anything is published. One test pours through the real in-memory bus to `on(..., replay=True)` subscribers.
"""

import itertools
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    HOUR,
    T0,
    adapter_fixture,  # noqa: F401  (the `adapter` fixture)
    appeared,
    caught,
    leveled_up,
    pokemons_store,
    registered,
    trainer_caught,
    trainers_store,
)

# isort: split
from pokedex import (
    AggregateExistsMessage,
    AggregateExistsMessageBus,
    AggregateIdEntry,
    AppMessageBus,
    DeliveryContext,
    Event,
    EventStorageAdapter,
    EventStore,
    InMemoryEventStorageAdapter,
    InMemoryMessageBusAdapter,
    MessageChannelEventStoreNotFoundError,
    NotificationMessage,
    NotificationMessageBus,
    PokemonAppeared,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEventStore,
    PokemonsStateCarryingMessage,
    PourAggregateIdsResult,
    PourEventsResult,
    StateCarryingMessage,
    TrainerRegistered,
    TrainersEventStore,
    UndefinedMessageChannelAdapterError,
    pour_aggregate_events,
    pour_aggregate_ids,
    pour_event_store_events,
    pour_event_stores_events,
)
from pokedex.runtime.storage import AggregateIdsQuery, EventsQuery, StorageContext

MINUTE = timedelta(minutes=1)
NAIVE = datetime(2024, 5, 1, 12, 0)

# -- test doubles -----------------------------------------------------------------------------------------


class RecordingChannelAdapter:
    """A channel adapter that records `(message, replay)` for each message, and runs `during_publish`
    with each message first (to advance a fake clock, or to fail)."""

    def __init__(self, during_publish: Callable[[Any], None] | None = None) -> None:
        self.published: list[tuple[Any, bool]] = []
        self._during_publish = during_publish

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        if self._during_publish is not None:
            self._during_publish(message)
        self.published.append((message, replay))

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        for message in messages:
            await self.publish_message(message, replay=replay)

    @property
    def messages(self) -> list[Any]:
        return [message for message, _ in self.published]


class FakeTime:
    """A clock that only moves when slept on (or advanced): each requested sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class IdsBus(AggregateExistsMessageBus[Any]):
    """An aggregate-exists bus carrying both pokedex stores."""

    message_channel_id: ClassVar[str] = "test_aggregate_ids_bus"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons", "trainers"})


class PokemonIdsBus(AggregateExistsMessageBus[Any]):
    """An aggregate-exists bus carrying pokemons only."""

    message_channel_id: ClassVar[str] = "test_pokemon_ids_bus"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons"})


class NotificationsBus(NotificationMessageBus[Any]):
    """A notification bus carrying both pokedex stores."""

    message_channel_id: ClassVar[str] = "test_notifications_bus"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons", "trainers"})


class CountingStorageAdapter(InMemoryEventStorageAdapter):
    """An in-memory adapter that logs each listing and read, so tests can see when a pour reads."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        self.log.append("list")
        return await super().list_aggregate_ids(context, query)

    async def get_events(self, context: StorageContext[Any], aggregate_id: str, query: EventsQuery) -> list[Any]:
        self.log.append(f"read {aggregate_id}")
        return await super().get_events(context, aggregate_id, query)


# -- data ---------------------------------------------------------------------------------------------------


async def fill_pokemons(store: PokemonsEventStore) -> None:
    """Three pokemons whose events interleave in time, pushed out of time order.

    bulbasaur-1 v1 T0, pikachu-1 v1 T0+1h, charmander-1 v1 T0+2h, charmander-1 v2 T0+3h, pikachu-1 v2
    T0+4h, bulbasaur-1 v2 T0+5h, pikachu-1 v3 T0+6h.
    """
    await store.push_event(appeared("pikachu-1", timestamp=T0 + HOUR))
    await store.push_event(leveled_up("pikachu-1", version=2, timestamp=T0 + 4 * HOUR))
    await store.push_event(caught("pikachu-1", version=3, trainer_id="ash", timestamp=T0 + 6 * HOUR))
    await store.push_event(appeared("charmander-1", name="Charmander", timestamp=T0 + 2 * HOUR))
    await store.push_event(leveled_up("charmander-1", version=2, timestamp=T0 + 3 * HOUR))
    await store.push_event(appeared("bulbasaur-1", name="Bulbasaur", timestamp=T0))
    await store.push_event(leveled_up("bulbasaur-1", version=2, timestamp=T0 + 5 * HOUR))


POKEMON_ORDER = [
    ("bulbasaur-1", 1),
    ("pikachu-1", 1),
    ("charmander-1", 1),
    ("charmander-1", 2),
    ("pikachu-1", 2),
    ("bulbasaur-1", 2),
    ("pikachu-1", 3),
]


async def fill_trainers(store: TrainersEventStore) -> None:
    """misty v1 T0+30min; ash v1 T0+1h (the time of pikachu-1 v1); ash v2 T0+6h (that of pikachu-1 v3)."""
    await store.push_event(registered("ash", timestamp=T0 + HOUR))
    await store.push_event(trainer_caught("ash", version=2, pokemon_id="pikachu-1", timestamp=T0 + 6 * HOUR))
    await store.push_event(registered("misty", name="Misty", timestamp=T0 + 30 * MINUTE))


MERGED_ORDER = [
    ("pokemons", "bulbasaur-1", 1),
    ("trainers", "misty", 1),
    ("pokemons", "pikachu-1", 1),
    ("trainers", "ash", 1),  # same time as pikachu-1 v1: pokemons < trainers
    ("pokemons", "charmander-1", 1),
    ("pokemons", "charmander-1", 2),
    ("pokemons", "pikachu-1", 2),
    ("pokemons", "bulbasaur-1", 2),
    ("pokemons", "pikachu-1", 3),
    ("trainers", "ash", 2),
]


async def filled_stores(adapter: EventStorageAdapter | None = None) -> tuple[PokemonsEventStore, TrainersEventStore]:
    storage = InMemoryEventStorageAdapter() if adapter is None else adapter
    pokemons, trainers = pokemons_store(storage), trainers_store(storage)
    await fill_pokemons(pokemons)
    await fill_trainers(trainers)
    return pokemons, trainers


def event_keys(messages: Sequence[Any]) -> list[tuple[str, int]]:
    return [(message.event.aggregate_id, message.event.version) for message in messages]


def merged_keys(messages: Sequence[Any]) -> list[tuple[str, str, int]]:
    return [(message.event_store_id, message.event.aggregate_id, message.event.version) for message in messages]


def timestamp_of(event: Event | None) -> datetime:
    assert event is not None and event.timestamp is not None
    return event.timestamp


# -- pour_aggregate_ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2, 100])
async def test_pour_aggregate_ids_publishes_one_aggregate_exists_message_per_aggregate_in_listing_order(
    page_size: int,
) -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_ids(pokemons, IdsBus(recording), page_size=page_size)

    assert recording.messages == [
        AggregateExistsMessage("pokemons", "bulbasaur-1", T0),
        AggregateExistsMessage("pokemons", "pikachu-1", T0 + HOUR),
        AggregateExistsMessage("pokemons", "charmander-1", T0 + 2 * HOUR),
    ]
    assert all(replay for _, replay in recording.published)
    assert result == PourAggregateIdsResult(
        poured_aggregate_id_count=3,
        first_scanned_aggregate=AggregateIdEntry("bulbasaur-1", T0),
        last_scanned_aggregate=AggregateIdEntry("charmander-1", T0 + 2 * HOUR),
    )


async def test_pour_aggregate_ids_works_on_sqlite_too(adapter: EventStorageAdapter) -> None:
    _, trainers = await filled_stores(adapter)
    recording = RecordingChannelAdapter()

    poured = await pour_aggregate_ids(trainers, IdsBus(recording), page_size=1)

    assert [message.aggregate_id for message in recording.messages] == ["misty", "ash"]
    assert poured.poured_aggregate_id_count == 2


async def test_pour_aggregate_ids_bounds_on_the_initial_event_are_inclusive() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_ids(
        pokemons, IdsBus(recording), initial_event_after=T0 + HOUR, initial_event_before=T0 + 2 * HOUR, page_size=1
    )

    assert [message.aggregate_id for message in recording.messages] == ["pikachu-1", "charmander-1"]
    assert result.poured_aggregate_id_count == 2
    assert result.first_scanned_aggregate == AggregateIdEntry("pikachu-1", T0 + HOUR)
    assert result.last_scanned_aggregate == AggregateIdEntry("charmander-1", T0 + 2 * HOUR)


async def test_pour_aggregate_ids_of_an_empty_store_pours_nothing() -> None:
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_ids(pokemons_store(InMemoryEventStorageAdapter()), IdsBus(recording))

    assert result == PourAggregateIdsResult(0, None, None)
    assert recording.published == []


@pytest.mark.parametrize("channel_class", [AppMessageBus, PokemonNotificationsQueue])
async def test_pour_aggregate_ids_refuses_a_channel_that_does_not_carry_aggregate_exists_messages(
    channel_class: type[Any],
) -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    with pytest.raises(TypeError, match="aggregate-exists"):
        await pour_aggregate_ids(pokemons, channel_class(recording))
    assert recording.published == []


# -- pour_aggregate_events ----------------------------------------------------------------------------------


async def test_pour_aggregate_events_publishes_the_aggregates_events_in_version_order() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_events(pokemons, "pikachu-1", PokemonNotificationsQueue(recording))

    events = await pokemons.get_events("pikachu-1")
    assert recording.messages == [NotificationMessage("pokemons", event) for event in events]
    assert [replay for _, replay in recording.published] == [True, True, True]
    assert result == PourEventsResult(3, events[0], events[-1])


async def test_pour_aggregate_events_version_bounds_are_inclusive() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_events(
        pokemons, "pikachu-1", PokemonNotificationsQueue(recording), min_version=2, max_version=3
    )

    assert event_keys(recording.messages) == [("pikachu-1", 2), ("pikachu-1", 3)]
    assert result.poured_event_count == 2
    assert result.first_scanned_event is not None and result.first_scanned_event.version == 2
    assert result.last_scanned_event is not None and result.last_scanned_event.version == 3


async def test_pour_aggregate_events_on_a_state_carrying_channel_carries_the_aggregate_at_each_version() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_events(pokemons, "pikachu-1", AppMessageBus(recording), min_version=2)

    assert event_keys(recording.messages) == [("pikachu-1", 2), ("pikachu-1", 3)]
    for message in recording.messages:
        assert isinstance(message, StateCarryingMessage)
        expected = await pokemons.get_aggregate("pikachu-1", max_version=message.event.version)
        assert message.event == expected.last_event
        assert message.aggregate == expected.aggregate
    assert recording.messages[-1].aggregate.trainer_id == "ash"
    assert result.poured_event_count == 2


async def test_pour_aggregate_events_folds_each_event_once_without_reading_per_event() -> None:
    log: list[str] = []
    pokemons = pokemons_store(CountingStorageAdapter(log))
    await fill_pokemons(pokemons)
    log.clear()

    await pour_aggregate_events(pokemons, "pikachu-1", AppMessageBus(RecordingChannelAdapter()))

    assert log == ["read pikachu-1"]


async def test_pour_aggregate_events_of_an_unknown_aggregate_pours_nothing() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_aggregate_events(pokemons, "mew-1", AppMessageBus(recording))

    assert result == PourEventsResult(0, None, None)
    assert recording.published == []


# -- pour_event_store_events --------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2, 100])
async def test_pour_event_store_events_publishes_every_event_in_timestamp_order(page_size: int) -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_event_store_events(pokemons, PokemonNotificationsQueue(recording), page_size=page_size)

    assert event_keys(recording.messages) == POKEMON_ORDER
    assert all(isinstance(message, NotificationMessage) for message in recording.messages)
    assert all(message.event_store_id == "pokemons" for message in recording.messages)
    assert all(replay for _, replay in recording.published)
    assert result.poured_event_count == 7
    assert (await pokemons.get_events("bulbasaur-1"))[0] == result.first_scanned_event
    assert (await pokemons.get_events("pikachu-1"))[-1] == result.last_scanned_event


async def test_pour_event_store_events_orders_events_of_the_same_time_by_aggregate_id_then_version(
    adapter: EventStorageAdapter,
) -> None:
    pokemons = pokemons_store(adapter)
    for aggregate_id in ["b", "c", "a"]:
        await pokemons.push_event(appeared(aggregate_id, timestamp=T0))
        await pokemons.push_event(leveled_up(aggregate_id, version=2, timestamp=T0))
    recording = RecordingChannelAdapter()

    await pour_event_store_events(pokemons, PokemonNotificationsQueue(recording), page_size=1)

    assert event_keys(recording.messages) == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1), ("c", 2)]


async def test_an_event_waits_for_unread_aggregates_that_begin_at_its_time_with_a_lower_id() -> None:
    pokemons = pokemons_store(InMemoryEventStorageAdapter())
    await pokemons.push_event(appeared("z", timestamp=T0))
    await pokemons.push_event(leveled_up("z", version=2, timestamp=T0 + HOUR))
    for aggregate_id in ["a", "b", "c"]:
        await pokemons.push_event(appeared(aggregate_id, timestamp=T0 + HOUR))
    await pokemons.push_event(appeared("later", timestamp=T0 + 2 * HOUR))
    recording = RecordingChannelAdapter()

    await pour_event_store_events(pokemons, PokemonNotificationsQueue(recording), page_size=1)

    assert event_keys(recording.messages) == [("z", 1), ("a", 1), ("b", 1), ("c", 1), ("z", 2), ("later", 1)]


async def test_pour_event_store_events_time_bounds_are_inclusive_and_apply_to_each_event() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_event_store_events(
        pokemons,
        PokemonNotificationsQueue(recording),
        from_timestamp=T0 + HOUR,
        to_timestamp=T0 + 4 * HOUR,
        page_size=1,
    )

    assert event_keys(recording.messages) == [
        ("pikachu-1", 1),
        ("charmander-1", 1),
        ("charmander-1", 2),
        ("pikachu-1", 2),
    ]
    assert timestamp_of(result.first_scanned_event) == T0 + HOUR
    assert timestamp_of(result.last_scanned_event) == T0 + 4 * HOUR


async def test_pour_event_store_events_bounds_in_another_time_zone_are_the_same_instants() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()
    paris = T0.astimezone(timezone(timedelta(hours=2)))

    await pour_event_store_events(
        pokemons, PokemonNotificationsQueue(recording), from_timestamp=paris + 5 * HOUR, to_timestamp=paris + 5 * HOUR
    )

    assert event_keys(recording.messages) == [("bulbasaur-1", 2)]


@pytest.mark.parametrize("page_size", [1, 3])
async def test_pour_event_store_events_on_a_state_carrying_channel_carries_the_aggregate_at_each_event(
    adapter: EventStorageAdapter, page_size: int
) -> None:
    pokemons, _ = await filled_stores(adapter)
    recording = RecordingChannelAdapter()

    # From T0+3h: the earlier events are folded into the aggregates but not poured.
    result = await pour_event_store_events(
        pokemons, AppMessageBus(recording), from_timestamp=T0 + 3 * HOUR, page_size=page_size
    )

    assert event_keys(recording.messages) == POKEMON_ORDER[3:]
    for message in recording.messages:
        assert isinstance(message, StateCarryingMessage)
        expected = await pokemons.get_aggregate(message.event.aggregate_id, max_version=message.event.version)
        assert (message.event, message.aggregate) == (expected.last_event, expected.aggregate)
    assert result.poured_event_count == 4


async def test_pour_event_store_events_on_a_state_carrying_channel_reads_each_aggregate_once() -> None:
    log: list[str] = []
    pokemons = pokemons_store(CountingStorageAdapter(log))
    await fill_pokemons(pokemons)
    log.clear()

    await pour_event_store_events(pokemons, AppMessageBus(RecordingChannelAdapter()), page_size=2)

    assert sorted(entry for entry in log if entry.startswith("read")) == [
        "read bulbasaur-1",
        "read charmander-1",
        "read pikachu-1",
    ]


async def test_an_event_stamped_before_its_predecessor_is_poured_right_after_it_with_the_right_aggregate() -> None:
    pokemons = pokemons_store(InMemoryEventStorageAdapter())
    await pokemons.push_event(appeared("pikachu-1", timestamp=T0 + 2 * HOUR))
    await pokemons.push_event(leveled_up("pikachu-1", version=2, timestamp=T0))  # stamped in the past
    await pokemons.push_event(appeared("bulbasaur-1", name="Bulbasaur", timestamp=T0 + HOUR))
    await pokemons.push_event(appeared("charmander-1", name="Charmander", timestamp=T0 + 3 * HOUR))
    recording = RecordingChannelAdapter()

    await pour_event_store_events(pokemons, AppMessageBus(recording), page_size=1)

    assert event_keys(recording.messages) == [
        ("bulbasaur-1", 1),
        ("pikachu-1", 1),
        ("pikachu-1", 2),
        ("charmander-1", 1),
    ]
    assert recording.messages[2].aggregate.level == 6

    # The bounds apply to its own timestamp.
    bounded = RecordingChannelAdapter()
    await pour_event_store_events(pokemons, AppMessageBus(bounded), to_timestamp=T0 + 30 * MINUTE)
    assert event_keys(bounded.messages) == []  # pikachu-1 began after the bound: not even read
    bounded = RecordingChannelAdapter()
    await pour_event_store_events(pokemons, AppMessageBus(bounded), to_timestamp=T0 + 2 * HOUR)
    assert event_keys(bounded.messages) == [("bulbasaur-1", 1), ("pikachu-1", 1), ("pikachu-1", 2)]


async def test_events_are_poured_while_aggregates_are_still_being_listed() -> None:
    log: list[str] = []
    pokemons = pokemons_store(CountingStorageAdapter(log))
    for index in range(10):
        await pokemons.push_event(appeared(f"pokemon-{index}", timestamp=T0 + index * HOUR))
    log.clear()
    channel = PokemonNotificationsQueue(RecordingChannelAdapter(lambda message: log.append("publish")))

    result = await pour_event_store_events(pokemons, channel, page_size=2)

    assert result.poured_event_count == 10
    # The first pokemon is due once the second page shows that nothing unread comes before it.
    assert log.index("publish") < 8
    assert log.count("list") == 5


# -- pour_event_stores_events -------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2, 100])
async def test_pour_event_stores_events_merges_the_stores_in_timestamp_then_store_order(
    adapter: EventStorageAdapter, page_size: int
) -> None:
    pokemons, trainers = await filled_stores(adapter)
    recording = RecordingChannelAdapter()

    result = await pour_event_stores_events([trainers, pokemons], NotificationsBus(recording), page_size=page_size)

    assert merged_keys(recording.messages) == MERGED_ORDER
    assert all(replay for _, replay in recording.published)
    assert result.poured_event_count == 10
    assert result.first_scanned_event == (await pokemons.get_events("bulbasaur-1"))[0]
    assert result.last_scanned_event == (await trainers.get_events("ash"))[-1]


async def test_pour_event_stores_events_on_a_state_carrying_channel_carries_each_stores_aggregates() -> None:
    pokemons, trainers = await filled_stores()
    recording = RecordingChannelAdapter()

    result = await pour_event_stores_events(
        [pokemons, trainers],
        AppMessageBus(recording),
        from_timestamp=T0 + HOUR,
        to_timestamp=T0 + 6 * HOUR,
        page_size=1,
    )

    assert merged_keys(recording.messages) == MERGED_ORDER[2:]
    stores: dict[str, EventStore[Any, Any, Any]] = {"pokemons": pokemons, "trainers": trainers}
    for message in recording.messages:
        expected = await stores[message.event_store_id].get_aggregate(
            message.event.aggregate_id, max_version=message.event.version
        )
        assert (message.event, message.aggregate) == (expected.last_event, expected.aggregate)
    assert recording.messages[-1].aggregate.caught_pokemon_ids == ["pikachu-1"]
    assert result.poured_event_count == 8


async def test_pour_event_stores_events_of_no_store_or_empty_stores_pours_nothing() -> None:
    recording = RecordingChannelAdapter()
    storage = InMemoryEventStorageAdapter()

    assert await pour_event_stores_events([], NotificationsBus(recording)) == PourEventsResult(0, None, None)
    empty = await pour_event_stores_events([pokemons_store(storage), trainers_store(storage)], AppMessageBus(recording))
    assert empty == PourEventsResult(0, None, None)
    assert recording.published == []


async def test_pour_event_stores_events_refuses_a_store_given_twice() -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()

    with pytest.raises(ValueError, match="pokemons store is given twice"):
        await pour_event_stores_events([pokemons, pokemons], NotificationsBus(recording))
    assert recording.published == []


# -- through a real bus --------------------------------------------------------------------------------------


async def test_pours_reach_the_subscribers_that_accept_replays_on_the_in_memory_bus() -> None:
    pokemons, trainers = await filled_stores()
    adapter = InMemoryMessageBusAdapter()
    bus = AppMessageBus(adapter)
    replayed: list[tuple[str, int, str, bool]] = []
    live: list[object] = []

    async def on_appeared(message: StateCarryingMessage[Any, PokemonAppeared, Any], context: DeliveryContext) -> None:
        replayed.append((message.event.aggregate_id, message.event.version, message.aggregate.name, context.replay))

    async def on_leveled_up(message: PokemonsStateCarryingMessage, context: DeliveryContext) -> None:
        replayed.append((message.event.aggregate_id, message.event.version, message.aggregate.name, context.replay))

    async def on_registered(message: Any, context: DeliveryContext) -> None:
        replayed.append((message.event.aggregate_id, message.event.version, message.aggregate.name, context.replay))

    async def not_for_replays(message: Any, context: DeliveryContext) -> None:
        live.append(message)

    bus.on(PokemonAppeared, on_appeared, replay=True)
    bus.on(PokemonLeveledUp, on_leveled_up, replay=True)
    bus.on(TrainerRegistered, on_registered, replay=True)
    bus.on(PokemonAppeared, not_for_replays)

    result = await pour_event_stores_events([pokemons, trainers], bus)
    await adapter.wait_until_idle()

    assert result.poured_event_count == 10
    assert sorted(replayed) == [
        ("ash", 1, "Ash", True),
        ("bulbasaur-1", 1, "Bulbasaur", True),
        ("bulbasaur-1", 2, "Bulbasaur", True),
        ("charmander-1", 1, "Charmander", True),
        ("charmander-1", 2, "Charmander", True),
        ("misty", 1, "Misty", True),
        ("pikachu-1", 1, "Pikachu", True),
        ("pikachu-1", 2, "Pikachu", True),
    ]
    assert live == []
    assert not adapter.failed_deliveries


# -- rate limit ----------------------------------------------------------------------------------------------


async def test_a_rate_limit_spaces_messages_by_its_inverse() -> None:
    pokemons = pokemons_store(InMemoryEventStorageAdapter())
    for index in range(10):
        await pokemons.push_event(appeared(f"pokemon-{index}", timestamp=T0 + index * MINUTE))
    fake = FakeTime()
    started: list[float] = []
    channel = PokemonNotificationsQueue(RecordingChannelAdapter(lambda message: started.append(fake.now)))

    result = await pour_event_store_events(pokemons, channel, rate_limit=5, sleep=fake.sleep, clock=fake.clock)

    assert result.poured_event_count == 10
    # 10 messages at 5 per second: the first at once, each next one 0.2 s after the previous.
    assert fake.sleeps == pytest.approx([0.2] * 9)
    assert sum(fake.sleeps) == pytest.approx(1.8)
    assert [later - earlier for earlier, later in itertools.pairwise(started)] == pytest.approx([0.2] * 9)


async def test_a_rate_limit_counts_the_time_spent_publishing() -> None:
    pokemons, _ = await filled_stores()
    fake = FakeTime()

    def slow_publish(message: Any) -> None:
        fake.now += 0.15

    channel = IdsBus(RecordingChannelAdapter(slow_publish))
    result = await pour_aggregate_ids(pokemons, channel, rate_limit=4, sleep=fake.sleep, clock=fake.clock)

    assert result.poured_aggregate_id_count == 3
    assert fake.sleeps == pytest.approx([0.1, 0.1])  # 0.25 s apart, 0.15 s of which spent publishing


async def test_a_slow_publish_is_not_made_up_for_by_a_burst_afterwards() -> None:
    pokemons, _ = await filled_stores()
    fake = FakeTime()
    durations = iter([1.0, 0.0, 0.0])

    def publish(message: Any) -> None:
        fake.now += next(durations)

    channel = PokemonNotificationsQueue(RecordingChannelAdapter(publish))
    await pour_aggregate_events(pokemons, "pikachu-1", channel, rate_limit=2, sleep=fake.sleep, clock=fake.clock)

    # The first publish outlasts the 0.5 s interval, so the second starts at once; the third still waits
    # 0.5 s after the second.
    assert fake.sleeps == pytest.approx([0.5])


async def test_without_rate_limit_nothing_waits() -> None:
    pokemons, trainers = await filled_stores()
    fake = FakeTime()
    recording = RecordingChannelAdapter()

    await pour_event_stores_events([pokemons, trainers], AppMessageBus(recording), sleep=fake.sleep, clock=fake.clock)
    await pour_aggregate_ids(pokemons, IdsBus(recording), sleep=fake.sleep, clock=fake.clock)

    assert len(recording.published) == 13
    assert fake.sleeps == []


# -- refusals ------------------------------------------------------------------------------------------------


async def test_event_pours_refuse_an_aggregate_exists_channel() -> None:
    pokemons, trainers = await filled_stores()
    recording = RecordingChannelAdapter()
    channel: Any = IdsBus(recording)

    with pytest.raises(TypeError, match="aggregate-exists"):
        await pour_aggregate_events(pokemons, "pikachu-1", channel)
    with pytest.raises(TypeError, match="aggregate-exists"):
        await pour_event_store_events(pokemons, channel)
    with pytest.raises(TypeError, match="aggregate-exists"):
        await pour_event_stores_events([pokemons, trainers], channel)
    assert recording.published == []


def all_pours(
    pokemons: PokemonsEventStore, channel: Any, ids_channel: Any, options: dict[str, Any]
) -> list[Callable[[], Awaitable[object]]]:
    """A call of each pour that takes all of `options` (the time bounds of pour_aggregate_ids are named
    after the initial event; pour_aggregate_events takes neither time bounds nor a page size)."""
    renamed = {"from_timestamp": "initial_event_after", "to_timestamp": "initial_event_before"}
    id_options = {renamed.get(name, name): value for name, value in options.items()}
    pours: list[Callable[[], Awaitable[object]]] = [
        lambda: pour_aggregate_ids(pokemons, ids_channel, **id_options),
        lambda: pour_event_store_events(pokemons, channel, **options),
        lambda: pour_event_stores_events([pokemons], channel, **options),
    ]
    if options.keys() <= {"rate_limit"}:
        pours.append(lambda: pour_aggregate_events(pokemons, "pikachu-1", channel, **options))
    return pours


@pytest.mark.parametrize(
    "options",
    [
        {"from_timestamp": NAIVE},
        {"to_timestamp": NAIVE},
        {"rate_limit": 0},
        {"rate_limit": -1},
        {"rate_limit": math.nan},
        {"page_size": 0},
    ],
    ids=["naive-from", "naive-to", "zero-rate", "negative-rate", "nan-rate", "zero-page-size"],
)
async def test_invalid_options_raise_value_error_before_anything_is_published(options: dict[str, Any]) -> None:
    pokemons, _ = await filled_stores()
    recording = RecordingChannelAdapter()
    pours = all_pours(pokemons, AppMessageBus(recording), IdsBus(recording), options)

    for pour in pours:
        with pytest.raises(ValueError, match=r"aware|rate_limit|page_size"):
            await pour()
    assert recording.published == []


async def test_a_channel_that_does_not_carry_the_store_raises_before_anything_is_published() -> None:
    pokemons, trainers = await filled_stores()
    recording = RecordingChannelAdapter()
    queue: Any = PokemonNotificationsQueue(recording)  # pokemons only

    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await pour_aggregate_events(trainers, "ash", queue)
    assert (raised.value.message_channel_id, raised.value.event_store_id) == ("pokemon_notifications_queue", "trainers")
    with pytest.raises(MessageChannelEventStoreNotFoundError):
        await pour_event_store_events(trainers, queue)
    with pytest.raises(MessageChannelEventStoreNotFoundError):
        # pokemons is carried and comes first in time: still, nothing of it is published.
        await pour_event_stores_events([pokemons, trainers], queue)
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await pour_aggregate_ids(trainers, PokemonIdsBus(recording))
    assert raised.value.event_store_id == "trainers"
    assert recording.published == []


async def test_a_channel_without_adapter_raises_before_anything_is_read() -> None:
    log: list[str] = []
    pokemons = pokemons_store(CountingStorageAdapter(log))
    await fill_pokemons(pokemons)
    log.clear()

    with pytest.raises(UndefinedMessageChannelAdapterError):
        await pour_event_store_events(pokemons, AppMessageBus())
    with pytest.raises(UndefinedMessageChannelAdapterError):
        await pour_aggregate_ids(pokemons, IdsBus())
    assert log == []


async def test_a_failing_publish_stops_the_pour_and_says_how_far_it_went() -> None:
    pokemons, _ = await filled_stores()
    published: list[Any] = []

    def fail_on_the_third(message: Any) -> None:
        if len(published) == 2:
            raise ConnectionError("broker gone")
        published.append(message)

    with pytest.raises(ConnectionError, match="broker gone") as raised:
        await pour_event_store_events(pokemons, PokemonNotificationsQueue(RecordingChannelAdapter(fail_on_the_third)))

    assert event_keys(published) == POKEMON_ORDER[:2]
    notes = "\n".join(raised.value.__notes__)
    assert "stopped after 2 message(s)" in notes
    assert "pikachu-1 v1" in notes
