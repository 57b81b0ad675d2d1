"""The structure of a spec file, as pydantic models: they check it and give its published JSON Schema.

Only structure lives here (keys, types, allowed values). Naming rules and cross-references are checked
in `validation`, where every problem can be reported with the position of what it is about.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: How a schema names one of the spec's definitions: `$ref: "#/definitions/<Name>"`.
DEFINITION_REF_PREFIX = "#/definitions/"

SchemaType = Literal["string", "integer", "number", "boolean", "object", "array", "null"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


class JsonSchema(BaseModel):
    """A JSON Schema (draft 7, with the common keywords of 2019-09 and 2020-12) of payloads, metadata,
    aggregates and definitions.

    The keywords Kastor reads are typed here, so that a malformed one is a located error; any other key
    (annotations such as `readOnly`, vendor keys such as `x-order` or `tsAdditionalProperties`) is kept
    and ignored, as JSON Schema says. `format` is an annotation: any name is accepted, none is asserted.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    ref: str | None = Field(None, alias="$ref", description='A shared definition: "#/definitions/Name".')
    type: SchemaType | list[SchemaType] | None = None
    title: str | None = None
    description: str | None = None
    default: Any = None
    examples: Any = None
    deprecated: bool | None = None
    enum: list[Any] | None = Field(None, min_length=1)
    const: Any = None
    format: str | None = None
    properties: dict[str, JsonSchema | bool] | None = None
    patternProperties: dict[str, JsonSchema | bool] | None = None
    required: list[str] | None = None
    additionalProperties: bool | JsonSchema | None = None
    propertyNames: JsonSchema | bool | None = None
    minProperties: int | None = Field(None, ge=0)
    maxProperties: int | None = Field(None, ge=0)
    dependencies: dict[str, list[str] | JsonSchema | bool] | None = None
    items: JsonSchema | bool | list[JsonSchema | bool] | None = None
    additionalItems: JsonSchema | bool | None = None
    contains: JsonSchema | bool | None = None
    minItems: int | None = Field(None, ge=0)
    maxItems: int | None = Field(None, ge=0)
    uniqueItems: bool | None = None
    minLength: int | None = Field(None, ge=0)
    maxLength: int | None = Field(None, ge=0)
    pattern: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusiveMinimum: int | float | bool | None = None
    exclusiveMaximum: int | float | bool | None = None
    multipleOf: int | float | None = Field(None, gt=0)
    anyOf: list[JsonSchema | bool] | None = Field(None, min_length=1)
    oneOf: list[JsonSchema | bool] | None = Field(None, min_length=1)
    allOf: list[JsonSchema | bool] | None = Field(None, min_length=1)
    not_: JsonSchema | bool | None = Field(None, alias="not")
    if_: JsonSchema | bool | None = Field(None, alias="if")
    then: JsonSchema | bool | None = None
    else_: JsonSchema | bool | None = Field(None, alias="else")


class AggregateSpec(_Strict):
    name: str = Field(description="Class name of the aggregate (PascalCase).")
    schema_: JsonSchema = Field(alias="schema", description="Its state; aggregate_id and version are implicit.")
    description: str | None = None


class EventSpec(_Strict):
    initial: bool = Field(False, description="Creates the aggregate: valid only at version 1.")
    payload: JsonSchema | None = Field(None, description="An object schema; no payload when absent.")
    description: str | None = None


class EventStoreSpec(_Strict):
    aggregate: AggregateSpec
    metadata: JsonSchema | None = Field(None, description="An object schema shared by all its events.")
    events: dict[str, EventSpec] = Field(description="Event types (UPPER_SNAKE) and their payloads.")
    description: str | None = None


class ChannelSpec(_Strict):
    kind: Literal["bus", "queue"]
    message: Literal["notification", "state-carrying", "aggregate-exists"]
    sources: list[str] = Field(description="Ids of the event stores whose messages it may carry.")
    description: str | None = None


class ConnectionSpec(_Strict):
    store: str = Field(description="Id of the event store whose pushes are forwarded.")
    channel: str = Field(description="Id of the channel they are forwarded to.")


class SpecFile(_Strict):
    """One Kastor spec file. Several files with the same `package` form one package."""

    model_config = ConfigDict(
        title="Kastor spec",
        json_schema_extra={"$schema": "http://json-schema.org/draft-07/schema#"},
    )

    kastor: Literal[1] = Field(description="Spec format version.")
    package: str = Field(description="Name of the generated Python package (lower_snake).")
    description: str | None = None
    definitions: dict[str, JsonSchema] = Field(
        default_factory=dict, description='Shared JSON Schemas, referenced as $ref: "#/definitions/Name".'
    )
    event_stores: dict[str, EventStoreSpec] = Field(default_factory=dict)
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    connections: list[ConnectionSpec] = Field(
        default_factory=list, description="Connected event stores: a store and the channel it forwards to."
    )


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of spec files, for editors (yaml-language-server) and `kastor schema`."""
    return SpecFile.model_json_schema(by_alias=True)
