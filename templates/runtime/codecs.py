"""Turning events into stored JSON and back, for one store's union of event classes.

What is read back is untrusted: a stored row may be corrupted, of an event type the package no longer has,
huge or deeply nested. Reading such data raises EventDecodeError naming the store (and the aggregate and
version when the caller gives them), never a raw error of the JSON parser or of pydantic. Pushed events
and read JSON are held to the codec's `EventLimits` (see limits.py).
"""

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from .errors import EventDecodeError, InvalidEventError
from .event_schemas import EventSchemas
from .events import Event
from .limits import EventLimits, checked_limits, default_event_limits, nests_deeper_than, size_of
from .timestamps import require_aware

EventT = TypeVar("EventT", bound=Event)

#: How many problems an error message lists at most (a hostile payload may hold millions).
MAX_PROBLEMS = 10


class EventCodec(Generic[EventT]):
    """(De)serialises and validates the events of one store; the `type` field selects the event class.

    `limits` bounds the size and nesting of the JSON it writes and reads; without limits of its own
    (the default) it follows the package's default, which `set_default_event_limits` changes. `schemas`,
    the store's JSON Schemas, decide what an event may hold: every event it validates, and every event it
    reads but those its store wrote, is checked against them.
    """

    def __init__(
        self,
        event_store_id: str,
        adapter: TypeAdapter[EventT],
        *,
        limits: EventLimits | None = None,
        schemas: EventSchemas | None = None,
    ) -> None:
        self.event_store_id = event_store_id
        self._adapter = adapter
        self._limits = limits
        self.schemas = schemas
        self._depth: float | None = None  # see _schema_depth

    @property
    def limits(self) -> EventLimits:
        """The codec's limits: its own if it was given some, else the package's current default."""
        return self._limits if self._limits is not None else default_event_limits()

    @limits.setter
    def limits(self, limits: EventLimits | None) -> None:
        """Gives the codec limits of its own (None: follow the package's default again)."""
        self._limits = checked_limits(limits)

    def to_json(self, event: EventT) -> bytes:
        """The event's JSON: what it was given, no more (defaults are applied on read, never written).

        Raises InvalidEventError when the event holds NaN or an infinity, which JSON cannot hold.
        """
        data = self._adapter.dump_json(event, by_alias=True, exclude_unset=True)
        problem = non_json_number(event, data)
        if problem is not None:
            raise self._invalid(event, problem)
        return data

    def to_dict(self, event: EventT) -> dict[str, Any]:
        """The event's JSON as Python values, for an event that `validate` accepted (NaN and infinities, which
        it refuses, would be written as null here)."""
        dumped: dict[str, Any] = self._adapter.dump_python(
            event, mode="json", by_alias=True, exclude_unset=True
        )
        return dumped

    def from_json(
        self,
        data: str | bytes,
        *,
        aggregate_id: str | None = None,
        version: int | None = None,
        check_schemas: bool = True,
    ) -> EventT:
        """Reads an event's JSON; `aggregate_id` and `version`, when known, name the row in errors.

        Raises EventDecodeError when the JSON is malformed, over the limits, not an event of this store, or
        breaks its schemas. Storage adapters pass `check_schemas=False` for the rows their store wrote: those
        were checked before they were stored.
        """
        limits = self._limits or default_event_limits()
        depth = self._depth if self._depth is not None else self._schema_depth()
        # A text has at most 4 bytes a character. Valid events of most stores cannot nest too deeply: for
        # them, nesting is measured only if the event is refused (its parser has a depth limit of its own).
        if 4 * len(data) > limits.max_read_bytes or depth > limits.max_depth:
            problem = _over_read_limits(data, limits)
            if problem is not None:
                raise self._undecodable(problem, aggregate_id, version)
        try:
            event = self._adapter.validate_json(data)
        except ValidationError as error:
            problem = _over_read_limits(data, limits) if depth <= limits.max_depth else None
            if problem is not None:  # the limit says it all (and the parser's own may have refused it)
                raise self._undecodable(problem, aggregate_id, version) from None
            raise self._undecodable(explain(error), aggregate_id, version) from error
        if check_schemas and self.schemas is not None:
            self._check_read_schemas(event, json.loads(data), aggregate_id, version)
        return event

    def from_dict(
        self,
        data: dict[str, Any],
        *,
        aggregate_id: str | None = None,
        version: int | None = None,
        check_schemas: bool = True,
    ) -> EventT:
        """Reads an event already parsed from JSON (whose parser held it to the limits: size and nesting
        are not checked again)."""
        try:
            event = self._adapter.validate_python(data)
        except ValidationError as error:
            raise self._undecodable(explain(error), aggregate_id, version) from error
        if check_schemas and self.schemas is not None:
            self._check_read_schemas(event, data, aggregate_id, version)
        return event

    def _check_read_schemas(
        self, event: EventT, fields: Any, aggregate_id: str | None, version: int | None
    ) -> None:
        schemas = self.schemas
        if schemas is not None and not schemas.is_valid(event.type, fields):
            problems = "; ".join(schemas.problems(event.type, fields))
            raise self._undecodable(
                f"{type(event).__name__} breaks its schema: {problems}", aggregate_id, version
            )

    def _undecodable(self, problem: str, aggregate_id: str | None, version: int | None) -> EventDecodeError:
        return EventDecodeError(
            f"invalid stored event: {problem}",
            event_store_id=self.event_store_id,
            aggregate_id=aggregate_id,
            version=version,
        )

    def validate(self, event: object, *, default_timestamp: datetime | None = None) -> EventT:
        """Checks an event field by field before it is stored, even one built without validation, and
        gives it `default_timestamp` if it has none.

        The event is checked as the JSON it will be stored as: its size and nesting against the codec's
        limits first, then its schema. Raises InvalidEventError when it is over the limits, is not an
        event of this store or breaks its schema.
        """
        if not isinstance(event, Event):
            raise TypeError(f"{self.event_store_id}: expected an event, got {type(event).__name__}")
        limits = self._limits or default_event_limits()
        try:
            data = type(event).__pydantic_serializer__.to_json(
                event, round_trip=True, by_alias=True, exclude_unset=True, warnings=False
            )
        except PydanticSerializationError as error:
            raise self._unwritable(event, error, limits, default_timestamp) from error
        if len(data) > limits.max_event_bytes:
            raise self._invalid(
                event,
                f"{type(event).__name__} is {len(data)} bytes of JSON, over the limit of "
                f"{limits.max_event_bytes} (EventLimits.max_event_bytes)",
            )
        # Valid events of most stores cannot nest deeper than their schema: only the others are measured
        # before validation, the rest only if refused by it.
        depth = self._depth if self._depth is not None else self._schema_depth()
        if depth > limits.max_depth and nests_deeper_than(data, limits.max_depth):
            raise self._invalid(event, _too_deep(type(event).__name__, limits))
        try:
            validated = self._adapter.validate_json(data)
        except ValidationError as error:
            if depth <= limits.max_depth and nests_deeper_than(data, limits.max_depth):
                raise self._invalid(event, _too_deep(type(event).__name__, limits)) from error
            problem = non_json_number(event, data)  # written as null, which a number field refuses
            if problem is not None:
                raise self._invalid(event, problem) from None
            raise self._invalid(
                event, f"{type(event).__name__} is not a valid event of this store: {explain(error)}"
            ) from error
        # pydantic writes NaN and infinities as null: read back, the event would differ from the one pushed.
        # Comparing them (in C, for JSON values) costs less than searching the event for such numbers,
        # which is done only if they differ, and only if the JSON holds a null at all.
        if b"null" in data and validated != event:
            problem = non_json_number(event, data)
            if problem is not None:
                raise self._invalid(event, problem)
        if self.schemas is not None:
            fields = json.loads(data)
            if not self.schemas.is_valid(validated.type, fields):
                problems = "; ".join(self.schemas.problems(validated.type, fields))
                raise self._invalid(event, f"{type(event).__name__} breaks its schema: {problems}")
        if validated.timestamp is None and default_timestamp is not None:
            try:
                timestamp = require_aware("default_timestamp", default_timestamp)
            except ValueError as error:
                raise self._invalid(event, str(error)) from error
            # The event is new and not shared yet: completed in place, which copying would cost more than
            # all the rest (its validator's work, an aware timestamp in UTC, is done just above).
            vars(validated)["timestamp"] = timestamp
            validated.__pydantic_fields_set__.add("timestamp")
        return validated

    def _schema_depth(self) -> float:
        """How deeply the JSON of a valid event of this store may nest (infinity: without bound)."""
        if self._depth is None:
            try:
                bound = schema_depth(self._adapter.core_schema)
            except RecursionError:  # a schema of absurd nesting: measure every event
                bound = None
            self._depth = math.inf if bound is None else bound
        return self._depth

    def _unwritable(
        self,
        event: Event,
        error: PydanticSerializationError,
        limits: EventLimits,
        default_timestamp: datetime | None,
    ) -> InvalidEventError:
        """Why an event cannot be written as JSON: too deep, or what its schema says of its fields."""
        name = type(event).__name__
        if "depth" in str(error):
            return self._invalid(event, _too_deep(name, limits))
        # Values JSON cannot hold (objects of unknown types...): the schema names the fields at fault.
        try:
            fields = event.model_dump(round_trip=True, by_alias=True, exclude_unset=True, warnings=False)
            if fields.get("timestamp") is None:
                fields["timestamp"] = default_timestamp
            self._adapter.validate_python(fields)
        except ValidationError as invalid:
            return self._invalid(event, f"{name} is not a valid event of this store: {explain(invalid)}")
        except Exception:  # whatever dumping it raised, the serialization error says enough
            pass
        return self._invalid(event, f"{name} cannot be written as JSON: {error}")

    def _invalid(self, event: Event, message: str) -> InvalidEventError:
        return InvalidEventError(
            message,
            event_store_id=self.event_store_id,
            aggregate_id=str(getattr(event, "aggregate_id", "?")),
            version=_version_of(event),
        )


