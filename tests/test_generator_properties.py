"""Property-based tests of the generator (hypothesis): random valid specs, and random mutations of them.

1. Random VALID specs: stores with aggregates and metadata; events with payloads of nested objects, arrays
   (of arrays), maps, anyOf / oneOf / allOf, enums, consts, nullable fields and refs, multi-type fields,
   string and number constraints, patterns, formats, required lists, defaults, examples, `deprecated`;
   definitions referenced by `$ref`; channels of every kind and connections; descriptions and titles of
   arbitrary Unicode text (control characters, line separators, quotes, ...); property names that need an
   alias (keywords, `my-field`, `1abc`, quotes, newlines); sometimes split over two spec files. For each:
   `kastor generate` exits 0 and every generated file compiles. Then all the packages of the run are
   imported in ONE subprocess (exports, event types, store ids, reducer hooks, event docstrings and codec
   round trips checked) and type-checked by ONE `mypy --strict` run.
2. Random MUTATIONS of valid specs: a key deleted; a value replaced by one of another type, a huge or odd
   number, an empty string or weird Unicode; a name (of a store, event, definition, channel, property) or
   any key renamed to a keyword, builtin, reserved name, non-identifier or hostile text; names added that
   collide after case conversion; entries duplicated; dangling `$ref`s; wrong channel kinds; and, on the
   YAML text, YAML-breaking characters inserted, lines duplicated, indented or cut. The CLI, run in this
   process, either exits 0 with code that compiles, or exits 2 with one `path:line:col: message` line per
   problem and the summary line, writing nothing; never a traceback, never exit 3.

The names a valid spec draws live in separate namespaces (store ids `s<i>_...`, aggregates `A<i>...`, event
types `E<j>_...`, definitions `D<k>...`, channels `c<m>_...`), so they never collide after case conversion
(a collision is a spec error, which the mutation test covers). Defaults that hold an object where the schema
makes a model are a spec error (datamodel-code-generator would write a dict literal that mypy rejects), so
valid specs draw no such default; the last test below pins that error.

Runs are deterministic (`derandomize=True`, no example database). By default the file takes about half a
minute (12 valid specs, 150 mutations); `KASTOR_LONG_PROPERTY_TESTS=1` runs 60 valid specs and 1,000
mutations (about two minutes):

    KASTOR_LONG_PROPERTY_TESTS=1 pytest tests/test_generator_properties.py
"""

import copy
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.naming import pascal_from_snake

from .support import run_cli, run_mypy_strict

LONG = os.environ.get("KASTOR_LONG_PROPERTY_TESTS") == "1"
VALID_EXAMPLES = 60 if LONG else 12
MUTATION_EXAMPLES = 1000 if LONG else 150

#: datamodel-code-generator warns when a format drops a length constraint (`format: date` + `maxLength`).
pytestmark = pytest.mark.filterwarnings("ignore:.* is generated without th(is|ese) constraints?:UserWarning")


def property_settings(max_examples: int) -> settings:
    """Deterministic (derandomized, no example database) and without deadlines: generating takes a while."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# --- Valid specs ------------------------------------------------------------------------------------------

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


def lines_of(text: str) -> list[str]:
    """A docstring's lines, each stripped (ruff re-indents docstrings and drops trailing spaces)."""
    return [line.strip() for line in text.strip().split("\n")]


@dataclass
class Batch:
    """The packages generated by one test: checked together by one import subprocess and one mypy run."""

    root: Path
    expectations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def out(self) -> Path:
        return self.root / "out"

    def generate(self, document: dict[str, Any], *, split: bool) -> None:
        """Generates `document` as a package of its own; `split` writes its first store in a second file."""
        package = f"kastor_prop_{len(self.expectations)}"
        document = {**document, "package": package}
        parts = [document]
        if split and len(document["event_stores"]) > 1:
            first, *others = document["event_stores"].items()
            parts = [
                {"kastor": 1, "package": package, "event_stores": dict([first])},
                {**document, "event_stores": dict(others)},
            ]
        specs = []
        for index, part in enumerate(parts):
            spec = self.root / "specs" / f"{package}_{index}.yaml"
            spec.parent.mkdir(parents=True, exist_ok=True)
            spec.write_text(dump_yaml(part), encoding="utf-8")
            specs.append(str(spec))
        result = run_cli("generate", *specs, "-o", str(self.out), cwd=self.root)
        assert "Traceback" not in result.stdout + result.stderr
        assert result.code == 0, f"{result.stderr}\n--- spec ---\n{dump_yaml(document)}"
        compile_package(self.out / package)
        self.expectations.append(expectation(package, document))


