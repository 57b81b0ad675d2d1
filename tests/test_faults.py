"""Fault tests: what connected stores, the outbox relay and the production adapters promise when things break.

- A writer process pushing through the outbox (SQLite, a relay publishing to RabbitMQ) is killed with SIGKILL
  at random points and restarted, several times: every stored event still reaches the consumer, at least once.
- RabbitMQ becomes unreachable (a TCP proxy the test stops and restarts): outbox pushes go on and their
  messages arrive once it is back; direct pushes raise EventPublishError, the event stored.
- The PostgreSQL connection is lost in the middle of a group's transaction (the backend terminated, or the
  network cut by a proxy): nothing of the group is stored and the error names the server.
- PostgreSQL's traffic goes into a black hole (a proxy stops forwarding, closing nothing): every call fails
  within the adapter's timeout, a caller's cancellation returns at once, nothing of a group is stored, and the
  adapter recovers once the network does; on a healthy network the server stops an abandoned statement too.

Every test is bounded in time (timeouts on every wait, children joined with timeouts) and uses loopback only.
KASTOR_LONG_FAULT_TESTS=1 runs the long variant of the kill test. See docs/faults.md.
"""

import asyncio
import multiprocessing
import os
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import urlsplit

import pytest

from .pokedex_builders import appeared, leveled_up, pokemons_store, registered, trainers_store  # isort: split

from pokedex import (
    MESSAGE_CODEC,
    ConnectedEventStore,
    Deduplicator,
    DeliveryContext,
    EventPublishError,
    EventStorageError,
    EventStore,
    OutboxBackoff,
    OutboxRelay,
    PokemonAppeared,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsNotificationMessage,
    PostgresEventStorageAdapter,
    RabbitMQMessageQueueAdapter,
    SQLiteEventStorageAdapter,
)
from pokedex.runtime import MessageChannelConnectionError

from .fault_workers import RELAY_BACKOFF, RELAY_LEASE, push_with_outbox_until
from .services import postgres_schema, require_rabbitmq, unique_name  # noqa: F401  (a fixture)

pytestmark = pytest.mark.service

LONG = os.environ.get("KASTOR_LONG_FAULT_TESTS") == "1"
#: The kill test: runs, events pushed per run, kills per run.
KILL_RUNS, KILL_PUSHES, KILLS_PER_RUN = (5, 1_000, 3) if LONG else (2, 200, 3)
KILL_AGGREGATES = ("pikachu", "bulbasaur", "charmander", "squirtle")
#: How long a child may take to reach a kill point, or to finish.
CHILD_TIMEOUT = 120.0 if LONG else 60.0
#: Bounds every wait that would never end if the behaviour under test were missing.
GUARD = 20.0

Key = tuple[str, str, int]


def key_of(message: Any) -> Key:
    return (message.event_store_id, message.event.aggregate_id, message.event.version)


@dataclass
class Consumer:
    """A queue consumer that records every delivery, and deduplicates them as the docs tell consumers to."""

    deliveries: list[Key] = field(default_factory=list)
    handled: list[Key] = field(default_factory=list)
    deduplicator: Deduplicator = field(default_factory=Deduplicator)

    def subscribe(self, channel: PokemonNotificationsQueue) -> None:
        handle_once = self.deduplicator.deduplicated(self._handle)

        async def on_message(message: PokemonsNotificationMessage, context: DeliveryContext) -> None:
            self.deliveries.append(key_of(message))
            await handle_once(message, context)

        for event_class in (PokemonAppeared, PokemonLeveledUp):
            channel.on(event_class, on_message)

    async def _handle(self, message: PokemonsNotificationMessage, context: DeliveryContext) -> None:
        self.handled.append(key_of(message))

    async def wait_for(self, expected: set[Key], timeout: float = GUARD) -> None:
        deadline = time.monotonic() + timeout
        while not expected <= set(self.handled):
            if time.monotonic() > deadline:
                missing = sorted(expected - set(self.handled))
                pytest.fail(f"{len(missing)} stored event(s) not delivered within {timeout} s: {missing[:10]}")
            await asyncio.sleep(0.01)

    def duplicates(self) -> int:
        return sum(count - 1 for count in Counter(self.deliveries).values())

    def assert_version_order_per_aggregate(self) -> None:
        """Per aggregate, the first deliveries come in version order 1, 2, 3... and a redelivery never
        follows a later version (the relay publishes the next version only once the previous is done)."""
        by_aggregate: dict[tuple[str, str], list[int]] = defaultdict(list)
        for store, aggregate_id, version in self.deliveries:
            by_aggregate[(store, aggregate_id)].append(version)
        for aggregate, versions in by_aggregate.items():
            assert versions == sorted(versions), f"{aggregate} delivered out of order: {versions}"
            assert sorted(set(versions)) == list(range(1, max(versions) + 1)), f"{aggregate}: {versions}"


