"""IVR flows as data: the YAML shape, its validation (every problem with its path), and the parsed model.

A flow is a graph of nodes. Interactive nodes (menu, collect, language) always have a way out on
timeout; terminal nodes (queue, voicemail, transfer, hangup) end the IVR. ``validate`` reports unknown
node kinds and fields, dangling branches, unreachable nodes, loops with no exit and missing prompts;
``parse_flow`` only builds a Flow from data that validates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from middleware.errors import Invalid
from middleware.ivr.schedule import InvalidSchedule, Schedule, parse_schedule

PromptExists = Callable[[str, str], bool]  # (prompt, language) -> exists
DIGITS = "0123456789*#"
TERMINAL_KINDS = frozenset({"queue", "voicemail", "transfer", "hangup"})
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}\Z")
_PROMPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}\Z")
_E164 = re.compile(r"^\+?[1-9][0-9]{6,14}\Z")
_LANG = re.compile(r"^[a-z]{2}(_[A-Z]{2})?\Z")


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


# -- field specs: kind -> {field: (required, checker)} --

def _prompt_list(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(p, str) for p in items):
        return None
    return tuple(items) if all(_PROMPT.match(p) for p in items) else None


BRANCH_FIELDS: dict[str, tuple[str, ...]] = {
    "play": ("next",), "menu": ("on_timeout", "on_invalid"), "collect": ("next", "on_fail"),
    "lookup": ("found", "not_found"), "schedule": ("open", "closed"), "language": ("next",),
    "set": ("next",), "callback": ("next",), "queue": (), "voicemail": (), "transfer": (), "hangup": (),
}
ALLOWED_FIELDS: dict[str, frozenset[str]] = {
    "play": frozenset({"prompts", "next"}),
    "menu": frozenset({"prompt", "options", "timeout", "retries", "invalid_prompt", "on_timeout", "on_invalid"}),
    "collect": frozenset({"prompt", "min_digits", "max_digits", "timeout", "retries", "checksum", "store",
                          "invalid_prompt", "next", "on_fail"}),
    "lookup": frozenset({"by", "found", "not_found"}),
    "schedule": frozenset({"timezone", "hours", "holidays", "open", "closed"}),
    "language": frozenset({"prompt", "options", "default", "timeout", "next"}),
    "set": frozenset({"reason", "skills", "priority", "language", "next"}),
    "queue": frozenset({"queue", "skills", "priority"}),
    "voicemail": frozenset({"mailbox"}),
    "callback": frozenset({"queue", "prompt", "next"}),
    "transfer": frozenset({"extension", "number", "trunk"}),
    "hangup": frozenset({"prompts"}),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "play": ("prompts", "next"), "menu": ("prompt", "options", "on_timeout"),
    "collect": ("prompt", "max_digits", "next", "on_fail"), "lookup": ("by", "found", "not_found"),
    "schedule": ("hours", "open", "closed"), "language": ("prompt", "options", "default", "next"),
    "set": ("next",), "queue": ("queue",), "voicemail": ("mailbox",), "callback": ("queue", "prompt", "next"),
    "transfer": (), "hangup": (),
}


def edges(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, target) for every branch of a raw node."""
    kind = node.get("type")
    out = [(f, node[f]) for f in BRANCH_FIELDS.get(str(kind), ()) if isinstance(node.get(f), str)]
    if kind == "menu" and isinstance(node.get("options"), Mapping):
        out += [(f"options.{d}", t) for d, t in node["options"].items() if isinstance(t, str)]
    return out


# Branches a caller who never presses anything can take; the IVR must end on them too.
SILENT_FIELDS: dict[str, tuple[str, ...]] = {
    "play": ("next",), "menu": ("on_timeout",), "collect": ("on_fail",), "language": ("next",),
    "lookup": ("found", "not_found"), "schedule": ("open", "closed"), "set": ("next",), "callback": ("next",),
}


