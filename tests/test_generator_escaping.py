"""Hostile names and free text in specs: either rejected with a clear error, or escaped so nothing breaks out.

Free text (descriptions of the package, stores, aggregates, events, channels, schemas and fields; titles,
enum values, consts, defaults, examples, patterns) lands in docstrings, string literals and comments of the
generated code. Each hostile text below tries to close its string (`\"\"\"`, `'''`, a trailing backslash or
quote), to end its line (newlines, `\\r`, U+2028, NEL), to be read as an escape sequence (`\\N`, `\\x41`), to
be rendered again (Jinja, format fields), or to run code on import: every breakout attempt tries to create
the file `PWNED` in the working directory.

One package holds every text in every place (one store per text), plus an event whose payload has hostile
property names. It is generated once per module, then:

(a) every generated file compiles; the hostile text appears in the code only inside string tokens;
(b) the package is imported (in a subprocess, from a fresh working directory) and `PWNED` does not exist;
(c) the text reads back from the imported classes: enum values, consts, titles, defaults, examples, patterns
    and property names (as aliases, through the models and the event codec) exactly; docstrings up to
    whitespace layout (ruff re-indents docstrings and strips trailing spaces, so for docstrings the test
    compares the text line by line, each line stripped, or, where datamodel-code-generator writes the
    docstring, word by word);
(d) mypy --strict accepts the package (one run).

What cannot be escaped is refused: exit 2, one `path:line:col: message` line naming the place, nothing
written. That covers names (package, store ids, event types, aggregates, definitions, channels) holding
quotes, newlines or code; lone surrogates; values pydantic would refuse on import (malformed patterns,
fractional bounds of integers, huge lengths); property names that Python reads differently (NFKC); and
YAML nested too deeply or expanding through aliases of aliases. A spec file whose name holds a newline
cannot break out of the header comment either.
"""

import ast
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import yaml_source
from generator.naming import pascal_from_snake

from .support import run_cli, run_mypy_strict

PACKAGE = "hostile_pkg"
SENTINEL = "PWNED"

#: Free text that tries to break out of wherever it is written. Keys are store ids (lower_snake).
HOSTILE_TEXTS: dict[str, str] = {
    "triple_double": 'say """ hi """',
    "triple_single": "say ''' hi '''",
    "ends_in_quote": 'a quote at the end "',
    "ends_in_backslash": "a backslash at the end \\",
    "escape_sequences": r"not escapes: \n \t \x41 \u00e9 \N{BULLET} \\ \' \" and broken ones: \u \N \x",
    "nul_byte": "a nul \x00 byte",
    "newlines": "first line\nsecond line\n\n  indented third line",
    "carriage_returns": "cr\ronly, crlf\r\nand done",
    "line_separators": "ls\u2028ps\u2029nel\x85vt\x0bff\x0cfs\x1cend",
    "hash_sign": "# not a comment",
    "jinja_syntax": "{{ package.name }} {% if true %}x{% endif %} {# comment #} {%raw%}",
    "format_fields": "{0} {name!r} {{braces}} %s %(key)s",
    "code_breakout": f'"); import os; os.system("touch {SENTINEL}") #',
    "docstring_breakout": f'"""\nimport os\nos.system("touch {SENTINEL}")\n"""',
    "single_breakout": f"'''\nopen('{SENTINEL}', 'w').close()\n'''",
    "escaped_breakout": f'\\"""; open("{SENTINEL}", "w").close(); """\\',
    "comment_breakout": f"\n# comment\nopen('{SENTINEL}', 'w').close()  #",
    "control_chars": "bell\x07 escape\x1b[31m delete\x7f backspace\x08",
    "invisible_chars": "rtl\u202eoverride zero\u200bwidth bom\ufeff",
    "astral_chars": "emoji 🐍 math \U0001d518 tag \U000e0041 cjk 漢字",
    "tabs": "\ttab\tinside",
}

