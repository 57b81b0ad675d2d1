"""The in-memory bus and queue adapters: the channel conformance suite, and what only they promise (a bus runs
its handlers concurrently; a queue hands messages out first in, first out, to at most `concurrency` workers).

No assertion is about time: concurrency is shown with asyncio.Event gates and counters, and the few
`asyncio.wait_for` calls only turn a deadlock (the behaviour under test missing) into a failure.
"""

import asyncio
import logging
from typing import Any

import pytest

pytest.register_assert_rewrite("tests.channel_conformance")

from .channel_conformance import (  # noqa: E402  (first: makes pokedex importable)
    NO_DELAY,
    ConformanceBus,
    ConformanceQueue,
    Failure,
    Handler,
    MessageBusAdapterConformance,
    MessageQueueAdapterConformance,
    Sleep,
)
from .pokedex_builders import appeared, caught, leveled_up, pokemon  # noqa: E402

# isort: split
from pokedex import (  # noqa: E402
    AppMessageBus,
    DeliveryContext,
    InMemoryMessageBusAdapter,
    InMemoryMessageQueueAdapter,
    NotificationMessage,
    PokemonAppeared,
    PokemonCaught,
    PokemonNotificationsQueue,
    RetryPolicy,
    StateCarryingMessage,
)

#: Bounds the waits that would never end if the behaviour under test were missing (a deadlock, not a timing).
DEADLOCK_GUARD = 5.0


class TestInMemoryMessageBusAdapter(MessageBusAdapterConformance):
    def make_adapter(self) -> InMemoryMessageBusAdapter:
        return InMemoryMessageBusAdapter()

    def make_adapter_with_sleep(self, sleep: Sleep) -> InMemoryMessageBusAdapter:
        return InMemoryMessageBusAdapter(sleep=sleep)

    async def wait_until_delivered(self, adapter: Any) -> None:
        await adapter.wait_until_idle()


class TestInMemoryMessageQueueAdapter(MessageQueueAdapterConformance):
    def make_adapter(self) -> InMemoryMessageQueueAdapter:
        return InMemoryMessageQueueAdapter()

    def make_adapter_with_sleep(self, sleep: Sleep) -> InMemoryMessageQueueAdapter:
        return InMemoryMessageQueueAdapter(sleep=sleep)

    async def wait_until_delivered(self, adapter: Any) -> None:
        await adapter.wait_until_idle()


# -- helpers -----------------------------------------------------------------------------------------


def state(event: Any) -> StateCarryingMessage[Any, Any, Any]:
    return StateCarryingMessage("pokemons", event, pokemon(event.aggregate_id, event.version))


def note(event: Any) -> NotificationMessage[Any, Any]:
    return NotificationMessage("pokemons", event)


async def let_others_run(times: int = 20) -> None:
    """Yields to the event loop `times` times: enough for every ready task to progress, without any clock."""
    for _ in range(times):
        await asyncio.sleep(0)


# -- the bus -----------------------------------------------------------------------------------------


async def test_bus_handlers_run_concurrently_a_slow_one_does_not_hold_back_another() -> None:
    adapter = InMemoryMessageBusAdapter()
    bus = AppMessageBus(adapter)
    release_slow = asyncio.Event()
    slow_started, fast_done = asyncio.Event(), asyncio.Event()

    async def slow(message: Any, context: DeliveryContext) -> None:  # subscribed first
        slow_started.set()
        await release_slow.wait()

    async def fast(message: Any, context: DeliveryContext) -> None:
        fast_done.set()

    bus.on(PokemonAppeared, slow)
    bus.on(PokemonAppeared, fast)
    publishing = asyncio.create_task(bus.publish_message(state(appeared())))
    await let_others_run()

    assert slow_started.is_set()
    assert fast_done.is_set(), "the fast handler waited for the slow one"
    release_slow.set()
    await publishing
    await asyncio.wait_for(adapter.wait_until_idle(), DEADLOCK_GUARD)


