"""The AMI client on asyncio streams: one connection, kept logged in, safe to build a service on.

- ``start`` connects inside the running loop and, with ``wait``, waits for the login, not just the
  TCP connect; a lost or refused connection is retried every ``reconnect_delay`` seconds;
- every action has a timeout and fails fast with AmiUnavailable while logged out; actions waiting
  when the connection drops fail at once (AmiUnavailable), they are not replayed blind;
- a watchdog pings with a timeout and aborts a silent transport, so the connection is made again;
- each message is parsed once (``ami.wire``) into lower-cased headers, and events into AmiEvent;
- events go into an asyncio.Queue consumed by one owned task; after every (re)login the ``on_login``
  coroutine runs (state resync).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from middleware.ami import wire
from middleware.errors import Refused, Unavailable
from middleware.pbx_events import AmiEvent

log = structlog.get_logger(__name__)

EventHandler = Callable[[AmiEvent], Awaitable[None]]
LoginHook = Callable[[], Awaitable[None]]
READ_CHUNK = 256 * 1024


class AmiUnavailable(Unavailable):
    """Not logged in to Asterisk (down, restarting, wrong secret) or no answer in time."""


class AmiActionFailed(Refused):
    """Asterisk answered an action with Response: Error."""


@dataclass
class _Pending:
    """An action sent and not yet answered in full."""

    future: asyncio.Future[list[dict[str, str]]]
    as_list: bool
    messages: list[dict[str, str]] = field(default_factory=list)

    def add(self, message: dict[str, str]) -> bool:
        """Take one message of the answer; True when the answer is complete."""
        self.messages.append(message)
        if not self.as_list or wire.is_error(message) or wire.ends_list(message):
            if not self.future.done():
                self.future.set_result(self.messages)
            return True
        return False


class AmiClient:
    def __init__(self, *, host: str, port: int, username: str, secret: str, action_timeout: float,
                 on_event: EventHandler | None = None, on_login: LoginHook | None = None,
                 watchdog_interval: float = 5.0, reconnect_delay: float = 1.0) -> None:
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        self._action_timeout = action_timeout
        self._on_event = on_event
        self._on_login = on_login
        self._watchdog_interval = watchdog_interval
        self._reconnect_delay = reconnect_delay
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, _Pending] = {}
        self._events: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._login_tasks: set[asyncio.Task[None]] = set()
        self._logged_in = asyncio.Event()
        self._ids = itertools.count(1)
        self.version: str | None = None
        self.logins = 0
        self.events_received = 0

    @property
    def connected(self) -> bool:
        return self._writer is not None and self._logged_in.is_set()

    async def start(self, wait: float | None = None) -> None:
        """Connect and keep reconnecting; with ``wait``, raise AmiUnavailable if no login by then."""
        self._tasks.append(asyncio.create_task(self._run(), name="ami-connection"))
        self._tasks.append(asyncio.create_task(self._consume(), name="ami-events"))
        self._tasks.append(asyncio.create_task(self._watchdog(), name="ami-watchdog"))
        if wait is not None:
            await self.wait_connected(wait)

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._logged_in.wait(), timeout)
        except TimeoutError as exc:
            raise AmiUnavailable(f"no AMI login to {self._host}:{self._port} within {timeout:.0f}s") from exc

    async def close(self) -> None:
        for task in [*self._tasks, *self._login_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._login_tasks, return_exceptions=True)
        self._tasks.clear()
        self._logged_in.clear()

    # -- the connection --

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except (OSError, TimeoutError, wire.MalformedStream) as exc:
                if self._logged_in.is_set():
                    log.warning("ami.disconnected", detail=str(exc)[:200])
            finally:
                self._dropped()
            await asyncio.sleep(self._reconnect_delay)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self._host, self._port),
                                                self._action_timeout)
        self._writer = writer
        messages = wire.MessageReader()
        login = asyncio.create_task(self._login(), name="ami-login")
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    if self._logged_in.is_set():
                        log.warning("ami.disconnected", detail="connection closed by Asterisk")
                    return
                received = datetime.now(UTC)
                for headers in messages.feed(data):
                    self._handle(headers, received)
                self.version = messages.version
        finally:
            login.cancel()
            writer.close()

    async def _login(self) -> None:
        try:
            await self._request({"Action": "Login", "Username": self._username, "Secret": self._secret},
                                as_list=False, timeout=self._action_timeout)
        except (AmiUnavailable, AmiActionFailed) as exc:
            log.error("ami.login_failed", host=self._host, detail=str(exc))
            if self._writer is not None:
                self._writer.transport.abort()
            return
        self.logins += 1
        self._logged_in.set()
        log.info("ami.logged_in", host=self._host, logins=self.logins)
        if self._on_login is not None:
            task = asyncio.create_task(self._run_login_hook(), name="ami-resync")
            self._login_tasks.add(task)
            task.add_done_callback(self._login_tasks.discard)

    def _dropped(self) -> None:
        self._logged_in.clear()
        self._writer = None
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(AmiUnavailable("AMI connection lost before the answer"))

    def _handle(self, headers: dict[str, str], received: datetime) -> None:
        action_id = headers.get("actionid")
        if action_id is not None and (pending := self._pending.get(action_id)) is not None:
            if pending.add(headers):
                del self._pending[action_id]
            return
        event = wire.event_of(headers, received)
        if event is None:
            return
        self.events_received += 1
        self._events.put_nowait(event)
        if event.name == "Shutdown" and self._writer is not None:
            self._writer.transport.abort()  # Asterisk is stopping: connect again until it is back

    async def _run_login_hook(self) -> None:
        assert self._on_login is not None
        try:
            await self._on_login()
        except AmiUnavailable as exc:
            log.warning("ami.resync_interrupted", detail=str(exc))
        except Exception:
            log.exception("ami.resync_failed")

    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            if self._on_event is None:
                continue
            try:
                await self._on_event(event)
            except Exception:
                # (structlog's first parameter is called "event": the AMI event goes by another name)
                log.exception("ami.event_handler_failed", ami_event=event.name, linkedid=event.linkedid)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self._watchdog_interval)
            if not self.connected:
                continue
            try:
                await self.action({"Action": "Ping"}, timeout=self._watchdog_interval)
            except (AmiUnavailable, AmiActionFailed):
                log.warning("ami.watchdog_abort", detail="no Pong in time")
                self._logged_in.clear()
                if self._writer is not None:
                    self._writer.transport.abort()

    # -- actions --

    async def _request(self, fields: dict[str, str], *, as_list: bool, timeout: float) -> list[dict[str, str]]:
        writer = self._writer
        if writer is None:
            raise AmiUnavailable(f"AMI not connected; cannot send {fields.get('Action')}")
        payload = dict(fields)
        action_id = payload.setdefault("ActionID", f"cc-{next(self._ids)}")
        data = wire.encode_action(payload)
        pending = _Pending(asyncio.get_running_loop().create_future(), as_list)
        self._pending[action_id] = pending
        try:
            writer.write(data)
            messages = await asyncio.wait_for(pending.future, timeout)
        except TimeoutError as exc:
            raise AmiUnavailable(f"{fields.get('Action')}: no response in time") from exc
        finally:
            if self._pending.get(action_id) is pending:
                del self._pending[action_id]
        if messages and wire.is_error(messages[0]):
            raise AmiActionFailed(f"{fields.get('Action')}: {messages[0].get('message', 'error')}")
        return messages

    async def action(self, fields: dict[str, str], *, as_list: bool = False,
                     timeout: float | None = None) -> list[dict[str, str]]:
        """Send one action; return its messages (lower-cased headers). Raise on error or timeout.

        With ``as_list`` the answer is the response and every event of its list, up to the one that
        ends it; otherwise the response alone (an async Originate's OriginateResponse comes later,
        as an ordinary event)."""
        if not self.connected:
            raise AmiUnavailable(f"AMI not logged in; cannot send {fields.get('Action')}")
        return await self._request(fields, as_list=as_list, timeout=timeout or self._action_timeout)

    async def command(self, cli: str) -> str:
        """Run a CLI command through AMI and return its output text."""
        messages = await self.action({"Action": "Command", "Command": cli})
        first = messages[0] if messages else {}
        return first.get("output", first.get("content", ""))

