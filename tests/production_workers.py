"""Writer processes of the end-to-end test: connected stores on PostgreSQL publishing to a RabbitMQ queue.

Top-level and importable in a `spawn`ed child, which makes the generated package importable itself.
"""

import asyncio
import random
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    MESSAGE_CODEC,
    ConnectedEventStore,
    EventAlreadyExistsError,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEventStore,
    PostgresEventStorageAdapter,
    RabbitMQMessageQueueAdapter,
)

from demo.pokedex_demo import Pokedex


def push_in_child_process(
    postgres_url: str,
    schema: str,
    rabbitmq_url: str,
    queue: str,
    writer: int,
    aggregate_ids: Sequence[str],
    successes: int,
    start_line: Any,
    results: Any,
) -> None:
    """Pushes `successes` level-ups through a connected store, racing the other writers on the same
    aggregates; puts ("ok", writer, (pushed versions, conflicts)) or ("error", writer, traceback)."""

    async def push() -> tuple[list[tuple[str, int]], int]:
        storage = PostgresEventStorageAdapter(postgres_url, schema=schema)
        channel_adapter = RabbitMQMessageQueueAdapter(rabbitmq_url, queue=queue, message_codec=MESSAGE_CODEC)
        try:
            store = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=storage)
            connected = ConnectedEventStore(store, PokemonNotificationsQueue(channel_adapter))
            await connected.get_events(aggregate_ids[0])  # connected before the start line
            await channel_adapter.start()
            start_line.wait(timeout=60)
            chooser = random.Random(writer)
            pushed: list[tuple[str, int]] = []
            conflicts = 0
            while len(pushed) < successes:
                aggregate_id = chooser.choice(aggregate_ids)
                current = await connected.get_existing_aggregate(aggregate_id)
                version = current.aggregate.version + 1
                try:
                    await connected.push_event(
                        PokemonLeveledUp(aggregate_id=aggregate_id, version=version), prev_aggregate=current.aggregate
                    )
                except EventAlreadyExistsError:
                    conflicts += 1
                    continue
                pushed.append((aggregate_id, version))
            return pushed, conflicts
        finally:
            await channel_adapter.close()
            await storage.close()

    try:
        outcome = asyncio.run(push())
    except BaseException:
        results.put(("error", writer, traceback.format_exc()))
        raise
    results.put(("ok", writer, outcome))
