"""The outbox relay, which publishes what connected stores with outbox delivery stored, and the
deduplication that at-least-once delivery asks of consumers (see outbox.py)."""

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from .channels import MessageChannel
from .errors import EventStorageError
from .limits import MAX_EVENT_STORE_ID_BYTES, MAX_LIMIT
from .message_codecs import MessageCodec
from .messages import DeliveryContext
from .outbox import OutboxStorage
from .storage import check_integer, id_problem

logger = logging.getLogger("kastor.outbox")

MessageT = TypeVar("MessageT")


@dataclass(frozen=True, slots=True)
class OutboxBackoff:
    """The wait before retrying a message whose publish failed: `initial` seconds, times `factor` per
    failure, at most `maximum` seconds. The relay never gives up: the channel may come back."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 60.0

    def delay(self, attempts: int) -> float:
        return min(self.maximum, self.initial * self.factor ** max(attempts - 1, 0))


class OutboxRelay:
    """Publishes the pending messages of an outbox to their channels.

    Several relays may run on one database: a claimed message is leased to one relay, so it is not
    published twice concurrently (it is published again only if its relay died before completing it).
    """

    def __init__(
        self,
        storage: OutboxStorage,
        message_channels: Iterable[MessageChannel[Any]],
        message_codec: MessageCodec,
        *,
        relay_id: str | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=30),
        backoff: OutboxBackoff = OutboxBackoff(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        _check_outbox_storage(storage)
        check_integer("OutboxRelay", "batch_size", batch_size, 1, MAX_LIMIT)
        # The relay writes its id into the outbox's rows: it must be text that every storage holds.
        problem = None if relay_id is None else id_problem(relay_id, MAX_EVENT_STORE_ID_BYTES)
        if problem is not None:
            raise ValueError(f"OutboxRelay: relay_id {problem}")
        self.storage = storage
        self.message_channels: Mapping[str, MessageChannel[Any]] = {
            channel.message_channel_id: channel for channel in message_channels
        }
        self.message_codec = message_codec
        self.relay_id = relay_id or f"relay-{uuid.uuid4().hex[:12]}"
        self.batch_size = batch_size
        self.lease = lease
        self.backoff = backoff
        self._clock = clock

    async def relay_once(self) -> int:
        """Claims one batch and publishes it; returns how many messages were published."""
        claimed = await self.storage.claim_outbox_messages(
            relay_id=self.relay_id, limit=self.batch_size, lease=self.lease, now=self._clock()
        )
        published = 0
        for pending in claimed:
            try:
                channel = self.message_channels[pending.message.message_channel_id]
                await channel.publish_message(self.message_codec.from_json(pending.message.body))
            except Exception as error:
                delay = self.backoff.delay(pending.attempts + 1)
                logger.warning(
                    "outbox message %s/%s v%d to %s not published (attempt %d): %r; retrying in %.1f s",
                    pending.message.event_store_id,
                    pending.message.aggregate_id,
                    pending.message.version,
                    pending.message.message_channel_id,
                    pending.attempts + 1,
                    error,
                    delay,
                )
                await self.storage.fail_outbox_message(
                    pending.id,
                    relay_id=self.relay_id,
                    retry_at=self._clock() + timedelta(seconds=delay),
                    error=repr(error),
                )
                continue
            await self.storage.complete_outbox_message(pending.id, relay_id=self.relay_id)
            published += 1
        return published

    async def run(self, stop: asyncio.Event, *, idle_interval: float = 0.2) -> None:
        """Relays until `stop` is set, waiting `idle_interval` seconds whenever nothing was published.

        A storage error (the database unreachable, a call past its timeout) does not end it: the outbox is
        still there when the database comes back. It is logged, and the round tried again after the
        backoff's delay, which grows while the errors go on.
        """
        failures = 0
        while not stop.is_set():
            try:
                published = await self.relay_once()
            except EventStorageError as error:
                failures += 1
                delay = self.backoff.delay(failures)
                logger.warning(
                    "outbox relay %s: storage failed (%d in a row): %s; trying again in %.1f s",
                    self.relay_id,
                    failures,
                    error,
                    delay,
                )
                await _wait(stop, delay)
                continue
            failures = 0
            if published == 0:
                await _wait(stop, idle_interval)

    async def drain(self, *, timeout: float = 30.0, idle_interval: float = 0.05) -> None:
        """Relays until no message is pending (for tests and shutdown); raises TimeoutError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.storage.count_pending_outbox_messages() > 0:
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.relay_id}: outbox not drained after {timeout} s")
            if await self.relay_once() == 0:
                await asyncio.sleep(idle_interval)


class Deduplicator:
    """Remembers which (store, aggregate, version) a consumer has handled, to skip redeliveries.

    At-least-once delivery (the outbox, RabbitMQ) may deliver a message twice; wrap a handler with
    `deduplicated(handler)` to call it once per event. It remembers the latest `max_entries` events (a
    consumer that must survive restarts keeps the same key in its own database instead).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self.duplicates = 0

    def first_time(self, message: Any) -> bool:
        """True the first time a message of this (store, aggregate, version) is seen, False after."""
        event = message.event
        key = (message.event_store_id, event.aggregate_id, event.version)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen[key] = None
        if len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True

    def deduplicated(
        self, handler: Callable[[MessageT, DeliveryContext], Awaitable[None]]
    ) -> Callable[[MessageT, DeliveryContext], Awaitable[None]]:
        """`handler`, called only for the first delivery of each event."""

        async def handle_once(message: MessageT, context: DeliveryContext) -> None:
            untyped: Any = message
            key = (untyped.event_store_id, untyped.event.aggregate_id, untyped.event.version)
            if key in self._seen:
                self.duplicates += 1
                return
            await handler(message, context)
            # Remembered only once handled: a failed attempt must be retried, not skipped.
            self._seen[key] = None
            if len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)

        return handle_once


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _check_outbox_storage(storage: object) -> None:
    """TypeError unless the storage adapter keeps an outbox (its type is not checked by every caller)."""
    if not isinstance(storage, OutboxStorage):
        raise TypeError(f"{type(storage).__name__} keeps no outbox")
