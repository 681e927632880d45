"""Run the rootfs Asterisk under chroot: install config, start, wait until booted, stop, status."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from middleware.config import Settings
from middleware.runtime import asterisk_config, rootfs

ASTERISK_BIN = "/usr/sbin/asterisk"
RUNTIME_DIRS: tuple[str, ...] = ("/run/asterisk", "/var/log/asterisk", "/var/spool/asterisk/monitor",
                                 "/var/spool/asterisk/recording", "/var/lib/asterisk")


class AsteriskError(RuntimeError):
    """Asterisk could not be started, reached or stopped."""


@dataclass(frozen=True)
class AsteriskStatus:
    running: bool
    pid: int | None
    detail: str


def _pid_file(settings: Settings) -> Path:
    return settings.run_dir / "asterisk.pid"


def log_path(settings: Settings) -> Path:
    return settings.asterisk_root / "var" / "log" / "asterisk" / "full.log"


def rx(settings: Settings, command: str, timeout: float = 10.0) -> str:
    """Run one CLI command against the running Asterisk (``asterisk -rx``)."""
    proc = subprocess.run(["chroot", str(settings.asterisk_root), ASTERISK_BIN, "-rx", command],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AsteriskError(f"asterisk -rx {command!r}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _read_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def status(settings: Settings) -> AsteriskStatus:
    pid = _read_pid(settings)
    if pid is None:
        return AsteriskStatus(False, None, "not running")
    try:
        uptime = rx(settings, "core show uptime seconds", timeout=5).strip().replace("\n", "; ")
    except (AsteriskError, subprocess.TimeoutExpired) as exc:
        return AsteriskStatus(True, pid, f"process alive but CLI unreachable: {exc}")
    return AsteriskStatus(True, pid, uptime)


def start(settings: Settings, *, timeout: float = 60.0) -> int:
    """Install the config and start Asterisk in the rootfs; return its pid once fully booted."""
    root = settings.asterisk_root
    if not rootfs.is_current(root):
        raise AsteriskError(f"no current Asterisk rootfs at {root}: run `callcenter asterisk build`")
    running = _read_pid(settings)
    if running is not None:
        raise AsteriskError(f"Asterisk already runs (pid {running}); `callcenter stack down` first")
    busy = ports_in_use(settings)
    if busy:
        raise AsteriskError(f"something else already listens on {', '.join(busy)} (another Asterisk from "
                            "another checkout?); stop it first")
    asterisk_config.install(settings, root / "etc" / "asterisk")
    _write_hosts(root)
    rootfs.mount_system(root)
    # Made inside the chroot: var/run is an absolute symlink that would resolve on the host.
    subprocess.run(["chroot", str(root), "install", "-d", "-o", "asterisk", "-g", "asterisk",
                    *RUNTIME_DIRS], check=True)
    # Stale control socket from an unclean stop would make -rx talk to nothing.
    (root / "run/asterisk/asterisk.ctl").unlink(missing_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    out = open(settings.run_dir / "asterisk.out", "wb")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TZ": "UTC", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(
        ["chroot", str(root), ASTERISK_BIN, "-f", "-n", "-U", "asterisk", "-G", "asterisk"],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    out.close()
    _pid_file(settings).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AsteriskError(f"Asterisk exited with {proc.returncode} at start; see "
                                f"{settings.run_dir / 'asterisk.out'}")
        try:
            rx(settings, "core waitfullybooted", timeout=5)
            return proc.pid
        except (AsteriskError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
            time.sleep(0.3)
    stop(settings)
    raise AsteriskError(f"Asterisk did not boot within {timeout:.0f}s: {last}")


def ports_in_use(settings: Settings) -> list[str]:
    """The ports Asterisk needs that another process holds already."""
    busy = []
    try:
        with socket.create_connection((settings.ami_host, settings.ami_port), timeout=0.5):
            busy.append(f"AMI {settings.ami_host}:{settings.ami_port}/tcp")
    except OSError:
        pass
    host, _, port = settings.sip_bind.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind((host, int(port)))
        except OSError:
            busy.append(f"SIP {settings.sip_bind}/udp")
    return busy


def _write_hosts(root: Path) -> None:
    # Asterisk resolves the machine's own name (ast_find_ourip); without an entry each lookup goes
    # to DNS, which these machines do not have.
    name = socket.gethostname()
    (root / "etc" / "hosts").write_text(f"127.0.0.1\tlocalhost {name}\n::1\tlocalhost ip6-localhost\n")


def stop(settings: Settings, *, timeout: float = 20.0) -> bool:
    """Stop Asterisk (gracefully, then by signal); return whether one was running."""
    pid = _read_pid(settings)
    if pid is not None:
        try:
            rx(settings, "core stop now", timeout=5)
        except (AsteriskError, subprocess.TimeoutExpired):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    if settings.asterisk_root.exists():
        rootfs.unmount_all(settings.asterisk_root)
    return pid is not None


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
