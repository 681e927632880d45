import re

from middleware.ami.actions import hangup_regex, whisper
from middleware.announcements.periodic import SAFE_UNIQUEID, WaitingCaller, due, whisper_channel_pattern


def caller(uid: str, joined: float, position: int = 1) -> WaitingCaller:
    return WaitingCaller(uid, f"PJSIP/carrier-{uid}", position, joined)


def test_due_counts_from_joining_then_from_the_last_announcement() -> None:
    callers = [caller("a", 1000.0), caller("b", 1050.0, 2)]
    assert [c.uniqueid for c in due(callers, {}, 60, 1061.0)] == ["a"]
    assert due(callers, {"a": 1061.0}, 60, 1100.0) == []
    assert [c.uniqueid for c in due(callers, {"a": 1061.0}, 60, 1121.0)] == ["a", "b"]


def test_due_never_with_zero_interval_nor_more_often_than_the_minimum_gap() -> None:
    assert due([caller("a", 0.0)], {}, 0, 1e6) == []
    assert due([caller("a", 0.0)], {"a": 95.0}, 1, 100.0) == []
    assert len(due([caller("a", 0.0)], {"a": 89.0}, 1, 100.0)) == 1


def test_whisper_spies_quietly_on_the_caller_and_is_hung_up_by_its_name() -> None:
    action = whisper("1795385026.2", "PJSIP/carrier-sim-00000002")
    assert action["Channel"] == "Local/1795385026.2@queue-announce"
    assert (action["Application"], action["Data"]) == ("ChanSpy", "PJSIP/carrier-sim-00000002,qwE")
    pattern = whisper_channel_pattern("1795385026.2")
    assert re.search(pattern, "Local/1795385026.2@queue-announce-00000007;1")
    assert not re.search(pattern, "Local/1795385026.21@queue-announce-00000007;1")
    assert not re.search(pattern, "Local/1795385026x2@queue-announce-00000007;1")
    assert hangup_regex(pattern)["Channel"] == f"/{pattern}/"


def test_only_plain_uniqueids_become_an_extension() -> None:
    assert SAFE_UNIQUEID.match("1795385026.2")
    for bad in ("", "1795385026", "a.b", "1.2@ctx", "1.2\r\nAction: Command", "1.2\n"):
        assert not SAFE_UNIQUEID.match(bad)
