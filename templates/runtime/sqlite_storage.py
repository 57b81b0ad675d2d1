"""Event storage in SQLite, the embedded default: one file (or `:memory:`), no server.

One table holds the events of every store, keyed by (store id, aggregate id, version). The database
runs in WAL mode so readers never block the writer; each write is one `BEGIN IMMEDIATE` transaction, so
several processes may write the same file: SQLite serialises them and the key refuses duplicates.
Each adapter owns one connection, used from one worker thread so the event loop never blocks on disk.
"""

import asyncio
import contextlib
import functools
import json
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from os import PathLike
from typing import Any, TypeVar

from .errors import EventAlreadyExistsError, EventDecodeError, EventStorageError
from .events import Event
from .outbox import OutboxMessage, PendingOutboxMessage
from .storage import (
    AggregateIdEntry,
    AggregateIdsQuery,
    EventsQuery,
    EventStorageAdapter,
    StorageContext,
    aggregate_ids_query_sql,
    check_aggregate_ids_query,
    check_events_query,
    check_events_to_push,
    events_query_sql,
    missing_previous_version,
    stored_event_json,
    timestamp_text,
)
from .timestamps import to_utc

EventT = TypeVar("EventT", bound=Event)
ResultT = TypeVar("ResultT")

TABLE = "kastor_events"
OUTBOX_TABLE = "kastor_outbox"

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
    # The transactional outbox (see outbox.py): messages stored with their events, until a relay publishes them.
    f"""CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_channel_id TEXT NOT NULL,
        event_store_id TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        claimed_until TEXT,
        retry_at TEXT,
        last_error TEXT
    )""",
    f"""CREATE INDEX IF NOT EXISTS {OUTBOX_TABLE}_pending
        ON {OUTBOX_TABLE} (message_channel_id, event_store_id, aggregate_id, version) WHERE done = 0""",
    # list_aggregate_ids reads initial events only, in timestamp order.
    f"""CREATE INDEX IF NOT EXISTS {TABLE}_initial
        ON {TABLE} (event_store_id, timestamp, aggregate_id) WHERE version = 1""",
)

#: How long a writer waits for another process's transaction before giving up, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


