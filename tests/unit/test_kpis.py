"""KPIs on a fixed fixture whose every number is computed by hand in the comments."""

from datetime import UTC, datetime, timedelta

from middleware.reports.kpis import CallFact, StateSpan, compute, report, spans_from_history

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def call(lid: str, number: str, start_min: float, disposition: str, wait: float | None, talk: float | None,
         agent: str | None = None, queue: str | None = "sales", transfers: int = 0) -> CallFact:
    end = at(start_min) + timedelta(seconds=(wait or 0) + (talk or 0) + 1)
    return CallFact(lid, number, queue, agent, at(start_min), end, wait, talk, disposition, transfers)


CALLS = [
    call("c1", "111", 0, "answered", 10, 100, "1001"),        # within 20 s
    call("c2", "222", 5, "answered", 30, 200, "1002", transfers=1),  # late, transferred
    call("c3", "333", 10, "abandoned", 3, None),              # short abandon (<= 5 s)
    call("c4", "444", 15, "abandoned", 40, None),             # real abandon, longest wait
    call("c5", "111", 50, "answered", 5, 60, "1001"),         # 111 again, 50 min after c1
    call("c6", "555", 70, "ivr_hangup", None, None, queue=None),  # never reached a queue
]
# Alice (1001): 09:00 available, 09:01 on call 100 s ... simplified into spans below.
SPANS = [
    StateSpan("1001", "available", at(0), at(10)),   # 600 s
    StateSpan("1001", "on_call", at(10), at(20)),    # 600 s busy
    StateSpan("1001", "wrap_up", at(20), at(25)),    # 300 s busy
    StateSpan("1001", "paused", at(25), at(40)),     # 900 s paused
]


def test_queue_kpis_match_the_hand_computed_values() -> None:
    k = compute("sales", CALLS, SPANS, all_calls=CALLS, service_level_s=20, short_abandon_s=5,
                fcr_window=timedelta(hours=1))
    assert (k.offered, k.answered, k.abandoned, k.abandoned_after_short) == (5, 3, 2, 1)
    assert k.asa_s == 15.0  # (10 + 30 + 5) / 3
    assert k.aht_s == 120.0  # (100 + 200 + 60) / 3, no wrap-up span starts where these calls end
    assert k.service_level == 0.5  # 2 answered within 20 s / (5 offered - 1 short abandon)
    assert k.longest_wait_s == 40.0
    assert k.fcr == 0.667  # c1's number called again within the hour: 2 of 3 resolved
    assert k.occupancy == 0.6  # (600 + 300) / (600 + 600 + 300)
    assert k.utilisation == 0.375  # 900 / 2400 (paused counts as logged in)
    assert k.transfer_rate == 0.333


def test_fcr_window_and_after_call_work() -> None:
    k = compute("sales", CALLS, SPANS, all_calls=CALLS, fcr_window=timedelta(minutes=30))
    assert k.fcr == 1.0  # 50 minutes later is outside a 30-minute window
    one = [CallFact("x", "9", "sales", "1001", at(10), at(20), 0, 600, "answered")]
    k = compute("sales", one, SPANS, all_calls=one)
    assert k.aht_s == 900.0  # 600 s talk + the 300 s wrap-up that started as the call ended


def test_report_groups_and_totals() -> None:
    rows = report(CALLS, SPANS, "agent", at(0), at(120))
    assert [r.group for r in rows] == ["1001", "1002", "total"]
    assert rows[0].answered == 2 and rows[1].answered == 1 and rows[-1].offered == 5
    hours = report(CALLS, SPANS, "hour", at(0), at(120))
    assert [r.group for r in hours] == ["2026-11-02 09:00", "2026-11-02 10:00", "total"]
    assert hours[1].offered == 0  # c6 at 10:10 reached no queue


def test_csat_counts_only_answers() -> None:
    scored = [CallFact("s1", "1", "q", "1001", at(0), at(1), 5, 60, "answered", csat=5),
              CallFact("s2", "2", "q", "1001", at(2), at(3), 5, 60, "answered", csat=2),
              CallFact("s3", "3", "q", "1001", at(4), at(5), 5, 60, "answered")]
    k = compute("q", scored, [], all_calls=scored)
    assert (k.csat_avg, k.csat_responses) == (3.5, 2)


def test_empty_period_has_no_ratios() -> None:
    k = compute("q", [], [], all_calls=[])
    assert (k.offered, k.asa_s, k.service_level, k.occupancy) == (0, None, None, None)


def test_history_becomes_spans_up_to_the_end() -> None:
    spans = spans_from_history([("1001", "available", at(0)), ("1001", "on_call", at(5)),
                                ("1002", "paused", at(1))], until=at(10))
    assert {(s.agent, s.state, s.seconds) for s in spans} == {
        ("1001", "available", 300.0), ("1001", "on_call", 300.0), ("1002", "paused", 540.0)}
