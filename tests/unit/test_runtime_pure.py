"""Pure parts of the runtime: config templating, mount parsing, rootfs stamps, SIPp scenarios."""

import struct
from pathlib import Path

import pytest

from middleware.config import load_settings
from middleware.runtime import asterisk_config, rootfs, rtp_dtmf
from middleware.runtime.sipp import render_caller


def test_render_fills_placeholders_and_refuses_unknown() -> None:
    assert asterisk_config.render("secret = @AMI_SECRET@", {"AMI_SECRET": "s3"}) == "secret = s3"
    with pytest.raises(asterisk_config.TemplateError, match="@NOPE@"):
        asterisk_config.render("x = @NOPE@", {})


def test_install_renders_repo_config_with_the_secret_from_settings(tmp_path: Path) -> None:
    settings = load_settings(env={"AMI_SECRET": "not-the-default", "AMI_USER": "ccuser"})
    target = tmp_path / "etc-asterisk"
    (target / "generated").mkdir(parents=True)
    (target / "generated" / "pjsip.conf").write_text("; provisioned\n")
    (target / "sample.conf").write_text("; Debian's sample, must go\n")
    asterisk_config.install(settings, target)
    manager = (target / "manager.conf").read_text()
    assert "[ccuser]" in manager and "secret = not-the-default" in manager and "@" not in manager.split("[ccuser]")[1]
    assert (target / "extensions.conf").exists() and not (target / "sample.conf").exists()
    assert (target / "generated" / "pjsip.conf").read_text() == "; provisioned\n"  # kept
    assert "[dids-generated]" in (target / "generated" / "extensions.conf").read_text()


def test_mounted_under_lists_deepest_first() -> None:
    mounts = ("proc /srv/root/proc proc rw 0 0\nudev /srv/root/dev devtmpfs rw 0 0\n"
              "devpts /srv/root/dev/pts devpts rw 0 0\nproc /srv/rootfs2/proc proc rw 0 0\n")
    found = rootfs.mounted_under(Path("/srv/root"), mounts)
    assert found[0] == Path("/srv/root/dev/pts")
    assert set(found) == {Path("/srv/root/proc"), Path("/srv/root/dev"), Path("/srv/root/dev/pts")}


def test_stamp_changes_with_the_package_list() -> None:
    assert rootfs.wanted_stamp(("a", "b")) == rootfs.wanted_stamp(("b", "a"))
    assert rootfs.wanted_stamp(("a",)) != rootfs.wanted_stamp(("a", "c"))


def test_caller_scenario_replays_one_capture_per_press() -> None:
    xml = render_caller(presses=[(1500, "1#"), (2000, "3")], caller="12125550101", hold_ms=3000,
                        pcap_paths=["/x/p0.pcap", "/x/p1.pcap"])
    assert xml.count("play_pcap_audio") == 2
    assert xml.index('milliseconds="1500"') < xml.index("/x/p0.pcap") < xml.index('milliseconds="2000"')
    assert "{" not in xml
    with pytest.raises(ValueError):
        render_caller(presses=[(1, "1")], caller="evil@host", hold_ms=1, pcap_paths=["/x"])


def test_generated_dtmf_keeps_sequence_and_marks_event_ends() -> None:
    packets = rtp_dtmf.dtmf_packets("99#", seq=65534, timestamp=1000)
    seqs = [struct.unpack("!H", rtp[2:4])[0] for _, rtp in packets]
    assert seqs == [(65534 + i) & 0xFFFF for i in range(len(packets))]  # wraps, never repeats
    stamps = sorted({struct.unpack("!I", rtp[4:8])[0] for _, rtp in packets})
    assert len(stamps) == 3  # one RTP timestamp per digit: the repeated 9 is a new event
    events = [(rtp[12], bool(rtp[13] & 0x80)) for _, rtp in packets]
    assert events.count((9, True)) == 6 and events.count((11, True)) == 3
    assert all(rtp[1] & 0x7F == 101 for _, rtp in packets)
    data = rtp_dtmf.pcap("1", seq=1, timestamp=0)
    assert data[:4] == bytes.fromhex("d4c3b2a1") and len(data) == 24 + 10 * (16 + 14 + 20 + 8 + 16)
    with pytest.raises(ValueError):
        rtp_dtmf.pcap("A", seq=1, timestamp=0)
