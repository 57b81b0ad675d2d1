"""The event store layer of the runtime (`EventStore`), on the generated pokedex stores.

Raw adapter behaviour (query options, conflicts, contiguity, atomicity, paging, races) is the storage
conformance suite's; these tests check what the store adds on top: validation before storage, results,
callbacks, groups, folding and simulation, and the handling of a missing adapter.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    HOUR,
    T0,
    Recorder,
    adapter_fixture,  # noqa: F401  (the `adapter` fixture)
    appeared,
    caught,
    leveled_up,
    pokemon,
    pokemons_store,
    registered,
    trainer_caught,
    trainers_store,
)

# isort: split
from pokedex import (
    AggregateNotFoundError,
    EventAlreadyExistsError,
    EventGroupError,
    EventStorageAdapter,
    EventStore,
    GetAggregateResult,
    GetExistingAggregateResult,
    InMemoryEventStorageAdapter,
    InvalidEventError,
    InvalidPageTokenError,
    KastorError,
    Pokemon,
    PokemonAppeared,
    PokemonAppearedPayload,
    PokemonLeveledUp,
    PokemonsEvent,
    PokemonsEventStore,
    PushEventResult,
    SQLiteEventStorageAdapter,
    Trainer,
    UndefinedEventStorageAdapterError,
)

from demo.pokedex_demo import Pokedex


def assert_utc(timestamp: datetime | None) -> datetime:
    assert timestamp is not None
    assert timestamp.tzinfo is not None and timestamp.utcoffset() == timedelta(0)
    return timestamp


# -- push_event -------------------------------------------------------------------------------------------


async def test_push_event_returns_the_stored_event_with_a_utc_timestamp_and_the_next_aggregate(
    adapter: EventStorageAdapter,
) -> None:
    store = pokemons_store(adapter)
    event = appeared()
    before = datetime.now(UTC)
    result = await store.push_event(event)
    after = datetime.now(UTC)

    assert isinstance(result, PushEventResult)
    assert before <= assert_utc(result.event.timestamp) <= after
    assert event.timestamp is None  # the given event is left as it was
    assert result.event == event.model_copy(update={"timestamp": result.event.timestamp})
    assert await store.get_events("pikachu-1") == [result.event]
    # Pokedex.on_pokemon_appeared sets neither aggregate_id nor version: the runtime does.
    assert result.next_aggregate == pokemon("pikachu-1", 1)


async def test_next_aggregate_is_none_for_a_later_event_pushed_without_prev_aggregate(
    adapter: EventStorageAdapter,
) -> None:
    store = pokemons_store(adapter)
    await store.push_event(appeared())
    result = await store.push_event(leveled_up(version=2))
    assert result.next_aggregate is None
    assert assert_utc(result.event.timestamp)
    assert [event.version for event in await store.get_events("pikachu-1")] == [1, 2]


async def test_next_aggregate_follows_prev_aggregate() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    first = await store.push_event(appeared())
    second = await store.push_event(leveled_up(version=2), prev_aggregate=first.next_aggregate)
    assert second.next_aggregate == pokemon("pikachu-1", 2, level=6)
    third = await store.push_event(caught(version=3, trainer_id="misty"), prev_aggregate=second.next_aggregate)
    assert third.next_aggregate == pokemon("pikachu-1", 3, level=6, trainer_id="misty")
    assert third.next_aggregate == (await store.get_existing_aggregate("pikachu-1")).aggregate


async def test_the_runtime_sets_aggregate_id_and_version_whatever_the_hooks_return() -> None:
    class Careless(Pokedex):
        def on_pokemon_appeared(self, event: PokemonAppeared) -> Pokemon:
            return super().on_pokemon_appeared(event).model_copy(update={"aggregate_id": "wrong", "version": 99})

        def on_pokemon_leveled_up(self, aggregate: Pokemon, event: PokemonLeveledUp) -> Pokemon:
            return super().on_pokemon_leveled_up(aggregate, event).model_copy(update={"version": 0})

    store = PokemonsEventStore(reducer=Careless(), event_storage_adapter=InMemoryEventStorageAdapter())
    first = await store.push_event(appeared())
    second = await store.push_event(leveled_up(version=2), prev_aggregate=first.next_aggregate)
    assert first.next_aggregate is not None and second.next_aggregate is not None
    assert (first.next_aggregate.aggregate_id, first.next_aggregate.version) == ("pikachu-1", 1)
    assert (second.next_aggregate.aggregate_id, second.next_aggregate.version) == ("pikachu-1", 2)
    rebuilt = (await store.get_existing_aggregate("pikachu-1")).aggregate
    assert (rebuilt.aggregate_id, rebuilt.version) == ("pikachu-1", 2)


async def test_a_given_timestamp_is_kept(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    given = datetime(2020, 2, 29, 23, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    result = await store.push_event(appeared(timestamp=given))
    assert result.event.timestamp == given
    assert assert_utc(result.event.timestamp) == datetime(2020, 3, 1, 4, 30, 0, 123456, tzinfo=UTC)
    [stored] = await store.get_events("pikachu-1")
    assert stored.timestamp == given
    assert stored == result.event


async def test_on_event_pushed_is_awaited_after_storage_with_the_result(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    recorder = Recorder(lambda result: store.get_events(result.event.aggregate_id))
    store.on_event_pushed = recorder

    first = await store.push_event(appeared())
    second = await store.push_event(leveled_up(version=2), prev_aggregate=first.next_aggregate)

    assert recorder.results == [first, second]
    assert recorder.results[0] is first and recorder.results[1] is second
    # Inside each callback its event could already be read back.
    assert recorder.reads == [[first.event], [first.event, second.event]]


async def test_on_event_pushed_given_to_the_constructor_is_awaited() -> None:
    recorder = Recorder()
    store = PokemonsEventStore(
        reducer=Pokedex(), event_storage_adapter=InMemoryEventStorageAdapter(), on_event_pushed=recorder
    )
    assert store.on_event_pushed is recorder
    result = await store.push_event(appeared())
    assert recorder.results == [result]
    store.on_event_pushed = None
    await store.push_event(leveled_up(version=2))
    assert recorder.results == [result]


async def test_on_event_pushed_is_not_called_when_the_push_fails() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    recorder = Recorder()
    await store.push_event(appeared())
    store.on_event_pushed = recorder

    with pytest.raises(EventAlreadyExistsError):
        await store.push_event(appeared(name="Raichu"))
    with pytest.raises(InvalidEventError):
        await store.push_event(leveled_up(version=1))
    with pytest.raises(InvalidEventError):  # version 3 without version 2
        await store.push_event(leveled_up(version=3))
    assert recorder.results == []


async def test_a_failing_on_event_pushed_propagates_but_the_event_stays_stored(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)

    async def explode(result: PushEventResult[PokemonsEvent, Pokemon]) -> None:
        raise RuntimeError(f"side effect failed for v{result.event.version}")

    store.on_event_pushed = explode
    with pytest.raises(RuntimeError, match="side effect failed for v1"):
        await store.push_event(appeared())
    [stored] = await store.get_events("pikachu-1")
    assert stored.type == "POKEMON_APPEARED" and stored.version == 1
    assert (await store.get_existing_aggregate("pikachu-1")).aggregate == pokemon("pikachu-1", 1)


async def test_a_conflict_raises_event_already_exists_unless_forced(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    await store.push_event(appeared())
    await store.push_event(caught(version=2, trainer_id="ash"))
    with pytest.raises(EventAlreadyExistsError) as raised:
        await store.push_event(caught(version=2, trainer_id="misty"))
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "pikachu-1",
        2,
    )
    assert (await store.get_existing_aggregate("pikachu-1")).aggregate.trainer_id == "ash"

    await store.push_event(caught(version=2, trainer_id="misty"), force=True)
    result = await store.get_existing_aggregate("pikachu-1")
    assert result.aggregate.trainer_id == "misty"
    assert [event.version for event in result.events] == [1, 2]


# -- validation before storage ----------------------------------------------------------------------------


def _invalid_payload_level() -> PokemonsEvent:
    payload = PokemonAppearedPayload.model_construct(name="Mew", level=500, pokemon_type="psychic")
    return PokemonAppeared.model_construct(aggregate_id="mew", version=1, payload=payload)


def _missing_payload_field() -> PokemonsEvent:
    payload = PokemonAppearedPayload.model_construct(name="Mew", pokemon_type="psychic")  # no level
    return PokemonAppeared.model_construct(aggregate_id="mew", version=1, payload=payload)


def _missing_payload() -> PokemonsEvent:
    return PokemonAppeared.model_construct(aggregate_id="mew", version=1)


def _invalid_version() -> PokemonsEvent:
    return PokemonLeveledUp.model_construct(aggregate_id="pikachu-1", version=0)


def _event_of_another_store() -> PokemonsEvent:
    return registered("mew")  # type: ignore[return-value]


def _initial_event_at_version_2() -> PokemonsEvent:
    return appeared("pikachu-1", version=2)


def _non_initial_event_at_version_1() -> PokemonsEvent:
    return leveled_up("mew", version=1)


@pytest.mark.parametrize(
    ("build", "aggregate_id", "version", "message"),
    [
        (_invalid_payload_level, "mew", 1, "less than or equal to 100"),
        (_missing_payload_field, "mew", 1, "level: Field required"),
        (_missing_payload, "mew", 1, "payload: Field required"),
        (_invalid_version, "pikachu-1", 0, "greater than or equal to 1"),
        (_event_of_another_store, "mew", 1, "TRAINER_REGISTERED"),
        (_initial_event_at_version_2, "pikachu-1", 2, "initial event: its version must be 1"),
        (_non_initial_event_at_version_1, "mew", 1, "not an initial event"),
    ],
)
async def test_an_invalid_event_is_refused_before_storage(
    build: Callable[[], PokemonsEvent], aggregate_id: str, version: int, message: str
) -> None:
    adapter = InMemoryEventStorageAdapter()
    store = pokemons_store(adapter)
    recorder = Recorder()
    first = await store.push_event(appeared("pikachu-1"))
    store.on_event_pushed = recorder

    with pytest.raises(InvalidEventError, match=message) as raised:
        await store.push_event(build())
    error = raised.value
    assert (error.event_store_id, error.aggregate_id, error.version) == ("pokemons", aggregate_id, version)

    assert await store.get_events("pikachu-1") == [first.event]
    assert await store.get_events("mew") == []
    assert [entry.aggregate_id for entry in (await store.list_aggregate_ids()).aggregate_ids] == ["pikachu-1"]
    # The trainers store of the same adapter got nothing either.
    assert await trainers_store(adapter).get_events("mew") == []
    assert recorder.results == []


async def test_an_invalid_event_is_refused_before_storage_on_sqlite(tmp_path: Path) -> None:
    async with SQLiteEventStorageAdapter(tmp_path / "events.sqlite3") as adapter:
        store = pokemons_store(adapter)
        with pytest.raises(InvalidEventError, match="less than or equal to 100"):
            await store.push_event(_invalid_payload_level())
        with pytest.raises(InvalidEventError):
            await store.push_event(_event_of_another_store())
        assert await store.get_events("mew") == []
        assert await trainers_store(adapter).get_events("mew") == []
        assert (await store.list_aggregate_ids()).aggregate_ids == []


@pytest.mark.parametrize(
    ("prev", "message"),
    [
        (pokemon("pikachu-1", 2), "'pikachu-1' at version 2"),  # too recent
        (pokemon("pikachu-1", 0), "'pikachu-1' at version 0"),  # too old
        (pokemon("raichu-1", 1), "'raichu-1' at version 1"),  # another aggregate
    ],
)
async def test_a_prev_aggregate_that_the_event_does_not_follow_is_refused(prev: Pokemon, message: str) -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    first = await store.push_event(appeared())
    recorder = Recorder()
    store.on_event_pushed = recorder

    with pytest.raises(InvalidEventError, match=message) as raised:
        await store.push_event(leveled_up(version=2), prev_aggregate=prev)
    assert (raised.value.event_store_id, raised.value.aggregate_id, raised.value.version) == (
        "pokemons",
        "pikachu-1",
        2,
    )
    assert await store.get_events("pikachu-1") == [first.event]
    assert recorder.results == []


async def test_a_version_whose_predecessor_is_missing_is_refused(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    first = await store.push_event(appeared())
    with pytest.raises(InvalidEventError) as raised:
        await store.push_event(leveled_up(version=3))
    assert (raised.value.aggregate_id, raised.value.version) == ("pikachu-1", 3)
    assert await store.get_events("pikachu-1") == [first.event]


# -- a missing storage adapter ----------------------------------------------------------------------------

OPERATIONS: dict[str, Callable[[PokemonsEventStore], Awaitable[object]]] = {
    "push_event": lambda store: store.push_event(appeared()),
    "push_event_group": lambda store: EventStore.push_event_group(store.group_event(appeared())),
    "get_events": lambda store: store.get_events("pikachu-1"),
    "get_aggregate": lambda store: store.get_aggregate("pikachu-1"),
    "get_existing_aggregate": lambda store: store.get_existing_aggregate("pikachu-1"),
    "list_aggregate_ids": lambda store: store.list_aggregate_ids(),
}


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_every_storage_operation_needs_an_adapter(operation: str) -> None:
    store = pokemons_store()
    assert store.event_storage_adapter is None
    with pytest.raises(UndefinedEventStorageAdapterError) as raised:
        await OPERATIONS[operation](store)
    assert raised.value.event_store_id == "pokemons"
    assert "pokemons" in str(raised.value)

    # Setting the adapter afterwards makes the same operation work.
    adapter = InMemoryEventStorageAdapter([appeared("pikachu-1", timestamp=T0)])
    store.event_storage_adapter = adapter
    assert store.event_storage_adapter is adapter
    assert store.get_event_storage_adapter() is adapter
    if operation.startswith("push"):
        with pytest.raises(EventAlreadyExistsError):  # the adapter was reached: it holds pikachu-1 already
            await OPERATIONS[operation](store)
    else:
        await OPERATIONS[operation](store)
    assert (await store.get_existing_aggregate("pikachu-1")).aggregate == pokemon("pikachu-1", 1)
    await store.push_event(leveled_up(version=2))
    assert [event.version for event in await store.get_events("pikachu-1")] == [1, 2]


def test_get_event_storage_adapter_raises_until_one_is_set_and_again_once_unset() -> None:
    store = pokemons_store()
    with pytest.raises(UndefinedEventStorageAdapterError) as raised:
        store.get_event_storage_adapter()
    assert raised.value.event_store_id == "pokemons"
    adapter = InMemoryEventStorageAdapter()
    store.event_storage_adapter = adapter
    assert store.get_event_storage_adapter() is adapter
    store.event_storage_adapter = None
    with pytest.raises(UndefinedEventStorageAdapterError):
        store.get_event_storage_adapter()
    given = pokemons_store(adapter)
    assert given.get_event_storage_adapter() is adapter


def test_folding_needs_no_adapter() -> None:
    store = pokemons_store()
    assert store.build_aggregate([appeared()]) == pokemon("pikachu-1", 1)
    assert store.simulate_aggregate([appeared(timestamp=T0)]) == pokemon("pikachu-1", 1)


# -- reading aggregates -----------------------------------------------------------------------------------


async def test_get_aggregate_folds_every_event_or_those_up_to_max_version(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    pushed = [
        (await store.push_event(appeared())).event,
        (await store.push_event(leveled_up(version=2))).event,
        (await store.push_event(caught(version=3, trainer_id="brock"))).event,
    ]
    await store.push_event(appeared("eevee-1", name="Eevee"))

    result = await store.get_aggregate("pikachu-1")
    assert isinstance(result, GetAggregateResult)
    assert result.aggregate == pokemon("pikachu-1", 3, level=6, trainer_id="brock")
    assert result.events == pushed
    assert result.last_event == pushed[-1]

    at_two = await store.get_aggregate("pikachu-1", max_version=2)
    assert at_two.aggregate == pokemon("pikachu-1", 2, level=6)
    assert at_two.events == pushed[:2]
    assert at_two.last_event == pushed[1]

    existing = await store.get_existing_aggregate("pikachu-1", max_version=1)
    assert isinstance(existing, GetExistingAggregateResult)
    assert existing.aggregate == pokemon("pikachu-1", 1)
    assert existing.events == pushed[:1]
    assert existing.last_event == pushed[0]


async def test_an_unknown_aggregate_is_none_or_not_found(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    await store.push_event(appeared("pikachu-1"))
    await trainers_store(adapter).push_event(registered("mew"))  # same id, other store

    result = await store.get_aggregate("mew")
    assert (result.aggregate, result.events, result.last_event) == (None, [], None)

    with pytest.raises(AggregateNotFoundError) as raised:
        await store.get_existing_aggregate("mew")
    assert (raised.value.event_store_id, raised.value.aggregate_id) == ("pokemons", "mew")
    assert "mew" in str(raised.value)


# -- groups -----------------------------------------------------------------------------------------------


async def test_a_group_returns_one_result_per_event_with_next_aggregates_where_computable(
    adapter: EventStorageAdapter,
) -> None:
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    pikachu = (await pokemons.push_event(appeared("pikachu-1"))).next_aggregate
    await trainers.push_event(registered("ash"))

    before = datetime.now(UTC)
    results = await EventStore.push_event_group(
        pokemons.group_event(caught("pikachu-1", version=2), prev_aggregate=pikachu),  # prev given
        trainers.group_event(trainer_caught("ash", version=2)),  # no prev, not initial
        pokemons.group_event(appeared("eevee-1", name="Eevee")),  # initial
        trainers.group_event(registered("misty", name="Misty")),  # initial
    )
    after = datetime.now(UTC)

    assert isinstance(results, tuple) and len(results) == 4
    assert results[0].next_aggregate == pokemon("pikachu-1", 2, trainer_id="ash")
    assert results[1].next_aggregate is None
    assert results[2].next_aggregate == pokemon("eevee-1", 1, name="Eevee")
    assert results[3].next_aggregate == Trainer(aggregate_id="misty", version=1, name="Misty", caught_pokemon_ids=[])
    assert [(result.event.aggregate_id, result.event.version) for result in results] == [
        ("pikachu-1", 2),
        ("ash", 2),
        ("eevee-1", 1),
        ("misty", 1),
    ]
    # Events without timestamps share one, that of the push.
    timestamps = {assert_utc(result.event.timestamp) for result in results}
    assert len(timestamps) == 1 and before <= timestamps.pop() <= after

    assert (await pokemons.get_events("pikachu-1"))[-1] == results[0].event
    assert (await trainers.get_events("ash"))[-1] == results[1].event
    assert await pokemons.get_events("eevee-1") == [results[2].event]
    assert await trainers.get_events("misty") == [results[3].event]
    ash = (await trainers.get_existing_aggregate("ash")).aggregate
    assert ash == Trainer(aggregate_id="ash", version=2, name="Ash", caught_pokemon_ids=["pikachu-1"])


async def test_a_group_keeps_given_timestamps() -> None:
    adapter = InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    results = await EventStore.push_event_group(
        pokemons.group_event(appeared(timestamp=T0)), trainers.group_event(registered(timestamp=T0 + HOUR))
    )
    assert [result.event.timestamp for result in results] == [T0, T0 + HOUR]


async def test_every_callback_of_a_group_runs_after_the_whole_group_is_stored_in_group_order(
    adapter: EventStorageAdapter,
) -> None:
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    calls: list[tuple[str, str, int, int, int, int]] = []

    async def record(result: PushEventResult[Any, Any]) -> None:
        # What a reader sees from inside the callback: every event of the group must already be there.
        calls.append(
            (
                result.event.type,
                result.event.aggregate_id,
                len(await pokemons.get_events("pikachu-1")),
                len(await pokemons.get_events("eevee-1")),
                len(await trainers.get_events("ash")),
                len(await trainers.get_events("misty")),
            )
        )

    pokemons.on_event_pushed = record
    trainers.on_event_pushed = record
    await EventStore.push_event_group(
        trainers.group_event(registered("ash")),
        pokemons.group_event(appeared("pikachu-1")),
        pokemons.group_event(appeared("eevee-1", name="Eevee")),
        trainers.group_event(registered("misty", name="Misty")),
    )
    assert calls == [
        ("TRAINER_REGISTERED", "ash", 1, 1, 1, 1),
        ("POKEMON_APPEARED", "pikachu-1", 1, 1, 1, 1),
        ("POKEMON_APPEARED", "eevee-1", 1, 1, 1, 1),
        ("TRAINER_REGISTERED", "misty", 1, 1, 1, 1),
    ]


async def test_a_failing_callback_of_a_group_does_not_skip_the_others() -> None:
    adapter = InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    called: list[str] = []

    async def fail(result: PushEventResult[Any, Any]) -> None:
        called.append(result.event.aggregate_id)
        raise RuntimeError(f"callback of {result.event.aggregate_id} failed")

    async def record(result: PushEventResult[Any, Any]) -> None:
        called.append(result.event.aggregate_id)

    pokemons.on_event_pushed = fail
    trainers.on_event_pushed = record
    with pytest.raises(RuntimeError, match="callback of pikachu-1 failed") as raised:
        await EventStore.push_event_group(
            pokemons.group_event(appeared("pikachu-1")),
            trainers.group_event(registered("ash")),
            pokemons.group_event(appeared("eevee-1", name="Eevee")),
        )
    # Every callback ran, in group order; the first failure is raised, the later one is in its notes.
    assert called == ["pikachu-1", "ash", "eevee-1"]
    assert raised.value.__notes__ == [
        "on_event_pushed of grouped event #2 also failed: RuntimeError('callback of eevee-1 failed')"
    ]
    assert len(await pokemons.get_events("eevee-1")) == 1


def test_simulate_aggregate_refuses_a_naive_simulation_date() -> None:
    with pytest.raises(ValueError, match="simulation_date must be an aware datetime"):
        pokemons_store().simulate_aggregate([appeared()], simulation_date=datetime(2026, 1, 1))


async def test_a_group_with_two_events_of_one_aggregate() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter())
    first = store.reducer.reduce(None, appeared())
    results = await EventStore.push_event_group(
        store.group_event(appeared()), store.group_event(leveled_up(version=2), prev_aggregate=first)
    )
    assert [result.next_aggregate for result in results] == [pokemon("pikachu-1", 1), pokemon("pikachu-1", 2, level=6)]
    assert await store.get_events("pikachu-1") == [result.event for result in results]


async def test_a_group_of_stores_on_different_adapters_is_refused_and_nothing_is_stored() -> None:
    pokemons_adapter, trainers_adapter = InMemoryEventStorageAdapter(), InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(pokemons_adapter), trainers_store(trainers_adapter)
    recorder = Recorder()
    pokemons.on_event_pushed = recorder
    trainers.on_event_pushed = recorder

    with pytest.raises(EventGroupError, match="another storage adapter") as raised:
        await EventStore.push_event_group(pokemons.group_event(appeared()), trainers.group_event(registered()))
    assert isinstance(raised.value, ValueError)
    assert await pokemons.get_events("pikachu-1") == []
    assert await trainers.get_events("ash") == []
    assert recorder.results == []


async def test_a_group_with_an_invalid_member_is_refused_and_nothing_is_stored(adapter: EventStorageAdapter) -> None:
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    recorder = Recorder()
    pokemons.on_event_pushed = recorder
    trainers.on_event_pushed = recorder

    with pytest.raises(InvalidEventError) as raised:
        await EventStore.push_event_group(
            pokemons.group_event(appeared("pikachu-1")),
            trainers.group_event(registered("ash")),
            pokemons.group_event(_invalid_payload_level()),
        )
    assert (raised.value.event_store_id, raised.value.aggregate_id) == ("pokemons", "mew")
    with pytest.raises(InvalidEventError, match="prev_aggregate"):
        await EventStore.push_event_group(
            trainers.group_event(registered("ash")),
            pokemons.group_event(leveled_up("pikachu-1", version=2), prev_aggregate=pokemon("pikachu-1", 3)),
        )
    assert await pokemons.get_events("pikachu-1") == []
    assert await pokemons.get_events("mew") == []
    assert await trainers.get_events("ash") == []
    assert recorder.results == []


async def test_a_group_that_conflicts_in_storage_stores_nothing_and_calls_no_callback() -> None:
    adapter = InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    await trainers.push_event(registered("ash"))
    recorder = Recorder()
    pokemons.on_event_pushed = recorder
    trainers.on_event_pushed = recorder

    with pytest.raises(EventAlreadyExistsError):
        await EventStore.push_event_group(
            pokemons.group_event(appeared("pikachu-1")), trainers.group_event(registered("ash", name="Ash again"))
        )
    assert await pokemons.get_events("pikachu-1") == []
    assert [event.payload.name for event in await trainers.get_events("ash")] == ["Ash"]  # type: ignore[union-attr]
    assert recorder.results == []


async def test_an_empty_group_returns_an_empty_tuple() -> None:
    assert await EventStore.push_event_group() == ()


def test_group_event_binds_the_event_to_its_store() -> None:
    store = pokemons_store()
    prev = pokemon("pikachu-1", 1)
    grouped = store.group_event(leveled_up(version=2), prev_aggregate=prev)
    assert grouped.event_store is store
    assert grouped.event == leveled_up(version=2)
    assert grouped.prev_aggregate is prev
    assert store.group_event(appeared()).prev_aggregate is None


# -- build_aggregate and simulate_aggregate ---------------------------------------------------------------


def test_build_aggregate_folds_events_from_nothing_or_from_a_given_aggregate() -> None:
    store = pokemons_store()
    assert store.build_aggregate([]) is None
    at_two = store.build_aggregate([appeared(), leveled_up(version=2)])
    assert at_two == pokemon("pikachu-1", 2, level=6)
    continued = store.build_aggregate([leveled_up(version=3), caught(version=4, trainer_id="misty")], at_two)
    assert continued == pokemon("pikachu-1", 4, level=7, trainer_id="misty")
    assert store.build_aggregate([], at_two) is at_two
    with pytest.raises(InvalidEventError, match="needs an existing aggregate"):
        store.build_aggregate([leveled_up(version=2)])


def test_simulate_aggregate_folds_every_event_by_default() -> None:
    store = pokemons_store()
    events = [appeared(timestamp=T0), leveled_up(version=2, timestamp=T0 + HOUR)]
    assert store.simulate_aggregate(events) == pokemon("pikachu-1", 2, level=6)
    assert store.simulate_aggregate([]) is None


def test_simulate_aggregate_stops_at_the_simulation_date_inclusive() -> None:
    store = pokemons_store()
    events = [
        appeared(timestamp=T0),
        leveled_up(version=2, timestamp=T0 + HOUR),
        caught(version=3, trainer_id="ash", timestamp=T0 + 2 * HOUR),
    ]
    assert store.simulate_aggregate(events, simulation_date=T0 - timedelta(microseconds=1)) is None
    assert store.simulate_aggregate(events, simulation_date=T0) == pokemon("pikachu-1", 1)
    at_two = pokemon("pikachu-1", 2, level=6)
    assert store.simulate_aggregate(events, simulation_date=T0 + HOUR) == at_two  # inclusive
    assert store.simulate_aggregate(events, simulation_date=T0 + 2 * HOUR - timedelta(microseconds=1)) == at_two
    paris = timezone(timedelta(hours=2))
    in_paris = (T0 + 2 * HOUR).astimezone(paris)
    assert store.simulate_aggregate(events, simulation_date=in_paris) == pokemon(
        "pikachu-1", 3, level=6, trainer_id="ash"
    )


def test_simulate_aggregate_orders_events_by_timestamp_and_renumbers_them() -> None:
    store = pokemons_store()
    # Given out of order, and with version order disagreeing with time order for the two catches.
    events = [
        caught(version=3, trainer_id="misty", timestamp=T0 + HOUR),
        caught(version=2, trainer_id="ash", timestamp=T0 + 2 * HOUR),
        appeared(timestamp=T0),
    ]
    simulated = store.simulate_aggregate(events)
    assert simulated == pokemon("pikachu-1", 3, trainer_id="ash")  # ash caught it last

    sparse = [
        appeared(timestamp=T0),
        leveled_up(version=10, timestamp=T0 + HOUR),
        leveled_up(version=20, timestamp=T0 + 2 * HOUR),
    ]
    result = store.simulate_aggregate(sparse)
    assert result is not None and result.version == 3 and result.level == 7


def test_simulate_aggregate_keeps_the_later_of_two_events_with_one_version() -> None:
    store = pokemons_store()
    events = [
        appeared(timestamp=T0),
        caught(version=2, trainer_id="ash", timestamp=T0 + HOUR),
        caught(version=2, trainer_id="misty", timestamp=T0 + 2 * HOUR),
    ]
    assert store.simulate_aggregate(events) == pokemon("pikachu-1", 2, trainer_id="misty")
    # "Later" means later in the given sequence, whatever the timestamps.
    events_reversed_in_time = [
        appeared(timestamp=T0),
        caught(version=2, trainer_id="ash", timestamp=T0 + 2 * HOUR),
        caught(version=2, trainer_id="misty", timestamp=T0 + HOUR),
    ]
    assert store.simulate_aggregate(events_reversed_in_time) == pokemon("pikachu-1", 2, trainer_id="misty")


def test_simulate_aggregate_does_not_change_the_given_events() -> None:
    store = pokemons_store()
    events = [appeared(timestamp=T0), leveled_up(version=7, timestamp=T0 + HOUR)]
    copies = list(events)
    store.simulate_aggregate(events)
    assert events == copies and events[1].version == 7


# -- list_aggregate_ids through the store -----------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1])
async def test_list_aggregate_ids_refuses_a_limit_below_one(limit: int) -> None:
    store = pokemons_store(InMemoryEventStorageAdapter([appeared(timestamp=T0)]))
    with pytest.raises(ValueError, match="limit"):
        await store.list_aggregate_ids(limit=limit)
    page = await store.list_aggregate_ids(limit=1)
    with pytest.raises(ValueError, match="limit"):
        await store.list_aggregate_ids(limit=limit, page_token=page.next_page_token)


@pytest.mark.parametrize("bound", ["initial_event_after", "initial_event_before"])
async def test_list_aggregate_ids_refuses_naive_datetimes(bound: str) -> None:
    store = pokemons_store(InMemoryEventStorageAdapter([appeared(timestamp=T0)]))
    with pytest.raises(ValueError, match=bound):
        await store.list_aggregate_ids(**{bound: datetime(2024, 5, 1, 12, 0)})
    # The same instant, aware, is accepted (bounds are inclusive).
    listed = await store.list_aggregate_ids(**{bound: T0})
    assert [entry.aggregate_id for entry in listed.aggregate_ids] == ["pikachu-1"]


async def test_get_events_refuses_a_negative_limit() -> None:
    store = pokemons_store(InMemoryEventStorageAdapter([appeared(timestamp=T0)]))
    with pytest.raises(ValueError, match="limit"):
        await store.get_events("pikachu-1", limit=-1)


async def test_options_given_with_a_page_token_override_the_tokens(adapter: EventStorageAdapter) -> None:
    store = pokemons_store(adapter)
    ids = [f"pokemon-{index}" for index in range(5)]
    for index, aggregate_id in enumerate(ids):
        await store.push_event(appeared(aggregate_id, timestamp=T0 + index * HOUR))

    def listed(result: Any) -> list[str]:
        return [entry.aggregate_id for entry in result.aggregate_ids]

    first = await store.list_aggregate_ids(limit=1, initial_event_before=T0 + 2 * HOUR)
    assert listed(first) == ids[:1] and first.next_page_token is not None
    assert first.aggregate_ids[0].initial_event_timestamp == T0

    # The token alone carries the query: limit 1, before T0 + 2h.
    carried = await store.list_aggregate_ids(page_token=first.next_page_token)
    assert listed(carried) == ids[1:2] and carried.next_page_token is not None
    last = await store.list_aggregate_ids(page_token=carried.next_page_token)
    assert listed(last) == ids[2:3] and last.next_page_token is None

    # An explicit limit overrides the token's; the carried bound still applies.
    wider = await store.list_aggregate_ids(page_token=first.next_page_token, limit=10)
    assert listed(wider) == ids[1:3] and wider.next_page_token is None

    # An explicit bound overrides the token's; the carried limit still applies.
    later = await store.list_aggregate_ids(page_token=first.next_page_token, initial_event_before=T0 + 4 * HOUR)
    assert listed(later) == ids[1:2] and later.next_page_token is not None
    rest = await store.list_aggregate_ids(page_token=later.next_page_token, limit=10)
    assert listed(rest) == ids[2:5] and rest.next_page_token is None

    # Several options overridden at once; None means "not given", so the token's value stays.
    both = await store.list_aggregate_ids(
        page_token=first.next_page_token, limit=2, initial_event_after=T0 + 2 * HOUR, initial_event_before=T0 + 4 * HOUR
    )
    assert listed(both) == ids[2:4] and both.next_page_token is not None
    kept = await store.list_aggregate_ids(page_token=first.next_page_token, initial_event_before=None, limit=10)
    assert listed(kept) == ids[1:3]


async def test_list_aggregate_ids_lists_only_the_stores_own_aggregates() -> None:
    adapter = InMemoryEventStorageAdapter()
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)
    await pokemons.push_event(appeared("pikachu-1", timestamp=T0))
    await trainers.push_event(registered("ash", timestamp=T0 - HOUR))
    await pokemons.push_event(appeared("eevee-1", timestamp=T0 + HOUR))
    listed = await pokemons.list_aggregate_ids()
    assert [(entry.aggregate_id, entry.initial_event_timestamp) for entry in listed.aggregate_ids] == [
        ("pikachu-1", T0),
        ("eevee-1", T0 + HOUR),
    ]
    assert listed.next_page_token is None
    assert [entry.aggregate_id for entry in (await trainers.list_aggregate_ids()).aggregate_ids] == ["ash"]


def test_a_store_names_itself() -> None:
    assert repr(pokemons_store()) == "PokemonsEventStore(event_store_id='pokemons')"
    assert pokemons_store().event_store_id == "pokemons" and trainers_store().event_store_id == "trainers"


async def test_a_page_token_of_another_store_or_no_token_at_all_is_refused() -> None:
    adapter = InMemoryEventStorageAdapter([appeared("pikachu-1", timestamp=T0), appeared("eevee-1", timestamp=T0)])
    trainers_adapter = InMemoryEventStorageAdapter([registered("ash", timestamp=T0), registered("misty", timestamp=T0)])
    pokemons = pokemons_store(adapter)
    trainers_page = await trainers_store(trainers_adapter).list_aggregate_ids(limit=1)
    assert trainers_page.next_page_token is not None
    with pytest.raises(InvalidPageTokenError, match="trainers") as raised:
        await pokemons.list_aggregate_ids(page_token=trainers_page.next_page_token)
    assert raised.value.event_store_id == "pokemons"
    with pytest.raises(InvalidPageTokenError) as raised:
        await pokemons.list_aggregate_ids(page_token="not a token")
    assert isinstance(raised.value, ValueError)


def test_every_error_is_a_kastor_error() -> None:
    for error in (
        AggregateNotFoundError,
        EventAlreadyExistsError,
        EventGroupError,
        InvalidEventError,
        InvalidPageTokenError,
        UndefinedEventStorageAdapterError,
    ):
        assert issubclass(error, KastorError)
