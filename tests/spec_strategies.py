"""Hypothesis strategies for spec documents, shared by the generator's property tests and the spec fuzz harness.

Valid specs (`spec_documents`): stores with aggregates and metadata, events with payloads of nested objects,
arrays, maps, combinators, enums, consts, constraints, defaults and refs; channels and connections. Their names
live in separate namespaces (store ids `s<i>_...`, aggregates `A<i>...`, event types `E<j>_...`, definitions
`D<k>...`, channels `c<m>_...`), so they never collide after case conversion.

Mutations (`data_mutation` on the document, `text_mutation` on its YAML text): keys deleted, renamed, duplicated,
values retyped, hostile names, dangling refs, YAML-breaking text. `check_outcome` asserts what the CLI must do
with any of them: exit 0 with code that compiles, or exit 2 with located problems and nothing written.
"""

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from generator.naming import pascal_from_snake

_LETTERS = "abcdefghijklmnopqrstuvwxyz"

#: Property names whose class-name part would read as a suffix the generator appends (`Item`, `Value`,
#: `Option1`), and builtin types that a required field may not shadow (a known gap, see
#: test_generator_escaping.py); all other lowercase words are fair.
_UNFAIR_WORDS = frozenset({"item", "value", "option"}) | frozenset(
    {"str", "int", "float", "bool", "list", "dict", "set", "tuple", "bytes", "object", "frozenset", "complex", "type"}
)

#: Property names that need an alias (keywords, not identifiers, pydantic's names, quotes): used for leaf
#: properties only, since their class-name parts could collide with those of plain words.
TRICKY_PROPERTY_NAMES = (
    "class",
    "from",
    "import",
    "None",
    "my-field",
    "my field",
    "1abc",
    "__init__",
    "_private",
    "model_config",
    "self",
    "id",
    'a"b',
    "a'b",
    "a\\b",
    "a\nb",
    "é",
    "x.y",
    "$ref",
    "",
    "Field",
    "Any",
    "payload",
    "timestamp",
    "int",
    "str",
    "list",
    "Literal",
    "Annotated",
    "date",
)

#: Regular expressions that both of pydantic's engines read (and a few that only Python's does).
PATTERNS = (
    r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$",
    r"^\d+$",
    r"^[^@\s]+@[^@\s]+$",
    r"(?i)^abc",
    r"^\w*$",
    r'^"\'\\$',
    r"^(?!forbidden).*$",
    r"^a\Z",
)

FORMATS = ("date", "date-time", "time", "duration", "uuid", "uri")

words = st.text(_LETTERS, min_size=1, max_size=6)
property_words = words.filter(lambda word: word not in _UNFAIR_WORDS)
free_text = st.text(max_size=40)  # any Unicode but surrogates: control characters, line separators, ...
small_ints = st.integers(-1000, 1000)
finite_floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def documented(schema: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """Adds a description and a title of arbitrary text, sometimes; rarely examples and `deprecated`."""
    if draw(st.booleans()):
        schema["description"] = draw(free_text)
    if draw(st.integers(0, 3)) == 0:
        schema["title"] = draw(free_text)
    if draw(st.integers(0, 7)) == 0:
        schema["examples"] = draw(st.lists(st.one_of(free_text, small_ints, st.none()), min_size=1, max_size=3))
    if draw(st.integers(0, 7)) == 0:
        schema["deprecated"] = draw(st.booleans())
    return schema


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    choice = draw(st.integers(0, 4))
    if choice == 0:
        schema["format"] = draw(st.sampled_from(FORMATS))
    elif choice == 1:
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
    if draw(st.booleans()):
        schema["minLength"] = draw(st.integers(0, 10))
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(0, 2**63 - 1))
    if "format" not in schema and draw(st.booleans()):
        schema["default"] = draw(free_text)
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> dict[str, Any]:
    integer = draw(st.booleans())
    values = st.integers(-(10**30), 10**30) if integer else st.one_of(finite_floats, small_ints)
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if draw(st.integers(0, 3)) == 0:
            schema[key] = draw(values)
    if draw(st.integers(0, 3)) == 0:
        schema["multipleOf"] = draw(st.integers(1, 100) if integer else st.floats(0.001, 100))
    if draw(st.booleans()):
        schema["default"] = draw(small_ints if integer else finite_floats)
    return schema


