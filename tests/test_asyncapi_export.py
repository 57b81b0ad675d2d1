"""`kastor export asyncapi`: documents valid against the official AsyncAPI 3.0 schema and parser, stable
bytes, clear errors, and message payload schemas that accept the JSON MESSAGE_CODEC really writes.

The official schema and parser come from the npm registry (`@asyncapi/parser`, which brings
`@asyncapi/specs`), installed once into pytest's git-ignored cache. Without npm those tests skip, saying
how to install it; with KASTOR_REQUIRE_SERVICES=1 (CI) the skip fails the run, as for the servers.
"""

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .npm_tools import install_npm_package, npm_and_node
from .pokedex_builders import T0, appeared, caught, leveled_up, pokemon, registered, trainer_caught
from .support import REPO, SPECS, run_cli

from bookshop import (  # isort: skip  (importable once pokedex_builders has put generated_examples on sys.path)
    MESSAGE_CODEC as BOOKSHOP_CODEC,
)
from bookshop import NotificationMessage as BookshopNotification  # isort: skip  (each package has its runtime)
from bookshop import StateCarryingMessage as BookshopStateCarrying  # isort: skip
from bookshop import (  # isort: skip
    Money,
    Order,
    OrderCancelled,
    OrderCancelledPayload,
    OrderLine,
    OrderPaid,
    OrderPaidPayload,
    OrderPlaced,
    OrderPlacedPayload,
    OrderPlacedPayloadDeliveryAddress,
    OrdersMetadata,
    OrderShipped,
    OrderShippedPayload,
    OrderShippedPayloadParcelsItem,
)
from pokedex import (  # isort: skip
    MESSAGE_CODEC as POKEDEX_CODEC,
)
from pokedex import AggregateExistsMessage, NotificationMessage, StateCarryingMessage, Trainer  # isort: skip

POKEDEX = str(SPECS / "pokedex.yaml")
BOOKSHOP = str(SPECS / "bookshop.yaml")
#: The parser, and through it the specs package with the AsyncAPI JSON Schemas: pinned, so a test run
#: never changes under us.
ASYNCAPI_PARSER = "@asyncapi/parser@3.6.3"
#: The schema without `$id`s: its references all point into its own definitions, no download needed.
ASYNCAPI_SCHEMA = Path("node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json")
#: Parses each document given as an argument and prints the parser's diagnostics as JSON.
PARSE_SCRIPT = """
const { Parser } = require("@asyncapi/parser");
const fs = require("fs");
(async () => {
  const parser = new Parser();
  const results = [];
  for (const file of process.argv.slice(1)) {
    const { document, diagnostics } = await parser.parse(fs.readFileSync(file, "utf8"), { source: file });
    results.push({
      file, parsed: document !== undefined,
      diagnostics: diagnostics.map(d => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
    });
  }
  console.log(JSON.stringify(results));
})().catch(error => { console.error(error); process.exit(1); });
"""
#: The parser's severities: 0 error, 1 warning, 2 information, 3 hint.
PARSER_ERROR = 0


def export(*arguments: str) -> dict[str, Any]:
    result = run_cli("export", "asyncapi", *arguments)
    assert result.code == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


