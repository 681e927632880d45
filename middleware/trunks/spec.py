"""A carrier trunk as the operator describes it, checked before anything is written (pure core).

A trunk is one PJSIP endpoint the center sends outside calls to and takes DIDs from. Asterisk knows
the carrier's requests by their source address (``match``: the carrier's signalling networks) or, for a
carrier the center registers with, by the registration itself (``line``): a registering trunk needs no
networks. Outbound requests authenticate with ``username``/``password`` when the carrier demands it.
The caller ID reaches the carrier in P-Asserted-Identity (``pai``, most carriers), Remote-Party-ID
(``rpid``, older ones) or only in From (``from``). ``max_channels`` caps the calls in progress on it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from middleware.errors import Invalid

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}\Z")
HOST = re.compile(r"^(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                  r"[A-Za-z0-9])?)*\Z")
# What a SIP user part (RFC 3261 unreserved and user-unreserved, less ';' and '?') and a password may
# hold here: nothing a URI, a config line or a dialplan extension would read otherwise.
USER = re.compile(r"^[A-Za-z0-9_.!~*()&=+$,-]{1,64}\Z")
PASSWORD = re.compile(r"^[A-Za-z0-9_.!~*()&=+$,%#@:/?-]{1,64}\Z")
EXTENSION = re.compile(r"^[A-Za-z0-9+][A-Za-z0-9+.-]{0,63}\Z")  # no '_': that would be a dialplan pattern
CODECS = frozenset({"alaw", "ulaw", "g722", "g729", "gsm", "ilbc", "opus", "g726", "speex"})
DTMF_MODES = frozenset({"rfc4733", "inband", "info", "auto"})
CALLER_ID_MODES = frozenset({"pai", "rpid", "from"})
MAX_QUALIFY_S = 3600


class InvalidTrunk(Invalid):
    """A trunk description the center refuses, with the reason."""


@dataclass(frozen=True)
class Trunk:
    name: str
    host: str | None = None  # the carrier's SIP proxy (and registrar): where calls go
    port: int = 5060
    match: tuple[str, ...] = ()  # source networks whose requests are this carrier's (CIDR)
    username: str | None = None  # outbound digest authentication
    password: str | None = None
    register: bool = False  # REGISTER with the carrier (username/password) to receive its calls
    contact_user: str | None = None  # the user part of the registered Contact (default: username)
    codecs: tuple[str, ...] = ("alaw", "ulaw")
    dtmf_mode: str = "rfc4733"
    caller_id: str = "pai"
    max_channels: int | None = None  # calls in progress on the trunk at most; None: no cap
    qualify_s: int = 60  # OPTIONS every so many seconds (0: never); the status `trunk list` shows

    @property
    def registered_user(self) -> str | None:
        return (self.contact_user or self.username) if self.register else None


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise InvalidTrunk(f"match: {text!r} is not a network (e.g. 192.0.2.0/24 or 2001:db8::/32)") from exc


def _host(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if not HOST.match(text):
            raise InvalidTrunk(f"host: {text!r} is neither an IP address nor a host name") from None
        return text.lower()


def check(trunk: Trunk) -> Trunk:
    """The trunk with its values normalised, or InvalidTrunk naming the first wrong one."""
    if not NAME.match(trunk.name):
        raise InvalidTrunk(f"name: {trunk.name!r}: lowercase letters, digits, '-' and '_', at most 40")
    host = _host(trunk.host) if trunk.host else None
    if not 1 <= trunk.port <= 65535:
        raise InvalidTrunk(f"port: {trunk.port} is not a UDP port")
    match = tuple(dict.fromkeys(_cidr(m) for m in trunk.match))
    if trunk.username is not None and not USER.match(trunk.username):
        raise InvalidTrunk("username: 1-64 letters, digits or _.!~*()&=+$,-")
    if trunk.password is not None and not PASSWORD.match(trunk.password):
        raise InvalidTrunk("password: 1-64 characters, no spaces, quotes, ';' or '\\'")
    if (trunk.username is None) != (trunk.password is None):
        raise InvalidTrunk("authentication needs both a username and a password")
    if trunk.register and (host is None or trunk.username is None):
        raise InvalidTrunk("a registering trunk needs the carrier's host, a username and a password")
    if trunk.contact_user is not None and not trunk.register:
        raise InvalidTrunk("a contact user is only for a registering trunk")
    if trunk.register and not EXTENSION.match(trunk.registered_user or ""):
        raise InvalidTrunk("contact user: letters, digits, '+', '.' and '-' (the extension the carrier's calls "
                           "arrive at); give --contact-user when the username holds other characters")
    if not match and not trunk.register:
        if host is None:
            raise InvalidTrunk("a trunk needs the carrier's host, its networks (match) or a registration")
        match = (host,)  # the carrier sends from where we send: Asterisk resolves a name
    codecs = tuple(dict.fromkeys(c.strip().lower() for c in trunk.codecs if c.strip()))
    if not codecs or (unknown := [c for c in codecs if c not in CODECS]):
        raise InvalidTrunk(f"codecs: {', '.join(unknown) if codecs else 'none given'} (known: "
                           f"{', '.join(sorted(CODECS))})")
    if trunk.dtmf_mode not in DTMF_MODES:
        raise InvalidTrunk(f"dtmf mode: {trunk.dtmf_mode!r} (one of {', '.join(sorted(DTMF_MODES))})")
    if trunk.caller_id not in CALLER_ID_MODES:
        raise InvalidTrunk(f"caller id: {trunk.caller_id!r} (one of {', '.join(sorted(CALLER_ID_MODES))})")
    if trunk.max_channels is not None and trunk.max_channels < 1:
        raise InvalidTrunk("max channels: at least 1 (or none for no cap)")
    if not 0 <= trunk.qualify_s <= MAX_QUALIFY_S:
        raise InvalidTrunk(f"qualify: 0 (never) to {MAX_QUALIFY_S} seconds")
    return replace(trunk, host=host, match=match, codecs=codecs)


def trunk_of_channel(channel: str, names: set[str] | frozenset[str]) -> str | None:
    """The trunk a channel is on (``PJSIP/carrier-a-0000001f`` -> carrier-a), if it is one of ``names``."""
    if not channel.startswith("PJSIP/"):
        return None
    endpoint = channel[6:].rpartition("-")[0]
    return endpoint if endpoint in names else None


def room(trunk: Trunk, in_use: int) -> int | None:
    """Calls the trunk may still take (None: no cap)."""
    return None if trunk.max_channels is None else max(0, trunk.max_channels - in_use)


def with_room(names: set[str] | list[str], room_of: Callable[[str], int | None]) -> str | None:
    """The first of these trunks (by name) that may take a call now, or None when every one is full."""
    return next((n for n in sorted(names) if (r := room_of(n)) is None or r > 0), None)


@dataclass(frozen=True)
class TrunkState:
    """What Asterisk says of a trunk now: the carrier's reachability and the registration's state."""

    reachable: str  # "reachable", "unreachable", "unknown" (not qualified yet, or qualify off)
    rtt_ms: float | None
    registration: str | None  # "registered", "rejected", "unregistered", ...; None: not registering


def state(trunk: Trunk, contact_status: dict[str, tuple[str, float | None]],
          registration_status: dict[str, str]) -> TrunkState:
    """A trunk's state from Asterisk's contact list (aor -> (status, rtt ms)) and outbound registrations."""
    status, rtt = contact_status.get(trunk.name, ("", None))
    reachable = {"reachable": "reachable", "avail": "reachable", "unreachable": "unreachable",
                 "unavail": "unreachable"}.get(status.lower(), "unknown")
    registration = registration_status.get(trunk.name, "unregistered").lower() if trunk.register else None
    return TrunkState(reachable, rtt if reachable == "reachable" else None, registration)