async def stored_keys(store: EventStore[Any, Any, Any], aggregate_ids: Sequence[str]) -> set[Key]:
    return {
        (store.event_store_id, aggregate_id, event.version)
        for aggregate_id in aggregate_ids
        for event in await store.get_events(aggregate_id)
    }


async def remove(adapter: RabbitMQMessageQueueAdapter) -> None:
    """Deletes the adapter's queues, then closes it."""
    try:
        await asyncio.wait_for(adapter.delete(), GUARD)
    finally:
        await adapter.close()


def sqlite_outbox(database: Path) -> tuple[int, int, int]:
    """(outbox rows, rows not yet published, failed publish attempts) of a SQLite database."""
    with sqlite3.connect(database, timeout=30) as connection:
        rows, pending, attempts = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE done = 0), coalesce(sum(attempts), 0) FROM kastor_outbox"
        ).fetchone()
    connection.close()
    return rows, pending, attempts


# -- 1. kill -9 while pushing through the outbox ----------------------------------------------------------


@dataclass
class KillRun:
    starts: int = 0
    kills: int = 0
    #: Events stored when each kill struck.
    killed_at: list[int] = field(default_factory=list)
    #: Messages the children left unpublished (relayed by the parent).
    left_pending: int = 0


def count_stored(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=30) as connection:
            (count,) = connection.execute("SELECT count(*) FROM kastor_events").fetchone()
        connection.close()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return 0
        raise
    return int(count)


def run_children_with_kills(database: Path, rabbitmq_url: str, queue: str, rng: Random) -> KillRun:
    """Starts a writer child, SIGKILLs it once the store holds a random number of events (and one more than
    when it started) after a random extra delay, restarts it, KILLS_PER_RUN times; then lets the last child
    finish the KILL_PUSHES events."""
    context = multiprocessing.get_context("spawn")
    run = KillRun()
    targets = sorted(rng.sample(range(1, int(KILL_PUSHES * 0.9)), KILLS_PER_RUN))
    for target in [*targets, None]:
        process = context.Process(
            target=push_with_outbox_until,
            args=(str(database), rabbitmq_url, queue, KILL_AGGREGATES, KILL_PUSHES),
            daemon=True,
        )
        process.start()
        run.starts += 1
        try:
            if target is None:
                process.join(timeout=CHILD_TIMEOUT)
                assert process.exitcode == 0, f"the last writer child ended with {process.exitcode}"
                continue
            # Killed while pushing: once it stored the target count, and at least one event of its own.
            target = max(target, count_stored(database) + 1)
            deadline = time.monotonic() + CHILD_TIMEOUT
            while count_stored(database) < target and process.is_alive():
                assert time.monotonic() < deadline, f"the writer child did not store {target} events in time"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03))
            if not process.is_alive():
                # It finished (or failed) before the kill: a failure is reported, a finish ends the run.
                assert process.exitcode == 0, f"a writer child ended with {process.exitcode}"
                break
            os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            process.join(timeout=10)
            assert process.exitcode == -signal.SIGKILL
            run.kills += 1
            run.killed_at.append(count_stored(database))
        finally:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
    return run


async def test_kill_9_while_pushing_through_the_outbox_loses_no_stored_event(tmp_path: Path) -> None:
    rabbitmq_url = require_rabbitmq()
    rng = Random(int(os.environ.get("KASTOR_FAULT_SEED", time.time_ns())))
    totals: Counter[str] = Counter()
    for run_number in range(1, KILL_RUNS + 1):
        database = tmp_path / f"run-{run_number}.sqlite3"
        queue_name = unique_name("kastor_fault_kill")
        adapter = RabbitMQMessageQueueAdapter(
            rabbitmq_url, queue=queue_name, message_codec=MESSAGE_CODEC, reconnect_interval=0.1
        )
        storage = SQLiteEventStorageAdapter(database)
        consumer = Consumer()
        channel = PokemonNotificationsQueue(adapter)
        try:
            await asyncio.wait_for(adapter.start(), GUARD)  # declares the queue before any child publishes
            run = await asyncio.to_thread(run_children_with_kills, database, rabbitmq_url, queue_name, rng)
            run.left_pending = sqlite_outbox(database)[1]

            consumer.subscribe(channel)
            relay = OutboxRelay(storage, [channel], MESSAGE_CODEC, lease=RELAY_LEASE, backoff=RELAY_BACKOFF)
            await relay.drain(timeout=GUARD + RELAY_LEASE.total_seconds())
            stored = await stored_keys(pokemons_store(storage), KILL_AGGREGATES)
            await consumer.wait_for(stored)
            await adapter.wait_until_idle(timeout=GUARD)
            outbox_rows, pending, _ = sqlite_outbox(database)
        finally:
            await remove(adapter)
            await storage.close()

        assert len(stored) == KILL_PUSHES
        assert outbox_rows == KILL_PUSHES and pending == 0  # one message per event, all published
        assert set(consumer.deliveries) == stored  # every stored event arrived, and nothing else
        assert sorted(consumer.handled) == sorted(stored)  # deduplicated: once each
        assert consumer.deduplicator.duplicates == consumer.duplicates()
        consumer.assert_version_order_per_aggregate()
        print(
            f"\n[kill -9, run {run_number}/{KILL_RUNS}] pushes={len(stored)} children={run.starts} "
            f"kills={run.kills} (at {run.killed_at} stored) left-pending={run.left_pending} "
            f"delivered={len(consumer.deliveries)} duplicates={consumer.duplicates()} lost=0"
        )
        totals.update(
            pushes=len(stored), kills=run.kills, delivered=len(consumer.deliveries), duplicates=consumer.duplicates()
        )
        assert run.kills >= 1
    print(
        f"[kill -9, total] runs={KILL_RUNS} pushes={totals['pushes']} kills={totals['kills']} "
        f"delivered={totals['delivered']} duplicates={totals['duplicates']} lost=0"
    )


