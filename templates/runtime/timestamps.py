"""Timestamps: every datetime the runtime stores or compares is aware and in UTC."""

from datetime import UTC, datetime


def require_aware(name: str, value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is refused, since its instant is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {value.isoformat()}")
    return value.astimezone(UTC)
