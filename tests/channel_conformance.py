"""The conformance suite of message channel adapters: a bus adapter subclasses `MessageBusAdapterConformance`,
a queue adapter `MessageQueueAdapterConformance` (both add their kind's tests to the common ones).

A subclass implements
`make_adapter` (a fresh adapter per call, with no subscriber) and `wait_until_delivered` (returns once every
message published so far has been handled, retries included). An adapter that can wait through an injected
sleep function also implements `make_adapter_with_sleep`, so that the suite checks the retry delays; without
it those assertions are skipped and the retries use a policy without delay. `failed_deliveries` reads what the
adapter recorded of the deliveries that failed for good (`adapter.failed_deliveries` by default), and
`close_adapter` closes an adapter after each test (calls its `close`, sync or async, when it has one), and
`wait_until_subscribed` (nothing by default) lets a broker adapter get its consumers ready before the suite
publishes.

The suite goes through channels as an application uses them: a bus of state-carrying messages (a subclass of
the generated `AppMessageBus`) and a queue of notification messages (`ConformanceQueue` below), both carrying
the pokemons and trainers stores, with typed `on(event_class, ...)` and an `on_store(event_store_id, ...)`
for whole-store subscriptions. Handlers only record what they receive: the assertions are about what was
delivered, never about time.

The class names have no `Test` prefix, so pytest only collects their subclasses.
"""

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    appeared,
    caught,
    leveled_up,
    pokemon,
    registered,
    trainer_caught,
)

# isort: split
from pokedex import (
    AppMessageBus,
    DeliveryContext,
    Event,
    FailedDelivery,
    MessageChannel,
    MessageHandler,
    NotificationMessage,
    NotificationMessageQueue,
    PokemonAppeared,
    PokemonCaught,
    PokemonLeveledUp,
    PokemonsNotificationMessage,
    RetryPolicy,
    StateCarryingMessage,
    Trainer,
    TrainersNotificationMessage,
)

Sleep = Callable[[float], Awaitable[None]]

#: Retries without waiting, for adapters that cannot take an injected sleep.
NO_DELAY = RetryPolicy(retries=0, delay=0.0, backoff=1.0)


# -- channels ----------------------------------------------------------------------------------------


