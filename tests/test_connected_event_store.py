"""Connected event stores (`ConnectedEventStore`), on the generated pokedex stores and channels.

A connected store is an event store whose successful pushes are then published to a message channel. These
tests check that it behaves as its wrapped store for everything else (reads, settings, results), what it
publishes and when (after the wrapped store's push and `on_event_pushed`, before `push_event` returns; after
the whole group for grouped events), how many reads a state-carrying publish costs, the nested wiring of the
generated `connect_*_event_store` functions, and the failures: nothing published when the push fails,
`EventPublishError` (the event staying stored) when publishing fails, `TypeError` for channels a connected
store cannot publish to.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    HOUR,
    T0,
    Recorder,
    adapter_fixture,  # noqa: F401  (the `adapter` fixture)
    appeared,
    caught,
    leveled_up,
    pokemon,
    pokemons_store,
    registered,
    trainer_caught,
    trainers_store,
)

# isort: split
from pokedex import (
    MESSAGE_CODEC,
    AggregateExistsMessageBus,
    AggregateNotFoundError,
    AppMessageBus,
    ConnectedEventStore,
    DeliveryContext,
    EventAlreadyExistsError,
    EventPublishError,
    EventsQuery,
    EventStorageAdapter,
    EventStore,
    InMemoryEventStorageAdapter,
    InMemoryMessageBusAdapter,
    InMemoryMessageQueueAdapter,
    InvalidEventError,
    MessageChannelEventStoreNotFoundError,
    NotificationMessage,
    NotificationMessageBus,
    OutboxRelay,
    Pokemon,
    PokemonAppeared,
    PokemonCaught,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsAggregateExistsMessage,
    PokemonsEvent,
    PokemonsEventStore,
    PushEventResult,
    StateCarryingMessage,
    StorageContext,
    Trainer,
    TrainerRegistered,
    TrainersNotificationMessage,
    UndefinedEventStorageAdapterError,
    UndefinedMessageChannelAdapterError,
    connect_pokemons_event_store,
    connect_trainers_event_store,
)

from demo.pokedex_demo import Pokedex

# -- test doubles -----------------------------------------------------------------------------------------


class RecordingChannelAdapter:
    """A channel adapter that records what it is given (in `messages`, and as `"publish <name>"` in a shared
    `log`), runs `during_publish` with each message first, and raises `error` if one is set."""

    def __init__(
        self,
        name: str = "channel",
        *,
        log: list[str] | None = None,
        error: Exception | None = None,
        during_publish: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.log: list[str] = [] if log is None else log
        self.error = error
        self.during_publish = during_publish
        self.messages: list[Any] = []
        self.replays: list[bool] = []

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        self.log.append(f"publish {self.name}")
        if self.during_publish is not None:
            await self.during_publish(message)
        if self.error is not None:
            raise self.error
        self.messages.append(message)
        self.replays.append(replay)

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        for message in messages:
            await self.publish_message(message, replay=replay)


class CountingStorageAdapter(InMemoryEventStorageAdapter):
    """An in-memory adapter that records every `get_events` call: (store id, aggregate id, query)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, str, EventsQuery]] = []

    async def get_events(self, context: StorageContext[Any], aggregate_id: str, query: EventsQuery) -> list[Any]:
        self.reads.append((context.event_store_id, aggregate_id, query))
        return await super().get_events(context, aggregate_id, query)


class TrainerNotificationsBus(NotificationMessageBus[TrainersNotificationMessage]):
    """A notification bus of the trainers store, which the pokedex spec does not declare."""

    message_channel_id: ClassVar[str] = "trainer_notifications_bus"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"trainers"})


class PokemonIdsBus(AggregateExistsMessageBus[PokemonsAggregateExistsMessage]):
    """An aggregate-exists bus of the pokemons store: a connected store cannot publish to it."""

    message_channel_id: ClassVar[str] = "pokemon_ids_bus"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons"})


def logging_callback(log: list[str], name: str, *, published: RecordingChannelAdapter | None = None) -> Recorder:
    """A Recorder that also logs `"callback <name>"` and, when given a channel adapter, checks that nothing
    has been published to it yet for this result's event."""

    async def read(result: PushEventResult[Any, Any]) -> object:
        log.append(f"callback {name}")
        if published is not None:
            assert all(message.event != result.event for message in published.messages), "published too early"
        return None

    return Recorder(read)


def trainer(aggregate_id: str = "ash", version: int = 1, **changes: Any) -> Trainer:
    fields: dict[str, Any] = {"name": "Ash", "caught_pokemon_ids": []}
    fields.update(changes)
    return Trainer(aggregate_id=aggregate_id, version=version, **fields)


def connected_pokemons(
    adapter: EventStorageAdapter | None,
    channel_adapter: RecordingChannelAdapter,
    *,
    on_event_pushed: Recorder | None = None,
) -> tuple[PokemonsEventStore, ConnectedEventStore[Any, PokemonsEvent, Pokemon]]:
    """A pokemons store on `adapter` and that store connected to an AppMessageBus on `channel_adapter`."""
    store = pokemons_store(adapter, on_event_pushed=on_event_pushed)
    return store, ConnectedEventStore(store, AppMessageBus(channel_adapter))


# -- the store interface ----------------------------------------------------------------------------------


def test_connected_store_exposes_the_wrapped_store_its_channel_and_its_id() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    bus = AppMessageBus(RecordingChannelAdapter())
    connected = ConnectedEventStore(store, bus)

    assert connected.event_store is store
    assert connected.message_channel is bus
    assert connected.event_store_id == store.event_store_id == "pokemons"
    assert isinstance(connected, EventStore)
    assert connected.event_storage_adapter is store.event_storage_adapter

    trainers = connect_trainers_event_store(trainers_store(), app_message_bus=bus)
    assert trainers.event_store_id == "trainers"
    assert trainers.message_channel is bus


