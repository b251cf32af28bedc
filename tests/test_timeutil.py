"""Times: ISO 8601 with a timezone, in UTC; whatever the text, a time or one InputError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.errors import InputError
from trainguard.limits import MAX_TIME_CHARS
from trainguard.timeutil import ensure_utc, parse_instant

OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=OFFSETS))
def test_every_offset_time_is_its_utc_instant_or_out_of_range(value: datetime) -> None:
    text = value.isoformat()
    try:
        parsed = parse_instant(text, "--at")
    except InputError as exc:
        # Only the ends of the calendar: an offset that pushes the time past year 9999
        # or before year 1 in UTC.
        assert value.year in (1, 9999)
        assert str(exc) == f"--at: {text!r} is outside the years 1 to 9999 once converted to UTC"
    else:
        assert parsed == value and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "0001-01-01T04:59:59+05:00"]
)
def test_offsets_that_leave_the_calendar_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="outside the years 1 to 9999"):
        parse_instant(text, "collected_at")


def test_the_ends_of_the_calendar_in_utc_are_times() -> None:
    assert parse_instant("9999-12-31T23:59:59.999999Z", "t").year == 9999
    assert parse_instant("0001-01-01T05:00:00+05:00", "t") == datetime(1, 1, 1, tzinfo=UTC)


def test_aware_datetimes_out_of_range_in_utc_are_input_errors() -> None:
    late = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(InputError, match="outside the years"):
        ensure_utc(late, "at")


@given(st.text(max_size=80))
def test_any_text_is_a_time_or_one_line_naming_the_input(text: str) -> None:
    try:
        parse_instant(text, "--at")
    except InputError as exc:
        message = str(exc)
        assert message.startswith("--at: ") and "\n" not in message
        assert len(message) < 250


def test_long_text_is_refused_and_shown_shortened() -> None:
    with pytest.raises(InputError) as err:
        parse_instant("2" * 10_000, "--at")
    assert "(10,000 characters)" in str(err.value) and len(str(err.value)) < 200
    assert len("2023-08-11T00:00:00.123456+05:30") < MAX_TIME_CHARS
