"""`kastor export asyncapi`: an AsyncAPI 3.0 document of one package's channels and messages.

The document is built as plain data from the intermediate model, so that it says what the generated
package does: each message's payload is the JSON body that the package's `MESSAGE_CODEC` writes (the
envelope with `kind` and `event_store_id`, the event as its store codec writes it, the aggregate for
state-carrying messages), and its schemas are the spec's, under `components/schemas`, named like the
generated classes.
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .command_support import EXIT_OK, Commands, UsageError, add_spec_arguments, resolve
from .ir import ChannelModel, EventModel, PackageModel, StoreModel
from .pipeline import LoadedPackage, load_packages
from .spec_model import DEFINITION_REF_PREFIX
from .validation import SpecDocument

ASYNCAPI_VERSION = "3.0.0"
DEFAULT_DOCUMENT_VERSION = "1.0.0"
COMPONENT_SCHEMAS = "#/components/schemas/"
COMPONENT_MESSAGES = "#/components/messages/"
#: The second word of an aggregate-exists message's routing key on a RabbitMQ bus (rabbitmq_channels.py).
AGGREGATE_EXISTS_WORD = "__AGGREGATE_EXISTS__"

JsonObject = dict[str, Any]


def add_command(commands: Commands) -> None:
    """Registers `kastor export FORMAT`, with one format today: `asyncapi`."""
    description = "Export the specs in another format."
    export = commands.add_parser("export", help=description, description=description)
    # A sub-command per format, so that each format has options of its own.
    formats = export.add_subparsers(title="formats", required=True, metavar="FORMAT", dest="format")
    text = (
        "Print the AsyncAPI 3.0 document (YAML, or JSON with --json) of one package: its channels, the JSON "
        "bodies of their messages as MESSAGE_CODEC writes them, and a send operation per connection."
    )
    asyncapi = formats.add_parser("asyncapi", help=text, description=text)
    add_spec_arguments(asyncapi, output=None)
    asyncapi.add_argument("-o", "--output", metavar="FILE", help="write the document to FILE; default: stdout")
    asyncapi.add_argument("--package", metavar="NAME", help="the package to export when the specs describe several")
    asyncapi.add_argument(
        "--version",
        default=DEFAULT_DOCUMENT_VERSION,
        metavar="VERSION",
        help=f"info.version of the document (the version of your API); default: {DEFAULT_DOCUMENT_VERSION}",
    )
    asyncapi.add_argument("--json", action="store_true", help="write JSON instead of YAML")
    asyncapi.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    sources, _ = resolve(arguments, needs_output=False)
    version: str = arguments.version
    if not version.strip():
        raise UsageError("--version must not be empty")
    package = _chosen_package(load_packages(sources), arguments.package)
    model = package.model
    document = asyncapi_document(model, spec_texts(package.documents), version=version)
    text = render_json(document) if arguments.json else render_yaml(document, model.header)
    if arguments.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    Path(arguments.output).write_text(text, encoding="utf-8")
    print(f"{arguments.output}: AsyncAPI {ASYNCAPI_VERSION} document of {model.name} written")
    return EXIT_OK


def _chosen_package(packages: list[LoadedPackage], wanted: str | None) -> LoadedPackage:
    """One document describes one application: the package named by --package, or the only one."""
    names = ", ".join(package.model.name for package in packages)
    if wanted is not None:
        for package in packages:
            if package.model.name == wanted:
                return package
        raise UsageError(f"--package {wanted}: no such package in the specs (packages: {names})")
    if len(packages) > 1:
        raise UsageError(
            f"the specs describe {len(packages)} packages ({names}); an AsyncAPI document describes one: "
            "choose it with --package NAME"
        )
    return packages[0]


# -- the spec's own texts -----------------------------------------------------------------------------


@dataclass
class SpecTexts:
    """The descriptions as the spec wrote them (the model holds them escaped for docstrings)."""

    package: list[str] = field(default_factory=list)
    stores: dict[str, str] = field(default_factory=dict)
    events: dict[tuple[str, str], str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)


def spec_texts(documents: list[SpecDocument]) -> SpecTexts:
    """The descriptions of the package's spec documents."""
    texts = SpecTexts()
    for document in documents:
        spec = document.spec
        if spec.description and spec.description.strip() not in texts.package:
            texts.package.append(spec.description.strip())
        for store_id, store in spec.event_stores.items():
            if store.description:
                texts.stores[store_id] = store.description.strip()
            for event_type, event in store.events.items():
                if event.description:
                    texts.events[(store_id, event_type)] = event.description.strip()
        for channel_id, channel in spec.channels.items():
            if channel.description:
                texts.channels[channel_id] = channel.description.strip()
    return texts


# -- the document -------------------------------------------------------------------------------------


