"""Renders payload, metadata, aggregate and definition models through datamodel-code-generator."""

import json
from collections.abc import Iterator
from typing import Any

import datamodel_code_generator as codegen
from datamodel_code_generator.enums import DataModelType
from datamodel_code_generator.format import DatetimeClassType
from datamodel_code_generator.parser import LiteralType

from .ir import PackageModel

# datamodel-code-generator accepts only absolute import paths for base classes: it imports this
# placeholder, which is then pointed at the package's own runtime.
_PLACEHOLDER_MODULE = "kastor_runtime_placeholder"
_PLACEHOLDER_IMPORT = f"from {_PLACEHOLDER_MODULE} import Aggregate"
_RUNTIME_IMPORT = "from .runtime import Aggregate"

#: Names that datamodel-code-generator writes in the class bodies of models. A field named like one of them
#: hides it from the lines after it in the class body, and the generator aliases the import only in some
#: layouts: such fields are renamed instead, always. (It does alias `date`, `datetime`, `time` and
#: `timedelta` reliably, so those common property names are kept.)
_NAMES_USED_IN_CLASS_BODIES = frozenset(
    {
        *("bool", "dict", "float", "int", "list", "str"),
        *("Annotated", "Any", "Literal", "Optional", "Union"),
        *("AnyUrl", "AwareDatetime", "BaseModel", "ConfigDict", "Field", "RootModel", "UUID"),
    }
)


class ModelRenderingError(Exception):
    """datamodel-code-generator refused a schema that validation let through."""


def render_models(package: PackageModel) -> str:
    """The source of `models.py`: one class (or type alias) per named schema, in name order."""
    document = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {named.name: named.schema for named in package.models},
    }
    try:
        source = codegen.generate(
            json.dumps(document),
            input_file_type=codegen.InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=codegen.PythonVersion.PY_311,
            use_annotated=True,
            field_constraints=True,
            use_type_alias=True,
            enum_field_as_literal=LiteralType.All,
            enable_faux_immutability=True,
            use_field_description=True,
            use_schema_description=True,
            use_double_quotes=True,
            output_datetime_class=DatetimeClassType.Awaredatetime,
            disable_timestamp=True,
            skip_root_model=True,
            strict_refs=True,
            formatters=[],
            custom_file_header=package.header,
            base_class_map={name: f"{_PLACEHOLDER_MODULE}.Aggregate" for name in package.aggregate_classes},
            aliases=shadowing_field_renames(package),
        )
    except codegen.Error as error:
        raise ModelRenderingError(str(error)) from error
    if not isinstance(source, str):
        raise ModelRenderingError(f"datamodel-code-generator returned {type(source).__name__}, not source text")
    return _point_at_runtime(source, bool(package.aggregate_classes))


def shadowing_field_renames(package: PackageModel) -> dict[str, str]:
    """Python names for properties that would hide a builtin or a model class used in annotations.

    `int` becomes the field `int_` (with a trailing underscore more while that name is taken), aliased to
    the property's JSON name, like a Python keyword such as `class`.
    """
    property_names = {name for named in package.models for name in _property_names(named.schema)}
    hidden = _NAMES_USED_IN_CLASS_BODIES | {named.name for named in package.models}
    renames: dict[str, str] = {}
    for name in sorted(property_names & hidden):
        renamed = f"{name}_"
        while renamed in property_names or renamed in renames.values():
            renamed += "_"
        renames[name] = renamed
    return renames


def _property_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            yield from properties
        for value in schema.values():
            yield from _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def _point_at_runtime(source: str, expects_aggregates: bool) -> str:
    lines = source.splitlines()
    other_mentions = [line for line in lines if _PLACEHOLDER_MODULE in line and line != _PLACEHOLDER_IMPORT]
    if lines.count(_PLACEHOLDER_IMPORT) != int(expects_aggregates) or other_mentions:
        raise ModelRenderingError("unexpected import of the aggregate base class in generated models")
    return "\n".join(_RUNTIME_IMPORT if line == _PLACEHOLDER_IMPORT else line for line in lines) + "\n"
