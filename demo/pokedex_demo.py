"""The pokedex demo: connected event stores of the generated `pokedex` package, on SQLite (the embedded
default) with an in-memory bus and queue.

Run it from the repository root after `kastor generate`:

    python demo/pokedex_demo.py [--database PATH]
    python demo/pokedex_demo.py --postgres postgresql://postgres@127.0.0.1:5432/test \\
        --rabbitmq amqp://guest:guest@127.0.0.1:5672/

Without --database the events go to a fresh file in a temporary directory. With --postgres and --rabbitmq
(or $KASTOR_DEMO_POSTGRES_URL and $KASTOR_DEMO_RABBITMQ_URL) the same program runs on PostgreSQL and
RabbitMQ, in a schema, an exchange and a queue of its own that it removes at the end (subscribers then print
in the order the broker delivers); its first line says which. Pikachu appears, levels up and is caught by
Ash: the catch is one atomic group of two events in two stores. Every push goes through
connected stores, so each event is also published: with the aggregate on the state-carrying bus, as a
notification on the queue. Each subscriber prints what it receives.
"""

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

# The generated package lives in generated_examples/, which is not installed: make it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generated_examples"))

from pokedex import (
    MESSAGE_CODEC,
    AppMessageBus,
    DeliveryContext,
    EventAlreadyExistsError,
    EventStorageAdapter,
    EventStore,
    InMemoryMessageBusAdapter,
    InMemoryMessageQueueAdapter,
    KastorError,
    NotificationMessage,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonCaught,
    PokemonCaughtPayload,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEventStore,
    PokemonsNotificationMessage,
    PokemonsReducer,
    PokemonsStateCarryingMessage,
    PostgresEventStorageAdapter,
    RabbitMQMessageBusAdapter,
    RabbitMQMessageQueueAdapter,
    SQLiteEventStorageAdapter,
    SubscribableMessageChannelAdapter,
    Trainer,
    TrainerCaughtPokemon,
    TrainerCaughtPokemonPayload,
    TrainerRegistered,
    TrainerRegisteredPayload,
    TrainersEventStore,
    TrainersReducer,
    TrainersStateCarryingMessage,
    connect_pokemons_event_store,
    connect_trainers_event_store,
)


class Pokedex(PokemonsReducer):
    """How each pokemon event changes a pokemon: one typed hook per event type."""

    def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
        payload = event.payload
        return Pokemon(name=payload.name, level=payload.level, pokemon_type=payload.pokemon_type, trainer_id=None)

    def on_pokemon_caught(self, aggregate: Pokemon, event: PokemonCaught) -> Pokemon:
        return aggregate.model_copy(update={"trainer_id": event.payload.trainer_id})

    def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
        return aggregate.model_copy(update={"level": aggregate.level + 1})


class TrainerBook(TrainersReducer):
    """How each trainer event changes a trainer."""

    def on_trainer_registered(self, event: TrainerRegistered) -> Trainer:
        return Trainer(name=event.payload.name, caught_pokemon_ids=[])

    def on_trainer_caught_pokemon(self, aggregate: Trainer, event: TrainerCaughtPokemon) -> Trainer:
        return aggregate.model_copy(
            update={"caught_pokemon_ids": [*aggregate.caught_pokemon_ids, event.payload.pokemon_id]}
        )


class DeliveringAdapter(SubscribableMessageChannelAdapter, Protocol):
    """A channel adapter that delivers to subscribers here, and can tell when it is done."""

    async def start(self) -> None: ...

    async def wait_until_idle(self) -> None: ...


async def run_embedded(database: Path, *, shown_database: str) -> None:
    """The embedded default: SQLite, an in-memory bus and an in-memory queue."""
    print(f"pokedex demo on SQLite ({shown_database}) with an in-memory bus and queue")
    async with SQLiteEventStorageAdapter(database) as storage:
        await run(storage, InMemoryMessageBusAdapter(), InMemoryMessageQueueAdapter())


async def run_production(postgres_url: str, rabbitmq_url: str) -> None:
    """PostgreSQL and RabbitMQ, in a schema, an exchange and a queue of this run's own, removed at the end."""
    suffix = uuid.uuid4().hex[:8]
    storage = PostgresEventStorageAdapter(postgres_url, schema=f"pokedex_demo_{suffix}")
    bus = RabbitMQMessageBusAdapter(rabbitmq_url, exchange=f"pokedex-demo-{suffix}", message_codec=MESSAGE_CODEC)
    queue = RabbitMQMessageQueueAdapter(rabbitmq_url, queue=f"pokedex-demo-{suffix}", message_codec=MESSAGE_CODEC)
    print(
        f"pokedex demo on PostgreSQL ({server(postgres_url)}, schema pokedex_demo_{suffix}) with RabbitMQ "
        f"({server(rabbitmq_url)}, exchange and queue pokedex-demo-{suffix})"
    )
    try:
        await storage.create_schema()
        await run(storage, bus, queue)
    finally:
        for channel_adapter in (bus, queue):
            await channel_adapter.delete()
            await channel_adapter.close()
        await storage.drop_schema()
        await storage.close()


