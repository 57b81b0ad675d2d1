"""The runtime's JSON Schema validator (templates/runtime/json_schema.py): JSON Schema's own meaning.

- The official JSON-Schema-Test-Suite (draft 7, and the 2020-12 files of the later keywords it supports),
  vendored under tests/json_schema_suite/ (see its SOURCE.md): every case runs, both through `is_valid` and
  through `problems`, except the ones listed in `KNOWN_DIFFERENCES` and `REFUSED` below, with the reason.
- A differential property test against the `jsonschema` package (Draft7Validator and Draft202012Validator,
  formats not asserted) on random schemas and random instances.
- The wording and paths of `problems()`, its limit; hostile instances (deep, huge); compile-time errors.

The module is stdlib only and has no relative import, so it is loaded from its file, as generated packages
will copy it.
"""

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from generator.template_files import RUNTIME


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kastor_runtime_json_schema", Path(str(RUNTIME)) / "json_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


json_schema = _load()
compile_schema = json_schema.compile_schema
SchemaCompileError = json_schema.SchemaCompileError
Problem = json_schema.Problem

SUITE = Path(__file__).parent / "json_schema_suite"
LONG = os.environ.get("KASTOR_LONG_PROPERTY_TESTS") == "1"

# --- the official test suite -----------------------------------------------------------------------------

#: Not vendored at all, so not run: (file of the suite, why).
NOT_VENDORED = {
    "draft7/optional/format/*.json": "format is an annotation only: never asserted, by design",
    "draft7/optional/content.json": "contentMediaType / contentEncoding are annotations only, by design",
    "draft7/optional/cross-draft.json": "only remote references (another draft's meta-schema)",
    "draft2020-12/* of other keywords": "the keywords of draft 7 are run from draft7/; unevaluated*, $dynamicRef "
    "and vocabularies are not supported (refused at compile time)",
}

#: Cases where the validator means something else than draft 7, on purpose: (file, group, case) -> why.
#: The test asserts the opposite of the suite's expectation, so that the difference is exactly this.
KNOWN_DIFFERENCES = {
    (
        "draft7/ref.json",
        "ref overrides any sibling keywords",
        "ref valid, maxItems ignored",
    ): "$ref siblings apply together with the reference (the meaning of 2019-09 and later), where draft 7 ignores them",
}

#: Groups whose schema the validator refuses at compile time with SchemaCompileError: (file, group) -> why.
#: Besides these, every group whose schema holds a `$ref` that does not start with "#" (a remote or
#: `$id`-relative reference) must be refused: see `_has_outside_reference`.
REFUSED = {
    ("draft7/optional/ecmascript-regex.json", "patterns always use unicode semantics with pattern"): "\\p{...}",
    ("draft7/optional/ecmascript-regex.json", "pattern with non-ASCII digits"): "\\p{...}",
    ("draft7/optional/ecmascript-regex.json", "patterns always use unicode semantics with patternProperties"): (
        "\\p{...}"
    ),
    ("draft7/optional/ecmascript-regex.json", "patternProperties with non-ASCII digits"): "\\p{...}",
}
UNICODE_PROPERTY_ESCAPES = "Unicode property escapes (\\p{...}) are not supported by Python's re"


