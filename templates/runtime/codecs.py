"""Turning events into stored JSON and back, for one store's union of event classes."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from .errors import EventDecodeError, InvalidEventError
from .events import Event

EventT = TypeVar("EventT", bound=Event)


class EventCodec(Generic[EventT]):
    """(De)serialises and validates the events of one store; the `type` field selects the event class."""

    def __init__(self, event_store_id: str, adapter: TypeAdapter[EventT]) -> None:
        self.event_store_id = event_store_id
        self._adapter = adapter

    def to_json(self, event: EventT) -> bytes:
        return self._adapter.dump_json(event)

    def to_dict(self, event: EventT) -> dict[str, Any]:
        dumped: dict[str, Any] = self._adapter.dump_python(event, mode="json")
        return dumped

    def from_json(
        self, data: str | bytes, *, aggregate_id: str | None = None, version: int | None = None
    ) -> EventT:
        """Reads stored JSON; `aggregate_id` and `version`, when known, name the row in errors."""
        try:
            return self._adapter.validate_json(data)
        except ValidationError as error:
            raise EventDecodeError(
                "invalid stored event: " + describe(error),
                event_store_id=self.event_store_id,
                aggregate_id=aggregate_id,
                version=version,
            ) from error

    def from_dict(self, data: dict[str, Any]) -> EventT:
        try:
            return self._adapter.validate_python(data)
        except ValidationError as error:
            raise EventDecodeError(
                "invalid stored event: " + describe(error), event_store_id=self.event_store_id
            ) from error

    def validate(self, event: object, *, default_timestamp: datetime | None = None) -> EventT:
        """Checks an event field by field before it is stored, even one built without validation, and
        gives it `default_timestamp` if it has none.

        Raises InvalidEventError when it is not an event of this store or breaks its schema.
        """
        if not isinstance(event, Event):
            raise TypeError(f"{self.event_store_id}: expected an event, got {type(event).__name__}")
        try:
            fields = event.model_dump(round_trip=True, warnings=False)
            if fields.get("timestamp") is None:
                fields["timestamp"] = default_timestamp
            return self._adapter.validate_python(fields)
        except ValidationError as error:
            raise InvalidEventError(
                f"{type(event).__name__} is not a valid event of this store: {describe(error)}",
                event_store_id=self.event_store_id,
                aggregate_id=str(getattr(event, "aggregate_id", "?")),
                version=_version_of(event),
            ) from error


def describe(error: ValidationError) -> str:
    """One line per problem, each with the path of the field at fault."""
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or '<event>'}: {detail['msg']}"
        for detail in error.errors()
    ]
    return "; ".join(problems)


def _version_of(event: Event) -> int:
    version = getattr(event, "version", 0)
    return version if isinstance(version, int) else 0
