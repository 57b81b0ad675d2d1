"""A property-based fuzz harness for the runtime: hostile input through every adapter and codec.

Hypothesis draws hostile aggregate ids (lone surrogates, NUL, huge texts), versions and limits (zero,
negative, past 64 bits, booleans), timestamps (the edges of Python's range in any offset, naive), page
tokens (random text, base64 of random or deeply nested JSON, valid tokens altered), payloads (NaN,
infinity, -0.0, integers of thousands of digits, lone surrogates, deep nesting, values JSON cannot hold),
stored rows corrupted by hand (SQLite and PostgreSQL: any column set to any value its storage takes, rows
deleted or renumbered) and message bodies (random bytes, valid bodies altered). Every public call must:

- return, or raise the typed error of its place: InvalidEventError / EventAlreadyExistsError for a push,
  EventDecodeError for a read of a stored row, MessageDecodeError for a message body, pydantic's
  ValidationError for an event's constructor, and for a query argument a ValueError that names it;
- never raise anything else (no raw OverflowError, RecursionError, UnicodeError, TypeError, driver error);
- keep its promises when it returns: a stored event reads back exactly as pushed, a refused group leaves
  nothing stored, a history read is 1, 2, 3... with its initial event first, a decoded event or message
  encodes back to the same;
- end within 10 s (a bound on hangs, far above what any call takes).

The short run is part of the test suite (a few hundred cases). KASTOR_LONG_RUNTIME_FUZZ=1 runs over 5,000
cases and prints its figures (`pytest -s tests/test_runtime_fuzz.py`).
"""

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from .pokedex_builders import appeared, caught, leveled_up, pokemon, pokemons_store
from .services import postgres_schema
from .test_runtime_hostile_input import Noted, notes_store

# isort: split
from pokedex import (
    MESSAGE_CODEC,
    POKEMONS_EVENT_CODEC,
    AggregateExistsMessage,
    AggregateNotFoundError,
    EventAlreadyExistsError,
    EventDecodeError,
    EventStorageAdapter,
    EventStore,
    InMemoryEventStorageAdapter,
    InvalidEventError,
    MessageDecodeError,
    NotificationMessage,
    PokemonAppeared,
    PokemonsEventStore,
    PostgresEventStorageAdapter,
    SQLiteEventStorageAdapter,
    StateCarryingMessage,
)

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test

LONG = os.environ.get("KASTOR_LONG_RUNTIME_FUZZ") == "1"
#: Cases per test and adapter: the short run keeps the suite quick, the long one runs over 5,000 in all.
CASES = (
    {"push": 300, "query": 300, "rows": 250, "codec": 1_000}
    if LONG
    else {"push": 25, "query": 25, "rows": 20, "codec": 120}
)
#: No call may take longer: a bound on hangs, not a measure of speed.
CALL_BOUND_SECONDS = 10.0

ARGUMENT_NAMES = (
    "aggregate_id",
    "min_version",
    "max_version",
    "limit",
    "page_token",
    "page token",
    "initial_event_after",
    "initial_event_before",
)

T = TypeVar("T")


