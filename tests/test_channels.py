"""Message channels themselves, whatever their adapter: which stores they carry, the checks they make before
handing messages over, their adapter, subscriptions, and `get_aggregate_and_publish_message`.

The adapters here only record what they are given, so every test is about the channel.
"""

from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    T0,
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
    AggregateExistsMessage,
    AggregateExistsMessageBus,
    AggregateExistsMessageChannel,
    AggregateExistsMessageQueue,
    AggregateNotFoundError,
    AppMessageBus,
    DeliveryContext,
    Event,
    EventStore,
    InMemoryEventStorageAdapter,
    InvalidMessageError,
    MessageChannel,
    MessageChannelEventStoreNotFoundError,
    NotificationMessage,
    NotificationMessageBus,
    NotificationMessageChannel,
    NotificationMessageQueue,
    PokemonAppeared,
    PokemonCaught,
    PokemonNotificationsQueue,
    RetryPolicy,
    StateCarryingMessage,
    StateCarryingMessageBus,
    StateCarryingMessageChannel,
    StateCarryingMessageQueue,
    SubscribableMessageChannelAdapter,
    Subscription,
    TrainerRegistered,
    UndefinedMessageChannelAdapterError,
)


class PublishingAdapter:
    """An adapter that only publishes (it delivers to no subscriber in this process): it records."""

    def __init__(self) -> None:
        self.published: list[tuple[Any, bool]] = []
        self.batches: list[tuple[list[Any], bool]] = []

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        self.published.append((message, replay))

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        self.batches.append((list(messages), replay))


