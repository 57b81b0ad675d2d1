"""A stored event is exactly the event that was pushed: each cause of a changed or wrongly accepted payload
that real-world schemas showed (issue 14), reproduced by a small spec of its own.

For a payload valid against its schema, decoding and encoding again gives the same JSON (absent stays absent,
null stays null, no default written, strings byte for byte, numbers of their type, undeclared properties
kept); a payload invalid against it is refused, never coerced. The real-world corpora (test_corpora.py) hold
the generator to the same on thousands of schemas written by others.
"""

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .support import run_cli, run_mypy_strict

PACKAGE = "fidelity_pkg"

SPEC: dict[str, Any] = {
    "kastor": 1,
    "package": PACKAGE,
    "definitions": {
        "Category": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "answerable": {"type": "boolean"}},
            "required": ["id", "name"],
        },
        "Discussion": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "category": {"$ref": "#/definitions/Category"},
                "locked": {"type": "boolean"},
            },
            "required": ["title", "category"],
        },
        "User": {"type": "object", "properties": {"login": {"type": "string"}, "site": {"type": "string"}}},
    },
    "event_stores": {
        "repos": {
            "aggregate": {"name": "Repo", "schema": {"type": "object", "properties": {}}},
            "events": {
                "REPO_CREATED": {
                    "initial": True,
                    "payload": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "allow_rebase_merge": {"type": "boolean", "default": True},
                            "size": {"type": "integer"},
                            "enabled": {"type": "boolean"},
                            "score": {"type": "number"},
                            "created_at": {"type": "string", "format": "date-time"},
                            "blog": {"type": "string", "format": "uri"},
                            "offset": {"type": "string"},
                            "description": {"type": ["string", "null"]},
                            "level": {"type": "integer", "enum": [1, 2, 3]},
                            # A nullable object: its class, or null (Shopify's client_details).
                            "owner": {"type": ["object", "null"], "properties": {"login": {"type": "string"}}},
                        },
                    },
                },
                "DISCUSSION_ANSWERED": {
                    "payload": {
                        "type": "object",
                        "properties": {
                            # Specialising a shared object: the narrowing must not replace `category`.
                            "discussion": {
                                "allOf": [
                                    {"$ref": "#/definitions/Discussion"},
                                    {
                                        "type": "object",
                                        "properties": {
                                            "category": {
                                                "type": "object",
                                                "properties": {"answerable": {"type": "boolean", "enum": [True]}},
                                            }
                                        },
                                    },
                                ]
                            },
                            # Making an optional property of a shared object required.
                            "author": {"allOf": [{"$ref": "#/definitions/User"}, {"required": ["login"]}]},
                            "choice": {
                                "oneOf": [
                                    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                                    {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]},
                                ]
                            },
                        },
                        "required": ["discussion"],
                    }
                },
            },
        }
    },
}

DISCUSSION = {
    "title": "Why?",
    "category": {"id": 7, "name": "Q&A", "answerable": True, "emoji": ":pray:"},
    "locked": False,
    "node_id": "D_1",
}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("fidelity")
    spec = root / "fidelity.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False), encoding="utf-8")
    result = run_cli("generate", str(spec), "-o", str(root / "out"), cwd=root)
    assert result.code == 0, result.stderr
    sys.path.insert(0, str(root / "out"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root / "out"))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def event(event_type: str, payload: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {"aggregate_id": "repo-1", "version": version, "type": event_type, "payload": payload}


def round_trip(package: ModuleType, stored: dict[str, Any]) -> dict[str, Any]:
    codec = package.REPOS_EVENT_CODEC
    written: dict[str, Any] = json.loads(codec.to_json(codec.from_json(json.dumps(stored))))
    return written


def refused(package: ModuleType, stored: dict[str, Any]) -> str:
    with pytest.raises(package.EventDecodeError) as error:
        package.REPOS_EVENT_CODEC.from_json(json.dumps(stored))
    return str(error.value)


def test_an_absent_property_stays_absent_and_no_default_is_written(package: ModuleType) -> None:
    stored = event("REPO_CREATED", {})
    assert round_trip(package, stored)["payload"] == {}
    decoded = package.REPOS_EVENT_CODEC.from_json(json.dumps(stored))
    assert decoded.payload.allow_rebase_merge is True  # the default is applied on read
    assert decoded.payload.name is None


def test_null_stays_null_where_the_schema_allows_it(package: ModuleType) -> None:
    assert round_trip(package, event("REPO_CREATED", {"description": None}))["payload"] == {"description": None}
    for owner in (None, {"login": "octocat"}):
        assert round_trip(package, event("REPO_CREATED", {"owner": owner}))["payload"] == {"owner": owner}


def test_an_optional_property_is_not_nullable(package: ModuleType) -> None:
    assert "name" in refused(package, event("REPO_CREATED", {"name": None}))


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"size": "1587627537231057"}, "size"), ({"enabled": "false"}, "enabled"), ({"level": True}, "level")],
)
def test_values_are_never_coerced(package: ModuleType, payload: dict[str, Any], field: str) -> None:
    assert field in refused(package, event("REPO_CREATED", payload))


def test_strings_are_kept_byte_for_byte(package: ModuleType) -> None:
    payload = {"created_at": "2021-11-25T21:56:00.653866570Z", "blog": "https://octocoders.io", "offset": "+00:00"}
    assert round_trip(package, event("REPO_CREATED", payload))["payload"] == payload


