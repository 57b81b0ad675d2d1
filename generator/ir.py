"""The intermediate model: every generated name, import and ordering, computed once from valid specs.

Templates only lay these dataclasses out. Everything is sorted by name, so the output does not depend
on the order of spec files or of keys within them.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from . import naming
from .diagnostics import Diagnostic, SourcePosition
from .schemas import NamedSchema, lift_nested_models
from .unions import union_of
from .validation import PackageSpec, SpecDocument

MessageKind = Literal["notification", "state-carrying", "aggregate-exists"]


@dataclass(frozen=True)
class EventModel:
    event_type: str
    class_name: str
    payload_class: str | None
    hook_name: str
    initial: bool
    docstring: str

    @property
    def applier_name(self) -> str:
        """The reducers module's function that applies this event with its hook (event types are unique
        in a package, so is this name)."""
        return f"_apply_{self.hook_name.removeprefix('on_')}"


@dataclass(frozen=True)
class StoreModel:
    store_id: str
    aggregate_class: str
    metadata_class: str | None
    metadata_required: bool
    events: tuple[EventModel, ...]
    union_name: str
    union_annotation: str
    codec_name: str
    reducer_class: str
    store_class: str
    store_id_literal: str
    docstring: str
    #: The store's JSON Schemas (`{"payloads": {...}, "metadata": ...}`) as the text of a string literal.
    schemas_text: str

    @property
    def schemas_name(self) -> str:
        return f"{self.store_id.upper()}_SCHEMAS"

    @property
    def pascal(self) -> str:
        return naming.pascal_from_snake(self.store_id)

    @property
    def notification_message(self) -> str:
        return f"{self.pascal}NotificationMessage"

    @property
    def state_carrying_message(self) -> str:
        return f"{self.pascal}StateCarryingMessage"

    @property
    def aggregate_exists_message(self) -> str:
        return f"{self.pascal}AggregateExistsMessage"

    @property
    def message_aliases(self) -> tuple[str, str, str]:
        return (self.notification_message, self.state_carrying_message, self.aggregate_exists_message)

    @property
    def event_type_var(self) -> str:
        """The TypeVar bound to the store's event union, for typed subscriptions."""
        return f"_{self.pascal}EventT"

    def message_alias(self, kind: "MessageKind") -> str:
        return {
            "notification": self.notification_message,
            "state-carrying": self.state_carrying_message,
            "aggregate-exists": self.aggregate_exists_message,
        }[kind]

    @property
    def appliers_name(self) -> str:
        """The reducers module's table of the store's appliers, by event type."""
        return f"_{self.store_id.upper()}_APPLIERS"

    @property
    def initial_events(self) -> tuple[EventModel, ...]:
        return tuple(event for event in self.events if event.initial)

    @property
    def initial_event_types(self) -> str:
        """The initial event types as a tuple literal, for the store's constructor."""
        types = [f'"{event.event_type}"' for event in self.initial_events]
        return f"({', '.join(types)},)" if len(types) == 1 else f"({', '.join(types)})"


_RUNTIME_CHANNEL_BASES = {
    ("notification", "bus"): "NotificationMessageBus",
    ("notification", "queue"): "NotificationMessageQueue",
    ("state-carrying", "bus"): "StateCarryingMessageBus",
    ("state-carrying", "queue"): "StateCarryingMessageQueue",
    ("aggregate-exists", "bus"): "AggregateExistsMessageBus",
    ("aggregate-exists", "queue"): "AggregateExistsMessageQueue",
}
_HANDLER_ALIASES = {
    "notification": "NotificationHandler",
    "state-carrying": "StateCarryingHandler",
    "aggregate-exists": "AggregateExistsHandler",
}