def non_json_number(model: BaseModel, data: bytes | None = None) -> str | None:
    """Where a model holds a number that JSON cannot (NaN, infinity, -infinity), and which, if any:
    `payload.stats.ratio: NaN is not a JSON number`.

    pydantic writes such numbers as null, so a model whose JSON (`data`, when already at hand) holds no
    null holds none of them: the normal path costs one search of the bytes, in C. Otherwise the model's
    values go through the C encoder of `json`, which refuses such numbers; only then are they walked in
    Python, to name where.
    """
    if data is not None and b"null" not in data:
        return None
    serializer = type(model).__pydantic_serializer__
    options: dict[str, Any] = {"round_trip": True, "by_alias": True, "exclude_unset": True, "warnings": False}
    try:
        if data is None and b"null" not in serializer.to_json(model, **options):
            return None
        _FINITE_JSON.encode(model)
        return None
    except PydanticSerializationError:  # not JSON at all: the caller's own checks say why
        return None
    except (ValueError, TypeError, RecursionError):  # NaN or infinity, or values json.dumps cannot take
        pass
    try:
        values = serializer.to_python(model, **options)  # as it is written, numbers kept as they are
    except PydanticSerializationError:
        return None
    return _non_json_number(values)


def _fields_of(value: object) -> object:
    """What `json.dumps` writes for a value it does not know: a model's fields; anything else (datetimes...)
    holds no float, so null."""
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        return vars(value) if not extra else {**vars(value), **extra}
    return None


