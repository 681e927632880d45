"""The AMI wire format, pure: bytes from Asterisk -> header dicts, actions -> bytes.

A message is ``Key: value`` lines ended by an empty line. Keys are lower-cased once here, values are
stripped, and a repeated key (``Output:`` of a Command, ``ChanVariable:``) keeps every value, joined
by newlines. Messages are cut at the byte level: the separator never falls inside a UTF-8 character,
so each complete message is decoded whole (a name split across two TCP reads survives).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from middleware.errors import Invalid
from middleware.pbx_events import AmiEvent, parse_timestamp

EOM = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/"
MAX_PENDING_BYTES = 4 * 1024 * 1024  # a message longer than this is not AMI: the stream is cut


class MalformedStream(Exception):
    """The peer sent something that is not an AMI stream (a message larger than MAX_PENDING_BYTES)."""


class UnsafeAction(Invalid):
    """An action whose header would break the framing (a line break in a name or value)."""


def parse_message(text: str) -> dict[str, str]:
    """One message's lines -> headers (lower-cased keys); lines without a colon are skipped."""
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if not key:
            continue
        value = value.strip()
        if key in headers:
            headers[key] = f"{headers[key]}\n{value}"
        else:
            headers[key] = value
    return headers


def event_of(headers: dict[str, str], received_at: datetime) -> AmiEvent | None:
    """The typed event for parsed headers (already lower-cased); None for responses."""
    name = headers.get("event")
    if not name:
        return None
    stamp = headers.get("timestamp")
    at = (parse_timestamp(stamp) if stamp else None) or received_at
    return AmiEvent(name=name, headers=headers, at=at)


class MessageReader:
    """Incremental: feed TCP chunks, get complete messages back in order."""

    def __init__(self, max_pending: int = MAX_PENDING_BYTES) -> None:
        self._buffer = b""
        self._max_pending = max_pending
        self.version: str | None = None

    def feed(self, data: bytes) -> list[dict[str, str]]:
        buffer = self._buffer + data if self._buffer else data
        if self.version is None and buffer.startswith(BANNER):
            line, sep, rest = buffer.partition(b"\r\n")
            if not sep:
                self._buffer = buffer
                return []
            self.version = line[len(BANNER):].decode("ascii", "replace").strip()
            buffer = rest
        *blocks, self._buffer = buffer.split(EOM)
        if len(self._buffer) > self._max_pending:
            raise MalformedStream(f"no message end within {self._max_pending} bytes")
        out = []
        for block in blocks:
            headers = parse_message(block.decode("utf-8", "replace"))
            if headers:
                out.append(headers)
        return out


def encode_action(fields: Mapping[str, str]) -> bytes:
    """``Key: value`` lines and the empty line; a CR or LF in a key or value is refused."""
    lines = []
    for key, value in fields.items():
        text = str(value)
        if any(ch in key or ch in text for ch in "\r\n") or ":" in key:
            raise UnsafeAction(f"AMI header {key!r} would break the message framing")
        lines.append(f"{key}: {text}\r\n")
    return ("".join(lines) + "\r\n").encode("utf-8")


def ends_list(message: Mapping[str, str]) -> bool:
    """The last message of an action's event list (``EventList: Complete`` or a ``...Complete`` event)."""
    return message.get("eventlist", "").lower() == "complete" or message.get("event", "").endswith("Complete")


def is_error(message: Mapping[str, str]) -> bool:
    return message.get("response", "").lower() == "error"
