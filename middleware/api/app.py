"""The aiohttp application: the supervisor API (routes from resources.OPERATIONS), its OpenAPI
document, the live event WebSocket, the wallboard page, /metrics and /healthz.

Every answer that is not a success is JSON ``{"error": "..."}`` with a 4xx status saying whose fault
it is; a bug in a handler is logged with its request and answered 500 without details.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from middleware.api import auth
from middleware.api.metrics import Sample, exposition
from middleware.api.ratelimit import RateLimiter, retry_after
from middleware.api.resources import CLIENT_ERRORS, OPERATIONS, Api
from middleware.api.spec import (
    ERROR,
    BadRequest,
    Conflict,
    NotFound,
    Operation,
    Request,
    Unavailable,
    openapi,
    parse_body,
    parse_params,
)
from middleware.event_stream import EventStream
from middleware.store import tokens
from middleware.store.database import DatabaseUnavailable

log = structlog.get_logger(__name__)
HealthProbe = Callable[[], Awaitable[dict[str, Any]]]
MetricsProbe = Callable[[], list[Sample]]
MAX_BODY_BYTES = 64 * 1024
WALLBOARD_HTML = Path(__file__).with_name("wallboard.html")
VERSION = "1"


@dataclass
class Wiring:
    """Everything the HTTP layer is given by the service (or by a test)."""
    api: Api
    health: HealthProbe
    metrics: MetricsProbe
    events: EventStream | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)


WIRING = web.AppKey("wiring", Wiring)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None, dumps=dumps)


@web.middleware
async def errors_as_json(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
    try:
        return await handler(request)
    except auth.Unauthorized as exc:
        return error(401, str(exc), **{"WWW-Authenticate": 'Bearer realm="callcenter"'})
    except auth.Forbidden as exc:
        return error(403, str(exc))
    except BadRequest as exc:
        return error(400, str(exc))
    except NotFound as exc:
        return error(404, str(exc))
    except Conflict as exc:
        return error(409, str(exc))
    except Unavailable as exc:
        return error(503, str(exc), **{"Retry-After": "5"})
    except CLIENT_ERRORS as exc:
        return error(400, f"refused by the database: {str(exc).splitlines()[0][:200]}")
    except DatabaseUnavailable as exc:
        log.error("api.database_unreachable", path=request.path, detail=str(exc)[:200])
        return error(503, "the database does not answer; try again shortly", **{"Retry-After": "5"})
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error(exc.status, exc.reason, **{k: v for k, v in exc.headers.items() if k == "Allow"})
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("api.handler_failed", method=request.method, path=request.path)
        return error(500, "internal error (logged)")


async def principal_of(request: web.Request, *, allow_query_token: bool = False) -> auth.Principal:
    token = auth.token_from(request.headers.get("Authorization"),
                            request.query.get("token") if allow_query_token else None)
    api = request.app[WIRING].api
    async with api.pool.connection() as conn:
        found = await tokens.principal(conn, auth.token_digest(token), api.clock())
    if found is None:
        raise auth.Unauthorized("unknown or revoked token")
    return found


def _single_values(request: web.Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in request.query.items():
        if key in values:
            raise BadRequest(f"query parameter {key} given more than once")
        values[key] = value
    return values


async def _json_body(request: web.Request, op: Operation) -> dict[str, Any]:
    assert op.body is not None
    raw = await request.read()  # raises 413 past client_max_size
    if not raw.strip() and not any(p.required for p in op.body):
        return parse_body(op.body, {})
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="send the body as application/json")
    try:
        decoded = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    return parse_body(op.body, decoded)


def endpoint(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        principal = await principal_of(request)
        wait = request.app[WIRING].limiter.take(principal.token_id, time.monotonic())
        if wait:
            return error(429, "too many requests for this token", **{"Retry-After": retry_after(wait)})
        auth.require(principal, op.role)
        path = parse_params(op.path_params, dict(request.match_info), "path")
        query = parse_params(op.query, _single_values(request), "query")
        body = await _json_body(request, op) if op.body is not None else {}
        result = await op.handler(request.app[WIRING].api,
                                  Request(principal, path, query, body, dict(request.headers)))
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, status=op.success, dumps=dumps)
    serve.__name__ = op.operation_id
    return serve


# unauthenticated endpoints -------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    report = await request.app[WIRING].health()
    status = 200 if all(v.get("ok") for v in report.values() if isinstance(v, dict)) else 503
    return web.json_response(report, status=status, dumps=dumps)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=exposition(request.app[WIRING].metrics()),
                        content_type="text/plain", charset="utf-8", headers={"X-Format": "0.0.4"})


OPENAPI_DOC = web.AppKey("openapi", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOC], dumps=dumps)


async def wallboard_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WALLBOARD_HTML, headers={"Content-Type": "text/html; charset=utf-8",
                                                     "Content-Security-Policy": "default-src 'self'; "
                                                     "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                                     "connect-src 'self'"})


def visible(principal: auth.Principal, event: dict[str, Any]) -> bool:
    """A tenant's token sees its own tenant's events only; an event without a tenant is an admin's."""
    return principal.tenant is None or event.get("tenant") == principal.tenant


