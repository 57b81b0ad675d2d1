"""Renders `models.py` from its intermediate model (model_ir) with the models template."""

import jinja2

from .ir import PackageModel
from .model_ir import build_models_module


class ModelRenderingError(Exception):
    """A schema that validation let through cannot be written as a model (a bug of Kastor, never of the spec)."""


def render_models(package: PackageModel, template: jinja2.Template) -> str:
    """The source of `models.py`: one class or type alias per named schema, each after those it uses."""
    return template.render(module=build_models_module(package))
