"""The Debian sid rootfs that carries Asterisk 22 and SIPp on machines without a Docker engine.

Built with debootstrap, cached under ``.cache/rootfs`` and rebuilt when the package list changes (a
stamp file holds the hash of what was asked for). Building needs root: chroot and bind mounts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

SUITE = "sid"
VARIANT = "minbase"
PACKAGES: tuple[str, ...] = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-gsm",
    "asterisk-core-sounds-es-gsm",
    "asterisk-moh-opsound-gsm",
    "sip-tester",
    "procps",
    # Not for Asterisk: lets the tests check docker-compose.yml (`docker-compose config`) on machines
    # whose docker CLI has no compose plugin and no engine.
    "docker-compose",
)
# Run in the chroot after the packages: Debian ships Spanish prompts without the `es` language link;
# the modules that would give a stolen AMI secret a shell are deleted, so nothing can load them.
DANGEROUS_MODULES: tuple[str, ...] = ("app_system.so", "func_shell.so", "func_env.so", "app_exec.so")
POST_INSTALL: tuple[tuple[str, ...], ...] = (
    ("ln", "-sfn", "es_MX_f_Allison", "/usr/share/asterisk/sounds/es"),
    ("sh", "-c", "rm -f " + " ".join(f"/usr/lib/*/asterisk/modules/{m}" for m in DANGEROUS_MODULES)),
)
# The rootfs's asterisk user, created before the package does it: Debian's adduser would take the
# first free system uid of the rootfs, which on the host is another account's (postgres): ps, file
# owners and signals would mix the two. These ids are meant to be free on the host (checked at build).
ASTERISK_UID = ASTERISK_GID = 2600
STAMP_NAME = ".callcenter-rootfs"
SYSTEM_MOUNTS: tuple[str, ...] = ("proc", "sys", "dev")
# The mirror snapshot's Release file can be past its Valid-Until date.
APT_OPTS: tuple[str, ...] = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Dpkg::Use-Pty=0")

Runner = Callable[[list[str]], None]


class RootfsError(RuntimeError):
    """The rootfs cannot be built or used."""


def pre_install(uid: int = ASTERISK_UID, gid: int = ASTERISK_GID) -> tuple[tuple[str, ...], ...]:
    return (("groupadd", "--system", "--gid", str(gid), "asterisk"),
            ("useradd", "--system", "--uid", str(uid), "--gid", str(gid), "--home-dir", "/var/lib/asterisk",
             "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "Asterisk PBX daemon", "asterisk"))


def host_ids_taken(passwd: str, group: str, uid: int, gid: int) -> list[str]:
    """Host accounts that already hold ``uid`` or ``gid`` (from /etc/passwd and /etc/group text)."""
    taken = [f"user {line.split(':')[0]}" for line in passwd.splitlines()
             if len(line.split(":")) > 2 and line.split(":")[2] == str(uid)]
    taken += [f"group {line.split(':')[0]}" for line in group.splitlines()
              if len(line.split(":")) > 2 and line.split(":")[2] == str(gid)]
    return taken


def wanted_stamp(packages: tuple[str, ...] = PACKAGES) -> str:
    """The stamp a rootfs built for this package list carries."""
    text = "\n".join([SUITE, VARIANT, *sorted(packages), *(" ".join(c) for c in (*pre_install(), *POST_INSTALL))])
    return hashlib.sha256(text.encode()).hexdigest()


def is_current(root: Path, packages: tuple[str, ...] = PACKAGES) -> bool:
    stamp = root / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == wanted_stamp(packages)


def mounted_under(root: Path, mounts_text: str | None = None) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order to unmount them)."""
    if mounts_text is None:
        mounts_text = Path("/proc/mounts").read_text()
    base = str(root.resolve())
    found = []
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        point = parts[1].replace("\\040", " ")
        if point == base or point.startswith(base + "/"):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True)


def mount_system(root: Path, run: Runner = _run) -> None:
    """Bind-mount /proc, /sys and /dev into the rootfs (idempotent)."""
    present = set(mounted_under(root))
    for name in SYSTEM_MOUNTS:
        target = root / name
        if target.resolve() in present:
            continue
        target.mkdir(exist_ok=True)
        run(["mount", "--bind", f"/{name}", str(target)])


def unmount_all(root: Path, run: Runner = _run) -> None:
    for point in mounted_under(root):
        run(["umount", "-l", str(point)])


def _remove_tree(path: Path) -> None:
    # Never delete through a live bind mount of /dev or /sys.
    if mounted_under(path):
        raise RootfsError(f"refusing to delete {path}: something is still mounted under it")
    shutil.rmtree(path, ignore_errors=False)


def build(root: Path, *, force: bool = False, packages: tuple[str, ...] = PACKAGES,
          log: Callable[[str], None] = print) -> bool:
    """Build the rootfs at ``root`` unless a current one is there; return True when it built."""
    if not force and is_current(root, packages):
        return False
    if os.geteuid() != 0:
        raise RootfsError("building the Asterisk rootfs needs root (debootstrap, chroot, mount)")
    if shutil.which("debootstrap") is None:
        raise RootfsError("debootstrap is not installed: apt-get install -y debootstrap")
    taken = host_ids_taken(Path("/etc/passwd").read_text(), Path("/etc/group").read_text(), ASTERISK_UID,
                           ASTERISK_GID)
    if taken:
        raise RootfsError(f"uid/gid {ASTERISK_UID} for the rootfs's asterisk user is taken on this host by "
                          f"{', '.join(taken)}")
    tmp = root.with_name(root.name + ".building")
    if tmp.exists():
        unmount_all(tmp)
        _remove_tree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    log(f"rootfs: debootstrap {SUITE} into {tmp}")
    _run(["debootstrap", f"--variant={VARIANT}", SUITE, str(tmp)])
    try:
        mount_system(tmp)
        env = ["env", "DEBIAN_FRONTEND=noninteractive"]
        for command in pre_install():
            _run(["chroot", str(tmp), *command])
        log("rootfs: apt-get update")
        _run(["chroot", str(tmp), *env, "apt-get", *APT_OPTS, "update", "-qq"])
        log(f"rootfs: apt-get install {' '.join(packages)}")
        _run(["chroot", str(tmp), *env, "apt-get", *APT_OPTS, "install", "-y", "-qq",
              "--no-install-recommends", *packages])
        for command in POST_INSTALL:
            _run(["chroot", str(tmp), *command])
        _run(["chroot", str(tmp), "apt-get", "clean"])
    finally:
        unmount_all(tmp)
    (tmp / STAMP_NAME).write_text(wanted_stamp(packages) + "\n")
    if root.exists():
        unmount_all(root)
        _remove_tree(root)
    tmp.rename(root)
    log(f"rootfs: ready at {root}")
    return True