#: Property names that are keywords, not identifiers, dunders, pydantic's own names, or hostile text.
HOSTILE_PROPERTY_NAMES = (
    "class",
    "from",
    "import",
    "None",
    "True",
    "match",
    "my-field",
    "my_field",
    "my field",
    "1abc",
    "field_1abc",
    "__init__",
    "__class__",
    "_private",
    "model_config",
    "model_fields",
    "model_dump",
    "model_validate",
    "schema",
    "copy",
    "json",
    "type",
    "self",
    "aggregate_id",
    "version",
    "payload",
    'a"b',
    "a'b",
    "a\\b",
    "a\nb",
    "",
    " ",
    "é",
    "x.y",
    "$ref",
    "#",
    '"""',
    f"__import__('os').system('touch {SENTINEL}')",
    "Field",
    "Annotated",
    "BaseModel",
    "Any",
)


def names_of(key: str) -> dict[str, str]:
    """What the spec calls the things of store `key`, and the classes they become."""
    pascal = pascal_from_snake(key)
    return {
        "store": key,
        "event_type": f"{key.upper()}_HAPPENED",
        "event_class": f"{pascal}Happened",
        "payload_class": f"{pascal}HappenedPayload",
        "aggregate": f"{pascal}State",
        "channel": f"{key}_channel",
        "channel_class": f"{pascal}Channel",
        "definition": f"{pascal}Choice",
        "store_class": f"{pascal}EventStore",
        "union": f"{pascal}Event",
        "metadata_class": f"{pascal}Metadata",
    }


def hostile_store(key: str, text: str) -> dict[str, Any]:
    names = names_of(key)
    return {
        "description": text,
        "aggregate": {
            "name": names["aggregate"],
            "description": text,
            "schema": {
                "type": "object",
                "description": text,
                "title": text,
                "properties": {"value": {"type": "string", "description": text, "title": text, "default": text}},
            },
        },
        "metadata": {
            "type": "object",
            "description": text,
            "properties": {"origin": {"type": "string", "description": text, "default": text}},
        },
        "events": {
            names["event_type"]: {
                "initial": True,
                "description": text,
                "payload": {
                    "type": "object",
                    "description": text,
                    "title": text,
                    "properties": {
                        "note": {
                            "type": "string",
                            "description": text,
                            "title": text,
                            "default": text,
                            "examples": [text],
                        },
                        "choice": {"type": "string", "enum": [text, "plain"], "description": text},
                        "fixed": {"const": text, "description": text},
                        "defined": {"$ref": f"#/definitions/{names['definition']}", "description": text},
                        "matching": {"type": "string", "pattern": f"^{re.escape(text)}$", "description": text},
                        "bag": {"type": "object", "default": {text: [text, {text: text}]}, "description": text},
                    },
                    "required": ["choice", "fixed", "defined"],
                },
            }
        },
    }


def hostile_document() -> dict[str, Any]:
    stores = {key: hostile_store(key, text) for key, text in HOSTILE_TEXTS.items()}
    stores["names"] = {
        "aggregate": {"name": "Names", "schema": {"type": "object", "properties": {"count": {"type": "integer"}}}},
        "events": {
            "NAMES_GIVEN": {
                "initial": True,
                "payload": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string", "description": f"The {name!r} property."}
                        for name in HOSTILE_PROPERTY_NAMES
                    },
                },
            }
        },
    }
    return {
        "kastor": 1,
        "package": PACKAGE,
        "description": "\n".join(HOSTILE_TEXTS.values()),
        "definitions": {
            names_of(key)["definition"]: {"type": "string", "enum": [text], "description": text, "title": text}
            for key, text in HOSTILE_TEXTS.items()
        },
        "event_stores": stores,
        "channels": {
            names_of(key)["channel"]: {"kind": "bus", "message": "notification", "sources": [key], "description": text}
            for key, text in HOSTILE_TEXTS.items()
        },
        "connections": [{"store": key, "channel": names_of(key)["channel"]} for key in HOSTILE_TEXTS],
    }


def write_spec(path: Path, document: dict[str, Any]) -> Path:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=False, width=100)
    assert yaml.safe_load(text) == document, "the YAML writer must keep the hostile text as it is"
    path.write_text(text, encoding="utf-8")
    return path


