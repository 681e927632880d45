import pytest

from middleware.directory import QueueRow
from middleware.provision.render import render_queue_rules, render_queues
from middleware.routing.skills import InvalidSteps, WidenStep, member_penalty, parse_steps, penalty_rule


def test_penalty_is_six_minus_proficiency_and_the_skill_is_required() -> None:
    assert member_penalty("billing", {"billing": 5}) == 1  # never 0: app_queue reads max penalty 0 as no limit
    assert member_penalty("billing", {"billing": 1}) == 5
    assert member_penalty("billing", {"sales": 5}) is None
    assert member_penalty(None, {}, default_penalty=3) == 3


def test_steps_parse_and_become_a_penalty_rule_starting_at_zero() -> None:
    steps = parse_steps("10:4, 20s:2,45:1")
    assert steps == (WidenStep(10, 4), WidenStep(20, 2), WidenStep(45, 1))
    assert penalty_rule(steps) == [(0, 1), (10, 2), (20, 4), (45, 5)]
    assert penalty_rule(parse_steps("0:3,30:1")) == [(0, 3), (30, 5)]
    assert parse_steps("") == ()


@pytest.mark.parametrize(("text", "words"), [("10:4,5:3", "later and later"), ("10:2,20:4", "narrow"),
                                             ("10:6", "SECONDS:PROFICIENCY"), ("soon:3", "SECONDS")])
def test_bad_steps(text: str, words: str) -> None:
    with pytest.raises(InvalidSteps, match=words):
        parse_steps(text)


def test_rendered_queue_uses_its_rule_and_the_rule_widens() -> None:
    q = QueueRow("acme-billing", "acme", "linear", 15, 5, 20, 300, "billing", ((0, 5), (10, 3)))
    plain = QueueRow("acme-sales", "acme", "ringall", 15, 5, 20, 300)
    assert "defaultrule = acme-billing" in render_queues([q]) and "defaultrule" not in render_queues([plain])
    rules = render_queue_rules([q, plain])
    assert "[acme-billing]\npenaltychange => 0,1\npenaltychange => 10,3\n" in rules and "[acme-sales]" not in rules
