"""One outbound dialing policy per tenant, for every leg that reaches a trunk (pure core).

Callbacks, leads (CSV and API), IVR transfers to numbers and agents' manual calls all ask ``judge``
before a number is stored or dialled. What a careful operator chooses by default:
- numbers are parsed as E.164 (national forms in the tenant's own country);
- only the tenant's own country is reachable unless more are allowed;
- premium-rate, shared-cost, personal (UK 070: a classic fraud target), unknown-type numbers and
  numbers of no country (satellite phones, international networks: +870, +881, +882, +883, ...) are
  refused unless the tenant allows that type;
- the number's own region decides its time zone where it has one; a zone given with the number that
  contradicts it is refused (a caller-chosen zone must not move the legal calling window);
- callbacks are rate-limited per number and per tenant (``callback_rate``), so a spoofed or scripted
  caller cannot make the center dial on and on.
Emergency numbers never come here: they always reach a trunk.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_zones

from middleware.errors import Invalid

NON_GEOGRAPHIC = "001"  # phonenumbers' region for +800, +870, +881-883, +888, +979
TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line", PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile", PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate", PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip", PhoneNumberType.PERSONAL_NUMBER: "personal", PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan", PhoneNumberType.VOICEMAIL: "voicemail", PhoneNumberType.UNKNOWN: "unknown",
}
# Refused unless the tenant allows them by name ("satellite" = numbers of no country).
RESTRICTED_TYPES = frozenset({"premium_rate", "shared_cost", "personal", "unknown", "satellite"})


class NumberRefused(Invalid):
    """The policy does not let this number be dialled; ``reason`` is a short code for counting."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DialingPolicy:
    home_country: str = "US"                      # ISO 3166 alpha-2; national numbers are read in it
    countries: frozenset[str] = frozenset()       # other destination countries allowed
    number_types: frozenset[str] = frozenset()    # restricted types allowed anyway
    callbacks_per_number_day: int = 3
    callbacks_per_hour: int = 60

    def __post_init__(self) -> None:
        unknown = self.number_types - RESTRICTED_TYPES
        if unknown:
            raise ValueError(f"unknown number type(s) {', '.join(sorted(unknown))}; "
                             f"restricted types are {', '.join(sorted(RESTRICTED_TYPES))}")
        for code in (self.home_country, *self.countries):
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"{code!r} is not a two-letter country code")


@dataclass(frozen=True)
class Destination:
    e164: str
    country: str        # ISO region, or "001" for numbers of no country
    number_type: str
    timezone: str | None  # None when the number spans several zones and none was given


def _zones(parsed: phonenumbers.PhoneNumber) -> list[str]:
    return [z for z in phone_zones.time_zones_for_number(parsed) if z != "Etc/Unknown"]


def judge(raw: str, policy: DialingPolicy, *, timezone: str = "", region: str | None = None) -> Destination:
    """The number in E.164 with its country, type and time zone, or NumberRefused saying why not.
    ``region`` reads national forms as another country's (a list from abroad); it allows nothing."""
    text = raw.strip()
    if not text:
        raise NumberRefused("invalid", "no number")
    if any(ord(ch) < 32 for ch in text):
        raise NumberRefused("invalid", "the number holds control characters")
    try:
        parsed = phonenumbers.parse(text, region or policy.home_country)
    except phonenumbers.NumberParseException as exc:
        raise NumberRefused("invalid", f"{text!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise NumberRefused("invalid", f"{text!r} is not a valid number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(parsed) or NON_GEOGRAPHIC
    kind = TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
    if country == NON_GEOGRAPHIC and "satellite" not in policy.number_types:
        raise NumberRefused("satellite", f"{e164} belongs to no country (satellite or international network)")
    if kind in RESTRICTED_TYPES and kind not in policy.number_types:
        raise NumberRefused(kind, f"{e164} is a {kind.replace('_', '-')} number")
    if country != NON_GEOGRAPHIC and country != policy.home_country and country not in policy.countries:
        raise NumberRefused("country", f"{e164} is in {country}, not a country this tenant may call")
    zones = _zones(parsed)
    zone = timezone.strip()
    if zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise NumberRefused("timezone", f"unknown time zone {zone!r}") from None
        if zones and zone not in zones:
            raise NumberRefused("timezone", f"{e164} is in {' or '.join(zones)}, not {zone}")
    elif len(zones) == 1:
        zone = zones[0]
    return Destination(e164, country, kind, zone or None)


def callback_rate(for_number_last_day: int, for_tenant_last_hour: int, policy: DialingPolicy) -> None:
    """NumberRefused when one more callback would pass the tenant's limits (requests already made)."""
    if for_number_last_day >= policy.callbacks_per_number_day:
        raise NumberRefused("rate_number", f"{for_number_last_day} callbacks to this number in the last 24 h")
    if for_tenant_last_hour >= policy.callbacks_per_hour:
        raise NumberRefused("rate_tenant", f"{for_tenant_last_hour} callbacks for this tenant in the last hour")