def fuzz_settings(cases: int) -> settings:
    """Derandomized in the short run (CI sees the same cases every time), random in the long one."""
    return settings(
        max_examples=cases,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


# -- the figures of a run ------------------------------------------------------------------------------


@dataclass
class Figures:
    """What every call of a run gave (returned, or which error) and the slowest call."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")
    cases: int = 0

    def record(self, call: str, outcome: str, seconds: float) -> None:
        self.outcomes[call, outcome] += 1
        self.slowest = max(self.slowest, (seconds, call))

    def report(self, title: str) -> None:
        calls = sum(self.outcomes.values())
        print(f"\n{title}: {self.cases} cases, {calls} calls, slowest {self.slowest[1]} {self.slowest[0]:.3f} s")
        for (call, outcome), count in sorted(self.outcomes.items()):
            print(f"  {call:<34} {outcome:<28} {count}")


FIGURES = Figures()


@pytest.fixture(scope="module", autouse=True)
def report_figures() -> Iterator[None]:
    yield
    FIGURES.report("runtime fuzz" + (" (long run)" if LONG else ""))


# -- running calls, bounded in time --------------------------------------------------------------------


class LoopThread:
    """An event loop in a thread of its own, so that every call of a test (Hypothesis calls the test
    once per case) runs on one loop, where the adapters' connections live, and can be given up on
    after CALL_BOUND_SECONDS instead of hanging the test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], call: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        started = time.monotonic()
        try:
            return future.result(timeout=CALL_BOUND_SECONDS)
        except concurrent.futures.TimeoutError:
            future.cancel()
            pytest.fail(f"{call} took longer than {CALL_BOUND_SECONDS} s")
        finally:
            FIGURES.slowest = max(FIGURES.slowest, (time.monotonic() - started, call))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=CALL_BOUND_SECONDS)
        self.loop.close()


def outcome_of(call: str, attempt: Callable[[], T], allowed: tuple[type[BaseException], ...]) -> T | BaseException:
    """What `attempt()` returned, or the error it raised when that error is one of `allowed`; any other
    error fails the test, naming the call and the error."""
    started = time.monotonic()
    try:
        result = attempt()
    except allowed as error:
        FIGURES.record(call, type(error).__name__, time.monotonic() - started)
        if type(error) is ValueError or type(error).__name__ == "ValueError":
            assert any(name in str(error) for name in ARGUMENT_NAMES), f"{call}: {error!r} names no argument"
        return error
    except BaseException as error:
        if isinstance(error, pytest.fail.Exception | KeyboardInterrupt):
            raise
        raise AssertionError(f"{call} raised {type(error).__name__}: {error!r}") from error
    seconds = time.monotonic() - started
    FIGURES.record(call, "returned", seconds)
    assert seconds < CALL_BOUND_SECONDS, f"{call} took {seconds:.1f} s"
    return result


def run_call(
    loop: LoopThread, call: str, make: Callable[[], Awaitable[T]], allowed: tuple[type[BaseException], ...]
) -> T | BaseException:
    async def awaited() -> T:
        return await make()

    return outcome_of(call, lambda: loop.run(awaited(), call), allowed)


# -- hostile values ------------------------------------------------------------------------------------

#: Any character, lone surrogates and NUL included.
any_character = st.characters(codec=None, categories=None, exclude_categories=())
hostile_texts = st.one_of(
    st.text(any_character, max_size=20),
    st.sampled_from(["", "\x00", "a\ud800b", "\udfff", "pikachu-1", "💥" * 3, " "]),
    st.sampled_from([1_000, 100_000]).map(lambda length: "a" * length),
)
hostile_ints = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.sampled_from([2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**70), 10**30]),
    st.integers(),
)
offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
)
edge_datetimes = st.sampled_from(
    [
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
        datetime.min.replace(tzinfo=UTC),
        datetime.max.replace(tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-23, minutes=-59))),
    ]
)
hostile_datetimes = st.one_of(
    edge_datetimes,
    st.datetimes(timezones=offsets),
    st.datetimes(),  # naive
)
#: Integers past 64 bits, up to more digits than Python converts to text by default (4,300): built by
#: `map`, since Hypothesis's description of a strategy would try to print them.
huge_ints = st.sampled_from([20, 400, 5_000]).map(lambda digits: 10**digits) | st.sampled_from([2**64, -(2**63) - 1])


def json_values_of(integers: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        integers,
        st.floats(),  # NaN, infinity, -0.0 and subnormals included
        st.sampled_from([1e20, 1e308, -0.0, 5e-324, 1.0, 0.1]),
        hostile_texts,
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_texts, children, max_size=4),
        max_leaves=12,
    )


