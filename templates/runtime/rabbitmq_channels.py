"""Message channel adapters on RabbitMQ (through aio-pika): a bus on a topic exchange, a queue on a durable
queue. Messages travel as JSON written and read by the package's `MESSAGE_CODEC`.

Bus: a durable topic exchange; each message is published with the routing key `<store id>.<event type>`
(`<store id>.__AGGREGATE_EXISTS__` for aggregate-exists messages), prefixed by `__REPLAYED__.` and marked
with the header `x-kastor-replay: true` when it is a replay. Each handler subscribed in this process gets
its own exclusive queue, bound with the keys of its filters (the replayed keys only if it opts in).

Queue: a durable queue, and `<queue>.dead-letter` where the messages go that a handler failed to handle
on every attempt (and bodies that cannot be decoded). Messages are published through the default exchange.

Both publish persistent messages with publisher confirms (`publish_message` returns once the broker has
the message), consume with manual acknowledgements after the handlers succeeded, retry a failing handler
by its subscription's RetryPolicy before acknowledging, log (logger "kastor.channels") and record in
`failed_deliveries` what still fails after its last retry, and reconnect after a lost connection. Delivery
is at least once: a consumer must tolerate duplicates. aio-pika is imported when an adapter is created, so
this module imports without it. An adapter serves one channel, in one event loop.
"""

import asyncio
import functools
import importlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

from .channels import Subscription
from .errors import KastorError
from .in_memory_channels import Deliverer, FailedDelivery, Sleep, describe_message
from .message_codecs import MessageCodec

logger = logging.getLogger("kastor.channels")

#: The header that marks a replayed message (its value: true).
REPLAY_HEADER = "x-kastor-replay"
#: The first word of a replayed message's routing key on a bus.
REPLAYED_ROUTING_PREFIX = "__REPLAYED__"
#: The second word of the routing key of an aggregate-exists message on a bus.
AGGREGATE_EXISTS_ROUTING_WORD = "__AGGREGATE_EXISTS__"
#: How often `wait_until_idle` looks again (seconds).
IDLE_POLL_INTERVAL = 0.01
#: How long `close` lets the handlers in progress finish (seconds).
CLOSE_GRACE_PERIOD = 10.0


class MessageChannelConnectionError(KastorError):
    """The message broker cannot be reached, or did not confirm a message in time; raised from the driver's
    error. `host` and `port` say where the broker was expected."""

    def __init__(self, message: str, *, host: str, port: int) -> None:
        super().__init__(f"RabbitMQ at {host}:{port}: {message}")
        self.host = host
        self.port = port


def _import_aio_pika() -> Any:
    try:
        return importlib.import_module("aio_pika")
    except ImportError as error:
        raise ModuleNotFoundError(
            "the RabbitMQ message channel adapters need aio-pika: install it (pip install aio-pika)"
        ) from error


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default_port = 5671 if parts.scheme == "amqps" else 5672
    return parts.hostname or "localhost", port or default_port


def _is_replay(headers: Any) -> bool:
    return bool(headers and headers.get(REPLAY_HEADER))