@dataclass(frozen=True)
class ChannelModel:
    channel_id: str
    class_name: str
    kind: Literal["bus", "queue"]
    message: MessageKind
    sources: tuple[str, ...]
    source_stores: tuple[StoreModel, ...]
    docstring: str

    @property
    def base_class(self) -> str:
        return _RUNTIME_CHANNEL_BASES[(self.message, self.kind)]

    @property
    def handler_alias(self) -> str:
        return _HANDLER_ALIASES[self.message]

    @property
    def message_union(self) -> str:
        return union_of([store.message_alias(self.message) for store in self.source_stores])

    @property
    def source_ids(self) -> str:
        """The source store ids as a frozenset expression."""
        return "frozenset({" + ", ".join(f'"{source}"' for source in self.sources) + "})"

    @property
    def source_ids_literal(self) -> str:
        return "Literal[" + ", ".join(f'"{source}"' for source in self.sources) + "]"

    @property
    def subscribes_by_event(self) -> bool:
        """Notification and state-carrying channels subscribe by event class; aggregate-exists ones by store."""
        return self.message != "aggregate-exists"

    @property
    def overloaded(self) -> bool:
        return self.subscribes_by_event and len(self.source_stores) > 1


@dataclass(frozen=True)
class ConnectionModel:
    store_id: str
    channel_id: str


@dataclass(frozen=True)
class StoreConnectionsModel:
    """The channels one store is connected to, wired by one generated function."""

    store: StoreModel
    channels: tuple[ChannelModel, ...]

    @property
    def function_name(self) -> str:
        return f"connect_{self.store.store_id}_event_store"

    @property
    def channel_list(self) -> str:
        return ", ".join(channel.channel_id for channel in self.channels)


@dataclass(frozen=True)
class ModuleExports:
    """The public names of one generated module, re-exported by the package root."""

    module: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class PackageModel:
    name: str
    header: str
    spec_paths: tuple[str, ...]
    models: tuple[NamedSchema, ...]
    aggregate_classes: tuple[str, ...]
    stores: tuple[StoreModel, ...]
    channels: tuple[ChannelModel, ...]
    connections: tuple[ConnectionModel, ...]
    store_connections: tuple[StoreConnectionsModel, ...]
    exports: tuple[ModuleExports, ...]
    #: The spec's shared definitions, by name, as the text of a string literal (see json_text).
    definitions_text: str

    @property
    def store_schemas_imports(self) -> tuple[str, ...]:
        return tuple(sorted(store.schemas_name for store in self.stores))

    @property
    def event_model_imports(self) -> tuple[str, ...]:
        """The models that event classes use: payloads and metadata."""
        used = {event.payload_class for store in self.stores for event in store.events if event.payload_class}
        used |= {store.metadata_class for store in self.stores if store.metadata_class}
        return tuple(sorted(used))

    @property
    def reducer_event_imports(self) -> tuple[str, ...]:
        names = {event.class_name for store in self.stores for event in store.events}
        return tuple(sorted(names | {store.union_name for store in self.stores}))

    @property
    def store_event_imports(self) -> tuple[str, ...]:
        names = {store.union_name for store in self.stores} | {store.codec_name for store in self.stores}
        return tuple(sorted(names, key=_import_order))

    @property
    def store_reducer_imports(self) -> tuple[str, ...]:
        return tuple(sorted(store.reducer_class for store in self.stores))

    @property
    def channel_message_imports(self) -> tuple[str, ...]:
        aliases = {store.message_alias(channel.message) for channel in self.channels for store in channel.source_stores}
        return tuple(sorted(aliases))

    @property
    def channel_event_imports(self) -> tuple[str, ...]:
        return tuple(store.union_name for store in self.channel_event_type_vars)

    @property
    def channel_aggregate_imports(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                {
                    store.aggregate_class
                    for channel in self.channels
                    if channel.message == "state-carrying"
                    for store in channel.source_stores
                }
            )
        )

    @property
    def channel_event_type_vars(self) -> tuple[StoreModel, ...]:
        """The stores whose events some channel subscribes to by event class."""
        ids = {source for channel in self.channels if channel.subscribes_by_event for source in channel.sources}
        return tuple(store for store in self.stores if store.store_id in ids)

    @property
    def channels_overload(self) -> bool:
        return any(channel.overloaded for channel in self.channels)

    @property
    def connection_channel_imports(self) -> tuple[str, ...]:
        return tuple(sorted({channel.class_name for wiring in self.store_connections for channel in wiring.channels}))

    @property
    def connection_event_imports(self) -> tuple[str, ...]:
        return tuple(wiring.store.union_name for wiring in self.store_connections)

    @property
    def connection_aggregate_imports(self) -> tuple[str, ...]:
        return tuple(sorted({wiring.store.aggregate_class for wiring in self.store_connections}))

    @property
    def connection_store_imports(self) -> tuple[str, ...]:
        return tuple(wiring.store.store_class for wiring in self.store_connections)

    @property
    def store_message_event_imports(self) -> tuple[str, ...]:
        names = [store.codec_name for store in self.stores] + [store.union_name for store in self.stores]
        return tuple(sorted(names, key=_import_order))

    @property
    def channel_runtime_imports(self) -> tuple[str, ...]:
        names: set[str] = set()
        for channel in self.channels:
            names |= {channel.base_class, channel.handler_alias}
            if channel.subscribes_by_event:
                names.add("Event")
        if self.channels:
            names |= {"MessageHandler", "RetryPolicy"}
        return tuple(sorted(names))


