"""Data maintenance (Castore's "dam"): pour stored aggregates and events into a message channel again.

Each `pour_...` function reads what a store holds and publishes it to a channel as a replay
(`replay=True`), so that only subscribers that opt in to replays receive it: rebuilding a read model,
feeding a new consumer, migrating data. A pour can be rate limited to spare production traffic, and
returns what it poured (a count, and the first and last item, to resume an interrupted pour from).

Before anything is read or published, a pour checks its arguments: the kind of channel (TypeError),
that the channel carries every store poured (MessageChannelEventStoreNotFoundError) and has an adapter,
that time bounds are aware datetimes and that `rate_limit` and `page_size` are positive (ValueError).
If publishing fails midway, the error propagates with a note saying how much was poured before it.
"""

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar

from .aggregates import Aggregate
from .channels import (
    AggregateExistsMessageChannel,
    MessageChannel,
    NotificationMessageChannel,
    StateCarryingMessageChannel,
)
from .errors import EventDecodeError
from .events import Event
from .limits import MAX_LIMIT
from .messages import AggregateExistsMessage, NotificationMessage, StateCarryingMessage
from .storage import AggregateIdEntry, check_integer
from .stores import EventStore
from .timestamps import require_aware

StoreIdT = TypeVar("StoreIdT", bound=str)
EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)
EventT_co = TypeVar("EventT_co", bound=Event, covariant=True)

Sleep: TypeAlias = Callable[[float], Awaitable[None]]
"""Waits that many seconds (`asyncio.sleep` unless a test injects another)."""
Clock: TypeAlias = Callable[[], float]
"""Seconds on a monotonic clock (`time.monotonic` unless a test injects another)."""

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PourAggregateIdsResult:
    """What `pour_aggregate_ids` poured: how many aggregates, the first and the last (None if none)."""

    poured_aggregate_id_count: int
    first_scanned_aggregate: AggregateIdEntry | None
    last_scanned_aggregate: AggregateIdEntry | None


@dataclass(frozen=True, slots=True)
class PourEventsResult(Generic[EventT_co]):
    """What an event pour poured: how many events, the first and the last in pour order (None if none)."""

    poured_event_count: int
    first_scanned_event: EventT_co | None
    last_scanned_event: EventT_co | None


# -- pours ---------------------------------------------------------------------------------------------


