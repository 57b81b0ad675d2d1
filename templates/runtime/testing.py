"""Test tools: stores whose events live in memory, so tests need no database and touch none."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

from .aggregates import Aggregate
from .events import Event
from .in_memory_storage import InMemoryEventStorageAdapter
from .stores import EventStore

StoreIdT = TypeVar("StoreIdT", bound=str)
EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)


class MockedEventStore(EventStore[StoreIdT, EventT, AggregateT]):
    """A copy of an event store (same id, codec and reducer) on its own in-memory adapter.

    It starts with `initial_events`; `reset()` brings it back to them. It has no `on_event_pushed`, so a
    test's pushes trigger no side effect unless the test sets one.
    """

    def __init__(
        self, event_store: EventStore[StoreIdT, EventT, AggregateT], initial_events: Iterable[EventT] = ()
    ) -> None:
        # Stamped once, so that reset() gives back the very same events.
        created_at = datetime.now(UTC)
        self.initial_events = tuple(
            event if event.timestamp is not None else event.model_copy(update={"timestamp": created_at})
            for event in initial_events
        )
        super().__init__(
            event_store_id=event_store.event_store_id,
            codec=event_store.codec,
            initial_event_types=event_store.initial_event_types,
            reducer=event_store.reducer,
            event_storage_adapter=InMemoryEventStorageAdapter(self.initial_events),
        )

    def reset(self) -> None:
        """Forgets every event pushed since creation: the store holds its initial events again."""
        self.event_storage_adapter = InMemoryEventStorageAdapter(self.initial_events)


def mock_event_store(
    event_store: EventStore[StoreIdT, EventT, AggregateT], initial_events: Iterable[EventT] = ()
) -> MockedEventStore[StoreIdT, EventT, AggregateT]:
    """A copy of `event_store` on a fresh in-memory adapter holding `initial_events`; the original is untouched."""
    return MockedEventStore(event_store, initial_events)


def mute_event_store(
    event_store: EventStore[StoreIdT, EventT, AggregateT], initial_events: Iterable[EventT] = ()
) -> None:
    """Points `event_store` itself at a fresh in-memory adapter holding `initial_events`."""
    event_store.event_storage_adapter = InMemoryEventStorageAdapter(initial_events)