#: Any JSON value, and values JSON cannot hold (NaN, infinity, integers too long to print).
json_values = json_values_of(huge_ints)
#: JSON values that `json.dumps` can write (the harness writes them as text).
printable_json_values = json_values_of(st.sampled_from([20, 400]).map(lambda digits: -(10**digits)))
not_json = st.sampled_from([b"bytes", {1, 2}, object(), datetime(2024, 1, 1), (1, 2), 1j, {"k": {1: 2}}])


@st.composite
def deep_values(draw: st.DrawFn, deepest: int = 5_000) -> Any:
    """Lists or objects nested deeper than the limits (built without recursion)."""
    levels = draw(st.sampled_from([level for level in (65, 201, 900, 5_000) if level <= deepest]))
    outer: Any = [] if draw(st.booleans()) else {}
    inner = outer
    for _ in range(levels):
        child: Any = []
        if isinstance(inner, list):
            inner.append(child)
        else:
            inner["k"] = child
        inner = child
    return outer


hostile_payloads = st.one_of(json_values, deep_values(), not_json, st.lists(not_json, max_size=2))


def canonical(data: bytes | str) -> str:
    """The JSON with its keys sorted: equal for equal JSON, and different when a number changes its type
    (1 and 1.0) or its sign (0.0 and -0.0)."""
    return json.dumps(json.loads(data), sort_keys=True, ensure_ascii=False, allow_nan=True)


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- the adapters ----------------------------------------------------------------------------------------

ADAPTERS = ["in_memory", "sqlite", "postgres"]


