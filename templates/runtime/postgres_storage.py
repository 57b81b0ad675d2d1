"""Event storage in PostgreSQL, through psycopg 3 (async) and its connection pool.

One table, `<schema>.kastor_events`, holds the events of every store, keyed by (store id, aggregate id,
version): the key is the concurrency guard, so writers in any number of processes race safely and a
version is stored once. Each `push_events` call is one transaction. A second table, `<schema>.kastor_outbox`,
is the transactional outbox (see outbox.py): messages stored in the transaction of their events, which
relays in any number of processes claim with `FOR UPDATE SKIP LOCKED`. The tables are created by
`create_schema()` or by running the SQL that `kastor sql postgres` prints, never implicitly.

The driver is imported only when the adapter is used, so the package needs it only where the adapter
runs: install psycopg[binary] and psycopg-pool (the `kastor[postgres]` extra).
"""

import asyncio
import contextlib
import importlib
import json
import math
import os
import re
import select
import socket
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

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

EventT = TypeVar("EventT", bound=Event)
ResultT = TypeVar("ResultT")

TABLE = "kastor_events"
OUTBOX_TABLE = "kastor_outbox"

#: What a schema name may be: an unquoted identifier of PostgreSQL (at most 63 characters).
SCHEMA_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,62}"

#: The migration that creates the tables (idempotent). `kastor sql postgres` prints it, formatted.
SCHEMA_SQL = """-- Kastor event storage: one table for the events of every store (schema "{schema}").
CREATE SCHEMA IF NOT EXISTS "{schema}";

CREATE TABLE IF NOT EXISTS "{schema}"."kastor_events" (
    event_store_id TEXT COLLATE "C" NOT NULL,
    aggregate_id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    type TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    -- JSON, not JSONB: it keeps the codec's text as it is (JSONB would read 1e20 back as an integer, -0.0
    -- as 0.0, and sort object keys), so that a stored event comes back exactly as it was pushed.
    payload JSON,
    metadata JSON,
    PRIMARY KEY (event_store_id, aggregate_id, version)
);

-- list_aggregate_ids reads initial events only, in (timestamp, aggregate id) order.
CREATE INDEX IF NOT EXISTS "kastor_events_initial"
    ON "{schema}"."kastor_events" (event_store_id, timestamp, aggregate_id)
    WHERE version = 1;

-- The transactional outbox: messages stored in the transaction of their events, until a relay publishes them.
CREATE TABLE IF NOT EXISTS "{schema}"."kastor_outbox" (
    id BIGSERIAL PRIMARY KEY,
    message_channel_id TEXT COLLATE "C" NOT NULL,
    event_store_id TEXT COLLATE "C" NOT NULL,
    aggregate_id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    body JSON NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until TIMESTAMPTZ,
    retry_at TIMESTAMPTZ,
    last_error TEXT
);

-- Relays read pending messages only: the lowest version of each (channel, store, aggregate) goes first.
CREATE INDEX IF NOT EXISTS "kastor_outbox_pending"
    ON "{schema}"."kastor_outbox" (message_channel_id, event_store_id, aggregate_id, version)
    WHERE NOT done;
"""

#: Seconds to wait for the server when neither the adapter's `connect_timeout` nor the connection string
#: nor PGCONNECT_TIMEOUT sets a connect timeout.
CONNECT_TIMEOUT_SECONDS = 10

#: Seconds a call may take by default (the adapter's `timeout`): waiting for a connection, connecting and
#: its statements, all together.
TIMEOUT_SECONDS = 30.0

#: Seconds an abandoned call is given to end once its connection is shut down (it ends at once: every wait
#: on a shut-down socket fails), twice at most.
ABANDON_GRACE_SECONDS = 1.0

#: Milliseconds between the server's checks, while it runs a statement of the adapter's own connections,
#: that the adapter is still there (PostgreSQL 14 and later). A call that timed out or was cancelled closes
#: its connection without a cancel request (which a black hole would hold): the server finds the
#: connection closed at its next check, and stops the statement, rolling back and releasing its locks.
CLIENT_CONNECTION_CHECK_MILLISECONDS = 1000

#: TCP keepalives of the connections the adapter makes: an idle connection whose server vanished without
#: a word (a cut network, a host gone) is found dead within about a minute and replaced before it is lent.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

_INSTALL_HINT = "install psycopg[binary] and psycopg-pool (pip install 'psycopg[binary]' psycopg-pool)"


def schema_sql(schema: str = "public") -> str:
    """The SQL that creates the tables in `schema` (raises ValueError for a name that is not an identifier)."""
    return SCHEMA_SQL.format(schema=_checked_schema(schema))


def _checked_schema(schema: object) -> str:
    if not isinstance(schema, str) or re.fullmatch(SCHEMA_NAME_PATTERN, schema) is None:
        raise ValueError(
            f"invalid PostgreSQL schema name {schema!r}: use letters, digits and underscores, "
            "not starting with a digit, at most 63 characters"
        )
    return schema


