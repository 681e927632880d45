"""Shared fixtures: async tests run on the serving loop; a test whose asyncio tasks died with an unhandled
exception fails."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from middleware.config import Settings
from middleware.event_loop import loop_factory

_reported: list[dict[str, Any]] = []  # what the test loops' exception handler heard


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    _reported.append(context)
    loop.default_exception_handler(context)


SERVE_LOOP = os.environ.get("EVENT_LOOP") or Settings.event_loop


def _serve_loop() -> asyncio.AbstractEventLoop:
    """A loop of the kind `callcenter serve` runs on, reporting unhandled task errors."""
    loop = loop_factory(SERVE_LOOP)()
    loop.set_exception_handler(_report)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Every async test runs on the loop production runs on (uvloop unless EVENT_LOOP says otherwise)."""
    return {SERVE_LOOP: _serve_loop}


@pytest.fixture(autouse=True)
def fail_on_task_errors() -> Iterator[list[dict[str, Any]]]:
    """Fail the test when asyncio reported an exception of a task nobody awaited: on the test's loop, or on
    a standard loop the test ran itself (the CLI's asyncio.run)."""
    original = asyncio.BaseEventLoop.default_exception_handler

    def handler(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        _reported.append(context)
        original(self, context)

    _reported.clear()
    asyncio.BaseEventLoop.default_exception_handler = handler  # type: ignore[method-assign]
    try:
        yield _reported
    finally:
        asyncio.BaseEventLoop.default_exception_handler = original  # type: ignore[method-assign]
    errors = list(_reported)
    _reported.clear()
    if errors:
        pytest.fail("asyncio reported unhandled errors: " + "; ".join(str(e.get("exception") or e.get("message"))
                                                                      for e in errors))


@pytest.fixture(autouse=True)
def structlog_defaults() -> Iterator[None]:
    """A test that configures logging (the CLI's main does) binds it to that test's captured stream, which
    pytest closes afterwards: later tests' log lines would raise. Every test starts from the defaults."""
    yield
    structlog.reset_defaults()
