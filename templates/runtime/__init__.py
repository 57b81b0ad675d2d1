"""Kastor runtime: the base types that every generated package shares.

These files are copied verbatim into each generated package, so an application needs nothing from
Kastor at run time, only pydantic.
"""

from .aggregates import Aggregate
from .codecs import EventCodec
from .commands import Command, OnEventAlreadyExists, RetryAttempt
from .errors import (
    AggregateNotFoundError,
    EventAlreadyExistsError,
    EventDecodeError,
    EventGroupError,
    EventStorageError,
    InvalidEventError,
    InvalidPageTokenError,
    KastorError,
    UndefinedEventStorageAdapterError,
)
from .events import Event
from .in_memory_storage import InMemoryEventStorageAdapter
from .reducers import Reducer
from .results import GetAggregateResult, GetExistingAggregateResult, ListAggregateIdsResult, PushEventResult
from .sqlite_storage import SQLiteEventStorageAdapter
from .storage import AggregateIdEntry, AggregateIdsQuery, EventsQuery, EventStorageAdapter, StorageContext
from .stores import EventStore, GroupedEvent, OnEventPushed
from .testing import MockedEventStore, mock_event_store, mute_event_store

__all__ = [
    "Aggregate",
    "AggregateIdEntry",
    "AggregateIdsQuery",
    "AggregateNotFoundError",
    "Command",
    "Event",
    "EventAlreadyExistsError",
    "EventCodec",
    "EventDecodeError",
    "EventGroupError",
    "EventStorageAdapter",
    "EventStorageError",
    "EventStore",
    "EventsQuery",
    "GetAggregateResult",
    "GetExistingAggregateResult",
    "GroupedEvent",
    "InMemoryEventStorageAdapter",
    "InvalidEventError",
    "InvalidPageTokenError",
    "KastorError",
    "ListAggregateIdsResult",
    "MockedEventStore",
    "OnEventAlreadyExists",
    "OnEventPushed",
    "PushEventResult",
    "Reducer",
    "RetryAttempt",
    "SQLiteEventStorageAdapter",
    "StorageContext",
    "UndefinedEventStorageAdapterError",
    "mock_event_store",
    "mute_event_store",
]