def _import_order(name: str) -> tuple[int, str]:
    # isort's force-sort-within-sections order, which ruff keeps: constants, then classes.
    return (0 if name.isupper() else 1, name)


def docstring_text(text: str) -> str:
    """Text safe inside a triple-quoted docstring: it can neither close the string nor escape from it.

    Backslashes and double quotes are escaped, and so is every unprintable character but the newline (NUL,
    carriage return, tab, U+2028, ...), so that the docstring compiles and reads back as the spec wrote it.
    """
    escaped = text.strip().replace("\\", "\\\\").replace('"', '\\"')
    return "".join(char if char == "\n" or char.isprintable() else _escape(char) for char in escaped)


def comment_text(text: str) -> str:
    """Text safe inside a `#` comment: every unprintable character (a newline above all) is escaped."""
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


class _NameTable:
    """Every class name the package defines, with what it was made from, so collisions are reported.

    The first claim in file order keeps a name; each later owner gets one diagnostic for all the names it
    shares with that first owner.
    """

    def __init__(self) -> None:
        self.claims: list[tuple[SourcePosition, str, str]] = []

    def claim(self, name: str, owner: str, position: SourcePosition) -> None:
        self.claims.append((position, owner, name))

    @property
    def diagnostics(self) -> list[Diagnostic]:
        diagnostics: list[Diagnostic] = []
        owners: dict[str, tuple[SourcePosition, str]] = {}
        shared: dict[tuple[SourcePosition, str, SourcePosition, str], list[str]] = {}
        for position, owner, name in sorted(self.claims):
            if name in naming.RESERVED_CLASS_NAMES or naming.shadows_python(name):
                message = f"{owner} would define '{name}', which shadows a name that generated code uses"
                diagnostics.append(Diagnostic(position, message))
            elif name in owners and owners[name][1] != owner:
                first_position, first_owner = owners[name]
                shared.setdefault((position, owner, first_position, first_owner), []).append(name)
            else:
                owners.setdefault(name, (position, owner))
        for (position, owner, first_position, first_owner), names in shared.items():
            listed = ", ".join(f"'{name}'" for name in sorted(names))
            diagnostics.append(
                Diagnostic(
                    position,
                    f"{owner} would define {listed}, which {first_owner} (at {first_position}) already defines: "
                    "rename one",
                )
            )
        return diagnostics


