"""Checks that the values a schema states (`enum`, `const`, `default`) have the type it declares.

The generated code turns them into `Literal[...]` members and field defaults, so a value of the wrong
type either changes the field's type without a word or gives code that mypy rejects. Most such values
are YAML 1.1 at work: PyYAML reads an unquoted `no`, `yes`, `on`, `off`, `true` or `false` (in any of
their capitalisations) as a boolean, so `enum: [low, high, no]` holds `False`.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .spec_model import JsonSchema
from .yaml_source import JsonPath

#: How a message names a value of each JSON type ("an integer, not a string").
_KIND_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "an array",
}
#: The words PyYAML reads as each boolean (its resolver takes them lower-case, Capitalised or UPPER-case).
_BOOLEAN_WORDS = {True: "yes, on or true", False: "no, off or false"}
_SHOWN_TEXT = 60
_SHOWN_ENUM_VALUES = 6
#: A string longer than this is not a number or a boolean that lost its quotes: no need to ask YAML.
_SCALAR_TEXT = 40
_PLAIN_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float"))


@dataclass(frozen=True)
class ValueProblem:
    """A value that does not fit its schema, at the JSON path of the value itself."""

    json_path: JsonPath
    message: str


def value_problems(
    schema: JsonSchema, json_path: JsonPath, words: Mapping[JsonPath, str] | None = None
) -> list[ValueProblem]:
    """The problems of the `enum` values, the `const` and the `default` of one schema (not of its sub-schemas).

    `words` holds the text, as written in the file, of the values YAML read as booleans, by their JSON path:
    a message can then name the word to quote.
    """
    words = words or {}
    types = declared_types(schema)
    problems: list[ValueProblem] = []
    for index, value in enumerate(schema.enum or ()):
        problems.extend(_type_problems("enum value", value, types, (*json_path, "enum", index), words))
    # `const: null` is a value, unlike a missing const: only the fields set tell them apart.
    if "const" in schema.model_fields_set:
        problems.extend(_type_problems("const", schema.const, types, (*json_path, "const"), words))
    # A null default is no default: the field is None when absent anyway, whatever its type.
    if schema.default is not None:
        problems.extend(_default_problems(schema, "default", schema.default, (*json_path, "default"), words))
    return problems


def default_type_problem(
    value: Any, types: Sequence[str], json_path: JsonPath, words: Mapping[JsonPath, str] | None = None
) -> ValueProblem | None:
    """The problem of a default that has none of `types`: those its schema allows without declaring them
    itself (through a `$ref`, `anyOf` or `oneOf`), which the field's generated type is made of."""
    problems = _type_problems("default", value, types, json_path, words or {})
    return problems[0] if problems else None


def declared_types(schema: JsonSchema) -> list[str]:
    """The JSON types a schema declares: none when it leaves the type open (a `$ref`, an `anyOf`, ...)."""
    if isinstance(schema.type, str):
        return [schema.type]
    return list(schema.type or ())


def matches_type(value: Any, type_name: str) -> bool:
    """Whether `value`, as YAML read it, is of the JSON type `type_name`.

    A bool is not an integer nor a number (JSON tells them apart; Python would not). Unlike JSON Schema,
    a float without a fraction (`2.0`) is not an integer: the generated code would write `2.0` where
    mypy expects an `int`, so the spec must say `2`.
    """
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "null":
        return value is None
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if isinstance(value, bool):
        return False
    if type_name == "integer":
        return isinstance(value, int)
    return isinstance(value, int | float)


def same_json(left: Any, right: Any) -> bool:
    """JSON equality: `true` is not `1` (as it is in Python), `1` is `1.0`."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same_json(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[key], right[key]) for key in left)
    return type(left) is type(right) and bool(left == right)


def show_value(value: Any) -> str:
    """A value as a message names it: YAML's words for booleans and null, strings quoted and cut short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > _SHOWN_TEXT:
        return repr(value[:_SHOWN_TEXT] + "…")
    return repr(value)


