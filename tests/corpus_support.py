"""The fidelity measurement of the real-world corpora (tests/corpora/, issue 14), for the tests and by hand.

    python -m tests.corpus_support                      # the table of figures of every corpus
    python -m tests.corpus_support shopify_webhooks     # of some; --no-typing skips mypy and pyright
    python -m tests.corpus_support --json figures.json  # the figures as JSON too

For a corpus it reads the converted specs, the example map (examples.json) and the raw schemas (never the
network), then:

- `kastor validate` on the specs as converted (not cut down): its diagnostics;
- `kastor generate` of the corpus's package into a temporary folder, and an import of it;
- for every example payload valid against its raw schema (jsonschema, the corpus's draft, formats
  checked where jsonschema can): the event `{aggregate_id, version, type, payload}` (version 1 for the
  store's initial event, else 2) decoded by the store's codec from JSON and encoded again; an exact round
  trip gives the same JSON value (same keys, `null` kept, ints stay ints, strings byte for byte); the
  written payload must validate against the raw schema;
- schema-invalid events must be refused by the codec: the corpus's own invalid examples, and variants of
  valid ones (an integer sent as a string, a boolean as a string, a property removed, a value set to
  null), each kept only where jsonschema confirms that the variant breaks the raw schema;
- every example pushed to and read from each storage adapter (in-memory, SQLite `:memory:`, and
  PostgreSQL when a server is given), and through `MESSAGE_CODEC` as a notification message: what comes
  back must equal what was pushed, its payload the example;
- `mypy --strict` and pyright strict on the generated package: their error counts.

The storage adapters are driven directly (an example's event at version 2 is preceded by the same payload
at version 1, as the adapters want contiguous versions): what is measured is the adapters' fidelity; the
event store's rules on top have tests of their own.
"""

import argparse
import asyncio
import copy
import importlib
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from .corpora.convert import CONVERTERS, load_raw, resolve_pointer
from .support import REPO, run_cli, run_mypy_strict

CORPORA_DIR = REPO / "tests" / "corpora"
CORPUS_KEYS = tuple(CONVERTERS)
PYRIGHT_TIMEOUT_SECONDS = 1800
#: The timestamp given to events pushed to the storage adapters (they store it; the payload is what matters).
PUSHED_AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
#: How many places of a payload are tried to make one invalid variant of a kind (each try is a validation).
VARIANT_TRIES = 25

JSON = Any

# -- JSON values compared as JSON, not as Python -----------------------------------------------------------


