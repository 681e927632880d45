"""The CDR journal: records survive as fsync'd JSON lines and come back exactly, in order."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from middleware.cdr.assembly import CallRecord
from middleware.cdr.journal import Journal, record_from_line, record_to_line

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def record(linkedid: str, talk: float | None = 3.0) -> CallRecord:
    return CallRecord(
        linkedid=linkedid, did="5551000", caller_number="12125550101", caller_name="Customer", started_at=T0,
        answered_at=T0 + timedelta(seconds=0.5), queue="acme-sales", queue_entered_at=T0 + timedelta(seconds=2),
        agent_code="1001", agent_channel="PJSIP/acme-1001-0000000a", connected_at=T0 + timedelta(seconds=2.4),
        ended_at=T0 + timedelta(seconds=5.4), wait_s=0.4, talk_s=talk, duration_s=5.4, ring_attempts=1,
        disposition="answered", hangup_cause=16, ended_by="caller",
        legs=({"uniqueid": linkedid, "channel": "PJSIP/carrier-sim-1", "role": "caller"},),
        ivr_fallback=False, transfers=({"kind": "blind", "target": "702"},))


def test_a_record_round_trips_through_a_line() -> None:
    r = record("1795375420.4")
    line = record_to_line(r)
    assert "\n" not in line and record_from_line(line) == r
    unanswered = CallRecord(**{**r.__dict__, "connected_at": None, "talk_s": None, "agent_code": None})
    assert record_from_line(record_to_line(unanswered)) == unanswered


def test_append_read_clear_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run" / "cdr-journal.jsonl")
    assert j.read() == [] and j.backlog() == 0
    j.append([record("a.1"), record("a.2")])
    j.append([])
    j.append([record("a.3", talk=None)])
    assert [r.linkedid for r in j.read()] == ["a.1", "a.2", "a.3"] and j.backlog() == 3
    j.clear()
    assert j.read() == [] and j.backlog() == 0 and j.path.exists()


def test_a_torn_last_line_is_skipped_not_replayed_half(tmp_path: Path) -> None:
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("b.1")])
    with open(j.path, "a") as f:
        f.write(record_to_line(record("b.2"))[:40])  # the process died mid-append
    assert [r.linkedid for r in j.read()] == ["b.1"]


def test_dropping_the_replayed_lines_keeps_what_came_after(tmp_path: Path) -> None:
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("c.1"), record("c.2")])
    replaying = j.read()
    j.append([record("c.3")])  # arrived while the replay awaited the database
    j.drop_first(len(replaying))
    assert [r.linkedid for r in j.read()] == ["c.3"]