def expectation(package: str, document: dict[str, Any]) -> dict[str, Any]:
    """What the import probe should find in the package generated from `document`."""
    stores = []
    for store_id, store in document["event_stores"].items():
        pascal = pascal_from_snake(store_id)
        metadata = store.get("metadata")
        stores.append(
            {
                "store_id": store_id,
                "store_class": f"{pascal}EventStore",
                "reducer_class": f"{pascal}Reducer",
                "codec": f"{store_id.upper()}_EVENT_CODEC",
                "has_metadata": metadata is not None,
                "events": [
                    {
                        "type": event_type,
                        "class": pascal_from_snake(event_type),
                        "hook": f"on_{event_type.lower()}",
                        "initial": bool(event.get("initial")),
                        "has_payload": "payload" in event,
                        "description": event.get("description"),
                    }
                    for event_type, event in store["events"].items()
                ],
            }
        )
    channels = [pascal_from_snake(channel_id) for channel_id in document.get("channels", {})]
    return {"package": package, "stores": stores, "channels": channels}


# Runs in a subprocess: imports every package of the batch and checks what it finds.
PROBE = r"""
import importlib, json, sys

problems = []
for expected in json.loads(sys.stdin.read()):
    package = importlib.import_module(expected["package"])
    name = expected["package"]
    missing = [item for item in package.__all__ if not hasattr(package, item)]
    if missing:
        problems.append(f"{name}: __all__ names missing attributes {missing}")
    for channel in expected["channels"]:
        if not hasattr(package, channel):
            problems.append(f"{name}: no channel class {channel}")
    for store in expected["stores"]:
        codec = getattr(package, store["codec"])
        getattr(package, store["store_class"])
        reducer = getattr(package, store["reducer_class"])
        hooks = {event["hook"] for event in store["events"]}
        if set(reducer.__abstractmethods__) != hooks:
            problems.append(f"{name}: {reducer.__name__} hooks {sorted(reducer.__abstractmethods__)} != {hooks}")
        for event in store["events"]:
            cls = getattr(package, event["class"])
            if cls.model_fields["type"].default != event["type"]:
                problems.append(f"{name}: {cls.__name__}.type is not {event['type']!r}")
            if cls.event_store_id != store["store_id"]:
                problems.append(f"{name}: {cls.__name__}.event_store_id is not {store['store_id']!r}")
            description = event["description"]
            if description and description.strip():
                lines = lambda text: [line.strip() for line in text.strip().split("\n")]
                if lines(cls.__doc__) != lines(description):
                    problems.append(f"{name}: {cls.__name__}.__doc__ {cls.__doc__!r} != {description!r}")
            # Only events without payload or metadata need no data to be built (a drawn default may break
            # its own schema's constraints, which pydantic checks on reading only).
            if not event["has_payload"] and not store["has_metadata"]:
                instance = cls(aggregate_id="a-1", version=1 if event["initial"] else 2)
                try:
                    if codec.from_json(codec.to_json(instance)) != instance:
                        problems.append(f"{name}: {cls.__name__} reads back changed from its codec")
                except Exception as error:
                    problems.append(f"{name}: {cls.__name__} does not survive its codec: {error!r}")
print(json.dumps(problems))
"""