class SubscribableAdapter(PublishingAdapter):
    """An adapter that also takes subscriptions: it records them."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[Subscription] = []

    def subscribe(self, subscription: Subscription) -> None:
        self.subscriptions.append(subscription)


async def ignore(message: Any, context: DeliveryContext) -> None:
    pass


def state(event: Any) -> StateCarryingMessage[Any, Any, Any]:
    return StateCarryingMessage("pokemons", event, pokemon(event.aggregate_id, event.version))


# -- kinds and sources -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel_class", "channel_kind", "message_kind"),
    [
        (NotificationMessageBus, "bus", "notification"),
        (NotificationMessageQueue, "queue", "notification"),
        (StateCarryingMessageBus, "bus", "state-carrying"),
        (StateCarryingMessageQueue, "queue", "state-carrying"),
        (AggregateExistsMessageBus, "bus", "aggregate-exists"),
        (AggregateExistsMessageQueue, "queue", "aggregate-exists"),
    ],
)
def test_the_six_channel_classes_tell_their_channel_and_message_kinds(
    channel_class: type[MessageChannel[Any]], channel_kind: str, message_kind: str
) -> None:
    assert channel_class.channel_kind == channel_kind
    assert channel_class.message_kind == message_kind
    base = {
        "notification": NotificationMessageChannel,
        "state-carrying": StateCarryingMessageChannel,
        "aggregate-exists": AggregateExistsMessageChannel,
    }[message_kind]
    assert issubclass(channel_class, base)
    assert issubclass(channel_class, MessageChannel)
    assert hasattr(channel_class, "get_aggregate_and_publish_message") == (message_kind == "state-carrying")


def test_generated_channels_tell_their_id_kinds_and_sources() -> None:
    assert AppMessageBus.message_channel_id == "app_message_bus"
    assert (AppMessageBus.channel_kind, AppMessageBus.message_kind) == ("bus", "state-carrying")
    assert AppMessageBus.source_event_store_ids == frozenset({"pokemons", "trainers"})
    assert PokemonNotificationsQueue.message_channel_id == "pokemon_notifications_queue"
    assert (PokemonNotificationsQueue.channel_kind, PokemonNotificationsQueue.message_kind) == (
        "queue",
        "notification",
    )
    assert PokemonNotificationsQueue.source_event_store_ids == frozenset({"pokemons"})
    assert "app_message_bus" in repr(AppMessageBus())


def test_source_event_stores_are_none_by_default_and_kept_in_order_when_given() -> None:
    assert AppMessageBus().source_event_stores == ()
    pokemons, trainers = pokemons_store(), trainers_store()
    bus = AppMessageBus(source_event_stores=[trainers, pokemons])
    assert bus.source_event_stores == (trainers, pokemons)
    assert PokemonNotificationsQueue(source_event_stores=iter([pokemons])).source_event_stores == (pokemons,)


def test_a_source_store_the_channel_does_not_carry_is_rejected() -> None:
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        PokemonNotificationsQueue(SubscribableAdapter(), source_event_stores=[pokemons_store(), trainers_store()])
    assert raised.value.message_channel_id == "pokemon_notifications_queue"
    assert raised.value.event_store_id == "trainers"


# -- publishing --------------------------------------------------------------------------------------


async def test_publish_message_hands_the_message_and_replay_flag_to_the_adapter() -> None:
    adapter = PublishingAdapter()
    queue = PokemonNotificationsQueue(adapter)
    first, second = NotificationMessage("pokemons", appeared()), NotificationMessage("pokemons", caught(version=2))
    await queue.publish_message(first)
    await queue.publish_message(second, replay=True)
    await queue.publish_messages([first, second], replay=True)
    await queue.publish_messages([second])

    assert adapter.published == [(first, False), (second, True)]
    assert adapter.batches == [([first, second], True), ([second], False)]


async def test_publishing_a_message_of_a_store_the_channel_does_not_carry_is_rejected() -> None:
    adapter = PublishingAdapter()
    queue = PokemonNotificationsQueue(adapter)
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await queue.publish_message(NotificationMessage("trainers", registered()))  # type: ignore[arg-type]

    assert raised.value.message_channel_id == "pokemon_notifications_queue"
    assert raised.value.event_store_id == "trainers"
    assert "pokemon_notifications_queue" in str(raised.value) and "trainers" in str(raised.value)
    assert adapter.published == []


async def test_publish_messages_checks_every_message_before_publishing_any() -> None:
    adapter = PublishingAdapter()
    queue = PokemonNotificationsQueue(adapter)
    good = [NotificationMessage("pokemons", appeared()), NotificationMessage("pokemons", leveled_up(version=2))]
    bad = NotificationMessage("trainers", registered())
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await queue.publish_messages([*good, bad])  # type: ignore[list-item]

    assert raised.value.event_store_id == "trainers"
    assert adapter.batches == []
    assert adapter.published == []


async def test_the_store_is_checked_before_the_adapter() -> None:
    with pytest.raises(MessageChannelEventStoreNotFoundError):
        await PokemonNotificationsQueue().publish_message(NotificationMessage("trainers", registered()))  # type: ignore[arg-type]


async def test_what_is_not_a_message_of_the_channels_kind_is_a_type_error() -> None:
    adapter = PublishingAdapter()
    queue = PokemonNotificationsQueue(adapter)
    not_messages: list[object] = [
        ("pokemons", appeared()),
        appeared(),  # an event names its store too, but it is no message
        StateCarryingMessage("pokemons", appeared(), pokemon()),  # a message of another kind
    ]
    for not_a_message in not_messages:
        with pytest.raises(TypeError, match="pokemon_notifications_queue carries NotificationMessages, not"):
            await queue.publish_message(not_a_message)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="carries NotificationMessages"):
            await queue.publish_messages([NotificationMessage("pokemons", appeared()), not_a_message])  # type: ignore[list-item]
    assert adapter.published == [] and adapter.batches == []


# -- the adapter -------------------------------------------------------------------------------------


async def test_a_channel_without_adapter_raises_until_one_is_set() -> None:
    queue = PokemonNotificationsQueue()
    message = NotificationMessage("pokemons", appeared())
    assert queue.message_channel_adapter is None

    for attempt in (
        queue.publish_message(message),
        queue.publish_messages([message]),
    ):
        with pytest.raises(UndefinedMessageChannelAdapterError) as raised:
            await attempt
        assert raised.value.message_channel_id == "pokemon_notifications_queue"
    with pytest.raises(UndefinedMessageChannelAdapterError):
        queue.get_message_channel_adapter()
    with pytest.raises(UndefinedMessageChannelAdapterError):
        queue.on(PokemonAppeared, ignore)

    adapter = SubscribableAdapter()
    queue.message_channel_adapter = adapter
    assert queue.message_channel_adapter is adapter
    assert queue.get_message_channel_adapter() is adapter
    await queue.publish_message(message)
    queue.on(PokemonAppeared, ignore)
    assert adapter.published == [(message, False)]
    assert len(adapter.subscriptions) == 1

    queue.message_channel_adapter = None
    with pytest.raises(UndefinedMessageChannelAdapterError):
        await queue.publish_message(message)


def test_the_adapter_given_to_the_constructor_is_the_channel_adapter() -> None:
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter)
    assert bus.message_channel_adapter is adapter
    assert bus.get_message_channel_adapter() is adapter
    replacement = PublishingAdapter()
    bus.message_channel_adapter = replacement
    assert bus.get_message_channel_adapter() is replacement


# -- subscriptions -----------------------------------------------------------------------------------


def test_on_subscribes_the_handler_for_its_event_class_and_store_with_its_options() -> None:
    adapter = SubscribableAdapter()
    bus = AppMessageBus(adapter)
    policy = RetryPolicy(retries=5, delay=0.0, backoff=1.0)
    bus.on(PokemonCaught, ignore, replay=True, retry=policy)
    bus.on(TrainerRegistered, ignore)

    assert adapter.subscriptions == [
        Subscription(
            ignore,
            event_store_ids=frozenset({"pokemons"}),
            event_types=frozenset({"POKEMON_CAUGHT"}),
            replay=True,
            retry=policy,
        ),
        Subscription(
            ignore,
            event_store_ids=frozenset({"trainers"}),
            event_types=frozenset({"TRAINER_REGISTERED"}),
            replay=False,
            retry=RetryPolicy(),
        ),
    ]


def test_subscribing_through_an_adapter_that_does_not_deliver_is_a_type_error() -> None:
    adapter = PublishingAdapter()
    assert not isinstance(adapter, SubscribableMessageChannelAdapter)
    bus = AppMessageBus(adapter)
    with pytest.raises(TypeError, match="PublishingAdapter"):
        bus.on(PokemonAppeared, ignore)


def test_subscribing_to_the_base_event_class_is_a_type_error() -> None:
    adapter = SubscribableAdapter()
    bus = AppMessageBus(adapter)
    with pytest.raises(TypeError, match="Event"):
        bus.on(Event, ignore)  # type: ignore[call-overload]
    assert adapter.subscriptions == []


def test_subscribing_to_an_event_class_of_a_store_the_channel_does_not_carry_is_rejected() -> None:
    adapter = SubscribableAdapter()
    queue = PokemonNotificationsQueue(adapter)
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        queue.on(TrainerRegistered, ignore)  # type: ignore[type-var, arg-type]
    assert (raised.value.message_channel_id, raised.value.event_store_id) == (
        "pokemon_notifications_queue",
        "trainers",
    )
    assert adapter.subscriptions == []


def test_a_subscription_matches_by_store_event_type_and_replay() -> None:
    everything = Subscription(ignore)
    of_caught = Subscription(ignore, event_store_ids=frozenset({"pokemons"}), event_types=frozenset({"POKEMON_CAUGHT"}))
    of_trainers = Subscription(ignore, event_store_ids=frozenset({"trainers"}), replay=True)
    caught_message = NotificationMessage("pokemons", caught(version=2))
    appeared_message = NotificationMessage("pokemons", appeared())
    trainer_message = NotificationMessage("trainers", trainer_caught(version=2))
    exists = AggregateExistsMessage("trainers", "ash", T0)

    assert everything.matches(caught_message, replay=False)
    assert not everything.matches(caught_message, replay=True)
    assert of_caught.matches(caught_message, replay=False)
    assert not of_caught.matches(appeared_message, replay=False)
    assert not of_caught.matches(trainer_message, replay=False)
    assert not of_caught.matches(AggregateExistsMessage("pokemons", "pikachu-1", T0), replay=False)
    assert of_trainers.matches(trainer_message, replay=True)
    assert of_trainers.matches(trainer_message, replay=False)
    assert of_trainers.matches(exists, replay=False)
    assert not of_trainers.matches(caught_message, replay=True)


# -- get_aggregate_and_publish_message ---------------------------------------------------------------


async def pushed_pikachu(store: EventStore[Any, Any, Any]) -> list[Any]:
    """Pushes Pikachu's appearance (level 5), a level-up and a catch; returns the stored events."""
    return [
        (await store.push_event(event)).event
        for event in (appeared(level=5), leveled_up(version=2), caught(version=3, trainer_id="misty"))
    ]


