"""Time handling: every instant is timezone-aware UTC; naive times are refused."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from .errors import InputError
from .limits import MAX_TIME_CHARS, shown

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instant(text: str, what: str) -> datetime:
    """Parse an ISO 8601 instant. A bare date means 00:00 UTC that day.

    A date-time without a timezone is refused: guessing the zone could move a
    record across a policy boundary.
    """
    if len(text) > MAX_TIME_CHARS:
        raise InputError(f"{what}: {shown(text, 40)} is not an ISO 8601 date-time (too long)")
    raw = text.strip()
    if _DATE_ONLY.match(raw):
        try:
            d = date.fromisoformat(raw)
        except ValueError as exc:
            raise InputError(f"{what}: {shown(text)} is not a valid date") from exc
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError as exc:
        raise InputError(f"{what}: {shown(text)} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise InputError(f"{what}: {shown(text)} has no timezone (add Z or an offset like +00:00)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-05:00 is in year 10000 in UTC.
        raise InputError(
            f"{what}: {shown(text)} is outside the years 1 to 9999 once converted to UTC"
        ) from None


def ensure_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise InputError(f"{what}: {value.isoformat()} has no timezone")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InputError(
            f"{what}: {value.isoformat()} is outside the years 1 to 9999 once converted to UTC"
        ) from None


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch, exact (no float round trip)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    from datetime import timedelta

    return EPOCH + timedelta(microseconds=micros)


def format_instant(value: datetime) -> str:
    """ISO 8601 in UTC with a Z; microseconds only when present."""
    v = value.astimezone(UTC)
    if v.microsecond:
        return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return v.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(UTC)