def asyncapi_document(model: PackageModel, texts: SpecTexts, *, version: str) -> JsonObject:
    """The AsyncAPI 3.0 document of a package, as plain JSON data."""
    messages: JsonObject = {}
    for channel in model.channels:
        for wire in channel_messages(channel):
            messages[wire.component_id] = _message(wire, texts)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(model, texts, version),
        "defaultContentType": "application/json",
        "channels": {channel.channel_id: _channel(channel, texts) for channel in model.channels},
        "operations": _operations(model),
        "components": {"schemas": _component_schemas(model, texts), "messages": messages},
    }


def _info(model: PackageModel, texts: SpecTexts, version: str) -> JsonObject:
    description = "\n\n".join(texts.package) or f"The event stores and message channels of {model.name}."
    return {"title": model.name, "version": version, "description": description}


@dataclass(frozen=True)
class WireMessage:
    """One message a channel carries: of one source store, and of one event type unless aggregate-exists."""

    channel: ChannelModel
    store: StoreModel
    event: EventModel | None

    @property
    def key(self) -> str:
        """Its id in the channel: the routing key a RabbitMQ bus gives it, `<store id>.<event type>`."""
        word = self.event.event_type if self.event is not None else AGGREGATE_EXISTS_WORD
        return f"{self.store.store_id}.{word}"

    @property
    def component_id(self) -> str:
        """Its id in components/messages, shared by every channel that carries the same body."""
        if self.event is None:
            return f"{self.store.store_id}.{self.channel.message}"
        return f"{self.store.store_id}.{self.event.event_type}.{self.channel.message}"

    @property
    def channel_ref(self) -> str:
        return f"#/channels/{self.channel.channel_id}/messages/{self.key}"


def channel_messages(channel: ChannelModel) -> list[WireMessage]:
    """Per source store, one message per event type, or one aggregate-exists message."""
    if channel.message == "aggregate-exists":
        return [WireMessage(channel, store, None) for store in channel.source_stores]
    return [WireMessage(channel, store, event) for store in channel.source_stores for event in store.events]


def _channel(channel: ChannelModel, texts: SpecTexts) -> JsonObject:
    summary = f"A {channel.kind} of {channel.message} messages from {', '.join(channel.sources)}: " + (
        "every subscriber receives each message." if channel.kind == "bus" else "each message is handled once."
    )
    given = texts.channels.get(channel.channel_id)
    return {
        "address": channel.channel_id,
        "title": channel.class_name,
        "description": f"{given}\n\n{summary}" if given else summary,
        "messages": {wire.key: {"$ref": COMPONENT_MESSAGES + wire.component_id} for wire in channel_messages(channel)},
        "x-kastor-channel-kind": channel.kind,
        "x-kastor-message-kind": channel.message,
        "x-kastor-sources": list(channel.sources),
    }


def _operations(model: PackageModel) -> JsonObject:
    """A send operation per connection (the store publishes what it pushes) and a receive operation per
    channel (what its subscribers get, whoever publishes: connected stores, the pour utilities, your code)."""
    operations: JsonObject = {}
    channels = {channel.channel_id: channel for channel in model.channels}
    for connection in model.connections:
        channel = channels[connection.channel_id]
        sent = [wire for wire in channel_messages(channel) if wire.store.store_id == connection.store_id]
        operations[f"{connection.store_id}.send.{channel.channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel.channel_id}"},
            "title": f"{connection.store_id} publishes to {channel.channel_id}",
            "summary": f"The connected {connection.store_id} event store publishes a message for each event it "
            "pushes, after storing it.",
            "messages": [{"$ref": wire.channel_ref} for wire in sent],
        }
    for channel in model.channels:
        operations[f"{channel.channel_id}.receive"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel.channel_id}"},
            "title": f"Subscribers of {channel.channel_id}",
            "summary": f"A subscriber of {channel.class_name} (its `on(...)` handlers) receives these messages.",
            "messages": [{"$ref": wire.channel_ref} for wire in channel_messages(channel)],
        }
    return operations


def _message(wire: WireMessage, texts: SpecTexts) -> JsonObject:
    store_id = wire.store.store_id
    message: JsonObject = {"name": wire.key, "contentType": "application/json"}
    if wire.event is None:
        message["title"] = f"{store_id}: an aggregate exists"
        message["summary"] = f"An aggregate of the {store_id} store exists (sent when its ids are poured)."
        message["payload"] = _aggregate_exists_body(store_id)
        return message
    message["title"] = f"{wire.event.event_type} of {store_id} ({wire.channel.message})"
    summary = texts.events.get((store_id, wire.event.event_type))
    if summary:
        message["summary"] = summary
    message["payload"] = _event_body(wire)
    return message


