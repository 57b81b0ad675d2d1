"""Checks loaded spec files: structure first (pydantic models), then names and cross-references.

Every problem becomes a `Diagnostic` at the position of what it is about; nothing stops at the first.
"""

import copy
import difflib
import functools
import keyword
import math
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from . import naming
from .all_of import typed_view
from .diagnostics import Diagnostic, SourcePosition
from .schema_values import declared_types, default_type_problem, value_problems
from .spec_model import (
    DEFINITION_REF_PREFIX,
    AggregateSpec,
    ChannelSpec,
    ConnectionSpec,
    EventSpec,
    EventStoreSpec,
    JsonSchema,
    SpecFile,
)
from .template_files import runtime_json_schema
from .yaml_source import JsonPath, LoadedFile, SourceMap

_SCHEMA_SECTIONS = frozenset({"schema", "metadata", "payload"})
_UNION_ONLY_ERRORS = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type"})
_IMPLICIT_AGGREGATE_FIELDS = ("aggregate_id", "version")
_SIZE_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems")
_NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
#: The largest length pydantic's validators take (a 64-bit size).
MAX_SIZE = 2**63 - 1
MAX_PACKAGE_NAME = 200


@dataclass
class SpecDocument:
    """One structurally valid spec file (or, `partial`, what is left of one once its faulty values are
    removed: checked for its other problems, never generated)."""

    file: LoadedFile
    spec: SpecFile
    #: The paths of the values removed to read it (each a structural problem already reported).
    removed: tuple[JsonPath, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.removed)

    def trimmed(self, *prefix: str | int) -> bool:
        """Whether a value at or below `prefix` was removed: what is missing there says nothing new."""
        return any(path[: len(prefix)] == prefix or prefix[: len(path)] == path for path in self.removed)

    def key(self, *json_path: str | int) -> SourcePosition:
        return self.file.source_map.key(json_path)

    def value(self, *json_path: str | int) -> SourcePosition:
        return self.file.source_map.value(json_path)


@dataclass
class PackageSpec:
    """The spec files that form one package, in the order of their display paths."""

    name: str
    documents: list[SpecDocument] = field(default_factory=list)


#: Problems listed per file (structure) and per package (the rest). Past them (a list of 50,000 wrong items,
#: say), describing each would take longer than reading the spec, and nobody reads 50,000 lines: the others
#: are counted.
MAX_LISTED_PROBLEMS = 1_000

#: How many times a malformed document is trimmed of what is wrong to read the rest (each time a value goes).
_MAX_REPAIRS = 20


def check_structure(loaded: LoadedFile) -> tuple[SpecDocument | None, list[Diagnostic]]:
    """The document, or its structural problems; with problems, also the document read without the values
    at fault (when removing them leaves a document), so that its other problems are found in the same run.
    Such a document is `partial`: it is checked, never generated."""
    try:
        spec = SpecFile.model_validate(loaded.data)
    except ValidationError as error:
        diagnostics = _structure_diagnostics(error, loaded)
        trimmed = _without_faulty_values(loaded.data, error)
        if trimmed is None:
            return None, diagnostics
        spec, removed = trimmed
        return SpecDocument(loaded, spec, removed), diagnostics
    return SpecDocument(loaded, spec), []


def _without_faulty_values(data: Any, error: ValidationError) -> tuple[SpecFile, tuple[JsonPath, ...]] | None:
    """The spec read from `data` with each value that breaks the structure removed (a wrong `type`, an
    unknown key...), or None when what is wrong is a missing value or cannot be removed."""
    current = copy.deepcopy(data)
    removed: list[JsonPath] = []
    for _ in range(_MAX_REPAIRS):
        before = len(removed)
        for detail in error.errors():
            if detail["type"] == "missing":
                return None
            json_path = _data_path(current, detail)
            if _remove_at(current, json_path):
                removed.append(json_path)
        if len(removed) == before:
            return None
        try:
            return SpecFile.model_validate(current), tuple(removed)
        except ValidationError as again:
            error = again
    return None


def _remove_at(data: Any, json_path: JsonPath) -> bool:
    """Removes the value at `json_path` from a mapping (not from a list: the positions of the rest would move)."""
    if not json_path:
        return False
    parent = data
    for part in json_path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(parent, dict) and json_path[-1] in parent:
        del parent[json_path[-1]]
        return True
    return False