def build_package(package: PackageSpec, header_paths: list[str]) -> tuple[PackageModel | None, list[Diagnostic]]:
    """Computes the package's names; returns the diagnostics of names that collide instead, if any."""
    table = _NameTable()
    models: list[NamedSchema] = []

    def add_model(named: NamedSchema, document: SpecDocument, owner: str) -> None:
        table.claim(named.name, owner, document.file.source_map.key(named.json_path))
        models.append(named)

    definitions = {
        name: _schema_dict(schema)
        for document in package.documents
        for name, schema in document.spec.definitions.items()
    }

    def add_lifted(root: NamedSchema, document: SpecDocument, owner: str) -> NamedSchema:
        lifted = lift_nested_models(
            root, lambda nested: add_model(nested, document, f"the nested schema of {owner}"), definitions
        )
        return NamedSchema(root.name, lifted, root.json_path)

    documents = {store_id: doc for doc in package.documents for store_id in doc.spec.event_stores}
    for document in package.documents:
        for name, schema in document.spec.definitions.items():
            root = NamedSchema(name, _schema_dict(schema), ("definitions", name))
            add_model(add_lifted(root, document, f"definition '{name}'"), document, f"definition '{name}'")

    stores: list[StoreModel] = []
    aggregate_classes: list[str] = []
    for store_id in sorted(documents):
        document = documents[store_id]
        stores.append(_build_store(store_id, document, table, add_model, add_lifted))
        aggregate_classes.append(stores[-1].aggregate_class)

    stores_by_id = {store.store_id: store for store in stores}
    channels: list[ChannelModel] = []
    connections: list[ConnectionModel] = []
    for document in package.documents:
        for channel_id, channel in document.spec.channels.items():
            class_name = naming.pascal_from_snake(channel_id)
            table.claim(class_name, f"channel '{channel_id}'", document.key("channels", channel_id))
            sources = tuple(sorted(channel.sources))
            summary = channel.description or (
                f"The {channel_id} channel: a {channel.kind} of {channel.message} messages from {', '.join(sources)}."
            )
            channels.append(
                ChannelModel(
                    channel_id,
                    class_name,
                    channel.kind,
                    channel.message,
                    sources,
                    tuple(stores_by_id[source] for source in sources),
                    docstring_text(summary),
                )
            )
        connections.extend(ConnectionModel(c.store, c.channel) for c in document.spec.connections)

    if table.diagnostics:
        return None, table.diagnostics

    ordered_models = tuple(sorted(models, key=lambda named: named.name))
    ordered_channels = tuple(sorted(channels, key=lambda channel: channel.channel_id))
    ordered_connections = tuple(sorted(set(connections), key=lambda c: (c.store_id, c.channel_id)))
    channels_by_id = {channel.channel_id: channel for channel in ordered_channels}
    store_connections = tuple(
        StoreConnectionsModel(
            store,
            tuple(channels_by_id[c.channel_id] for c in ordered_connections if c.store_id == store.store_id),
        )
        for store in stores
        if any(c.store_id == store.store_id for c in ordered_connections)
    )
    exports = (
        ModuleExports("channels", tuple(channel.class_name for channel in ordered_channels)),
        ModuleExports("connections", tuple(wiring.function_name for wiring in store_connections)),
        ModuleExports("events", tuple(sorted(_event_module_names(stores)))),
        ModuleExports(
            "messages", ("MESSAGE_CODEC", *sorted(alias for store in stores for alias in store.message_aliases))
        ),
        ModuleExports("models", tuple(named.name for named in ordered_models)),
        ModuleExports("reducers", tuple(sorted(store.reducer_class for store in stores))),
        ModuleExports("stores", tuple(sorted(store.store_class for store in stores))),
    )
    spec_paths = tuple(sorted(header_paths))
    return (
        PackageModel(
            name=package.name,
            header=comment_text(f"# Code generated by kastor from {', '.join(spec_paths)}. DO NOT EDIT."),
            spec_paths=spec_paths,
            models=ordered_models,
            definitions_text=json_text(dict(sorted(definitions.items()))),
            aggregate_classes=tuple(sorted(aggregate_classes)),
            stores=tuple(stores),
            channels=ordered_channels,
            connections=ordered_connections,
            store_connections=store_connections,
            exports=exports,
        ),
        [],
    )


def _event_module_names(stores: list[StoreModel]) -> list[str]:
    names: list[str] = []
    for store in stores:
        names.extend(event.class_name for event in store.events)
        names.extend((store.union_name, store.codec_name))
    return names


