"""Kastor: compiles YAML specs of events, stores and channels into a statically typed Python package."""

__version__ = "0.1.0"
