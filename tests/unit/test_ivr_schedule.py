"""Business hours: weekday ranges, overnight shifts, midnight, DST changes, holidays."""

from datetime import UTC, datetime

import pytest

from middleware.ivr.schedule import InvalidSchedule, is_open, parse_days, parse_schedule

NY = "America/New_York"
OFFICE = parse_schedule(NY, {"mon-fri": "08:00-18:00", "sat": "09:00-13:00", "sun": "closed"}, ["2026-12-25"])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-23T07:59:59-05:00", False),  # Monday, a second before opening
    ("2026-11-23T08:00:00-05:00", True),
    ("2026-11-23T17:59:59-05:00", True),
    ("2026-11-23T18:00:00-05:00", False),  # closing is exclusive
    ("2026-11-28T12:59:00-05:00", True),  # Saturday morning hours
    ("2026-11-28T13:00:00-05:00", False),
    ("2026-11-29T12:00:00-05:00", False),  # Sunday closed
    ("2026-12-25T12:00:00-05:00", False),  # holiday (a Friday)
    ("2026-12-24T12:00:00-05:00", True),
])
def test_office_hours(at: str, expected: bool) -> None:
    assert is_open(OFFICE, utc(at)) is expected


def test_the_instant_is_read_in_the_schedules_zone() -> None:
    # 14:00 UTC on a Monday is 09:00 in New York (open) but 23:00 in Tokyo (closed).
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert is_open(OFFICE, now)
    tokyo = parse_schedule("Asia/Tokyo", {"mon-fri": "08:00-18:00"}, [])
    assert not is_open(tokyo, now)


def test_dst_change_keeps_local_opening_time() -> None:
    # New York springs forward on 2026-03-08: 08:00 local is 13:00 UTC before, 12:00 UTC after.
    assert not is_open(OFFICE, datetime(2026, 3, 6, 12, 30, tzinfo=UTC))  # Fri 07:30 EST
    assert is_open(OFFICE, datetime(2026, 3, 6, 13, 30, tzinfo=UTC))  # Fri 08:30 EST
    assert is_open(OFFICE, datetime(2026, 3, 9, 12, 30, tzinfo=UTC))  # Mon 08:30 EDT
    assert not is_open(OFFICE, datetime(2026, 3, 9, 11, 30, tzinfo=UTC))  # Mon 07:30 EDT
    # ... and falls back on 2026-11-01.
    assert is_open(OFFICE, datetime(2026, 10, 30, 12, 30, tzinfo=UTC))  # Fri 08:30 EDT
    assert not is_open(OFFICE, datetime(2026, 11, 2, 12, 30, tzinfo=UTC))  # Mon 07:30 EST


def test_overnight_shift_crosses_midnight_and_holidays_cut_it() -> None:
    night = parse_schedule(NY, {"fri": "22:00-06:00"}, ["2026-11-28"])
    assert is_open(night, utc("2026-11-20T22:00:00-05:00"))  # a normal Friday night
    assert is_open(night, utc("2026-11-21T05:59:00-05:00"))  # past midnight, into Saturday
    assert not is_open(night, utc("2026-11-21T06:00:00-05:00"))
    assert not is_open(night, utc("2026-11-21T22:30:00-05:00"))  # Saturday night has no shift
    assert is_open(night, utc("2026-11-27T23:59:59-05:00"))
    assert not is_open(night, utc("2026-11-28T00:30:00-05:00"))  # Saturday the 28th is a holiday
    holiday_eve = parse_schedule(NY, {"thu": "22:00-06:00"}, ["2026-11-26"])
    assert not is_open(holiday_eve, utc("2026-11-26T23:00:00-05:00"))  # the shift would start on the holiday
    assert not is_open(holiday_eve, utc("2026-11-27T01:00:00-05:00"))  # ... so it does not spill into Friday


def test_midnight_close_with_24_00() -> None:
    late = parse_schedule(NY, {"daily": "18:00-24:00"}, [])
    assert is_open(late, utc("2026-11-23T23:59:59-05:00"))
    assert not is_open(late, utc("2026-11-24T00:00:00-05:00"))


@pytest.mark.parametrize(("hours", "holidays", "message"), [
    ({"mon-fry": "08:00-18:00"}, [], "unknown day"),
    ({"mon": "8-18"}, [], "HH:MM-HH:MM"),
    ({"mon": "08:00-25:00"}, [], "time of day"),
    ({"mon": "08:00-08:00"}, [], "same minute"),
    ({}, ["2026-13-01"], "YYYY-MM-DD"),
])
def test_bad_specs(hours: dict, holidays: list, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        parse_schedule(NY, hours, holidays)


def test_unknown_zone_and_naive_now() -> None:
    with pytest.raises(InvalidSchedule, match="time zone"):
        parse_schedule("Mars/Olympus", {}, [])
    with pytest.raises(ValueError):
        is_open(OFFICE, datetime(2026, 11, 23, 12, 0))


def test_day_lists() -> None:
    assert parse_days("fri-mon") == [4, 5, 6, 0]
    assert parse_days("mon,wed") == [0, 2]
    assert parse_days("daily") == list(range(7))
