"""The interface between event stores and the databases that keep their events.

An adapter stores events of any number of stores, keyed by store id, aggregate id and version. It
guarantees, for every adapter alike (the conformance suite checks each):

- a write is atomic: every event of a `push_events` call is stored, or none is;
- an event whose version is already stored raises `EventAlreadyExistsError` (unless `force`, which
  overwrites it); version n > 1 needs version n - 1, stored before or earlier in the same call;
- events come back exactly as they were pushed, timestamps included;
- what no storage can hold is refused alike, before the database sees it (`check_events_to_push`,
  `check_events_query`, `check_aggregate_ids_query`, which every adapter calls): versions and limits
  beyond limits.MAX_VERSION and MAX_LIMIT, aggregate ids that are not UTF-8 text, hold NUL or are
  longer than MAX_AGGREGATE_ID_BYTES, timestamps outside the years 1 to 9999 in UTC.
"""

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from .codecs import EventCodec
from .errors import InvalidEventError, shown, shown_value
from .events import Event
from .limits import MAX_AGGREGATE_ID_BYTES, MAX_EVENT_STORE_ID_BYTES, MAX_LIMIT, MAX_VERSION
from .timestamps import require_aware

EventT = TypeVar("EventT", bound=Event)


@dataclass(frozen=True, slots=True)
class StorageContext(Generic[EventT]):
    """The store an adapter call is for: its id, and the codec that reads and writes its events."""

    event_store_id: str
    codec: EventCodec[EventT]

    def __post_init__(self) -> None:
        # Checked once here rather than at every call: every call of an adapter names its store this way.
        problem = id_problem(self.event_store_id, MAX_EVENT_STORE_ID_BYTES)
        if problem is not None:
            raise ValueError(f"event_store_id {problem}")


@dataclass(frozen=True, slots=True)
class EventsQuery:
    """Which events of one aggregate to read: versions within the bounds (inclusive), in version order
    (descending if `reverse`), at most `limit` of them, taken after ordering."""

    min_version: int | None = None
    max_version: int | None = None
    reverse: bool = False
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class AggregateIdEntry:
    """One aggregate of a store, with the timestamp of its initial event."""

    aggregate_id: str
    initial_event_timestamp: datetime


@dataclass(frozen=True, slots=True)
class AggregateIdsQuery:
    """Which aggregates to list, ordered by (initial event timestamp, aggregate id), descending if
    `reverse`; bounds are inclusive; `start_after` is the last entry of the previous page (excluded)."""

    limit: int | None = None
    initial_event_after: datetime | None = None
    initial_event_before: datetime | None = None
    reverse: bool = False
    start_after: AggregateIdEntry | None = None


class EventStorageAdapter(ABC):
    """Keeps the events of event stores. Subclass it to add a database."""

    @abstractmethod
    async def push_events(
        self, events: Sequence[tuple[StorageContext[Any], Event]], *, force: bool = False
    ) -> None:
        """Stores the events (each with its timestamp set) atomically, in order."""

    @abstractmethod
    async def get_events(
        self, context: StorageContext[EventT], aggregate_id: str, query: EventsQuery
    ) -> list[EventT]:
        """The aggregate's events that the query selects."""

    @abstractmethod
    async def list_aggregate_ids(
        self, context: StorageContext[Any], query: AggregateIdsQuery
    ) -> list[AggregateIdEntry]:
        """The store's aggregates that the query selects, in its order."""


# -- what every storage holds: the checks each adapter makes at its public methods -----------------------


def id_problem(value: object, max_bytes: int) -> str | None:
    """What makes `value` an id that some storage cannot hold, if anything: not a string, a lone surrogate
    (not valid Unicode, so no database encodes it), longer than `max_bytes` in UTF-8, or NUL (which
    PostgreSQL text cannot hold)."""
    # The common case, cheaply: ASCII text (a byte a character, no surrogate), short enough, without NUL.
    if type(value) is str and value.isascii() and len(value) <= max_bytes and "\x00" not in value:
        return None
    if not isinstance(value, str):
        return f"must be a string, got {shown_value(value)}"
    if len(value) > max_bytes:  # a character is a byte at least: too long, however it is encoded
        return f"is {len(value)} characters long, over the limit of {max_bytes} bytes of UTF-8"
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        return f"{shown(value)} holds a lone surrogate (it is not valid Unicode text), which no storage holds"
    if size > max_bytes:
        return f"is {size} bytes of UTF-8, over the limit of {max_bytes}"
    if "\x00" in value:
        return f"{shown(value)} holds a NUL character, which PostgreSQL text cannot hold"
    return None


