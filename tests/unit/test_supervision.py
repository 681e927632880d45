"""Supervision: the ChanSpy options per mode, and a target that names one whole endpoint."""

from __future__ import annotations

from middleware.agents.supervision import SpyMode, chanspy_options, spy_target


def test_the_target_matches_the_whole_endpoint_name_only() -> None:
    """ChanSpy(PJSIP/acme-1,...) used to pick up PJSIP/acme-10-00000007, another agent's call."""
    target = spy_target("acme-1")
    assert "PJSIP/acme-1-0000002a".startswith(target)
    assert not "PJSIP/acme-10-00000007".startswith(target)
    assert not "PJSIP/acme-1x-00000007".startswith(target)


def test_each_mode_has_its_options() -> None:
    assert chanspy_options(SpyMode.LISTEN) == "qEb"
    assert chanspy_options(SpyMode.WHISPER) == "qEbw"
    assert chanspy_options(SpyMode.BARGE) == "qEbB"
