"""The JSON Schemas of one store's events, as its spec wrote them: the authority on what an event may hold.

The generated models type the events; these schemas decide their validity, with JSON Schema's own meaning
(`oneOf` is exactly one, `allOf` keeps every branch, patterns, formats as annotations...). Every event is
checked against them before it is stored, and so is every event read from JSON that was not written by a
store (a message, a webhook body). Each schema is compiled the first time an event of its type is checked.
"""

import json
from collections.abc import Mapping
from typing import Any

from .json_schema import JsonValue, SchemaValidator, compile_schema

#: How many problems one refusal lists at most.
MAX_PROBLEMS = 10


class JsonDocument:
    """A JSON text, parsed the first time it is needed: generated modules hold their schemas as text, so that
    importing a package parses nothing and type checkers read one string, however large the schemas."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._value: JsonValue = None
        self._parsed = False

    @property
    def value(self) -> JsonValue:
        if not self._parsed:
            self._value = json.loads(self._text)
            self._parsed = True
        return self._value


class EventSchemas:
    """The schemas of one store's events: `document` holds `{"payloads": {<event type>: <schema>},
    "metadata": <schema or null>}`, and `definitions` the spec's shared schemas that their `$ref`s name."""

    def __init__(self, document: JsonDocument, *, definitions: JsonDocument | None = None) -> None:
        self._document = document
        self._definitions = definitions
        self._compiled: dict[str | None, SchemaValidator | None] = {}

    def problems(self, event_type: str, fields: Mapping[str, Any]) -> list[str]:
        """What the event's JSON (`fields`: its payload and metadata) breaks of its schemas; [] when valid."""
        found: list[str] = []
        for key, part in self._parts(event_type, fields):
            validator = self._validator(key)
            if validator is not None:
                found += [str(problem) for problem in validator.problems(fields[part], prefix=(part,))]
        return found[:MAX_PROBLEMS]

    def is_valid(self, event_type: str, fields: Mapping[str, Any]) -> bool:
        for key, part in self._parts(event_type, fields):
            validator = self._validator(key)
            if validator is not None and not validator.is_valid(fields[part]):
                return False
        return True

    @staticmethod
    def _parts(event_type: str, fields: Mapping[str, Any]) -> list[tuple[str | None, str]]:
        """(schema key, field) of the parts of an event that have schemas: its payload, its metadata."""
        parts: list[tuple[str | None, str]] = []
        if "payload" in fields:
            parts.append((event_type, "payload"))
        if "metadata" in fields:
            parts.append((None, "metadata"))
        return parts

    def _validator(self, key: str | None) -> SchemaValidator | None:
        """The compiled payload schema of an event type (key None: the metadata schema), if there is one."""
        if key in self._compiled:
            return self._compiled[key]
        document = self._document.value
        schema: JsonValue = None
        if isinstance(document, dict):
            payloads = document.get("payloads")
            schema = (
                document.get("metadata")
                if key is None
                else payloads.get(key)
                if isinstance(payloads, dict)
                else None
            )
        if schema is None:
            self._compiled[key] = None
            return None
        definitions = self._definitions.value if self._definitions is not None else None
        validator = compile_schema(schema, definitions=definitions if isinstance(definitions, dict) else None)
        self._compiled[key] = validator
        return validator
