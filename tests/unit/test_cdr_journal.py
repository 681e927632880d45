"""The CDR journal: records survive as fsync'd JSON lines and come back exactly, in order; a torn or
unreadable line never costs another record and is never deleted."""

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from middleware.cdr.assembly import CallRecord
from middleware.cdr.journal import Journal, UnreadableLine, record_from_line, record_to_line

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


def ids(j: Journal) -> list[str]:
    return [r.linkedid for r in j.read().records]


def test_append_read_drop_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "run" / "cdr-journal.jsonl")
    assert j.read().records == [] and j.backlog() == 0
    j.append([record("a.1"), record("a.2")])
    j.append([])
    j.append([record("a.3", talk=None)])
    assert ids(j) == ["a.1", "a.2", "a.3"] and j.backlog() == 3
    j.drop(j.read())
    assert j.read().records == [] and j.backlog() == 0 and j.path.exists()


def test_a_torn_last_line_is_skipped_not_replayed_half(tmp_path: Path) -> None:
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("b.1")])
    with open(j.path, "a") as f:
        f.write(record_to_line(record("b.2"))[:40])  # the process died mid-append
    replay = Journal(j.path).read()
    assert [r.linkedid for r in replay.records] == ["b.1"] and len(replay.bad) == 1


def test_an_append_after_a_torn_line_starts_on_a_fresh_line(tmp_path: Path) -> None:
    """The record appended after a crash mid-append used to be glued onto the fragment and lost."""
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("t.1")])
    with open(j.path, "a") as f:
        f.write(record_to_line(record("t.2"))[:40])
    restarted = Journal(j.path)
    restarted.append([record("t.3")])  # reported durable: it must come back
    assert ids(restarted) == ["t.1", "t.3"]


def test_unreadable_lines_are_quarantined_never_deleted(tmp_path: Path) -> None:
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("q.1")])
    with open(j.path, "a") as f:
        f.write('{"v": 7, "record": {"linkedid": "from.the.future"}}\n')
        f.write("garbage that is not JSON\n")
    j = Journal(j.path)
    j.append([record("q.2")])
    replay = j.read()
    assert [r.linkedid for r in replay.records] == ["q.1", "q.2"]
    assert [b.number for b in replay.bad] == [2, 3] and "version 7" in replay.bad[0].reason
    j.drop(replay)
    assert j.read().records == [] and j.backlog() == 0
    kept = j.quarantined()
    assert [k["text"] for k in kept] == ['{"v": 7, "record": {"linkedid": "from.the.future"}}',
                                        "garbage that is not JSON"]
    assert all(k["reason"] and k["quarantined_at"] for k in kept)


def test_a_line_of_the_first_release_is_still_read(tmp_path: Path) -> None:
    """Version 0 lines are the bare record without the fields added since (``complete``)."""
    old = asdict(record("v0.1"))
    old.pop("complete")
    for name in ("started_at", "answered_at", "queue_entered_at", "connected_at", "ended_at"):
        old[name] = old[name].isoformat()
    path = tmp_path / "cdr-journal.jsonl"
    path.write_text(json.dumps(old) + "\n")
    j = Journal(path)
    assert j.backlog() == 1 and j.read().records == [record("v0.1")]
    with_missing = {k: v for k, v in old.items() if k != "caller_number"}
    try:
        record_from_line(json.dumps(with_missing))
    except UnreadableLine as exc:
        assert "caller_number" in str(exc)
    else:
        raise AssertionError("a record without caller_number was accepted")


def test_dropping_the_replayed_lines_keeps_what_came_after(tmp_path: Path) -> None:
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("c.1"), record("c.2")])
    replaying = j.read()
    j.append([record("c.3")])  # arrived while the replay awaited the database
    j.drop(replaying)
    assert ids(j) == ["c.3"] and j.backlog() == 1


def test_the_backlog_is_counted_without_reading_the_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    j = Journal(tmp_path / "cdr-journal.jsonl")
    j.append([record("m.1"), record("m.2")])

    def no_read(*args: object) -> bytes:
        raise AssertionError("the journal file was read to count its backlog")
    monkeypatch.setattr(Path, "read_bytes", no_read)
    assert j.backlog() == 2
