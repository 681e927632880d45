"""Repeated failed SIP authentications -> a temporary block of the address (pure core).

Asterisk reports each failure as an AMI security event (InvalidAccountID: no such account;
ChallengeResponseFailed / InvalidPassword: wrong password) with the peer's address. An address with
``max_failures`` wrong passwords within ``window_s`` is blocked for ``block_s``. Unknown accounts are
counted apart and block only at ``max_unknown_failures``: a wrong password needs a two-way exchange
(the challenge's nonce), while a REGISTER for an unknown account is one UDP packet whose source anyone
can forge, so an office's NAT address must not be locked out by a few spoofed packets; a scanner
walking account names still passes the higher limit in seconds. The addresses the operator trusts
(carriers' networks from the trunks' ``match`` lines, SIP_NEVER_BLOCK) are never blocked.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FAILURE_EVENTS = frozenset({"InvalidAccountID", "ChallengeResponseFailed", "InvalidPassword"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5
    window_s: float = 60.0
    block_s: float = 900.0
    never_block: tuple[Network, ...] = ()
    max_unknown_failures: int = 30

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window_s <= 0 or self.block_s <= 0 or self.max_unknown_failures < 1:
            raise ValueError("max_failures, max_unknown_failures, window_s and block_s must be positive")


def identify_networks(pjsip_text: str) -> tuple[Network, ...]:
    """The networks of every ``match =`` line of a pjsip.conf (identify sections: the carriers);
    host names are skipped (they cannot be compared with an address)."""
    out = []
    for line in pjsip_text.splitlines():
        key, sep, value = line.split(";", 1)[0].partition("=")
        if not sep or key.strip() != "match":
            continue
        for item in value.split(","):
            try:
                out.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                continue
    return tuple(out)


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks; ValueError names the bad one."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return tuple(out)


def remote_address(field_value: str) -> str | None:
    """The IP of an AMI security event's RemoteAddress, e.g. ``IPV4/UDP/203.0.113.7/5060``."""
    parts = field_value.split("/")
    if len(parts) < 4 or parts[0] not in ("IPV4", "IPV6"):
        return None
    host = "/".join(parts[2:-1]).strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


@dataclass(frozen=True)
class Block:
    address: str
    failures: int
    until: datetime
    account: str


@dataclass
class FailureCounter:
    """Recent failures per address (only the last window is kept, so memory stays bounded)."""
    policy: Policy
    recent: dict[str, deque[datetime]] = field(default_factory=dict)  # wrong passwords
    unknown: dict[str, deque[datetime]] = field(default_factory=dict)  # unknown accounts

    def trusted(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip in net for net in self.policy.never_block)

    def record(self, address: str, account: str, at: datetime, *, unknown_account: bool = False) -> Block | None:
        """Count one failure; the block it triggers, if this one reaches its kind's limit."""
        if self.trusted(address):
            return None
        windows, limit = ((self.unknown, self.policy.max_unknown_failures) if unknown_account
                          else (self.recent, self.policy.max_failures))
        window = windows.setdefault(address, deque())
        window.append(at)
        start = at - timedelta(seconds=self.policy.window_s)
        while window and window[0] <= start:
            window.popleft()
        if len(window) < limit:
            return None
        failures = len(window)
        self.recent.pop(address, None)
        self.unknown.pop(address, None)
        return Block(address, failures, at + timedelta(seconds=self.policy.block_s), account)

    def forget_before(self, moment: datetime) -> None:
        """Drop addresses whose last failure is older than ``moment``."""
        for windows in (self.recent, self.unknown):
            for address in [a for a, w in windows.items() if not w or w[-1] < moment]:
                del windows[address]


def render_acl(addresses: list[str]) -> str:
    """res_pjsip_acl's section denying every blocked address (nothing at all when none is)."""
    header = "; generated by callcenter from PostgreSQL (sip_blocks); edits here are overwritten\n"
    if not addresses:
        return header
    lines = [f"deny = {ipaddress.ip_network(a)}\n" for a in sorted(set(addresses), key=ipaddress.ip_address)]
    return header + "\n[callcenter-blocked]\ntype = acl\n" + "".join(lines)
