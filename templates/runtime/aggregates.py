"""The base class of every generated aggregate model."""

from .models import Model


class Aggregate(Model):
    """The state of one aggregate, as folded from its events by its store's reducer.

    Reducer hooks need not set `aggregate_id` and `version`: the runtime sets both from the event it
    applied, so they always name the aggregate and the version of its last event.
    """

    aggregate_id: str = ""
    version: int = 0
