"""PBX events as plain, typed values (parsed from AMI headers), shared by the AMI client and the cores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(slots=True)
class AmiEvent:
    """One AMI event. Header names are lower-cased; values are kept verbatim. Treated as immutable
    (not frozen: a frozen dataclass costs four times as much to build, and every AMI event is one)."""

    name: str
    headers: Mapping[str, str]
    at: datetime

    def get(self, header: str, default: str = "") -> str:
        value = self.headers.get(header)
        return value if value is not None else self.headers.get(header.lower(), default)

    @property
    def linkedid(self) -> str:
        return self.get("linkedid")

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")


def parse_timestamp(value: str) -> datetime | None:
    """``1732300000.123456`` (manager.conf timestampevents) -> aware UTC datetime."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def event_from_headers(headers: Mapping[str, str], received_at: datetime) -> AmiEvent | None:
    """Build an AmiEvent; None for messages that are not events (responses, banners)."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    name = lowered.get("event")
    if not name:
        return None
    at = parse_timestamp(lowered.get("timestamp", "")) or received_at
    return AmiEvent(name=name, headers=lowered, at=at)


def parse_message_block(block: str) -> dict[str, str]:
    """One AMI message (``Key: value`` lines) -> headers; repeated keys keep the last value."""
    headers: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            headers[key.strip()] = value.strip()
    return headers


def endpoint_of_channel(channel: str) -> str:
    """``PJSIP/acme-1001-0000002a`` -> ``acme-1001`` (the suffix after the last dash is the sequence)."""
    tech, _, rest = channel.partition("/")
    if tech.upper() != "PJSIP" or "-" not in rest:
        return ""
    return rest.rsplit("-", 1)[0]