def check_integer(where: str, name: str, value: object, least: int, most: int) -> int:
    """`value`, unless it is not an int (a bool is not) from `least` to `most`: then ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ValueError(
            f"{where}: {name} must be an integer from {least} to {most}, got {shown_value(value)}"
        )
    return value


def _check_aware(where: str, name: str, value: object) -> None:
    try:
        require_aware(name, value)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def check_events_to_push(events: Sequence[tuple[StorageContext[Any], Event]]) -> None:
    """InvalidEventError for the first event that no storage could hold (see `event_problem`). Events
    validated by their store pass; an adapter called directly may be given anything."""
    for context, event in events:
        problem = event_problem(event)
        if problem is not None:
            raise InvalidEventError(
                problem,
                event_store_id=context.event_store_id,
                aggregate_id=event.aggregate_id,
                version=event.version,
            )


def event_problem(event: Event) -> str | None:
    """What makes an event one that no storage could hold, if anything: its version beyond 1 to
    MAX_VERSION, its aggregate id (see `id_problem`), its timestamp missing or outside the years 1 to 9999
    in UTC."""
    version, timestamp = event.version, event.timestamp
    # Every push passes here: events that their store validated are told apart with a few comparisons
    # (their timestamps are in UTC already), the others checked in full.
    if (
        type(version) is int
        and 1 <= version <= MAX_VERSION
        and id_problem(event.aggregate_id, MAX_AGGREGATE_ID_BYTES) is None
        and timestamp is not None
        and timestamp.tzinfo is UTC
    ):
        return None
    return (
        _version_problem(version) or _stored_id_problem(event.aggregate_id) or _timestamp_problem(timestamp)
    )


# Their parameters are typed as anything: an event built with `model_construct` may hold anything.


def _version_problem(version: object) -> str | None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        return f"version must be an integer from 1 to {MAX_VERSION}, got {shown_value(version)}"
    return None


def _stored_id_problem(aggregate_id: object) -> str | None:
    problem = id_problem(aggregate_id, MAX_AGGREGATE_ID_BYTES)
    return None if problem is None else f"aggregate_id {problem}"


def _timestamp_problem(timestamp: object) -> str | None:
    if timestamp is None:
        return "it has no timestamp (event stores set it before they store the event)"
    try:
        require_aware("timestamp", timestamp)
    except ValueError as error:
        return str(error)
    return None


def check_events_query(context: StorageContext[Any], aggregate_id: str, query: EventsQuery) -> None:
    """ValueError naming the argument of a read of events that no storage could answer: an aggregate id
    that no storage holds, version bounds beyond 0 to MAX_VERSION, a limit beyond 0 to MAX_LIMIT."""
    problem = id_problem(aggregate_id, MAX_AGGREGATE_ID_BYTES)
    if problem is not None:
        raise ValueError(f"{shown(context.event_store_id)}: aggregate_id {problem}")
    low, high, limit = query.min_version, query.max_version, query.limit
    # Every read passes here: the usual values are told apart with a few comparisons, the rest checked
    # one by one (`type(...) is int` also tells bools apart).
    if (
        (low is None or (type(low) is int and 0 <= low <= MAX_VERSION))
        and (high is None or (type(high) is int and 0 <= high <= MAX_VERSION))
        and (limit is None or (type(limit) is int and 0 <= limit <= MAX_LIMIT))
    ):
        return
    where = shown(context.event_store_id)
    for name, value, most in (
        ("min_version", low, MAX_VERSION),
        ("max_version", high, MAX_VERSION),
        ("limit", limit, MAX_LIMIT),
    ):
        if value is not None:
            check_integer(where, name, value, 0, most)


def check_aggregate_ids_query(context: StorageContext[Any], query: AggregateIdsQuery) -> None:
    """ValueError naming the argument of a listing of aggregates that no storage could answer: a limit
    beyond 0 to MAX_LIMIT, timestamps that are naive or outside the years 1 to 9999 in UTC, a cursor
    whose aggregate id no storage holds."""
    where = shown(context.event_store_id)
    if query.limit is not None:
        check_integer(where, "limit", query.limit, 0, MAX_LIMIT)
    if query.initial_event_after is not None:
        _check_aware(where, "initial_event_after", query.initial_event_after)
    if query.initial_event_before is not None:
        _check_aware(where, "initial_event_before", query.initial_event_before)
    cursor = query.start_after
    if cursor is not None:
        problem = id_problem(cursor.aggregate_id, MAX_AGGREGATE_ID_BYTES)
        if problem is not None:
            raise ValueError(f"{where}: start_after.aggregate_id {problem}")
        _check_aware(where, "start_after.initial_event_timestamp", cursor.initial_event_timestamp)


def missing_previous_version(context: StorageContext[Any], event: Event) -> InvalidEventError:
    """The error for an event whose previous version is not stored (versions must be contiguous)."""
    return InvalidEventError(
        f"version {event.version - 1} is not stored: an aggregate's versions must follow each other from 1",
        event_store_id=context.event_store_id,
        aggregate_id=event.aggregate_id,
        version=event.version,
    )


def is_after(entry: AggregateIdEntry, cursor: AggregateIdEntry, *, reverse: bool) -> bool:
    """Whether `entry` comes after `cursor` in the listing order."""
    key = (entry.initial_event_timestamp, entry.aggregate_id)
    cursor_key = (cursor.initial_event_timestamp, cursor.aggregate_id)
    return key < cursor_key if reverse else key > cursor_key


def timestamp_text(timestamp: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that text order is time order and microseconds survive."""
    return timestamp.astimezone(UTC).isoformat(timespec="microseconds")