def _has_outside_reference(schema: object) -> bool:
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#"):
            return True
        return any(_has_outside_reference(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_has_outside_reference(value) for value in schema)
    return False


def _suite_files() -> list[Path]:
    return sorted(SUITE.rglob("*.json"))


def _suite_groups() -> Iterator[tuple[str, int, dict[str, Any]]]:
    for path in _suite_files():
        name = path.relative_to(SUITE).as_posix()
        for index, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            yield name, index, group


def _suite_cases() -> Iterator[Any]:
    for name, index, group in _suite_groups():
        if (name, group["description"]) in REFUSED or _has_outside_reference(group["schema"]):
            continue
        for number, case in enumerate(group["tests"]):
            yield pytest.param(name, index, number, id=f"{name}:{group['description']}:{case['description']}")


def _refused_groups() -> Iterator[Any]:
    for name, index, group in _suite_groups():
        if (name, group["description"]) in REFUSED or _has_outside_reference(group["schema"]):
            yield pytest.param(name, index, id=f"{name}:{group['description']}")


_GROUPS = {(name, index): group for name, index, group in _suite_groups()}
_COMPILED: dict[tuple[str, int], Any] = {}


def _compiled(name: str, index: int) -> Any:
    if (name, index) not in _COMPILED:
        _COMPILED[(name, index)] = compile_schema(_GROUPS[(name, index)]["schema"])
    return _COMPILED[(name, index)]


@pytest.mark.parametrize(("name", "index", "number"), list(_suite_cases()))
def test_official_suite(name: str, index: int, number: int) -> None:
    group = _GROUPS[(name, index)]
    case = group["tests"][number]
    validator = _compiled(name, index)
    expected = case["valid"]
    if (name, group["description"], case["description"]) in KNOWN_DIFFERENCES:
        expected = not expected
    assert validator.is_valid(case["data"]) is expected, group["schema"]
    problems = validator.problems(case["data"])
    assert (problems == []) is expected, problems
    assert all(isinstance(problem, Problem) and problem.message for problem in problems)


@pytest.mark.parametrize(("name", "index"), list(_refused_groups()))
def test_official_suite_refused(name: str, index: int) -> None:
    """Remote and `$id`-relative references, and Unicode property escapes, are a clear compile-time error."""
    group = _GROUPS[(name, index)]
    with pytest.raises(SchemaCompileError) as raised:
        compile_schema(group["schema"])
    if (name, group["description"]) in REFUSED:
        assert "Unicode property escapes" in str(raised.value)
    else:
        assert "points outside the schema" in str(raised.value)


def test_official_suite_counts() -> None:
    """What the suite run covers: every vendored case either runs or is refused, as listed above."""
    run = len(list(_suite_cases()))
    refused = sum(len(_GROUPS[(name, index)]["tests"]) for name, index in (p.values for p in _refused_groups()))
    total = sum(len(group["tests"]) for group in _GROUPS.values())
    assert run + refused == total
    assert (run, refused) == (1085, 83)  # of 1168 cases in the vendored files
    for name, description, case in KNOWN_DIFFERENCES:
        assert any(
            n == name and g["description"] == description and any(t["description"] == case for t in g["tests"])
            for (n, _), g in _GROUPS.items()
        ), (name, description, case)
    for name, description in REFUSED:
        assert any(n == name and g["description"] == description for (n, _), g in _GROUPS.items())


# --- JSON Schema's meaning, case by case ---------------------------------------------------------------


def valid(schema: Any, instance: Any, **options: Any) -> bool:
    validator = compile_schema(schema, **options)
    result = validator.is_valid(instance)
    assert (validator.problems(instance) == []) is result
    return bool(result)


def test_json_types() -> None:
    assert not valid({"type": "integer"}, "1")
    assert not valid({"type": "integer"}, True)
    assert not valid({"type": "number"}, False)
    assert valid({"type": "integer"}, 1.0)
    assert not valid({"type": "integer"}, 1.5)
    assert valid({"type": "number"}, 1)
    assert not valid({"type": "boolean"}, "false")
    assert not valid({"type": "string"}, None)
    assert valid({"type": ["string", "null"]}, None)
    assert not valid({"type": "object"}, [])
    assert valid({"type": "integer", "maximum": 3}, 3.0)
    assert not valid({"type": "integer", "maximum": 3}, 4.0)


def test_json_equality() -> None:
    assert not valid({"enum": [1]}, True)
    assert not valid({"enum": [True]}, 1)
    assert valid({"enum": [1]}, 1.0)
    assert not valid({"const": 0}, False)
    assert valid({"const": {"a": [1, {"b": None}]}}, {"a": [1.0, {"b": None}]})
    assert not valid({"const": {"a": [1]}}, {"a": [True]})
    assert not valid({"const": [None]}, [False])
    assert not valid({"uniqueItems": True}, [1, 1.0])
    assert valid({"uniqueItems": True}, [1, True])
    assert valid({"uniqueItems": True}, [{"a": 0}, {"a": False}])
    assert not valid({"uniqueItems": True}, [{"a": [1, 2]}, {"a": [1.0, 2]}])


def test_multiple_of_reads_floats_as_the_decimals_written() -> None:
    assert valid({"multipleOf": 0.1}, 0.3)
    assert valid({"multipleOf": 0.01}, 19.99)
    assert not valid({"multipleOf": 0.1}, 0.35)
    assert valid({"multipleOf": 3}, 9.0)
    assert not valid({"multipleOf": 3}, 10)
    assert valid({"multipleOf": 0.5}, 10**400)
    assert not valid({"multipleOf": 0.123456789}, 1e308)


def test_draft4_exclusive_bounds() -> None:
    assert not valid({"maximum": 3, "exclusiveMaximum": True}, 3)
    assert valid({"maximum": 3, "exclusiveMaximum": False}, 3)
    assert not valid({"minimum": 3, "exclusiveMinimum": True}, 3)
    assert valid({"exclusiveMinimum": True}, 0)  # without minimum it means nothing


def test_lengths_count_code_points() -> None:
    assert valid({"maxLength": 1}, "💩")
    assert not valid({"minLength": 2}, "💩")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^[0-9]+$", "12\n", False),  # $ is the end, not before a trailing newline
        ("^\\d+$", "١٢", False),  # \d is ASCII
        ("^\\d+$", "12", True),
        ("^\\w+$", "é", False),  # \w is ASCII
        ("^\\s$", "\u00a0", True),  # ECMA's whitespace
        ("^\\s$", "\ufeff", True),
        ("^\\s$", "\x1c", False),  # Python's, not ECMA's
        ("^[\\s]$", "\u3000", True),
        ("^\\S$", "\u00a0", False),
        ("^[\\S]$", "\u00a0", False),
        ("^[\\S]$", "a", True),
        ("^[^\\S]$", "\u2028", True),
        ("^[\\s\\S]$", "\n", True),
        ("^.$", "\r", False),  # . stops at every line terminator
        ("^.$", "\u2028", False),
        ("^.$", "é", True),
        ("b", "abc", True),  # search, not match
        ("^(?<year>[0-9]{4})-\\k<year>$", "2020-2020", True),
        ("^a{,2}$", "a{,2}", True),  # not a quantifier in ECMA-262
        ("^\\u00e9$", "é", True),
        ("^\\ud83d\\udca9$", "💩", True),
        ("^\\u{1F4A9}$", "💩", True),
        ("^\\cJ$", "\n", True),
        ("^[]$", "", False),
        ("^[^]$", "\n", True),
        ("^\\/$", "/", True),
    ],
)
def test_patterns_are_ecma_262(pattern: str, text: str, expected: bool) -> None:
    assert valid({"pattern": pattern}, text) is expected
    assert valid({"patternProperties": {pattern: False}}, {text: 1}) is not expected