async def test_bus_publish_returns_while_handlers_still_run_and_wait_until_idle_awaits_them() -> None:
    adapter = InMemoryMessageBusAdapter()
    bus = AppMessageBus(adapter)
    gate = asyncio.Event()
    finished: list[int] = []

    async def blocked(message: Any, context: DeliveryContext) -> None:
        await gate.wait()
        finished.append(message.event.version)

    bus.on(PokemonAppeared, blocked)
    publishing = asyncio.create_task(bus.publish_message(state(appeared())))
    await let_others_run()
    assert publishing.done(), "publish_message waited for the handler"
    assert finished == []

    idle = asyncio.create_task(adapter.wait_until_idle())
    await let_others_run()
    assert not idle.done(), "wait_until_idle returned while a handler was still running"
    gate.set()
    await asyncio.wait_for(idle, DEADLOCK_GUARD)
    assert finished == [1]


async def test_bus_wait_until_idle_also_awaits_deliveries_started_by_handlers() -> None:
    adapter = InMemoryMessageBusAdapter()
    bus = AppMessageBus(adapter)
    seen: list[str] = []

    async def chain(message: Any, context: DeliveryContext) -> None:
        await let_others_run(3)
        seen.append(message.event.aggregate_id)
        if len(seen) < 4:
            await bus.publish_message(state(appeared(f"pokemon-{len(seen)}")))

    bus.on(PokemonAppeared, chain)
    await bus.publish_message(state(appeared("pokemon-0")))
    await adapter.wait_until_idle()

    assert seen == ["pokemon-0", "pokemon-1", "pokemon-2", "pokemon-3"]


# -- the queue ---------------------------------------------------------------------------------------


async def test_queue_with_concurrency_one_handles_messages_one_at_a_time_in_publication_order() -> None:
    adapter = InMemoryMessageQueueAdapter()
    queue = PokemonNotificationsQueue(adapter)
    trace: list[tuple[str, str]] = []

    async def handler(message: Any, context: DeliveryContext) -> None:
        name = message.event.aggregate_id
        trace.append(("start", name))
        # The earlier the message, the longer its handler awaits: a queue that did not wait would reorder.
        await let_others_run(10 - int(name.split("-")[1]))
        trace.append(("end", name))

    queue.on(PokemonAppeared, handler)
    names = [f"pokemon-{n}" for n in range(6)]
    await queue.publish_messages([note(appeared(name)) for name in names[:3]])
    for name in names[3:]:
        await queue.publish_message(note(appeared(name)))
    await adapter.wait_until_idle()

    assert trace == [step for name in names for step in (("start", name), ("end", name))]


async def test_queue_retries_a_failing_handler_before_taking_the_next_message() -> None:
    adapter = InMemoryMessageQueueAdapter()
    queue = PokemonNotificationsQueue(adapter)
    calls: list[tuple[str, int]] = []

    async def fails_once(message: Any, context: DeliveryContext) -> None:
        calls.append((message.event.aggregate_id, context.attempt_number))
        if context.attempt_number == 1 and message.event.aggregate_id == "first":
            raise Failure("first attempt")

    queue.on(PokemonAppeared, fails_once, retry=RetryPolicy(retries=1, delay=0.0))
    await queue.publish_messages([note(appeared("first")), note(appeared("second"))])
    await adapter.wait_until_idle()

    assert calls == [("first", 1), ("first", 2), ("second", 1)]
    assert not adapter.failed_deliveries


