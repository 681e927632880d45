"""The FastAGI server: one asyncio Protocol per connection (connection.py), one task per session.

A connection costs no task until its header is complete, then one; a slow, truncated, oversized or
garbage request only ever costs its own connection. Routes are looked up by script name
(``agi://host:4573/<name>?k=v``); an unknown script, a handler error or a protocol error leaves
``CC_AGI_ERROR`` on the channel so the dialplan takes its fallback path instead of leaving the
caller in silence.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import structlog

from middleware.agi.connection import AgiConnection
from middleware.agi.protocol import AgiProtocolError, AgiRequest, parse_header_block
from middleware.agi.session import AgiCommandError, AgiHangup, AgiSession, AgiTimeout, Watch

log = structlog.get_logger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]
ERROR_VARIABLE = "CC_AGI_ERROR"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def peer_allowed(address: str | None, allow: tuple[Network, ...]) -> bool:
    """Whether a connection from ``address`` may speak FastAGI (IPv4-mapped IPv6 counts as IPv4)."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allow)


class DuplicateRoute(ValueError):
    """Two handlers claim the same script name."""


def route_table(routes: Iterable[tuple[str, Handler]]) -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for name, handler in routes:
        key = name.strip("/")
        if key in table:
            raise DuplicateRoute(f"AGI route {key!r} is defined twice")
        table[key] = handler
    return table


class FastAgiServer:
    def __init__(self, routes: dict[str, Handler], *, host: str, port: int, max_header_bytes: int,
                 header_timeout: float, command_timeout: float, max_sessions: int = 1000,
                 allow: tuple[Network, ...] = LOOPBACK) -> None:
        self._routes = routes
        # More sessions than Asterisk's calls could need is a flood: refused (the dialplan falls back)
        # before they cost a task each; so is any peer outside the networks Asterisk runs on.
        self._max_sessions = max_sessions
        self._allow = allow
        self._peers: dict[str | None, bool] = {}  # address -> allowed, remembered
        self.sessions_refused = 0   # over max_sessions
        self.peers_refused = 0      # from an address not allowed
        self._host = host
        self._port = port
        self._max_header_bytes = max_header_bytes
        self._header_timeout = header_timeout
        self._command_timeout = command_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # one per session past its header
        self._connections: dict[AgiConnection, Watch] = {}
        self._reaper: asyncio.Task[None] | None = None
        # The reaper's period bounds how late a timeout fires.
        self._reap_every = min(0.5, header_timeout / 4, command_timeout / 4)
        self.sessions_served = 0
        self.requests_rejected = 0
        self.turnarounds: deque[float] = deque(maxlen=20_000)  # seconds, the most recent commands

    @property
    def active_sessions(self) -> int:
        return len(self._connections)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        limit = self._max_header_bytes
        self._server = await asyncio.get_running_loop().create_server(
            lambda: AgiConnection(self, limit), self._host, self._port, reuse_address=True,
            backlog=4096)  # a burst of calls must not overflow the accept queue (SYN retries cost 1 s)
        self._reaper = asyncio.create_task(self._reap(), name="agi-reaper")
        log.info("agi.listening", host=self._host, port=self.port, routes=sorted(self._routes))

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._reap_every)
            now = loop.time()
            for watch in list(self._connections.values()):
                watch.check(now)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for connection in list(self._connections):  # those still reading their header
            connection.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- what the connections tell us (ConnectionOwner) --

    def connection_opened(self, connection: AgiConnection) -> bool:
        if self._refusal(connection.peer) is not None:
            return False
        watch = Watch(connection, asyncio.get_running_loop().time() + self._header_timeout)
        self._connections[connection] = watch
        return True

    def header_failed(self, connection: AgiConnection, reason: str) -> None:
        watch = self._connections.get(connection)
        self.requests_rejected += 1
        if watch is not None and watch.expired:
            reason = f"no complete header within {self._header_timeout:.1f}s"
        log.warning("agi.request_rejected", peer=str(connection.peer), reason=reason)

    def header_received(self, connection: AgiConnection, block: bytes) -> None:
        watch = self._connections.get(connection)
        if watch is None:
            connection.abort()
            return
        try:
            request = parse_header_block(block)
        except AgiProtocolError as exc:
            self.header_failed(connection, str(exc))
            connection.abort()
            return
        watch.deadline = None
        task = asyncio.get_running_loop().create_task(self._serve(connection, request, watch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def connection_closed(self, connection: AgiConnection) -> None:
        self._connections.pop(connection, None)

    def _refusal(self, peer: object) -> str | None:
        """Why a new connection is refused at once, or None to serve it."""
        address = peer[0] if isinstance(peer, tuple) and peer else None
        allowed = self._peers.get(address)  # Asterisk connects from the same few addresses
        if allowed is None:
            allowed = peer_allowed(address, self._allow)
            if len(self._peers) < 1024:
                self._peers[address] = allowed
        if not allowed:
            self.peers_refused += 1
            if self.peers_refused & (self.peers_refused - 1) == 0:  # 1st, 2nd, 4th, 8th, ...: no log flood
                log.warning("agi.peer_refused", peer=str(address), refused=self.peers_refused)
            return "peer"
        if len(self._connections) >= self._max_sessions:
            self.sessions_refused += 1
            if self.sessions_refused & (self.sessions_refused - 1) == 0:
                log.warning("agi.sessions_full", max_sessions=self._max_sessions, refused=self.sessions_refused)
            return "full"
        return None

    async def _serve(self, connection: AgiConnection, request: AgiRequest, watch: Watch) -> None:
        session = AgiSession(request, connection, self._command_timeout, watch, self.turnarounds.append)
        # This task's own context: bound once, gone with the task (no reset needed).
        structlog.contextvars.bind_contextvars(linkedid=request.query.get("linkedid") or request.uniqueid,
                                               channel=request.channel, agi_script=request.script)
        try:
            handler = self._routes.get(request.script)
            if handler is None:
                log.error("agi.unknown_script", known=sorted(self._routes))
                await self._leave_error(session, f"unknown script {request.script}")
                return
            self.sessions_served += 1
            try:
                await handler(session)
            except AgiHangup as exc:
                log.info("agi.caller_hung_up", detail=str(exc))
            except AgiTimeout as exc:
                log.error("agi.command_timeout", detail=str(exc))
            except (AgiCommandError, AgiProtocolError) as exc:
                log.error("agi.protocol_error", detail=str(exc))
                await self._leave_error(session, str(exc))
            except Exception as exc:
                log.exception("agi.handler_failed")
                await self._leave_error(session, f"internal error: {type(exc).__name__}")
        except asyncio.CancelledError:
            # Only close() cancels us, and it awaits us.
            log.info("agi.session_cancelled", reason="server closing")
        finally:
            connection.close()  # Asterisk ends the AGI when we close; the transport flushes first

    async def _leave_error(self, session: AgiSession, reason: str) -> None:
        try:
            await session.set_variable(ERROR_VARIABLE, reason[:200])
        except (AgiHangup, AgiTimeout, AgiCommandError, AgiProtocolError, ConnectionError):
            pass
