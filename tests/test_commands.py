"""Commands: handlers retried when another writer pushed the same version first."""

import asyncio
from typing import Any

import pytest

from .pokedex_builders import (  # first: it makes the generated pokedex package importable
    adapter_fixture,  # noqa: F401  (the `adapter` fixture)
    appeared,
    leveled_up,
    pokemons_store,
)

# isort: split
from pokedex import (
    Command,
    EventAlreadyExistsError,
    EventStorageAdapter,
    InMemoryEventStorageAdapter,
    InvalidEventError,
    Pokemon,
    PokemonsEventStore,
)
from pokedex.runtime.commands import RetryAttempt

Stores = tuple[PokemonsEventStore]


def conflict(version: int = 2) -> EventAlreadyExistsError:
    return EventAlreadyExistsError(event_store_id="pokemons", aggregate_id="pikachu-1", version=version)


class Scripted:
    """A handler that raises the given errors in turn, then returns `result`; it records its calls."""

    def __init__(self, *errors: BaseException, result: object = "done") -> None:
        self.errors = list(errors)
        self.calls: list[tuple[object, object]] = []
        self.result = result

    async def __call__(self, input: object, stores: object) -> object:
        self.calls.append((input, stores))
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class Observer:
    """An `on_event_already_exists` callback recording what it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[EventAlreadyExistsError, RetryAttempt]] = []

    async def __call__(self, error: EventAlreadyExistsError, attempt: RetryAttempt) -> None:
        self.seen.append((error, attempt))

    @property
    def attempts(self) -> list[tuple[int, int]]:
        return [(attempt.attempt_number, attempt.retries_left) for _, attempt in self.seen]


def command(handler: Any, **options: Any) -> Command[Any, Any, Any]:
    stores = (pokemons_store(InMemoryEventStorageAdapter()),)
    return Command(command_id="level_up", required_event_stores=stores, handler=handler, **options)


async def test_the_handlers_value_is_returned_and_it_gets_the_input_and_stores() -> None:
    handler = Scripted(result={"answer": 42})
    observer = Observer()
    level_up = command(handler, on_event_already_exists=observer)
    stores = level_up.required_event_stores
    assert await level_up.handler("pikachu-1", stores) == {"answer": 42}
    assert handler.calls == [("pikachu-1", stores)]
    assert handler.calls[0][1] is stores
    assert observer.seen == []
    assert level_up.command_id == "level_up"
    assert level_up.event_already_exists_retries == 2


async def test_by_default_a_conflict_is_retried_twice_then_re_raised() -> None:
    errors = [conflict(2), conflict(3), conflict(4)]
    handler = Scripted(*errors)
    observer = Observer()
    level_up = command(handler, on_event_already_exists=observer)

    with pytest.raises(EventAlreadyExistsError) as raised:
        await level_up.handler("pikachu-1", level_up.required_event_stores)
    assert raised.value is errors[2]  # the last attempt's error
    assert len(handler.calls) == 3
    assert observer.attempts == [(1, 2), (2, 1), (3, 0)]
    assert [error for error, _ in observer.seen] == errors
    assert all(isinstance(attempt, RetryAttempt) for _, attempt in observer.seen)


async def test_a_retry_that_succeeds_returns_its_value() -> None:
    handler = Scripted(conflict(), result="leveled up")
    observer = Observer()
    level_up = command(handler, on_event_already_exists=observer)
    assert await level_up.handler("pikachu-1", level_up.required_event_stores) == "leveled up"
    assert len(handler.calls) == 2
    assert observer.attempts == [(1, 2)]


@pytest.mark.parametrize(
    ("retries", "expected"), [(0, [(1, 0)]), (1, [(1, 1), (2, 0)]), (4, [(1, 4), (2, 3), (3, 2), (4, 1), (5, 0)])]
)
async def test_the_number_of_retries_is_configurable(retries: int, expected: list[tuple[int, int]]) -> None:
    handler = Scripted(*(conflict() for _ in range(retries + 1)))
    observer = Observer()
    level_up = command(handler, event_already_exists_retries=retries, on_event_already_exists=observer)
    with pytest.raises(EventAlreadyExistsError):
        await level_up.handler("pikachu-1", level_up.required_event_stores)
    assert len(handler.calls) == retries + 1
    assert observer.attempts == expected


async def test_retries_happen_without_a_callback() -> None:
    handler = Scripted(conflict(), conflict(), result="third time lucky")
    level_up = command(handler)
    assert await level_up.handler("pikachu-1", level_up.required_event_stores) == "third time lucky"
    assert len(handler.calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        KeyError("missing"),
        InvalidEventError("invalid", event_store_id="pokemons", aggregate_id="pikachu-1", version=2),
    ],
)
async def test_other_errors_propagate_at_once(error: Exception) -> None:
    handler = Scripted(error)
    observer = Observer()
    level_up = command(handler, on_event_already_exists=observer)
    with pytest.raises(type(error)) as raised:
        await level_up.handler("pikachu-1", level_up.required_event_stores)
    assert raised.value is error
    assert len(handler.calls) == 1
    assert observer.seen == []


async def test_an_other_error_after_a_conflict_propagates_without_further_retry() -> None:
    failure = RuntimeError("database down")
    handler = Scripted(conflict(), failure, result="never")
    observer = Observer()
    level_up = command(handler, on_event_already_exists=observer)
    with pytest.raises(RuntimeError) as raised:
        await level_up.handler("pikachu-1", level_up.required_event_stores)
    assert raised.value is failure
    assert len(handler.calls) == 2
    assert observer.attempts == [(1, 2)]


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="event_already_exists_retries"):
        command(Scripted(), event_already_exists_retries=-1)


async def test_two_concurrent_commands_on_one_aggregate_both_succeed_thanks_to_the_retry(
    adapter: EventStorageAdapter,
) -> None:
    store = pokemons_store(adapter)
    await store.push_event(appeared("pikachu-1"))

    # Both first attempts read version 1 before either pushes version 2: exactly one of them must lose.
    both_have_read = asyncio.Barrier(2)
    read_versions: list[int] = []

    async def level_up(pokemon_id: str, stores: Stores) -> Pokemon:
        (pokemons,) = stores
        current = await pokemons.get_existing_aggregate(pokemon_id)
        read_versions.append(current.aggregate.version)
        if len(read_versions) <= 2:
            await both_have_read.wait()
        pushed = await pokemons.push_event(
            leveled_up(pokemon_id, version=current.aggregate.version + 1),
            prev_aggregate=current.aggregate,
        )
        assert pushed.next_aggregate is not None
        return pushed.next_aggregate

    observer = Observer()
    command_ = Command[Stores, str, Pokemon](
        command_id="level_up",
        required_event_stores=(store,),
        handler=level_up,
        on_event_already_exists=observer,
    )
    results = await asyncio.wait_for(
        asyncio.gather(command_.handler("pikachu-1", (store,)), command_.handler("pikachu-1", (store,))), timeout=10
    )

    assert sorted(result.version for result in results) == [2, 3]
    assert sorted(result.level for result in results) == [6, 7]
    assert read_versions == [1, 1, 2]  # the loser reloaded the aggregate before retrying
    assert observer.attempts == [(1, 2)]
    [(error, _)] = observer.seen
    assert (error.event_store_id, error.aggregate_id, error.version) == ("pokemons", "pikachu-1", 2)
    final = await store.get_existing_aggregate("pikachu-1")
    assert [event.version for event in final.events] == [1, 2, 3]
    assert final.aggregate.level == 7