def _silent_cycle(nodes: Mapping[str, Any], start: str) -> list[str] | None:
    """A cycle a silent caller would go round forever, or None."""
    graph = {str(k): [v[f] for f in SILENT_FIELDS.get(str(v.get("type")), ()) if isinstance(v.get(f), str)
                      and v[f] in nodes]
             for k, v in nodes.items() if isinstance(v, Mapping)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in graph.get(v, []):
            if state.get(w) == 1:
                return [*path[path.index(w):], w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        path.pop()
        state[v] = 2
        return None

    return visit(start) if start in graph else None


def _int_field(node: Mapping[str, Any], name: str, default: int, low: int, high: int, path: str,
               problems: list[Problem]) -> int:
    value = node.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problems.append(Problem(f"{path}.{name}", f"must be a number from {low} to {high}"))
        return default
    return int(value)


def _check_node(node_id: str, node: Any, flow_tz: str, languages: tuple[str, ...],
                prompt_exists: PromptExists | None, problems: list[Problem]) -> None:
    path = f"nodes.{node_id}"
    if not isinstance(node, Mapping):
        problems.append(Problem(path, "a node is a mapping with a 'type'"))
        return
    kind = node.get("type")
    if kind not in ALLOWED_FIELDS:
        known = ", ".join(sorted(ALLOWED_FIELDS))
        problems.append(Problem(f"{path}.type", f"unknown node type {kind!r}; known: {known}"))
        return
    for name in node:
        if name != "type" and name not in ALLOWED_FIELDS[kind]:
            problems.append(Problem(f"{path}.{name}", f"unknown field for a {kind} node"))
    for name in REQUIRED_FIELDS[kind]:
        if name not in node:
            problems.append(Problem(f"{path}.{name}", "missing"))
    for name in BRANCH_FIELDS[kind]:
        if name in node and not isinstance(node[name], str):
            problems.append(Problem(f"{path}.{name}", "must name a node"))
    for name in ("prompt", "prompts", "invalid_prompt"):
        if name not in node:
            continue
        prompts = _prompt_list(node[name])
        if prompts is None:
            problems.append(Problem(f"{path}.{name}", "must be a prompt name or a list of them"))
        elif prompt_exists is not None:
            for prompt in prompts:
                for lang in languages:
                    if not prompt_exists(prompt, lang):
                        problems.append(Problem(f"{path}.{name}",
                                                f"prompt file {prompt!r} missing for language {lang}"))
    if kind in ("menu", "language") and "options" in node:
        options = node["options"]
        if not isinstance(options, Mapping) or not options:
            problems.append(Problem(f"{path}.options", "must map DTMF digits to targets"))
        else:
            for digit, target in options.items():
                if str(digit) not in DIGITS or len(str(digit)) != 1:
                    problems.append(Problem(f"{path}.options.{digit}", "not one DTMF digit (0-9, *, #)"))
                if not isinstance(target, str):
                    problems.append(Problem(f"{path}.options.{digit}", "must name a node" if kind == "menu"
                                            else "must name a language"))
                elif kind == "language" and target not in languages:
                    problems.append(Problem(f"{path}.options.{digit}", f"language {target!r} is not in the flow's "
                                            f"languages {list(languages)}"))
    if kind == "set" and "language" in node and node["language"] not in languages:
        problems.append(Problem(f"{path}.language", f"must be one of the flow's languages {list(languages)}"))
    if kind == "language" and node.get("default") not in languages:
        problems.append(Problem(f"{path}.default", f"must be one of the flow's languages {list(languages)}"))
    if kind in ("menu", "collect", "language"):
        _int_field(node, "timeout", 5, 1, 30, path, problems)
    if kind in ("menu", "collect"):
        _int_field(node, "retries", 2, 0, 5, path, problems)
    if kind == "collect":
        low = _int_field(node, "min_digits", 1, 1, 32, path, problems)
        high = _int_field(node, "max_digits", 1, 1, 32, path, problems)
        if low > high:
            problems.append(Problem(f"{path}.min_digits", "is larger than max_digits"))
        if node.get("checksum", "none") not in ("none", "luhn"):
            problems.append(Problem(f"{path}.checksum", "must be none or luhn"))
        if not _NAME.match(str(node.get("store", "account"))):
            problems.append(Problem(f"{path}.store", "must be a variable name"))
    if kind == "lookup" and node.get("by") not in ("caller_id", "account"):
        problems.append(Problem(f"{path}.by", "must be caller_id or account"))
    if kind == "schedule":
        hours = node.get("hours")
        holidays = node.get("holidays", [])
        if not isinstance(hours, Mapping) or not isinstance(holidays, list):
            problems.append(Problem(f"{path}.hours", "hours must map days to HH:MM-HH:MM; holidays must be a list"))
        else:
            try:
                parse_schedule(str(node.get("timezone", flow_tz)), hours, holidays)
            except InvalidSchedule as exc:
                problems.append(Problem(f"{path}.hours", str(exc)))
    if kind in ("set", "queue"):
        skills = node.get("skills")
        if skills is not None and (not isinstance(skills, list) or not all(isinstance(s, str) and _NAME.match(s)
                                                                         for s in skills)):
            problems.append(Problem(f"{path}.skills", "must be a list of skill names"))
        if "priority" in node:
            _int_field(node, "priority", 0, 0, 100, path, problems)
    if kind in ("queue", "callback") and not _NAME.match(str(node.get("queue", ""))):
        problems.append(Problem(f"{path}.queue", "must be a queue name"))
    if kind == "voicemail" and not re.match(r"^[0-9A-Za-z_-]{1,40}$", str(node.get("mailbox", ""))):
        problems.append(Problem(f"{path}.mailbox", "must be a mailbox number"))
    if kind == "transfer":
        has_ext, has_num = "extension" in node, "number" in node
        if has_ext == has_num:
            problems.append(Problem(path, "a transfer names either an extension or a number (with its trunk)"))
        if has_num and not _E164.match(str(node["number"])):
            problems.append(Problem(f"{path}.number", "must be a phone number in E.164 form"))
        if has_num and not _NAME.match(str(node.get("trunk", ""))):
            problems.append(Problem(f"{path}.trunk", "an external number needs the trunk to call it through"))
        if has_ext and not _NAME.match(str(node["extension"])):
            problems.append(Problem(f"{path}.extension", "must be an extension (phone endpoint) name"))


def _strongly_connected(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative enough for IVR-sized graphs."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def validate(data: Any, prompt_exists: PromptExists | None = None, default_timezone: str = "UTC") -> list[Problem]:
    """Every problem in a flow document, each with its path; empty when the flow can be loaded."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        return [Problem("(top)", "a flow is a mapping with flow, start and nodes")]
    for key in data:
        if key not in ("flow", "description", "start", "languages", "timezone", "nodes"):
            problems.append(Problem(str(key), "unknown top-level field"))
    if not isinstance(data.get("flow"), str) or not _NAME.match(data["flow"]):
        problems.append(Problem("flow", "missing or not a name (letters, digits, _ . -)"))
    languages = data.get("languages", ["en"])
    if not isinstance(languages, list) or not languages or not all(isinstance(x, str) and _LANG.match(x)
                                                                    for x in languages):
        problems.append(Problem("languages", "must be a list of language codes like en, es, fr_CA"))
        languages = ["en"]
    flow_tz = str(data.get("timezone", default_timezone))
    try:
        parse_schedule(flow_tz, {}, [])
    except InvalidSchedule as exc:
        problems.append(Problem("timezone", str(exc)))
    nodes = data.get("nodes")
    if not isinstance(nodes, Mapping) or not nodes:
        problems.append(Problem("nodes", "missing or empty"))
        return problems
    for node_id, node in nodes.items():
        if not _NAME.match(str(node_id)):
            problems.append(Problem(f"nodes.{node_id}", "node ids are letters, digits, _ . -"))
        _check_node(str(node_id), node, flow_tz, tuple(languages), prompt_exists, problems)
    start = data.get("start")
    if not isinstance(start, str) or start not in nodes:
        problems.append(Problem("start", f"must name a node; {start!r} is not one"))
    graph: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        if not isinstance(node, Mapping):
            continue
        graph[str(node_id)] = []
        for path, target in edges(node):
            if target not in nodes:
                problems.append(Problem(f"nodes.{node_id}.{path}", f"branch to unknown node {target!r}"))
            else:
                graph[str(node_id)].append(target)
    if isinstance(start, str) and start in nodes:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph.get(todo.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for node_id in nodes:
            if node_id not in seen:
                problems.append(Problem(f"nodes.{node_id}", "unreachable from start"))
    if isinstance(start, str) and start in nodes:
        cycle = _silent_cycle(nodes, start)
        if cycle:
            problems.append(Problem(f"nodes.{cycle[0]}", "a caller who presses nothing goes round forever: "
                                    + " -> ".join(cycle)))
    for component in _strongly_connected(graph):
        members = set(component)
        cyclic = len(component) > 1 or component[0] in graph.get(component[0], [])
        if not cyclic:
            continue
        leaves = any(t not in members for v in component for t in graph.get(v, []))
        if not leaves:
            loop = " -> ".join(sorted(component))
            problems.append(Problem(f"nodes.{sorted(component)[0]}", f"loop with no exit: {loop}"))
    return problems


def _ms(node: Mapping[str, Any]) -> int:
    return int(node.get("timeout", 5)) * 1000


def _build(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    kind = n["type"]
    prompts = _prompt_list(n.get("prompt", n.get("prompts", ()))) or ()
    if kind == "play":
        return PlayNode(node_id, kind, prompts, n["next"])
    if kind == "menu":
        return MenuNode(node_id, kind, prompts, {str(k): v for k, v in n["options"].items()}, _ms(n),
                        int(n.get("retries", 2)), str(n.get("invalid_prompt", "pm-invalid-option")),
                        n["on_timeout"], n.get("on_invalid", n["on_timeout"]))
    if kind == "collect":
        return CollectNode(node_id, kind, prompts, int(n.get("min_digits", 1)), int(n["max_digits"]), _ms(n),
                           int(n.get("retries", 2)), str(n.get("checksum", "none")), str(n.get("store", "account")),
                           str(n.get("invalid_prompt", "pm-invalid-option")), n["next"], n["on_fail"])
    if kind == "lookup":
        return LookupNode(node_id, kind, n["by"], n["found"], n["not_found"])
    if kind == "schedule":
        schedule = parse_schedule(str(n.get("timezone", flow_tz)), n["hours"], n.get("holidays", []))
        return ScheduleNode(node_id, kind, schedule, n["open"], n["closed"])
    if kind == "language":
        return LanguageNode(node_id, kind, prompts, {str(k): v for k, v in n["options"].items()}, n["default"],
                            _ms(n), n["next"])
    if kind == "set":
        skills = tuple(n["skills"]) if n.get("skills") is not None else None
        priority = int(n["priority"]) if "priority" in n else None
        return SetNode(node_id, kind, n.get("reason"), skills, priority, n["next"], n.get("language"))
    if kind == "queue":
        return QueueNode(node_id, kind, n["queue"], tuple(n.get("skills", ())),
                         int(n["priority"]) if "priority" in n else None)
    if kind == "voicemail":
        return VoicemailNode(node_id, kind, str(n["mailbox"]))
    if kind == "callback":
        return CallbackNode(node_id, kind, n["queue"], prompts, n["next"])
    if kind == "transfer":
        return TransferNode(node_id, kind, n.get("extension"), n.get("number"), n.get("trunk"))
    return HangupNode(node_id, kind, prompts)


def parse_flow(data: Any, prompt_exists: PromptExists | None = None, default_timezone: str = "UTC") -> Flow:
    """The Flow of a document that validates; InvalidFlow (with every problem) otherwise. Schedules
    without a time zone of their own or of the flow's run in ``default_timezone`` (the tenant's)."""
    problems = validate(data, prompt_exists, default_timezone)
    if problems:
        raise InvalidFlow(problems)
    flow_tz = str(data.get("timezone", default_timezone))
    nodes = {str(k): _build(str(k), v, flow_tz) for k, v in data["nodes"].items()}
    return Flow(data["flow"], str(data.get("description", "")), data["start"],
                tuple(data.get("languages", ["en"])), flow_tz, nodes)


def mailboxes(flow: Flow) -> list[str]:
    return sorted({n.mailbox for n in flow.nodes.values() if isinstance(n, VoicemailNode)})


def queues(flow: Flow) -> list[str]:
    return sorted({n.queue for n in flow.nodes.values() if isinstance(n, QueueNode | CallbackNode)})


def trunks(flow: Flow) -> list[str]:
    return sorted({n.trunk for n in flow.nodes.values() if isinstance(n, TransferNode) and n.trunk})


def transfer_numbers(flow: Flow) -> list[tuple[str, str]]:
    """(node, number) of every transfer to an outside number."""
    return sorted((name, n.number) for name, n in flow.nodes.items() if isinstance(n, TransferNode) and n.number)