@pytest.mark.parametrize("replay", [False, True])
async def test_get_aggregate_and_publish_message_publishes_the_aggregate_as_of_the_event(replay: bool) -> None:
    storage = InMemoryEventStorageAdapter()
    pokemons = pokemons_store(storage)
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter, source_event_stores=[pokemons, trainers_store(storage)])
    events = await pushed_pikachu(pokemons)

    message = await bus.get_aggregate_and_publish_message(NotificationMessage("pokemons", events[1]), replay=replay)

    assert message == StateCarryingMessage("pokemons", events[1], pokemon(version=2, level=6, trainer_id=None))
    assert message.aggregate.version == 2
    assert adapter.published == [(message, replay)]


async def test_get_aggregate_and_publish_message_reads_from_the_store_of_the_message() -> None:
    storage = InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(storage), trainers_store(storage)
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter, source_event_stores=[pokemons, trainers])
    await pushed_pikachu(pokemons)
    first = (await trainers.push_event(registered())).event
    second = (await trainers.push_event(trainer_caught(version=2))).event

    message = await bus.get_aggregate_and_publish_message(NotificationMessage("trainers", first))
    assert (message.event_store_id, message.event) == ("trainers", first)
    assert (message.aggregate.version, message.aggregate.caught_pokemon_ids) == (1, [])
    latest = await bus.get_aggregate_and_publish_message(NotificationMessage("trainers", second))
    assert (latest.aggregate.version, latest.aggregate.caught_pokemon_ids) == (2, ["pikachu-1"])
    assert adapter.published == [(message, False), (latest, False)]


