"""The event store: pushes events through its storage adapter and rebuilds aggregates with its reducer."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Generic, TypeAlias, TypeVar, overload

from .aggregates import Aggregate
from .codecs import EventCodec
from .errors import (
    AggregateNotFoundError,
    EventDecodeError,
    EventGroupError,
    InvalidEventError,
    UndefinedEventStorageAdapterError,
    shown,
)
from .events import Event
from .limits import MAX_LIMIT, MAX_VERSION
from .outbox import OutboxMessage, OutboxStorage
from .paging import encode_page_token, resolve_query
from .reducers import Reducer
from .results import GetAggregateResult, GetExistingAggregateResult, ListAggregateIdsResult, PushEventResult
from .storage import EventsQuery, EventStorageAdapter, StorageContext, check_integer
from .timestamps import require_aware

StoreIdT = TypeVar("StoreIdT", bound=str)
EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)
E1 = TypeVar("E1", bound=Event)
A1 = TypeVar("A1", bound=Aggregate)
E2 = TypeVar("E2", bound=Event)
A2 = TypeVar("A2", bound=Aggregate)
E3 = TypeVar("E3", bound=Event)
A3 = TypeVar("A3", bound=Aggregate)

OnEventPushed: TypeAlias = Callable[[PushEventResult[EventT, AggregateT]], Awaitable[None]]
"""A callback awaited after each successful push of a store, with the push's result."""


@dataclass(frozen=True, slots=True)
class GroupedEvent(Generic[EventT, AggregateT]):
    """An event bound to its store, waiting to be pushed with others by `EventStore.push_event_group`."""

    event_store: "EventStore[Any, EventT, AggregateT]"
    event: EventT
    prev_aggregate: AggregateT | None = None


