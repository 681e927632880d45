"""Asterisk starts from the repo's configuration with exactly the modules we use and no error lines."""

from __future__ import annotations

import re

from middleware.config import Settings
from middleware.runtime import asterisk


def test_boot_is_clean_and_loads_what_the_call_center_needs(pbx: Settings) -> None:
    output = (pbx.run_dir / "asterisk.out").read_text(errors="replace")
    assert "Asterisk Ready." in output
    boot = output.split("Asterisk Ready.")[0]  # later lines belong to the calls other tests made
    noise = [line for line in boot.splitlines() if re.search(r"\b(ERROR|WARNING)\[", line)]
    assert noise == []
    modules = asterisk.rx(pbx, "module show")
    for needed in ("chan_pjsip.so", "app_queue.so", "res_agi.so", "cdr_manager.so", "cel_manager.so",
                   "app_mixmonitor.so", "app_agent_pool.so", "app_chanspy.so", "app_amd.so"):
        assert needed in modules, needed
    assert "chan_iax2.so" not in modules  # nothing autoloaded
    transports = asterisk.rx(pbx, "pjsip show transports")
    assert "transport-udp" in transports and "127.0.0.1:5060" in transports
    manager = asterisk.rx(pbx, "manager show settings")
    assert re.search(r"Timestamp events:\s+Yes", manager)


def test_the_pbx_holds_no_shell_for_a_stolen_secret_and_no_secret_for_other_users(pbx: Settings) -> None:
    """Config with secrets was 0644 (any local user read the AMI secret); func_shell and func_env were
    loaded; Asterisk ran with the uid of the host's postgres account."""
    import os
    import pwd
    import stat
    from pathlib import Path

    modules = asterisk.rx(pbx, "module show")
    for dangerous in ("func_shell.so", "func_env.so", "app_system.so", "app_exec.so"):
        assert dangerous not in modules, dangerous
        assert not list((pbx.asterisk_root / "usr" / "lib").glob(f"*/asterisk/modules/{dangerous}")), dangerous
    etc = pbx.asterisk_root / "etc" / "asterisk"
    group = next(int(line.split(":")[2]) for line in (pbx.asterisk_root / "etc" / "group").read_text().splitlines()
                 if line.startswith("asterisk:"))
    for path in (etc / "manager.conf", etc / "pjsip.conf", etc / "generated" / "pjsip.conf",
                 etc / "generated" / "extensions.conf"):
        st = path.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, group), path
    assert "secret = " in (etc / "manager.conf").read_text()  # (what the mode protects)
    running = set()
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "asterisk":
                running |= {int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                            if line.startswith("Uid:")}
        except OSError:
            continue  # gone meanwhile
    assert running and 0 not in running, running
    for uid in running:
        try:
            host_account = pwd.getpwuid(uid).pw_name
        except KeyError:
            host_account = None
        assert host_account is None, f"Asterisk runs as uid {uid}, the host's {host_account}"
