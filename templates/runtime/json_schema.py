"""JSON Schema validation of event payloads and metadata, with JSON Schema's own meaning, compiled once.

`compile_schema(schema, definitions=...)` turns a schema into a `SchemaValidator`: the keywords are read and
checked once, into a small tree of checks dispatched on the JSON type of the value, so that validating is a
walk over the instance and nothing else. `is_valid(instance)` stops at the first problem; `problems(instance)`
lists them (up to a limit), each with the JSON path of the value and a sentence naming the keyword.

What it means, exactly:

- Draft-07 validation, plus the keywords of 2019-09 and 2020-12 that real schemas use: `$defs`,
  `dependentRequired`, `dependentSchemas`, `prefixItems` (then `items` applies to the items after them),
  `minContains`/`maxContains`, `$anchor`. Draft 4's boolean `exclusiveMaximum`/`exclusiveMinimum` (beside
  `maximum`/`minimum`) mean what draft 4 said.
- Instances are JSON values as `json.loads` gives them: dict (str keys), list, str, int, float, bool, None.
  A bool is not a number; an int is a number; a float with an integral value (1.0) is an integer. `enum`,
  `const` and `uniqueItems` compare as JSON values: `1` equals `1.0`, never `true`; arrays and objects deeply.
  Any other Python value, where the schema looks at it, is not JSON and is invalid.
- `multipleOf` is exact for integers; for a float it compares the decimal numbers that the floats are written
  as (their shortest repr), so 0.3 is a multiple of 0.1, as a reader of the JSON means.
- `maxLength`/`minLength` count Unicode code points. `pattern` and `patternProperties` are ECMA-262 regular
  expressions, searched (not anchored): `\\d`, `\\w`, `\\b` are ASCII as in ECMA-262, `\\s` is ECMA-262's
  whitespace, `.` stops at any line terminator, `$` only matches at the end, `(?<name>...)` and `\\k<name>` are
  named groups. Unicode property escapes (`\\p{...}`) are refused at compile time.
- `$ref` with sibling keywords: the siblings apply too, together with the referenced schema (the meaning of
  2019-09 and later, and what authors of draft-07 schemas mean; draft 7 itself ignores such siblings).
- `$ref` may be `#`, a JSON pointer into the schema (`#/properties/a/items`, with `~0`/`~1` escapes and
  percent-decoding), `#/definitions/<Name>` (looked up in the schema's own `definitions`, then in the
  `definitions` given to `compile_schema`: a spec's shared definitions), or `#name` for a subschema with
  `$anchor: name` (or draft 7's `$id: "#name"`). Within a subschema that has its own `$id` (an embedded
  resource) `#...` points into that subschema, as the standard says. Recursive references work. Any other
  reference (another document, a URL, a `$id`-relative path) is a `SchemaCompileError`, and so is a cycle of
  references that never descends into the instance (it would loop forever).
- `format` is an annotation only, never asserted. So are `contentMediaType`, `contentEncoding`,
  `contentSchema`. Every other key (`title`, `description`, `default`, `examples`, `readOnly`, `writeOnly`,
  `deprecated`, `$comment`, `$schema`, `$id`, `x-*`, vendor keys, unknown keys) is ignored. The assertions
  this validator does not implement (`unevaluatedProperties`, `unevaluatedItems`, `$recursiveRef`,
  `$dynamicRef`) are a `SchemaCompileError`, never silently ignored.
- A keyword whose value is malformed (`type: 5`, `required: "a"`, `minLength: -1`, an invalid pattern) is a
  `SchemaCompileError` naming the keyword and where it stands.
- Hostile instances never raise RecursionError. Under a recursive schema (or one with `uniqueItems`), an
  instance nested deeper than `MAX_DEPTH` arrays and objects is invalid, with the problem "nested deeper than
  200 arrays and objects" (a schema that does not recurse never walks deeper than itself). Should the stack
  still run out first (a recursion through many combinators per level, or a caller deep in its own stack),
  the instance is invalid with the problem "nested too deeply to validate".
"""

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, TypeAlias, TypeGuard, cast
from urllib.parse import unquote

__all__ = [
    "MAX_DEPTH",
    "JsonValue",
    "Problem",
    "SchemaCompileError",
    "SchemaValidator",
    "compile_schema",
    "format_path",
]

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None

#: How deeply arrays and objects may nest in an instance validated by a recursive schema (the runtime's
#: codecs refuse deeper events anyway: their ceiling is 200 levels for a whole event).
MAX_DEPTH: Final = 200

Path: TypeAlias = tuple[str | int, ...]

_NULL: Final = type(None)
#: The Python types of JSON values, as `json.loads` gives them.
_JSON_TYPES: Final[tuple[type, ...]] = (dict, list, str, int, float, bool, _NULL)
_TYPE_NAMES: Final = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
#: Keywords whose meaning this validator does not implement, but which assert: refused, never ignored.
_UNSUPPORTED: Final = ("unevaluatedProperties", "unevaluatedItems", "$recursiveRef", "$dynamicRef")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class SchemaCompileError(ValueError):
    """A schema that cannot be validated as the standard says: malformed, or beyond what is supported."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an instance is invalid: `path` is the JSON path of the offending value (keys and indexes)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}" if self.path else self.message


def format_path(path: Path) -> str:
    """`("payload", "owner", "tags", 0)` as `payload.owner.tags[0]`; keys that are not plain as `["a.b"]`."""
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _PLAIN_KEY.fullmatch(step):
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{json.dumps(step, ensure_ascii=False)}]")
    return "".join(parts)


class SchemaValidator:
    """A compiled schema: `is_valid` and `problems` validate JSON values against it."""

    __slots__ = ("_guard_depth", "_root")

    def __init__(self, root: "_Node", guard_depth: bool) -> None:
        self._root = root
        self._guard_depth = guard_depth

    def is_valid(self, instance: object) -> bool:
        """Whether `instance` is valid (stops at the first problem)."""
        if self._guard_depth and _deeper_than(instance, MAX_DEPTH):
            return False
        try:
            return self._root.valid(instance)
        except RecursionError:
            return False

    def problems(self, instance: object, *, limit: int = 10, prefix: Path = ()) -> list[Problem]:
        """Why `instance` is invalid (empty when it is valid): at most `limit` problems, in the order found.

        `prefix` is the path of the instance within a larger document (e.g. `("payload",)`), put before the
        path of each problem.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        sink = _Sink(limit)
        if self._guard_depth and _deeper_than(instance, MAX_DEPTH):
            return [Problem(prefix, f"nested deeper than {MAX_DEPTH} arrays and objects")]
        try:
            self._root.collect(instance, prefix, sink)
        except _SinkFull:
            pass
        except RecursionError:
            return [Problem(prefix, "nested too deeply to validate")]
        return sink.problems


def compile_schema(
    schema: JsonValue, *, definitions: Mapping[str, JsonValue] | None = None
) -> SchemaValidator:
    """Compiles `schema` once; `definitions` are the shared schemas that `#/definitions/<Name>` also finds."""
    compiler = _Compiler(definitions or {})
    try:
        root = compiler.node(schema, "#", _Resource(schema, "#", True))
        compiler.finish()
    except RecursionError:
        raise SchemaCompileError("the schema nests too deeply to compile") from None
    return SchemaValidator(root, compiler.recursive or compiler.freezes)


