"""Real-world corpora (issue 14): Kastor on event schemas nobody here wrote, with their example payloads.

Three public sets of event schemas are vendored under tests/corpora/ (see each SOURCE.md) and converted to
Kastor specs faithfully by tests/corpora/convert.py; tests/corpus_support.py measures them (run
`python -m tests.corpus_support` for the table of figures). Per corpus, the tests below hold Kastor to the
issue's targets: the raw specs validate but for the real mistakes listed here; the package generates,
imports and passes mypy --strict and pyright strict; every example valid against its raw schema comes back
exactly from the event codec, from every storage adapter and through MESSAGE_CODEC, and what is written
validates against the raw schema; every schema-invalid event is refused.

Most of them fail on today's code: each such test is an `xfail(strict=True)` whose reason quotes what was
measured, so that the suite is green now and a test that starts to pass fails the run (strict) until its
marker is removed here. The tests of the material itself (vendored files, conversion, example map) pass.
"""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .corpora.convert import committed, convert
from .corpus_support import CORPUS_KEYS, Corpus, CorpusRun, json_equal
from .services import postgres_schema

pytestmark = pytest.mark.slow

postgres_schema_fixture = postgres_schema  # (URL, schema): a fresh schema, dropped after the test


# -- what fails today, and why (issue 14) -------------------------------------------------------------------

CHECKS = (
    *("validate", "generate", "round trip", "schema-valid", "refused"),
    *("in_memory", "sqlite", "postgres", "message codec", "mypy", "pyright"),
)

#: The checks that fail today, per corpus, with what was measured. Remove an entry once its test passes.
FAILING_TODAY: dict[tuple[str, str], str] = {}


def per_corpus(check: str) -> list[Any]:
    """The corpora as parameters, each marked xfail(strict) where `check` fails on it today."""
    return [
        pytest.param(
            key,
            marks=[pytest.mark.xfail(strict=True, reason=f"issue 14: {FAILING_TODAY[(key, check)]}")]
            if (key, check) in FAILING_TODAY
            else [],
        )
        for key in CORPUS_KEYS
    ]


@dataclass(frozen=True)
class Mistake:
    """A diagnostic that the raw specs deserve: a mistake of the corpus itself, or what Kastor refuses by
    design. `file` is the spec file, `message` a pattern of the diagnostic."""

    file: str
    message: str
    why: str


REAL_MISTAKES: dict[str, list[Mistake]] = {
    "octokit_webhooks": [
        Mistake(
            "repository.yaml",
            r"default false is not one of the enum values",
            "REPOSITORY_ARCHIVED's repository.archived is {type: boolean, enum: [true], default: false}: a "
            "default that its own enum refuses",
        ),
    ],
    "shopify_webhooks": [],
    "asyncapi_examples": [
        Mistake(
            "operation_security_asyncapi.yaml",
            r"default 'false' is a string, not a boolean",
            "metaData.deprecated is {type: boolean, default: 'false'}: a string as the default of a boolean",
        ),
        Mistake(
            "gitter_streaming_asyncapi.yaml",
            r"payload must be an object schema",
            "the heartbeat message's payload is a string ({type: string, enum: [\"\\r\\n\"]}): Kastor's "
            "payloads are objects by design (README, the spec format's rules)",
        ),
    ],
}


# -- one generation of each corpus per session --------------------------------------------------------------


@pytest.fixture(scope="session")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CorpusRun]]:
    work = tmp_path_factory.mktemp("corpora")
    yield {key: CorpusRun(key, work / key) for key in CORPUS_KEYS}


def generated(run: CorpusRun) -> Any:
    module = run.module
    if module is None:
        pytest.fail(f"{run.corpus.key} did not generate or import: {run.figures.failures}")
    return module


def failures(run: CorpusRun, check: str) -> str:
    return "\n".join(run.figures.failures.get(check, []))


# -- the material: vendored, converted, mapped (these pass) -------------------------------------------------


@pytest.mark.parametrize("key", CORPUS_KEYS)
def test_vendored_files_are_those_source_md_names(key: str) -> None:
    folder = Corpus(key).folder
    listed = dict(re.findall(r"^\| `([^`]+)` \| \d+ \| `([0-9a-f]{64})` \|$", (folder / "SOURCE.md").read_text(), re.M))
    present = {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (path.relative_to(folder).parts[0] == "raw" or path.name == "LICENSE")
    }
    assert present == listed


@pytest.mark.parametrize("key", CORPUS_KEYS)
def test_converter_writes_exactly_the_committed_specs_and_example_map(key: str) -> None:
    written = convert(key)
    assert sorted(written) == sorted(committed(key))
    for path, text in written.items():
        assert text == committed(key)[path], f"{key}/{path} is stale: run python tests/corpora/convert.py"


@pytest.mark.parametrize("key", CORPUS_KEYS)
def test_example_map_names_the_events_of_the_specs(key: str) -> None:
    corpus = Corpus(key)
    in_specs: dict[str, tuple[str, str, bool]] = {}
    for path in corpus.spec_files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["package"] == corpus.package
        for store, spec in (document.get("event_stores") or {}).items():
            for event_type, event in spec["events"].items():
                in_specs[event_type] = (f"specs/{path.name}", store, bool(event.get("initial")))
    mapped = {t: (e["spec"], e["store"], e["initial"]) for t, e in corpus.events.items()}
    assert mapped == in_specs
    assert {example["event_type"] for example in corpus.map["examples"]} <= in_specs.keys()
    # Each store has exactly one initial event, and each example's event follows it in version.
    for store in corpus.stores:
        assert sum(initial for _, s, initial in in_specs.values() if s == store) == 1
    assert all(
        case.event["version"] == (1 if corpus.events[case.event_type]["initial"] else 2) for case in corpus.cases
    )


