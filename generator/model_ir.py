"""The intermediate model of `models.py`: one class or type alias per named schema, with every annotation,
default, alias, docstring and import computed here, so that the template only lays them out.

Each model is the typed view of its JSON Schema (what the runtime's `Model` holds and gives back unchanged);
the schema itself stays the authority on what is valid, and the runtime checks every pushed event against it.
So an annotation states the JSON types a value may have and no more: `string` is `str` whatever its format
(the text is kept byte for byte), `number` is `int | float` (a number keeps its type), a schema without a
type is `JsonValue`, an optional property that is not nullable is `Annotated[T | None, NotNull]`.
"""

import heapq
import keyword
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .ir import PackageModel, docstring_text
from .schemas import NamedSchema, is_model_schema
from .spec_model import DEFINITION_REF_PREFIX
from .unions import needs_union_import, union_of

#: Names `models.py` imports or defines beside the models: a field named like one would hide it from the
#: annotations after it in the class body, so such fields get a trailing underscore.
_NAMES_USED_IN_CLASS_BODIES = frozenset(
    {
        *("bool", "dict", "float", "int", "list", "str", "None"),
        *("Annotated", "Literal", "TypeAlias", "ConfigDict", "Field", "JsonValue"),
        *("Model", "Aggregate", "NotNull", "ExactLiteral"),
    }
)
#: What a model inherits from pydantic's BaseModel (`copy`, `json`, `schema`...): a field must not shadow it.
_MODEL_ATTRIBUTES = frozenset(name for name in dir(BaseModel) if not name.startswith("_"))
#: pydantic reserves these prefixes for its own attributes and methods.
_RESERVED_PREFIXES = ("model_", "_")
_JSON_TYPES = {"string": "str", "integer": "int", "number": "int | float", "boolean": "bool", "null": "None"}


@dataclass(frozen=True)
class FieldModel:
    name: str  # the Python attribute
    annotation: str
    default: str | None  # Python source of the default, None when the property is required
    docstring: str | None


@dataclass(frozen=True)
class ClassModel:
    name: str
    base: str
    docstring: str | None
    fields: tuple[FieldModel, ...]
    #: `extra="forbid"` for `additionalProperties: false`; the base keeps undeclared properties otherwise.
    forbids_extra: bool
    #: The type of undeclared properties when `additionalProperties` gives it a schema.
    extra_annotation: str | None


@dataclass(frozen=True)
class AliasModel:
    name: str
    annotation: str
    docstring: str | None


@dataclass(frozen=True)
class ModelsModule:
    header: str
    typing_imports: tuple[str, ...]
    pydantic_imports: tuple[str, ...]
    runtime_imports: tuple[str, ...]
    #: Classes and aliases in an order where each comes after what it uses (ties in name order).
    definitions: tuple[ClassModel | AliasModel, ...]


@dataclass
class _Imports:
    typing: set[str] = field(default_factory=set)
    pydantic: set[str] = field(default_factory=set)
    runtime: set[str] = field(default_factory=set)


def build_models_module(package: PackageModel) -> ModelsModule:
    imports = _Imports()
    aggregates = frozenset(package.aggregate_classes)
    model_names = frozenset(named.name for named in package.models)
    definitions: list[ClassModel | AliasModel] = []
    uses: dict[str, set[str]] = {}
    for named in package.models:
        annotations = _Annotations(imports, model_names)
        if is_model_schema(named.schema) or named.name in aggregates:
            base = "Aggregate" if named.name in aggregates else "Model"
            imports.runtime.add(base)
            definitions.append(_class_model(named, base, annotations, model_names))
        else:
            imports.typing.add("TypeAlias")
            definitions.append(AliasModel(named.name, annotations.of(named.schema), _docstring(named.schema)))
        uses[named.name] = annotations.referenced
    return ModelsModule(
        header=package.header,
        typing_imports=tuple(sorted(imports.typing)),
        pydantic_imports=tuple(sorted(imports.pydantic)),
        runtime_imports=tuple(sorted(imports.runtime)),
        definitions=_dependency_order(definitions, uses),
    )


