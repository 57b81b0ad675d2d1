"""`kastor docs`: the committed documents are what it writes, its output is deterministic, bad input gets one
clear line and exit 2, hostile text in a spec cannot break the Markdown, and the Mermaid diagram is accepted
by Mermaid's own parser (the mermaid CLI, a service test: it skips when the tool is missing, and fails
instead under KASTOR_REQUIRE_SERVICES=1, as in CI)."""

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from generator import markdown

from .support import REPO, SPECS, run_cli

DOCS = REPO / "docs" / "spec"
EXAMPLES = ("pokedex", "bookshop")
INSTALL_SCRIPT = REPO / "docs" / "images" / "install-mermaid-cli.sh"
DIAGRAM_IMAGE = REPO / "docs" / "images" / "pokedex-diagram.svg"

# CommonMark with GitHub's tables and strikethrough: what GitHub renders, as far as escaping is concerned.
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# The tags the documents may produce; anything else would have come from a spec's text.
ALLOWED_TAGS = {
    *("a", "br", "code", "em", "hr", "li", "p", "pre", "strong", "ul"),
    *("h1", "h2", "h3", "h4", "h5", "table", "tbody", "td", "th", "thead", "tr"),
}

HOSTILE_TEXT = (
    "Pipes | and `ticks` and ``double`` <script>alert(1)</script> &amp; *em* _em_ ~~gone~~ [link](https://x.test)\n"
    "# Not a heading\n"
    "- not a list\n"
    "    not code\n"
    "> not a quote\n"
    "1. not a list either\n"
    "===\n"
    "a NUL \x00 and a line separator \u2028 end \\"
)
HOSTILE_SPEC = {
    "kastor": 1,
    "package": "hostile",
    "description": HOSTILE_TEXT,
    "definitions": {
        "Tricky": {
            "type": "string",
            "enum": ["a|b", "`tick`", "<b>bold</b>", "line\nbreak"],
            "description": HOSTILE_TEXT,
        }
    },
    "event_stores": {
        "things": {
            "description": HOSTILE_TEXT,
            "aggregate": {
                "name": "Thing",
                "description": HOSTILE_TEXT,
                "schema": {
                    "type": "object",
                    "properties": {
                        "we|ird`name": {
                            "type": "string",
                            "title": "A | title",
                            "description": HOSTILE_TEXT,
                            "default": "x|`y`\n<i>",
                            "pattern": "^(a|b)`$",
                        },
                        "tricky": {"$ref": "#/definitions/Tricky"},
                    },
                },
            },
            "events": {
                "THING_MADE": {
                    "initial": True,
                    "description": HOSTILE_TEXT,
                    "payload": {
                        "type": "object",
                        "description": HOSTILE_TEXT,
                        "properties": {
                            "nested": {
                                "type": "object",
                                "properties": {"<img src=x onerror=alert(1)>": {"type": "integer"}},
                            }
                        },
                    },
                },
            },
        }
    },
    "channels": {
        "thing_bus": {"kind": "bus", "message": "notification", "sources": ["things"], "description": HOSTILE_TEXT}
    },
    "connections": [{"store": "things", "channel": "thing_bus"}],
}