def _build_store(
    store_id: str,
    document: SpecDocument,
    table: _NameTable,
    add_model: Callable[[NamedSchema, SpecDocument, str], None],
    add_lifted: Callable[[NamedSchema, SpecDocument, str], NamedSchema],
) -> StoreModel:
    store = document.spec.event_stores[store_id]
    store_pascal = naming.pascal_from_snake(store_id)
    store_position = document.key("event_stores", store_id)
    owner = f"event store '{store_id}'"
    base = ("event_stores", store_id)

    aggregate_class = store.aggregate.name
    aggregate_root = NamedSchema(aggregate_class, _schema_dict(store.aggregate.schema_), (*base, "aggregate", "schema"))
    add_model(
        add_lifted(aggregate_root, document, f"aggregate '{aggregate_class}'"),
        document,
        f"aggregate of {owner}",
    )

    metadata_class = None
    metadata_required = False
    if store.metadata is not None:
        metadata_class = f"{store_pascal}Metadata"
        metadata_required = bool(store.metadata.required)
        metadata_root = NamedSchema(metadata_class, _schema_dict(store.metadata), (*base, "metadata"))
        add_model(add_lifted(metadata_root, document, f"metadata of {owner}"), document, f"metadata of {owner}")

    events: list[EventModel] = []
    for event_type in sorted(store.events):
        event = store.events[event_type]
        class_name = naming.pascal_from_snake(event_type)
        event_owner = f"event '{event_type}' of {owner}"
        table.claim(class_name, event_owner, document.key(*base, "events", event_type))
        payload_class = None
        if event.payload is not None:
            payload_class = f"{class_name}Payload"
            payload_root = NamedSchema(
                payload_class, _schema_dict(event.payload), (*base, "events", event_type, "payload")
            )
            add_model(
                add_lifted(payload_root, document, f"payload of {event_owner}"),
                document,
                f"payload of {event_owner}",
            )
        summary = event.description or f"The {event_type} event of the {store_id} store."
        events.append(
            EventModel(
                event_type=event_type,
                class_name=class_name,
                payload_class=payload_class,
                hook_name=f"on_{naming.snake_from_upper(event_type)}",
                initial=event.initial,
                docstring=docstring_text(summary),
            )
        )

    union_name = f"{store_pascal}Event"
    reducer_class = f"{store_pascal}Reducer"
    store_class = f"{store_pascal}EventStore"
    for derived in (union_name, reducer_class, store_class):
        table.claim(derived, owner, store_position)
    for kind in ("Notification", "StateCarrying", "AggregateExists"):
        table.claim(f"{store_pascal}{kind}Message", owner, store_position)

    members = union_of([event.class_name for event in events])
    union_annotation = members if len(events) == 1 else f'Annotated[{members}, Field(discriminator="type")]'
    return StoreModel(
        store_id=store_id,
        aggregate_class=aggregate_class,
        metadata_class=metadata_class,
        metadata_required=metadata_required,
        events=tuple(events),
        union_name=union_name,
        union_annotation=union_annotation,
        codec_name=f"{store_id.upper()}_EVENT_CODEC",
        reducer_class=reducer_class,
        store_class=store_class,
        store_id_literal=f'Literal["{store_id}"]',
        docstring=docstring_text(store.description or f"The events of the {store_id} store."),
        schemas_text=json_text(
            {
                "payloads": {
                    event_type: _schema_dict(store.events[event_type].payload)
                    for event_type in sorted(store.events)
                    if store.events[event_type].payload is not None
                },
                "metadata": _schema_dict(store.metadata) if store.metadata is not None else None,
            }
        ),
    )


#: The width within which `json_text` keeps an object or array on one line.
_JSON_WIDTH = 100


def json_text(value: Any) -> str:
    """JSON safe inside a triple-quoted string literal, reading back as itself: ASCII only (JSON escapes the
    rest), backslashes doubled. Valid JSON cannot hold three quotes in a row, so it cannot close the string.

    Laid out for reading and for small diffs: an object or array that fits the width stays on one line, a
    larger one has a line per member.
    """
    return _json_layout(value, 0).replace("\\", "\\\\")


def _json_layout(value: Any, indent: int, used: int = 0) -> str:
    """`value` laid out at `indent`, its first line starting `used` columns further (after its key)."""
    compact = json.dumps(value, ensure_ascii=True)
    if indent + used + len(compact) <= _JSON_WIDTH or not isinstance(value, dict | list) or not value:
        return compact
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        members = []
        for key, item in value.items():
            prefix = f"{json.dumps(key, ensure_ascii=True)}: "
            members.append(inner + prefix + _json_layout(item, indent + 2, len(prefix)))
        return "{\n" + ",\n".join(members) + "\n" + " " * indent + "}"
    members = [inner + _json_layout(item, indent + 2) for item in value]
    return "[\n" + ",\n".join(members) + "\n" + " " * indent + "]"


def _schema_dict(schema: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = schema.model_dump(by_alias=True, exclude_unset=True)
    return dumped
