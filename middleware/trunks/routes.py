"""A tenant's outbound routes: which trunks an outside number leaves through, in which order, and how the
number is written for the carrier (pure core).

Routes are tried in their order; the first whose prefixes match the number (E.164, as the dialing
policy writes it) takes the call. Its trunks are the failover order: a trunk at its channel cap is left
out, one Asterisk's qualify finds unreachable goes last (it may be back); the dialplan then tries them one
after the other while a carrier is congested or cannot be reached (a 503, no answer at all; a busy
customer, 486, is busy on every carrier and ends the call). ``strip`` leading characters are removed from the E.164
number and ``prepend`` put in front: ``+12125550100`` with strip 2 is ``2125550100`` for a US carrier
that wants ten digits, with strip 1 and prepend ``00`` it is ``0012125550100``.

A tenant without routes keeps what it had before routes existed: the leg's own trunk (the campaign's,
the IVR node's) or, for a callback, the first of its allowed trunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from middleware.errors import Invalid
from middleware.trunks.spec import NAME

PREFIX = re.compile(r"^\+[0-9]{0,15}\Z")
PREPEND = re.compile(r"^[0-9+*#]{0,16}\Z")
LEG_SEPARATOR = "^"  # between the Dial strings of one call's legs ([trunk-out] of the dialplan)


class InvalidRoute(Invalid):
    """A route the center refuses, with the reason."""


class NoRoute(Invalid):
    """No route of the tenant takes this number (or the tenant has no trunk at all)."""


class TrunksFull(NoRoute):
    """Every trunk the call could take is at its channel cap now: it may be tried again later."""


@dataclass(frozen=True)
class Route:
    name: str
    trunks: tuple[str, ...]  # the failover order
    prefixes: tuple[str, ...] = ("+",)  # E.164 prefixes it takes; "+" takes every number
    strip: int = 0
    prepend: str = ""
    caller_id: str | None = None  # the number presented on its calls (legs that bring none of their own)
    position: int = 0


@dataclass(frozen=True)
class Leg:
    trunk: str
    number: str  # as the carrier wants it

    @property
    def dial(self) -> str:
        return f"PJSIP/{self.number}@{self.trunk}"


def check_route(route: Route, trunks: Iterable[str]) -> Route:
    """The route with its values normalised, or InvalidRoute; ``trunks``: the trunks that exist."""
    if not NAME.match(route.name):
        raise InvalidRoute(f"name: {route.name!r}: lowercase letters, digits, '-' and '_', at most 40")
    known = set(trunks)
    order = tuple(dict.fromkeys(t.strip() for t in route.trunks if t.strip()))
    if not order:
        raise InvalidRoute("a route needs at least one trunk")
    if unknown := [t for t in order if t not in known]:
        raise InvalidRoute(f"no trunk {', '.join(unknown)} (see `callcenter trunk list`)")
    prefixes = tuple(dict.fromkeys(p.strip() for p in route.prefixes if p.strip()))
    if not prefixes or (bad := [p for p in prefixes if not PREFIX.match(p)]):
        raise InvalidRoute(f"prefixes: {', '.join(bad) if prefixes else 'none given'}: E.164 prefixes such as "
                           f"+1, +4420 (or + for every number)")
    if not 0 <= route.strip <= 8:
        raise InvalidRoute("strip: 0 to 8 leading characters")
    if not PREPEND.match(route.prepend):
        raise InvalidRoute("prepend: up to 16 digits, '+', '*' or '#'")
    if route.caller_id is not None and not PREFIX.match(route.caller_id):
        raise InvalidRoute(f"caller id: {route.caller_id!r} is not an E.164 number")
    return replace(route, trunks=order, prefixes=prefixes)


def select(routes: Sequence[Route], e164: str) -> Route | None:
    """The first route (by position) that takes the number; among a route's prefixes any may match."""
    for route in sorted(routes, key=lambda r: (r.position, r.name)):
        if any(e164.startswith(p) for p in route.prefixes):
            return route
    return None


def carrier_number(route: Route, e164: str) -> str:
    return route.prepend + e164[route.strip:]


def legs(route: Route, e164: str, room_of: Callable[[str], int | None],
         reachable_of: Callable[[str], bool | None]) -> list[Leg]:
    """The route's trunks to try, in order: full ones left out, unreachable ones last; NoRoute when
    every trunk is full."""
    open_ = [t for t in route.trunks if (room := room_of(t)) is None or room > 0]
    if not open_:
        raise TrunksFull(f"every trunk of route {route.name} is at its channel cap")
    ordered = [t for t in open_ if reachable_of(t) is not False] + [t for t in open_ if reachable_of(t) is False]
    number = carrier_number(route, e164)
    return [Leg(t, number) for t in ordered]


def dial_string(planned: Sequence[Leg]) -> str:
    """What [trunk-out] of the dialplan takes: the legs' Dial strings, in order."""
    return LEG_SEPARATOR.join(leg.dial for leg in planned)