def write_spec(path: Path, spec: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def docs_of(*specs: Path | str, cwd: Path = REPO) -> str:
    result = run_cli("docs", *map(str, specs), "-o", "-", cwd=cwd)
    assert result.code == 0, result.stderr
    return result.stdout


# --- the committed documents -----------------------------------------------------------------------------


@pytest.mark.parametrize("package", EXAMPLES)
def test_committed_docs_are_what_kastor_docs_writes(package: str, tmp_path: Path) -> None:
    result = run_cli("docs", str(SPECS / f"{package}.yaml"), "-o", str(tmp_path))
    assert result.code == 0, result.stderr
    written = (tmp_path / f"{package}.md").read_text(encoding="utf-8")
    committed = (DOCS / f"{package}.md").read_text(encoding="utf-8")
    assert written == committed, f"docs/spec/{package}.md is stale: run `kastor docs` and commit it"


def test_without_arguments_the_project_specs_go_to_docs_spec_under_the_project_root(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    shutil.copy(SPECS / "pokedex.yaml", project / "specs" / "pokedex.yaml")
    (project / "pyproject.toml").write_text('[tool.kastor]\nspecs = ["specs/*.yaml"]\n')
    (project / "sub").mkdir()

    result = run_cli("docs", cwd=project / "sub")

    assert result.code == 0, result.stderr
    assert result.stdout == "../docs/spec/pokedex.md: written\n"
    assert (project / "docs" / "spec" / "pokedex.md").read_bytes() == (DOCS / "pokedex.md").read_bytes()
    assert run_cli("docs", cwd=project).stdout == "docs/spec/pokedex.md: unchanged\n"


def test_stdout_holds_every_package_in_name_order() -> None:
    printed = docs_of(SPECS / "pokedex.yaml", SPECS / "bookshop.yaml")
    committed = [(DOCS / f"{package}.md").read_text(encoding="utf-8") for package in sorted(EXAMPLES)]
    assert printed == "\n".join(committed)


def test_the_pokedex_document_holds_its_diagram_and_sections() -> None:
    document = (DOCS / "pokedex.md").read_text(encoding="utf-8")
    diagram = document.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert diagram.startswith("flowchart LR\n")
    assert 'store_pokemons -->|"state-carrying"| channel_app_message_bus' in diagram
    assert 'store_pokemons -->|"notification"| channel_pokemon_notifications_queue' in diagram
    assert 'store_trainers -.->|"source, not connected"| channel_aggregate_ids_bus' in diagram
    assert 'channel_pokemon_notifications_queue[/"pokemon_notifications_queue<br/>queue of' in diagram
    assert "| `level` | [`Level`](#definition-Level) | yes |  |  |" in document
    appeared = "| [`POKEMON_APPEARED`](#event-POKEMON_APPEARED) | `PokemonAppeared` | yes | `PokemonAppearedPayload` |"
    assert appeared in document
    assert "- Message classes: `PokemonsStateCarryingMessage`, `TrainersStateCarryingMessage`" in document


def test_bookshop_tables_show_nested_objects_arrays_refs_and_constraints() -> None:
    document = (DOCS / "bookshop.md").read_text(encoding="utf-8")
    for row in (
        "| `delivery_address.country` | string | yes | ISO 3166-1 alpha-2 code. | min length 2; max length 2 |",
        "| `parcels[].isbns` | array of [`Isbn`](#definition-Isbn) | yes |  | unique items |",
        "| `gift_note` | string or null | no |  | string: max length 500 |",
        "| `comment` | string or null | no |  | default `null` |",
        "| `paid_at` | string (date-time) or null | yes |  |  |",
        "| `quantity` | integer | no |  | ≥ 1; default `1` |",
    ):
        assert row in document
    assert "| array of [`OrderLine`](#definition-OrderLine) | min items 1 | aggregate of [`orders`]" in document


@pytest.mark.parametrize("package", EXAMPLES)
def test_every_link_points_to_an_anchor_of_the_document(package: str) -> None:
    document = (DOCS / f"{package}.md").read_text(encoding="utf-8")
    rendered = RENDERER.render(document)
    targets = set(re.findall(r'href="#([^"]+)"', rendered))
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', document))
    assert targets and targets <= anchors
    assert not re.findall(r'href="(?!#)', rendered)


def test_the_committed_diagram_image_shows_the_pokedex() -> None:
    image = DIAGRAM_IMAGE.read_text(encoding="utf-8")
    assert image.startswith("<svg")
    for name in ("pokemons", "trainers", "app_message_bus", "pokemon_notifications_queue", "aggregate_ids_bus"):
        assert name in image, f"{name} is missing from {DIAGRAM_IMAGE.name}: run `bash docs/images/render.sh`"


# --- determinism -------------------------------------------------------------------------------------------


def test_output_depends_neither_on_spec_order_nor_on_the_working_directory(tmp_path: Path) -> None:
    pokedex = yaml.safe_load((SPECS / "pokedex.yaml").read_text())
    first = {key: pokedex[key] for key in ("kastor", "package", "description", "definitions")}
    first["event_stores"] = {"pokemons": pokedex["event_stores"]["pokemons"]}
    second = {"kastor": 1, "package": "pokedex", "event_stores": {"trainers": pokedex["event_stores"]["trainers"]}}
    second |= {"channels": pokedex["channels"], "connections": list(reversed(pokedex["connections"]))}
    (tmp_path / ".git").mkdir()  # the project root, from which spec paths are named
    a, b = write_spec(tmp_path / "a.yaml", first), write_spec(tmp_path / "b.yaml", second)
    bookshop = SPECS / "bookshop.yaml"

    outputs = {
        docs_of(a, b, bookshop),
        docs_of(bookshop, b, a),
        docs_of("b.yaml", "a.yaml", bookshop, cwd=tmp_path),
        docs_of(os.path.relpath(a, REPO / "docs"), b, bookshop, cwd=REPO / "docs"),
    }

    assert len(outputs) == 1
    assert "from `a.yaml`, `b.yaml`" in outputs.pop()


def test_hostile_output_is_deterministic(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "hostile.yaml", HOSTILE_SPEC)
    assert docs_of(spec) == docs_of("hostile.yaml", cwd=tmp_path)


# --- bad input ---------------------------------------------------------------------------------------------


def test_an_invalid_spec_gets_located_errors_exit_2_and_nothing_written(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(
        "kastor: 1\npackage: broken\nevent_stores:\n  things:\n    aggregate: {name: Thing, schema: {type: object}}\n"
        "    events:\n      THING_MADE: {payloads: {}}\n"
        "channels:\n  bus: {kind: hub, message: notification, sources: []}\n"
    )
    out = tmp_path / "out"

    result = run_cli("docs", str(spec), "-o", str(out))

    assert result.code == 2
    lines = result.stderr.splitlines()
    assert any(re.match(rf"{re.escape(str(spec))}:7:\d+: unknown key 'payloads'", line) for line in lines), lines
    assert any(re.match(rf"{re.escape(str(spec))}:9:\d+: .*'hub'", line) for line in lines), lines
    assert lines[-1].startswith("kastor: 2 problems found")
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_missing_spec_is_reported_with_its_path(tmp_path: Path) -> None:
    result = run_cli("docs", str(tmp_path / "nowhere.yaml"), "-o", "-")
    assert result.code == 2
    assert result.stderr.startswith(f"{tmp_path / 'nowhere.yaml'}:1:1: file not found\n")


def test_an_output_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("mine")

    result = run_cli("docs", str(SPECS / "pokedex.yaml"), "-o", str(occupied))

    assert result.code == 2
    assert result.stderr == (
        f"kastor: cannot write the documentation: '{os.path.relpath(occupied, REPO)}' exists and is not a directory\n"
    )
    assert occupied.read_text() == "mine"


def test_an_output_that_cannot_be_created_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine")

    result = run_cli("docs", str(SPECS / "pokedex.yaml"), "-o", str(tmp_path / "file" / "docs"))

    assert result.code == 2
    assert result.stderr.startswith("kastor: cannot create the directory '")
    assert result.stderr.endswith("': Not a directory\n")
    assert result.stderr.count("\n") == 1


def test_a_document_that_cannot_be_replaced_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "pokedex.md").mkdir()  # a directory where the document goes: the rename fails

    result = run_cli("docs", str(SPECS / "pokedex.yaml"), "-o", str(tmp_path))

    assert result.code == 2
    assert result.stderr.startswith("kastor: cannot ")
    assert "pokedex.md" in result.stderr and result.stderr.count("\n") == 1
    assert [path.name for path in tmp_path.iterdir()] == ["pokedex.md"]  # no temporary file left


def test_without_a_project_the_output_must_be_given(tmp_path: Path) -> None:
    spec = shutil.copy(SPECS / "pokedex.yaml", tmp_path / "pokedex.yaml")
    result = run_cli("docs", str(spec), cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("kastor: no output directory: pass -o DIR (or -o - to print)")


# --- escaping ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_document(tmp_path_factory: pytest.TempPathFactory) -> str:
    spec = write_spec(tmp_path_factory.mktemp("hostile") / "hostile.yaml", HOSTILE_SPEC)
    return docs_of(spec)


def test_hostile_text_produces_no_tag_heading_list_quote_or_code_block(hostile_document: str) -> None:
    rendered = RENDERER.render(hostile_document)
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", rendered))
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert rendered.count("<pre>") == 1  # the Mermaid block only
    assert rendered.count("<em>") == 1  # the footer only
    headings = re.findall(r"<h\d>(.*?)</h\d>", rendered)
    assert headings == [
        "Package <code>hostile</code>",
        "Overview",
        "Event stores",
        "Event store <code>things</code>",
        "Aggregate <code>Thing</code>",
        "Metadata",
        "Events",
        "<code>THING_MADE</code>",
        "Definitions",
        "<code>Tricky</code>",
        "Channels",
        "Channel <code>thing_bus</code>",
    ]


def test_hostile_text_reads_back_as_written(hostile_document: str) -> None:
    rendered = RENDERER.render(hostile_document)
    shown = markdown.visible(HOSTILE_TEXT)
    # Paragraphs keep each line, in prose; a table cell joins them with <br>.
    paragraph = "\n".join(_html(line.strip()) for line in shown.split("\n"))
    cell = "<br>".join(_html(line.strip()) for line in shown.split("\n"))
    # The package, store, aggregate, event, payload, definition and channel descriptions.
    assert rendered.count(f"<p>{paragraph}</p>") == 7
    assert f"<td>{cell}</td>" in rendered  # the event's row
    assert f"<td><strong>A | title.</strong> {cell}</td>" in rendered  # the aggregate field's row


def test_hostile_values_and_names_stay_in_their_cells(hostile_document: str) -> None:
    rendered = RENDERER.render(hostile_document)
    default = _html(json.dumps("x|`y`\n<i>"))
    row = (
        "<tr>\n<td><code>we|ird`name</code></td>\n<td>string</td>\n<td>no</td>\n"
        f"<td><strong>A | title.</strong> {_cell_of(HOSTILE_TEXT)}</td>\n"
        f"<td>matches <code>^(a|b)`$</code>; default <code>{default}</code></td>\n"
        "</tr>"
    )
    assert row in rendered
    assert "<code>nested.&lt;img src=x onerror=alert(1)&gt;</code>" in rendered
    enum = ", ".join(f"<code>{_html(json.dumps(value))}</code>" for value in ["a|b", "`tick`", "<b>bold</b>"])
    assert f"<td>one of {enum}, <code>&quot;line\\nbreak&quot;</code></td>" in rendered
    for table in re.findall(r"^\|.*\|$(?:\n^\|.*\|$)+", hostile_document, flags=re.MULTILINE):
        widths = {len(_cells(line)) for line in table.split("\n")}
        assert len(widths) == 1, table


def _html(text: str) -> str:
    """Text as markdown-it writes it in HTML (it escapes double quotes, not single ones)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def _cell_of(text: str) -> str:
    return "<br>".join(_html(line.strip()) for line in markdown.visible(text).split("\n"))


def _cells(row: str) -> list[str]:
    """The cells of a table row as GitHub splits them: at every `|` that no backslash escapes."""
    return re.split(r"(?<!\\)\|", re.sub(r"\\\\", "", row))[1:-1]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("plain", "`plain`"),
        ("a`b", "``a`b``"),
        ("`edge`", "`` `edge` ``"),
        ("``", "``` `` ```"),
        (" padded ", "`  padded  `"),
        ("a|b", "`a\\|b`"),
        ("two\nlines", "`two\\nlines`"),
        ("", "` `"),
    ],
)
def test_code_spans_show_any_text_on_one_line(text: str, span: str) -> None:
    assert markdown.code(text) == span
    rendered = RENDERER.render(f"| x |\n|---|\n| {span} |\n")
    expected = _html(text.replace("\n", "\\n"))
    assert f"<td><code>{expected or ' '}</code></td>" in rendered


# --- Mermaid, checked by Mermaid's own parser --------------------------------------------------------------


def _mermaid_tools() -> tuple[Path, Path]:
    """(mmdc, Chromium) as `docs/images/install-mermaid-cli.sh` installs them, or a skip saying how to."""
    version = re.search(r"^version=(\S+)$", INSTALL_SCRIPT.read_text(), flags=re.MULTILINE)
    assert version is not None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = Path(os.environ.get("KASTOR_MERMAID_DIR") or cache / "kastor" / f"mermaid-cli-{version.group(1)}")
    mmdc = os.environ.get("KASTOR_MMDC") or str(directory / "node_modules" / ".bin" / "mmdc")
    chromium = os.environ.get("KASTOR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not Path(mmdc).is_file() or chromium is None:
        pytest.skip(
            "the mermaid CLI or Chromium is missing: run `bash docs/images/install-mermaid-cli.sh` (needs npm; "
            "installs Chromium with apt-get as root), or set KASTOR_MMDC and KASTOR_CHROMIUM"
        )
    return Path(mmdc), Path(chromium)


def _render_with_mmdc(markdown_text: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """Runs mmdc on a Markdown file: it parses and renders each ```mermaid block to `out-<n>.svg`."""
    mmdc, chromium = _mermaid_tools()
    config = directory / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": str(chromium), "args": ["--no-sandbox"]}))
    (directory / "in.md").write_text(markdown_text, encoding="utf-8")
    command = [str(mmdc), "--quiet", "-p", str(config), "-i", "in.md", "-o", "out.md"]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.service
def test_mermaid_parses_and_renders_every_diagram(tmp_path: Path, hostile_document: str) -> None:
    documents = [(DOCS / f"{package}.md").read_text(encoding="utf-8") for package in EXAMPLES]
    result = _render_with_mmdc("\n".join([*documents, hostile_document]), tmp_path)
    assert result.returncode == 0, result.stderr
    for number in (1, 2, 3):
        assert "<svg" in (tmp_path / f"out-{number}.svg").read_text(encoding="utf-8")


@pytest.mark.service
def test_the_mermaid_check_rejects_a_broken_diagram(tmp_path: Path) -> None:
    # The control: what the test above relies on, mmdc failing on a diagram Mermaid cannot parse.
    result = _render_with_mmdc('```mermaid\nflowchart LR\n    a[("unclosed" --> b\n```\n', tmp_path)
    assert result.returncode != 0
    assert "Parse error" in result.stderr
