"""The RabbitMQ bus and queue adapters against a real broker: the channel conformance suite, and what only
they promise (routing keys and the replay marker on the exchange, JSON bodies, dead letters, publisher
confirms, clear connection errors, reconnection).

Every test declares exchanges and queues of its own (`unique_name`) and deletes them afterwards.
"""

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.register_assert_rewrite("tests.channel_conformance")

from .channel_conformance import (  # noqa: E402  (first: makes pokedex importable)
    NO_DELAY,
    ConformanceBus,
    ConformanceQueue,
    Handler,
    MessageBusAdapterConformance,
    MessageQueueAdapterConformance,
    Sleep,
)
from .pokedex_builders import T0, appeared, caught, leveled_up, pokemon  # noqa: E402
from .services import require_rabbitmq, unique_name  # noqa: E402
from .support import EXAMPLES  # noqa: E402

# isort: split
from pokedex import (  # noqa: E402
    MESSAGE_CODEC,
    AggregateExistsMessage,
    AppMessageBus,
    NotificationMessage,
    PokemonAppeared,
    PokemonNotificationsQueue,
    RabbitMQMessageBusAdapter,
    RabbitMQMessageQueueAdapter,
    RetryPolicy,
    StateCarryingMessage,
)
from pokedex.runtime import MessageChannelConnectionError  # noqa: E402

pytestmark = pytest.mark.service

#: Bounds the waits that would never end if the behaviour under test were missing.
DEADLOCK_GUARD = 10.0


def bus_adapter(sleep: Sleep = asyncio.sleep, **options: Any) -> RabbitMQMessageBusAdapter:
    return RabbitMQMessageBusAdapter(
        require_rabbitmq(), exchange=unique_name("kastor_test_bus"), message_codec=MESSAGE_CODEC, sleep=sleep, **options
    )


def queue_adapter(sleep: Sleep = asyncio.sleep, **options: Any) -> RabbitMQMessageQueueAdapter:
    return RabbitMQMessageQueueAdapter(
        require_rabbitmq(), queue=unique_name("kastor_test_queue"), message_codec=MESSAGE_CODEC, sleep=sleep, **options
    )


async def remove(adapter: Any) -> None:
    """Deletes what the adapter declared, then closes it."""
    try:
        await adapter.delete()
    finally:
        await adapter.close()


class TestRabbitMQMessageBusAdapter(MessageBusAdapterConformance):
    def make_adapter(self) -> RabbitMQMessageBusAdapter:
        return bus_adapter()

    def make_adapter_with_sleep(self, sleep: Sleep) -> RabbitMQMessageBusAdapter:
        return bus_adapter(sleep)

    async def wait_until_subscribed(self, adapter: Any) -> None:
        await adapter.start()

    async def wait_until_delivered(self, adapter: Any) -> None:
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

    async def close_adapter(self, adapter: Any) -> None:
        await remove(adapter)


class TestRabbitMQMessageQueueAdapter(MessageQueueAdapterConformance):
    def make_adapter(self) -> RabbitMQMessageQueueAdapter:
        return queue_adapter()

    def make_adapter_with_sleep(self, sleep: Sleep) -> RabbitMQMessageQueueAdapter:
        return queue_adapter(sleep)

    async def wait_until_subscribed(self, adapter: Any) -> None:
        await adapter.start()

    async def wait_until_delivered(self, adapter: Any) -> None:
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

    async def close_adapter(self, adapter: Any) -> None:
        await remove(adapter)


# -- helpers -----------------------------------------------------------------------------------------


def state(event: Any) -> StateCarryingMessage[Any, Any, Any]:
    return StateCarryingMessage("pokemons", event, pokemon(event.aggregate_id, event.version))


def note(event: Any) -> NotificationMessage[Any, Any]:
    return NotificationMessage("pokemons", event)


@asynccontextmanager
async def raw_connection() -> AsyncIterator[Any]:
    """A plain aio-pika connection and channel, to look at what the adapters put on the broker."""
    import aio_pika

    connection = await aio_pika.connect(require_rabbitmq(), timeout=5)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


async def get_messages(queue: Any, count: int) -> list[Any]:
    """The next `count` messages of a raw queue (acknowledged), waiting for each at most DEADLOCK_GUARD."""
    import aio_pika

    received: list[Any] = []
    deadline = time.monotonic() + DEADLOCK_GUARD
    while len(received) < count:
        try:
            message = await queue.get(no_ack=True)
        except aio_pika.exceptions.QueueEmpty:
            assert time.monotonic() < deadline, f"only {len(received)} of {count} message(s) arrived"
            await asyncio.sleep(0.01)
            continue
        received.append(message)
    return received


# -- the bus on the exchange ---------------------------------------------------------------------------