async def test_reads_through_the_connected_store_are_the_wrapped_stores_and_publish_nothing(
    adapter: EventStorageAdapter,
) -> None:
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(adapter, recording)
    pikachu_1 = (await store.push_event(appeared(timestamp=T0))).event
    pikachu_2 = (await store.push_event(leveled_up(version=2, timestamp=T0 + HOUR))).event
    pikachu_3 = (await store.push_event(caught(version=3, timestamp=T0 + 2 * HOUR))).event
    bulbasaur = (await store.push_event(appeared("bulbasaur-1", name="Bulbasaur", timestamp=T0 + 3 * HOUR))).event

    assert await connected.get_events("pikachu-1") == [pikachu_1, pikachu_2, pikachu_3]
    assert await connected.get_events("pikachu-1", min_version=2, reverse=True) == [pikachu_3, pikachu_2]
    assert await connected.get_events("pikachu-1", max_version=2, limit=1) == [pikachu_1]
    assert await connected.get_events("nobody") == []

    whole = await connected.get_aggregate("pikachu-1")
    assert whole == await store.get_aggregate("pikachu-1")
    assert whole.aggregate == pokemon(version=3, level=6, trainer_id="ash")
    assert whole.events == [pikachu_1, pikachu_2, pikachu_3]
    assert whole.last_event == pikachu_3
    at_1 = await connected.get_aggregate("pikachu-1", max_version=1)
    assert at_1.aggregate == pokemon(version=1)
    assert at_1.last_event == pikachu_1
    missing = await connected.get_aggregate("nobody")
    assert (missing.aggregate, missing.events, missing.last_event) == (None, [], None)

    existing = await connected.get_existing_aggregate("pikachu-1", max_version=2)
    assert existing.aggregate == pokemon(version=2, level=6)
    assert existing.last_event == pikachu_2
    with pytest.raises(AggregateNotFoundError) as not_found:
        await connected.get_existing_aggregate("nobody")
    assert (not_found.value.event_store_id, not_found.value.aggregate_id) == ("pokemons", "nobody")

    listed = await connected.list_aggregate_ids()
    assert [entry.aggregate_id for entry in listed.aggregate_ids] == ["pikachu-1", "bulbasaur-1"]
    assert listed == await store.list_aggregate_ids()
    first_page = await connected.list_aggregate_ids(limit=1, reverse=True)
    assert [entry.aggregate_id for entry in first_page.aggregate_ids] == ["bulbasaur-1"]
    assert first_page.next_page_token is not None
    second_page = await connected.list_aggregate_ids(page_token=first_page.next_page_token)
    assert [entry.aggregate_id for entry in second_page.aggregate_ids] == ["pikachu-1"]
    assert second_page.next_page_token is None
    after = await connected.list_aggregate_ids(initial_event_after=T0 + HOUR)
    assert [entry.aggregate_id for entry in after.aggregate_ids] == ["bulbasaur-1"]

    assert connected.build_aggregate([pikachu_1, pikachu_2]) == pokemon(version=2, level=6)
    assert connected.build_aggregate([bulbasaur]) == pokemon("bulbasaur-1", name="Bulbasaur")
    assert connected.simulate_aggregate([pikachu_1, pikachu_2, pikachu_3], simulation_date=T0 + HOUR) == pokemon(
        version=2, level=6
    )
    assert connected.simulate_aggregate([]) is None

    assert recording.messages == []


async def test_reads_follow_a_reducer_replaced_on_the_wrapped_store() -> None:
    class DoubleLevelUps(Pokedex):
        def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
            return aggregate.model_copy(update={"level": aggregate.level + 2})

    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(InMemoryEventStorageAdapter(), recording)
    await connected.push_event(appeared())
    store.reducer = DoubleLevelUps()
    published = await connected.push_event(leveled_up(version=2))

    assert recording.messages[-1].aggregate == pokemon(version=2, level=7)  # the publish uses the new reducer
    assert (await store.get_aggregate("pikachu-1")).aggregate == pokemon(version=2, level=7)
    assert connected.build_aggregate([*await store.get_events("pikachu-1")]) == pokemon(version=2, level=7)
    assert (await connected.get_aggregate("pikachu-1")).aggregate == recording.messages[-1].aggregate
    assert published.event == (await connected.get_events("pikachu-1"))[-1]


# -- push_event -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel_kind", ["state-carrying bus", "notification queue"])
async def test_push_event_stores_runs_the_callback_then_publishes_before_returning(channel_kind: str) -> None:
    log: list[str] = []
    storage = InMemoryEventStorageAdapter()
    seen_in_publish: list[list[Any]] = []

    async def during_publish(message: Any) -> None:
        # The event is stored by the time it is published.
        seen_in_publish.append(await store.get_events(message.event.aggregate_id))

    recording = RecordingChannelAdapter("channel", log=log, during_publish=during_publish)
    callback = logging_callback(log, "store", published=recording)
    store = pokemons_store(storage, on_event_pushed=callback)
    channel: AppMessageBus | PokemonNotificationsQueue = (
        AppMessageBus(recording) if channel_kind == "state-carrying bus" else PokemonNotificationsQueue(recording)
    )
    connected = ConnectedEventStore(store, channel)

    result = await connected.push_event(appeared())

    # Returned only once published: the log is complete when push_event returns.
    assert log == ["callback store", "publish channel"]
    assert callback.results == [result]
    assert [message.event for message in recording.messages] == [result.event]
    assert recording.replays == [False]
    assert seen_in_publish == [[result.event]]
    assert await store.get_events("pikachu-1") == [result.event]

    second = await connected.push_event(leveled_up(version=2))
    assert log == ["callback store", "publish channel"] * 2
    assert callback.results == [result, second]
    assert [message.event for message in recording.messages] == [result.event, second.event]


async def test_push_event_returns_the_wrapped_stores_result_and_passes_its_options_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(InMemoryEventStorageAdapter(), recording)
    calls: list[tuple[PokemonsEvent, dict[str, Any], PushEventResult[PokemonsEvent, Pokemon]]] = []
    original_push = store.push_event

    async def spy(event: PokemonsEvent, **options: Any) -> PushEventResult[PokemonsEvent, Pokemon]:
        result = await original_push(event, **options)
        calls.append((event, options, result))
        return result

    monkeypatch.setattr(store, "push_event", spy)

    first_event = appeared()
    first = await connected.push_event(first_event)
    prev = first.next_aggregate
    assert prev == pokemon(version=1)
    second_event = leveled_up(version=2)
    second = await connected.push_event(second_event, prev_aggregate=prev)
    third_event = caught(version=3)
    third = await connected.push_event(third_event, force=False)

    assert [(event, options) for event, options, _ in calls] == [
        (first_event, {"prev_aggregate": None, "force": False}),
        (second_event, {"prev_aggregate": prev, "force": False}),
        (third_event, {"prev_aggregate": None, "force": False}),
    ]
    assert [result for _, _, result in calls] == [first, second, third]
    assert first is calls[0][2] and second is calls[1][2] and third is calls[2][2]
    assert second.next_aggregate == pokemon(version=2, level=6)
    assert third.next_aggregate is None
    assert await store.get_events("pikachu-1") == [first.event, second.event, third.event]