@st.composite
def enum_schemas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        values: list[Any] = draw(st.lists(free_text, min_size=1, max_size=5, unique=True))
        schema: dict[str, Any] = {"type": "string", "enum": values}
    elif kind == 1:
        values = draw(st.lists(small_ints, min_size=1, max_size=4, unique=True))
        schema = {"type": "integer", "enum": values}
    elif kind == 2:
        values = draw(st.lists(st.one_of(words, small_ints, st.booleans()), min_size=1, max_size=4, unique=True))
        schema = {"enum": values}
    else:
        return {"const": draw(st.one_of(free_text, small_ints, st.booleans()))}
    if draw(st.booleans()):
        schema["default"] = draw(st.sampled_from(values))
    return schema


@st.composite
def leaf_schemas(draw: st.DrawFn, definitions: tuple[str, ...]) -> dict[str, Any]:
    """Schemas that need no class of their own: scalars, enums, arrays of scalars, free-form objects, refs."""
    options = [string_schemas(), number_schemas(), enum_schemas(), st.just({"type": "boolean"})]
    options.append(st.lists(st.sampled_from(["string", "integer", "number", "boolean"]), min_size=2, unique=True))
    if definitions:
        refs = st.sampled_from(definitions).map(lambda name: {"$ref": f"#/definitions/{name}"})
        options += [refs, refs.map(lambda ref: {"anyOf": [ref, {"type": "null"}]})]  # a nullable ref
    drawn = draw(st.one_of(options))
    schema = {"type": drawn} if isinstance(drawn, list) else dict(drawn)
    if isinstance(schema.get("type"), str) and "enum" not in schema and draw(st.integers(0, 3)) == 0:
        schema["type"] = [schema["type"], "null"]  # nullable
        schema.pop("default", None)
        if draw(st.booleans()):
            schema["default"] = None
    shape = draw(st.integers(0, 7))
    if shape == 0:
        schema = {"type": "array", "items": schema}
        if draw(st.booleans()):
            schema["minItems"] = draw(st.integers(0, 5))
        if draw(st.booleans()):
            schema["maxItems"] = draw(st.integers(5, 50))
        if draw(st.booleans()):
            schema["uniqueItems"] = True
    elif shape == 1:
        schema = {"type": "object"}
        if draw(st.booleans()):
            schema["additionalProperties"] = draw(st.one_of(st.booleans(), st.just({"type": "string"})))
    elif shape == 2:
        schema = {"type": "array", "items": {"type": "array", "items": schema}}
    return documented(schema, draw)


@st.composite
def object_schemas(draw: st.DrawFn, definitions: tuple[str, ...], depth: int) -> dict[str, Any]:
    """An object schema with properties; nested objects, arrays of objects and combinators become classes."""
    properties: dict[str, Any] = {}
    for _ in range(draw(st.integers(0 if depth else 1, 4))):
        named = depth < 2 and draw(st.integers(0, 3)) == 0
        if named:
            kind = draw(st.integers(0, 4))
            inner = draw(object_schemas(definitions, depth + 1))
            if kind == 0:
                schema = inner
            elif kind == 1:
                schema = {"type": "array", "items": inner}
            elif kind == 2:
                schema = {"type": "object", "additionalProperties": inner}
            elif kind == 3:
                combinator = draw(st.sampled_from(["anyOf", "oneOf"]))
                schema = {combinator: [inner, draw(leaf_schemas(definitions))]}
            else:
                schema = {"allOf": [inner]}
            name = draw(property_words)
        else:
            schema = draw(leaf_schemas(definitions))
            name = draw(st.one_of(property_words, st.sampled_from(TRICKY_PROPERTY_NAMES)))
        properties.setdefault(name, documented(schema, draw))
    schema = {"type": "object", "properties": properties}
    names = sorted(properties)
    if names:
        required = draw(st.lists(st.sampled_from(names), unique=True))
        if required:
            schema["required"] = required
    if draw(st.integers(0, 3)) == 0:
        schema["additionalProperties"] = draw(st.booleans())
    return documented(schema, draw)


