"""Flow validation reports every problem with its path; a flow with problems never parses."""

import pytest

from middleware.ivr.flow import InvalidFlow
from middleware.ivr.library import check_text, tree
from middleware.ivr.validation import parse_flow, validate

GOOD = {
    "flow": "ok", "start": "menu",
    "nodes": {
        "menu": {"type": "menu", "prompt": "dir-pls-enter", "options": {"1": "q", "9": "menu"}, "on_timeout": "q"},
        "q": {"type": "queue", "queue": "support"},
    },
}


def paths(data: object, prompt_exists=None) -> dict[str, str]:
    return {p.path: p.message for p in validate(data, prompt_exists)}


def test_a_good_flow_has_no_problems_and_a_menu_may_repeat_itself() -> None:
    assert validate(GOOD) == []
    assert parse_flow(GOOD).nodes["menu"].options == {"1": "q", "9": "menu"}


def test_unknown_node_kind_and_field() -> None:
    found = paths({**GOOD, "nodes": {**GOOD["nodes"], "x": {"type": "teleport"},
                                     "q": {"type": "queue", "queue": "support", "colour": "blue"}}})
    assert "unknown node type 'teleport'" in found["nodes.x.type"]
    assert found["nodes.q.colour"] == "unknown field for a queue node"


def test_dangling_branch_and_missing_fields() -> None:
    found = paths({"flow": "f", "start": "m", "nodes": {
        "m": {"type": "menu", "prompt": "beep", "options": {"1": "nowhere"}, "on_timeout": "m"},
        "c": {"type": "collect", "prompt": "beep", "next": "m"}}})
    assert found["nodes.m.options.1"] == "branch to unknown node 'nowhere'"
    assert found["nodes.c.max_digits"] == "missing" and found["nodes.c.on_fail"] == "missing"


def test_unreachable_node() -> None:
    found = paths({**GOOD, "nodes": {**GOOD["nodes"], "lonely": {"type": "hangup"}}})
    assert found == {"nodes.lonely": "unreachable from start"}


def test_loop_with_no_exit() -> None:
    found = paths({"flow": "f", "start": "a", "nodes": {
        "a": {"type": "play", "prompts": ["beep"], "next": "b"},
        "b": {"type": "set", "reason": "x", "next": "a"}}})
    assert any("loop with no exit: a -> b" in m for m in found.values())


def test_silent_caller_loop_is_reported_even_when_digits_could_leave() -> None:
    found = paths({"flow": "f", "start": "m", "nodes": {
        "m": {"type": "menu", "prompt": "beep", "options": {"1": "q"}, "on_timeout": "m"},
        "q": {"type": "queue", "queue": "x"}}})
    assert found["nodes.m"] == "a caller who presses nothing goes round forever: m -> m"


def test_missing_prompt_for_one_language() -> None:
    available = {("dir-pls-enter", "en"), ("dir-pls-enter", "es")}
    data = {**GOOD, "languages": ["en", "es"],
            "nodes": {**GOOD["nodes"], "bye": {"type": "hangup", "prompts": ["vm-goodbye"]},
                      "menu": {**GOOD["nodes"]["menu"], "on_timeout": "bye"}}}
    found = paths(data, lambda prompt, lang: (prompt, lang) in available)
    assert found == {"nodes.bye.prompts": "prompt file 'vm-goodbye' missing for language es"}


@pytest.mark.parametrize(("node", "where", "words"), [
    ({"type": "collect", "prompt": "beep", "min_digits": 9, "max_digits": 4, "next": "q", "on_fail": "q"},
     "nodes.n.min_digits", "larger than max_digits"),
    ({"type": "collect", "prompt": "beep", "max_digits": 4, "checksum": "crc", "next": "q", "on_fail": "q"},
     "nodes.n.checksum", "none or luhn"),
    ({"type": "schedule", "hours": {"mon": "9-5"}, "open": "q", "closed": "q"}, "nodes.n.hours", "HH:MM"),
    ({"type": "transfer", "number": "12", "trunk": "t"}, "nodes.n.number", "E.164"),
    ({"type": "transfer", "number": "+15551230000"}, "nodes.n.trunk", "trunk"),
    ({"type": "language", "prompt": "beep", "options": {"1": "fr"}, "default": "en", "next": "q"},
     "nodes.n.options.1", "not in the flow's languages"),
    ({"type": "menu", "prompt": "beep", "options": {"1": "q"}, "on_timeout": "q", "timeout": 99},
     "nodes.n.timeout", "from 1 to 30"),
    ({"type": "play", "prompts": ["../../etc/passwd"], "next": "q"}, "nodes.n.prompts", "prompt name"),
])
def test_field_checks(node: dict, where: str, words: str) -> None:
    found = paths({"flow": "f", "start": "n", "nodes": {"n": node, "q": {"type": "queue", "queue": "x"}}})
    assert words in found[where]


def test_parse_refuses_an_invalid_flow_with_every_problem() -> None:
    with pytest.raises(InvalidFlow) as exc:
        parse_flow({"flow": "bad name!", "start": "zz", "nodes": {"q": {"type": "queue", "queue": "x"}}})
    assert {p.path for p in exc.value.problems} == {"flow", "start"}


def test_yaml_errors_name_the_line() -> None:
    problems = check_text("flow: x\nnodes:\n  a: [unclosed\n", None)
    assert problems and problems[0].path.startswith("line ")


def test_tree_shows_each_node_once_and_jumps_back() -> None:
    lines = tree(parse_flow(GOOD))
    assert lines[0].startswith("menu [menu]")
    assert any("press 9 -> (back to menu)" in line for line in lines)
    assert sum("q [queue]" in line for line in lines) == 1


def test_a_flow_without_a_timezone_runs_its_schedules_in_the_tenants() -> None:
    """A flow without `timezone` used to run its schedule in UTC whatever the tenant's zone."""
    from datetime import UTC, datetime

    from middleware.ivr.flow import ScheduleNode
    from middleware.ivr.schedule import is_open
    from middleware.ivr.validation import parse_flow

    doc = {"flow": "f", "start": "hours", "nodes": {
        "hours": {"type": "schedule", "hours": {"mon-sun": "09:00-17:00"}, "open": "bye", "closed": "bye"},
        "bye": {"type": "hangup"}}}
    flow = parse_flow(doc, default_timezone="America/New_York")
    node = flow.nodes["hours"]
    assert isinstance(node, ScheduleNode) and node.schedule.timezone == "America/New_York"
    # 21:30 UTC is 16:30 in New York: open (read as UTC it was closed); 23:00 UTC is 18:00 there: closed.
    assert is_open(node.schedule, datetime(2026, 12, 1, 21, 30, tzinfo=UTC))
    assert not is_open(node.schedule, datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
    assert parse_flow({**doc, "timezone": "Europe/Paris"}, default_timezone="America/New_York").timezone == \
        "Europe/Paris"
