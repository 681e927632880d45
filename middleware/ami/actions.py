"""Typed AMI actions: pure builders of the header dicts the client sends."""

from __future__ import annotations

import re
from collections.abc import Mapping

from middleware.errors import Invalid

# A channel variable's name, inherited once ("_") or by every leg ("__").
_VARIABLE_NAME = re.compile(r"_{0,2}[A-Za-z][A-Za-z0-9_]*\Z")


class InvalidVariable(Invalid):
    """A channel variable an Originate could not carry as given."""


def channel_text(text: str, limit: int = 80) -> str:
    """Text safe in an Originate's Variable header and a SIP header: no separators, no control characters."""
    return "".join(" " if ch in ",;|\"\\" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)[:limit].strip()


def variables_header(variables: Mapping[str, object]) -> str:
    """``NAME=value,...`` for an Originate. A name that is not a variable name, or a value with the
    header's separator or a line break in it, is refused: it would set other variables or headers."""
    parts = []
    for name, value in variables.items():
        text = str(value)
        if not _VARIABLE_NAME.match(name):
            raise InvalidVariable(f"not a channel variable name: {name!r}")
        if "," in text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise InvalidVariable(f"{name}: the value may hold no comma or control character: {text!r}")
        parts.append(f"{name}={text}")
    return ",".join(parts)


def originate(channel: str, *, context: str | None = None, exten: str = "s", priority: int = 1,
              application: str | None = None, data: str = "", timeout_s: float | None = None,
              caller_id: str = "", variables: Mapping[str, object] | None = None,
              channel_id: str | None = None) -> dict[str, str]:
    """An asynchronous Originate of ``channel``, connected to ``context,exten,priority`` or to an
    ``application``; its result arrives as an OriginateResponse event."""
    if (context is None) == (application is None):
        raise InvalidVariable("an Originate goes to a dialplan context or to an application, not both")
    action = {"Action": "Originate", "Channel": channel, "Async": "true"}
    if channel_id:
        action["ChannelId"] = channel_id
    if context is not None:
        action.update(Context=context, Exten=exten, Priority=str(priority))
    else:
        action.update(Application=str(application), Data=data)
    if timeout_s is not None:
        action["Timeout"] = str(int(timeout_s * 1000))
    if caller_id:
        action["CallerID"] = caller_id
    if variables:
        action["Variable"] = variables_header(variables)
    return action


def queue_add(queue: str, interface: str, member_name: str, *, penalty: int = 0, paused: bool = False,
              reason: str = "") -> dict[str, str]:
    action = {"Action": "QueueAdd", "Queue": queue, "Interface": interface, "MemberName": member_name,
              "StateInterface": state_interface(interface, member_name), "Penalty": str(penalty),
              "Paused": "true" if paused else "false"}
    if paused and reason:
        action["Reason"] = reason
    return action


def state_interface(interface: str, member_name: str) -> str:
    """A persistent agent is dialled through a Local channel (AgentRequest); its state is app_agent_pool's
    ``Agent:<code>`` (logged in and idle, on a call, or not logged in). A phone is its own state."""
    return f"Agent:{member_name}" if interface.startswith("Local/") and "@agent-request" in interface else interface


def queue_remove(queue: str, interface: str) -> dict[str, str]:
    return {"Action": "QueueRemove", "Queue": queue, "Interface": interface}


def queue_pause(interface: str, paused: bool, reason: str = "", queue: str | None = None) -> dict[str, str]:
    action = {"Action": "QueuePause", "Interface": interface, "Paused": "true" if paused else "false"}
    if queue:
        action["Queue"] = queue
    if reason:
        action["Reason"] = reason
    return action


def queue_penalty(queue: str, interface: str, penalty: int) -> dict[str, str]:
    return {"Action": "QueuePenalty", "Queue": queue, "Interface": interface, "Penalty": str(penalty)}


def command(cli: str) -> dict[str, str]:
    return {"Action": "Command", "Command": cli}


def pjsip_interface(endpoint: str) -> str:
    return f"PJSIP/{endpoint}"


def whisper(caller_uniqueid: str, caller_channel: str) -> dict[str, str]:
    """Whisper an announcement into a waiting caller's channel: a Local channel spies on the caller
    (q quiet, w whisper, E end with the caller) while its other half runs [queue-announce]."""
    return originate(f"Local/{caller_uniqueid}@queue-announce", application="ChanSpy",
                     data=f"{caller_channel},qwE", caller_id="Announcement <0>")


def hangup_regex(pattern: str) -> dict[str, str]:
    return {"Action": "Hangup", "Channel": f"/{pattern}/"}
