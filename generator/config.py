"""The `[tool.kastor]` section of pyproject.toml: which specs to compile and where to write them."""

import tomllib
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """The `[tool.kastor]` section is malformed."""


@dataclass(frozen=True)
class ProjectConfig:
    root: Path
    specs: tuple[str, ...]
    output: str | None


def find_project_root(start: Path) -> Path | None:
    """The nearest directory, from `start` upwards, whose pyproject.toml has a `[tool.kastor]` section."""
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _kastor_section(pyproject) is not None:
            return directory
    return None


def load_config(root: Path) -> ProjectConfig:
    pyproject = root / "pyproject.toml"
    section = _kastor_section(pyproject) or {}
    unknown = sorted(set(section) - {"specs", "output"})
    if unknown:
        raise ConfigError(f"{pyproject}: [tool.kastor] has unknown keys: {', '.join(unknown)} (known: specs, output)")
    specs = section.get("specs", [])
    if not isinstance(specs, list) or not all(isinstance(item, str) for item in specs):
        raise ConfigError(f"{pyproject}: [tool.kastor] specs must be a list of paths or glob patterns")
    output = section.get("output")
    if output is not None and not isinstance(output, str):
        raise ConfigError(f"{pyproject}: [tool.kastor] output must be a path")
    return ProjectConfig(root, tuple(specs), output)


def _kastor_section(pyproject: Path) -> dict[str, object] | None:
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{pyproject}: cannot read it: {error}") from error
    tool = document.get("tool")
    section = tool.get("kastor") if isinstance(tool, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: [tool.kastor] must be a table")
    return section
