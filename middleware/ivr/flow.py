"""IVR flows as data: the parsed model (a Flow of typed nodes) and the problems a flow document can have.

A flow is a graph of nodes. Interactive nodes (menu, collect, language) always have a way out on
timeout; terminal nodes (queue, voicemail, transfer, hangup) end the IVR. ``validation.py`` checks a
document (every problem with its path) and builds the Flow from one that passes; ``nodes.py`` holds
what each node kind may contain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from middleware.errors import Invalid
from middleware.ivr.schedule import Schedule

PromptExists = Callable[[str, str], bool]  # (prompt, language) -> exists


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidFlow(Invalid):
    """A flow that must not be loaded; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


# -- the model --

@dataclass(frozen=True)
class Node:
    id: str
    kind: str


@dataclass(frozen=True)
class PlayNode(Node):
    prompts: tuple[str, ...]
    next: str


@dataclass(frozen=True)
class MenuNode(Node):
    prompts: tuple[str, ...]
    options: Mapping[str, str]
    timeout_ms: int
    retries: int
    invalid_prompt: str
    on_timeout: str
    on_invalid: str


@dataclass(frozen=True)
class CollectNode(Node):
    prompts: tuple[str, ...]
    min_digits: int
    max_digits: int
    timeout_ms: int
    retries: int
    checksum: str
    store: str
    invalid_prompt: str
    next: str
    on_fail: str


@dataclass(frozen=True)
class LookupNode(Node):
    by: str  # caller_id | account
    found: str
    not_found: str


@dataclass(frozen=True)
class ScheduleNode(Node):
    schedule: Schedule
    open: str
    closed: str


@dataclass(frozen=True)
class LanguageNode(Node):
    prompts: tuple[str, ...]
    options: Mapping[str, str]  # digit -> language
    default: str
    timeout_ms: int
    next: str


@dataclass(frozen=True)
class SetNode(Node):
    reason: str | None
    skills: tuple[str, ...] | None
    priority: int | None
    next: str
    language: str | None = None  # e.g. a main-menu key "para español, oprima 9"


@dataclass(frozen=True)
class QueueNode(Node):
    queue: str
    skills: tuple[str, ...]
    priority: int | None


@dataclass(frozen=True)
class VoicemailNode(Node):
    mailbox: str


@dataclass(frozen=True)
class CallbackNode(Node):
    queue: str
    prompts: tuple[str, ...]
    next: str


@dataclass(frozen=True)
class TransferNode(Node):
    extension: str | None
    number: str | None
    trunk: str | None


@dataclass(frozen=True)
class HangupNode(Node):
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    start: str
    languages: tuple[str, ...]
    timezone: str
    nodes: Mapping[str, Node] = field(default_factory=dict)


def mailboxes(flow: Flow) -> list[str]:
    return sorted({n.mailbox for n in flow.nodes.values() if isinstance(n, VoicemailNode)})


def queues(flow: Flow) -> list[str]:
    return sorted({n.queue for n in flow.nodes.values() if isinstance(n, QueueNode | CallbackNode)})


def trunks(flow: Flow) -> list[str]:
    return sorted({n.trunk for n in flow.nodes.values() if isinstance(n, TransferNode) and n.trunk})


def transfer_numbers(flow: Flow) -> list[tuple[str, str]]:
    """(node, number) of every transfer to an outside number."""
    return sorted((name, n.number) for name, n in flow.nodes.items() if isinstance(n, TransferNode) and n.number)
