"""Anchor: the same pokedex workloads written with the `eventsourcing` library (9.5), at its application level.

`Pokedex` is an `eventsourcing.application.Application` and `Pokemon` an `eventsourcing.domain.Aggregate` whose
`@event` methods mirror Kastor's pokedex events: `Appeared` (name, level, pokemon_type) and `LeveledUp` (no
payload, level + 1). Persistence is POPO (in memory), SQLite (a file, WAL) or PostgreSQL (a schema of its own),
chosen by the application's environment only: the process environment is ignored, so no stray variable turns
on snapshots or the aggregate cache.

What is measured, and why it compares fairly with Kastor's event store on the same storage:

- `push_with_load`: the command cycle, `repository.get` + `level_up` + `save`, one transaction per event, as
  Kastor's get_aggregate + push_event. Both rebuild the aggregate from all its events on each get.
- `get_aggregate`: `repository.get` of one long stream, replaying every event (no snapshot, no cache).
- `concurrent_writers_postgres`: threads sharing one application and one connection pool, each writing its own
  aggregate; eventsourcing locks its events table for every insert (to number notifications in order), so
  this shows how its writers serialise.

Each run starts from fresh storage, times only its workload, checks the final levels and removes what it made.
"""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import Environment, EnvType

from benchmarks.harness import Run

Persistence = Literal["popo", "sqlite", "postgres"]

INITIAL_LEVEL = 5

#: Setup saves long streams in batches of this many events (one insert of many rows each).
SETUP_BATCH = 1_000


class Pokemon(Aggregate):
    """Kastor's pokedex Pokemon: created by `Appeared`, `LeveledUp` adds one level."""

    @event("Appeared")
    def __init__(self, name: str, level: int, pokemon_type: str) -> None:
        self.name = name
        self.level = level
        self.pokemon_type = pokemon_type
        self.trainer_id: str | None = None

    @event("LeveledUp")
    def level_up(self) -> None:
        self.level += 1


class Pokedex(Application[UUID]):
    """The application: its repository has no aggregate cache (`AGGREGATE_CACHE_MAXSIZE` unset, the default) and
    it takes no snapshots, so every `repository.get` replays the aggregate's whole stream."""

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Only the environment given to the constructor: the process environment is ignored.
        return Environment(name, dict(env or {}))


def push_with_load(
    persistence: Persistence, *, aggregates: int, rounds: int, workdir: Path, postgres_url: str | None = None
) -> Run:
    """`rounds` rounds of get + level_up + save on each of `aggregates` pokemons; aggregates * rounds operations."""

    def run() -> float:
        with _pokedex(persistence, workdir, postgres_url) as app:
            ids = [_create(app, index) for index in range(aggregates)]
            start = time.perf_counter()
            for _ in range(rounds):
                for pokemon_id in ids:
                    pokemon: Pokemon = app.repository.get(pokemon_id)
                    pokemon.level_up()
                    app.save(pokemon)
            elapsed = time.perf_counter() - start
            for pokemon_id in ids:
                _check(app, pokemon_id, level=INITIAL_LEVEL + rounds, version=1 + rounds)
        return elapsed

    return run


def get_aggregate(
    persistence: Persistence, *, stream_length: int, loads: int, workdir: Path, postgres_url: str | None = None
) -> Run:
    """`loads` times `repository.get` of one pokemon of `stream_length` events; `loads` operations."""
    if loads < 1:
        raise ValueError("get_aggregate needs at least one load")

    def run() -> float:
        with _pokedex(persistence, workdir, postgres_url) as app:
            pokemon = Pokemon("Pikachu", INITIAL_LEVEL, "electric")
            for version in range(2, stream_length + 1):
                pokemon.level_up()
                if version % SETUP_BATCH == 0:
                    app.save(pokemon)
            app.save(pokemon)
            start = time.perf_counter()
            for _ in range(loads):
                loaded: Pokemon = app.repository.get(pokemon.id)
            elapsed = time.perf_counter() - start
            _verify(loaded, level=INITIAL_LEVEL + stream_length - 1, version=stream_length)
        return elapsed

    return run


