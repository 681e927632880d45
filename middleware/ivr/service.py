"""The ``ivr`` FastAGI route: greet, run the DID's menu, record what the caller did, hand over a queue."""

from __future__ import annotations

import structlog
from psycopg_pool import AsyncConnectionPool

from middleware import constants as cc
from middleware.agi.session import AgiSession
from middleware.ivr.menu import InvalidMenu, decide, parse_menu
from middleware.store import calls, tenants

log = structlog.get_logger(__name__)


class IvrService:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def handle(self, session: AgiSession) -> None:
        request = session.request
        did = request.query.get("did") or (await session.get_variable(cc.CC_DID)) or ""
        linkedid = request.query.get("linkedid") or request.uniqueid
        async with self._pool.connection() as conn:
            did_row = await tenants.find_did(conn, did)
        if did_row is None:
            log.warning("ivr.unknown_did", did=did)
            await session.set_variable(cc.CC_AGI_ERROR, f"unknown DID {did}")
            return
        try:
            menu = parse_menu(did_row.menu, did_row.fallback_queue)
        except InvalidMenu as exc:
            log.error("ivr.invalid_menu", did=did, detail=str(exc))
            await session.set_variable(cc.CC_AGI_ERROR, f"invalid menu: {exc}")
            return
        path: list[dict[str, str]] = []
        pressed = ""
        if menu.greeting:
            await session.stream_file(menu.greeting)
        queue = None
        for attempt in range(menu.retries + 1):
            digits, timed_out = await session.get_data(menu.prompt or "beep", menu.timeout_ms, 1)
            pressed += digits
            decision = decide(menu, digits, timed_out, attempt)
            path.append({"attempt": str(attempt + 1), "digits": digits, "outcome": decision.reason})
            log.info("ivr.input", did=did, attempt=attempt + 1, digits=digits, timed_out=timed_out,
                     outcome=decision.reason)
            if decision.queue is not None:
                queue = decision.queue
                break
            if decision.replay_prompt:
                await session.stream_file(decision.replay_prompt)
        assert queue is not None  # decide() always routes on the last attempt
        async with self._pool.connection() as conn:
            await calls.record_ivr(conn, linkedid=linkedid, tenant_id=did_row.tenant_id, did=did,
                                   caller_number=request.caller_id, digits=pressed, path=path)
        await session.set_variable(cc.CC_IVR_DIGITS, pressed)
        await session.set_variable(cc.CC_QUEUE, queue)
        await session.set_variable(cc.CC_ROUTE, cc.ROUTE_QUEUE)
        log.info("ivr.routed", did=did, queue=queue, digits=pressed)
