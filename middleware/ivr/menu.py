"""A DID's menu as data, and the pure decision of where a caller's digits lead.

Menu JSON (``dids.menu``)::

    {"greeting": "hello", "prompt": "press-1", "timeout_ms": 5000, "retries": 2,
     "invalid_prompt": "pm-invalid-option", "options": {"1": {"queue": "acme-sales"}},
     "default": {"queue": "acme-support"}}

Full IVR flows (node graphs, schedules, lookups) replace this in the IVR issue; the shape of the
decision (digits in, route out) stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class InvalidMenu(ValueError):
    """A menu that cannot route a caller."""


@dataclass(frozen=True)
class Menu:
    greeting: str
    prompt: str
    timeout_ms: int
    retries: int
    invalid_prompt: str
    options: Mapping[str, str]  # digit -> queue
    default_queue: str


@dataclass(frozen=True)
class Decision:
    """What to do after one attempt: route to a queue, or ask again (after saying why)."""

    queue: str | None
    replay_prompt: str | None = None
    reason: str = ""


def parse_menu(data: Mapping[str, Any], fallback_queue: str) -> Menu:
    options_raw = data.get("options", {})
    if not isinstance(options_raw, Mapping):
        raise InvalidMenu("options must be a mapping of digit -> {queue: name}")
    options: dict[str, str] = {}
    for digit, target in options_raw.items():
        if digit not in "0123456789*#" or len(digit) != 1:
            raise InvalidMenu(f"option {digit!r} is not one DTMF digit")
        queue = target.get("queue") if isinstance(target, Mapping) else None
        if not queue:
            raise InvalidMenu(f"option {digit!r} names no queue")
        options[digit] = str(queue)
    default = data.get("default", {})
    default_queue = default.get("queue") if isinstance(default, Mapping) else None
    retries = int(data.get("retries", 2))
    timeout_ms = int(data.get("timeout_ms", 5000))
    if retries < 0 or retries > 5:
        raise InvalidMenu("retries must be between 0 and 5")
    if timeout_ms < 500 or timeout_ms > 30000:
        raise InvalidMenu("timeout_ms must be between 500 and 30000")
    return Menu(
        greeting=str(data.get("greeting", "")),
        prompt=str(data.get("prompt", "")),
        timeout_ms=timeout_ms,
        retries=retries,
        invalid_prompt=str(data.get("invalid_prompt", "pm-invalid-option")),
        options=options,
        default_queue=str(default_queue or fallback_queue),
    )


def decide(menu: Menu, digits: str, timed_out: bool, attempt: int) -> Decision:
    """Route for the digits of one attempt (0-based); past the last retry, the default queue."""
    if not menu.options:
        return Decision(menu.default_queue, reason="no menu")
    last_attempt = attempt >= menu.retries
    if digits and digits[:1] in menu.options:
        return Decision(menu.options[digits[:1]], reason=f"pressed {digits[:1]}")
    if last_attempt:
        return Decision(menu.default_queue, reason="no valid choice: default queue")
    if digits:
        return Decision(None, replay_prompt=menu.invalid_prompt, reason=f"invalid {digits}")
    return Decision(None, replay_prompt=None, reason="timeout" if timed_out else "no input")
