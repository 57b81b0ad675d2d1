"""JSON Schemas of a spec as Markdown field tables: one row per field, nested objects included.

Schemas arrive as the dicts of validated specs (`$ref` only to `#/definitions/<Name>`, the supported subset
of draft 7). A `$ref` becomes a link to the definition's section; every value written by the user (enum
values, defaults, patterns, descriptions) is escaped by `markdown`.
"""

import json
from dataclasses import dataclass
from typing import Any

from . import markdown
from .spec_model import DEFINITION_REF_PREFIX

Schema = dict[str, Any]

FIELD_TABLE_HEADER = ("field", "type", "required", "description", "constraints")

# Constraint keywords and how a reader says them, in the order they are listed.
_BOUNDS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("multipleOf", "multiple of {}"),
    ("minLength", "min length {}"),
    ("maxLength", "max length {}"),
    ("minItems", "min items {}"),
    ("maxItems", "max items {}"),
)


@dataclass(frozen=True)
class FieldRow:
    """One row of a field table; every text is Markdown already."""

    path: str
    type: str
    required: bool
    description: str
    constraints: str

    def cells(self) -> tuple[str, ...]:
        return (self.path, self.type, "yes" if self.required else "no", self.description, self.constraints)


def field_table(schema: Schema) -> str:
    """The Markdown table of an object schema's fields, or a sentence when it declares none."""
    rows = field_rows(schema)
    if not rows:
        return "No declared fields." + _other_keys_sentence(schema)
    return markdown.table(FIELD_TABLE_HEADER, [row.cells() for row in rows])


def _other_keys_sentence(schema: Schema) -> str:
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return f" Any keys, with values of type {type_text(extra)}."
    return " No other keys are allowed." if extra is False else ""


def field_rows(schema: Schema, prefix: str = "") -> list[FieldRow]:
    """The rows of the properties of `schema`, in the spec's order (the generated classes' order), each
    followed by the rows of its own fields when it is an object or an array of objects."""
    required = set(schema.get("required") or ())
    rows: list[FieldRow] = []
    for name, property_schema in (schema.get("properties") or {}).items():
        path = prefix + name
        if isinstance(property_schema, bool):  # `true`: any value; `false`: the property may not be present
            rows.append(FieldRow(markdown.code(path), type_text(property_schema), name in required, "", ""))
            continue
        rows.append(
            FieldRow(
                markdown.code(path),
                type_text(property_schema),
                name in required,
                description_text(property_schema),
                constraints_text(property_schema),
            )
        )
        nested, nested_prefix = _nested_object(property_schema, path)
        if nested is not None:
            rows.extend(field_rows(nested, nested_prefix))
    return rows


def _nested_object(schema: Schema, path: str) -> tuple[Schema | None, str]:
    """The object whose fields are listed under a field: its own properties (`path.x`), or its items'
    (`path[].x`); a `$ref` is documented in the definition's own section instead."""
    if "properties" in schema and "$ref" not in schema:
        return schema, f"{path}."
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in items and "$ref" not in items:
        return items, f"{path}[]."
    return None, ""


def type_text(schema: Schema | bool) -> str:
    """The type of a schema as a reader says it: `string (uuid)`, `array of Money`, `integer or null`..."""
    if isinstance(schema, bool):
        return "any" if schema else "none"
    if "$ref" in schema:
        name = definition_name(schema["$ref"])
        return markdown.link(markdown.code(name), "definition", name)
    for keyword, joiner in (("anyOf", " or "), ("oneOf", " or "), ("allOf", " and ")):
        if keyword in schema:
            return joiner.join(_member_type(member) for member in schema[keyword])
    types = schema.get("type")
    if types is None:
        return _untyped(schema)
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_single_type(name, schema) for name in names)


def _member_type(member: Schema | bool) -> str:
    # A member that is itself a union is bracketed, so `a or (b and c)` keeps its meaning.
    text = type_text(member)
    if isinstance(member, bool):
        return text
    nested = any(keyword in member for keyword in ("anyOf", "oneOf", "allOf")) and " " in text
    return f"({text})" if nested else text


def _untyped(schema: Schema) -> str:
    if "const" in schema:
        return "constant"
    if "enum" in schema:
        return "enum"
    return "object" if "properties" in schema else "any"


def _single_type(name: str, schema: Schema) -> str:
    if name == "array":
        items = schema.get("items")
        return f"array of {_member_type(items)}" if isinstance(items, dict) else "array"
    if name == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in schema:
            return f"map of string to {_member_type(extra)}"
        return "object"
    if name == "string" and "format" in schema:
        return f"string ({markdown.inline(schema['format'])})"
    return name


def definition_name(ref: str) -> str:
    return ref.removeprefix(DEFINITION_REF_PREFIX)


def description_text(schema: Schema) -> str:
    """Title, description and deprecation of a schema, escaped for a table cell."""
    parts = []
    if schema.get("deprecated"):
        parts.append("**Deprecated.**")
    if schema.get("title"):
        parts.append(f"**{markdown.cell(schema['title'])}.**")
    if schema.get("description"):
        parts.append(markdown.cell(schema["description"]))
    return " ".join(parts)


def constraints_text(schema: Schema) -> str:
    """What a value must satisfy beyond its type, and its default and examples, for a table cell."""
    return "; ".join(constraints(schema))


def constraints(schema: Schema) -> list[str]:
    found: list[str] = []
    if "enum" in schema:
        found.append("one of " + ", ".join(_value(value) for value in schema["enum"]))
    if "const" in schema:
        found.append(f"always {_value(schema['const'])}")
    found.extend(template.format(_number(schema[keyword])) for keyword, template in _BOUNDS if keyword in schema)
    if "pattern" in schema:
        found.append(f"matches {markdown.code(schema['pattern'])}")
    if schema.get("uniqueItems"):
        found.append("unique items")
    if schema.get("additionalProperties") is False:
        found.append("no other keys")
    found.extend(_nested_constraints(schema))
    if "default" in schema:
        found.append(f"default {_value(schema['default'])}")
    if schema.get("examples"):
        found.append("e.g. " + ", ".join(_value(example) for example in schema["examples"]))
    return found


def _nested_constraints(schema: Schema) -> list[str]:
    """Constraints of array items and of union members, named after what they constrain."""
    found: list[str] = []
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        found.extend(f"items: {constraint}" for constraint in constraints(items))
    for keyword in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(keyword) or ():
            if isinstance(member, dict) and "$ref" not in member:
                found.extend(f"{_member_type(member)}: {constraint}" for constraint in constraints(member))
    return found


def _value(value: Any) -> str:
    """A JSON value the user wrote, shown as JSON in a code span (one line, whatever it holds)."""
    return markdown.code(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _number(value: Any) -> str:
    return markdown.inline(json.dumps(value))


def referenced_definitions(schema: Any) -> set[str]:
    """The names of the definitions a schema refers to, at any depth."""
    if isinstance(schema, list):
        return {name for member in schema for name in referenced_definitions(member)}
    if not isinstance(schema, dict):
        return set()
    names = {definition_name(schema["$ref"])} if isinstance(schema.get("$ref"), str) else set()
    for key, value in schema.items():
        # Values the user wrote (defaults, examples, enum members) are data, not schemas.
        if key not in ("default", "examples", "enum", "const"):
            names |= referenced_definitions(value)
    return names
