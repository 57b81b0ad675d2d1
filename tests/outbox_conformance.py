"""The conformance suite of outbox storages: every adapter that keeps an outbox subclasses `OutboxConformance`.

A subclass implements `make_adapter` (an adapter on the test's database: for adapters whose database
several adapters can share, each call is a new adapter on the same database) and `outbox_rows` (the
stored outbox as the database holds it). Adapters whose database several processes can share also
implement `process_adapter_factory`. The suite exercises the outbox through connected stores of the
generated pokedex example with `delivery="outbox"`, and the `OutboxRelay` that publishes it.

`relay_in_child_process` is the entry point of the multi-process relay race: top-level, so that a
`spawn`ed child can import it. The class name has no `Test` prefix, so pytest only collects subclasses.
"""

import asyncio
import inspect
import multiprocessing
import queue
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
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
    AppMessageBus,
    ConnectedEventStore,
    Event,
    EventAlreadyExistsError,
    EventStorageAdapter,
    EventStore,
    InvalidEventError,
    NotificationMessage,
    OutboxBackoff,
    OutboxMessage,
    OutboxRelay,
    OutboxStorage,
    PendingOutboxMessage,
    Pokemon,
    PokemonNotificationsQueue,
    PokemonsEvent,
    PokemonsEventStore,
    PushEventResult,
    StateCarryingMessage,
    StorageContext,
    Trainer,
    TrainersEvent,
    TrainersEventStore,
)

Key = tuple[str, str, str, int]
"""What a published message is: (channel id, store id, aggregate id, version)."""


# -- test doubles ------------------------------------------------------------------------------------


class RecordingSink:
    """A channel adapter that records what it is given as (channel name, message), in a `log` it may share
    with other sinks. It yields to the event loop (or waits `pause` seconds) in each publish, so that
    concurrent relays interleave, and raises `error` while one is set (counting `attempts` either way)."""

    def __init__(self, name: str, *, log: list[tuple[str, Any]] | None = None, pause: float = 0.0) -> None:
        self.name = name
        self.log: list[tuple[str, Any]] = [] if log is None else log
        self.pause = pause
        self.error: Exception | None = None
        self.attempts = 0

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        self.attempts += 1
        await asyncio.sleep(self.pause)
        if self.error is not None:
            raise self.error
        self.log.append((self.name, message))

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        for message in messages:
            await self.publish_message(message, replay=replay)

    @property
    def messages(self) -> list[Any]:
        return [message for name, message in self.log if name == self.name]


class Clock:
    """A relay's clock that moves only when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ClaimSpy:
    """An outbox storage that records what its wrapped storage lets relays claim."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.claims: list[PendingOutboxMessage] = []

    async def push_events_with_outbox(
        self,
        events: Sequence[tuple[StorageContext[Any], Event]],
        outbox: Sequence[OutboxMessage],
        *,
        force: bool = False,
    ) -> None:
        await self.storage.push_events_with_outbox(events, outbox, force=force)

    async def claim_outbox_messages(
        self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingOutboxMessage]:
        claimed: list[PendingOutboxMessage] = await self.storage.claim_outbox_messages(
            relay_id=relay_id, limit=limit, lease=lease, now=now
        )
        self.claims.extend(claimed)
        return claimed

    async def complete_outbox_message(self, message_id: int, *, relay_id: str) -> None:
        await self.storage.complete_outbox_message(message_id, relay_id=relay_id)

    async def fail_outbox_message(self, message_id: int, *, relay_id: str, retry_at: datetime, error: str) -> None:
        await self.storage.fail_outbox_message(message_id, relay_id=relay_id, retry_at=retry_at, error=error)

    async def count_pending_outbox_messages(self) -> int:
        count: int = await self.storage.count_pending_outbox_messages()
        return count


@dataclass(frozen=True)
class OutboxRow:
    """One stored outbox message, as the database holds it."""

    key: Key
    done: bool
    attempts: int
    claimed_by: str | None
    retry_at: datetime | None
    last_error: str | None


async def close_adapter(adapter: EventStorageAdapter) -> None:
    """Closes the adapter if its class has a `close` (sync or async)."""
    close = getattr(adapter, "close", None)
    if close is not None and inspect.isawaitable(result := close()):
        await result


def key_of(channel_id: str, message: Any) -> Key:
    return (channel_id, message.event_store_id, message.event.aggregate_id, message.event.version)


def keys(log: Sequence[tuple[str, Any]]) -> list[Key]:
    return [key_of(name, message) for name, message in log]


