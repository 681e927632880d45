"""The AMI wire format: messages cut at the byte level, parsed once, actions encoded safely."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from middleware.ami import wire
from middleware.pbx_events import event_from_headers, parse_timestamp

T0 = datetime(2026, 12, 2, tzinfo=UTC)


def test_name_split_inside_a_utf8_character() -> None:
    reader = wire.MessageReader()
    data = ("Asterisk Call Manager/9.0.0\r\nEvent: Newchannel\r\nCallerIDName: Zoë Ørsted-Łukasz\r\n"
            "Linkedid: 1.2\r\n\r\nEvent: Hangup\r\nLinkedid: 1.2\r\n\r\n").encode()
    cut = data.index("ë".encode()) + 1  # in the middle of the two-byte ë
    messages = []
    for chunk in (data[:10], data[10:cut], data[cut:cut + 7], data[cut + 7:]):
        messages += reader.feed(chunk)
    assert reader.version == "9.0.0"
    assert [m["event"] for m in messages] == ["Newchannel", "Hangup"]
    assert messages[0]["calleridname"] == "Zoë Ørsted-Łukasz"


def test_repeated_headers_keep_every_value_and_junk_lines_are_skipped() -> None:
    reader = wire.MessageReader()
    [msg] = reader.feed(b"Response: Success\r\nActionID: 7\r\nOutput: line 1\r\nno colon here\r\n"
                        b"Output: line 2\r\n: no key\r\n\r\n")
    assert msg == {"response": "Success", "actionid": "7", "output": "line 1\nline 2"}


def test_a_stream_with_no_message_end_is_cut() -> None:
    reader = wire.MessageReader(max_pending=64)
    reader.feed(b"Event: Newchannel\r\n")
    with pytest.raises(wire.MalformedStream):
        reader.feed(b"X" * 100)


def test_events_are_typed_once_with_their_timestamp() -> None:
    [headers] = wire.MessageReader().feed(b"Event: Hangup\r\nTimestamp: 1795375420.500000\r\nLinkedid: x\r\n\r\n")
    ev = wire.event_of(headers, T0)
    assert ev is not None and ev.at.timestamp() == 1795375420.5 and ev.linkedid == "x" and ev.name == "Hangup"
    untimed = wire.event_of({"event": "Hangup", "timestamp": "garbage"}, T0)
    assert untimed is not None and untimed.at == T0
    assert wire.event_of({"response": "Success"}, T0) is None


def test_actions_are_encoded_and_line_breaks_refused() -> None:
    assert wire.encode_action({"Action": "Ping", "ActionID": "cc-1"}) == b"Action: Ping\r\nActionID: cc-1\r\n\r\n"
    with pytest.raises(wire.UnsafeAction):
        wire.encode_action({"Action": "QueuePause", "Reason": "lunch\r\nAction: Logoff"})
    with pytest.raises(wire.UnsafeAction):
        wire.encode_action({"Action: Logoff\r\nX": "y"})


def test_list_ends() -> None:
    assert wire.ends_list({"event": "QueueStatusComplete", "eventlist": "Complete"})
    assert wire.ends_list({"event": "CoreShowChannelsComplete"})
    assert not wire.ends_list({"event": "QueueMember"})


def test_event_timestamps() -> None:
    ev = event_from_headers({"Event": "Hangup", "Timestamp": "1795375420.500000", "Linkedid": "x"}, T0)
    assert ev is not None and ev.at.timestamp() == 1795375420.5 and ev.linkedid == "x"
    assert parse_timestamp("garbage") is None
    assert event_from_headers({"Response": "Success"}, T0) is None