def json_equal(left: JSON, right: JSON) -> bool:
    """Equal as JSON values: Python's `==` has `1 == 1.0 == True`, which JSON does not."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@dataclass
class Differences:
    """How a written payload differs from the one read: keys added and dropped, values changed."""

    added: int = 0
    dropped: int = 0
    changed: int = 0
    samples: list[str] = field(default_factory=list)

    def note(self, kind: str, path: str, detail: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.samples) < 5:
            self.samples.append(f"{kind} {path or '/'}: {detail}")

    def add(self, other: "Differences") -> None:
        self.added += other.added
        self.dropped += other.dropped
        self.changed += other.changed


def differences(sent: JSON, written: JSON, path: str = "") -> Differences:
    found = Differences()
    _diff(sent, written, path, found)
    return found


def _diff(sent: JSON, written: JSON, path: str, found: Differences) -> None:
    if isinstance(sent, dict) and isinstance(written, dict):
        for key in sent.keys() - written.keys():
            found.note("dropped", f"{path}/{key}", json.dumps(sent[key])[:80])
        for key in written.keys() - sent.keys():
            found.note("added", f"{path}/{key}", json.dumps(written[key])[:80])
        for key in sent.keys() & written.keys():
            _diff(sent[key], written[key], f"{path}/{key}", found)
    elif isinstance(sent, list) and isinstance(written, list) and len(sent) == len(written):
        for index, (a, b) in enumerate(zip(sent, written, strict=True)):
            _diff(a, b, f"{path}/{index}", found)
    elif not json_equal(sent, written):
        found.note("changed", path, f"{json.dumps(sent)[:60]} -> {json.dumps(written)[:60]}")


# -- formats: asserted, as Kastor asserts them ---------------------------------------------------------------

# jsonschema checks `date-time`, `uri`, `email`... only with optional packages that the test environment does
# not have (it would pass such a payload unchecked): the corpus test checks the formats of the corpora with
# the plain checkers below (RFC 3339, an RFC 3986 absolute URI, an address with an @, RFC 1123 host names).
# `uri-template`, `iri-reference` and other formats stay unchecked annotations.
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
FORMATS = {
    "date-time": re.compile(rf"{_DATE}[Tt]{_TIME}"),
    "date": re.compile(_DATE),
    "time": re.compile(_TIME),
    "uri": re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*"),
    "email": re.compile(r"[^@\s]+@[^@\s]+"),
    "hostname": re.compile(
        r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
    ),
}


@dataclass(frozen=True)
class Erratum:
    """A real mistake of a corpus (its schema contradicts itself), mended in a copy before generating."""

    file: str
    wrong: str
    mended: str
    why: str
    #: The event whose payload the mending gives another shape: its examples are no cases any more.
    event_type: str | None = None


ERRATA: dict[str, list[Erratum]] = {
    "octokit_webhooks": [
        Erratum(
            "repository.yaml",
            "description: Whether the repository is archived.\n                    default: false\n",
            "description: Whether the repository is archived.\n",
            "REPOSITORY_ARCHIVED's repository.archived is {enum: [true], default: false}: the default is dropped",
        ),
    ],
    "asyncapi_examples": [
        Erratum(
            "operation_security_asyncapi.yaml",
            "default: 'false'",
            "default: false",
            "metaData.deprecated is {type: boolean, default: 'false'}: the default is written as the boolean",
        ),
        Erratum(
            "gitter_streaming_asyncapi.yaml",
            '        payload:\n          type: string\n          enum:\n          - "\\r\\n"\n',
            "        payload:\n          type: object\n",
            "the heartbeat's payload is a string (Kastor's payloads are objects): an empty object stands in",
            "GITTER_STREAMING_ASYNCAPI_HEARTBEAT",
        ),
    ],
}


def format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()
    for name, pattern in FORMATS.items():
        checker.checks(name)(
            lambda value, pattern=pattern: not isinstance(value, str) or bool(pattern.fullmatch(value))
        )
    return checker


# -- a corpus as the tests see it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One example payload of an event type, as an event of its store."""

    id: str
    event_type: str
    store: str
    kind: str  # real | drawn | a variant's kind
    event: dict[str, Any]

    @property
    def payload(self) -> JSON:
        return self.event.get("payload")


