"""Channels and connected stores, used as a user would: mypy --strict accepts all of it."""

import asyncio
from typing import Literal, assert_type

from pokedex import (
    AggregateExistsMessage,
    AggregateIdsBus,
    AppMessageBus,
    ConnectedEventStore,
    DeliveryContext,
    InMemoryEventStorageAdapter,
    InMemoryMessageBusAdapter,
    InMemoryMessageQueueAdapter,
    NotificationMessage,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonLeveledUp,
    PokemonNotificationsQueue,
    PokemonsEvent,
    PokemonsEventStore,
    PokemonsNotificationMessage,
    RetryPolicy,
    StateCarryingMessage,
    Trainer,
    TrainerRegistered,
    TrainersEventStore,
    connect_pokemons_event_store,
)
from complete_reducer import PokedexReducer
from store_usage import TrainerBook

received: list[str] = []


async def on_appeared(
    message: StateCarryingMessage[Literal["pokemons"], PokemonAppeared, Pokemon], context: DeliveryContext
) -> None:
    assert_type(message.event.payload.name, str)
    assert_type(message.aggregate, Pokemon)
    received.append(f"bus {message.event.type} {message.aggregate.name}")


async def on_registered(
    message: StateCarryingMessage[Literal["trainers"], TrainerRegistered, Trainer], context: DeliveryContext
) -> None:
    received.append(f"bus {message.event.type} {message.aggregate.name}")


async def on_any_pokemon_event(message: PokemonsNotificationMessage, context: DeliveryContext) -> None:
    # A handler of the whole union accepts every event class of the store.
    received.append(f"queue {message.event.type} v{message.event.version}")


async def on_exists(message: AggregateExistsMessage[Literal["pokemons", "trainers"]], context: DeliveryContext) -> None:
    received.append(f"exists {message.event_store_id}/{message.aggregate_id}")


async def push_through_connected_stores() -> list[str]:
    storage = InMemoryEventStorageAdapter()
    bus_adapter, queue_adapter = InMemoryMessageBusAdapter(), InMemoryMessageQueueAdapter()
    pokemons = PokemonsEventStore(reducer=PokedexReducer(), event_storage_adapter=storage)
    trainers = TrainersEventStore(reducer=TrainerBook(), event_storage_adapter=storage)
    bus = AppMessageBus(bus_adapter, source_event_stores=(pokemons, trainers))
    queue = PokemonNotificationsQueue(queue_adapter)
    ids_bus = AggregateIdsBus(InMemoryMessageBusAdapter())

    bus.on(PokemonAppeared, on_appeared, retry=RetryPolicy(retries=1))
    bus.on(TrainerRegistered, on_registered)
    queue.on(PokemonAppeared, on_any_pokemon_event)
    queue.on(PokemonLeveledUp, on_any_pokemon_event)
    ids_bus.on(on_exists, event_store_id="pokemons", replay=True)

    connected = connect_pokemons_event_store(pokemons, app_message_bus=bus, pokemon_notifications_queue=queue)
    assert_type(connected, ConnectedEventStore[Literal["pokemons"], PokemonsEvent, Pokemon])
    on_bus_only = ConnectedEventStore(pokemons, bus)
    assert_type(on_bus_only, ConnectedEventStore[Literal["pokemons"], PokemonsEvent, Pokemon])

    appeared = await connected.push_event(
        PokemonAppeared(
            aggregate_id="pikachu-1", version=1, payload=PokemonAppearedPayload(name="Pikachu", level=5, pokemon_type="electric")
        )
    )
    assert_type(appeared.next_aggregate, Pokemon | None)
    await connected.push_event(PokemonLeveledUp(aggregate_id="pikachu-1", version=2))
    await queue.publish_message(NotificationMessage("pokemons", appeared.event))
    await bus_adapter.wait_until_idle()
    await queue_adapter.wait_until_idle()
    return received


def run() -> list[str]:
    return asyncio.run(push_through_connected_stores())
