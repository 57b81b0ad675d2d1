"""Name rules and case conversions: the one place that decides what a spec name becomes in Python."""

import builtins
import keyword
import re
import sys

from .template_files import imported_modules, runtime_public_names

# `\Z`, not `$`: `$` also matches before a final newline, which would let "pokemons\n" through.
LOWER_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\Z")
PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")

#: Event types that Castore's channels use for their own messages.
RESERVED_EVENT_TYPES = frozenset({"__REPLAYED__", "__AGGREGATE_EXISTS__"})

#: Names that generated modules import or that the runtime exports: a spec name may not shadow them.
RESERVED_CLASS_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "AnyUrl",
        "Awaitable",
        "AwareDatetime",
        "BaseModel",
        "Callable",
        "ClassVar",
        "ConfigDict",
        "Field",
        "Literal",
        "TypeAdapter",
        "TypeAlias",
        "TypeAliasType",
        "TypeVar",
        "UUID",
        "UTC",
    }
) | frozenset(runtime_public_names())

#: Channel ids become keyword parameters of the generated connect functions, beside these.
RESERVED_CHANNEL_IDS = frozenset({"event_store"})

PYTHON_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def pascal_from_snake(name: str) -> str:
    """`pokemons` → `Pokemons`, `POKEMON_APPEARED` → `PokemonAppeared`, `app_message_bus` → `AppMessageBus`."""
    return "".join(part[:1].upper() + part[1:].lower() for part in name.split("_") if part)


def pascal_from_property(name: str) -> str:
    """A property name as a class-name part: `home_address` → `HomeAddress`, `first-name` → `FirstName`."""
    parts = re.split(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])", name)
    pascal = "".join(part[:1].upper() + part[1:] for part in parts if part)
    return pascal if pascal and not pascal[0].isdigit() else f"Field{pascal}"


def snake_from_upper(name: str) -> str:
    """`POKEMON_APPEARED` → `pokemon_appeared` (reducer hook names)."""
    return name.lower()


def shadows_python(name: str) -> bool:
    return name in PYTHON_NAMES


#: What pydantic itself imports at run time (a package of one of these names would break pydantic), and
#: Kastor's own package (`kastor` run beside it would import the generated package instead).
_ALSO_SHADOWED = frozenset({"annotated_types", "pydantic_core", "typing_extensions", "typing_inspection", "generator"})


def shadowed_module(package: str) -> str | None:
    """What a top-level package of this name would be imported in place of, or None: a module that generated
    code, pydantic or Kastor imports, or any module of the standard library (which user code imports too)."""
    if package in imported_modules() or package in _ALSO_SHADOWED:
        return f"the module '{package}' that generated code imports"
    if package in sys.stdlib_module_names:
        return f"the standard library's module '{package}'"
    return None