class Corpus:
    """A corpus's converted specs, examples and raw schemas (read from the vendored files only)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.folder = CORPORA_DIR / key
        self.map: dict[str, Any] = json.loads((self.folder / "examples.json").read_text(encoding="utf-8"))
        self.package: str = self.map["package"]
        self.events: dict[str, dict[str, Any]] = self.map["events"]
        self._raw: dict[str, JSON] = {}
        self._validators: dict[str, Any] = {}

    @property
    def spec_files(self) -> list[Path]:
        return sorted((self.folder / "specs").glob("*.yaml"))

    @property
    def stores(self) -> set[str]:
        return {event["store"] for event in self.events.values()}

    def raw(self, file: str) -> JSON:
        if file not in self._raw:
            self._raw[file] = load_raw(self.folder / file)
        return self._raw[file]

    @cached_property
    def validator_class(self) -> Any:
        return jsonschema.validators.validator_for({"$schema": self.map["draft"]})

    @cached_property
    def formats(self) -> jsonschema.FormatChecker:
        return format_checker()

    @cached_property
    def registry(self) -> referencing.Registry[Any]:
        """Every raw file that holds schemas, by a URI of its own, so that `$ref`s resolve within it."""
        specification = referencing.jsonschema.specification_with(self.map["draft"])
        files = {event["schema"]["file"] for event in self.events.values() if event["schema"]}
        resources = [(self.uri(file), specification.create_resource(self.raw(file))) for file in sorted(files)]
        return referencing.Registry().with_resources(resources)

    def uri(self, file: str) -> str:
        return f"urn:kastor-corpus:{self.key}:{file}"

    def validator(self, event_type: str) -> Any:
        """A jsonschema validator of the event's raw payload schema (None: the event has no payload)."""
        if event_type not in self._validators:
            source = self.events[event_type]["schema"]
            if source is None:
                self._validators[event_type] = None
            else:
                schema = {"$ref": f"{self.uri(source['file'])}#{source['pointer']}"}
                # No format checker: Kastor reads `format` as an annotation (JSON Schema 2019-09 and later;
                # optional in draft 7), so an example whose only fault is a format is valid, as a provider
                # sends it (Shopify's `last_digits: "4242"` under `format: date-time`).
                self._validators[event_type] = self.validator_class(schema, registry=self.registry)
        return self._validators[event_type]

    def is_valid(self, event_type: str, payload: JSON) -> bool:
        validator = self.validator(event_type)
        return payload is None if validator is None else bool(validator.is_valid(payload))

    def example_payload(self, example: dict[str, Any]) -> JSON:
        if "payload" in example:
            return example["payload"]
        return resolve_pointer(self.raw(example["source"]["file"]), example["source"]["pointer"])

    def event_of(self, example_id: str, event_type: str, payload: JSON) -> dict[str, Any]:
        event: dict[str, Any] = {
            "aggregate_id": f"{self.key}-{example_id}",
            "version": 1 if self.events[event_type]["initial"] else 2,
            "type": event_type,
        }
        if self.events[event_type]["schema"] is not None:
            event["payload"] = payload
        return event

    @cached_property
    def examples(self) -> tuple[list[Case], list[Case]]:
        """(valid, invalid): the examples as events, split by their raw schema."""
        valid: list[Case] = []
        invalid: list[Case] = []
        for example in self.map["examples"]:
            event_type = example["event_type"]
            payload = self.example_payload(example)
            case = Case(
                example["id"],
                event_type,
                self.events[event_type]["store"],
                example["kind"],
                self.event_of(example["id"], event_type, payload),
            )
            (valid if self.is_valid(event_type, payload) else invalid).append(case)
        return valid, invalid

    @property
    def cases(self) -> list[Case]:
        """The examples valid against their raw schema, but those of events an erratum changes the shape of."""
        reshaped = {erratum.event_type for erratum in ERRATA.get(self.key, []) if erratum.event_type}
        return [case for case in self.examples[0] if case.event_type not in reshaped]

    @property
    def invalid_examples(self) -> list[Case]:
        return self.examples[1]

    @cached_property
    def variants(self) -> list[Case]:
        """Schema-invalid variants of the valid examples: at most one of each kind per example, each
        confirmed invalid by jsonschema."""
        made: list[Case] = []
        for case in self.cases:
            if self.events[case.event_type]["schema"] is None:
                continue
            for kind, mutate in MUTATIONS.items():
                variant = self._variant(case, mutate)
                if variant is not None:
                    made.append(Case(f"{case.id}-{kind}", case.event_type, case.store, kind, variant))
        return made

    def _variant(self, case: Case, mutate: Callable[[JSON], Iterator[JSON]]) -> dict[str, Any] | None:
        for tries, payload in enumerate(mutate(case.payload)):
            if tries >= VARIANT_TRIES:
                return None
            if not self.is_valid(case.event_type, payload):
                return {**case.event, "payload": payload}
        return None


# -- schema-invalid variants ---------------------------------------------------------------------------------