# -- the official validators ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsyncApiTools:
    node: str
    modules: Path  # holds node_modules/

    def schema(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.modules / ASYNCAPI_SCHEMA).read_text())
        return loaded

    def parse(self, *files: Path) -> list[dict[str, Any]]:
        completed = subprocess.run(
            [self.node, "-e", PARSE_SCRIPT, *map(str, files)],
            cwd=self.modules,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        results: list[dict[str, Any]] = json.loads(completed.stdout)
        return results


@pytest.fixture(scope="session")
def asyncapi_tools(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncApiTools:
    """The official AsyncAPI parser and schemas, installed with npm once into pytest's cache (or a skip)."""
    npm, node = npm_and_node()
    cache = getattr(request.config, "cache", None)  # absent under `-p no:cacheprovider`
    modules = cache.mkdir("asyncapi-npm") if cache is not None else tmp_path_factory.mktemp("asyncapi-npm")
    if not (modules / ASYNCAPI_SCHEMA).is_file() or not (modules / "node_modules/@asyncapi/parser").is_dir():
        install_npm_package(npm, ASYNCAPI_PARSER, modules)
    return AsyncApiTools(node, modules)


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two examples' documents on disk: pokedex in YAML, bookshop in JSON."""
    directory = tmp_path_factory.mktemp("asyncapi")
    files = {"pokedex": directory / "pokedex.asyncapi.yaml", "bookshop": directory / "bookshop.asyncapi.json"}
    assert run_cli("export", "asyncapi", POKEDEX, "-o", str(files["pokedex"])).code == 0
    assert run_cli("export", "asyncapi", BOOKSHOP, "--json", "-o", str(files["bookshop"])).code == 0
    return files


def load_document(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())  # JSON is YAML too
    return loaded


@pytest.mark.service
@pytest.mark.parametrize("package", ["pokedex", "bookshop"])
def test_documents_are_valid_against_the_official_asyncapi_schema(
    asyncapi_tools: AsyncApiTools, documents: dict[str, Path], package: str
) -> None:
    validator = jsonschema.Draft7Validator(asyncapi_tools.schema())
    errors = [
        f"{list(error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(load_document(documents[package]))
    ]
    assert errors == []


@pytest.mark.service
def test_the_schema_check_is_not_vacuous(asyncapi_tools: AsyncApiTools, documents: dict[str, Path]) -> None:
    document = load_document(documents["pokedex"])
    document["channels"]["app_message_bus"]["kind"] = "bus"  # not a field of a channel object
    assert not jsonschema.Draft7Validator(asyncapi_tools.schema()).is_valid(document)


@pytest.mark.service
def test_the_official_parser_accepts_both_documents_without_errors(
    asyncapi_tools: AsyncApiTools, documents: dict[str, Path]
) -> None:
    # The parser also resolves every $ref and checks that operations use messages of their channel.
    results = asyncapi_tools.parse(documents["pokedex"], documents["bookshop"])
    assert [result["parsed"] for result in results] == [True, True]
    errors = [d for result in results for d in result["diagnostics"] if d["severity"] == PARSER_ERROR]
    assert errors == []


@pytest.mark.service
def test_the_parser_check_is_not_vacuous(asyncapi_tools: AsyncApiTools, tmp_path: Path) -> None:
    document = export(POKEDEX)
    # An operation may only use messages of its own channel.
    send = document["operations"]["pokemons.send.pokemon_notifications_queue"]
    send["messages"] = [{"$ref": "#/channels/app_message_bus/messages/pokemons.POKEMON_CAUGHT"}]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    [result] = asyncapi_tools.parse(broken)
    assert any(d["severity"] == PARSER_ERROR for d in result["diagnostics"]), result


# -- what the document says -------------------------------------------------------------------------------


def test_the_pokedex_document_has_a_channel_per_spec_channel_and_operations_per_connection() -> None:
    document = export(POKEDEX, "--version", "2.1.0")
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {
        "title": "pokedex",
        "version": "2.1.0",
        "description": "Pokemons and the trainers who catch them.",
    }
    channels = document["channels"]
    assert set(channels) == {"app_message_bus", "pokemon_notifications_queue", "aggregate_ids_bus"}
    queue = channels["pokemon_notifications_queue"]
    assert queue["address"] == "pokemon_notifications_queue"
    assert (queue["x-kastor-channel-kind"], queue["x-kastor-message-kind"]) == ("queue", "notification")
    assert set(queue["messages"]) == {
        "pokemons.POKEMON_APPEARED",
        "pokemons.POKEMON_CAUGHT",
        "pokemons.POKEMON_LEVELED_UP",
    }
    assert set(channels["app_message_bus"]["messages"]) == {
        "pokemons.POKEMON_APPEARED",
        "pokemons.POKEMON_CAUGHT",
        "pokemons.POKEMON_LEVELED_UP",
        "trainers.TRAINER_CAUGHT_POKEMON",
        "trainers.TRAINER_REGISTERED",
    }
    assert set(channels["aggregate_ids_bus"]["messages"]) == {
        "pokemons.__AGGREGATE_EXISTS__",
        "trainers.__AGGREGATE_EXISTS__",
    }
    assert channels["aggregate_ids_bus"]["description"].startswith("Which pokemons and trainers exist")

    operations = document["operations"]
    sends = {name for name, operation in operations.items() if operation["action"] == "send"}
    assert sends == {
        "pokemons.send.app_message_bus",
        "pokemons.send.pokemon_notifications_queue",
        "trainers.send.app_message_bus",
    }
    trainers_send = operations["trainers.send.app_message_bus"]
    assert trainers_send["channel"] == {"$ref": "#/channels/app_message_bus"}
    assert [ref["$ref"] for ref in trainers_send["messages"]] == [
        "#/channels/app_message_bus/messages/trainers.TRAINER_CAUGHT_POKEMON",
        "#/channels/app_message_bus/messages/trainers.TRAINER_REGISTERED",
    ]
    receives = {name for name, operation in operations.items() if operation["action"] == "receive"}
    assert receives == {f"{channel}.receive" for channel in channels}


def test_schemas_are_the_spec_schemas_under_the_generated_class_names() -> None:
    schemas = export(BOOKSHOP)["components"]["schemas"]
    assert {"Money", "Currency", "OrderLines", "OrderPlacedPayloadDeliveryAddress", "OrdersMetadata"} <= set(schemas)
    assert schemas["OrderLines"]["items"] == {"$ref": "#/components/schemas/OrderLine"}
    # Not required, so the generated field defaults to None and the JSON may hold null.
    assert schemas["OrderLine"]["properties"]["quantity"] == {
        "anyOf": [{"type": "integer", "minimum": 1, "default": 1}, {"type": "null"}]
    }
    assert set(schemas["Order"]["required"]) >= {"aggregate_id", "version"}
    event = schemas["OrderPlaced"]
    assert event["properties"]["payload"] == {"$ref": "#/components/schemas/OrderPlacedPayload"}
    assert event["properties"]["metadata"] == {"$ref": "#/components/schemas/OrdersMetadata"}
    assert event["additionalProperties"] is False


# -- the payload schemas match the wire -------------------------------------------------------------------


def pokedex_bodies() -> list[dict[str, Any]]:
    """Real message bodies of the generated pokedex package: every kind, store and event type."""
    events = [
        appeared(timestamp=T0),
        appeared("eevee-1", timestamp=None, correlation_id="c-1"),  # an event not pushed yet: no timestamp
        caught(version=2, timestamp=T0),
        leveled_up(version=3, timestamp=T0),
    ]
    trainer_events = [registered(timestamp=T0), trainer_caught(version=2, timestamp=T0)]
    # A state-carrying message's aggregate is the one as of its event: same aggregate id and version.
    ash = [
        Trainer(aggregate_id="ash", version=1, name="Ash", caught_pokemon_ids=[]),
        Trainer(aggregate_id="ash", version=2, name="Ash", caught_pokemon_ids=["pikachu-1"]),
    ]
    messages: list[Any] = [NotificationMessage("pokemons", event) for event in events]
    messages += [
        StateCarryingMessage("pokemons", event, pokemon(event.aggregate_id, version=event.version)) for event in events
    ]
    messages += [
        StateCarryingMessage("trainers", event, aggregate) for event, aggregate in zip(trainer_events, ash, strict=True)
    ]
    messages += [NotificationMessage("trainers", event) for event in trainer_events]
    messages += [AggregateExistsMessage(store, "some-id", T0) for store in ("pokemons", "trainers")]
    return [json.loads(POKEDEX_CODEC.to_json(message)) for message in messages]


def bookshop_bodies() -> list[dict[str, Any]]:
    """Bodies with nested objects, arrays, uuids, date-times, enums and nullable or defaulted fields."""
    metadata = OrdersMetadata(correlation_id=str(UUID(int=7)), actor="customer")
    line = OrderLine(isbn="9780000000002", unit_price=Money(amount_cents=1250, currency="EUR"))
    address = OrderPlacedPayloadDeliveryAddress(
        name="Ada", street="1 Rue", city="Paris", postal_code="75001", country="FR"
    )
    placed = OrderPlaced(
        aggregate_id="order-1",
        version=1,
        timestamp=T0,
        metadata=metadata,
        payload=OrderPlacedPayload(customer_id=str(UUID(int=1)), lines=[line], delivery_address=address),
    )
    parcel = OrderShippedPayloadParcelsItem(weight_grams=300, isbns=["9780000000002"])
    shipped = OrderShipped(
        aggregate_id="order-1",
        version=2,
        timestamp=T0,
        metadata=metadata,
        payload=OrderShippedPayload(carrier="dhl", tracking_number=None, parcels=[parcel]),
    )
    paid = OrderPaid(
        aggregate_id="order-1",
        version=2,
        timestamp=T0,
        metadata=metadata,
        payload=OrderPaidPayload(total=line.unit_price, paid_at=T0.isoformat(), payment_reference="pay-1"),
    )
    cancelled = OrderCancelled(
        aggregate_id="order-1", version=3, metadata=metadata, payload=OrderCancelledPayload(reason="out_of_stock")
    )
    order = Order(
        aggregate_id="order-1",
        version=1,
        customer_id=str(UUID(int=1)),
        lines=[line],
        status="placed",
        paid_at="2024-05-01T00:00:00Z",
    )
    events = (placed, paid, shipped, cancelled)
    messages: list[Any] = [BookshopNotification("orders", event) for event in events]
    # Each state-carrying message carries the order as of its event (its version).
    messages += [
        BookshopStateCarrying("orders", event, order.model_copy(update={"version": event.version})) for event in events
    ]
    return [json.loads(BOOKSHOP_CODEC.to_json(message)) for message in messages]


def message_validators(document: dict[str, Any]) -> Iterator[tuple[str, str, jsonschema.Draft7Validator]]:
    """(channel id, message key, validator of its payload) for every message of every channel; $refs are
    resolved within the document itself."""
    registry: Registry[Any] = Registry().with_resource("urn:document", Resource(document, specification=DRAFT7))
    for channel_id, channel in document["channels"].items():
        for key, reference in channel["messages"].items():
            pointer = reference["$ref"].removeprefix("#")
            schema = {"$ref": f"urn:document#{pointer}/payload"}
            yield channel_id, key, jsonschema.Draft7Validator(schema, registry=registry)


def routing_key(body: dict[str, Any]) -> str:
    word = body["event"]["type"] if "event" in body else "__AGGREGATE_EXISTS__"
    return f"{body['event_store_id']}.{word}"


@pytest.mark.parametrize(("spec", "bodies"), [(POKEDEX, pokedex_bodies), (BOOKSHOP, bookshop_bodies)])
def test_each_message_payload_accepts_what_message_codec_writes(spec: str, bodies: Any) -> None:
    document = export(spec)
    written = bodies()
    checked: set[tuple[str, str]] = set()
    for channel_id, key, validator in message_validators(document):
        kind = document["channels"][channel_id]["x-kastor-message-kind"]
        matching = [body for body in written if body["kind"] == kind and routing_key(body) == key]
        for body in matching:
            errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(body)]
            assert errors == [], (channel_id, key, body)
            checked.add((channel_id, key))
    # Every message the document declares met a real body.
    declared = {(channel_id, key) for channel_id, key, _ in message_validators(document)}
    assert checked == declared


def test_a_payload_schema_refuses_a_body_of_another_kind_or_store() -> None:
    validators = {(channel, key): v for channel, key, v in message_validators(export(POKEDEX))}
    notification = next(b for b in pokedex_bodies() if b["kind"] == "notification")
    state_carrying_appeared = validators[("app_message_bus", "pokemons.POKEMON_APPEARED")]
    assert not state_carrying_appeared.is_valid(notification)
    wrong_store = {**notification, "event_store_id": "trainers"}
    assert not validators[("pokemon_notifications_queue", "pokemons.POKEMON_APPEARED")].is_valid(wrong_store)


# -- determinism and output -------------------------------------------------------------------------------


def test_the_document_is_the_same_bytes_every_time_and_from_anywhere(tmp_path: Path) -> None:
    first = run_cli("export", "asyncapi", POKEDEX)
    again = run_cli("export", "asyncapi", POKEDEX, cwd=tmp_path)
    assert first.code == again.code == 0
    assert first.stdout == again.stdout
    assert first.stdout.startswith("# Code generated by kastor from specs/pokedex.yaml. DO NOT EDIT.\n")
    as_json = run_cli("export", "asyncapi", POKEDEX, "--json")
    assert json.loads(as_json.stdout) == yaml.safe_load(first.stdout)
    assert as_json.stdout == run_cli("export", "asyncapi", POKEDEX, "--json").stdout


def test_output_file_receives_the_document(tmp_path: Path) -> None:
    target = tmp_path / "pokedex.yaml"
    result = run_cli("export", "asyncapi", POKEDEX, "-o", str(target))
    assert result.code == 0, result.stderr
    assert "written" in result.stdout
    assert target.read_text() == run_cli("export", "asyncapi", POKEDEX).stdout


def test_config_specs_with_several_packages_need_package() -> None:
    result = run_cli("export", "asyncapi")  # [tool.kastor] specs: pokedex and bookshop
    assert result.code == 2
    assert "2 packages (bookshop, pokedex)" in result.stderr and "--package NAME" in result.stderr
    chosen = run_cli("export", "asyncapi", "--package", "bookshop")
    assert chosen.code == 0
    assert yaml.safe_load(chosen.stdout)["info"]["title"] == "bookshop"
    unknown = run_cli("export", "asyncapi", "--package", "nope")
    assert unknown.code == 2
    assert "--package nope: no such package in the specs (packages: bookshop, pokedex)" in unknown.stderr


# -- bad input --------------------------------------------------------------------------------------------


def test_an_invalid_spec_is_reported_with_its_location_and_nothing_is_printed(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(Path(POKEDEX).read_text().replace("sources: [pokemons]", "sources: [pokemonz]"), encoding="utf-8")
    result = run_cli("export", "asyncapi", str(spec), "-o", str(tmp_path / "out.yaml"))
    assert result.code == 2
    assert result.stdout == ""
    assert f"{spec}:" in result.stderr and "pokemonz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["export", "openapi", POKEDEX], "invalid choice: 'openapi' (choose from 'asyncapi')"),
        (["export"], "the following arguments are required: FORMAT"),
        (["export", "asyncapi", POKEDEX, "--version", " "], "--version must not be empty"),
        (["export", "asyncapi", str(REPO / "missing.yaml")], "missing.yaml"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(arguments: list[str], expected: str) -> None:
    result = run_cli(*arguments)
    assert result.code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unwritable_output_exits_2(tmp_path: Path) -> None:
    result = run_cli("export", "asyncapi", POKEDEX, "-o", str(tmp_path / "no" / "such" / "dir.yaml"))
    assert result.code == 2
    assert "cannot write the output" in result.stderr