def import_batch(batch: Batch) -> list[str]:
    cwd = batch.root / "cwd"
    cwd.mkdir(exist_ok=True)
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE],
        input=json.dumps(batch.expectations),
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(batch.out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    problems: list[str] = json.loads(completed.stdout)
    return problems


def run_mypy(batch: Batch) -> subprocess.CompletedProcess[str]:
    return run_mypy_strict(batch.out, [item["package"] for item in batch.expectations], batch.root / "mypy")


@pytest.mark.slow
def test_random_valid_specs_generate_import_and_type_check(tmp_path: Path) -> None:
    batch = Batch(tmp_path)

    @property_settings(VALID_EXAMPLES)
    @given(spec_documents(), st.booleans())
    def generate(document: dict[str, Any], split: bool) -> None:
        batch.generate(document, split=split)

    generate()
    assert batch.expectations
    assert import_batch(batch) == []
    for path in tmp_path.rglob("PWNED"):
        raise AssertionError(f"importing created {path}")
    completed = run_mypy(batch)
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- Mutations ----------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Mutated:
    text: str
    mutations: tuple[str, ...]

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"Mutated(mutations={self.mutations!r})\n--- spec ---\n{self.text}"


@st.composite
def mutated_specs(draw: st.DrawFn) -> Mutated:
    document = draw(spec_documents(max_stores=2, max_events=2))
    document["package"] = "mutated_pkg"
    mutations: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        mutations.append(draw(data_mutation(document)))
    text = dump_yaml(document)
    if draw(st.booleans()):
        text, done = draw(text_mutation(text))
        mutations.append(done)
    return Mutated(text, tuple(mutations))


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
    *diagnostics, summary = stderr.splitlines()
    match = _SUMMARY.match(summary)
    assert match, stderr
    warnings = int(match["warnings"] or 0)
    assert int(match["count"]) + warnings == len(diagnostics) and int(match["count"]) >= 1, stderr
    assert sum(": warning: " in line for line in diagnostics) == warnings, stderr
    for line in diagnostics:
        diagnostic = _DIAGNOSTIC.match(line)
        assert diagnostic and diagnostic["path"] == str(spec), f"not a path:line:col: message line: {line!r}"
        assert int(diagnostic["line"]) >= 1 and int(diagnostic["column"]) >= 1


@pytest.mark.slow
@property_settings(MUTATION_EXAMPLES)
@given(mutated_specs())
def test_mutated_specs_give_code_that_compiles_or_located_errors(mutated: Mutated) -> None:
    with tempfile.TemporaryDirectory(prefix="kastor-mutation-") as scratch:
        root = Path(scratch)
        spec = root / "spec.yaml"
        spec.write_text(mutated.text, encoding="utf-8")
        out = root / "out"
        result = run_cli("generate", str(spec), "-o", str(out), cwd=root)
        check_outcome(spec, out, result.code, result.stdout, result.stderr)
        assert not (root / "PWNED").exists()


# --- Defaults of model-typed properties ------------------------------------------------------------------


def test_defaults_holding_objects_where_a_model_stands_are_located_errors(tmp_path: Path) -> None:
    point = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    aggregate_properties = {
        "home": {**point, "default": {"x": 1}},
        "origin": {"$ref": "#/definitions/D0Point", "default": {"x": 2}},
        "path": {"type": "array", "items": point, "default": [{"x": 3}]},
        "places": {"type": "object", "additionalProperties": {"$ref": "#/definitions/D0Point"}, "default": {"a": {}}},
        "either": {"anyOf": [point, {"type": "null"}], "default": {"x": 4}},
        # Defaults that type-check are kept: nothing, an empty list, a map of plain values.
        "nowhere": {**point, "default": None},
        "trail": {"type": "array", "items": point, "default": []},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}, "default": {"a": 1}},
    }
    document = {
        "kastor": 1,
        "package": "defaults_pkg",
        "definitions": {"D0Point": point},
        "event_stores": {
            "s0_things": {
                "aggregate": {"name": "A0Thing", "schema": {"type": "object", "properties": aggregate_properties}},
                "events": {"E0_MADE": {"initial": True}},
            }
        },
    }
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = run_cli("generate", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    flagged = re.findall(
        r"spec\.yaml:(\d+):\d+: a default that holds an object where the schema makes a model", result.stderr
    )
    lines = spec.read_text(encoding="utf-8").splitlines()
    # Block YAML puts each default's value on the line after its `default:` key.
    keys_above = [lines[int(number) - 2].strip() for number in flagged]
    assert keys_above == ["default:"] * 5, result.stderr

    for name in ("home", "origin", "path", "places", "either"):
        del aggregate_properties[name]
    batch = Batch(tmp_path / "batch")
    batch.generate(document, split=False)
    assert import_batch(batch) == []
    completed = run_mypy(batch)
    assert completed.returncode == 0, completed.stdout