async def test_force_overwrites_through_the_connected_store_and_publishes_the_new_event(
    adapter: EventStorageAdapter,
) -> None:
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(adapter, recording)
    await connected.push_event(appeared(level=5))

    with pytest.raises(EventAlreadyExistsError):
        await connected.push_event(appeared(level=7))
    assert len(recording.messages) == 1

    forced = await connected.push_event(appeared(level=7), force=True)

    assert [event.payload.level for event in await store.get_events("pikachu-1")] == [7]  # type: ignore[union-attr]
    assert forced.next_aggregate == pokemon(level=7)
    assert recording.messages[-1] == StateCarryingMessage("pokemons", forced.event, pokemon(level=7))
    assert len(recording.messages) == 2


# -- what is published ------------------------------------------------------------------------------------


async def test_a_notification_channel_gets_the_store_id_and_the_stored_event(adapter: EventStorageAdapter) -> None:
    recording = RecordingChannelAdapter()
    store = pokemons_store(adapter)
    connected = ConnectedEventStore(store, PokemonNotificationsQueue(recording))

    first = await connected.push_event(appeared())
    second = await connected.push_event(leveled_up(version=2))

    stored = await store.get_events("pikachu-1")
    assert recording.messages == [
        NotificationMessage("pokemons", stored[0]),
        NotificationMessage("pokemons", stored[1]),
    ]
    assert [type(message) for message in recording.messages] == [NotificationMessage, NotificationMessage]
    assert recording.messages[0].event == first.event and recording.messages[1].event == second.event
    assert all(message.event.timestamp is not None for message in recording.messages)


async def test_a_notification_channel_costs_no_read() -> None:
    storage = CountingStorageAdapter()
    connected = ConnectedEventStore(pokemons_store(storage), PokemonNotificationsQueue(RecordingChannelAdapter()))
    await connected.push_event(appeared())
    await connected.push_event(leveled_up(version=2))
    assert storage.reads == []


async def test_a_state_carrying_channel_gets_the_next_aggregate_of_an_initial_event_without_reading() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(storage, recording)

    result = await connected.push_event(appeared())

    assert recording.messages == [StateCarryingMessage("pokemons", result.event, pokemon(version=1))]
    assert recording.messages[0].aggregate is result.next_aggregate
    assert result.event.timestamp is not None
    assert storage.reads == []


async def test_a_state_carrying_channel_gets_the_next_aggregate_of_prev_aggregate_without_reading() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(storage, recording)
    first = await connected.push_event(appeared())
    storage.reads.clear()

    second = await connected.push_event(leveled_up(version=2), prev_aggregate=first.next_aggregate)

    assert storage.reads == []
    assert second.next_aggregate == pokemon(version=2, level=6)
    assert recording.messages[-1] == StateCarryingMessage("pokemons", second.event, pokemon(version=2, level=6))
    assert recording.messages[-1].aggregate is second.next_aggregate


async def test_a_state_carrying_channel_otherwise_gets_the_aggregate_read_once_at_the_events_version() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(storage, recording)
    await connected.push_event(appeared())
    storage.reads.clear()

    second = await connected.push_event(leveled_up(version=2))

    assert second.next_aggregate is None
    assert storage.reads == [("pokemons", "pikachu-1", EventsQuery(max_version=2))]
    expected = (await store.get_aggregate("pikachu-1", max_version=2)).aggregate
    assert expected == pokemon(version=2, level=6)
    assert recording.messages[-1] == StateCarryingMessage("pokemons", second.event, expected)


async def test_the_aggregate_read_back_is_the_one_as_of_the_event_even_when_later_events_follow() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    other_writer = pokemons_store(storage)  # same storage, no callback

    async def another_writer_comes_first(result: PushEventResult[PokemonsEvent, Pokemon]) -> None:
        if result.event.version == 2:  # between the push and the publish, version 3 gets stored
            await other_writer.push_event(caught(version=3))

    store, connected = connected_pokemons(storage, recording)
    store.on_event_pushed = another_writer_comes_first
    await connected.push_event(appeared())
    storage.reads.clear()

    second = await connected.push_event(leveled_up(version=2))

    assert len(await store.get_events("pikachu-1")) == 3
    assert storage.reads[0] == ("pokemons", "pikachu-1", EventsQuery(max_version=2))
    assert recording.messages[-1] == StateCarryingMessage("pokemons", second.event, pokemon(version=2, level=6))


async def test_a_trainers_store_connected_to_the_bus_publishes_trainers_messages() -> None:
    recording = RecordingChannelAdapter()
    store = trainers_store(InMemoryEventStorageAdapter())
    connected = connect_trainers_event_store(store, app_message_bus=AppMessageBus(recording))

    first = await connected.push_event(registered())
    second = await connected.push_event(trainer_caught(version=2))

    assert recording.messages == [
        StateCarryingMessage("trainers", first.event, trainer()),
        StateCarryingMessage(
            "trainers",
            second.event,
            trainer(version=2, caught_pokemon_ids=["pikachu-1"]),
        ),
    ]


# -- groups -----------------------------------------------------------------------------------------------