def _places(value: JSON, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], JSON]]:
    """Every (path, value) of a JSON value, in document order, the value itself first."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _replaced(value: JSON, path: tuple[Any, ...], new: JSON, *, remove: bool = False) -> JSON:
    copied = copy.deepcopy(value)
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copied


def integer_as_string(payload: JSON) -> Iterator[JSON]:
    for path, value in _places(payload):
        if path and isinstance(value, int) and not isinstance(value, bool):
            yield _replaced(payload, path, str(value))


def boolean_as_string(payload: JSON) -> Iterator[JSON]:
    for path, value in _places(payload):
        if path and isinstance(value, bool):
            yield _replaced(payload, path, "true" if value else "false")


def property_removed(payload: JSON) -> Iterator[JSON]:
    for path, _ in _places(payload):
        if path and isinstance(path[-1], str):
            yield _replaced(payload, path, None, remove=True)


def null_value(payload: JSON) -> Iterator[JSON]:
    for path, value in _places(payload):
        if path and value is not None:
            yield _replaced(payload, path, None)


MUTATIONS: dict[str, Callable[[JSON], Iterator[JSON]]] = {
    "integer-as-string": integer_as_string,
    "boolean-as-string": boolean_as_string,
    "required-removed": property_removed,
    "null-for-non-nullable": null_value,
}


# -- what kastor says ----------------------------------------------------------------------------------------

DIAGNOSTIC = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


@dataclass(frozen=True)
class Diagnostic:
    file: str  # the spec file's name
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


def parse_diagnostics(stderr: str) -> list[Diagnostic]:
    found = []
    for line in stderr.splitlines():
        match = DIAGNOSTIC.match(line)
        if match:
            found.append(
                Diagnostic(Path(match["file"]).name, int(match["line"]), int(match["column"]), match["message"])
            )
    return found


#: Diagnostics by kind: the message with what varies (names, values) taken out.
KINDS = (
    (re.compile(r"^unknown key '(?P<key>[^']+)'"), "unknown key '{key}'"),
    (re.compile(r"^'format': expected .*, got '(?P<format>[^']+)'"), "format '{format}' refused"),
    (re.compile(r"^'items': expected a mapping .*got (?P<value>\w+)"), "'items: {value}' refused"),
    (re.compile(r"^\$ref '[^']*' names no definition"), "$ref names no definition (see below)"),
    (re.compile(r"^payload must be an object schema .*got (?P<what>.*)$"), "payload not an object schema: {what}"),
    (re.compile(r"^default '[^']*' is a (?P<kind>\w+), not an? (?P<type>\w+)"), "default is a {kind}, not a {type}"),
    (re.compile(r"^required property '[^']*' is not declared"), "required property not declared in properties"),
)


def kind_of(message: str) -> str:
    for pattern, label in KINDS:
        match = pattern.match(message)
        if match:
            return label.format(**match.groupdict())
    return message


def diagnostics_by_kind(diagnostics: list[Diagnostic]) -> dict[str, int]:
    return dict(Counter(kind_of(diagnostic.message) for diagnostic in diagnostics).most_common())


# -- measuring -----------------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What a corpus measures today. None: not measured (the step before it failed, or it was skipped)."""

    corpus: str
    spec_files: int = 0
    stores: int = 0
    events: int = 0
    examples_real: int = 0
    examples_drawn: int = 0
    cases: int = 0  # the examples valid against their raw schema
    invalid_examples: int = 0  # the corpus's own examples that break their raw schema
    diagnostics: int = 0
    diagnostics_by_kind: dict[str, int] = field(default_factory=dict)
    generated: bool = False
    generate_seconds: float | None = None
    import_seconds: float | None = None
    decoded: int | None = None
    exact: int | None = None
    schema_valid: int | None = None
    differences: dict[str, int] | None = None  # added/dropped/changed over all written payloads
    invalid_total: int = 0  # invalid examples + variants
    invalid_refused: int | None = None
    in_memory: int | None = None
    sqlite: int | None = None
    postgres: int | None = None
    message_codec: int | None = None
    mypy_errors: int | None = None
    mypy_seconds: float | None = None
    pyright_errors: int | None = None
    pyright_seconds: float | None = None
    failures: dict[str, list[str]] = field(default_factory=dict)  # samples of what failed, by check

    def fail(self, check: str, message: str) -> None:
        samples = self.failures.setdefault(check, [])
        if len(samples) < 10:
            samples.append(message)


