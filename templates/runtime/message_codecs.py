"""Messages as JSON, for adapters that carry them between processes (RabbitMQ...)."""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from pydantic import ValidationError

from .aggregates import Aggregate
from .codecs import EventCodec, describe, non_json_number
from .errors import EventDecodeError, InvalidEventError, KastorError
from .limits import EventLimits, default_event_limits, nests_deeper_than, size_of
from .messages import AggregateExistsMessage, Message, NotificationMessage, StateCarryingMessage
from .timestamps import require_aware


class MessageDecodeError(KastorError):
    """A message body could not be turned back into a message of a known store."""


class MessageCodec:
    """Writes messages of a package's stores as JSON objects and reads them back as typed messages.

    The body names its kind (`notification`, `state-carrying`, `aggregate-exists`) and its store; the
    event is the store codec's JSON and the aggregate its model's, so that other languages can read it.
    `from_json` refuses bodies over `limits` (by default the package's, which `set_default_event_limits`
    changes): larger than `max_read_bytes`, or nesting deeper than `max_depth` + 1 (the body wraps its event).
    """

    def __init__(
        self,
        stores: Mapping[str, tuple[EventCodec[Any], type[Aggregate]]],
        *,
        limits: EventLimits | None = None,
    ) -> None:
        self._stores = dict(stores)
        self._limits = limits

    @property
    def limits(self) -> EventLimits:
        """The limits of the bodies it reads: its own if it was given some, else the package's default."""
        return self._limits if self._limits is not None else default_event_limits()

    @limits.setter
    def limits(self, limits: EventLimits | None) -> None:
        self._limits = limits

    @property
    def event_store_ids(self) -> frozenset[str]:
        return frozenset(self._stores)

    def to_dict(self, message: Message) -> dict[str, Any]:
        """The message's body as JSON values. Raises InvalidEventError when its event or its aggregate holds
        NaN or an infinity, which JSON cannot hold (the body would otherwise say null)."""
        _check_own_message(message)
        if isinstance(message, AggregateExistsMessage):
            self._store(message.event_store_id)
            return {
                "kind": "aggregate-exists",
                "event_store_id": message.event_store_id,
                "aggregate_id": message.aggregate_id,
                "initial_event_timestamp": message.initial_event_timestamp.isoformat(),
            }
        codec, _ = self._store(message.event_store_id)
        _check_json_numbers(message)
        body: dict[str, Any] = {
            "event_store_id": message.event_store_id,
            "event": codec.to_dict(message.event),
        }
        if isinstance(message, StateCarryingMessage):
            body["kind"] = "state-carrying"
            body["aggregate"] = message.aggregate.model_dump(mode="json", by_alias=True)
        else:
            body["kind"] = "notification"
        return body

    def to_json(self, message: Message) -> bytes:
        return json.dumps(self.to_dict(message), separators=(",", ":"), ensure_ascii=False).encode()

    def from_json(self, data: str | bytes) -> Message:
        limits = self.limits
        size = size_of(data, limits.max_read_bytes)
        if size > limits.max_read_bytes:
            raise MessageDecodeError(
                f"a message body is {size} bytes, over the limit of {limits.max_read_bytes} "
                "(EventLimits.max_read_bytes)"
            )
        if nests_deeper_than(data, limits.max_depth + 1):
            raise MessageDecodeError(
                f"a message body nests arrays and objects deeper than the limit of {limits.max_depth + 1} "
                f"levels (its event's {limits.max_depth}, EventLimits.max_depth, and the body's own)"
            )
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise MessageDecodeError(f"a message body is not JSON: {error}") from error
        return self.from_dict(body)

    def from_dict(self, body: object) -> Message:
        if not isinstance(body, dict):
            raise MessageDecodeError(f"a message body must be a JSON object, got {type(body).__name__}")
        fields = cast("dict[str, Any]", body)  # parsed JSON: its values are checked below
        kind, store_id = fields.get("kind"), fields.get("event_store_id")
        if not isinstance(store_id, str):
            raise MessageDecodeError("a message body has no event_store_id")
        if kind not in ("notification", "state-carrying", "aggregate-exists"):
            raise MessageDecodeError(f"{store_id}: unknown message kind {kind!r}")
        codec, aggregate_class = self._store(store_id)
        try:
            if kind == "aggregate-exists":
                timestamp = datetime.fromisoformat(fields["initial_event_timestamp"])
                return AggregateExistsMessage(
                    store_id, str(fields["aggregate_id"]), require_aware("initial_event_timestamp", timestamp)
                )
            event = codec.from_dict(fields["event"])
            if kind == "notification":
                return NotificationMessage(store_id, event)
            return StateCarryingMessage(store_id, event, aggregate_class.model_validate(fields["aggregate"]))
        except EventDecodeError as error:
            raise MessageDecodeError(f"{store_id}: invalid event in a message: {error}") from error
        except ValidationError as error:
            raise MessageDecodeError(
                f"{store_id}: invalid aggregate in a message: {describe(error)}"
            ) from error
        except (KeyError, TypeError, ValueError) as error:
            raise MessageDecodeError(f"{store_id}: malformed {kind} message: {error!r}") from error

    def _store(self, event_store_id: str) -> tuple[EventCodec[Any], type[Aggregate]]:
        try:
            return self._stores[event_store_id]
        except KeyError:
            known = ", ".join(sorted(self._stores))
            raise MessageDecodeError(
                f"no store {event_store_id!r} in this package (stores: {known})"
            ) from None


def _check_own_message(message: object) -> None:
    """TypeError unless `message` is a message of this runtime (its type is not checked by every caller).

    Says so rather than guess a kind: a message of another package's runtime is not one of these.
    """
    if not isinstance(message, AggregateExistsMessage | NotificationMessage | StateCarryingMessage):
        raise TypeError(
            f"{type(message).__name__} is not a message of this package (a NotificationMessage, "
            "StateCarryingMessage or AggregateExistsMessage of its runtime)"
        )


def _check_json_numbers(message: NotificationMessage[Any, Any] | StateCarryingMessage[Any, Any, Any]) -> None:
    """InvalidEventError, naming the event, if its event or aggregate holds a number JSON cannot hold."""
    event = message.event
    problem = non_json_number(event)
    if problem is None and isinstance(message, StateCarryingMessage):
        problem = non_json_number(message.aggregate)
        problem = None if problem is None else f"aggregate.{problem}"
    if problem is not None:
        raise InvalidEventError(
            problem,
            event_store_id=message.event_store_id,
            aggregate_id=str(event.aggregate_id),
            version=event.version,
        )