def test_ref_siblings_apply() -> None:
    schema = {"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 2}
    assert valid(schema, "ab")
    assert not valid(schema, "abc")
    assert not valid(schema, 1)


def test_refs_to_shared_definitions_and_pointers() -> None:
    shared = {
        "Name": {"type": "string", "minLength": 1},
        "Tree": {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}}},
        },
    }
    schema = {
        "type": "object",
        "definitions": {"Name": {"type": "integer"}},  # the schema's own definitions come first
        "properties": {
            "own": {"$ref": "#/definitions/Name"},
            "tree": {"$ref": "#/definitions/Tree"},
            "same": {"$ref": "#/properties/own"},
            "a/b": {"type": "boolean"},
            "slash": {"$ref": "#/properties/a~1b"},
        },
    }
    options = {"definitions": shared}
    assert valid(schema, {"own": 1, "same": 2, "slash": True}, **options)
    assert not valid(schema, {"own": "x"}, **options)
    assert not valid(schema, {"slash": 1}, **options)
    assert valid(schema, {"tree": {"children": [{"children": []}, {}]}}, **options)
    assert not valid(schema, {"tree": {"children": [{"children": [1]}]}}, **options)
    only_shared = {"$ref": "#/definitions/Name"}
    assert valid(only_shared, "x", **options)
    assert not valid(only_shared, "", **options)


def test_later_keywords() -> None:
    assert not valid({"dependentRequired": {"a": ["b"]}}, {"a": 1})
    assert valid({"dependentSchemas": {"a": {"required": ["b"]}}}, {"b": 1})
    assert not valid({"prefixItems": [{"type": "integer"}], "items": False}, [1, 2])
    assert valid({"prefixItems": [{"type": "integer"}], "items": False}, [1])
    assert not valid({"contains": {"type": "integer"}, "minContains": 2}, [1, "a"])
    assert not valid({"contains": {"type": "integer"}, "maxContains": 1}, [1, 2])
    assert valid({"contains": {"type": "integer"}, "minContains": 0}, [])
    assert valid({"$defs": {"a": {"type": "null"}}, "$ref": "#/$defs/a"}, None)
    assert valid({"$defs": {"a": {"$anchor": "x", "type": "null"}}, "$ref": "#x"}, None)


