"""The Mermaid flowchart of a package: event stores → channels → message kinds.

Each store is a node, each channel is a node whose label gives its kind (bus or queue) and message kind, and
each message kind a channel carries is a node. A connected store has a solid edge to its channel, labelled
with the message kind it publishes there; a channel's other sources (stores whose messages it may carry but
that are not connected to it, e.g. poured by maintenance) have dashed edges.

Node ids are derived from validated names (lower_snake ids), prefixed by what they are, so that no id is a
Mermaid keyword (`end`, `graph`, ...) and no two kinds of node share one. Labels are quoted and every
character Mermaid or HTML could read as syntax is written as an entity code.
"""

import re

from .ir import ChannelModel, PackageModel, StoreModel

_CHANNEL_SHAPES = {"bus": ('{{"', '"}}'), "queue": ('[/"', '"/]')}
# Mermaid's entity codes (`#quot;`) inside quoted labels; `#` itself first, as it starts every code.
_LABEL_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}
_STYLES = (
    "classDef store fill:#e8f0fe,stroke:#1a73e8,color:#0b1f44",
    "classDef channel fill:#fef7e0,stroke:#e37400,color:#3c2300",
    "classDef message fill:#e6f4ea,stroke:#188038,color:#0d2e16",
)


def label(*lines: str) -> str:
    """A node or edge label: each line escaped, joined by Mermaid's line break."""
    escaped = ("".join(_LABEL_ESCAPES.get(char, char) for char in line if char.isprintable()) for line in lines)
    return "<br/>".join(escaped)


def node_id(kind: str, name: str) -> str:
    """`kind_name`, with any character outside [a-z0-9_] spelt as its code point: injective and always a
    plain Mermaid id, whatever the name (validation has already made it lower_snake in practice)."""
    safe = re.sub(r"[^a-z0-9_]", lambda match: f"x{ord(match.group()):x}x", name)
    return f"{kind}_{safe}"


def flowchart(package: PackageModel) -> str:
    """The Mermaid source (without the fence) of the package's stores, channels and message kinds."""
    lines = ["flowchart LR"]
    lines.extend(_store_node(store) for store in package.stores)
    lines.extend(_channel_node(channel) for channel in package.channels)
    kinds: list[str] = sorted({channel.message for channel in package.channels})
    lines.extend(f'    {_message_node(kind)}>"{label(f"{kind} messages")}"]' for kind in kinds)
    lines.extend(_source_edges(package))
    lines.extend(
        f'    {node_id("channel", channel.channel_id)} -->|"carries"| {_message_node(channel.message)}'
        for channel in package.channels
    )
    lines.extend(f"    {style}" for style in _STYLES)
    lines.extend(_class_assignments(package, kinds))
    return "\n".join(lines) + "\n"


def _message_node(kind: str) -> str:
    # Message kinds are kebab-case ("state-carrying"); Mermaid ids take underscores.
    return node_id("message", kind.replace("-", "_"))


def _store_node(store: StoreModel) -> str:
    text = label(store.store_id, f"event store of {store.aggregate_class}")
    return f'    {node_id("store", store.store_id)}[("{text}")]'


def _channel_node(channel: ChannelModel) -> str:
    opening, closing = _CHANNEL_SHAPES[channel.kind]
    text = label(channel.channel_id, f"{channel.kind} of {channel.message} messages")
    return f"    {node_id('channel', channel.channel_id)}{opening}{text}{closing}"


def _source_edges(package: PackageModel) -> list[str]:
    """Solid edges from connected stores, labelled with the message kind; dashed ones from other sources."""
    connected = {(connection.store_id, connection.channel_id) for connection in package.connections}
    edges = []
    for channel in package.channels:
        target = node_id("channel", channel.channel_id)
        for source in channel.sources:
            origin = node_id("store", source)
            if (source, channel.channel_id) in connected:
                edges.append(f'    {origin} -->|"{label(channel.message)}"| {target}')
            else:
                edges.append(f'    {origin} -.->|"{label("source, not connected")}"| {target}')
    return edges


def _class_assignments(package: PackageModel, kinds: list[str]) -> list[str]:
    groups = (
        ("store", [node_id("store", store.store_id) for store in package.stores]),
        ("channel", [node_id("channel", channel.channel_id) for channel in package.channels]),
        ("message", [_message_node(kind) for kind in kinds]),
    )
    return [f"    class {','.join(ids)} {name}" for name, ids in groups if ids]