async def test_get_aggregate_and_publish_message_needs_the_carried_store_among_the_sources() -> None:
    storage = InMemoryEventStorageAdapter()
    trainers = trainers_store(storage)
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter, source_event_stores=[pokemons_store(storage)])
    event = (await trainers.push_event(registered())).event

    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await bus.get_aggregate_and_publish_message(NotificationMessage("trainers", event))
    assert (raised.value.message_channel_id, raised.value.event_store_id) == ("app_message_bus", "trainers")
    assert adapter.published == []


async def test_get_aggregate_and_publish_message_rejects_a_store_the_channel_does_not_carry() -> None:
    class PokemonStatesQueue(StateCarryingMessageQueue[Any]):
        message_channel_id: ClassVar[str] = "pokemon_states"
        source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons"})

    adapter = PublishingAdapter()
    queue = PokemonStatesQueue(adapter, source_event_stores=[pokemons_store(InMemoryEventStorageAdapter())])
    with pytest.raises(MessageChannelEventStoreNotFoundError) as raised:
        await queue.get_aggregate_and_publish_message(NotificationMessage("trainers", registered()))
    assert (raised.value.message_channel_id, raised.value.event_store_id) == ("pokemon_states", "trainers")
    assert adapter.published == []


async def test_get_aggregate_and_publish_message_of_an_unknown_aggregate_publishes_nothing() -> None:
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter, source_event_stores=[pokemons_store(InMemoryEventStorageAdapter())])
    with pytest.raises(AggregateNotFoundError):
        await bus.get_aggregate_and_publish_message(NotificationMessage("pokemons", appeared("missingno")))
    assert adapter.published == []


async def test_get_aggregate_and_publish_message_of_an_event_not_stored_yet_publishes_nothing() -> None:
    storage = InMemoryEventStorageAdapter()
    pokemons = pokemons_store(storage)
    adapter = PublishingAdapter()
    bus = AppMessageBus(adapter, source_event_stores=[pokemons])
    await pushed_pikachu(pokemons)

    # The aggregate read is as of version 3, the last stored: not the one as of the notified version 4.
    with pytest.raises(
        InvalidMessageError, match="'pikachu-1' at version 3, but its event is of 'pikachu-1' at version 4"
    ):
        await bus.get_aggregate_and_publish_message(NotificationMessage("pokemons", leveled_up(version=4)))
    assert adapter.published == []


async def test_get_aggregate_and_publish_message_without_adapter_raises() -> None:
    storage = InMemoryEventStorageAdapter()
    pokemons = pokemons_store(storage)
    bus = AppMessageBus(source_event_stores=[pokemons])
    events = await pushed_pikachu(pokemons)
    with pytest.raises(UndefinedMessageChannelAdapterError):
        await bus.get_aggregate_and_publish_message(NotificationMessage("pokemons", events[0]))
