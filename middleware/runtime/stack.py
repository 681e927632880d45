"""The local stack: Asterisk (chroot, or docker compose where an engine runs) plus the middleware."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from middleware.config import PROJECT_ROOT, Settings
from middleware.runtime import asterisk, rootfs


class StackError(RuntimeError):
    """The stack could not be brought up or down."""


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


def choose_mode(requested: str) -> str:
    if requested != "auto":
        return requested
    return "docker" if docker_available() else "chroot"


def _middleware_pid_file(settings: Settings) -> Path:
    return settings.run_dir / "middleware.pid"


def middleware_pid(settings: Settings) -> int | None:
    try:
        pid = int(_middleware_pid_file(settings).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def health(settings: Settings, timeout: float = 2.0) -> dict[str, Any] | None:
    url = f"http://{settings.http_host}:{settings.http_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            report: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        report = json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return report


def start_middleware(settings: Settings, timeout: float = 30.0) -> int:
    if middleware_pid(settings) is not None:
        raise StackError("the middleware already runs; `callcenter stack down` first")
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.run_dir / "middleware.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "middleware", "serve"], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=PROJECT_ROOT)
    log.close()
    _middleware_pid_file(settings).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"the middleware exited with {proc.returncode}; see {settings.run_dir / 'middleware.log'}")
        report = health(settings) or {}
        ami = report.get("ami")
        if isinstance(ami, dict) and ami.get("ok"):
            return proc.pid
        time.sleep(0.3)
    raise StackError(f"the middleware did not report healthy within {timeout:.0f}s")


def stop_middleware(settings: Settings, timeout: float = 15.0) -> bool:
    pid = middleware_pid(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    _middleware_pid_file(settings).unlink(missing_ok=True)
    return True


def compose(*args: str) -> None:
    subprocess.run(["docker", "compose", "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args], check=True)


def up(settings: Settings, mode: str = "auto") -> str:
    mode = choose_mode(mode)
    if mode == "docker":
        compose("up", "-d", "--build")
        return "docker compose: postgres, asterisk and middleware started"
    rootfs.build(settings.asterisk_root)
    pid = asterisk.start(settings)
    try:
        mw = start_middleware(settings)
    except StackError:
        asterisk.stop(settings)
        raise
    return f"Asterisk (pid {pid}, chroot {settings.asterisk_root}) and middleware (pid {mw}) running"


def down(settings: Settings, mode: str = "auto") -> str:
    mode = choose_mode(mode)
    if mode == "docker":
        compose("down")
        return "docker compose stack stopped"
    mw = stop_middleware(settings)
    ast = asterisk.stop(settings)
    return f"middleware {'stopped' if mw else 'was not running'}; Asterisk {'stopped' if ast else 'was not running'}"
