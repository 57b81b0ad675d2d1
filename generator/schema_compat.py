"""Compares two JSON Schemas of the spec subset: which changes break stored events and their readers.

The question asked of every change is whether the NEW schema still accepts every value the OLD one accepted:
events already stored (and messages already in flight) were valid under OLD and must still decode under
NEW. A change that rejects some of them is a *narrowing* (breaking); one that accepts more is a *widening*
(safe). `$ref`s are resolved to the definitions of each side, so renaming a definition changes nothing.

A schema is compared as a union of single-typed members: `type: [string, "null"]`, `anyOf` and `oneOf` all
become such members (JSON Schema constraints apply to one type each, so splitting by type is exact), and
each OLD member must be covered by a NEW member of a type that accepts it. Where the comparison cannot be
sure (`allOf`, widening inside a `oneOf`), the change counts as breaking and says why.

Pure functions on plain data: no files, no positions, only `Origin`s that the caller maps to positions.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

from .yaml_source import JsonPath

#: Where a schema node stands: an opaque name of its file and its path within the file's data.
Origin = tuple[str, JsonPath]
ChangeKind = Literal["narrowing", "widening", "annotation", "default", "uncertain"]
Severity = Literal["breaking", "warning", "safe"]

_SEVERITIES: dict[ChangeKind, Severity] = {
    "narrowing": "breaking",
    "uncertain": "breaking",
    "widening": "safe",
    "annotation": "safe",
    # Events stored without the field are read with the new default: nothing fails, but their meaning changes.
    "default": "warning",
}
_REF_PREFIX = "#/definitions/"
_ANNOTATIONS = ("title", "description", "examples", "deprecated")
_COMBINATORS = ("anyOf", "oneOf", "allOf")
#: The keywords that constrain values of one type; a member split off for that type keeps only these.
_KEYWORDS_BY_TYPE: dict[str, frozenset[str]] = {
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}),
    "array": frozenset({"items", "minItems", "maxItems", "uniqueItems"}),
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_KEYWORDS_BY_TYPE["number"] = _KEYWORDS_BY_TYPE["integer"]
_TYPED_KEYWORDS = frozenset().union(*_KEYWORDS_BY_TYPE.values())
#: Lower bounds: raising one rejects values that were valid. Upper bounds: lowering one does.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_HANDLED = frozenset(
    {"$ref", "type", "enum", "const", "default", "multipleOf", "uniqueItems", "pattern", "format"}
    | set(_ANNOTATIONS)
    | set(_COMBINATORS)
    | set(_KEYWORDS_BY_TYPE["object"])
    | {"items", *_LOWER_BOUNDS, *_UPPER_BOUNDS}
)


@dataclass(frozen=True)
class SchemaNode:
    """A schema and where it stands."""

    schema: Mapping[str, Any]
    origin: Origin


@dataclass(frozen=True, order=True)
class SchemaChange:
    """One difference: `field` is the path below the compared schema ("", "trainer_id", "parcels[].isbns")."""

    field: str
    kind: ChangeKind
    message: str
    #: The NEW side's node when it exists (`on_new_side`), else the OLD side's (a removal).
    origin: Origin
    on_new_side: bool = True

    @property
    def severity(self) -> Severity:
        return _SEVERITIES[self.kind]


def compare_schemas(
    old: SchemaNode,
    new: SchemaNode,
    old_definitions: Mapping[str, SchemaNode],
    new_definitions: Mapping[str, SchemaNode],
) -> list[SchemaChange]:
    """Every change from `old` to `new`, sorted, each once."""
    comparison = _Comparison(old_definitions, new_definitions)
    return sorted(set(comparison.compare(old, new, "", frozenset())))


@dataclass(frozen=True)
class _Member:
    """One single-typed alternative of a schema (`type` None: any value)."""

    type: str | None
    node: SchemaNode


@dataclass
class _Comparison:
    old_definitions: Mapping[str, SchemaNode]
    new_definitions: Mapping[str, SchemaNode]

    def compare(
        self, old: SchemaNode, new: SchemaNode, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        old_node, old_refs = _resolve(old, self.old_definitions)
        new_node, new_refs = _resolve(new, self.new_definitions)
        # Pairs of definitions being compared further up: a recursive definition is compared once, not forever.
        pairs = {(o, n) for o in old_refs for n in new_refs}
        if pairs & seen:
            return []  # already being compared further up: assume equal there, so a cycle ends
        seen = seen | pairs
        changes = list(_annotation_changes(old_node, new_node, path))
        changes.extend(_default_changes(old_node, new_node, path))
        if "allOf" in old_node.schema or "allOf" in new_node.schema:
            changes.extend(self.compare_all_of(old_node, new_node, path))
            return changes
        changes.extend(self.compare_unions(old_node, new_node, path, seen))
        return changes

    def compare_all_of(self, old: SchemaNode, new: SchemaNode, path: str) -> list[SchemaChange]:
        # Intersections would need a schema algebra; any difference in shape is reported, conservatively.
        if _shape(old.schema, self.old_definitions, ()) == _shape(new.schema, self.new_definitions, ()):
            return []
        message = "allOf schema changed (allOf is not compared member by member, so any change counts as breaking)"
        return [SchemaChange(path, "uncertain", message, new.origin)]

    def compare_unions(
        self, old: SchemaNode, new: SchemaNode, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        old_members = list(_members(old, self.old_definitions))
        new_members = list(_members(new, self.new_definitions))
        single = len(old_members) == 1 and len(new_members) == 1
        changes: list[SchemaChange] = []
        covering: set[int] = set()
        for member in old_members:
            candidates = [index for index, other in enumerate(new_members) if _accepts(other.type, member.type)]
            covering.update(candidates)
            if not candidates:
                changes.append(_lost_type(member, new_members, new, path, single=single))
                continue
            changes.extend(self.best_match(member, [new_members[index] for index in candidates], path, seen))
        for index, member in enumerate(new_members):
            # A NEW member that no OLD member covered, but whose values OLD accepted, widens nothing.
            if index not in covering and not any(_accepts(other.type, member.type) for other in old_members):
                changes.append(_gained_type(member, old_members, path, single=single))
        if "oneOf" in new.schema and len(new_members) > 1:
            changes = [_exclusive(change) for change in changes]
        return changes

    def best_match(
        self, old: _Member, candidates: list[_Member], path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        """The changes against the NEW member that covers `old` best: one with no breaking change if any."""
        results = [self.compare_member(old, candidate, path, seen) for candidate in candidates]
        return min(results, key=lambda changes: sum(change.severity == "breaking" for change in changes))

    def compare_member(
        self, old: _Member, new: _Member, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        changes: list[SchemaChange] = []
        if old.type != new.type:
            shown = old.type or "any type"
            message = f"type widened from {shown} to {new.type or 'any type'}"
            changes.append(SchemaChange(path, "widening", message, new.node.origin))
        o, n = old.node.schema, new.node.schema
        changes.extend(_enum_changes(old.node, new.node, path))
        changes.extend(_bound_changes(old.node, new.node, path))
        changes.extend(_exact_keyword_changes(old.node, new.node, path))
        changes.extend(_multiple_of_changes(old.node, new.node, path))
        changes.extend(self.compare_items(old.node, new.node, path, seen))
        if "object" in (old.type, new.type) or any(key in o or key in n for key in _KEYWORDS_BY_TYPE["object"]):
            changes.extend(self.compare_objects(old.node, new.node, path, seen))
        changes.extend(_unknown_keyword_changes(old.node, new.node, path))
        return changes

    def compare_items(
        self, old: SchemaNode, new: SchemaNode, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        if "items" not in old.schema and "items" not in new.schema:
            return []
        # No `items` accepts any item: compared as the empty schema, so adding one narrows from "any type".
        old_items = _child(old, "items")
        new_items = _child(new, "items")
        return self.compare(old_items, new_items, f"{path}[]", seen)

    def compare_objects(
        self, old: SchemaNode, new: SchemaNode, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        old_properties: Mapping[str, Any] = old.schema.get("properties") or {}
        new_properties: Mapping[str, Any] = new.schema.get("properties") or {}
        old_required = set(old.schema.get("required") or ())
        new_required = set(new.schema.get("required") or ())
        changes: list[SchemaChange] = []
        for name in sorted(set(old_properties) | set(new_properties)):
            where = _join(path, name)
            old_property = _child(old, "properties", name)
            new_property = _child(new, "properties", name)
            if name not in new_properties:
                changes.append(SchemaChange(where, "narrowing", "removed", old_property.origin, on_new_side=False))
            elif name not in old_properties:
                changes.append(_added_property(where, new_property, required=name in new_required))
            else:
                changes.extend(_required_changes(where, new_property, name in old_required, name in new_required))
                changes.extend(self.compare(old_property, new_property, where, seen))
        changes.extend(self.compare_additional(old, new, path, seen))
        return changes

    def compare_additional(
        self, old: SchemaNode, new: SchemaNode, path: str, seen: frozenset[tuple[str, str]]
    ) -> list[SchemaChange]:
        old_value = old.schema.get("additionalProperties")
        new_value = new.schema.get("additionalProperties")
        if old_value is False and new_value is False:
            return []
        if new_value is False:
            message = "additional properties no longer allowed"
            return [SchemaChange(path, "narrowing", message, _keyword_origin(new, "additionalProperties"))]
        if old_value is False:
            message = "additional properties now allowed"
            return [SchemaChange(path, "widening", message, _keyword_origin(new, "additionalProperties"))]
        # Absent and `true` allow any value: both compare as the empty schema.
        return self.compare(_child(old, "additionalProperties"), _child(new, "additionalProperties"), f"{path}.*", seen)


def _resolve(node: SchemaNode, definitions: Mapping[str, SchemaNode]) -> tuple[SchemaNode, tuple[str, ...]]:
    """Follows `$ref`s to the definition; keys beside a `$ref` (a description, a default) are kept over it."""
    refs: list[str] = []
    while isinstance(node.schema.get("$ref"), str):
        name = str(node.schema["$ref"]).removeprefix(_REF_PREFIX)
        target = definitions.get(name)
        if target is None or name in refs:
            break  # validation refuses unknown refs; a ref cycle without structure has nothing more to say
        refs.append(name)
        beside = {key: value for key, value in node.schema.items() if key != "$ref"}
        node = SchemaNode({**target.schema, **beside}, target.origin)
    return node, tuple(refs)


def _shape(schema: Any, definitions: Mapping[str, SchemaNode], refs: tuple[str, ...]) -> Any:
    """A schema with refs resolved (a recursive one kept by name) and annotations dropped, for equality."""
    if isinstance(schema, list):
        return [_shape(item, definitions, refs) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix(_REF_PREFIX)
        if name in refs or name not in definitions:
            return {"$recursive": len(refs) - refs.index(name) if name in refs else name}
        beside = {key: value for key, value in schema.items() if key != "$ref"}
        return _shape({**definitions[name].schema, **beside}, definitions, (*refs, name))
    return {
        key: value if key in ("enum", "const", "required") else _shape(value, definitions, refs)
        for key, value in schema.items()
        if key not in _ANNOTATIONS
    }


def _members(node: SchemaNode, definitions: Mapping[str, SchemaNode]) -> Iterator[_Member]:
    """The single-typed alternatives of a schema: its `anyOf`/`oneOf` members and the types of its `type`."""
    schema = node.schema
    combinator = "anyOf" if "anyOf" in schema else "oneOf" if "oneOf" in schema else None
    if combinator is None:
        yield from _split_by_type(node)
        return
    # A keyword beside the combinator applies to every member: it is merged in (the member's own wins).
    outer = {key: value for key, value in schema.items() if key not in (combinator, *_ANNOTATIONS, "default")}
    for index, _ in enumerate(schema[combinator]):
        member, _refs = _resolve(_child(node, combinator, index), definitions)
        merged = SchemaNode({**outer, **member.schema}, member.origin)
        yield from _members(merged, definitions)


def _split_by_type(node: SchemaNode) -> Iterator[_Member]:
    types = _declared_types(node.schema)
    if types is None:
        yield _Member(None, node)
        return
    for type_name in types:
        yield _Member(type_name, SchemaNode(_restrict(node.schema, type_name), node.origin))


def _declared_types(schema: Mapping[str, Any]) -> list[str] | None:
    """The types a schema allows (None: any), inferred from `enum`, `const`, `properties` or `items` if untyped."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(item) for item in declared]
    values = _enum_values(schema)
    if values is not None:
        return sorted({_value_type(value) for value in values})
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return None