def versions_by_aggregate(published: Sequence[Key]) -> dict[tuple[str, str, str], list[int]]:
    """For each (channel, store, aggregate), the versions in the order they were published."""
    grouped: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for channel_id, event_store_id, aggregate_id, version in published:
        grouped[(channel_id, event_store_id, aggregate_id)].append(version)
    return dict(grouped)


# -- the relay race across processes -----------------------------------------------------------------


class QueueSink:
    """A channel adapter of a child process: puts each message it publishes on the shared `results`."""

    def __init__(self, relay_id: str, channel_id: str, results: Any, pause: float) -> None:
        self.relay_id = relay_id
        self.channel_id = channel_id
        self.results = results
        self.pause = pause

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        await asyncio.sleep(self.pause)
        # The monotonic clock is the system's: it orders the publishes of every process.
        self.results.put(("published", self.relay_id, key_of(self.channel_id, message), time.monotonic_ns()))

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        for message in messages:
            await self.publish_message(message, replay=replay)


def relay_in_child_process(
    adapter_factory: Callable[[], EventStorageAdapter],
    relay_id: str,
    start_line: Any,
    results: Any,
    pause: float,
) -> None:
    """Entry point of a spawned relay: connects, waits at `start_line` (a Barrier of all relays), drains the
    outbox into `results` ("published", relay id, key, time), then puts ("done", relay id, count) or
    ("error", relay id, traceback)."""

    async def relay() -> int:
        adapter = adapter_factory()
        try:
            sinks = [QueueSink(relay_id, channel.message_channel_id, results, pause) for channel in CHANNELS]
            channels = [AppMessageBus(sinks[0]), PokemonNotificationsQueue(sinks[1])]
            relay = OutboxRelay(adapter, channels, MESSAGE_CODEC, relay_id=relay_id, batch_size=3)
            await relay.storage.count_pending_outbox_messages()  # connected before the start
            start_line.wait(timeout=60)
            published = 0
            while await relay.storage.count_pending_outbox_messages() > 0:
                count = await relay.relay_once()
                published += count
                if count == 0:
                    await asyncio.sleep(0.005)
            return published
        finally:
            await close_adapter(adapter)

    try:
        count = asyncio.run(relay())
    except BaseException:
        results.put(("error", relay_id, traceback.format_exc()))
        raise
    results.put(("done", relay_id, count))


CHANNELS = (AppMessageBus, PokemonNotificationsQueue)


# -- the suite ---------------------------------------------------------------------------------------