@pytest.mark.parametrize("concurrency", [1, 2, 4])
async def test_queue_runs_up_to_concurrency_handlers_at_once_and_no_more(concurrency: int) -> None:
    adapter = InMemoryMessageQueueAdapter(concurrency=concurrency)
    queue = PokemonNotificationsQueue(adapter)
    all_running = asyncio.Event()
    running = most_running = 0
    handled: list[str] = []

    async def handler(message: Any, context: DeliveryContext) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        if running == concurrency:
            all_running.set()
        await all_running.wait()  # holds every handler until `concurrency` of them run together
        await let_others_run(3)
        handled.append(message.event.aggregate_id)
        running -= 1

    queue.on(PokemonAppeared, handler)
    names = [f"pokemon-{n}" for n in range(3 * concurrency + 1)]
    await queue.publish_messages([note(appeared(name)) for name in names])
    await asyncio.wait_for(adapter.wait_until_idle(), DEADLOCK_GUARD)

    assert most_running == concurrency
    assert sorted(handled) == sorted(names)
    assert adapter.concurrency == concurrency


async def test_queue_hands_each_message_to_every_matching_subscriber() -> None:
    adapter = InMemoryMessageQueueAdapter()
    queue = ConformanceQueue(adapter)
    of_class, of_store = Handler("of_class"), Handler("of_store")
    queue.on(PokemonCaught, of_class)
    queue.on_store("pokemons", of_store)
    messages = [note(appeared()), note(caught(version=2))]
    await queue.publish_messages(messages)
    await adapter.wait_until_idle()

    assert of_class.messages == [messages[1]]
    assert of_store.messages == messages