def _restrict(schema: Mapping[str, Any], type_name: str) -> dict[str, Any]:
    """The schema as it applies to values of one type: other types' keywords and enum values dropped."""
    kept = _KEYWORDS_BY_TYPE.get(type_name, frozenset())
    restricted = {key: value for key, value in schema.items() if key not in _TYPED_KEYWORDS or key in kept}
    restricted["type"] = type_name
    values = _enum_values(schema)
    if values is not None:
        restricted.pop("const", None)
        restricted["enum"] = [value for value in values if _fits(value, type_name)]
    return restricted


def _enum_values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _fits(value: Any, type_name: str) -> bool:
    found = _value_type(value)
    return found == type_name or (found == "integer" and type_name == "number")


def _accepts(new_type: str | None, old_type: str | None) -> bool:
    """Whether every value of `old_type` has `new_type` (None: any type)."""
    if new_type is None:
        return True
    return old_type is not None and (new_type == old_type or (old_type == "integer" and new_type == "number"))


def _lost_type(
    member: _Member, new_members: list[_Member], new: SchemaNode, path: str, *, single: bool
) -> SchemaChange:
    new_types = sorted({other.type or "any type" for other in new_members})
    old_type = member.type or "any type"
    if single:
        message = f"type changed from {old_type} to {new_types[0]}"
        if member.type is None:
            message = f"type narrowed from any type to {new_types[0]}"
    elif member.type == "null":
        message = "no longer nullable"
    else:
        message = f"no longer accepts {old_type} (now {', '.join(new_types)})"
    return SchemaChange(path, "narrowing", message, _keyword_origin(new, "type"))