class EventStore(Generic[StoreIdT, EventT, AggregateT]):
    """The events of one kind of aggregate: generated stores (`PokemonsEventStore`) subclass it.

    Every push is validated before anything is stored: the event must be one of this store's, valid
    against its schema, initial iff its version is 1, and follow `prev_aggregate` when one is given.
    """

    def __init__(
        self,
        *,
        event_store_id: StoreIdT,
        codec: EventCodec[EventT],
        initial_event_types: Iterable[str],
        reducer: Reducer[EventT, AggregateT],
        event_storage_adapter: EventStorageAdapter | None = None,
        on_event_pushed: OnEventPushed[EventT, AggregateT] | None = None,
    ) -> None:
        self.event_store_id: StoreIdT = event_store_id
        self.codec = codec
        self.initial_event_types = frozenset(initial_event_types)
        self.reducer = reducer
        self._on_event_pushed = on_event_pushed
        self._event_storage_adapter = event_storage_adapter
        self._context = StorageContext(event_store_id, codec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_store_id={self.event_store_id!r})"

    @property
    def event_storage_adapter(self) -> EventStorageAdapter | None:
        """Where the events are kept; set it (or pass it to the constructor) before any read or push."""
        return self._event_storage_adapter

    @event_storage_adapter.setter
    def event_storage_adapter(self, adapter: EventStorageAdapter | None) -> None:
        self._event_storage_adapter = adapter

    @property
    def on_event_pushed(self) -> OnEventPushed[EventT, AggregateT] | None:
        """Awaited with the result after each successful push (single or grouped); settable."""
        return self._on_event_pushed

    @on_event_pushed.setter
    def on_event_pushed(self, callback: OnEventPushed[EventT, AggregateT] | None) -> None:
        self._on_event_pushed = callback

    def get_event_storage_adapter(self) -> EventStorageAdapter:
        """The storage adapter; raises UndefinedEventStorageAdapterError when none is set."""
        if self._event_storage_adapter is None:
            raise UndefinedEventStorageAdapterError(event_store_id=self.event_store_id)
        return self._event_storage_adapter

    # -- writing --------------------------------------------------------------------------------------

    async def push_event(
        self, event: EventT, *, prev_aggregate: AggregateT | None = None, force: bool = False
    ) -> PushEventResult[EventT, AggregateT]:
        """Stores one event, then awaits `on_event_pushed`.

        Raises InvalidEventError (nothing stored) when the event breaks the store's rules, and
        EventAlreadyExistsError when its version is already stored (unless `force`, which overwrites it).
        """
        adapter = self.get_event_storage_adapter()
        result = self._prepare(event, prev_aggregate, datetime.now(UTC))
        await _store(
            adapter, [(self._context, result.event)], await self._outbox_messages(result), force=force
        )
        await self._event_pushed(result)
        return result

    def group_event(
        self, event: EventT, *, prev_aggregate: AggregateT | None = None
    ) -> GroupedEvent[EventT, AggregateT]:
        """Binds an event to this store, to be pushed atomically with others by `push_event_group`."""
        return GroupedEvent(self, event, prev_aggregate)

    @overload
    @staticmethod
    async def push_event_group(
        grouped_1: GroupedEvent[E1, A1], /, *, force: bool = False
    ) -> tuple[PushEventResult[E1, A1]]: ...

    @overload
    @staticmethod
    async def push_event_group(
        grouped_1: GroupedEvent[E1, A1], grouped_2: GroupedEvent[E2, A2], /, *, force: bool = False
    ) -> tuple[PushEventResult[E1, A1], PushEventResult[E2, A2]]: ...

    @overload
    @staticmethod
    async def push_event_group(
        grouped_1: GroupedEvent[E1, A1],
        grouped_2: GroupedEvent[E2, A2],
        grouped_3: GroupedEvent[E3, A3],
        /,
        *,
        force: bool = False,
    ) -> tuple[PushEventResult[E1, A1], PushEventResult[E2, A2], PushEventResult[E3, A3]]: ...

    @overload
    @staticmethod
    async def push_event_group(
        *grouped_events: GroupedEvent[Any, Any], force: bool = False
    ) -> tuple[PushEventResult[Any, Any], ...]: ...

    @staticmethod
    async def push_event_group(
        *grouped_events: GroupedEvent[Any, Any], force: bool = False
    ) -> tuple[PushEventResult[Any, Any], ...]:
        """Stores events of one or several stores all together or not at all, then awaits the
        `on_event_pushed` of each event's store, in order.

        Every store of the group must use the same storage adapter. Events without a timestamp share one.
        """
        if not grouped_events:
            return ()
        adapter = _common_adapter(grouped_events)
        now = datetime.now(UTC)
        results = tuple(
            grouped.event_store._prepare(grouped.event, grouped.prev_aggregate, now)
            for grouped in grouped_events
        )
        outbox: list[OutboxMessage] = []
        # The aggregates this group computes, so that a later version of one aggregate builds on them.
        computed: dict[tuple[str, str], Any] = {}
        for grouped, result in zip(grouped_events, results, strict=True):
            store, event = grouped.event_store, result.event
            key = (store.event_store_id, event.aggregate_id)
            previous = computed.get(key)
            if previous is not None and previous.version != event.version - 1:
                previous = None
            outbox.extend(await store._outbox_messages(result, previous))
            after = result.next_aggregate
            if after is None and previous is not None:
                after = store.reducer.reduce(previous, event)
            computed[key] = after
        events = [
            (grouped.event_store._context, result.event)
            for grouped, result in zip(grouped_events, results, strict=True)
        ]
        await _store(adapter, events, outbox, force=force)
        await EventStore._run_callbacks(grouped_events, results)
        return results

    @staticmethod
    async def _run_callbacks(
        grouped_events: Sequence[GroupedEvent[Any, Any]], results: Sequence[PushEventResult[Any, Any]]
    ) -> None:
        """Awaits each store's callback in group order; one failing does not deprive the others of theirs.

        The first failure is raised once all have run, with the others named in its notes.
        """
        failures: list[tuple[int, BaseException]] = []
        for index, (grouped, result) in enumerate(zip(grouped_events, results, strict=True)):
            try:
                await grouped.event_store._event_pushed(result)
            except Exception as error:
                failures.append((index, error))
        if failures:
            first = failures[0][1]
            for index, other in failures[1:]:
                first.add_note(f"on_event_pushed of grouped event #{index} also failed: {other!r}")
            raise first

    def _prepare(
        self, event: EventT, prev_aggregate: AggregateT | None, now: datetime
    ) -> PushEventResult[EventT, AggregateT]:
        """Validates the event (timestamp defaulted to `now`) and computes the next aggregate if it can."""
        validated = self.codec.validate(event, default_timestamp=now)
        initial = validated.type in self.initial_event_types
        if initial and validated.version != 1:
            raise self._invalid(validated, f"{validated.type} is an initial event: its version must be 1")
        if not initial and validated.version == 1:
            raise self._invalid(
                validated,
                f"{validated.type} is not an initial event, so its version cannot be 1 "
                f"(initial events: {', '.join(sorted(self.initial_event_types)) or 'none'})",
            )
        if prev_aggregate is not None and (
            prev_aggregate.aggregate_id != validated.aggregate_id
            or prev_aggregate.version != validated.version - 1
        ):
            raise self._invalid(
                validated,
                f"prev_aggregate is {prev_aggregate.aggregate_id!r} at version {prev_aggregate.version}, "
                f"but the event needs {validated.aggregate_id!r} at version {validated.version - 1}",
            )
        if prev_aggregate is None and not initial:
            return PushEventResult(validated, None)
        return PushEventResult(validated, self.reducer.reduce(prev_aggregate, validated))

    def _invalid(self, event: EventT, message: str) -> InvalidEventError:
        return InvalidEventError(
            message,
            event_store_id=self.event_store_id,
            aggregate_id=event.aggregate_id,
            version=event.version,
        )

    async def _outbox_messages(
        self, result: PushEventResult[EventT, AggregateT], previous: AggregateT | None = None
    ) -> list[OutboxMessage]:
        """The messages to store with the event (connected stores with outbox delivery have some);
        `previous`, when known, is the aggregate just before the event."""
        return []

    async def _event_pushed(self, result: PushEventResult[EventT, AggregateT]) -> None:
        if self.on_event_pushed is not None:
            await self.on_event_pushed(result)

    # -- reading --------------------------------------------------------------------------------------

    async def get_events(
        self,
        aggregate_id: str,
        *,
        min_version: int | None = None,
        max_version: int | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> list[EventT]:
        """The aggregate's events with versions between the bounds (inclusive), in version order (newest
        first if `reverse`), at most `limit` of them, counted after ordering.

        Bounds are from 0 to MAX_VERSION, the limit from 0 to MAX_LIMIT, and the aggregate id one that
        storages hold: else ValueError naming the argument (the adapter checks them, see storage.py).
        Raises EventDecodeError when a stored event cannot be read, or when the events read are not a
        history that pushes could have stored (a version missing, an initial event not at version 1).
        """
        query = EventsQuery(min_version, max_version, reverse, limit)
        events = await self.get_event_storage_adapter().get_events(self._context, aggregate_id, query)
        _check_history(self.event_store_id, self.initial_event_types, aggregate_id, events, query)
        return events

    async def iter_events(
        self,
        aggregate_id: str,
        *,
        min_version: int | None = None,
        max_version: int | None = None,
        page_size: int = 1_000,
    ) -> AsyncIterator[EventT]:
        """The aggregate's events in version order, read `page_size` at a time: however long the stream,
        no more than one page of it is held at once. Bounds are inclusive, as in `get_events`."""
        check_integer(shown(self.event_store_id), "page_size", page_size, 1, MAX_LIMIT)
        next_version = min_version
        while True:
            page = await self.get_events(
                aggregate_id, min_version=next_version, max_version=max_version, limit=page_size
            )
            for event in page:
                yield event
            if len(page) < page_size or page[-1].version == MAX_VERSION:  # no version follows the highest
                return
            next_version = page[-1].version + 1
            del page  # not held while the next page is read

    async def get_aggregate(
        self, aggregate_id: str, *, max_version: int | None = None
    ) -> GetAggregateResult[EventT, AggregateT]:
        """The aggregate folded from its events up to `max_version` (all of them by default)."""
        events = await self.get_events(aggregate_id, max_version=max_version)
        aggregate = self.build_aggregate(events)
        return GetAggregateResult(aggregate, events, events[-1] if events else None)

    async def get_existing_aggregate(
        self, aggregate_id: str, *, max_version: int | None = None
    ) -> GetExistingAggregateResult[EventT, AggregateT]:
        """Like `get_aggregate`, but raises AggregateNotFoundError when the aggregate has no event."""
        result = await self.get_aggregate(aggregate_id, max_version=max_version)
        if result.aggregate is None or result.last_event is None:
            raise AggregateNotFoundError(event_store_id=self.event_store_id, aggregate_id=aggregate_id)
        return GetExistingAggregateResult(result.aggregate, result.events, result.last_event)

    async def list_aggregate_ids(
        self,
        *,
        limit: int | None = None,
        page_token: str | None = None,
        initial_event_after: datetime | None = None,
        initial_event_before: datetime | None = None,
        reverse: bool | None = None,
    ) -> ListAggregateIdsResult:
        """The store's aggregates ordered by the timestamp of their initial event (then by id).

        Bounds are inclusive. With `limit`, a `next_page_token` is returned while more remain; it carries
        the query, so the next call needs only the token (options given explicitly override it).
        """
        adapter = self.get_event_storage_adapter()
        query = resolve_query(
            self.event_store_id,
            page_token,
            limit=limit,
            initial_event_after=initial_event_after,
            initial_event_before=initial_event_before,
            reverse=reverse,
        )
        # One entry more than asked for tells whether another page follows (a page of MAX_LIMIT entries,
        # which no memory holds anyway, is the last).
        fetched = await adapter.list_aggregate_ids(
            self._context,
            replace(query, limit=None if query.limit is None else min(query.limit + 1, MAX_LIMIT)),
        )
        if query.limit is None or len(fetched) <= query.limit:
            return ListAggregateIdsResult(fetched, None)
        page = fetched[: query.limit]
        return ListAggregateIdsResult(page, encode_page_token(self.event_store_id, query, page[-1]))

    # -- folding --------------------------------------------------------------------------------------

    def build_aggregate(
        self, events: Iterable[EventT], aggregate: AggregateT | None = None
    ) -> AggregateT | None:
        """Folds events with the store's reducer, starting from `aggregate` (or from nothing)."""
        return self.reducer.fold(events, aggregate)

    def simulate_aggregate(
        self, events: Sequence[EventT], *, simulation_date: datetime | None = None
    ) -> AggregateT | None:
        """The aggregate that these events would give, as of `simulation_date` (default: all of them).

        Events are deduplicated by version (the later one wins), those after the simulation date dropped,
        the rest ordered by timestamp and renumbered 1, 2, 3... before folding. An event without a
        timestamp counts as happening now. A naive `simulation_date` raises ValueError.
        """
        now = datetime.now(UTC)
        by_version = {event.version: event for event in events}
        timed = [(event.timestamp or now, event) for event in by_version.values()]
        if simulation_date is not None:
            cut_off = require_aware("simulation_date", simulation_date)
            timed = [(timestamp, event) for timestamp, event in timed if timestamp <= cut_off]
        timed.sort(key=lambda pair: pair[0])
        renumbered = [
            event.model_copy(update={"version": index}) for index, (_, event) in enumerate(timed, start=1)
        ]
        return self.build_aggregate(renumbered)


async def _store(
    adapter: EventStorageAdapter,
    events: Sequence[tuple[StorageContext[Any], Event]],
    outbox: Sequence[OutboxMessage],
    *,
    force: bool,
) -> None:
    if not outbox:
        await adapter.push_events(events, force=force)
        return
    if not isinstance(adapter, OutboxStorage):
        raise TypeError(
            f"outbox delivery needs a storage adapter that keeps an outbox, not {type(adapter).__name__}"
        )
    await adapter.push_events_with_outbox(events, outbox, force=force)


def _common_adapter(grouped_events: Sequence[GroupedEvent[Any, Any]]) -> EventStorageAdapter:
    adapters = [grouped.event_store.get_event_storage_adapter() for grouped in grouped_events]
    first = adapters[0]
    for index, adapter in enumerate(adapters[1:], start=1):
        if adapter is not first:
            raise EventGroupError(
                f"grouped event #{index} ({grouped_events[index].event_store.event_store_id}) uses another storage "
                f"adapter than grouped event #0 ({grouped_events[0].event_store.event_store_id}): a group is "
                "stored atomically, so all its stores must share one adapter"
            )
    return first


_version_of = attrgetter("version")
_type_of = attrgetter("type")


def _check_history(
    event_store_id: str,
    initial_event_types: frozenset[str],
    aggregate_id: str,
    events: Sequence[Event],
    query: EventsQuery,
) -> None:
    """Raises EventDecodeError unless the events read could have been pushed: versions that follow each
    other from 1 (from `min_version` on, when given), an initial event at version 1 and nowhere else.

    A push cannot store anything else, but a row deleted or written by hand can. Every read (get_aggregate,
    iter_events, the pours) goes through get_events, so such a history is reported, never folded into a
    wrong aggregate. The normal path is a comparison of lists and a set test, both in C.
    """
    if not events:
        return
    count = len(events)
    lowest = 1 if query.min_version is None else max(query.min_version, 1)
    versions = list(map(_version_of, events))
    if query.reverse:
        highest = versions[0]
        # A reverse read goes down to `lowest`, unless its limit stopped it above.
        possible = versions == list(range(highest, highest - count, -1)) and (
            versions[-1] == lowest or count == query.limit
        )
    else:
        possible = versions == list(range(lowest, lowest + count))
    if not possible:
        reaches_lowest = not query.reverse or count != query.limit
        ascending = events[::-1] if query.reverse else events
        raise _missing_versions(event_store_id, aggregate_id, ascending, lowest if reaches_lowest else None)
    oldest = events[-1] if query.reverse else events[0]
    if oldest.version == 1 and oldest.type not in initial_event_types:
        raise _impossible_history(
            event_store_id,
            aggregate_id,
            oldest,
            f"{oldest.type} is not an initial event, so its version cannot be 1 "
            f"(initial events: {', '.join(sorted(initial_event_types)) or 'none'})",
        )
    # The initial event stands at version 1 only: one initial event among them if version 1 was read, none
    # otherwise. Counted in C; the events are walked in Python only to name one that breaks the rule.
    expected_initial = 1 if oldest.version == 1 else 0
    if sum(map(initial_event_types.__contains__, map(_type_of, events))) != expected_initial:
        for event in reversed(events) if query.reverse else events:
            if event.version != 1 and event.type in initial_event_types:
                raise _impossible_history(
                    event_store_id,
                    aggregate_id,
                    event,
                    f"{event.type} is an initial event, so its version should be 1",
                )


def _missing_versions(
    event_store_id: str, aggregate_id: str, ascending: Sequence[Event], lowest: int | None
) -> EventDecodeError:
    """The error for versions that do not follow each other, at the first event out of place (`ascending`
    in version order; `lowest`, if known, the version the first of them should have)."""
    if lowest is not None and ascending[0].version < lowest:  # only an adapter of its own can read it
        return _impossible_history(
            event_store_id, aggregate_id, ascending[0], f"version {ascending[0].version} is below {lowest}"
        )
    previous = ascending[0].version - 1 if lowest is None else lowest - 1
    for event in ascending:
        if event.version > previous + 1:
            first, last = previous + 1, event.version - 1
            missing = (
                f"version {first} is missing" if first == last else f"versions {first} to {last} are missing"
            )
            return _impossible_history(event_store_id, aggregate_id, event, missing)
        if event.version <= previous:  # the same, or out of order: again only an adapter of its own
            return _impossible_history(
                event_store_id, aggregate_id, event, f"version {event.version} comes after version {previous}"
            )
        previous = event.version
    return _impossible_history(event_store_id, aggregate_id, ascending[-1], "versions are out of order")


def _impossible_history(
    event_store_id: str, aggregate_id: str, event: Event, problem: str
) -> EventDecodeError:
    return EventDecodeError(
        f"invalid stored history: {problem}",
        event_store_id=event_store_id,
        aggregate_id=aggregate_id,
        version=event.version,
    )