# --- problems --------------------------------------------------------------------------------------------


class _SinkFull(Exception):
    pass


class _Sink:
    __slots__ = ("limit", "problems")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))
        if len(self.problems) >= self.limit:
            raise _SinkFull


def _quote(text: str, width: int = 60) -> str:
    shown = repr(text if len(text) <= width else text[:width])
    return shown if len(text) <= width else f"{shown}…"


def _show(value: object, width: int = 60) -> str:
    """A value for a message: strings quoted, JSON literals as JSON, containers abbreviated."""
    if isinstance(value, str):
        return _quote(value, width)
    text = _render(value, 3)
    return text if len(text) <= width else f"{text[: width - 1]}…"


def _render(value: object, depth: int) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        try:
            return repr(value)
        except ValueError:  # an int of more digits than Python converts to text
            return "<an integer of many digits>"
    if isinstance(value, str):
        return repr(value)
    if _is_list(value):
        items = value
        if depth <= 0 and items:
            return "[…]"
        shown = [_render(item, depth - 1) for item in items[:8]]
        return "[" + ", ".join(shown + (["…"] if len(items) > 8 else [])) + "]"
    if _is_dict(value):
        members = value
        if depth <= 0 and members:
            return "{…}"
        shown = [f"{_render(key, 0)}: {_render(item, depth - 1)}" for key, item in list(members.items())[:8]]
        return "{" + ", ".join(shown + (["…"] if len(members) > 8 else [])) + "}"
    return f"<{type(value).__name__}>"


