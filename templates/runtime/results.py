"""What event store calls return."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from .aggregates import Aggregate
from .events import Event
from .storage import AggregateIdEntry

EventT_co = TypeVar("EventT_co", bound=Event, covariant=True)
AggregateT_co = TypeVar("AggregateT_co", bound=Aggregate, covariant=True)


@dataclass(frozen=True, slots=True)
class PushEventResult(Generic[EventT_co, AggregateT_co]):
    """The stored event (timestamp set) and, when it could be computed without a read, the next aggregate.

    `next_aggregate` is set iff the push was given `prev_aggregate` or the event is initial (version 1).
    """

    event: EventT_co
    next_aggregate: AggregateT_co | None = None


@dataclass(frozen=True, slots=True)
class GetAggregateResult(Generic[EventT_co, AggregateT_co]):
    """An aggregate folded from its events; all three are None or empty when it has no event."""

    aggregate: AggregateT_co | None
    events: list[EventT_co]
    last_event: EventT_co | None


@dataclass(frozen=True, slots=True)
class GetExistingAggregateResult(Generic[EventT_co, AggregateT_co]):
    """An aggregate known to exist, folded from its events."""

    aggregate: AggregateT_co
    events: list[EventT_co]
    last_event: EventT_co


@dataclass(frozen=True, slots=True)
class ListAggregateIdsResult:
    """One page of aggregate ids; pass `next_page_token` back for the next page (None: this was the last)."""

    aggregate_ids: list[AggregateIdEntry]
    next_page_token: str | None = None
