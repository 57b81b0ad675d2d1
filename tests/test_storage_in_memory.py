"""The in-memory adapter passes the storage conformance suite (no multi-process race: nothing is shared)."""

import sys

import pytest

from .support import EXAMPLES

pytest.register_assert_rewrite("tests.storage_conformance", "tests.storage_race")
sys.path.insert(0, str(EXAMPLES))

from pokedex import EventStorageAdapter, InMemoryEventStorageAdapter  # noqa: E402

from .storage_conformance import EventStorageAdapterConformance  # noqa: E402


class TestInMemoryEventStorageAdapter(EventStorageAdapterConformance):
    def make_adapter(self) -> EventStorageAdapter:
        return InMemoryEventStorageAdapter()
