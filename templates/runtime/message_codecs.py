"""Messages as JSON, for adapters that carry them between processes (RabbitMQ...)."""

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from pydantic import ValidationError

from .aggregates import Aggregate
from .codecs import EventCodec, describe, non_json_number
from .errors import EventDecodeError, InvalidMessageError, KastorError
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
        """The message's body as JSON values. Raises InvalidMessageError when its event or its aggregate holds
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
        body = self.to_dict(message)
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:  # a str of Python may hold what UTF-8 cannot
            raise InvalidMessageError(
                f"a {body['kind']} message cannot be written as UTF-8 JSON: "
                f"it holds a lone surrogate ({error.object[error.start : error.end]!r})",
                event_store_id=message.event_store_id,
            ) from None

    def from_json(self, data: str | bytes) -> Message:
        """Reads a body as `to_json` writes it: UTF-8 JSON (standard numbers only, no key twice) holding
        exactly the fields of its kind. Raises MessageDecodeError for anything else."""
        _check_text_or_bytes(data)
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
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError as error:
            raise MessageDecodeError(f"a message body is not UTF-8: {error}") from None
        try:
            body = json.loads(
                text,
                parse_constant=_refuse_constant,
                parse_float=_finite_float,
                object_pairs_hook=_object_without_repeated_keys,
            )
        except (ValueError, RecursionError) as error:
            raise MessageDecodeError(f"a message body is not JSON: {error}") from None
        if _may_hold_surrogates(text):
            try:
                json.dumps(body, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError as error:
                raise MessageDecodeError(
                    "a message body is not valid Unicode: it holds a lone surrogate "
                    f"({error.object[error.start : error.end]!r})"
                ) from None
        return self.from_dict(body)

    def from_dict(self, body: object) -> Message:
        """Reads a body already parsed from JSON; every field of its kind is checked, and no other is allowed."""
        if not isinstance(body, dict):
            raise MessageDecodeError(f"a message body must be a JSON object, got {_json_type(body)}")
        fields = cast("dict[object, object]", body)
        if "event_store_id" not in fields:
            raise MessageDecodeError("a message body has no event_store_id")
        store_id = fields["event_store_id"]
        if not isinstance(store_id, str):
            raise MessageDecodeError(
                f"a message body's event_store_id must be a string, got {_json_type(store_id)}"
            )
        codec, aggregate_class = self._store(store_id)
        kind = fields.get("kind")
        if not isinstance(kind, str) or kind not in _FIELDS:
            raise MessageDecodeError(
                f"{store_id}: unknown message kind {_shown(kind)} (kinds: {', '.join(sorted(_FIELDS))})"
            )
        missing = sorted(_FIELDS[kind] - fields.keys())
        if missing:
            raise MessageDecodeError(f"{store_id}: malformed {kind} message: no {', '.join(missing)}")
        unexpected = sorted(_shown(key) for key in fields.keys() - _FIELDS[kind])
        if unexpected:
            raise MessageDecodeError(
                f"{store_id}: malformed {kind} message: unexpected field{'s' if len(unexpected) > 1 else ''} "
                f"{', '.join(unexpected[:5])}{', ...' if len(unexpected) > 5 else ''} "
                f"(a {kind} message has {', '.join(sorted(_FIELDS[kind]))})"
            )
        if kind == "aggregate-exists":
            return AggregateExistsMessage(
                store_id,
                _aggregate_id(store_id, fields["aggregate_id"]),
                _timestamp(store_id, fields["initial_event_timestamp"]),
            )
        event = _event(store_id, codec, fields["event"])
        if kind == "notification":
            return NotificationMessage(store_id, event)
        aggregate = _aggregate(store_id, aggregate_class, fields["aggregate"])
        if (aggregate.aggregate_id, aggregate.version) != (event.aggregate_id, event.version):
            raise MessageDecodeError(
                f"{store_id}: a state-carrying message carries the aggregate {_shown(aggregate.aggregate_id)} "
                f"at version {aggregate.version}, but its event is of {_shown(event.aggregate_id)} "
                f"at version {event.version}: the aggregate must be the one as of its event"
            )
        return StateCarryingMessage(store_id, event, aggregate)

    def _store(self, event_store_id: str) -> tuple[EventCodec[Any], type[Aggregate]]:
        try:
            return self._stores[event_store_id]
        except KeyError:
            known = ", ".join(sorted(self._stores))
            raise MessageDecodeError(
                f"no store {_shown(event_store_id)} in this package (stores: {known})"
            ) from None


_FIELDS: Mapping[str, frozenset[str]] = {
    "notification": frozenset({"kind", "event_store_id", "event"}),
    "state-carrying": frozenset({"kind", "event_store_id", "event", "aggregate"}),
    "aggregate-exists": frozenset({"kind", "event_store_id", "aggregate_id", "initial_event_timestamp"}),
}
"""The fields of a body of each kind: all of them, and no other."""

# A lone surrogate can come only from a \uD800-\uDFFF escape, or from a Python str that holds one.
_SURROGATE_HINT = re.compile(r"\\u[dD]|[\ud800-\udfff]")


def _may_hold_surrogates(text: str) -> bool:
    """Whether parsing `text` may have given strings with lone surrogates (a quick, conservative test)."""
    return _SURROGATE_HINT.search(text) is not None


def _check_text_or_bytes(data: object) -> None:
    """MessageDecodeError unless `data` is str or bytes: a broker's client may hand over anything."""
    if not isinstance(data, str | bytes):
        raise MessageDecodeError(f"a message body must be str or bytes, got {type(data).__name__}")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{_shown(text)} is too large for a float")
    return number


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"an object repeats the key {_shown(key)}")
            seen.add(key)
    return fields


