"""The aiohttp application: /health reports whether AMI, PostgreSQL and FastAGI are up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

HealthProbe = Callable[[], Awaitable[dict[str, Any]]]
HEALTH_KEY = web.AppKey("health", HealthProbe)  # type: ignore[type-abstract]


async def health(request: web.Request) -> web.Response:
    report = await request.app[HEALTH_KEY]()
    status = 200 if all(v.get("ok") for v in report.values() if isinstance(v, dict)) else 503
    return web.json_response(report, status=status)


def build_app(probe: HealthProbe) -> web.Application:
    app = web.Application()
    app[HEALTH_KEY] = probe
    app.router.add_get("/health", health)
    return app
