"""The AMI stream decoder: multi-byte characters split across TCP reads survive."""

from __future__ import annotations

from typing import Any

from middleware.ami.client import Utf8AmiProtocol
from middleware.pbx_events import event_from_headers, parse_timestamp


class FakeTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class FakeFactory:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)


def test_name_split_inside_a_utf8_character() -> None:
    proto = Utf8AmiProtocol()
    proto.connection_made(FakeTransport())
    factory = FakeFactory()
    proto.factory = factory
    data = ("Asterisk Call Manager/9.0.0\r\nEvent: Newchannel\r\nCallerIDName: Zoë Ørsted-Łukasz\r\n"
            "Linkedid: 1.2\r\n\r\nEvent: Hangup\r\nLinkedid: 1.2\r\n\r\n").encode()
    cut = data.index("ë".encode()) + 1  # in the middle of the two-byte ë
    for chunk in (data[:cut], data[cut:cut + 7], data[cut + 7:]):
        proto.data_received(chunk)
    assert proto.version == "9.0.0"
    assert [e["Event"] for e in factory.events] == ["Newchannel", "Hangup"]
    assert factory.events[0]["CallerIDName"] == "Zoë Ørsted-Łukasz"


def test_event_timestamps() -> None:
    ev = event_from_headers({"Event": "Hangup", "Timestamp": "1795375420.500000", "Linkedid": "x"}, None)  # type: ignore[arg-type]
    assert ev is not None and ev.at.timestamp() == 1795375420.5 and ev.linkedid == "x"
    assert parse_timestamp("garbage") is None
    assert event_from_headers({"Response": "Success"}, None) is None  # type: ignore[arg-type]