def _class_model(named: NamedSchema, base: str, annotations: "_Annotations", model_names: frozenset[str]) -> ClassModel:
    schema = named.schema
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    python_names = field_names(list(properties), hidden=model_names)
    # A boolean property schema is typed as any JSON value: `true` allows any, and under `false` the runtime's
    # schema check refuses the property whenever it is present.
    fields = tuple(
        _field(
            python_names[name], name, sub_schema if isinstance(sub_schema, dict) else {}, name in required, annotations
        )
        for name, sub_schema in properties.items()
    )
    additional = schema.get("additionalProperties")
    extra_annotation = annotations.of(additional) if isinstance(additional, dict) and additional else None
    if extra_annotation is not None:
        annotations.imports.pydantic.add("Field")
    if additional is False:
        annotations.imports.pydantic.add("ConfigDict")
    return ClassModel(named.name, base, _docstring(schema), fields, additional is False, extra_annotation)


def _field(
    python_name: str, json_name: str, schema: dict[str, Any], required: bool, annotations: "_Annotations"
) -> FieldModel:
    # The constraints of a property of one type stand beside its type: `Annotated[str | None, NotNull,
    # Field(max_length=2)]`, as a reader expects them.
    constraints = _field_constraints(schema)
    members = annotations.members(schema, constrained=not constraints)
    nullable = "None" in members
    default = schema.get("default")
    has_default = "default" in schema and (default is not None or nullable)
    markers: list[str] = []
    if not required and not has_default and not nullable:
        # Absent, it reads as None; given, it must not be null (see the runtime's NotNull).
        members = [*members, "None"]
        markers.append("NotNull")
    field_arguments = [*([f"alias={json_name!r}"] if python_name != json_name else []), *constraints]
    if field_arguments:
        markers.append(f"Field({', '.join(field_arguments)})")
        annotations.imports.pydantic.add("Field")
    annotation = annotations.union(members)
    if markers:
        annotations.imports.typing.add("Annotated")
        annotations.imports.runtime.update(marker for marker in markers if not marker.startswith("Field("))
        annotation = f"Annotated[{annotation}, {', '.join(markers)}]"
    if required:
        default_source = None
    elif has_default:
        default_source = repr(default)
    else:
        default_source = "None"
    return FieldModel(python_name, annotation, default_source, _docstring(schema))


