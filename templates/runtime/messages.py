"""The messages that channels carry, and the shape of the handlers that receive them."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeAlias, TypeVar

from .aggregates import Aggregate
from .events import Event

StoreIdT_co = TypeVar("StoreIdT_co", bound=str, covariant=True)
EventT_co = TypeVar("EventT_co", bound=Event, covariant=True)
AggregateT_co = TypeVar("AggregateT_co", bound=Aggregate, covariant=True)
MessageT = TypeVar("MessageT")
StoreIdT = TypeVar("StoreIdT", bound=str)
EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class NotificationMessage(Generic[StoreIdT_co, EventT_co]):
    """An event was pushed: which store, and the event."""

    event_store_id: StoreIdT_co
    event: EventT_co


@dataclass(frozen=True, slots=True)
class StateCarryingMessage(Generic[StoreIdT_co, EventT_co, AggregateT_co]):
    """An event was pushed: which store, the event, and the aggregate as of that event."""

    event_store_id: StoreIdT_co
    event: EventT_co
    aggregate: AggregateT_co


@dataclass(frozen=True, slots=True)
class AggregateExistsMessage(Generic[StoreIdT_co]):
    """An aggregate exists (sent when pouring a store's aggregate ids into a channel)."""

    event_store_id: StoreIdT_co
    aggregate_id: str
    initial_event_timestamp: datetime


Message: TypeAlias = (
    NotificationMessage[str, Event]
    | StateCarryingMessage[str, Event, Aggregate]
    | AggregateExistsMessage[str]
)
"""Any message of any channel."""


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """What a handler is told about the delivery it runs for."""

    #: 1 for the first delivery, 2 for the first retry...
    attempt_number: int
    #: How many more attempts follow if this one fails.
    retries_left: int
    #: Whether the message was published as a replay (by the pour utilities, for instance).
    replay: bool


MessageHandler: TypeAlias = Callable[[MessageT, DeliveryContext], Awaitable[None]]
"""A subscriber: called with each message it subscribed to and its delivery context."""

NotificationHandler: TypeAlias = Callable[
    [NotificationMessage[StoreIdT, EventT], DeliveryContext], Awaitable[None]
]
"""A subscriber to notification messages of one store's events."""

StateCarryingHandler: TypeAlias = Callable[
    [StateCarryingMessage[StoreIdT, EventT, AggregateT], DeliveryContext], Awaitable[None]
]
"""A subscriber to state-carrying messages of one store's events."""

AggregateExistsHandler: TypeAlias = Callable[
    [AggregateExistsMessage[StoreIdT], DeliveryContext], Awaitable[None]
]
"""A subscriber to aggregate-exists messages."""