def _structure_diagnostics(error: ValidationError, loaded: LoadedFile) -> list[Diagnostic]:
    grouped: dict[JsonPath, list[ErrorDetails]] = {}
    for detail in error.errors():
        grouped.setdefault(_data_path(loaded.data, detail), []).append(detail)
    # Of a union's failed branches, the one that got deepest into the data says what is wrong. (Linear in the
    # errors: a list of 50,000 wrong items gives 50,000 of them.)
    above = {path[:length] for path in grouped for length in range(len(path))}
    deepest = [path for path in grouped if path not in above]
    unknown_keys: dict[JsonPath, list[str]] = {}
    for path in deepest:
        if path and any(detail["type"] == "extra_forbidden" for detail in grouped[path]):
            unknown_keys.setdefault(path[:-1], []).append(str(path[-1]))
    diagnostics: list[Diagnostic] = []
    for index, json_path in enumerate(deepest):
        if len(diagnostics) == MAX_LISTED_PROBLEMS:
            # Counted as they would be listed, but for the misspelling test (a missing key beside any unknown one).
            rest = sum(
                not (grouped[path][0]["type"] == "missing" and path[:-1] in unknown_keys) for path in deepest[index:]
            )
            message = f"and {rest:,} more structural problems: only the first {MAX_LISTED_PROBLEMS:,} are listed"
            diagnostics.append(Diagnostic(loaded.source_map.value(json_path), message))
            break
        details = grouped[json_path]
        chosen = next((d for d in details if d["type"] not in _UNION_ONLY_ERRORS), details[0])
        if chosen["type"] == "missing" and _misspelt(json_path, unknown_keys.get(json_path[:-1], [])):
            continue  # the unknown key that is its misspelling says it better
        diagnostics.append(_describe(chosen, json_path, loaded.source_map))
    return diagnostics


def _misspelt(missing: JsonPath, unknown_siblings: list[str]) -> bool:
    return bool(difflib.get_close_matches(str(missing[-1]), unknown_siblings, n=1))


def allowed_keys(json_path: JsonPath) -> list[str]:
    """The keys of the spec model that the mapping at `json_path` is validated against."""
    model: type[BaseModel] = SpecFile
    if any(part in _SCHEMA_SECTIONS for part in json_path[1:]) or json_path[:1] == ("definitions",):
        model = JsonSchema
    elif json_path[:1] == ("channels",):
        model = ChannelSpec
    elif json_path[:1] == ("connections",):
        model = ConnectionSpec
    elif json_path[:1] == ("event_stores",):
        by_depth: dict[int, type[BaseModel]] = {2: EventStoreSpec, 3: AggregateSpec, 4: EventSpec}
        model = by_depth.get(len(json_path), EventStoreSpec)
    if model is not SpecFile and len(json_path) < 2:
        model = SpecFile
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _data_path(data: Any, detail: ErrorDetails) -> JsonPath:
    """The part of a pydantic error location that exists in the data (other parts name union branches)."""
    path: list[str | int] = []
    current = data
    loc = detail["loc"]
    for index, part in enumerate(loc):
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif not (index == len(loc) - 1 and detail["type"] == "missing"):
            continue
        path.append(part)
    return tuple(path)


def _describe(detail: ErrorDetails, json_path: JsonPath, source_map: SourceMap) -> Diagnostic:
    kind = detail["type"]
    name = json_path[-1] if json_path else "<document>"
    if kind == "missing":
        parent = json_path[:-1]
        return Diagnostic(source_map.key(parent), f"missing required key '{name}'{_place(parent)}")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(name), allowed_keys(json_path[:-1]), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return Diagnostic(source_map.key(json_path), f"unknown key '{name}'{hint}")
    message = detail["msg"].replace("Input should be", "expected").replace("a valid dictionary", "a mapping")
    message = message.replace("a valid list", "a list").replace("a valid string", "a string")
    message = message.replace("a valid integer", "an integer").replace("a valid boolean", "true or false")
    label = f"'{name}'" if isinstance(name, str) else f"item {name + 1}"
    got = detail.get("input")
    if json_path == ("kastor",) and kind == "literal_error":
        return Diagnostic(
            source_map.value(json_path),
            f"unsupported spec format version {_yaml_repr(got)}: this kastor reads version 1",
        )
    shown = "" if isinstance(got, dict | list) else f", got {_yaml_repr(got)}"
    return Diagnostic(source_map.value(json_path), f"{label}: {message}{shown}")