def python_files(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def compile_all(package: Path) -> None:
    for path in python_files(package):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


# Runs in a subprocess, from an empty working directory: imports the package and reports what it reads.
PROBE = r"""
import json, sys, typing, importlib

keys, names, package = json.loads(sys.stdin.read())
pkg = importlib.import_module(package)

def literal_values(annotation):
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) is typing.Annotated:
        return literal_values(args[0])
    return list(args)

def pattern_of(field):
    for item in field.metadata:
        pattern = getattr(item, "pattern", None)
        if pattern is not None:
            return getattr(pattern, "pattern", pattern)
    return None

report = {}
for key in keys:
    n = names[key]
    payload = getattr(pkg, n["payload_class"])
    fields = payload.model_fields
    definition = getattr(pkg, n["definition"])
    aggregate = getattr(pkg, n["aggregate"])
    report[key] = {
        "event_doc": getattr(pkg, n["event_class"]).__doc__,
        "store_doc": getattr(pkg, n["store_class"]).__doc__,
        "channel_doc": getattr(pkg, n["channel_class"]).__doc__,
        "aggregate_doc": aggregate.__doc__,
        "payload_doc": payload.__doc__,
        "note_default": fields["note"].default,
        "choice": literal_values(fields["choice"].annotation),
        "fixed": literal_values(fields["fixed"].annotation),
        "definition": literal_values(getattr(definition, "__value__", definition)),
        "matching": pattern_of(fields["matching"]),
        "bag_default": fields["bag"].default,
        "value_default": aggregate.model_fields["value"].default,
        "origin_default": getattr(pkg, n["metadata_class"]).model_fields["origin"].default,
    }

given = getattr(pkg, "NamesGivenPayload")
data = {name: f"value {index}" for index, name in enumerate(json.loads(sys.argv[1]))}
model = given.model_validate(data)
event = pkg.NAMES_EVENT_CODEC.from_dict(
    {"aggregate_id": "a", "version": 1, "type": "NAMES_GIVEN", "payload": data}
)
report["__names__"] = {
    "dumped": model.model_dump(by_alias=True, exclude_none=True),
    "json": json.loads(model.model_dump_json(by_alias=True, exclude_none=True)),
    "codec": pkg.NAMES_EVENT_CODEC.to_dict(event)["payload"],
}
print(json.dumps(report))
"""


@dataclass(frozen=True)
class HostileOutput:
    root: Path
    package: Path
    report: dict[str, Any]
    cwd: Path


def run_probe(root: Path, package: str, keys: list[str]) -> tuple[dict[str, Any], Path]:
    cwd = root / "cwd"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(root / "out")}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HOSTILE_PROPERTY_NAMES)],
        input=json.dumps([keys, {key: names_of(key) for key in keys}, package]),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout), cwd


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileOutput:
    root = tmp_path_factory.mktemp("hostile")
    spec = write_spec(root / "hostile.yaml", hostile_document())
    result = run_cli("generate", str(spec), "-o", str(root / "out"), cwd=root)
    assert result.code == 0, result.stderr
    package = root / "out" / PACKAGE
    compile_all(package)
    report, cwd = run_probe(root, PACKAGE, list(HOSTILE_TEXTS))
    return HostileOutput(root, package, report, cwd)


def lines_of(text: str) -> list[str]:
    """A docstring's lines, each stripped, without leading or trailing empty lines (ruff's layout removed)."""
    return [line.strip() for line in text.strip().split("\n")]


def words_of(text: str) -> list[str]:
    return text.split()


def test_every_generated_file_compiles(hostile: HostileOutput) -> None:
    compile_all(hostile.package)  # again, outside the fixture, so that a failure is reported here


def test_importing_the_package_runs_no_hostile_code(hostile: HostileOutput) -> None:
    for place in (hostile.cwd, hostile.root, hostile.root / "out", hostile.package):
        assert not (place / SENTINEL).exists(), f"hostile text ran on import and created {place / SENTINEL}"


