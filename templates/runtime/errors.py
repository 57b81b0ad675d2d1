"""Errors raised by the runtime. Each carries its context as attributes, not only in its message."""


class KastorError(Exception):
    """Base class of every error the Kastor runtime raises."""


class InvalidEventError(KastorError):
    """An event cannot be applied: it breaks the rules of its store (initial events, versions)."""

    def __init__(self, message: str, *, event_store_id: str, aggregate_id: str, version: int) -> None:
        super().__init__(f"{event_store_id}/{aggregate_id} v{version}: {message}")
        self.event_store_id = event_store_id
        self.aggregate_id = aggregate_id
        self.version = version


class EventDecodeError(KastorError):
    """Stored data could not be turned back into an event of its store."""

    def __init__(self, message: str, *, event_store_id: str) -> None:
        super().__init__(f"{event_store_id}: {message}")
        self.event_store_id = event_store_id