def _names(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def _members(indexes: list[int]) -> str:
    numbers = [str(index + 1) for index in indexes]
    return f"members {', '.join(numbers[:-1])} and {numbers[-1]}"


# --- JSON values -----------------------------------------------------------------------------------------


def _json_type(value: object) -> type | None:
    """The JSON type (one of `_JSON_TYPES`) of a value of a subclass (a str enum, say), or None if not JSON."""
    if isinstance(value, bool):
        return bool
    for json_type in (str, int, float, dict, list):
        if isinstance(value, json_type):
            return json_type
    return _NULL if value is None else None


def _json_equal(left: object, right: object) -> bool:
    """Equality of JSON values (1 == 1.0, 1 != true); recurses no deeper than the shallower of the two."""
    left_type, right_type = _json_type(left), _json_type(right)
    if left_type is int or left_type is float:
        return (right_type is int or right_type is float) and left == right
    if left_type is not right_type:
        return False
    if left_type is list:
        left_items = cast("list[Any]", left)
        right_items = cast("list[Any]", right)
        return len(left_items) == len(right_items) and all(map(_json_equal, left_items, right_items))
    if left_type is dict:
        left_members = cast("dict[str, Any]", left)
        right_members = cast("dict[str, Any]", right)
        return left_members.keys() == right_members.keys() and all(
            _json_equal(value, right_members[key]) for key, value in left_members.items()
        )
    return left == right


_BOOLEAN: Final = object()
_ARRAY: Final = object()
_OBJECT: Final = object()
_OTHER: Final = object()


def _freeze(value: object) -> object:
    """A hashable key of a JSON value, equal for equal JSON values (1 and 1.0; never 1 and true)."""
    kind = _json_type(value)
    if kind is bool:
        return (_BOOLEAN, value)
    if kind is list:
        items = cast("list[Any]", value)
        return (_ARRAY, tuple(map(_freeze, items)))
    if kind is dict:
        members = cast("dict[str, Any]", value)
        return (_OBJECT, frozenset((key, _freeze(item)) for key, item in members.items()))
    return value if kind is not None else (_OTHER, id(value))


def _deeper_than(value: object, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` levels in `value` (iterative: never recurses)."""
    top = _children(value)
    if top is None:
        return False
    stack: list[tuple[Iterator[Any], int]] = [(iter(top), 1)]
    while stack:
        children, depth = stack[-1]
        for child in children:
            nested = _children(child)
            if nested is not None:
                if depth + 1 > limit:
                    return True
                stack.append((iter(nested), depth + 1))
                break
        else:
            stack.pop()
    return False


def _children(value: object) -> list[Any] | None:
    """The values in an array or object, None for any other value."""
    if _is_dict(value):
        return list(value.values())
    return value if _is_list(value) else None


def _is_list(value: object) -> TypeGuard[list[Any]]:
    return isinstance(value, list)


def _is_dict(value: object) -> TypeGuard[dict[Any, Any]]:
    return isinstance(value, dict)


def _as_list(value: object) -> list[Any] | None:
    return value if _is_list(value) else None


# --- compiled schemas ------------------------------------------------------------------------------------

_Valid: TypeAlias = Callable[[Any], bool]


class _Check:
    """One keyword (or a few that only mean something together), compiled."""

    __slots__ = ()

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        raise NotImplementedError


class _Node:
    """A compiled (sub)schema: per JSON type, the checks that apply to a value of that type."""

    __slots__ = ("alias", "checks", "done", "fast", "location", "same_value")

    def __init__(self, location: str) -> None:
        self.location = location
        self.fast: dict[type, tuple[_Valid, ...]] = {}
        self.checks: dict[type, tuple[_Check, ...]] = {}
        self.alias: _Node | None = None
        self.done = False
        #: The nodes applied to the same value (not to a part of it): cycles among them would never end.
        self.same_value: list[_Node] = []

    def valid(self, value: object) -> bool:
        fast = self.fast.get(type(value))
        if fast is None:
            kind = _json_type(value)
            if kind is None:
                return False
            fast = self.fast[kind]
        for check in fast:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not check(value):
                return False
        return True

    def collect(self, value: object, path: Path, sink: _Sink) -> None:
        checks = self.checks.get(type(value))
        if checks is None:
            kind = _json_type(value)
            if kind is None:
                sink.add(path, f"a Python {type(value).__name__} is not a JSON value")
                return
            checks = self.checks[kind]
        for check in checks:
            check.collect(value, path, sink)


class _Fails(_Check):
    """A check that always fails: a value of a type the schema does not allow, or the schema `false`."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    @staticmethod
    def valid(value: object) -> bool:
        return False

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        sink.add(path, self.message.format(value=_show(value)))


class _IntegralFloat(_Check):
    __slots__ = ("names",)

    def __init__(self, names: str) -> None:
        self.names = names

    @staticmethod
    def valid(value: float) -> bool:
        return value.is_integer()

    def collect(self, value: float, path: Path, sink: _Sink) -> None:
        if not value.is_integer():
            sink.add(path, f"{_show(value)} is not of type {self.names}")


class _Enum(_Check):
    __slots__ = ("containers", "keyword", "numbers", "others", "shown", "strings")

    def __init__(self, keyword: str, values: list[Any]) -> None:
        self.keyword = keyword
        self.strings = frozenset(value for value in values if isinstance(value, str))
        self.numbers = frozenset(value for value in values if _json_type(value) in (int, float))
        self.others = tuple(value for value in values if value is None or isinstance(value, bool))
        self.containers: tuple[Any, ...] = tuple(
            value for value in values if _json_type(value) in (list, dict)
        )
        shown = ", ".join(_show(value, 30) for value in values[:6]) + (", …" if len(values) > 6 else "")
        self.shown = shown

    def valid_string(self, value: str) -> bool:
        return value in self.strings

    def valid_number(self, value: float) -> bool:
        return value in self.numbers

    def valid_literal(self, value: bool | None) -> bool:
        return any(value is other for other in self.others)

    def valid_container(self, value: object) -> bool:
        return any(_json_equal(member, value) for member in self.containers)

    def valid(self, value: object) -> bool:
        kind = _json_type(value)
        return self.for_type(kind)(value) if kind is not None else False

    def for_type(self, json_type: type) -> _Valid:
        if json_type is str:
            return self.valid_string
        if json_type is int or json_type is float:
            return self.valid_number
        if json_type is bool or json_type is _NULL:
            return self.valid_literal
        return self.valid_container

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        if not self.valid(value):
            if self.keyword == "const":
                sink.add(path, f"{_show(value)} is not the const value {self.shown}")
            else:
                sink.add(path, f"{_show(value)} is not one of the enum values {self.shown}")


class _MultipleOf(_Check):
    __slots__ = ("divisor", "exact")

    def __init__(self, divisor: float) -> None:
        self.divisor = divisor
        self.exact = Fraction(divisor) if isinstance(divisor, int) else Fraction(repr(divisor))

    def valid(self, value: float) -> bool:
        divisor = self.divisor
        if isinstance(value, int):
            return value % divisor == 0 if isinstance(divisor, int) else Fraction(value) % self.exact == 0
        if not math.isfinite(value):
            return False
        if isinstance(divisor, int) and value.is_integer():
            return int(value) % divisor == 0
        return Fraction(repr(value)) % self.exact == 0

    def collect(self, value: float, path: Path, sink: _Sink) -> None:
        if not self.valid(value):
            sink.add(path, f"{_show(value)} is not a multiple of {_show(self.divisor)} (multipleOf)")


class _Bound(_Check):
    """maximum, exclusiveMaximum, minimum, exclusiveMinimum."""

    __slots__ = ("message", "valid")

    def __init__(self, keyword: str, bound: float, exclusive: bool) -> None:
        upper = "aximum" in keyword
        self.valid: _Valid = _comparison(bound, upper, exclusive)
        relation = (
            ("less than" if exclusive else "at most")
            if upper
            else ("greater than" if exclusive else "at least")
        )
        self.message = f"is not {relation} {_show(bound)} ({keyword})"

    def collect(self, value: float, path: Path, sink: _Sink) -> None:
        if not self.valid(value):
            sink.add(path, f"{_show(value)} {self.message}")


_SINGULAR: Final = {"characters": "character", "items": "item", "properties": "property"}


def _comparison(bound: float, upper: bool, exclusive: bool) -> _Valid:
    if upper:
        return (lambda value: value < bound) if exclusive else (lambda value: value <= bound)
    return (lambda value: value > bound) if exclusive else (lambda value: value >= bound)


class _Length(_Check):
    """maxLength, minLength (Unicode code points), maxItems, minItems, maxProperties, minProperties."""

    __slots__ = ("bound", "keyword", "unit", "valid")

    def __init__(self, keyword: str, bound: int, unit: str) -> None:
        self.keyword = keyword
        self.bound = bound
        self.unit = unit
        upper = keyword.startswith("max")
        self.valid: _Valid = (
            (lambda value: len(value) <= bound) if upper else (lambda value: len(value) >= bound)
        )

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        if self.valid(value):
            return
        upper = self.keyword.startswith("max")
        unit = _SINGULAR[self.unit] if self.bound == 1 else self.unit
        if self.unit == "characters":
            relation = "longer" if upper else "shorter"
            sink.add(path, f"{_show(value)} is {relation} than {self.bound} {unit} ({self.keyword})")
        else:
            what = "array" if self.unit == "items" else "object"
            counted = _SINGULAR[self.unit] if len(value) == 1 else self.unit
            relation = "more" if upper else "fewer"
            sink.add(
                path,
                f"the {what} has {len(value)} {counted}, {relation} than {self.bound} ({self.keyword})",
            )


class _Pattern(_Check):
    __slots__ = ("search", "source")

    def __init__(self, source: str, search: Callable[[str], object]) -> None:
        self.source = source
        self.search = search

    def valid(self, value: str) -> bool:
        return self.search(value) is not None

    def collect(self, value: str, path: Path, sink: _Sink) -> None:
        if self.search(value) is None:
            sink.add(path, f"{_show(value)} does not match the pattern {_quote(self.source)}")


class _Required(_Check):
    __slots__ = ("names",)

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def valid(self, value: dict[str, Any]) -> bool:
        return all(map(value.__contains__, self.names))

    def collect(self, value: dict[str, Any], path: Path, sink: _Sink) -> None:
        for name in self.names:
            if name not in value:
                sink.add(path, f"property {_quote(name)} is required")


class _Properties(_Check):
    """properties, patternProperties and additionalProperties (which depends on the other two)."""

    __slots__ = ("additional", "additional_false", "named", "named_valid", "patterns", "valid")

    def __init__(
        self,
        named: dict[str, "_Node"],
        patterns: list[tuple[str, Callable[[str], object], "_Node"]],
        additional: "_Node | None",
        additional_false: bool,
    ) -> None:
        self.named = named
        self.named_valid = tuple((name, node.valid) for name, node in named.items())
        self.patterns = patterns
        self.additional = additional
        self.additional_false = additional_false
        if not patterns and additional is None:
            self.valid: _Valid = self._valid_named
        else:
            self.valid = self._valid_each

    def _valid_named(self, value: dict[str, Any]) -> bool:
        missing = _MISSING
        for name, valid in self.named_valid:
            item = value.get(name, missing)
            if item is not missing and not valid(item):
                return False
        return True

    def _valid_each(self, value: dict[Any, Any]) -> bool:
        named = self.named
        patterns = self.patterns
        additional = self.additional
        for key, item in value.items():
            node = named.get(key)
            if node is not None and not node.valid(item):
                return False
            matched = False
            if patterns and isinstance(key, str):
                for _, search, pattern_node in patterns:
                    if search(key) is not None:
                        if not pattern_node.valid(item):
                            return False
                        matched = True
            if (
                node is None
                and not matched
                and additional is not None
                and (self.additional_false or not additional.valid(item))
            ):
                return False
        return True

    def collect(self, value: dict[Any, Any], path: Path, sink: _Sink) -> None:
        for key, item in value.items():
            node = self.named.get(key)
            if node is not None:
                node.collect(item, (*path, key), sink)
            matched = False
            if isinstance(key, str):
                for _, search, pattern_node in self.patterns:
                    if search(key) is not None:
                        pattern_node.collect(item, (*path, key), sink)
                        matched = True
            if node is None and not matched and self.additional is not None:
                if self.additional_false:
                    sink.add(path, f"property {_quote(str(key))} is not allowed (additionalProperties)")
                else:
                    self.additional.collect(item, (*path, key), sink)


class _Missing:
    pass


_MISSING: Final = _Missing()


class _DependentRequired(_Check):
    __slots__ = ("dependencies",)

    def __init__(self, dependencies: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
        self.dependencies = dependencies

    def valid(self, value: dict[str, Any]) -> bool:
        for name, required in self.dependencies:
            if name in value:
                for other in required:
                    if other not in value:
                        return False
        return True

    def collect(self, value: dict[str, Any], path: Path, sink: _Sink) -> None:
        for name, required in self.dependencies:
            if name in value:
                for other in required:
                    if other not in value:
                        sink.add(path, f"property {_quote(other)} is required when {_quote(name)} is present")


class _DependentSchemas(_Check):
    __slots__ = ("dependencies",)

    def __init__(self, dependencies: tuple[tuple[str, "_Node"], ...]) -> None:
        self.dependencies = dependencies

    def valid(self, value: dict[str, Any]) -> bool:
        for name, node in self.dependencies:  # noqa: SIM110 - a loop is faster than all() over a generator
            if name in value and not node.valid(value):
                return False
        return True

    def collect(self, value: dict[str, Any], path: Path, sink: _Sink) -> None:
        for name, node in self.dependencies:
            if name in value:
                node.collect(value, path, sink)


class _PropertyNames(_Check):
    __slots__ = ("node",)

    def __init__(self, node: "_Node") -> None:
        self.node = node

    def valid(self, value: dict[str, Any]) -> bool:
        return all(map(self.node.valid, value))

    def collect(self, value: dict[str, Any], path: Path, sink: _Sink) -> None:
        for key in value:
            inner = _Sink(1)
            with suppress(_SinkFull):
                self.node.collect(key, (), inner)
            for problem in inner.problems:
                sink.add(path, f"property name {_quote(str(key))}: {problem.message} (propertyNames)")


class _Items(_Check):
    """items, additionalItems and prefixItems: positional schemas, then one schema for the rest."""

    __slots__ = ("positional", "positional_valid", "rest", "rest_valid", "valid")

    def __init__(self, positional: tuple["_Node", ...], rest: "_Node | None") -> None:
        self.positional = positional
        self.positional_valid = tuple(node.valid for node in positional)
        self.rest = rest
        self.rest_valid: _Valid = rest.valid if rest is not None else _Fails.valid
        self.valid: _Valid = self._valid_all if not positional else self._valid_positional

    def _valid_all(self, value: list[Any]) -> bool:
        return all(map(self.rest_valid, value))

    def _valid_positional(self, value: list[Any]) -> bool:
        for valid, item in zip(self.positional_valid, value, strict=False):
            if not valid(item):
                return False
        if self.rest is not None and len(value) > len(self.positional):
            return all(map(self.rest_valid, value[len(self.positional) :]))
        return True

    def collect(self, value: list[Any], path: Path, sink: _Sink) -> None:
        for index, item in enumerate(value):
            if index < len(self.positional):
                self.positional[index].collect(item, (*path, index), sink)
            elif self.rest is not None:
                self.rest.collect(item, (*path, index), sink)


class _UniqueItems(_Check):
    __slots__ = ()

    @staticmethod
    def valid(value: list[Any]) -> bool:
        if len(value) < 2:
            return True
        return len(set(map(_freeze, value))) == len(value)

    def collect(self, value: list[Any], path: Path, sink: _Sink) -> None:
        seen: dict[object, int] = {}
        for index, item in enumerate(value):
            key = _freeze(item)
            if key in seen:
                sink.add(path, f"items {seen[key]} and {index} are equal: items must be unique (uniqueItems)")
                return
            seen[key] = index


class _Contains(_Check):
    __slots__ = ("at_least", "at_most", "node")

    def __init__(self, node: "_Node", at_least: int, at_most: int | None) -> None:
        self.node = node
        self.at_least = at_least
        self.at_most = at_most

    def valid(self, value: list[Any]) -> bool:
        valid = self.node.valid
        at_least, at_most = self.at_least, self.at_most
        if at_most is None:
            if at_least == 1:
                return any(map(valid, value))
            found = 0
            for item in value:
                if valid(item):
                    found += 1
                    if found >= at_least:
                        return True
            return found >= at_least
        found = sum(1 for item in value if valid(item))
        return at_least <= found <= at_most

    def collect(self, value: list[Any], path: Path, sink: _Sink) -> None:
        if self.valid(value):
            return
        found = sum(1 for item in value if self.node.valid(item))
        if found == 0 and self.at_least == 1:
            sink.add(path, "no item matches the schema of contains")
        elif found < self.at_least:
            sink.add(path, f"{found} items match contains, at least {self.at_least} must (minContains)")
        else:
            sink.add(path, f"{found} items match contains, at most {self.at_most} may (maxContains)")


class _AllOf(_Check):
    __slots__ = ("nodes", "valids")

    def __init__(self, nodes: tuple["_Node", ...]) -> None:
        self.nodes = nodes
        self.valids: tuple[_Valid, ...] = ()

    def finish(self) -> None:
        self.valids = tuple(node.valid for node in self.nodes)

    def valid(self, value: object) -> bool:
        for valid in self.valids:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not valid(value):
                return False
        return True

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        for node in self.nodes:
            node.collect(value, path, sink)


class _AnyOf(_AllOf):
    __slots__ = ()

    def valid(self, value: object) -> bool:
        for valid in self.valids:  # noqa: SIM110 - a loop is faster than any() over a generator
            if valid(value):
                return True
        return False

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        if not self.valid(value):
            sink.add(path, f"{_show(value)} matches none of the {len(self.nodes)} members of anyOf")


class _OneOf(_AllOf):
    __slots__ = ()

    def valid(self, value: object) -> bool:
        found = False
        for valid in self.valids:
            if valid(value):
                if found:
                    return False
                found = True
        return found

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        matching = [index for index, valid in enumerate(self.valids) if valid(value)]
        if not matching:
            sink.add(path, f"exactly one of oneOf must match, none of its {len(self.nodes)} members does")
        elif len(matching) > 1:
            sink.add(path, f"exactly one of oneOf must match, {len(matching)} do ({_members(matching)})")


class _Not(_Check):
    __slots__ = ("node",)

    def __init__(self, node: "_Node") -> None:
        self.node = node

    def valid(self, value: object) -> bool:
        return not self.node.valid(value)

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        if self.node.valid(value):
            sink.add(path, f"{_show(value)} must not match the schema of not")


class _IfThenElse(_Check):
    __slots__ = ("condition", "orelse", "then")

    def __init__(self, condition: "_Node", then: "_Node | None", orelse: "_Node | None") -> None:
        self.condition = condition
        self.then = then
        self.orelse = orelse

    def valid(self, value: object) -> bool:
        branch = self.then if self.condition.valid(value) else self.orelse
        return branch is None or branch.valid(value)

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        branch = self.then if self.condition.valid(value) else self.orelse
        if branch is not None:
            branch.collect(value, path, sink)


class _Ref(_Check):
    __slots__ = ("node",)

    def __init__(self, node: "_Node") -> None:
        self.node = node

    def valid(self, value: object) -> bool:
        return self.node.valid(value)

    def collect(self, value: Any, path: Path, sink: _Sink) -> None:
        self.node.collect(value, path, sink)


# --- ECMA-262 patterns -----------------------------------------------------------------------------------

#: ECMA-262's WhiteSpace and LineTerminator: what `\s` matches (Python's `\s` differs on \x1c-\x1f, \x85,
#: \ufeff).
_ECMA_SPACE: Final = (
    "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
_ECMA_DOT: Final = "[^\\n\\r\\u2028\\u2029]"
_ESCAPED_LETTERS: Final = frozenset("dDwWsSbBfnrtv")


class _PatternSyntaxError(ValueError):
    pass


def _translate_pattern(source: str) -> str:
    """An ECMA-262 regular expression as a Python one, to be compiled with re.ASCII (ECMA's \\d \\w \\b)."""
    out: list[str] = []
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        if char == "\\":
            escape, index = _translate_escape(source, index, in_class=False)
            out.append(escape)
            continue
        if char == "[":
            translated, index = _translate_class(source, index)
            out.append(translated)
            continue
        if char == ".":
            out.append(_ECMA_DOT)
        elif char == "$":
            out.append("(?!(?s:.))")
        elif (
            char == "("
            and source.startswith("(?<", index)
            and source[index + 3 : index + 4] not in ("=", "!")
        ):
            out.append("(?P<")
            index += 3
            continue
        elif char == "{" and source.startswith("{,", index):
            out.append("\\{")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _translate_escape(source: str, index: int, *, in_class: bool) -> tuple[str, int]:
    """The escape at `source[index]` (a backslash) as Python syntax, and the index after it."""
    if index + 1 >= len(source):
        raise _PatternSyntaxError("\\ at end of pattern")
    letter = source[index + 1]
    after = index + 2
    if letter == "s":
        return (_ECMA_SPACE if in_class else f"[{_ECMA_SPACE}]"), after
    if letter == "S":
        return f"[^{_ECMA_SPACE}]", after  # in a class, _translate_class handles it before this
    if letter == "b" and in_class:
        return "\\x08", after
    if letter in _ESCAPED_LETTERS:
        return f"\\{letter}", after
    if letter == "c" and after < len(source) and source[after].isascii() and source[after].isalpha():
        return f"\\x{ord(source[after]) % 32:02x}", after + 1
    if letter == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", source[after : after + 2]):
        return f"\\x{source[after : after + 2]}", after + 2
    if letter == "u":
        return _translate_unicode_escape(source, after)
    if letter == "0" and not source[after : after + 1].isdigit():
        return "\\x00", after
    if letter.isdigit():
        if in_class:
            raise _PatternSyntaxError(f"\\{letter} in a character class")
        digits = re.match(r"[0-9]+", source[index + 1 :])
        assert digits is not None
        return f"(?:\\{digits.group()})", index + 1 + len(digits.group())
    if letter == "k" and not in_class:
        name = re.match(r"<([A-Za-z_$][\w$]*)>", source[after:])
        if name is None:
            raise _PatternSyntaxError("\\k must be followed by <name>")
        return f"(?P={name.group(1)})", after + len(name.group())
    if letter in "pP":
        raise _PatternSyntaxError("Unicode property escapes (\\p{...}, \\P{...}) are not supported")
    # Identity escapes: the character itself.
    return re.escape(letter), after


def _translate_unicode_escape(source: str, after: int) -> tuple[str, int]:
    braced = re.match(r"\{([0-9A-Fa-f]{1,6})\}", source[after:])
    if braced is not None:
        return re.escape(chr(int(braced.group(1), 16))), after + len(braced.group())
    hex4 = source[after : after + 4]
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", hex4):
        return "u", after
    code = int(hex4, 16)
    low = re.match(r"\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})", source[after + 4 : after + 10])
    if 0xD800 <= code <= 0xDBFF and low is not None:
        combined = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return re.escape(chr(combined)), after + 10
    return f"\\u{hex4}", after + 4


def _translate_class(source: str, index: int) -> tuple[str, int]:
    """The character class at `source[index]` (a `[`), and the index after its `]`."""
    position = index + 1
    negated = source.startswith("^", position)
    if negated:
        position += 1
    items: list[str] = []
    non_space = False
    while True:
        if position >= len(source):
            raise _PatternSyntaxError("unterminated character class")
        char = source[position]
        if char == "]":
            position += 1
            break
        if char == "\\":
            if source.startswith("\\S", position):
                non_space = True
                position += 2
                continue
            escape, position = _translate_escape(source, position, in_class=True)
            items.append(escape)
            continue
        items.append("\\" + char if char in "[&~|" else char)
        position += 1
    rest = "".join(items)
    if non_space:
        # ECMA's \S (anything but its whitespace) cannot be written inside a Python class: spell it out.
        if negated:
            return (f"(?:(?![{rest}])[{_ECMA_SPACE}])" if rest else f"[{_ECMA_SPACE}]"), position
        return (f"(?:[^{_ECMA_SPACE}]|[{rest}])" if rest else f"[^{_ECMA_SPACE}]"), position
    if not rest:
        return ("(?s:.)" if negated else "(?!)"), position
    return f"[{'^' if negated else ''}{rest}]", position


_PATTERNS: dict[str, Callable[[str], object]] = {}


def _compile_pattern(source: object, where: str) -> Callable[[str], object]:
    if not isinstance(source, str):
        raise SchemaCompileError(f"{where}: a pattern must be a string, not {_show(source)}")
    search = _PATTERNS.get(source)
    if search is None:
        try:
            search = re.compile(_translate_pattern(source), re.ASCII).search
        except (re.error, _PatternSyntaxError, OverflowError) as error:
            raise SchemaCompileError(f"{where}: invalid pattern {_quote(source)}: {error}") from None
        if len(_PATTERNS) < 4096:
            _PATTERNS[source] = search
    return search


# --- compiling -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resource:
    """The (sub)schema that `#...` references point into: the root, or a subschema with its own `$id`."""

    schema: object
    location: str
    is_document: bool


def _pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _is_integer(value: object) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    def __init__(self, definitions: Mapping[str, JsonValue]) -> None:
        self.definitions = definitions
        #: Stands for the `definitions` of a root that has none (kept alive: nodes are memoized by id).
        self.no_definitions: dict[str, Any] = {}
        self.memo: dict[tuple[int, int], _Node] = {}
        self.nodes: list[_Node] = []
        self.combinators: list[_AllOf] = []
        self.anchors: dict[int, dict[str, tuple[object, str]]] = {}
        self.recursive = False
        self.freezes = False

    # nodes

    def node(self, schema: object, location: str, resource: _Resource) -> _Node:
        if isinstance(schema, bool):
            node = _Node(location)
            self._fill_boolean(node, schema)
            node.done = True
            self.nodes.append(node)
            return node
        if not isinstance(schema, dict):
            raise SchemaCompileError(
                f"{location}: a schema must be an object or a boolean, not {_show(schema)}"
            )
        members = cast("dict[str, Any]", schema)
        identifier = members.get("$id")
        if isinstance(identifier, str) and not identifier.startswith("#") and members is not resource.schema:
            resource = _Resource(members, location, False)
        key = (id(members), id(resource.schema))
        known = self.memo.get(key)
        if known is not None:
            if not known.done:
                self.recursive = True
            return known
        node = _Node(location)
        self.memo[key] = node
        self.nodes.append(node)
        self._fill(node, members, location, resource)
        node.done = True
        return node

    def _fill_boolean(self, node: _Node, schema: bool) -> None:
        for json_type in _JSON_TYPES:
            if schema:
                node.fast[json_type], node.checks[json_type] = (), ()
            else:
                check = _Fails("{value} is not allowed: the schema here is false")
                node.fast[json_type], node.checks[json_type] = (check.valid,), (check,)

    def _fill(self, node: _Node, schema: dict[str, Any], location: str, resource: _Resource) -> None:
        for keyword in _UNSUPPORTED:
            if keyword in schema:
                raise SchemaCompileError(f"{location}: {keyword} is not supported by this validator")
        at = f"{location}/" if location != "#" else "#/"
        generic: list[tuple[_Check, _Valid]] = []
        number: list[tuple[_Check, _Valid]] = []
        string: list[tuple[_Check, _Valid]] = []
        array: list[tuple[_Check, _Valid]] = []
        obj: list[tuple[_Check, _Valid]] = []
        ref_node: _Node | None = None

        if "$ref" in schema:
            reference = schema["$ref"]
            if not isinstance(reference, str):
                raise SchemaCompileError(f"{at}$ref: must be a string, not {_show(reference)}")
            target, target_location, target_resource = self._resolve(reference, f"{at}$ref", resource)
            ref_node = self.node(target, target_location, target_resource)
            node.same_value.append(ref_node)

        # The type, and the checks of values of one type.
        allowed = self._types(schema, at)
        self._numbers(schema, at, number)
        self._strings(schema, at, string)
        self._arrays(schema, at, array, resource)
        self._objects(schema, at, obj, node, resource)
        enum = self._enum(schema, at)
        self._combinators(schema, at, generic, node, resource)

        if (
            ref_node is not None
            and allowed is None
            and enum is None
            and not (generic or number or string or array or obj)
        ):
            node.alias = ref_node  # a $ref alone (or with annotations): the referenced schema itself
            return
        if ref_node is not None:
            ref = _Ref(ref_node)
            generic.insert(0, (ref, ref.valid))

        names = _names(sorted(allowed, key=_type_order)) if allowed is not None else ""
        mismatch = _Fails(f"{{value}} is not of type {names}")
        for json_type in _JSON_TYPES:
            checks: list[tuple[_Check, _Valid]] = []
            if allowed is not None and not _allows(allowed, json_type):
                checks.append((mismatch, mismatch.valid))
            else:
                if json_type is float and allowed is not None and "number" not in allowed:
                    integral = _IntegralFloat(names)
                    checks.append((integral, integral.valid))
                if json_type is int or json_type is float:
                    checks.extend(number)
                elif json_type is str:
                    checks.extend(string)
                elif json_type is list:
                    checks.extend(array)
                elif json_type is dict:
                    checks.extend(obj)
                if enum is not None:
                    checks.append((enum, enum.for_type(json_type)))
                checks.extend(generic)
            node.checks[json_type] = tuple(check for check, _ in checks)
            node.fast[json_type] = tuple(valid for _, valid in checks)

    def _types(self, schema: dict[str, Any], at: str) -> frozenset[str] | None:
        if "type" not in schema:
            return None
        names = schema["type"]
        listed = _as_list(names)
        if listed is None:
            listed = [names]
        if not listed:  # JSON Schema asks for one type at least (draft 7's metaschema: minItems 1)
            raise SchemaCompileError(f"{at}type: must name a type at least, not []")
        for name in listed:
            if name not in _TYPE_NAMES:
                raise SchemaCompileError(
                    f"{at}type: {_show(name)} is not a JSON Schema type (object, array, string, integer, "
                    f"number, boolean, null)"
                )
        return frozenset(listed)

    def _enum(self, schema: dict[str, Any], at: str) -> _Enum | None:
        if "const" in schema and "enum" in schema:
            # Both apply: a value must be the const and among the enum values.
            values = _as_list(schema["enum"])
            if values is None:
                raise SchemaCompileError(f"{at}enum: must be an array, not {_show(schema['enum'])}")
            const = schema["const"]
            kept = [const] if any(_json_equal(value, const) for value in values) else []
            check = _Enum("const", kept)
            check.shown = _show(const)
            return check
        if "const" in schema:
            check = _Enum("const", [schema["const"]])
            check.shown = _show(schema["const"])
            return check
        if "enum" in schema:
            enum = _as_list(schema["enum"])
            if enum is None:
                raise SchemaCompileError(f"{at}enum: must be an array, not {_show(schema['enum'])}")
            return _Enum("enum", enum)
        return None

    def _numbers(self, schema: dict[str, Any], at: str, checks: list[tuple[_Check, _Valid]]) -> None:
        for keyword in ("multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"):
            if keyword not in schema:
                continue
            bound = schema[keyword]
            if isinstance(bound, bool) and keyword.startswith("exclusive"):
                continue  # draft 4's form: read beside maximum / minimum
            if not _is_number(bound) or not math.isfinite(bound):
                raise SchemaCompileError(f"{at}{keyword}: must be a number, not {_show(bound)}")
            if keyword == "multipleOf":
                if bound <= 0:
                    raise SchemaCompileError(f"{at}multipleOf: must be greater than 0, not {_show(bound)}")
                multiple = _MultipleOf(bound)
                checks.append((multiple, multiple.valid))
                continue
            exclusive = keyword.startswith("exclusive")
            if not exclusive:
                draft4 = schema.get("exclusiveMaximum" if keyword == "maximum" else "exclusiveMinimum")
                exclusive = draft4 is True
            check = _Bound(keyword, bound, exclusive)
            checks.append((check, check.valid))

    def _count(self, schema: dict[str, Any], at: str, keyword: str) -> int | None:
        if keyword not in schema:
            return None
        bound = schema[keyword]
        if not _is_integer(bound) or bound < 0:
            raise SchemaCompileError(f"{at}{keyword}: must be a non-negative integer, not {_show(bound)}")
        return int(bound)

    def _strings(self, schema: dict[str, Any], at: str, checks: list[tuple[_Check, _Valid]]) -> None:
        for keyword in ("maxLength", "minLength"):
            bound = self._count(schema, at, keyword)
            if bound is not None:
                length = _Length(keyword, bound, "characters")
                checks.append((length, length.valid))
        if "pattern" in schema:
            source = schema["pattern"]
            pattern = _Pattern(source, _compile_pattern(source, f"{at}pattern"))
            checks.append((pattern, pattern.valid))

    def _arrays(
        self, schema: dict[str, Any], at: str, checks: list[tuple[_Check, _Valid]], resource: _Resource
    ) -> None:
        for keyword in ("maxItems", "minItems"):
            bound = self._count(schema, at, keyword)
            if bound is not None:
                count = _Length(keyword, bound, "items")
                checks.append((count, count.valid))
        unique = schema.get("uniqueItems", False)
        if not isinstance(unique, bool):
            raise SchemaCompileError(f"{at}uniqueItems: must be a boolean, not {_show(unique)}")
        if unique:
            self.freezes = True
            checks.append((_UniqueItems(), _UniqueItems.valid))
        positional: list[_Node] = []
        rest: _Node | None = None
        items = schema.get("items")
        if "prefixItems" in schema:
            prefix_schemas = _as_list(schema["prefixItems"])
            if prefix_schemas is None:
                raise SchemaCompileError(
                    f"{at}prefixItems: must be an array of schemas, not {_show(schema['prefixItems'])}"
                )
            if isinstance(items, list):
                raise SchemaCompileError(
                    f"{at}items: an array of schemas cannot be combined with prefixItems"
                )
            positional = [
                self.node(item, f"{at}prefixItems/{index}", resource)
                for index, item in enumerate(prefix_schemas)
            ]
            if "items" in schema:
                rest = self.node(items, f"{at}items", resource)
        elif _is_list(items):
            item_schemas = items
            positional = [
                self.node(item, f"{at}items/{index}", resource) for index, item in enumerate(item_schemas)
            ]
            if "additionalItems" in schema:
                rest = self.node(schema["additionalItems"], f"{at}additionalItems", resource)
        elif "items" in schema:
            rest = self.node(items, f"{at}items", resource)
        elif "additionalItems" in schema:
            self.node(
                schema["additionalItems"], f"{at}additionalItems", resource
            )  # checked, but it never applies
        if positional or rest is not None:
            check = _Items(tuple(positional), rest)
            checks.append((check, check.valid))
        if "contains" in schema:
            node = self.node(schema["contains"], f"{at}contains", resource)
            at_least = self._count(schema, at, "minContains")
            at_most = self._count(schema, at, "maxContains")
            contains = _Contains(node, 1 if at_least is None else at_least, at_most)
            if at_least != 0 or at_most is not None:
                checks.append((contains, contains.valid))

    def _objects(
        self,
        schema: dict[str, Any],
        at: str,
        checks: list[tuple[_Check, _Valid]],
        node: _Node,
        resource: _Resource,
    ) -> None:
        for keyword in ("maxProperties", "minProperties"):
            bound = self._count(schema, at, keyword)
            if bound is not None:
                count = _Length(keyword, bound, "properties")
                checks.append((count, count.valid))
        if "required" in schema:
            names = _as_list(schema["required"])
            if names is None or not all(isinstance(name, str) for name in names):
                raise SchemaCompileError(
                    f"{at}required: must be an array of property names, not {_show(schema['required'])} "
                    f"(draft 3's boolean form is not supported: list the property in its parent's required)"
                )
            if names:
                check = _Required(tuple(dict.fromkeys(names)))
                checks.append((check, check.valid))
        named: dict[str, _Node] = {}
        for name, subschema in self._schema_map(schema, at, "properties").items():
            named[name] = self.node(subschema, f"{at}properties/{_pointer_token(name)}", resource)
        patterns: list[tuple[str, Callable[[str], object], _Node]] = []
        for source, subschema in self._schema_map(schema, at, "patternProperties").items():
            where = f"{at}patternProperties/{_pointer_token(source)}"
            patterns.append((source, _compile_pattern(source, where), self.node(subschema, where, resource)))
        additional: _Node | None = None
        additional_false = False
        if "additionalProperties" in schema:
            additional_schema = schema["additionalProperties"]
            additional = self.node(additional_schema, f"{at}additionalProperties", resource)
            additional_false = additional_schema is False
            if additional_schema is True:
                additional = None
        if named or patterns or additional is not None:
            properties = _Properties(named, patterns, additional, additional_false)
            checks.append((properties, properties.valid))
        required_by: list[tuple[str, tuple[str, ...]]] = []
        schema_by: list[tuple[str, _Node]] = []
        for keyword in ("dependencies", "dependentRequired", "dependentSchemas"):
            for name, dependency in self._map(schema, at, keyword).items():
                where = f"{at}{keyword}/{_pointer_token(name)}"
                listed = _as_list(dependency)
                if listed is not None and keyword != "dependentSchemas":
                    if not all(isinstance(other, str) for other in listed):
                        raise SchemaCompileError(f"{where}: must be an array of property names")
                    if listed:
                        required_by.append((name, tuple(listed)))
                elif keyword == "dependentRequired":
                    raise SchemaCompileError(
                        f"{where}: must be an array of property names, not {_show(dependency)}"
                    )
                else:
                    dependent = self.node(dependency, where, resource)
                    node.same_value.append(dependent)
                    schema_by.append((name, dependent))
        if required_by:
            dependent_required = _DependentRequired(tuple(required_by))
            checks.append((dependent_required, dependent_required.valid))
        if schema_by:
            dependent_schemas = _DependentSchemas(tuple(schema_by))
            checks.append((dependent_schemas, dependent_schemas.valid))
        if "propertyNames" in schema:
            names_node = self.node(schema["propertyNames"], f"{at}propertyNames", resource)
            property_names = _PropertyNames(names_node)
            checks.append((property_names, property_names.valid))

    def _combinators(
        self,
        schema: dict[str, Any],
        at: str,
        checks: list[tuple[_Check, _Valid]],
        node: _Node,
        resource: _Resource,
    ) -> None:
        for keyword, kind in (("allOf", _AllOf), ("anyOf", _AnyOf), ("oneOf", _OneOf)):
            if keyword not in schema:
                continue
            listed = _as_list(schema[keyword])
            if not listed:
                raise SchemaCompileError(
                    f"{at}{keyword}: must be a non-empty array of schemas, not {_show(schema[keyword])}"
                )
            nodes = tuple(
                self.node(member, f"{at}{keyword}/{index}", resource) for index, member in enumerate(listed)
            )
            node.same_value.extend(nodes)
            combinator = kind(nodes)
            self.combinators.append(combinator)
            checks.append((combinator, combinator.valid))
        if "not" in schema:
            negated = self.node(schema["not"], f"{at}not", resource)
            node.same_value.append(negated)
            check = _Not(negated)
            checks.append((check, check.valid))
        if "if" in schema:
            condition = self.node(schema["if"], f"{at}if", resource)
            then = self.node(schema["then"], f"{at}then", resource) if "then" in schema else None
            orelse = self.node(schema["else"], f"{at}else", resource) if "else" in schema else None
            if then is not None or orelse is not None:
                node.same_value.extend(branch for branch in (condition, then, orelse) if branch is not None)
                conditional = _IfThenElse(condition, then, orelse)
                checks.append((conditional, conditional.valid))
        else:
            for keyword in ("then", "else"):
                if keyword in schema:
                    self.node(schema[keyword], f"{at}{keyword}", resource)  # checked, but it never applies

    def _map(self, schema: dict[str, Any], at: str, keyword: str) -> dict[str, Any]:
        value = schema.get(keyword, {})
        if not isinstance(value, dict):
            raise SchemaCompileError(f"{at}{keyword}: must be an object, not {_show(value)}")
        members = cast("dict[str, Any]", value)
        return members

    def _schema_map(self, schema: dict[str, Any], at: str, keyword: str) -> dict[str, Any]:
        return self._map(schema, at, keyword)

    # references

    def _resolve(self, reference: str, where: str, resource: _Resource) -> tuple[object, str, _Resource]:
        if not reference.startswith("#"):
            raise SchemaCompileError(
                f"{where}: the reference {_quote(reference)} points outside the schema: only references within "
                f'it ("#", "#/json/pointer", "#/definitions/Name", "#anchor") are supported'
            )
        fragment = unquote(reference[1:])
        if fragment and not fragment.startswith("/"):
            return self._anchor(fragment, reference, where, resource)
        tokens = [token.replace("~1", "/").replace("~0", "~") for token in fragment.split("/")[1:]]
        target: object = resource.schema
        location = resource.location
        for position, token in enumerate(tokens):
            shared = resource.is_document and tokens[0] == "definitions"
            if shared and position == 0 and _is_dict(target) and "definitions" not in target:
                target = self.no_definitions  # no definitions of its own: only the shared ones
            elif (
                shared
                and position == 1
                and _is_dict(target)
                and token not in target
                and token in self.definitions
            ):
                target = self.definitions[token]
            elif _is_dict(target) and token in target:
                target = target[token]
            elif _is_list(target) and re.fullmatch(r"0|[1-9][0-9]*", token) and int(token) < len(target):
                target = target[int(token)]
            else:
                raise SchemaCompileError(f"{where}: {_quote(reference)} points to nothing")
            location = (
                f"{location}/{_pointer_token(token)}" if location != "#" else f"#/{_pointer_token(token)}"
            )
        return target, location, resource

    def _anchor(
        self, name: str, reference: str, where: str, resource: _Resource
    ) -> tuple[object, str, _Resource]:
        anchors = self.anchors.get(id(resource.schema))
        if anchors is None:
            anchors = self.anchors[id(resource.schema)] = {}
            self._collect_anchors(resource.schema, resource.location, resource.schema, anchors)
        found = anchors.get(name)
        if found is None:
            raise SchemaCompileError(f"{where}: {_quote(reference)} names no $anchor (nor $id) of the schema")
        return found[0], found[1], resource

    def _collect_anchors(
        self, schema: object, location: str, root: object, anchors: dict[str, tuple[object, str]]
    ) -> None:
        """The anchors of a resource: `$anchor` and draft 7's `$id: "#name"`, in schema positions only."""
        stack: list[tuple[object, str]] = [(schema, location)]
        while stack:
            current, where = stack.pop()
            if not isinstance(current, dict):
                continue
            members = cast("dict[str, Any]", current)
            identifier = members.get("$id")
            if isinstance(identifier, str) and not identifier.startswith("#") and current is not root:
                continue  # an embedded resource: its anchors are its own
            anchor = members.get("$anchor")
            if isinstance(anchor, str):
                anchors.setdefault(anchor, (members, where))
            if isinstance(identifier, str) and identifier.startswith("#") and len(identifier) > 1:
                anchors.setdefault(identifier[1:], (members, where))
            stack.extend(_subschemas(members, where))

    # after all nodes

    def finish(self) -> None:
        for node in self._same_value_order():
            if node.alias is not None:
                node.fast, node.checks, node.alias = node.alias.fast, node.alias.checks, None
            else:
                _inline(node)
        for combinator in self.combinators:
            combinator.finish()

    def _same_value_order(self) -> list[_Node]:
        """The nodes, each after those it applies to the same value; a cycle among them is an error (it
        would apply to the same value forever)."""
        state: dict[int, int] = {}  # 1: on the current path, 2: done
        order: list[_Node] = []
        for start in self.nodes:
            if id(start) in state:
                continue
            stack: list[tuple[_Node, Iterator[_Node]]] = [(start, iter(start.same_value))]
            state[id(start)] = 1
            while stack:
                current, successors = stack[-1]
                for successor in successors:
                    seen = state.get(id(successor))
                    if seen == 1:
                        path = [item for item, _ in stack]
                        cycle = [item.location for item in path[path.index(successor) :]]
                        raise SchemaCompileError(
                            f"{successor.location}: the references {' -> '.join([*cycle, successor.location])} "
                            f"apply to the same value forever (they never descend into a property or an item)"
                        )
                    if seen is None:
                        state[id(successor)] = 1
                        stack.append((successor, iter(successor.same_value)))
                        break
                else:
                    state[id(current)] = 2
                    order.append(current)
                    stack.pop()
        return order


def _inline(node: _Node) -> None:
    """Puts the checks of `allOf` members, of a `$ref` beside other keywords and of a single `anyOf` or
    `oneOf` member (all final by now) in the node's own: the same meaning, fewer calls (and stack frames)."""
    for json_type, checks in node.checks.items():
        if not any(_inlined(check) is not None for check in checks):
            continue
        kept: list[tuple[_Check, _Valid]] = []
        for check, valid in zip(checks, node.fast[json_type], strict=True):
            members = _inlined(check)
            if members is None:
                kept.append((check, valid))
                continue
            for member in members:
                kept.extend(zip(member.checks[json_type], member.fast[json_type], strict=True))
        node.checks[json_type] = tuple(check for check, _ in kept)
        node.fast[json_type] = tuple(valid for _, valid in kept)


def _inlined(check: _Check) -> "tuple[_Node, ...] | None":
    if isinstance(check, _Ref):
        return (check.node,)
    if type(check) is _AllOf or (isinstance(check, _AnyOf | _OneOf) and len(check.nodes) == 1):
        return check.nodes
    return None


def _subschemas(schema: dict[str, Any], where: str) -> Iterator[tuple[object, str]]:
    at = f"{where}/" if where != "#" else "#/"
    for keyword in (
        "additionalProperties",
        "additionalItems",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
    ):
        if keyword in schema:
            yield schema[keyword], f"{at}{keyword}"
    if "else" in schema:
        yield schema["else"], f"{at}else"
    if "items" in schema:
        yield from _listed(schema["items"], f"{at}items")
    for keyword in ("allOf", "anyOf", "oneOf", "prefixItems"):
        yield from _listed(schema.get(keyword), f"{at}{keyword}", always_list=True)
    for keyword in (
        "properties",
        "patternProperties",
        "definitions",
        "$defs",
        "dependencies",
        "dependentSchemas",
    ):
        named: object = schema.get(keyword)
        if _is_dict(named):
            for name, subschema in named.items():
                yield subschema, f"{at}{keyword}/{_pointer_token(name)}"


def _listed(value: object, where: str, *, always_list: bool = False) -> Iterator[tuple[object, str]]:
    if _is_list(value):
        for index, item in enumerate(value):
            yield item, f"{where}/{index}"
    elif value is not None and not always_list:
        yield value, where


def _allows(allowed: frozenset[str], json_type: type) -> bool:
    if json_type is int:
        return "integer" in allowed or "number" in allowed
    if json_type is float:
        return "number" in allowed or "integer" in allowed
    return _PYTHON_TYPE_NAMES[json_type] in allowed


_PYTHON_TYPE_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    _NULL: "null",
    int: "integer",
    float: "number",
}
_ORDER: Final = ("object", "array", "string", "integer", "number", "boolean", "null")


def _type_order(name: str) -> int:
    return _ORDER.index(name)
