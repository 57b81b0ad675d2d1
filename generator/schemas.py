"""Prepares the JSON Schemas of a package for the models module, with explicit model names.

Every nested object schema is lifted into a named definition (`PokemonAppearedPayloadHome`), so each
generated class has a name derived from where it stands, never a number picked by collision order.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .all_of import typed_view
from .naming import pascal_from_property
from .spec_model import DEFINITION_REF_PREFIX
from .yaml_source import JsonPath

#: A union member with only these keys needs no name: it is written inline.
_PLAIN_MEMBER_KEYS = frozenset({"type", "description", "title", "examples", "deprecated"})

#: Keys kept at the place where a lifted schema was used, since they describe the use, not the type.
_USE_SITE_KEYS = ("description", "default", "title", "examples", "deprecated")


@dataclass(frozen=True)
class NamedSchema:
    """A JSON Schema that becomes one named Python model (or type alias)."""

    name: str
    schema: dict[str, Any]
    json_path: JsonPath


def is_model_schema(schema: dict[str, Any]) -> bool:
    """An object schema with declared properties becomes a class; other objects become dicts."""
    return "properties" in schema and "$ref" not in schema


@dataclass(frozen=True)
class _Lifting:
    """What lifting needs all along: where to register each named schema, and the package's definitions
    (an `allOf` that names one is merged with its properties)."""

    register: Callable[[NamedSchema], None]
    definitions: Mapping[str, dict[str, Any]]


def lift_nested_models(
    root: NamedSchema, register: Callable[[NamedSchema], None], definitions: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """Returns `root.schema` with nested model schemas replaced by refs; registers each lifted schema.

    An `allOf` (or a `$ref` with siblings) is merged first (see all_of), so that the model it becomes is
    named from where it stands, like any other.
    """
    return _lift(root.schema, root.name, root.json_path, _Lifting(register, definitions), top_level=True)


def _lift(
    schema: dict[str, Any], name: str, json_path: JsonPath, lifting: _Lifting, *, top_level: bool
) -> dict[str, Any]:
    view = merge_nullable(typed_view(schema, lifting.definitions))
    lifted: dict[str, Any] = {}
    for key, value in view.items():
        if key == "properties":
            lifted[key] = {
                prop: _child(sub, name + pascal_from_property(prop), (*json_path, key, prop), lifting)
                for prop, sub in value.items()
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            suffix = "Item" if key == "items" else "Value"
            lifted[key] = _child(value, name + suffix, (*json_path, key), lifting)
        elif key in ("anyOf", "oneOf"):
            lifted[key] = [
                _member(member, f"{name}Option{index + 1}", (*json_path, key, index), lifting)
                for index, member in enumerate(value)
            ]
        else:
            lifted[key] = value
    if not top_level and is_model_schema(view):
        lifting.register(NamedSchema(name, {k: v for k, v in lifted.items() if k not in _USE_SITE_KEYS}, json_path))
        use_site = {k: v for k, v in view.items() if k in _USE_SITE_KEYS}
        types = view.get("type")
        if isinstance(types, list) and "null" in types:  # a nullable object: its class, or null
            return {"anyOf": [{"$ref": DEFINITION_REF_PREFIX + name}, {"type": "null"}], **use_site}
        return {"$ref": DEFINITION_REF_PREFIX + name, **use_site}
    return lifted


def _member(schema: Any, name: str, json_path: JsonPath, lifting: _Lifting) -> Any:
    """A member of anyOf/oneOf: constrained ones get a name of ours rather than an invented one."""
    lifted = _child(schema, name, json_path, lifting)
    if not isinstance(lifted, dict):  # a boolean schema
        return lifted
    if "$ref" in lifted or lifted.get("type") == "null" or set(lifted) <= _PLAIN_MEMBER_KEYS:
        return lifted
    lifting.register(NamedSchema(name, lifted, json_path))
    return {"$ref": DEFINITION_REF_PREFIX + name}


def merge_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` (or oneOf) becomes X with "null" added to its type, the plain form."""
    for keyword in ("anyOf", "oneOf"):
        members = schema.get(keyword)
        if not isinstance(members, list) or len(members) != 2 or {"type": "null"} not in members:
            continue
        other = members[1 - members.index({"type": "null"})]
        if not isinstance(other, dict):  # a boolean schema: nothing to merge
            continue
        if "$ref" in other or not isinstance(other.get("type"), str) or set(other) & set(schema) - {keyword}:
            continue
        merged = {k: v for k, v in schema.items() if k != keyword}
        return {**merged, **other, "type": [other["type"], "null"]}
    return schema


def _child(schema: Any, name: str, json_path: JsonPath, lifting: _Lifting) -> Any:
    if not isinstance(schema, dict):  # a boolean schema
        return schema
    return _lift(schema, name, json_path, lifting, top_level=False)
