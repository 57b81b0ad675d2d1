"""The messages that channels carry, and the shape of the handlers that receive them."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeAlias, TypeVar

from .aggregates import Aggregate
from .errors import InvalidMessageError
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

    def __post_init__(self) -> None:
        # Two comparisons keep every channel from carrying an aggregate that is not the one as of its event.
        # getattr: untyped code passing something else than an event or an aggregate gets this error too.
        event_id, event_version = (
            getattr(self.event, "aggregate_id", None),
            getattr(self.event, "version", None),
        )
        aggregate_id, version = (
            getattr(self.aggregate, "aggregate_id", None),
            getattr(self.aggregate, "version", None),
        )
        if (aggregate_id, version) != (event_id, event_version):
            raise InvalidMessageError(
                f"a state-carrying message's aggregate is {aggregate_id!r} at version {version}, but its event "
                f"is of {event_id!r} at version {event_version}: the aggregate must be the one as of its event",
                event_store_id=self.event_store_id,
            )


@dataclass(frozen=True, slots=True)
class AggregateExistsMessage(Generic[StoreIdT_co]):
    """An aggregate exists (sent when pouring a store's aggregate ids into a channel)."""

    event_store_id: StoreIdT_co
    aggregate_id: str
    initial_event_timestamp: datetime

    def __post_init__(self) -> None:
        _check_aggregate_exists(self.event_store_id, self.aggregate_id, self.initial_event_timestamp)


def _check_aggregate_exists(event_store_id: str, aggregate_id: object, timestamp: object) -> None:
    """InvalidMessageError unless the id is a str and the timestamp aware: code that type checkers do not
    see may pass anything."""
    if not isinstance(aggregate_id, str):
        raise InvalidMessageError(
            f"an aggregate-exists message's aggregate_id must be a str, got {type(aggregate_id).__name__}",
            event_store_id=event_store_id,
        )
    if not isinstance(timestamp, datetime) or timestamp.utcoffset() is None:
        raise InvalidMessageError(
            f"an aggregate-exists message's initial_event_timestamp must be an aware datetime, got {timestamp!r}",
            event_store_id=event_store_id,
        )


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
