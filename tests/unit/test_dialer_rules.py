"""Lead files, calling windows, retry rules and attempt outcomes: the dialer's pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from middleware.ami.actions import channel_text
from middleware.dialer import compliance as c
from middleware.dialer import observed
from middleware.dialer.attempts import Attempt, attempt_of, channel_id, unanswered_outcome
from middleware.dialer.leads import LeadError, normalise, parse_leads, parse_numbers, zone_of
from middleware.dialer.observed import agents_now, calls_now, learned_from
from middleware.dialer.outcomes import LeadChange, after_disposition
from middleware.dialing.policy import DialingPolicy

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_leads_are_normalised_to_e164_with_their_zone_and_bad_rows_reported_by_line() -> None:
    text = ("phone,name,plan\n"
            "(212) 555-0100,Ann,gold\n"
            "+44 20 7946 0018,Bob,\n"
            "555,Short,\n"
            "212-555-0100,Again,\n"
            "+1 800 555 0100,Tollfree,\n"
            "+1 646 555 0101,Extra,x,y\n")
    leads, problems = parse_leads(text, DialingPolicy(countries=frozenset({"GB"})))  # a tenant that calls the UK
    assert [(le.line, le.number, le.timezone, le.name) for le in leads] == [
        (2, "+12125550100", "America/New_York", "Ann"), (3, "+442079460018", "Europe/London", "Bob")]
    assert leads[0].data == {"plan": "gold"}
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [
        (4, "'555'"), (5, "+12125550100"), (6, "+18005550100"), (7, "more")]
    assert "repeats line 2" in problems[1].message and "time zones" in problems[2].message


def test_an_explicit_timezone_column_wins_and_is_checked() -> None:
    leads, problems = parse_leads("number,timezone\n+18005550100,America/Chicago\n+12125550100,Nowhere/Land\n")
    assert [le.timezone for le in leads] == ["America/Chicago"]
    assert problems[0].line == 3 and "unknown time zone" in problems[0].message


def test_a_file_without_a_number_column_is_refused_whole() -> None:
    with pytest.raises(LeadError, match="no number column"):
        parse_leads("name,email\nAnn,a@example.com\n")
    with pytest.raises(LeadError, match="empty"):
        parse_leads("")


def test_dnc_files_with_or_without_a_header() -> None:
    assert parse_numbers("2125550100\n+442079460018\nrubbish\n")[0] == [(1, "+12125550100"), (2, "+442079460018")]
    numbers, problems = parse_numbers("number\n212 555 0100\n212-555-0100\n")
    assert numbers == [(2, "+12125550100")] and problems == []
    assert parse_numbers("rubbish\n")[1][0].line == 1


def test_normalise_and_zone() -> None:
    assert normalise("020 7946 0018", "GB") == "+442079460018"
    assert zone_of("+33142685300") == "Europe/Paris"
    with pytest.raises(ValueError):
        normalise("", "US")


def test_calling_window_is_the_called_partys_local_time() -> None:
    # 15:00 UTC is 10:00 in New York, 07:00 in Los Angeles, 00:00 in Tokyo.
    assert c.in_window(NOW, "America/New_York", time(8), time(21))
    assert not c.in_window(NOW, "America/Los_Angeles", time(8), time(21))
    assert not c.in_window(NOW, "Asia/Tokyo", time(8), time(21))
    assert not c.in_window(NOW.replace(hour=2), "America/New_York", time(8), time(21))  # 21:00 itself is out


def test_windows_outside_the_legal_hours_are_refused() -> None:
    assert c.check_window(time(9), time(20)) == (time(9), time(20))
    for start, end in ((time(7, 59), time(20)), (time(9), time(21, 1)), (time(12), time(11))):
        with pytest.raises(c.RuleError):
            c.check_window(start, end)


def test_retry_rules_merge_over_defaults_and_keep_the_72_hours() -> None:
    rules = c.check_retry_rules({"busy": {"after_s": 60}})
    assert rules["busy"] == {"after_s": 60, "max": 3} and rules["no_answer"] == c.DEFAULT_RETRY["no_answer"]
    for bad in ({"abandoned": {"after_s": 3600}}, {"sale": {"after_s": 1}}, {"do_not_call": {"after_s": 1}},
                {"busy": {"after_s": -1}}, {"busy": {"wait": 1}}, {"busy": {"max": True}}):
        with pytest.raises(c.RuleError):
            c.check_retry_rules(bad)


def test_after_an_attempt_the_lead_is_retried_finished_or_given_up() -> None:
    rules = c.check_retry_rules({"no_answer": {"after_s": 600, "max": 2}})
    assert c.after_attempt("connected", 1, 1, 3, rules, NOW) == c.NextStep("done", None)
    assert c.after_attempt("no_answer", 1, 1, 3, rules, NOW) == c.NextStep("ready", NOW + timedelta(seconds=600))
    assert c.after_attempt("no_answer", 2, 2, 3, rules, NOW).status == "failed"  # the rule's max
    # Counted per outcome: a second no-answer after a busy is the first of its kind.
    assert c.after_attempt("no_answer", 2, 1, 3, rules, NOW).status == "ready"
    assert c.after_attempt("busy", 3, 1, 3, rules, NOW).status == "failed"  # the campaign's max
    abandoned = c.after_attempt("abandoned", 1, 1, 3, rules, NOW)
    assert abandoned.status == "ready" and abandoned.next_at == NOW + timedelta(hours=72)
    assert c.after_attempt("lost", 1, 1, 3, rules, NOW).status == "failed"


def test_dispositions_recycle_by_rule_and_the_final_ones_never() -> None:
    rules = c.check_retry_rules({"not_interested": {"after_s": 30 * 86400}})
    assert rules["not_interested"] == {"after_s": 30 * 86400, "max": 2}  # a new rule: one recycle
    assert rules["callback"] == {"after_s": 86400, "max": 3}
    assert after_disposition("callback", 1, 1, 3, rules, NOW) == LeadChange("ready", NOW + timedelta(hours=24))
    assert after_disposition("callback", 3, 1, 3, rules, NOW) == LeadChange(None)  # the campaign's max
    assert after_disposition("callback", 2, 3, 5, rules, NOW) == LeadChange(None)  # the rule's max
    assert after_disposition("not_interested", 1, 1, 3, rules, NOW).next_at == NOW + timedelta(days=30)
    assert after_disposition("not_interested", 2, 2, 3, rules, NOW) == LeadChange(None)
    no_rule = c.check_retry_rules({})
    assert after_disposition("not_interested", 1, 1, 3, no_rule, NOW) == LeadChange(None)
    assert after_disposition("sale", 1, 1, 3, no_rule, NOW) == LeadChange(None)
    assert after_disposition("do_not_call", 1, 1, 3, no_rule, NOW) == LeadChange("dnc", add_to_dnc=True)
    # Rules stored before the callback default existed still get it.
    assert c.with_defaults({"busy": {"after_s": 1, "max": 1}})["callback"] == c.DEFAULT_RETRY["callback"]


def _attempt() -> Attempt:
    return Attempt(7, "spring", 70, "+12125550100", NOW)


def test_an_attempt_answered_by_a_person_and_put_through_is_connected() -> None:
    a = _attempt()
    a.stage("answered", NOW + timedelta(seconds=8))
    a.stage("amd", NOW + timedelta(seconds=10), "HUMAN", "HUMAN-800-800")
    a.stage("live", NOW + timedelta(seconds=10))
    a.connect("1001", NOW + timedelta(seconds=10.4), 0.0)
    a.ended_at = NOW + timedelta(seconds=70.4)
    assert (a.outcome, a.live, a.agent) == ("connected", True, "1001")
    assert (a.ring_s, a.screen_s, a.wait_s, a.talk_s) == (8.0, 2.0, pytest.approx(0.4), 60.0)


def test_a_live_answer_without_an_agent_is_abandoned_even_if_the_customer_hangs_up_first() -> None:
    a = _attempt()
    a.stage("answered", NOW + timedelta(seconds=5))
    a.stage("live", NOW + timedelta(seconds=7))
    a.ended_at = NOW + timedelta(seconds=8)  # hung up after 1 s, before the safe-harbor message
    assert (a.outcome, a.live) == ("abandoned", True)
    b = _attempt()
    b.stage("answered", NOW + timedelta(seconds=5))
    b.ended_at = NOW + timedelta(seconds=6)  # hung up while AMD listened: counted against us too
    assert b.outcome == "abandoned"


def test_machines_and_unanswered_calls() -> None:
    a = _attempt()
    a.stage("answered", NOW + timedelta(seconds=5))
    a.stage("amd", NOW + timedelta(seconds=7), "MACHINE", "LONGGREETING-1500-1500")
    a.stage("live", NOW + timedelta(seconds=7))  # machine action "agent": still a machine
    assert (a.outcome, a.live, a.live_at) == ("machine", False, None)
    assert [unanswered_outcome(r) for r in (3, 5, 8, 0, None, 99)] == [
        "no_answer", "busy", "failed", "failed", "failed", "failed"]
    b = _attempt()
    b.reason = 5
    b.ended_at = NOW + timedelta(seconds=1)
    assert (b.outcome, b.ring_s) == ("busy", 1.0)


def test_channel_ids_name_the_attempt() -> None:
    assert channel_id(42) == "dial-42" and attempt_of("dial-42") == 42
    assert attempt_of("1700000000.12") is None and attempt_of("dial-x") is None
    # The same attempt's call on the route's next trunk.
    assert channel_id(42, 1) == "dial-42-1" and attempt_of("dial-42-1") == 42 and attempt_of("dial-42-x") is None


def test_agents_and_calls_as_pacing_sees_them() -> None:
    rows = [("available", 0.0), ("on_call", 30.0), ("wrap_up", 2.0), ("paused", 0.0), ("available", 0.0)]
    agents = agents_now(rows, mean_talk_s=60)
    assert agents.ready == 2 and sorted(agents.busy_elapsed) == [30.0, 62.0]
    # one inbound caller waiting for these agents takes one of the two ready ones first
    blended = agents_now(rows, mean_talk_s=60, inbound_waiting=1)
    assert blended.ready == 1 and len(blended.busy_elapsed) == 3
    flight = calls_now([(4.0, False, False), (0.0, True, False), (0.0, True, True)])
    assert (flight.ringing_elapsed, flight.screening, flight.waiting) == ((4.0,), 1, 1)
    # Callers expected to join the inbound queues before a call dialled now needs an agent, rounded up.
    assert agents_now(rows, mean_talk_s=60, inbound_expected=0.2).ready == 1
    assert agents_now(rows, mean_talk_s=60, inbound_waiting=1, inbound_expected=1.5).ready == 0
    assert agents_now(rows, mean_talk_s=60, inbound_expected=0.0).ready == 2


def test_the_inbound_arrival_rate_counts_the_last_five_minutes_of_joins() -> None:
    arrivals = observed.InboundArrivals(started_s=0.0)
    assert arrivals.rate(["care"], 10.0) == 0.0
    for t in (1.0, 5.0, 9.0):
        arrivals.joined("care", t)
    arrivals.joined("sales", 9.0)
    arrivals.joined("dialer-x", 9.0)
    assert arrivals.rate(["care"], 10.0) == pytest.approx(3 / 60)  # at least a minute's span after a start
    assert arrivals.rate(["care", "sales"], 200.0) == pytest.approx(4 / 200)
    assert arrivals.rate(["care"], 1000.0) == 0.0  # all older than the window
    learned = learned_from([("connected", 6.0, 2.0, 50.0)] * 3, wrapup_s=5, target=0.03)
    assert observed.inbound_expected(0.5, learned) == pytest.approx(0.5 * (6.0 + 2.0 + 2.0))


def test_learned_from_finished_attempts() -> None:
    stats = learned_from([("connected", 6.0, 2.0, 50.0), ("no_answer", 20.0, None, None),
                          ("abandoned", 7.0, 2.0, None), ("machine", 5.0, None, None)], wrapup_s=5, target=0.03)
    assert stats.attempts == pytest.approx(4, rel=0.01) and stats.live == pytest.approx(2, rel=0.01)
    assert stats.handle.mean(0) == 55.0 and stats.screen.mean(0) == 2.0


def test_learned_from_is_the_same_as_folding_each_attempt_in() -> None:
    import random
    rng = random.Random(5)
    rows = []
    for _ in range(3000):  # more than every sample keeps: the rebuild keeps the latest ones too
        outcome = rng.choice(["connected", "connected", "abandoned", "no_answer", "busy", "machine"])
        live = outcome in ("connected", "abandoned")
        rows.append((outcome, rng.uniform(1, 20), rng.uniform(1, 3) if live else None,
                     rng.uniform(10, 300) if outcome == "connected" else None))
    once = learned_from(rows, 5.0, 0.02)
    folded = observed.pacing.Learned()
    for row in rows:
        observed.learn(folded, *row, wrapup_s=5.0, target=0.02)
    assert once.gain == pytest.approx(folded.gain) and once.live == pytest.approx(folded.live)
    for name in ("ring_live", "ring_other", "screen", "handle"):
        a, b = getattr(once, name), getattr(folded, name)
        assert len(a) == len(b) and a.mean(0) == pytest.approx(b.mean(0)) and a.survival(8.0) == b.survival(8.0)


def test_learning_is_rebuilt_every_30_s_and_folds_attempts_in_between() -> None:
    learning = observed.Learning(wrapup_s=5.0, target=0.03)
    assert learning.due(0.0)
    learning.rebuild([("connected", 6.0, 2.0, 50.0)], now_s=100.0)
    assert not learning.due(129.0) and learning.due(130.0) and learning.due(99.0)  # (a clock set back)
    learning.fold("no_answer", 20.0, None, None)
    assert learning.learned is not None and learning.learned.attempts == pytest.approx(2, rel=0.01)


def test_the_campaigns_day_starts_at_the_tenants_midnight() -> None:
    late = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)  # 22:30 on the 23rd in New York
    assert observed.day_start(late, "America/New_York") == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert observed.day_start(late, "UTC") == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert observed.day_start(late, "Asia/Tokyo") == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_amd_false_positives_count_against_the_abandonment_budget() -> None:
    counts = observed.AbandonCounts(live_window=1000, abandoned_window=10, live_today=100, abandoned_today=1,
                                    machines_window=500, machines_today=50)
    plain = observed.budget_of(observed.CampaignPacing("predictive"), counts)
    assert (plain.answered_window, plain.abandoned_window, plain.abandoned_today) == (1000, 10, 1)
    estimated = observed.budget_of(observed.CampaignPacing("predictive", amd_false_positive=0.02), counts)
    # 10 people expected among 500 machine verdicts, counted at 10 + 2 x sqrt(10); 1 among 50 at 1 + 2
    assert (estimated.answered_window, estimated.abandoned_window) == (1016, 26)
    assert (estimated.answered_today, estimated.abandoned_today) == (103, 4)


def test_lead_text_cannot_add_headers_to_an_originate() -> None:
    leads, problems = parse_leads('number,name\n+12125550100,"Ann\r\nVariable: X=1"\n')
    assert leads == [] and "control characters" in problems[0].message
    assert channel_text('Ann, "the boss"; x|y\\z') == "Ann   the boss   x y z"
    assert len(channel_text("x" * 500)) == 80
