"""Limits on the JSON the runtime writes and reads, so that a huge or deeply nested event (pushed, read
from storage, or carried by a message) is refused with a clear error instead of exhausting memory or the
stack.

Every codec follows the package's default limits unless given its own: `set_default_event_limits`
changes the default, `EventCodec(..., limits=...)` or `codec.limits = ...` one codec's.
"""

from dataclasses import dataclass
from itertools import accumulate

#: The deepest nesting `max_depth` may allow: pydantic's JSON parser refuses deeper documents anyway.
MAX_DEPTH_CEILING = 200

# -- what every storage holds (docs/hostile-input.md, "Arguments and bounds") -------------------------------
# Fixed, unlike EventLimits: beyond them a value cannot be stored or compared by some adapter, so every
# adapter refuses it alike, before its database sees it.

#: The highest version of an event: PostgreSQL keeps versions in an INTEGER column (signed 32 bits).
MAX_VERSION = 2**31 - 1
#: The highest `limit` of a read (and `page_size` of `iter_events`): no aggregate has more events, and no
#: page of aggregates could be held in memory anyway.
MAX_LIMIT = 2**31 - 1
#: The longest aggregate id, in UTF-8 bytes: PostgreSQL indexes at most some 2,700 bytes a row, and its
#: key holds the store id and the version too.
MAX_AGGREGATE_ID_BYTES = 1024
#: The longest event store id, in UTF-8 bytes (generated stores have short ones).
MAX_EVENT_STORE_ID_BYTES = 256


@dataclass(frozen=True, slots=True)
class EventLimits:
    """How large and how deeply nested the JSON of an event may be.

    - `max_event_bytes`: the size of an event pushed, as the codec writes it (compact UTF-8 JSON of the
      whole event: its payload, its metadata and the rest).
    - `max_read_bytes`: the size of JSON read back: a stored event, or a message body. Larger than
      `max_event_bytes`, because a storage may spell out an event more loosely than the codec wrote it
      (a PostgreSQL jsonb column of an earlier version adds spaces) and a state-carrying message holds
      an aggregate too.
    - `max_depth`: how deeply arrays and objects nest in an event, the event's own object being level 1
      (so its payload is level 2). A message body wraps its event, so it may nest one level more.
    """

    max_event_bytes: int = 1_000_000
    max_read_bytes: int = 4_000_000
    max_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_event_bytes", "max_read_bytes", "max_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"EventLimits.{name} must be a positive integer, got {value!r}")
        if self.max_read_bytes < self.max_event_bytes:
            raise ValueError(
                f"EventLimits.max_read_bytes ({self.max_read_bytes}) cannot be less than max_event_bytes "
                f"({self.max_event_bytes}): events that may be pushed could not be read back"
            )
        if self.max_depth > MAX_DEPTH_CEILING:
            raise ValueError(
                f"EventLimits.max_depth must be at most {MAX_DEPTH_CEILING} (pydantic's JSON parser refuses "
                f"deeper documents), got {self.max_depth}"
            )


#: The limits every codec follows unless it was given its own, until `set_default_event_limits`.
DEFAULT_EVENT_LIMITS = EventLimits()

_default = DEFAULT_EVENT_LIMITS


def default_event_limits() -> EventLimits:
    """The limits of the codecs (event and message) that have none of their own."""
    return _default


def set_default_event_limits(limits: EventLimits | None) -> EventLimits:
    """Sets the limits of every codec of this package that has none of its own (None restores
    `DEFAULT_EVENT_LIMITS`), for the calls that follow; returns the previous default."""
    global _default
    checked = checked_limits(limits)
    previous, _default = _default, checked if checked is not None else DEFAULT_EVENT_LIMITS
    return previous


def checked_limits(limits: object) -> EventLimits | None:
    """`limits` when it is EventLimits or None, else TypeError (for callers that are not type-checked)."""
    if limits is not None and not isinstance(limits, EventLimits):
        raise TypeError(f"expected EventLimits or None, got {type(limits).__name__}")
    return limits


def size_of(data: str | bytes, at_most: int) -> int:
    """The size of `data` in UTF-8 bytes, exact whenever it may exceed `at_most` (a text is encoded only
    when its length alone cannot tell)."""
    if isinstance(data, str) and 4 * len(data) > at_most:
        return len(data.encode("utf-8", "surrogatepass"))
    return len(data)


def nests_deeper_than(data: str | bytes, max_depth: int) -> bool:
    """Whether arrays and objects in the JSON `data` nest deeper than `max_depth`, without parsing it
    (no recursion, so no document can exhaust the stack).

    Brackets inside strings do not count. A malformed document may be answered either way: its parser
    refuses it after.
    """
    # Most documents have too few brackets to nest that deep, strings included.
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= max_depth:
            return False
        raw = data.encode("utf-8", "surrogatepass")
    else:
        if data.count(b"[") + data.count(b"{") <= max_depth:
            return False
        raw = data
    if b"\\" in raw:  # escaped backslashes first, so that `\\"` still ends its string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Keep the structure (brackets, as one kind) and the quotes; then drop what lies within strings.
    structure = raw.translate(_STRUCTURE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:  # strings that hold brackets
        structure = b"".join(structure.split(b'"')[::2])
    # Each pass removes the innermost level, so a bracket left after p passes encloses p levels at least,
    # and a run of n opening brackets then means p + n levels. Shallow documents vanish in a few passes.
    for passes in range(_PASSES):
        if not structure:
            return False
        if b"[" * (max_depth + 1 - passes) in structure:
            return True
        reduced = structure.replace(b"[]", b"")
        if len(reduced) == len(structure):
            return False  # unbalanced brackets: malformed, for the parser to report
        structure = reduced
    # What still nests after them: count, one bracket at a time (in C).
    deepest = max(accumulate(map(_STEPS.__getitem__, structure)), default=0)
    return deepest + _PASSES > max_depth


#: How many innermost levels `nests_deeper_than` removes before it counts the rest.
_PASSES = 8
_STEPS = {ord("["): 1, ord("]"): -1}


_STRUCTURE = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
