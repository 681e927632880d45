"""An agent's own outside call (pure core): what was keyed in, as a number, and whether the agent may
dial it.

Agents dial a full E.164 number (``+4420...``) or the dial prefix 9 and a number as written in the
tenant's country (``9 212 555 0100`` in the US). The dialing policy judges it first, as for every leg;
then the agent's permission: ``none`` (answering only), ``national`` (the tenant's own country), or
``international``. An emergency number keyed in after the prefix is an emergency call, never refused.
"""

from __future__ import annotations

from middleware.dialing.policy import Destination, NumberRefused

PERMISSIONS = ("none", "national", "international")
DIAL_PREFIX = "9"


def keyed_number(keyed: str) -> str:
    """The number an agent meant: E.164 as keyed, or what follows the dial prefix."""
    if keyed.startswith("+"):
        return keyed
    return keyed[len(DIAL_PREFIX):] if keyed.startswith(DIAL_PREFIX) else keyed


def check_permission(permission: str, destination: Destination, home_country: str) -> None:
    """NumberRefused unless the agent's permission covers the destination."""
    if permission not in PERMISSIONS:
        raise NumberRefused("permission", f"unknown dial permission {permission!r}")
    if permission == "none":
        raise NumberRefused("permission", "this agent may not dial outside numbers")
    if permission == "national" and destination.country != home_country:
        raise NumberRefused("permission", f"{destination.e164} is international ({destination.country}): this agent "
                                          f"may dial national ({home_country}) numbers only")
