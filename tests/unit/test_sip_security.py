"""Failed SIP authentications -> temporary blocks: the counter, address parsing and the ACL text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from middleware.security.auth_failures import (
    FailureCounter,
    Policy,
    identify_networks,
    parse_networks,
    remote_address,
    render_acl,
)

T0 = datetime(2026, 11, 23, 10, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_fifth_failure_within_the_window_blocks_the_address() -> None:
    counter = FailureCounter(Policy(max_failures=5, window_s=60, block_s=900))
    assert [counter.record("203.0.113.7", "1001", at(i)) for i in range(4)] == [None] * 4
    block = counter.record("203.0.113.7", "1001", at(4))
    assert block is not None and block.failures == 5 and block.until == at(904) and block.account == "1001"
    assert counter.record("203.0.113.7", "1001", at(5)) is None  # counting starts again after a block


def test_failures_spread_wider_than_the_window_never_block() -> None:
    counter = FailureCounter(Policy(max_failures=3, window_s=60))
    assert all(counter.record("203.0.113.7", "x", at(31 * i)) is None for i in range(20))
    assert len(counter.recent["203.0.113.7"]) == 2  # only the window is kept


def test_addresses_are_counted_apart_and_trusted_ones_never_blocked() -> None:
    counter = FailureCounter(Policy(max_failures=2, never_block=parse_networks("127.0.0.1/32, 198.51.100.0/24")))
    assert counter.record("198.51.100.9", "a", at(0)) is None and counter.record("198.51.100.9", "a", at(1)) is None
    assert counter.record("203.0.113.1", "a", at(0)) is None
    assert counter.record("203.0.113.2", "a", at(1)) is None
    assert counter.record("203.0.113.1", "a", at(2)) is not None
    counter.forget_before(at(2))
    assert set(counter.recent) == set()  # 203.0.113.2's only failure is older


@pytest.mark.parametrize(("raw", "ip"), [("IPV4/UDP/203.0.113.7/5060", "203.0.113.7"),
                                         ("IPV6/UDP/[2001:db8::1]/5060", "2001:db8::1"),
                                         ("IPV6/TCP/2001:db8::2/5061", "2001:db8::2"),
                                         ("", None), ("IPV4/UDP/not-an-ip/5060", None), ("garbage", None)])
def test_remote_address_of_a_security_event(raw: str, ip: str | None) -> None:
    assert remote_address(raw) == ip


def test_policy_and_networks_are_checked() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address or network"):
        parse_networks("10.0.0.0/8, 10.0.0.300")
    with pytest.raises(ValueError):
        Policy(max_failures=0)


def test_acl_denies_each_blocked_address_once() -> None:
    assert "type = acl" not in render_acl([])
    text = render_acl(["203.0.113.9", "198.51.100.1", "203.0.113.9"])
    assert text.endswith("[callcenter-blocked]\ntype = acl\ndeny = 198.51.100.1/32\ndeny = 203.0.113.9/32\n")


def test_unknown_accounts_alone_block_only_at_their_own_higher_limit() -> None:
    """Spoofed one-packet REGISTERs for unknown accounts from an office's NAT address used to block it
    at the wrong-password limit."""
    counter = FailureCounter(Policy(max_failures=5, window_s=60, max_unknown_failures=30))
    assert all(counter.record("198.51.100.7", f"u{i}", at(i), unknown_account=True) is None for i in range(29))
    assert counter.record("198.51.100.7", "1001", at(29)) is None  # one wrong password: its own count
    block = counter.record("198.51.100.7", "u29", at(30), unknown_account=True)
    assert block is not None and block.failures == 30


def test_a_trunks_identify_networks_are_read_from_pjsip_conf() -> None:
    text = ("[carrier-sim](trunk-identify)\nendpoint = carrier-sim\nmatch = 127.0.0.1/32\n"
            "[other]\ntype = identify\nmatch = 198.51.100.0/24, sip.carrier.example ; comment\n"
            "[phone]\nusername = match\n")
    assert identify_networks(text) == parse_networks("127.0.0.1/32, 198.51.100.0/24")
    counter = FailureCounter(Policy(max_failures=1, never_block=identify_networks(text)))
    assert counter.record("198.51.100.20", "x", at(0)) is None
