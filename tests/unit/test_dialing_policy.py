"""The tenant's outbound dialing policy: toll fraud refused by default, the number's own zone wins."""

from __future__ import annotations

import pytest

from middleware.dialing.policy import DialingPolicy, NumberRefused, callback_rate, judge

US = DialingPolicy("US")


def refusal(number: str, policy: DialingPolicy = US, **kw: str) -> str:
    with pytest.raises(NumberRefused) as caught:
        judge(number, policy, **kw)
    return caught.value.reason


def test_a_home_number_in_any_usual_form_becomes_e164_with_its_zone() -> None:
    for raw in ("12125554002", "+1 212 555 4002", "(212) 555-4002"):
        d = judge(raw, US)
        assert (d.e164, d.country, d.timezone) == ("+12125554002", "US", "America/New_York")


@pytest.mark.parametrize(("number", "reason"), [
    ("+19005551234", "premium_rate"),         # US 900
    ("+88216123456", "satellite"),            # Thuraya: an international network, no country
    ("+881612345678", "satellite"),           # Iridium
    ("+870772123456", "satellite"),           # Inmarsat
    ("+33145678900", "country"),              # France: not the tenant's country
    ("+447012345678", "personal"),            # UK 070 "personal numbers"
    ("12345", "invalid"),
    ("", "invalid"),
    ("+1212555\n0101", "invalid"),
])
def test_what_a_careful_operator_refuses_by_default(number: str, reason: str) -> None:
    assert refusal(number) == reason


def test_allowed_countries_and_types_open_exactly_what_they_name() -> None:
    wider = DialingPolicy("US", countries=frozenset({"FR", "GB"}), number_types=frozenset({"premium_rate"}))
    assert judge("+33145678900", wider).timezone == "Europe/Paris"
    assert judge("+19005551234", wider).number_type == "premium_rate"
    assert refusal("+447012345678", wider) == "personal"
    assert refusal("+88216123456", wider) == "satellite"
    assert refusal("+4930123456", wider) == "country"
    # A national number of another country, read as that country's, is still judged by the policy.
    assert judge("020 7946 0018", wider, region="GB").e164 == "+442079460018"
    assert refusal("01 45 67 89 00", US, region="FR") == "country"


def test_the_numbers_own_zone_wins_over_a_contradicting_one() -> None:
    assert judge("+12125554002", US, timezone="America/New_York").timezone == "America/New_York"
    assert refusal("+12125554002", US, timezone="Pacific/Honolulu") == "timezone"  # would move the window
    assert refusal("+12125554002", US, timezone="Nowhere/Land") == "timezone"
    # A number spanning zones (toll-free) takes the given one if it is among them, or none.
    assert judge("+18005551234", US).timezone is None
    assert judge("+18005551234", US, timezone="America/Chicago").timezone == "America/Chicago"


def test_callbacks_are_limited_per_number_and_per_tenant() -> None:
    policy = DialingPolicy("US", callbacks_per_number_day=2, callbacks_per_hour=10)
    callback_rate(1, 9, policy)
    with pytest.raises(NumberRefused) as caught:
        callback_rate(2, 0, policy)
    assert caught.value.reason == "rate_number"
    with pytest.raises(NumberRefused) as caught:
        callback_rate(0, 10, policy)
    assert caught.value.reason == "rate_tenant"


def test_a_policy_with_unknown_names_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown number type"):
        DialingPolicy("US", number_types=frozenset({"mobile"}))
    with pytest.raises(ValueError, match="two-letter"):
        DialingPolicy("usa")
