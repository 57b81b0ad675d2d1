"""Snapshot tests of the diagnostics for a corpus of invalid specs.

Every case in ``tests/invalid_specs/`` is a small spec with exactly one mistake:

* ``NN_<name>.yaml`` is a one-file case; its snapshot is ``NN_<name>.expected``;
* a directory ``<name>/`` is a multi-file case: all its ``*.yaml`` files, in name order, form one
  package; its snapshot is ``<name>.expected`` next to the directory.

A snapshot holds the exact stderr of ``kastor generate`` run from the repository root with the spec
paths relative to it: one ``path:line:col: message`` line per problem, then the summary line.

To rewrite the snapshots after an intended change of the diagnostics, run

    KASTOR_UPDATE_SNAPSHOTS=1 pytest tests/test_invalid_specs.py

then review the diff of the ``.expected`` files before committing them. In that mode the snapshots are
written instead of compared; every other assertion still holds.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = REPO_ROOT / "tests" / "invalid_specs"
UPDATE_SNAPSHOTS = os.environ.get("KASTOR_UPDATE_SNAPSHOTS") == "1"
MIN_CASES = 30


@dataclass(frozen=True)
class Case:
    name: str
    specs: tuple[str, ...]  # paths relative to the repository root, as given on the command line
    expected: Path


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def _discover() -> list[Case]:
    cases = [
        Case(path.stem, (_relative(path),), path.with_suffix(".expected")) for path in sorted(CASES_DIR.glob("*.yaml"))
    ]
    for directory in sorted(path for path in CASES_DIR.iterdir() if path.is_dir()):
        specs = tuple(_relative(path) for path in sorted(directory.glob("*.yaml")))
        cases.append(Case(directory.name, specs, CASES_DIR / f"{directory.name}.expected"))
    return cases


CASES = _discover()


def _run(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(arguments)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= MIN_CASES
    for case in CASES:
        assert case.specs, f"{case.name}: a multi-file case needs *.yaml files"
    orphans = set(CASES_DIR.glob("*.expected")) - {case.expected for case in CASES}
    assert not orphans, f"snapshots without a case: {sorted(orphans)}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_generate_reports_the_expected_diagnostics(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"

    code, stdout, stderr = _run(["generate", *case.specs, "-o", str(out)], capsys)

    assert "Traceback" not in stdout + stderr
    assert code == 2, stderr
    assert not out.exists(), "nothing may be written when a spec is invalid"
    if UPDATE_SNAPSHOTS:
        case.expected.write_text(stderr, encoding="utf-8")
    else:
        assert case.expected.is_file(), f"no snapshot {case.expected}: run with KASTOR_UPDATE_SNAPSHOTS=1"
        assert stderr == case.expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_validate_reports_the_same_diagnostics_as_generate(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_code, _, generate_stderr = _run(["generate", *case.specs, "-o", str(tmp_path / "out")], capsys)
    validate_code, validate_stdout, validate_stderr = _run(["validate", *case.specs], capsys)

    assert (validate_code, validate_stderr) == (generate_code, generate_stderr)
    assert validate_stdout == ""


VALID_VALUES_SPEC = """\
kastor: 1
package: values
definitions:
  Answer: {type: string, enum: ["no", "yes"], default: "no"}
event_stores:
  things:
    aggregate:
      name: Thing
      schema:
        type: object
        properties:
          answer: {$ref: "#/definitions/Answer"}
          switch: {type: string, enum: ['on', 'off']}
          comment: {type: [string, "null"], default: null}
          weight: {type: number, default: 1}
          count: {type: integer, enum: [1, 2, 3], default: 2}
          mixed: {enum: [1, true, x], default: true}
          flag: {type: boolean, const: true, default: true}
          tags: {type: array, items: {type: string}, default: ["no", b]}
          labels: {type: object, additionalProperties: {type: integer}, default: {a: 1}}
        required: [answer]
    events:
      THING_MADE:
        initial: true
"""


def test_values_that_match_their_types_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Quoted YAML 1.1 words, null defaults of nullable types and whole-number defaults of numbers are valid."""
    spec = tmp_path / "values.yaml"
    spec.write_text(VALID_VALUES_SPEC, encoding="utf-8")

    code, _, stderr = _run(["validate", str(spec)], capsys)

    assert (code, stderr) == (0, "")
    out = tmp_path / "out"
    code, _, stderr = _run(["generate", str(spec), "-o", str(out)], capsys)
    assert code == 0, stderr
    models = (out / "values" / "models.py").read_text(encoding="utf-8")
    assert 'Literal["no", "yes"]' in models
    assert 'Literal["on", "off"]' in models


STANDARD_SCHEMA_SPEC = """\
kastor: 1
package: standard
event_stores:
  things:
    aggregate:
      name: Thing
      schema: {type: object, properties: {}}
    events:
      THING_MADE:
        initial: true
        payload:
          $schema: "http://json-schema.org/draft-07/schema#"
          type: object
          properties:
            email: {type: string, format: email, readOnly: true}
            homepage: {type: string, format: iri-reference, x-order: 2}
            template: {type: string, format: uri-template, tsAdditionalProperties: false}
            tags: {type: array, items: {type: string}, uniqueItems: true, contains: {const: a}}
            code: {not: {type: string}}
            labels: {type: object, patternProperties: {"^x-": {type: string}}, propertyNames: {maxLength: 9}}
            window: {type: array, items: false}
          required: [email]
          dependencies: {homepage: [email]}
          if: {required: [code]}
          then: {required: [tags]}
          x-vendor-extension: {anything: [1, 2]}
"""


def test_standard_keywords_annotations_vendor_keys_and_any_format_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What JSON Schema allows is valid: annotations and vendor keys are ignored, formats are annotations."""
    spec = tmp_path / "standard.yaml"
    spec.write_text(STANDARD_SCHEMA_SPEC, encoding="utf-8")
    code, _, stderr = _run(["validate", str(spec)], capsys)
    assert (code, stderr) == (0, "")


def test_a_misspelt_keyword_is_a_warning_naming_the_keyword(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text(STANDARD_SCHEMA_SPEC.replace("required: [email]", "require: [email]"), encoding="utf-8")
    code, stdout, stderr = _run(["validate", str(spec)], capsys)
    assert code == 0
    assert stderr == (
        f"{spec}:22:11: warning: unknown keyword 'require' is ignored, as JSON Schema says (did you mean 'required'?)\n"
    )
    assert "1 spec file valid" in stdout