@dataclass
class Backend:
    """One storage adapter on a loop of its own, and how to reach its rows directly."""

    kind: str
    adapter: EventStorageAdapter
    loop: LoopThread
    sqlite_path: Path | None = None
    postgres: tuple[str, str] | None = None

    def clear(self) -> None:
        """Removes every stored event (cheaper than a new database for each case)."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as connection:
                connection.execute("DELETE FROM kastor_events")
            connection.close()
        elif self.postgres is not None:
            postgres_execute(self.postgres, "DELETE FROM {table}")
        else:
            self.adapter = InMemoryEventStorageAdapter()


def postgres_execute(where: tuple[str, str], sql: str, parameters: tuple[Any, ...] = ()) -> None:
    import psycopg

    url, schema = where
    with psycopg.connect(url, autocommit=True) as connection:
        # Strings are sent untyped, so the server reads each as the type of its column.
        connection.execute(sql.format(table=f'"{schema}".kastor_events'), parameters)  # type: ignore[arg-type]


@pytest.fixture(params=ADAPTERS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    loop = LoopThread()
    try:
        if request.param == "in_memory":
            yield Backend("in_memory", InMemoryEventStorageAdapter(), loop)
        elif request.param == "sqlite":
            path = tmp_path / "fuzz.sqlite3"
            sqlite = loop.run(_open_sqlite(path), "opening SQLite")
            yield Backend("sqlite", sqlite, loop, sqlite_path=path)
            loop.run(sqlite.close(), "closing SQLite")
        else:
            where: tuple[str, str] = request.getfixturevalue("postgres_schema_fixture")
            postgres = loop.run(_open_postgres(*where), "opening PostgreSQL")
            yield Backend("postgres", postgres, loop, postgres=where)
            loop.run(postgres.close(), "closing PostgreSQL")
    finally:
        loop.close()


async def _open_sqlite(path: Path) -> SQLiteEventStorageAdapter:
    adapter = SQLiteEventStorageAdapter(path)
    await adapter.get_events(_probe_context(), "probe", _all())  # creates the tables
    return adapter


async def _open_postgres(url: str, schema: str) -> PostgresEventStorageAdapter:
    adapter = PostgresEventStorageAdapter(url, schema=schema)
    await adapter.create_schema()
    return adapter


def _probe_context() -> Any:
    return pokemons_store()._context


def _all() -> Any:
    from pokedex.runtime.storage import EventsQuery

    return EventsQuery(None, None, False, None)


# -- pushes ----------------------------------------------------------------------------------------------

PUSH_ERRORS = (InvalidEventError, EventAlreadyExistsError)


@st.composite
def hostile_notes(draw: st.DrawFn) -> Noted:
    """A free-form event built without validation, as hostile code could: any id, version, timestamp and
    payload. Each field is hostile one time in three, so that many events are pushed and read back too."""

    def field(benign: Any, hostile: st.SearchStrategy[Any]) -> Any:
        return draw(hostile) if draw(st.integers(0, 2)) == 0 else benign

    return Noted.model_construct(
        aggregate_id=field("note-1", hostile_texts),
        version=field(1, st.one_of(hostile_ints, st.booleans())),
        payload=draw(hostile_payloads),
        timestamp=field(None, hostile_datetimes),
    )


def assert_stored_exactly(backend: Backend, store: EventStore[Any, Any, Any], pushed: Any) -> None:
    """The event reads back as it was pushed, JSON for JSON."""
    read = run_call(
        backend.loop,
        "get_events after a push",
        lambda: store.get_events(pushed.aggregate_id),
        (),
    )
    assert isinstance(read, list)
    stored = [event for event in read if event.version == pushed.version]
    assert len(stored) == 1, f"the pushed version {pushed.version} reads back {len(stored)} times"
    assert canonical(store.codec.to_json(stored[0])) == canonical(store.codec.to_json(pushed))


@pytest.mark.service
@pytest.mark.parametrize("backend", ADAPTERS, indirect=True)
def test_hostile_pushes_are_stored_exactly_or_refused(backend: Backend) -> None:
    @fuzz_settings(CASES["push"])
    @given(event=hostile_notes())
    def case(event: Noted) -> None:
        FIGURES.cases += 1
        backend.clear()  # Hypothesis replays a failing case: it must meet the same storage again
        store = notes_store(backend.adapter)
        result = run_call(backend.loop, "push_event", lambda: store.push_event(event), PUSH_ERRORS)
        if not isinstance(result, BaseException):
            assert_stored_exactly(backend, store, result.event)
        # The constructor that validates refuses with pydantic's error, nothing rawer.
        outcome_of(
            "Noted(...)",
            lambda: Noted(
                aggregate_id=event.aggregate_id,
                version=event.version,
                payload=event.payload,
                timestamp=event.timestamp,
            ),
            (ValidationError,),
        )

    case()


@pytest.mark.service
@pytest.mark.parametrize("backend", ADAPTERS, indirect=True)
def test_a_group_with_a_hostile_event_is_stored_whole_or_not_at_all(backend: Backend) -> None:
    @fuzz_settings(CASES["push"])
    @given(hostile=hostile_notes(), hostile_first=st.booleans())
    def case(hostile: Noted, hostile_first: bool) -> None:
        FIGURES.cases += 1
        backend.clear()
        notes = notes_store(backend.adapter)
        pokemons = pokemons_store(backend.adapter)
        friendly_id = unique_id("pikachu")
        grouped = [notes.group_event(hostile), pokemons.group_event(appeared(friendly_id))]
        if not hostile_first:
            grouped.reverse()
        result = run_call(backend.loop, "push_event_group", lambda: EventStore.push_event_group(*grouped), PUSH_ERRORS)
        friendly = run_call(backend.loop, "get_events", lambda: pokemons.get_events(friendly_id), ())
        assert isinstance(friendly, list)
        if isinstance(result, BaseException):
            assert friendly == [], f"a refused group stored part of itself: {friendly}"
        else:
            assert [event.version for event in friendly] == [1]
            pushed = next(pushed.event for pushed in result if isinstance(pushed.event, Noted))
            assert_stored_exactly(backend, notes, pushed)

    case()


# -- queries ---------------------------------------------------------------------------------------------

QUERY_ERRORS = (ValueError, EventDecodeError)


@st.composite
def page_tokens(draw: st.DrawFn, valid: list[str]) -> str:
    """Random text, base64 of random or deeply nested JSON, or a valid token altered."""
    kind = draw(st.sampled_from(["text", "json", "deep", "altered", "huge"]))
    if kind == "text":
        return draw(hostile_texts)
    if kind == "json":
        raw = json.dumps(draw(printable_json_values), allow_nan=True, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
        return base64.urlsafe_b64encode(raw).decode()
    if kind == "deep":
        return base64.urlsafe_b64encode(b"[" * draw(st.sampled_from([100, 5_000, 100_000]))).decode()
    if kind == "huge":
        return "A" * draw(st.sampled_from([13_000, 1_000_000]))
    token = draw(st.sampled_from(valid))
    at = draw(st.integers(0, len(token) - 1))
    return token[:at] + draw(st.sampled_from("A/+=-_\x00é")) + token[at + 1 :]


optional_ints = st.one_of(st.none(), hostile_ints)
optional_datetimes = st.one_of(st.none(), hostile_datetimes)


@pytest.mark.service
@pytest.mark.parametrize("backend", ADAPTERS, indirect=True)
def test_hostile_query_arguments_return_or_name_the_argument(backend: Backend) -> None:
    store = pokemons_store(backend.adapter)
    aggregate_ids = [f"query-{number}" for number in range(3)]
    for aggregate_id in aggregate_ids:
        for event in (appeared(aggregate_id), leveled_up(aggregate_id, version=2), caught(aggregate_id, version=3)):
            backend.loop.run(store.push_event(event), "setting up")
    listed = backend.loop.run(store.list_aggregate_ids(limit=1), "setting up")
    valid_tokens = [listed.next_page_token or ""]

    @fuzz_settings(CASES["query"])
    @given(
        aggregate_id=st.one_of(st.sampled_from(aggregate_ids), hostile_texts),
        min_version=optional_ints,
        max_version=optional_ints,
        limit=optional_ints,
        reverse=st.booleans(),
        page_token=st.one_of(st.none(), page_tokens(valid_tokens)),
        after=optional_datetimes,
        before=optional_datetimes,
    )
    def case(
        aggregate_id: str,
        min_version: int | None,
        max_version: int | None,
        limit: int | None,
        reverse: bool,
        page_token: str | None,
        after: datetime | None,
        before: datetime | None,
    ) -> None:
        FIGURES.cases += 1
        events = run_call(
            backend.loop,
            "get_events",
            lambda: store.get_events(
                aggregate_id, min_version=min_version, max_version=max_version, limit=limit, reverse=reverse
            ),
            QUERY_ERRORS,
        )
        if isinstance(events, list):
            versions = [event.version for event in events]
            assert versions == sorted(versions, reverse=reverse)
            assert all((min_version or 0) <= version <= (max_version or math.inf) for version in versions)
        run_call(
            backend.loop,
            "get_aggregate",
            lambda: store.get_aggregate(aggregate_id, max_version=max_version),
            QUERY_ERRORS,
        )
        run_call(
            backend.loop,
            "get_existing_aggregate",
            lambda: store.get_existing_aggregate(aggregate_id, max_version=max_version),
            (*QUERY_ERRORS, AggregateNotFoundError),
        )
        listed = run_call(
            backend.loop,
            "list_aggregate_ids",
            lambda: store.list_aggregate_ids(
                limit=limit, page_token=page_token, initial_event_after=after, initial_event_before=before
            ),
            QUERY_ERRORS,
        )
        if not isinstance(listed, BaseException) and listed.next_page_token is not None:
            run_call(
                backend.loop,
                "list_aggregate_ids (next page)",
                lambda: store.list_aggregate_ids(page_token=listed.next_page_token),
                (),
            )

    case()


# -- stored rows corrupted by hand -----------------------------------------------------------------------

COLUMNS = ("event_store_id", "aggregate_id", "version", "type", "timestamp", "payload", "metadata")
EVENT_TYPES = ("POKEMON_APPEARED", "POKEMON_LEVELED_UP", "POKEMON_CAUGHT", "POKEMON_EVOLVED", "", "NOTED")


def json_texts() -> st.SearchStrategy[str]:
    """JSON texts, valid or not, of any shape: what a payload or metadata column may hold."""
    return st.one_of(
        printable_json_values.map(lambda value: json.dumps(value, allow_nan=True)),
        st.sampled_from(['{"trainer_id": "ash"}', "{}", "null", "[]", '{"trainer_id": 151}', "{", "1e999"]),
        st.sampled_from([5_000, 100_000]).map(lambda size: "[" * size + "]" * size),
        st.sampled_from([100_000, 5_000_000]).map(lambda size: json.dumps({"trainer_id": "x" * size})),
    )


timestamp_texts = st.one_of(
    st.sampled_from(
        [
            "2024-05-01T12:00:00.000000+00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "yesterday",
            "2024-05-01T12:00:00",
            "infinity",
        ]
    ),
    hostile_texts,
)


@st.composite
def sqlite_values(draw: st.DrawFn, column: str) -> tuple[str, tuple[Any, ...]]:
    """An SQL expression and its parameters: a value of any storage class for `column`."""
    kind = draw(st.sampled_from(["null", "integer", "real", "text", "blob", "bad utf-8", "typed"]))
    if kind == "null":
        return "NULL", ()
    if kind == "integer":
        return "?", (draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)),)
    if kind == "real":
        return "?", (draw(st.floats()),)
    if kind == "blob":
        return "?", (draw(st.binary(max_size=12)),)
    if kind == "bad utf-8":
        return f"CAST(x'{draw(st.sampled_from(['7b22ff', 'ff', 'c3', '7b7d80']))}' AS TEXT)", ()
    if kind == "text":
        text = draw(hostile_texts).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return "?", (text,)
    typed = {
        "version": st.integers(-2, 6),
        "type": st.sampled_from(EVENT_TYPES),
        "timestamp": timestamp_texts.map(lambda text: text.encode("utf-8", "replace").decode("utf-8", "replace")),
        "payload": json_texts().map(lambda text: text.encode("utf-8", "replace").decode("utf-8", "replace")),
        "metadata": json_texts().map(lambda text: text.encode("utf-8", "replace").decode("utf-8", "replace")),
        "aggregate_id": st.sampled_from(["victim", "other", ""]),
        "event_store_id": st.sampled_from(["pokemons", "trainers", ""]),
    }[column]
    return "?", (draw(typed),)


@st.composite
def postgres_values(draw: st.DrawFn, column: str) -> tuple[Any, ...]:
    """A value that `column` of the PostgreSQL table takes (the server refuses the others)."""
    if column != "payload" and column != "metadata" and draw(st.integers(0, 5)) == 0:
        return (None,)
    typed = {
        "version": st.one_of(st.integers(-2, 6), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        "type": st.sampled_from(EVENT_TYPES),
        "timestamp": st.sampled_from(
            [
                "infinity",
                "-infinity",
                "0001-01-01 00:30:00+01",
                "9999-12-31 23:30-01",
                "294276-01-01 00:00+00",
                "2024-05-01 12:00+00",
            ]
        ),
        "payload": st.one_of(st.none(), json_texts()),
        "metadata": st.one_of(st.none(), json_texts()),
        "aggregate_id": st.sampled_from(["victim", "other", "", "a\u00e9"]),
        "event_store_id": st.sampled_from(["pokemons", "trainers", ""]),
    }[column]
    return (draw(typed),)


@st.composite
def corruptions(draw: st.DrawFn, backend_kind: str) -> list[tuple[str, tuple[Any, ...]]]:
    """One to three edits of the rows of aggregate `victim` (versions 1 to 3): SQL and parameters."""
    edits: list[tuple[str, tuple[Any, ...]]] = []
    for _ in range(draw(st.integers(1, 3))):
        version = draw(st.integers(1, 3))
        where = "event_store_id = 'pokemons' AND aggregate_id = 'victim' AND version = " + str(version)
        action = draw(st.sampled_from(["set", "set", "set", "delete"]))
        if action == "delete":
            edits.append((f"DELETE FROM {{table}} WHERE {where}", ()))
            continue
        column = draw(st.sampled_from(COLUMNS))
        if backend_kind == "sqlite":
            expression, parameters = draw(sqlite_values(column))
            edits.append((f"UPDATE {{table}} SET {column} = {expression} WHERE {where}", parameters))
        else:
            edits.append((f"UPDATE {{table}} SET {column} = %s WHERE {where}", draw(postgres_values(column))))
    return edits


def corrupt(backend: Backend, edits: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Applies the edits that the database takes (a constraint may refuse one: that edit is skipped)."""
    if backend.sqlite_path is not None:
        with sqlite3.connect(backend.sqlite_path) as connection:
            for sql, parameters in edits:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute(sql.format(table="kastor_events"), parameters)
        connection.close()
        return
    import psycopg

    assert backend.postgres is not None
    for sql, parameters in edits:
        with contextlib.suppress(psycopg.Error):
            postgres_execute(backend.postgres, sql, parameters)