class _Annotations:
    """The Python annotation of a (lifted) schema, as union members; records the imports and names it uses."""

    def __init__(self, imports: _Imports, model_names: frozenset[str]) -> None:
        self.imports = imports
        self.model_names = model_names
        self.referenced: set[str] = set()

    def of(self, schema: Any) -> str:
        return self.union(self.members(schema))

    def union(self, members: list[str]) -> str:
        if needs_union_import(members):
            self.imports.typing.add("Union")
        return union_of(members)

    def members(self, schema: Any, *, constrained: bool = True) -> list[str]:
        """The members of the union that the schema's values are, without repetition, None last; with their
        constraints (`Annotated[str, Field(max_length=2)]`) unless `constrained` is false."""
        found = self._members(schema, constrained)
        unique = list(dict.fromkeys(member for member in found if member != "None"))
        return unique + (["None"] if "None" in found else [])

    def _members(self, schema: Any, constrained: bool) -> list[str]:
        if not isinstance(schema, dict) or not schema:  # `true`, `{}`: any JSON value
            return self._json_value()
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFINITION_REF_PREFIX):
            target = ref.removeprefix(DEFINITION_REF_PREFIX)
            self.referenced.add(target)
            return [target]
        if "const" in schema:
            return self._literal([schema["const"]])
        if isinstance(schema.get("enum"), list):
            return self._literal(schema["enum"])
        for combinator in ("anyOf", "oneOf"):
            members = schema.get(combinator)
            if isinstance(members, list) and members:
                return [member for sub_schema in members for member in self._members(sub_schema, constrained)]
        types = schema.get("type")
        names = [types] if isinstance(types, str) else types if isinstance(types, list) else []
        if not names:
            return self._json_value()
        return [member for name in names for member in self._of_type(name, schema, constrained)]

    def _of_type(self, name: str, schema: dict[str, Any], constrained: bool) -> list[str]:
        constraints = _constraints(name, schema) if constrained else ""
        if constraints:
            self.imports.typing.add("Annotated")
            self.imports.pydantic.add("Field")
        if name in _JSON_TYPES:
            if constraints:
                return [f"Annotated[{_JSON_TYPES[name]}, Field({constraints})]"]
            return _JSON_TYPES[name].split(" | ")
        if name == "array":
            items = schema.get("items")
            item = self.of(items) if isinstance(items, dict) else self.of(True)
            return [f"Annotated[list[{item}], Field({constraints})]" if constraints else f"list[{item}]"]
        if name == "object":
            additional = schema.get("additionalProperties")
            value = self.of(additional) if isinstance(additional, dict) else self.of(True)
            return [f"dict[str, {value}]"]
        return self._json_value()

    def _literal(self, values: Iterable[Any]) -> list[str]:
        values = list(values)
        plain = [value for value in values if isinstance(value, str | int | float | bool) and value is not None]
        if len(plain) + values.count(None) != len(values):
            return self._json_value()  # objects or arrays: no Literal can hold them; the schema checks them
        if any(isinstance(value, float) for value in plain):
            # A Literal cannot hold a float (PEP 586): the values' types stand, the schema checks the values.
            kinds = dict.fromkeys(_python_type(value) for value in plain)
            return [member for kind in kinds for member in kind.split(" | ")] + (["None"] if None in values else [])
        members: list[str] = []
        if plain:
            self.imports.typing.add("Literal")
            literal = f"Literal[{', '.join(repr(value) for value in _distinct_json(plain))}]"
            if any(isinstance(value, int | float) for value in plain):
                # Python holds True == 1: the runtime's marker keeps JSON's types apart.
                self.imports.typing.add("Annotated")
                self.imports.runtime.add("ExactLiteral")
                literal = f"Annotated[{literal}, ExactLiteral]"
            members.append(literal)
        if None in values:
            members.append("None")
        return members

    def _json_value(self) -> list[str]:
        self.imports.pydantic.add("JsonValue")
        return ["JsonValue"]


def field_names(properties: list[str], *, hidden: Iterable[str] = ()) -> dict[str, str]:
    """The Python attribute of each property: itself when it can be, else a close identifier.

    `my-field` is `my_field`, `1st` is `field_1st`, a keyword, a builtin type or a name of the module
    (`class`, `int`, `Field`, a model class) gets a trailing underscore, one more while the name is taken.
    The JSON name is kept as the field's alias.
    """
    hidden_names = _NAMES_USED_IN_CLASS_BODIES | _MODEL_ATTRIBUTES | frozenset(hidden)
    taken = {name for name in properties if _usable(name, hidden_names)}
    names: dict[str, str] = {}
    for name in properties:
        if name in taken and name not in names.values():
            names[name] = name
            continue
        # Each character that cannot continue an identifier (`-`, a space, `²`...) becomes `_`.
        candidate = "".join(char if f"a{char}".isidentifier() else "_" for char in name)
        if not candidate or candidate[0].isdigit() or candidate.startswith(_RESERVED_PREFIXES):
            candidate = f"field_{candidate.lstrip('_')}" if candidate.lstrip("_") else "field"
        while not _usable(candidate, hidden_names) or candidate in taken or candidate in names.values():
            candidate += "_"
        names[name] = candidate
    return names


def _usable(name: str, hidden: frozenset[str]) -> bool:
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and name not in hidden
    )


