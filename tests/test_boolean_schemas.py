"""Boolean schemas (`true`: any value, `false`: none), which JSON Schema allows wherever a schema stands: as a
property, an anyOf member, an item. Found by the spec fuzz harness: generate, docs and export raised on them."""

from pathlib import Path

from .support import run_cli, run_mypy_strict

SPEC = """\
kastor: 1
package: booleans
event_stores:
  things:
    aggregate:
      name: Thing
      schema:
        type: object
        properties:
          anything: true
          nothing: false
          either: {anyOf: [true, {type: string}]}
          maybe: {anyOf: [false, {type: "null"}]}
          pair: {type: array, items: [true, false]}
        required: [anything]
    events:
      THING_MADE:
        initial: true
        payload: {type: object, properties: {anything: true, nothing: false}}
channels:
  bus: {kind: bus, message: state-carrying, sources: [things]}
connections: [{store: things, channel: bus}]
"""


def test_boolean_schemas_generate_code_that_type_checks(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")

    result = run_cli("generate", str(spec), "-o", "out", cwd=tmp_path)

    assert result.code == 0, result.stderr
    completed = run_mypy_strict(tmp_path / "out", ["booleans"], tmp_path / "mypy")
    assert completed.returncode == 0, completed.stdout


def test_boolean_schemas_are_documented_and_exported(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")

    docs = run_cli("docs", str(spec), "-o", "docs", cwd=tmp_path)
    export = run_cli("export", "asyncapi", str(spec), cwd=tmp_path)

    assert (docs.code, export.code) == (0, 0), docs.stderr + export.stderr
    page = (tmp_path / "docs" / "booleans.md").read_text(encoding="utf-8")
    assert "| `anything` | any | yes |" in page and "| `nothing` | none | no |" in page
    assert "either" in export.stdout
