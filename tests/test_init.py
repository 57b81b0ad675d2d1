"""`kastor init`: what it writes, that the starter project generates a package passing mypy --strict, and that
every refusal names the file and writes nothing."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from generator.spec_model import spec_json_schema

from .support import read_tree, run_cli

HOOK = {
    "id": "kastor-check",
    "name": "kastor check (generated code is fresh)",
    "entry": "kastor check",
    "language": "system",
    "pass_filenames": False,
}


def project_directory(tmp_path: Path, name: str = "shop") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory


def snapshot(directory: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every file with its bytes and every directory: what a refusal must leave as it was."""
    directories = sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_dir())
    return read_tree(directory), directories


def assert_refused(directory: Path, arguments: list[str], message: str) -> None:
    before = snapshot(directory)
    result = run_cli("init", *arguments, cwd=directory)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(directory) == before


def test_init_writes_the_starter_project_in_the_current_directory(tmp_path: Path) -> None:
    project = project_directory(tmp_path, "My-Shop")
    result = run_cli("init", cwd=project)
    assert result.code == 0, result.stderr
    assert sorted(read_tree(project)) == [
        ".gitattributes",
        ".pre-commit-config.yaml",
        "pyproject.toml",
        "specs/kastor.schema.json",
        "specs/my_shop.yaml",
    ]
    spec = (project / "specs" / "my_shop.yaml").read_text()
    assert spec.startswith("# yaml-language-server: $schema=kastor.schema.json\n")
    assert yaml.safe_load(spec)["package"] == "my_shop"
    assert json.loads((project / "specs" / "kastor.schema.json").read_text()) == spec_json_schema()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["kastor"] == {"specs": ["specs/*.yaml"], "output": "src"}
    assert pyproject["project"]["name"] == "my_shop"
    assert (project / ".gitattributes").read_text() == "src/my_shop/** linguist-generated=true\n"
    pre_commit = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert pre_commit == {"repos": [{"repo": "local", "hooks": [HOOK]}]}
    for written in ("specs/my_shop.yaml: created", "pyproject.toml: created", ".pre-commit-config.yaml: created"):
        assert written in result.stdout
    assert "kastor generate" in result.stdout
    assert "my_shop.TasksReducer" in result.stdout and "on_task_created" in result.stdout


def test_init_creates_a_missing_directory(tmp_path: Path) -> None:
    result = run_cli("init", "new/project", "--package", "billing", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert (tmp_path / "new" / "project" / "specs" / "billing.yaml").is_file()
    assert "new/project/specs/billing.yaml: created" in result.stdout
    assert "cd new/project && kastor generate" in result.stdout


def test_the_initialized_project_generates_a_package_that_passes_mypy_strict_and_imports(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    assert run_cli("init", cwd=project).code == 0
    result = run_cli("generate", cwd=project)
    assert result.code == 0, result.stderr
    assert "src/shop: " in result.stdout
    assert run_cli("check", cwd=project).code == 0
    # The reducer a user writes next, as the printed next steps describe it.
    app = project / "src" / "shop_app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "reducers.py").write_text(
        "from shop import Task, TaskCompleted, TaskCreated, TasksReducer\n\n\n"
        "class Tasks(TasksReducer):\n"
        "    def on_task_created(self, event: TaskCreated) -> Task:\n"
        "        return Task(title=event.payload.title, priority=event.payload.priority, done=False)\n\n"
        "    def on_task_completed(self, aggregate: Task, event: TaskCompleted) -> Task:\n"
        '        return aggregate.model_copy(update={"done": True})\n'
    )
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy-cache"), "shop", "shop_app"],
        cwd=project / "src",
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    program = (
        "from shop import TaskCreated, TaskCreatedPayload\n"
        "from shop_app.reducers import Tasks\n"
        "payload = TaskCreatedPayload(title='Write', priority='high')\n"
        "event = TaskCreated(aggregate_id='t-1', version=1, payload=payload)\n"
        "print(Tasks().fold([event]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=project / "src", capture_output=True, text=True, check=False, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "title='Write'" in run.stdout


def test_the_package_name_is_derived_from_the_directory_or_given(tmp_path: Path) -> None:
    project = project_directory(tmp_path, "2024 Order--Service")
    assert_refused(project, [], "cannot derive a package name from the directory name '2024 Order--Service'")
    result = run_cli("init", "--package", "orders", cwd=project)
    assert result.code == 0, result.stderr
    assert (project / "specs" / "orders.yaml").is_file()


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ("Orders", "package name 'Orders' is not a lower_snake Python identifier"),
        ("order__lines", "package name 'order__lines' is not a lower_snake Python identifier"),
        ("class", "package name 'class' is a Python keyword or builtin"),
        ("json", "package name 'json' would shadow the module 'json'"),
        ("pydantic", "package name 'pydantic' would shadow the module 'pydantic'"),
        ("a" * 201, "package name is too long"),
    ],
)
def test_an_invalid_package_name_is_refused(tmp_path: Path, package: str, message: str) -> None:
    assert_refused(project_directory(tmp_path), ["--package", package], message)


def test_a_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    assert_refused(tmp_path, ["taken"], "taken: not a directory")


@pytest.mark.parametrize("existing", ["specs/shop.yaml", "specs/kastor.schema.json"])
def test_an_existing_spec_or_schema_is_never_overwritten(tmp_path: Path, existing: str) -> None:
    project = project_directory(tmp_path)
    (project / existing).parent.mkdir()
    (project / existing).write_text("mine\n")
    assert_refused(project, [], f"{existing} already exists")