def test_hostile_text_stays_inside_string_tokens(hostile: HostileOutput) -> None:
    """The hostile text is in string tokens only (a property name may also become part of an identifier)."""
    for path in python_files(hostile.package):
        if "runtime" in path.relative_to(hostile.package).parts:
            continue
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (tokenize.STRING, tokenize.NAME):
                assert SENTINEL not in token.string, f"{path.name}:{token.start[0]}: {token.string!r} outside a string"
        for node in ast.walk(ast.parse(source)):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                assert all(alias.name != "os" for alias in node.names), f"{where}: import os"
            if isinstance(node, ast.Call):
                function = node.func
                assert not (isinstance(function, ast.Name) and function.id in {"open", "__import__", "exec", "eval"})
                assert not (isinstance(function, ast.Attribute) and function.attr == "system"), where


@pytest.mark.parametrize("key", list(HOSTILE_TEXTS))
def test_docstrings_written_by_kastor_read_back(hostile: HostileOutput, key: str) -> None:
    text = HOSTILE_TEXTS[key]
    seen = hostile.report[key]
    assert lines_of(seen["event_doc"]) == lines_of(text)
    assert lines_of(seen["channel_doc"]) == lines_of(text)
    store_prefix = f"The {key} event store. "
    assert seen["store_doc"].startswith(store_prefix)
    assert lines_of(seen["store_doc"].removeprefix(store_prefix)) == lines_of(text)
    # The store union's docstring is an expression statement: read it from the source.
    tree = ast.parse((hostile.package / "events.py").read_text(encoding="utf-8"))
    assert lines_of(statement_docstring(tree, names_of(key)["union"])) == lines_of(text)


@pytest.mark.parametrize("key", list(HOSTILE_TEXTS))
def test_docstrings_written_by_datamodel_code_generator_read_back(hostile: HostileOutput, key: str) -> None:
    text = HOSTILE_TEXTS[key]
    seen = hostile.report[key]
    assert words_of(seen["aggregate_doc"]) == words_of(text)
    assert words_of(seen["payload_doc"]) == words_of(text)
    # Field and type-alias descriptions become attribute docstrings: read them from the source.
    tree = ast.parse((hostile.package / "models.py").read_text(encoding="utf-8"))
    names = names_of(key)
    for field in ("note", "choice", "fixed", "defined", "matching", "bag"):
        assert words_of(field_docstring(tree, names["payload_class"], field)) == words_of(text), field
    assert words_of(field_docstring(tree, names["aggregate"], "value")) == words_of(text)
    assert words_of(field_docstring(tree, names["metadata_class"], "origin")) == words_of(text)
    assert words_of(statement_docstring(tree, names["definition"])) == words_of(text)


@pytest.mark.parametrize("key", list(HOSTILE_TEXTS))
def test_string_values_read_back_exactly(hostile: HostileOutput, key: str) -> None:
    text = HOSTILE_TEXTS[key]
    seen = hostile.report[key]
    assert seen["choice"] == [text, "plain"]
    assert seen["fixed"] == [text]
    assert seen["definition"] == [text]
    assert seen["note_default"] == text
    assert seen["value_default"] == text
    assert seen["origin_default"] == text
    assert seen["matching"] == f"^{re.escape(text)}$"
    assert seen["bag_default"] == {text: [text, {text: text}]}


def test_hostile_property_names_become_aliases_that_round_trip(hostile: HostileOutput) -> None:
    expected = {name: f"value {index}" for index, name in enumerate(HOSTILE_PROPERTY_NAMES)}
    seen = hostile.report["__names__"]
    assert seen["dumped"] == expected
    assert seen["json"] == expected


def test_the_event_codec_writes_property_names_as_the_spec_spells_them(hostile: HostileOutput) -> None:
    expected = {name: f"value {index}" for index, name in enumerate(HOSTILE_PROPERTY_NAMES)}
    assert hostile.report["__names__"]["codec"] == expected