class _RabbitMQAdapter:
    """What the bus and the queue share: the connection, publishing, consuming and idleness."""

    def __init__(
        self,
        url: str,
        *,
        message_codec: MessageCodec,
        sleep: Sleep,
        connect_timeout: float,
        publish_timeout: float,
        reconnect_interval: float,
    ) -> None:
        self._aio_pika = _import_aio_pika()
        self.url = url
        self.host, self.port = _address(url)
        self.message_codec = message_codec
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.reconnect_interval = reconnect_interval
        self._sleep = sleep
        # Holds the subscriptions (the queue matches messages with it) and the failed deliveries.
        self._deliverer = Deliverer(sleep)
        self._to_set_up: deque[Subscription] = deque()
        self._set_up_task: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._connection: Any = None
        self._channel: Any = None  # publishes, with confirms
        self._inspect_channel: Any = None  # passive declarations, for wait_until_idle
        #: Message id -> how many consumers of this adapter have yet to settle it.
        self._unsettled: dict[str, int] = {}
        self._in_flight = 0
        self._closed = False

    # -- public --------------------------------------------------------------------------------------

    @property
    def failed_deliveries(self) -> deque[FailedDelivery]:
        """The latest deliveries that failed on every attempt (at most FAILED_DELIVERIES_KEPT)."""
        return self._deliverer.failed_deliveries

    def subscribe(self, subscription: Subscription) -> None:
        """Registers a subscription; its consumer starts at once when an event loop runs, else at `start()`
        (or at the first publish). On a bus, messages published before that do not reach it."""
        self._check_open()
        self._deliverer.subscribe(subscription)
        self._to_set_up.append(subscription)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._set_up_task is None or self._set_up_task.done():
            self._set_up_task = loop.create_task(self._set_up_subscriptions())
            self._set_up_task.add_done_callback(self._report_set_up_failure)

    async def start(self) -> None:
        """Connects, declares the topology and starts consuming for every subscription so far; returns once
        they receive what is published next. Idempotent; publishing starts the adapter too."""
        await self._set_up_subscriptions()

    async def publish_message(self, message: Any, *, replay: bool = False) -> None:
        """Publishes one message; returns once the broker confirmed it."""
        await self.publish_messages([message], replay=replay)

    async def publish_messages(self, messages: Sequence[Any], *, replay: bool = False) -> None:
        """Publishes the messages in order, each confirmed before the next; all are encoded first, so a
        message that cannot be encoded stops the batch before anything is published."""
        bodies = [(message, self.message_codec.to_json(message)) for message in messages]
        await self.start()
        for message, body in bodies:
            await self._publish(message, body, replay=replay)

    async def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Returns once every message this adapter published has been handled by its consumers, retries
        included, and the queues it consumes are empty; raises TimeoutError after `timeout` seconds."""
        await self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._idle_here() and await self._queues_empty() and self._idle_here():
                return
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"{self!r} not idle after {timeout} s: {len(self._unsettled)} published message(s) not yet "
                    f"handled, {self._in_flight} delivery(ies) in progress"
                )
            await asyncio.sleep(IDLE_POLL_INTERVAL)

    async def close(self) -> None:
        """Stops consuming, lets the handlers in progress finish (for CLOSE_GRACE_PERIOD at most), then
        closes the connection; a message not acknowledged goes back to its queue."""
        if self._closed:
            return
        self._closed = True
        if self._set_up_task is not None and not self._set_up_task.done():
            self._set_up_task.cancel()
            await asyncio.gather(self._set_up_task, return_exceptions=True)
        if self._connection is None:
            return
        try:
            try:  # bounded: while the connection is lost, aio-pika would wait for it
                await asyncio.wait_for(self._stop_consuming(), self.connect_timeout)
            except TimeoutError:
                logger.warning(
                    "%r: consumers not cancelled within %s s; closing anyway", self, self.connect_timeout
                )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CLOSE_GRACE_PERIOD
            while self._in_flight and loop.time() < deadline:
                await asyncio.sleep(IDLE_POLL_INTERVAL)
        finally:
            connection, self._connection = self._connection, None
            await connection.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- for subclasses ------------------------------------------------------------------------------

    async def _declare(self, channel: Any) -> None:
        """Declares the topology that publishing needs."""
        raise NotImplementedError

    async def _set_up(self, subscription: Subscription) -> None:
        """Makes the broker deliver what `subscription` wants to a consumer of this adapter."""
        raise NotImplementedError

    def _route(self, message: Any, *, replay: bool) -> tuple[Any, str, bool]:
        """(exchange, routing key, mandatory) of a message."""
        raise NotImplementedError

    def _local_consumers_of(self, message: Any, *, replay: bool) -> int:
        """How many consumers of this adapter will receive the message (published now)."""
        raise NotImplementedError

    def _consumed_queue_names(self) -> list[str]:
        raise NotImplementedError

    def _consumer_channels(self) -> list[Any]:
        raise NotImplementedError

    async def _stop_consuming(self) -> None:
        raise NotImplementedError

    # -- connection ----------------------------------------------------------------------------------

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")

    async def _connect(self) -> Any:
        self._check_open()
        if self._connection is not None:
            return self._connection
        async with self._lock("connect"):
            if self._connection is None:
                try:
                    connection = await self._aio_pika.connect_robust(
                        self.url, timeout=self.connect_timeout, reconnect_interval=self.reconnect_interval
                    )
                except Exception as error:
                    raise MessageChannelConnectionError(
                        f"cannot connect: {error}", host=self.host, port=self.port
                    ) from error
                try:
                    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                    await self._declare(channel)
                    self._inspect_channel = await connection.channel(publisher_confirms=False)
                except BaseException:
                    await connection.close()
                    raise
                self._channel = channel
                self._connection = connection
        return self._connection

    async def _set_up_subscriptions(self) -> None:
        await self._connect()
        await self._wait_until_ready(self.publish_timeout)
        async with self._lock("subscribe"):
            while self._to_set_up:
                await self._set_up(self._to_set_up[0])
                self._to_set_up.popleft()

    async def _wait_until_ready(self, timeout: float, cause: BaseException | None = None) -> None:
        """Returns once every channel of the adapter is open: after a lost connection, once it is back and
        aio-pika has declared the queues, bindings and consumers again."""
        channels = [self._channel, self._inspect_channel, *self._consumer_channels()]
        try:
            await asyncio.wait_for(asyncio.gather(*(channel.ready() for channel in channels)), timeout)
        except TimeoutError as error:
            lost = "" if cause is None else f": {cause!r}"
            raise MessageChannelConnectionError(
                f"connection lost, not back within {timeout:.3g} s{lost}", host=self.host, port=self.port
            ) from (error if cause is None else cause)

    def _report_set_up_failure(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "%r could not start consuming (it tries again at the next start or publish)",
                self,
                exc_info=task.exception(),
            )

    # -- publishing ----------------------------------------------------------------------------------

    async def _publish(self, message: Any, body: bytes, *, replay: bool) -> None:
        aio_pika = self._aio_pika
        message_id = uuid.uuid4().hex
        amqp_message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=_kind(message),
            app_id="kastor",
            headers={REPLAY_HEADER: replay},
        )
        exchange, routing_key, mandatory = self._route(message, replay=replay)
        expected = self._local_consumers_of(message, replay=replay)
        if expected:  # counted before publishing: a consumer may settle it before the confirm arrives
            self._unsettled[message_id] = expected
        try:
            await self._publish_confirmed(exchange, amqp_message, routing_key, mandatory)
        except BaseException:
            self._unsettled.pop(message_id, None)
            raise

    async def _publish_confirmed(
        self, exchange: Any, message: Any, routing_key: str, mandatory: bool
    ) -> None:
        """Publishes and awaits the broker's confirm; while the connection is lost, waits for it to come back
        and publishes again (within `publish_timeout`: a message whose confirm was lost may arrive twice)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        exceptions = self._aio_pika.exceptions
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError()
                await asyncio.wait_for(
                    exchange.publish(message, routing_key=routing_key, mandatory=mandatory), remaining
                )
                return
            except TimeoutError as error:
                raise MessageChannelConnectionError(
                    f"no confirmation of a message within {self.publish_timeout} s",
                    host=self.host,
                    port=self.port,
                ) from error
            except (ConnectionError, exceptions.ChannelInvalidStateError) as error:
                # Every channel, not only the publishing one: a bus subscriber's queue must be back too.
                await self._wait_until_ready(max(deadline - loop.time(), 0.001), error)
                logger.info("%r: connection back, publishing again after %r", self, error)

    # -- consuming -----------------------------------------------------------------------------------

    async def _consume(
        self, select: Callable[[Any, bool], list[Subscription]], where: str, incoming: Any
    ) -> None:
        """aio-pika's callback (one task per delivery): never raises."""
        self._in_flight += 1
        try:
            await self._handle(select, where, incoming)
        except Exception as error:
            logger.error("unexpected error while handling a message from %s", where, exc_info=error)
        finally:
            self._in_flight -= 1
            self._settle(incoming.message_id)

    async def _handle(
        self, select: Callable[[Any, bool], list[Subscription]], where: str, incoming: Any
    ) -> None:
        replay = _is_replay(incoming.headers)
        try:
            message = self.message_codec.from_json(incoming.body)
        except Exception as error:
            logger.error(
                "cannot decode message %s from %s; %s: %s",
                incoming.message_id,
                where,
                self._rejection(),
                error,
                exc_info=error,
            )
            await self._acknowledge(incoming, where, handled=False)
            return
        subscriptions = select(message, replay)
        if not subscriptions:
            self._unwanted(message, where)
            await self._acknowledge(incoming, where, handled=True)
            return
        handled = True
        for subscription in subscriptions:
            handled = await self._deliver(subscription, message, replay=replay) and handled
        if not handled:
            logger.warning("%s from %s: %s", describe_message(message), where, self._rejection())
        await self._acknowledge(incoming, where, handled=handled)

    async def _deliver(self, subscription: Subscription, message: Any, *, replay: bool) -> bool:
        """Runs the handler with its retries (the in-memory adapters' logic and logs); False if it failed for
        good (then logged and recorded)."""
        return await self._deliverer.deliver(subscription, message, replay=replay)

    def _rejection(self) -> str:
        """What becomes of a rejected message."""
        raise NotImplementedError

    def _unwanted(self, message: Any, where: str) -> None:
        logger.debug("no subscription of %s wants %s: acknowledged", where, describe_message(message))

    async def _acknowledge(self, incoming: Any, where: str, *, handled: bool) -> None:
        try:
            if handled:
                await incoming.ack()
            else:
                await incoming.reject(requeue=False)
        except Exception as error:
            logger.warning(
                "could not settle message %s from %s (the broker will deliver it again): %r",
                incoming.message_id,
                where,
                error,
            )

    def _settle(self, message_id: Any) -> None:
        left = self._unsettled.get(message_id)
        if left is None:
            return
        if left <= 1:
            del self._unsettled[message_id]
        else:
            self._unsettled[message_id] = left - 1

    # -- idleness ------------------------------------------------------------------------------------

    def _idle_here(self) -> bool:
        return not self._unsettled and not self._in_flight and not self._to_set_up

    async def _queues_empty(self) -> bool:
        for name in self._consumed_queue_names():
            try:
                queue = await self._inspect_channel.declare_queue(name, passive=True, robust=False)
            except Exception as error:
                logger.debug("%r: cannot inspect queue %s: %r", self, name, error)
                continue
            if queue.declaration_result.message_count:
                return False
        return True