class PostgresEventStorageAdapter(EventStorageAdapter):
    """Stores events in PostgreSQL, in the table `kastor_events` of `schema`, and outbox messages in its
    table `kastor_outbox` (an `OutboxStorage`: several relays, in any processes, may share it).

    Give one of: `conninfo` (a URL or `key=value` string: the adapter opens a pool of `min_size` to
    `max_size` connections on first use, checks each connection before lending it so that lost ones are
    replaced, and closes the pool in `close()`); `pool`, an open `psycopg_pool.AsyncConnectionPool`; or
    `connection`, a `psycopg.AsyncConnection` that the adapter uses for one call at a time. A given
    pool or connection stays the caller's: `close()` leaves it open. With none of them, libpq's
    environment variables (PGHOST, PGDATABASE...) say where the server is.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        schema: str = "public",
        pool: Any = None,
        connection: Any = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = TIMEOUT_SECONDS,
        connect_timeout: float | None = None,
    ) -> None:
        if sum(given is not None for given in (conninfo, pool, connection)) > 1:
            raise ValueError("give one of conninfo, pool and connection, not several")
        if min_size < 0 or max_size < max(min_size, 1):
            raise ValueError(
                f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size} and {max_size}"
            )
        self.schema = _checked_schema(schema)
        self.timeout = _checked_seconds("timeout", timeout)
        self.connect_timeout = (
            None if connect_timeout is None else _checked_seconds("connect_timeout", connect_timeout)
        )
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self._given_pool = pool
        self._given_connection = connection
        self._table = f'"{self.schema}"."{TABLE}"'
        self._outbox_table = f'"{self.schema}"."{OUTBOX_TABLE}"'
        self._opened: _OpenedPool | None = None  # the pool this adapter opened
        self._opening = _LoopLock()
        self._connection_lock = _LoopLock()
        self._insert = _insert_sql(self._table, force=False)
        self._upsert = _insert_sql(self._table, force=True)
        self._insert_outbox = (
            f"INSERT INTO {self._outbox_table} (message_channel_id, event_store_id, aggregate_id, version, body) "
            "VALUES (%s, %s, %s, %s, %s::json)"
        )
        self._claim = _claim_sql(self._outbox_table)
        self._known_jsonb_columns: frozenset[tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"PostgresEventStorageAdapter({self._where()!r}, schema={self.schema!r})"

    async def __aenter__(self) -> "PostgresEventStorageAdapter":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the pool the adapter opened (a given pool or connection stays open); the adapter opens a
        new pool if used again."""
        if self._opened is not None:
            await self._release(self._opened)

    async def create_schema(self) -> None:
        """Creates the schema, the tables and their indexes if missing (the SQL of `schema_sql`); idempotent,
        and safe to run from several processes at once."""
        statements = [statement.strip() for statement in schema_sql(self.schema).split(";")]

        async def work(connection: Any) -> None:
            async with connection.transaction():
                # Concurrent CREATE ... IF NOT EXISTS of one name may still collide: take turns.
                await connection.execute("SELECT pg_advisory_xact_lock(hashtext('kastor.create_schema'))")
                cursor = await connection.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                )
                schema_exists = await cursor.fetchone() is not None
                for statement in statements:
                    if not statement or (schema_exists and "CREATE SCHEMA" in statement):
                        continue  # CREATE SCHEMA needs a privilege that using an existing one does not
                    await connection.execute(statement)

        await self._run(work, operation="create_schema")

    async def drop_schema(self) -> None:
        """Drops the adapter's schema with everything in it (its events too): for tests and demos. Refuses
        the `public` schema."""
        if self.schema == "public":
            raise ValueError("drop_schema() refuses to drop the public schema")

        async def work(connection: Any) -> None:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

        await self._run(work, operation="drop_schema")

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
        """Stores the events, then the outbox messages, in one transaction: all, or nothing."""
        check_events_to_push(events)
        rows = [_row(context, event) for context, event in events]
        if not rows and not outbox:
            return
        sql = self._upsert if force else self._insert
        outbox_rows = [message.columns() for message in outbox]
        psycopg = _psycopg()

        async def write(
            connection: Any, context: StorageContext[Any], event: Event, row: dict[str, Any]
        ) -> None:
            try:
                cursor = await connection.execute(sql, row)
                previous_found, written = await cursor.fetchone()
            except psycopg.errors.DeadlockDetected as error:
                # Another transaction writes this version too, and waits for a row of ours.
                raise EventAlreadyExistsError(
                    event_store_id=context.event_store_id,
                    aggregate_id=event.aggregate_id,
                    version=event.version,
                ) from error
            except psycopg.DataError as error:
                raise EventStorageError(
                    f"{self._where()}: cannot store {context.event_store_id}/{event.aggregate_id} "
                    f"v{event.version}: {error}"
                ) from error
            if written:
                return
            if not previous_found:
                raise missing_previous_version(context, event)
            raise EventAlreadyExistsError(
                event_store_id=context.event_store_id,
                aggregate_id=event.aggregate_id,
                version=event.version,
            )

        async def work(connection: Any) -> None:
            jsonb_columns = await self._jsonb_columns(connection)
            if jsonb_columns and self._jsonb_refusal(jsonb_columns, events, rows, outbox) is not None:
                # Look again: the columns may have been migrated to json since they were looked up.
                jsonb_columns = await self._jsonb_columns(connection, look_again=True)
                refusal = self._jsonb_refusal(jsonb_columns, events, rows, outbox)
                if refusal is not None:
                    raise refusal
            if len(rows) == 1 and not outbox_rows and connection.autocommit:
                # One statement is a transaction of its own: no BEGIN and COMMIT to wait for.
                await write(connection, *events[0], rows[0])
                return
            async with connection.transaction():
                for (context, event), row in zip(events, rows, strict=True):
                    await write(connection, context, event, row)
                if outbox_rows:
                    try:
                        async with connection.cursor() as cursor:
                            await cursor.executemany(self._insert_outbox, outbox_rows)
                    except psycopg.DataError as error:
                        raise EventStorageError(
                            f"{self._where()}: cannot store outbox messages: {error}"
                        ) from error

        table = self._outbox_table if outbox_rows else self._table
        await self._run(work, operation="push_events", table=table)

    async def _jsonb_columns(
        self, connection: Any, *, look_again: bool = False
    ) -> frozenset[tuple[str, str]]:
        """The (table, column) pairs of JSON columns that are still `jsonb`, as tables created before
        Kastor stored JSON as `json` have them (looked up on the adapter's first push, then remembered)."""
        if self._known_jsonb_columns is not None and not look_again:
            return self._known_jsonb_columns
        rows = await _fetch_all(connection, _COLUMN_TYPES_SQL, [self._table, self._outbox_table])
        found = frozenset((table, column) for table, column, _ in rows)
        jsonb = frozenset((table, column) for table, column, type_name in rows if type_name == "jsonb")
        if (TABLE, "payload") in found:  # a missing table is reported by the push itself: look again then
            self._known_jsonb_columns = jsonb
        return jsonb

    def _jsonb_refusal(
        self,
        jsonb_columns: frozenset[tuple[str, str]],
        events: Sequence[tuple[StorageContext[Any], Event]],
        rows: Sequence[dict[str, Any]],
        outbox: Sequence[OutboxMessage],
    ) -> EventStorageError | None:
        """The error to raise, before anything is written, for a value that a `jsonb` column would give back
        otherwise than it was pushed (a stored event is exactly the event that was pushed), or None."""
        for (context, event), row in zip(events, rows, strict=True):
            for column in ("payload", "metadata"):
                if (TABLE, column) in jsonb_columns and row[column] is not None:
                    changed = _what_jsonb_would_change(row[column], column)
                    if changed is not None:
                        what = f"{context.event_store_id}/{event.aggregate_id} v{event.version}"
                        return self._jsonb_error(what, TABLE, column, changed)
        if (OUTBOX_TABLE, "body") in jsonb_columns:
            for message in outbox:
                changed = _what_jsonb_would_change(message.body, "body")
                if changed is not None:
                    what = (
                        f"the outbox message of {message.event_store_id}/{message.aggregate_id} "
                        f"v{message.version} for {message.message_channel_id}"
                    )
                    return self._jsonb_error(what, OUTBOX_TABLE, "body", changed)
        return None

    def _jsonb_error(self, what: str, table: str, column: str, changed: str) -> EventStorageError:
        qualified = f'"{self.schema}"."{table}"'
        return EventStorageError(
            f"{self._where()}: cannot store {what}: {changed}, and the column {column} of {qualified} is "
            f"jsonb, made by an earlier version of Kastor, which would not give it back as it was pushed; "
            f"migrate the column to json (ALTER TABLE {qualified} ALTER COLUMN {column} TYPE json, see "
            "docs/postgres.md), which keeps the JSON text as it is"
        )

    # -- outbox --------------------------------------------------------------------------------------

    async def claim_outbox_messages(
        self, *, relay_id: str, limit: int, lease: timedelta, now: datetime
    ) -> list[PendingOutboxMessage]:
        """Claims up to `limit` pending messages for `lease` (see OutboxStorage). Rows another relay is
        claiming are skipped (`FOR UPDATE SKIP LOCKED`), so that concurrent relays never claim one message."""
        parameters = {"relay_id": relay_id, "limit": limit, "now": now, "until": now + lease}

        async def work(connection: Any) -> list[Any]:
            async with connection.transaction():
                cursor = await connection.execute(self._claim, parameters)
                rows: list[Any] = await cursor.fetchall()
            return rows

        rows = await self._run(work, operation="claim_outbox_messages", table=self._outbox_table)
        return [
            PendingOutboxMessage(
                message_id, OutboxMessage(channel_id, event_store_id, aggregate_id, version, body), attempts
            )
            for message_id, channel_id, event_store_id, aggregate_id, version, body, attempts in sorted(rows)
        ]

    async def complete_outbox_message(self, message_id: int, *, relay_id: str) -> None:
        """Marks a message published, if `relay_id` still holds its claim (another relay may have claimed it
        since its lease ended: it is then that relay's)."""
        sql = f"UPDATE {self._outbox_table} SET done = TRUE WHERE id = %s AND claimed_by = %s AND NOT done"
        await self._run(
            lambda connection: _execute(connection, sql, [message_id, relay_id]),
            operation="complete_outbox_message",
            table=self._outbox_table,
        )

    async def fail_outbox_message(
        self, message_id: int, *, relay_id: str, retry_at: datetime, error: str
    ) -> None:
        """Releases a message `relay_id` claimed, to be tried again at `retry_at`."""
        sql = (
            f"UPDATE {self._outbox_table} SET attempts = attempts + 1, retry_at = %s, last_error = %s, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = %s AND claimed_by = %s AND NOT done"
        )
        parameters = [retry_at, error, message_id, relay_id]
        await self._run(
            lambda connection: _execute(connection, sql, parameters),
            operation="fail_outbox_message",
            table=self._outbox_table,
        )

    async def count_pending_outbox_messages(self) -> int:
        sql = f"SELECT count(*) FROM {self._outbox_table} WHERE NOT done"
        rows = await self._run(
            lambda connection: _fetch_all(connection, sql, []),
            operation="count_pending_outbox_messages",
            table=self._outbox_table,
        )
        count: int = rows[0][0]
        return count

    async def get_events(
        self, context: StorageContext[EventT], aggregate_id: str, query: EventsQuery
    ) -> list[EventT]:
        check_events_query(context, aggregate_id, query)
        sql = (
            f"SELECT version, type, {_TIMESTAMP}, payload::text, metadata::text FROM {self._table} "
            "WHERE event_store_id = %s AND aggregate_id = %s"
        )
        refinements, refinement_parameters = events_query_sql(query, "%s")
        sql += refinements
        parameters = [context.event_store_id, aggregate_id, *refinement_parameters]
        rows = await self._run(
            lambda connection: _fetch_all(connection, sql, parameters), operation="get_events"
        )
        quoted_id = json.dumps(aggregate_id)
        return [
            context.codec.from_json(
                stored_event_json(
                    quoted_id,
                    version,
                    event_type,
                    timestamp_text(_timestamp(context, aggregate_id, version, timestamp)),
                    payload,
                    metadata,
                ),
                aggregate_id=aggregate_id,
                version=version,
                check_schemas=False,  # checked against them before it was stored
            )
            for version, event_type, timestamp, payload, metadata in rows
        ]

    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        check_aggregate_ids_query(context, query)
        # `version = 1` stays a literal, so that the planner uses the partial index of initial events.
        sql = (
            f"SELECT aggregate_id, {_TIMESTAMP} FROM {self._table} WHERE event_store_id = %s AND version = 1"
        )
        refinements, refinement_parameters = aggregate_ids_query_sql(query, "%s", lambda timestamp: timestamp)
        sql += refinements
        parameters = [context.event_store_id, *refinement_parameters]
        rows = await self._run(
            lambda connection: _fetch_all(connection, sql, parameters), operation="list_aggregate_ids"
        )
        return [
            AggregateIdEntry(aggregate_id, _timestamp(context, aggregate_id, 1, timestamp))
            for aggregate_id, timestamp in rows
        ]

    # -- connections ---------------------------------------------------------------------------------

    async def _run(
        self, work: Callable[[Any], Awaitable[ResultT]], *, operation: str, table: str | None = None
    ) -> ResultT:
        """Runs `work` with a connection, within the adapter's `timeout`; the driver's errors become
        EventStorageError (naming `table`, the events table by default, when a table is missing).

        The call runs as a task of its own, which this one waits for: when the time is up or the caller
        cancels, the call's connection is shut down under it (every read or write on it then fails at once)
        instead of being cancelled. Cancelling psycopg in a statement sends the server a cancel request and
        waits for its answer, which a network that drops every packet would hold for seconds; and a
        connection interrupted mid-statement is in no state to serve again anyway: it is closed, and a
        pool replaces it."""
        call = _Call()
        running = asyncio.ensure_future(self._run_now(work, call, table))
        try:
            await asyncio.wait((running,), timeout=self.timeout)
        except asyncio.CancelledError:
            await _abandon(running, call)
            raise
        if not running.done():
            await _abandon(running, call)
            if not running.done() or running.cancelled() or running.exception() is not None:
                cause = None if not running.done() or running.cancelled() else running.exception()
                closed = "; its connection was closed" if call.connected else ""
                raise EventStorageError(
                    f"{self._where()}: {operation} timed out after {self.timeout:g} s (the adapter's timeout) "
                    f"{call.stage}{closed}"
                ) from cause
        return running.result()

    async def _run_now(
        self, work: Callable[[Any], Awaitable[ResultT]], call: "_Call", table: str | None
    ) -> ResultT:
        psycopg = _psycopg()
        errors = psycopg.errors
        try:
            async with self._connection(call) as connection:
                result = await work(connection)
        except (errors.UndefinedTable, errors.InvalidSchemaName) as error:
            raise EventStorageError(
                f"{self._where()}: the table {table or self._table} does not exist: create it with "
                f"`await adapter.create_schema()`, or run the SQL that `kastor sql postgres --schema "
                f"{self.schema}` prints"
            ) from error
        except _pool_timeout() as error:
            cause = await self._connect_error()
            if cause is not None:
                raise EventStorageError(f"cannot connect to {self._where()}: {cause}") from cause
            raise EventStorageError(f"{self._where()}: no pooled connection became free: {error}") from error
        except psycopg.Error as error:
            raise EventStorageError(f"{self._where()}: {error}") from error
        return result

    @asynccontextmanager
    async def _connection(self, call: "_Call") -> AsyncGenerator[Any, None]:
        if self._given_connection is not None:
            call.stage = "waiting for the given connection (another call was using it)"
            async with self._connection_lock.get(), call.using(self._given_connection):
                yield self._given_connection
            return
        if self._given_pool is not None:
            pool = self._given_pool
        else:
            call.stage = "connecting"
            pool = await self._own_pool()
        call.stage = "waiting for a connection of the pool (none was free, and no new one was made)"
        async with pool.connection() as connection, call.using(connection):
            yield connection

    async def _own_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._opened is not None and self._opened.loop is loop:
            return self._opened.pool
        async with self._opening.get():
            if self._opened is not None and self._opened.loop is not loop:
                if self._opened.loop.is_running():
                    raise EventStorageError(
                        f"{self!r} is in use by another event loop: use one adapter per event loop"
                    )
                await self._release(self._opened)  # its event loop has ended (a former asyncio.run)
            if self._opened is None:
                self._opened = await self._open_pool(loop)
            return self._opened.pool

    async def _open_pool(self, loop: asyncio.AbstractEventLoop) -> "_OpenedPool":
        psycopg = _psycopg()
        psycopg_pool = _psycopg_pool()
        conninfo = self.conninfo or ""
        kwargs = self._connect_kwargs()
        # The pool would only retry in the background: one direct connection first fails fast, and
        # with the driver's reason (refused, unknown host, authentication...).
        try:
            probe = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        except psycopg.Error as error:
            raise EventStorageError(f"cannot connect to {self._where()}: {error}") from error
        server_version: int = probe.info.server_version
        await probe.close()
        kwargs.update(_client_check_options(conninfo, server_version))
        connections: weakref.WeakSet[Any] = weakref.WeakSet()

        async def track(connection: Any) -> None:
            connections.add(connection)

        pool = psycopg_pool.AsyncConnectionPool(
            conninfo,
            kwargs=kwargs,
            min_size=self.min_size,
            max_size=self.max_size,
            open=False,
            check=_check_if_it_may_be_lost,
            configure=track,
            name=f"kastor-{self.schema}",
        )
        try:
            # Its first connections made before the first call: none is still being made when a short
            # asyncio.run ends (connecting is what a pool's task cannot be cancelled in cleanly).
            await pool.open(wait=True, timeout=self.connect_timeout or float(CONNECT_TIMEOUT_SECONDS))
        except BaseException:
            # Waiting only briefly for its workers: one may be connecting through a network that drops
            # everything (the call timed out or was cancelled), and ends on its own at its connect timeout.
            await pool.close(timeout=0.1)
            raise
        opened = _OpenedPool(pool, loop, connections)
        opened.keeper = loop.create_task(self._keep(opened), name="kastor-postgres-pool-keeper")
        return opened

    async def _keep(self, opened: "_OpenedPool") -> None:
        """Waits as long as the pool is open; closes it when cancelled, by `close()` or by the end of its
        event loop (asyncio.run cancels every task as it ends: the pool must close then, in its loop)."""
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            if self._opened is opened:
                self._opened = None
            await _close_pool(opened)

    async def _release(self, opened: "_OpenedPool") -> None:
        if self._opened is opened:
            self._opened = None
        if opened.loop is asyncio.get_running_loop():
            if opened.keeper is not None:
                opened.keeper.cancel()
            await _close_pool(opened)
        elif opened.loop.is_running():  # the loop of another thread
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_close_pool(opened), opened.loop))
        else:
            # Its event loop ended without cancelling the keeper (closed without asyncio.run), and the
            # pool's workers with it: close its connections directly.
            for connection in list(opened.connections):
                await connection.close()

    def _connect_kwargs(self) -> dict[str, Any]:
        """The arguments of the connections the adapter makes: autocommit, a connect timeout, and TCP
        settings that make the kernel drop a connection whose server is gone without a word, each unless
        the conninfo sets it."""
        kwargs: dict[str, Any] = {"autocommit": True}
        given = _conninfo_params(self.conninfo or "")
        if self.connect_timeout is not None:
            # libpq counts whole seconds (psycopg at least 2); the call's timeout bounds it more finely.
            kwargs["connect_timeout"] = max(1, math.ceil(self.connect_timeout))
        elif "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        tcp_settings = {
            **KEEPALIVES,
            # Data the server has not acknowledged within the timeout: the connection is dead. (libpq
            # takes milliseconds as a 32-bit integer.)
            "tcp_user_timeout": min(math.ceil(self.timeout * 1000), 2**31 - 1),
        }
        kwargs.update({key: value for key, value in tcp_settings.items() if key not in given})
        return kwargs

    async def _connect_error(self) -> BaseException | None:
        """Why a new connection to the pool's server fails, or None when it succeeds."""
        psycopg = _psycopg()
        if self._given_pool is None:
            conninfo, kwargs = self.conninfo or "", self._connect_kwargs()
        elif isinstance(self._given_pool.conninfo, str):
            conninfo = self._given_pool.conninfo
            kwargs = _kwargs_of(self._given_pool)
        else:
            return None
        try:
            connection = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        except psycopg.Error as error:
            failure: BaseException = error
            return failure
        await connection.close()
        return None

    def _where(self) -> str:
        """The server, for messages: host, port and database (never the password)."""
        try:
            if self._given_connection is not None:
                info = self._given_connection.info
                host, port, dbname = info.host, info.port, info.dbname
            else:
                if self._given_pool is not None:
                    given = self._given_pool.conninfo
                    conninfo = given if isinstance(given, str) else ""
                    extra = _kwargs_of(self._given_pool)
                else:
                    conninfo, extra = self.conninfo or "", {}
                params = {**_conninfo_params(conninfo), **{k: str(v) for k, v in extra.items()}}
                host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
                port = params.get("port") or os.environ.get("PGPORT") or "5432"
                dbname = params.get("dbname") or os.environ.get("PGDATABASE") or "(default)"
        except Exception:
            return "PostgreSQL"
        return f"PostgreSQL at {host}:{port} (database {dbname})"


