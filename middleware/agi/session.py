"""One FastAGI conversation: send a command, await its whole reply, notice the caller hanging up.

Every wait is bounded. A HANGUP line may arrive at any time and is remembered, not mistaken for a
reply; a 511 reply (dead channel) or EOF raises AgiHangup so handlers stop cleanly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from middleware.agi.connection import AgiClosed, AgiConnection
from middleware.agi.protocol import (
    AgiProtocolError,
    AgiReply,
    AgiRequest,
    format_command,
    parse_reply,
)

log = structlog.get_logger(__name__)


class AgiHangup(Exception):
    """The channel is gone (HANGUP then 511, or the connection closed)."""


class AgiCommandError(Exception):
    """Asterisk refused a command (510 unknown, 520 usage)."""

    def __init__(self, command: str, reply: AgiReply) -> None:
        super().__init__(f"{command.strip()}: {reply.code} {reply.text}")
        self.reply = reply


class AgiTimeout(Exception):
    """No reply within the command's time limit; the session is unusable afterwards."""


class Watch:
    """A connection's deadline, checked by the server's reaper (one timer for all connections, not a
    timer per command: at thousands of sessions, per-command timers cost a third of the throughput)."""

    __slots__ = ("connection", "deadline", "expired")

    def __init__(self, connection: AgiConnection, deadline: float | None) -> None:
        self.connection = connection
        self.deadline = deadline
        self.expired = False

    def check(self, now: float) -> None:
        if self.deadline is not None and now > self.deadline and not self.expired:
            self.expired = True
            self.connection.abort()


class AgiSession:
    def __init__(self, request: AgiRequest, connection: AgiConnection, command_timeout: float,
                 watch: Watch | None = None, turnaround: Callable[[float], None] | None = None) -> None:
        self.request = request
        # Our turnaround: from the request (or Asterisk's last reply) to our next command.
        self._turnaround = turnaround
        self._loop = asyncio.get_running_loop()
        self._ready_at = self._loop.time()
        self._connection = connection
        self._command_timeout = command_timeout
        self._watch = watch
        self._broken = False
        self.commands_sent = 0

    @property
    def hung_up(self) -> bool:
        """Whether Asterisk has said HANGUP (or the channel is known dead)."""
        return self._connection.hung_up

    async def command(self, verb: str, *args: str | int, timeout: float | None = None) -> AgiReply:
        """Send one command and return its reply; raise AgiHangup on a dead channel."""
        if self._broken:
            raise AgiHangup("session already closed")
        payload = format_command(verb, *args)
        limit = self._command_timeout if timeout is None else timeout
        self.commands_sent += 1
        watch = self._watch
        if self._turnaround is not None:
            self._turnaround(self._loop.time() - self._ready_at)
        try:
            if watch is None:
                async with asyncio.timeout(limit):
                    lines = await self._connection.exchange(payload)
            else:
                watch.deadline = self._loop.time() + limit
                try:
                    lines = await self._connection.exchange(payload)
                finally:
                    watch.deadline = None
        except TimeoutError as exc:
            self._broken = True
            raise AgiTimeout(f"{verb}: no reply within {limit:.1f}s") from exc
        except (ConnectionError, AgiClosed) as exc:
            self._broken = True
            if watch is not None and watch.expired:
                raise AgiTimeout(f"{verb}: no reply within {limit:.1f}s") from exc
            self._connection.hung_up = True
            raise AgiHangup(str(exc)) from exc
        except AgiProtocolError:
            self._broken = True
            raise
        self._ready_at = self._loop.time()
        reply = parse_reply(lines)
        if reply.code == 511:
            self._broken = True
            self._connection.hung_up = True
            raise AgiHangup(f"{verb}: channel is dead (511)")
        if reply.code != 200:
            raise AgiCommandError(payload.decode(), reply)
        return reply

    # The commands our routes use, with the reply turned into a plain value.

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)

    async def set_variable(self, name: str, value: str | int) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET FULL VARIABLE", f"${{{name}}}")
        return reply.data if reply.result == "1" else None

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str:
        """Play a prompt; return the digit that interrupted it, or ''."""
        reply = await self.command("STREAM FILE", prompt, escape_digits)
        if reply.result_int == -1:
            raise AgiHangup("STREAM FILE failed: channel gone or prompt missing")
        return chr(reply.result_int) if reply.result_int > 0 else ""

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play a prompt and collect up to max_digits; return (digits, timed_out)."""
        # Asterisk's own timeout applies per digit after the prompt; allow for the prompt's length.
        limit = self._command_timeout + timeout_ms / 1000 * max(1, max_digits)
        reply = await self.command("GET DATA", prompt, timeout_ms, max_digits, timeout=limit)
        if reply.result == "-1":
            raise AgiHangup("GET DATA: channel hung up")
        return reply.result, reply.data == "timeout"

    async def exec_app(self, application: str, options: str = "") -> int:
        reply = await self.command("EXEC", application, options)
        return reply.result_int

    async def hangup(self) -> None:
        await self.command("HANGUP")
