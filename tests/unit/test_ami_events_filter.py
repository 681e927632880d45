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
from middleware.trunks.service import TrunkMonitor

CONFIG = Path(__file__).resolve().parents[2] / "asterisk-config" / "manager.conf"
CLIENT_EVENTS = ("Shutdown", "FullyBooted", "OriginateResponse")  # the AMI client, the Originate callers


def filters(excluding: bool) -> list[re.Pattern[str]]:
    values = [line.split("=", 1)[1].strip() for line in CONFIG.read_text().splitlines()
              if line.startswith("eventfilter")]
    return [re.compile(v.removeprefix("!").replace("[[:space:]]", r"\s")) for v in values
            if v.startswith("!") == excluding]


def passes(includes: list[re.Pattern[str]], name: str, extra: str = "") -> bool:
    """Asterisk's rule: an event passes when it matches an include filter and no exclude filter."""
    text = f"Event: {name}\r\nPrivilege: call,all\r\nTimestamp: 1.0\r\n{extra}"
    return any(f.search(text) for f in includes) and not any(f.search(text) for f in filters(excluding=True))


def include_filters() -> list[re.Pattern[str]]:
    return filters(excluding=False)


def test_every_event_the_code_reads_passes_the_filter() -> None:
    filters = include_filters()
    assert filters, "manager.conf has no include filter"
    read = {*HANDLERS, *CLIENT_EVENTS}
    for service in (AgentService, Announcer, CallbackService, DialerService, IvrService, QueueEventPublisher,
                    SipGuard, TrunkMonitor):
        read |= set(service.EVENTS)
    missing = sorted(name for name in read if not passes(filters, name))
    assert missing == [], f"events the code reads that manager.conf filters out: {missing}"
    assert passes(filters, "CEL", "EventName: LINKEDID_END\r\nLinkedid: 1.1\r\n")


def test_the_high_volume_rest_is_filtered_out() -> None:
    filters = include_filters()
    for name in ("TestEvent", "VarSet", "Newexten", "RTCPSent", "DeviceStateChange", "Cdr", "BridgeEnter",
                 "DialBegin", "MusicOnHoldStart", "NewConnectedLine", "HangupRequest"):
        assert not passes(filters, name), name
    for cel in ("CHAN_START", "CHAN_END", "ANSWER", "HANGUP", "APP_START", "BRIDGE_ENTER", "LOCAL_OPTIMIZE", "DTMF"):
        assert not passes(filters, "CEL", f"EventName: {cel}\r\n"), cel