def _place(json_path: JsonPath) -> str:
    if not json_path:
        return ""
    if isinstance(json_path[-1], int):
        return f" in item {json_path[-1] + 1} of '{json_path[-2]}'"
    return f" in '{json_path[-1]}'"


def _yaml_repr(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def check_package(package: PackageSpec) -> list[Diagnostic]:
    """Names, duplicates across files and cross-references of one package's files."""
    checker = _PackageChecker(package)
    checker.run()
    return checker.diagnostics


class _PackageChecker:
    def __init__(self, package: PackageSpec) -> None:
        self.package = package
        self.diagnostics: list[Diagnostic] = []
        #: The schemas to compile as the runtime will, once everything else is checked.
        self.compile_checks: list[tuple[SpecDocument, JsonSchema, JsonPath]] = []
        self.stores: dict[str, tuple[SpecDocument, EventStoreSpec]] = {}
        self.channels: dict[str, tuple[SpecDocument, ChannelSpec]] = {}
        self.definitions: dict[str, tuple[SpecDocument, JsonSchema]] = {}
        self.errors_listed = 0
        #: Where the errors past `MAX_LISTED_PROBLEMS` stand: counted, not listed.
        self.unlisted: list[SourcePosition] = []

    @functools.cached_property
    def definition_dicts(self) -> dict[str, dict[str, Any]]:
        """The definitions as JSON, for what reads them as JSON Schema does (once all are collected)."""
        return {name: _dumped(definition) for name, (_, definition) in self.definitions.items()}

    def trimmed_anywhere(self, *prefix: str | int) -> bool:
        return any(document.trimmed(*prefix) for document in self.package.documents)

    def warn(self, position: SourcePosition, message: str) -> None:
        self.diagnostics.append(Diagnostic(position, message, warning=True))

    def error(self, position: SourcePosition, message: str) -> None:
        if self.errors_listed < MAX_LISTED_PROBLEMS:
            self.errors_listed += 1
            self.diagnostics.append(Diagnostic(position, message))
        else:
            self.unlisted.append(position)

    @property
    def full(self) -> bool:
        """Whether errors are only counted now: nothing need be spent on their messages (hints above all)."""
        return self.errors_listed >= MAX_LISTED_PROBLEMS

    def run(self) -> None:
        for document in self.package.documents:
            self.check_package_name(document)
            self.collect(document)
        for document in self.package.documents:
            self.check_stores(document)
            self.check_channels(document)
            self.check_connections(document)
            self.check_schemas(document)
        # Last, and only for otherwise valid specs: the checks above say more precisely what is wrong.
        if not any(not diagnostic.warning for diagnostic in self.diagnostics):
            for document, schema, json_path in self.compile_checks:
                self.check_compiles(document, schema, json_path)
        if self.unlisted:
            message = f"and {len(self.unlisted):,} more problems: only the first {MAX_LISTED_PROBLEMS:,} are listed"
            self.diagnostics.append(Diagnostic(min(self.unlisted), message))

    def check_package_name(self, document: SpecDocument) -> None:
        name = document.spec.package
        if not naming.LOWER_SNAKE.match(name):
            self.error(
                document.value("package"),
                f"package name '{name}' is not a lower_snake Python identifier (letters, digits, single underscores)",
            )
        elif naming.shadows_python(name):
            self.error(document.value("package"), f"package name '{name}' is a Python keyword or builtin")
        elif (shadowed := naming.shadowed_module(name)) is not None:
            self.error(
                document.value("package"),
                f"package name '{name}' would shadow {shadowed}: choose another name",
            )
        elif len(name) > MAX_PACKAGE_NAME:
            # It names a directory, beside which the writer stages `.<name>.kastor-new`: file names stop at 255.
            self.error(document.value("package"), f"package name is too long: at most {MAX_PACKAGE_NAME} characters")

    def collect(self, document: SpecDocument) -> None:
        tables: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
            ("event store", "event_stores", document.spec.event_stores, self.stores),
            ("channel", "channels", document.spec.channels, self.channels),
            ("definition", "definitions", document.spec.definitions, self.definitions),
        ]
        for label, section, entries, known in tables:
            for name, entry in entries.items():
                if name in known:
                    first = known[name][0].key(section, name)
                    self.error(document.key(section, name), f"{label} '{name}' is already defined at {first}")
                else:
                    known[name] = (document, entry)

    def check_stores(self, document: SpecDocument) -> None:
        for store_id, store in document.spec.event_stores.items():
            self.check_lower_snake(document.key("event_stores", store_id), "event store id", store_id)
            aggregate_name = store.aggregate.name
            self.check_pascal(
                document.value("event_stores", store_id, "aggregate", "name"),
                "aggregate name",
                aggregate_name,
            )
            for implicit in _IMPLICIT_AGGREGATE_FIELDS:
                if store.aggregate.schema_.properties and implicit in store.aggregate.schema_.properties:
                    self.error(
                        document.key("event_stores", store_id, "aggregate", "schema", "properties", implicit),
                        f"'{implicit}' is an implicit field of every aggregate: remove it from the schema",
                    )
            if document.trimmed("event_stores", store_id, "events"):
                pass  # events were removed as malformed: whether one is initial cannot be told
            elif not store.events:
                self.error(
                    document.key("event_stores", store_id, "events"),
                    f"event store '{store_id}' has no events",
                )
            elif not any(event.initial for event in store.events.values()):
                self.error(
                    document.key("event_stores", store_id, "events"),
                    f"event store '{store_id}' has no initial event: mark the event that creates "
                    "the aggregate with 'initial: true'",
                )
            for event_type in store.events:
                self.check_event_type(document.key("event_stores", store_id, "events", event_type), event_type)

    def check_event_type(self, position: SourcePosition, event_type: str) -> None:
        if event_type in naming.RESERVED_EVENT_TYPES:
            self.error(position, f"event type '{event_type}' is reserved for the runtime's own messages")
        elif not naming.UPPER_SNAKE.match(event_type):
            self.error(
                position,
                f"event type '{event_type}' must be UPPER_SNAKE (letters, digits, single underscores)",
            )

    def check_lower_snake(self, position: SourcePosition, label: str, name: str) -> None:
        if not naming.LOWER_SNAKE.match(name):
            self.error(position, f"{label} '{name}' must be lower_snake (letters, digits, single underscores)")
        elif naming.shadows_python(name):
            kind = "keyword" if keyword.iskeyword(name) or keyword.issoftkeyword(name) else "builtin"
            self.error(position, f"{label} '{name}' is a Python {kind}")

    def check_pascal(self, position: SourcePosition, label: str, name: str) -> None:
        if not naming.PASCAL_CASE.match(name):
            self.error(position, f"{label} '{name}' must be a PascalCase identifier (letters and digits)")
        elif naming.shadows_python(name):
            self.error(position, f"{label} '{name}' shadows the Python builtin '{name}'")
        elif name in naming.RESERVED_CLASS_NAMES:
            self.error(position, f"{label} '{name}' shadows a name that generated code uses")

    def check_channels(self, document: SpecDocument) -> None:
        for channel_id, channel in document.spec.channels.items():
            self.check_lower_snake(document.key("channels", channel_id), "channel id", channel_id)
            if channel_id in naming.RESERVED_CHANNEL_IDS:
                self.error(
                    document.key("channels", channel_id),
                    f"channel id '{channel_id}' is reserved: "
                    "the generated connect functions use it as a parameter name",
                )
            seen: set[str] = set()
            for index, source in enumerate(channel.sources):
                position = document.value("channels", channel_id, "sources", index)
                if source in seen:
                    self.error(position, f"event store '{source}' is listed twice in the sources of '{channel_id}'")
                elif source not in self.stores and not self.trimmed_anywhere("event_stores", source):
                    self.error(
                        position,
                        f"channel '{channel_id}' names unknown event store '{source}'{self.hint(source, self.stores)}",
                    )
                seen.add(source)
            if not channel.sources:
                self.error(document.key("channels", channel_id, "sources"), f"channel '{channel_id}' has no sources")

    def check_connections(self, document: SpecDocument) -> None:
        seen: dict[tuple[str, str], SourcePosition] = {}
        for index, connection in enumerate(document.spec.connections):
            store_known = connection.store in self.stores
            if not store_known and not self.trimmed_anywhere("event_stores", connection.store):
                self.error(
                    document.value("connections", index, "store"),
                    "connection names unknown event store "
                    f"'{connection.store}'{self.hint(connection.store, self.stores)}",
                )
            found = self.channels.get(connection.channel)
            if found is None and self.trimmed_anywhere("channels", connection.channel):
                continue
            if found is None:
                self.error(
                    document.value("connections", index, "channel"),
                    "connection names unknown channel "
                    f"'{connection.channel}'{self.hint(connection.channel, self.channels)}",
                )
                continue
            channel = found[1]
            if channel.message == "aggregate-exists":
                self.error(
                    document.value("connections", index, "channel"),
                    f"channel '{connection.channel}' carries aggregate-exists messages, which a connected "
                    "store cannot publish: connect a notification or state-carrying channel",
                )
            elif store_known and connection.store not in channel.sources:
                self.error(
                    document.value("connections", index, "channel"),
                    f"channel '{connection.channel}' cannot carry events of '{connection.store}': "
                    f"add '{connection.store}' to its sources",
                )
            pair = (connection.store, connection.channel)
            if pair in seen:
                self.error(
                    document.value("connections", index),
                    f"connection {connection.store} → {connection.channel} is already listed at {seen[pair]}",
                )
            seen.setdefault(pair, document.value("connections", index))

    def check_schemas(self, document: SpecDocument) -> None:
        for name, schema in document.spec.definitions.items():
            self.check_pascal(document.key("definitions", name), "definition name", name)
            self.check_schema(document, schema, ("definitions", name))
            self.compile_checks.append((document, schema, ("definitions", name)))
        for store_id, store in document.spec.event_stores.items():
            base: JsonPath = ("event_stores", store_id)
            self.check_object_schema(
                document, store.aggregate.schema_, (*base, "aggregate", "schema"), "aggregate schema"
            )
            if store.metadata is not None:
                self.check_object_schema(document, store.metadata, (*base, "metadata"), "metadata")
            for event_type, event in store.events.items():
                if event.payload is not None:
                    self.check_object_schema(
                        document, event.payload, (*base, "events", event_type, "payload"), "payload"
                    )

    def check_compiles(self, document: SpecDocument, schema: JsonSchema, json_path: JsonPath) -> None:
        """The runtime must be able to check events against the schema: what it cannot (a remote `$ref`,
        `unevaluatedProperties`, a pattern Python cannot read...) is refused here, before anything is written."""
        validator = runtime_json_schema()
        try:
            validator.compile_schema(_dumped(schema), definitions=self.definition_dicts)
        except validator.SchemaCompileError as error:
            message = f"the runtime cannot check this schema: {error}"
            hint = next((hint for keyword, hint in _INSTEAD.items() if keyword in str(error)), "")
            self.error(document.file.source_map.value(json_path), f"{message}{hint}")
        except (ValueError, ArithmeticError, RecursionError, LookupError, TypeError) as error:  # said, never raised
            self.error(document.file.source_map.value(json_path), f"the runtime cannot check this schema: {error}")

    def check_object_schema(self, document: SpecDocument, schema: JsonSchema, json_path: JsonPath, label: str) -> None:
        if not self.describes_objects(_dumped(schema), frozenset()):
            found = f"type {schema.type!r}" if schema.type else "no type"
            self.error(
                document.file.source_map.value(json_path),
                f"{label} must be an object schema ('type: object' with its 'properties'), got {found}",
            )
        self.check_schema(document, schema, json_path)
        self.compile_checks.append((document, schema, json_path))

    def check_schema(self, document: SpecDocument, schema: JsonSchema, json_path: JsonPath) -> None:
        source_map = document.file.source_map
        for sub_schema, sub_path in _walk_schema(schema, json_path):
            if sub_schema.ref is not None:
                ref_path = (*sub_path, "$ref")
                target = sub_schema.ref.removeprefix(DEFINITION_REF_PREFIX)
                if not sub_schema.ref.startswith(DEFINITION_REF_PREFIX):
                    self.error(
                        source_map.value(ref_path),
                        f"$ref '{sub_schema.ref}' must point into the spec's definitions: '#/definitions/<Name>'",
                    )
                elif target not in self.definitions and not self.trimmed_anywhere("definitions", target):
                    self.error(
                        source_map.value(ref_path),
                        f"$ref '{sub_schema.ref}' names no definition{self.hint(target, self.definitions)}",
                    )
            self.check_constraints(source_map, sub_schema, sub_path)
            for key in _null_keywords(sub_schema):
                self.error(
                    source_map.key((*sub_path, key)),
                    f"'{key}' is empty (null), which JSON Schema does not allow: give it a value or remove it",
                )
            for key in sub_schema.model_extra or {}:
                misspelt = _misspelt_keyword(key)
                if misspelt is not None:
                    self.warn(
                        source_map.key((*sub_path, key)),
                        f"unknown keyword '{key}' is ignored, as JSON Schema says (did you mean '{misspelt}'?)",
                    )
            for problem in value_problems(sub_schema, sub_path, source_map.boolean_words):
                self.error(source_map.value(problem.json_path), problem.message)
            if sub_schema.default is not None and not declared_types(sub_schema):
                types = self.value_types(_dumped(sub_schema), frozenset())
                mismatch = default_type_problem(
                    sub_schema.default, sorted(types or ()), (*sub_path, "default"), source_map.boolean_words
                )
                if types is not None and mismatch is not None:
                    self.error(source_map.value(mismatch.json_path), mismatch.message)
            if self.default_holds_model(sub_schema, sub_schema.default, frozenset()):
                self.error(
                    source_map.value((*sub_path, "default")),
                    "a default that holds an object where the schema makes a model (a nested object, a $ref to one, "
                    "or an array or map of them) cannot be typed: remove it, or give defaults to that object's "
                    "own properties",
                )
            for name in sub_schema.properties or {}:
                normalized = unicodedata.normalize("NFKC", name)
                if name.isidentifier() and normalized != name:
                    # Python reads identifiers in NFKC form: the field would be `fi`, and the key 'ﬁ' ignored.
                    self.error(
                        source_map.key((*sub_path, "properties", name)),
                        f"property name '{name}' reads as '{normalized}' in Python (NFKC): write '{normalized}'",
                    )
            # JSON Schema lets `required` name a property declared elsewhere (another allOf branch, say):
            # only where no undeclared property may stand is it a mistake, one no value can satisfy.
            closed = sub_schema.additionalProperties is False
            for index, required in enumerate(sub_schema.required or () if closed else ()):
                if required not in (sub_schema.properties or {}):
                    self.error(
                        source_map.value((*sub_path, "required", index)),
                        f"required property '{required}' is not declared in 'properties', and "
                        "'additionalProperties: false' allows no other: no value can have it",
                    )

    def check_constraints(self, source_map: SourceMap, schema: JsonSchema, json_path: JsonPath) -> None:
        """Constraints that pydantic would refuse when the generated package is imported."""
        if schema.pattern is not None:
            try:
                re.compile(schema.pattern)
            except re.error as error:
                self.error(
                    source_map.value((*json_path, "pattern")), f"'pattern' is not a valid regular expression: {error}"
                )
        for key in _SIZE_KEYWORDS:
            size = getattr(schema, key)
            if size is not None and size > MAX_SIZE:
                self.error(source_map.value((*json_path, key)), f"'{key}' is too large: at most {MAX_SIZE}")
        if schema.type == []:
            self.error(source_map.value((*json_path, "type")), "'type' lists no type: name at least one, or remove it")
        types = [schema.type] if isinstance(schema.type, str) else schema.type or []
        integer_only = "integer" in types and "number" not in types
        for key in _NUMBER_KEYWORDS:
            value = getattr(schema, key)
            if value is None:
                continue
            problem = None
            if isinstance(value, float) and math.isnan(value):
                problem = "is not a number"
            elif integer_only and isinstance(value, float) and not value.is_integer():
                problem = f"must be a whole number in an integer schema, got {value!r}"
            elif key == "multipleOf" and isinstance(value, float) and math.isinf(value):
                problem = "must be finite"
            elif "number" in types and isinstance(value, int) and abs(value) > sys.float_info.max:
                problem = "is too large for a number (a float)"
            if problem is not None:
                self.error(source_map.value((*json_path, key)), f"'{key}' {problem}")

    def describes_objects(self, schema: Any, refs_seen: frozenset[str]) -> bool:
        """Whether every value of the schema is an object: `type: object`, or a `$ref`, `allOf`, `anyOf` or
        `oneOf` whose every way leads to object schemas (a payload model, or a union of them)."""
        if not isinstance(schema, dict):
            return False
        definitions = self.definition_dicts
        view = typed_view(schema, definitions)
        if view.get("type") == "object":
            return True
        ref = view.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFINITION_REF_PREFIX):
            target = ref.removeprefix(DEFINITION_REF_PREFIX)
            return (
                target in definitions
                and target not in refs_seen
                and self.describes_objects(definitions[target], refs_seen | {target})
            )
        members = view.get("anyOf") or view.get("oneOf")
        if isinstance(members, list) and members:
            return all(self.describes_objects(member, refs_seen) for member in members)
        return False

    def value_types(self, schema: Any, refs_seen: frozenset[str]) -> set[str] | None:
        """The JSON types of the values a schema allows, through its `allOf`, `$ref`, `anyOf` and `oneOf`;
        None when it leaves them open (no type, an enum or const, a reference into a cycle...)."""
        if not isinstance(schema, dict):
            return None
        view = typed_view(schema, self.definition_dicts)
        types = view.get("type")
        if isinstance(types, str):
            return {types}
        if isinstance(types, list):
            return set(types) or None
        if "enum" in view or "const" in view:
            return None
        ref = view.get("$ref")
        if isinstance(ref, str):
            target = ref.removeprefix(DEFINITION_REF_PREFIX)
            if not ref.startswith(DEFINITION_REF_PREFIX) or target in refs_seen or target not in self.definitions:
                return None
            return self.value_types(self.definition_dicts[target], refs_seen | {target})
        members = view.get("anyOf") or view.get("oneOf")
        if not isinstance(members, list) or not members:
            return None
        allowed: set[str] = set()
        for member in members:
            member_types = self.value_types(member, refs_seen)
            if member_types is None:
                return None
            allowed |= member_types
        return allowed

    def default_holds_model(self, schema: JsonSchema, value: Any, refs_seen: frozenset[str]) -> bool:
        """Whether `value` puts a JSON object where `schema` becomes a generated model class.

        Such a default would be written as a dict literal, which pydantic converts at run
        time but mypy rejects against the model's type.
        """
        if value is None:
            return False
        if schema.ref is not None:
            target = schema.ref.removeprefix(DEFINITION_REF_PREFIX)
            if target in refs_seen or target not in self.definitions:
                return False
            return self.default_holds_model(self.definitions[target][1], value, refs_seen | {target})
        if isinstance(value, dict):
            if schema.properties is not None:
                return True
            if isinstance(schema.additionalProperties, JsonSchema):
                additional = schema.additionalProperties
                return any(self.default_holds_model(additional, item, frozenset()) for item in value.values())
        if isinstance(value, list) and isinstance(schema.items, JsonSchema):
            items = schema.items
            return any(self.default_holds_model(items, item, frozenset()) for item in value)
        members = [*(schema.anyOf or ()), *(schema.oneOf or ()), *(schema.allOf or ())]
        return any(
            self.default_holds_model(member, value, refs_seen) for member in members if isinstance(member, JsonSchema)
        )

    def hint(self, name: str, known: dict[str, Any]) -> str:
        if self.full:
            return ""
        close = difflib.get_close_matches(name, list(known), n=1)
        return f" (did you mean '{close[0]}'?)" if close else ""