class ConformanceBus(AppMessageBus):
    """The generated state-carrying bus (pokemons, trainers), plus whole-store subscriptions."""

    message_channel_id: ClassVar[str] = "conformance_bus"

    def on_store(
        self,
        event_store_id: str,
        handler: MessageHandler[Any],
        *,
        replay: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._subscribe(handler, event_store_id=event_store_id, replay=replay, retry=retry)


class ConformanceQueue(NotificationMessageQueue[PokemonsNotificationMessage | TrainersNotificationMessage]):
    """A queue of notification messages from pokemons and trainers, as a generator would write it."""

    message_channel_id: ClassVar[str] = "conformance_queue"
    source_event_store_ids: ClassVar[frozenset[str]] = frozenset({"pokemons", "trainers"})

    def on(
        self,
        event_class: type[Event],
        handler: MessageHandler[Any],
        *,
        replay: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._subscribe(handler, event_class=event_class, replay=replay, retry=retry)

    def on_store(
        self,
        event_store_id: str,
        handler: MessageHandler[Any],
        *,
        replay: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._subscribe(handler, event_store_id=event_store_id, replay=replay, retry=retry)


# -- handlers ----------------------------------------------------------------------------------------


class Failure(Exception):
    """What failing handlers raise."""


@dataclass(eq=False)  # compared and hashed by identity, as adapters may key on handlers
class Handler:
    """Records each delivery; fails its first `failures` calls (every call when `failures` is -1)."""

    name: str = "handler"
    #: How many calls fail before the handler succeeds; -1: every call fails.
    failures: int = 0
    calls: list[tuple[Any, DeliveryContext]] = field(default_factory=list)
    errors: list[Failure] = field(default_factory=list)

    async def __call__(self, message: Any, context: DeliveryContext) -> None:
        self.calls.append((message, context))
        if self.failures < 0 or len(self.calls) <= self.failures:
            error = Failure(f"{self.name} fails on call {len(self.calls)}")
            self.errors.append(error)
            raise error

    @property
    def messages(self) -> list[Any]:
        return [message for message, _ in self.calls]

    @property
    def contexts(self) -> list[tuple[int, int, bool]]:
        return [(c.attempt_number, c.retries_left, c.replay) for _, c in self.calls]


class RecordingSleep:
    """An injected sleep: records each delay and returns at once (after letting other tasks run)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


# -- the suite ---------------------------------------------------------------------------------------


class MessageChannelAdapterConformance:
    kind: ClassVar[Literal["bus", "queue"]]

    # -- what a subclass provides --------------------------------------------------------------------

    def make_adapter(self) -> Any:
        """A fresh adapter, with no subscriber."""
        raise NotImplementedError

    def make_adapter_with_sleep(self, sleep: Sleep) -> Any | None:
        """A fresh adapter that waits before retries by awaiting `sleep(delay)`; None if it cannot."""
        return None

    async def wait_until_delivered(self, adapter: Any) -> None:
        """Returns once every message published so far is handled, retries included."""
        raise NotImplementedError

    def failed_deliveries(self, adapter: Any) -> Sequence[FailedDelivery]:
        """What the adapter recorded of the deliveries that failed after their last retry."""
        return list(adapter.failed_deliveries)

    async def wait_until_subscribed(self, adapter: Any) -> None:
        """Returns once the subscriptions made so far receive what is published next (a broker adapter may
        have to wait for its consumers); nothing to wait for by default."""

    async def close_adapter(self, adapter: Any) -> None:
        close = getattr(adapter, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    # -- helpers -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def channel(self, adapter: Any | None = None) -> AsyncIterator[Any]:
        """A channel of the suite's kind on `adapter` (a fresh one by default), closed afterwards."""
        adapter = self.make_adapter() if adapter is None else adapter
        channel: MessageChannel[Any] = ConformanceBus(adapter) if self.kind == "bus" else ConformanceQueue(adapter)
        try:
            yield channel
        finally:
            await self.close_adapter(adapter)

    def message(self, event: Event) -> Any:
        """The message the suite's channel carries for `event`: state-carrying on the bus, notification on
        the queue."""
        store_id = event.event_store_id
        if self.kind == "queue":
            return NotificationMessage(store_id, event)
        if store_id == "pokemons":
            aggregate: Any = pokemon(event.aggregate_id, event.version)
        else:
            aggregate = Trainer(
                aggregate_id=event.aggregate_id, version=event.version, name="Ash", caught_pokemon_ids=[]
            )
        return StateCarryingMessage(store_id, event, aggregate)

    async def subscribed(self, channel: Any) -> None:
        await self.wait_until_subscribed(channel.message_channel_adapter)

    async def delivered(self, channel: Any) -> None:
        await self.wait_until_delivered(channel.message_channel_adapter)

    # -- delivery ------------------------------------------------------------------------------------

    async def test_a_published_message_reaches_its_subscriber_once_with_a_first_attempt_context(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on(PokemonAppeared, handler)
            message = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(message)
            await self.delivered(channel)
            await self.delivered(channel)  # waiting again delivers nothing more

            assert handler.messages == [message]
            _, context = handler.calls[0]
            assert context == DeliveryContext(attempt_number=1, retries_left=2, replay=False)
            assert self.failed_deliveries(channel.message_channel_adapter) == []

    async def test_the_context_tells_the_retries_left_by_the_subscription_policy(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on(PokemonAppeared, handler, retry=RetryPolicy(retries=5, delay=0.0))
            await self.subscribed(channel)
            await channel.publish_message(self.message(appeared()))
            await self.delivered(channel)

            assert handler.contexts == [(1, 5, False)]

    async def test_a_handler_of_an_event_class_gets_only_messages_of_that_class(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on(PokemonCaught, handler)
            caught_message = self.message(caught(version=3))
            await self.subscribed(channel)
            await channel.publish_messages(
                [
                    self.message(appeared()),
                    self.message(leveled_up(version=2)),
                    caught_message,
                    self.message(registered()),
                    self.message(trainer_caught(version=2)),
                ]
            )
            await self.delivered(channel)

            assert handler.messages == [caught_message]

    async def test_a_handler_of_a_store_gets_every_message_of_that_store_and_only_those(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on_store("trainers", handler)
            trainer_messages = [self.message(registered()), self.message(trainer_caught(version=2))]
            await self.subscribed(channel)
            for message in [self.message(appeared()), trainer_messages[0], self.message(caught(version=2))]:
                await channel.publish_message(message)
            await channel.publish_message(trainer_messages[1])
            await self.delivered(channel)

            assert sorted(handler.messages, key=lambda m: m.event.version) == trainer_messages

    async def test_a_handler_whose_two_subscriptions_both_match_is_called_once(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on(PokemonCaught, handler)
            channel.on_store("pokemons", handler)
            channel.on(PokemonCaught, handler)
            caught_message = self.message(caught(version=2))
            appeared_message = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(caught_message)
            await channel.publish_message(appeared_message)
            await self.delivered(channel)

            assert sorted(handler.messages, key=lambda m: m.event.version) == [appeared_message, caught_message]
            assert [context.attempt_number for _, context in handler.calls] == [1, 1]

    async def test_publish_messages_delivers_every_message(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on_store("pokemons", handler)
            messages = [self.message(appeared(f"pokemon-{n}")) for n in range(5)]
            await self.subscribed(channel)
            await channel.publish_messages(messages)
            await self.delivered(channel)

            assert sorted(handler.messages, key=lambda m: m.event.aggregate_id) == messages
            assert all(context == DeliveryContext(1, 2, False) for _, context in handler.calls)

    async def test_publish_messages_of_nothing_delivers_nothing(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on_store("pokemons", handler)
            await self.subscribed(channel)
            await channel.publish_messages([])
            await self.delivered(channel)

            assert handler.calls == []

    # -- replay --------------------------------------------------------------------------------------

    async def test_a_replayed_message_skips_handlers_that_did_not_opt_in(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on_store("pokemons", handler)
            replayed, live = self.message(appeared("replayed")), self.message(appeared("live"))
            await self.subscribed(channel)
            await channel.publish_message(replayed, replay=True)
            await channel.publish_messages([self.message(appeared("replayed-too"))], replay=True)
            await channel.publish_message(live)
            await self.delivered(channel)

            assert handler.messages == [live]
            assert handler.contexts == [(1, 2, False)]

    async def test_a_handler_that_opts_in_gets_replayed_messages_marked_as_replays_and_live_ones(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on(PokemonAppeared, handler, replay=True)
            replayed = self.message(appeared("replayed"))
            replayed_in_batch = self.message(appeared("replayed-in-batch"))
            live = self.message(appeared("live"))
            await self.subscribed(channel)
            await channel.publish_message(replayed, replay=True)
            await channel.publish_messages([replayed_in_batch], replay=True)
            await channel.publish_message(live, replay=False)
            await self.delivered(channel)

            received = {message.event.aggregate_id: context.replay for message, context in handler.calls}
            assert received == {"replayed": True, "replayed-in-batch": True, "live": False}
            assert len(handler.calls) == 3

    # -- retries and failures ------------------------------------------------------------------------

    async def test_a_failing_handler_is_retried_with_the_policy_delays_then_the_failure_is_logged_and_recorded(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        sleep = RecordingSleep()
        adapter = self.make_adapter_with_sleep(sleep)
        policy = RetryPolicy(retries=3, delay=0.5, backoff=3.0)
        if adapter is None:  # no way to observe the delays: retry without waiting
            adapter, policy = self.make_adapter(), RetryPolicy(retries=3, delay=0.0, backoff=1.0)
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel(adapter) as channel:
            handler = Handler(failures=-1)
            channel.on(PokemonAppeared, handler, retry=policy)
            message = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(message)
            await self.delivered(channel)

            assert handler.messages == [message] * 4
            assert handler.contexts == [(1, 3, False), (2, 2, False), (3, 1, False), (4, 0, False)]
            if policy.delay:
                assert sleep.delays == [0.5, 1.5, 4.5]

            errors = [r for r in caplog.records if r.name == "kastor.channels" and r.levelno >= logging.ERROR]
            assert len(errors) == 1
            assert errors[0].levelno == logging.ERROR
            assert errors[0].exc_info is not None
            assert errors[0].exc_info[1] is handler.errors[-1]

            [failed] = self.failed_deliveries(adapter)
            assert failed.message == message
            assert failed.handler == handler
            assert failed.error is handler.errors[-1]
            assert failed.attempts == 4
            assert failed.replay is False

    async def test_the_default_policy_retries_twice(self, caplog: pytest.LogCaptureFixture) -> None:
        sleep = RecordingSleep()
        adapter = self.make_adapter_with_sleep(sleep)
        if adapter is None:
            pytest.skip("the adapter cannot take an injected sleep: the default delays would be waited for")
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel(adapter) as channel:
            handler = Handler(failures=-1)
            channel.on(PokemonAppeared, handler)
            await self.subscribed(channel)
            await channel.publish_message(self.message(appeared()), replay=False)
            await self.delivered(channel)

            default = RetryPolicy()
            assert handler.contexts == [(1, 2, False), (2, 1, False), (3, 0, False)]
            assert sleep.delays == pytest.approx([default.delay, default.delay * default.backoff])
            assert [failed.attempts for failed in self.failed_deliveries(adapter)] == [3]

    async def test_a_handler_that_succeeds_on_a_retry_is_not_retried_further_nor_reported(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        sleep = RecordingSleep()
        adapter = self.make_adapter_with_sleep(sleep)
        policy = RetryPolicy(retries=4, delay=0.25, backoff=2.0)
        if adapter is None:
            adapter, policy = self.make_adapter(), RetryPolicy(retries=4, delay=0.0, backoff=1.0)
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel(adapter) as channel:
            handler = Handler(failures=2)
            channel.on(PokemonAppeared, handler, retry=policy)
            await self.subscribed(channel)
            await channel.publish_message(self.message(appeared()), replay=False)
            await self.delivered(channel)

            assert handler.contexts == [(1, 4, False), (2, 3, False), (3, 2, False)]
            if policy.delay:
                assert sleep.delays == [0.25, 0.5]
            assert self.failed_deliveries(adapter) == []
            assert not [r for r in caplog.records if r.name == "kastor.channels" and r.levelno >= logging.ERROR]

    async def test_a_handler_without_retries_is_called_once_and_its_failure_recorded(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel() as channel:
            handler = Handler(failures=-1)
            channel.on(PokemonAppeared, handler, retry=NO_DELAY, replay=True)
            message = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(message, replay=True)
            await self.delivered(channel)

            assert handler.contexts == [(1, 0, True)]
            [failed] = self.failed_deliveries(channel.message_channel_adapter)
            assert (failed.message, failed.attempts, failed.replay) == (message, 1, True)
            [error] = [r for r in caplog.records if r.name == "kastor.channels" and r.levelno >= logging.ERROR]
            assert error.exc_info is not None and error.exc_info[1] is handler.errors[0]


class MessageBusAdapterConformance(MessageChannelAdapterConformance):
    """The suite for bus adapters: every matching subscriber gets every message."""

    kind: ClassVar[Literal["bus", "queue"]] = "bus"

    async def test_a_bus_delivers_each_message_to_every_matching_subscriber(self) -> None:
        async with self.channel() as channel:
            of_class, of_store, of_trainers = Handler("of_class"), Handler("of_store"), Handler("of_trainers")
            channel.on(PokemonLeveledUp, of_class)
            channel.on_store("pokemons", of_store)
            channel.on_store("trainers", of_trainers)
            leveled = self.message(leveled_up(version=2))
            await self.subscribed(channel)
            await channel.publish_message(leveled)
            await self.delivered(channel)

            assert of_class.messages == [leveled]
            assert of_store.messages == [leveled]
            assert of_trainers.messages == []

    async def test_on_a_bus_a_replay_reaches_only_the_subscribers_that_opted_in(self) -> None:
        async with self.channel() as channel:
            live_only, replaying = Handler("live_only"), Handler("replaying")
            channel.on(PokemonAppeared, live_only)
            channel.on(PokemonAppeared, replaying, replay=True)
            replayed = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(replayed, replay=True)
            await self.delivered(channel)

            assert live_only.calls == []
            assert replaying.messages == [replayed]
            assert replaying.contexts == [(1, 2, True)]

    async def test_on_a_bus_a_failing_handler_does_not_keep_the_message_from_the_others(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel() as channel:
            before, failing, after = Handler("before"), Handler("failing", failures=-1), Handler("after")
            channel.on(PokemonAppeared, before)
            channel.on(PokemonAppeared, failing, retry=NO_DELAY)
            channel.on(PokemonAppeared, after)
            message = self.message(appeared())
            await self.subscribed(channel)
            await channel.publish_message(message)
            await self.delivered(channel)

            assert before.messages == [message]
            assert failing.messages == [message]
            assert after.messages == [message]
            assert [failed.handler for failed in self.failed_deliveries(channel.message_channel_adapter)] == [failing]


class MessageQueueAdapterConformance(MessageChannelAdapterConformance):
    """The suite for queue adapters: messages are handled in publication order."""

    kind: ClassVar[Literal["bus", "queue"]] = "queue"

    async def test_a_queue_delivers_in_publication_order(self) -> None:
        async with self.channel() as channel:
            handler = Handler()
            channel.on_store("pokemons", handler)
            channel.on_store("trainers", handler)
            batch = [self.message(appeared(f"pokemon-{n}")) for n in range(4)]
            singles = [self.message(registered(f"trainer-{n}")) for n in range(3)]
            await self.subscribed(channel)
            await channel.publish_messages(batch[:2])
            await channel.publish_message(singles[0])
            await channel.publish_messages(batch[2:])
            await channel.publish_message(singles[1])
            await channel.publish_message(singles[2])
            await self.delivered(channel)

            assert handler.messages == [*batch[:2], singles[0], *batch[2:], singles[1], singles[2]]

    async def test_on_a_queue_a_failing_handler_does_not_keep_later_messages_from_being_delivered(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="kastor.channels")
        async with self.channel() as channel:
            seen: list[Any] = []

            async def fails_on_the_first(message: Any, context: DeliveryContext) -> None:
                seen.append(message)
                if message.event.aggregate_id == "first":
                    raise Failure("first")

            channel.on_store("pokemons", fails_on_the_first, retry=NO_DELAY)
            messages = [self.message(appeared(name)) for name in ("first", "second", "third")]
            await self.subscribed(channel)
            await channel.publish_message(messages[0])
            await channel.publish_messages(messages[1:])
            await self.delivered(channel)

            assert seen == messages
            assert [failed.message for failed in self.failed_deliveries(channel.message_channel_adapter)] == [
                messages[0]
            ]