def stored_event_json(
    quoted_aggregate_id: str,
    version: int,
    event_type: str,
    timestamp: str,
    payload: str | None,
    metadata: str | None,
) -> str:
    """An event as JSON text, from the columns of its row (payload and metadata already JSON), to be
    validated in one pass. Payload and metadata come first: should a corrupted one smuggle in more keys,
    the row's own id, version, type and timestamp, written after them, still win (the last of duplicate
    keys does)."""
    parts = ["{"]
    if payload is not None:
        parts.append(f'"payload":{payload},')
    if metadata is not None:
        parts.append(f'"metadata":{metadata},')
    parts.append(
        f'"aggregate_id":{quoted_aggregate_id},"version":{version},"type":{json_string(event_type)},'
        f'"timestamp":{json_string(timestamp)}}}'
    )
    return "".join(parts)


#: Text that a JSON string holds as it is: no quote, backslash, control character or lone surrogate.
_PLAIN_TEXT = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')


def json_string(text: str) -> str:
    """`text` as a JSON string literal. Types and timestamps read back from storage are plain text that
    needs no escaping: quoted directly, which costs a fraction of `json.dumps`."""
    if _PLAIN_TEXT.fullmatch(text):
        return f'"{text}"'
    return json.dumps(text)


# -- SQL shared by the SQL adapters ---------------------------------------------------------------------


def events_query_sql(query: EventsQuery, placeholder: str) -> tuple[str, list[Any]]:
    """What follows `WHERE event_store_id = ... AND aggregate_id = ...` in a SQL adapter's read of events:
    the version bounds, the order and the limit, with `placeholder` for each parameter (`?`, `%s`)."""
    sql = ""
    parameters: list[Any] = []
    if query.min_version is not None:
        sql += f" AND version >= {placeholder}"
        parameters.append(query.min_version)
    if query.max_version is not None:
        sql += f" AND version <= {placeholder}"
        parameters.append(query.max_version)
    sql += " ORDER BY version DESC" if query.reverse else " ORDER BY version"
    if query.limit is not None:
        sql += f" LIMIT {placeholder}"
        parameters.append(query.limit)
    return sql, parameters


def aggregate_ids_query_sql(
    query: AggregateIdsQuery, placeholder: str, timestamp: Callable[[datetime], Any]
) -> tuple[str, list[Any]]:
    """What follows `WHERE event_store_id = ... AND version = 1` in a SQL adapter's listing of aggregates:
    the timestamp bounds, the keyset cursor, the order and the limit; `timestamp` turns a datetime into the
    adapter's parameter for its timestamp column."""
    sql = ""
    parameters: list[Any] = []
    if query.initial_event_after is not None:
        sql += f" AND timestamp >= {placeholder}"
        parameters.append(timestamp(query.initial_event_after))
    if query.initial_event_before is not None:
        sql += f" AND timestamp <= {placeholder}"
        parameters.append(timestamp(query.initial_event_before))
    if query.start_after is not None:
        comparison = "<" if query.reverse else ">"
        sql += f" AND (timestamp, aggregate_id) {comparison} ({placeholder}, {placeholder})"
        parameters.extend(
            (timestamp(query.start_after.initial_event_timestamp), query.start_after.aggregate_id)
        )
    sql += (
        " ORDER BY timestamp DESC, aggregate_id DESC"
        if query.reverse
        else " ORDER BY timestamp, aggregate_id"
    )
    if query.limit is not None:
        sql += f" LIMIT {placeholder}"
        parameters.append(query.limit)
    return sql, parameters
