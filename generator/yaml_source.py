"""Loads YAML spec files into plain data while remembering where every key and value stands."""

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostic, SourcePosition

JsonPath = tuple[str | int, ...]

_JSON_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))
_BOOLEAN_TAG = "tag:yaml.org,2002:bool"
_SURROGATE = re.compile("[\ud800-\udfff]")
#: PyYAML's binding to libyaml, missing when PyYAML was built without it.
_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)

#: A line and a column, 1-based: a plain pair for every value of a spec, made a `SourcePosition` when needed.
LineColumn = tuple[int, int]


@dataclass
class SourceMap:
    """Positions of the values (and of the keys) of one file, by their path from the document root."""

    path: str
    values: dict[JsonPath, LineColumn] = field(default_factory=dict)
    keys: dict[JsonPath, LineColumn] = field(default_factory=dict)
    #: The text of the values YAML 1.1 read as booleans (`no`, `On`...): messages name the word to quote.
    boolean_words: dict[JsonPath, str] = field(default_factory=dict)

    def value(self, json_path: JsonPath) -> SourcePosition:
        """The position of the value at `json_path`, or of its nearest known ancestor."""
        for length in range(len(json_path), -1, -1):
            place = self.values.get(json_path[:length])
            if place is not None:
                return SourcePosition(self.path, *place)
        return SourcePosition(self.path, 1, 1)

    def key(self, json_path: JsonPath) -> SourcePosition:
        """The position of the key that introduces `json_path`, or of its value when it has none."""
        place = self.keys.get(json_path)
        return SourcePosition(self.path, *place) if place is not None else self.value(json_path)


@dataclass
class LoadedFile:
    display_path: str
    data: Any
    source_map: SourceMap


#: Deeper nesting than any spec needs; it keeps every later stage (all recursive) far from Python's limit.
MAX_DEPTH = 100
#: More values than any spec needs (the largest real-world spec Kastor is tested on holds 14,000), counted
#: once YAML aliases are expanded: every later stage takes time in proportion to them.
MAX_VALUES = 200_000
#: More values than YAML aliases need to repeat to share a few schemas. Aliases of aliases (a "billion laughs")
#: expand exponentially: a 600-byte spec can stand for millions of values, each generated as code.
MAX_ALIAS_VALUES = 20_000

#: How much of a scalar's text a message quotes.
_SHOWN_TEXT = 40

_KEY_KINDS = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "null", "timestamp": "a date"}


