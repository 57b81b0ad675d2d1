"""`kastor docs`: Markdown documentation of the specs, one file per package.

Everything is computed here from the validated specs and their intermediate model (names of the generated
classes, sorted stores, events, channels and connections); the Markdown is assembled from escaped pieces
(`markdown`), the field tables by `schema_tables` and the diagram by `mermaid`. Like `generate`, the output
depends neither on the order of spec files nor on the working directory, and holds no timestamp.
"""

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import markdown, mermaid
from .command_support import EXIT_OK, Commands, UsageError, add_spec_arguments, resolve, shown_path
from .config import find_project_root
from .ir import ChannelModel, EventModel, PackageModel, StoreModel
from .pipeline import SpecSource, load_packages
from .schema_tables import Schema, constraints_text, field_table, referenced_definitions, type_text
from .spec_model import ChannelSpec, EventStoreSpec, JsonSchema
from .validation import SpecDocument

#: Where the documents go without `-o`, relative to the project root (the [tool.kastor] pyproject.toml).
DEFAULT_OUTPUT = Path("docs") / "spec"
STDOUT = "-"

_IMPLICIT_EVENT_FIELDS = (
    "Every event also has `aggregate_id` (string), `version` (integer ≥ 1), `type` (its event type) and "
    "`timestamp` (an aware date-time, UTC)."
)


def add_command(commands: Commands) -> None:
    """Registers `kastor docs`."""
    help_text = "Write Markdown documentation of the specs: one OUT/<package>.md per package, with a diagram."
    command = commands.add_parser("docs", help=help_text, description=help_text)
    add_spec_arguments(
        command,
        output=f"directory that receives <package>.md; '{STDOUT}' prints the Markdown instead; "
        f"default: {DEFAULT_OUTPUT.as_posix()} under the project root (the [tool.kastor] pyproject.toml)",
    )
    command.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    sources, _ = resolve(arguments, needs_output=False)
    documents = package_documents(sources)
    if arguments.output == STDOUT:
        sys.stdout.write("\n".join(document for _, document in documents))
        return EXIT_OK
    directory = _output_directory(arguments.output)
    for name, document in documents:
        path = directory / f"{name}.md"
        state = "written" if write_if_changed(path, document) else "unchanged"
        print(f"{shown_path(path)}: {state}")
    return EXIT_OK


def package_documents(sources: list[SpecSource]) -> list[tuple[str, str]]:
    """(package name, Markdown) of every package the specs describe, sorted by name; raises `SpecError`
    with every problem of invalid specs."""
    return [
        (package.model.name, render_package(package.model, _merged_specs(package.documents)))
        for package in load_packages(sources)
    ]


def _output_directory(given: str | None) -> Path:
    if given is not None:
        directory = Path(given)
    else:
        root = find_project_root(Path.cwd())
        if root is None:
            raise UsageError(
                f"no output directory: pass -o DIR (or -o {STDOUT} to print), or run inside a project whose "
                "pyproject.toml has a [tool.kastor] section"
            )
        directory = root / DEFAULT_OUTPUT
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"cannot write the documentation: '{shown_path(directory)}' exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the directory '{shown_path(directory)}': {error.strerror or error}") from error
    return directory


