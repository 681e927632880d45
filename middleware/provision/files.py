"""Configuration files that hold secrets (the AMI secret, phone credentials, the database password),
written so that only root and Asterisk's group can read them: mode 0640, group asterisk, atomically
(a reader sees the old file or the new one, never half of one, and never a moment of 0644)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MODE = 0o640


def asterisk_gid(etc: Path) -> int | None:
    """The gid of the ``asterisk`` group in the group file under ``etc`` (the rootfs's, or the host's)."""
    try:
        lines = (etc / "group").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":")
        if len(parts) > 2 and parts[0] == "asterisk" and parts[2].isdigit():
            return int(parts[2])
    return None


def group_for(path: Path, gid: int | None) -> int:
    """``gid`` if known, else the group of the directory the file lives in."""
    return gid if gid is not None else path.parent.stat().st_gid


def write_private(path: Path, text: str, gid: int | None) -> None:
    """Replace ``path`` with ``text``, 0640 root:<gid>, fsync'd, in one rename."""
    group = group_for(path, gid)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    try:
        os.fchmod(fd, MODE)  # an old tmp file may have had other bits
        if os.geteuid() == 0:
            os.fchown(fd, 0, group)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def seal(path: Path, gid: int | None) -> bool:
    """Give an existing file the private mode and group; True when something had to change."""
    st = path.stat()
    group = group_for(path, gid)
    changed = False
    if stat.S_IMODE(st.st_mode) != MODE:
        os.chmod(path, MODE)
        changed = True
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, group):
        os.chown(path, 0, group)
        changed = True
    return changed