@st.composite
def definition_tables(draw: st.DrawFn) -> dict[str, Any]:
    """Definitions; each may reference the earlier ones (never itself: no cycles)."""
    table: dict[str, Any] = {}
    for index in range(draw(st.integers(0, 3))):
        name = f"D{index}{draw(words).capitalize()}"
        known = tuple(table)
        if draw(st.booleans()):
            table[name] = draw(object_schemas(known, 1))
        else:
            table[name] = draw(leaf_schemas(known))
    return table


@st.composite
def spec_documents(draw: st.DrawFn, *, max_stores: int = 3, max_events: int = 3) -> dict[str, Any]:
    definitions = draw(definition_tables())
    known = tuple(definitions)
    stores: dict[str, Any] = {}
    event_index = 0
    for index in range(draw(st.integers(1, max_stores))):
        store_id = f"s{index}_{draw(words)}"
        aggregate = draw(object_schemas(known, 0))
        for implicit in ("aggregate_id", "version"):
            aggregate["properties"].pop(implicit, None)
        if "required" in aggregate:
            aggregate["required"] = [name for name in aggregate["required"] if name in aggregate["properties"]]
        events: dict[str, Any] = {}
        for position in range(draw(st.integers(1, max_events))):
            event: dict[str, Any] = {}
            if position == 0 or draw(st.integers(0, 3)) == 0:
                event["initial"] = True
            if draw(st.booleans()):
                event["payload"] = draw(object_schemas(known, 0))
            if draw(st.booleans()):
                event["description"] = draw(free_text)
            events[f"E{event_index}_{draw(words).upper()}"] = event
            event_index += 1
        store: dict[str, Any] = {
            "aggregate": {"name": f"A{index}{draw(words).capitalize()}", "schema": aggregate},
            "events": events,
        }
        if draw(st.booleans()):
            store["metadata"] = draw(object_schemas(known, 0))
        if draw(st.booleans()):
            store["description"] = draw(free_text)
        stores[store_id] = store
    channels: dict[str, Any] = {}
    connections: list[dict[str, str]] = []
    for index in range(draw(st.integers(0, 2))):
        channel_id = f"c{index}_{draw(words)}"
        message = draw(st.sampled_from(["notification", "state-carrying", "aggregate-exists"]))
        sources = draw(st.lists(st.sampled_from(sorted(stores)), min_size=1, unique=True))
        channels[channel_id] = {"kind": draw(st.sampled_from(["bus", "queue"])), "message": message, "sources": sources}
        if draw(st.booleans()):
            channels[channel_id]["description"] = draw(free_text)
        if message != "aggregate-exists":
            connected = draw(st.lists(st.sampled_from(sources), unique=True))
            connections.extend({"store": store_id, "channel": channel_id} for store_id in connected)
    document: dict[str, Any] = {"kastor": 1, "package": "placeholder"}
    if draw(st.booleans()):
        document["description"] = draw(free_text)
    if definitions:
        document["definitions"] = definitions
    document["event_stores"] = stores
    if channels:
        document["channels"] = channels
    if connections:
        document["connections"] = connections
    return document


def dump_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def compile_package(package: Path) -> None:
    for path in sorted(package.rglob("*.py")):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


#: Names a key may be renamed to: keywords, builtins, names the generated code uses, reserved names,
#: wrong cases, non-identifiers, odd Unicode, and text that would break the YAML or the code.
HOSTILE_NAMES = (
    "class",
    "import",
    "None",
    "print",
    "int",
    "list",
    "type",
    "__init__",
    "__REPLAYED__",
    "__AGGREGATE_EXISTS__",
    "event_store",
    "Aggregate",
    "BaseModel",
    "Event",
    "Literal",
    "EventStore",
    "aggregate_id",
    "version",
    "UPPER_CASE",
    "lower_case",
    "MixedCase",
    "camelCase",
    "double__underscore",
    "trailing_",
    "_leading",
    "1abc",
    "my-field",
    "a b",
    "",
    " ",
    "é",
    "ﬁ",
    "Ⅸ",
    "x\n",
    "x\u2028y",
    'x"""',
    "x'''",
    "{{ x }}",
    "$ref",
    "a" * 300,
    "\x00",
    "\u202e",
)