@pytest.mark.parametrize("key", CORPUS_KEYS)
def test_each_invalid_variant_breaks_its_raw_schema_and_each_case_keeps_to_it(key: str) -> None:
    """The measurement's own ground truth: cases are valid against their raw schema, variants are not."""
    corpus = Corpus(key)
    assert corpus.cases, "a corpus without a valid example measures nothing"
    assert all(corpus.is_valid(case.event_type, case.payload) for case in corpus.cases)
    assert not any(corpus.is_valid(case.event_type, case.payload) for case in corpus.variants)
    assert not any(corpus.is_valid(case.event_type, case.payload) for case in corpus.invalid_examples)


def test_json_values_are_compared_as_json() -> None:
    assert json_equal({"a": [1, None]}, {"a": [1, None]})
    assert not json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal({"a": None}, {})
    assert not json_equal("2021-11-25T21:56:00.653866570Z", "2021-11-25T21:56:00.653866Z")


# -- Kastor on the corpora (xfail where it fails today) -----------------------------------------------------


@pytest.mark.parametrize("key", per_corpus("validate"))
def test_raw_specs_validate_but_for_their_real_mistakes(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    diagnostics = corpus_runs[key].diagnostics
    mistakes = REAL_MISTAKES[key]

    def expected(diagnostic: Any) -> bool:
        return any(m.file == diagnostic.file and re.search(m.message, diagnostic.message) for m in mistakes)

    unexpected = [str(diagnostic) for diagnostic in diagnostics if not expected(diagnostic)]
    assert unexpected == [], f"{len(unexpected)} diagnostics that are no mistake of the corpus"
    for mistake in mistakes:  # and the real mistakes are still found
        assert any(d.file == mistake.file and re.search(mistake.message, d.message) for d in diagnostics), mistake.why


@pytest.mark.parametrize("key", per_corpus("generate"))
def test_package_generates_and_imports(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    generated(corpus_runs[key])
    # Nothing but kastor's own lines: no warning of a library leaks to stderr.
    assert corpus_runs[key].generate_stderr == ""


@pytest.mark.parametrize("key", per_corpus("round trip"))
def test_every_example_round_trips_exactly_through_the_event_codec(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    figures = run.measure_codec()
    assert (figures.decoded, figures.exact) == (figures.cases, figures.cases), failures(run, "decode") + failures(
        run, "round trip"
    )


@pytest.mark.parametrize("key", per_corpus("schema-valid"))
def test_every_written_payload_validates_against_its_raw_schema(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    figures = run.measure_codec()
    assert figures.schema_valid == figures.cases, failures(run, "schema-valid output")


@pytest.mark.parametrize("key", per_corpus("refused"))
def test_every_schema_invalid_event_is_refused(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    figures = run.measure_codec()
    assert figures.invalid_refused == figures.invalid_total, failures(run, "invalid refused")


@pytest.mark.parametrize("key", per_corpus("in_memory"))
async def test_in_memory_adapter_returns_every_example_exactly(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    module = generated(run)
    assert await run.measure_adapter("in_memory", module.InMemoryEventStorageAdapter()) == len(run.corpus.cases), (
        failures(run, "in_memory")
    )


@pytest.mark.parametrize("key", per_corpus("sqlite"))
async def test_sqlite_adapter_returns_every_example_exactly(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    module = generated(run)
    adapter = module.SQLiteEventStorageAdapter(":memory:")
    try:
        assert await run.measure_adapter("sqlite", adapter) == len(run.corpus.cases), failures(run, "sqlite")
    finally:
        await adapter.close()


@pytest.mark.service
@pytest.mark.parametrize("key", per_corpus("postgres"))
async def test_postgres_adapter_returns_every_example_exactly(
    key: str, corpus_runs: dict[str, CorpusRun], postgres_schema_fixture: tuple[str, str]
) -> None:
    run = corpus_runs[key]
    module = generated(run)
    url, schema = postgres_schema_fixture
    adapter = module.PostgresEventStorageAdapter(url, schema=schema)
    try:
        await adapter.create_schema()
        assert await run.measure_adapter("postgres", adapter) == len(run.corpus.cases), failures(run, "postgres")
    finally:
        await adapter.close()


@pytest.mark.parametrize("key", per_corpus("message codec"))
def test_message_codec_carries_every_example_exactly(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    assert run.measure_message_codec() == len(run.corpus.cases), failures(run, "message codec")


@pytest.mark.typing
@pytest.mark.parametrize("key", per_corpus("mypy"))
def test_mypy_strict_reports_no_error_on_the_package(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    assert run.measure_mypy() == 0, failures(run, "mypy")


@pytest.mark.typing
@pytest.mark.parametrize("key", per_corpus("pyright"))
def test_pyright_strict_reports_no_error_on_the_package(key: str, corpus_runs: dict[str, CorpusRun]) -> None:
    run = corpus_runs[key]
    generated(run)
    assert run.measure_pyright() == 0, failures(run, "pyright")


def test_this_file_lists_no_corpus_it_does_not_have() -> None:
    assert {key for key, _ in FAILING_TODAY} <= set(CORPUS_KEYS)
    assert set(REAL_MISTAKES) == set(CORPUS_KEYS)
    assert all((Path(__file__).parent / "corpora" / key / "SOURCE.md").is_file() for key in CORPUS_KEYS)
