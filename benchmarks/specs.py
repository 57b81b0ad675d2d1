"""Builds large, realistic specs for the scale tests and the generation benchmarks: N event types spread
over one to three stores.

Event `index` always gets the same name, store and payload shape, so the spec of N + 1 events is the spec
of N events plus one event type: generating both shows what adding one event type costs in the output.

Payload shapes cycle through: scalar fields (strings with a length or a date format, bounded integers, an
optional nullable string, a list); `$ref`s to shared definitions (an object, enums, a pattern) beside an
inline enum; a uuid, a date-time and a nested object (lifted into its own model) holding a `$ref`; no
payload at all.
"""

from pathlib import Path
from typing import Any

import yaml

#: Store ids, in the order events are dealt to them.
STORES = ("parcels", "shipments", "depots")

#: Aggregate class of each store.
AGGREGATES = {"parcels": "Parcel", "shipments": "Shipment", "depots": "Depot"}

_SUBJECTS = (
    "ADDRESS", "BARCODE", "CARRIER", "CLAIM", "COURIER", "CUSTOMS", "DAMAGE", "DELIVERY", "DIMENSION",
    "DRIVER", "INSURANCE", "INVOICE", "LABEL", "MANIFEST", "NOTICE", "PALLET", "PICKUP", "PROOF", "REFUND",
    "RETURN", "ROUTE", "SIGNATURE", "SLOT", "TARIFF", "WEIGHT",
)  # fmt: skip
_OUTCOMES = (
    "RECORDED", "AMENDED", "CONFIRMED", "REJECTED", "SCHEDULED", "CANCELLED", "ESCALATED", "VERIFIED",
    "ARCHIVED", "RESTORED", "FLAGGED", "CLEARED",
)  # fmt: skip

#: Once every subject has met every outcome, event types are prefixed with a region.
_REGIONS = ("", "NORTH_", "SOUTH_", "EAST_", "WEST_")

#: How many distinct event types the builder can name.
CAPACITY = len(_REGIONS) * len(_SUBJECTS) * len(_OUTCOMES)

_DEFINITIONS: dict[str, Any] = {
    "Money": {
        "type": "object",
        "description": "An amount in one currency, in minor units.",
        "properties": {
            "amount_cents": {"type": "integer", "minimum": 0},
            "currency": {"$ref": "#/definitions/Currency"},
        },
        "required": ["amount_cents", "currency"],
    },
    "Currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "CHF"]},
    "Priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
    "TrackingCode": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{9}[A-Z]{2}$"},
}


def event_type(index: int) -> str:
    """The UPPER_SNAKE name of event number `index` (0-based), e.g. `ADDRESS_RECORDED`."""
    if not 0 <= index < CAPACITY:
        raise ValueError(f"the builder names at most {CAPACITY} event types, not event #{index}")
    region, rest = divmod(index, len(_SUBJECTS) * len(_OUTCOMES))
    subject, outcome = rest % len(_SUBJECTS), rest // len(_SUBJECTS)
    return f"{_REGIONS[region]}{_SUBJECTS[subject]}_{_OUTCOMES[outcome]}"


def store_of(index: int, store_count: int) -> str:
    """The store that event number `index` belongs to: events are dealt to the stores in turn."""
    return STORES[index % store_count]


def payload_schema(index: int) -> dict[str, Any] | None:
    """The payload schema of event number `index`; None for events without payload."""
    shape = index % 4
    if shape == 0:
        return {
            "type": "object",
            "properties": {
                "reference": {"type": "string", "minLength": 1},
                "quantity": {"type": "integer", "minimum": 0, "maximum": 10_000},
                "note": {"type": ["string", "null"], "maxLength": 500},
                "recorded_on": {"type": "string", "format": "date"},
                "labels": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["reference", "quantity", "recorded_on"],
        }
    if shape == 1:
        return {
            "type": "object",
            "properties": {
                "tracking_code": {"$ref": "#/definitions/TrackingCode"},
                "amount": {"$ref": "#/definitions/Money"},
                "priority": {"$ref": "#/definitions/Priority"},
                "reason": {"type": "string", "description": "Why it happened, in the operator's words."},
                "channel": {"type": "string", "enum": ["web", "phone", "counter"]},
            },
            "required": ["tracking_code", "amount", "priority"],
        }
    if shape == 2:
        return {
            "type": "object",
            "properties": {
                "operator_id": {"type": "string", "format": "uuid"},
                "occurred_at": {"type": "string", "format": "date-time"},
                "location": {
                    "type": "object",
                    "description": "Where it happened.",
                    "properties": {
                        "depot_code": {"type": "string"},
                        "bay": {"type": "integer", "minimum": 1},
                        "coordinates": {
                            "type": "object",
                            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                            "required": ["lat", "lon"],
                        },
                    },
                    "required": ["depot_code", "bay"],
                },
                "cost": {"$ref": "#/definitions/Money"},
            },
            "required": ["operator_id", "location"],
        }
    return None


def _aggregate_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["open", "in_progress", "closed"]},
            "priority": {"$ref": "#/definitions/Priority"},
            "total": {"$ref": "#/definitions/Money"},
            "history": {"type": "array", "items": {"type": "string"}},
            "contact": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "email": {"type": ["string", "null"]}},
                "required": ["name", "email"],
            },
        },
        "required": ["status", "priority", "total", "history"],
    }


def build_spec(package: str, event_count: int, *, store_count: int = 2) -> dict[str, Any]:
    """The spec document of `package`, with `event_count` event types dealt over `store_count` stores."""
    if not 1 <= store_count <= len(STORES):
        raise ValueError(f"store_count must be between 1 and {len(STORES)}")
    if event_count < store_count:
        raise ValueError("every store needs at least one (initial) event type")
    stores: dict[str, Any] = {}
    for store_id in STORES[:store_count]:
        stores[store_id] = {
            "description": f"The {store_id} of a parcel delivery network.",
            "aggregate": {"name": AGGREGATES[store_id], "schema": _aggregate_schema()},
            "metadata": {
                "type": "object",
                "properties": {
                    "correlation_id": {"type": "string", "format": "uuid"},
                    "actor": {"type": "string", "enum": ["customer", "staff", "system"]},
                },
                "required": ["actor"],
            },
            "events": {},
        }
    for index in range(event_count):
        event: dict[str, Any] = {}
        if index < store_count:
            event["initial"] = True
        if index % 3 == 0:
            event["description"] = f"Event #{index} of the scale spec."
        payload = payload_schema(index)
        if payload is not None:
            event["payload"] = payload
        stores[store_of(index, store_count)]["events"][event_type(index)] = event
    return {
        "kastor": 1,
        "package": package,
        "description": f"A parcel delivery network with {event_count} event types (generated for scale tests).",
        "definitions": _DEFINITIONS,
        "event_stores": stores,
    }


def write_spec(path: Path, package: str, event_count: int, *, store_count: int = 2) -> Path:
    """Writes the spec of `build_spec` to `path` as YAML and returns `path`."""
    document = build_spec(package, event_count, store_count=store_count)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=110), encoding="utf-8")
    return path