class CorpusRun:
    """A corpus generated once into `work`, then measured step by step (each step computed on first use,
    so that tests share one generation per session)."""

    def __init__(self, key: str, work: Path) -> None:
        self.corpus = Corpus(key)
        self.work = work
        self.out = work / "out"
        self.figures = Figures(key)
        self._module: ModuleType | None = None
        self._steps: set[str] = set()
        self._decoded: dict[str, Any] = {}  # case id → its decoded event
        self.generate_stderr = ""  # what `kastor generate` printed there

    def once(self, step: str) -> bool:
        if step in self._steps:
            return False
        self._steps.add(step)
        return True

    # -- specs and generation

    def count(self) -> Figures:
        if self.once("count"):
            figures, corpus = self.figures, self.corpus
            figures.spec_files = len(corpus.spec_files)
            figures.stores = len(corpus.stores)
            figures.events = len(corpus.events)
            kinds = Counter(example["kind"] for example in corpus.map["examples"])
            figures.examples_real, figures.examples_drawn = kinds["real"], kinds["drawn"]
            figures.cases = len(corpus.cases)
            figures.invalid_examples = len(corpus.invalid_examples)
            figures.invalid_total = len(corpus.invalid_examples) + len(corpus.variants)
        return self.figures

    @cached_property
    def diagnostics(self) -> list[Diagnostic]:
        result = run_cli("validate", *map(str, self.corpus.spec_files))
        found = parse_diagnostics(result.stderr)
        if result.code not in (0, 2) or (result.code == 2 and not found):
            raise RuntimeError(f"kastor validate exited {result.code} without diagnostics:\n{result.stderr}")
        self.figures.diagnostics = len(found)
        self.figures.diagnostics_by_kind = diagnostics_by_kind(found)
        return found

    @property
    def module(self) -> ModuleType | None:
        """The generated package, imported (None if it did not generate or import)."""
        if self.once("generate"):
            self.count()
            self.diagnostics  # noqa: B018 (measured before generating, for the figures)
            started = time.perf_counter()
            result = run_cli("generate", *map(str, self.mended_spec_files()), "-o", str(self.out))
            self.figures.generate_seconds = time.perf_counter() - started
            self.generate_stderr = result.stderr
            if result.code != 0:
                self.figures.fail("generate", result.stderr.strip().splitlines()[-1] if result.stderr else "")
                return None
            self.figures.generated = True
            started = time.perf_counter()
            sys.path.insert(0, str(self.out))
            try:
                self._module = importlib.import_module(self.corpus.package)
            except Exception as error:  # what a package raises on import is a finding, not a crash
                self.figures.fail("import", f"{type(error).__name__}: {error}")
                return None
            finally:
                sys.path.remove(str(self.out))
            self.figures.import_seconds = time.perf_counter() - started
        return self._module

    def mended_spec_files(self) -> list[Path]:
        """The corpus's specs, with its own real mistakes (ERRATA) mended in copies, so that the package
        generates; `kastor validate` is measured on the specs as converted."""
        errata = ERRATA.get(self.corpus.key, [])
        if not errata:
            return self.corpus.spec_files
        copies = self.out.parent / f"{self.corpus.key}-mended"
        copies.mkdir(parents=True, exist_ok=True)
        files = []
        for path in self.corpus.spec_files:
            text = path.read_text(encoding="utf-8")
            for erratum in errata:
                if erratum.file == path.name:
                    if erratum.wrong not in text:
                        raise RuntimeError(f"{path.name}: erratum no longer applies: {erratum.why}")
                    text = text.replace(erratum.wrong, erratum.mended, 1)
            (copies / path.name).write_text(text, encoding="utf-8")
            files.append(copies / path.name)
        return files

    def codec(self, store: str) -> Any:
        assert self.module is not None
        return getattr(self.module, f"{store.upper()}_EVENT_CODEC")

    # -- codec

    def measure_codec(self) -> Figures:
        if not self.once("codec"):
            return self.figures
        figures = self.figures
        if self.module is None:
            return figures
        figures.decoded = figures.exact = figures.schema_valid = 0
        total = Differences()
        for case in self.corpus.cases:
            try:
                codec = self.codec(case.store)
                decoded = codec.from_json(json.dumps(case.event))
            except Exception as error:
                figures.fail("decode", f"{case.id}: {type(error).__name__}: {str(error)[:300]}")
                continue
            figures.decoded += 1
            self._decoded[case.id] = decoded
            try:
                written = json.loads(codec.to_json(decoded))
            except Exception as error:
                figures.fail("encode", f"{case.id}: {type(error).__name__}: {str(error)[:300]}")
                continue
            if self.event_matches(case, written):
                figures.exact += 1
            else:
                found = differences(case.payload, written.get("payload"), "/payload")
                total.add(found)
                figures.fail("round trip", f"{case.id}: {'; '.join(found.samples)}")
            if self.corpus.is_valid(case.event_type, written.get("payload")):
                figures.schema_valid += 1
            else:
                figures.fail("schema-valid output", case.id)
        figures.differences = {"added": total.added, "dropped": total.dropped, "changed": total.changed}
        figures.invalid_refused = 0
        refusal = self.module.EventDecodeError
        for case in [*self.corpus.invalid_examples, *self.corpus.variants]:
            try:
                self.codec(case.store).from_json(json.dumps(case.event))
            except refusal:
                figures.invalid_refused += 1
            except Exception as error:  # a crash is no refusal: the codec must say what is wrong
                figures.fail("invalid refused", f"{case.id} ({case.kind}): {type(error).__name__}: {error}"[:400])
            else:
                figures.fail("invalid refused", f"{case.id} ({case.kind}) was accepted")
        return figures

    def event_matches(self, case: Case, written: dict[str, Any]) -> bool:
        """The written event is the one sent: its payload exactly (absent stays absent), and its id,
        version and type; what the codec adds of its own (a null timestamp, no metadata) is left aside."""
        same_payload = ("payload" in written) == ("payload" in case.event) and json_equal(
            written.get("payload"), case.event.get("payload")
        )
        return same_payload and all(
            json_equal(written.get(key), case.event[key]) for key in ("aggregate_id", "version", "type")
        )

    # -- storage adapters and messages

    async def measure_adapter(self, name: str, adapter: Any) -> int | None:
        """How many examples come back from `adapter` exactly as pushed (None: nothing to push)."""
        self.measure_codec()
        if self.module is None:
            return None
        exact = 0
        for case in self.corpus.cases:
            if case.id not in self._decoded:
                self.figures.fail(name, f"{case.id}: not decoded")
                continue
            try:
                if await self.round_trip_through(adapter, case):
                    exact += 1
            except Exception as error:
                self.figures.fail(name, f"{case.id}: {type(error).__name__}: {str(error)[:300]}")
        setattr(self.figures, name, exact)
        return exact

    async def round_trip_through(self, adapter: Any, case: Case) -> bool:
        module = self.module
        assert module is not None
        codec = self.codec(case.store)
        aggregate_id = f"{case.event['aggregate_id']}-{uuid.uuid4().hex[:8]}"
        pushed = []
        for version in range(1, case.event["version"] + 1):
            event = codec.from_json(json.dumps({**case.event, "aggregate_id": aggregate_id, "version": version}))
            pushed.append(codec.validate(event, default_timestamp=PUSHED_AT))
        context = module.StorageContext(case.store, codec)
        await adapter.push_events([(context, event) for event in pushed])
        read = await adapter.get_events(context, aggregate_id, module.EventsQuery())
        if len(read) != len(pushed):
            self.figures.fail("storage", f"{case.id}: {len(read)} events read, {len(pushed)} pushed")
            return False
        same = all(
            json_equal(json.loads(codec.to_json(a)), json.loads(codec.to_json(b)))
            for a, b in zip(read, pushed, strict=True)
        )
        written = json.loads(codec.to_json(read[-1]))
        return same and self.event_matches(case, {**written, "aggregate_id": case.event["aggregate_id"]})

    def measure_message_codec(self) -> int | None:
        self.measure_codec()
        if not self.once("messages") or self.module is None:
            return self.figures.message_codec
        module = self.module
        exact = 0
        for case in self.corpus.cases:
            if case.id not in self._decoded:
                self.figures.fail("message codec", f"{case.id}: not decoded")
                continue
            codec = self.codec(case.store)
            try:
                event = codec.validate(self._decoded[case.id], default_timestamp=PUSHED_AT)
                body = module.MESSAGE_CODEC.to_json(module.NotificationMessage(case.store, event))
                message = module.MESSAGE_CODEC.from_json(body)
                same = json_equal(json.loads(codec.to_json(message.event)), json.loads(codec.to_json(event)))
                if same and self.event_matches(case, json.loads(codec.to_json(message.event))):
                    exact += 1
                else:
                    self.figures.fail("message codec", f"{case.id}: changed")
            except Exception as error:
                self.figures.fail("message codec", f"{case.id}: {type(error).__name__}: {str(error)[:300]}")
        self.figures.message_codec = exact
        return exact

    async def measure_storage(self, postgres: tuple[str, str] | None) -> Figures:
        """Every example through the in-memory and SQLite adapters, and PostgreSQL's given (URL, schema)."""
        if self.module is None:
            return self.figures
        module = self.module
        await self.measure_adapter("in_memory", module.InMemoryEventStorageAdapter())
        sqlite = module.SQLiteEventStorageAdapter(":memory:")
        try:
            await self.measure_adapter("sqlite", sqlite)
        finally:
            await sqlite.close()
        if postgres is not None:
            adapter = module.PostgresEventStorageAdapter(postgres[0], schema=postgres[1])
            try:
                await adapter.create_schema()
                await self.measure_adapter("postgres", adapter)
            finally:
                await adapter.close()
        return self.figures

    # -- type checkers

    def measure_mypy(self) -> int | None:
        if self.once("mypy") and self.module is not None:
            started = time.perf_counter()
            result = run_mypy_strict(self.out, [self.corpus.package], self.work / "mypy")
            self.figures.mypy_seconds = time.perf_counter() - started
            errors = [line for line in result.stdout.splitlines() if ": error:" in line]
            self.figures.mypy_errors = len(errors)
            for line in errors:
                self.figures.fail("mypy", line)
            if result.returncode != 0 and not errors:
                self.figures.mypy_errors = None
                self.figures.fail("mypy", f"mypy exited {result.returncode}: {result.stderr[-500:]}")
        return self.figures.mypy_errors

    def measure_pyright(self) -> int | None:
        if self.once("pyright") and self.module is not None:
            # The settings of tests/pyright/pyrightconfig.json (strict, 3.11), for this package only.
            settings = json.loads((REPO / "tests" / "pyright" / "pyrightconfig.json").read_text(encoding="utf-8"))
            settings["include"] = [str(self.out / self.corpus.package)]
            config = self.work / "pyrightconfig.json"
            config.write_text(json.dumps(settings), encoding="utf-8")
            command = [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable]
            started = time.perf_counter()
            completed = subprocess.run(
                [*command, "--project", str(config)],
                cwd=self.work,
                capture_output=True,
                text=True,
                timeout=PYRIGHT_TIMEOUT_SECONDS,
                check=False,
            )
            self.figures.pyright_seconds = time.perf_counter() - started
            try:
                report = json.loads(completed.stdout)
            except json.JSONDecodeError:
                self.figures.fail("pyright", f"pyright did not report: {completed.stderr[-500:]}")
                return None
            errors = [
                f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
                for d in report["generalDiagnostics"]
                if d["severity"] in ("error", "warning")
            ]
            self.figures.pyright_errors = len(errors)
            for line in errors:
                self.figures.fail("pyright", line)
        return self.figures.pyright_errors

    def measure_all(self, *, postgres: tuple[str, str] | None, typing: bool) -> Figures:
        self.count()
        self.diagnostics  # noqa: B018
        self.measure_codec()
        asyncio.run(self.measure_storage(postgres))
        self.measure_message_codec()
        if typing:
            self.measure_mypy()
            self.measure_pyright()
        return self.figures


