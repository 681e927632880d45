"""Checking a flow document (every problem with its path) and building the Flow from one that passes.

Per node: its kind's fields and rules (``nodes.py``). Across nodes: a start that exists, branches to
nodes that exist, every node reachable, no loop without an exit, and no path a caller who presses
nothing goes round forever. ``parse_flow`` only builds a Flow from data that validates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from middleware.ivr.flow import Flow, InvalidFlow, Problem, PromptExists
from middleware.ivr.nodes import NAME, build, check_node, edges, silent_edges
from middleware.ivr.schedule import InvalidSchedule, parse_schedule

_LANG = re.compile(r"^[a-z]{2}(_[A-Z]{2})?\Z")
TOP_LEVEL = ("flow", "description", "start", "languages", "timezone", "nodes")


def _silent_cycle(nodes: Mapping[str, Any], start: str) -> list[str] | None:
    """A cycle a silent caller would go round forever, or None."""
    graph = {str(k): [target for target in silent_edges(v) if target in nodes]
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
        if key not in TOP_LEVEL:
            problems.append(Problem(str(key), "unknown top-level field"))
    if not isinstance(data.get("flow"), str) or not NAME.match(data["flow"]):
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
        if not NAME.match(str(node_id)):
            problems.append(Problem(f"nodes.{node_id}", "node ids are letters, digits, _ . -"))
        check_node(str(node_id), node, flow_tz, tuple(languages), prompt_exists, problems)
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


def parse_flow(data: Any, prompt_exists: PromptExists | None = None, default_timezone: str = "UTC") -> Flow:
    """The Flow of a document that validates; InvalidFlow (with every problem) otherwise. Schedules
    without a time zone of their own or of the flow's run in ``default_timezone`` (the tenant's)."""
    problems = validate(data, prompt_exists, default_timezone)
    if problems:
        raise InvalidFlow(problems)
    flow_tz = str(data.get("timezone", default_timezone))
    nodes = {str(k): build(str(k), v, flow_tz) for k, v in data["nodes"].items()}
    return Flow(data["flow"], str(data.get("description", "")), data["start"],
                tuple(data.get("languages", ["en"])), flow_tz, nodes)


