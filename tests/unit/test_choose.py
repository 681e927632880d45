from datetime import UTC, datetime, timedelta

from middleware.routing.choose import Candidate, assign, best_agent

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def c(code: str, proficiency: int, idle_min: int) -> Candidate:
    return Candidate(code, f"acme-{code}", proficiency, T - timedelta(minutes=idle_min))


def test_most_proficient_then_longest_idle() -> None:
    pool = [c("1001", 3, 30), c("1002", 5, 1), c("1003", 5, 10)]
    assert best_agent(pool).code == "1003"
    assert best_agent(pool, exclude=frozenset({"1003"})).code == "1002"
    assert best_agent([]) is None


def test_assign_gives_each_call_a_different_agent_best_first() -> None:
    pool = [c("1001", 3, 30), c("1002", 5, 1), c("1003", 5, 10), c("1004", 1, 99)]
    assert [a.code for a in assign(3, pool)] == ["1003", "1002", "1001"]
    assert len(assign(10, pool)) == 4


def test_a_callback_goes_back_behind_earlier_callers_only() -> None:
    from middleware.callbacks.rules import place_in_queue

    assert place_in_queue(100.0, []) == 1
    assert place_in_queue(100.0, [120.0, 130.0]) == 1  # everyone waiting came after the caller
    assert place_in_queue(100.0, [90.0, 120.0, 95.0]) == 3
