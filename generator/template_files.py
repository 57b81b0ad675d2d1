"""Where the templates and the runtime sources are, and what the runtime exports (read, never imported)."""

import ast
import importlib.util
import re
import sys
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType


def _templates_root() -> Traversable:
    # A source checkout (and an editable install) reads templates/ beside generator/; a built wheel
    # carries them inside the package as generator/templates.
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if (checkout / "events.py.jinja").is_file():
        return checkout
    return resources.files("generator.templates")


TEMPLATES = _templates_root()
RUNTIME = TEMPLATES / "runtime"


@cache
def runtime_public_names() -> tuple[str, ...]:
    """The `__all__` of the runtime, sorted."""
    return public_names((RUNTIME / "__init__.py").read_text(encoding="utf-8"))


def public_names(init_source: str) -> tuple[str, ...]:
    """The `__all__` of a module's source, sorted."""
    for node in ast.parse(init_source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            return tuple(sorted(value))
    raise RuntimeError("the runtime's __init__.py has no __all__")


def runtime_string_constant(module: str, name: str) -> str:
    """A module-level string constant of the runtime module `module` (a file name), read from its source."""
    source = (RUNTIME / module).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            assert node.value is not None
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise RuntimeError(f"the runtime's {module} has no string constant {name}")


@cache
def runtime_json_schema() -> ModuleType:
    """The runtime's JSON Schema validator (stdlib only), loaded from its source so that the generator can
    refuse, before anything is written, a schema the runtime could not check."""
    spec = importlib.util.spec_from_file_location("kastor_runtime_json_schema", str(RUNTIME / "json_schema.py"))
    if spec is None or spec.loader is None:
        raise RuntimeError("the runtime's json_schema.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


#: `from X import ...` or `import X` at the start of a line of a template (relative imports left out).
_TEMPLATE_IMPORT = re.compile(r"^\s*(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import\b|import\s+([A-Za-z_]\w*))", re.MULTILINE)


@cache
def imported_modules() -> frozenset[str]:
    """The top-level modules a generated package imports: those of its templates and of its runtime, including
    the runtime's optional drivers (loaded by `importlib.import_module("...")`). A package of the same name
    would be imported in their place."""
    names: set[str] = set()
    for template in TEMPLATES.iterdir():
        if template.name.endswith(".jinja"):
            for match in _TEMPLATE_IMPORT.finditer(template.read_text(encoding="utf-8")):
                names.add(match.group(1) or match.group(2))
    for module in RUNTIME.iterdir():
        if module.name.endswith(".py"):
            names.update(_imports_of(module.read_text(encoding="utf-8")))
    names.discard("__future__")
    return frozenset(names)


def _imports_of(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names
