"""Business hours: weekly opening ranges and holidays in a time zone. Pure; `now` is a parameter.

Spec, as written in a flow::

    timezone: America/New_York
    hours: {mon-fri: "08:00-18:00", sat: "09:00-13:00", sun: closed}
    holidays: ["2026-12-25", "2027-01-01"]

A range may cross midnight ("22:00-06:00": the night shift belongs to the day it starts on);
"24:00" closes at midnight. A holiday closes its whole local day, including the part of an
overnight range that spills into it; a range that would have opened on a holiday does not spill.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from middleware.errors import Invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class InvalidSchedule(Invalid):
    """A schedule spec that cannot be read; the message names the bad part."""


@dataclass(frozen=True)
class OpenRange:
    start: time
    end: time | None  # None: until midnight ("24:00")

    @property
    def overnight(self) -> bool:
        return self.end is not None and self.end <= self.start


@dataclass(frozen=True)
class Schedule:
    timezone: str
    week: tuple[tuple[OpenRange, ...], ...]  # index 0 = Monday
    holidays: frozenset[date]


def parse_days(spec: str) -> list[int]:
    """``mon-fri`` / ``sat`` / ``mon,wed,fri`` / ``daily`` -> weekday indexes."""
    if spec.strip().lower() in ("daily", "mon-sun", "all"):
        return list(range(7))
    days: list[int] = []
    for part in spec.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise InvalidSchedule(f"unknown day range {part!r} (use mon..sun)")
            a, b = DAYS.index(first), DAYS.index(last)
            days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in DAYS:
            days.append(DAYS.index(part))
        else:
            raise InvalidSchedule(f"unknown day {part!r} (use mon..sun)")
    return days


def parse_range(spec: str) -> OpenRange:
    m = _RANGE.match(spec.strip())
    if m is None:
        raise InvalidSchedule(f"{spec!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise InvalidSchedule(f"{spec!r} is not a time of day")
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end == time(h1, m1):
        raise InvalidSchedule(f"{spec!r} opens and closes at the same minute")
    return OpenRange(time(h1, m1), end)


def parse_schedule(timezone: str, hours: Mapping[str, object], holidays: list[object] | tuple[object, ...]) -> Schedule:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown time zone {timezone!r}") from exc
    week: list[list[OpenRange]] = [[] for _ in range(7)]
    for days_spec, ranges in hours.items():
        days = parse_days(str(days_spec))
        if ranges in ("closed", None):
            continue
        range_list = ranges if isinstance(ranges, list | tuple) else str(ranges).split(",")
        for r in range_list:
            parsed = parse_range(str(r))
            for d in days:
                week[d].append(parsed)
    parsed_holidays = set()
    for h in holidays:
        try:
            parsed_holidays.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
        except ValueError as exc:
            raise InvalidSchedule(f"holiday {h!r} is not a YYYY-MM-DD date") from exc
    return Schedule(timezone, tuple(tuple(sorted(d, key=lambda r: r.start)) for d in week), frozenset(parsed_holidays))


def _in_range(r: OpenRange, t: time) -> bool:
    if r.end is None:
        return t >= r.start
    if r.overnight:
        return t >= r.start
    return r.start <= t < r.end


def is_open(schedule: Schedule, now: datetime) -> bool:
    """Whether the schedule is open at the instant ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ZoneInfo(schedule.timezone))
    today, t = local.date(), local.time().replace(tzinfo=None)
    if today in schedule.holidays:
        return False
    if any(_in_range(r, t) for r in schedule.week[today.weekday()]):
        return True
    yesterday = today - timedelta(days=1)
    if yesterday in schedule.holidays:  # an overnight range that never opened does not spill over
        return False
    return any(r.overnight and r.end is not None and t < r.end for r in schedule.week[yesterday.weekday()])