class _Call:
    """One call of the adapter to the server: what it is doing (for the timeout's message), and the
    connection it is using, which `_abandon` shuts down."""

    def __init__(self) -> None:
        self.stage = "before it began"
        self.connection: Any = None
        self.connected = False  # whether it got a connection
        self.abandoned = False

    @asynccontextmanager
    async def using(self, connection: Any) -> AsyncGenerator[None, None]:
        self.stage = "waiting for the server (it did not answer)"
        self.connection = connection
        self.connected = True
        try:
            yield
        finally:
            self.connection = None
            if self.abandoned:
                # Its state is unknown (a statement may be half sent or half answered): never used again.
                # Closed, a pool discards it and makes another.
                await connection.close()


async def _abandon(running: "asyncio.Future[Any]", call: _Call) -> None:
    """Ends a call that ran out of time or whose caller cancelled it, without waiting for the server."""
    call.abandoned = True
    try:
        await _end_abandoned(running, call)
    finally:
        if not running.done():  # it ends later, on its own (its socket is shut down)
            running.add_done_callback(_ignore_outcome)


async def _end_abandoned(running: "asyncio.Future[Any]", call: _Call) -> None:
    """Shuts the call's connection down, or cancels the call while it has none, and waits for it to end:
    at once, or after one more cancellation (within 2 x ABANDON_GRACE_SECONDS in any case)."""
    for _ in range(2):
        if call.connection is not None:
            _shut_down(call.connection)
        else:
            # Waiting for a connection or a lock, or connecting: safe to cancel, nothing is on the wire.
            running.cancel()
        done, _ = await asyncio.wait((running,), timeout=ABANDON_GRACE_SECONDS)
        if done:
            if not running.cancelled():
                running.exception()  # retrieved: the caller gets the timeout or its cancellation instead
            return
        # Still running: psycopg was interrupted as it began a statement, and sends a cancel request that
        # may wait for seconds. Interrupted again, it closes the connection and ends.
        running.cancel()