async def test_grouped_events_are_each_published_to_their_own_stores_channel_after_the_whole_group(
    adapter: EventStorageAdapter,
) -> None:
    log: list[str] = []
    seen_in_publish: dict[str, list[int]] = {}

    async def read_the_whole_group(message: Any) -> None:
        # Inside any publish of the group, every event of the group is already stored.
        seen_in_publish[message.event_store_id] = [
            len(await pokemons.get_events("pikachu-1")),
            len(await trainers.get_events("ash")),
            len(await plain.get_events("misty")),
        ]

    bus_adapter = RecordingChannelAdapter("bus", log=log, during_publish=read_the_whole_group)
    trainer_adapter = RecordingChannelAdapter("trainer channel", log=log, during_publish=read_the_whole_group)
    pokemons_callback = logging_callback(log, "pokemons", published=bus_adapter)
    trainers_callback = logging_callback(log, "trainers", published=trainer_adapter)
    plain_callback = logging_callback(log, "plain")
    pokemons = pokemons_store(adapter, on_event_pushed=pokemons_callback)
    trainers = trainers_store(adapter, on_event_pushed=trainers_callback)
    plain = trainers_store(adapter, on_event_pushed=plain_callback)
    connected_pokemons_store = ConnectedEventStore(pokemons, AppMessageBus(bus_adapter))
    connected_trainers_store = ConnectedEventStore(trainers, TrainerNotificationsBus(trainer_adapter))
    await pokemons_store(adapter).push_event(appeared())
    await trainers_store(adapter).push_event(registered())

    grouped_pokemon = connected_pokemons_store.group_event(caught(version=2))
    grouped_trainer = connected_trainers_store.group_event(trainer_caught(version=2))
    grouped_plain = plain.group_event(registered("misty", name="Misty"))
    assert grouped_pokemon.event_store is connected_pokemons_store
    assert grouped_trainer.event_store is connected_trainers_store
    assert log == []

    results = await EventStore.push_event_group(grouped_pokemon, grouped_trainer, grouped_plain)

    assert log == [
        "callback pokemons",
        "publish bus",
        "callback trainers",
        "publish trainer channel",
        "callback plain",
    ]
    assert seen_in_publish == {"pokemons": [2, 2, 1], "trainers": [2, 2, 1]}
    assert pokemons_callback.results == [results[0]]
    assert trainers_callback.results == [results[1]]
    assert plain_callback.results == [results[2]]
    assert bus_adapter.messages == [
        StateCarryingMessage("pokemons", results[0].event, pokemon(version=2, trainer_id="ash"))
    ]
    assert trainer_adapter.messages == [NotificationMessage("trainers", results[1].event)]
    assert (await pokemons.get_events("pikachu-1"))[-1] == results[0].event
    assert (await trainers.get_events("ash"))[-1] == results[1].event
    assert await plain.get_events("misty") == [results[2].event]


async def test_a_grouped_event_with_prev_aggregate_is_published_with_its_next_aggregate_without_reading() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(storage, recording)
    first = await connected.push_event(appeared())
    await trainers_store(storage).push_event(registered())
    storage.reads.clear()

    results = await EventStore.push_event_group(
        connected.group_event(caught(version=2), prev_aggregate=first.next_aggregate),
        trainers_store(storage).group_event(trainer_caught(version=2)),
    )

    assert storage.reads == []
    assert recording.messages[-1] == StateCarryingMessage(
        "pokemons", results[0].event, pokemon(version=2, trainer_id="ash")
    )
    assert recording.messages[-1].aggregate is results[0].next_aggregate


async def test_a_grouped_event_without_prev_aggregate_is_published_with_the_aggregate_read_at_its_version() -> None:
    storage = CountingStorageAdapter()
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(storage, recording)
    await connected.push_event(appeared())
    storage.reads.clear()

    (result,) = await EventStore.push_event_group(connected.group_event(caught(version=2)))

    assert storage.reads == [("pokemons", "pikachu-1", EventsQuery(max_version=2))]
    assert recording.messages[-1] == StateCarryingMessage(
        "pokemons", result.event, pokemon(version=2, trainer_id="ash")
    )


# -- the generated, nested wiring -------------------------------------------------------------------------


def wired_pokemons(
    adapter: EventStorageAdapter, log: list[str]
) -> tuple[
    Recorder,
    RecordingChannelAdapter,
    RecordingChannelAdapter,
    ConnectedEventStore[Any, PokemonsEvent, Pokemon],
    AppMessageBus,
]:
    bus_adapter = RecordingChannelAdapter("bus", log=log)
    queue_adapter = RecordingChannelAdapter("queue", log=log)
    callback = logging_callback(log, "pokemons", published=bus_adapter)
    bus = AppMessageBus(bus_adapter)
    connected = connect_pokemons_event_store(
        pokemons_store(adapter, on_event_pushed=callback),
        app_message_bus=bus,
        pokemon_notifications_queue=PokemonNotificationsQueue(queue_adapter),
    )
    return callback, bus_adapter, queue_adapter, connected, bus


async def test_connect_pokemons_event_store_publishes_one_push_to_the_bus_and_the_queue(
    adapter: EventStorageAdapter,
) -> None:
    log: list[str] = []
    callback, bus_adapter, queue_adapter, connected, _ = wired_pokemons(adapter, log)

    first = await connected.push_event(appeared())
    second = await connected.push_event(leveled_up(version=2))

    assert log == ["callback pokemons", "publish bus", "publish queue"] * 2
    assert callback.results == [first, second]
    assert bus_adapter.messages == [
        StateCarryingMessage("pokemons", first.event, pokemon(version=1)),
        StateCarryingMessage("pokemons", second.event, pokemon(version=2, level=6)),
    ]
    assert queue_adapter.messages == [
        NotificationMessage("pokemons", first.event),
        NotificationMessage("pokemons", second.event),
    ]
    assert await connected.get_events("pikachu-1") == [first.event, second.event]


async def test_connect_pokemons_event_store_publishes_a_grouped_event_to_the_bus_and_the_queue(
    adapter: EventStorageAdapter,
) -> None:
    log: list[str] = []
    callback, bus_adapter, queue_adapter, connected, bus = wired_pokemons(adapter, log)
    trainers_callback = logging_callback(log, "trainers")
    trainers = connect_trainers_event_store(
        trainers_store(adapter, on_event_pushed=trainers_callback), app_message_bus=bus
    )
    await connected.push_event(appeared())
    await trainers.push_event(registered())
    log.clear()

    results = await EventStore.push_event_group(
        connected.group_event(caught(version=2)), trainers.group_event(trainer_caught(version=2))
    )

    assert log == ["callback pokemons", "publish bus", "publish queue", "callback trainers", "publish bus"]
    assert callback.results[1:] == [results[0]]
    assert trainers_callback.results[1:] == [results[1]]
    assert bus_adapter.messages[2:] == [
        StateCarryingMessage("pokemons", results[0].event, pokemon(version=2, trainer_id="ash")),
        StateCarryingMessage(
            "trainers",
            results[1].event,
            trainer(version=2, caught_pokemon_ids=["pikachu-1"]),
        ),
    ]
    assert queue_adapter.messages[1:] == [NotificationMessage("pokemons", results[0].event)]


