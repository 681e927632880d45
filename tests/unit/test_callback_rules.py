"""Callbacks' pure rules: retries, lost callbacks, what the dialplan passes."""

from __future__ import annotations

from datetime import UTC, datetime

from middleware.callbacks import rules


def test_an_unanswered_customer_is_tried_max_attempts_times() -> None:
    assert rules.status_after_call(True, 1) == "done"
    assert [rules.status_after_call(False, n) for n in (1, 2, 3)] == ["pending", "pending", "failed"]


def test_a_callback_is_lost_only_with_neither_an_originate_in_progress_nor_a_channel() -> None:
    live = ["Local/12@callback-queue-00000003;1", "PJSIP/carrier-sim-0000002a"]
    assert rules.lost([11, 12, 13], {rules.task_name(13)}, live) == [11]
    assert rules.local_channel(12) == "Local/12@callback-queue/n"


def test_the_dialplans_values_are_read_defensively() -> None:
    assert rules.joined_at_of("1795385026.5") == datetime.fromtimestamp(1795385026.5, UTC)
    assert rules.joined_at_of("") is None and rules.joined_at_of("12") is None and rules.joined_at_of("x") is None
    assert rules.did_of("+1 (555) 1000") == "+15551000" and len(rules.did_of("1" * 50)) == 20
