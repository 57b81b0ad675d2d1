"""Timestamps: every datetime the runtime stores or compares is aware and in UTC."""

from datetime import UTC, datetime


def to_utc(value: datetime, name: str = "timestamp") -> datetime:
    """The aware `value` as the same instant in UTC.

    A time within a few hours of the ends of what `datetime` holds (years 1 to 9999) may fall outside
    them once in UTC (0001-01-01T00:30+01:00 is in year 0): ValueError naming `name`, not OverflowError.
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{name} {value.isoformat()} is outside the years 1 to 9999 once in UTC, which no storage holds"
        ) from None


def require_aware(name: str, value: object) -> datetime:
    """`value` in UTC; a naive datetime is refused, since its instant is unknown, and anything but a datetime
    (from callers that are not type-checked): ValueError naming `name`."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {value.isoformat()}")
    return to_utc(value, name)
