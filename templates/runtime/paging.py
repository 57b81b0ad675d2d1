"""Page tokens of `list_aggregate_ids`: an opaque string that carries the query and where the page ended."""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidPageTokenError
from .storage import AggregateIdEntry, AggregateIdsQuery
from .timestamps import require_aware


def resolve_query(
    event_store_id: str,
    page_token: str | None,
    *,
    limit: int | None,
    initial_event_after: datetime | None,
    initial_event_before: datetime | None,
    reverse: bool | None,
) -> AggregateIdsQuery:
    """The query to run: the page token's, where the caller does not give an option explicitly."""
    if limit is not None and limit < 1:
        raise ValueError(f"{event_store_id}: limit must be at least 1, got {limit}")
    after = None if initial_event_after is None else require_aware("initial_event_after", initial_event_after)
    before = (
        None if initial_event_before is None else require_aware("initial_event_before", initial_event_before)
    )
    if page_token is None:
        return AggregateIdsQuery(limit, after, before, bool(reverse), None)
    carried = decode_page_token(event_store_id, page_token)
    return AggregateIdsQuery(
        limit=carried.limit if limit is None else limit,
        initial_event_after=carried.initial_event_after if after is None else after,
        initial_event_before=carried.initial_event_before if before is None else before,
        reverse=carried.reverse if reverse is None else reverse,
        start_after=carried.start_after,
    )


def encode_page_token(event_store_id: str, query: AggregateIdsQuery, last: AggregateIdEntry) -> str:
    body = {
        "store": event_store_id,
        "limit": query.limit,
        "after": _iso(query.initial_event_after),
        "before": _iso(query.initial_event_before),
        "reverse": query.reverse,
        "last": [last.initial_event_timestamp.isoformat(), last.aggregate_id],
    }
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_page_token(event_store_id: str, token: str) -> AggregateIdsQuery:
    try:
        body: Any = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if body["store"] != event_store_id:
            raise InvalidPageTokenError(
                f"it was issued by the {body['store']!r} store", event_store_id=event_store_id
            )
        limit = body["limit"]
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError("bad limit")
        last_timestamp, last_id = body["last"]
        return AggregateIdsQuery(
            limit=limit,
            initial_event_after=_parse(body["after"]),
            initial_event_before=_parse(body["before"]),
            reverse=bool(body["reverse"]),
            start_after=AggregateIdEntry(str(last_id), _required(_parse(last_timestamp))),
        )
    except InvalidPageTokenError:
        raise
    except (binascii.Error, UnicodeError, ValueError, KeyError, TypeError) as error:
        raise InvalidPageTokenError(
            "it is not a token that list_aggregate_ids returned", event_store_id=event_store_id
        ) from error


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("bad timestamp")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive timestamp")
    return parsed.astimezone(UTC)


def _required(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("missing timestamp")
    return value