# -- 2. RabbitMQ unreachable for a while ------------------------------------------------------------------


class ControlledProxy:
    """A loopback TCP proxy to a server: `stop()` closes it (connections cut, new ones refused), `start()`
    opens it again on the same port, `cut()` cuts the open connections only, `black_hole()` stops
    forwarding bytes until `release()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @classmethod
    async def started_before(cls, url: str) -> "ControlledProxy":
        """A started proxy to the server of `url` (host and port; PostgreSQL's port by default)."""
        server = urlsplit(url)
        proxy = cls(server.hostname or "127.0.0.1", server.port or 5432)
        await proxy.start()
        return proxy

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()
        self.release()  # so that held pipes see their connections cut, and end

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def black_hole(self) -> None:
        """Stops forwarding bytes, both ways, and closes nothing: as a network that drops every packet,
        without the reset a cut would send. New connections are accepted, and get nothing either."""
        self._flowing.clear()

    def release(self) -> None:
        """Forwards again, what was held first (as TCP delivers what it retransmits once a network heals)."""
        self._flowing.set()

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        return parts._replace(
            netloc=f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        ).geturl()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {client_writer, server_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))


@dataclass
class Broker:
    """A queue reached through a proxy (the publisher's side) and directly (the consumer's side)."""

    proxy: ControlledProxy
    publisher: RabbitMQMessageQueueAdapter
    consumer_adapter: RabbitMQMessageQueueAdapter
    consumer: Consumer

    @classmethod
    async def open(cls) -> "Broker":
        rabbitmq_url = require_rabbitmq()
        broker = urlsplit(rabbitmq_url)
        proxy = ControlledProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
        await proxy.start()
        queue_name = unique_name("kastor_fault_down")
        publisher = RabbitMQMessageQueueAdapter(
            proxy.url(rabbitmq_url),
            queue=queue_name,
            message_codec=MESSAGE_CODEC,
            connect_timeout=1.0,
            publish_timeout=0.5,
            reconnect_interval=0.1,
        )
        consumer_adapter = RabbitMQMessageQueueAdapter(rabbitmq_url, queue=queue_name, message_codec=MESSAGE_CODEC)
        consumer = Consumer()
        consumer.subscribe(PokemonNotificationsQueue(consumer_adapter))
        await asyncio.wait_for(consumer_adapter.start(), GUARD)
        await asyncio.wait_for(publisher.start(), GUARD)
        return cls(proxy, publisher, consumer_adapter, consumer)

    async def close(self) -> None:
        try:
            await self.publisher.close()
            await remove(self.consumer_adapter)
        finally:
            await self.proxy.stop()


OUTAGE_AGGREGATES = ("pikachu", "eevee", "snorlax")


