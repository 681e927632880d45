"""Records rebuilt from Asterisk's CDR rows for calls the middleware never saw."""

from datetime import UTC, datetime, timedelta

from middleware.cdr.reconcile import RawCdr, rebuild
from middleware.pbx_events import endpoint_of_channel as endpoint_of

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
L = "1795375420.4"


def row(uid: str, at: float, dstchannel: str, lastapp: str, duration: int, billsec: int, disposition: str,
        **extra: str) -> RawCdr:
    return RawCdr(L, uid, T0 + timedelta(seconds=at), "12125550101", '"Customer" <12125550101>',
                  "PJSIP/carrier-sim-00000004", dstchannel, lastapp, duration, billsec, disposition, **extra)


def test_a_ringall_queue_call_becomes_one_answered_record() -> None:
    rows = [row(L, 0, "PJSIP/acme-1002-0000000b", "Queue", 20, 0, "NO ANSWER", did="5551000", queue="acme-sales"),
            row(L, 0, "PJSIP/acme-1001-0000000a", "Queue", 20, 12, "ANSWERED", did="5551000", queue="acme-sales"),
            row(L, 0, "", "AGI", 3, 3, "ANSWERED")]
    [record] = rebuild(rows, {"acme-1001": "1001"}.get)
    assert (record.linkedid, record.did, record.queue, record.agent_code, record.disposition) == (
        L, "5551000", "acme-sales", "1001", "answered")
    assert (record.talk_s, record.duration_s, record.ring_attempts, record.ended_by) == (12.0, 20.0, 2, "reconciled")
    assert record.connected_at == T0 + timedelta(seconds=8)


def test_abandoned_and_ivr_only_calls() -> None:
    abandoned = [row(L, 0, "", "Queue", 30, 30, "ANSWERED", queue="acme-sales")]
    assert rebuild(abandoned, lambda _: None)[0].disposition == "abandoned"
    ivr = [row(L, 0, "", "AGI", 10, 10, "ANSWERED")]
    assert rebuild(ivr, lambda _: None)[0].disposition == "ivr_hangup"
    assert endpoint_of("PJSIP/acme-1001-0000002a") == "acme-1001" and endpoint_of("Local/1@x-1;1") == ""
