"""Kastor runtime: the base types that every generated package shares.

These files are copied verbatim into each generated package, so an application needs nothing from
Kastor at run time, only pydantic.
"""

from .aggregates import Aggregate
from .codecs import EventCodec
from .errors import EventDecodeError, InvalidEventError, KastorError
from .events import Event
from .reducers import Reducer

__all__ = [
    "Aggregate",
    "Event",
    "EventCodec",
    "EventDecodeError",
    "InvalidEventError",
    "KastorError",
    "Reducer",
]
