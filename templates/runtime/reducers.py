"""The base class of every generated reducer."""

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from .aggregates import Aggregate
from .errors import InvalidEventError
from .events import Event

EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)


class Reducer(ABC, Generic[EventT, AggregateT]):
    """Folds a store's events into its aggregate, one typed hook per event type.

    Generated subclasses declare the hooks and `_dispatch`; users subclass those and implement the hooks.
    """

    event_store_id: str

    def reduce(self, aggregate: AggregateT | None, event: EventT) -> AggregateT:
        """Applies one event; the result carries the event's aggregate id and version."""
        next_aggregate = self._dispatch(aggregate, event)
        if next_aggregate.aggregate_id == event.aggregate_id and next_aggregate.version == event.version:
            return next_aggregate  # the hook placed it itself
        # A copy (the hook's result may be shared, even be its input) with both fields set as
        # `model_copy(update=...)` sets them, without its handling of updates in general.
        placed = copy.copy(next_aggregate)
        vars(placed)["aggregate_id"] = event.aggregate_id
        vars(placed)["version"] = event.version
        placed.__pydantic_fields_set__.update(("aggregate_id", "version"))
        return placed

    def fold(self, events: Iterable[EventT], aggregate: AggregateT | None = None) -> AggregateT | None:
        """Applies events in order, starting from `aggregate` (no aggregate: the first must be initial)."""
        for event in events:
            aggregate = self.reduce(aggregate, event)
        return aggregate

    @abstractmethod
    def _dispatch(self, aggregate: AggregateT | None, event: EventT) -> AggregateT:
        """Calls the hook of the event's type."""


def existing_aggregate(reducer: Reducer[Any, Any], aggregate: AggregateT | None, event: Event) -> AggregateT:
    """The aggregate that a non-initial event applies to: InvalidEventError when there is none.

    Generated reducers call it before the hook of each non-initial event. Generic in the aggregate only: a
    type variable for the event would make mypy solve it against the store's whole union at every call,
    which grows with the square of the number of event types.
    """
    if aggregate is None:
        raise InvalidEventError(
            "this event needs an existing aggregate, but none was given (is the initial event missing?)",
            event_store_id=reducer.event_store_id,
            aggregate_id=event.aggregate_id,
            version=event.version,
        )
    return aggregate
