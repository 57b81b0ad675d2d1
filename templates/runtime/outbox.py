"""The transactional outbox: messages written in the same transaction as their events, published by a relay.

With direct delivery (the default) a connected store publishes after storing, so a crash in between loses
the message (at most once). With the outbox, the message (state-carrying aggregate included) is stored
with its event, atomically; an `OutboxRelay` then publishes pending messages, in version order per
aggregate and channel, marks them done, retries with backoff while the channel fails, and resumes after a
restart. Delivery is at least once: a relay that dies after publishing and before marking the message
done publishes it again, so consumers deduplicate by (store, aggregate, version) — `Deduplicator` does.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from .events import Event
from .storage import StorageContext


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to publish to one channel, stored with the event it announces."""

    message_channel_id: str
    event_store_id: str
    aggregate_id: str
    version: int
    #: The message as JSON (MessageCodec), so that it survives restarts and needs no re-read.
    body: str

    def columns(self) -> tuple[str, str, str, int, str]:
        """Its fields in the order of the outbox tables' columns (every adapter's)."""
        return (self.message_channel_id, self.event_store_id, self.aggregate_id, self.version, self.body)


@dataclass(frozen=True, slots=True)
class PendingOutboxMessage:
    """An outbox message claimed by a relay: publish it, then complete or fail it."""

    id: int
    message: OutboxMessage
    attempts: int


@runtime_checkable
class OutboxStorage(Protocol):
    """A storage adapter that keeps an outbox beside its events (in-memory, SQLite, PostgreSQL)."""

    async def push_events_with_outbox(
        self,
        events: Sequence[tuple[StorageContext[Any], Event]],
        outbox: Sequence[OutboxMessage],
        *,
        force: bool = False,
    ) -> None:
        """Stores the events and the outbox messages in one transaction: all, or nothing."""
        ...

    async def claim_outbox_messages(
        self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingOutboxMessage]:
        """Claims up to `limit` pending messages for `lease`: for each (channel, store, aggregate), only the
        lowest pending version, unless another relay's lease on it still runs or its retry time is to come."""
        ...

    async def complete_outbox_message(self, message_id: int, *, relay_id: str) -> None:
        """Marks a claimed message published."""
        ...

    async def fail_outbox_message(
        self, message_id: int, *, relay_id: str, retry_at: datetime, error: str
    ) -> None:
        """Releases a claimed message after a failed publish, to be tried again at `retry_at`."""
        ...

    async def count_pending_outbox_messages(self) -> int:
        """How many messages are not published yet."""
        ...
