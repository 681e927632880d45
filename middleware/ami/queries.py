"""Typed AMI queries: an action sent and its reply parsed once, into frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from middleware.ami.client import AmiClient


@dataclass(frozen=True)
class ActiveChannel:
    channel: str
    uniqueid: str
    linkedid: str


def active_channels_of(messages: list[dict[str, str]]) -> list[ActiveChannel]:
    """The channels in a CoreShowChannels reply (one CoreShowChannel event each)."""
    return [ActiveChannel(m.get("channel", ""), m.get("uniqueid", ""), m.get("linkedid", ""))
            for m in messages if m.get("event") == "CoreShowChannel"]


async def active_channels(ami: AmiClient) -> list[ActiveChannel]:
    """Every channel Asterisk has now (AmiUnavailable when it cannot be asked)."""
    return active_channels_of(await ami.action({"Action": "CoreShowChannels"}, as_list=True, timeout=10))
