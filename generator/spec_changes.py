"""The changes between two versions of a project's specs, each judged breaking, a warning or safe.

Breaking means that something already out there stops working: events already stored no longer decode,
or consumers of a channel stop receiving (or can no longer read) what they used to. The schema rules are in
`schema_compat`; this module walks packages, stores, events, channels and connections.

Aggregates are not stored (they are rebuilt from events by the reducer, which `mypy` checks against the
new aggregate class), so a narrowing of an aggregate schema is only a warning, unless a state-carrying
channel carries the store's aggregate to consumers: then it is breaking, since they read its JSON.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import SourcePosition
from .schema_compat import Origin, SchemaChange, SchemaNode, Severity, compare_schemas
from .spec_model import ChannelSpec
from .validation import SpecDocument
from .yaml_source import JsonPath, SourceMap

SEVERITY_ORDER: dict[Severity, int] = {"breaking": 0, "warning": 1, "safe": 2}


@dataclass(frozen=True)
class Change:
    severity: Severity
    subject: str
    message: str
    #: Where the change stands in the NEW specs; for a removal, where the removed thing stood in the OLD ones.
    position: SourcePosition | None = None
    on_new_side: bool = True

    def sort_key(self) -> tuple[int, str, str, str]:
        return (SEVERITY_ORDER[self.severity], self.subject, self.message, str(self.position))


@dataclass(frozen=True)
class _Store:
    document: SpecDocument
    store_id: str
    raw: Mapping[str, Any]

    def path(self, *keys: str | int) -> JsonPath:
        return ("event_stores", self.store_id, *keys)


@dataclass(frozen=True)
class _Event:
    store: _Store
    event_type: str
    raw: Mapping[str, Any]

    def path(self, *keys: str | int) -> JsonPath:
        return self.store.path("events", self.event_type, *keys)


@dataclass
class PackageView:
    """One package's spec files, indexed for comparison."""

    name: str
    documents: list[SpecDocument]
    source_maps: dict[str, SourceMap] = field(default_factory=dict)
    definitions: dict[str, SchemaNode] = field(default_factory=dict)
    stores: dict[str, _Store] = field(default_factory=dict)
    events: dict[str, _Event] = field(default_factory=dict)
    channels: dict[str, tuple[SpecDocument, ChannelSpec]] = field(default_factory=dict)
    connections: dict[tuple[str, str], tuple[SpecDocument, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, documents: list[SpecDocument]) -> "PackageView":
        view = cls(name, documents)
        for document in documents:
            view.add(document)
        return view

    def add(self, document: SpecDocument) -> None:
        data: Mapping[str, Any] = document.file.data
        self.source_maps[document.file.display_path] = document.file.source_map
        for name, schema in (data.get("definitions") or {}).items():
            self.definitions[name] = SchemaNode(schema, (document.file.display_path, ("definitions", name)))
        for store_id, raw_store in (data.get("event_stores") or {}).items():
            store = _Store(document, store_id, raw_store)
            self.stores[store_id] = store
            for event_type, raw_event in (raw_store.get("events") or {}).items():
                self.events[event_type] = _Event(store, event_type, raw_event or {})
        for channel_id, channel in document.spec.channels.items():
            self.channels[channel_id] = (document, channel)
        for index, connection in enumerate(document.spec.connections):
            self.connections[(connection.store, connection.channel)] = (document, index)

    def node(self, document: SpecDocument, json_path: JsonPath, schema: Mapping[str, Any]) -> SchemaNode:
        return SchemaNode(schema, (document.file.display_path, json_path))

    def position(self, origin: Origin) -> SourcePosition | None:
        source_map = self.source_maps.get(origin[0])
        return source_map.key(origin[1]) if source_map is not None else None

    def state_carrying_channels(self, store_id: str) -> list[str]:
        return sorted(
            channel_id
            for channel_id, (_, channel) in self.channels.items()
            if channel.message == "state-carrying" and store_id in channel.sources
        )


def diff_packages(old: Mapping[str, PackageView], new: Mapping[str, PackageView]) -> list[Change]:
    """Every change from the OLD packages to the NEW ones, sorted: breaking first, then warnings, then safe."""
    prefixed = len(set(old) | set(new)) > 1
    changes: list[Change] = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            position = old[name].documents[0].value("package")
            changes.append(Change("breaking", f"package {name}", "removed", position, on_new_side=False))
        elif name not in old:
            changes.append(Change("safe", f"package {name}", "added", new[name].documents[0].value("package")))
        else:
            found = _PackageDiff(old[name], new[name]).changes()
            prefix = f"{name}/" if prefixed else ""
            changes.extend(Change(c.severity, prefix + c.subject, c.message, c.position, c.on_new_side) for c in found)
    return sorted(changes, key=Change.sort_key)


@dataclass
class _PackageDiff:
    old: PackageView
    new: PackageView

    def changes(self) -> list[Change]:
        return [
            *self.package_description(),
            *self.stores(),
            *self.events(),
            *self.channels(),
            *self.connections(),
        ]

    def package_description(self) -> Iterator[Change]:
        before = [document.spec.description for document in self.old.documents]
        after = [document.spec.description for document in self.new.documents]
        if sorted(filter(None, before)) != sorted(filter(None, after)):
            yield Change(
                "safe", f"package {self.new.name}", "description changed", self.new.documents[0].value("package")
            )

    def removed(self, subject: str, what: str, document: SpecDocument, json_path: JsonPath) -> Change:
        return Change("breaking", subject, f"{what} removed", document.key(*json_path), on_new_side=False)

    def stores(self) -> Iterator[Change]:
        for store_id in sorted(set(self.old.stores) | set(self.new.stores)):
            old, new = self.old.stores.get(store_id), self.new.stores.get(store_id)
            if new is None:
                assert old is not None
                yield self.removed(store_id, "event store", old.document, old.path())
            elif old is None:
                yield Change("safe", store_id, "event store added", new.document.key(*new.path()))
            else:
                yield from self.store(old, new)

    def store(self, old: _Store, new: _Store) -> Iterator[Change]:
        store_id = new.store_id
        if old.raw.get("description") != new.raw.get("description"):
            yield Change("safe", store_id, "description changed", new.document.key(*new.path("description")))
        yield from self.metadata(old, new)
        yield from self.aggregate(old, new)

    def metadata(self, old: _Store, new: _Store) -> Iterator[Change]:
        before, after = old.raw.get("metadata"), new.raw.get("metadata")
        subject = f"{new.store_id} metadata"
        if before is None and after is None:
            return
        if after is None:
            yield self.removed(subject, "metadata", old.document, old.path("metadata"))
        elif before is None:
            # Without a required field the runtime gives stored events an empty metadata: they still decode.
            position = new.document.key(*new.path("metadata"))
            if after.get("required"):
                yield Change("breaking", subject, "added with required fields: stored events have none", position)
            else:
                yield Change("safe", subject, "added (no required field)", position)
        else:
            old_node = self.old.node(old.document, old.path("metadata"), before)
            new_node = self.new.node(new.document, new.path("metadata"), after)
            yield from self.schema_changes(new.store_id, "metadata", old_node, new_node)

    def aggregate(self, old: _Store, new: _Store) -> Iterator[Change]:
        before, after = old.raw["aggregate"], new.raw["aggregate"]
        subject = f"{new.store_id} aggregate"
        if before.get("name") != after.get("name"):
            message = (
                f"class renamed from {before.get('name')} to {after.get('name')}: code that imports it must follow"
            )
            yield Change("warning", subject, message, new.document.value(*new.path("aggregate", "name")))
        if before.get("description") != after.get("description"):
            yield Change("safe", subject, "description changed", new.document.key(*new.path("aggregate")))
        old_node = self.old.node(old.document, old.path("aggregate", "schema"), before["schema"])
        new_node = self.new.node(new.document, new.path("aggregate", "schema"), after["schema"])
        carriers = self.old.state_carrying_channels(old.store_id)
        for change in self.schema_changes(new.store_id, "aggregate", old_node, new_node):
            if change.severity != "breaking":
                yield change
            elif carriers:
                message = f"{change.message} (consumers of state-carrying {_plural_channels(carriers)} read it)"
                yield Change("breaking", change.subject, message, change.position, change.on_new_side)
            else:
                message = f"{change.message} (a warning: aggregates are rebuilt from events, and no channel carries it)"
                yield Change("warning", change.subject, message, change.position, change.on_new_side)

    def schema_changes(self, subject: str, root: str, old: SchemaNode, new: SchemaNode) -> Iterator[Change]:
        for change in compare_schemas(old, new, self.old.definitions, self.new.definitions):
            yield self.located(subject, root, change)

    def located(self, subject: str, root: str, change: SchemaChange) -> Change:
        side = self.new if change.on_new_side else self.old
        where = f"{root}.{change.field}" if change.field else root
        return Change(
            change.severity, f"{subject} {where}", change.message, side.position(change.origin), change.on_new_side
        )

    def events(self) -> Iterator[Change]:
        for event_type in sorted(set(self.old.events) | set(self.new.events)):
            old, new = self.old.events.get(event_type), self.new.events.get(event_type)
            if new is None:
                assert old is not None
                yield self.removed(f"{old.store.store_id}/{event_type}", "event type", old.store.document, old.path())
            elif old is None:
                subject = f"{new.store.store_id}/{event_type}"
                yield Change("safe", subject, "event type added", new.store.document.key(*new.path()))
            else:
                yield from self.event(old, new)

    def event(self, old: _Event, new: _Event) -> Iterator[Change]:
        subject = f"{old.store.store_id}/{old.event_type}"
        document = new.store.document
        if old.store.store_id != new.store.store_id:
            message = f"moved to event store {new.store.store_id}: stored events stay in {old.store.store_id}"
            yield Change("breaking", subject, message, document.key(*new.path()))
            return
        if bool(old.raw.get("initial")) != bool(new.raw.get("initial")):
            message = (
                "made initial: stored events of this type after version 1 become invalid"
                if new.raw.get("initial")
                else "no longer initial: stored events of this type at version 1 become invalid"
            )
            yield Change("breaking", subject, message, document.value(*new.path("initial")))
        if old.raw.get("description") != new.raw.get("description"):
            yield Change("safe", subject, "description changed", document.key(*new.path("description")))
        yield from self.payload(old, new, subject)

    def payload(self, old: _Event, new: _Event, subject: str) -> Iterator[Change]:
        before, after = old.raw.get("payload"), new.raw.get("payload")
        if before is None and after is None:
            return
        if after is None:
            yield self.removed(f"{subject} payload", "payload", old.store.document, old.path("payload"))
        elif before is None:
            position = new.store.document.key(*new.path("payload"))
            yield Change("breaking", f"{subject} payload", "added: stored events have none", position)
        else:
            old_node = self.old.node(old.store.document, old.path("payload"), before)
            new_node = self.new.node(new.store.document, new.path("payload"), after)
            yield from self.schema_changes(subject, "payload", old_node, new_node)

    def channels(self) -> Iterator[Change]:
        for channel_id in sorted(set(self.old.channels) | set(self.new.channels)):
            subject = f"channel {channel_id}"
            old, new = self.old.channels.get(channel_id), self.new.channels.get(channel_id)
            if new is None:
                assert old is not None
                yield self.removed(subject, "channel", old[0], ("channels", channel_id))
            elif old is None:
                yield Change("safe", subject, "channel added", new[0].key("channels", channel_id))
            else:
                yield from self.channel(subject, channel_id, old, new)

    def channel(
        self,
        subject: str,
        channel_id: str,
        old: tuple[SpecDocument, ChannelSpec],
        new: tuple[SpecDocument, ChannelSpec],
    ) -> Iterator[Change]:
        (old_document, before), (document, after) = old, new
        for key in ("kind", "message"):
            was, now = getattr(before, key), getattr(after, key)
            if was != now:
                message = f"{key} changed from {was} to {now}: its consumers expect {was}"
                yield Change("breaking", subject, message, document.value("channels", channel_id, key))
        for source in sorted(set(before.sources) - set(after.sources)):
            index = before.sources.index(source)
            position = old_document.value("channels", channel_id, "sources", index)
            message = f"no longer carries event store {source}"
            yield Change("breaking", subject, message, position, on_new_side=False)
        for source in sorted(set(after.sources) - set(before.sources)):
            position = document.value("channels", channel_id, "sources", after.sources.index(source))
            yield Change("safe", subject, f"now also carries event store {source}", position)
        if before.description != after.description:
            yield Change("safe", subject, "description changed", document.key("channels", channel_id, "description"))

    def connections(self) -> Iterator[Change]:
        for store_id, channel_id in sorted(set(self.old.connections) - set(self.new.connections)):
            document, index = self.old.connections[(store_id, channel_id)]
            message = "removed: the channel no longer receives the store's events"
            position = document.value("connections", index)
            yield Change("breaking", f"connection {store_id} → {channel_id}", message, position, on_new_side=False)
        for store_id, channel_id in sorted(set(self.new.connections) - set(self.old.connections)):
            document, index = self.new.connections[(store_id, channel_id)]
            yield Change("safe", f"connection {store_id} → {channel_id}", "added", document.value("connections", index))


def _plural_channels(channel_ids: list[str]) -> str:
    listed = ", ".join(channel_ids)
    return f"channel {listed}" if len(channel_ids) == 1 else f"channels {listed}"
