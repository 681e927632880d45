"""IVR node kinds, one spec each: the fields a node of that kind may and must have, which of them name
the next node (and which a caller who presses nothing can take), how it is checked and how it is built.

A new node kind is one ``NodeSpec`` here (its checker and builder next to it), its model class in
``flow.py`` and what the engine does with it; validation (``validation.py``) reads the specs for
fields, branches and silent paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from middleware.ivr.flow import (
    CallbackNode,
    CollectNode,
    HangupNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    Problem,
    PromptExists,
    QueueNode,
    ScheduleNode,
    SetNode,
    TransferNode,
    VoicemailNode,
)
from middleware.ivr.schedule import InvalidSchedule, parse_schedule

DIGITS = "0123456789*#"
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}\Z")
_PROMPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,127}\Z")
_E164 = re.compile(r"^\+?[1-9][0-9]{6,14}\Z")
_MAILBOX = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
PROMPT_FIELDS = ("prompt", "prompts", "invalid_prompt")


def prompt_list(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(p, str) for p in items):
        return None
    return tuple(items) if all(_PROMPT.match(p) for p in items) else None


@dataclass
class Checking:
    """One raw node being checked: where it is, what the flow around it says, the problems found."""

    path: str
    node: Mapping[str, Any]
    flow_tz: str
    languages: tuple[str, ...]
    prompt_exists: PromptExists | None
    problems: list[Problem]

    def problem(self, field: str, message: str) -> None:
        self.problems.append(Problem(f"{self.path}.{field}" if field else self.path, message))

    def number(self, name: str, default: int, low: int, high: int) -> int:
        value = self.node.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.problem(name, f"must be a number from {low} to {high}")
            return default
        return int(value)


Build = Callable[[str, Mapping[str, Any], str], Node]  # (node id, raw node, flow time zone) -> node


@dataclass(frozen=True)
class NodeSpec:
    kind: str
    fields: frozenset[str]  # every field a node of this kind may have (besides "type")
    required: tuple[str, ...]
    branches: tuple[str, ...]  # fields naming the next node
    silent: tuple[str, ...]  # branches a caller who never presses anything can take
    check: Callable[[Checking], None]
    build: Build
    options_branch: bool = False  # its options map digits to nodes (a menu), not to languages

    @property
    def terminal(self) -> bool:
        """Ends the IVR: the call moves on (queue, voicemail, transfer, hang-up)."""
        return not self.branches and not self.options_branch


# -- checks shared by several kinds --

def _options(c: Checking, *, to_nodes: bool) -> None:
    if "options" not in c.node:
        return
    options = c.node["options"]
    if not isinstance(options, Mapping) or not options:
        c.problem("options", "must map DTMF digits to targets")
        return
    for digit, target in options.items():
        if str(digit) not in DIGITS or len(str(digit)) != 1:
            c.problem(f"options.{digit}", "not one DTMF digit (0-9, *, #)")
        if not isinstance(target, str):
            c.problem(f"options.{digit}", "must name a node" if to_nodes else "must name a language")
        elif not to_nodes and target not in c.languages:
            c.problem(f"options.{digit}", f"language {target!r} is not in the flow's languages {list(c.languages)}")


def _skills_and_priority(c: Checking) -> None:
    skills = c.node.get("skills")
    if skills is not None and (not isinstance(skills, list) or not all(isinstance(s, str) and NAME.match(s)
                                                                     for s in skills)):
        c.problem("skills", "must be a list of skill names")
    if "priority" in c.node:
        c.number("priority", 0, 0, 100)


def _queue_name(c: Checking) -> None:
    if not NAME.match(str(c.node.get("queue", ""))):
        c.problem("queue", "must be a queue name")


def _ms(node: Mapping[str, Any]) -> int:
    return int(node.get("timeout", 5)) * 1000


def _prompts(node: Mapping[str, Any]) -> tuple[str, ...]:
    return prompt_list(node.get("prompt", node.get("prompts", ()))) or ()


def _priority(node: Mapping[str, Any]) -> int | None:
    return int(node["priority"]) if "priority" in node else None


# -- one checker and one builder per kind --

def _nothing(c: Checking) -> None:
    return None


def _check_menu(c: Checking) -> None:
    _options(c, to_nodes=True)
    c.number("timeout", 5, 1, 30)
    c.number("retries", 2, 0, 5)


def _build_menu(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    return MenuNode(node_id, "menu", _prompts(n), {str(k): v for k, v in n["options"].items()}, _ms(n),
                    int(n.get("retries", 2)), str(n.get("invalid_prompt", "pm-invalid-option")),
                    n["on_timeout"], n.get("on_invalid", n["on_timeout"]))


def _check_collect(c: Checking) -> None:
    c.number("timeout", 5, 1, 30)
    c.number("retries", 2, 0, 5)
    low = c.number("min_digits", 1, 1, 32)
    high = c.number("max_digits", 1, 1, 32)
    if low > high:
        c.problem("min_digits", "is larger than max_digits")
    if c.node.get("checksum", "none") not in ("none", "luhn"):
        c.problem("checksum", "must be none or luhn")
    if not NAME.match(str(c.node.get("store", "account"))):
        c.problem("store", "must be a variable name")


def _build_collect(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    return CollectNode(node_id, "collect", _prompts(n), int(n.get("min_digits", 1)), int(n["max_digits"]), _ms(n),
                       int(n.get("retries", 2)), str(n.get("checksum", "none")), str(n.get("store", "account")),
                       str(n.get("invalid_prompt", "pm-invalid-option")), n["next"], n["on_fail"])


def _check_lookup(c: Checking) -> None:
    if c.node.get("by") not in ("caller_id", "account"):
        c.problem("by", "must be caller_id or account")


def _check_schedule(c: Checking) -> None:
    hours = c.node.get("hours")
    holidays = c.node.get("holidays", [])
    if not isinstance(hours, Mapping) or not isinstance(holidays, list):
        c.problem("hours", "hours must map days to HH:MM-HH:MM; holidays must be a list")
        return
    try:
        parse_schedule(str(c.node.get("timezone", c.flow_tz)), hours, holidays)
    except InvalidSchedule as exc:
        c.problem("hours", str(exc))


def _build_schedule(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    schedule = parse_schedule(str(n.get("timezone", flow_tz)), n["hours"], n.get("holidays", []))
    return ScheduleNode(node_id, "schedule", schedule, n["open"], n["closed"])


def _check_language(c: Checking) -> None:
    _options(c, to_nodes=False)
    if c.node.get("default") not in c.languages:
        c.problem("default", f"must be one of the flow's languages {list(c.languages)}")
    c.number("timeout", 5, 1, 30)


def _build_language(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    return LanguageNode(node_id, "language", _prompts(n), {str(k): v for k, v in n["options"].items()},
                        n["default"], _ms(n), n["next"])


def _check_set(c: Checking) -> None:
    if "language" in c.node and c.node["language"] not in c.languages:
        c.problem("language", f"must be one of the flow's languages {list(c.languages)}")
    _skills_and_priority(c)


def _build_set(node_id: str, n: Mapping[str, Any], flow_tz: str) -> Node:
    skills = tuple(n["skills"]) if n.get("skills") is not None else None
    return SetNode(node_id, "set", n.get("reason"), skills, _priority(n), n["next"], n.get("language"))


def _check_queue(c: Checking) -> None:
    _skills_and_priority(c)
    _queue_name(c)


def _check_voicemail(c: Checking) -> None:
    if not _MAILBOX.match(str(c.node.get("mailbox", ""))):
        c.problem("mailbox", "must be a mailbox number")


def _check_transfer(c: Checking) -> None:
    node = c.node
    has_ext, has_num = "extension" in node, "number" in node
    if has_ext == has_num:
        c.problem("", "a transfer names either an extension or a number (with its trunk)")
    if has_num and not _E164.match(str(node["number"])):
        c.problem("number", "must be a phone number in E.164 form")
    if has_num and not NAME.match(str(node.get("trunk", ""))):
        c.problem("trunk", "an external number needs the trunk to call it through")
    if has_ext and not NAME.match(str(node["extension"])):
        c.problem("extension", "must be an extension (phone endpoint) name")


SPECS: dict[str, NodeSpec] = {s.kind: s for s in (
    NodeSpec("play", frozenset({"prompts", "next"}), ("prompts", "next"), ("next",), ("next",), _nothing,
             lambda i, n, tz: PlayNode(i, "play", _prompts(n), n["next"])),
    NodeSpec("menu", frozenset({"prompt", "options", "timeout", "retries", "invalid_prompt", "on_timeout",
                                "on_invalid"}), ("prompt", "options", "on_timeout"), ("on_timeout", "on_invalid"),
             ("on_timeout",), _check_menu, _build_menu, options_branch=True),
    NodeSpec("collect", frozenset({"prompt", "min_digits", "max_digits", "timeout", "retries", "checksum", "store",
                                   "invalid_prompt", "next", "on_fail"}), ("prompt", "max_digits", "next", "on_fail"),
             ("next", "on_fail"), ("on_fail",), _check_collect, _build_collect),
    NodeSpec("lookup", frozenset({"by", "found", "not_found"}), ("by", "found", "not_found"), ("found", "not_found"),
             ("found", "not_found"), _check_lookup,
             lambda i, n, tz: LookupNode(i, "lookup", n["by"], n["found"], n["not_found"])),
    NodeSpec("schedule", frozenset({"timezone", "hours", "holidays", "open", "closed"}), ("hours", "open", "closed"),
             ("open", "closed"), ("open", "closed"), _check_schedule, _build_schedule),
    NodeSpec("language", frozenset({"prompt", "options", "default", "timeout", "next"}),
             ("prompt", "options", "default", "next"), ("next",), ("next",), _check_language, _build_language),
    NodeSpec("set", frozenset({"reason", "skills", "priority", "language", "next"}), ("next",), ("next",), ("next",),
             _check_set, _build_set),
    NodeSpec("queue", frozenset({"queue", "skills", "priority"}), ("queue",), (), (), _check_queue,
             lambda i, n, tz: QueueNode(i, "queue", n["queue"], tuple(n.get("skills", ())), _priority(n))),
    NodeSpec("voicemail", frozenset({"mailbox"}), ("mailbox",), (), (), _check_voicemail,
             lambda i, n, tz: VoicemailNode(i, "voicemail", str(n["mailbox"]))),
    NodeSpec("callback", frozenset({"queue", "prompt", "next"}), ("queue", "prompt", "next"), ("next",), ("next",),
             _queue_name, lambda i, n, tz: CallbackNode(i, "callback", n["queue"], _prompts(n), n["next"])),
    NodeSpec("transfer", frozenset({"extension", "number", "trunk"}), (), (), (), _check_transfer,
             lambda i, n, tz: TransferNode(i, "transfer", n.get("extension"), n.get("number"), n.get("trunk"))),
    NodeSpec("hangup", frozenset({"prompts"}), (), (), (), _nothing,
             lambda i, n, tz: HangupNode(i, "hangup", _prompts(n))),
)}


def check_node(node_id: str, node: Any, flow_tz: str, languages: tuple[str, ...],
               prompt_exists: PromptExists | None, problems: list[Problem]) -> None:
    """Every problem of one raw node (its kind's fields, prompts and own rules) into ``problems``."""
    path = f"nodes.{node_id}"
    if not isinstance(node, Mapping):
        problems.append(Problem(path, "a node is a mapping with a 'type'"))
        return
    spec = SPECS.get(node["type"]) if isinstance(node.get("type"), str) else None
    if spec is None:
        known = ", ".join(sorted(SPECS))
        problems.append(Problem(f"{path}.type", f"unknown node type {node.get('type')!r}; known: {known}"))
        return
    c = Checking(path, node, flow_tz, languages, prompt_exists, problems)
    for name in node:
        if name != "type" and name not in spec.fields:
            c.problem(str(name), f"unknown field for a {spec.kind} node")
    for name in spec.required:
        if name not in node:
            c.problem(name, "missing")
    for name in spec.branches:
        if name in node and not isinstance(node[name], str):
            c.problem(name, "must name a node")
    for name in PROMPT_FIELDS:
        if name in node:
            _check_prompts(c, name)
    spec.check(c)


def _check_prompts(c: Checking, name: str) -> None:
    prompts = prompt_list(c.node[name])
    if prompts is None:
        c.problem(name, "must be a prompt name or a list of them")
        return
    if c.prompt_exists is None:
        return
    for prompt in prompts:
        for lang in c.languages:
            if not c.prompt_exists(prompt, lang):
                c.problem(name, f"prompt file {prompt!r} missing for language {lang}")


def edges(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field path, target) for every branch of a raw node."""
    spec = SPECS.get(str(node.get("type")))
    if spec is None:
        return []
    out = [(f, node[f]) for f in spec.branches if isinstance(node.get(f), str)]
    if spec.options_branch and isinstance(node.get("options"), Mapping):
        out += [(f"options.{d}", t) for d, t in node["options"].items() if isinstance(t, str)]
    return out


def silent_edges(node: Mapping[str, Any]) -> list[str]:
    """The targets a caller who presses nothing can reach from a raw node."""
    spec = SPECS.get(str(node.get("type")))
    return [node[f] for f in spec.silent if isinstance(node.get(f), str)] if spec else []


def build(node_id: str, node: Mapping[str, Any], flow_tz: str) -> Node:
    """The model of a raw node that validated."""
    return SPECS[node["type"]].build(node_id, node, flow_tz)