def assert_a_history(events: list[Any], store: PokemonsEventStore) -> None:
    """Versions 1, 2, 3... with the store's initial event first, and only there."""
    assert [event.version for event in events] == list(range(1, len(events) + 1))
    assert all((event.type in store.initial_event_types) == (event.version == 1) for event in events)


@pytest.mark.service
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_corrupted_rows_read_as_a_history_or_a_decode_error(backend: Backend) -> None:
    store = pokemons_store(backend.adapter)

    @fuzz_settings(CASES["rows"])
    @given(edits=corruptions(backend.kind))
    def case(edits: list[tuple[str, tuple[Any, ...]]]) -> None:
        FIGURES.cases += 1
        backend.clear()
        for event in (appeared("victim"), leveled_up("victim", version=2), caught("victim", version=3)):
            backend.loop.run(store.push_event(event), "setting up")
        corrupt(backend, edits)
        events = run_call(
            backend.loop, "get_events (corrupted)", lambda: store.get_events("victim"), (EventDecodeError,)
        )
        if isinstance(events, list):
            assert_a_history(events, store)
        result = run_call(
            backend.loop, "get_aggregate (corrupted)", lambda: store.get_aggregate("victim"), (EventDecodeError,)
        )
        if not isinstance(result, BaseException):
            assert_a_history(result.events, store)
        listed = run_call(
            backend.loop, "list_aggregate_ids (corrupted)", lambda: store.list_aggregate_ids(), (EventDecodeError,)
        )
        if not isinstance(listed, BaseException):
            assert all(isinstance(entry.aggregate_id, str) for entry in listed.aggregate_ids)
            assert all(entry.initial_event_timestamp.tzinfo is not None for entry in listed.aggregate_ids)
        paged = run_call(
            backend.loop,
            "list_aggregate_ids(limit=1) (corrupted)",
            lambda: store.list_aggregate_ids(limit=1),
            (EventDecodeError,),
        )
        if not isinstance(paged, BaseException) and paged.next_page_token is not None:
            run_call(
                backend.loop,
                "list_aggregate_ids (corrupted, next page)",
                lambda: store.list_aggregate_ids(page_token=paged.next_page_token),
                (EventDecodeError,),
            )

    case()