def _ignore_outcome(running: "asyncio.Future[Any]") -> None:
    if not running.cancelled():
        running.exception()


def _shut_down(connection: Any) -> None:
    """Ends the connection's TCP stream both ways at once, without a word to the server: every wait of the
    driver on it fails now (reading gives end of file) instead of waiting for an answer that may never
    come. The file descriptor stays the driver's (a duplicate is shut down), so that its event loop
    registrations stay valid until it closes the connection."""
    try:
        descriptor = connection.fileno()
    except Exception:
        return  # already closed
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(descriptor)) as duplicate:
        duplicate.shutdown(socket.SHUT_RDWR)


def _checked_seconds(name: str, value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


class _OpenedPool:
    """A pool the adapter opened: the event loop it belongs to, the connections it made, and the task
    that closes it when that loop ends."""

    def __init__(
        self, pool: Any, loop: asyncio.AbstractEventLoop, connections: "weakref.WeakSet[Any]"
    ) -> None:
        self.pool = pool
        self.loop = loop
        self.connections = connections
        self.keeper: asyncio.Task[None] | None = None


async def _close_pool(opened: _OpenedPool) -> None:
    # A pool whose loop is ending may fail to stop its workers cleanly: its connections are closed anyway.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await opened.pool.close()
    for connection in list(opened.connections):
        await connection.close()


class _LoopLock:
    """An asyncio.Lock of the running event loop (a lock belongs to the loop that first waits on it)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock


def _psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError as error:
        raise EventStorageError(
            f"PostgresEventStorageAdapter needs the psycopg driver: {_INSTALL_HINT}"
        ) from error


def _psycopg_pool() -> Any:
    try:
        return importlib.import_module("psycopg_pool")
    except ImportError as error:
        raise EventStorageError(
            f"PostgresEventStorageAdapter needs psycopg-pool to open its own pool: {_INSTALL_HINT} "
            "(or give it a connection)"
        ) from error


def _pool_timeout() -> Any:
    """The pool's timeout error, or an empty tuple (which catches nothing) without psycopg-pool."""
    try:
        return importlib.import_module("psycopg_pool").PoolTimeout
    except ImportError:
        return ()


def _kwargs_of(pool: Any) -> dict[str, Any]:
    """A copy of the connection arguments of a psycopg_pool pool ({} when it has none)."""
    kwargs = pool.kwargs
    return dict(cast("dict[str, Any]", kwargs)) if isinstance(kwargs, dict) else {}


def _client_check_options(conninfo: str, server_version: int) -> dict[str, str]:
    """The `options` that make a server of version 14 or later check, while it runs a statement, that its
    client is still connected (kept with the options of the conninfo or PGOPTIONS, which a given `options`
    would replace); none when the server is older, or the options already set the check."""
    given = _conninfo_params(conninfo)
    options = given["options"] if "options" in given else os.environ.get("PGOPTIONS", "")
    if server_version < 140000 or "client_connection_check_interval" in options:
        return {}
    check = f"-c client_connection_check_interval={CLIENT_CONNECTION_CHECK_MILLISECONDS}"
    return {"options": f"{options} {check}".strip()}


def _conninfo_params(conninfo: str) -> dict[str, str]:
    params: dict[str, Any] = importlib.import_module("psycopg.conninfo").conninfo_to_dict(conninfo)
    return {key: str(value) for key, value in params.items() if value is not None}


def _insert_sql(table: str, *, force: bool) -> str:
    # One statement per event: whether version n - 1 is stored (earlier statements of the transaction
    # included), and whether the row was written. The key refuses a stored version (unless `force`).
    on_conflict = (
        "DO UPDATE SET type = EXCLUDED.type, timestamp = EXCLUDED.timestamp, "
        "payload = EXCLUDED.payload, metadata = EXCLUDED.metadata"
        if force
        else "DO NOTHING"
    )
    return f"""WITH previous AS (
    SELECT %(version)s = 1 OR EXISTS (
        SELECT 1 FROM {table}
        WHERE event_store_id = %(event_store_id)s AND aggregate_id = %(aggregate_id)s
            AND version = %(version)s - 1
    ) AS found
), written AS (
    INSERT INTO {table} (event_store_id, aggregate_id, version, type, timestamp, payload, metadata)
    SELECT %(event_store_id)s, %(aggregate_id)s, %(version)s, %(type)s, %(timestamp)s,
        %(payload)s::json, %(metadata)s::json
    FROM previous WHERE found
    ON CONFLICT (event_store_id, aggregate_id, version) {on_conflict}
    RETURNING 1
)
SELECT (SELECT found FROM previous), EXISTS (SELECT 1 FROM written)"""


def _row(context: StorageContext[Any], event: Event) -> dict[str, Any]:
    fields = context.codec.to_dict(event)
    if event.timestamp is None:  # the store sets timestamps before pushing
        raise AssertionError(f"event {event.aggregate_id} v{event.version} has no timestamp")
    return {
        "event_store_id": context.event_store_id,
        "aggregate_id": event.aggregate_id,
        "version": event.version,
        "type": event.type,
        "timestamp": event.timestamp,
        "payload": _json_or_none(fields, "payload"),
        "metadata": _json_or_none(fields, "metadata"),
    }


def _json_or_none(fields: dict[str, Any], name: str) -> str | None:
    # An absent field is SQL NULL; a field that is present but null is JSON null.
    if name not in fields:
        return None
    return json.dumps(fields[name], separators=(",", ":"), ensure_ascii=False)


#: The types of the JSON columns of the events and outbox tables (named by their qualified names; a missing
#: table has no rows).
_COLUMN_TYPES_SQL = """SELECT class.relname, attribute.attname, format_type(attribute.atttypid, NULL)
FROM pg_attribute AS attribute JOIN pg_class AS class ON class.oid = attribute.attrelid
WHERE attribute.attrelid IN (to_regclass(%s), to_regclass(%s))
    AND attribute.attname IN ('payload', 'metadata', 'body') AND NOT attribute.attisdropped"""


def _what_jsonb_would_change(text: str, column: str) -> str | None:
    """What of the JSON `text` (to be stored in `column`) jsonb would give back otherwise, or None.

    jsonb stores numbers as decimals, written back without exponent and without the sign of a zero: a float
    in exponent form with a positive exponent (1e+20, as Python writes 1e20) reads back as an integer, -0.0
    as 0.0; other floats (1.5, 1e-07, 5e-324) read back as the same float, and integers as they are. Keys of
    objects come back in jsonb's order (the event is equal, its undeclared properties ordered otherwise);
    duplicate keys, which the codec never writes, would be merged.
    """
    pending: list[tuple[str, Any]] = [(column, json.loads(text))]
    while pending:  # in document order, without recursion
        path, value = pending.pop()
        if isinstance(value, float):
            if value == 0.0 and math.copysign(1.0, value) < 0:
                return f"its {path} is -0.0, which jsonb would give back as 0.0"
            if "e+" in repr(value):
                return f"its {path} is {value!r}, which jsonb would give back as an integer"
        elif isinstance(value, dict):
            items = cast("dict[str, Any]", value).items()
            pending.extend((f"{path}.{key}", item) for key, item in reversed(list(items)))
        elif isinstance(value, list):
            elements = cast("list[object]", value)
            pending.extend(
                (f"{path}[{index}]", element) for index, element in reversed(list(enumerate(elements)))
            )
    return None


def _claim_sql(table: str) -> str:
    # The heads of the outbox: for each (channel, store, aggregate), its lowest pending version, if no
    # lease runs on it and its retry time has come. A row another relay is claiming at this moment is
    # locked: skipped, not waited for. A row claimed since this statement's snapshot is re-checked once
    # locked (its lease then runs), so that two relays never claim one message.
    return f"""WITH claimable AS (
    SELECT pending.id FROM {table} AS pending
    WHERE NOT pending.done
        AND (pending.claimed_until IS NULL OR pending.claimed_until <= %(now)s)
        AND (pending.retry_at IS NULL OR pending.retry_at <= %(now)s)
        AND NOT EXISTS (
            SELECT 1 FROM {table} AS earlier
            WHERE NOT earlier.done
                AND earlier.message_channel_id = pending.message_channel_id
                AND earlier.event_store_id = pending.event_store_id
                AND earlier.aggregate_id = pending.aggregate_id
                AND earlier.version < pending.version
        )
    ORDER BY pending.id
    LIMIT %(limit)s
    FOR UPDATE OF pending SKIP LOCKED
)
UPDATE {table} AS outbox SET claimed_by = %(relay_id)s, claimed_until = %(until)s
FROM claimable WHERE outbox.id = claimable.id
RETURNING outbox.id, outbox.message_channel_id, outbox.event_store_id, outbox.aggregate_id, outbox.version,
    outbox.body::text, outbox.attempts"""


async def _check_if_it_may_be_lost(connection: Any) -> None:
    """The pool's check of a connection before lending it: a round trip to the server (which replaces the
    connection when it fails) only when the connection has something to read, as it has once its server
    process ended or the server closed it (a healthy idle connection has nothing to read). Checking every
    connection would add a round trip to every call."""
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    if readable or connection.broken:
        await _psycopg_pool().AsyncConnectionPool.check_connection(connection)


async def _execute(connection: Any, sql: str, parameters: list[Any]) -> None:
    if connection.autocommit:
        await connection.execute(sql, parameters)
        return
    async with connection.transaction():  # so that a given connection is not left in a transaction
        await connection.execute(sql, parameters)


async def _fetch_all(connection: Any, sql: str, parameters: list[Any]) -> list[Any]:
    if connection.autocommit:
        cursor = await connection.execute(sql, parameters)
        rows: list[Any] = await cursor.fetchall()
        return rows
    async with connection.transaction():  # so that a given connection is not left in a transaction
        cursor = await connection.execute(sql, parameters)
        rows = await cursor.fetchall()
    return rows


#: The stored timestamp where Python can hold it (years 1 to 9999), else NULL: the driver would fail on the
#: whole result for one `infinity`. It is read as the UTC wall-clock time (without zone), since the
#: session's zone could take a time at either end of those years out of them. (Unnamed, so that
#: ORDER BY timestamp still means the column.)
_TIMESTAMP = (
    "CASE WHEN timestamp BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00' "
    "THEN timestamp AT TIME ZONE 'UTC' END"
)


def _timestamp(
    context: StorageContext[Any], aggregate_id: str, version: int, timestamp: datetime | None
) -> datetime:
    if timestamp is None:
        raise EventDecodeError(
            "invalid stored event: its timestamp is not one Python can hold (infinity, or a year "
            "outside 1 to 9999)",
            event_store_id=context.event_store_id,
            aggregate_id=aggregate_id,
            version=version,
        )
    return timestamp.replace(tzinfo=UTC)  # read as UTC wall-clock time (_TIMESTAMP)