#: Values of every type, for a value replaced by one of another type.
ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**400,
    -(10**400),
    2**64,
    math.inf,
    -math.inf,
    math.nan,
    1e-320,
    "",
    " ",
    "text",
    "\x00",
    "\u2028",
    "yes",
    "#/definitions/Nope",
    [],
    [None],
    ["x", 1],
    {},
    {"k": "v"},
    {"type": "object"},
    {"$ref": "#/definitions/Nope"},
)

NUMERIC_KEYS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
)

REFS = (
    "#/definitions/Nope",
    "#/definitions/",
    "#/defs/Thing",
    "http://example.com/schema.json",
    "#",
    "",
    "#/definitions/D0",
    "#/definitions/d0_lower",
)

#: Text that breaks YAML (or means something special to it) wherever it lands.
YAML_BREAKERS = (
    ":",
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&anchor ",
    "*anchor",
    "*undefined",
    "!!python/object/apply:os.system ['touch PWNED'] ",
    "!!binary ",
    "!custom ",
    "\t",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "'",
    '"',
    "<<: *anchor\n",
    "? ",
    "|",
    ">",
    "@",
    "`",
    "#",
    "\x00",
    "\ufeff",
    "\x85",
    "\u2028",
    "\n  - x: [",
    "\nkey: value\n",
    "\n  ",
    "\\",
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a mapping value or list item of a document."""
    paths: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.append((*prefix, key))
            paths.extend(paths_of(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.append((*prefix, index))
            paths.extend(paths_of(item, (*prefix, index)))
    return paths


def parent_of(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def rename_key(mapping: dict[str, Any], old: str, new: str) -> None:
    """Renames a key in place, keeping the order of the keys."""
    items = [(new if key == old else key, value) for key, value in mapping.items()]
    mapping.clear()
    mapping.update(items)


#: Mapping keys under which the spec's keys are names (of stores, events, definitions, channels, properties).
NAME_TABLES = frozenset({"event_stores", "events", "definitions", "channels", "properties"})

#: Keys whose values are free text or data, not structure.
TEXT_KEYS = frozenset({"description", "title", "default", "const", "enum", "examples", "pattern", "package"})

#: What a mutation does, weighted by repetition: names and free text more often than plain breakage.
OPERATIONS = (
    *("name",) * 3,
    *("text",) * 3,
    "collide",
    "delete",
    "retype",
    "rename",
    "duplicate",
    "ref",
    "kind",
    "number",
    "empty",
)


def collision_names(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(name table, name) pairs that collide after case conversion with a class the document already defines."""
    names: list[tuple[str, str]] = []
    stores = document.get("event_stores")
    for store_id, store in stores.items() if isinstance(stores, dict) else ():
        upper = str(store_id).upper()
        names += [("events", f"{upper}_EVENT"), ("events", f"{upper}_REDUCER"), ("events", f"{upper}_EVENT_STORE")]
        names += [("definitions", f"{pascal_from_snake(str(store_id))}Metadata"), ("channels", f"{store_id}_event")]
        events = store.get("events") if isinstance(store, dict) else None
        for event_type in events if isinstance(events, dict) else ():
            names += [("definitions", pascal_from_snake(str(event_type))), ("channels", str(event_type).lower())]
            names.append(("definitions", f"{pascal_from_snake(str(event_type))}Payload"))
            names.append(("events", f"{event_type}_PAYLOAD"))
    return names


@st.composite
def data_mutation(draw: st.DrawFn, document: dict[str, Any]) -> str:
    """Mutates `document` in place; returns what it did, for the failure report."""
    operation = draw(st.sampled_from(OPERATIONS))
    paths = paths_of(document)
    if not paths:
        return "nothing left to mutate"
    if operation == "name":
        paths = [path for path in paths if len(path) > 1 and path[-2] in NAME_TABLES] or paths
    elif operation == "text":
        paths = [path for path in paths if any(part in TEXT_KEYS for part in path[-2:])] or paths
    elif operation == "collide":
        candidates = collision_names(document)
        if not candidates:
            return "collide (skipped: no store)"
        table, name = draw(st.sampled_from(candidates))
        targets = [path for path in paths if path[-1] == table and isinstance(parent_of(document, path)[table], dict)]
        if not targets:
            return "collide (skipped: no table)"
        where = draw(st.sampled_from(targets))
        entries = parent_of(document, where)[table]
        if entries and name not in entries:
            entries[name] = copy.deepcopy(next(iter(entries.values())))
        return f"collide: add {name!r} to {where}"
    path = draw(st.sampled_from(paths))
    parent = parent_of(document, path)
    key = path[-1]
    if operation in ("name", "rename") and isinstance(parent, dict):
        new = draw(st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=12)))
        if new in parent:
            return f"{operation} (skipped: {new!r} taken)"
        rename_key(parent, key, new)
        return f"{operation} {path} to {new!r}"
    if operation == "text":
        parent[key] = draw(st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE_NAMES), st.sampled_from(ODD_VALUES)))
    elif operation == "delete":
        del parent[key]
    elif operation == "retype":
        parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    elif operation == "duplicate" and isinstance(parent, dict):
        variant = draw(st.sampled_from([str(key).upper(), str(key).lower(), f"{key}_", str(key).swapcase()]))
        if variant not in parent:
            parent[variant] = copy.deepcopy(parent[key])
        return f"duplicate {path} as {variant!r}"
    elif operation == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif operation == "ref":
        target = parent[key] if isinstance(parent[key], dict) else parent
        if isinstance(target, dict):
            target["$ref"] = draw(st.sampled_from(REFS))
    elif operation == "kind":
        kinds = ["topic", "bus ", "BUS", "Notification", "state_carrying"]
        parent[key] = draw(st.one_of(st.sampled_from(kinds), words))
    elif operation == "number":
        target = parent[key] if isinstance(parent[key], dict) else parent
        if isinstance(target, dict):
            target[draw(st.sampled_from(NUMERIC_KEYS))] = draw(st.sampled_from(ODD_VALUES[3:13]))
    elif operation == "empty":
        if isinstance(parent, dict) and draw(st.booleans()) and "" not in parent:
            rename_key(parent, key, "")
        else:
            parent[key] = ""
    return f"{operation} {path}"


