"""Queue membership made to hold, whatever Asterisk already has: ``ensure_member`` and
``ensure_removed`` are idempotent (a member already there, or already gone, is the wanted state),
which is what lets every resync, login, logout and overflow step be sent again safely."""

from __future__ import annotations

from middleware.ami import actions
from middleware.ami.client import AmiActionFailed, AmiClient


async def ensure_member(ami: AmiClient, queue: str, interface: str, member_name: str, *, penalty: int = 0,
                        paused: bool = False, reason: str = "", refresh: bool = True) -> bool:
    """Make ``interface`` a member of ``queue``; True if it was added now. A member already there keeps
    its place; with ``refresh`` its penalty and pause are set to these."""
    try:
        await ami.action(actions.queue_add(queue, interface, member_name, penalty=penalty, paused=paused,
                                           reason=reason))
        return True
    except AmiActionFailed as exc:
        if "already there" not in str(exc).lower():
            raise
    if refresh:
        await ami.action(actions.queue_penalty(queue, interface, penalty))
        await ami.action(actions.queue_pause(interface, paused, reason, queue=queue))
    return False


async def ensure_removed(ami: AmiClient, queue: str, interface: str) -> bool:
    """Make sure ``interface`` is not a member of ``queue``; True if it was removed now."""
    try:
        await ami.action(actions.queue_remove(queue, interface))
        return True
    except AmiActionFailed as exc:
        text = str(exc).lower()
        if "not there" not in text and "no such queue" not in text:
            raise
    return False