class SQLiteEventStorageAdapter(EventStorageAdapter):
    """Stores events in the SQLite database at `path` (created with its table on first use).

    By default the connection lives on a thread of its own, so the event loop runs other tasks while a
    commit waits for the disk. `threaded=False` runs SQLite in the caller's thread instead: each call
    saves the hand-over to that thread and back (tens of microseconds), but blocks the event loop for
    its whole duration, a commit's wait for the disk included, and up to BUSY_TIMEOUT_MS while another
    process holds the write lock. That suits scripts, command-line tools and tests, where nothing else
    waits for the loop.
    """

    def __init__(self, path: str | PathLike[str], *, threaded: bool = True) -> None:
        self.path = str(path)
        self.threaded = threaded
        self._connection: sqlite3.Connection | None = None
        self._worker: _Worker | _InCallerThread = _Worker() if threaded else _InCallerThread()
        # An adapter dropped without close() still stops its thread.
        weakref.finalize(self, self._worker.stop)

    def __repr__(self) -> str:
        threaded = "" if self.threaded else ", threaded=False"
        return f"SQLiteEventStorageAdapter({self.path!r}{threaded})"

    async def __aenter__(self) -> "SQLiteEventStorageAdapter":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connection; the adapter opens a new one if used again."""
        await self._worker.run(self._close)
        self._worker.stop()

    async def push_events(
        self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool = False
    ) -> None:
        await self.push_events_with_outbox(events, (), force=force)

    async def push_events_with_outbox(
        self,
        events: Sequence[tuple[StorageContext[Any], Event]],
        outbox: Sequence[OutboxMessage],
        *,
        force: bool = False,
    ) -> None:
        check_events_to_push(events)
        rows = [_row(context, event) for context, event in events]
        await self._run(lambda connection: _insert(connection, events, rows, outbox, force=force))

    async def claim_outbox_messages(
        self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingOutboxMessage]:
        return await self._run(
            lambda connection: _claim(
                connection, relay_id, limit, timestamp_text(now), timestamp_text(now + lease)
            )
        )

    async def complete_outbox_message(self, message_id: int, *, relay_id: str) -> None:
        sql = f"UPDATE {OUTBOX_TABLE} SET done = 1 WHERE id = ? AND claimed_by = ?"
        await self._run(lambda connection: connection.execute(sql, (message_id, relay_id)))

    async def fail_outbox_message(
        self, message_id: int, *, relay_id: str, retry_at: datetime, error: str
    ) -> None:
        sql = (
            f"UPDATE {OUTBOX_TABLE} SET attempts = attempts + 1, retry_at = ?, last_error = ?, claimed_by = NULL, "
            "claimed_until = NULL WHERE id = ? AND claimed_by = ?"
        )
        await self._run(
            lambda connection: connection.execute(
                sql, (timestamp_text(retry_at), error, message_id, relay_id)
            )
        )

    async def count_pending_outbox_messages(self) -> int:
        sql = f"SELECT count(*) FROM {OUTBOX_TABLE} WHERE done = 0"
        count: int = await self._run(lambda connection: connection.execute(sql).fetchone()[0])
        return count

    async def get_events(
        self, context: StorageContext[EventT], aggregate_id: str, query: EventsQuery
    ) -> list[EventT]:
        check_events_query(context, aggregate_id, query)
        sql = (
            f"SELECT version, type, timestamp, payload, metadata FROM {TABLE} "
            "WHERE event_store_id = ? AND aggregate_id = ?"
        )
        refinements, refinement_parameters = events_query_sql(query, "?")
        sql += refinements
        parameters = [context.event_store_id, aggregate_id, *refinement_parameters]
        rows = await self._run(lambda connection: _fetch_all(connection, sql, parameters))
        quoted_id = json.dumps(aggregate_id)
        return [_decode(context, aggregate_id, quoted_id, row) for row in rows]

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        check_aggregate_ids_query(context, query)
        sql = f"SELECT aggregate_id, timestamp FROM {TABLE} WHERE event_store_id = ? AND version = 1"
        refinements, refinement_parameters = aggregate_ids_query_sql(query, "?", timestamp_text)
        sql += refinements
        parameters = [context.event_store_id, *refinement_parameters]
        rows = await self._run(lambda connection: _fetch_all(connection, sql, parameters))
        return [_entry(context, aggregate_id, timestamp) for aggregate_id, timestamp in rows]

    async def _run(self, work: Callable[[sqlite3.Connection], ResultT]) -> ResultT:
        def in_worker() -> ResultT:
            try:
                return work(self._connect())
            except sqlite3.Error as error:
                raise EventStorageError(f"SQLite database {self.path}: {error}") from error

        return await self._worker.run(in_worker)

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


class _Worker:
    """The thread that owns the connection: it runs one piece of work at a time, in submission order.

    A thread of its own rather than a one-thread executor: handing work over and back costs about half as
    much, and every read and write of the adapter pays it once.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def run(self, work: Callable[[], ResultT]) -> ResultT:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not future.done():  # the awaiting task may have been cancelled
                outcome()

        def in_thread() -> None:
            outcome: Callable[[], None]
            try:
                outcome = functools.partial(future.set_result, work())
            except BaseException as error:
                outcome = functools.partial(future.set_exception, error)
            # A closed event loop refuses the call: nobody awaits the outcome any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, outcome)

        self._start()
        self._queue.put(in_thread)
        return await future

    def stop(self) -> None:
        """Lets the thread finish the work already submitted, then end (a later `run` starts another)."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_serve, args=(self._queue,), name="kastor-sqlite", daemon=True
                )
                self._thread.start()


class _InCallerThread:
    """Runs the work at once, in the calling thread (`threaded=False`)."""

    async def run(self, work: Callable[[], ResultT]) -> ResultT:
        return work()

    def stop(self) -> None:
        """Nothing to stop."""


def _serve(work_queue: "queue.SimpleQueue[Callable[[], None] | None]") -> None:
    while True:
        work = work_queue.get()
        if work is None:
            return
        work()
        # Its closure holds the adapter: kept while waiting, it would keep a dropped adapter alive.
        del work


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
        timestamp_text(event.timestamp),
        None if "payload" not in fields else json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        None if "metadata" not in fields else json.dumps(metadata, separators=(",", ":"), ensure_ascii=False),
    )


def _insert(
    connection: sqlite3.Connection,
    events: Sequence[tuple[StorageContext[Any], Event]],
    rows: list[_Row],
    outbox: Sequence[OutboxMessage],
    *,
    force: bool,
) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for (context, event), row in zip(events, rows, strict=True):
            try:
                # One statement both checks that the previous version is stored and inserts.
                inserted = connection.execute(
                    _INSERT_OR_REPLACE if force else _INSERT, (*row, event.version - 1)
                )
            except sqlite3.IntegrityError as error:
                raise EventAlreadyExistsError(
                    event_store_id=context.event_store_id,
                    aggregate_id=event.aggregate_id,
                    version=event.version,
                ) from error
            if inserted.rowcount == 0:
                raise missing_previous_version(context, event)
        if outbox:
            connection.executemany(
                f"INSERT INTO {OUTBOX_TABLE} (message_channel_id, event_store_id, aggregate_id, version, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [message.columns() for message in outbox],
            )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


# Inserts the row only if it is the aggregate's first version or the previous one is stored; the
# parameters are the row's seven columns, then the previous version.
_INSERT_IF_PREVIOUS_STORED = f"""INTO {TABLE} SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
    WHERE ?3 = 1 OR EXISTS (
        SELECT 1 FROM {TABLE} WHERE event_store_id = ?1 AND aggregate_id = ?2 AND version = ?8
    )"""
_INSERT = f"INSERT {_INSERT_IF_PREVIOUS_STORED}"
_INSERT_OR_REPLACE = f"INSERT OR REPLACE {_INSERT_IF_PREVIOUS_STORED}"


def _claim(
    connection: sqlite3.Connection, relay_id: str, limit: int, now: str, lease_until: str
) -> list[PendingOutboxMessage]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        # A body that is not valid UTF-8 (written by other means) must not fail every claim: it is read with
        # its undecodable bytes escaped (lone surrogates), which the relay's codec refuses for that message
        # alone, so it is retried with backoff and its error recorded while the others are published.
        rows = _fetch_all(
            connection,
            f"""SELECT id, message_channel_id, event_store_id, aggregate_id, version, body, attempts
            FROM {OUTBOX_TABLE} AS pending
            WHERE done = 0
              AND (claimed_until IS NULL OR claimed_until <= ?)
              AND (retry_at IS NULL OR retry_at <= ?)
              AND NOT EXISTS (
                  SELECT 1 FROM {OUTBOX_TABLE} AS earlier
                  WHERE earlier.done = 0
                    AND earlier.message_channel_id = pending.message_channel_id
                    AND earlier.event_store_id = pending.event_store_id
                    AND earlier.aggregate_id = pending.aggregate_id
                    AND earlier.version < pending.version
              )
            ORDER BY id LIMIT ?""",
            (now, now, limit),
            _escaped_text,
        )
        connection.executemany(
            f"UPDATE {OUTBOX_TABLE} SET claimed_by = ?, claimed_until = ? WHERE id = ?",
            [(relay_id, lease_until, row[0]) for row in rows],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return [
        PendingOutboxMessage(row[0], OutboxMessage(row[1], row[2], row[3], row[4], row[5]), row[6])
        for row in rows
    ]


class _InvalidText:
    """The bytes of a text value that is not valid UTF-8 (SQLite stores whatever text it is given)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return _preview(self.data)