def server(url: str) -> str:
    """Where a URL points, without its user and password: `127.0.0.1:5432/test`."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.hostname or 'localhost'}{port}{parts.path}"


async def run(storage: EventStorageAdapter, bus_adapter: DeliveringAdapter, queue_adapter: DeliveringAdapter) -> None:
    pokemons = PokemonsEventStore(reducer=Pokedex(), event_storage_adapter=storage)
    trainers = TrainersEventStore(reducer=TrainerBook(), event_storage_adapter=storage)

    # The spec's channels and their subscribers.
    app_message_bus = AppMessageBus(bus_adapter)
    notifications = PokemonNotificationsQueue(queue_adapter)
    app_message_bus.on(PokemonAppeared, show_pokemon)
    app_message_bus.on(PokemonLeveledUp, show_pokemon)
    app_message_bus.on(PokemonCaught, show_pokemon)
    app_message_bus.on(TrainerRegistered, show_trainer)
    app_message_bus.on(TrainerCaughtPokemon, show_trainer)
    notifications.on(PokemonAppeared, notify)
    notifications.on(PokemonLeveledUp, notify)
    notifications.on(PokemonCaught, notify_catch)
    await bus_adapter.start()
    await queue_adapter.start()

    # Connected stores: every successful push is also published to the channels of the spec's connections.
    connected_pokemons = connect_pokemons_event_store(
        pokemons, app_message_bus=app_message_bus, pokemon_notifications_queue=notifications
    )
    connected_trainers = connect_trainers_event_store(trainers, app_message_bus=app_message_bus)

    appeared = await connected_pokemons.push_event(
        PokemonAppeared(
            aggregate_id="pikachu-1",
            version=1,
            payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric"),
        )
    )
    # Passing the previous aggregate gives the next one without reading the store again.
    await connected_pokemons.push_event(
        PokemonLeveledUp(aggregate_id="pikachu-1", version=2), prev_aggregate=appeared.next_aggregate
    )
    await connected_trainers.push_event(
        TrainerRegistered(aggregate_id="ash", version=1, payload=TrainerRegisteredPayload(name="Ash"))
    )

    # A catch changes two aggregates of two stores: both events are stored, or neither is; then each
    # is published to its own store's channels.
    pikachu = await pokemons.get_existing_aggregate("pikachu-1")
    ash = await trainers.get_existing_aggregate("ash")
    await EventStore.push_event_group(
        connected_pokemons.group_event(
            PokemonCaught(aggregate_id="pikachu-1", version=3, payload=PokemonCaughtPayload(trainer_id="ash")),
            prev_aggregate=pikachu.aggregate,
        ),
        connected_trainers.group_event(
            TrainerCaughtPokemon(
                aggregate_id="ash", version=2, payload=TrainerCaughtPokemonPayload(pokemon_id="pikachu-1")
            ),
            prev_aggregate=ash.aggregate,
        ),
    )
    await bus_adapter.wait_until_idle()
    await queue_adapter.wait_until_idle()

    rebuilt = await pokemons.get_existing_aggregate("pikachu-1")
    print("stored:", ", ".join(f"pokemons/{e.aggregate_id} v{e.version} {e.type}" for e in rebuilt.events))
    pokemon = rebuilt.aggregate
    print(f"{pokemon.name}: level {pokemon.level}, caught by {pokemon.trainer_id} (version {pokemon.version})")


async def show_pokemon(message: PokemonsStateCarryingMessage, context: DeliveryContext) -> None:
    pokemon, event = message.aggregate, message.event
    print(
        f"[app_message_bus] {event.type} {event.aggregate_id} v{event.version}: {pokemon.name}, level {pokemon.level}"
    )


async def show_trainer(message: TrainersStateCarryingMessage, context: DeliveryContext) -> None:
    trainer, event = message.aggregate, message.event
    caught = ", ".join(trainer.caught_pokemon_ids) or "nothing yet"
    print(f"[app_message_bus] {event.type} {event.aggregate_id} v{event.version}: {trainer.name} has caught {caught}")


async def notify(message: PokemonsNotificationMessage, context: DeliveryContext) -> None:
    event = message.event
    print(f"[pokemon_notifications_queue] {event.type} {event.aggregate_id} v{event.version}")


async def notify_catch(
    message: NotificationMessage[Literal["pokemons"], PokemonCaught], context: DeliveryContext
) -> None:
    event = message.event
    print(f"[pokemon_notifications_queue] {event.aggregate_id} was caught by {event.payload.trainer_id}")


def main() -> None:
    summary, _, details = (__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(
        description=summary, epilog=details, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", type=Path, help="SQLite file to use (default: a fresh temporary file)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KASTOR_DEMO_POSTGRES_URL"),
        help="run on PostgreSQL at this URL (with --rabbitmq; default: $KASTOR_DEMO_POSTGRES_URL)",
    )
    parser.add_argument(
        "--rabbitmq",
        default=os.environ.get("KASTOR_DEMO_RABBITMQ_URL"),
        help="run on RabbitMQ at this URL (with --postgres; default: $KASTOR_DEMO_RABBITMQ_URL)",
    )
    arguments = parser.parse_args()
    if hasattr(signal, "SIGPIPE"):
        # `python demo/pokedex_demo.py | head` ends quietly, as Unix tools do, instead of every subscriber
        # failing (and being retried) on a closed pipe.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if (arguments.postgres is None) != (arguments.rabbitmq is None):
        parser.error("--postgres and --rabbitmq go together (or set both KASTOR_DEMO_*_URL variables)")
    try:
        if arguments.postgres is not None:
            asyncio.run(run_production(arguments.postgres, arguments.rabbitmq))
        elif arguments.database is not None:
            asyncio.run(run_embedded(arguments.database, shown_database=str(arguments.database)))
        else:
            with tempfile.TemporaryDirectory(prefix="kastor-demo-") as directory:
                database = Path(directory) / "pokedex.sqlite3"
                asyncio.run(run_embedded(database, shown_database="a temporary file, removed at the end"))
    except EventAlreadyExistsError as error:
        sys.exit(f"pokedex demo: {arguments.database} already holds the demo's events ({error}); use a new file")
    except KastorError as error:
        sys.exit(f"pokedex demo: {error}")


if __name__ == "__main__":
    main()