def test_hostile_property_names_give_valid_attribute_names(hostile: HostileOutput) -> None:
    tree = ast.parse((hostile.package / "models.py").read_text(encoding="utf-8"))
    payload = class_def(tree, "NamesGivenPayload")
    fields = [node.target.id for node in payload.body if isinstance(node, ast.AnnAssign)]  # type: ignore[union-attr]
    assert len(fields) == len(set(fields)) == len(HOSTILE_PROPERTY_NAMES)
    assert all(name.isidentifier() for name in fields)


@pytest.mark.slow
def test_mypy_strict_accepts_the_hostile_package(hostile: HostileOutput) -> None:
    completed = run_mypy_strict(hostile.root / "out", [PACKAGE], hostile.root / "mypy")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def class_def(tree: ast.Module, name: str) -> ast.ClassDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"no class {name}")


def following_string(body: list[ast.stmt], index: int) -> str:
    after = body[index + 1] if index + 1 < len(body) else None
    assert isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant), "no docstring follows"
    assert isinstance(after.value.value, str)
    return after.value.value


def statement_docstring(tree: ast.Module, target: str) -> str:
    """The string statement right after the module-level assignment of `target`."""
    for index, node in enumerate(tree.body):
        assigned: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            assigned = node.targets
        elif isinstance(node, ast.AnnAssign):
            assigned = [node.target]
        if any(isinstance(name, ast.Name) and name.id == target for name in assigned):
            return following_string(tree.body, index)
    raise AssertionError(f"no assignment of {target}")


def field_docstring(tree: ast.Module, class_name: str, field: str) -> str:
    body = class_def(tree, class_name).body
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == field:
            return following_string(body, index)
    raise AssertionError(f"no field {class_name}.{field}")


# --- Names and values that cannot be escaped are refused -------------------------------------------------

BASE_SPEC = """\
kastor: 1
package: {package}
definitions:
  {definition}: {{type: string}}
event_stores:
  {store}:
    aggregate:
      name: {aggregate}
      schema:
        type: object
        properties:
          {property}: {schema}
    events:
      {event}: {{initial: true}}
channels:
  {channel}: {{kind: bus, message: notification, sources: [{store}]}}
"""

DEFAULTS = {
    "package": "refused_pkg",
    "definition": "Label",
    "store": "things",
    "aggregate": "Thing",
    "property": "name",
    "schema": "{type: string}",
    "event": "THING_MADE",
    "channel": "thing_bus",
}


@dataclass(frozen=True)
class Refusal:
    id: str
    changes: dict[str, str]
    position: str  # line:col of the diagnostic
    message: str  # a part of its message