def _aggregate_id(store_id: str, value: object) -> str:
    if not isinstance(value, str):
        raise MessageDecodeError(
            f"{store_id}: an aggregate-exists message's aggregate_id must be a string, got {_json_type(value)}"
        )
    return value


def _timestamp(store_id: str, value: object) -> datetime:
    where = f"{store_id}: an aggregate-exists message's initial_event_timestamp"
    if not isinstance(value, str):
        raise MessageDecodeError(f"{where} must be an ISO 8601 string, got {_json_type(value)}")
    try:
        timestamp = datetime.fromisoformat(value)
    except ValueError:
        raise MessageDecodeError(f"{where} is not an ISO 8601 date and time: {_shown(value)}") from None
    try:
        return require_aware("initial_event_timestamp", timestamp)
    except ValueError as error:  # naive, or outside the years 1 to 9999 once in UTC
        raise MessageDecodeError(f"{store_id}: {error}") from None


def _event(store_id: str, codec: EventCodec[Any], value: object) -> Any:
    if not isinstance(value, dict):
        raise MessageDecodeError(
            f"{store_id}: a message's event must be a JSON object, got {_json_type(value)}"
        )
    try:
        return codec.from_dict(cast("dict[str, Any]", value))
    except EventDecodeError as error:
        raise MessageDecodeError(f"{store_id}: invalid event in a message: {error}") from error
    except (OverflowError, RecursionError) as error:  # a timestamp out of range, nesting past any schema
        raise MessageDecodeError(f"{store_id}: invalid event in a message: {error!r}") from None


def _aggregate(store_id: str, aggregate_class: type[Aggregate], value: object) -> Aggregate:
    if not isinstance(value, dict):
        raise MessageDecodeError(
            f"{store_id}: a state-carrying message's aggregate must be a JSON object, got {_json_type(value)}"
        )
    try:
        return aggregate_class.model_validate(value)
    except ValidationError as error:
        raise MessageDecodeError(f"{store_id}: invalid aggregate in a message: {describe(error)}") from error
    except (OverflowError, RecursionError) as error:
        raise MessageDecodeError(f"{store_id}: invalid aggregate in a message: {error!r}") from None


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as a reader of the body sees it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: object, at_most: int = 60) -> str:
    """`value`'s repr, cut short: a hostile body may hold huge strings where a name is expected."""
    shown = repr(value)
    return shown if len(shown) <= at_most else f"{shown[: at_most - 5]}...{shown[-2:]}"


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
    """InvalidMessageError, naming the event, if its event or aggregate holds a number JSON cannot hold."""
    event = message.event
    problem = non_json_number(event)
    if problem is None and isinstance(message, StateCarryingMessage):
        problem = non_json_number(message.aggregate)
        problem = None if problem is None else f"aggregate.{problem}"
    if problem is not None:
        raise InvalidMessageError(
            f"{event.aggregate_id} v{event.version}: {problem}", event_store_id=message.event_store_id
        )