def write_if_changed(path: Path, text: str) -> bool:
    """Writes `text` to `path` unless it already holds it; a reader sees the old file or the new one, never
    half of one (written beside it, then renamed). Returns whether it wrote."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as error:
        raise UsageError(f"cannot read '{shown_path(path)}': {error.strerror or error}") from error
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise UsageError(f"cannot write '{shown_path(path)}': {error.strerror or error}") from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the documentation from other users
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"cannot write '{shown_path(path)}': {error.strerror or error}") from error
    return True


@dataclass(frozen=True)
class PackageSpecs:
    """What the spec files of one package say, merged: the texts and schemas the model does not keep."""

    descriptions: tuple[str, ...]
    definitions: dict[str, Schema]
    stores: dict[str, EventStoreSpec]
    channels: dict[str, ChannelSpec]


def _merged_specs(documents: list[SpecDocument]) -> PackageSpecs:
    """The spec documents of one package, merged; ids are unique across a package's files, which validation
    has checked."""
    descriptions: list[str] = []
    definitions: dict[str, Schema] = {}
    stores: dict[str, EventStoreSpec] = {}
    channels: dict[str, ChannelSpec] = {}
    for document in documents:  # in the order of their paths from the project root
        spec = document.spec
        if spec.description:
            descriptions.append(spec.description)
        definitions.update({name: schema_dict(schema) for name, schema in spec.definitions.items()})
        stores.update(spec.event_stores)
        channels.update(spec.channels)
    return PackageSpecs(tuple(descriptions), definitions, stores, channels)


def schema_dict(schema: JsonSchema) -> Schema:
    """A schema as the spec wrote it (aliases such as `$ref`, only the keys that were given)."""
    dumped: Schema = schema.model_dump(by_alias=True, exclude_unset=True)
    return dumped


def render_package(model: PackageModel, specs: PackageSpecs) -> str:
    """The Markdown document of one package."""
    sections = [
        _title(model, specs),
        _overview(model, specs),
        _stores_section(model, specs),
        _definitions_section(model, specs),
        _channels_section(model, specs),
        _footer(model),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _title(model: PackageModel, specs: PackageSpecs) -> str:
    parts = [f"# Package {_code(model.name)}"]
    parts.extend(markdown.paragraphs(description) for description in specs.descriptions)
    spec_list = ", ".join(_code(path) for path in model.spec_paths)
    parts.append(
        f"Generated Python package {_code(model.name)}, from {spec_list}. Contents: "
        "[overview](#overview), [event stores](#event-stores), [definitions](#definitions), "
        "[channels](#channels)."
    )
    return "\n\n".join(part for part in parts if part)


def _overview(model: PackageModel, specs: PackageSpecs) -> str:
    event_count = sum(len(store.events) for store in model.stores)
    summary = (
        f"{_count(len(model.stores), 'event store')} with {_count(event_count, 'event')}, "
        f"{_count(len(specs.definitions), 'definition')}, {_count(len(model.channels), 'channel')} and "
        f"{_count(len(model.connections), 'connection')}."
    )
    legend = (
        "Event stores (cylinders) publish to the channels they are connected to (solid edges, labelled with "
        "the kind of message); a dashed edge is a source the channel may carry that is not connected to it. "
        "Buses are hexagons, queues parallelograms; each channel points to the kind of message it carries."
    )
    parts = [
        _section_heading(2, "Overview", "overview"),
        summary,
        _store_summary_table(model),
        _channel_summary_table(model) if model.channels else "",
        legend,
        f"```mermaid\n{mermaid.flowchart(model)}```",
    ]
    return "\n\n".join(part for part in parts if part)


def _section_heading(level: int, title: str, anchor_id: str) -> str:
    # Explicit ids: the links in this document must not depend on how a renderer slugs headings.
    return f'<a id="{anchor_id}"></a>\n\n{"#" * level} {title}'


def _store_summary_table(model: PackageModel) -> str:
    rows = [
        (
            _store_link(store.store_id),
            _code(store.aggregate_class),
            ", ".join(_event_link(event.event_type) for event in store.events),
            ", ".join(_channel_link(channel.channel_id) for channel in _connected_channels(model, store)) or "none",
        )
        for store in model.stores
    ]
    return markdown.table(("event store", "aggregate", "events", "connected to"), rows)


def _channel_summary_table(model: PackageModel) -> str:
    rows = [
        (
            _channel_link(channel.channel_id),
            channel.kind,
            channel.message,
            ", ".join(_store_link(source) for source in channel.sources),
            ", ".join(_store_link(store_id) for store_id in _connected_store_ids(model, channel)) or "none",
        )
        for channel in model.channels
    ]
    return markdown.table(("channel", "kind", "message", "sources", "connected stores"), rows)


def _stores_section(model: PackageModel, specs: PackageSpecs) -> str:
    parts = [_section_heading(2, "Event stores", "event-stores")]
    parts.extend(_store_section(model, store, specs.stores[store.store_id]) for store in model.stores)
    return "\n\n".join(parts)


def _store_section(model: PackageModel, store: StoreModel, spec: EventStoreSpec) -> str:
    connected = ", ".join(_channel_link(channel.channel_id) for channel in _connected_channels(model, store))
    facts = [
        f"- Event store class: {_code(store.store_class)}; reducer: {_code(store.reducer_class)}",
        f"- Event union: {_code(store.union_name)}; codec: {_code(store.codec_name)}",
        f"- Connected to: {connected or 'no channel'}",
    ]
    parts = [
        _named_heading(3, "store", store.store_id, "Event store "),
        markdown.paragraphs(spec.description or ""),
        "\n".join(facts),
        _aggregate_section(store, spec),
        _metadata_section(store, spec),
        _events_section(store, spec),
    ]
    return "\n\n".join(part for part in parts if part)


def _aggregate_section(store: StoreModel, spec: EventStoreSpec) -> str:
    name = _code(store.aggregate_class)
    implicit = "Besides these fields, the aggregate has `aggregate_id` (string) and `version` (integer ≥ 1)."
    parts = [
        f"#### Aggregate {name}",
        markdown.paragraphs(spec.aggregate.description or ""),
        field_table(schema_dict(spec.aggregate.schema_)),
        implicit,
    ]
    return "\n\n".join(part for part in parts if part)


def _metadata_section(store: StoreModel, spec: EventStoreSpec) -> str:
    if spec.metadata is None or store.metadata_class is None:
        return f"#### Metadata\n\nNone: the events of {_code(store.store_id)} carry no metadata."
    required = "required on every event" if store.metadata_required else "optional (defaults to an empty one)"
    metadata = schema_dict(spec.metadata)
    parts = [
        "#### Metadata",
        f"Class {_code(store.metadata_class)}, {required}.",
        markdown.paragraphs(spec.metadata.description or ""),
        field_table(metadata),
    ]
    return "\n\n".join(part for part in parts if part)


def _events_section(store: StoreModel, spec: EventStoreSpec) -> str:
    rows = [
        (
            _event_link(event.event_type),
            _code(event.class_name),
            "yes" if event.initial else "no",
            _code(event.payload_class) if event.payload_class else "none",
            markdown.cell(spec.events[event.event_type].description or ""),
        )
        for event in store.events
    ]
    parts = [
        "#### Events",
        _IMPLICIT_EVENT_FIELDS,
        markdown.table(("event type", "class", "initial", "payload", "description"), rows),
    ]
    parts.extend(_event_section(store, event, spec) for event in store.events)
    return "\n\n".join(parts)


def _event_section(store: StoreModel, event: EventModel, spec: EventStoreSpec) -> str:
    event_spec = spec.events[event.event_type]
    initial = (
        "yes: it creates the aggregate, at version 1"
        if event.initial
        else f"no: it applies to an existing {_code(store.aggregate_class)}"
    )
    facts = [
        f"- Class: {_code(event.class_name)}; reducer hook: {_code(event.hook_name)}",
        f"- Initial: {initial}",
    ]
    if event_spec.payload is None or event.payload_class is None:
        payload = "No payload."
    else:
        payload_class = _code(event.payload_class)
        payload = "\n\n".join(
            part
            for part in (
                f"Payload: {payload_class}.",
                markdown.paragraphs(event_spec.payload.description or ""),
                field_table(schema_dict(event_spec.payload)),
            )
            if part
        )
    parts = [
        _named_heading(5, "event", event.event_type, ""),
        markdown.paragraphs(event_spec.description or ""),
        "\n".join(facts),
        payload,
    ]
    return "\n\n".join(part for part in parts if part)


def _definitions_section(model: PackageModel, specs: PackageSpecs) -> str:
    heading = _section_heading(2, "Definitions", "definitions")
    if not specs.definitions:
        return f"{heading}\n\nNone."
    users = _definition_users(specs)
    parts = [heading, 'Shared schemas, referred to as `$ref: "#/definitions/<Name>"`; each is a class of `models.py`.']
    parts.extend(
        _definition_section(name, specs.definitions[name], users.get(name, [])) for name in sorted(specs.definitions)
    )
    return "\n\n".join(parts)


def _definition_section(name: str, schema: Schema, users: list[str]) -> str:
    # A table, not a list: constraints quote user values as code spans escaped for table cells.
    summary = markdown.table(
        ("type", "constraints", "used by"),
        [(type_text(schema), constraints_text(schema), ", ".join(users) or "nothing in this package")],
    )
    parts = [
        _named_heading(3, "definition", name, ""),
        markdown.paragraphs(schema.get("description") or ""),
        summary,
        field_table(schema) if "properties" in schema else "",
    ]
    return "\n\n".join(part for part in parts if part)


def _definition_users(specs: PackageSpecs) -> dict[str, list[str]]:
    """For each definition, links to what refers to it directly: definitions, aggregates, metadata, events."""
    users: dict[str, list[str]] = {}

    def note(schema: Schema, user: str) -> None:
        for name in sorted(referenced_definitions(schema)):
            users.setdefault(name, []).append(user)

    for name in sorted(specs.definitions):
        note(specs.definitions[name], markdown.link(_code(name), "definition", name))
    for store_id in sorted(specs.stores):
        store = specs.stores[store_id]
        store_label = _code(store_id)
        note(schema_dict(store.aggregate.schema_), f"aggregate of {markdown.link(store_label, 'store', store_id)}")
        if store.metadata is not None:
            note(schema_dict(store.metadata), f"metadata of {markdown.link(store_label, 'store', store_id)}")
        for event_type in sorted(store.events):
            payload = store.events[event_type].payload
            if payload is not None:
                note(schema_dict(payload), _event_link(event_type))
    return users


def _channels_section(model: PackageModel, specs: PackageSpecs) -> str:
    heading = _section_heading(2, "Channels", "channels")
    if not model.channels:
        return f"{heading}\n\nNone."
    parts = [heading]
    parts.extend(_channel_section(model, channel, specs.channels[channel.channel_id]) for channel in model.channels)
    return "\n\n".join(parts)


def _channel_section(model: PackageModel, channel: ChannelModel, spec: ChannelSpec) -> str:
    connected = ", ".join(_store_link(store_id) for store_id in _connected_store_ids(model, channel))
    messages = ", ".join(_code(store.message_alias(channel.message)) for store in channel.source_stores)
    facts = [
        f"- Class: {_code(channel.class_name)}",
        f"- Kind: {channel.kind}; messages: {channel.message}",
        f"- Sources: {', '.join(_store_link(source) for source in channel.sources)}",
        f"- Connected stores: {connected or 'none (messages are published by hand or poured)'}",
        f"- Message classes: {messages}",
    ]
    parts = [
        _named_heading(3, "channel", channel.channel_id, "Channel "),
        markdown.paragraphs(spec.description or ""),
        "\n".join(facts),
    ]
    return "\n\n".join(part for part in parts if part)


def _footer(model: PackageModel) -> str:
    spec_list = ", ".join(_code(path) for path in model.spec_paths)
    return f"---\n\n*Generated by `kastor docs` from {spec_list}; do not edit, run `kastor docs` again.*"


def _connected_channels(model: PackageModel, store: StoreModel) -> tuple[ChannelModel, ...]:
    for wiring in model.store_connections:
        if wiring.store.store_id == store.store_id:
            return wiring.channels
    return ()


def _connected_store_ids(model: PackageModel, channel: ChannelModel) -> list[str]:
    return [c.store_id for c in model.connections if c.channel_id == channel.channel_id]


def _store_link(store_id: str) -> str:
    return markdown.link(_code(store_id), "store", store_id)


def _event_link(event_type: str) -> str:
    return markdown.link(_code(event_type), "event", event_type)


def _channel_link(channel_id: str) -> str:
    return markdown.link(_code(channel_id), "channel", channel_id)


def _code(text: str) -> str:
    """A name or path as a code span in prose (outside tables)."""
    return markdown.code(text, in_table=False)


def _named_heading(level: int, kind: str, name: str, title: str) -> str:
    """The heading of one named thing, after the anchor its links point to."""
    return f"{markdown.anchor(kind, name)}\n\n{'#' * level} {title}{_code(name)}"


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