REFUSALS = [
    Refusal("package-quote", {"package": "'pkg\"; import os'"}, "2:10", "package name 'pkg\"; import os'"),
    Refusal("package-too-long", {"package": "a" * 300}, "2:10", "package name is too long: at most 200 characters"),
    Refusal("package-newline", {"package": '"pkg\\n"'}, "2:10", "package name 'pkg\\n' is not a lower_snake"),
    Refusal("store-code", {"store": "'things\"); import os #'"}, "6:3", "event store id 'things\"); import os #'"),
    Refusal("store-newline", {"store": '"things\\n"'}, "6:3", "event store id 'things\\n' must be lower_snake"),
    Refusal("store-keyword", {"store": "class"}, "6:3", "event store id 'class' is a Python keyword"),
    Refusal("event-quotes", {"event": '\'THING"""MADE\''}, "14:7", 'event type \'THING"""MADE\' must be UPPER_SNAKE'),
    Refusal("event-newline", {"event": '"THING_MADE\\n"'}, "14:7", "event type 'THING_MADE\\n' must be UPPER_SNAKE"),
    Refusal("aggregate-quotes", {"aggregate": '\'Thing"""\''}, "8:13", 'aggregate name \'Thing"""\' must be'),
    Refusal("aggregate-code", {"aggregate": '"Thing\\nimport os"'}, "8:13", "aggregate name 'Thing\\nimport os'"),
    Refusal("aggregate-builtin", {"aggregate": "Exception"}, "8:13", "shadows the Python builtin 'Exception'"),
    Refusal("definition-quote", {"definition": '"Label\'"'}, "4:3", "definition name 'Label''"),
    Refusal("channel-newline", {"channel": '"bus\\n"'}, "16:3", "channel id 'bus\\n' must be lower_snake"),
    Refusal("channel-jinja", {"channel": "'{{ bus }}'"}, "16:3", "channel id '{{ bus }}' must be lower_snake"),
    Refusal(
        "surrogate",
        {"schema": '{type: string, description: "half \\ud800 of a pair"}'},
        "12:45",
        "lone surrogate \\ud800",
    ),
    Refusal("surrogate-key", {"property": '"na\\udc00me"'}, "12:11", "lone surrogate \\udc00"),
    Refusal("pattern", {"schema": '{type: string, pattern: "[unclosed"}'}, "12:41", "not a valid regular expression"),
    Refusal(
        "nfkc-property",
        {"property": "ﬁeld"},
        "12:11",
        "property name 'ﬁeld' reads as 'field' in Python (NFKC)",
    ),
    Refusal("fractional-integer", {"schema": "{type: integer, minimum: 1.5}"}, "12:42", "whole number"),
    Refusal("huge-length", {"schema": f"{{type: string, maxLength: {10**30}}}"}, "12:43", "'maxLength' is too large"),
    Refusal("huge-number", {"schema": f"{{type: number, maximum: {10**400}}}"}, "12:41", "too large for a number"),
    Refusal("nan-bound", {"schema": "{type: number, minimum: .nan}"}, "12:41", "'minimum' is not a number"),
]

_DIAGNOSTIC = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.id)
def test_names_and_values_that_cannot_be_escaped_are_refused(refusal: Refusal, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE_SPEC.format(**{**DEFAULTS, **refusal.changes}), encoding="utf-8")
    out = tmp_path / "out"

    result = run_cli("generate", str(spec), "-o", str(out), cwd=tmp_path)

    assert "Traceback" not in result.stdout + result.stderr
    assert result.code == 2, result.stdout + result.stderr
    assert not out.exists(), "nothing may be written when a spec is refused"
    *diagnostics, summary = result.stderr.splitlines()
    assert summary.startswith("kastor: ") and summary.endswith("nothing was written")
    matches = [_DIAGNOSTIC.match(line) for line in diagnostics]
    assert all(matches), result.stderr
    assert any(
        f"{m['line']}:{m['column']}" == refusal.position and refusal.message in m["message"] for m in matches if m
    ), result.stderr


def test_deep_nesting_is_refused_without_a_traceback(tmp_path: Path) -> None:
    depth = 3000
    spec = tmp_path / "deep.yaml"
    spec.write_text(f"kastor: 1\npackage: deep\ndescription: {'[' * depth}{']' * depth}\n", encoding="utf-8")
    nested = tmp_path / "nested.yaml"
    schema = '{"type": "object", "properties": {"p": ' * 60 + '{"type": "string"}' + "}}" * 60
    nested.write_text(
        "kastor: 1\npackage: nested\nevent_stores:\n  things:\n    aggregate:\n      name: Thing\n"
        f"      schema: {schema}\n    events:\n      THING_MADE: {{initial: true}}\n",
        encoding="utf-8",
    )
    for path in (spec, nested):
        result = run_cli("generate", str(path), "-o", str(tmp_path / "out"), cwd=tmp_path)
        assert result.code == 2, result.stderr
        assert "nests deeper than" in result.stderr
        assert not (tmp_path / "out").exists()


