"""The base class of every generated event class."""

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from .limits import MAX_VERSION
from .timestamps import to_utc


# Configured by class arguments rather than `model_config`: type checkers see `frozen` there (through
# `dataclass_transform`), so they let generated subclasses, frozen too, narrow `type` and `event_store_id`.
class Event(BaseModel, frozen=True, extra="forbid"):
    """One immutable fact of an aggregate's history.

    Generated subclasses add `type` (a string literal), `payload` and `metadata` when their spec
    declares them. `timestamp` is optional on input: the event store sets it when it pushes the event.
    """

    #: The id of the store whose events are of this class (set by each generated class).
    event_store_id: ClassVar[str]

    aggregate_id: str
    #: 1 for the aggregate's first event; an int (not a bool), at most MAX_VERSION (what every storage holds).
    version: Annotated[int, Field(ge=1, le=MAX_VERSION, strict=True)]
    timestamp: AwareDatetime | None = None
    #: The event type; each generated class narrows it to its own string literal.
    type: str

    def model_post_init(self, context: Any, /) -> None:
        # Each class gives `type` as a default, so it is never "set"; written JSON leaves out what was not
        # set (see codecs), and the type must be written all the same.
        self.__pydantic_fields_set__.add("type")

    @field_validator("timestamp")
    @classmethod
    def _normalise_to_utc(cls, value: datetime | None) -> datetime | None:
        # One canonical zone makes stored and re-read events compare equal. A time that is out of range
        # once in UTC is a ValueError here, which pydantic reports as a ValidationError of this field.
        return None if value is None else to_utc(value)