def _lenient_text(data: bytes) -> str | _InvalidText:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return _InvalidText(data)


def _escaped_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _fetch_all(
    connection: sqlite3.Connection,
    sql: str,
    parameters: Sequence[Any],
    lenient_text: Callable[[bytes], object] = _lenient_text,
) -> list[Any]:
    """The rows of a read. sqlite3 fails the whole fetch on one text value that is not valid UTF-8, without
    saying which row holds it: the rows are then read again, such values read by `lenient_text` (by
    default kept as `_InvalidText`, so that the row at fault is reported with its store, aggregate and
    version). The normal path pays nothing."""
    try:
        return connection.execute(sql, parameters).fetchall()
    except sqlite3.OperationalError as error:
        if not str(error).startswith("Could not decode to UTF-8"):  # sqlite3's words for it
            raise
    # Work on the connection runs one piece at a time (see _Worker): no other read sees the factory changed.
    connection.text_factory = lenient_text
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.text_factory = str


def _decode(context: StorageContext[EventT], aggregate_id: str, quoted_aggregate_id: str, row: Any) -> EventT:
    version, event_type, timestamp, payload, metadata = row
    # SQLite keeps any value in any column: a row written by other means may hold other types.
    if not (
        type(version) is int
        and type(event_type) is str
        and type(timestamp) is str
        and (payload is None or type(payload) is str)
        and (metadata is None or type(metadata) is str)
    ):
        raise EventDecodeError(
            f"invalid stored event: {_column_types(row)}",
            event_store_id=context.event_store_id,
            aggregate_id=aggregate_id,
            version=version,
        )
    try:
        return context.codec.from_json(
            stored_event_json(quoted_aggregate_id, version, event_type, timestamp, payload, metadata),
            aggregate_id=aggregate_id,
            version=version,
            check_schemas=False,  # checked against them before it was stored
        )
    except EventDecodeError as error:
        # Refused by its parser, not by the limits (within which parsing a column again is safe).
        column = None if error.__cause__ is None else _invalid_json_column(payload, metadata)
        if column is None:
            raise
        raise EventDecodeError(
            f"invalid stored event: its {column} column is not valid JSON",
            event_store_id=context.event_store_id,
            aggregate_id=aggregate_id,
            version=version,
        ) from error