async def test_bus_routing_keys_name_the_store_and_event_type_and_replays_carry_a_prefix_and_a_header() -> None:
    adapter = bus_adapter()
    bus = AppMessageBus(adapter)
    try:
        await adapter.start()
        async with raw_connection() as channel:
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(adapter.exchange, routing_key="#")
            exists = AggregateExistsMessage("pokemons", "pikachu-1", T0)
            await bus.publish_message(state(appeared()))
            await bus.publish_message(state(leveled_up(version=2)), replay=True)
            await adapter.publish_message(exists)
            received = await get_messages(queue, 3)

        assert [message.routing_key for message in received] == [
            "pokemons.POKEMON_APPEARED",
            "__REPLAYED__.pokemons.POKEMON_LEVELED_UP",
            "pokemons.__AGGREGATE_EXISTS__",
        ]
        assert [message.headers["x-kastor-replay"] for message in received] == [False, True, False]
        assert [message.type for message in received] == ["state-carrying", "state-carrying", "aggregate-exists"]
    finally:
        await remove(adapter)


async def test_a_bus_subscriber_binds_only_the_keys_of_its_filters_and_replays_only_if_it_opts_in() -> None:
    adapter = bus_adapter()
    bus = ConformanceBus(adapter)
    try:
        live, replaying, whole_store = Handler("live"), Handler("replaying"), Handler("whole_store")
        bus.on(PokemonAppeared, live)
        bus.on(PokemonAppeared, replaying, replay=True)
        bus.on_store("trainers", whole_store)
        await adapter.start()

        keys = {subscriber.queue_name: subscriber.binding_keys for subscriber in adapter._subscribers.values()}
        assert sorted(keys.values(), key=len) == [
            {"pokemons.POKEMON_APPEARED"},
            {"trainers.*"},
            {"pokemons.POKEMON_APPEARED", "__REPLAYED__.pokemons.POKEMON_APPEARED"},
        ]
    finally:
        await remove(adapter)


async def test_the_body_is_json_that_the_message_codec_reads_back_into_an_equal_typed_message() -> None:
    adapter = bus_adapter()
    bus = AppMessageBus(adapter)
    try:
        await adapter.start()
        async with raw_connection() as channel:
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(adapter.exchange, routing_key="pokemons.*")
            message = state(caught(version=3))
            await bus.publish_message(message)
            [received] = await get_messages(queue, 1)

        assert received.content_type == "application/json"
        assert received.delivery_mode == 2  # persistent
        body = json.loads(received.body)
        assert body["kind"] == "state-carrying"
        assert body["event"]["type"] == "POKEMON_CAUGHT"
        decoded = MESSAGE_CODEC.from_json(received.body)
        assert decoded == message
        assert type(decoded.event) is type(message.event)
    finally:
        await remove(adapter)


async def test_publish_returns_once_the_broker_has_the_message_publisher_confirms() -> None:
    from pamqp.commands import Basic

    adapter = queue_adapter()
    queue = PokemonNotificationsQueue(adapter)
    try:
        await adapter.start()
        assert adapter._channel.publisher_confirms
        exchange = adapter._channel.default_exchange
        publish, answers = exchange.publish, []

        async def recording_publish(*args: Any, **kwargs: Any) -> Any:
            answer = await publish(*args, **kwargs)
            answers.append(answer)
            return answer

        exchange.publish = recording_publish
        async with raw_connection() as channel:
            for n in range(5):
                await queue.publish_message(note(appeared(f"pokemon-{n}")))
                # No consumer: the broker holds each message as soon as publish returns, not later.
                declared = await channel.declare_queue(adapter.queue, passive=True)
                assert declared.declaration_result.message_count == n + 1
        assert len(answers) == 5
        assert all(isinstance(answer, Basic.Ack) for answer in answers)  # the broker's confirms
    finally:
        await remove(adapter)


async def test_a_message_the_broker_cannot_route_to_the_queue_raises_instead_of_being_lost() -> None:
    import aio_pika

    adapter = queue_adapter()
    queue = PokemonNotificationsQueue(adapter)
    try:
        await adapter.start()
        async with raw_connection() as channel:
            await channel.queue_delete(adapter.queue)
        with pytest.raises(aio_pika.exceptions.PublishError, match="NO_ROUTE"):
            await queue.publish_message(note(appeared()))
    finally:
        await remove(adapter)


# -- dead letters ----------------------------------------------------------------------------------------