def _envelope(kind: str, store_id: str, properties: JsonObject) -> JsonObject:
    """A message body as MessageCodec.to_dict writes it: its kind, its store, then what the kind carries."""
    every = {
        "kind": {"type": "string", "const": kind},
        "event_store_id": {"type": "string", "const": store_id},
        **properties,
    }
    return {"type": "object", "properties": every, "required": list(every), "additionalProperties": False}


def _event_body(wire: WireMessage) -> JsonObject:
    assert wire.event is not None
    carried: JsonObject = {"event": {"$ref": COMPONENT_SCHEMAS + wire.event.class_name}}
    if wire.channel.message == "state-carrying":
        carried["aggregate"] = {"$ref": COMPONENT_SCHEMAS + wire.store.aggregate_class}
    return _envelope(wire.channel.message, wire.store.store_id, carried)


def _aggregate_exists_body(store_id: str) -> JsonObject:
    return _envelope(
        "aggregate-exists",
        store_id,
        {
            "aggregate_id": {"type": "string"},
            "initial_event_timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the aggregate's initial event was stored.",
            },
        },
    )


# -- components/schemas -------------------------------------------------------------------------------


def _component_schemas(model: PackageModel, texts: SpecTexts) -> JsonObject:
    """The package's models (payloads, metadata, aggregates, definitions, lifted nested objects) and its
    events, each under its generated class name: unique in a package, as the generator checks."""
    aggregates = set(model.aggregate_classes)
    schemas: JsonObject = {}
    for named in model.models:
        schema = wire_schema(named.schema)
        schemas[named.name] = _with_aggregate_fields(schema) if named.name in aggregates else schema
    for store in model.stores:
        for event in store.events:
            schemas[event.class_name] = _event_schema(store, event, texts)
    return schemas


def wire_schema(schema: Any) -> Any:
    """A spec schema as the JSON that its generated model writes.

    `$ref`s point into components/schemas. A property that is not required is a field defaulting to None
    in the generated model, and pydantic writes every field, so such a property may be null on the wire.
    Only schema keywords are walked: `default`, `const`, `enum` and `examples` hold data, kept as they are.
    """
    if not isinstance(schema, dict):
        return schema  # a boolean schema (`true`: any value, `false`: none), written as it is
    required = set(schema.get("required", ()))
    result: JsonObject = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            result[key] = COMPONENT_SCHEMAS + value.removeprefix(DEFINITION_REF_PREFIX)
        elif key == "properties":
            result[key] = {
                name: wire_schema(sub) if name in required else _nullable(wire_schema(sub))
                for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = wire_schema(value)
        elif key in ("items", "anyOf", "oneOf", "allOf") and isinstance(value, list):
            result[key] = [wire_schema(member) for member in value]
        else:
            result[key] = value
    return result


def _nullable(schema: Any) -> Any:
    if schema is True:
        return schema
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _with_aggregate_fields(schema: JsonObject) -> JsonObject:
    """An aggregate as its model writes it: the runtime's `Aggregate` adds `aggregate_id` and `version`."""
    implicit: JsonObject = {
        "aggregate_id": {"type": "string"},
        "version": {"type": "integer", "minimum": 0, "description": "The version of its last event."},
    }
    return {
        **schema,
        "properties": {**implicit, **schema.get("properties", {})},
        "required": [*implicit, *schema.get("required", [])],
    }


def _event_schema(store: StoreModel, event: EventModel, texts: SpecTexts) -> JsonObject:
    """An event as its store's codec writes it (events forbid any other field): metadata only when it was
    given, which it must be when its schema requires properties; a timestamp once the event is pushed."""
    properties: JsonObject = {
        "aggregate_id": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "type": {"type": "string", "const": event.event_type},
        # Set by the store when it pushes the event; absent (or null) only for an event never pushed.
        "timestamp": {"type": ["string", "null"], "format": "date-time"},
    }
    if event.payload_class is not None:
        properties["payload"] = {"$ref": COMPONENT_SCHEMAS + event.payload_class}
    if store.metadata_class is not None:
        properties["metadata"] = {"$ref": COMPONENT_SCHEMAS + store.metadata_class}
    description = texts.events.get((store.store_id, event.event_type)) or (
        f"The {event.event_type} event of the {store.store_id} store."
    )
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": [
            name for name in properties if name != "timestamp" and (name != "metadata" or store.metadata_required)
        ],
        "additionalProperties": False,
    }


# -- rendering ----------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes each repeated value again rather than as a YAML alias, which AsyncAPI tools may not follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # Descriptions of several lines read best as literal blocks (PyYAML quotes those that cannot be).
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def render_yaml(document: JsonObject, header: str) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=120)
    return f"{header}\n{body}"


def render_json(document: JsonObject) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