def concurrent_writers_postgres(*, writers: int, events_per_writer: int, postgres_url: str) -> Run:
    """`writers` threads on one application, each doing `events_per_writer` get + level_up + save on its own
    pokemon; the seconds from their common start to the last one's end; writers * events_per_writer operations."""

    def run() -> float:
        with _pokedex("postgres", None, postgres_url, pool_size=writers) as app:
            ids = [_create(app, index) for index in range(writers)]
            ready = threading.Barrier(writers + 1)
            errors: list[BaseException] = []

            def write(pokemon_id: UUID) -> None:
                try:
                    app.repository.get(pokemon_id)  # untimed: makes the pool open this thread's connection
                    ready.wait()
                    for _ in range(events_per_writer):
                        pokemon: Pokemon = app.repository.get(pokemon_id)
                        pokemon.level_up()
                        app.save(pokemon)
                except threading.BrokenBarrierError:
                    pass  # another writer failed before the start: its error is reported
                except BaseException as error:
                    errors.append(error)
                    ready.abort()

            threads = [threading.Thread(target=write, args=(pokemon_id,)) for pokemon_id in ids]
            for thread in threads:
                thread.start()
            with suppress(threading.BrokenBarrierError):  # a writer failed: its error is raised below
                ready.wait()
            start = time.perf_counter()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
            if errors:
                raise AssertionError(f"{len(errors)} of {writers} writers failed; the first: {errors[0]!r}")
            for pokemon_id in ids:
                _check(app, pokemon_id, level=INITIAL_LEVEL + events_per_writer, version=1 + events_per_writer)
        return elapsed

    return run


def _create(app: Pokedex, index: int) -> UUID:
    pokemon = Pokemon(f"Pokemon {index}", INITIAL_LEVEL, "electric")
    app.save(pokemon)
    return pokemon.id


def _check(app: Pokedex, pokemon_id: UUID, *, level: int, version: int) -> None:
    pokemon: Pokemon = app.repository.get(pokemon_id)
    _verify(pokemon, level=level, version=version)


def _verify(pokemon: Pokemon, *, level: int, version: int) -> None:
    if (pokemon.level, pokemon.version) != (level, version):
        raise AssertionError(
            f"eventsourcing pokemon {pokemon.id}: level {pokemon.level} at version {pokemon.version}, "
            f"expected level {level} at version {version}"
        )


@contextmanager
def _pokedex(
    persistence: Persistence, workdir: Path | None, postgres_url: str | None, *, pool_size: int | None = None
) -> Iterator[Pokedex]:
    """A fresh application on fresh storage, closed and its storage removed afterwards."""
    if persistence == "popo":
        app = Pokedex(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        try:
            yield app
        finally:
            app.close()
    elif persistence == "sqlite":
        if workdir is None:
            raise ValueError("SQLite persistence needs a workdir")
        path = workdir / f"eventsourcing-{uuid.uuid4().hex[:12]}.sqlite3"
        app = Pokedex(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
        try:
            yield app
        finally:
            app.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        if postgres_url is None:
            raise ValueError("PostgreSQL persistence needs a postgres_url")
        schema = f"eventsourcing_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        try:
            app = Pokedex(env=_postgres_env(postgres_url, schema, pool_size))
            try:
                yield app
            finally:
                app.close()
        finally:
            with psycopg.connect(postgres_url, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _postgres_env(url: str, schema: str, pool_size: int | None) -> dict[str, str]:
    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
    }
    if pool_size is not None:
        # One connection per writer, none waiting: the pool is never what the writers queue on.
        env["POSTGRES_POOL_SIZE"] = str(pool_size)
        env["POSTGRES_MAX_OVERFLOW"] = "0"
    return env
