"""Child processes of the fault tests (tests/test_faults.py), killed with SIGKILL at random points.

Top-level and importable in a `spawn`ed child, which makes the generated package importable itself. A
child reports nothing through pipes or queues (a process killed while writing to one may corrupt it): the
parent reads how far it went from the SQLite file, and its exit code.
"""

import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    MESSAGE_CODEC,
    ConnectedEventStore,
    OutboxBackoff,
    OutboxRelay,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEvent,
    PokemonsEventStore,
    RabbitMQMessageQueueAdapter,
    SQLiteEventStorageAdapter,
)

from demo.pokedex_demo import Pokedex

#: How long a relay's claim on a message lasts: a killed child's claims are taken over after it.
RELAY_LEASE = timedelta(seconds=1)
RELAY_BACKOFF = OutboxBackoff(initial=0.05, factor=2.0, maximum=0.5)


def next_event(aggregate_ids: Sequence[str], stored_per_aggregate: dict[str, int]) -> PokemonsEvent:
    """The event that follows what is stored: the aggregates are filled in turn (the least filled first), so
    the n-th push always targets the same (aggregate, version) whatever the kills."""
    aggregate_id = min(
        aggregate_ids, key=lambda aggregate: (stored_per_aggregate[aggregate], aggregate_ids.index(aggregate))
    )
    version = stored_per_aggregate[aggregate_id] + 1
    if version == 1:
        payload = PokemonAppearedPayload(name=aggregate_id.title(), level=1, pokemon_type="electric")
        return PokemonAppeared(aggregate_id=aggregate_id, version=1, payload=payload)
    return PokemonLeveledUp(aggregate_id=aggregate_id, version=version)


def push_with_outbox_until(
    database: str, rabbitmq_url: str, queue: str, aggregate_ids: Sequence[str], total: int
) -> None:
    """Pushes through a connected store with outbox delivery on SQLite until `total` events are stored
    (resuming where the store is), while an OutboxRelay publishes to the RabbitMQ queue; exits 0 when done."""
    asyncio.run(_push_with_outbox_until(database, rabbitmq_url, queue, list(aggregate_ids), total))


async def _push_with_outbox_until(
    database: str, rabbitmq_url: str, queue: str, aggregate_ids: list[str], total: int
) -> None:
    storage = SQLiteEventStorageAdapter(database)
    channel_adapter = RabbitMQMessageQueueAdapter(
        rabbitmq_url, queue=queue, message_codec=MESSAGE_CODEC, publish_timeout=5.0, reconnect_interval=0.1
    )
    channel = PokemonNotificationsQueue(channel_adapter)
    store = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=storage)
    connected = ConnectedEventStore(store, channel, delivery="outbox", message_codec=MESSAGE_CODEC)
    relay = OutboxRelay(storage, [channel], MESSAGE_CODEC, lease=RELAY_LEASE, backoff=RELAY_BACKOFF, batch_size=20)
    await asyncio.wait_for(channel_adapter.start(), 30)  # the relay publishes from the first push on
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop, idle_interval=0.01))
    try:
        stored = {aggregate_id: len(await store.get_events(aggregate_id)) for aggregate_id in aggregate_ids}
        while sum(stored.values()) < total:
            event = next_event(aggregate_ids, stored)
            await connected.push_event(event)
            stored[event.aggregate_id] = event.version
            if relaying.done():  # the relay must not fail silently: let its error end the child
                relaying.result()
    finally:
        stop.set()
        await asyncio.wait_for(relaying, 30)
        await channel_adapter.close()
        await storage.close()
