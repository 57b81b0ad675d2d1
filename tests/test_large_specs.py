"""Specs far larger than usual still generate: thousands of event types in one store, long anyOf lists,
channels of many stores. Unions past `MAX_OPERATOR_UNION` members are written `Union[...]` (flat), since a
chain of `|` nests one syntax level per member and ruff overflowed its stack on 2,000 event types."""

import re
from pathlib import Path
from typing import Any

import yaml

from generator.unions import MAX_OPERATOR_UNION

from .support import run_cli, run_mypy_strict


def store_spec(package: str, event_count: int, *, any_of: int = 0, stores: int = 1) -> dict[str, Any]:
    """A spec whose first store has `event_count` event types (the first initial) and, with `any_of`, an
    aggregate property of that many anyOf members; `stores` stores in all (the others small), every one a
    source of one bus."""
    small: dict[str, Any] = {"n": {"type": "integer"}}
    event_stores: dict[str, Any] = {}
    for store_index in range(stores):
        properties = dict(small)
        if any_of and store_index == 0:
            properties["choice"] = {"anyOf": [{"const": f"c{index}"} for index in range(any_of)]}
        count = event_count if store_index == 0 else 1
        events: dict[str, Any] = {f"S{store_index}_E{index}": {} for index in range(count)}
        events[f"S{store_index}_E0"] = {"initial": True, "payload": {"type": "object", "properties": properties}}
        event_stores[f"s{store_index}_things"] = {
            "aggregate": {"name": f"A{store_index}Thing", "schema": {"type": "object", "properties": properties}},
            "events": events,
        }
    return {
        "kastor": 1,
        "package": package,
        "event_stores": event_stores,
        "channels": {"bus": {"kind": "bus", "message": "notification", "sources": sorted(event_stores)}},
    }


class _WrittenOut(yaml.SafeDumper):
    """Writes a value shared by several places out at each of them: as YAML aliases, the stores' shared
    schemas would repeat more values than the loader takes from aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def generate(tmp_path: Path, document: dict[str, Any]) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.dump(document, Dumper=_WrittenOut, sort_keys=False), encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("generate", str(spec), "-o", str(out), cwd=tmp_path)
    assert result.code == 0, result.stderr
    return out / document["package"]


def test_a_store_of_2000_event_types_generates_code_that_compiles(tmp_path: Path) -> None:
    package = generate(tmp_path, store_spec("many_events", 2000))

    events = (package / "events.py").read_text(encoding="utf-8")
    assert "S0ThingsEvent: TypeAlias = Annotated[\n    Union[\n        S0E0,\n" in events
    for module in package.rglob("*.py"):
        compile(module.read_text(encoding="utf-8"), str(module), "exec")


def test_unions_past_the_operator_limit_type_check(tmp_path: Path) -> None:
    """Each long union (a store's events, an anyOf, a channel's messages) is `Union[...]`, and mypy accepts it."""
    longer = MAX_OPERATOR_UNION + 1
    package = generate(tmp_path, store_spec("long_unions", longer, any_of=longer, stores=longer))

    for module in ("events.py", "models.py", "channels.py"):
        text = (package / module).read_text(encoding="utf-8")
        assert "Union[" in text and re.search(r"^from typing import .*\bUnion\b", text, re.MULTILINE), module
    completed = run_mypy_strict(package.parent, [package.name], tmp_path / "mypy")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_short_unions_keep_the_operator(tmp_path: Path) -> None:
    package = generate(tmp_path, store_spec("short_unions", MAX_OPERATOR_UNION, any_of=3, stores=2))

    events = (package / "events.py").read_text(encoding="utf-8")
    assert "Union" not in events
    assert "S0ThingsEvent: TypeAlias = Annotated[\n    S0E0\n    | S0E1\n" in events
