"""Lays the intermediate model out as source files: templates for our modules, the runtime copied."""

from dataclasses import dataclass
from importlib.resources.abc import Traversable

import jinja2

from .ir import PackageModel
from .model_ir import build_models_module
from .template_files import RUNTIME, TEMPLATES, public_names

_MODULE_TEMPLATES = {
    "events.py": "events.py.jinja",
    "schemas.py": "schemas.py.jinja",
    "reducers.py": "reducers.py.jinja",
    "stores.py": "stores.py.jinja",
    "messages.py": "messages.py.jinja",
    "channels.py": "channels.py.jinja",
    "connections.py": "connections.py.jinja",
    "__init__.py": "__init__.py.jinja",
}


@dataclass(frozen=True)
class RootExports:
    """What the package root re-exports: the generated names and the runtime's public names."""

    runtime: tuple[str, ...]
    all: tuple[str, ...]


_RUNTIME_DIRECTORY = "runtime/"


def render_package(package: PackageModel) -> dict[str, str]:
    """The package's files, by path relative to the package directory (before formatting)."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    runtime_files = _runtime_files(package.header)
    runtime_exports = public_names(runtime_files[f"{_RUNTIME_DIRECTORY}__init__.py"])
    generated = tuple(name for module in package.exports for name in module.names)
    root = RootExports(runtime=runtime_exports, all=tuple(sorted(generated + runtime_exports, key=export_order)))
    files = {
        path: environment.get_template(template).render(package=package, root=root)
        for path, template in _MODULE_TEMPLATES.items()
    }
    files["models.py"] = environment.get_template("models.py.jinja").render(module=build_models_module(package))
    files["py.typed"] = ""
    files.update(runtime_files)
    return files


def export_order(name: str) -> tuple[int, str]:
    """isort's order for `__all__`: constants, then classes, then the rest."""
    rank = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return rank, name


def _load_template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def is_runtime_path(path: str) -> bool:
    """Whether a file of the package is a runtime module, copied verbatim (after its header)."""
    return path.startswith(_RUNTIME_DIRECTORY)


def _runtime_files(header: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for entry in sorted(RUNTIME.iterdir(), key=lambda item: item.name):
        if _is_runtime_module(entry):
            files[f"{_RUNTIME_DIRECTORY}{entry.name}"] = f"{header}\n{entry.read_text(encoding='utf-8')}"
    return files


def _is_runtime_module(entry: Traversable) -> bool:
    return entry.is_file() and entry.name.endswith(".py")
