"""The in-memory adapter passes the storage conformance suite (no multi-process race: nothing is shared)."""

import pytest

pytest.register_assert_rewrite("tests.storage_conformance", "tests.storage_race")

from .storage_conformance import EventStorageAdapterConformance  # noqa: E402  (first: makes pokedex importable)

# isort: split
from pokedex import EventStorageAdapter, InMemoryEventStorageAdapter  # noqa: E402


class TestInMemoryEventStorageAdapter(EventStorageAdapterConformance):
    def make_adapter(self) -> EventStorageAdapter:
        return InMemoryEventStorageAdapter()