async def test_outbox_pushes_go_on_while_rabbitmq_is_unreachable_and_deliveries_resume(tmp_path: Path) -> None:
    database = tmp_path / "events.sqlite3"
    broker = await Broker.open()
    storage = SQLiteEventStorageAdapter(database)
    channel = PokemonNotificationsQueue(broker.publisher)
    store = pokemons_store(storage)
    connected = ConnectedEventStore(store, channel, delivery="outbox", message_codec=MESSAGE_CODEC)
    relay = OutboxRelay(storage, [channel], MESSAGE_CODEC, backoff=OutboxBackoff(initial=0.05, factor=2.0, maximum=0.4))
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop, idle_interval=0.02))
    versions = dict.fromkeys(OUTAGE_AGGREGATES, 0)

    async def push(count: int) -> list[float]:
        durations = []
        for _ in range(count):
            for aggregate_id in OUTAGE_AGGREGATES:
                versions[aggregate_id] += 1
                version = versions[aggregate_id]
                event = appeared(aggregate_id) if version == 1 else leveled_up(aggregate_id, version=version)
                started = time.monotonic()
                await asyncio.wait_for(connected.push_event(event), GUARD)
                durations.append(time.monotonic() - started)
        return durations

    try:
        await push(2)
        await broker.consumer.wait_for(await stored_keys(store, OUTAGE_AGGREGATES))
        delivered_before = len(broker.consumer.deliveries)

        await broker.proxy.stop()
        outage_started = time.monotonic()
        durations = await push(10)
        # The outage lasts until the relay has failed (and backed off) twice per aggregate: each publish
        # fails after publish_timeout (0.5 s), the next message of the aggregate waits for it.
        deadline = time.monotonic() + GUARD
        while (outbox := sqlite_outbox(database))[2] < 2 * len(OUTAGE_AGGREGATES):
            assert time.monotonic() < deadline, f"the relay did not retry: {outbox}"
            await asyncio.sleep(0.05)
        rows, pending, failed_attempts = outbox
        outage = time.monotonic() - outage_started
        assert len(broker.consumer.deliveries) == delivered_before  # nothing got through
        assert pending == 10 * len(OUTAGE_AGGREGATES)

        await broker.proxy.start()
        back = time.monotonic()
        stored = await stored_keys(store, OUTAGE_AGGREGATES)
        await broker.consumer.wait_for(stored)
        recovery = time.monotonic() - back
        await relay.drain(timeout=GUARD)
    finally:
        stop.set()
        await asyncio.wait_for(relaying, GUARD)
        await storage.close()
        await broker.close()

    assert len(stored) == rows == 12 * len(OUTAGE_AGGREGATES)
    assert set(broker.consumer.deliveries) == stored
    broker.consumer.assert_version_order_per_aggregate()
    print(
        f"\n[rabbitmq down, outbox] {len(durations)} pushes during a {outage:.1f} s outage, all stored "
        f"(slowest {max(durations) * 1000:.0f} ms); {failed_attempts} failed publish attempts retried with backoff; "
        f"{len(broker.consumer.deliveries) - delivered_before} delivered once the broker was back, "
        f"within {recovery:.2f} s; "
        f"total delivered={len(broker.consumer.deliveries)} duplicates={broker.consumer.duplicates()} lost=0, "
        "in version order per aggregate"
    )


async def test_direct_pushes_raise_event_publish_error_while_rabbitmq_is_unreachable_and_stay_stored(
    tmp_path: Path,
) -> None:
    broker = await Broker.open()
    storage = SQLiteEventStorageAdapter(tmp_path / "events.sqlite3")
    store = pokemons_store(storage)
    connected = ConnectedEventStore(store, PokemonNotificationsQueue(broker.publisher))
    errors: list[EventPublishError] = []
    durations: list[float] = []
    try:
        await asyncio.wait_for(connected.push_event(appeared("pikachu")), GUARD)
        await broker.consumer.wait_for({("pokemons", "pikachu", 1)})

        await broker.proxy.stop()
        for version in range(2, 7):
            started = time.monotonic()
            with pytest.raises(EventPublishError) as raised:
                await asyncio.wait_for(connected.push_event(leveled_up("pikachu", version=version)), GUARD)
            durations.append(time.monotonic() - started)
            errors.append(raised.value)
        stored_during_outage = [event.version for event in await store.get_events("pikachu")]

        await broker.proxy.start()
        await asyncio.wait_for(connected.push_event(leveled_up("pikachu", version=7)), GUARD)
        await broker.consumer.wait_for({("pokemons", "pikachu", 7)})
        await broker.consumer_adapter.wait_until_idle(timeout=GUARD)
    finally:
        await storage.close()
        await broker.close()

    assert [(error.event.aggregate_id, error.event.version) for error in errors] == [  # type: ignore[attr-defined]
        ("pikachu", version) for version in range(2, 7)
    ]
    assert all(error.message_channel_id == "pokemon_notifications_queue" for error in errors)
    assert all(isinstance(error.cause, MessageChannelConnectionError) for error in errors)
    assert stored_during_outage == [1, 2, 3, 4, 5, 6]  # stored, though not published
    # Direct delivery is at most once: what failed to publish is not published later by itself.
    assert broker.consumer.deliveries == [("pokemons", "pikachu", 1), ("pokemons", "pikachu", 7)]
    print(
        f"\n[rabbitmq down, direct] {len(errors)} pushes raised EventPublishError, each within "
        f"{max(durations):.2f} s (publish_timeout 0.5 s), the events stored (versions {stored_during_outage}); "
        f"delivered={broker.consumer.deliveries} (direct delivery: the failed ones are not sent later)\n"
        f"  e.g. {errors[0]}"
    )