async def test_a_queue_message_that_keeps_failing_ends_in_the_dead_letter_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kastor.channels")
    adapter = queue_adapter()
    queue = PokemonNotificationsQueue(adapter)
    try:
        failing = Handler("failing", failures=-1)
        queue.on(PokemonAppeared, failing, retry=RetryPolicy(retries=1, delay=0.0))
        message, later = note(appeared("doomed")), note(appeared("later"))
        await queue.publish_messages([message, later])
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

        assert failing.contexts == [(1, 1, False), (2, 0, False), (1, 1, False), (2, 0, False)]
        assert [failed.message for failed in adapter.failed_deliveries] == [message, later]
        async with raw_connection() as channel:
            dead = await channel.declare_queue(adapter.dead_letter_queue, passive=True)
            received = await get_messages(dead, 2)
            main = await channel.declare_queue(adapter.queue, passive=True)
            assert main.declaration_result.message_count == 0
        assert [MESSAGE_CODEC.from_json(m.body) for m in received] == [message, later]
        assert all(m.headers["x-death"][0]["reason"] == "rejected" for m in received)
    finally:
        await remove(adapter)


async def test_an_undecodable_body_is_logged_and_dead_lettered_and_the_consumer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import aio_pika

    caplog.set_level(logging.WARNING, logger="kastor.channels")
    adapter = queue_adapter()
    queue = PokemonNotificationsQueue(adapter)
    try:
        handler = Handler()
        queue.on(PokemonAppeared, handler)
        await adapter.start()
        async with raw_connection() as channel:
            for body in (b"not json", b'{"kind": "notification", "event_store_id": "nowhere"}'):
                await channel.default_exchange.publish(aio_pika.Message(body), routing_key=adapter.queue)
        message = note(appeared())
        await queue.publish_message(message)
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

        assert handler.messages == [message]
        errors = [r for r in caplog.records if r.name == "kastor.channels" and r.levelno == logging.ERROR]
        assert len(errors) == 2
        assert "cannot decode" in errors[0].getMessage()
        async with raw_connection() as channel:
            dead = await channel.declare_queue(adapter.dead_letter_queue, passive=True)
            received = await get_messages(dead, 2)
        assert [m.body for m in received] == [b"not json", b'{"kind": "notification", "event_store_id": "nowhere"}']
        assert not adapter.failed_deliveries
    finally:
        await remove(adapter)


async def test_a_bus_message_that_keeps_failing_goes_to_the_dead_letter_exchange_with_its_routing_key() -> None:
    dead_letters = unique_name("kastor_test_dead_letters")
    adapter = bus_adapter(dead_letter_exchange=dead_letters)
    bus = AppMessageBus(adapter)
    try:
        failing, fine = Handler("failing", failures=-1), Handler("fine")
        bus.on(PokemonAppeared, failing, retry=NO_DELAY)
        bus.on(PokemonAppeared, fine)
        await adapter.start()
        async with raw_connection() as channel:
            dead = await channel.declare_queue(exclusive=True)
            await dead.bind(dead_letters, routing_key="#")
            message = state(appeared())
            await bus.publish_message(message)
            await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)
            [received] = await get_messages(dead, 1)

        assert fine.messages == [message]
        assert received.routing_key == "pokemons.POKEMON_APPEARED"
        assert MESSAGE_CODEC.from_json(received.body) == message
        assert [failed.handler for failed in adapter.failed_deliveries] == [failing]
    finally:
        try:
            await remove(adapter)
        finally:
            async with raw_connection() as channel:
                await channel.exchange_delete(dead_letters)


# -- the queue -----------------------------------------------------------------------------------------


async def test_a_queue_message_no_subscription_wants_is_logged_and_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kastor.channels")
    adapter = queue_adapter()
    queue = PokemonNotificationsQueue(adapter)
    try:
        handler = Handler()
        queue.on(PokemonAppeared, handler)
        unwanted = note(leveled_up("unwanted-1", version=2))
        await queue.publish_message(unwanted)
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

        [warning] = [r for r in caplog.records if r.name == "kastor.channels"]
        assert warning.levelno == logging.WARNING
        assert "unwanted-1" in warning.getMessage() and "dropped" in warning.getMessage()
        assert handler.calls == []
        async with raw_connection() as channel:
            for name in (adapter.queue, adapter.dead_letter_queue):
                declared = await channel.declare_queue(name, passive=True)
                assert declared.declaration_result.message_count == 0
    finally:
        await remove(adapter)


async def test_a_queue_runs_up_to_concurrency_handlers_at_once() -> None:
    concurrency = 3
    adapter = queue_adapter(concurrency=concurrency)
    queue = PokemonNotificationsQueue(adapter)
    all_running = asyncio.Event()
    running = most_running = 0

    async def handler(message: Any, context: Any) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        if running == concurrency:
            all_running.set()
        await asyncio.wait_for(all_running.wait(), DEADLOCK_GUARD)
        await asyncio.sleep(0.01)
        running -= 1

    try:
        queue.on(PokemonAppeared, handler)
        await queue.publish_messages([note(appeared(f"pokemon-{n}")) for n in range(2 * concurrency + 1)])
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)
        assert most_running == concurrency
    finally:
        await remove(adapter)


