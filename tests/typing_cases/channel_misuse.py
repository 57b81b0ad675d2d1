"""Mistakes with channels and connected stores that mypy must catch."""

from typing import Literal

from pokedex import (
    AggregateIdsBus,
    AppMessageBus,
    ConnectedEventStore,
    DeliveryContext,
    NotificationMessage,
    Pokemon,
    PokemonAppeared,
    PokemonCaught,
    PokemonNotificationsQueue,
    PokemonsEventStore,
    StateCarryingMessage,
    Trainer,
    TrainerRegistered,
    TrainersEventStore,
)


def connect_to_a_channel_without_this_store(trainers: TrainersEventStore, queue: PokemonNotificationsQueue) -> None:
    ConnectedEventStore(trainers, queue)  # E: misc misc


def connect_to_an_aggregate_exists_channel(pokemons: PokemonsEventStore, ids_bus: AggregateIdsBus) -> None:
    ConnectedEventStore(pokemons, ids_bus)  # E: call-overload


async def publish_another_stores_message(queue: PokemonNotificationsQueue, event: TrainerRegistered) -> None:
    message: NotificationMessage[Literal["trainers"], TrainerRegistered] = NotificationMessage("trainers", event)
    await queue.publish_message(message)  # E: arg-type


async def on_caught(
    message: StateCarryingMessage[Literal["pokemons"], PokemonCaught, Pokemon], context: DeliveryContext
) -> None:
    return None


def handler_of_another_event(bus: AppMessageBus) -> None:
    bus.on(PokemonAppeared, on_caught)  # E: arg-type


async def on_registered(
    message: NotificationMessage[Literal["trainers"], TrainerRegistered], context: DeliveryContext
) -> None:
    return None


def handler_of_an_event_the_channel_does_not_carry(queue: PokemonNotificationsQueue) -> None:
    queue.on(TrainerRegistered, on_registered)  # E: type-var arg-type


async def on_caught_with_a_trainer(
    message: StateCarryingMessage[Literal["pokemons"], PokemonCaught, Trainer], context: DeliveryContext
) -> None:
    return None


def handler_expecting_another_aggregate(bus: AppMessageBus) -> None:
    bus.on(PokemonCaught, on_caught_with_a_trainer)  # E: arg-type
