"""Anchor: the floor under any event store in Python, with no library at all: raw `sqlite3` and a plain fold.

- `raw_sqlite_inserts`: one event per transaction into a SQLite file, configured as Kastor's SQLite adapter
  configures its own (WAL journal, the default `synchronous`, a 30 s busy timeout, explicit
  `BEGIN IMMEDIATE` ... `COMMIT` on a connection that never commits by itself). Every row carries a small
  JSON payload (an appeared event's: name, level, type) and a timestamp, both encoded as the row is
  inserted, as any writer has to; nothing else is done (no validation, no previous-version check).
  Kastor's pushes on SQLite pay for the same transactions and disk syncs, so the ratio is the cost of
  everything Kastor adds around them.
- `plain_fold`: rebuilding one pokemon from its stream (one appeared event, then level-ups) with `json.loads`
  and a fold of plain dicts: no validation, no model classes. "memory": each event is one JSON text in a
  list, decoded whole; "sqlite": each event is a row of a SQLite file (columns, and the payload as JSON text,
  NULL for a level-up as in Kastor's table) read with one `SELECT`. It is the least work that reading the
  same events can take in Python, against which Kastor's decoding into typed events and its reducer are
  measured.

Each run starts from a new file (or list), times only its workload, checks its result and removes its file.
"""

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from benchmarks.harness import Run

INITIAL_LEVEL = 5

#: `raw_sqlite_inserts` spreads its events over this many aggregates, in turn.
AGGREGATES = 100

#: The busy timeout of Kastor's SQLite adapter, in milliseconds.
BUSY_TIMEOUT_MS = 30_000

_TABLE = """CREATE TABLE events (
    aggregate_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload TEXT,
    timestamp TEXT NOT NULL,
    UNIQUE (aggregate_id, version)
)"""

_INSERT = "INSERT INTO events (aggregate_id, version, type, payload, timestamp) VALUES (?, ?, ?, ?, ?)"

_SELECT = "SELECT aggregate_id, version, type, payload, timestamp FROM events WHERE aggregate_id = ? ORDER BY version"

Event = dict[str, Any]
State = dict[str, Any]


def raw_sqlite_inserts(*, events: int, workdir: Path) -> Run:
    """`events` inserts, one transaction each, round robin over 100 aggregates (versions 1, 2, ... of each);
    `events` operations."""

    def run() -> float:
        with _database(workdir) as connection:
            start = time.perf_counter()
            for index in range(events):
                number, version = index % AGGREGATES, index // AGGREGATES + 1
                payload = {
                    "name": f"Pokemon {number}",
                    "level": INITIAL_LEVEL + version - 1,
                    "pokemon_type": "electric",
                }
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    _INSERT,
                    (
                        f"pokemon-{number}",
                        version,
                        "POKEMON_APPEARED" if version == 1 else "POKEMON_LEVELED_UP",
                        json.dumps(payload, separators=(",", ":")),
                        datetime.now(UTC).isoformat(),
                    ),
                )
                connection.execute("COMMIT")
            elapsed = time.perf_counter() - start
            (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
            if count != events:
                raise AssertionError(f"raw SQLite inserts: {count} rows stored, expected {events}")
        return elapsed

    return run


def plain_fold(source: Literal["memory", "sqlite"], *, stream_length: int, loads: int, workdir: Path) -> Run:
    """`loads` times: read one pokemon's `stream_length` JSON events, decode and fold them; `loads` operations."""
    if loads < 1:
        raise ValueError("plain_fold needs at least one load")
    aggregate_id = "pikachu-1"
    expected = (INITIAL_LEVEL + stream_length - 1, stream_length)

    def run() -> float:
        stream = _stream(aggregate_id, stream_length)
        if source == "memory":
            texts = [json.dumps(event, separators=(",", ":")) for event in stream]
            start = time.perf_counter()
            for _ in range(loads):
                state = fold(json.loads(text) for text in texts)
            elapsed = time.perf_counter() - start
        else:
            with _database(workdir) as connection:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(_INSERT, (_row(event) for event in stream))
                connection.execute("COMMIT")
                start = time.perf_counter()
                for _ in range(loads):
                    rows = connection.execute(_SELECT, (aggregate_id,)).fetchall()
                    state = fold(_event(row) for row in rows)
                elapsed = time.perf_counter() - start
        found = None if state is None else (state["level"], state["version"])
        if found != expected:
            raise AssertionError(f"plain fold from {source}: (level, version) {found}, expected {expected}")
        return elapsed

    return run


def fold(events: Iterable[Event]) -> State | None:
    """The pokemon the events make (None before its first event), as a new dict after each event."""
    state: State | None = None
    for event in events:
        match event["type"]:
            case "POKEMON_APPEARED":
                payload = event["payload"]
                state = {
                    "aggregate_id": event["aggregate_id"],
                    "version": event["version"],
                    "name": payload["name"],
                    "level": payload["level"],
                    "pokemon_type": payload["pokemon_type"],
                    "trainer_id": None,
                }
            case "POKEMON_LEVELED_UP":
                if state is None:
                    raise ValueError(f"{event['aggregate_id']} v{event['version']}: leveled up before appearing")
                state = {**state, "level": state["level"] + 1, "version": event["version"]}
            case other:
                raise ValueError(f"unknown event type {other!r}")
    return state


def _stream(aggregate_id: str, length: int) -> list[Event]:
    """One appeared event then level-ups: `length` events in all, as Kastor's benchmarks store them."""
    timestamp = datetime.now(UTC).isoformat()
    appeared: Event = {
        "aggregate_id": aggregate_id,
        "version": 1,
        "type": "POKEMON_APPEARED",
        "timestamp": timestamp,
        "payload": {"name": "Pikachu", "level": INITIAL_LEVEL, "pokemon_type": "electric"},
    }
    leveled_up: list[Event] = [
        {"aggregate_id": aggregate_id, "version": version, "type": "POKEMON_LEVELED_UP", "timestamp": timestamp}
        for version in range(2, length + 1)
    ]
    return [appeared, *leveled_up]


def _row(event: Event) -> tuple[str, int, str, str | None, str]:
    payload = event.get("payload")
    return (
        event["aggregate_id"],
        event["version"],
        event["type"],
        None if payload is None else json.dumps(payload, separators=(",", ":")),
        event["timestamp"],
    )


def _event(row: tuple[str, int, str, str | None, str]) -> Event:
    aggregate_id, version, type_, payload, timestamp = row
    event: Event = {"aggregate_id": aggregate_id, "version": version, "type": type_, "timestamp": timestamp}
    if payload is not None:  # a leveled-up event has no payload: NULL, as in Kastor's SQLite table
        event["payload"] = json.loads(payload)
    return event


@contextmanager
def _database(workdir: Path) -> Iterator[sqlite3.Connection]:
    """A new SQLite file with the events table, set up like Kastor's adapter; deleted afterwards."""
    path = workdir / f"raw-{uuid.uuid4().hex[:12]}.sqlite3"
    # isolation_level=None: the sqlite3 module never opens or commits transactions by itself; the runs do.
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")  # `synchronous` stays the default, as in Kastor's adapter
        connection.execute(_TABLE)
        yield connection
    finally:
        connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
