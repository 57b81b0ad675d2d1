"""Message channel adapters in the process's memory: a bus and a queue, for tests, prototypes and the demo.

Both deliver to subscribers registered through a channel's typed `on(...)`, retry a failing handler by its
subscription's RetryPolicy, log (logger "kastor.channels") and record a delivery that still fails after
its last retry, and offer `wait_until_idle()` so that a test can wait for every delivery. An adapter
serves one channel, in one event loop at a time.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .channels import Subscription
from .messages import DeliveryContext, MessageHandler

Sleep = Callable[[float], Awaitable[None]]

logger = logging.getLogger("kastor.channels")

#: How many failed deliveries an adapter remembers (every one is also logged).
FAILED_DELIVERIES_KEPT = 1000


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A message that a handler failed to handle on every attempt."""

    message: Any
    handler: MessageHandler[Any]
    error: BaseException
    attempts: int
    replay: bool


class Deliverer:
    """Calls handlers with retries, and keeps what failed for good (the in-memory and RabbitMQ adapters')."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._subscriptions: list[Subscription] = []
        self.failed_deliveries: deque[FailedDelivery] = deque(maxlen=FAILED_DELIVERIES_KEPT)

    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions.append(subscription)

    def matching(self, message: Any, *, replay: bool) -> list[Subscription]:
        """One subscription per handler: a handler whose several filters match is called once."""
        chosen: dict[MessageHandler[Any], Subscription] = {}
        for subscription in self._subscriptions:
            if subscription.matches(message, replay=replay):
                chosen.setdefault(subscription.handler, subscription)
        return list(chosen.values())

    async def deliver(self, subscription: Subscription, message: Any, *, replay: bool) -> bool:
        """Runs the handler with its retries; False when it failed on every attempt (logged and recorded)."""
        policy = subscription.retry
        attempts = policy.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                await subscription.handler(message, DeliveryContext(attempt, attempts - attempt, replay))
                return True
            except Exception as error:
                name = getattr(subscription.handler, "__qualname__", repr(subscription.handler))
                if attempt == attempts:
                    logger.error(
                        "handler %s failed on %s after %d attempt(s); giving up",
                        name,
                        describe_message(message),
                        attempts,
                        exc_info=error,
                    )
                    self.failed_deliveries.append(
                        FailedDelivery(message, subscription.handler, error, attempts, replay)
                    )
                    return False
                delay = policy.delay_before(attempt)
                logger.warning(
                    "handler %s failed on %s (attempt %d of %d): %r; retrying in %.3f s",
                    name,
                    describe_message(message),
                    attempt,
                    attempts,
                    error,
                    delay,
                )
                await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns")


class _InMemoryAdapter:
    """What the in-memory bus and queue share: subscriptions, delivery with retries, failures kept."""

    def __init__(self, sleep: Sleep) -> None:
        self._deliverer = Deliverer(sleep)

    @property
    def failed_deliveries(self) -> deque[FailedDelivery]:
        """The latest deliveries that failed on every attempt (at most FAILED_DELIVERIES_KEPT)."""
        return self._deliverer.failed_deliveries

    def subscribe(self, subscription: Subscription) -> None:
        self._deliverer.subscribe(subscription)

    async def start(self) -> None:
        """Nothing to set up in memory; broker adapters connect and start consuming here."""

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        raise NotImplementedError

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        for message in messages:
            await self.publish_message(message, replay=replay)


class InMemoryMessageBusAdapter(_InMemoryAdapter):
    """A bus: each message goes to every subscriber whose filters match it, concurrently.

    `publish_message` returns once the deliveries are started; `wait_until_idle()` awaits them.
    """

    def __init__(self, *, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(sleep)
        self._pending: set[asyncio.Task[bool]] = set()

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        for subscription in self._deliverer.matching(message, replay=replay):
            task = asyncio.create_task(self._deliverer.deliver(subscription, message, replay=replay))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def wait_until_idle(self) -> None:
        """Returns once every delivery started so far (and any it led to) has finished, retries included."""
        while self._pending:
            await asyncio.gather(*self._pending)


class InMemoryMessageQueueAdapter(_InMemoryAdapter):
    """A queue: messages are handled one at a time in publication order (first in, first out), or by up
    to `concurrency` at a time. A message goes to each subscriber whose filters match it; a failing
    handler is retried before the next message is taken. A message no subscriber wants is logged.
    """

    def __init__(self, *, concurrency: int = 1, sleep: Sleep = asyncio.sleep) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        super().__init__(sleep)
        self.concurrency = concurrency
        self._waiting: deque[tuple[Any, bool]] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        # Counted apart from the task set: a task leaves the set only in a later loop iteration, and a
        # message published in between must still find a worker.
        self._active_workers = 0

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        self._waiting.append((message, replay))
        if self._active_workers < self.concurrency:
            self._active_workers += 1
            worker = asyncio.create_task(self._work())
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def wait_until_idle(self) -> None:
        """Returns once the queue is empty and every message taken from it is handled, retries included."""
        while self._workers:
            await asyncio.gather(*self._workers)

    async def _work(self) -> None:
        try:
            while self._waiting:
                message, replay = self._waiting.popleft()
                subscriptions = self._deliverer.matching(message, replay=replay)
                if not subscriptions:
                    logger.warning("no subscriber for %s: dropped", describe_message(message))
                for subscription in subscriptions:
                    await self._deliverer.deliver(subscription, message, replay=replay)
        finally:
            # No await between the emptiness check above and this line: a later publish sees the change.
            self._active_workers -= 1


def describe_message(message: Any) -> str:
    """The message, for logs: its kind, store, and event (aggregate, version, type) when it has one."""
    event = getattr(message, "event", None)
    if event is None:
        return f"{type(message).__name__} of {getattr(message, 'event_store_id', '?')}"
    return f"{type(message).__name__} {message.event_store_id}/{event.aggregate_id} v{event.version} {event.type}"