def test_annotations_and_unknown_keywords_are_ignored() -> None:
    schema = {
        "type": "string",
        "format": "email",
        "title": "t",
        "description": "d",
        "default": 1,
        "examples": [1],
        "readOnly": True,
        "writeOnly": True,
        "deprecated": True,
        "$comment": "c",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://example.com/s.json",
        "x-vendor": {"type": "integer"},
        "tsAdditionalProperties": False,
        "contentMediaType": "application/json",
    }
    assert valid(schema, "not an email")
    assert not valid(schema, 1)


def test_non_json_values_are_invalid() -> None:
    validator = compile_schema({})
    assert not validator.is_valid((1, 2))
    assert validator.problems({1, 2}) == [Problem((), "a Python set is not a JSON value")]
    assert compile_schema({"type": "string"}).is_valid(type("Text", (str,), {})("x"))
    assert compile_schema({"uniqueItems": True}).problems([{1}, [{2}]]) == []
    assert compile_schema({"items": {"uniqueItems": True}}).problems([[set()]]) == []


def test_odd_values_in_messages() -> None:
    huge = 10**6000
    assert compile_schema({"type": "string"}).problems(huge) == [
        Problem((), "<an integer of many digits> is not of type string")
    ]
    assert compile_schema({"maximum": 1}).problems(2.5) == [Problem((), "2.5 is not at most 1 (maximum)")]
    assert compile_schema({"type": "null"}).problems({"a": [1, {"b": [[2]]}]}) == [
        Problem((), "{'a': [1, {'b': […]}]} is not of type null")
    ]


def test_if_without_then_or_else_never_applies() -> None:
    assert valid({"if": {"$ref": "#"}}, 1)
    assert valid({"if": False, "then": False}, 1)
    assert not valid({"if": True, "then": False}, 1)


# --- problems(): paths and wording ---------------------------------------------------------------------

PAYLOAD_SCHEMA = {
    "type": "object",
    "required": ["name", "owner"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "count": {"type": "integer", "minimum": 1},
        "owner": {"type": "object", "properties": {"login": {"type": "string", "minLength": 3}}},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "uniqueItems": True},
        "kind": {"enum": ["a", "b"]},
        "shape": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
        "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "some": {"not": {"type": "null"}},
        "one": {"const": 1},
        "digits": {"pattern": "^[0-9]+$"},
        "tenth": {"multipleOf": 0.1},
        "below": {"exclusiveMaximum": 3},
        "never": False,
        "text": {"type": ["string", "null"]},
        "names": {"propertyNames": {"maxLength": 2}},
        "numbers": {"contains": {"type": "integer"}},
        "filled": {"minProperties": 1},
        "reactions": {"type": "object", "properties": {"+1": {"type": "integer"}}},
    },
}


def test_problem_messages_and_paths() -> None:
    instance = {
        "name": "x",
        "count": "1",
        "owner": {"login": "x"},
        "tags": ["a", "a", 3],
        "kind": "c",
        "shape": 1,
        "maybe": 1,
        "some": None,
        "one": True,
        "digits": "12\n",
        "tenth": 0.35,
        "below": 3,
        "never": 1,
        "text": 1,
        "names": {"abc": 1},
        "numbers": [],
        "filled": {},
        "reactions": {"+1": "1"},
        "other": 1,
    }
    problems = compile_schema(PAYLOAD_SCHEMA).problems(instance, limit=100, prefix=("payload",))
    assert [str(problem) for problem in problems] == [
        "payload.name: 'x' is shorter than 3 characters (minLength)",
        "payload.count: '1' is not of type integer",
        "payload.owner.login: 'x' is shorter than 3 characters (minLength)",
        "payload.tags: the array has 3 items, more than 2 (maxItems)",
        "payload.tags: items 0 and 1 are equal: items must be unique (uniqueItems)",
        "payload.tags[2]: 3 is not of type string",
        "payload.kind: 'c' is not one of the enum values 'a', 'b'",
        "payload.shape: exactly one of oneOf must match, 2 do (members 1 and 2)",
        "payload.maybe: 1 matches none of the 2 members of anyOf",
        "payload.some: null must not match the schema of not",
        "payload.one: true is not the const value 1",
        "payload.digits: '12\\n' does not match the pattern '^[0-9]+$'",
        "payload.tenth: 0.35 is not a multiple of 0.1 (multipleOf)",
        "payload.below: 3 is not less than 3 (exclusiveMaximum)",
        "payload.never: 1 is not allowed: the schema here is false",
        "payload.text: 1 is not of type string or null",
        "payload.names: property name 'abc': 'abc' is longer than 2 characters (maxLength) (propertyNames)",
        "payload.numbers: no item matches the schema of contains",
        "payload.filled: the object has 0 properties, fewer than 1 (minProperties)",
        "payload.reactions[\"+1\"]: '1' is not of type integer",
        "payload: property 'other' is not allowed (additionalProperties)",
    ]
    assert problems[2] == Problem(("payload", "owner", "login"), "'x' is shorter than 3 characters (minLength)")