class OutboxConformance:
    """What every adapter that keeps an outbox must do. Subclass it as `Test...` and implement
    `make_adapter` and `outbox_rows` (and `process_adapter_factory` for a database of several processes)."""

    RELAY_PROCESSES = 3
    PROCESS_DEADLINE_SECONDS = 60.0

    def make_adapter(self) -> EventStorageAdapter:
        raise NotImplementedError(f"{type(self).__name__} must implement make_adapter")

    def process_adapter_factory(self) -> Callable[[], EventStorageAdapter] | None:
        """A picklable factory of adapters on the test's database, for spawned processes; None if the
        database cannot be shared by processes."""
        return None

    async def outbox_rows(self, adapter: EventStorageAdapter) -> list[OutboxRow]:
        """The stored outbox messages, in id order."""
        raise NotImplementedError(f"{type(self).__name__} must implement outbox_rows")

    # -- plumbing ------------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _close_adapters_after_test(self) -> Iterator[None]:
        self._adapters: list[EventStorageAdapter] = []
        yield
        for adapter in self._adapters:
            asyncio.run(close_adapter(adapter))

    def adapter(self) -> Any:
        adapter = self.make_adapter()
        self._adapters.append(adapter)
        return adapter

    def other_adapter(self, adapter: EventStorageAdapter) -> Any:
        """Another adapter on the same database when adapters can share one, else `adapter` itself."""
        return adapter if self.process_adapter_factory() is None else self.adapter()

    def connected(
        self,
        adapter: EventStorageAdapter,
        *,
        log: list[tuple[str, Any]] | None = None,
        notifications: bool = False,
        on_event_pushed: Any = None,
    ) -> tuple[PokemonsEventStore, ConnectedEventStore[Any, PokemonsEvent, Pokemon], list[RecordingSink]]:
        """A pokemons store on `adapter`, connected with outbox delivery to an AppMessageBus (and, if
        `notifications`, to a PokemonNotificationsQueue too), and the channels' recording sinks."""
        shared: list[tuple[str, Any]] = [] if log is None else log
        bus_sink = RecordingSink(AppMessageBus.message_channel_id, log=shared)
        store = pokemons_store(adapter, on_event_pushed=on_event_pushed)
        connected: ConnectedEventStore[Any, PokemonsEvent, Pokemon] = ConnectedEventStore(
            store, AppMessageBus(bus_sink), delivery="outbox", message_codec=MESSAGE_CODEC
        )
        sinks = [bus_sink]
        if notifications:
            queue_sink = RecordingSink(PokemonNotificationsQueue.message_channel_id, log=shared)
            connected = ConnectedEventStore(
                connected, PokemonNotificationsQueue(queue_sink), delivery="outbox", message_codec=MESSAGE_CODEC
            )
            sinks.append(queue_sink)
        return store, connected, sinks

    def relay(
        self, storage: Any, log: list[tuple[str, Any]], *, pause: float = 0.0, **options: Any
    ) -> tuple[OutboxRelay, list[RecordingSink]]:
        """A relay of `storage` to both pokedex channels, on sinks recording into `log`."""
        sinks = [RecordingSink(channel.message_channel_id, log=log, pause=pause) for channel in CHANNELS]
        channels = [AppMessageBus(sinks[0]), PokemonNotificationsQueue(sinks[1])]
        return OutboxRelay(storage, channels, MESSAGE_CODEC, **options), sinks

    async def push_versions(
        self, connected: EventStore[Any, Any, Any], aggregate_ids: Sequence[str], versions: int
    ) -> list[PushEventResult[Any, Any]]:
        """Pushes versions 1..`versions` of each aggregate, the aggregates interleaved."""
        results = []
        for version in range(1, versions + 1):
            for aggregate_id in aggregate_ids:
                event = appeared(aggregate_id) if version == 1 else leveled_up(aggregate_id, version=version)
                results.append(await connected.push_event(event))
        return results

    # -- 1. the message is stored with the event -----------------------------------------------------

    async def test_an_outbox_push_stores_the_message_with_the_event_and_publishes_nothing(self) -> None:
        adapter = self.adapter()
        assert isinstance(adapter, OutboxStorage)
        pushed: list[PushEventResult[Any, Any]] = []

        async def record(result: PushEventResult[Any, Any]) -> None:
            pushed.append(result)

        store, connected, [sink] = self.connected(adapter, on_event_pushed=record)
        assert await adapter.count_pending_outbox_messages() == 0
        result = await connected.push_event(appeared())

        assert sink.log == []  # nothing published until a relay runs
        assert pushed == [result]  # the wrapped store's callback ran
        assert await store.get_events("pikachu-1") == [result.event]
        assert await adapter.count_pending_outbox_messages() == 1
        [row] = await self.outbox_rows(adapter)
        assert row == OutboxRow(("app_message_bus", "pokemons", "pikachu-1", 1), False, 0, None, None, None)

        log: list[tuple[str, Any]] = []
        relay, _ = self.relay(adapter, log)
        await relay.drain(timeout=10)
        assert log == [("app_message_bus", StateCarryingMessage("pokemons", result.event, pokemon()))]
        assert await adapter.count_pending_outbox_messages() == 0
        assert [row.done for row in await self.outbox_rows(adapter)] == [True]

    async def test_the_stored_message_is_the_codec_json_of_the_message(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        result = await connected.push_event(appeared("eevee-1", name='Eevée "⚡"'))

        claimed = await adapter.claim_outbox_messages(
            relay_id="reader", limit=10, lease=timedelta(seconds=30), now=datetime.now(UTC)
        )
        by_channel = {pending.message.message_channel_id: pending for pending in claimed}
        assert sorted(by_channel) == ["app_message_bus", "pokemon_notifications_queue"]
        for channel_id, pending in by_channel.items():
            message = pending.message
            assert (message.event_store_id, message.aggregate_id, message.version) == ("pokemons", "eevee-1", 1)
            assert pending.attempts == 0
            decoded = MESSAGE_CODEC.from_json(message.body)
            if channel_id == "app_message_bus":
                assert decoded == StateCarryingMessage("pokemons", result.event, pokemon("eevee-1", name='Eevée "⚡"'))
            else:
                assert decoded == NotificationMessage("pokemons", result.event)

    # -- 2. a failing push stores neither event nor message ------------------------------------------

    async def test_a_conflicting_push_stores_neither_event_nor_message(self) -> None:
        adapter = self.adapter()
        store, connected, _ = self.connected(adapter, notifications=True)
        first = await connected.push_event(appeared())
        with pytest.raises(EventAlreadyExistsError):
            await connected.push_event(appeared(name="Raichu"))
        assert await store.get_events("pikachu-1") == [first.event]
        assert await adapter.count_pending_outbox_messages() == 2
        assert len(await self.outbox_rows(adapter)) == 2

    @pytest.mark.parametrize("case", ["not initial at version 1", "missing previous version", "unknown aggregate"])
    async def test_an_invalid_push_stores_neither_event_nor_message(self, case: str) -> None:
        adapter = self.adapter()
        store, connected, _ = self.connected(adapter, notifications=True)
        await connected.push_event(appeared())
        event = {
            "not initial at version 1": leveled_up("pikachu-1", version=1),
            "missing previous version": leveled_up("pikachu-1", version=3),
            "unknown aggregate": leveled_up("mew", version=2),
        }[case]
        with pytest.raises(InvalidEventError):
            await connected.push_event(event)
        assert [event.version for event in await store.get_events("pikachu-1")] == [1]
        assert await store.get_events("mew") == []
        assert await adapter.count_pending_outbox_messages() == 2

    # -- 3. groups -----------------------------------------------------------------------------------

    def connected_trainers(
        self, adapter: EventStorageAdapter, sink: RecordingSink
    ) -> tuple[TrainersEventStore, ConnectedEventStore[Any, TrainersEvent, Trainer]]:
        store = trainers_store(adapter)
        return store, ConnectedEventStore(store, AppMessageBus(sink), delivery="outbox", message_codec=MESSAGE_CODEC)

    async def test_a_group_stores_the_messages_of_every_grouped_connected_store_with_its_events(self) -> None:
        adapter = self.adapter()
        log: list[tuple[str, Any]] = []
        _, pokemons, _ = self.connected(adapter, log=log, notifications=True)
        trainers_sink = RecordingSink("app_message_bus", log=log)
        _, trainers = self.connected_trainers(adapter, trainers_sink)
        plain = pokemons_store(adapter)  # a store of the group that is not connected: no message

        results = await EventStore.push_event_group(
            pokemons.group_event(appeared("pikachu-1")),
            trainers.group_event(registered("ash")),
            plain.group_event(appeared("mew", name="Mew")),
        )
        assert log == []
        assert await adapter.count_pending_outbox_messages() == 3
        assert sorted(row.key for row in await self.outbox_rows(adapter)) == [
            ("app_message_bus", "pokemons", "pikachu-1", 1),
            ("app_message_bus", "trainers", "ash", 1),
            ("pokemon_notifications_queue", "pokemons", "pikachu-1", 1),
        ]

        relay, _ = self.relay(adapter, log)
        await relay.drain(timeout=10)
        assert sorted(keys(log)) == sorted(row.key for row in await self.outbox_rows(adapter))
        messages = {key_of(name, message): message for name, message in log}
        assert messages[("app_message_bus", "pokemons", "pikachu-1", 1)] == StateCarryingMessage(
            "pokemons", results[0].event, pokemon()
        )
        assert messages[("app_message_bus", "trainers", "ash", 1)].aggregate == Trainer(
            aggregate_id="ash", version=1, name="Ash", caught_pokemon_ids=[]
        )
        assert messages[("pokemon_notifications_queue", "pokemons", "pikachu-1", 1)] == NotificationMessage(
            "pokemons", results[0].event
        )

    async def test_a_failing_group_stores_no_event_and_no_message(self) -> None:
        adapter = self.adapter()
        log: list[tuple[str, Any]] = []
        pokemons_plain, pokemons, _ = self.connected(adapter, log=log, notifications=True)
        trainers_plain, trainers = self.connected_trainers(adapter, RecordingSink("app_message_bus", log=log))
        await trainers.push_event(registered("ash"))
        assert await adapter.count_pending_outbox_messages() == 1

        with pytest.raises(EventAlreadyExistsError):
            await EventStore.push_event_group(
                pokemons.group_event(appeared("pikachu-1")),
                trainers.group_event(trainer_caught("ash", version=2)),
                trainers.group_event(registered("ash", name="Ash again")),
            )
        assert await pokemons_plain.get_events("pikachu-1") == []
        assert [event.version for event in await trainers_plain.get_events("ash")] == [1]
        assert await adapter.count_pending_outbox_messages() == 1
        assert [row.key for row in await self.outbox_rows(adapter)] == [("app_message_bus", "trainers", "ash", 1)]

    async def test_a_group_of_versions_of_one_aggregate_carries_each_versions_aggregate(self) -> None:
        adapter = self.adapter()
        log: list[tuple[str, Any]] = []
        _, pokemons, _ = self.connected(adapter, log=log)
        first = pokemon()
        results = await EventStore.push_event_group(
            pokemons.group_event(appeared()),
            pokemons.group_event(leveled_up(version=2), prev_aggregate=first),
            pokemons.group_event(caught(version=3, trainer_id="ash"), prev_aggregate=pokemon(version=2, level=6)),
        )
        relay, _ = self.relay(adapter, log)
        await relay.drain(timeout=10)
        assert [message for _, message in log] == [
            StateCarryingMessage("pokemons", results[0].event, first),
            StateCarryingMessage("pokemons", results[1].event, pokemon(version=2, level=6)),
            StateCarryingMessage("pokemons", results[2].event, pokemon(version=3, level=6, trainer_id="ash")),
        ]

    async def test_a_group_of_versions_of_one_aggregate_without_prev_aggregate_is_stored(self) -> None:
        adapter = self.adapter()
        log: list[tuple[str, Any]] = []
        _, pokemons, _ = self.connected(adapter, log=log)
        results = await EventStore.push_event_group(
            pokemons.group_event(appeared()), pokemons.group_event(leveled_up(version=2))
        )
        relay, _ = self.relay(adapter, log)
        await relay.drain(timeout=10)
        assert [message.aggregate for _, message in log] == [pokemon(), pokemon(version=2, level=6)]
        assert [message.event for _, message in log] == [result.event for result in results]

    # -- 4. nested wiring ----------------------------------------------------------------------------

    @pytest.mark.parametrize("outbox_layer", ["inner", "outer"])
    async def test_nested_wiring_of_an_outbox_layer_and_a_direct_layer(self, outbox_layer: str) -> None:
        adapter = self.adapter()
        direct_log: list[tuple[str, Any]] = []
        bus_sink = RecordingSink("app_message_bus", log=direct_log)
        queue_sink = RecordingSink("pokemon_notifications_queue", log=direct_log)
        store = pokemons_store(adapter)
        if outbox_layer == "inner":
            inner: ConnectedEventStore[Any, PokemonsEvent, Pokemon] = ConnectedEventStore(
                store, AppMessageBus(bus_sink), delivery="outbox", message_codec=MESSAGE_CODEC
            )
            connected = ConnectedEventStore(inner, PokemonNotificationsQueue(queue_sink))
            outbox_key, direct_channel = ("app_message_bus", "pokemons", "pikachu-1", 1), "pokemon_notifications_queue"
        else:
            inner = ConnectedEventStore(store, AppMessageBus(bus_sink))
            connected = ConnectedEventStore(
                inner, PokemonNotificationsQueue(queue_sink), delivery="outbox", message_codec=MESSAGE_CODEC
            )
            outbox_key, direct_channel = ("pokemon_notifications_queue", "pokemons", "pikachu-1", 1), "app_message_bus"

        result = await connected.push_event(appeared())
        # The direct layer published at once, the outbox layer stored its message.
        assert [name for name, _ in direct_log] == [direct_channel]
        assert direct_log[0][1].event == result.event
        assert [row.key for row in await self.outbox_rows(adapter)] == [outbox_key]

        relayed: list[tuple[str, Any]] = []
        relay, _ = self.relay(adapter, relayed)
        await relay.drain(timeout=10)
        assert keys(relayed) == [outbox_key]
        assert relayed[0][1].event == result.event
        assert [name for name, _ in direct_log] == [direct_channel]  # the relay published nothing directly

    # -- 5. what the messages carry ------------------------------------------------------------------

    @pytest.mark.parametrize("with_prev_aggregate", [True, False])
    async def test_state_carrying_messages_carry_the_aggregate_at_their_version(
        self, with_prev_aggregate: bool
    ) -> None:
        adapter = self.adapter()
        log: list[tuple[str, Any]] = []
        _, connected, _ = self.connected(adapter, log=log, notifications=True)
        expected = [pokemon(), pokemon(version=2, level=6), pokemon(version=3, level=6, trainer_id="misty")]
        events: list[PokemonsEvent] = [appeared(), leveled_up(version=2), caught(version=3, trainer_id="misty")]
        results = []
        for index, event in enumerate(events):
            prev = expected[index - 1] if with_prev_aggregate and index > 0 else None
            results.append(await connected.push_event(event, prev_aggregate=prev))
        await connected.push_event(appeared("eevee-1", name="Eevee"))  # another aggregate, in between

        relay, _ = self.relay(adapter, log)
        await relay.drain(timeout=10)
        state = [
            message for name, message in log if name == "app_message_bus" and message.event.aggregate_id != "eevee-1"
        ]
        assert state == [
            StateCarryingMessage("pokemons", result.event, aggregate)
            for result, aggregate in zip(results, expected, strict=True)
        ]
        notifications = [
            message
            for name, message in log
            if name == "pokemon_notifications_queue" and message.event.aggregate_id != "eevee-1"
        ]
        assert notifications == [NotificationMessage("pokemons", result.event) for result in results]

    # -- 6. relaying: order, done --------------------------------------------------------------------

    async def test_the_relay_publishes_in_version_order_per_aggregate_and_marks_done(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        results = await self.push_versions(connected, ["pikachu", "eevee"], 5)
        assert await adapter.count_pending_outbox_messages() == 20

        log: list[tuple[str, Any]] = []
        relay, _ = self.relay(adapter, log, batch_size=3)
        await relay.drain(timeout=10)
        assert versions_by_aggregate(keys(log)) == {
            (channel, "pokemons", aggregate_id): [1, 2, 3, 4, 5]
            for channel in ("app_message_bus", "pokemon_notifications_queue")
            for aggregate_id in ("pikachu", "eevee")
        }
        state = {
            (message.event.aggregate_id, message.event.version): message
            for name, message in log
            if name == "app_message_bus"
        }
        for result in results:
            message = state[(result.event.aggregate_id, result.event.version)]
            assert message.event == result.event
            assert message.aggregate == pokemon(
                result.event.aggregate_id, result.event.version, level=4 + result.event.version, name="Pikachu"
            )
        assert await adapter.count_pending_outbox_messages() == 0
        assert all(row.done for row in await self.outbox_rows(adapter))

        # Done is done: a second drain, and a fresh relay, publish nothing.
        await relay.drain(timeout=10)
        fresh, _ = self.relay(adapter, log)
        assert await fresh.relay_once() == 0
        assert len(log) == 20

    async def test_only_the_lowest_pending_version_of_each_aggregate_and_channel_is_claimed(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        await self.push_versions(connected, ["pikachu", "eevee"], 3)
        now = datetime.now(UTC)
        lease = timedelta(seconds=30)

        first = await adapter.claim_outbox_messages(relay_id="a", limit=100, lease=lease, now=now)
        assert sorted((p.message.message_channel_id, p.message.aggregate_id, p.message.version) for p in first) == [
            ("app_message_bus", "eevee", 1),
            ("app_message_bus", "pikachu", 1),
            ("pokemon_notifications_queue", "eevee", 1),
            ("pokemon_notifications_queue", "pikachu", 1),
        ]
        # While they are claimed, nothing else is: their next versions wait for them.
        assert await adapter.claim_outbox_messages(relay_id="b", limit=100, lease=lease, now=now) == []
        await adapter.complete_outbox_message(first[0].id, relay_id="a")
        [second] = await adapter.claim_outbox_messages(relay_id="b", limit=100, lease=lease, now=now)
        assert (second.message.message_channel_id, second.message.aggregate_id, second.message.version) == (
            first[0].message.message_channel_id,
            first[0].message.aggregate_id,
            2,
        )
        # `limit` caps a claim.
        for pending in first[1:]:
            await adapter.complete_outbox_message(pending.id, relay_id="a")
        assert len(await adapter.claim_outbox_messages(relay_id="c", limit=2, lease=lease, now=now)) == 2

    # -- 7. a failing channel: backoff, then recovery -------------------------------------------------

    async def test_a_failing_channel_fails_messages_with_backoff_until_it_recovers(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter)
        await self.push_versions(connected, ["pikachu"], 3)
        await connected.push_event(appeared("eevee"))
        clock = Clock()
        started = clock.now
        spy = ClaimSpy(adapter)
        log: list[tuple[str, Any]] = []
        relay, [sink, _] = self.relay(
            spy, log, clock=clock, backoff=OutboxBackoff(initial=1.0, factor=2.0, maximum=3.0)
        )
        sink.error = ConnectionError("broker down")

        assert await relay.relay_once() == 0
        assert sink.attempts == 2  # the head of each aggregate: pikachu v1, eevee v1
        rows = await self.outbox_rows(adapter)
        failed = [row for row in rows if row.attempts]
        assert sorted(row.key[2:] for row in failed) == [("eevee", 1), ("pikachu", 1)]
        for row in failed:
            assert (row.done, row.claimed_by, row.retry_at) == (False, None, started + timedelta(seconds=1))
            assert row.last_error is not None and "broker down" in row.last_error

        clock.advance(0.999999)  # not claimed again before retry_at
        assert await relay.relay_once() == 0
        assert sink.attempts == 2
        clock.advance(0.000001)
        assert await relay.relay_once() == 0
        assert sink.attempts == 4
        retry_at = {row.retry_at for row in await self.outbox_rows(adapter) if row.attempts}
        assert retry_at == {clock.now + timedelta(seconds=2)}  # 1 s, then 2 s...
        clock.advance(2)
        assert await relay.relay_once() == 0
        clock.advance(3)  # ...then 3 s, the maximum
        assert {row.retry_at for row in await self.outbox_rows(adapter) if row.attempts} == {clock.now}

        sink.error = None  # the channel recovers
        await relay.drain(timeout=10, idle_interval=0)
        assert versions_by_aggregate(keys(log)) == {
            ("app_message_bus", "pokemons", "pikachu"): [1, 2, 3],
            ("app_message_bus", "pokemons", "eevee"): [1],
        }
        attempts = {(p.message.aggregate_id, p.message.version): p.attempts for p in spy.claims}
        assert attempts == {("pikachu", 1): 3, ("eevee", 1): 3, ("pikachu", 2): 0, ("pikachu", 3): 0}
        assert {row.key[2:]: row.attempts for row in await self.outbox_rows(adapter)} == {
            ("pikachu", 1): 3,
            ("pikachu", 2): 0,
            ("pikachu", 3): 0,
            ("eevee", 1): 3,
        }
        assert await adapter.count_pending_outbox_messages() == 0

    async def test_a_message_for_a_channel_the_relay_does_not_know_is_failed_not_lost(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        await connected.push_event(appeared())
        clock = Clock()
        bus_only = RecordingSink("app_message_bus")
        relay = OutboxRelay(adapter, [AppMessageBus(bus_only)], MESSAGE_CODEC, clock=clock)
        assert await relay.relay_once() == 1
        assert await adapter.count_pending_outbox_messages() == 1
        [row] = [row for row in await self.outbox_rows(adapter) if not row.done]
        assert row.key[0] == "pokemon_notifications_queue"
        assert row.attempts == 1 and row.last_error is not None and "pokemon_notifications_queue" in row.last_error

    # -- 8. leases -----------------------------------------------------------------------------------

    async def test_a_message_of_a_relay_that_died_is_published_by_another_after_the_lease(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter)
        result = await connected.push_event(appeared())
        clock = Clock()
        lease = timedelta(seconds=30)
        # A relay claims, publishes maybe, and dies before completing.
        [claimed] = await adapter.claim_outbox_messages(relay_id="dead", limit=10, lease=lease, now=clock())

        log: list[tuple[str, Any]] = []
        survivor, _ = self.relay(self.other_adapter(adapter), log, relay_id="survivor", clock=clock, lease=lease)
        clock.advance(29)
        assert await survivor.relay_once() == 0  # the lease still runs
        assert log == []
        clock.advance(1)
        assert await survivor.relay_once() == 1
        assert log == [("app_message_bus", StateCarryingMessage("pokemons", result.event, pokemon()))]
        assert await adapter.count_pending_outbox_messages() == 0

        # The dead relay coming back can no longer touch it.
        await adapter.fail_outbox_message(claimed.id, relay_id="dead", retry_at=clock(), error="late")
        assert await adapter.count_pending_outbox_messages() == 0

    async def test_only_the_claiming_relay_completes_or_fails_a_message(self) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter)
        await connected.push_event(appeared())
        now = datetime.now(UTC)
        lease = timedelta(seconds=10)
        [first] = await adapter.claim_outbox_messages(relay_id="slow", limit=1, lease=lease, now=now)
        later = now + lease
        [second] = await adapter.claim_outbox_messages(relay_id="fast", limit=1, lease=lease, now=later)
        assert second.id == first.id

        await adapter.complete_outbox_message(first.id, relay_id="slow")  # its lease was over: ignored
        await adapter.fail_outbox_message(first.id, relay_id="slow", retry_at=later, error="late")
        assert await adapter.count_pending_outbox_messages() == 1
        [row] = await self.outbox_rows(adapter)
        assert (row.done, row.attempts, row.claimed_by) == (False, 0, "fast")
        assert await adapter.claim_outbox_messages(relay_id="other", limit=1, lease=lease, now=later) == []

        await adapter.complete_outbox_message(second.id, relay_id="fast")
        assert await adapter.count_pending_outbox_messages() == 0

    # -- 9. several relays ---------------------------------------------------------------------------

    @pytest.mark.parametrize("adapters", ["one adapter", "an adapter each"])
    async def test_concurrent_relays_publish_everything_once_in_order(self, adapters: str) -> None:
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        aggregate_ids = [f"pokemon-{index}" for index in range(6)]
        await self.push_versions(connected, aggregate_ids, 4)
        expected = {
            (channel.message_channel_id, "pokemons", aggregate_id, version)
            for channel in CHANNELS
            for aggregate_id in aggregate_ids
            for version in range(1, 5)
        }

        log: list[tuple[str, Any]] = []
        relays = [
            self.relay(
                adapter if adapters == "one adapter" else self.other_adapter(adapter),
                log,
                relay_id=f"relay-{i}",
                batch_size=2,
            )
            for i in range(3)
        ]
        published = await asyncio.gather(*(relay.drain(timeout=20, idle_interval=0.001) for relay, _ in relays))
        assert published == [None] * 3
        counts = Counter(keys(log))
        assert [key for key, count in counts.items() if count > 1] == []
        assert set(counts) == expected
        for versions in versions_by_aggregate(keys(log)).values():
            assert versions == [1, 2, 3, 4]
        assert await adapter.count_pending_outbox_messages() == 0


class SharedDatabaseOutboxConformance(OutboxConformance):
    """The outbox suite, plus relays in several processes on one database: for adapters whose database
    several processes share (SQLite files, PostgreSQL)."""

    async def test_relays_in_several_processes_publish_everything_once_in_order(self) -> None:
        factory = self.process_adapter_factory()
        assert factory is not None, f"{type(self).__name__} must implement process_adapter_factory"
        adapter = self.adapter()
        _, connected, _ = self.connected(adapter, notifications=True)
        aggregate_ids = [f"pokemon-{index}" for index in range(6)]
        await self.push_versions(connected, aggregate_ids, 5)
        expected = {
            (channel.message_channel_id, "pokemons", aggregate_id, version)
            for channel in CHANNELS
            for aggregate_id in aggregate_ids
            for version in range(1, 6)
        }

        context = multiprocessing.get_context("spawn")
        start_line = context.Barrier(self.RELAY_PROCESSES)
        results = context.Queue()
        processes = [
            context.Process(
                target=relay_in_child_process,
                args=(factory, f"process-{i}", start_line, results, 0.003),
                daemon=True,
            )
            for i in range(self.RELAY_PROCESSES)
        ]
        started = time.monotonic()
        for process in processes:
            process.start()
        published: list[tuple[str, Key, int]] = []
        done: dict[str, int] = {}
        try:
            while len(done) < len(processes):
                try:
                    status, relay_id, *outcome = results.get(timeout=0.05)
                except queue.Empty:
                    dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                    if dead:
                        pytest.fail(f"relay processes died with exit codes {dead}")
                    if time.monotonic() - started > self.PROCESS_DEADLINE_SECONDS:
                        pytest.fail(f"the relays did not finish in {self.PROCESS_DEADLINE_SECONDS} s")
                    continue
                if status == "error":
                    pytest.fail(f"{relay_id} failed:\n{outcome[0]}")
                if status == "published":
                    key, at = outcome
                    published.append((relay_id, tuple(key), at))  # type: ignore[arg-type]
                else:
                    done[relay_id] = outcome[0]
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
                    process.join()
        assert [process.exitcode for process in processes] == [0] * len(processes)

        counts = Counter(key for _, key, _ in published)
        assert [key for key, count in counts.items() if count > 1] == []
        assert set(counts) == expected
        by_relay = Counter(relay_id for relay_id, _, _ in published)
        assert by_relay == Counter({relay_id: count for relay_id, count in done.items() if count})
        assert len(by_relay) > 1, f"one relay published everything: {by_relay}"
        in_time_order = [key for _, key, _ in sorted(published, key=lambda entry: entry[2])]
        for versions in versions_by_aggregate(in_time_order).values():
            assert versions == [1, 2, 3, 4, 5]
        assert await adapter.count_pending_outbox_messages() == 0
        print(f"{type(self).__name__}: published per relay {dict(by_relay)}")