#: Refuses NaN and infinities. Models are serialised by pydantic first, so without cycles: not looked for.
_FINITE_JSON = json.JSONEncoder(allow_nan=False, check_circular=False, default=_fields_of)


def _non_json_number(values: object) -> str | None:
    """The path of the first float that JSON cannot hold in values dumped by pydantic, and what it is
    (walked without recursion: the values may nest as deeply as their serializer allowed)."""
    pending: list[tuple[str, object]] = [("", values)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                number = "NaN" if math.isnan(value) else "infinity" if value > 0 else "-infinity"
                return f"{path or '<value>'}: {number} is not a JSON number"
            continue
        items: list[tuple[object, object]]
        if isinstance(value, Mapping):
            items = list(cast("Mapping[object, object]", value).items())
        elif isinstance(value, list | tuple | set | frozenset):
            items = list(enumerate(cast("Iterable[object]", value)))
        else:
            continue
        # Reversed onto the stack, so that the first in document order is found first.
        pending.extend((f"{path}.{key}" if path else str(key), inner) for key, inner in reversed(items))
    return None


def describe(error: ValidationError) -> str:
    """One line per problem (the first MAX_PROBLEMS of them), each with the path of the field at fault."""
    details = error.errors(include_url=False, include_context=False, include_input=False)
    problems = [
        f"{'.'.join(str(part) for part in detail['loc']) or '<event>'}: {detail['msg']}"
        for detail in details[:MAX_PROBLEMS]
    ]
    if len(details) > MAX_PROBLEMS:
        problems.append(f"and {len(details) - MAX_PROBLEMS} more problems")
    return "; ".join(problems)


def explain(error: ValidationError) -> str:
    """What is wrong with an event, in the words of the event store: an unknown or missing event type,
    malformed JSON, else the fields at fault (`describe`)."""
    details = error.errors(include_url=False)
    for detail in details:
        kind, context = detail["type"], detail.get("ctx", {})
        if kind == "union_tag_invalid":
            return f"unknown event type {context.get('tag')!r} (known types: {context.get('expected_tags')})"
        if kind == "literal_error" and detail["loc"] == ("type",):  # a store of a single event type
            return f"unknown event type {detail['input']!r} (known types: {context.get('expected')})"
        if kind == "union_tag_not_found":
            return "it has no event type (no 'type' field)"
        if kind == "json_invalid":
            return f"it is not valid JSON ({context.get('error', detail['msg'])})"
    return describe(error)


def _over_read_limits(data: str | bytes, limits: EventLimits) -> str | None:
    """What makes JSON to read over the limits, if anything."""
    size = size_of(data, limits.max_read_bytes)
    if size > limits.max_read_bytes:
        return f"{size} bytes of JSON, over the limit of {limits.max_read_bytes} (EventLimits.max_read_bytes)"
    if nests_deeper_than(data, limits.max_depth):
        return (
            f"arrays and objects nest deeper than the limit of {limits.max_depth} levels "
            "(EventLimits.max_depth)"
        )
    return None


def _too_deep(name: str, limits: EventLimits) -> str:
    return (
        f"{name} nests arrays and objects deeper than the limit of {limits.max_depth} levels "
        "(EventLimits.max_depth)"
    )


def _version_of(event: Event) -> int:
    version = getattr(event, "version", 0)
    return version if isinstance(version, int) else 0


#: Schemas of values that JSON writes without nesting: strings, numbers, booleans, null.
_FLAT_SCHEMAS = frozenset(
    {
        "str", "int", "float", "bool", "none", "literal", "enum", "datetime", "date", "time", "timedelta",
        "uuid", "decimal", "bytes", "url", "multi-host-url", "complex", "json",
    }
)  # fmt: skip
#: Schemas that wrap one other schema (under the given key), nesting nothing themselves.
_WRAPPING_SCHEMAS = {
    "default": "schema",
    "nullable": "schema",
    "function-before": "schema",
    "function-after": "schema",
    "function-wrap": "schema",
    "model": "schema",
    "dataclass": "schema",
}


def _mapping(node: object) -> Mapping[str, Any] | None:
    """A node of a core schema (untyped: dicts, lists and tuples) when it is a mapping, else None."""
    return cast("Mapping[str, Any]", node) if isinstance(node, Mapping) else None


def _items(node: object) -> Sequence[Any]:
    """A node of a core schema when it is a list or a tuple, else ()."""
    return cast("Sequence[Any]", node) if isinstance(node, list | tuple) else ()


def schema_depth(schema: Mapping[str, Any]) -> int | None:
    """How deeply JSON valid against a pydantic core schema may nest (an object or an array is one level
    more than what it holds): None when it has no bound (recursive or free-form schemas) or the schema
    is not one this function knows."""
    definitions: dict[str, Mapping[str, Any]] = {}

    def collect(node: object) -> None:
        # Every schema that carries a `ref` may be referred to from anywhere.
        stack = [node]
        while stack:
            item = stack.pop()
            mapping = _mapping(item)
            if mapping is not None:
                ref = mapping.get("ref")
                if isinstance(ref, str) and "type" in mapping:
                    definitions.setdefault(ref, mapping)
                stack.extend(mapping.values())
            else:
                stack.extend(_items(item))

    def deepest(nodes: list[Any], visiting: frozenset[str]) -> int | None:
        depths = [depth(node, visiting) for node in nodes]
        return None if None in depths else max((d for d in depths if d is not None), default=0)

    def depth(schema_node: object, visiting: frozenset[str]) -> int | None:
        node = _mapping(schema_node)
        if node is None:
            return None
        kind = node.get("type")
        ref = node.get("ref")
        if isinstance(ref, str):
            if ref in visiting:
                return None  # recursive
            visiting = visiting | {ref}
        config = _mapping(node.get("config"))
        if (
            node.get("extra_behavior") == "allow"
            or (config is not None and config.get("extra_fields_behavior") == "allow")
            or "extras_schema" in node
            or node.get("computed_fields")
        ):
            return None  # writes fields that its schema does not describe
        if kind in _FLAT_SCHEMAS:
            return 0
        if kind in _WRAPPING_SCHEMAS:
            return depth(node.get(_WRAPPING_SCHEMAS[kind]), visiting)
        if kind == "definition-ref":
            target = definitions.get(node.get("schema_ref", ""))
            return None if target is None else depth(target, visiting)
        if kind == "definitions":
            return depth(node.get("schema"), visiting)
        if kind in ("model-fields", "typed-dict", "dataclass-args"):
            fields = node.get("fields")
            named = _mapping(fields)
            inner = deepest(
                [field.get("schema") for field in (named.values() if named is not None else _items(fields))],
                visiting,
            )
            return None if inner is None else inner + 1
        if kind in ("list", "set", "frozenset", "dict"):
            inner = depth(node.get("items_schema" if kind != "dict" else "values_schema"), visiting)
            return None if inner is None else inner + 1
        if kind == "tuple":
            inner = deepest(list(node.get("items_schema", [])), visiting)
            return None if inner is None else inner + 1
        if kind == "union":
            return deepest([c[0] if isinstance(c, tuple) else c for c in node.get("choices", [])], visiting)
        if kind == "tagged-union":
            return deepest(list(node.get("choices", {}).values()), visiting)
        if kind == "json-or-python":
            return deepest([node.get("json_schema"), node.get("python_schema")], visiting)
        if kind == "lax-or-strict":
            return deepest([node.get("lax_schema"), node.get("strict_schema")], visiting)
        if kind == "chain":
            return deepest(list(node.get("steps", [])), visiting)
        return None  # free-form (`any`), or unknown

    collect(schema)
    return depth(schema, frozenset())