# -- codecs ----------------------------------------------------------------------------------------------


def valid_event_bodies() -> list[dict[str, Any]]:
    stamp = datetime(2024, 5, 1, 12, tzinfo=UTC)
    events = [appeared("pikachu-1", timestamp=stamp, correlation_id="c-1"), caught(version=3, timestamp=stamp)]
    return [json.loads(POKEMONS_EVENT_CODEC.to_json(event)) for event in events]


def valid_message_bodies() -> list[dict[str, Any]]:
    stamp = datetime(2024, 5, 1, 12, tzinfo=UTC)
    event: PokemonAppeared = appeared("pikachu-1", timestamp=stamp)
    messages: list[Any] = [
        NotificationMessage("pokemons", event),
        StateCarryingMessage("pokemons", event, pokemon("pikachu-1")),
        AggregateExistsMessage("pokemons", "pikachu-1", stamp),
    ]
    return [json.loads(MESSAGE_CODEC.to_json(message)) for message in messages]


@st.composite
def altered(draw: st.DrawFn, bodies: list[dict[str, Any]]) -> Any:
    """A valid body with up to three values replaced by hostile JSON, keys removed or added."""
    body = json.loads(json.dumps(draw(st.sampled_from(bodies))))
    for _ in range(draw(st.integers(0, 3))):
        holders: list[Any] = []
        pending = [body]
        while pending:
            node = pending.pop()
            if isinstance(node, dict | list) and node:
                holders.append(node)
                pending.extend(node.values() if isinstance(node, dict) else node)
        if not holders:
            break
        holder = draw(st.sampled_from(holders))
        key: Any = draw(st.sampled_from(list(holder) if isinstance(holder, dict) else range(len(holder))))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            # Deep enough for every limit, shallow enough for json.dumps to write it.
            holder[key] = draw(st.one_of(printable_json_values, deep_values(deepest=900)))
        elif action == "delete":
            del holder[key]
        elif isinstance(holder, dict):
            holder[draw(hostile_texts)] = draw(printable_json_values)
        else:
            holder.append(draw(printable_json_values))
    return body