#: JSON Schema's constraints that pydantic checks with the same meaning, by the JSON type they apply to, so that
#: building a model with a value out of bounds fails at once. The runtime checks every keyword at push.
_CONSTRAINTS = {
    "string": {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"},
    "integer": {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"},
    "number": {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"},
    "array": {"minItems": "min_length", "maxItems": "max_length"},
}


def _constraints(type_name: str, schema: dict[str, Any]) -> str:
    """The `Field(...)` arguments of the schema's constraints on values of `type_name`, when it has one type."""
    types = schema.get("type")
    single = types == type_name or types == [type_name] or _nullable_of(types, type_name)
    if type_name not in _CONSTRAINTS or not single:
        return ""
    arguments: dict[str, Any] = {}
    for schema_keyword, argument in _CONSTRAINTS[type_name].items():
        value = schema.get(schema_keyword)
        if isinstance(value, bool):
            # Draft 4's boolean exclusiveMinimum / exclusiveMaximum make `minimum` / `maximum` exclusive.
            lower = schema_keyword == "exclusiveMinimum"
            bound = schema.get("minimum" if lower else "maximum")
            if value and isinstance(bound, int | float) and not isinstance(bound, bool):
                arguments.pop("ge" if lower else "le", None)
                arguments[argument] = bound
        elif isinstance(value, int | float | str):
            arguments[argument] = value
    return ", ".join(f"{argument}={value!r}" for argument, value in sorted(arguments.items()))


def _field_constraints(schema: dict[str, Any]) -> list[str]:
    """The constraint arguments of a property whose schema has one type (nullable or not), else none."""
    types = schema.get("type")
    names = [types] if isinstance(types, str) else [name for name in types or () if name != "null"]
    if len(names) != 1 or "$ref" in schema or "enum" in schema or "const" in schema:
        return []
    constraints = _constraints(names[0], schema)
    return [constraints] if constraints else []


def _nullable_of(types: Any, type_name: str) -> bool:
    return isinstance(types, list) and sorted(types) == sorted([type_name, "null"])


def _python_type(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "bool"
    return "int | float" if isinstance(value, int | float) else "str"


def _distinct_json(values: list[Any]) -> list[Any]:
    """The values without repetition as JSON sees it: `true` and `1` are two values (Python's `==` says one)."""
    seen: set[tuple[type, Any]] = set()
    distinct: list[Any] = []
    for value in values:
        key = (bool if isinstance(value, bool) else float if isinstance(value, int | float) else str, value)
        if key not in seen:
            seen.add(key)
            distinct.append(value)
    return distinct


def _docstring(schema: Any) -> str | None:
    description = schema.get("description") if isinstance(schema, dict) else None
    return docstring_text(description) if isinstance(description, str) and description.strip() else None


def _dependency_order(
    definitions: list[ClassModel | AliasModel], uses: Mapping[str, set[str]]
) -> tuple[ClassModel | AliasModel, ...]:
    """Each definition after those it uses, the smallest name first among those ready (a stable order: an
    added model moves no other). In a cycle (recursive models) the smallest name goes first: pydantic
    resolves the forward references when the models are first used."""
    by_name = {definition.name: definition for definition in definitions}
    needs = {name: {used for used in uses[name] if used in by_name and used != name} for name in by_name}
    users: dict[str, list[str]] = {name: [] for name in by_name}
    for name, used_names in needs.items():
        for used in used_names:
            users[used].append(name)
    ready = [name for name, used_names in needs.items() if not used_names]
    heapq.heapify(ready)
    placed: set[str] = set()
    ordered: list[ClassModel | AliasModel] = []
    while len(ordered) < len(by_name):
        if not ready:
            ready = [min(name for name in by_name if name not in placed)]
        name = heapq.heappop(ready)
        if name in placed:
            continue
        placed.add(name)
        ordered.append(by_name[name])
        for user in users[name]:
            needs[user].discard(name)
            if not needs[user] and user not in placed:
                heapq.heappush(ready, user)
    return tuple(ordered)