async def test_a_broker_that_never_answers_fails_direct_pushes_and_keeps_outbox_messages(tmp_path: Path) -> None:
    import socket

    with socket.socket() as placeholder:  # a loopback port nobody listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    adapter = RabbitMQMessageQueueAdapter(
        f"amqp://guest:guest@127.0.0.1:{port}/", queue="unused", message_codec=MESSAGE_CODEC, connect_timeout=1.0
    )
    database = tmp_path / "events.sqlite3"
    storage = SQLiteEventStorageAdapter(database)
    channel = PokemonNotificationsQueue(adapter)
    store = pokemons_store(storage)
    try:
        started = time.monotonic()
        with pytest.raises(EventPublishError, match=rf"127\.0\.0\.1:{port}") as raised:
            await asyncio.wait_for(ConnectedEventStore(store, channel).push_event(appeared("direct")), GUARD)
        direct_time = time.monotonic() - started
        assert isinstance(raised.value.cause, MessageChannelConnectionError)
        assert [event.version for event in await store.get_events("direct")] == [1]

        outbox = ConnectedEventStore(store, channel, delivery="outbox", message_codec=MESSAGE_CODEC)
        await asyncio.wait_for(outbox.push_event(appeared("outbox")), GUARD)
        relay = OutboxRelay(storage, [channel], MESSAGE_CODEC, backoff=OutboxBackoff(initial=0.0))
        assert await asyncio.wait_for(relay.relay_once(), GUARD) == 0
        rows, pending, attempts = sqlite_outbox(database)
    finally:
        await adapter.close()
        await storage.close()
    assert (rows, pending, attempts) == (1, 1, 1)  # kept, to be retried
    print(
        f"\n[rabbitmq never reachable] direct push: EventPublishError in {direct_time:.2f} s, event stored; "
        f"outbox push stored, message pending after {attempts} failed attempt\n  e.g. {raised.value}"
    )


# -- 3. PostgreSQL connection lost in the middle of a group -------------------------------------------------


def with_application_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&application_name={name}" if parts.query else f"application_name={name}"
    return parts._replace(query=query).geturl()


@pytest.mark.parametrize("how", ["backend terminated", "network cut"])
async def test_a_postgres_connection_lost_mid_group_stores_nothing_and_names_the_server(
    postgres_schema: tuple[str, str],  # noqa: F811
    how: str,
) -> None:
    import psycopg

    url, schema = postgres_schema
    application = unique_name("kastor_fault")
    server = urlsplit(url)
    proxy = await ControlledProxy.started_before(url)
    adapter_url = with_application_name(proxy.url(url) if how == "network cut" else url, application)
    where = f"127.0.0.1:{proxy.port}" if how == "network cut" else f"{server.hostname}:{server.port or 5432}"
    # Terminated: the backend sleeps long (it is killed). Cut: it sleeps briefly, then finds its client gone.
    sleep = 15 if how == "backend terminated" else 1
    adapter = PostgresEventStorageAdapter(adapter_url, schema=schema)
    monitor = await psycopg.AsyncConnection.connect(url, autocommit=True)
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)

    def group() -> list[Any]:
        return [
            pokemons.group_event(appeared("bulbasaur")),
            trainers.group_event(registered("ash")),
            pokemons.group_event(appeared("slowpoke")),  # the trigger sleeps here: two rows already written
            pokemons.group_event(leveled_up("bulbasaur", version=2)),
        ]

    async def backend() -> int | None:
        cursor = await monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event = 'PgSleep'", (application,)
        )
        row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def count_rows() -> int:
        cursor = await monitor.execute(f'SELECT count(*) FROM "{schema}".kastor_events')
        row = await cursor.fetchone()
        return int(row[0]) if row else -1

    try:
        await asyncio.wait_for(adapter.create_schema(), GUARD)
        await monitor.execute(
            f"""CREATE FUNCTION "{schema}".slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.aggregate_id = 'slowpoke' THEN PERFORM pg_sleep({sleep}); END IF;
                RETURN NEW;
            END $$"""
        )
        await monitor.execute(
            f'CREATE TRIGGER slow_insert BEFORE INSERT ON "{schema}".kastor_events '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".slow_insert()'
        )
        pushing = asyncio.create_task(asyncio.wait_for(EventStore.push_event_group(*group()), GUARD))
        deadline = time.monotonic() + GUARD
        while (pid := await backend()) is None:
            assert not pushing.done(), f"the group ended before the connection was lost: {pushing!r}"
            assert time.monotonic() < deadline, "the group's transaction never reached the sleeping trigger"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        if how == "backend terminated":
            await monitor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        else:
            proxy.cut()
        with pytest.raises(EventStorageError) as raised:
            await pushing
        failed_after = time.monotonic() - started
        # The server side is gone (terminated, or it found its client gone) and rolled the group back.
        deadline = time.monotonic() + GUARD
        while True:
            cursor = await monitor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if await cursor.fetchone() is None:
                break
            assert time.monotonic() < deadline, f"backend {pid} still alive"
            await asyncio.sleep(0.05)
        rows_after_loss = await count_rows()

        # The same adapter recovers: its pool replaces the lost connection.
        await monitor.execute(f'DROP TRIGGER slow_insert ON "{schema}".kastor_events')
        await asyncio.wait_for(EventStore.push_event_group(*group()), GUARD)
        rows_after_retry = await count_rows()
    finally:
        await adapter.close()
        await monitor.close()
        await proxy.stop()

    message = str(raised.value)
    assert rows_after_loss == 0  # nothing of the group
    assert where in message and "PostgreSQL" in message
    assert isinstance(raised.value.__cause__, psycopg.Error)
    assert rows_after_retry == 4
    print(
        f"\n[postgres, {how}] group of 4 events, connection lost after 2 rows: EventStorageError after "
        f"{failed_after:.2f} s, rows stored: {rows_after_loss}; retried on the same adapter: {rows_after_retry} rows"
        f"\n  {type(raised.value.__cause__).__name__}: {message}"
    )


