"""Typed AMI queries: an action sent and its reply parsed once, into frozen dataclasses.

Every reader of Asterisk's queues (wait estimates, announcements, callbacks' places, agent
reconciliation, the live wallboard figures, the dialer's inbound-first rule) takes these instead of
parsing ``QueueStatus`` or ``QueueSummary`` messages itself. The parsers are pure (tested on recorded
replies); the ``async`` functions send the action and raise ``AmiUnavailable`` / ``AmiActionFailed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from middleware.ami.client import AmiActionFailed, AmiClient

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class ActiveChannel:
    channel: str
    uniqueid: str
    linkedid: str


@dataclass(frozen=True)
class QueueEntry:
    """A caller waiting in a queue (QueueEntry)."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    wait_s: float


@dataclass(frozen=True)
class QueueMember:
    """One member of a queue as app_queue sees it (QueueMember): ``name`` is our agent code."""

    queue: str
    name: str
    status: str  # AST_DEVICE_* number as text
    paused: bool
    in_call: bool


@dataclass(frozen=True)
class QueueStatus:
    queues: tuple[str, ...]  # every queue in the reply (QueueParams), waiting callers or not
    entries: tuple[QueueEntry, ...]
    members: tuple[QueueMember, ...]

    def waiting(self, queue: str) -> tuple[QueueEntry, ...]:
        return tuple(e for e in self.entries if e.queue == queue)


def _number(text: str, default: float = 0.0) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def queue_status_of(messages: Messages) -> QueueStatus:
    """A QueueStatus reply: QueueParams, QueueMember and QueueEntry events (in any order)."""
    queues: list[str] = []
    entries: list[QueueEntry] = []
    members: list[QueueMember] = []
    for m in messages:
        kind = m.get("event")
        if kind == "QueueParams":
            queues.append(m.get("queue", ""))
        elif kind == "QueueEntry":
            position = m.get("position", "1")
            entries.append(QueueEntry(m.get("queue", ""), int(position) if position.isdigit() else 1,
                                      m.get("channel", ""), m.get("uniqueid", ""), _number(m.get("wait", "0"))))
        elif kind == "QueueMember":
            members.append(QueueMember(m.get("queue", ""), m.get("name", ""), m.get("status", ""),
                                       m.get("paused") == "1", m.get("incall") == "1"))
    return QueueStatus(tuple(queues), tuple(entries), tuple(members))


def waiting_per_queue_of(messages: Messages) -> dict[str, int]:
    """A QueueSummary reply: callers waiting per queue."""
    out: dict[str, int] = {}
    for m in messages:
        if m.get("event") == "QueueSummary":
            callers = m.get("callers", "0")
            out[m.get("queue", "")] = int(callers) if callers.isdigit() else 0
    return out


def active_channels_of(messages: Messages) -> list[ActiveChannel]:
    """The channels in a CoreShowChannels reply (one CoreShowChannel event each)."""
    return [ActiveChannel(m.get("channel", ""), m.get("uniqueid", ""), m.get("linkedid", ""))
            for m in messages if m.get("event") == "CoreShowChannel"]


async def queue_status(ami: AmiClient, queue: str | None = None, *, timeout: float | None = None) -> QueueStatus:
    """Asterisk's queues now (one queue, or all of them)."""
    fields = {"Action": "QueueStatus"}
    if queue is not None:
        fields["Queue"] = queue
    return queue_status_of(await ami.action(fields, as_list=True, timeout=timeout))


async def waiting_per_queue(ami: AmiClient) -> dict[str, int]:
    return waiting_per_queue_of(await ami.action({"Action": "QueueSummary"}, as_list=True))


async def waiting_in(ami: AmiClient, queue: str) -> int:
    """Callers waiting in one queue (QueueSummary: one event, where QueueStatus lists every member)."""
    reply = await ami.action({"Action": "QueueSummary", "Queue": queue}, as_list=True)
    return waiting_per_queue_of(reply).get(queue, 0)


async def active_channels(ami: AmiClient) -> list[ActiveChannel]:
    """Every channel Asterisk has now (AmiUnavailable when it cannot be asked)."""
    return active_channels_of(await ami.action({"Action": "CoreShowChannels"}, as_list=True, timeout=10))


@dataclass(frozen=True)
class ContactState:
    """One AOR contact as PJSIP qualifies it (PJSIPShowEndpoint: ContactStatusDetail). A trunk's
    static contact is listed here, not by PJSIPShowContacts (registered contacts only)."""

    aor: str
    status: str  # Reachable, Unreachable, NonQualified, Unknown
    rtt_ms: float | None


def contacts_of(messages: Messages) -> list[ContactState]:
    out = []
    for m in messages:
        if m.get("event") != "ContactStatusDetail":
            continue
        usec = _number(m.get("roundtripusec", ""), -1.0)
        out.append(ContactState(m.get("aor", ""), m.get("status", ""), usec / 1000.0 if usec > 0 else None))
    return out


def registrations_of(messages: Messages) -> dict[str, str]:
    """Outbound registration name -> its status (PJSIPShowRegistrationsOutbound)."""
    return {m.get("objectname", ""): m.get("status", "") for m in messages
            if m.get("event") == "OutboundRegistrationDetail"}


async def endpoint_contacts(ami: AmiClient, endpoint: str) -> list[ContactState]:
    """The contacts of one endpoint's AORs and their qualify status."""
    return contacts_of(await ami.action({"Action": "PJSIPShowEndpoint", "Endpoint": endpoint}, as_list=True,
                                        timeout=10))


async def outbound_registrations(ami: AmiClient) -> dict[str, str]:
    try:
        reply = await ami.action({"Action": "PJSIPShowRegistrationsOutbound"}, as_list=True, timeout=10)
    except AmiActionFailed:  # Asterisk answers an error when there is no registration at all
        return {}
    return registrations_of(reply)
