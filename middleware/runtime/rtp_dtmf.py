"""RFC 2833 / 4733 DTMF as a pcap that SIPp replays (play_pcap_audio), generated per call.

sip-tester's captures hold one digit each with fixed RTP sequence numbers and timestamps, so a
second digit in the same call repeats or goes back in sequence and Asterisk drops it as a duplicate.
Generating the packets lets a caller press a whole account number, each press continuing the
sequence of the one before. Pure: bytes out.
"""

from __future__ import annotations

import struct

PAYLOAD_TYPE = 101
SSRC = 0x0CA11CE5
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
EVENT_PACKETS = 7  # 140 ms of tone
END_PACKETS = 3  # RFC 4733: the end of an event is sent three times
GAP_MS = 200
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _frame(rtp: bytes) -> bytes:
    udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                               bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])))
    ip[10:12] = struct.pack("!H", _ipv4_checksum(bytes(ip)))
    return b"\x00" * 12 + b"\x08\x00" + bytes(ip) + udp


def dtmf_packets(digits: str, *, seq: int, timestamp: int) -> list[tuple[float, bytes]]:
    """(seconds from start, RTP packet) for each digit's event, in order."""
    out: list[tuple[float, bytes]] = []
    clock = 0.0
    for digit in digits:
        if digit not in EVENTS:
            raise ValueError(f"{digit!r} is not a DTMF digit")
        for i in range(EVENT_PACKETS + END_PACKETS):
            end = i >= EVENT_PACKETS
            duration = SAMPLES_PER_PACKET * min(i + 1, EVENT_PACKETS)
            marker = 0x80 if i == 0 else 0
            header = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, seq & 0xFFFF, timestamp & 0xFFFFFFFF, SSRC)
            payload = struct.pack("!BBH", EVENTS[digit], (0x80 if end else 0) | 10, duration)
            out.append((clock, header + payload))
            seq += 1
            clock += 0.02 if i < EVENT_PACKETS else 0.005
        clock += GAP_MS / 1000
        timestamp += SAMPLES_PER_PACKET * EVENT_PACKETS + GAP_MS * 8
    return out


def _alaw(sample: int) -> int:
    """G.711 A-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample >= 0 else 0x00
    magnitude = min(abs(sample), 32635) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def voice_packets(seconds_: float, *, seq: int, timestamp: int, hz: float = 425.0,
                  silence_s: float = 0.0) -> list[tuple[float, bytes]]:
    """A steady tone as PCMA RTP (payload type 8), 20 ms a packet: audio for the PBX to record; then
    ``silence_s`` of silent packets (a person who said "hello?" and waits, for AMD to hear)."""
    import math

    out = []
    tone_packets = int(seconds_ * 50)
    silent = bytes([_alaw(0)]) * SAMPLES_PER_PACKET
    for i in range(tone_packets + int(silence_s * 50)):
        start = i * SAMPLES_PER_PACKET
        payload = silent if i >= tone_packets else bytes(
            _alaw(int(8000 * math.sin(2 * math.pi * hz * (start + n) / 8000))) for n in range(SAMPLES_PER_PACKET))
        header = struct.pack("!BBHII", 0x80, 8, (seq + i) & 0xFFFF, (timestamp + start) & 0xFFFFFFFF, SSRC)
        out.append((i * 0.02, header + payload))
    return out


def voice_pcap(seconds_: float, *, seq: int, timestamp: int, silence_s: float = 0.0) -> bytes:
    return _pcap_of(voice_packets(seconds_, seq=seq, timestamp=timestamp, silence_s=silence_s))


def pcap(digits: str, *, seq: int, timestamp: int) -> bytes:
    """A classic libpcap file (Ethernet) carrying the digits' RTP events."""
    return _pcap_of(dtmf_packets(digits, seq=seq, timestamp=timestamp))


def _pcap_of(packets: list[tuple[float, bytes]]) -> bytes:
    body = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for offset, rtp in packets:
        frame = _frame(rtp)
        sec = int(offset)
        usec = round((offset - sec) * 1_000_000)
        body.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    return b"".join(body)


def seconds(digits: str) -> float:
    """How long the pcap plays."""
    per_digit = EVENT_PACKETS * 0.02 + END_PACKETS * 0.005 + GAP_MS / 1000
    return per_digit * len(digits)