def test_yaml_alias_bombs_are_refused_without_expanding(tmp_path: Path) -> None:
    """Aliases of aliases ("billion laughs") would expand to 10**9 values; the loader stops at its limit."""
    lines = ["kastor: 1", "package: laughs", "description: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"title{index}: &a{index} [{', '.join([f'*a{index - 1}'] * 10)}]" for index in range(1, 10)]
    spec = tmp_path / "laughs.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("generate", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert f"YAML aliases repeat more than {yaml_source.MAX_ALIAS_VALUES:,} values" in result.stderr
    assert not (tmp_path / "out").exists()


# --- The spec's path is written in a comment ----------------------------------------------------------------


def test_a_spec_file_name_cannot_break_out_of_the_header_comment(tmp_path: Path) -> None:
    directory = tmp_path / "specs"
    directory.mkdir()
    name = f'x\nimport os; os.system("touch {SENTINEL}")  # \u2028\r.yaml'
    spec = directory / name
    spec.write_text(BASE_SPEC.format(**{**DEFAULTS, "package": "header_pkg"}), encoding="utf-8")
    result = run_cli("generate", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert result.code == 0, result.stderr
    package = tmp_path / "out" / "header_pkg"
    compile_all(package)
    for path in python_files(package):
        first_line, second_line = path.read_text(encoding="utf-8").split("\n")[:2]
        assert first_line.startswith("# Code generated by kastor from ") and first_line.endswith(". DO NOT EDIT.")
        assert "\\n" in first_line and "\\u2028" in first_line and "\\r" in first_line
        assert not second_line.startswith("import os")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    completed = subprocess.run(
        [sys.executable, "-c", "import header_pkg"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "out")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert not (cwd / SENTINEL).exists()


# --- Property names that would hide names the models use --------------------------------------------------------

#: Builtins, typing and pydantic names that the models module writes in class bodies, and a generated class.
SHADOWING_PROPERTY_NAMES = (
    *("str", "int", "float", "bool", "list", "dict"),
    *("Literal", "Annotated", "Any", "Field", "AwareDatetime", "UUID"),
    "ThingMadePayload",
)


@pytest.mark.slow
def test_properties_named_like_names_the_models_use_are_renamed_and_type_check(tmp_path: Path) -> None:
    """Such a property becomes `<name>_` in Python (JSON keeps the name), required or not, in any order."""
    properties: dict[str, Any] = {name: {"type": "string"} for name in SHADOWING_PROPERTY_NAMES}
    properties |= {
        "int_": {"type": "string"},  # the renamed field must not take this property's name
        "count": {"type": "integer"},
        "label": {"type": "string"},
        "price": {"type": "number"},
        "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "when": {"type": "string", "format": "date-time"},
        "uid": {"type": "string", "format": "uuid"},
        "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
        "anything": {},
    }
    document = {
        "kastor": 1,
        "package": "shadow_pkg",
        "event_stores": {
            "things": {
                "aggregate": {"name": "Thing", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
                "events": {
                    "THING_MADE": {
                        "initial": True,
                        "payload": {"type": "object", "properties": properties, "required": list(properties)},
                    },
                    "THING_CHANGED": {"payload": {"type": "object", "properties": dict(reversed(properties.items()))}},
                },
            }
        },
    }
    spec = write_spec(tmp_path / "shadow.yaml", document)
    assert run_cli("generate", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path).code == 0
    compile_all(tmp_path / "out" / "shadow_pkg")
    completed = run_mypy_strict(tmp_path / "out", ["shadow_pkg"], tmp_path / "mypy")
    assert completed.returncode == 0, completed.stdout
    payload = {name: "x" for name in SHADOWING_PROPERTY_NAMES} | {"int_": "y", "count": 1, "label": "l"}
    payload |= {"price": 1.5, "ok": True, "tags": [], "kind": "a", "when": "2026-01-01T00:00:00Z"}
    payload |= {"uid": "12345678-1234-5678-1234-567812345678", "scores": {}, "anything": None}
    probe = f"""
import json
from shadow_pkg import ThingMadePayload
payload = ThingMadePayload.model_validate_json({json.dumps(json.dumps(payload))})
assert payload.int__ == "x" and payload.int_ == "y" and payload.Literal_ == "x" and payload.ThingMadePayload_ == "x"
print(payload.model_dump_json(by_alias=True))
"""
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "out")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == json.loads(json.dumps(payload)) | {"price": 1.5}
