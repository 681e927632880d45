"""The AMI client: panoramisk's Manager wrapped so that it is safe to build a service on.

What the wrapper adds (see ../shared/DESIGN.md for the measured reasons):
- the Manager is created inside the running loop; ``start`` waits for the login, not just the TCP connect;
- every action has a timeout and fails fast with AmiUnavailable while logged out;
- a watchdog pings with a timeout and aborts a silent transport so panoramisk reconnects;
- TCP chunks are decoded with an incremental UTF-8 decoder (multi-byte names survive split reads);
- events go into an asyncio.Queue consumed by one owned task; after every (re)login the ``on_login``
  coroutine runs (state resync).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from middleware.errors import Refused, Unavailable
from middleware.pbx_events import AmiEvent, event_from_headers

log = structlog.get_logger(__name__)

EventHandler = Callable[[AmiEvent], Awaitable[None]]
LoginHook = Callable[[], Awaitable[None]]
_EOM = "\r\n\r\n"


def _text(value: object) -> str:
    # panoramisk turns a repeated header (Output: of a Command) into a list.
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


class AmiUnavailable(Unavailable):
    """Not logged in to Asterisk (down, restarting, wrong secret) or no answer in time."""


class AmiActionFailed(Refused):
    """Asterisk answered an action with Response: Error."""


class Utf8AmiProtocol(AMIProtocol):  # type: ignore[misc]  # (panoramisk is untyped: its classes are Any)
    """AMIProtocol that decodes the stream incrementally instead of chunk by chunk."""

    version: str | None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            banner, _, text = text.partition("\r\n")
            self.version = banner.partition("/")[2].strip()
        self._buffer += text
        *blocks, self._buffer = self._buffer.split(_EOM)
        for block in blocks:
            message = Message.from_line(block.strip())
            if message is not None:
                self.handle_message(message)


class AmiClient:
    def __init__(self, *, host: str, port: int, username: str, secret: str, action_timeout: float,
                 on_event: EventHandler | None = None, on_login: LoginHook | None = None,
                 watchdog_interval: float = 5.0, reconnect_delay: float = 1.0) -> None:
        self._config = dict(host=host, port=port, username=username, secret=secret)
        self._action_timeout = action_timeout
        self._on_event = on_event
        self._on_login = on_login
        self._watchdog_interval = watchdog_interval
        self._reconnect_delay = reconnect_delay
        self._manager: Manager | None = None
        self._events: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._login_tasks: set[asyncio.Task[None]] = set()
        self._logged_in = asyncio.Event()
        self._ids = itertools.count(1)
        self.logins = 0
        self.events_received = 0

    @property
    def connected(self) -> bool:
        return self._manager is not None and bool(self._manager.authenticated) and self._logged_in.is_set()

    async def start(self, wait: float | None = None) -> None:
        """Connect and keep reconnecting; with ``wait``, raise AmiUnavailable if no login by then."""
        loop = asyncio.get_running_loop()
        self._manager = Manager(
            loop=loop, **self._config, protocol_factory=Utf8AmiProtocol,
            ping_delay=3600, ping_interval=3600,  # our watchdog pings instead
            reconnect_timeout=self._reconnect_delay,
            on_login=self._logged_in_cb, on_disconnect=self._disconnected_cb)
        self._manager.register_event("*", self._enqueue)
        self._manager.connect()
        self._tasks.append(asyncio.create_task(self._consume(), name="ami-events"))
        self._tasks.append(asyncio.create_task(self._watchdog(), name="ami-watchdog"))
        if wait is not None:
            await self.wait_connected(wait)

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._logged_in.wait(), timeout)
        except TimeoutError as exc:
            raise AmiUnavailable(
                f"no AMI login to {self._config['host']}:{self._config['port']} within {timeout:.0f}s") from exc

    async def close(self) -> None:
        for task in [*self._tasks, *self._login_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._login_tasks, return_exceptions=True)
        self._tasks.clear()
        if self._manager is not None:
            self._manager.reconnect_timeout = 10**9
            self._manager.connection_lost = lambda exc: None  # no reconnect after an orderly close
            self._manager.close()
            if self._manager.pinger is not None:
                self._manager.pinger.cancel()
        self._logged_in.clear()

    # -- callbacks from panoramisk (plain functions on the loop) --

    def _logged_in_cb(self, manager: Manager) -> None:
        self.logins += 1
        self._logged_in.set()
        log.info("ami.logged_in", host=self._config["host"], logins=self.logins)
        if self._on_login is not None:
            task = asyncio.create_task(self._run_login_hook(), name="ami-resync")
            self._login_tasks.add(task)
            task.add_done_callback(self._login_tasks.discard)

    def _disconnected_cb(self, manager: Manager, exc: object) -> None:
        if self._logged_in.is_set():
            log.warning("ami.disconnected", detail=str(exc)[:200])
        self._logged_in.clear()

    def _enqueue(self, manager: Manager, message: Message) -> None:
        event = event_from_headers(message, datetime.now(UTC))
        if event is not None:
            self.events_received += 1
            self._events.put_nowait(event)

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
                protocol = getattr(self._manager, "protocol", None)
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()

    # -- actions --

    async def action(self, fields: dict[str, str], *, as_list: bool = False,
                     timeout: float | None = None) -> list[dict[str, str]]:
        """Send one action; return its messages (lower-cased headers). Raise on error or timeout."""
        if not self.connected or self._manager is None:
            raise AmiUnavailable(f"AMI not logged in; cannot send {fields.get('Action')}")
        payload = dict(fields)
        payload.setdefault("ActionID", f"cc-{next(self._ids)}")
        future = self._manager.send_action(payload, as_list=as_list)
        try:
            result = await asyncio.wait_for(future, timeout or self._action_timeout)
        except TimeoutError as exc:
            with contextlib.suppress(Exception):
                self._manager.protocol.responses.pop(payload["ActionID"], None)
            raise AmiUnavailable(f"{fields.get('Action')}: no response in time") from exc
        messages = result if isinstance(result, list) else [result]
        plain = [{str(k).lower(): _text(v) for k, v in m.items()} for m in messages]
        if plain and plain[0].get("response", "").lower() == "error":
            raise AmiActionFailed(f"{fields.get('Action')}: {plain[0].get('message', 'error')}")
        return plain

    async def command(self, cli: str) -> str:
        """Run a CLI command through AMI and return its output text."""
        messages = await self.action({"Action": "Command", "Command": cli})
        first = messages[0] if messages else {}
        return first.get("output", first.get("content", ""))