def _gained_type(member: _Member, old_members: list[_Member], path: str, *, single: bool) -> SchemaChange:
    if single:
        message = f"type widened from {old_members[0].type or 'any type'} to {member.type or 'any type'}"
    elif member.type == "null":
        message = "made nullable"
    else:
        message = f"now also accepts {member.type or 'any type'}"
    return SchemaChange(path, "widening", message, member.node.origin)


def _exclusive(change: SchemaChange) -> SchemaChange:
    """In a `oneOf` a value must match exactly one member: a wider member may now overlap another."""
    if change.kind != "widening":
        return change
    reason = "inside a oneOf, a value that now matches two members is rejected"
    return replace(change, kind="uncertain", message=f"{change.message} ({reason})")


def _annotation_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    for keyword in _ANNOTATIONS:
        before, after = old.schema.get(keyword), new.schema.get(keyword)
        if before == after:
            continue
        verb = "added" if before is None else "removed" if after is None else "changed"
        yield SchemaChange(path, "annotation", f"{keyword} {verb}", _keyword_origin(new, keyword))


def _default_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    if "default" not in old.schema and "default" not in new.schema:
        return
    before, after = old.schema.get("default"), new.schema.get("default")
    if "default" in old.schema and "default" in new.schema and _json(before) == _json(after):
        return
    if "default" not in new.schema:
        message = f"default {_json(before)} removed"
    elif "default" not in old.schema:
        message = f"default {_json(after)} added"
    else:
        message = f"default changed from {_json(before)} to {_json(after)}"
    yield SchemaChange(
        path, "default", f"{message}: events stored without it now read differently", _keyword_origin(new, "default")
    )