@dataclass(eq=False)
class _BusSubscriber:
    """A handler of this process on a bus: its queue, bindings and subscriptions."""

    queue_name: str
    subscriptions: list[Subscription] = field(default_factory=list[Subscription])
    binding_keys: set[str] = field(default_factory=set[str])
    channel: Any = None
    queue: Any = None
    consumer_tag: Any = None

    def select(self, message: Any, replay: bool) -> list[Subscription]:
        """Its first subscription that wants the message (a handler is called once per message)."""
        for subscription in self.subscriptions:
            if subscription.matches(message, replay=replay):
                return [subscription]
        return []


class RabbitMQMessageBusAdapter(_RabbitMQAdapter):
    """A bus on a durable RabbitMQ topic exchange: every subscriber (in any process) whose filters match a
    message gets it.

    Each handler subscribed through this adapter gets its own exclusive queue (deleted when the adapter
    closes), bound with routing keys from its filters, and consumes up to `concurrency` messages at a
    time (1: one at a time, in the order the broker received them). A message that the handler fails to
    handle on every attempt is rejected: to `dead_letter_exchange` (declared as a durable topic exchange,
    the routing key kept) if given, else dropped; it is logged and recorded in `failed_deliveries` either
    way. A subscriber receives only what is published while it is consuming.
    """

    def __init__(
        self,
        url: str,
        *,
        exchange: str,
        message_codec: MessageCodec,
        concurrency: int = 1,
        dead_letter_exchange: str | None = None,
        connect_timeout: float = 5.0,
        publish_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        super().__init__(
            url,
            message_codec=message_codec,
            sleep=sleep,
            connect_timeout=connect_timeout,
            publish_timeout=publish_timeout,
            reconnect_interval=reconnect_interval,
        )
        self.exchange = exchange
        self.concurrency = concurrency
        self.dead_letter_exchange = dead_letter_exchange
        self._exchange: Any = None
        self._subscribers: dict[Any, _BusSubscriber] = {}

    def __repr__(self) -> str:
        return f"RabbitMQMessageBusAdapter(exchange={self.exchange!r}, {self.host}:{self.port})"

    async def delete(self) -> None:
        """Stops consuming and deletes the exchange and the subscribers' queues (not the dead-letter
        exchange): for tests and teardown."""
        await self._connect()
        await self._stop_consuming()
        for subscriber in self._subscribers.values():
            await self._channel.queue_delete(subscriber.queue_name)
        await self._channel.exchange_delete(self.exchange)

    async def _declare(self, channel: Any) -> None:
        topic = self._aio_pika.ExchangeType.TOPIC
        self._exchange = await channel.declare_exchange(self.exchange, topic, durable=True)
        if self.dead_letter_exchange is not None:
            await channel.declare_exchange(self.dead_letter_exchange, topic, durable=True)

    async def _set_up(self, subscription: Subscription) -> None:
        subscriber = self._subscribers.get(subscription.handler)
        if subscriber is None:
            subscriber = _BusSubscriber(f"{self.exchange}.subscriber.{uuid.uuid4().hex[:12]}")
            channel = await self._connection.channel(publisher_confirms=False)
            await channel.set_qos(prefetch_count=self.concurrency)
            arguments = None
            if self.dead_letter_exchange is not None:
                arguments = {"x-dead-letter-exchange": self.dead_letter_exchange}
            subscriber.queue = await channel.declare_queue(
                subscriber.queue_name, exclusive=True, arguments=arguments
            )
            subscriber.channel = channel
            self._subscribers[subscription.handler] = subscriber
        subscriber.subscriptions.append(subscription)
        for key in sorted(binding_keys(subscription) - subscriber.binding_keys):
            await subscriber.queue.bind(self._exchange, routing_key=key)
            subscriber.binding_keys.add(key)
        if subscriber.consumer_tag is None:
            where = f"{subscriber.queue_name} (exchange {self.exchange})"
            callback = functools.partial(self._consume, subscriber.select, where)
            subscriber.consumer_tag = await subscriber.queue.consume(callback)

    def _route(self, message: Any, *, replay: bool) -> tuple[Any, str, bool]:
        return self._exchange, routing_key(message, replay=replay), False

    def _rejection(self) -> str:
        if self.dead_letter_exchange is None:
            return "rejected and dropped (no dead_letter_exchange)"
        return f"rejected to the dead-letter exchange {self.dead_letter_exchange}"

    def _local_consumers_of(self, message: Any, *, replay: bool) -> int:
        return sum(
            1
            for subscriber in self._subscribers.values()
            if subscriber.consumer_tag is not None and subscriber.select(message, replay)
        )

    def _consumed_queue_names(self) -> list[str]:
        return [s.queue_name for s in self._subscribers.values() if s.consumer_tag is not None]

    def _consumer_channels(self) -> list[Any]:
        return [s.channel for s in self._subscribers.values() if s.consumer_tag is not None]

    async def _stop_consuming(self) -> None:
        for subscriber in self._subscribers.values():
            tag, subscriber.consumer_tag = subscriber.consumer_tag, None
            if tag is not None:
                try:
                    await subscriber.queue.cancel(tag)
                except Exception as error:
                    logger.debug("%r: cannot cancel consumer %s: %r", self, tag, error)


class RabbitMQMessageQueueAdapter(_RabbitMQAdapter):
    """A queue on a durable RabbitMQ queue: each message is handled once, by one consumer (in any process).

    This adapter consumes once something subscribes, up to `concurrency` messages at a time (1: one at
    a time, first in, first out); each message goes to every subscription of this adapter that matches it,
    then is acknowledged. A message that a handler fails to handle on every attempt (logged and recorded
    in `failed_deliveries`) is rejected to the queue `<queue>.dead-letter`, so are bodies that cannot be
    decoded; a message no subscription wants is logged (warning) and acknowledged, i.e. dropped.
    """

    def __init__(
        self,
        url: str,
        *,
        queue: str,
        message_codec: MessageCodec,
        concurrency: int = 1,
        connect_timeout: float = 5.0,
        publish_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        super().__init__(
            url,
            message_codec=message_codec,
            sleep=sleep,
            connect_timeout=connect_timeout,
            publish_timeout=publish_timeout,
            reconnect_interval=reconnect_interval,
        )
        self.queue = queue
        self.dead_letter_queue = f"{queue}.dead-letter"
        self.concurrency = concurrency
        self._consumer_channel: Any = None
        self._consumer_queue: Any = None
        self._consumer_tag: Any = None

    def __repr__(self) -> str:
        return f"RabbitMQMessageQueueAdapter(queue={self.queue!r}, {self.host}:{self.port})"

    async def delete(self) -> None:
        """Stops consuming and deletes the queue and its dead-letter queue: for tests and teardown."""
        await self._connect()
        await self._stop_consuming()
        await self._channel.queue_delete(self.queue)
        await self._channel.queue_delete(self.dead_letter_queue)

    async def _declare(self, channel: Any) -> None:
        await channel.declare_queue(self.dead_letter_queue, durable=True)
        await channel.declare_queue(self.queue, durable=True, arguments=self._queue_arguments())

    def _queue_arguments(self) -> dict[str, Any]:
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead_letter_queue}

    async def _set_up(self, subscription: Subscription) -> None:
        if self._consumer_tag is not None:
            return  # the consumer matches each message with every subscription
        if self._consumer_channel is None:
            self._consumer_channel = await self._connection.channel(publisher_confirms=False)
            await self._consumer_channel.set_qos(prefetch_count=self.concurrency)
            self._consumer_queue = await self._consumer_channel.declare_queue(
                self.queue, durable=True, arguments=self._queue_arguments()
            )
        callback = functools.partial(self._consume, self._select, f"queue {self.queue}")
        self._consumer_tag = await self._consumer_queue.consume(callback)

    def _select(self, message: Any, replay: bool) -> list[Subscription]:
        return self._deliverer.matching(message, replay=replay)

    def _rejection(self) -> str:
        return f"rejected to the dead-letter queue {self.dead_letter_queue}"

    def _unwanted(self, message: Any, where: str) -> None:
        logger.warning(
            "no subscriber for %s on %s: acknowledged and dropped", describe_message(message), where
        )

    def _route(self, message: Any, *, replay: bool) -> tuple[Any, str, bool]:
        return self._channel.default_exchange, self.queue, True

    def _local_consumers_of(self, message: Any, *, replay: bool) -> int:
        return 0 if self._consumer_tag is None else 1

    def _consumed_queue_names(self) -> list[str]:
        return [self.queue]

    def _consumer_channels(self) -> list[Any]:
        return [] if self._consumer_tag is None else [self._consumer_channel]

    async def _stop_consuming(self) -> None:
        tag, self._consumer_tag = self._consumer_tag, None
        if tag is not None:
            try:
                await self._consumer_queue.cancel(tag)
            except Exception as error:
                logger.debug("%r: cannot cancel consumer %s: %r", self, tag, error)


def routing_key(message: Any, *, replay: bool = False) -> str:
    """The routing key of a message on a bus: `<store id>.<event type>` (`<store id>.__AGGREGATE_EXISTS__`
    for aggregate-exists messages), after `__REPLAYED__.` for a replay."""
    event = getattr(message, "event", None)
    key = f"{message.event_store_id}.{AGGREGATE_EXISTS_ROUTING_WORD if event is None else event.type}"
    return f"{REPLAYED_ROUTING_PREFIX}.{key}" if replay else key


def binding_keys(subscription: Subscription) -> set[str]:
    """The routing keys with which a bus subscriber's queue is bound for `subscription`."""
    stores = sorted(subscription.event_store_ids) if subscription.event_store_ids is not None else ["*"]
    types = sorted(subscription.event_types) if subscription.event_types is not None else ["*"]
    keys = {f"{store}.{event_type}" for store in stores for event_type in types}
    if subscription.replay:
        keys |= {f"{REPLAYED_ROUTING_PREFIX}.{key}" for key in keys}
    return keys


def _kind(message: Any) -> str:
    if not hasattr(message, "event"):
        return "aggregate-exists"
    return "state-carrying" if hasattr(message, "aggregate") else "notification"
