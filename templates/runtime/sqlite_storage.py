"""Event storage in SQLite, the embedded default: one file (or `:memory:`), no server.

One table holds the events of every store, keyed by (store id, aggregate id, version). The database
runs in WAL mode so readers never block the writer; each write is one `BEGIN IMMEDIATE` transaction, so
several processes may write the same file: SQLite serialises them and the key refuses duplicates.
Each adapter owns one connection, used from one worker thread so the event loop never blocks on disk.
"""

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from os import PathLike
from typing import Any, TypeVar

from .errors import EventAlreadyExistsError, EventStorageError
from .events import Event
from .storage import (
    AggregateIdEntry,
    AggregateIdsQuery,
    EventsQuery,
    EventStorageAdapter,
    StorageContext,
    missing_previous_version,
)

EventT = TypeVar("EventT", bound=Event)
ResultT = TypeVar("ResultT")

TABLE = "kastor_events"

_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        event_store_id TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        payload TEXT,
        metadata TEXT,
        PRIMARY KEY (event_store_id, aggregate_id, version)
    ) WITHOUT ROWID""",
    # list_aggregate_ids reads initial events only, in timestamp order.
    f"""CREATE INDEX IF NOT EXISTS {TABLE}_initial
        ON {TABLE} (event_store_id, timestamp, aggregate_id) WHERE version = 1""",
)

#: How long a writer waits for another process's transaction before giving up, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


class SQLiteEventStorageAdapter(EventStorageAdapter):
    """Stores events in the SQLite database at `path` (created with its table on first use)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kastor-sqlite")

    def __repr__(self) -> str:
        return f"SQLiteEventStorageAdapter({self.path!r})"

    async def __aenter__(self) -> "SQLiteEventStorageAdapter":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connection; the adapter opens a new one if used again."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)

    async def push_events(
        self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool = False
    ) -> None:
        rows = [_row(context, event) for context, event in events]
        await self._run(lambda connection: _insert(connection, events, rows, force=force))

    async def get_events(
        self, context: StorageContext[EventT], aggregate_id: str, query: EventsQuery
    ) -> list[EventT]:
        sql = (
            f"SELECT version, type, timestamp, payload, metadata FROM {TABLE} "
            "WHERE event_store_id = ? AND aggregate_id = ?"
        )
        parameters: list[Any] = [context.event_store_id, aggregate_id]
        if query.min_version is not None:
            sql += " AND version >= ?"
            parameters.append(query.min_version)
        if query.max_version is not None:
            sql += " AND version <= ?"
            parameters.append(query.max_version)
        sql += " ORDER BY version DESC" if query.reverse else " ORDER BY version"
        if query.limit is not None:
            sql += " LIMIT ?"
            parameters.append(query.limit)
        rows = await self._run(lambda connection: connection.execute(sql, parameters).fetchall())
        quoted_id = json.dumps(aggregate_id)
        return [
            context.codec.from_json(_event_json(quoted_id, *row), aggregate_id=aggregate_id, version=row[0])
            for row in rows
        ]

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        sql = f"SELECT aggregate_id, timestamp FROM {TABLE} WHERE event_store_id = ? AND version = 1"
        parameters: list[Any] = [context.event_store_id]
        if query.initial_event_after is not None:
            sql += " AND timestamp >= ?"
            parameters.append(_text(query.initial_event_after))
        if query.initial_event_before is not None:
            sql += " AND timestamp <= ?"
            parameters.append(_text(query.initial_event_before))
        if query.start_after is not None:
            sql += (
                " AND (timestamp, aggregate_id) < (?, ?)"
                if query.reverse
                else " AND (timestamp, aggregate_id) > (?, ?)"
            )
            parameters.extend(
                (_text(query.start_after.initial_event_timestamp), query.start_after.aggregate_id)
            )
        sql += (
            " ORDER BY timestamp DESC, aggregate_id DESC"
            if query.reverse
            else " ORDER BY timestamp, aggregate_id"
        )
        if query.limit is not None:
            sql += " LIMIT ?"
            parameters.append(query.limit)
        rows = await self._run(lambda connection: connection.execute(sql, parameters).fetchall())
        return [
            AggregateIdEntry(aggregate_id, datetime.fromisoformat(timestamp))
            for aggregate_id, timestamp in rows
        ]

    async def _run(self, work: Callable[[sqlite3.Connection], ResultT]) -> ResultT:
        def in_worker() -> ResultT:
            try:
                return work(self._connect())
            except sqlite3.Error as error:
                raise EventStorageError(f"SQLite database {self.path}: {error}") from error

        return await asyncio.get_running_loop().run_in_executor(self._executor, in_worker)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                _enable_wal(connection)
                connection.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _enable_wal(connection: sqlite3.Connection) -> None:
    # Switching a new file to WAL takes a lock for which SQLite reports "busy" at once instead of calling
    # the busy handler, so processes opening one fresh file together wait for each other here.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


_Row = tuple[str, str, int, str, str, str | None, str | None]


def _row(context: StorageContext[Any], event: Event) -> _Row:
    fields = context.codec.to_dict(event)
    payload = fields.get("payload")
    metadata = fields.get("metadata")
    if event.timestamp is None:  # the store sets timestamps before pushing
        raise AssertionError(f"event {event.aggregate_id} v{event.version} has no timestamp")
    return (
        context.event_store_id,
        event.aggregate_id,
        event.version,
        event.type,
        _text(event.timestamp),
        None if "payload" not in fields else json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        None if "metadata" not in fields else json.dumps(metadata, separators=(",", ":"), ensure_ascii=False),
    )


def _insert(
    connection: sqlite3.Connection,
    events: Sequence[tuple[StorageContext[Any], Event]],
    rows: list[_Row],
    *,
    force: bool,
) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for (context, event), row in zip(events, rows, strict=True):
            if event.version > 1 and not _exists(
                connection, context.event_store_id, event.aggregate_id, event.version - 1
            ):
                raise missing_previous_version(context, event)
            try:
                verb = "INSERT OR REPLACE" if force else "INSERT"
                connection.execute(f"{verb} INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError as error:
                raise EventAlreadyExistsError(
                    event_store_id=context.event_store_id,
                    aggregate_id=event.aggregate_id,
                    version=event.version,
                ) from error
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _exists(connection: sqlite3.Connection, event_store_id: str, aggregate_id: str, version: int) -> bool:
    found = connection.execute(
        f"SELECT 1 FROM {TABLE} WHERE event_store_id = ? AND aggregate_id = ? AND version = ?",
        (event_store_id, aggregate_id, version),
    ).fetchone()
    return found is not None


def _text(timestamp: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that text order is time order and microseconds survive."""
    return timestamp.astimezone(UTC).isoformat(timespec="microseconds")


def _event_json(
    quoted_aggregate_id: str,
    version: int,
    event_type: str,
    timestamp: str,
    payload: str | None,
    metadata: str | None,
) -> str:
    # The stored columns are already JSON, so the event is assembled as text and validated in one pass.
    parts = [
        f'{{"aggregate_id":{quoted_aggregate_id},"version":{version},"type":{json.dumps(event_type)},'
        f'"timestamp":{json.dumps(timestamp)}'
    ]
    if payload is not None:
        parts.append(f',"payload":{payload}')
    if metadata is not None:
        parts.append(f',"metadata":{metadata}')
    parts.append("}")
    return "".join(parts)
