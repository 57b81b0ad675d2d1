"""The typed view of `allOf`: one schema whose values are those of every branch, for the model it becomes.

`allOf: [{$ref: Discussion}, {properties: {category: {properties: {answerable: ...}}}}]` specialises a shared
object: the model at that place holds every property of `Discussion`, and `category` holds every property
of `Discussion`'s category and the narrowing too (merged again, as an `allOf` of both, at its own place).
Nothing of any branch is dropped. The JSON Schema itself stays as it is written: the runtime checks every
value against all branches; the merge only decides the Python types.

A `$ref` with other keywords beside it (`{$ref: User, required: [login]}`) means the same as an `allOf`
of the reference and the rest, as JSON Schema 2019-09 and later read it.
"""

from collections.abc import Mapping
from typing import Any

from .spec_model import DEFINITION_REF_PREFIX

#: Keywords that say something about a value but do not constrain its type: a branch of only these adds nothing.
ANNOTATION_KEYS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment", "format"}
)


def typed_view(schema: dict[str, Any], definitions: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """`schema` with a top-level `allOf` (or a `$ref` with siblings) merged into one schema; else itself."""
    branches = _branches(schema)
    if branches is None:
        return schema
    use_site = {key: value for key, value in schema.items() if key in ANNOTATION_KEYS}
    constraining = [branch for branch in branches if set(branch) - ANNOTATION_KEYS]
    if len(constraining) == 1 and "$ref" in constraining[0] and len(constraining[0]) == 1:
        return {**constraining[0], **use_site}  # `allOf: [{$ref: X}]`, a wrapper that adds a description
    merged: dict[str, Any] = {}
    for branch in constraining:
        merged = _merge(merged, _inlined(branch, definitions, frozenset()))
    return {**merged, **use_site}


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The schemas whose values `schema`'s values must all be: its own keys, then each allOf member."""
    members = schema.get("allOf")
    has_ref_siblings = "$ref" in schema and bool(set(schema) - ANNOTATION_KEYS - {"$ref"})
    if not isinstance(members, list) and not has_ref_siblings:
        return None
    own = {key: value for key, value in schema.items() if key != "allOf" and key not in ANNOTATION_KEYS}
    branches: list[dict[str, Any]] = []
    if "$ref" in own:
        branches.append({"$ref": own.pop("$ref")})
    if own:
        branches.append(own)
    branches.extend(member for member in members or () if isinstance(member, dict))
    return branches


def _inlined(branch: dict[str, Any], definitions: Mapping[str, dict[str, Any]], seen: frozenset[str]) -> dict[str, Any]:
    """A branch with its `$ref` replaced by the definition it names (and that one's allOf merged), so that its
    properties can be merged with the other branches'. A reference back into itself is kept as it is."""
    ref = branch.get("$ref")
    if not isinstance(ref, str) or not ref.startswith(DEFINITION_REF_PREFIX):
        nested = _branches(branch)
        if nested is None:
            return branch
        merged: dict[str, Any] = {}
        for member in nested:
            merged = _merge(merged, _inlined(member, definitions, seen))
        return merged
    target = ref.removeprefix(DEFINITION_REF_PREFIX)
    if target in seen or target not in definitions:
        return branch
    rest = {key: value for key, value in branch.items() if key != "$ref"}
    resolved = _inlined(definitions[target], definitions, seen | {target})
    return _merge(resolved, rest) if rest else resolved


def _merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The schema of the values of both (for typing): properties of both, a property of both as an allOf of
    its two schemas (merged where it stands), every required name, the types both allow."""
    if not first:
        return dict(second)
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
        elif key == "properties" and isinstance(value, dict) and isinstance(merged[key], dict):
            properties = dict(merged[key])
            for name, sub_schema in value.items():
                properties[name] = _both(properties[name], sub_schema) if name in properties else sub_schema
            merged[key] = properties
        elif key == "required" and isinstance(value, list) and isinstance(merged[key], list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "type":
            merged[key] = _common_types(merged[key], value)
        elif key in ("items", "additionalProperties"):
            merged[key] = _both(merged[key], value)
        elif key == "enum" and isinstance(value, list) and isinstance(merged[key], list):
            merged[key] = [member for member in merged[key] if any(_same_json(member, other) for other in value)]
    return merged


def _both(first: Any, second: Any) -> Any:
    """The schema of values valid against both (booleans: `false` wins, `true` adds nothing)."""
    if first is False or second is False:
        return False
    if first is True or first == {}:
        return second
    if second is True or second == {} or first == second:
        return first
    return {"allOf": [first, second]}


def _common_types(first: Any, second: Any) -> Any:
    first_types = [first] if isinstance(first, str) else list(first)
    second_types = {second} if isinstance(second, str) else set(second)
    if "number" in second_types:
        second_types.add("integer")  # every integer is a number
    common = [kind for kind in first_types if kind in second_types]
    if "number" in first_types and "integer" in second_types and "number" not in second_types:
        common.append("integer")
    return common[0] if len(common) == 1 else common


def _same_json(first: Any, second: Any) -> bool:
    """JSON's equality: `true` is not 1 (Python's says it is)."""
    return isinstance(first, bool) == isinstance(second, bool) and first == second