def _enum_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    before, after = _enum_values(old.schema), _enum_values(new.schema)
    origin = _keyword_origin(new, "const" if "const" in new.schema else "enum")
    if before is None and after is None:
        return
    if after is None:
        yield SchemaChange(path, "widening", "no longer restricted to enum values", origin)
        return
    if before is None:
        yield SchemaChange(path, "narrowing", f"restricted to the values {_listed(after)}", origin)
        return
    removed = [value for value in before if _json(value) not in {_json(item) for item in after}]
    added = [value for value in after if _json(value) not in {_json(item) for item in before}]
    if removed:
        yield SchemaChange(path, "narrowing", f"enum values removed: {_listed(removed)}", origin)
    if added:
        yield SchemaChange(path, "widening", f"enum values added: {_listed(added)}", origin)


def _bound_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    for keyword in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
        before, after = old.schema.get(keyword), new.schema.get(keyword)
        if before == after:
            continue
        origin = _keyword_origin(new, keyword)
        if after is None:
            yield SchemaChange(path, "widening", f"{keyword} {before} removed", origin)
        elif before is None:
            yield SchemaChange(path, "narrowing", f"{keyword} {after} added", origin)
        else:
            tighter = after > before if keyword in _LOWER_BOUNDS else after < before
            verb = "raised" if after > before else "lowered"
            kind: ChangeKind = "narrowing" if tighter else "widening"
            yield SchemaChange(path, kind, f"{keyword} {verb} from {before} to {after}", origin)


