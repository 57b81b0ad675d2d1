"""Errors raised by the runtime. Each carries its context as attributes, not only in its message."""

from collections.abc import Sequence
from dataclasses import dataclass


class KastorError(Exception):
    """Base class of every error the Kastor runtime raises."""


def shown(text: object, at_most: int = 100) -> str:
    """`text` (an id, say) as a message shows it: as it is when printable and short, else quoted with its
    lone surrogates, NUL and other control characters escaped (so that the message can be printed and
    logged), cut after `at_most` characters. (Not a string, as hostile code may give: `shown_value`.)"""
    if not isinstance(text, str):
        return shown_value(text)
    if len(text) <= at_most and text.isprintable():
        return text
    cut = repr(text[:at_most])
    return cut if len(text) <= at_most else f"{cut}... ({len(text)} characters)"


def shown_value(value: object) -> str:
    """A value that an argument or field was given, as a message shows it: its repr when short, ids
    escaped as by `shown`, an integer too large to write out in full by its size (Python refuses to
    write integers of more than 4,300 digits), anything else by its type."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 100 and value.isprintable() else shown(value)
    if isinstance(value, float):
        return repr(value)
    return f"a {type(value).__name__}"


class InvalidEventError(KastorError):
    """An event breaks the rules of its store (its schema, initial events, versions): nothing was stored."""

    def __init__(self, message: str, *, event_store_id: str, aggregate_id: str, version: int) -> None:
        super().__init__(f"{shown(event_store_id)}/{shown(aggregate_id)} v{shown_value(version)}: {message}")
        self.event_store_id = event_store_id
        self.aggregate_id = aggregate_id
        self.version = version


class EventAlreadyExistsError(KastorError):
    """An event with this version is already stored for the aggregate: another writer came first."""

    def __init__(self, *, event_store_id: str, aggregate_id: str, version: int) -> None:
        super().__init__(
            f"{event_store_id}/{aggregate_id} v{version}: an event with this version already exists "
            "(reload the aggregate and retry, or pass force=True to overwrite it)"
        )
        self.event_store_id = event_store_id
        self.aggregate_id = aggregate_id
        self.version = version


class AggregateNotFoundError(KastorError):
    """The aggregate has no event in its store."""

    def __init__(self, *, event_store_id: str, aggregate_id: str) -> None:
        super().__init__(f"{event_store_id}/{aggregate_id}: aggregate not found (it has no event)")
        self.event_store_id = event_store_id
        self.aggregate_id = aggregate_id


class UndefinedEventStorageAdapterError(KastorError):
    """The store was used before an event storage adapter was set."""

    def __init__(self, *, event_store_id: str) -> None:
        super().__init__(
            f"{event_store_id}: no event storage adapter is set "
            "(pass event_storage_adapter= to the store or assign store.event_storage_adapter)"
        )
        self.event_store_id = event_store_id


class EventStorageError(KastorError):
    """The storage itself failed (database unreachable, locked for too long, unreadable file...)."""


class EventGroupError(KastorError, ValueError):
    """A group of events cannot be pushed together (empty, or its stores use different adapters)."""


class InvalidPageTokenError(KastorError, ValueError):
    """A page token of `list_aggregate_ids` is malformed or belongs to another store."""

    def __init__(self, message: str, *, event_store_id: str) -> None:
        super().__init__(f"{event_store_id}: invalid page token: {message}")
        self.event_store_id = event_store_id


class EventDecodeError(KastorError):
    """Stored data could not be turned back into an event of its store."""

    def __init__(
        self,
        message: str,
        *,
        event_store_id: str,
        aggregate_id: str | None = None,
        version: int | None = None,
    ) -> None:
        where = event_store_id if aggregate_id is None else f"{event_store_id}/{aggregate_id} v{version}"
        super().__init__(f"{where}: {message}")
        self.event_store_id = event_store_id
        self.aggregate_id = aggregate_id
        self.version = version


class UndefinedMessageChannelAdapterError(KastorError):
    """The channel was used before a message channel adapter was set."""

    def __init__(self, *, message_channel_id: str) -> None:
        super().__init__(
            f"{message_channel_id}: no message channel adapter is set "
            "(pass message_channel_adapter= to the channel or assign channel.message_channel_adapter)"
        )
        self.message_channel_id = message_channel_id


class MessageChannelEventStoreNotFoundError(KastorError):
    """A message names an event store that the channel does not carry (or whose store it was not given)."""

    def __init__(self, message: str, *, message_channel_id: str, event_store_id: str) -> None:
        super().__init__(f"{message_channel_id}: {message}")
        self.message_channel_id = message_channel_id
        self.event_store_id = event_store_id


@dataclass(frozen=True, slots=True)
class PublishFailure:
    """One channel that could not publish a stored event's message, and the error it raised."""

    message_channel_id: str
    cause: Exception


class InvalidMessageError(KastorError, ValueError):
    """A message built in Python contradicts itself (a state-carrying message whose aggregate is not the
    one as of its event, an aggregate-exists message whose id is not a string or whose timestamp is naive),
    or cannot be written as JSON (it holds NaN, an infinity or a lone surrogate)."""

    def __init__(self, message: str, *, event_store_id: str) -> None:
        super().__init__(f"{event_store_id}: {message}")
        self.event_store_id = event_store_id


class EventPublishError(KastorError):
    """The event was stored, but publishing its message to one or more channels failed.

    Raised once every channel of the connected store (every level of a nested one) has been tried: one
    channel failing does not keep the message from the others. `event` is the stored event: it stays
    stored, so a retry must publish, not push again. `failures` lists each failed channel with its error,
    in publishing order (channels not listed got the message); `message_channel_id` and `cause` are the
    first failure's, and the error is raised from that cause.
    """

    def __init__(self, *, event_store_id: str, event: object, failures: Sequence[PublishFailure]) -> None:
        if not failures:
            raise ValueError("an EventPublishError needs at least one failed channel")
        aggregate_id = getattr(event, "aggregate_id", "?")
        version = getattr(event, "version", "?")
        failed = "; ".join(f"{failure.message_channel_id}: {failure.cause!r}" for failure in failures)
        super().__init__(
            f"{event_store_id}/{aggregate_id} v{version} was stored but could not be published to "
            f"{len(failures)} channel{'s' if len(failures) > 1 else ''}: {failed}"
        )
        self.event_store_id = event_store_id
        self.event = event
        self.failures: tuple[PublishFailure, ...] = tuple(failures)
        self.message_channel_id = failures[0].message_channel_id
        self.cause: Exception = failures[0].cause
