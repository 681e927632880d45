"""The memory report names the types that grew between two reports."""

from __future__ import annotations

from collections import Counter

from middleware.memory_report import MemoryReporter, growth


def test_growth_lists_only_types_that_grew_largest_first() -> None:
    before = Counter({"dict": 100, "Task": 5, "Future": 7})
    after = Counter({"dict": 160, "Task": 5, "Future": 2, "CallRecord": 30})
    assert growth(before, after) == [("dict", 160, 60), ("CallRecord", 30, 30)]


def test_a_second_report_shows_what_was_kept_in_between() -> None:
    reporter = MemoryReporter()
    reporter.report()
    kept = [type("Leaked", (), {})() for _ in range(500)]
    second = reporter.report()
    assert ("Leaked", 500, 500) in second["types_grown"]
    assert kept