def _walk_schema(schema: JsonSchema | bool, json_path: JsonPath) -> Iterator[tuple[JsonSchema, JsonPath]]:
    """Every (sub-)schema with its path, through each keyword whose value is a schema (boolean ones left out)."""
    if not isinstance(schema, JsonSchema):
        return
    yield schema, json_path
    for keyword_name in ("properties", "patternProperties", "dependencies"):
        for name, sub_schema in (getattr(schema, keyword_name) or {}).items():
            if not isinstance(sub_schema, list):
                yield from _walk_schema(sub_schema, (*json_path, keyword_name, name))
    if isinstance(schema.items, list):
        for index, item in enumerate(schema.items):
            yield from _walk_schema(item, (*json_path, "items", index))
    elif schema.items is not None:
        yield from _walk_schema(schema.items, (*json_path, "items"))
    for keyword_name, alias in _SINGLE_SCHEMA_KEYWORDS:
        sub_schema = getattr(schema, keyword_name)
        if sub_schema is not None:
            yield from _walk_schema(sub_schema, (*json_path, alias))
    for combinator, members in (("anyOf", schema.anyOf), ("oneOf", schema.oneOf), ("allOf", schema.allOf)):
        for index, member in enumerate(members or ()):
            yield from _walk_schema(member, (*json_path, combinator, index))


