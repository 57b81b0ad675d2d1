"""Connected event stores: stores whose successful pushes are also published to a message channel."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypeVar, overload

from .aggregates import Aggregate
from .channels import MessageChannel, NotificationMessageChannel, StateCarryingMessageChannel
from .errors import EventPublishError, MessageChannelEventStoreNotFoundError, PublishFailure
from .events import Event
from .message_codecs import MessageCodec
from .messages import NotificationMessage, StateCarryingMessage
from .outbox import OutboxMessage
from .reducers import Reducer
from .results import GetAggregateResult, GetExistingAggregateResult, ListAggregateIdsResult, PushEventResult
from .storage import EventStorageAdapter
from .stores import EventStore, OnEventPushed

StoreIdT = TypeVar("StoreIdT", bound=str)
EventT = TypeVar("EventT", bound=Event)
AggregateT = TypeVar("AggregateT", bound=Aggregate)

Delivery: TypeAlias = Literal["direct", "outbox"]
"""Direct: publish after storing (at most once if the process dies in between). Outbox: store the message
with the event, an OutboxRelay publishes it (at least once)."""


class ConnectedEventStore(EventStore[StoreIdT, EventT, AggregateT]):
    """An event store (the wrapped `event_store`) whose pushes are then published to `message_channel`.

    It is an event store itself: reads, settings and pushes go to the wrapped store. After each
    successful push (the wrapped store's `on_event_pushed` included), the message is published and awaited:

    - on a notification channel, `NotificationMessage(event_store_id, event)`;
    - on a state-carrying channel, `StateCarryingMessage(event_store_id, event, aggregate)` with the
      push's `next_aggregate` when there is one, or else the aggregate read back at the event's version.

    Nothing is published when the push fails. When publishing fails the event stays stored and
    `EventPublishError` is raised from the channel's error. A connected store wrapping another (the
    generated `connect_*_event_store` nesting) publishes to every channel, innermost first, each whatever
    the others do; then one `EventPublishError` lists every channel that failed. mypy accepts only a
    channel whose sources include this store; an aggregate-exists channel is refused (and raises TypeError
    at run time).
    """

    @overload
    def __init__(
        self,
        event_store: EventStore[StoreIdT, EventT, AggregateT],
        message_channel: NotificationMessageChannel[NotificationMessage[StoreIdT, EventT]],
        *,
        delivery: Delivery = "direct",
        message_codec: MessageCodec | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        event_store: EventStore[StoreIdT, EventT, AggregateT],
        message_channel: StateCarryingMessageChannel[StateCarryingMessage[StoreIdT, EventT, AggregateT]],
        *,
        delivery: Delivery = "direct",
        message_codec: MessageCodec | None = None,
    ) -> None: ...

    def __init__(
        self,
        event_store: EventStore[StoreIdT, EventT, AggregateT],
        message_channel: Any,
        *,
        delivery: Delivery = "direct",
        message_codec: MessageCodec | None = None,
    ) -> None:
        if delivery not in ("direct", "outbox"):
            raise ValueError(f"delivery must be 'direct' or 'outbox', not {delivery!r}")
        if delivery == "outbox" and message_codec is None:
            raise ValueError("outbox delivery stores messages as JSON: pass message_codec=MESSAGE_CODEC")
        self.delivery: Delivery = delivery
        self.message_codec = message_codec
        if not isinstance(message_channel, NotificationMessageChannel | StateCarryingMessageChannel):
            kind = getattr(message_channel, "message_kind", type(message_channel).__name__)
            raise TypeError(
                f"cannot connect the {event_store.event_store_id} store to {message_channel!r}: a connected store "
                f"publishes notification or state-carrying messages, and this channel carries {kind} messages"
            )
        channel_id = message_channel.message_channel_id
        if event_store.event_store_id not in message_channel.source_event_store_ids:
            # Refused here, before anything is stored: every push would store an event it cannot publish.
            carried = ", ".join(sorted(message_channel.source_event_store_ids))
            raise MessageChannelEventStoreNotFoundError(
                f"cannot connect the {event_store.event_store_id!r} store: this channel carries messages of "
                f"{carried} only (add {event_store.event_store_id!r} to its sources in the spec)",
                message_channel_id=channel_id,
                event_store_id=event_store.event_store_id,
            )
        self.event_store = event_store
        self.message_channel: MessageChannel[Any] = message_channel
        super().__init__(
            event_store_id=event_store.event_store_id,
            codec=event_store.codec,
            initial_event_types=event_store.initial_event_types,
            reducer=event_store.reducer,
        )

    def __repr__(self) -> str:
        return f"ConnectedEventStore({self.event_store!r}, {self.message_channel!r})"

    @property
    def event_storage_adapter(self) -> EventStorageAdapter | None:
        """The wrapped store's adapter: reading and setting it here reads and sets it there."""
        return self.event_store.event_storage_adapter

    @event_storage_adapter.setter
    def event_storage_adapter(self, adapter: EventStorageAdapter | None) -> None:
        self.event_store.event_storage_adapter = adapter

    @property
    def on_event_pushed(self) -> OnEventPushed[EventT, AggregateT] | None:
        """The wrapped store's callback: reading and setting it here reads and sets it there."""
        return self.event_store.on_event_pushed

    @on_event_pushed.setter
    def on_event_pushed(self, callback: OnEventPushed[EventT, AggregateT] | None) -> None:
        self.event_store.on_event_pushed = callback

    @property
    def reducer(self) -> Reducer[EventT, AggregateT]:
        """The wrapped store's reducer: reading and setting it here reads and sets it there."""
        return self.event_store.reducer

    @reducer.setter
    def reducer(self, reducer: Reducer[EventT, AggregateT]) -> None:
        self.event_store.reducer = reducer

    def get_event_storage_adapter(self) -> EventStorageAdapter:
        return self.event_store.get_event_storage_adapter()

    # Reads are the wrapped store's own, so that a store subclass overriding one is honoured here too.

    async def get_events(
        self,
        aggregate_id: str,
        *,
        min_version: int | None = None,
        max_version: int | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> list[EventT]:
        return await self.event_store.get_events(
            aggregate_id, min_version=min_version, max_version=max_version, reverse=reverse, limit=limit
        )

    async def get_aggregate(
        self, aggregate_id: str, *, max_version: int | None = None
    ) -> GetAggregateResult[EventT, AggregateT]:
        return await self.event_store.get_aggregate(aggregate_id, max_version=max_version)

    async def get_existing_aggregate(
        self, aggregate_id: str, *, max_version: int | None = None
    ) -> GetExistingAggregateResult[EventT, AggregateT]:
        return await self.event_store.get_existing_aggregate(aggregate_id, max_version=max_version)

    async def list_aggregate_ids(
        self,
        *,
        limit: int | None = None,
        page_token: str | None = None,
        initial_event_after: datetime | None = None,
        initial_event_before: datetime | None = None,
        reverse: bool | None = None,
    ) -> ListAggregateIdsResult:
        return await self.event_store.list_aggregate_ids(
            limit=limit,
            page_token=page_token,
            initial_event_after=initial_event_after,
            initial_event_before=initial_event_before,
            reverse=reverse,
        )

    def build_aggregate(
        self, events: Iterable[EventT], aggregate: AggregateT | None = None
    ) -> AggregateT | None:
        return self.event_store.build_aggregate(events, aggregate)

    def simulate_aggregate(
        self, events: Sequence[EventT], *, simulation_date: datetime | None = None
    ) -> AggregateT | None:
        return self.event_store.simulate_aggregate(events, simulation_date=simulation_date)

    async def push_event(
        self, event: EventT, *, prev_aggregate: AggregateT | None = None, force: bool = False
    ) -> PushEventResult[EventT, AggregateT]:
        """Direct delivery: the wrapped store pushes (and runs its `on_event_pushed`), then the message is
        published. Outbox delivery: the event and the message are stored in one transaction, then the
        wrapped store's `on_event_pushed` runs; a relay publishes the message."""
        if not self._uses_outbox():
            result, failures = await self._push_and_publish(event, prev_aggregate=prev_aggregate, force=force)
            self._raise_publish_failures(result, failures)
            return result
        return await super().push_event(event, prev_aggregate=prev_aggregate, force=force)

    async def _push_and_publish(
        self, event: EventT, *, prev_aggregate: AggregateT | None, force: bool
    ) -> tuple[PushEventResult[EventT, AggregateT], list[PublishFailure]]:
        """Pushes through the wrapped stores, then publishes to this store's channel whatever the wrapped
        connected stores' channels did; returns the failures of every level instead of raising them."""
        inner = self.event_store
        if isinstance(inner, ConnectedEventStore):
            result, failures = await inner._push_and_publish(
                event, prev_aggregate=prev_aggregate, force=force
            )
        else:
            result, failures = await inner.push_event(event, prev_aggregate=prev_aggregate, force=force), []
        return result, [*failures, *await self._try_publish(result)]

    def _uses_outbox(self) -> bool:
        inner = self.event_store
        return self.delivery == "outbox" or (isinstance(inner, ConnectedEventStore) and inner._uses_outbox())

    async def _outbox_messages(
        self, result: PushEventResult[EventT, AggregateT], previous: AggregateT | None = None
    ) -> list[OutboxMessage]:
        messages = await self.event_store._outbox_messages(result, previous)
        if self.delivery != "outbox" or self.message_codec is None:
            return messages
        event = result.event
        self.message_channel.check_event_store_id(self.event_store_id)
        if isinstance(self.message_channel, StateCarryingMessageChannel):
            aggregate = result.next_aggregate
            if aggregate is None:
                if previous is None:
                    # Read before storing: the aggregate as of the previous version, plus this event.
                    read = await self.event_store.get_aggregate(
                        event.aggregate_id, max_version=event.version - 1
                    )
                    previous = read.aggregate
                aggregate = self.reducer.reduce(previous, event)
            message: Any = StateCarryingMessage(self.event_store_id, event, aggregate)
        else:
            message = NotificationMessage(self.event_store_id, event)
        body = self.message_codec.to_json(message).decode()
        channel_id = self.message_channel.message_channel_id
        return [
            *messages,
            OutboxMessage(channel_id, self.event_store_id, event.aggregate_id, event.version, body),
        ]

    def _prepare(
        self, event: EventT, prev_aggregate: AggregateT | None, now: datetime
    ) -> PushEventResult[EventT, AggregateT]:
        return self.event_store._prepare(event, prev_aggregate, now)

    async def _event_pushed(self, result: PushEventResult[EventT, AggregateT]) -> None:
        # In a group, or after an outbox push: the wrapped stores' follow-ups, then ours.
        self._raise_publish_failures(result, await self._follow_up(result))

    async def _follow_up(self, result: PushEventResult[EventT, AggregateT]) -> list[PublishFailure]:
        """The wrapped store's own follow-up (its callback, its channels if connected), then the direct
        publish to this store's channel, whatever the wrapped channels did; returns every publish failure."""
        inner = self.event_store
        if isinstance(inner, ConnectedEventStore):
            failures = await inner._follow_up(result)
        else:
            await inner._event_pushed(result)
            failures = []
        if self.delivery == "direct":
            failures.extend(await self._try_publish(result))
        return failures

    def _raise_publish_failures(
        self, result: PushEventResult[EventT, AggregateT], failures: list[PublishFailure]
    ) -> None:
        if failures:
            raise EventPublishError(
                event_store_id=self.event_store_id, event=result.event, failures=failures
            ) from failures[0].cause

    async def _try_publish(self, result: PushEventResult[EventT, AggregateT]) -> list[PublishFailure]:
        """Publishes the message of a stored event to this store's channel; its failure, if any, in a list."""
        channel = self.message_channel
        try:
            if isinstance(channel, StateCarryingMessageChannel):
                aggregate = result.next_aggregate
                if aggregate is None:
                    event = result.event
                    found = await self.event_store.get_existing_aggregate(
                        event.aggregate_id, max_version=event.version
                    )
                    aggregate = found.aggregate
                await channel.publish_message(
                    StateCarryingMessage(self.event_store_id, result.event, aggregate)
                )
            else:
                await channel.publish_message(NotificationMessage(self.event_store_id, result.event))
        except Exception as error:  # reported with the other channels' failures once all have been tried
            return [PublishFailure(channel.message_channel_id, error)]
        return []