# -- the command line ----------------------------------------------------------------------------------------


def _postgres_for_cli() -> tuple[str, str, Callable[[], None]] | None:
    """A fresh schema on the tests' PostgreSQL (KASTOR_TEST_POSTGRES_URL), dropped afterwards; None if it is
    not reachable."""
    from .services import POSTGRES_URL, _reachable, unique_name

    if not _reachable(POSTGRES_URL):
        return None
    import psycopg

    schema = unique_name("kastor_corpus")

    def drop() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return POSTGRES_URL, schema, drop


def cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.1f}"
    return str(value)


def of(part: int | None, whole: int) -> str:
    return "—" if part is None else f"{part}/{whole}"


def table(all_figures: list[Figures]) -> str:
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("spec files / stores / events", lambda f: f"{f.spec_files} / {f.stores} / {f.events}"),
        ("examples real / drawn", lambda f: f"{f.examples_real} / {f.examples_drawn}"),
        ("cases (valid against the raw schema)", lambda f: str(f.cases)),
        ("kastor validate diagnostics", lambda f: str(f.diagnostics)),
        ("generates and imports", lambda f: "yes" if f.generated and f.import_seconds is not None else "no"),
        ("decoded", lambda f: of(f.decoded, f.cases)),
        ("exact round trips", lambda f: of(f.exact, f.cases)),
        ("schema-valid outputs", lambda f: of(f.schema_valid, f.cases)),
        (
            "written payloads: keys added / dropped / values changed",
            lambda f: "—" if f.differences is None else " / ".join(map(str, f.differences.values())),
        ),
        ("invalid refused (own invalid examples + variants)", lambda f: of(f.invalid_refused, f.invalid_total)),
        ("in-memory adapter exact", lambda f: of(f.in_memory, f.cases)),
        ("SQLite adapter exact", lambda f: of(f.sqlite, f.cases)),
        ("PostgreSQL adapter exact", lambda f: of(f.postgres, f.cases)),
        ("MESSAGE_CODEC exact", lambda f: of(f.message_codec, f.cases)),
        ("mypy --strict errors", lambda f: cell(f.mypy_errors)),
        ("pyright strict errors", lambda f: cell(f.pyright_errors)),
        (
            "generate / import / mypy / pyright seconds",
            lambda f: " / ".join(
                cell(value) for value in (f.generate_seconds, f.import_seconds, f.mypy_seconds, f.pyright_seconds)
            ),
        ),
    ]
    lines = ["| | " + " | ".join(f.corpus for f in all_figures) + " |", "|---|" + "---|" * len(all_figures)]
    lines += [f"| {label} | " + " | ".join(render(f) for f in all_figures) + " |" for label, render in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measures the fidelity of Kastor on the real-world corpora.")
    # `[]` among the choices: argparse checks the default of an empty `nargs="*"` against them too.
    parser.add_argument("corpus", nargs="*", choices=[*CORPUS_KEYS, []], help="default: every corpus")
    parser.add_argument("--no-typing", action="store_true", help="skip mypy and pyright (the slow part)")
    parser.add_argument("--json", type=Path, help="also write the figures, with samples of failures, here")
    parser.add_argument("--failures", action="store_true", help="print samples of what failed")
    arguments = parser.parse_args(argv)
    all_figures = []
    postgres = _postgres_for_cli()
    try:
        with tempfile.TemporaryDirectory(prefix="kastor-corpora-") as temporary:
            for key in arguments.corpus or CORPUS_KEYS:
                run = CorpusRun(key, Path(temporary) / key)
                figures = run.measure_all(
                    postgres=(postgres[0], postgres[1]) if postgres else None, typing=not arguments.no_typing
                )
                all_figures.append(figures)
                print(f"{key}: measured", file=sys.stderr)
    finally:
        if postgres is not None:
            postgres[2]()
    print(table(all_figures))
    print()
    for figures in all_figures:
        print(f"{figures.corpus}: kastor validate, by kind: {json.dumps(figures.diagnostics_by_kind)}")
        if arguments.failures:
            for check, samples in figures.failures.items():
                print(f"  {check}:")
                for sample in samples:
                    print(f"    {sample}")
    if arguments.json:
        arguments.json.write_text(json.dumps([asdict(f) for f in all_figures], indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