def test_numbers_keep_their_type(package: ModuleType) -> None:
    for score in (1, 1.0, 2.5, 10**20):
        written = round_trip(package, event("REPO_CREATED", {"score": score}))["payload"]["score"]
        assert (written, type(written)) == (score, type(score))


def test_all_of_keeps_every_branch_and_undeclared_properties(package: ModuleType) -> None:
    stored = event("DISCUSSION_ANSWERED", {"discussion": DISCUSSION, "author": {"login": "octocat"}}, version=2)
    assert round_trip(package, stored) == stored
    decoded = package.REPOS_EVENT_CODEC.from_json(json.dumps(stored))
    assert decoded.payload.discussion.category.name == "Q&A"  # the shared object's keys, typed


def test_all_of_constraints_of_every_branch_are_enforced(package: ModuleType) -> None:
    unanswerable = {**DISCUSSION, "category": {**DISCUSSION["category"], "answerable": False}}
    assert "answerable" in refused(package, event("DISCUSSION_ANSWERED", {"discussion": unanswerable}, version=2))
    no_login = {"discussion": DISCUSSION, "author": {"site": "x"}}
    assert "login" in refused(package, event("DISCUSSION_ANSWERED", no_login, version=2))


def test_one_of_means_exactly_one(package: ModuleType) -> None:
    one = event("DISCUSSION_ANSWERED", {"discussion": DISCUSSION, "choice": {"a": 1}}, version=2)
    assert round_trip(package, one) == one
    both = event("DISCUSSION_ANSWERED", {"discussion": DISCUSSION, "choice": {"a": 1, "b": 2}}, version=2)
    assert "oneOf" in refused(package, both)


def test_a_push_refuses_what_the_schema_refuses(package: ModuleType) -> None:
    codec = package.REPOS_EVENT_CODEC
    built = package.DiscussionAnswered(
        aggregate_id="repo-1",
        version=2,
        payload=package.DiscussionAnsweredPayload.model_validate(
            {"discussion": DISCUSSION, "choice": {"a": 1, "b": 2}}
        ),
    )
    with pytest.raises(package.InvalidEventError, match="oneOf"):
        codec.validate(built)


def test_names_come_from_where_schemas_stand(package: ModuleType) -> None:
    payload = package.DiscussionAnsweredPayload
    assert payload.model_fields["discussion"].annotation is package.DiscussionAnsweredPayloadDiscussion
    category = package.DiscussionAnsweredPayloadDiscussion.model_fields["category"].annotation
    assert category is package.DiscussionAnsweredPayloadDiscussionCategory


def test_the_package_type_checks(package: ModuleType, tmp_path: Path) -> None:
    out = Path(package.__file__).parent.parent
    completed = run_mypy_strict(out, [PACKAGE], tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


RECURSIVE_SPEC = """\
kastor: 1
package: {package}
definitions:
  Node:
    type: object
    properties:
      name: {{type: string}}
      children: {{type: array, items: {{$ref: "#/definitions/Node"}}}}
    required: [name]
event_stores:
  trees:
    aggregate: {{name: Tree, schema: {{type: object, properties: {{}}}}}}
    events:
      TREE_PLANTED:
        initial: true
        payload: {{type: object, properties: {{root: {{$ref: "#/definitions/Node"}}}}, required: [root]}}
"""


def test_a_recursive_schema_round_trips(tmp_path: Path) -> None:
    spec = tmp_path / "trees.yaml"
    spec.write_text(RECURSIVE_SPEC.format(package="fidelity_trees"), encoding="utf-8")
    assert run_cli("generate", str(spec), "-o", str(tmp_path / "out"), cwd=tmp_path).code == 0
    sys.path.insert(0, str(tmp_path / "out"))
    try:
        codec = importlib.import_module("fidelity_trees").TREES_EVENT_CODEC
        root = {"name": "a", "children": [{"name": "b", "children": []}, {"name": "c"}]}
        stored = {"aggregate_id": "t", "version": 1, "type": "TREE_PLANTED", "payload": {"root": root}}
        assert json.loads(codec.to_json(codec.from_json(json.dumps(stored)))) == stored
    finally:
        sys.path.remove(str(tmp_path / "out"))
        for name in [name for name in sys.modules if name.startswith("fidelity_trees")]:
            del sys.modules[name]


def class_names(tmp_path: Path, document: dict[str, Any], name: str) -> set[str]:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    assert run_cli("generate", str(spec), "-o", str(tmp_path / name), cwd=tmp_path).code == 0
    models = (tmp_path / name / PACKAGE / "models.py").read_text(encoding="utf-8")
    return {line.split("(")[0].removeprefix("class ") for line in models.splitlines() if line.startswith("class ")}


def test_adding_an_event_renames_no_class_of_another(tmp_path: Path) -> None:
    """Names come from where schemas stand: an added event that shares their shapes takes names of its own."""
    grown = json.loads(json.dumps(SPEC))
    events = grown["event_stores"]["repos"]["events"]
    events["DISCUSSION_REOPENED"] = json.loads(json.dumps(events["DISCUSSION_ANSWERED"]))
    before, after = class_names(tmp_path, SPEC, "before"), class_names(tmp_path, grown, "after")
    assert before <= after
    assert {name for name in after - before if not name.startswith("DiscussionReopened")} == set()
