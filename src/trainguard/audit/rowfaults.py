"""How the state check names a row the log does not account for, and logged times."""

from __future__ import annotations

from datetime import UTC, datetime

from ..timeutil import to_micros

Fault = tuple[str, int | None]


def deleted(table: str, row: str, index: int) -> Fault:
    return (f"{table} row {row}: deleted (logged at entry {index})", None)


def inserted(table: str, row: str) -> Fault:
    return (f"{table} row {row}: matches no logged entry (inserted, or changed after)", None)


def changed(table: str, row: str, column: str, index: int) -> Fault:
    return (f"{table} row {row}: {column} is not what entry {index} logged", None)


def micros(text: str) -> int:
    """Microseconds of a logged instant (``format_instant``'s form: UTC, ``Z``)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_micros(value)
