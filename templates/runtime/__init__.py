"""Kastor runtime: the base types that every generated package shares.

These files are copied verbatim into each generated package, so an application needs nothing from
Kastor at run time, only pydantic.
"""

from .aggregates import Aggregate
from .channels import (
    AggregateExistsMessageBus,
    AggregateExistsMessageChannel,
    AggregateExistsMessageQueue,
    MessageChannel,
    MessageChannelAdapter,
    NotificationMessageBus,
    NotificationMessageChannel,
    NotificationMessageQueue,
    RetryPolicy,
    StateCarryingMessageBus,
    StateCarryingMessageChannel,
    StateCarryingMessageQueue,
    SubscribableMessageChannelAdapter,
    Subscription,
)
from .codecs import EventCodec
from .commands import Command, OnEventAlreadyExists, RetryAttempt
from .connected import ConnectedEventStore, Delivery
from .errors import (
    AggregateNotFoundError,
    EventAlreadyExistsError,
    EventDecodeError,
    EventGroupError,
    EventPublishError,
    EventStorageError,
    InvalidEventError,
    InvalidMessageError,
    InvalidPageTokenError,
    KastorError,
    MessageChannelEventStoreNotFoundError,
    PublishFailure,
    UndefinedEventStorageAdapterError,
    UndefinedMessageChannelAdapterError,
)
from .event_schemas import EventSchemas, JsonDocument
from .events import Event
from .in_memory_channels import FailedDelivery, InMemoryMessageBusAdapter, InMemoryMessageQueueAdapter
from .in_memory_storage import InMemoryEventStorageAdapter
from .limits import EventLimits, set_default_event_limits
from .maintenance import (
    PourAggregateIdsResult,
    PourEventsResult,
    pour_aggregate_events,
    pour_aggregate_ids,
    pour_event_store_events,
    pour_event_stores_events,
)
from .message_codecs import MessageCodec, MessageDecodeError
from .messages import (
    AggregateExistsHandler,
    AggregateExistsMessage,
    DeliveryContext,
    Message,
    MessageHandler,
    NotificationHandler,
    NotificationMessage,
    StateCarryingHandler,
    StateCarryingMessage,
)
from .models import ExactLiteral, Model, NotNull
from .outbox import OutboxMessage, OutboxStorage, PendingOutboxMessage
from .outbox_relay import Deduplicator, OutboxBackoff, OutboxRelay
from .postgres_storage import PostgresEventStorageAdapter
from .rabbitmq_channels import (
    MessageChannelConnectionError,
    RabbitMQMessageBusAdapter,
    RabbitMQMessageQueueAdapter,
)
from .reducers import Reducer
from .results import GetAggregateResult, GetExistingAggregateResult, ListAggregateIdsResult, PushEventResult
from .sqlite_storage import SQLiteEventStorageAdapter
from .storage import AggregateIdEntry, AggregateIdsQuery, EventsQuery, EventStorageAdapter, StorageContext
from .stores import EventStore, GroupedEvent, OnEventPushed
from .testing import MockedEventStore, mock_event_store, mute_event_store

__all__ = [
    "Aggregate",
    "AggregateExistsHandler",
    "AggregateExistsMessage",
    "AggregateExistsMessageBus",
    "AggregateExistsMessageChannel",
    "AggregateExistsMessageQueue",
    "AggregateIdEntry",
    "AggregateIdsQuery",
    "AggregateNotFoundError",
    "Command",
    "ConnectedEventStore",
    "Deduplicator",
    "Delivery",
    "DeliveryContext",
    "Event",
    "EventAlreadyExistsError",
    "EventCodec",
    "EventDecodeError",
    "EventGroupError",
    "EventLimits",
    "EventPublishError",
    "EventSchemas",
    "EventStorageAdapter",
    "EventStorageError",
    "EventStore",
    "EventsQuery",
    "ExactLiteral",
    "FailedDelivery",
    "GetAggregateResult",
    "GetExistingAggregateResult",
    "GroupedEvent",
    "InMemoryEventStorageAdapter",
    "InMemoryMessageBusAdapter",
    "InMemoryMessageQueueAdapter",
    "InvalidEventError",
    "InvalidMessageError",
    "InvalidPageTokenError",
    "JsonDocument",
    "KastorError",
    "ListAggregateIdsResult",
    "Message",
    "MessageChannel",
    "MessageChannelAdapter",
    "MessageChannelConnectionError",
    "MessageChannelEventStoreNotFoundError",
    "MessageCodec",
    "MessageDecodeError",
    "MessageHandler",
    "MockedEventStore",
    "Model",
    "NotNull",
    "NotificationHandler",
    "NotificationMessage",
    "NotificationMessageBus",
    "NotificationMessageChannel",
    "NotificationMessageQueue",
    "OnEventAlreadyExists",
    "OnEventPushed",
    "OutboxBackoff",
    "OutboxMessage",
    "OutboxRelay",
    "OutboxStorage",
    "PendingOutboxMessage",
    "PostgresEventStorageAdapter",
    "PourAggregateIdsResult",
    "PourEventsResult",
    "PublishFailure",
    "PushEventResult",
    "RabbitMQMessageBusAdapter",
    "RabbitMQMessageQueueAdapter",
    "Reducer",
    "RetryAttempt",
    "RetryPolicy",
    "SQLiteEventStorageAdapter",
    "StateCarryingHandler",
    "StateCarryingMessage",
    "StateCarryingMessageBus",
    "StateCarryingMessageChannel",
    "StateCarryingMessageQueue",
    "StorageContext",
    "SubscribableMessageChannelAdapter",
    "Subscription",
    "UndefinedEventStorageAdapterError",
    "UndefinedMessageChannelAdapterError",
    "mock_event_store",
    "mute_event_store",
    "pour_aggregate_events",
    "pour_aggregate_ids",
    "pour_event_store_events",
    "pour_event_stores_events",
    "set_default_event_limits",
]
