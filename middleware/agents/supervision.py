"""Supervision modes and the ChanSpy options that implement them. Pure."""

from __future__ import annotations

import enum


class SpyMode(enum.StrEnum):
    LISTEN = "listen"  # hear both sides, say nothing
    WHISPER = "whisper"  # talk to the agent only (coaching)
    BARGE = "barge"  # talk to both


def chanspy_options(mode: SpyMode) -> str:
    """q: no beep or name announcement; E: leave when the spied call ends; b: only bridged calls."""
    return "qEb" + {SpyMode.LISTEN: "", SpyMode.WHISPER: "w", SpyMode.BARGE: "B"}[mode]


def spy_target(endpoint: str) -> str:
    """ChanSpy's channel prefix for one phone: the trailing '-' ends the endpoint name, so spying on
    acme-1 never picks up acme-10's call (PJSIP channels are named PJSIP/<endpoint>-<sequence>)."""
    return f"PJSIP/{endpoint}-"
