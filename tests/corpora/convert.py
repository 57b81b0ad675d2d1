"""Converts the vendored corpora of tests/corpora/ into Kastor specs, faithfully.

    python tests/corpora/convert.py              # writes <corpus>/specs/*.yaml and <corpus>/examples.json
    python tests/corpora/convert.py --check      # exit 1 if what is committed is not what this writes

Each corpus becomes one Kastor package (one package per corpus keeps the type checks of the corpus test
affordable: every package carries its own copy of the runtime), in several spec files: one per group of
events (a webhook, a Shopify resource, an AsyncAPI document), plus the shared definitions. Each event
type becomes an UPPER_SNAKE event of its group's store, with the event's JSON Schema as its payload. The
schemas are kept as they are, every keyword, annotation, format and vendor key included: the one change is
that a `$ref` to a shared schema is rewritten to `#/definitions/<Name>` (the only references Kastor
has), the shared schema being moved under the spec's `definitions`. Nothing is cut down to what Kastor
supports today: what it refuses is what issue 14 is about, and the corpus test measures it.

What Kastor's spec format needs and a corpus does not have is made up in the plainest way: a store's
aggregate is an empty object schema (`<Store>Aggregate`), and the first of its events in sorted order is
its initial event. Names are derived from the corpus's names (PascalCase definitions, lower_snake stores,
UPPER_SNAKE events); a collision is an error here, never renamed.

`examples.json` maps each example payload to its (spec, store, event type), by a JSON pointer into the
vendored file it comes from (`kind: real`), and says where each event's raw schema is, so that the tests
can validate against the schema as published, not as converted. The AsyncAPI documents have few example
payloads: for every message with a JSON Schema payload one more is drawn from its schema (`kind: drawn`,
the payload itself in the file), built from its `examples`, `const`, `enum` and `default` values and the
plainest value of each type otherwise. The tests sort every example by its raw schema: a drawn payload
that breaks it (a `oneOf` whose members both match) is, like a real one, a case that must be refused.

Output is deterministic: stores, events, definitions and examples in sorted order; a schema's own keys in
the order the corpus has them. Standard library and PyYAML only.
"""

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

CORPORA = Path(__file__).resolve().parent

JSON = Any  # a parsed JSON value

# -- reading: YAML 1.2's core schema, as AsyncAPI documents are meant to be read ----------------------------


class CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `on`, `no` and `2021-01-01` are a boolean and a date; AsyncAPI documents
    are JSON-compatible YAML 1.2, whose core schema has only `true`/`false`, null, numbers and strings."""


CoreSchemaLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in (
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:timestamp",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        )
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    return int(text, 0) if text.startswith(("0o", "0x")) else int(text)


CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _core_int)


def load_yaml(path: Path) -> JSON:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CoreSchemaLoader)  # a SafeLoader


def load_json(path: Path) -> JSON:
    return json.loads(path.read_text(encoding="utf-8"))


def load_raw(path: Path) -> JSON:
    """A vendored file as JSON values (for the tests too: they validate against what this reads)."""
    return load_json(path) if path.suffix == ".json" else load_yaml(path)


def resolve_pointer(document: JSON, pointer: str) -> JSON:
    """The value at a JSON pointer (RFC 6901) in `document`."""
    value = document
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        value = value[int(token)] if isinstance(value, list) else value[token]
    return value


def pointer_token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


# -- naming -------------------------------------------------------------------------------------------------


def words(name: str) -> list[str]:
    """`lightMeasured`, `light-measured` and `light_measured` are the words light and measured."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def pascal(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words(name))


def upper_snake(name: str) -> str:
    return "_".join(word.upper() for word in words(name))


def lower_snake(name: str) -> str:
    return "_".join(word.lower() for word in words(name))


# -- the converted corpus -----------------------------------------------------------------------------------


@dataclass
class Event:
    type: str
    store: str
    payload: JSON | None  # the converted schema; None: the event has no payload
    schema_source: dict[str, str] | None  # where the raw schema is: {"file", "pointer"}
    description: str | None = None


