"""The documentation holds: every page is one hop from the README, its links resolve, the references name
every spec key and every runtime name, and the recipes run (and type-check) as written."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from generator import spec_model
from generator.template_files import runtime_public_names

from .support import REPO, run_cli

DOCS = REPO / "docs"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_OUTPUT_BLOCK = re.compile(r"^Output:\n\n```text\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
_HTML_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_FENCE = re.compile(r"^```.*?^```$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
#: A code block of the example of docs/diff.md, after the comment that names it (`main:PATH`, `edit`, `output`).
_KASTOR_NAME = re.compile(r"\bKASTOR_[A-Z0-9_]+")
#: The KASTOR_ names in the sources that are no environment variables, and what they are.
_NOT_VARIABLES = {"KASTOR_WALKTHROUGH_EOF": "the here-document delimiter of the script tests/test_walkthrough.py runs"}
_DIFF_EXAMPLE = re.compile(r"^<!-- diff example: (\S+) -->\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """Markdown without its code blocks and code spans, where links are only examples."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


_SPEC_MODELS: tuple[type[BaseModel], ...] = (
    spec_model.SpecFile,
    spec_model.EventStoreSpec,
    spec_model.AggregateSpec,
    spec_model.EventSpec,
    spec_model.ChannelSpec,
    spec_model.ConnectionSpec,
    spec_model.JsonSchema,
)


def doc_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def test_every_doc_page_is_linked_from_the_readme() -> None:
    readme_links = set(_LINK.findall((REPO / "README.md").read_text(encoding="utf-8")))
    linked = {link.split("#")[0] for link in readme_links}
    missing = [page.name for page in doc_pages() if f"docs/{page.name}" not in linked]
    assert missing == [], f"pages the README does not link to: {missing}"


@pytest.mark.parametrize("page", [REPO / "README.md", REPO / "benchmarks" / "README.md", *doc_pages()], ids=str)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for link in _LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", link):  # http:, https:, mailto:
            continue
        path_part, _, anchor = link.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page
        if not target.is_relative_to(REPO):  # the project's workspace around the repository (../shared/)
            continue
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(link)
    assert broken == [], f"{page.relative_to(REPO)}: broken links {broken}"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings, and its explicit `<a id="...">` anchors."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(heading) for heading in _HEADING.findall(text)} | set(_HTML_ANCHOR.findall(text))


def slug(heading: str) -> str:
    kept = "".join(char for char in heading.strip().lower() if char.isalnum() or char in " -_")
    return kept.replace(" ", "-")


def test_the_spec_reference_names_every_key() -> None:
    reference = (DOCS / "spec-reference.md").read_text(encoding="utf-8")
    keys = {field.alias or name for model in _SPEC_MODELS for name, field in model.model_fields.items()}
    missing = sorted(key for key in keys if f"`{key}`" not in reference)
    assert missing == [], f"spec keys docs/spec-reference.md does not describe: {missing}"


def test_the_runtime_reference_names_every_public_name() -> None:
    reference = (DOCS / "runtime-api.md").read_text(encoding="utf-8")
    missing = sorted(name for name in runtime_public_names() if f"`{name}`" not in reference)
    assert missing == [], f"runtime names docs/runtime-api.md does not list: {missing}"


def test_the_readme_documents_every_environment_variable() -> None:
    sources = [*REPO.glob("docs/images/*.sh")]
    for directory in ("tests", "benchmarks", "demo", "generator"):
        sources.extend(path for path in (REPO / directory).rglob("*") if path.suffix in {".py", ".sh"})
    names = {name for path in sources for name in _KASTOR_NAME.findall(path.read_text(encoding="utf-8"))}
    # A name ending in "_" is the prefix of a family written with a wildcard, whose members are named too.
    variables = {name for name in names if not name.endswith("_")} - set(_NOT_VARIABLES)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    development = readme.partition("\n## Development\n")[2].partition("\n## ")[0]
    missing = sorted(name for name in variables if f"`{name}`" not in development)
    assert missing == [], f"environment variables the Development section of README.md does not list: {missing}"


@pytest.mark.slow
def test_the_recipes_run_as_written_and_type_check(tmp_path: Path) -> None:
    text = (DOCS / "recipes.md").read_text(encoding="utf-8")
    program = tmp_path / "recipes.py"
    program.write_text("\n\n".join(_PYTHON_BLOCK.findall(text)), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO / "generated_examples")}
    completed = subprocess.run(
        [sys.executable, str(program)], cwd=tmp_path, env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    (expected,) = _OUTPUT_BLOCK.findall(text)
    assert completed.stdout == expected
    mypy = [sys.executable, "-m", "mypy", "--strict", "--config-file", os.devnull]
    checked = subprocess.run(
        [*mypy, "--cache-dir", str(tmp_path / "cache"), str(program)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout


def test_the_diff_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    # The page's files are committed on `main`, its edit is applied to the work tree, and its command must
    # print its output: the page cannot drift from what `kastor diff` says.
    blocks = dict(_DIFF_EXAMPLE.findall((DOCS / "diff.md").read_text(encoding="utf-8")))
    committed = {name.removeprefix("main:"): text for name, text in blocks.items() if name.startswith("main:")}
    assert committed and {"edit", "output"} <= set(blocks), f"docs/diff.md example blocks: {sorted(blocks)}"
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    for relative_path, text in committed.items():
        (tmp_path / relative_path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative_path).write_text(text, encoding="utf-8")
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the example"], cwd=tmp_path, check=True)
    subprocess.run([*git, "apply"], cwd=tmp_path, input=blocks["edit"], text=True, check=True)
    command, _, expected = blocks["output"].partition("\n")
    assert command.startswith("$ kastor "), command
    result = run_cli(*shlex.split(command.removeprefix("$ kastor ")), cwd=tmp_path)
    assert result.code != 2, result.stderr
    assert result.stdout == expected
