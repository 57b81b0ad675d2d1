"""How generated code writes a union of types."""

from collections.abc import Sequence

#: Up to this many members a union is written `A | B | C`, as people write it. `|` is a binary operator, so a
#: union of n members is a syntax tree n levels deep, and tools that walk it recursively run out of stack on
#: long ones (ruff overflowed on a store of 2,000 event types); `Union[A, B, ...]` is one flat level.
#: Passing the limit rewrites the union's lines once, so it stands well above what stores usually hold, and
#: below what ruff, mypy and pyright were seen to handle (stores of 333 event types in the benchmarks).
MAX_OPERATOR_UNION = 300


def union_of(members: Sequence[str]) -> str:
    """The union of `members` (type expressions), in their order: `A | B`, or `Union[A, B, ...]` when long
    (generated modules that may hold one import `Union` from typing; ruff drops the import where unused)."""
    if len(members) <= MAX_OPERATOR_UNION:
        return " | ".join(members)
    return f"Union[{', '.join(members)}]"


def needs_union_import(members: Sequence[str]) -> bool:
    return len(members) > MAX_OPERATOR_UNION
