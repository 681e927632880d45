"""Flow files: YAML text -> document -> problems, and a flow shown as a tree. Pure (storing a flow, with
the tenant's queues and trunks checked, is in service.py)."""

from __future__ import annotations

from typing import Any

import yaml

from middleware.ivr.flow import Flow, InvalidFlow, MenuNode, Problem, PromptExists
from middleware.ivr.validation import validate


def read_document(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(yaml)"
        raise InvalidFlow([Problem(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc


def check_text(text: str, prompt_exists: PromptExists | None) -> list[Problem]:
    try:
        return validate(read_document(text), prompt_exists)
    except InvalidFlow as exc:
        return exc.problems


def tree(flow: Flow) -> list[str]:
    """The flow as an indented tree from its start; a node met again is shown as a jump."""
    lines: list[str] = []
    shown: set[str] = set()

    def describe(node_id: str) -> str:
        node = flow.nodes[node_id]
        detail = {k: v for k, v in vars(node).items() if k not in ("id", "kind") and not _is_branch(node, k)}
        text = ", ".join(f"{k}={_short(v)}" for k, v in detail.items())
        return f"{node_id} [{node.kind}] {text}".rstrip()

    def walk(node_id: str, label: str, depth: int) -> None:
        prefix = "  " * depth + (f"{label} -> " if label else "")
        if node_id in shown:
            lines.append(f"{prefix}(back to {node_id})")
            return
        shown.add(node_id)
        lines.append(prefix + describe(node_id))
        for branch, target in _branches(flow.nodes[node_id]):
            walk(target, branch, depth + 1)

    walk(flow.start, "", 0)
    return lines


_BRANCHES = ("next", "on_timeout", "on_invalid", "on_fail", "found", "not_found", "open", "closed")


def _is_branch(node: object, name: str) -> bool:
    return name in _BRANCHES or (name == "options" and getattr(node, "kind", "") == "menu")


def _branches(node: object) -> list[tuple[str, str]]:
    out = []
    if isinstance(node, MenuNode):
        out += [(f"press {d}", t) for d, t in node.options.items()]
    for name in _BRANCHES:
        target = getattr(node, name, None)
        if isinstance(target, str) and (name != "on_invalid" or target != getattr(node, "on_timeout", None)):
            out.append((name, target))
    return out


def _short(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    if hasattr(value, "timezone") and hasattr(value, "week"):
        return f"<hours in {value.timezone}>"
    return str(value)