#: Keywords whose value must be a schema, schemas, a list or a type name: `properties:` left empty (YAML reads
#: null) is a mistake to point at, not "no properties".
_NOT_NULL_KEYWORDS = frozenset(
    {"$ref", "type", "enum", "required", "properties", "patternProperties", "additionalProperties"}
    | {"propertyNames", "dependencies", "items", "additionalItems", "contains", "anyOf", "oneOf", "allOf"}
    | {"not", "if", "then", "else"}
)


def _null_keywords(schema: JsonSchema) -> list[str]:
    """The keywords of `_NOT_NULL_KEYWORDS` that the spec wrote with a null value, as it spelt them."""
    keys = []
    for name in sorted(schema.model_fields_set & set(JsonSchema.model_fields)):  # extra keys are anyone's
        key = JsonSchema.model_fields[name].alias or name
        if key in _NOT_NULL_KEYWORDS and getattr(schema, name) is None:
            keys.append(key)
    return keys


#: Every keyword of JSON Schema's drafts 7 to 2020-12: an unknown key close to one is likely misspelt.
SCHEMA_KEYWORDS = (
    *("$ref", "$schema", "$id", "$comment", "$defs", "$anchor", "definitions", "type", "enum", "const"),
    *("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "format"),
    *("properties", "patternProperties", "additionalProperties", "required", "propertyNames"),
    *("minProperties", "maxProperties", "dependencies", "dependentRequired", "dependentSchemas"),
    *("items", "prefixItems", "additionalItems", "contains", "minContains", "maxContains"),
    *("minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern"),
    *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    *("anyOf", "oneOf", "allOf", "not", "if", "then", "else", "contentMediaType", "contentEncoding"),
)


def _misspelt_keyword(key: str) -> str | None:
    """The keyword an unknown key looks like a typo of (one or two letters off), if any. A key that holds a
    keyword whole (`tsAdditionalProperties`, `x-required`) is a vendor's own, not a typo."""
    if key in SCHEMA_KEYWORDS:
        return None
    distances = [
        (_edit_distance(key.lower(), keyword_name.lower()), keyword_name)
        for keyword_name in SCHEMA_KEYWORDS
        if keyword_name.lower() not in key.lower() or len(keyword_name) == len(key)
    ]
    distance, closest = min(distances)
    return closest if distance <= min(2, len(closest) // 4) else None


def _edit_distance(first: str, second: str) -> int:
    if abs(len(first) - len(second)) > 2:
        return 3  # more than any typo it looks for
    previous = list(range(len(second) + 1))
    for row, first_char in enumerate(first, start=1):
        current = [row]
        for column, second_char in enumerate(second, start=1):
            current.append(
                min(previous[column] + 1, current[-1] + 1, previous[column - 1] + (first_char != second_char))
            )
        previous = current
    return previous[-1]


#: What to write instead of what the runtime cannot check, by a word of its refusal.
_INSTEAD = {
    "unevaluatedProperties": "; write additionalProperties (beside the properties it applies to) instead",
    "unevaluatedItems": "; write items (or additionalItems) instead",
    "$dynamicRef": "; write a $ref to the definition instead",
    "$recursiveRef": "; write a $ref to the definition instead",
    "points outside": "; copy the schema into the spec's definitions and write $ref: '#/definitions/<Name>'",
    "\\p{": "; write the characters as a class such as [A-Za-z] instead of a Unicode property",
}

#: The keywords whose value is one schema: (attribute, JSON key).
_SINGLE_SCHEMA_KEYWORDS = (
    ("additionalProperties", "additionalProperties"),
    ("propertyNames", "propertyNames"),
    ("additionalItems", "additionalItems"),
    ("contains", "contains"),
    ("not_", "not"),
    ("if_", "if"),
    ("then", "then"),
    ("else_", "else"),
)


def _dumped(schema: JsonSchema) -> dict[str, Any]:
    dumped: dict[str, Any] = schema.model_dump(by_alias=True, exclude_unset=True)
    return dumped
