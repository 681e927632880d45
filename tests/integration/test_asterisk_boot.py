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