# -- settings ---------------------------------------------------------------------------------------------


async def test_the_storage_adapter_is_the_wrapped_stores_whichever_side_sets_it() -> None:
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(None, recording)
    assert connected.event_storage_adapter is None

    first = InMemoryEventStorageAdapter()
    connected.event_storage_adapter = first
    assert store.event_storage_adapter is first
    assert connected.event_storage_adapter is first
    assert connected.get_event_storage_adapter() is first
    pushed = await connected.push_event(appeared())
    assert await store.get_events("pikachu-1") == [pushed.event]

    second = InMemoryEventStorageAdapter()
    store.event_storage_adapter = second
    assert connected.event_storage_adapter is second
    assert await connected.get_events("pikachu-1") == []

    connected.event_storage_adapter = None
    assert store.event_storage_adapter is None


async def test_a_missing_storage_adapter_raises_naming_the_store_and_publishes_nothing() -> None:
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(None, recording)

    with pytest.raises(UndefinedEventStorageAdapterError) as on_read:
        await connected.get_events("pikachu-1")
    assert on_read.value.event_store_id == "pokemons"
    assert "pokemons" in str(on_read.value)
    with pytest.raises(UndefinedEventStorageAdapterError) as on_push:
        await connected.push_event(appeared())
    assert on_push.value.event_store_id == "pokemons"
    with pytest.raises(UndefinedEventStorageAdapterError):
        connected.get_event_storage_adapter()
    assert recording.messages == []


async def test_on_event_pushed_is_the_wrapped_stores_whichever_side_sets_it() -> None:
    recording = RecordingChannelAdapter()
    store, connected = connected_pokemons(InMemoryEventStorageAdapter(), recording)
    assert connected.on_event_pushed is None

    set_on_connected = Recorder()
    connected.on_event_pushed = set_on_connected
    assert store.on_event_pushed is set_on_connected
    assert connected.on_event_pushed is set_on_connected
    through_store = await store.push_event(appeared())
    through_connected = await connected.push_event(leveled_up(version=2))
    assert set_on_connected.results == [through_store, through_connected]  # once each

    set_on_store = Recorder()
    results_of_set_on_store = set_on_store.results
    store.on_event_pushed = set_on_store
    assert connected.on_event_pushed is set_on_store
    third = await connected.push_event(caught(version=3))
    assert results_of_set_on_store == [third]
    assert set_on_connected.results == [through_store, through_connected]

    connected.on_event_pushed = None
    assert store.on_event_pushed is None
    await connected.push_event(leveled_up(version=4))
    assert results_of_set_on_store == [third]


async def test_settings_on_the_generated_nested_wiring_reach_the_original_store() -> None:
    store = pokemons_store()
    connected = connect_pokemons_event_store(
        store,
        app_message_bus=AppMessageBus(RecordingChannelAdapter()),
        pokemon_notifications_queue=PokemonNotificationsQueue(RecordingChannelAdapter()),
    )
    storage = InMemoryEventStorageAdapter()
    callback = Recorder()
    callback_results = callback.results
    connected.event_storage_adapter = storage
    connected.on_event_pushed = callback

    assert store.event_storage_adapter is storage
    assert store.on_event_pushed is callback
    result = await connected.push_event(appeared())
    assert callback_results == [result]


# -- failures ---------------------------------------------------------------------------------------------


async def test_nothing_is_published_when_the_push_conflicts(adapter: EventStorageAdapter) -> None:
    recording = RecordingChannelAdapter()
    callback = Recorder()
    store, connected = connected_pokemons(adapter, recording, on_event_pushed=callback)
    first = await connected.push_event(appeared())

    with pytest.raises(EventAlreadyExistsError) as conflict:
        await connected.push_event(appeared(level=9))

    assert (conflict.value.event_store_id, conflict.value.aggregate_id, conflict.value.version) == (
        "pokemons",
        "pikachu-1",
        1,
    )
    assert recording.messages == [StateCarryingMessage("pokemons", first.event, pokemon())]
    assert callback.results == [first]
    assert await store.get_events("pikachu-1") == [first.event]


@pytest.mark.parametrize(
    "push",
    [
        pytest.param(lambda connected: connected.push_event(leveled_up(version=1)), id="non-initial at version 1"),
        pytest.param(lambda connected: connected.push_event(appeared(version=2)), id="initial at version 2"),
        pytest.param(
            lambda connected: connected.push_event(leveled_up(version=3), prev_aggregate=pokemon(version=1)),
            id="prev_aggregate of another version",
        ),
        pytest.param(lambda connected: connected.push_event(caught(version=4)), id="version gap"),
        pytest.param(
            lambda connected: EventStore.push_event_group(
                connected.group_event(leveled_up(version=2)), connected.group_event(leveled_up(version=1))
            ),
            id="invalid group member",
        ),
    ],
)
async def test_nothing_is_published_nor_stored_when_the_event_is_invalid(
    push: Callable[[ConnectedEventStore[Any, PokemonsEvent, Pokemon]], Awaitable[object]],
) -> None:
    recording = RecordingChannelAdapter()
    callback = Recorder()
    store, connected = connected_pokemons(InMemoryEventStorageAdapter(), recording, on_event_pushed=callback)
    first = await connected.push_event(appeared())
    recording.messages.clear()

    with pytest.raises(InvalidEventError) as invalid:
        await push(connected)

    assert not isinstance(invalid.value, EventPublishError)
    assert invalid.value.event_store_id == "pokemons"
    assert recording.messages == []
    assert callback.results == [first]
    assert await store.get_events("pikachu-1") == [first.event]