def hostile_documents(bodies: list[dict[str, Any]]) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        altered(bodies).map(lambda body: json.dumps(body, allow_nan=True, ensure_ascii=False)),
        altered(bodies).map(lambda body: json.dumps(body, allow_nan=True).encode()),
        st.binary(max_size=64),
        st.text(any_character, max_size=64),
        st.sampled_from(['"\\ud800"', "\ufeff{}", "[]", "null", '{"kind": "notification"}']),
        st.sampled_from(["[", '{"kind": ', "1", "[" * 10 + "]" * 9]).map(lambda unit: unit * 50_000),
    )


@given(data=hostile_documents(valid_event_bodies()))
@fuzz_settings(CASES["codec"])
def test_hostile_event_json_decodes_exactly_or_is_a_decode_error(data: str | bytes) -> None:
    FIGURES.cases += 1
    decoded = outcome_of("EventCodec.from_json", lambda: POKEMONS_EVENT_CODEC.from_json(data), (EventDecodeError,))
    if isinstance(decoded, BaseException):
        return
    written = outcome_of("EventCodec.to_json", lambda: POKEMONS_EVENT_CODEC.to_json(decoded), ())
    assert isinstance(written, bytes)
    assert canonical(written) == canonical(data), "decoding and encoding changed the event"
    assert POKEMONS_EVENT_CODEC.from_json(written) == decoded


@given(data=hostile_documents(valid_message_bodies()))
@fuzz_settings(CASES["codec"])
def test_hostile_message_bodies_decode_exactly_or_are_a_decode_error(data: str | bytes) -> None:
    FIGURES.cases += 1
    decoded = outcome_of("MessageCodec.from_json", lambda: MESSAGE_CODEC.from_json(data), (MessageDecodeError,))
    if isinstance(decoded, BaseException):
        return
    written = outcome_of("MessageCodec.to_json", lambda: MESSAGE_CODEC.to_json(decoded), ())
    assert isinstance(written, bytes)
    assert MESSAGE_CODEC.from_json(written) == decoded, "encoding and decoding again changed the message"
    if isinstance(decoded, StateCarryingMessage):
        # The aggregate is state the reader may complete with its defaults; the event is exactly as sent.
        assert canonical(json.dumps(json.loads(written)["event"])) == canonical(json.dumps(json.loads(data)["event"]))
        assert (decoded.aggregate.aggregate_id, decoded.aggregate.version) == (
            decoded.event.aggregate_id,
            decoded.event.version,
        )
    else:
        assert canonical(written) == canonical(data), "decoding and encoding changed the message"
