"""`kastor diff OLD NEW`: the schema rules (pure), every kind of spec change, exit codes, git revisions, bad input."""

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.schema_compat import SchemaNode, compare_schemas

from .support import REPO, CliResult, run_cli

Spec = dict[str, Any]


def _base_spec() -> Spec:
    return {
        "kastor": 1,
        "package": "pokedex",
        "definitions": {
            "Level": {"type": "integer", "minimum": 1, "maximum": 100},
            "PokemonType": {"type": "string", "enum": ["fire", "water"]},
        },
        "event_stores": {
            "pokemons": {
                "aggregate": {
                    "name": "Pokemon",
                    "schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "level": {"$ref": "#/definitions/Level"}},
                        "required": ["name", "level"],
                    },
                },
                "metadata": {"type": "object", "properties": {"correlation_id": {"type": "string"}}},
                "events": {
                    "POKEMON_APPEARED": {
                        "initial": True,
                        "payload": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "level": {"$ref": "#/definitions/Level"},
                                "pokemon_type": {"$ref": "#/definitions/PokemonType"},
                                "nickname": {"type": ["string", "null"], "maxLength": 20},
                            },
                            "required": ["name", "level", "pokemon_type"],
                        },
                    },
                    "POKEMON_CAUGHT": {
                        "payload": {
                            "type": "object",
                            "properties": {"trainer_id": {"type": "string"}},
                            "required": ["trainer_id"],
                        }
                    },
                },
            },
            "trainers": {
                "aggregate": {
                    "name": "Trainer",
                    "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "events": {"TRAINER_REGISTERED": {"initial": True}},
            },
        },
        "channels": {
            "pokemon_queue": {"kind": "queue", "message": "notification", "sources": ["pokemons"]},
            "trainer_bus": {"kind": "bus", "message": "notification", "sources": ["trainers", "pokemons"]},
        },
        "connections": [{"store": "pokemons", "channel": "pokemon_queue"}],
    }


def _write(path: Path, spec: Spec) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _diff_with(tmp_path: Path, change: Callable[[Spec], None], *options: str) -> CliResult:
    old = _base_spec()
    new = copy.deepcopy(old)
    change(new)
    _write(tmp_path / "old" / "pokedex.yaml", old)
    _write(tmp_path / "new" / "pokedex.yaml", new)
    return run_cli("diff", "old/pokedex.yaml", "new/pokedex.yaml", *options, cwd=tmp_path)


def _payload(spec: Spec, event_type: str) -> Spec:
    events: dict[str, Spec] = spec["event_stores"]["pokemons"]["events"]
    payload: Spec = events[event_type]["payload"]
    return payload


def _appeared(spec: Spec) -> Spec:
    properties: Spec = _payload(spec, "POKEMON_APPEARED")["properties"]
    return properties


# --- one case per kind of change -------------------------------------------------------------------------------


def _remove_event(spec: Spec) -> None:
    del spec["event_stores"]["pokemons"]["events"]["POKEMON_CAUGHT"]


def _remove_store(spec: Spec) -> None:
    del spec["event_stores"]["trainers"]
    spec["channels"]["trainer_bus"]["sources"] = ["pokemons"]


def _remove_channel(spec: Spec) -> None:
    del spec["channels"]["trainer_bus"]


def _move_event(spec: Spec) -> None:
    stores = spec["event_stores"]
    stores["trainers"]["events"]["POKEMON_CAUGHT"] = stores["pokemons"]["events"].pop("POKEMON_CAUGHT")


def _remove_field(spec: Spec) -> None:
    del _payload(spec, "POKEMON_CAUGHT")["properties"]["trainer_id"]
    _payload(spec, "POKEMON_CAUGHT")["required"] = []


def _remove_metadata_field(spec: Spec) -> None:
    spec["event_stores"]["pokemons"]["metadata"]["properties"] = {"other": {"type": "string"}}


def _make_required(spec: Spec) -> None:
    _payload(spec, "POKEMON_APPEARED")["required"].append("nickname")