async def test_nothing_is_published_when_the_wrapped_stores_callback_fails() -> None:
    recording = RecordingChannelAdapter()
    boom = RuntimeError("callback failed")

    async def failing(result: PushEventResult[PokemonsEvent, Pokemon]) -> None:
        raise boom

    store, connected = connected_pokemons(InMemoryEventStorageAdapter(), recording)
    store.on_event_pushed = failing

    with pytest.raises(RuntimeError) as raised:
        await connected.push_event(appeared())

    assert raised.value is boom
    assert recording.messages == []
    assert len(await store.get_events("pikachu-1")) == 1  # stored before the callback ran


@pytest.mark.parametrize("channel_kind", ["state-carrying bus", "notification queue"])
async def test_a_failing_publish_raises_event_publish_error_and_the_event_stays_stored(
    adapter: EventStorageAdapter, channel_kind: str
) -> None:
    broker_down = ConnectionError("broker down")
    recording = RecordingChannelAdapter(error=broker_down)
    callback = Recorder()
    store = pokemons_store(adapter, on_event_pushed=callback)
    channel: AppMessageBus | PokemonNotificationsQueue = (
        AppMessageBus(recording) if channel_kind == "state-carrying bus" else PokemonNotificationsQueue(recording)
    )
    connected = ConnectedEventStore(store, channel)

    with pytest.raises(EventPublishError) as raised:
        await connected.push_event(appeared())

    stored = await store.get_events("pikachu-1")
    assert len(stored) == 1
    error = raised.value
    assert error.event == stored[0]
    assert error.event.timestamp is not None
    assert error.event_store_id == "pokemons"
    assert error.message_channel_id == channel.message_channel_id
    assert error.__cause__ is broker_down
    assert error.cause is broker_down
    assert "pikachu-1" in str(error) and channel.message_channel_id in str(error)
    assert [result.event for result in callback.results] == [stored[0]]  # the callback ran, once

    # The event is stored: pushing it again conflicts, the next version goes through once the broker is back.
    recording.error = None
    with pytest.raises(EventAlreadyExistsError):
        await connected.push_event(appeared())
    following = await connected.push_event(leveled_up(version=2))
    assert [message.event for message in recording.messages] == [following.event]


async def test_a_channel_without_adapter_raises_event_publish_error_from_the_undefined_adapter_error() -> None:
    storage = InMemoryEventStorageAdapter()
    store = pokemons_store(storage)
    connected = ConnectedEventStore(store, AppMessageBus())

    with pytest.raises(EventPublishError) as raised:
        await connected.push_event(appeared())

    cause = raised.value.__cause__
    assert isinstance(cause, UndefinedMessageChannelAdapterError)
    assert cause.message_channel_id == "app_message_bus"
    assert raised.value.cause is cause
    assert raised.value.message_channel_id == "app_message_bus"
    assert raised.value.event == (await store.get_events("pikachu-1"))[0]


async def test_a_failing_read_back_of_the_aggregate_is_a_publish_failure() -> None:
    read_failure = OSError("disk unreadable")

    class FailingReads(InMemoryEventStorageAdapter):
        async def get_events(self, context: StorageContext[Any], aggregate_id: str, query: EventsQuery) -> list[Any]:
            raise read_failure

    storage = FailingReads()
    recording = RecordingChannelAdapter()
    _, connected = connected_pokemons(storage, recording)
    await connected.push_event(appeared())  # its next aggregate needs no read

    with pytest.raises(EventPublishError) as raised:
        await connected.push_event(leveled_up(version=2))

    assert raised.value.__cause__ is read_failure
    assert raised.value.event.version == 2  # type: ignore[attr-defined]
    assert len(recording.messages) == 1


async def test_a_failing_publish_of_a_group_member_raises_event_publish_error_once_all_are_stored_and_published(
    adapter: EventStorageAdapter,
) -> None:
    broker_down = ConnectionError("broker down")
    failing_adapter = RecordingChannelAdapter(error=broker_down)
    working_adapter = RecordingChannelAdapter()
    trainers_callback = Recorder()
    pokemons = ConnectedEventStore(pokemons_store(adapter), AppMessageBus(failing_adapter))
    trainers = ConnectedEventStore(
        trainers_store(adapter, on_event_pushed=trainers_callback), TrainerNotificationsBus(working_adapter)
    )
    plain = trainers_store(adapter)

    with pytest.raises(EventPublishError) as raised:
        await EventStore.push_event_group(
            pokemons.group_event(appeared()),
            trainers.group_event(registered()),
            plain.group_event(registered("misty", name="Misty")),
        )

    pokemon_events = await pokemons.get_events("pikachu-1")
    trainer_events = await trainers.get_events("ash")
    assert len(pokemon_events) == 1 and len(trainer_events) == 1
    assert len(await plain.get_events("misty")) == 1
    error = raised.value
    assert error.event == pokemon_events[0]
    assert (error.event_store_id, error.message_channel_id) == ("pokemons", "app_message_bus")
    assert error.__cause__ is broker_down
    # The failure of one member's publish does not deprive the others of theirs.
    assert working_adapter.messages == [NotificationMessage("trainers", trainer_events[0])]
    assert [result.event for result in trainers_callback.results] == [trainer_events[0]]


async def test_a_failing_publish_of_the_nested_wiring_names_the_failing_channel() -> None:
    broker_down = ConnectionError("queue broker down")
    bus_adapter = RecordingChannelAdapter()
    connected = connect_pokemons_event_store(
        pokemons_store(InMemoryEventStorageAdapter()),
        app_message_bus=AppMessageBus(bus_adapter),
        pokemon_notifications_queue=PokemonNotificationsQueue(RecordingChannelAdapter(error=broker_down)),
    )

    with pytest.raises(EventPublishError) as raised:
        await connected.push_event(appeared())

    assert raised.value.message_channel_id == "pokemon_notifications_queue"
    assert raised.value.__cause__ is broker_down
    assert [message.event for message in bus_adapter.messages] == [raised.value.event]


FAILING_CHANNELS = {
    "bus fails": ("app_message_bus",),
    "queue fails": ("pokemon_notifications_queue",),
    "both fail": ("app_message_bus", "pokemon_notifications_queue"),
}