def test_problems_required_and_root() -> None:
    validator = compile_schema(PAYLOAD_SCHEMA)
    assert validator.problems({}) == [
        Problem((), "property 'name' is required"),
        Problem((), "property 'owner' is required"),
    ]
    assert str(validator.problems([])[0]) == "[] is not of type object"
    assert validator.problems({"name": "abc", "owner": {}}) == []
    assert compile_schema({"type": "integer"}).problems("1") == [Problem((), "'1' is not of type integer")]
    assert str(Problem(("a.b", 0, "c"), "m")) == '["a.b"][0].c: m'


def test_problems_limit() -> None:
    validator = compile_schema({"type": "array", "items": {"type": "integer"}})
    instance = ["x"] * 30
    assert len(validator.problems(instance)) == 10
    assert [problem.path for problem in validator.problems(instance, limit=3)] == [(0,), (1,), (2,)]
    assert len(validator.problems(instance, limit=100)) == 30
    with pytest.raises(ValueError, match="limit"):
        validator.problems(instance, limit=0)


def test_one_of_none_matches() -> None:
    validator = compile_schema({"oneOf": [{"type": "string"}, {"type": "null"}]})
    assert [p.message for p in validator.problems(1)] == ["exactly one of oneOf must match, none of its 2 members does"]


# --- hostile instances ---------------------------------------------------------------------------------

TREE = {"type": "object", "properties": {"child": {"$ref": "#"}}}


def _nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth - 1):
        value = {"child": value}
    return value


def test_deep_instances_under_a_recursive_schema() -> None:
    validator = compile_schema(TREE)
    deepest = json_schema.MAX_DEPTH
    assert validator.is_valid(_nested(deepest))
    assert validator.problems(_nested(deepest)) == []
    assert not validator.is_valid(_nested(deepest + 1))
    assert validator.problems(_nested(100_000), prefix=("payload",)) == [
        Problem(("payload",), f"nested deeper than {deepest} arrays and objects")
    ]
    through_all_of = {"type": "object", "properties": {"child": {"allOf": [{"anyOf": [{"$ref": "#"}]}]}}}
    assert compile_schema(through_all_of).is_valid(_nested(deepest))


def test_deep_instances_under_other_schemas() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert compile_schema({"type": "array", "items": {"type": "array"}}).is_valid(deep)
    assert not compile_schema({"uniqueItems": True}).is_valid([deep, deep])
    assert not compile_schema({"enum": [[[1]]]}).is_valid(deep)
    assert compile_schema({"not": {"const": [[1]]}}).is_valid(deep)
    assert compile_schema({"items": {"type": "array"}}).problems([1, deep]) == [Problem((0,), "1 is not of type array")]


def test_huge_instances() -> None:
    validator = compile_schema({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}})
    assert validator.is_valid([{"a": index} for index in range(200_000)])
    assert (
        compile_schema({"maxLength": 10})
        .problems("x" * 10_000_000)[0]
        .message.endswith("is longer than 10 characters (maxLength)")
    )


