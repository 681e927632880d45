"""Outbound routes: which route takes a number, the trunks in failover order, the carrier's digits."""

from __future__ import annotations

import pytest

from middleware.trunks.routes import (
    InvalidRoute,
    Leg,
    NoRoute,
    Route,
    TrunksFull,
    check_route,
    dial_string,
    legs,
    select,
)

TRUNKS = ("carrier-a", "carrier-b", "carrier-c")


def route(**kw: object) -> Route:
    return check_route(Route(**{"name": "r", "trunks": ("carrier-a",), **kw}), TRUNKS)  # type: ignore[arg-type]


def test_the_first_route_in_order_whose_prefix_matches_takes_the_number() -> None:
    uk = route(name="uk", prefixes=("+44", "+353"), position=10)
    us = route(name="us", prefixes=("+1",), position=20)
    rest = route(name="rest", prefixes=("+",), position=30)
    routes = [rest, us, uk]
    assert select(routes, "+442079460000") is uk and select(routes, "+35312345678") is uk
    assert select(routes, "+12125550100") is us and select(routes, "+5511555000") is rest
    assert select([us], "+442079460000") is None


def test_the_number_is_rewritten_for_the_carrier_and_the_trunks_keep_their_order() -> None:
    us = route(trunks=("carrier-b", "carrier-a"), prefixes=("+1",), strip=2)
    assert legs(us, "+12125550100", lambda t: None, lambda t: None) == [
        Leg("carrier-b", "2125550100"), Leg("carrier-a", "2125550100")]
    intl = route(strip=1, prepend="00")
    assert legs(intl, "+442079460000", lambda t: None, lambda t: None) == [Leg("carrier-a", "00442079460000")]
    assert dial_string(legs(us, "+12125550100", lambda t: None, lambda t: None)) == (
        "PJSIP/2125550100@carrier-b^PJSIP/2125550100@carrier-a")


def test_full_trunks_are_left_out_and_unreachable_ones_tried_last() -> None:
    r = route(trunks=TRUNKS)
    room = {"carrier-a": 0, "carrier-b": 4, "carrier-c": None}
    reachable = {"carrier-a": True, "carrier-b": False, "carrier-c": None}
    assert [leg.trunk for leg in legs(r, "+1212", room.get, reachable.get)] == ["carrier-c", "carrier-b"]
    with pytest.raises(TrunksFull):
        legs(r, "+1212", lambda t: 0, reachable.get)
    assert issubclass(TrunksFull, NoRoute)


@pytest.mark.parametrize(("kw", "reason"), [
    ({"name": "Bad"}, "name"),
    ({"trunks": ()}, "at least one trunk"),
    ({"trunks": ("carrier-z",)}, "no trunk carrier-z"),
    ({"prefixes": ("1",)}, "prefixes"),
    ({"prefixes": ()}, "none given"),
    ({"strip": 9}, "strip"),
    ({"prepend": "0;0"}, "prepend"),
    ({"caller_id": "5551000"}, "caller id"),
])
def test_a_route_the_center_cannot_use_is_refused_with_the_reason(kw: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRoute, match=reason):
        route(**kw)


def test_a_route_lists_each_trunk_and_prefix_once() -> None:
    r = route(trunks=("carrier-a", " carrier-b", "carrier-a"), prefixes=("+1", "+1 "))
    assert r.trunks == ("carrier-a", "carrier-b") and r.prefixes == ("+1",)