def failing_wiring(
    adapter: EventStorageAdapter, failing: Sequence[str]
) -> tuple[dict[str, RecordingChannelAdapter], dict[str, Exception], ConnectedEventStore[Any, PokemonsEvent, Pokemon]]:
    """The generated pokemons wiring (bus, then queue) whose channels named in `failing` raise their own error."""
    errors: dict[str, Exception] = {channel: ConnectionError(f"{channel} broker down") for channel in failing}
    adapters = {
        channel: RecordingChannelAdapter(channel, error=errors.get(channel))
        for channel in ("app_message_bus", "pokemon_notifications_queue")
    }
    connected = connect_pokemons_event_store(
        pokemons_store(adapter),
        app_message_bus=AppMessageBus(adapters["app_message_bus"]),
        pokemon_notifications_queue=PokemonNotificationsQueue(adapters["pokemon_notifications_queue"]),
    )
    return adapters, errors, connected


def assert_names_every_failed_channel(
    error: EventPublishError,
    errors: dict[str, Exception],
    adapters: dict[str, RecordingChannelAdapter],
    stored: object,
) -> None:
    """`error` lists each failed channel with its own error, in publishing order, and every other channel
    got the stored event's message."""
    assert error.event == stored
    assert [(failure.message_channel_id, failure.cause) for failure in error.failures] == list(errors.items())
    first_channel, first_cause = next(iter(errors.items()))
    assert (error.message_channel_id, error.cause, error.__cause__) == (first_channel, first_cause, first_cause)
    for channel, cause in errors.items():
        assert channel in str(error) and str(cause) in str(error)
    for channel, channel_adapter in adapters.items():
        if channel not in errors:
            assert [message.event for message in channel_adapter.messages] == [stored]


@pytest.mark.parametrize("failing", FAILING_CHANNELS.values(), ids=FAILING_CHANNELS.keys())
async def test_every_channel_of_the_nested_wiring_gets_a_pushed_event_whatever_the_others_do(
    adapter: EventStorageAdapter, failing: Sequence[str]
) -> None:
    adapters, errors, connected = failing_wiring(adapter, failing)

    with pytest.raises(EventPublishError) as raised:
        await connected.push_event(appeared())

    [stored] = await connected.get_events("pikachu-1")
    assert_names_every_failed_channel(raised.value, errors, adapters, stored)
    assert f"could not be published to {len(failing)} channel" in str(raised.value)


@pytest.mark.parametrize("failing", FAILING_CHANNELS.values(), ids=FAILING_CHANNELS.keys())
async def test_every_channel_of_the_nested_wiring_gets_a_grouped_event_whatever_the_others_do(
    adapter: EventStorageAdapter, failing: Sequence[str]
) -> None:
    adapters, errors, connected = failing_wiring(adapter, failing)
    trainers_adapter = RecordingChannelAdapter("trainers bus")
    trainers = connect_trainers_event_store(trainers_store(adapter), app_message_bus=AppMessageBus(trainers_adapter))

    with pytest.raises(EventPublishError) as raised:
        await EventStore.push_event_group(connected.group_event(appeared()), trainers.group_event(registered()))

    [stored] = await connected.get_events("pikachu-1")
    assert_names_every_failed_channel(raised.value, errors, adapters, stored)
    assert [message.event for message in trainers_adapter.messages] == await trainers.get_events("ash")


@pytest.mark.parametrize(
    "by_outbox", ["bus", "queue"], ids=["bus by outbox, queue fails", "queue by outbox, bus fails"]
)
@pytest.mark.parametrize("pushed", ["push_event", "push_event_group"])
async def test_a_nested_wiring_mixing_outbox_and_direct_delivery_publishes_directly_whatever_the_outbox_does(
    by_outbox: str, pushed: str
) -> None:
    down = ConnectionError("broker down")
    storage = InMemoryEventStorageAdapter()
    bus_adapter = RecordingChannelAdapter("bus", error=None if by_outbox == "bus" else down)
    queue_adapter = RecordingChannelAdapter("queue", error=None if by_outbox == "queue" else down)
    bus, queue = AppMessageBus(bus_adapter), PokemonNotificationsQueue(queue_adapter)
    bus_delivery: Any = "outbox" if by_outbox == "bus" else "direct"
    queue_delivery: Any = "outbox" if by_outbox == "queue" else "direct"
    connected = ConnectedEventStore(
        ConnectedEventStore(pokemons_store(storage), bus, delivery=bus_delivery, message_codec=MESSAGE_CODEC),
        queue,
        delivery=queue_delivery,
        message_codec=MESSAGE_CODEC,
    )

    with pytest.raises(EventPublishError) as raised:
        if pushed == "push_event":
            await connected.push_event(appeared())
        else:
            await EventStore.push_event_group(connected.group_event(appeared()))

    [stored] = await connected.get_events("pikachu-1")
    failed_channel, relayed_channel, relayed_adapter = (
        ("pokemon_notifications_queue", bus, bus_adapter)
        if by_outbox == "bus"
        else ("app_message_bus", queue, queue_adapter)
    )
    assert [(failure.message_channel_id, failure.cause) for failure in raised.value.failures] == [
        (failed_channel, down)
    ]
    assert raised.value.event == stored
    assert await OutboxRelay(storage, [relayed_channel], MESSAGE_CODEC).relay_once() == 1
    assert [message.event for message in relayed_adapter.messages] == [stored]


async def test_a_nested_outbox_wiring_relays_each_channels_message_whatever_the_other_channel_does() -> None:
    bus_down = ConnectionError("bus broker down")
    storage = InMemoryEventStorageAdapter()
    bus_adapter = RecordingChannelAdapter("bus", error=bus_down)
    queue_adapter = RecordingChannelAdapter("queue")
    bus, queue = AppMessageBus(bus_adapter), PokemonNotificationsQueue(queue_adapter)
    connected = ConnectedEventStore(
        ConnectedEventStore(pokemons_store(storage), bus, delivery="outbox", message_codec=MESSAGE_CODEC),
        queue,
        delivery="outbox",
        message_codec=MESSAGE_CODEC,
    )

    result = await connected.push_event(appeared())

    assert await OutboxRelay(storage, [bus, queue], MESSAGE_CODEC).relay_once() == 1
    assert queue_adapter.messages == [NotificationMessage("pokemons", result.event)]
    assert bus_adapter.messages == []  # pending in the outbox, retried later


