"""Typed AMI actions: pure builders of the header dicts the client sends."""

from __future__ import annotations


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
    return {"Action": "Originate", "Channel": f"Local/{caller_uniqueid}@queue-announce",
            "Application": "ChanSpy", "Data": f"{caller_channel},qwE", "Async": "true",
            "CallerID": "Announcement <0>"}


def hangup_regex(pattern: str) -> dict[str, str]:
    return {"Action": "Hangup", "Channel": f"/{pattern}/"}