async def test_queue_logs_and_drops_a_message_that_no_subscriber_wants(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kastor.channels")
    adapter = InMemoryMessageQueueAdapter()
    queue = PokemonNotificationsQueue(adapter)
    handler = Handler()
    queue.on(PokemonCaught, handler)
    unwanted = note(leveled_up("unwanted-1", version=2))
    await queue.publish_message(unwanted)
    await adapter.wait_until_idle()

    [warning] = [r for r in caplog.records if r.name == "kastor.channels"]
    assert warning.levelno == logging.WARNING
    assert "unwanted-1" in warning.getMessage()
    assert "POKEMON_LEVELED_UP" in warning.getMessage()
    assert "dropped" in warning.getMessage()

    late = Handler("late")  # subscribing later does not bring the dropped message back
    queue.on(PokemonCaught, late)
    queue.on(type(unwanted.event), late)
    wanted = note(caught(version=3))
    await queue.publish_message(wanted)
    await adapter.wait_until_idle()
    assert handler.messages == [wanted]
    assert late.messages == [wanted]
    assert not adapter.failed_deliveries


async def test_queue_delivers_a_message_published_right_after_a_handler_signalled_it_had_finished() -> None:
    adapter = InMemoryMessageQueueAdapter()
    queue = PokemonNotificationsQueue(adapter)
    seen: list[str] = []
    first_handled = asyncio.Event()

    async def handler(message: Any, context: DeliveryContext) -> None:
        seen.append(message.event.aggregate_id)
        first_handled.set()

    queue.on(PokemonAppeared, handler)
    await queue.publish_message(note(appeared("first")))
    # Woken in the loop step where the worker ends, before the worker's task is done: the next message must
    # still find a worker (it once stayed in the queue, undelivered, and wait_until_idle returned at once).
    await first_handled.wait()
    await queue.publish_message(note(appeared("second")))
    await adapter.wait_until_idle()

    assert seen == ["first", "second"]


@pytest.mark.parametrize("concurrency", [0, -1])
def test_queue_concurrency_below_one_is_rejected(concurrency: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        InMemoryMessageQueueAdapter(concurrency=concurrency)


# -- both --------------------------------------------------------------------------------------------


def adapter_and_channel(kind: str, sleep: Sleep) -> tuple[Any, Any, Any]:
    """An adapter of `kind` with `sleep`, a channel on it, and the message builder of that channel."""
    if kind == "bus":
        bus_adapter = InMemoryMessageBusAdapter(sleep=sleep)
        return bus_adapter, AppMessageBus(bus_adapter), state
    queue_adapter = InMemoryMessageQueueAdapter(sleep=sleep)
    return queue_adapter, PokemonNotificationsQueue(queue_adapter), note


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_wait_until_idle_waits_for_the_retries_too(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kastor.channels")
    delays: list[float] = []

    async def slow_sleep(delay: float) -> None:  # many loop steps, no clock
        delays.append(delay)
        await let_others_run(50)

    adapter, channel, message_of = adapter_and_channel(kind, slow_sleep)
    handler = Handler(failures=2)
    channel.on(PokemonAppeared, handler, retry=RetryPolicy(retries=2, delay=1.0, backoff=10.0))
    await channel.publish_message(message_of(appeared()))
    await adapter.wait_until_idle()

    assert handler.contexts == [(1, 2, False), (2, 1, False), (3, 0, False)]
    assert delays == [1.0, 10.0]
    assert not adapter.failed_deliveries


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_wait_until_idle_returns_at_once_when_nothing_was_published(kind: str) -> None:
    adapter, _, _ = adapter_and_channel(kind, asyncio.sleep)
    await asyncio.wait_for(adapter.wait_until_idle(), DEADLOCK_GUARD)
    assert not adapter.failed_deliveries


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_each_failed_attempt_before_the_last_is_logged_as_a_warning(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kastor.channels")

    async def no_wait(delay: float) -> None:
        pass

    adapter, channel, message_of = adapter_and_channel(kind, no_wait)
    handler = Handler(failures=-1)
    channel.on(PokemonAppeared, handler, retry=RetryPolicy(retries=2, delay=0.0))
    await channel.publish_message(message_of(appeared()))
    await adapter.wait_until_idle()

    levels = [r.levelno for r in caplog.records if r.name == "kastor.channels"]
    assert levels == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert all("pikachu-1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["bus", "queue"])
async def test_a_handler_error_never_reaches_the_publisher(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="kastor.channels")
    adapter, channel, message_of = adapter_and_channel(kind, asyncio.sleep)
    handler = Handler(failures=-1)
    channel.on(PokemonAppeared, handler, retry=NO_DELAY)
    await channel.publish_message(message_of(appeared()))
    await adapter.wait_until_idle()  # raises nothing either

    assert len(adapter.failed_deliveries) == 1
    assert isinstance(adapter.failed_deliveries[0].error, Failure)


# -- retry policies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [{"retries": -1}, {"delay": -0.01}, {"backoff": 0.99}, {"backoff": 0.0}, {"retries": -3, "backoff": 0.5}],
)
def test_an_invalid_retry_policy_is_rejected(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**arguments)


def test_retry_policy_limits_and_delays() -> None:
    assert RetryPolicy(retries=0, delay=0.0, backoff=1.0).retries == 0
    policy = RetryPolicy(retries=3, delay=0.5, backoff=3.0)
    assert [policy.delay_before(n) for n in (1, 2, 3)] == [0.5, 1.5, 4.5]
    assert [RetryPolicy(delay=2.0, backoff=1.0).delay_before(n) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
    default = RetryPolicy()
    assert default.retries == 2 and default.backoff >= 1 and default.delay >= 0


async def test_an_adapter_remembers_only_the_latest_failed_deliveries(monkeypatch: pytest.MonkeyPatch) -> None:
    import pokedex.runtime.in_memory_channels as in_memory_channels

    assert InMemoryMessageBusAdapter().failed_deliveries.maxlen == in_memory_channels.FAILED_DELIVERIES_KEPT
    monkeypatch.setattr(in_memory_channels, "FAILED_DELIVERIES_KEPT", 2)
    adapter = InMemoryMessageBusAdapter()

    async def failing(message: Any, context: Any) -> None:
        raise Failure(message.event.version)

    bus = ConformanceBus(adapter)
    bus.on_store("pokemons", failing, retry=RetryPolicy(retries=0))
    for version in range(1, 4):
        await bus.publish_message(state(leveled_up(version=version + 1)))
    await adapter.wait_until_idle()
    assert [failed.message.event.version for failed in adapter.failed_deliveries] == [3, 4]
