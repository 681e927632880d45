"""Lead and do-not-call lists from CSV: every row checked, numbers in E.164 with their time zone.

Pure: text in, valid rows and per-line problems out. A row with any problem is reported with its line
number and skipped whole; a number seen twice is kept once (the first line) and the repeats reported.
A lead's number must pass the tenant's dialing policy (countries, number types; the number's own time
zone wins over a contradicting ``timezone`` column); a do-not-call number need only be a number.
"""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import timezone as phone_zones

from middleware.dialing.policy import DialingPolicy, judge
from middleware.errors import Invalid

NUMBER_COLUMNS = ("number", "phone", "phone_number", "telephone")
DEFAULT_POLICY = DialingPolicy()
MAX_NAME = 200
MAX_DATA_BYTES = 4000


class LeadError(Invalid):
    """A lead file that cannot be read at all (no number column, not CSV)."""


@dataclass(frozen=True)
class Lead:
    line: int
    number: str      # E.164
    timezone: str    # IANA zone of the called party
    name: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def normalise(raw: str, default_region: str) -> str:
    """E.164 form of a dialable number; ValueError says why not."""
    text = raw.strip()
    if not text:
        raise ValueError("no number")
    try:
        parsed = phonenumbers.parse(text, default_region or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{text!r} is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def zone_of(e164: str) -> str:
    """The one time zone a number is in; ValueError when the number spans several (toll-free, mobile
    ranges of big countries), since the calling window could then not be checked."""
    zones = [z for z in phone_zones.time_zones_for_number(phonenumbers.parse(e164)) if z != "Etc/Unknown"]
    if len(zones) != 1:
        raise ValueError(f"{e164} could be in {len(zones) or 'no'} time zones: give a timezone column")
    return zones[0]


def check_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def make_lead(line: int, raw_number: str, timezone: str, name: str, data: dict[str, str],
              policy: DialingPolicy = DEFAULT_POLICY, region: str | None = None) -> Lead:
    """One lead from its fields (a CSV row or an API body); ValueError (NumberRefused for a number the
    policy refuses) says what is wrong."""
    destination = judge(raw_number, policy, timezone=timezone, region=region)
    number = destination.e164
    if destination.timezone is None:
        raise ValueError(f"{number} could be in several time zones: give a timezone column")
    zone = destination.timezone
    name = name.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError("the name holds control characters (a line break?)")
    if len(name) > MAX_NAME:
        raise ValueError(f"name longer than {MAX_NAME} characters")
    if len(json.dumps(data)) > MAX_DATA_BYTES:
        raise ValueError(f"the other columns hold more than {MAX_DATA_BYTES} bytes")
    return Lead(line, number, zone, name, data)


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise LeadError("the file is empty")
    fields = [f.strip().lower() for f in reader.fieldnames]
    if not any(f in NUMBER_COLUMNS for f in fields):
        raise LeadError(f"no number column (one of {', '.join(NUMBER_COLUMNS)}); columns: {', '.join(fields)}")
    reader.fieldnames = fields
    for row in reader:
        yield reader.line_num, row


def parse_leads(text: str, policy: DialingPolicy = DEFAULT_POLICY,
                region: str | None = None) -> tuple[list[Lead], list[Problem]]:
    """Leads from CSV with a header: a number column, optional ``timezone`` and ``name``; every other
    column is kept as the lead's data (shown to the agent). National numbers are read in ``region``
    (default: the policy's own country)."""
    leads: list[Lead] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    try:
        for line, row in _rows(text):
            if None in row:
                problems.append(Problem(line, "more fields than the header has"))
                continue
            raw = next((row[c] for c in NUMBER_COLUMNS if row.get(c)), "")
            data = {k: (v or "").strip() for k, v in row.items()
                    if k not in NUMBER_COLUMNS and k not in ("timezone", "name") and (v or "").strip()}
            try:
                lead = make_lead(line, raw or "", row.get("timezone") or "", row.get("name") or "", data,
                                 policy, region)
            except ValueError as exc:
                problems.append(Problem(line, str(exc)))
                continue
            number = lead.number
            if number in seen:
                problems.append(Problem(line, f"{number} repeats line {seen[number]}: skipped"))
                continue
            seen[number] = line
            leads.append(lead)
    except csv.Error as exc:
        raise LeadError(f"not CSV: {exc}") from None
    return leads, problems


def parse_numbers(text: str, default_region: str = "US") -> tuple[list[tuple[int, str]], list[Problem]]:
    """A do-not-call file: a number column (header needed), or one number per line without a header."""
    first = text.lstrip().split("\n", 1)[0].strip().lower()
    if not any(c in first for c in NUMBER_COLUMNS):
        text = "number\n" + text
        offset = -1
    else:
        offset = 0
    out: list[tuple[int, str]] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for line, row in _rows(text):
        raw = next((row[c] for c in NUMBER_COLUMNS if row.get(c)), "")
        if not (raw or "").strip():
            continue
        try:
            number = normalise(raw, default_region)
        except ValueError as exc:
            problems.append(Problem(line + offset, str(exc)))
            continue
        if number not in seen:
            seen.add(number)
            out.append((line + offset, number))
    return out, problems