def _add_required(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["ball"] = {"type": "string"}
    _payload(spec, "POKEMON_CAUGHT")["required"].append("ball")


def _retype(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["trainer_id"] = {"type": "integer"}


def _remove_enum_value(spec: Spec) -> None:
    spec["definitions"]["PokemonType"]["enum"] = ["fire"]


def _raise_minimum(spec: Spec) -> None:
    spec["definitions"]["Level"]["minimum"] = 5


def _lower_max_length(spec: Spec) -> None:
    _appeared(spec)["nickname"]["maxLength"] = 10


def _add_pattern(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["trainer_id"]["pattern"] = "^t-"


def _not_nullable(spec: Spec) -> None:
    _appeared(spec)["nickname"]["type"] = "string"


def _change_format(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["trainer_id"]["format"] = "uuid"


def _drop_source(spec: Spec) -> None:
    spec["channels"]["trainer_bus"]["sources"] = ["trainers"]


def _change_kind(spec: Spec) -> None:
    spec["channels"]["trainer_bus"]["kind"] = "queue"


def _change_message(spec: Spec) -> None:
    spec["channels"]["trainer_bus"]["message"] = "state-carrying"


def _remove_connection(spec: Spec) -> None:
    spec["connections"] = []


def _no_longer_initial(spec: Spec) -> None:
    spec["event_stores"]["pokemons"]["events"]["POKEMON_CAUGHT"]["initial"] = True


BREAKING_CASES: list[tuple[str, Callable[[Spec], None], str]] = [
    ("event removed", _remove_event, "breaking: pokemons/POKEMON_CAUGHT: event type removed (was at "),
    ("store removed", _remove_store, "breaking: trainers: event store removed"),
    ("channel removed", _remove_channel, "breaking: channel trainer_bus: channel removed"),
    ("event moved", _move_event, "breaking: pokemons/POKEMON_CAUGHT: moved to event store trainers"),
    ("field removed", _remove_field, "breaking: pokemons/POKEMON_CAUGHT payload.trainer_id: removed (was at "),
    ("metadata field removed", _remove_metadata_field, "breaking: pokemons metadata.correlation_id: removed"),
    ("made required", _make_required, "breaking: pokemons/POKEMON_APPEARED payload.nickname: made required"),
    ("new required field", _add_required, "payload.ball: added as required, without a default"),
    ("retyped", _retype, "payload.trainer_id: type changed from string to integer"),
    ("enum value removed", _remove_enum_value, 'payload.pokemon_type: enum values removed: "water"'),
    ("minimum raised", _raise_minimum, "payload.level: minimum raised from 1 to 5"),
    ("maxLength lowered", _lower_max_length, "payload.nickname: maxLength lowered from 20 to 10"),
    ("pattern added", _add_pattern, 'payload.trainer_id: pattern "^t-" added'),
    ("not nullable", _not_nullable, "payload.nickname: no longer nullable"),
    ("format changed", _change_format, 'payload.trainer_id: format "uuid" added'),
    ("source removed", _drop_source, "breaking: channel trainer_bus: no longer carries event store pokemons"),
    ("kind changed", _change_kind, "breaking: channel trainer_bus: kind changed from bus to queue"),
    ("message changed", _change_message, "channel trainer_bus: message changed from notification to state-carrying"),
    ("connection removed", _remove_connection, "breaking: connection pokemons → pokemon_queue: removed"),
    ("initial changed", _no_longer_initial, "breaking: pokemons/POKEMON_CAUGHT: made initial"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [case[1:] for case in BREAKING_CASES], ids=[c[0] for c in BREAKING_CASES]
)
def test_a_breaking_change_is_listed_and_exits_1(tmp_path: Path, change: Callable[[Spec], None], expected: str) -> None:
    result = _diff_with(tmp_path, change)
    assert result.code == 1, result.stdout + result.stderr
    assert expected in result.stdout
    assert result.stdout.splitlines()[-1].startswith("kastor: ")
    assert "breaking change" in result.stdout.splitlines()[-1]


def _add_event(spec: Spec) -> None:
    spec["event_stores"]["pokemons"]["events"]["POKEMON_FAINTED"] = {"description": "It fainted."}


def _add_store(spec: Spec) -> None:
    spec["event_stores"]["gyms"] = {
        "aggregate": {"name": "Gym", "schema": {"type": "object", "properties": {}}},
        "events": {"GYM_OPENED": {"initial": True}},
    }


def _add_channel(spec: Spec) -> None:
    spec["channels"]["audit_bus"] = {"kind": "bus", "message": "notification", "sources": ["pokemons"]}


def _add_optional(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["ball"] = {"type": "string"}


def _add_required_with_default(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["ball"] = {"type": "string", "default": "poke"}
    _payload(spec, "POKEMON_CAUGHT")["required"].append("ball")


def _widen_type(spec: Spec) -> None:
    spec["definitions"]["Level"]["type"] = "number"


def _widen_constraints(spec: Spec) -> None:
    spec["definitions"]["Level"]["maximum"] = 200
    _appeared(spec)["name"]["minLength"] = 0


def _add_enum_value(spec: Spec) -> None:
    spec["definitions"]["PokemonType"]["enum"].append("grass")


def _change_description(spec: Spec) -> None:
    _appeared(spec)["name"]["description"] = "Its species."


def _add_source(spec: Spec) -> None:
    spec["channels"]["pokemon_queue"]["sources"].append("trainers")


def _add_connection(spec: Spec) -> None:
    spec["connections"].append({"store": "pokemons", "channel": "trainer_bus"})


def _make_nullable(spec: Spec) -> None:
    _payload(spec, "POKEMON_CAUGHT")["properties"]["trainer_id"]["type"] = ["string", "null"]


def _rename_definition(spec: Spec) -> None:
    spec["definitions"]["PokemonLevel"] = spec["definitions"].pop("Level")
    _appeared(spec)["level"] = {"$ref": "#/definitions/PokemonLevel"}
    spec["event_stores"]["pokemons"]["aggregate"]["schema"]["properties"]["level"] = {
        "$ref": "#/definitions/PokemonLevel"
    }


SAFE_CASES: list[tuple[str, Callable[[Spec], None], str]] = [
    ("event added", _add_event, "safe: pokemons/POKEMON_FAINTED: event type added"),
    ("store added", _add_store, "safe: gyms: event store added"),
    ("channel added", _add_channel, "safe: channel audit_bus: channel added"),
    ("optional field added", _add_optional, "safe: pokemons/POKEMON_CAUGHT payload.ball: added (optional)"),
    ("required with default", _add_required_with_default, "payload.ball: added as required, with a default"),
    ("type widened", _widen_type, "payload.level: type widened from integer to number"),
    ("constraints widened", _widen_constraints, "payload.level: maximum raised from 100 to 200"),
    ("enum value added", _add_enum_value, 'payload.pokemon_type: enum values added: "grass"'),
    ("description changed", _change_description, "safe: pokemons/POKEMON_APPEARED payload.name: description added"),
    ("source added", _add_source, "safe: channel pokemon_queue: now also carries event store trainers"),
    ("connection added", _add_connection, "safe: connection pokemons → trainer_bus: added"),
    ("made nullable", _make_nullable, "safe: pokemons/POKEMON_CAUGHT payload.trainer_id: made nullable"),
]


@pytest.mark.parametrize(("change", "expected"), [case[1:] for case in SAFE_CASES], ids=[c[0] for c in SAFE_CASES])
def test_a_safe_change_is_listed_and_exits_0(tmp_path: Path, change: Callable[[Spec], None], expected: str) -> None:
    result = _diff_with(tmp_path, change)
    assert result.code == 0, result.stdout + result.stderr
    assert expected in result.stdout
    assert "breaking" not in result.stdout.replace("0 breaking changes", "")


def test_a_renamed_definition_of_the_same_shape_is_no_change(tmp_path: Path) -> None:
    result = _diff_with(tmp_path, _rename_definition)
    assert (result.code, result.stdout) == (0, "kastor: no changes\n")


def test_new_side_changes_carry_their_spec_position(tmp_path: Path) -> None:
    result = _diff_with(tmp_path, _lower_max_length)
    line = next(line for line in result.stdout.splitlines() if "maxLength" in line)
    spec_lines = (tmp_path / "new" / "pokedex.yaml").read_text().splitlines()
    position = line.rsplit("(new/pokedex.yaml:", 1)[1].rstrip(")")
    row, column = (int(part) for part in position.split(":"))
    assert spec_lines[row - 1][column - 1 :].startswith("maxLength: 10")


def test_the_summary_counts_each_severity(tmp_path: Path) -> None:
    def several(spec: Spec) -> None:
        _remove_field(spec)
        _add_event(spec)
        _add_channel(spec)

    result = _diff_with(tmp_path, several)
    assert result.stdout.splitlines()[-1] == "kastor: 1 breaking change, 2 safe"


def test_an_aggregate_narrowing_is_a_warning_unless_a_state_carrying_channel_carries_it(tmp_path: Path) -> None:
    def narrow_trainer(spec: Spec) -> None:
        spec["event_stores"]["trainers"]["aggregate"]["schema"]["properties"]["name"]["maxLength"] = 3

    result = _diff_with(tmp_path, narrow_trainer)
    assert result.code == 0
    assert "warning: trainers aggregate.name: maxLength 3 added (a warning: aggregates are rebuilt" in result.stdout
    assert result.stdout.splitlines()[-1] == "kastor: 0 breaking changes, 1 warning, 0 safe"

    old = _base_spec()
    old["channels"]["trainer_bus"]["message"] = "state-carrying"
    new = copy.deepcopy(old)
    narrow_trainer(new)
    _write(tmp_path / "a.yaml", old)
    _write(tmp_path / "b.yaml", new)
    carried = run_cli("diff", "a.yaml", "b.yaml", cwd=tmp_path)
    assert carried.code == 1
    assert "breaking: trainers aggregate.name: maxLength 3 added (consumers of state-carrying channel trainer_bus" in (
        carried.stdout
    )


def test_json_output(tmp_path: Path) -> None:
    result = _diff_with(tmp_path, _remove_field, "--json")
    document = json.loads(result.stdout)
    assert (document["breaking"], document["warnings"], document["safe"]) == (1, 0, 0)
    [change] = document["changes"]
    assert change["subject"] == "pokemons/POKEMON_CAUGHT payload.trainer_id"
    assert change["side"] == "old"
    assert change["position"].startswith("old/pokedex.yaml:")


def test_output_is_sorted_and_deterministic(tmp_path: Path) -> None:
    def many(spec: Spec) -> None:
        for change in (_remove_event, _add_store, _lower_max_length, _add_enum_value, _change_kind, _add_connection):
            change(spec)

    first = _diff_with(tmp_path, many)
    second = _diff_with(tmp_path, many)
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()[:-1]
    severities = [line.split(":", 1)[0] for line in lines]
    assert severities == sorted(severities, key=["breaking", "warning", "safe"].index)
    # Reordering the keys of the NEW spec changes nothing but positions.
    new = yaml.safe_load((tmp_path / "new" / "pokedex.yaml").read_text())
    reordered = dict(reversed(list(new.items())))
    _write(tmp_path / "new" / "pokedex.yaml", reordered)
    again = run_cli("diff", "old/pokedex.yaml", "new/pokedex.yaml", cwd=tmp_path)
    assert [line.split(" (")[0] for line in again.stdout.splitlines()] == [
        line.split(" (")[0] for line in first.stdout.splitlines()
    ]


def test_identical_specs_have_no_changes() -> None:
    result = run_cli("diff", "specs/pokedex.yaml", "specs/pokedex.yaml")
    assert (result.code, result.stdout) == (0, "kastor: no changes\n")


def test_directories_with_several_packages_prefix_subjects(tmp_path: Path) -> None:
    other = _base_spec()
    other["package"] = "elsewhere"
    _write(tmp_path / "old" / "a.yaml", _base_spec())
    _write(tmp_path / "new" / "a.yaml", _base_spec())
    _write(tmp_path / "new" / "b.yaml", other)
    result = run_cli("diff", "old", "new", cwd=tmp_path)
    assert (result.code, result.stdout.splitlines()[0]) == (0, "safe: package elsewhere: added (new/b.yaml:2:10)")
    reverse = run_cli("diff", "new", "old", cwd=tmp_path)
    assert reverse.code == 1
    assert reverse.stdout.startswith("breaking: package elsewhere: removed (was at new/b.yaml:2:10)")


# --- bad input -------------------------------------------------------------------------------------------------


def test_a_missing_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no repository around tmp_path
    result = run_cli("diff", "nowhere.yaml", str(REPO / "specs" / "pokedex.yaml"), cwd=tmp_path)
    assert result.code == 2
    assert "OLD 'nowhere.yaml' is neither a spec file nor a directory, and " in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_side_reports_its_located_errors_and_exits_2(tmp_path: Path) -> None:
    broken = _base_spec()
    broken["event_stores"]["pokemons"]["evnts"] = broken["event_stores"]["pokemons"].pop("events")
    _write(tmp_path / "old.yaml", _base_spec())
    _write(tmp_path / "new.yaml", broken)
    result = run_cli("diff", "old.yaml", "new.yaml", cwd=tmp_path)
    assert result.code == 2
    assert result.stdout == ""
    assert "new.yaml:" in result.stderr and "unknown key 'evnts' (did you mean 'events'?)" in result.stderr
    assert "kastor: NEW (new.yaml): 1 problem found" in result.stderr


def test_both_invalid_sides_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kastor: 1\n")
    (tmp_path / "b.yaml").write_text("kastor: 2\npackage: x\n")
    result = run_cli("diff", "a.yaml", "b.yaml", cwd=tmp_path)
    assert result.code == 2
    assert "kastor: OLD (a.yaml)" in result.stderr and "kastor: NEW (b.yaml)" in result.stderr


# --- git revisions ---------------------------------------------------------------------------------------------


def _git(repo: Path, *arguments: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with two commits of a spec named by [tool.kastor]; the work tree holds a third."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text('[tool.kastor]\nspecs = ["specs/*.yaml"]\noutput = "src"\n')
    spec = _base_spec()
    _write(repo / "specs" / "pokedex.yaml", spec)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    _git(repo, "tag", "v1")
    _add_event(spec)
    _write(repo / "specs" / "pokedex.yaml", spec)
    _git(repo, "commit", "-q", "-am", "second")
    _remove_field(spec)
    _write(repo / "specs" / "pokedex.yaml", spec)  # not committed
    return repo


def test_two_revisions(project: Path) -> None:
    result = run_cli("diff", "v1", "HEAD", cwd=project)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "safe: pokemons/POKEMON_FAINTED: event type added (HEAD:specs/pokedex.yaml:62:7)",
        "kastor: 0 breaking changes, 1 safe",
    ]


def test_a_revision_against_the_work_tree(project: Path) -> None:
    result = run_cli("diff", "git:main", ".", cwd=project)
    assert result.code == 1
    assert "breaking: pokemons/POKEMON_CAUGHT payload.trainer_id: removed (was at main:specs/pokedex.yaml:" in (
        result.stdout
    )
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True)
    assert status.stdout == " M specs/pokedex.yaml\n"  # the work tree is untouched


def test_revisions_from_a_subdirectory_use_the_project_config(project: Path) -> None:
    (project / "specs" / "notes").mkdir()
    result = run_cli("diff", "v1", "main", cwd=project / "specs" / "notes")
    assert result.code == 0
    assert "POKEMON_FAINTED: event type added" in result.stdout


def test_an_unknown_revision_exits_2(project: Path) -> None:
    result = run_cli("diff", "git:v9", "HEAD", cwd=project)
    assert result.code == 2
    assert "unknown git revision 'v9'" in result.stderr
    plain = run_cli("diff", "v9", "HEAD", cwd=project)
    assert plain.code == 2
    assert "OLD 'v9' is neither a spec file, a directory nor a git revision" in plain.stderr


def test_a_revision_without_kastor_config_exits_2(project: Path) -> None:
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _git(project, "commit", "-q", "-am", "no config")
    result = run_cli("diff", "v1", "HEAD", cwd=project)
    assert result.code == 2
    assert "HEAD:pyproject.toml has no [tool.kastor] specs" in result.stderr


def test_an_invalid_spec_at_a_revision_is_located_there(project: Path) -> None:
    (project / "specs" / "pokedex.yaml").write_text("kastor: 1\npackage: pokedex\nevnt_stores: {}\n")
    _git(project, "commit", "-q", "-am", "broken")
    result = run_cli("diff", "v1", "HEAD", cwd=project)
    assert result.code == 2
    assert "HEAD:specs/pokedex.yaml:3:1: unknown key 'evnt_stores'" in result.stderr


@pytest.mark.parametrize(
    ("old", "expected"),
    [
        (
            "main",
            "OLD 'main' is neither a spec file nor a directory, and {cwd} is not inside a git repository, "
            "so it cannot name a revision",
        ),
        ("git:main", "OLD 'git:main' names a git revision, but {cwd} is not inside a git repository"),
    ],
)
def test_a_revision_outside_a_git_repository_says_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, expected: str
) -> None:
    # git must not find a repository above the temporary directory, whatever the machine holds.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    _write(tmp_path / "pokedex.yaml", _base_spec())
    result = run_cli("diff", old, ".", cwd=tmp_path)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"kastor: {expected.format(cwd=tmp_path.resolve())}\n"


# --- the schema rules, pure ------------------------------------------------------------------------------------


def _compare(old: Spec, new: Spec, definitions: tuple[Spec, Spec] = ({}, {})) -> list[tuple[str, str, str]]:
    def nodes(table: Spec) -> dict[str, SchemaNode]:
        return {name: SchemaNode(schema, ("f", ("definitions", name))) for name, schema in table.items()}

    changes = compare_schemas(
        SchemaNode(old, ("f", ())), SchemaNode(new, ("f", ())), nodes(definitions[0]), nodes(definitions[1])
    )
    return [(change.severity, change.field, change.message) for change in changes]


def test_nested_objects_and_array_items_are_compared() -> None:
    item: Spec = {"type": "object", "properties": {"weight": {"type": "integer", "minimum": 0}}, "required": ["weight"]}
    narrowed = copy.deepcopy(item)
    narrowed["properties"]["weight"]["minimum"] = 1
    old = {"type": "object", "properties": {"parcels": {"type": "array", "items": item}}}
    new = {"type": "object", "properties": {"parcels": {"type": "array", "items": narrowed}}}
    assert _compare(old, new) == [("breaking", "parcels[].weight", "minimum raised from 0 to 1")]


def test_refs_are_resolved_on_each_side() -> None:
    old_definitions = {"A": {"type": "string", "maxLength": 5}}
    new_definitions = {"B": {"type": "string", "maxLength": 3}}
    changes = _compare({"$ref": "#/definitions/A"}, {"$ref": "#/definitions/B"}, (old_definitions, new_definitions))
    assert changes == [("breaking", "", "maxLength lowered from 5 to 3")]


def test_recursive_definitions_end() -> None:
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}}}}
    assert (
        _compare({"$ref": "#/definitions/Tree"}, {"$ref": "#/definitions/Tree"}, ({"Tree": tree}, {"Tree": tree})) == []
    )


def test_any_of_members_are_matched_by_type() -> None:
    old = {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}]}
    assert _compare(old, {"type": ["string", "null"], "maxLength": 500}) == []
    assert _compare(old, {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]}) == [
        ("breaking", "", "maxLength lowered from 500 to 100")
    ]
    assert _compare(old, {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}, {"type": "integer"}]}) == [
        ("safe", "", "now also accepts integer")
    ]
    assert _compare(old, {"type": "string", "maxLength": 500}) == [("breaking", "", "no longer nullable")]


def test_widening_inside_one_of_is_breaking_with_a_reason() -> None:
    old = {"oneOf": [{"type": "string"}, {"type": "integer", "maximum": 5}]}
    new = {"oneOf": [{"type": "string"}, {"type": "integer", "maximum": 9}]}
    [(severity, _, message)] = _compare(old, new)
    assert severity == "breaking"
    assert "a value that now matches two members is rejected" in message


def test_all_of_is_compared_conservatively() -> None:
    old = {"allOf": [{"type": "string"}, {"maxLength": 5}]}
    assert _compare(old, copy.deepcopy(old)) == []
    [(severity, _, message)] = _compare(old, {"allOf": [{"type": "string"}, {"maxLength": 6}]})
    assert severity == "breaking" and "allOf" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"type": "integer", "multipleOf": 10}, {"type": "integer", "multipleOf": 5}, "safe"),
        ({"type": "integer", "multipleOf": 5}, {"type": "integer", "multipleOf": 10}, "breaking"),
        ({"type": "array", "items": {}}, {"type": "array", "uniqueItems": True}, "breaking"),
        ({"type": "string", "format": "uuid"}, {"type": "string"}, "safe"),
        ({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, "breaking"),
        ({"type": "object", "additionalProperties": False}, {"type": "object"}, "safe"),
        ({"type": "object"}, {"type": "object", "additionalProperties": False}, "breaking"),
        ({"type": "string", "const": "a"}, {"type": "string", "enum": ["a", "b"]}, "safe"),
        ({"type": "string"}, {"type": "string", "enum": ["a"]}, "breaking"),
        ({}, {"type": "string"}, "breaking"),
        ({"type": "string"}, {}, "safe"),
        ({"type": "string", "default": "a"}, {"type": "string", "default": "b"}, "warning"),
    ],
)
def test_single_keyword_rules(old: Spec, new: Spec, expected: str) -> None:
    assert [severity for severity, _, _ in _compare(old, new)] == [expected]
