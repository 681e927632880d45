"""Announcing position and expected wait: the words (``say_wait``, also used by the IVR as the caller
joins a queue) and the periodic announcer.

Every few seconds each caller due an announcement (periodic.py) gets one whispered into their channel
(ChanSpy w, from a Local channel whose other half runs the ``announce`` FastAGI route) while they stay
in the queue: no place, ring or widening step is lost; the whisper is cut when an agent answers."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from middleware.agi.session import AgiSession
from middleware.ami import actions, queries
from middleware.ami.client import AmiActionFailed, AmiClient, AmiUnavailable
from middleware.announcements import periodic
from middleware.clock import Clock, system_clock
from middleware.pbx_events import AmiEvent
from middleware.routing.service import QueueState
from middleware.routing.wait_estimate import announcement, estimate_wait
from middleware.store import tenants
from middleware.store.database import Pool
from middleware.supervisor import every

log = structlog.get_logger(__name__)


async def say_wait(session: AgiSession, position: int, estimate_s: float,
                   still_wanted: Callable[[], bool] = lambda: True) -> None:
    """Say the caller's position and expected wait (wait_estimate.announcement's steps); stop between
    steps once ``still_wanted()`` is False (an agent answered)."""
    for kind, value in announcement(position, estimate_s):
        if not still_wanted():
            return
        if kind == "number":
            await session.command("SAY NUMBER", value, "")
        else:
            await session.stream_file(str(value))


class Announcer:
    EVENTS = ("AgentConnect", "QueueCallerLeave", "QueueCallerAbandon")

    def __init__(self, pool: Pool, ami: AmiClient, state: QueueState, clock: Clock = system_clock) -> None:
        self._pool = pool
        self._ami = ami
        self._state = state
        self._clock = clock
        self.joined_at: dict[str, float] = {}  # uniqueid -> when it joined its queue (epoch seconds)
        self.last_announced: dict[str, float] = {}
        self.playing: dict[str, str] = {}  # uniqueid -> queue, while its announcement plays
        self.announced = 0

    def _now(self) -> float:
        return self._clock().timestamp()

    async def waiting(self, queue: str) -> list[periodic.WaitingCaller]:
        status = await queries.queue_status(self._ami, queue)
        now = self._now()
        return [periodic.WaitingCaller(e.uniqueid, e.channel, e.position,
                                       self.joined_at.setdefault(e.uniqueid, now - e.wait_s))
                for e in status.waiting(queue)]

    async def tick(self) -> int:
        async with self._pool.connection() as conn:
            queues = [q for q in await tenants.list_queues(conn) if q.announce_every_s > 0]
        seen: set[str] = set()
        started = 0
        for q in queues:
            callers = await self.waiting(q.name)
            seen.update(c.uniqueid for c in callers)
            now = self._now()
            for c in periodic.due(callers, self.last_announced, q.announce_every_s, now):
                if c.uniqueid in self.playing or not periodic.SAFE_UNIQUEID.match(c.uniqueid):
                    continue
                self.last_announced[c.uniqueid] = now
                self.playing[c.uniqueid] = q.name
                try:
                    await self._ami.action(actions.whisper(c.uniqueid, c.channel))
                except AmiActionFailed as exc:  # answered or gone meanwhile
                    self.playing.pop(c.uniqueid, None)
                    log.info("routing.announce_skipped", queue=q.name, channel=c.channel, detail=str(exc))
                    continue
                started += 1
        for uid in set(self.joined_at) - seen:  # answered or gone
            self.joined_at.pop(uid, None)
            self.last_announced.pop(uid, None)
        self.announced += started
        return started

    async def handle_agi(self, session: AgiSession) -> None:
        """The ``announce`` route, on the whispering channel: position and expected wait, fresh."""
        uid = session.request.query.get("caller", "")
        queue = self.playing.get(uid)
        if queue is None:
            log.warning("routing.announce_unknown_caller", caller=uid)
            return
        try:
            callers = await self.waiting(queue)
            me = next((c for c in callers if c.uniqueid == uid), None)
            if me is None:
                return  # answered meanwhile
            estimate = estimate_wait(await self._state.snapshot_at(queue, me.position))
            log.info("routing.announce", queue=queue, caller=uid, position=me.position, estimate_s=estimate)
            if estimate == 0:
                return  # an agent is free for them: silence rather than talk about waiting
            await say_wait(session, me.position, estimate, still_wanted=lambda: uid in self.playing)
        finally:
            self.playing.pop(uid, None)

    async def on_event(self, event: AmiEvent) -> None:
        """An agent answered the caller, or the caller left: cut any announcement at once."""
        await self.stop(event.uniqueid)

    async def stop(self, uniqueid: str) -> None:
        if self.playing.pop(uniqueid, None) is None:
            return
        try:
            await self._ami.action(actions.hangup_regex(periodic.whisper_channel_pattern(uniqueid)))
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.info("routing.announce_stop_failed", caller=uniqueid, detail=str(exc))

    async def run(self, interval_s: float = 2.0) -> None:
        await every(interval_s, self.tick, "routing.announce_tick_failed")
