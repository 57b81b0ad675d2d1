"""The test tools: mocked and muted event stores, and the seeded in-memory adapter."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    HOUR,
    T0,
    Recorder,
    appeared,
    caught,
    leveled_up,
    pokemons_store,
    registered,
    trainers_store,
)

# isort: split
from pokedex import (
    EventAlreadyExistsError,
    EventStore,
    InMemoryEventStorageAdapter,
    InvalidEventError,
    MockedEventStore,
    Pokemon,
    PokemonsEvent,
    PokemonsEventStore,
    TrainerCaughtPokemon,
    TrainerCaughtPokemonPayload,
    mock_event_store,
    mute_event_store,
)

ORIGINAL_EEVEE = appeared("eevee-1", name="Eevee", timestamp=T0 - HOUR)


def original_store() -> tuple[PokemonsEventStore, InMemoryEventStorageAdapter, Recorder]:
    """A store on its own adapter (holding ORIGINAL_EEVEE), with an `on_event_pushed` recorder."""
    adapter = InMemoryEventStorageAdapter([ORIGINAL_EEVEE])
    recorder = Recorder()
    store = pokemons_store(adapter, on_event_pushed=recorder)
    return store, adapter, recorder


INITIAL: list[PokemonsEvent] = [
    appeared("pikachu-1", timestamp=T0),
    leveled_up("pikachu-1", version=2, timestamp=T0 + HOUR),
    appeared("bulbasaur-1", name="Bulbasaur", timestamp=T0 + 2 * HOUR),
]


# -- mock_event_store -------------------------------------------------------------------------------------


async def test_a_mocked_store_copies_the_store_and_holds_the_initial_events() -> None:
    store, _, _ = original_store()
    mocked = mock_event_store(store, INITIAL)

    assert isinstance(mocked, MockedEventStore) and isinstance(mocked, EventStore)
    assert mocked.event_store_id == "pokemons"
    assert mocked.reducer is store.reducer
    assert mocked.codec is store.codec
    assert mocked.initial_event_types == store.initial_event_types == frozenset({"POKEMON_APPEARED"})
    assert mocked.initial_events == tuple(INITIAL)
    assert mocked.on_event_pushed is None
    assert mocked.event_storage_adapter is not store.event_storage_adapter
    assert isinstance(mocked.event_storage_adapter, InMemoryEventStorageAdapter)

    assert await mocked.get_events("pikachu-1") == INITIAL[:2]
    pikachu = await mocked.get_existing_aggregate("pikachu-1")
    assert pikachu.aggregate == Pokemon(
        aggregate_id="pikachu-1", version=2, name="Pikachu", level=6, pokemon_type="electric", trainer_id=None
    )
    listed = await mocked.list_aggregate_ids()
    assert [(entry.aggregate_id, entry.initial_event_timestamp) for entry in listed.aggregate_ids] == [
        ("pikachu-1", T0),
        ("bulbasaur-1", T0 + 2 * HOUR),
    ]
    assert await mocked.get_events("eevee-1") == []  # the original's events are not copied


async def test_a_mocked_store_starts_empty_without_initial_events() -> None:
    store, _, _ = original_store()
    mocked = mock_event_store(store)
    assert mocked.initial_events == ()
    assert (await mocked.list_aggregate_ids()).aggregate_ids == []


async def test_initial_events_without_timestamps_get_one() -> None:
    store, _, _ = original_store()
    before = datetime.now(UTC)
    mocked = mock_event_store(store, [appeared(), leveled_up(version=2)])
    after = datetime.now(UTC)
    events = await mocked.get_events("pikachu-1")
    assert [event.version for event in events] == [1, 2]
    for event in events:
        assert event.timestamp is not None and event.timestamp.utcoffset() == timedelta(0)
        assert before <= event.timestamp <= after


async def test_pushes_to_a_mocked_store_leave_the_original_untouched() -> None:
    store, adapter, recorder = original_store()
    mocked = mock_event_store(store, INITIAL)

    result = await mocked.push_event(caught("pikachu-1", version=3))
    await mocked.push_event(appeared("eevee-1", name="Eevee"))
    assert (await mocked.get_existing_aggregate("pikachu-1")).aggregate.trainer_id == "ash"
    assert result.event in await mocked.get_events("pikachu-1")

    assert store.event_storage_adapter is adapter
    assert await store.get_events("pikachu-1") == []
    assert await store.get_events("eevee-1") == [ORIGINAL_EEVEE]
    assert [entry.aggregate_id for entry in (await store.list_aggregate_ids()).aggregate_ids] == ["eevee-1"]
    assert recorder.results == []  # the original's on_event_pushed is not called


async def test_a_mocked_store_of_a_store_without_adapter_works() -> None:
    store = pokemons_store()
    mocked = mock_event_store(store, INITIAL)
    await mocked.push_event(caught("pikachu-1", version=3))
    assert len(await mocked.get_events("pikachu-1")) == 3
    assert store.event_storage_adapter is None


async def test_a_mocked_store_applies_the_stores_rules() -> None:
    store, _, _ = original_store()
    mocked = mock_event_store(store, INITIAL)
    with pytest.raises(EventAlreadyExistsError):
        await mocked.push_event(leveled_up("pikachu-1", version=2))
    with pytest.raises(InvalidEventError):
        await mocked.push_event(leveled_up("pikachu-1", version=1))
    with pytest.raises(InvalidEventError):
        await mocked.push_event(registered("pikachu-1", name="Pikachu-1"))  # type: ignore[arg-type]
    assert await mocked.get_events("pikachu-1") == INITIAL[:2]


async def test_a_mocked_stores_own_on_event_pushed_may_be_set() -> None:
    store, _, original_recorder = original_store()
    mocked = mock_event_store(store, INITIAL)
    recorder = Recorder()
    mocked.on_event_pushed = recorder
    result = await mocked.push_event(leveled_up("pikachu-1", version=3))
    assert recorder.results == [result]
    assert original_recorder.results == []


async def test_reset_restores_exactly_the_initial_events() -> None:
    store, _, _ = original_store()
    mocked = mock_event_store(store, INITIAL)
    await mocked.push_event(caught("pikachu-1", version=3))
    await mocked.push_event(appeared("eevee-1", name="Eevee"))
    await mocked.push_event(caught("bulbasaur-1", version=2, trainer_id="misty"), force=True)

    mocked.reset()
    assert await mocked.get_events("pikachu-1") == INITIAL[:2]
    assert await mocked.get_events("bulbasaur-1") == INITIAL[2:]
    assert await mocked.get_events("eevee-1") == []
    assert [entry.aggregate_id for entry in (await mocked.list_aggregate_ids()).aggregate_ids] == [
        "pikachu-1",
        "bulbasaur-1",
    ]
    # The mocked store is usable after a reset, and a reset again undoes that too.
    await mocked.push_event(caught("pikachu-1", version=3, trainer_id="brock"))
    assert (await mocked.get_existing_aggregate("pikachu-1")).aggregate.trainer_id == "brock"
    mocked.reset()
    assert await mocked.get_events("pikachu-1") == INITIAL[:2]


async def test_reset_keeps_the_timestamps_given_to_initial_events_without_one() -> None:
    store, _, _ = original_store()
    mocked = mock_event_store(store, [appeared(), leveled_up(version=2)])
    before_reset = await mocked.get_events("pikachu-1")
    listed_before = (await mocked.list_aggregate_ids()).aggregate_ids
    time.sleep(0.002)
    mocked.reset()
    assert await mocked.get_events("pikachu-1") == before_reset
    assert (await mocked.list_aggregate_ids()).aggregate_ids == listed_before


# -- mute_event_store -------------------------------------------------------------------------------------


async def test_mute_event_store_swaps_the_stores_own_adapter() -> None:
    store, adapter, recorder = original_store()
    assert mute_event_store(store, INITIAL) is None  # type: ignore[func-returns-value]

    muted_adapter = store.event_storage_adapter
    assert isinstance(muted_adapter, InMemoryEventStorageAdapter) and muted_adapter is not adapter
    assert store.get_event_storage_adapter() is muted_adapter
    assert await store.get_events("pikachu-1") == INITIAL[:2]
    assert await store.get_events("eevee-1") == []  # the previous adapter's events are gone from view

    result = await store.push_event(leveled_up("pikachu-1", version=3))
    assert len(await store.get_events("pikachu-1")) == 3
    # It is the store itself (not a copy) that was muted: its callback still runs.
    assert recorder.results == [result]

    # The previous adapter is untouched.
    others = pokemons_store(adapter)
    assert await others.get_events("pikachu-1") == []
    assert await others.get_events("eevee-1") == [ORIGINAL_EEVEE]


async def test_mute_event_store_works_on_a_store_without_adapter_and_without_initial_events() -> None:
    store = pokemons_store()
    mute_event_store(store)
    assert isinstance(store.event_storage_adapter, InMemoryEventStorageAdapter)
    assert (await store.list_aggregate_ids()).aggregate_ids == []
    await store.push_event(appeared())
    assert len(await store.get_events("pikachu-1")) == 1


# -- seeding the in-memory adapter ------------------------------------------------------------------------


async def test_an_in_memory_adapter_seeded_with_events_of_two_stores() -> None:
    seed = [
        # Given in no particular order: the adapter sorts them by store, aggregate and version.
        TrainerCaughtPokemon(
            aggregate_id="ash", version=2, payload=TrainerCaughtPokemonPayload(pokemon_id="pikachu-1"), timestamp=T0
        ),
        leveled_up("pikachu-1", version=2, timestamp=T0 + HOUR),
        registered("ash", timestamp=T0 - HOUR),
        appeared("pikachu-1", timestamp=T0),
        appeared("ash", name="Ash the pokemon", timestamp=T0 + 2 * HOUR),  # same id, other store
    ]
    adapter = InMemoryEventStorageAdapter(initial_events=seed)
    pokemons, trainers = pokemons_store(adapter), trainers_store(adapter)

    assert await pokemons.get_events("pikachu-1") == [seed[3], seed[1]]
    assert await pokemons.get_events("ash") == [seed[4]]
    assert await trainers.get_events("ash") == [seed[2], seed[0]]
    assert await trainers.get_events("pikachu-1") == []
    assert [entry.aggregate_id for entry in (await pokemons.list_aggregate_ids()).aggregate_ids] == ["pikachu-1", "ash"]
    assert [entry.aggregate_id for entry in (await trainers.list_aggregate_ids()).aggregate_ids] == ["ash"]
    ash = (await trainers.get_existing_aggregate("ash")).aggregate
    assert (ash.version, ash.caught_pokemon_ids) == (2, ["pikachu-1"])

    # Seeded aggregates continue like pushed ones.
    with pytest.raises(EventAlreadyExistsError):
        await pokemons.push_event(leveled_up("pikachu-1", version=2))
    await pokemons.push_event(leveled_up("pikachu-1", version=3))
    assert [event.version for event in await pokemons.get_events("pikachu-1")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("seed", "found"),
    [
        ([appeared(), leveled_up(version=3)], "v3 after v1"),  # gap
        ([leveled_up(version=2)], "v2 after v0"),  # no version 1
        ([appeared(), appeared(name="Raichu")], "v1 after v1"),  # duplicate
    ],
)
def test_a_seed_whose_versions_are_not_contiguous_is_refused(seed: list[PokemonsEvent], found: str) -> None:
    with pytest.raises(ValueError, match="pokemons/pikachu-1") as raised:
        InMemoryEventStorageAdapter(initial_events=[registered("ash"), *seed])
    assert found in str(raised.value)
    with pytest.raises(ValueError, match="pokemons/pikachu-1"):
        mock_event_store(pokemons_store(), seed)