# -- 4. PostgreSQL through a black hole: every call ends within its timeout ----------------------------------

#: The adapter's timeout in the black-hole tests, and what a call may take beyond it (or beyond the
#: caller's own deadline): generous, so that a loaded machine does not fail them, far below a hang.
BLACK_HOLE_TIMEOUT = 2.0
BLACK_HOLE_MARGIN = 3.0


@dataclass
class BlackHoledPostgres:
    """An adapter that reaches PostgreSQL through a proxy the test black-holes, and a monitoring connection
    that reaches it directly."""

    url: str
    schema: str
    application: str
    proxy: ControlledProxy
    adapter: PostgresEventStorageAdapter
    monitor: Any

    @classmethod
    async def open(cls, url: str, schema: str, **adapter_options: Any) -> "BlackHoledPostgres":
        import psycopg

        proxy = await ControlledProxy.started_before(url)
        application = unique_name("kastor_black_hole")
        adapter = PostgresEventStorageAdapter(
            with_application_name(proxy.url(url), application), schema=schema, **adapter_options
        )
        monitor = await psycopg.AsyncConnection.connect(url, autocommit=True)
        await asyncio.wait_for(adapter.create_schema(), GUARD)
        await asyncio.wait_for(pokemons_store(adapter).push_event(appeared("pikachu")), GUARD)
        return cls(url, schema, application, proxy, adapter, monitor)

    async def close(self) -> None:
        try:
            self.proxy.release()
            await asyncio.wait_for(self.adapter.close(), GUARD)
            await self.monitor.close()
        finally:
            await self.proxy.stop()

    async def rows(self) -> list[tuple[str, str, int]]:
        cursor = await self.monitor.execute(
            f'SELECT event_store_id, aggregate_id, version FROM "{self.schema}".kastor_events ORDER BY 1, 2, 3'
        )
        return [(store, aggregate_id, version) for store, aggregate_id, version in await cursor.fetchall()]

    async def wait_until_the_adapters_backends_end(self) -> None:
        """Once released, the server reads the end of the abandoned connections and ends their backends,
        rolling back what they had not committed."""
        deadline = time.monotonic() + GUARD
        while True:
            cursor = await self.monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state <> 'idle'",
                (self.application,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] == 0:
                return
            assert time.monotonic() < deadline, "the abandoned backends never ended"
            await asyncio.sleep(0.05)


def black_hole_calls(database: BlackHoledPostgres) -> dict[str, Any]:
    pokemons = pokemons_store(database.adapter)
    relay = OutboxRelay(database.adapter, [], MESSAGE_CODEC)
    return {
        "push_event": lambda: pokemons.push_event(leveled_up("pikachu", version=2)),
        "get_events": lambda: pokemons.get_events("pikachu"),
        "list_aggregate_ids": lambda: pokemons.list_aggregate_ids(),
        "outbox relay": relay.relay_once,
    }


@pytest.mark.parametrize("call", ["push_event", "get_events", "list_aggregate_ids", "outbox relay"])
async def test_a_postgres_call_through_a_black_hole_fails_within_its_timeout_naming_the_server(
    postgres_schema: tuple[str, str],  # noqa: F811
    call: str,
) -> None:
    database = await BlackHoledPostgres.open(*postgres_schema, timeout=BLACK_HOLE_TIMEOUT)
    try:
        database.proxy.black_hole()
        started = time.monotonic()
        with pytest.raises(EventStorageError) as raised:
            await asyncio.wait_for(black_hole_calls(database)[call](), GUARD)
        failed_after = time.monotonic() - started
        # The abandoned connection went back to the pool closed: discarded, never lent again.
        assert database.adapter._opened is not None
        returned_closed = database.adapter._opened.pool.get_stats().get("returns_bad", 0)
        database.proxy.release()
        await database.wait_until_the_adapters_backends_end()
        # The same adapter serves the next calls.
        pokemons = pokemons_store(database.adapter)
        events = await asyncio.wait_for(pokemons.get_events("pikachu"), GUARD)
        rows = await database.rows()
    finally:
        await database.close()
    message = str(raised.value)
    assert failed_after < BLACK_HOLE_TIMEOUT + BLACK_HOLE_MARGIN
    assert f"PostgreSQL at 127.0.0.1:{database.proxy.port} (database test)" in message
    assert f"timed out after {BLACK_HOLE_TIMEOUT:g} s" in message
    assert returned_closed == 1
    # A write that timed out may or may not have been stored (it may reach the server once the network
    # heals, as the docs say): whole either way.
    assert [event.version for event in events] in ([1], [1, 2])
    assert rows == [("pokemons", "pikachu", event.version) for event in events]
    print(f"\n[postgres black hole, {call}] EventStorageError after {failed_after:.2f} s\n  {message}")


