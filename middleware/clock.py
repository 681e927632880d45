"""The one clock type: every service takes ``clock: Clock`` (a function returning an aware UTC
datetime) so tests and simulations can run at any instant; ``system_clock`` is the real one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)