@st.composite
def text_mutation(draw: st.DrawFn, text: str) -> tuple[str, str]:
    operation = draw(st.sampled_from(["insert", "cut", "duplicate_line", "indent", "truncate"]))
    position = draw(st.integers(0, len(text)))
    lines = text.split("\n")
    line = draw(st.integers(0, max(len(lines) - 1, 0)))
    if operation == "insert":
        breaker = draw(st.sampled_from(YAML_BREAKERS))
        return text[:position] + breaker + text[position:], f"insert {breaker!r} at {position}"
    if operation == "cut":
        length = draw(st.integers(1, 20))
        return text[:position] + text[position + length :], f"cut {length} at {position}"
    if operation == "duplicate_line":
        lines.insert(line, lines[line])
        return "\n".join(lines), f"duplicate line {line + 1}"
    if operation == "indent":
        shift = draw(st.sampled_from([" ", "  ", "\t", "-"]))
        lines[line] = shift + lines[line] if draw(st.booleans()) else lines[line][1:]
        return "\n".join(lines), f"indent line {line + 1} by {shift!r}"
    return text[:position], f"truncate at {position}"


_DIAGNOSTIC = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>\S.*)$")
_SUMMARY = re.compile(
    r"^kastor: (?P<count>\d+) problems?(?: \(and (?P<warnings>\d+) warnings?\))? found; nothing was written$"
)


def check_outcome(spec: Path, out: Path, code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert code in (0, 2), f"exit {code}:\n{stderr}"
    if code == 0:
        for package in out.iterdir():
            compile_package(package)
        return
    assert not out.exists(), "nothing may be written on exit 2"
    check_located_problems(spec, stderr)


def check_located_problems(spec: Path, stderr: str) -> None:
    """`stderr` of an exit 2 on bad specs: one `path:line:col: message` line per problem, then the summary."""
    *diagnostics, summary = stderr.splitlines() or [""]
    match = _SUMMARY.match(summary)
    assert match, stderr
    warnings = int(match["warnings"] or 0)
    assert int(match["count"]) + warnings == len(diagnostics) and int(match["count"]) >= 1, stderr
    assert sum(": warning: " in line for line in diagnostics) == warnings, stderr
    for line in diagnostics:
        diagnostic = _DIAGNOSTIC.match(line)
        assert diagnostic and diagnostic["path"] == str(spec), f"not a path:line:col: message line: {line!r}"
        assert int(diagnostic["line"]) >= 1 and int(diagnostic["column"]) >= 1