async def events_socket(request: web.Request) -> web.WebSocketResponse:
    """Live events as JSON text frames (browsers cannot set headers on a WebSocket: ?token= works too)."""
    principal = await principal_of(request, allow_query_token=True)
    auth.require(principal, "supervisor")
    stream = request.app[WIRING].events
    if stream is None:
        raise NotFound("this node publishes no events")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    queue = stream.subscribe()

    async def drain_client() -> None:
        async for msg in ws:  # the client says nothing we act on; this notices its close
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break

    reader = asyncio.create_task(drain_client(), name="ws-reader")
    try:
        await ws.send_str(dumps({"kind": "hello", "role": principal.role, "tenant": principal.tenant}))
        while not ws.closed and not reader.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            event = getter.result()
            if visible(principal, event):
                await ws.send_str(dumps(event))
    finally:
        stream.unsubscribe(queue)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await ws.close()
    return ws


HEALTH = {"type": "object", "additionalProperties": {"type": "object"}}


def _extra_paths() -> dict[str, Any]:
    def doc(summary: str, media: str, schema: dict[str, Any], codes: tuple[int, ...] = (200,)) -> dict[str, Any]:
        return {"get": {"summary": summary, "security": [], "tags": ["service"],
                        "operationId": summary.split()[0].lower() + "_" + str(len(summary)),
                        "responses": {str(c): {"description": "ok" if c == 200 else "not ready",
                                               "content": {media: {"schema": schema}}} for c in codes}}}
    return {"/healthz": doc("Health of AMI, PostgreSQL and FastAGI", "application/json", HEALTH, (200, 503)),
            "/metrics": doc("Prometheus metrics", "text/plain", {"type": "string"}),
            "/openapi.json": doc("This document", "application/json", {"type": "object"})}


def document() -> dict[str, Any]:
    doc = openapi(OPERATIONS, title="callcenter supervisor API", version=VERSION, extra_paths=_extra_paths())
    doc["info"]["description"] = (
        "Bearer tokens from `callcenter token create`. Roles agent < supervisor < admin; a tenant's token "
        "sees only its tenant. Live events: WebSocket at /api/v1/events (token as bearer or ?token=). "
        "Wallboard: /wallboard.")
    doc["components"]["schemas"]["Error"] = ERROR
    return doc


def build_app(wiring: Wiring) -> web.Application:
    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY_BYTES)
    app[WIRING] = wiring
    app[OPENAPI_DOC] = document()
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, endpoint(op), name=op.operation_id)
    app.router.add_get("/api/v1/events", events_socket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/health", healthz)  # the name earlier releases served
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/wallboard", wallboard_page)
    return app