async def test_a_postgres_group_black_holed_mid_transaction_fails_within_its_timeout_and_stores_nothing(
    postgres_schema: tuple[str, str],  # noqa: F811
) -> None:
    database = await BlackHoledPostgres.open(*postgres_schema, timeout=BLACK_HOLE_TIMEOUT + 1)
    schema = database.schema
    pokemons, trainers = pokemons_store(database.adapter), trainers_store(database.adapter)

    def group() -> list[Any]:
        return [
            pokemons.group_event(appeared("bulbasaur")),
            trainers.group_event(registered("ash")),
            pokemons.group_event(appeared("slowpoke")),  # the trigger sleeps here: two rows already written
            pokemons.group_event(leveled_up("bulbasaur", version=2)),
        ]

    try:
        await database.monitor.execute(
            f"""CREATE FUNCTION "{schema}".slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.aggregate_id = 'slowpoke' THEN PERFORM pg_sleep(1); END IF;
                RETURN NEW;
            END $$"""
        )
        await database.monitor.execute(
            f'CREATE TRIGGER slow_insert BEFORE INSERT ON "{schema}".kastor_events '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".slow_insert()'
        )
        started = time.monotonic()
        pushing = asyncio.create_task(asyncio.wait_for(EventStore.push_event_group(*group()), GUARD))
        deadline = time.monotonic() + GUARD
        while True:
            cursor = await database.monitor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event = 'PgSleep'",
                (database.application,),
            )
            if await cursor.fetchone() is not None:
                break
            assert not pushing.done(), f"the group ended before the black hole: {pushing!r}"
            assert time.monotonic() < deadline, "the group's transaction never reached the sleeping trigger"
            await asyncio.sleep(0.01)
        database.proxy.black_hole()  # the answer to the third insert, and everything after, is held
        with pytest.raises(EventStorageError) as raised:
            await pushing
        failed_after = time.monotonic() - started
        database.proxy.release()
        await database.wait_until_the_adapters_backends_end()
        rows_after_black_hole = await database.rows()
        await database.monitor.execute(f'DROP TRIGGER slow_insert ON "{schema}".kastor_events')
        await asyncio.wait_for(EventStore.push_event_group(*group()), GUARD)  # the same adapter recovers
        rows_after_retry = await database.rows()
    finally:
        await database.close()
    assert failed_after < BLACK_HOLE_TIMEOUT + 1 + BLACK_HOLE_MARGIN
    assert "timed out after 3 s" in str(raised.value) and f"127.0.0.1:{database.proxy.port}" in str(raised.value)
    assert rows_after_black_hole == [("pokemons", "pikachu", 1)]  # nothing of the group
    assert len(rows_after_retry) == 5
    print(
        f"\n[postgres black hole, mid-group] EventStorageError after {failed_after:.2f} s (timeout 3 s), "
        f"rows of the group stored: 0; retried on the same adapter: 4 rows\n  {raised.value}"
    )


@pytest.mark.parametrize("call", ["push_event", "get_events"])
async def test_a_caller_cancelling_a_black_holed_postgres_call_gets_control_back_at_once(
    postgres_schema: tuple[str, str],  # noqa: F811
    call: str,
) -> None:
    # The adapter's own timeout is the default (30 s): the caller's deadline comes first, and is honoured.
    database = await BlackHoledPostgres.open(*postgres_schema)
    try:
        database.proxy.black_hole()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(black_hole_calls(database)[call](), 1.0)
        returned_after = time.monotonic() - started
        database.proxy.release()
        await database.wait_until_the_adapters_backends_end()
        events = await asyncio.wait_for(pokemons_store(database.adapter).get_events("pikachu"), GUARD)
    finally:
        await database.close()
    assert returned_after < 1.0 + BLACK_HOLE_MARGIN
    assert [event.version for event in events] in ([1], [1, 2])
    print(f"\n[postgres black hole, cancelled by the caller, {call}] control back after {returned_after:.2f} s")