@dataclass
class Example:
    event_type: str
    kind: str  # "real" or "drawn"
    source: dict[str, str] | None = None  # for a real one: {"file", "pointer"}
    payload: JSON = None  # for a drawn one


@dataclass
class Converted:
    package: str
    draft: str  # the JSON Schema dialect the raw schemas are validated with
    definitions: dict[str, tuple[str, JSON]] = field(default_factory=dict)  # name → (its spec file, schema)
    stores: dict[str, str] = field(default_factory=dict)  # store → its spec file (without .yaml)
    store_descriptions: dict[str, str] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # what could not be converted, and why

    def add_event(self, event: Event) -> None:
        if event.type in self.events:
            raise ValueError(f"{self.package}: two events are named {event.type}")
        self.events[event.type] = event

    def add_definition(self, name: str, spec: str, schema: JSON) -> None:
        if name in self.definitions:
            raise ValueError(f"{self.package}: two definitions are named {name}")
        self.definitions[name] = (spec, schema)


def rewrite_refs(schema: JSON, rewrite: Callable[[str], str]) -> JSON:
    """A copy of `schema` with each `$ref` string rewritten, at any depth; nothing else changes.

    Walks every value, not only the schema keywords: a `$ref` key inside, say, `examples` would be
    rewritten too, which the corpora do not have (a guard in each converter checks the refs it sees)."""
    if isinstance(schema, dict):
        return {
            key: rewrite(value) if key == "$ref" and isinstance(value, str) else rewrite_refs(value, rewrite)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [rewrite_refs(item, rewrite) for item in schema]
    return schema


def refs_in(schema: JSON) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from refs_in(item)


# -- Octokit's GitHub webhooks ------------------------------------------------------------------------------


def convert_octokit() -> Converted:
    """One store per webhook (`issues`), one event per action (`issues$opened` → ISSUES_OPENED; a webhook
    without actions, `push$event`, is the event PUSH); the other definitions of schema.json are shared."""
    folder = CORPORA / "octokit_webhooks"
    document = load_json(folder / "raw" / "schema.json")
    definitions: dict[str, JSON] = document["definitions"]
    webhooks = [ref["$ref"].removeprefix("#/definitions/") for ref in document["oneOf"]]
    event_keys: dict[str, str] = {}  # definition key (issues$opened) → store (issues)
    for webhook in webhooks:
        if webhook.endswith("$event"):
            event_keys[webhook] = webhook.removesuffix("$event")
        else:
            for member in definitions[webhook]["oneOf"]:
                event_keys[member["$ref"].removeprefix("#/definitions/")] = webhook.removesuffix("_event")
    grouping = {webhook for webhook in webhooks if not webhook.endswith("$event")}
    shared = {key: pascal(key) for key in definitions if key not in event_keys and key not in grouping}
    converted = Converted(package="github_webhooks", draft="http://json-schema.org/draft-07/schema#")

    def rewrite(ref: str) -> str:
        target = ref.removeprefix("#/definitions/")
        if target not in shared:
            raise ValueError(f"octokit: a $ref to {ref}, which is not a shared definition")
        return f"#/definitions/{shared[target]}"

    for key, name in sorted(shared.items(), key=lambda item: item[1]):
        converted.add_definition(name, "definitions", rewrite_refs(definitions[key], rewrite))
    by_key: dict[str, str] = {}  # definition key → event type
    for key, store in sorted(event_keys.items()):
        action = key.split("$", 1)[1]
        by_key[key] = upper_snake(store) if action == "event" else upper_snake(f"{store}_{action}")
        converted.stores[store] = store
        source = {"file": "raw/schema.json", "pointer": f"/definitions/{pointer_token(key)}"}
        converted.add_event(Event(by_key[key], store, rewrite_refs(definitions[key], rewrite), source))

    groups = load_json(folder / "raw" / "examples.json")
    for group_index, group in enumerate(groups):
        store = group["name"]
        if group.get("description"):
            converted.store_descriptions[store] = group["description"]
        for example_index, example in enumerate(group["examples"]):
            action = example.get("action")
            key = f"{store}${action}" if f"{store}${action}" in by_key else f"{store}$event"
            pointer = f"/{group_index}/examples/{example_index}"
            if key not in by_key:
                converted.skipped.append({"source": f"raw/examples.json#{pointer}", "reason": f"no schema {key}"})
                continue
            converted.examples.append(Example(by_key[key], "real", {"file": "raw/examples.json", "pointer": pointer}))
    return converted


# -- Shopify's webhooks -------------------------------------------------------------------------------------


def convert_shopify() -> Converted:
    """One store per resource (`orders`), one event per topic (`orders/create` → ORDERS_CREATE; the
    topics named with a dot, `customer.tags_added`, are read the same way); each schema is whole, with no
    shared parts; the example is the `response` of the topic's metadata (Shopify's documented payload)."""
    folder = CORPORA / "shopify_webhooks"
    converted = Converted(package="shopify_webhooks", draft="https://json-schema.org/draft/2020-12/schema")
    for path in sorted((folder / "raw" / "schemas").rglob("*.json")):
        relative = path.relative_to(folder / "raw" / "schemas").with_suffix("").as_posix()
        resource, action = relative.split("/" if "/" in relative else ".", 1)
        store = lower_snake(resource)
        event_type = upper_snake(f"{resource}_{action}")
        schema = load_json(path)
        if any(True for _ in refs_in(schema)):
            raise ValueError(f"shopify: {relative} has a $ref, which the converter does not expect")
        metadata_file = f"raw/metadatas/{path.relative_to(folder / 'raw' / 'schemas').as_posix()}"
        metadata = load_json(folder / metadata_file)
        converted.stores[store] = store
        schema_file = f"raw/schemas/{path.relative_to(folder / 'raw' / 'schemas').as_posix()}"
        converted.add_event(
            Event(event_type, store, schema, {"file": schema_file, "pointer": ""}, metadata.get("description"))
        )
        if "response" in metadata:
            converted.examples.append(Example(event_type, "real", {"file": metadata_file, "pointer": "/response"}))
        else:
            converted.skipped.append({"source": metadata_file, "reason": "no example payload (`response`)"})
    return converted


# -- the AsyncAPI specification's examples ------------------------------------------------------------------

#: The schema formats that are JSON Schema (AsyncAPI's Schema Object is a superset of draft 07).
JSON_SCHEMA_FORMATS = ("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")


def convert_asyncapi() -> Converted:
    """One store per document (`streetlights-kafka-asyncapi.yml` → `streetlights_kafka_asyncapi`), one event
    per message: each of `components/messages` and each message defined inline in a channel (a channel's
    `$ref` to a component message is that message). Its payload schema becomes the event's payload; the
    document's `components/schemas` become definitions named after the document (definitions are global
    in a package). Headers are not converted: Kastor's metadata is one schema per store, and these
    documents give each message its own. A payload in a format other than JSON Schema (Avro) is skipped,
    with the reason in examples.json."""
    folder = CORPORA / "asyncapi_examples"
    converted = Converted(package="asyncapi_examples", draft="http://json-schema.org/draft-07/schema#")
    for path in sorted((folder / "raw").glob("*.y*ml")):
        _convert_asyncapi_document(converted, path.name, load_yaml(path))
    return converted


def _convert_asyncapi_document(converted: Converted, file_name: str, document: JSON) -> None:
    if not str(document.get("asyncapi", "")).startswith("3."):
        raise ValueError(f"asyncapi: {file_name} is not an AsyncAPI 3 document")
    store = lower_snake(Path(file_name).stem)
    prefix = pascal(store)
    raw_file = f"raw/{file_name}"
    components = document.get("components") or {}
    # "Schema": a component named like an event or a payload (`LightMeasuredPayload`) must not take the
    # name of the class Kastor derives from that event.
    schema_names = {name: prefix + pascal(name) + "Schema" for name in components.get("schemas") or {}}

    def rewrite(ref: str) -> str:
        match = re.fullmatch(r"#/components/schemas/([^/]+)(/.*)?", ref)
        if match is None or match.group(1) not in schema_names:
            return ref  # kept as it is: Kastor says what it makes of it
        return f"#/definitions/{schema_names[match.group(1)]}{match.group(2) or ''}"

    for name, schema in (components.get("schemas") or {}).items():
        if isinstance(schema, dict) and "schemaFormat" in schema:
            if not str(schema["schemaFormat"]).startswith(JSON_SCHEMA_FORMATS):
                converted.skipped.append(
                    {"source": f"{raw_file}#/components/schemas/{name}", "reason": "not JSON Schema"}
                )
                continue
            schema = schema["schema"]
        converted.add_definition(schema_names[name], store, rewrite_refs(schema, rewrite))

    messages: dict[str, tuple[str, str]] = {}  # pointer of the message → (its name, where it is named)
    for name in components.get("messages") or {}:
        messages[f"/components/messages/{pointer_token(name)}"] = (name, "")
    for channel_name, channel in (document.get("channels") or {}).items():
        for name, message in ((channel or {}).get("messages") or {}).items():
            if isinstance(message, dict) and "$ref" not in message:
                pointer = f"/channels/{pointer_token(channel_name)}/messages/{pointer_token(name)}"
                messages[pointer] = (name, channel_name)

    converted.stores[store] = store
    if (document.get("info") or {}).get("title"):
        converted.store_descriptions[store] = document["info"]["title"]
    events: list[Event] = []
    for pointer, (name, channel_name) in messages.items():
        message = _follow(document, resolve_pointer(document, pointer))
        event_type = upper_snake(f"{store}_{channel_name}_{name}" if channel_name else f"{store}_{name}")
        payload_pointer = f"{pointer}/payload"
        payload = message.get("payload")
        if isinstance(payload, dict) and "schemaFormat" in payload:
            if not str(payload["schemaFormat"]).startswith(JSON_SCHEMA_FORMATS):
                converted.skipped.append(
                    {"source": f"{raw_file}#{payload_pointer}", "reason": f"payload in {payload['schemaFormat']}"}
                )
                continue
            payload, payload_pointer = payload["schema"], f"{payload_pointer}/schema"
        description = message.get("summary") or message.get("description") or message.get("title")
        if payload is None:
            events.append(Event(event_type, store, None, None, description))
            continue
        source = {"file": raw_file, "pointer": payload_pointer}
        events.append(Event(event_type, store, rewrite_refs(payload, rewrite), source, description))
        for index, example in enumerate(message.get("examples") or []):
            if "payload" in example:
                example_pointer = f"{pointer}/examples/{index}/payload"
                converted.examples.append(Example(event_type, "real", {"file": raw_file, "pointer": example_pointer}))
        drawn = Drawer(document).draw(payload)
        if drawn is Drawer.UNDRAWABLE:
            converted.skipped.append({"source": f"{raw_file}#{payload_pointer}", "reason": "no payload drawn"})
        else:
            converted.examples.append(Example(event_type, "drawn", payload=drawn))
    for event in events:
        converted.add_event(event)


def _follow(document: JSON, value: JSON) -> JSON:
    """A message, following `$ref`s to other messages of the document."""
    seen: set[str] = set()
    while isinstance(value, dict) and isinstance(value.get("$ref"), str) and value["$ref"].startswith("#/"):
        if value["$ref"] in seen:
            raise ValueError(f"asyncapi: a $ref loop at {value['$ref']}")
        seen.add(value["$ref"])
        value = resolve_pointer(document, value["$ref"][1:])
    return value


class Drawer:
    """Draws one payload from a schema, deterministically: the schema's own `examples`, `const`, `enum`
    or `default` where it has one, else the plainest value of its type within its bounds, with every
    declared property of an object. It only has to handle what the AsyncAPI examples hold; the tests
    validate each drawn payload against its raw schema."""

    UNDRAWABLE: Any = object()
    STRINGS: ClassVar[dict[str, str]] = {
        "date-time": "2024-05-06T07:08:09Z",
        "date": "2024-05-06",
        "time": "07:08:09Z",
        "email": "someone@example.com",
        "uri": "https://example.com/",
        "iri-reference": "/books/1",
        "uuid": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    }

    PATTERNED = ("ABC/DEF", "ABC", "abc", "123", "a-b_c.d")

    def __init__(self, document: JSON) -> None:
        self.document = document

    def draw(self, schema: JSON, depth: int = 0) -> JSON:
        if depth > 20 or not isinstance(schema, dict):
            return self.UNDRAWABLE if depth > 20 else None
        if "$ref" in schema:
            if not str(schema["$ref"]).startswith("#/"):
                return self.UNDRAWABLE
            return self.draw(resolve_pointer(self.document, schema["$ref"][1:]), depth + 1)
        for keyword in ("examples", "enum"):
            if isinstance(schema.get(keyword), list) and schema[keyword]:
                return schema[keyword][0]
        if "const" in schema:
            return schema["const"]
        if "default" in schema and self.has_type(schema, schema["default"]):
            return schema["default"]  # a default of another type (a corpus's mistake) would not be valid
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for branch in schema["allOf"]:
                part = self.draw(branch, depth + 1)
                if not isinstance(part, dict):
                    return self.UNDRAWABLE
                merged.update(part)
            return merged
        for keyword in ("oneOf", "anyOf"):
            if schema.get(keyword):
                return self.draw(schema[keyword][0], depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((item for item in kind if item != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if "not" in schema and kind == "string":
            return "a string" if self.draw(schema["not"], depth + 1) != "a string" else self.UNDRAWABLE
        return self.draw_type(kind, schema, depth)

    @staticmethod
    def has_type(schema: dict[str, Any], value: JSON) -> bool:
        declared = schema.get("type")
        if declared is None:
            return True
        names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
        kind = "null" if value is None else names.get(type(value), "")
        kinds = set(declared) if isinstance(declared, list) else {declared}
        return kind in kinds or (kind == "integer" and "number" in kinds)

    def draw_type(self, kind: str, schema: dict[str, Any], depth: int) -> JSON:
        if kind == "object":
            drawn: dict[str, Any] = {}
            for name, property_schema in (schema.get("properties") or {}).items():
                value = self.draw(property_schema, depth + 1)
                if value is self.UNDRAWABLE:
                    return self.UNDRAWABLE
                drawn[name] = value
            return drawn
        if kind == "array":
            item = self.draw(schema.get("items") or {}, depth + 1)
            return self.UNDRAWABLE if item is self.UNDRAWABLE else [item] * max(1, schema.get("minItems", 1))
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
            value = low + 1 if "exclusiveMinimum" in schema and "minimum" not in schema else low
            return int(value) if kind == "integer" else value + 0.5
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        text = self.STRINGS.get(schema.get("format", ""), "text")
        if "pattern" in schema:  # a few plain strings, the first one that the pattern accepts
            text = next((s for s in (text, *self.PATTERNED) if re.search(schema["pattern"], s)), "")
            if not text:
                return self.UNDRAWABLE
        return text.ljust(schema.get("minLength", 0), "x")


# -- writing ------------------------------------------------------------------------------------------------

CONVERTERS: dict[str, Callable[[], Converted]] = {
    "octokit_webhooks": convert_octokit,
    "shopify_webhooks": convert_shopify,
    "asyncapi_examples": convert_asyncapi,
}

HEADER = (
    "# Converted by tests/corpora/convert.py from the vendored {corpus} corpus (see SOURCE.md). DO NOT EDIT:\n"
    "# change the converter and run it again.\n"
)


def dump_yaml(document: JSON) -> str:
    # Long lines are kept whole (width): a diagnostic's line:col then points into the schema as it is.
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=10**9, default_flow_style=False)
    if yaml.safe_load(text) != document:  # PyYAML quotes what YAML 1.1 would misread: a guard all the same
        raise ValueError("the YAML written does not read back as the spec")
    return text


def aggregate_of(store: str) -> dict[str, Any]:
    return {"name": f"{pascal(store)}Aggregate", "schema": {"type": "object", "properties": {}}}


def render(corpus: str, converted: Converted) -> dict[str, str]:
    """The converted corpus as files: relative path → text."""
    files: dict[str, str] = {}
    spec_events: dict[str, dict[str, dict[str, Event]]] = {}  # spec file → store → event type → event
    for event in converted.events.values():
        spec_events.setdefault(converted.stores[event.store], {}).setdefault(event.store, {})[event.type] = event
    spec_definitions: dict[str, dict[str, JSON]] = {}  # spec file → its definitions
    for name, (spec_name, schema) in sorted(converted.definitions.items()):
        spec_definitions.setdefault(spec_name, {})[name] = schema
    header = HEADER.format(corpus=corpus)
    for spec_name in sorted(spec_events.keys() | spec_definitions.keys()):
        stores: dict[str, Any] = {}
        for store, events in sorted(spec_events.get(spec_name, {}).items()):
            converted_events: dict[str, Any] = {}
            for index, (event_type, event) in enumerate(sorted(events.items())):
                entry: dict[str, Any] = {"initial": True} if index == 0 else {}
                if event.description:
                    entry["description"] = event.description
                if event.payload is not None:
                    entry["payload"] = event.payload
                converted_events[event_type] = entry
            stores[store] = {
                **(
                    {"description": converted.store_descriptions[store]}
                    if store in converted.store_descriptions
                    else {}
                ),
                "aggregate": aggregate_of(store),
                "events": converted_events,
            }
        document: dict[str, Any] = {"kastor": 1, "package": converted.package}
        if spec_name in spec_definitions:
            document["definitions"] = spec_definitions[spec_name]
        if stores:
            document["event_stores"] = stores
        files[f"specs/{spec_name}.yaml"] = header + dump_yaml(document)
    files["examples.json"] = render_examples(converted)
    return files


def render_examples(converted: Converted) -> str:
    initial = {
        event_type
        for store in converted.stores
        for event_type in sorted(t for t, e in converted.events.items() if e.store == store)[:1]
    }
    events = {
        event_type: {
            "spec": f"specs/{converted.stores[event.store]}.yaml",
            "store": event.store,
            "initial": event_type in initial,
            "schema": event.schema_source,
        }
        for event_type, event in sorted(converted.events.items())
    }
    examples = []
    for index, example in enumerate(
        sorted(converted.examples, key=lambda e: (converted.events[e.event_type].store, e.event_type, e.kind))
    ):
        entry: dict[str, Any] = {"id": f"{example.event_type.lower()}-{index}", "event_type": example.event_type}
        entry["kind"] = example.kind
        if example.source is not None:
            entry["source"] = example.source
        else:
            entry["payload"] = example.payload
        examples.append(entry)
    document = {
        "package": converted.package,
        "draft": converted.draft,
        "events": events,
        "examples": examples,
        "skipped": converted.skipped,
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def convert(corpus: str) -> dict[str, str]:
    return render(corpus, CONVERTERS[corpus]())


def committed(corpus: str) -> dict[str, str]:
    """What is committed of a corpus's converted files: its specs/ and examples.json."""
    folder = CORPORA / corpus
    files = {f"specs/{path.name}": path.read_text(encoding="utf-8") for path in sorted((folder / "specs").glob("*"))}
    if (folder / "examples.json").exists():
        files["examples.json"] = (folder / "examples.json").read_text(encoding="utf-8")
    return files


def write(corpus: str, files: dict[str, str]) -> None:
    folder = CORPORA / corpus
    (folder / "specs").mkdir(exist_ok=True)
    for path in (folder / "specs").glob("*"):
        if f"specs/{path.name}" not in files:
            path.unlink()
    for relative, text in files.items():
        (folder / relative).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # `[]` among the choices: argparse checks the default of an empty `nargs="*"` against them too.
    parser.add_argument("corpus", nargs="*", choices=[*CONVERTERS, []], help="default: every corpus")
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    arguments = parser.parse_args(argv)
    stale = False
    for corpus in arguments.corpus or CONVERTERS:
        files = convert(corpus)
        if arguments.check:
            if files != committed(corpus):
                print(f"{corpus}: the committed specs or examples.json are not what convert.py writes", file=sys.stderr)
                stale = True
        else:
            write(corpus, files)
            print(f"{corpus}: {len(files) - 1} spec files")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
