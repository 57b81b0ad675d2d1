"""Turning events into stored JSON and back, for one store's union of event classes."""

from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from .errors import EventDecodeError
from .events import Event

EventT = TypeVar("EventT", bound=Event)


class EventCodec(Generic[EventT]):
    """(De)serialises the events of one store; the `type` field selects the event class."""

    def __init__(self, event_store_id: str, adapter: TypeAdapter[EventT]) -> None:
        self.event_store_id = event_store_id
        self._adapter = adapter

    def to_json(self, event: EventT) -> bytes:
        return self._adapter.dump_json(event)

    def to_dict(self, event: EventT) -> dict[str, Any]:
        dumped: dict[str, Any] = self._adapter.dump_python(event, mode="json")
        return dumped

    def from_json(self, data: str | bytes) -> EventT:
        try:
            return self._adapter.validate_json(data)
        except ValidationError as error:
            raise EventDecodeError(_describe(error), event_store_id=self.event_store_id) from error

    def from_dict(self, data: dict[str, Any]) -> EventT:
        try:
            return self._adapter.validate_python(data)
        except ValidationError as error:
            raise EventDecodeError(_describe(error), event_store_id=self.event_store_id) from error


def _describe(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or '<event>'}: {detail['msg']}"
        for detail in error.errors()
    ]
    return "invalid stored event: " + "; ".join(problems)