async def test_two_adapters_on_one_queue_handle_each_message_once() -> None:
    first = queue_adapter()
    second = RabbitMQMessageQueueAdapter(require_rabbitmq(), queue=first.queue, message_codec=MESSAGE_CODEC)
    try:
        handlers = Handler("first"), Handler("second")
        for adapter, handler in zip((first, second), handlers, strict=True):
            ConformanceQueue(adapter).on_store("pokemons", handler)
            await adapter.start()
        messages = [note(appeared(f"pokemon-{n}")) for n in range(10)]
        await ConformanceQueue(first).publish_messages(messages)
        deadline = time.monotonic() + DEADLOCK_GUARD
        while sum(len(handler.calls) for handler in handlers) < len(messages) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await second.wait_until_idle(timeout=DEADLOCK_GUARD)

        handled = [message for handler in handlers for message in handler.messages]
        assert sorted(handled, key=lambda m: m.event.aggregate_id) == messages
    finally:
        await second.close()
        await remove(first)


async def test_a_bus_delivers_what_another_adapter_published_on_the_same_exchange() -> None:
    publisher = bus_adapter()
    subscriber = RabbitMQMessageBusAdapter(require_rabbitmq(), exchange=publisher.exchange, message_codec=MESSAGE_CODEC)
    try:
        received = asyncio.Event()
        handler = Handler()

        async def on_message(message: Any, context: Any) -> None:
            await handler(message, context)
            received.set()

        ConformanceBus(subscriber).on_store("pokemons", on_message)
        await subscriber.start()
        message = state(appeared())
        await AppMessageBus(publisher).publish_message(message)
        await asyncio.wait_for(received.wait(), DEADLOCK_GUARD)
        assert handler.messages == [message]
    finally:
        await subscriber.close()
        await remove(publisher)


# -- connections ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_an_unreachable_broker_gives_a_clear_error_naming_host_and_port_without_hanging(kind: str) -> None:
    url = "amqp://guest:guest@127.0.0.1:1/"
    adapter: Any
    if kind == "bus":
        adapter = RabbitMQMessageBusAdapter(url, exchange="unused", message_codec=MESSAGE_CODEC, connect_timeout=2)
    else:
        adapter = RabbitMQMessageQueueAdapter(url, queue="unused", message_codec=MESSAGE_CODEC, connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(MessageChannelConnectionError, match=r"127\.0\.0\.1:1\b") as raised:
        await adapter.publish_message(note(appeared()) if kind == "queue" else state(appeared()))
    assert time.monotonic() - started < 5
    assert (raised.value.host, raised.value.port) == ("127.0.0.1", 1)
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert "guest" not in str(raised.value)
    await adapter.close()


def test_without_aio_pika_the_package_imports_and_an_adapter_says_what_to_install() -> None:
    script = (
        "import sys; sys.modules['aio_pika'] = None\n"  # makes `import aio_pika` fail
        "import pokedex\n"
        "try:\n"
        "    pokedex.RabbitMQMessageBusAdapter('amqp://x/', exchange='e', message_codec=pokedex.MESSAGE_CODEC)\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=EXAMPLES, capture_output=True, text=True, check=True, timeout=60
    )
    assert "install it (pip install aio-pika)" in result.stdout


class DroppingProxy:
    """A TCP proxy to the broker whose connections the test can cut, as a network failure would."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(*self.target)
        self.writers += [client_writer, broker_writer]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()

        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    def drop(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.drop()
        if self.server is not None:
            self.server.close()


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_a_dropped_connection_is_re_established_and_publishing_and_consuming_go_on(kind: str) -> None:
    broker = urlsplit(require_rabbitmq())
    proxy = DroppingProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    url = broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}").geturl()
    adapter: Any
    channel: Any
    if kind == "bus":
        adapter = RabbitMQMessageBusAdapter(
            url, exchange=unique_name("kastor_test_bus"), message_codec=MESSAGE_CODEC, reconnect_interval=0.1
        )
        channel, message_of = ConformanceBus(adapter), state
    else:
        adapter = RabbitMQMessageQueueAdapter(
            url, queue=unique_name("kastor_test_queue"), message_codec=MESSAGE_CODEC, reconnect_interval=0.1
        )
        channel, message_of = ConformanceQueue(adapter), note
    try:
        handler = Handler()
        channel.on(PokemonAppeared, handler)
        before, after = message_of(appeared("before")), message_of(appeared("after"))
        await channel.publish_message(before)
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

        proxy.drop()
        await asyncio.wait_for(channel.publish_message(after), DEADLOCK_GUARD)
        await adapter.wait_until_idle(timeout=DEADLOCK_GUARD)

        assert handler.messages == [before, after]
        assert adapter._connection.connection_attempt == 2  # the same robust connection, connected twice
    finally:
        try:
            await remove(adapter)
        finally:
            await proxy.close()