def _default_problems(
    schema: JsonSchema, label: str, value: Any, json_path: JsonPath, words: Mapping[JsonPath, str]
) -> list[ValueProblem]:
    """A default (or one item of it) against its schema's type, enum and const, then its items."""
    mismatch = _type_problems(label, value, declared_types(schema), json_path, words)
    if mismatch:
        return mismatch  # of the wrong type, it cannot be in the enum either: one problem is enough
    problems: list[ValueProblem] = []
    if schema.enum is not None and not any(same_json(value, member) for member in schema.enum):
        problems.append(
            ValueProblem(json_path, f"{_named(label, value)} is not one of the enum values: {_listed(schema.enum)}")
        )
    if "const" in schema.model_fields_set and not same_json(value, schema.const):
        problems.append(
            ValueProblem(json_path, f"{_named(label, value)} is not the schema's const {show_value(schema.const)}")
        )
    # Arrays and maps of plain values are checked item by item; objects with properties make models,
    # whose defaults are an error of their own (see `validation`).
    if isinstance(value, list) and isinstance(schema.items, JsonSchema):
        for index, item in enumerate(value):
            problems.extend(_default_problems(schema.items, "default item", item, (*json_path, index), words))
    if isinstance(value, dict) and isinstance(schema.additionalProperties, JsonSchema):
        for key, item in value.items():
            problems.extend(
                _default_problems(schema.additionalProperties, "default value", item, (*json_path, key), words)
            )
    return problems


def _type_problems(
    label: str, value: Any, types: Sequence[str], json_path: JsonPath, words: Mapping[JsonPath, str]
) -> list[ValueProblem]:
    if not types or any(matches_type(value, type_name) for type_name in types):
        return []
    return [ValueProblem(json_path, _mismatch(label, value, types, words.get(json_path)))]


def _mismatch(label: str, value: Any, types: Sequence[str], written: str | None) -> str:
    expected = _either(types)
    if isinstance(value, bool) and "string" in types:
        word = show_value(value)
        if written is not None:
            return f'{label} {written} is read by YAML as the boolean {word}, not a string: quote it ("{written}")'
        return (
            f"{label} is read by YAML as the boolean {word}, not a string: quote it "
            f"(YAML 1.1 reads an unquoted {_BOOLEAN_WORDS[value]} as {word})"
        )
    if value is None:
        quote = "quote it to mean the text, or " if "string" in types else ""
        return f"{label} is read by YAML as null, not {expected}: {quote}add \"null\" to 'type' to allow it"
    if isinstance(value, float) and "integer" in types and value.is_integer():
        return f"{label} {value!r} is a float in Python, not an integer: write {int(value)}"
    found = f"{_named(label, value)} is {_kind(value)}, not {expected}"
    if "string" in types and isinstance(value, int | float):
        return f"{found}: quote it to mean the text"
    unquoted = _unquoted(value)
    if unquoted is not None and any(matches_type(unquoted, type_name) for type_name in types):
        return f"{found}: write {show_value(unquoted)} without quotes"
    return found


def _unquoted(value: Any) -> bool | int | float | None:
    """What YAML would read if the quotes around the string `value` were dropped, if a boolean or number."""
    if not isinstance(value, str) or len(value) > _SCALAR_TEXT:
        return None
    try:
        node = yaml.compose(value, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    # Only the whole text as one plain scalar: '1 # one', ' yes' or '[1]' would not lose just their quotes.
    if not isinstance(node, yaml.ScalarNode) or node.style is not None or node.tag not in _PLAIN_SCALAR_TAGS:
        return None
    if node.start_mark.index != 0 or node.end_mark.index != len(value):
        return None
    read = yaml.constructor.SafeConstructor().construct_object(node)
    if isinstance(read, float) and not math.isfinite(read):
        return None  # '.inf' and '.nan' hint at nothing anyone means
    return read if isinstance(read, bool | int | float) else None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return _KIND_NAMES["boolean"]
    if isinstance(value, int):
        return _KIND_NAMES["integer"]
    if isinstance(value, float):
        return _KIND_NAMES["number"]
    if isinstance(value, dict):
        return _KIND_NAMES["object"]
    if isinstance(value, list):
        return _KIND_NAMES["array"]
    return _KIND_NAMES["string"]


def _either(types: Sequence[str]) -> str:
    names = [_KIND_NAMES[type_name] for type_name in types]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _named(label: str, value: Any) -> str:
    """The label and the value, in a message; objects and arrays are not spelt out (their position shows them)."""
    return label if isinstance(value, dict | list) else f"{label} {show_value(value)}"


def _listed(values: Sequence[Any]) -> str:
    shown = ", ".join(show_value(value) for value in values[:_SHOWN_ENUM_VALUES])
    return shown + (", …" if len(values) > _SHOWN_ENUM_VALUES else "")
