"""Name rules and case conversions: the one place that decides what a spec name becomes in Python."""

import builtins
import keyword
import re

from .template_files import runtime_public_names

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