def test_an_event_publish_error_needs_a_failed_channel() -> None:
    with pytest.raises(ValueError, match="at least one failed channel"):
        EventPublishError(event_store_id="pokemons", event=appeared(), failures=[])


# -- channels a connected store cannot publish to ---------------------------------------------------------


@pytest.mark.parametrize(
    "channel",
    [
        pytest.param(PokemonIdsBus(RecordingChannelAdapter()), id="aggregate-exists bus"),
        pytest.param(object(), id="object"),
        pytest.param(RecordingChannelAdapter(), id="channel adapter"),
        pytest.param(AppMessageBus, id="channel class"),
        pytest.param("app_message_bus", id="channel id"),
        pytest.param(None, id="None"),
    ],
)
def test_a_channel_that_is_not_notification_or_state_carrying_is_refused(channel: object) -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    with pytest.raises(TypeError) as refused:
        ConnectedEventStore(store, channel)  # type: ignore[call-overload]
    assert "pokemons" in str(refused.value)


async def test_a_channel_whose_sources_lack_the_store_is_refused_before_anything_is_stored() -> None:
    storage = InMemoryEventStorageAdapter()
    queue_adapter = RecordingChannelAdapter()
    trainers = trainers_store(storage)
    with pytest.raises(MessageChannelEventStoreNotFoundError) as refused:
        ConnectedEventStore(trainers, PokemonNotificationsQueue(queue_adapter))  # type: ignore[misc]
    assert refused.value.event_store_id == "trainers"
    assert refused.value.message_channel_id == "pokemon_notifications_queue"
    assert str(refused.value) == (
        "pokemon_notifications_queue: cannot connect the 'trainers' store: this channel carries messages of "
        "pokemons only (add 'trainers' to its sources in the spec)"
    )
    # Nothing was pushed through it: the store is as it was, and so is the channel.
    assert (await trainers.list_aggregate_ids()).aggregate_ids == []
    assert queue_adapter.messages == []


def test_the_aggregate_exists_refusal_says_what_the_channel_carries() -> None:
    with pytest.raises(TypeError, match="aggregate-exists"):
        ConnectedEventStore(pokemons_store(), PokemonIdsBus())  # type: ignore[call-overload]


# -- end to end, with subscriptions on the in-memory adapters ---------------------------------------------


async def test_connected_pushes_reach_the_subscribers_of_the_in_memory_bus_and_queue(
    adapter: EventStorageAdapter,
) -> None:
    bus_adapter = InMemoryMessageBusAdapter()
    queue_adapter = InMemoryMessageQueueAdapter()
    bus = AppMessageBus(bus_adapter)
    queue = PokemonNotificationsQueue(queue_adapter)
    appeared_messages: list[StateCarryingMessage[Any, PokemonAppeared, Pokemon]] = []
    leveled_up_messages: list[StateCarryingMessage[Any, PokemonLeveledUp, Pokemon]] = []
    trainer_messages: list[StateCarryingMessage[Any, TrainerRegistered, Trainer]] = []
    queued: list[NotificationMessage[Any, PokemonAppeared]] = []

    async def on_appeared(message: StateCarryingMessage[Any, PokemonAppeared, Pokemon], _: DeliveryContext) -> None:
        appeared_messages.append(message)

    async def on_leveled_up(message: StateCarryingMessage[Any, PokemonLeveledUp, Pokemon], _: DeliveryContext) -> None:
        leveled_up_messages.append(message)

    async def on_registered(message: StateCarryingMessage[Any, TrainerRegistered, Trainer], _: DeliveryContext) -> None:
        trainer_messages.append(message)

    async def on_queued(message: NotificationMessage[Any, PokemonAppeared], _: DeliveryContext) -> None:
        queued.append(message)

    bus.on(PokemonAppeared, on_appeared)
    bus.on(PokemonLeveledUp, on_leveled_up)
    bus.on(TrainerRegistered, on_registered)
    queue.on(PokemonAppeared, on_queued)
    pokemons = connect_pokemons_event_store(
        pokemons_store(adapter), app_message_bus=bus, pokemon_notifications_queue=queue
    )
    trainers = connect_trainers_event_store(trainers_store(adapter), app_message_bus=bus)

    pikachu = await pokemons.push_event(appeared())
    bulbasaur = await pokemons.push_event(appeared("bulbasaur-1", name="Bulbasaur", level=3))
    level_6 = await pokemons.push_event(leveled_up(version=2))
    ash = await trainers.push_event(registered())
    await bus_adapter.wait_until_idle()
    await queue_adapter.wait_until_idle()

    assert appeared_messages == [
        StateCarryingMessage("pokemons", pikachu.event, pokemon()),
        StateCarryingMessage("pokemons", bulbasaur.event, pokemon("bulbasaur-1", name="Bulbasaur", level=3)),
    ]
    assert leveled_up_messages == [StateCarryingMessage("pokemons", level_6.event, pokemon(version=2, level=6))]
    assert trainer_messages == [StateCarryingMessage("trainers", ash.event, trainer())]
    assert queued == [NotificationMessage("pokemons", pikachu.event), NotificationMessage("pokemons", bulbasaur.event)]
    assert not bus_adapter.failed_deliveries and not queue_adapter.failed_deliveries


async def test_grouped_connected_pushes_reach_the_subscribers_of_the_in_memory_bus() -> None:
    storage = InMemoryEventStorageAdapter()
    bus_adapter = InMemoryMessageBusAdapter()
    bus = AppMessageBus(bus_adapter)
    received: list[Any] = []

    async def handler(message: Any, _: DeliveryContext) -> None:
        received.append(message)

    bus.on(PokemonCaught, handler)
    pokemons = ConnectedEventStore(pokemons_store(storage), bus)
    trainers = connect_trainers_event_store(trainers_store(storage), app_message_bus=bus)
    await pokemons.push_event(appeared())
    await trainers.push_event(registered())

    results = await EventStore.push_event_group(
        pokemons.group_event(caught(version=2)), trainers.group_event(trainer_caught(version=2))
    )
    await bus_adapter.wait_until_idle()

    assert received == [StateCarryingMessage("pokemons", results[0].event, pokemon(version=2, trainer_id="ash"))]
