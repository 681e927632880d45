"""Shared fixtures: fail a test whose asyncio tasks died with an unhandled exception."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import structlog


@pytest.fixture(autouse=True)
def fail_on_task_errors() -> Iterator[list[dict[str, Any]]]:
    """Collect exceptions that asyncio reports for tasks nobody awaited; fail the test on any."""
    errors: list[dict[str, Any]] = []
    original = asyncio.BaseEventLoop.default_exception_handler

    def handler(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        errors.append(context)
        original(self, context)

    asyncio.BaseEventLoop.default_exception_handler = handler  # type: ignore[method-assign]
    try:
        yield errors
    finally:
        asyncio.BaseEventLoop.default_exception_handler = original  # type: ignore[method-assign]
    if errors:
        pytest.fail("asyncio reported unhandled errors: " + "; ".join(str(e.get("exception") or e.get("message"))
                                                                      for e in errors))


@pytest.fixture(autouse=True)
def structlog_defaults() -> Iterator[None]:
    """A test that configures logging (the CLI's main does) binds it to that test's captured stream, which
    pytest closes afterwards: later tests' log lines would raise. Every test starts from the defaults."""
    yield
    structlog.reset_defaults()