class _NodeConverter:
    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.diagnostics: list[Diagnostic] = []
        self.too_deep = False
        self.values = 0
        #: The values read again through an alias (each value under an alias's anchor, each time).
        self.alias_values = 0
        #: The nodes read so far, by identity: a node met again was reached through an alias.
        self.read: set[int] = set()
        # One per file: a constructor remembers every node it built, which must not outlive the file.
        self.scalars = yaml.constructor.SafeConstructor()

    def position(self, mark: yaml.Mark) -> SourcePosition:
        return SourcePosition(self.source_map.path, *_line_column(mark))

    def convert(
        self, node: yaml.Node, json_path: JsonPath, active: frozenset[int] = frozenset(), aliased: bool = False
    ) -> Any:
        self.source_map.values[json_path] = _line_column(node.start_mark)
        if id(node) in active:
            self.diagnostics.append(Diagnostic(self.position(node.start_mark), "recursive YAML alias"))
            return None
        self.values += 1
        if self.values > MAX_VALUES:
            if self.values == MAX_VALUES + 1:
                message = f"the spec holds more than {MAX_VALUES:,} values once its YAML aliases are expanded"
                self.diagnostics.append(Diagnostic(self.position(node.start_mark), message))
            return None
        aliased = aliased or id(node) in self.read
        self.read.add(id(node))
        if aliased:
            self.alias_values += 1
            if self.alias_values > MAX_ALIAS_VALUES:
                if self.alias_values == MAX_ALIAS_VALUES + 1:
                    message = (
                        f"YAML aliases repeat more than {MAX_ALIAS_VALUES:,} values (aliases of aliases?): "
                        "share a schema with $ref instead"
                    )
                    self.diagnostics.append(Diagnostic(self.source_map.key(json_path), message))
                return None
        if len(json_path) > MAX_DEPTH:
            if not self.too_deep:  # said once: the parts below are not read
                message = f"the spec nests deeper than {MAX_DEPTH} levels"
                self.diagnostics.append(Diagnostic(self.position(node.start_mark), message))
            self.too_deep = True
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, json_path, active | {id(node)}, aliased)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.convert(item, (*json_path, index), active | {id(node)}, aliased)
                for index, item in enumerate(node.value)
            ]
        assert isinstance(node, yaml.ScalarNode)
        self.check_text(node)
        if node.tag in _JSON_SCALAR_TAGS:
            if node.tag == _BOOLEAN_TAG:
                self.source_map.boolean_words[json_path] = node.value
            return self.scalar(node)
        # Dates, binary and the like have no JSON form: keep their text, as JSON Schema would see it.
        return node.value

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """The value of a JSON-typed scalar. A tag can claim a type its text does not have (`!!float object`,
        `!!int ''`), and an integer can have more digits than Python converts: said, never raised."""
        try:
            return self.scalars.construct_object(node, deep=True)
        except (ValueError, KeyError, IndexError, TypeError, OverflowError) as error:
            tag = node.tag.rsplit(":", 1)[-1]
            if "digits" in str(error):
                message = f"the integer has more than {sys.get_int_max_str_digits()} digits: quote it to mean the text"
            else:
                kind = _KEY_KINDS.get(tag, "a value")
                message = f"{_shown_text(node.value)} cannot be read as {kind}, as its tag !!{tag} says"
            self.diagnostics.append(Diagnostic(self.position(node.start_mark), message))
            return None

    def check_text(self, node: yaml.ScalarNode) -> None:
        """A lone surrogate (from an escape such as "\\ud800") is not Unicode: no file could hold it."""
        surrogate = _SURROGATE.search(node.value)
        if surrogate is not None:
            shown = surrogate.group().encode("unicode_escape").decode("ascii")
            message = f"text holds the lone surrogate {shown}, which is not Unicode"
            self.diagnostics.append(Diagnostic(self.position(node.start_mark), message))

    def _mapping(
        self, node: yaml.MappingNode, json_path: JsonPath, active: frozenset[int], aliased: bool
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.diagnostics.append(
                    Diagnostic(self.position(key_node.start_mark), "YAML merge keys ('<<') are not supported")
                )
                continue
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "this key"
                kind = _KEY_KINDS.get(key_node.tag.rsplit(":", 1)[-1], "a non-string value")
                message = f"key {shown} is read by YAML as {kind}, not a string: quote it ('{shown}')"
                self.diagnostics.append(Diagnostic(self.position(key_node.start_mark), message))
                continue
            self.check_text(key_node)
            key_path = (*json_path, key)
            if key in result:
                first_line, _ = self.source_map.keys[key_path]
                self.diagnostics.append(
                    Diagnostic(
                        self.position(key_node.start_mark),
                        f"duplicate key '{key}' (first defined at line {first_line})",
                    )
                )
                continue
            self.source_map.keys[key_path] = _line_column(key_node.start_mark)
            result[key] = self.convert(value_node, key_path, active, aliased)
        return result


def _shown_text(text: str) -> str:
    """Scalar text as a message quotes it: cut short, so that a long value does not flood the line."""
    return repr(text if len(text) <= _SHOWN_TEXT else text[:_SHOWN_TEXT] + "…")


def _line_column(mark: yaml.Mark) -> LineColumn:
    return mark.line + 1, mark.column + 1


def load_yaml_file(path: Path, display_path: str) -> tuple[LoadedFile | None, list[Diagnostic]]:
    """Reads one spec file. On failure returns no file and the problems, each with its position."""
    source_map = SourceMap(display_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Diagnostic(SourcePosition(display_path, 1, 1), "file not found")]
    except (OSError, UnicodeDecodeError) as error:
        return None, [Diagnostic(SourcePosition(display_path, 1, 1), f"cannot read file: {error}")]
    try:
        nodes = _compose(text)
    except RecursionError:
        return None, [Diagnostic(SourcePosition(display_path, 1, 1), f"the spec nests deeper than {MAX_DEPTH} levels")]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = error.problem or error.context or "invalid YAML"
        if "'\\t'" in problem:
            problem = "a tab cannot indent YAML: use spaces"
        elif error.context and error.context_mark and error.problem_mark and error.context_mark != error.problem_mark:
            start = error.context_mark
            problem = f"{problem} ({error.context} that starts at line {start.line + 1}, column {start.column + 1})"
        return None, [Diagnostic(SourcePosition(display_path, line, column), f"YAML syntax error: {problem}")]
    except yaml.YAMLError as error:
        return None, [Diagnostic(SourcePosition(display_path, 1, 1), f"YAML syntax error: {error}")]
    if len(nodes) != 1 or nodes[0] is None:
        where = nodes[1].start_mark if len(nodes) > 1 and nodes[1] is not None else None
        position = (
            SourcePosition(display_path, where.line + 1, where.column + 1)
            if where
            else SourcePosition(display_path, 1, 1)
        )
        message = "a spec file holds exactly one YAML document" if nodes else "the spec file is empty"
        return None, [Diagnostic(position, message)]
    converter = _NodeConverter(source_map)
    data = converter.convert(nodes[0], ())
    if converter.diagnostics:
        return None, converter.diagnostics
    return LoadedFile(display_path, data, source_map), []


def _compose(text: str) -> list[yaml.Node]:
    """The node trees of the documents of `text`.

    libyaml's parser, when PyYAML has it, is ten times faster than the pure-Python one and builds the same
    nodes with the same positions; a text it refuses is parsed again by the pure-Python one, whose error
    messages (and positions) are the ones Kastor reports.
    """
    if _FAST_LOADER is not None:
        try:
            return list(yaml.compose_all(text, Loader=_FAST_LOADER))
        except yaml.YAMLError:
            pass
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
