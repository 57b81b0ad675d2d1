"""Message channels: buses (every subscriber gets every message it filters for) and queues (each message is
handled once), each carrying one kind of message from a declared set of event stores.

A channel checks and forwards; its adapter moves the messages (in memory, RabbitMQ...). Generated
channel classes (`AppMessageBus`) fix the channel's id, its source stores and its message type, and add
typed `on(...)` subscriptions.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast, runtime_checkable

from .errors import MessageChannelEventStoreNotFoundError, UndefinedMessageChannelAdapterError
from .events import Event
from .messages import (
    AggregateExistsMessage,
    Message,
    MessageHandler,
    NotificationMessage,
    StateCarryingMessage,
)
from .stores import EventStore

MessageT_contra = TypeVar("MessageT_contra", contravariant=True)

MessageKind = Literal["notification", "state-carrying", "aggregate-exists"]
ChannelKind = Literal["bus", "queue"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing handler is tried again, and how long to wait before each retry."""

    retries: int = 2
    #: Seconds before the first retry; each later wait is `backoff` times the previous one.
    delay: float = 0.03
    backoff: float = 2.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.delay < 0 or self.backoff < 1:
            raise ValueError(f"invalid retry policy {self}: retries and delay >= 0, backoff >= 1")

    def delay_before(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (1 for the first retry)."""
        return self.delay * self.backoff ** (retry_number - 1)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A handler and the messages it wants: all, or those of the given stores and event types."""

    handler: MessageHandler[Any]
    event_store_ids: frozenset[str] | None = None
    event_types: frozenset[str] | None = None
    #: Replayed messages reach only subscriptions that opt in.
    replay: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def matches(self, message: Any, *, replay: bool) -> bool:
        if replay and not self.replay:
            return False
        if self.event_store_ids is not None and message.event_store_id not in self.event_store_ids:
            return False
        if self.event_types is None:
            return True
        event = getattr(message, "event", None)
        return event is not None and event.type in self.event_types


class MessageChannelAdapter(Protocol):
    """What a channel needs of its adapter: publishing."""

    async def publish_message(self, message: Any, *, replay: bool = False) -> None: ...

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None: ...


@runtime_checkable
class SubscribableMessageChannelAdapter(MessageChannelAdapter, Protocol):
    """An adapter that also delivers messages to subscribers in this process."""

    def subscribe(self, subscription: Subscription) -> None: ...


class MessageChannel(Generic[MessageT_contra]):
    """A channel carrying messages of type `MessageT_contra` (a union over its source stores).

    Contravariant: a channel that accepts the messages of several stores can stand where a channel for
    one of them is expected, which is how a connected store's channel is checked by mypy.
    """

    message_kind: ClassVar[MessageKind]
    #: The class of the messages it carries.
    message_class: ClassVar[type[Any]]
    channel_kind: ClassVar[ChannelKind]
    #: Set by generated subclasses: the channel id and the ids of the stores whose messages it carries.
    message_channel_id: ClassVar[str]
    source_event_store_ids: ClassVar[frozenset[str]]

    def __init__(
        self,
        message_channel_adapter: MessageChannelAdapter | None = None,
        *,
        source_event_stores: Iterable[EventStore[Any, Any, Any]] = (),
    ) -> None:
        self._message_channel_adapter = message_channel_adapter
        self.source_event_stores = tuple(source_event_stores)
        for store in self.source_event_stores:
            self.check_event_store_id(store.event_store_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message_channel_id={self.message_channel_id!r})"

    @property
    def message_channel_adapter(self) -> MessageChannelAdapter | None:
        """What moves the messages; set it (or pass it to the constructor) before publishing."""
        return self._message_channel_adapter

    @message_channel_adapter.setter
    def message_channel_adapter(self, adapter: MessageChannelAdapter | None) -> None:
        self._message_channel_adapter = adapter

    def get_message_channel_adapter(self) -> MessageChannelAdapter:
        """The adapter; raises UndefinedMessageChannelAdapterError when none is set."""
        if self._message_channel_adapter is None:
            raise UndefinedMessageChannelAdapterError(message_channel_id=self.message_channel_id)
        return self._message_channel_adapter

    async def publish_message(self, message: MessageT_contra, *, replay: bool = False) -> None:
        """Publishes one message; raises MessageChannelEventStoreNotFoundError for a store not carried."""
        self.check_event_store_id(self._event_store_id_of(message))
        await self.get_message_channel_adapter().publish_message(message, replay=replay)

    async def publish_messages(self, messages: Sequence[MessageT_contra], *, replay: bool = False) -> None:
        """Publishes several messages, after checking all of them: either none or all are handed over."""
        for message in messages:
            self.check_event_store_id(self._event_store_id_of(message))
        await self.get_message_channel_adapter().publish_messages(messages, replay=replay)

    def _event_store_id_of(self, message: object) -> str:
        if not isinstance(message, self.message_class):
            raise TypeError(
                f"{self.message_channel_id} carries {self.message_class.__name__}s, not {type(message).__name__}"
            )
        # A message of the channel's class (checked above): a `Message`, whatever its type arguments.
        return cast("Message", message).event_store_id

    def check_event_store_id(self, event_store_id: str) -> None:
        """Raises MessageChannelEventStoreNotFoundError unless the channel carries that store's messages."""
        if event_store_id not in self.source_event_store_ids:
            carried = ", ".join(sorted(self.source_event_store_ids))
            raise MessageChannelEventStoreNotFoundError(
                f"it carries messages of {carried}, not of {event_store_id!r}",
                message_channel_id=self.message_channel_id,
                event_store_id=event_store_id,
            )

    def _subscribe(
        self,
        handler: MessageHandler[Any],
        *,
        event_class: type[Event] | None = None,
        event_store_id: str | None = None,
        replay: bool,
        retry: RetryPolicy | None,
    ) -> None:
        """Registers `handler` with the adapter, for messages of `event_class` events, or of `event_store_id`
        (neither: all messages)."""
        event_types = None
        if event_class is not None:
            event_store_id = getattr(event_class, "event_store_id", None)
            if not isinstance(event_store_id, str):
                raise TypeError(f"{event_class.__name__} is not a generated event class (it names no store)")
            event_types = frozenset({_event_type_of(event_class)})
        if event_store_id is not None:
            self.check_event_store_id(event_store_id)
        adapter = self.get_message_channel_adapter()
        if not isinstance(adapter, SubscribableMessageChannelAdapter):
            raise TypeError(
                f"{self.message_channel_id}: {type(adapter).__name__} does not deliver to subscribers"
            )
        adapter.subscribe(
            Subscription(
                handler,
                event_store_ids=None if event_store_id is None else frozenset({event_store_id}),
                event_types=event_types,
                replay=replay,
                retry=RetryPolicy() if retry is None else retry,
            )
        )


class NotificationMessageChannel(MessageChannel[MessageT_contra]):
    """Carries `NotificationMessage`s: the store id and the event."""

    message_kind: ClassVar[MessageKind] = "notification"
    message_class: ClassVar[type[Any]] = NotificationMessage


class StateCarryingMessageChannel(MessageChannel[MessageT_contra]):
    """Carries `StateCarryingMessage`s: the store id, the event and the aggregate as of that event."""

    message_kind: ClassVar[MessageKind] = "state-carrying"
    message_class: ClassVar[type[Any]] = StateCarryingMessage

    async def get_aggregate_and_publish_message(
        self, notification_message: NotificationMessage[str, Event], *, replay: bool = False
    ) -> StateCarryingMessage[str, Event, Any]:
        """Reads the aggregate as of the notified event from its store (one of `source_event_stores`),
        publishes the state-carrying message and returns it."""
        store_id = notification_message.event_store_id
        self.check_event_store_id(store_id)
        store = next((store for store in self.source_event_stores if store.event_store_id == store_id), None)
        if store is None:
            raise MessageChannelEventStoreNotFoundError(
                f"the {store_id!r} store is carried but was not given in source_event_stores, so its aggregates "
                "cannot be read",
                message_channel_id=self.message_channel_id,
                event_store_id=store_id,
            )
        event = notification_message.event
        found = await store.get_existing_aggregate(event.aggregate_id, max_version=event.version)
        message = StateCarryingMessage(store_id, event, found.aggregate)
        await self.publish_message(cast(MessageT_contra, message), replay=replay)
        return message


class AggregateExistsMessageChannel(MessageChannel[MessageT_contra]):
    """Carries `AggregateExistsMessage`s: that an aggregate exists, since when."""

    message_kind: ClassVar[MessageKind] = "aggregate-exists"
    message_class: ClassVar[type[Any]] = AggregateExistsMessage


class NotificationMessageBus(NotificationMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "bus"


class NotificationMessageQueue(NotificationMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "queue"


class StateCarryingMessageBus(StateCarryingMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "bus"


class StateCarryingMessageQueue(StateCarryingMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "queue"


class AggregateExistsMessageBus(AggregateExistsMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "bus"


class AggregateExistsMessageQueue(AggregateExistsMessageChannel[MessageT_contra]):
    channel_kind: ClassVar[ChannelKind] = "queue"


def _event_type_of(event_class: type[Event]) -> str:
    declared = event_class.model_fields.get("type")
    if declared is None or not isinstance(declared.default, str):
        raise TypeError(f"{event_class.__name__} is not a generated event class (it has no type literal)")
    return declared.default