async def pour_aggregate_ids(
    event_store: EventStore[StoreIdT, Any, Any],
    message_channel: AggregateExistsMessageChannel[AggregateExistsMessage[StoreIdT]],
    *,
    initial_event_after: datetime | None = None,
    initial_event_before: datetime | None = None,
    rate_limit: float | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> PourAggregateIdsResult:
    """Publishes `AggregateExistsMessage(event_store_id, aggregate_id, initial_event_timestamp)` for each
    aggregate of the store whose initial event is within the bounds (inclusive), as a replay.

    Aggregates are poured in `list_aggregate_ids` order (initial event timestamp, then id), read
    `page_size` at a time: memory holds one page. `rate_limit` is the most messages per second (None:
    as fast as the channel takes them). The channel must be an aggregate-exists channel (TypeError).
    """
    _check_aggregate_exists_channel(message_channel)
    after = _aware("initial_event_after", initial_event_after)
    before = _aware("initial_event_before", initial_event_before)
    _check_page_size(page_size)
    pourer: _Pourer[AggregateIdEntry] = _Pourer(message_channel, _Throttle(rate_limit, sleep, clock))
    pourer.check_carried([event_store])

    async def pour() -> None:
        page_token: str | None = None
        while True:
            page = await event_store.list_aggregate_ids(
                limit=page_size,
                page_token=page_token,
                initial_event_after=after,
                initial_event_before=before,
            )
            for entry in page.aggregate_ids:
                message = AggregateExistsMessage(
                    event_store.event_store_id, entry.aggregate_id, entry.initial_event_timestamp
                )
                await pourer.publish(message, entry)
            page_token = page.next_page_token
            if page_token is None:
                return

    await pourer.run(pour())
    return PourAggregateIdsResult(pourer.count, pourer.first, pourer.last)


async def pour_aggregate_events(
    event_store: EventStore[StoreIdT, EventT, AggregateT],
    aggregate_id: str,
    message_channel: NotificationMessageChannel[NotificationMessage[StoreIdT, EventT]]
    | StateCarryingMessageChannel[StateCarryingMessage[StoreIdT, EventT, AggregateT]],
    *,
    min_version: int | None = None,
    max_version: int | None = None,
    rate_limit: float | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> PourEventsResult[EventT]:
    """Publishes each event of one aggregate with a version within the bounds (inclusive), in version
    order, as a replay.

    On a notification channel each message is `NotificationMessage(event_store_id, event)`; on a
    state-carrying channel `StateCarryingMessage(event_store_id, event, aggregate)` with the aggregate as
    of that event (folded once from version 1, so the events before `min_version` are read too). An
    aggregate without events pours nothing. Memory holds the aggregate's events up to `max_version`.
    """
    pourer: _Pourer[EventT] = _Pourer(message_channel, _Throttle(rate_limit, sleep, clock))
    state_carrying = _check_event_channel(message_channel, "pour_aggregate_events")
    pourer.check_carried([event_store])
    store_id = event_store.event_store_id

    async def pour() -> None:
        if not state_carrying:
            events = await event_store.get_events(
                aggregate_id, min_version=min_version, max_version=max_version
            )
            for event in events:
                await pourer.publish(NotificationMessage(store_id, event), event)
            return
        aggregate: AggregateT | None = None
        for event in await event_store.get_events(aggregate_id, max_version=max_version):
            aggregate = event_store.reducer.reduce(aggregate, event)
            if min_version is None or event.version >= min_version:
                await pourer.publish(StateCarryingMessage(store_id, event, aggregate), event)

    await pourer.run(pour())
    return PourEventsResult(pourer.count, pourer.first, pourer.last)


async def pour_event_store_events(
    event_store: EventStore[StoreIdT, EventT, AggregateT],
    message_channel: NotificationMessageChannel[NotificationMessage[StoreIdT, EventT]]
    | StateCarryingMessageChannel[StateCarryingMessage[StoreIdT, EventT, AggregateT]],
    *,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    rate_limit: float | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> PourEventsResult[EventT]:
    """Publishes every event of the store whose timestamp is within the bounds (inclusive), in timestamp
    order (ties: aggregate id, then version), as a replay.

    Messages are built as by `pour_aggregate_events`. Ordering, memory and the reading of aggregates
    `page_size` at a time are those of `pour_event_stores_events`, which this is for one store.
    """
    pourer: _Pourer[EventT] = _Pourer(message_channel, _Throttle(rate_limit, sleep, clock))
    await _pour_events(
        "pour_event_store_events", [event_store], pourer, from_timestamp, to_timestamp, page_size
    )
    return PourEventsResult(pourer.count, pourer.first, pourer.last)


async def pour_event_stores_events(
    event_stores: Sequence[EventStore[Any, Any, Any]],
    message_channel: NotificationMessageChannel[Any] | StateCarryingMessageChannel[Any],
    *,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    rate_limit: float | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> PourEventsResult[Event]:
    """Publishes every event of several stores whose timestamp is within the bounds (inclusive), merged
    in timestamp order (ties: store id, aggregate id, version), as a replay.

    Messages are built as by `pour_aggregate_events` (state-carrying aggregates are folded along, one
    reduce per event). The channel must carry every store (checked before anything is read); a store
    given twice is a ValueError.

    Each store's aggregates are listed `page_size` at a time, in order of their initial event (those
    whose initial event is after `to_timestamp` are skipped), and all events of a listed aggregate are
    read. An event is published once no aggregate still unread can precede it: unread aggregates begin
    after the last listed one, and an aggregate's events never come before its initial event. So memory
    holds the events read but not yet due, plus, on a state-carrying channel, the current aggregate of
    each aggregate with events waiting. With short-lived aggregates that is about a page; in the worst
    case (aggregates that all begin early and live long) it is every event in the bounds. Only the ids
    of one page per store are held at a time.

    An event stamped earlier than a previous version of its aggregate (possible only with explicit
    timestamps) is poured right after that version, so that each aggregate's events keep their version
    order; the time bounds apply to its own timestamp.
    """
    pourer: _Pourer[Event] = _Pourer(message_channel, _Throttle(rate_limit, sleep, clock))
    await _pour_events(
        "pour_event_stores_events", event_stores, pourer, from_timestamp, to_timestamp, page_size
    )
    return PourEventsResult(pourer.count, pourer.first, pourer.last)


async def _pour_events(
    function: str,
    event_stores: Sequence[EventStore[Any, Any, Any]],
    pourer: "_Pourer[Any]",
    from_timestamp: datetime | None,
    to_timestamp: datetime | None,
    page_size: int,
) -> None:
    state_carrying = _check_event_channel(pourer.message_channel, function)
    start = _aware("from_timestamp", from_timestamp)
    end = _aware("to_timestamp", to_timestamp)
    _check_page_size(page_size)
    seen: set[str] = set()
    for store in event_stores:
        if store.event_store_id in seen:
            raise ValueError(f"{function}: the {store.event_store_id} store is given twice")
        seen.add(store.event_store_id)
    pourer.check_carried(event_stores)
    await pourer.run(_Merger(event_stores, pourer, state_carrying, start, end, page_size).pour())


# -- internals -----------------------------------------------------------------------------------------


class _Throttle:
    """Spaces the starts of publishes at least `1 / rate_limit` seconds apart."""

    def __init__(self, rate_limit: float | None, sleep: Sleep, clock: Clock) -> None:
        if rate_limit is not None and not rate_limit > 0:  # `not >` also refuses NaN
            raise ValueError(f"rate_limit must be a positive number of messages per second, got {rate_limit}")
        self._interval = None if rate_limit is None else 1 / rate_limit
        self._sleep = sleep
        self._clock = clock
        self._next_start: float | None = None

    async def wait(self) -> None:
        if self._interval is None:
            return
        if self._next_start is not None:
            delay = self._next_start - self._clock()
            if delay > 0:
                await self._sleep(delay)
        self._next_start = self._clock() + self._interval


ItemT = TypeVar("ItemT")


class _Pourer(Generic[ItemT]):
    """Publishes replays through the throttle and keeps the count and the first and last item poured."""

    def __init__(self, message_channel: MessageChannel[Any], throttle: _Throttle) -> None:
        self.message_channel = message_channel
        self.throttle = throttle
        self.count = 0
        self.first: ItemT | None = None
        self.last: ItemT | None = None

    def check_carried(self, event_stores: Sequence[EventStore[Any, Any, Any]]) -> None:
        for store in event_stores:
            self.message_channel.check_event_store_id(store.event_store_id)
        self.message_channel.get_message_channel_adapter()

    async def publish(self, message: Any, item: ItemT) -> None:
        await self.throttle.wait()
        await self.message_channel.publish_message(message, replay=True)
        self.count += 1
        if self.first is None:
            self.first = item
        self.last = item

    async def run(self, pour: Awaitable[None]) -> None:
        try:
            await pour
        except Exception as error:
            error.add_note(
                f"the pour into {self.message_channel!r} stopped after {self.count} message(s)"
                + ("" if self.last is None else f"; the last one poured was for {_describe(self.last)}")
            )
            raise


#: The order of the merged pour: (effective timestamp, store id, aggregate id, version).
_Key: TypeAlias = tuple[datetime, str, str, int]


@dataclass(order=True, slots=True)
class _Pending:
    """An event read and waiting for its turn; `publish` is False for one outside the time bounds that
    is only folded (on state-carrying channels)."""

    key: _Key
    event: Event = field(compare=False)
    publish: bool = field(compare=False)


@dataclass(slots=True)
class _StoreCursor:
    """Where the listing of one store's aggregates is."""

    store: EventStore[Any, Any, Any]
    page_token: str | None = None
    exhausted: bool = False
    #: (initial event timestamp, store id, aggregate id) of the last aggregate listed.
    last_listed: tuple[datetime, str, str] | None = None


class _Merger:
    """Merges the events of several stores in `_Key` order, reading aggregates a page at a time."""

    def __init__(
        self,
        event_stores: Sequence[EventStore[Any, Any, Any]],
        pourer: "_Pourer[Any]",
        state_carrying: bool,
        start: datetime | None,
        end: datetime | None,
        page_size: int,
    ) -> None:
        self.cursors = [_StoreCursor(store) for store in event_stores]
        self.stores = {store.event_store_id: store for store in event_stores}
        self.pourer = pourer
        self.state_carrying = state_carrying
        self.start = start
        self.end = end
        self.page_size = page_size
        self.pending: list[_Pending] = []
        #: State-carrying only: per (store id, aggregate id), the aggregate so far and its pending count.
        self.aggregates: dict[tuple[str, str], Aggregate | None] = {}
        self.waiting: dict[tuple[str, str], int] = {}

    async def pour(self) -> None:
        for cursor in self.cursors:
            await self._read_page(cursor)
        while True:
            # Unread aggregates of a store come after the last one it listed, so an event whose
            # (timestamp, store id, aggregate id) is at most the lowest of those horizons precedes every
            # event still unread.
            horizon = min(
                (
                    (cursor.last_listed, index)
                    for index, cursor in enumerate(self.cursors)
                    if not cursor.exhausted and cursor.last_listed is not None
                ),
                default=None,
            )
            while self.pending and (horizon is None or self.pending[0].key[:3] <= horizon[0]):
                await self._publish(heapq.heappop(self.pending))
            if horizon is None:
                return
            await self._read_page(self.cursors[horizon[1]])

    async def _read_page(self, cursor: _StoreCursor) -> None:
        store = cursor.store
        page = await store.list_aggregate_ids(
            limit=self.page_size, page_token=cursor.page_token, initial_event_before=self.end
        )
        cursor.page_token = page.next_page_token
        cursor.exhausted = page.next_page_token is None or not page.aggregate_ids
        if page.aggregate_ids:
            last = page.aggregate_ids[-1]
            cursor.last_listed = (last.initial_event_timestamp, store.event_store_id, last.aggregate_id)
        histories = await asyncio.gather(
            *(store.get_events(entry.aggregate_id) for entry in page.aggregate_ids)
        )
        for history in histories:
            self._book(store, history)

    def _book(self, store: EventStore[Any, Any, Any], history: Sequence[Event]) -> None:
        """Queues the events of one aggregate (all its events, in version order) that are to be poured,
        and on a state-carrying channel those between them, to be folded along."""
        inside = [self._within_bounds(store, event) for event in history]
        if True not in inside:
            return
        first = inside.index(True)
        last = len(inside) - 1 - inside[::-1].index(True)
        store_id = store.event_store_id
        if self.state_carrying:
            aggregate_key = (store_id, history[first].aggregate_id)
            self.aggregates[aggregate_key] = store.reducer.fold(history[:first])
            self.waiting[aggregate_key] = last - first + 1
        # Each event's place is the latest timestamp of its aggregate so far: never before its
        # predecessors, nor before the initial event (which the horizons rely on).
        effective = _timestamp(store, history[0])
        for index, event in enumerate(history[: last + 1]):
            effective = max(effective, _timestamp(store, event))
            if index < first or not (inside[index] or self.state_carrying):
                continue
            key = (effective, store_id, event.aggregate_id, event.version)
            heapq.heappush(self.pending, _Pending(key, event, inside[index]))

    async def _publish(self, pending: _Pending) -> None:
        event = pending.event
        store_id = pending.key[1]
        if not self.state_carrying:
            await self.pourer.publish(NotificationMessage(store_id, event), event)
            return
        aggregate_key = (store_id, event.aggregate_id)
        aggregate = self.stores[store_id].reducer.reduce(self.aggregates[aggregate_key], event)
        self.waiting[aggregate_key] -= 1
        if self.waiting[aggregate_key]:
            self.aggregates[aggregate_key] = aggregate
        else:
            del self.aggregates[aggregate_key], self.waiting[aggregate_key]
        if pending.publish:
            await self.pourer.publish(StateCarryingMessage(store_id, event, aggregate), event)

    def _within_bounds(self, store: EventStore[Any, Any, Any], event: Event) -> bool:
        timestamp = _timestamp(store, event)
        return (self.start is None or timestamp >= self.start) and (self.end is None or timestamp <= self.end)


def _timestamp(store: EventStore[Any, Any, Any], event: Event) -> datetime:
    if event.timestamp is None:
        raise EventDecodeError(
            "a stored event has no timestamp",
            event_store_id=store.event_store_id,
            aggregate_id=event.aggregate_id,
            version=event.version,
        )
    return event.timestamp


def _check_event_channel(message_channel: object, function: str) -> bool:
    """Whether the channel is state-carrying (else notification); TypeError for any other channel."""
    if isinstance(message_channel, StateCarryingMessageChannel):
        return True
    if isinstance(message_channel, NotificationMessageChannel):
        return False
    raise TypeError(
        f"{function} publishes notification or state-carrying messages, but {message_channel!r} carries "
        f"{_kind_of(message_channel)} messages (pour aggregate ids into it with pour_aggregate_ids)"
    )


def _check_aggregate_exists_channel(message_channel: object) -> None:
    """TypeError unless the channel is an aggregate-exists channel (its type is not checked by every caller)."""
    if not isinstance(message_channel, AggregateExistsMessageChannel):
        raise TypeError(
            f"pour_aggregate_ids publishes aggregate-exists messages, but {message_channel!r} carries "
            f"{_kind_of(message_channel)} messages"
        )


def _kind_of(message_channel: object) -> str:
    kind = getattr(message_channel, "message_kind", None)
    return kind if isinstance(kind, str) else f"{type(message_channel).__name__} (not a channel's)"


def _aware(name: str, value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(name, value)


def _check_page_size(page_size: int) -> None:
    # Each page is a `limit` of list_aggregate_ids: held to its bounds before anything is poured.
    check_integer("pour", "page_size", page_size, 1, MAX_LIMIT)


def _describe(item: object) -> str:
    if isinstance(item, AggregateIdEntry):
        return f"aggregate {item.aggregate_id} (initial event at {item.initial_event_timestamp.isoformat()})"
    if isinstance(item, Event):
        timestamp = "?" if item.timestamp is None else item.timestamp.isoformat()
        return f"{type(item).__name__} {item.aggregate_id} v{item.version} at {timestamp}"
    return repr(item)