async def test_connecting_to_postgres_through_a_black_hole_fails_within_the_timeouts(
    postgres_schema: tuple[str, str],  # noqa: F811
) -> None:
    url, schema = postgres_schema
    proxy = await ControlledProxy.started_before(url)
    proxy.black_hole()  # the server accepts connections, and never answers them
    try:
        # The call's timeout bounds connecting too.
        adapter = PostgresEventStorageAdapter(proxy.url(url), schema=schema, timeout=BLACK_HOLE_TIMEOUT)
        started = time.monotonic()
        with pytest.raises(EventStorageError) as timed_out:
            await asyncio.wait_for(pokemons_store(adapter).get_events("pikachu"), GUARD)
        timed_out_after = time.monotonic() - started
        await asyncio.wait_for(adapter.close(), GUARD)
        # And the connect timeout alone, shorter than the call's.
        adapter = PostgresEventStorageAdapter(proxy.url(url), schema=schema, connect_timeout=2)
        started = time.monotonic()
        with pytest.raises(EventStorageError) as refused:
            await asyncio.wait_for(pokemons_store(adapter).get_events("pikachu"), GUARD)
        refused_after = time.monotonic() - started
        await asyncio.wait_for(adapter.close(), GUARD)
    finally:
        await proxy.stop()
    where = f"PostgreSQL at 127.0.0.1:{proxy.port} (database test)"
    assert timed_out_after < BLACK_HOLE_TIMEOUT + BLACK_HOLE_MARGIN
    assert f"{where}: get_events timed out after 2 s (the adapter's timeout) connecting" in str(timed_out.value)
    assert refused_after < 2 + BLACK_HOLE_MARGIN
    assert f"cannot connect to {where}: connection timeout expired" in str(refused.value)
    print(
        f"\n[postgres black hole, connecting] timeout=2: EventStorageError after {timed_out_after:.2f} s; "
        f"connect_timeout=2: after {refused_after:.2f} s\n  {timed_out.value}\n  {refused.value}"
    )


async def test_a_given_postgres_connection_black_holed_is_closed_and_says_so_in_every_later_call(
    postgres_schema: tuple[str, str],  # noqa: F811
) -> None:
    import psycopg

    url, schema = postgres_schema
    proxy = await ControlledProxy.started_before(url)
    connection = await psycopg.AsyncConnection.connect(proxy.url(url), autocommit=True)
    try:
        adapter = PostgresEventStorageAdapter(connection=connection, schema=schema, timeout=BLACK_HOLE_TIMEOUT)
        pokemons = pokemons_store(adapter)
        await asyncio.wait_for(adapter.create_schema(), GUARD)
        proxy.black_hole()
        started = time.monotonic()
        with pytest.raises(EventStorageError, match="get_events timed out after 2 s"):
            await asyncio.wait_for(pokemons.get_events("pikachu"), GUARD)
        failed_after = time.monotonic() - started
        proxy.release()
        # Its state was unknown (a statement half answered): the adapter closed it, and cannot replace it.
        assert connection.closed
        with pytest.raises(EventStorageError, match="the connection is closed"):
            await asyncio.wait_for(pokemons.get_events("pikachu"), GUARD)
    finally:
        await connection.close()
        await proxy.stop()
    assert failed_after < BLACK_HOLE_TIMEOUT + BLACK_HOLE_MARGIN


async def test_a_postgres_statement_abandoned_on_a_healthy_network_ends_on_the_server_too(
    postgres_schema: tuple[str, str],  # noqa: F811
) -> None:
    import psycopg

    url, schema = postgres_schema
    application = unique_name("kastor_abandoned")
    adapter = PostgresEventStorageAdapter(with_application_name(url, application), schema=schema, timeout=1)
    monitor = await psycopg.AsyncConnection.connect(url, autocommit=True)
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    try:
        await asyncio.wait_for(adapter.create_schema(), GUARD)
        await monitor.execute(
            f"""CREATE FUNCTION "{schema}".slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.aggregate_id = 'slowpoke' THEN PERFORM pg_sleep(30); END IF;
                RETURN NEW;
            END $$"""
        )
        await monitor.execute(
            f'CREATE TRIGGER slow_insert BEFORE INSERT ON "{schema}".kastor_events '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".slow_insert()'
        )
        with pytest.raises(EventStorageError, match="push_events timed out after 1 s"):
            await asyncio.wait_for(
                EventStore.push_event_group(
                    trainers.group_event(registered("ash")), pokemons.group_event(appeared("slowpoke"))
                ),
                GUARD,
            )
        abandoned = time.monotonic()
        # The adapter sent no cancel request (it would wait for it through a black hole), but closed the
        # connection: the server finds its client gone while the statement runs (its
        # client_connection_check_interval), stops it and rolls the group back, releasing its locks.
        while True:
            cursor = await monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                (application,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] == 0:
                break
            assert time.monotonic() - abandoned < 10, "the abandoned statement still runs on the server"
            await asyncio.sleep(0.05)
        ended_after = time.monotonic() - abandoned
        cursor = await monitor.execute(f'SELECT count(*) FROM "{schema}".kastor_events')
        assert await cursor.fetchone() == (0,)
    finally:
        await adapter.close()
        await monitor.close()
    print(f"\n[postgres, abandoned statement] the server stopped it {ended_after:.2f} s after the timeout")
