"""End to end on the production engines: writer processes push through connected stores on PostgreSQL while
a consumer on the RabbitMQ queue receives every stored event exactly once per version.

The queue delivers at least once, so the consumer deduplicates by (store, aggregate, version), as the README
tells consumers to; the duplicates it saw are reported.
"""

import asyncio
import multiprocessing
import queue as queue_module
from collections import Counter
from typing import Any

import pytest

from .pokedex_builders import appeared  # isort: split

from pokedex import (
    MESSAGE_CODEC,
    ConnectedEventStore,
    DeliveryContext,
    PokemonAppeared,
    PokemonCaught,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEventStore,
    PokemonsNotificationMessage,
    PostgresEventStorageAdapter,
    RabbitMQMessageQueueAdapter,
)

from demo.pokedex_demo import Pokedex

from .production_workers import push_in_child_process
from .services import postgres_schema, require_rabbitmq, unique_name  # noqa: F401  (a fixture)

pytestmark = pytest.mark.service

WRITERS = 4
SUCCESSES_PER_WRITER = 15
AGGREGATES = ("mew", "mewtwo", "ditto")


def test_every_stored_event_reaches_the_queue_consumer_once_per_version(
    postgres_schema: tuple[str, str],  # noqa: F811
) -> None:
    postgres_url, schema = postgres_schema
    rabbitmq_url = require_rabbitmq()
    asyncio.run(_run(postgres_url, schema, rabbitmq_url, unique_name("kastor_e2e")))


async def _run(postgres_url: str, schema: str, rabbitmq_url: str, queue_name: str) -> None:
    storage = PostgresEventStorageAdapter(postgres_url, schema=schema)
    consumer = RabbitMQMessageQueueAdapter(rabbitmq_url, queue=queue_name, message_codec=MESSAGE_CODEC)
    received: Counter[tuple[str, str, int]] = Counter()

    async def record(message: PokemonsNotificationMessage, context: DeliveryContext) -> None:
        event = message.event
        received[(message.event_store_id, event.aggregate_id, event.version)] += 1

    try:
        await storage.create_schema()
        channel = PokemonNotificationsQueue(consumer)
        for event_class in (PokemonAppeared, PokemonLeveledUp, PokemonCaught):
            channel.on(event_class, record)
        await consumer.start()
        pokemons = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=storage)
        connected = ConnectedEventStore(pokemons, channel)
        for aggregate_id in AGGREGATES:
            await connected.push_event(appeared(aggregate_id, level=1))

        reports = await asyncio.to_thread(_run_writers, postgres_url, schema, rabbitmq_url, queue_name)

        stored = {
            ("pokemons", aggregate_id, event.version)
            for aggregate_id in AGGREGATES
            for event in await pokemons.get_events(aggregate_id)
        }
        await consumer.wait_until_idle(timeout=60)
    finally:
        await consumer.delete()
        await consumer.close()
        await storage.close()

    pushed = [("pokemons", aggregate_id, version) for report in reports for aggregate_id, version in report[0]]
    # Every version stored once, each claimed by exactly one writer (the initial events by this test).
    assert len(pushed) == len(set(pushed)) == WRITERS * SUCCESSES_PER_WRITER
    assert stored == set(pushed) | {("pokemons", aggregate_id, 1) for aggregate_id in AGGREGATES}
    for aggregate_id in AGGREGATES:
        versions = sorted(version for store, aggregate, version in stored if aggregate == aggregate_id)
        assert versions == list(range(1, len(versions) + 1))
    # The consumer received every stored event, and nothing else; deduplicated by store, aggregate, version.
    assert set(received) == stored
    duplicates = sum(count - 1 for count in received.values())
    conflicts = sum(report[1] for report in reports)
    print(
        f"\n{len(stored)} events stored by {WRITERS} processes ({conflicts} conflicts lost and retried); "
        f"{sum(received.values())} deliveries, {duplicates} duplicates"
    )


def _run_writers(postgres_url: str, schema: str, rabbitmq_url: str, queue_name: str) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    start_line = context.Barrier(WRITERS)
    results = context.Queue()
    processes = [
        context.Process(
            target=push_in_child_process,
            args=(
                postgres_url,
                schema,
                rabbitmq_url,
                queue_name,
                writer,
                AGGREGATES,
                SUCCESSES_PER_WRITER,
                start_line,
                results,
            ),
            daemon=True,
        )
        for writer in range(WRITERS)
    ]
    for process in processes:
        process.start()
    reports: list[Any] = []
    try:
        while len(reports) < WRITERS:
            try:
                status, writer, outcome = results.get(timeout=120)
            except queue_module.Empty:
                pytest.fail("the writer processes did not finish in 120 s")
            if status != "ok":
                pytest.fail(f"writer {writer} failed:\n{outcome}")
            reports.append(outcome)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in processes] == [0] * WRITERS
    return reports
