"""Event storage in the process's memory: for tests, prototypes and the demo. Nothing survives the process."""

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from .errors import EventAlreadyExistsError, shown, shown_value
from .events import Event
from .outbox import OutboxMessage, PendingOutboxMessage
from .storage import (
    AggregateIdEntry,
    AggregateIdsQuery,
    EventsQuery,
    EventStorageAdapter,
    StorageContext,
    check_aggregate_ids_query,
    check_events_query,
    check_events_to_push,
    event_problem,
    is_after,
    missing_previous_version,
)

EventT = TypeVar("EventT", bound=Event)


class InMemoryEventStorageAdapter(EventStorageAdapter):
    """Keeps events in dictionaries; one instance may serve several stores.

    `initial_events` seeds it: events of generated classes (which know their store), each aggregate's
    versions contiguous from 1; those without a timestamp get the time of seeding. Safe to share
    between threads.
    """

    def __init__(self, initial_events: Iterable[Event] = ()) -> None:
        # store id -> aggregate id -> events, where the event of version v sits at index v - 1.
        self._events: dict[str, dict[str, list[Event]]] = {}
        self._lock = threading.Lock()
        self._outbox: list[_OutboxEntry] = []
        seeded_at = datetime.now(UTC)
        for event in sorted(
            initial_events, key=lambda event: (event.event_store_id, event.aggregate_id, event.version)
        ):
            if event.timestamp is None:
                event = event.model_copy(update={"timestamp": seeded_at})
            # Refused as a push would be: a seeded store must hold what other adapters could hold.
            problem = event_problem(event)
            if problem is not None:
                raise ValueError(
                    f"initial event {shown(event.event_store_id)}/{shown(event.aggregate_id)} "
                    f"v{shown_value(event.version)}: {problem}"
                )
            stored = self._events.setdefault(event.event_store_id, {}).setdefault(event.aggregate_id, [])
            if event.version != len(stored) + 1:
                raise ValueError(
                    f"initial events of {event.event_store_id}/{event.aggregate_id} must have versions 1, 2, 3..."
                    f" without gaps or duplicates; found v{event.version} after v{len(stored)}"
                )
            stored.append(event)

    async def push_events(
        self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool = False
    ) -> None:
        await self.push_events_with_outbox(events, (), force=force)

    async def push_events_with_outbox(
        self,
        events: Sequence[tuple[StorageContext[Any], Event]],
        outbox: Sequence[OutboxMessage],
        *,
        force: bool = False,
    ) -> None:
        check_events_to_push(events)
        with self._lock:
            self._check(events, force=force)
            for message in outbox:
                self._outbox.append(_OutboxEntry(len(self._outbox) + 1, message))
            for context, event in events:
                stored = self._events.setdefault(context.event_store_id, {}).setdefault(
                    event.aggregate_id, []
                )
                if event.version <= len(stored):
                    stored[event.version - 1] = event
                else:
                    stored.append(event)

    def _check(self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool) -> None:
        """Raises what storing the events would break, before anything is changed (atomicity)."""
        lengths: dict[tuple[str, str], int] = {}
        for context, event in events:
            key = (context.event_store_id, event.aggregate_id)
            if key not in lengths:
                lengths[key] = len(self._events.get(key[0], {}).get(key[1], ()))
            if event.version <= lengths[key]:
                if not force:
                    raise EventAlreadyExistsError(
                        event_store_id=key[0], aggregate_id=event.aggregate_id, version=event.version
                    )
            elif event.version == lengths[key] + 1:
                lengths[key] = event.version
            else:
                raise missing_previous_version(context, event)

    async def get_events(
        self, context: StorageContext[EventT], aggregate_id: str, query: EventsQuery
    ) -> list[EventT]:
        check_events_query(context, aggregate_id, query)
        with self._lock:
            stored = self._events.get(context.event_store_id, {}).get(aggregate_id, [])
            # Versions are contiguous from 1, so version bounds are list bounds.
            start = 0 if query.min_version is None else max(query.min_version - 1, 0)
            stop = len(stored) if query.max_version is None else max(min(query.max_version, len(stored)), 0)
            if query.limit is not None and not query.reverse:
                stop = min(stop, start + query.limit)  # a page copies only itself
            selected = stored[start:stop]
        if query.reverse:
            selected.reverse()
        if query.limit is not None:
            selected = selected[: query.limit]
        # The store only ever stores events of its own codec under its id.
        return cast(list[EventT], selected)

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        check_aggregate_ids_query(context, query)
        with self._lock:
            aggregates = self._events.get(context.event_store_id, {})
            entries = [
                AggregateIdEntry(aggregate_id, _timestamp(events[0]))
                for aggregate_id, events in aggregates.items()
                if events
            ]
        if query.initial_event_after is not None:
            entries = [
                entry for entry in entries if entry.initial_event_timestamp >= query.initial_event_after
            ]
        if query.initial_event_before is not None:
            entries = [
                entry for entry in entries if entry.initial_event_timestamp <= query.initial_event_before
            ]
        entries.sort(
            key=lambda entry: (entry.initial_event_timestamp, entry.aggregate_id), reverse=query.reverse
        )
        if query.start_after is not None:
            cursor = query.start_after
            entries = [entry for entry in entries if is_after(entry, cursor, reverse=query.reverse)]
        return entries if query.limit is None else entries[: query.limit]

    # -- outbox ------------------------------------------------------------------------------------------

    async def claim_outbox_messages(
        self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingOutboxMessage]:
        claimed: list[PendingOutboxMessage] = []
        with self._lock:
            heads: set[tuple[str, str, str]] = set()
            for entry in sorted(self._pending(), key=lambda entry: entry.message.version):
                key = (
                    entry.message.message_channel_id,
                    entry.message.event_store_id,
                    entry.message.aggregate_id,
                )
                if key in heads:
                    continue  # a lower version of this aggregate is still pending: it goes first
                heads.add(key)
                leased = entry.claimed_until is not None and entry.claimed_until > now
                waiting = entry.retry_at is not None and entry.retry_at > now
                if leased or waiting or len(claimed) == limit:
                    continue
                entry.claimed_by, entry.claimed_until = relay_id, now + lease
                claimed.append(PendingOutboxMessage(entry.id, entry.message, entry.attempts))
        return claimed

    async def complete_outbox_message(self, message_id: int, *, relay_id: str) -> None:
        with self._lock:
            entry = self._outbox[message_id - 1]
            if entry.claimed_by == relay_id:
                entry.done = True

    async def fail_outbox_message(
        self, message_id: int, *, relay_id: str, retry_at: datetime, error: str
    ) -> None:
        with self._lock:
            entry = self._outbox[message_id - 1]
            if entry.claimed_by == relay_id:
                entry.attempts += 1
                entry.retry_at, entry.claimed_by, entry.claimed_until, entry.last_error = (
                    retry_at,
                    None,
                    None,
                    error,
                )

    async def count_pending_outbox_messages(self) -> int:
        with self._lock:
            return sum(1 for _ in self._pending())

    def _pending(self) -> Iterator["_OutboxEntry"]:
        return (entry for entry in self._outbox if not entry.done)


def _timestamp(event: Event) -> datetime:
    if event.timestamp is None:  # the store sets timestamps before pushing, and seeds are checked
        raise AssertionError(f"stored event {event.aggregate_id} v{event.version} has no timestamp")
    return event.timestamp


@dataclass(slots=True)
class _OutboxEntry:
    id: int
    message: OutboxMessage
    done: bool = False
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    retry_at: datetime | None = None
    last_error: str | None = None
