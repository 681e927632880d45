import hashlib
import io
import wave
from pathlib import Path

import pytest

from middleware.recordings.media import MediaError, duration_of, inspect, wav_duration


def wav_bytes(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate) * channels)
    return buf.getvalue()


def test_wav_facts_come_from_the_file(tmp_path: Path) -> None:
    data = wav_bytes(2.5)
    path = tmp_path / "1795385026.2.wav"
    path.write_bytes(data)
    info = inspect(path)
    assert (info.format, info.duration_s, info.size_bytes, info.sample_rate, info.channels) == (
        "wav", 2.5, len(data), 8000, 1)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_a_truncated_wav_counts_only_the_audio_on_disk() -> None:
    data = wav_bytes(4.0, rate=16000, channels=2)
    cut = data[: len(data) // 2]
    seconds, rate, channels = wav_duration(cut[:4096], len(cut))
    assert (rate, channels) == (16000, 2) and 1.9 < seconds < 2.0


def test_gsm_and_errors() -> None:
    assert duration_of("gsm", b"", 33 * 50)[0] == 1.0
    with pytest.raises(MediaError):
        wav_duration(b"RIFX" + b"\0" * 40, 44)
    with pytest.raises(MediaError):
        duration_of("mp3", b"", 10)


def test_a_wav_still_being_written_is_not_complete() -> None:
    from middleware.recordings.media import wav_complete

    data = wav_bytes(1.0)
    assert wav_complete(data[:64], len(data))
    still_open = data[:4] + b"\x24\x00\x00\x00" + data[8:40] + b"\0\0\0\0" + data[44:]  # lengths not yet written
    assert not wav_complete(still_open[:64], len(still_open))
    assert wav_duration(still_open[:64], len(still_open))[0] == 1.0  # the audio on disk still counts


def test_generated_voice_is_pcma_at_50_packets_a_second() -> None:
    from middleware.runtime.rtp_dtmf import _alaw, voice_packets

    assert [_alaw(x) for x in (0, 1000, -1000, 32767, -32768, 300, -7000)] == [213, 250, 122, 170, 42, 199, 14]
    packets = voice_packets(1.0, seq=10, timestamp=0)
    assert len(packets) == 50 and packets[1][0] == 0.02
    first = packets[0][1]
    assert first[1] == 8 and len(first) == 12 + 160  # payload type 8 (PCMA), 20 ms of samples