# --- compile-time errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "http://example.com/s.json"}, "#/$ref: the reference 'http://example.com/s.json' points outside"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "#/properties/a/$ref: the reference 'other.json#/x'"),
        ({"$ref": "#/definitions/Missing"}, "#/$ref: '#/definitions/Missing' points to nothing"),
        ({"$ref": "#nowhere"}, "names no $anchor"),
        ({"$ref": "#"}, "#: the references # -> # apply to the same value forever"),
        ({"definitions": {"a": {"anyOf": [{"$ref": "#/definitions/a"}]}}, "$ref": "#/definitions/a"}, "forever"),
        ({"pattern": "("}, "#/pattern: invalid pattern '('"),
        ({"patternProperties": {"\\p{L}": {}}}, "Unicode property escapes"),
        ({"type": "str"}, "#/type: 'str' is not a JSON Schema type"),
        ({"properties": {"a": {"type": []}}}, "#/properties/a/type: must name a type at least, not []"),
        ({"required": True}, "#/required: must be an array of property names"),
        ({"minLength": -1}, "#/minLength: must be a non-negative integer"),
        ({"maximum": "3"}, "#/maximum: must be a number"),
        ({"multipleOf": 0}, "#/multipleOf: must be greater than 0"),
        ({"properties": {"a": 1}}, "#/properties/a: a schema must be an object or a boolean, not 1"),
        ({"allOf": []}, "#/allOf: must be a non-empty array of schemas"),
        ({"unevaluatedProperties": False}, "#: unevaluatedProperties is not supported"),
        ({"items": {"$dynamicRef": "#x"}}, "#/items: $dynamicRef is not supported"),
    ],
)
def test_compile_errors(schema: Any, message: str) -> None:
    with pytest.raises(SchemaCompileError) as raised:
        compile_schema(schema)
    assert message in str(raised.value)


# --- differential: random schemas against the jsonschema package ---------------------------------------

NAMES = ("a", "b", "c")
#: Patterns whose Python and ECMA-262 meanings agree on the instances drawn (ASCII letters and digits only):
#: jsonschema hands patterns to Python's re as they are.
PATTERNS = ("^a", "b$", "^[ab]+$", "1", "^\\d+$", "^\\w*$", "a|b", "^$", "a{2}")
ALPHABET = "ab1_"

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, 2.0, -1.5, 0.25, 2.5]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(ALPHABET, max_size=3),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from([*NAMES, "ab", "1"]), children, max_size=4)
    ),
    max_leaves=10,
)
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0, 2.5]))
counts = st.integers(0, 3)
type_names = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])


def _keywords(later: bool) -> dict[str, Any]:
    """Keywords with no subschema, and their values."""
    keywords: dict[str, Any] = {
        "type": st.one_of(type_names, st.lists(type_names, min_size=1, max_size=3, unique=True)),
        "enum": st.lists(json_values, min_size=1, max_size=4),
        "const": json_values,
        "multipleOf": st.sampled_from([1, 2, 3, 0.5, 0.25]),
        "maximum": numbers,
        "minimum": numbers,
        "exclusiveMaximum": numbers,
        "exclusiveMinimum": numbers,
        "maxLength": counts,
        "minLength": counts,
        "pattern": st.sampled_from(PATTERNS),
        "maxItems": counts,
        "minItems": counts,
        "uniqueItems": st.booleans(),
        "maxProperties": counts,
        "minProperties": counts,
        "required": st.lists(st.sampled_from(NAMES), max_size=3, unique=True),
        "format": st.sampled_from(["email", "date-time", "uri", "ipv4", "no-such-format"]),
        "title": st.just("annotation"),
        "$ref": st.sampled_from(["#", "#/$defs/d0" if later else "#/definitions/d0", "#/definitions/d1"]),
    }
    if later:
        keywords["$ref"] = st.sampled_from(["#", "#/$defs/d0", "#/$defs/d1"])
        keywords["dependentRequired"] = st.dictionaries(
            st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=2, unique=True), max_size=2
        )
    return keywords


