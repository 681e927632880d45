"""What a recording file holds, read from the file itself: format, duration, size, SHA-256. Pure
(bytes in, facts out) apart from ``inspect`` reading the file in chunks."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from middleware.errors import Invalid

GSM_FRAME_BYTES, GSM_FRAME_S = 33, 0.02  # raw GSM 06.10: 160 samples (20 ms) per 33-byte frame


class MediaError(Invalid):
    """A file that is not a recording we can read (truncated header, unknown format)."""


@dataclass(frozen=True)
class MediaInfo:
    format: str  # wav | gsm | sln
    duration_s: float
    size_bytes: int
    sha256: str
    sample_rate: int | None = None
    channels: int | None = None


def wav_duration(header: bytes, size: int) -> tuple[float, int, int]:
    """(seconds, sample rate, channels) of a RIFF/WAVE file from its first bytes and its size.
    The data chunk's declared length is trusted only up to the bytes really on disk (a recording
    cut short by a crash has a header saying more)."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise MediaError("not a RIFF/WAVE file")
    pos, fmt = 12, None
    while pos + 8 <= len(header):
        chunk, length = header[pos:pos + 4], struct.unpack_from("<I", header, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if body + 16 > len(header):
                raise MediaError("truncated fmt chunk")
            _, channels, rate, byte_rate = struct.unpack_from("<HHII", header, body)
            fmt = (channels, rate, byte_rate)
        elif chunk == b"data":
            if fmt is None:
                raise MediaError("data before fmt")
            channels, rate, byte_rate = fmt
            if byte_rate == 0:
                raise MediaError("byte rate 0")
            on_disk = max(0, size - body)
            # 0: the writer has not closed it (or died first); more than on disk: cut short.
            data = on_disk if length == 0 else min(length, on_disk)
            return data / byte_rate, rate, channels
        pos = body + length + (length & 1)
    raise MediaError("no data chunk in the header")


def duration_of(fmt: str, header: bytes, size: int) -> tuple[float, int | None, int | None]:
    if fmt == "wav":
        return wav_duration(header, size)
    if fmt == "gsm":
        return (size // GSM_FRAME_BYTES) * GSM_FRAME_S, 8000, 1
    if fmt == "sln":
        return size / 16000, 8000, 1  # signed linear 16-bit, 8 kHz
    raise MediaError(f"unknown recording format {fmt!r}")


def inspect(path: Path) -> MediaInfo:
    fmt = path.suffix.lstrip(".").lower()
    digest = hashlib.sha256()
    size = 0
    header = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            if len(header) < 4096:
                header += chunk[: 4096 - len(header)]
            digest.update(chunk)
            size += len(chunk)
    seconds, rate, channels = duration_of(fmt, header, size)
    return MediaInfo(fmt, round(seconds, 3), size, digest.hexdigest(), rate, channels)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def wav_complete(header: bytes, size: int) -> bool:
    """Whether a WAV's header accounts for every byte on disk (its writer has closed it)."""
    if len(header) < 12 or header[:4] != b"RIFF":
        return False
    riff_length = int(struct.unpack_from("<I", header, 4)[0])
    return riff_length + 8 == size
