"""manager.conf lets through exactly what the code reads: every event a service, the CDR assembly
or the AMI client handles passes Asterisk's filter; the high-volume rest does not."""

from __future__ import annotations

import re
from pathlib import Path

from middleware.agents.service import AgentService
from middleware.announcements.service import Announcer
from middleware.callbacks.service import CallbackService
from middleware.cdr.assembly import HANDLERS
from middleware.dialer.service import DialerService
from middleware.ivr.service import IvrService
from middleware.routing.service import QueueEventPublisher
from middleware.security.service import SipGuard

CONFIG = Path(__file__).resolve().parents[2] / "asterisk-config" / "manager.conf"
CLIENT_EVENTS = ("Shutdown", "FullyBooted", "OriginateResponse")  # the AMI client, the Originate callers


def passes(filters: list[re.Pattern[str]], name: str) -> bool:
    text = f"Event: {name}\r\nPrivilege: call,all\r\nTimestamp: 1.0\r\n"
    return any(f.search(text) for f in filters)


def include_filters() -> list[re.Pattern[str]]:
    lines = [line.split("=", 1)[1].strip() for line in CONFIG.read_text().splitlines()
             if line.startswith("eventfilter") and not line.split("=", 1)[1].strip().startswith("!")]
    return [re.compile(line.replace("[[:space:]]", r"\s")) for line in lines]


def test_every_event_the_code_reads_passes_the_filter() -> None:
    filters = include_filters()
    assert filters, "manager.conf has no include filter"
    read = {*HANDLERS, "CEL", *CLIENT_EVENTS}
    for service in (AgentService, Announcer, CallbackService, DialerService, IvrService, QueueEventPublisher,
                    SipGuard):
        read |= set(service.EVENTS)
    missing = sorted(name for name in read if not passes(filters, name))
    assert missing == [], f"events the code reads that manager.conf filters out: {missing}"


def test_the_high_volume_rest_is_filtered_out() -> None:
    filters = include_filters()
    for name in ("TestEvent", "VarSet", "Newexten", "RTCPSent", "DeviceStateChange", "Cdr", "BridgeEnter",
                 "DialBegin", "MusicOnHoldStart", "NewConnectedLine", "HangupRequest"):
        assert not passes(filters, name), name