def _applicators(children: st.SearchStrategy[Any], later: bool) -> dict[str, Any]:
    listed = st.lists(children, min_size=1, max_size=3)
    applicators: dict[str, Any] = {
        "properties": st.dictionaries(st.sampled_from(NAMES), children, max_size=3),
        "patternProperties": st.dictionaries(st.sampled_from(PATTERNS), children, max_size=2),
        "additionalProperties": children,
        "items": children,
        "contains": children,
        "propertyNames": children,
        "if": children,
        "then": children,
        "else": children,
        "allOf": listed,
        "anyOf": listed,
        "oneOf": listed,
        "not": children,
    }
    if later:
        applicators["prefixItems"] = listed
        applicators["dependentSchemas"] = st.dictionaries(st.sampled_from(NAMES), children, max_size=2)
        applicators["minContains"] = counts
        applicators["maxContains"] = counts
    else:
        applicators["items"] = st.one_of(children, listed)
        applicators["additionalItems"] = children
        applicators["dependencies"] = st.dictionaries(
            st.sampled_from(NAMES), st.one_of(children, st.lists(st.sampled_from(NAMES), max_size=2, unique=True))
        )
    return applicators


def _schemas(later: bool) -> st.SearchStrategy[Any]:
    def at_most(count: int, keywords: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        chosen = st.lists(st.sampled_from(sorted(keywords)), max_size=count, unique=True)
        return chosen.flatmap(lambda names: st.fixed_dictionaries({name: keywords[name] for name in names}))

    leaves = st.one_of(st.booleans(), at_most(3, _keywords(later)))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.tuples(at_most(2, _keywords(later)), at_most(2, _applicators(children, later))).map(
            lambda parts: {**parts[0], **parts[1]}
        )

    schema = st.recursive(leaves, extend, max_leaves=8)
    definitions = st.fixed_dictionaries({"d0": schema, "d1": schema})
    return st.tuples(schema, definitions).map(
        lambda parts: (
            {**parts[0], "$defs" if later else "definitions": parts[1]}
            if isinstance(parts[0], dict)
            else {"allOf": [parts[0]], "$defs" if later else "definitions": parts[1]}
        )
    )


def _ref_siblings_as_all_of(schema: Any) -> Any:
    """The same schema where a `$ref` with siblings is an `allOf` member: what this validator means by it,
    said so that draft 7 (which ignores the siblings of `$ref`) means it too. And without an additionalItems
    that cannot apply (see below)."""
    if isinstance(schema, list):
        return [_ref_siblings_as_all_of(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {
        key: value if key in ("enum", "const") else _ref_siblings_as_all_of(value) for key, value in schema.items()
    }
    if not isinstance(converted.get("items", []), list):
        # additionalItems never applies beside an items schema; jsonschema 4 raises TypeError on `items: false`
        # beside it (it takes len() of the boolean).
        converted.pop("additionalItems", None)
    if "$ref" in converted and len(converted) > 1:
        reference = converted.pop("$ref")
        converted["allOf"] = [{"$ref": reference}, *converted.get("allOf", [])]
    return converted


def _differential_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


def _compiled_or_reject(schema: Any) -> Any:
    try:
        return compile_schema(schema)
    except SchemaCompileError as error:
        # Only endless reference cycles (which jsonschema would recurse on forever) are refused here.
        assert "forever" in str(error) or "never reaches a schema" in str(error), error
        assume(False)


def _reference_is_valid(reference: Any, instance: Any) -> bool:
    try:
        return bool(reference.is_valid(instance))
    except RecursionError:
        # jsonschema evaluates `if` even without `then` and `else`: on `{"if": {"$ref": "#"}}` it recurses
        # forever, where the condition never applies (this validator accepts any value there).
        assume(False)
        raise


EXAMPLES = 3000 if LONG else 400


@_differential_settings(EXAMPLES)
@given(schema=_schemas(later=False), instances=st.lists(json_values, min_size=1, max_size=5))
def test_agrees_with_jsonschema_draft7(schema: Any, instances: list[Any]) -> None:
    validator = _compiled_or_reject(schema)
    reference = jsonschema.Draft7Validator(_ref_siblings_as_all_of(schema))
    for instance in instances:
        expected = _reference_is_valid(reference, instance)
        assert validator.is_valid(instance) is expected, instance
        assert (validator.problems(instance) == []) is expected, instance


@_differential_settings(EXAMPLES)
@given(schema=_schemas(later=True), instances=st.lists(json_values, min_size=1, max_size=5))
def test_agrees_with_jsonschema_2020_12(schema: Any, instances: list[Any]) -> None:
    validator = _compiled_or_reject(schema)
    reference = jsonschema.Draft202012Validator(schema)
    for instance in instances:
        expected = _reference_is_valid(reference, instance)
        assert validator.is_valid(instance) is expected, instance
        assert (validator.problems(instance) == []) is expected, instance
