"""The base class of generated payload, metadata and definition models, and the markers their fields use.

A model is the typed view of a JSON object that its spec's JSON Schema describes. It holds exactly what it was
given, so that writing it back gives the same JSON: values are never coerced (`"1"` is no integer), a
property that was absent stays absent (defaults are applied on read, never written), `null` stays `null`,
strings (timestamps, URIs) are kept as the text they are, numbers keep their type, and properties the
schema does not declare are kept too (unless `additionalProperties: false`).
"""

from typing import Any, Literal, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema


class Model(BaseModel):
    """A generated model: immutable, strict (no coercion), keeping the properties it does not declare.

    `model_dump(mode="json", by_alias=True, exclude_unset=True)` gives back the JSON it was read from.
    """

    # python-re: JSON Schema's patterns are ECMA-262 regular expressions, much closer to Python's than to Rust's.
    model_config = ConfigDict(
        frozen=True,
        strict=True,
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        regex_engine="python-re",
    )


class _NotNull:
    """Marks an optional property that is not nullable: `Annotated[str | None, NotNull]`.

    Absent, the field reads as None (its default, never written); given as `null`, it is refused, as its
    schema says. The static type keeps `None`, which is what reading an absent property gives.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A default is not validated: only a value that is given meets the schema without `None`.
        return _without_null(handler(source))

    def __repr__(self) -> str:
        return "NotNull"


NotNull = _NotNull()


class _ExactLiteral:
    """Marks an enum or const whose values are numbers or booleans: `Annotated[Literal[1, 2], ExactLiteral]`.

    Python holds `True == 1` and `1 == 1.0`; JSON does not: `true` is not the number 1. The value must be
    of a JSON type that the literal's members have.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        members = _literal_members(source)
        has_bool = any(isinstance(member, bool) for member in members)
        has_number = any(
            isinstance(member, int | float) and not isinstance(member, bool) for member in members
        )

        def same_json_type(value: Any) -> Any:
            if (not has_bool and isinstance(value, bool)) or (
                not has_number and isinstance(value, int | float) and not isinstance(value, bool)
            ):
                expected = " or ".join(repr(member) for member in members)
                raise PydanticCustomError(
                    "literal_error", "Input should be {expected}", {"expected": expected}
                )
            return value

        return core_schema.no_info_before_validator_function(same_json_type, handler(source))

    def __repr__(self) -> str:
        return "ExactLiteral"


ExactLiteral = _ExactLiteral()


def _literal_members(annotation: Any) -> tuple[Any, ...]:
    """The values of the `Literal`s in an annotation (`Literal[1, 2] | None` gives 1 and 2)."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return tuple(member for argument in get_args(annotation) for member in _literal_members(argument))


def _without_null(schema: core_schema.CoreSchema) -> core_schema.CoreSchema:
    """The schema with its `nullable` wrapper removed, also below validators that wrap it (ExactLiteral's)."""
    fields: dict[str, Any] = dict(schema)
    if fields["type"] == "nullable":
        return cast(core_schema.CoreSchema, fields["schema"])
    if fields["type"] in ("function-before", "function-after", "function-wrap") and "schema" in fields:
        return cast(core_schema.CoreSchema, {**fields, "schema": _without_null(fields["schema"])})
    return schema