def _exact_keyword_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    """`pattern` and `format`, which are either the same or unrelated; `uniqueItems`, a flag."""
    for keyword in ("pattern", "format"):
        before, after = old.schema.get(keyword), new.schema.get(keyword)
        if before == after:
            continue
        origin = _keyword_origin(new, keyword)
        if after is None:
            yield SchemaChange(path, "widening", f"{keyword} {_json(before)} removed", origin)
        elif before is None:
            yield SchemaChange(path, "narrowing", f"{keyword} {_json(after)} added", origin)
        else:
            yield SchemaChange(path, "narrowing", f"{keyword} changed from {_json(before)} to {_json(after)}", origin)
    before_unique, after_unique = bool(old.schema.get("uniqueItems")), bool(new.schema.get("uniqueItems"))
    if before_unique != after_unique:
        kind: ChangeKind = "narrowing" if after_unique else "widening"
        message = "items must now be unique" if after_unique else "items no longer need to be unique"
        yield SchemaChange(path, kind, message, _keyword_origin(new, "uniqueItems"))


def _multiple_of_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    before, after = old.schema.get("multipleOf"), new.schema.get("multipleOf")
    if before == after:
        return
    origin = _keyword_origin(new, "multipleOf")
    if after is None:
        yield SchemaChange(path, "widening", f"multipleOf {before} removed", origin)
    elif before is None:
        yield SchemaChange(path, "narrowing", f"multipleOf {after} added", origin)
    else:
        # Every multiple of `before` stays valid when `before` is itself a multiple of `after` (10 → 5).
        ratio = Fraction(str(before)) / Fraction(str(after))
        kind: ChangeKind = "widening" if ratio.denominator == 1 else "narrowing"
        yield SchemaChange(path, kind, f"multipleOf changed from {before} to {after}", origin)


def _unknown_keyword_changes(old: SchemaNode, new: SchemaNode, path: str) -> Iterator[SchemaChange]:
    """A keyword this module does not know (the spec subset has none today) is compared for equality."""
    for keyword in sorted((set(old.schema) | set(new.schema)) - _HANDLED):
        if _json(old.schema.get(keyword)) != _json(new.schema.get(keyword)):
            message = f"{keyword} changed (not understood by kastor diff, so counted as breaking)"
            yield SchemaChange(path, "uncertain", message, _keyword_origin(new, keyword))


def _added_property(path: str, node: SchemaNode, *, required: bool) -> SchemaChange:
    if not required:
        return SchemaChange(path, "widening", "added (optional)", node.origin)
    if "default" in node.schema:
        return SchemaChange(
            path, "widening", "added as required, with a default for events stored without it", node.origin
        )
    return SchemaChange(path, "narrowing", "added as required, without a default: stored events lack it", node.origin)


def _required_changes(path: str, node: SchemaNode, was_required: bool, is_required: bool) -> Iterator[SchemaChange]:
    if was_required == is_required:
        return
    if not is_required:
        yield SchemaChange(path, "widening", "made optional", node.origin)
    elif "default" in node.schema:
        yield SchemaChange(path, "widening", "made required, with a default for events stored without it", node.origin)
    else:
        yield SchemaChange(path, "narrowing", "made required", node.origin)


def _child(node: SchemaNode, *keys: str | int) -> SchemaNode:
    """The sub-schema at `keys` (the empty schema, accepting anything, when absent or `true`)."""
    value: Any = node.schema
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            value = None
    file, path = node.origin
    if not isinstance(value, Mapping):
        return SchemaNode({}, node.origin)  # where it would stand is unknown: its parent stands for it
    return SchemaNode(value, (file, (*path, *keys)))


def _keyword_origin(node: SchemaNode, keyword: str) -> Origin:
    file, path = node.origin
    return (file, (*path, keyword)) if keyword in node.schema else node.origin


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _listed(values: list[Any]) -> str:
    return ", ".join(_json(value) for value in values)