def _invalid_json_column(payload: str | None, metadata: str | None) -> str | None:
    """Which of the JSON columns of a row that failed to read is not JSON (the codec checked its nesting)."""
    for name, text in (("payload", payload), ("metadata", metadata)):
        try:
            if text is not None:
                json.loads(text)
        except (ValueError, RecursionError):
            return name
    return None


def _entry(context: StorageContext[Any], aggregate_id: object, timestamp: object) -> AggregateIdEntry:
    if type(aggregate_id) is not str:  # the aggregate cannot be named: what its column holds is shown instead
        raise EventDecodeError(
            "invalid stored event: an initial event (version 1) has no readable aggregate id: "
            + _column_problem("aggregate_id", aggregate_id, str),
            event_store_id=context.event_store_id,
            version=1,
        )
    if type(timestamp) is not str:
        raise EventDecodeError(
            f"invalid stored event: {_column_problem('timestamp', timestamp, str)}",
            event_store_id=context.event_store_id,
            aggregate_id=aggregate_id,
            version=1,
        )
    try:
        parsed = datetime.fromisoformat(timestamp)
        if parsed.utcoffset() is None:
            raise ValueError("it has no time zone")
        parsed = to_utc(parsed)
    except (TypeError, ValueError) as error:
        raise EventDecodeError(
            f"invalid stored event: its timestamp {timestamp!r} is not an ISO 8601 timestamp in UTC ({error})",
            event_store_id=context.event_store_id,
            aggregate_id=aggregate_id,
            version=1,
        ) from error
    return AggregateIdEntry(aggregate_id, parsed)


def _column_types(row: Sequence[object]) -> str:
    wanted = (("version", int), ("type", str), ("timestamp", str), ("payload", str), ("metadata", str))
    return "; ".join(
        _column_problem(name, value, kind)
        for (name, kind), value in zip(wanted, row, strict=True)
        if type(value) is not kind and not (value is None and name in ("payload", "metadata"))
    )


_KINDS: dict[type, str] = {int: "an integer", float: "a real", str: "text", bytes: "a blob"}


def _column_problem(name: str, value: object, wanted: type) -> str:
    """What a column holds instead of the storage class the adapter writes there."""
    if isinstance(value, _InvalidText):
        return f"its {name} column holds text that is not valid UTF-8 ({value!r})"
    held = "NULL" if value is None else _KINDS.get(type(value), type(value).__name__)
    shown = f" ({_preview(value)})" if isinstance(value, bytes) and name == "aggregate_id" else ""
    return f"its {name} column holds {held}{shown}, not {_KINDS[wanted]}"


def _preview(data: bytes) -> str:
    """Bytes as a Python literal, cut short: a corrupted column may hold megabytes."""
    return repr(data[:40]) + ("..." if len(data) > 40 else "")
