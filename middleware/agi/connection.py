"""One FastAGI connection at the byte level, as an asyncio Protocol: the request header, then replies.

Bytes are cut into lines as they arrive and a reply is handed to the command waiting for it without a
stream in between (no StreamReader buffer, no readline future per line, no task until the header is
complete). Every buffer is bounded by ``limit``; a line or a header past it ends the connection with
a protocol error. A ``HANGUP`` line is remembered whenever it comes, never taken for a reply.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

from middleware.agi.protocol import HANGUP_LINE, AgiProtocolError, reply_is_complete

HEADER_END = b"\n\n"


class ConnectionOwner(Protocol):
    """What the server hears from a connection."""

    def connection_opened(self, connection: AgiConnection) -> bool: ...  # False: refused, closed at once
    def header_received(self, connection: AgiConnection, block: bytes) -> None: ...
    def header_failed(self, connection: AgiConnection, reason: str) -> None: ...
    def connection_closed(self, connection: AgiConnection) -> None: ...


class AgiClosed(Exception):
    """The connection ended (Asterisk closed it, it was reset, or it was aborted) while a reply was awaited."""


class AgiConnection(asyncio.Protocol):
    def __init__(self, owner: ConnectionOwner, limit: int) -> None:
        self._owner = owner
        self._limit = limit
        self.transport: asyncio.Transport | None = None
        self.peer: object = None
        self._header: bytes | None = b""  # None once the header is complete
        self._partial = b""  # an unfinished line
        self._lines: list[str] = []  # the reply being assembled
        self._reply_bytes = 0
        self._waiter: asyncio.Future[list[str]] | None = None
        self._ready: list[str] | None = None  # a reply no command was waiting for
        self._error: BaseException | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self.hung_up = False
        self.closed = False

    # -- asyncio callbacks --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass, hence the cast, not a check).
        self.transport = cast(asyncio.Transport, transport)
        self.peer = self.transport.get_extra_info("peername")
        if not self._owner.connection_opened(self):
            self._header = None
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self._header is not None:
            self._header_data(data)
            return
        buf = self._partial + data if self._partial else data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            self._line(buf[start:end].decode("utf-8", "replace").rstrip("\r"))
            start = end + 1
        rest = buf[start:] if start else buf
        if len(rest) > self._limit:
            self.fail(AgiProtocolError("reply line too long"))
            return
        self._partial = rest

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        header, self._header = self._header, None
        if header is not None:
            self._owner.header_failed(self, f"connection closed after {len(header)} bytes, before the header ended")
        if self._error is None:
            self._error = AgiClosed("connection closed by Asterisk" if exc is None else f"connection lost: {exc}")
        self._wake_error()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._owner.connection_closed(self)

    def pause_writing(self) -> None:
        self._paused = True  # Asterisk stopped reading; commands wait for resume_writing

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- the header --

    def _header_data(self, data: bytes) -> None:
        assert self._header is not None
        seen = len(self._header)
        buf = self._header + data
        # The blank line may straddle two reads: look from one byte before the new data.
        end = buf.find(HEADER_END, max(0, seen - 1))
        if end < 0:
            if len(buf) > self._limit:
                self._header_error(f"request header exceeds {self._limit} bytes")
            else:
                self._header = buf
            return
        cut = end + len(HEADER_END)
        if cut > self._limit:
            self._header_error(f"request header exceeds {self._limit} bytes")
            return
        self._header = None
        rest = buf[cut:]
        self._owner.header_received(self, buf[:cut])
        if rest and not self.closed:
            self.data_received(rest)  # sent before any command: kept for the first one (it will not match)

    def _header_error(self, reason: str) -> None:
        self._header = None
        self._owner.header_failed(self, reason)
        if self.transport is not None:
            self.transport.abort()

    # -- replies --

    def _line(self, line: str) -> None:
        if line == HANGUP_LINE:
            self.hung_up = True
            return
        lines = self._lines
        if not lines and not line:
            return  # blank lines between replies
        lines.append(line)
        self._reply_bytes += len(line)
        if reply_is_complete(lines):
            self._lines = []
            self._reply_bytes = 0
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                self._waiter = None
                waiter.set_result(lines)
            elif self._ready is None:
                self._ready = lines
            else:
                self.fail(AgiProtocolError("replies arrived that no command asked for"))
        elif self._reply_bytes > self._limit:
            self.fail(AgiProtocolError("reply longer than the bound"))

    def fail(self, error: BaseException) -> None:
        """End the connection: the waiting command (or the next one) raises ``error``."""
        if self._error is None:
            self._error = error
        self._wake_error()
        if self.transport is not None:
            self.transport.abort()

    def _wake_error(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done() and self._error is not None:
            waiter.set_exception(self._error)

    async def exchange(self, payload: bytes) -> list[str]:
        """Send one command line and return its reply's lines (HANGUP lines left out)."""
        if self._error is not None:
            raise self._error
        if self._ready is not None:
            self.fail(AgiProtocolError("a reply arrived before its command"))
            raise self._error  # type: ignore[misc]
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[str]] = loop.create_future()
        self._waiter = waiter  # before writing: the reply may come while we wait for the drain
        try:
            transport.write(payload)
            if self._paused and not waiter.done():
                self._drained = loop.create_future()
                try:
                    await self._drained
                finally:
                    self._drained = None
            return await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
