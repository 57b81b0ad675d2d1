"""Page tokens of `list_aggregate_ids`: an opaque string that carries the query and where the page ended.

A token comes back from the caller, so it is untrusted: whatever it holds (any text, base64 of any JSON,
nested to any depth), decoding it either gives a query within the bounds every storage holds or raises
InvalidPageTokenError.
"""

import base64
import json
from datetime import datetime
from typing import cast

from .errors import InvalidPageTokenError, shown, shown_value
from .limits import MAX_AGGREGATE_ID_BYTES, MAX_LIMIT, nests_deeper_than
from .storage import AggregateIdEntry, AggregateIdsQuery, check_integer, id_problem
from .timestamps import require_aware

#: The longest page token accepted. A token holds its store id, its query and the last entry of its page:
#: with the longest ids (limits.MAX_EVENT_STORE_ID_BYTES, MAX_AGGREGATE_ID_BYTES), each byte written as
#: up to 6 characters of JSON, under 11,000 characters of base64.
MAX_PAGE_TOKEN_LENGTH = 16_384
#: How deeply the JSON of a token nests: an object holding one array (`last`).
_TOKEN_DEPTH = 2


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
    if limit is not None:
        # At least 1: a page of nothing could not tell where the next one starts.
        check_integer(shown(event_store_id), "limit", limit, 1, MAX_LIMIT)
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


def decode_page_token(event_store_id: str, token: object) -> AggregateIdsQuery:
    """The query a token of `event_store_id` carries; InvalidPageTokenError for anything else (a token
    comes from callers that may not be type-checked, hence `object`)."""
    if not isinstance(token, str):
        raise InvalidPageTokenError(
            f"it must be a string, got {shown_value(token)}", event_store_id=event_store_id
        )
    if len(token) > MAX_PAGE_TOKEN_LENGTH:
        raise InvalidPageTokenError(
            f"it is {len(token)} characters long, longer than any token list_aggregate_ids returns "
            f"(at most {MAX_PAGE_TOKEN_LENGTH})",
            event_store_id=event_store_id,
        )
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        # Measured before parsing (without recursion), so that no token can exhaust the parser's stack.
        if nests_deeper_than(raw, _TOKEN_DEPTH):
            raise ValueError("it nests deeper than a token does")
        return _carried_query(event_store_id, json.loads(raw))
    except InvalidPageTokenError:
        raise
    except Exception as error:  # whatever decoding it raised, the token is not one of ours
        raise InvalidPageTokenError(
            "it is not a token that list_aggregate_ids returned", event_store_id=event_store_id
        ) from error


def _carried_query(event_store_id: str, body: object) -> AggregateIdsQuery:
    """The query of a token's parsed JSON, every field checked (ValueError, KeyError or TypeError when one
    is not as `encode_page_token` writes it)."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    fields = cast("dict[str, object]", body)  # parsed JSON: its values are checked below
    store = fields["store"]
    if store != event_store_id:
        raise InvalidPageTokenError(
            f"it was issued by the {shown_value(store)} store", event_store_id=event_store_id
        )
    limit = fields["limit"]
    reverse = fields["reverse"]
    if not isinstance(reverse, bool):
        raise ValueError("reverse is not a boolean")
    last = fields["last"]
    if not isinstance(last, list):
        raise ValueError("last is not an array")
    last_timestamp, last_id = cast("list[object]", last)
    if not isinstance(last_id, str) or id_problem(last_id, MAX_AGGREGATE_ID_BYTES) is not None:
        raise ValueError("its last aggregate id is not one that storages hold")
    return AggregateIdsQuery(
        limit=None if limit is None else check_integer("page token", "limit", limit, 1, MAX_LIMIT),
        initial_event_after=_parse(fields["after"]),
        initial_event_before=_parse(fields["before"]),
        reverse=reverse,
        start_after=AggregateIdEntry(last_id, _required(_parse(last_timestamp))),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: object) -> datetime | None:
    """A timestamp of a token, in UTC (ValueError when it is not one that every storage holds)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("bad timestamp")
    return require_aware("timestamp", datetime.fromisoformat(value))


def _required(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("missing timestamp")
    return value