def test_an_existing_pyproject_gets_the_section_appended_and_nothing_else_changes(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    original = '[project]\nname = "shop"  # my comment\n\n[tool.ruff]\nline-length = 100'  # no final newline
    (project / "pyproject.toml").write_text(original)
    result = run_cli("init", cwd=project)
    assert result.code == 0, result.stderr
    assert "pyproject.toml: [tool.kastor] appended" in result.stdout
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(original + "\n")
    document = tomllib.loads(text)
    assert document["tool"]["ruff"] == {"line-length": 100}
    assert document["tool"]["kastor"] == {"specs": ["specs/*.yaml"], "output": "src"}


@pytest.mark.parametrize(
    "ending",
    ["", "\n", "\n\n\n", "\n\n  \n", "\r\n", "\r\n\r\n\r\n"],
    ids=["no-newline", "one-newline", "blank-lines", "blank-lines-with-spaces", "crlf", "crlf-blank-lines"],
)
def test_the_appended_section_follows_exactly_one_blank_line(tmp_path: Path, ending: str) -> None:
    project = project_directory(tmp_path)
    newline = "\r\n" if "\r" in ending else "\n"
    content = f'[project]{newline}name = "shop"'
    (project / "pyproject.toml").write_bytes((content + ending).encode())
    assert run_cli("init", cwd=project).code == 0
    written = (project / "pyproject.toml").read_bytes().decode()
    assert written.startswith(f"{content}{newline}{newline}[tool.kastor]{newline}"), repr(written)


def test_a_pyproject_with_crlf_line_endings_keeps_them(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    (project / "pyproject.toml").write_bytes(b'[project]\r\nname = "shop"\r\n')
    assert run_cli("init", cwd=project).code == 0
    written = (project / "pyproject.toml").read_bytes()
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert b"[tool.kastor]\r\n" in written


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[tool.kastor]\nspecs = ["x.yaml"]\n', "pyproject.toml already has a [tool.kastor] section"),
        ("[project\n", "pyproject.toml: not valid TOML"),
        ("tool = {black = {}}\n", "pyproject.toml: cannot append [tool.kastor] safely"),
    ],
)
def test_a_pyproject_that_cannot_take_the_section_is_refused(tmp_path: Path, pyproject: str, message: str) -> None:
    project = project_directory(tmp_path)
    (project / "pyproject.toml").write_text(pyproject)
    assert_refused(project, [], message)


def test_the_gitattributes_line_is_appended_once(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    (project / ".gitattributes").write_text("*.png binary")  # no final newline
    assert run_cli("init", cwd=project).code == 0
    assert (project / ".gitattributes").read_text() == "*.png binary\nsrc/shop/** linguist-generated=true\n"

    again = project_directory(tmp_path, "again")
    (again / ".gitattributes").write_text("src/again/** linguist-generated=true\n*.png binary\n")
    result = run_cli("init", cwd=again)
    assert result.code == 0
    assert ".gitattributes: unchanged" in result.stdout
    assert (again / ".gitattributes").read_text() == "src/again/** linguist-generated=true\n*.png binary\n"


EXISTING_PRE_COMMIT = """\
# my hooks
repos:
- repo: https://github.com/astral-sh/ruff-pre-commit
  rev: v0.6.0
  hooks:
  - id: ruff   # lint
# the formatter comes later

default_stages: [pre-commit]
"""


def test_the_hook_is_added_to_an_existing_pre_commit_config(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    (project / ".pre-commit-config.yaml").write_text(EXISTING_PRE_COMMIT)
    result = run_cli("init", cwd=project)
    assert result.code == 0, result.stderr
    assert ".pre-commit-config.yaml: kastor check hook added to repos" in result.stdout
    text = (project / ".pre-commit-config.yaml").read_text()
    assert "  - id: ruff   # lint\n- repo: local\n" in text  # the comments stay where they were
    assert text.endswith("# the formatter comes later\n\ndefault_stages: [pre-commit]\n")
    config = yaml.safe_load(text)
    assert config == {
        "repos": [
            yaml.safe_load(EXISTING_PRE_COMMIT)["repos"][0],
            {"repo": "local", "hooks": [HOOK]},
        ],
        "default_stages": ["pre-commit"],
    }


def test_an_existing_kastor_hook_is_left_as_it_is(tmp_path: Path) -> None:
    project = project_directory(tmp_path)
    config = "repos:\n  - repo: local\n    hooks:\n      - {id: gen, entry: kastor check, language: system}\n"
    (project / ".pre-commit-config.yaml").write_text(config)
    result = run_cli("init", cwd=project)
    assert result.code == 0, result.stderr
    assert ".pre-commit-config.yaml: unchanged" in result.stdout
    assert (project / ".pre-commit-config.yaml").read_text() == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("repos: [{repo: local, hooks: []}]\n", "no block-style top-level `repos:` list"),
        ("repos: {}\n", "expected a mapping with a `repos:` list"),
        ("- not a mapping\n", "expected a mapping with a `repos:` list"),
        ("repos:\n  - repo: x\n  bad: [\n", ".pre-commit-config.yaml: not valid YAML"),
    ],
)
def test_a_pre_commit_config_that_cannot_take_the_hook_safely_is_refused(
    tmp_path: Path, config: str, message: str
) -> None:
    project = project_directory(tmp_path)
    (project / ".pre-commit-config.yaml").write_text(config)
    assert_refused(project, [], message)


def test_init_has_help() -> None:
    result = run_cli("init", "--help")
    assert result.code == 0
    assert "usage: kastor init" in result.stdout and "--package NAME" in result.stdout
